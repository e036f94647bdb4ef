/*
 * fuzz_header.c: the header block (common/header.c).
 *
 * Input: a header block as a caller would pipe it in (any line endings).
 * Checks, for every input:
 *   - hdr_parse never fails but for memory;
 *   - every field's name is the start of its raw text and is followed by
 *     a colon; hdr_find, hdr_count and hdr_get agree;
 *   - hdr_value unfolds: no CRLF, no white space at either end;
 *   - hdr_write writes CRLF lines only, and parsing what it wrote gives
 *     the same fields (when the input holds no NUL byte, which the parser
 *     treats as the end of a field's text);
 *   - h->bytes is the size hdr_write writes, through add, set, prepend
 *     and remove (same condition);
 *   - hdr_fold_long leaves no physical line over its limit (998, and a
 *     small one so that short inputs reach the folding code), keeps every
 *     field and its name (when the name fits the limit), and changes a
 *     value only in its white space.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "header.h"

#define SMTP_LINE_MAX_OCTETS	998	/* RFC 5321 4.5.3.1.6, as sendmail folds */

/* Writes h to memory; returns the text (caller frees) and its length. */
static char *
write_mem(const struct hdr_block *h, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *fp = open_memstream(&buf, &n);

	FUZZ_CHECK(fp != NULL, "open_memstream");
	FUZZ_CHECK(hdr_write(h, fp) == 0, "hdr_write failed");
	FUZZ_CHECK(fclose(fp) == 0, "fclose");
	*len = n;
	return buf;
}

/* Every line ends with CRLF and no LF stands alone (a CR inside a field is kept as text). */
static void
check_crlf(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\n')
			FUZZ_CHECK(i > 0 && s[i - 1] == '\r', "bare LF at %zu", i);
	}
	if (n > 0)
		FUZZ_CHECK(n >= 2 && s[n - 2] == '\r' && s[n - 1] == '\n',
		    "output does not end with CRLF");
}

static void
check_fields(const struct hdr_block *h, int nul_free)
{
	size_t i, j, nl, before, total = 0;
	const struct hdr_field *f;
	char *v, *g;

	for (i = 0; i < h->n; i++) {
		f = &h->f[i];
		nl = strlen(f->name);
		FUZZ_CHECK(nl > 0, "field %zu has an empty name", i);
		FUZZ_CHECK(strncmp(f->raw, f->name, nl) == 0 && f->raw[nl] == ':',
		    "field %zu: raw does not start with \"%s:\"", i, f->name);
		FUZZ_CHECK(hdr_name_len(f->raw, strlen(f->raw)) == nl,
		    "field %zu: hdr_name_len disagrees", i);
		total += strlen(f->raw) + 2;

		v = hdr_value(f);
		FUZZ_CHECK(v != NULL, "hdr_value returned NULL");
		FUZZ_CHECK(strstr(v, "\r\n") == NULL, "hdr_value left a CRLF in");
		if (*v) {
			FUZZ_CHECK(v[0] != ' ' && v[0] != '\t', "value starts with white space");
			FUZZ_CHECK(v[strlen(v) - 1] != ' ' && v[strlen(v) - 1] != '\t',
			    "value ends with white space");
		}

		/* hdr_find(name, k) for the k-th earlier field of that name. */
		for (before = 0, j = 0; j < i; j++)
			if (strcasecmp(h->f[j].name, f->name) == 0)
				before++;
		FUZZ_CHECK(hdr_find(h, f->name, before) == f, "hdr_find misses field %zu", i);
		FUZZ_CHECK(hdr_count(h, f->name) > before, "hdr_count too small");
		if (before == 0) {
			g = hdr_get(h, f->name);
			FUZZ_CHECK(g != NULL && strcmp(g, v) == 0, "hdr_get differs from hdr_value");
			free(g);
		}
		free(v);
	}
	if (nul_free)
		FUZZ_CHECK(total == h->bytes, "h->bytes %zu, fields add up to %zu", h->bytes, total);
}

/* Parsing the written block gives the same fields. */
static void
check_reparse(const struct hdr_block *h)
{
	struct hdr_block h2;
	size_t len, i;
	char *text = write_mem(h, &len);

	check_crlf(text, len);
	FUZZ_CHECK(len == h->bytes, "wrote %zu bytes, h->bytes says %zu", len, h->bytes);
	hdr_init(&h2);
	FUZZ_CHECK(hdr_parse(&h2, text, len) == 0, "cannot parse what hdr_write wrote");
	FUZZ_CHECK(h2.n == h->n, "%zu fields written, %zu read back", h->n, h2.n);
	for (i = 0; i < h->n; i++) {
		FUZZ_CHECK(strcmp(h->f[i].name, h2.f[i].name) == 0, "field %zu: name changed", i);
		FUZZ_CHECK(strcmp(h->f[i].raw, h2.f[i].raw) == 0, "field %zu: text changed", i);
	}
	hdr_free(&h2);
	free(text);
}

/* s without its white space, CR and LF. */
static char *
no_space(const char *s)
{
	char *r = malloc(strlen(s) + 1), *o = r;

	FUZZ_CHECK(r != NULL, "malloc");
	for (; *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			*o++ = *s;
	*o = '\0';
	return r;
}

static void
check_fold(struct hdr_block *h, size_t max)
{
	char **before, *v, *w;
	const char *p, *eol;
	size_t i, n = h->n, len;
	struct hdr_block h2;
	char *text;

	before = calloc(n + 1, sizeof *before);
	FUZZ_CHECK(before != NULL, "calloc");
	for (i = 0; i < n; i++) {
		v = hdr_value(&h->f[i]);
		before[i] = no_space(v);
		free(v);
	}
	FUZZ_CHECK(hdr_fold_long(h, max) >= 0, "hdr_fold_long failed");
	FUZZ_CHECK(h->n == n, "folding changed the number of fields");
	for (i = 0; i < n; i++) {
		for (p = h->f[i].raw; ; p = eol + 2) {
			eol = strstr(p, "\r\n");
			len = eol ? (size_t)(eol - p) : strlen(p);
			/* A name that does not fit a line is never split (sendmail refuses it). */
			FUZZ_CHECK(len <= max || (p == h->f[i].raw &&
			    len == strlen(h->f[i].name) + 1 && len > max),
			    "field %zu (%s): a line of %zu octets after folding "
			    "to %zu", i, h->f[i].name, len, max);
			if (eol == NULL)
				break;
		}
		if (strlen(h->f[i].name) + 2 < max) {
			v = hdr_value(&h->f[i]);
			w = no_space(v);
			FUZZ_CHECK(strcmp(w, before[i]) == 0, "field %zu (%s): folding changed "
			    "more than white space", i, h->f[i].name);
			free(w);
			free(v);
		}
		free(before[i]);
	}
	free(before);
	/* Read back, every field is still there under its name (if the names fit). */
	for (i = 0; i < h->n; i++)
		if (strlen(h->f[i].name) + 2 >= max)
			return;
	text = write_mem(h, &len);
	hdr_init(&h2);
	FUZZ_CHECK(hdr_parse(&h2, text, len) == 0, "cannot parse the folded header");
	FUZZ_CHECK(h2.n == h->n, "%zu fields folded, %zu read back", h->n, h2.n);
	for (i = 0; i < h->n; i++)
		FUZZ_CHECK(strcmp(h2.f[i].name, h->f[i].name) == 0, "field %zu: name [%s] read "
		    "back as [%s]", i, h->f[i].name, h2.f[i].name);
	hdr_free(&h2);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hdr_block h;
	const char *text = (const char *)data;
	int r, nul_free = memchr(data, '\0', size) == NULL;
	size_t len, removed, had, small, i;
	char *out, *subj;

	hdr_init(&h);
	r = hdr_parse(&h, text, size);
	FUZZ_CHECK(r == 0 || r == 1, "hdr_parse returned %d", r);
	check_fields(&h, nul_free);
	out = write_mem(&h, &len);
	check_crlf(out, len);
	free(out);
	if (nul_free) {
		check_reparse(&h);

		/* What sendmail does to a header: complete, rewrite, strip. */
		had = hdr_count(&h, "Bcc");
		removed = hdr_remove(&h, "Bcc");
		FUZZ_CHECK(removed == had && hdr_count(&h, "Bcc") == 0, "Bcc not all removed");
		subj = hdr_get(&h, "Subject");
		FUZZ_CHECK(hdr_set(&h, "Subject", subj ? subj : "none") == 0, "hdr_set");
		free(subj);
		FUZZ_CHECK(hdr_set(&h, "X-Fuzz", "1") == 0, "hdr_set new");
		FUZZ_CHECK(hdr_prepend(&h, "Received", "by fuzz; Thu, 1 Jan 1970 00:00:00 +0000") == 0,
		    "hdr_prepend");
		FUZZ_CHECK(hdr_append(&h, "Message-ID", "<x@y>") == 0, "hdr_append");
		FUZZ_CHECK(strcmp(h.f[0].name, "Received") == 0, "prepend did not go first");
		check_fields(&h, 1);
		check_reparse(&h);
		check_fold(&h, SMTP_LINE_MAX_OCTETS);
		check_fields(&h, 1);
		/* A short limit, but above every name: names are not what is folded here. */
		small = 8 + size % 64;
		for (i = 0; i < h.n; i++)
			if (strlen(h.f[i].name) + 3 > small)
				small = strlen(h.f[i].name) + 3;
		check_fold(&h, small);
		check_fields(&h, 1);
	}
	hdr_free(&h);

	/* Line by line, as sendmail's reader hands lines over (CR, LF or CRLF ends a line). */
	hdr_init(&h);
	{
		size_t k = 0, j;

		while (k < size) {
			for (j = k; j < size && text[j] != '\n' && text[j] != '\r'; j++)
				;
			r = hdr_add_line(&h, text + k, j - k);
			FUZZ_CHECK(r == 0 || r == 1, "hdr_add_line returned %d", r);
			if (r == 1)
				break;
			k = j + 1;
			if (j < size && text[j] == '\r' && k < size && text[k] == '\n')
				k++;
		}
	}
	check_fields(&h, nul_free);
	hdr_free(&h);
	return 0;
}
