/*
 * fuzz_rfc2047.c: RFC 2047 encoded words (common/mime.c), and the base64
 * and quoted-printable decoders under them.
 *
 * Input: a header text (Subject, a display name).  Checks:
 *   - mime_2047_decode never fails;
 *   - when the decoded text is valid UTF-8, encoding it and decoding
 *     again gives it back exactly, and every encoded word is at most 75
 *     characters;
 *   - plain ASCII is copied by the encoder (its contract), so an ASCII
 *     text that itself holds an encoded word, such as the decoding of
 *     "=?utf-8?Q?=3D=3Fus-ascii=3FQ=3Fx=3F=3D?=", cannot round-trip: that
 *     one case is only checked for being copied;
 *   - base64 and quoted-printable decoding of the raw input stay within
 *     their documented output sizes.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mime.h"

/* Every "=?...?=" word of an encoder's output is at most 75 characters. */
static void
check_words(const char *enc)
{
	const char *p = enc, *w, *end;

	while ((w = strstr(p, "=?")) != NULL) {
		/* charset ? B ? text ?= : the text holds no '?'. */
		end = strchr(w + 2, '?');
		FUZZ_CHECK(end && end[1] && end[2] == '?', "malformed word in [%s]", enc);
		end = strstr(end + 3, "?=");
		FUZZ_CHECK(end != NULL, "unterminated word in [%s]", enc);
		FUZZ_CHECK(end + 2 - w <= 75, "word of %d characters in [%s]", (int)(end + 2 - w),
		    enc);
		p = end + 2;
	}
}

static void
check_roundtrip(const char *dec)
{
	char *enc, *back;

	enc = mime_2047_encode(dec);
	FUZZ_CHECK(enc != NULL, "mime_2047_encode returned NULL");
	FUZZ_CHECK(strpbrk(enc, "\r\n") == NULL || mime_is_ascii(dec),
	    "encoded text holds a line break");
	if (mime_is_ascii(dec)) {
		FUZZ_CHECK(strcmp(enc, dec) == 0, "plain ASCII [%s] was changed to [%s]", dec, enc);
		free(enc);
		return;
	}
	check_words(enc);
	back = mime_2047_decode(enc);
	FUZZ_CHECK(back != NULL, "mime_2047_decode of the encoding returned NULL");
	FUZZ_CHECK(strcmp(back, dec) == 0, "[%s] encoded as [%s] decodes to [%s]", dec, enc, back);
	free(back);
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size), *dec, *qp;
	unsigned char *b64;
	size_t n;

	dec = mime_2047_decode(s);
	FUZZ_CHECK(dec != NULL, "mime_2047_decode returned NULL");
	if (mime_is_utf8(dec, strlen(dec)))
		check_roundtrip(dec);
	free(dec);

	/* The same for the input itself: any text is a header value to encode. */
	if (mime_is_utf8(s, strlen(s)))
		check_roundtrip(s);
	else {
		/* Not UTF-8: the bytes go as "unknown-8bit" and come back as they were. */
		char *enc = mime_2047_encode(s), *back;

		FUZZ_CHECK(enc != NULL, "mime_2047_encode returned NULL");
		back = mime_2047_decode(enc);
		FUZZ_CHECK(back && strcmp(back, s) == 0, "8-bit text does not come back");
		check_words(enc);
		free(back);
		free(enc);
	}

	b64 = mime_b64_decode((const char *)data, size, &n);
	if (b64) {
		FUZZ_CHECK(n <= size / 4 * 3 + 3, "base64 gave %zu bytes from %zu", n, size);
		{
			char *re = mime_b64_encode(b64, n);
			size_t n2;
			unsigned char *again;

			FUZZ_CHECK(re != NULL, "mime_b64_encode");
			again = mime_b64_decode(re, strlen(re), &n2);
			FUZZ_CHECK(again && n2 == n && memcmp(again, b64, n) == 0,
			    "base64 does not round-trip");
			free(again);
			free(re);
		}
		free(b64);
	}
	qp = mime_qp_decode((const char *)data, size, &n);
	FUZZ_CHECK(qp != NULL && n <= size, "quoted-printable gave %zu bytes from %zu", n, size);
	free(qp);
	free(s);
	return 0;
}
