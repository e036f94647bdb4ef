/* Tests for common/mime.c: base64, quoted-printable, RFC 2047, RFC 2231. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mime.h"
#include "tap.h"
#include "util.h"

static int
put(void *arg, const char *s, size_t n)
{
	return sb_addn(arg, s, n);
}

static char *
qp(const char *line)
{
	struct sbuf b;
	struct mime_qp q;

	sb_init(&b);
	sb_addn(&b, "", 0);
	mime_qp_init(&q);
	mime_qp_feed(&q, line, strlen(line), put, &b);
	mime_qp_eol(&q, put, &b);
	return sb_steal(&b);
}

static const struct {
	const char *in, *want;
} b64s[] = {
	{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
	{ "foobar", "Zm9vYmFy" }, { "\xff\xfe", "//4=" },
};

static const struct {
	const char *in, *want;
} dec2047[] = {
	{ "plain text", "plain text" },
	{ "=?utf-8?B?SsO2cmc=?=", "J\xc3\xb6rg" },
	{ "=?UTF-8?Q?caf=C3=A9_au_lait?=", "caf\xc3\xa9 au lait" },
	{ "=?iso-8859-1?q?caf=E9?=", "caf\xc3\xa9" },
	{ "=?utf-8?q?a?= =?utf-8?q?b?=", "ab" },
	{ "=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b" },
	{ "=?broken", "=?broken" },
	{ "=?utf-8?X?abc?=", "=?utf-8?X?abc?=" },
	{ "Re: =?utf-8?B?5pel5pys?= test", "Re: \xe6\x97\xa5\xe6\x9c\xac test" },
};

int
main(void)
{
	size_t i, n;
	char *s, *d;
	unsigned char *u;
	const char *long_utf8 = "\xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc "
	    "\xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc "
	    "\xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc \xc3\xa4\xc3\xb6\xc3\xbc end";

	for (i = 0; i < sizeof b64s / sizeof b64s[0]; i++) {
		s = mime_b64_encode((const unsigned char *)b64s[i].in, strlen(b64s[i].in));
		tap_is_str(s, b64s[i].want, b64s[i].want);
		u = mime_b64_decode(s, strlen(s), &n);
		tap_is_mem(u, n, b64s[i].in, strlen(b64s[i].in), "base64 round trip");
		free(u);
		free(s);
	}
	tap_ok(mime_b64_decode("Zm9v!", 5, &n) == NULL, "invalid base64 refused");
	for (i = 0; i < sizeof dec2047 / sizeof dec2047[0]; i++) {
		s = mime_2047_decode(dec2047[i].in);
		tap_is_str(s, dec2047[i].want, dec2047[i].in);
		free(s);
	}
	s = mime_2047_encode("plain");
	tap_is_str(s, "plain", "ASCII is not encoded");
	free(s);
	s = mime_2047_encode(long_utf8);
	d = mime_2047_decode(s);
	tap_is_str(d, long_utf8, "long UTF-8 round trip");
	{
		char *w, *save = NULL, *copy = strdup(s);
		int ok = 1;

		for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (strlen(w) > 75)
				ok = 0;
		tap_ok(ok, "encoded words are at most 75 characters: %s", s);
		free(copy);
	}
	free(s);
	free(d);
	s = mime_2047_encode("\xff\xfe bad");
	tap_ok(strncmp(s, "=?unknown-8bit?B?", 17) == 0, "invalid UTF-8 labelled unknown-8bit");
	free(s);

	s = qp("hello world");
	tap_is_str(s, "hello world\r\n", "qp plain");
	free(s);
	s = qp("trailing space ");
	tap_is_str(s, "trailing space=20\r\n", "qp trailing space");
	free(s);
	s = qp("a=b\t");
	tap_is_str(s, "a=3Db=09\r\n", "qp equals and trailing tab");
	free(s);
	s = qp(".dot");
	tap_is_str(s, "=2Edot\r\n", "qp leading dot");
	free(s);
	s = qp("From me");
	tap_is_str(s, "=46rom me\r\n", "qp leading From");
	{
		char line[300];
		size_t k, maxlen = 0, cur = 0;

		memset(line, 'x', sizeof line - 1);
		line[sizeof line - 1] = '\0';
		line[100] = '\0';
		line[100] = 'y';
		free(s);
		s = qp(line);
		for (k = 0; s[k]; k++) {
			if (s[k] == '\r') {
				if (cur > maxlen)
					maxlen = cur;
				cur = 0;
				k++;
				continue;
			}
			cur++;
		}
		tap_ok(maxlen <= 76, "qp lines at most 76 (got %zu)", maxlen);
		d = mime_qp_decode(s, strlen(s), &n);
		tap_is_mem(d, n - 2, line, strlen(line), "qp soft breaks decode back");
		free(d);
	}
	free(s);
	s = mime_2231_param("filename", "report.pdf");
	tap_is_str(s, "filename=\"report.pdf\"", "2231 plain");
	free(s);
	s = mime_2231_param("filename", "r\xc3\xa9sum\xc3\xa9 1.pdf");
	tap_is_str(s, "filename*=utf-8''r%C3%A9sum%C3%A9%201.pdf", "2231 encoded");
	free(s);
	tap_ok(mime_is_utf8("\xc3\xa9", 2), "utf8 valid");
	tap_ok(!mime_is_utf8("\xc3", 1), "utf8 truncated");
	tap_ok(!mime_is_utf8("\xc0\xaf", 2), "utf8 overlong");
	tap_ok(!mime_is_utf8("\xed\xa0\x80", 3), "utf8 surrogate");
	return tap_done();
}
