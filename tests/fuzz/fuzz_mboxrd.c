/*
 * fuzz_mboxrd.c: popfetch's mbox writer (popfetch/msgfilter.c): wire bytes
 * to LF lines with mboxrd quoting, the header held back for the From_ line.
 *
 * Input: byte 0 chooses how the message is cut into the pieces libcurl
 * hands over and the mode (mbox or Maildir); byte 1 the header buffer
 * size; the rest is the message as it comes off the wire (CRLF lines,
 * already dot-unstuffed).  The filter's output is laid out as popfetch
 * writes an mbox: From_ line (mf_sender, mf_from_line), the message, an
 * empty line.  Checks:
 *   - the From_ line is one line and the only line of the mbox that
 *     starts with "From " (so no message can be split by a reader);
 *   - un-quoting the body (one '>' off every line matching ^>+From )
 *     gives the input back with CRLF turned into LF and a final newline
 *     added when missing;
 *   - the header callback is called exactly once, before any output;
 *   - the same filter reused for a second message gives the same output
 *     for a different cut (state is reset by mf_begin); only when the
 *     header exceeds the buffer may the From_ line differ, as the sender
 *     then comes from whatever part of the header was held.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz.h"
#include "popfetch.h"

struct sink {
	struct sbuf out;
	int	 headers;	/* header callback calls */
	int	 mbox;
};

static int
put(void *arg, const char *s, size_t n)
{
	struct sink *k = arg;

	return sb_addn(&k->out, s, n);
}

static int
header(void *arg, const char *text, size_t len)
{
	struct sink *k = arg;
	char *sender, *line;
	const unsigned char *p;

	FUZZ_CHECK(k->out.len == 0, "output before the header callback");
	k->headers++;
	sender = mf_sender(text, len);
	FUZZ_CHECK(sender != NULL && *sender, "mf_sender gave nothing");
	for (p = (const unsigned char *)sender; *p; p++)
		FUZZ_CHECK(*p > ' ' && *p != 0x7f, "sender [%s] unsafe in a From_ line", sender);
	line = mf_from_line(sender, (time_t)1700000000);
	FUZZ_CHECK(line != NULL, "mf_from_line");
	FUZZ_CHECK(strncmp(line, "From ", 5) == 0 && strchr(line, '\n') == line + strlen(line) - 1,
	    "From_ line [%s] is not one line", line);
	if (k->mbox)
		sb_adds(&k->out, line);
	free(line);
	free(sender);
	return 0;
}

/* What the message must come back as: CRLF -> LF, a final LF added. */
static void
expected(const char *in, size_t n, struct sbuf *e)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
			continue;
		sb_addc(e, in[i]);
	}
	if (e->len > 0 && e->s[e->len - 1] != '\n')
		sb_addc(e, '\n');
}

/* 1 if the line at p (up to LF) matches ^>+From . */
static int
quoted_from(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && *q == '>')
		q++;
	return q > p && (size_t)(end - q) >= 5 && memcmp(q, "From ", 5) == 0;
}

/* Reads the mbox back; the message goes to msg. */
static void
read_mbox(const struct sbuf *out, int mbox, struct sbuf *msg)
{
	const char *p = out->s ? out->s : "", *end = p + out->len, *nl, *le;

	if (mbox) {
		nl = memchr(p, '\n', (size_t)(end - p));
		FUZZ_CHECK(strncmp(p, "From ", 5) == 0 && nl != NULL, "no From_ line first");
		p = nl + 1;
		/* popfetch writes one empty line after each message. */
		FUZZ_CHECK(end > p && end[-1] == '\n', "mbox does not end with a newline");
		end--;
	}
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		le = nl ? nl + 1 : end;
		if (mbox) {
			FUZZ_CHECK(strncmp(p, "From ", 5) != 0 || (size_t)(end - p) < 5,
			    "an unquoted From_ line inside the message at offset %zu",
			    (size_t)(p - out->s));
			if (quoted_from(p, le)) {
				p++;	/* one '>' less */
			}
		}
		sb_addn(msg, p, (size_t)(le - p));
		p = le;
	}
}

/* Feeds msg in pieces cut by a small generator seeded with seed. */
static void
run(struct mfilter *f, const char *msg, size_t n, unsigned seed)
{
	size_t i = 0, k;

	mf_begin(f);
	while (i < n) {
		seed = seed * 1103515245u + 12345u;
		k = seed % 8 == 0 ? n - i : 1 + (seed >> 16) % 17;
		if (k > n - i)
			k = n - i;
		FUZZ_CHECK(mf_feed(f, msg + i, k) == 0, "mf_feed failed");
		i += k;
	}
	FUZZ_CHECK(mf_end(f) == 0, "mf_end failed");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t hmax[] = { MF_HEADER_MAX, 0, 1, 5, 64, 300, MF_HEADER_MAX,
		MF_HEADER_MAX };
	struct mfilter f;
	struct sink k;
	struct sbuf want, got, first;
	const char *msg, *o;
	size_t n, skip;
	unsigned seed;
	int pass;

	if (size < 2)
		return 0;
	seed = data[0];
	msg = (const char *)data + 2;
	n = size - 2;
	memset(&k, 0, sizeof k);
	sb_init(&k.out);
	sb_init(&want);
	sb_init(&first);
	k.mbox = !(seed & 0x80);
	mf_init(&f, k.mbox);
	f.put = put;
	f.header = header;
	f.arg = &k;
	f.header_max = hmax[data[1] & 7];
	expected(msg, n, &want);
	for (pass = 0; pass < 2; pass++) {
		sb_reset(&k.out);
		k.headers = 0;
		run(&f, msg, n, seed + 77u * (unsigned)pass);
		FUZZ_CHECK(k.headers == 1, "header callback called %d times", k.headers);
		if (k.mbox)
			sb_adds(&k.out, "\n");
		sb_init(&got);
		read_mbox(&k.out, k.mbox, &got);
		FUZZ_CHECK(got.len == want.len && memcmp(got.s ? got.s : "", want.s ? want.s : "",
		    got.len) == 0, "message changed: %zu bytes in, %zu expected, %zu out", n,
		    want.len, got.len);
		sb_free(&got);
		/*
		 * Compare whole outputs, From_ line included, when the header
		 * fits its buffer; a larger header is handed over where a
		 * piece happens to cross the limit, so its sender may differ.
		 */
		o = k.out.s ? k.out.s : "";
		skip = 0;
		if (f.header_max != MF_HEADER_MAX && k.mbox)
			skip = (size_t)((const char *)memchr(o, '\n', k.out.len) + 1 - o);
		if (pass == 0)
			sb_addn(&first, o + skip, k.out.len - skip);
		else
			FUZZ_CHECK(first.len == k.out.len - skip &&
			    memcmp(first.s ? first.s : "", o + skip, first.len) == 0,
			    "a second message through the same filter came out different");
	}
	mf_free(&f);
	sb_free(&k.out);
	sb_free(&want);
	sb_free(&first);
	return 0;
}
