/*
 * test_popfetch_filter.c: popfetch's message filter (popfetch/msgfilter.c):
 * CRLF -> LF, mboxrd quoting, the missing final newline, the header block
 * held back for the sender, on every way of splitting the input.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "../../popfetch/msgfilter.c"

struct out {
	struct sbuf b;
};

static int
put(void *arg, const char *s, size_t n)
{
	return sb_addn(&((struct out *)arg)->b, s, n);
}

/* Marks where the header was handed over (before it is put), with the sender found. */
static int
header(void *arg, const char *text, size_t len)
{
	struct out *o = arg;
	char *s = mf_sender(text, len);

	sb_printf(&o->b, "[%s]", s);
	free(s);
	return 0;
}

/* Runs input through a filter fed in pieces of at most step bytes (0: split at cut). */
static char *
run(const char *in, size_t len, int mboxrd, size_t step, size_t cut)
{
	struct mfilter f;
	struct out o;
	size_t i, n;

	sb_init(&o.b);
	sb_adds(&o.b, "");
	mf_init(&f, mboxrd);
	f.put = put;
	f.header = header;
	f.arg = &o;
	mf_begin(&f);
	if (step == 0) {
		mf_feed(&f, in, cut);
		mf_feed(&f, in + cut, len - cut);
	} else
		for (i = 0; i < len; i += n) {
			n = len - i < step ? len - i : step;
			mf_feed(&f, in + i, n);
		}
	mf_end(&f);
	mf_free(&f);
	return sb_steal(&o.b);
}

static const struct {
	const char *name;
	int mboxrd;
	const char *in;
	const char *out;
} cases[] = {
	{ "CRLF to LF", 1, "Subject: a\r\n\r\nbody\r\n", "[MAILER-DAEMON]Subject: a\n\nbody\n" },
	{ "LF kept", 1, "Subject: a\n\nbody\n", "[MAILER-DAEMON]Subject: a\n\nbody\n" },
	{ "final newline added", 1, "S: a\r\n\r\nno end", "[MAILER-DAEMON]S: a\n\nno end\n" },
	{ "lone CR kept", 1, "S: a\r\n\r\na\rb\r\r\n", "[MAILER-DAEMON]S: a\n\na\rb\r\n" },
	{ "CR at the very end", 1, "S: a\n\nx\r", "[MAILER-DAEMON]S: a\n\nx\r\n" },
	{ "From quoted", 1, "S: a\n\nFrom me\n", "[MAILER-DAEMON]S: a\n\n>From me\n" },
	{ ">From quoted again", 1, "S: a\n\n>From me\n>>From x\n", "[MAILER-DAEMON]S: a\n\n>>From me\n>>>From x\n" },
	{ "From without space", 1, "S: a\n\nFrom\nFromage\n>From\n", "[MAILER-DAEMON]S: a\n\nFrom\nFromage\n>From\n" },
	{ "From not at line start", 1, "S: a\n\n From x\nx From y\n", "[MAILER-DAEMON]S: a\n\n From x\nx From y\n" },
	{ "> alone and partial From", 1, "S: a\n\n>>\n>Fro\n>F\r\n", "[MAILER-DAEMON]S: a\n\n>>\n>Fro\n>F\n" },
	{ "no quoting for Maildir", 0, "S: a\n\nFrom me\n", "[MAILER-DAEMON]S: a\n\nFrom me\n" },
	{ "From at message end without newline", 1, "S: a\n\nFrom ", "[MAILER-DAEMON]S: a\n\n>From \n" },
	{ "headers only", 1, "Subject: x\r\nFrom: a@b.c\r\n", "[a@b.c]Subject: x\nFrom: a@b.c\n" },
	{ "empty message", 1, "", "[MAILER-DAEMON]" },
	{ "one empty line", 1, "\r\n", "[MAILER-DAEMON]\n" },
	{ "Return-Path first", 1, "From: x@y.z\nReturn-Path: <rp@example.com>\n\nb\n",
	  "[rp@example.com]From: x@y.z\nReturn-Path: <rp@example.com>\n\nb\n" },
	{ "null Return-Path", 1, "Return-Path: <>\nFrom: x@y.z\n\nb\n",
	  "[MAILER-DAEMON]Return-Path: <>\nFrom: x@y.z\n\nb\n" },
	{ "From with a display name", 1, "From: \"Doe, J\" <j@example.com>\n\n",
	  "[j@example.com]From: \"Doe, J\" <j@example.com>\n\n" },
	{ "folded From", 1, "From: Someone\r\n <s@example.com>\r\n\r\n",
	  "[s@example.com]From: Someone\n <s@example.com>\n\n" },
	{ "sender with spaces made safe", 1, "Return-Path: <\"a b\"@example.com>\n\n",
	  "[\"a_b\"@example.com]Return-Path: <\"a b\"@example.com>\n\n" },
	{ "dots untouched (libcurl unstuffs)", 1, "S: a\n\n.\n..\n.x\n", "[MAILER-DAEMON]S: a\n\n.\n..\n.x\n" },
};

int
main(void)
{
	size_t i, len, step, cut;
	char *got;
	int allsplits;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		len = strlen(cases[i].in);
		got = run(cases[i].in, len, cases[i].mboxrd, 65536, 0);
		tap_is_str(got, cases[i].out, cases[i].name);
		free(got);
		/* The same result however the input is cut. */
		allsplits = 1;
		for (step = 1; step <= 7 && allsplits; step++) {
			got = run(cases[i].in, len, cases[i].mboxrd, step, 0);
			allsplits = strcmp(got, cases[i].out) == 0;
			if (!allsplits)
				tap_diag("pieces of %zu: got \"%s\"", step, got);
			free(got);
		}
		for (cut = 0; cut <= len && allsplits; cut++) {
			got = run(cases[i].in, len, cases[i].mboxrd, 0, cut);
			allsplits = strcmp(got, cases[i].out) == 0;
			if (!allsplits)
				tap_diag("cut at %zu: got \"%s\"", cut, got);
			free(got);
		}
		tap_ok(allsplits, "%s: any split of the input", cases[i].name);
	}

	/* A header over the cap: the sender comes from what was held. */
	{
		struct mfilter f;
		struct out o;
		static const char big[] = "Return-Path: <cap@example.com>\nX-A: 0123456789\n"
		    "X-B: 0123456789\n\nbody\n";

		sb_init(&o.b);
		sb_adds(&o.b, "");
		mf_init(&f, 1);
		f.put = put;
		f.header = header;
		f.arg = &o;
		f.header_max = 40;
		mf_begin(&f);
		mf_feed(&f, big, sizeof big - 1);
		mf_end(&f);
		tap_ok(strncmp(o.b.s, "[cap@example.com]Return-Path: <cap@example.com>\n",
		    strlen("[cap@example.com]Return-Path: <cap@example.com>\n")) == 0,
		    "a header over the cap is handed over early, sender from its start");
		tap_ok(strstr(o.b.s, "X-B: 0123456789\n\nbody\n") != NULL, "and nothing is lost");
		mf_free(&f);
		sb_free(&o.b);
	}

	/* The From_ line: asctime layout in UTC. */
	got = mf_from_line("a@b.c", (time_t)1795705697);
	tap_is_str(got, "From a@b.c Thu Nov 26 15:08:17 2026\n", "From_ line");
	free(got);
	got = mf_from_line("a@b.c", (time_t)1794009600);
	tap_is_str(got, "From a@b.c Sat Nov  7 00:00:00 2026\n", "From_ line: day padded with a space");
	free(got);
	return tap_done();
}
