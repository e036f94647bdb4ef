/*
 * msgfilter.c: turns a message as it comes off the wire (CRLF lines,
 * already dot-unstuffed by libcurl) into what a local mailbox holds: LF
 * line endings, mboxrd quoting for mbox, and the header block held back
 * until it is complete so that the sender is known before the From_ line.
 *
 * It works on any split of the input: a CR at the end of one chunk, or a
 * ">>Fro" at the end of another, is remembered in a few counters, so memory
 * stays constant apart from the header buffer, which is capped.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "address.h"
#include "header.h"
#include "popfetch.h"

static const char from_[] = "From ";

void
mf_init(struct mfilter *f, int mboxrd)
{
	memset(f, 0, sizeof *f);
	f->mboxrd = mboxrd;
	f->header_max = MF_HEADER_MAX;
	sb_init(&f->hdr);
}

void
mf_free(struct mfilter *f)
{
	sb_free(&f->hdr);
}

void
mf_begin(struct mfilter *f)
{
	sb_reset(&f->hdr);
	f->in_header = 1;
	f->cr = 0;
	f->scan = f->mboxrd;
	f->gt = f->fm = 0;
	f->empty = 1;
	f->failed = 0;
}

/* Hands the buffered header block over; later output goes straight to put. */
static int
header_done(struct mfilter *f)
{
	int r = 0;

	f->in_header = 0;
	if (f->header && f->header(f->arg, f->hdr.s ? f->hdr.s : "", f->hdr.len) == -1)
		r = -1;
	else if (f->hdr.len && f->put(f->arg, f->hdr.s, f->hdr.len) == -1)
		r = -1;
	sb_reset(&f->hdr);
	/* Give a large header buffer back: later messages rarely need it. */
	if (f->hdr.cap > 65536)
		sb_free(&f->hdr);
	return r;
}

static int
out(struct mfilter *f, const char *s, size_t n)
{
	if (n == 0)
		return 0;
	f->empty = 0;
	if (!f->in_header)
		return f->put(f->arg, s, n);
	if (f->hdr.len + n > f->header_max) {
		/* Too big to hold: the sender comes from what we have. */
		if (header_done(f) == -1)
			return -1;
		return f->put(f->arg, s, n);
	}
	return sb_addn(&f->hdr, s, n);
}

/* Writes out a '>' run and partial "From " that turned out not to need quoting. */
static int
flush_prefix(struct mfilter *f)
{
	static const char gts[] = ">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>";
	size_t k;

	f->scan = 0;
	while (f->gt > 0) {
		k = f->gt < sizeof gts - 1 ? f->gt : sizeof gts - 1;
		if (out(f, gts, k) == -1)
			return -1;
		f->gt -= k;
	}
	if (f->fm > 0 && out(f, from_, f->fm) == -1)
		return -1;
	f->fm = 0;
	return 0;
}

static int
end_line(struct mfilter *f)
{
	int was_empty;

	if (f->scan && flush_prefix(f) == -1)
		return -1;
	was_empty = f->empty;
	if (out(f, "\n", 1) == -1)
		return -1;
	if (f->in_header && was_empty && header_done(f) == -1)
		return -1;
	f->scan = f->mboxrd;
	f->gt = f->fm = 0;
	f->empty = 1;
	return 0;
}

int
mf_feed(struct mfilter *f, const char *p, size_t n)
{
	size_t i = 0, j;
	char c;

	if (f->failed)
		return -1;
	while (i < n) {
		c = p[i];
		if (f->cr) {
			f->cr = 0;
			if (c == '\n') {
				i++;
				if (end_line(f) == -1)
					goto fail;
				continue;
			}
			/* A lone CR is kept as it is. */
			if (out(f, "\r", 1) == -1)
				goto fail;
		}
		if (f->scan) {
			if (f->fm == 0 && c == '>') {
				f->gt++;
				i++;
				continue;
			}
			if (c == from_[f->fm]) {
				i++;
				if (++f->fm == sizeof from_ - 1) {
					/* ^>*From : one more '>'. */
					f->gt++;
					f->fm = 0;
					if (flush_prefix(f) == -1 || out(f, from_, sizeof from_ - 1) == -1)
						goto fail;
				}
				continue;
			}
			if (flush_prefix(f) == -1)
				goto fail;
		}
		if (c == '\r') {
			f->cr = 1;
			i++;
			continue;
		}
		if (c == '\n') {
			i++;
			if (end_line(f) == -1)
				goto fail;
			continue;
		}
		/* A run of ordinary bytes. */
		for (j = i; j < n && p[j] != '\r' && p[j] != '\n'; j++)
			;
		if (out(f, p + i, j - i) == -1)
			goto fail;
		i = j;
	}
	return 0;
fail:
	f->failed = 1;
	return -1;
}

int
mf_end(struct mfilter *f)
{
	if (f->failed)
		return -1;
	if (f->cr) {
		f->cr = 0;
		if (out(f, "\r", 1) == -1)
			goto fail;
	}
	if (f->scan && flush_prefix(f) == -1)
		goto fail;
	/* A missing final newline is added: an mbox message must end with one. */
	if (!f->empty && out(f, "\n", 1) == -1)
		goto fail;
	if (f->in_header && header_done(f) == -1)
		goto fail;
	return 0;
fail:
	f->failed = 1;
	return -1;
}

/* Replaces what a From_ line cannot hold. */
static char *
from_safe(char *a)
{
	unsigned char *p;

	if (a == NULL)
		return NULL;
	if (*a == '\0') {
		free(a);
		return NULL;
	}
	for (p = (unsigned char *)a; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			*p = '_';
	return a;
}

char *
mf_sender(const char *text, size_t len)
{
	struct hdr_block h;
	struct addr_list l;
	char *v, *a = NULL;

	hdr_init(&h);
	if (hdr_parse(&h, text, len) == 0 || h.n > 0) {
		if ((v = hdr_get(&h, "Return-Path")) != NULL) {
			a = addr_parse_one(v);
			free(v);
			/* <> is the null sender of a bounce. */
			if (a && *a == '\0') {
				free(a);
				hdr_free(&h);
				return strdup("MAILER-DAEMON");
			}
			a = from_safe(a);
		}
		if (a == NULL && (v = hdr_get(&h, "From")) != NULL) {
			addr_list_init(&l);
			if (addr_parse_list(v, &l) > 0)
				a = from_safe(xstrdup(l.v[0].addr));
			addr_list_free(&l);
			free(v);
		}
	}
	hdr_free(&h);
	return a ? a : strdup("MAILER-DAEMON");
}

char *
mf_from_line(const char *sender, time_t now)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	gmtime_r(&now, &tm);
	/* asctime(3) layout, without depending on the locale. */
	return strfmt("From %s %s %s %2d %02d:%02d:%02d %d\n", sender, days[tm.tm_wday],
	    mons[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    tm.tm_year + 1900);
}
