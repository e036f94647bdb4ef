/* header.c: an RFC 5322 header block: parse, find, change, write with CRLF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "header.h"
#include "util.h"

void
hdr_init(struct hdr_block *h)
{
	h->f = NULL;
	h->n = h->cap = h->bytes = 0;
}

void
hdr_free(struct hdr_block *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->f[i].name);
		free(h->f[i].raw);
	}
	free(h->f);
	hdr_init(h);
}

size_t
hdr_name_len(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c == ':')
			return i;
		/* ftext: printable US-ASCII except colon; no space. */
		if (c <= 32 || c >= 127)
			return 0;
	}
	return 0;
}

/* Makes room for one more field at position pos. */
static int
insert_at(struct hdr_block *h, size_t pos, char *name, char *raw)
{
	struct hdr_field *f;

	if (name == NULL || raw == NULL) {
		free(name);
		free(raw);
		return -1;
	}
	if (h->n == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 16;

		if ((f = realloc(h->f, ncap * sizeof *f)) == NULL) {
			free(name);
			free(raw);
			return -1;
		}
		h->f = f;
		h->cap = ncap;
	}
	memmove(h->f + pos + 1, h->f + pos, (h->n - pos) * sizeof *h->f);
	h->f[pos].name = name;
	h->f[pos].raw = raw;
	h->f[pos].rawlen = strlen(raw);
	h->f[pos].rawcap = h->f[pos].rawlen + 1;
	h->n++;
	h->bytes += h->f[pos].rawlen + 2;
	return 0;
}

int
hdr_add_line(struct hdr_block *h, const char *line, size_t len)
{
	size_t nl;
	struct hdr_field *last;
	char *raw;

	if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		if (h->n == 0)
			return 1;
		last = &h->f[h->n - 1];
		nl = last->rawlen;
		/* Grow geometrically: a field folded over many lines stays linear. */
		if (nl + 2 + len + 1 > last->rawcap) {
			size_t cap = last->rawcap * 2;

			if (cap < nl + 2 + len + 1)
				cap = nl + 2 + len + 1;
			if ((raw = realloc(last->raw, cap)) == NULL)
				return -1;
			last->raw = raw;
			last->rawcap = cap;
		}
		raw = last->raw;
		memcpy(raw + nl, "\r\n", 2);
		memcpy(raw + nl + 2, line, len);
		raw[nl + 2 + len] = '\0';
		last->rawlen = nl + 2 + len;
		h->bytes += len + 2;
		return 0;
	}
	if ((nl = hdr_name_len(line, len)) == 0)
		return 1;
	return insert_at(h, h->n, xstrndup(line, nl), xstrndup(line, len));
}

int
hdr_parse(struct hdr_block *h, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *eol;
	size_t n;
	int r;

	while (p < end) {
		eol = memchr(p, '\n', (size_t)(end - p));
		n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if ((r = hdr_add_line(h, p, n)) != 0)
			return r;
		p = eol ? eol + 1 : end;
	}
	return 0;
}

const struct hdr_field *
hdr_find(const struct hdr_block *h, const char *name, size_t idx)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->f[i].name, name) == 0 && idx-- == 0)
			return &h->f[i];
	return NULL;
}

char *
hdr_value(const struct hdr_field *f)
{
	const char *p = f->raw + strlen(f->name) + 1;
	struct sbuf b;

	sb_init(&b);
	/* Unfold: drop each CRLF, keep the white space after it; then trim. */
	for (; *p; p++) {
		if (p[0] == '\r' && p[1] == '\n') {
			p++;
			continue;
		}
		if ((b.len > 0 || (*p != ' ' && *p != '\t')) && sb_addc(&b, *p) == -1) {
			sb_free(&b);
			return NULL;
		}
	}
	while (b.len > 0 && (b.s[b.len - 1] == ' ' || b.s[b.len - 1] == '\t'))
		b.s[--b.len] = '\0';
	return sb_steal(&b);
}

char *
hdr_get(const struct hdr_block *h, const char *name)
{
	const struct hdr_field *f = hdr_find(h, name, 0);

	return f ? hdr_value(f) : NULL;
}

size_t
hdr_count(const struct hdr_block *h, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->f[i].name, name) == 0)
			n++;
	return n;
}

size_t
hdr_remove(struct hdr_block *h, const char *name)
{
	size_t i, j, removed = 0;

	for (i = j = 0; i < h->n; i++) {
		if (strcasecmp(h->f[i].name, name) == 0) {
			h->bytes -= h->f[i].rawlen + 2;
			free(h->f[i].name);
			free(h->f[i].raw);
			removed++;
			continue;
		}
		h->f[j++] = h->f[i];
	}
	h->n = j;
	return removed;
}

int
hdr_append(struct hdr_block *h, const char *name, const char *value)
{
	return insert_at(h, h->n, strdup(name), strfmt("%s: %s", name, value));
}

int
hdr_prepend(struct hdr_block *h, const char *name, const char *value)
{
	return insert_at(h, 0, strdup(name), strfmt("%s: %s", name, value));
}

int
hdr_replace(struct hdr_block *h, size_t i, const char *text)
{
	char *raw;

	if (i >= h->n || (raw = strfmt("%s:%s", h->f[i].name, text)) == NULL)
		return -1;
	h->bytes += strlen(raw);
	h->bytes -= h->f[i].rawlen;
	free(h->f[i].raw);
	h->f[i].raw = raw;
	h->f[i].rawlen = strlen(raw);
	h->f[i].rawcap = h->f[i].rawlen + 1;
	return 0;
}

int
hdr_set(struct hdr_block *h, const char *name, const char *value)
{
	size_t i;
	char *text;
	int r;

	for (i = 0; i < h->n; i++) {
		if (strcasecmp(h->f[i].name, name) != 0)
			continue;
		if ((text = strfmt(" %s", value)) == NULL)
			return -1;
		r = hdr_replace(h, i, text);
		free(text);
		return r;
	}
	return hdr_append(h, name, value);
}

int
hdr_write(const struct hdr_block *h, FILE *fp)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		if (fputs(h->f[i].raw, fp) == EOF || fputs("\r\n", fp) == EOF)
			return -1;
	return 0;
}

/* Refolds one raw field; NULL on memory, or a new string. */
static char *
fold_raw(const char *raw, size_t namelen, size_t max)
{
	struct sbuf b;
	const char *line = raw, *eol, *cut, *p;
	size_t len, min, room, extra;
	int first = 1;

	sb_init(&b);
	for (;;) {
		eol = strstr(line, "\r\n");
		len = eol ? (size_t)(eol - line) : strlen(line);
		/*
		 * Break this physical line until what is left fits; extra is 1
		 * when a space we inserted starts the output line.
		 */
		extra = 0;
		while (len + extra > max) {
			room = max - extra;
			min = first ? namelen + 2 : 1;
			cut = NULL;
			for (p = line + room; p > line + min; p--)
				if (*p == ' ' || *p == '\t') {
					cut = p;
					break;
				}
			if (cut == NULL && first && room < namelen + 1) {
				/* A name longer than a line: never split it. */
				room = namelen + 1;
			}
			if (cut) {
				sb_addn(&b, line, (size_t)(cut - line));
				sb_adds(&b, "\r\n");
				len -= (size_t)(cut - line);
				line = cut;
				extra = 0;
			} else {
				sb_addn(&b, line, room);
				sb_adds(&b, "\r\n ");
				line += room;
				len -= room;
				extra = 1;
			}
			first = 0;
		}
		sb_addn(&b, line, len);
		if (eol == NULL)
			break;
		sb_adds(&b, "\r\n");
		line = eol + 2;
		first = 0;
	}
	return b.s ? sb_steal(&b) : NULL;
}

int
hdr_fold_long(struct hdr_block *h, size_t max)
{
	size_t i, run;
	const char *p;
	char *nraw;
	int changed = 0;

	for (i = 0; i < h->n; i++) {
		for (run = 0, p = h->f[i].raw; *p; p++) {
			run = (p[0] == '\r' && p[1] == '\n') ? 0 : run + 1;
			if (run > max)
				break;
		}
		if (*p == '\0')
			continue;
		if ((nraw = fold_raw(h->f[i].raw, strlen(h->f[i].name), max)) == NULL)
			return -1;
		h->bytes += strlen(nraw);
		h->bytes -= h->f[i].rawlen;
		free(h->f[i].raw);
		h->f[i].raw = nraw;
		h->f[i].rawlen = strlen(nraw);
		h->f[i].rawcap = h->f[i].rawlen + 1;
		changed++;
	}
	return changed;
}
