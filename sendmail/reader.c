/* reader.c: line pieces from a file descriptor, any line ending, bounded memory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reader.h"

int
rd_init(struct reader *r, int fd, size_t cap)
{
	r->fd = fd;
	r->cap = cap;
	r->start = r->end = 0;
	r->eof = 0;
	r->buf = malloc(cap);
	return r->buf ? 0 : -1;
}

void
rd_free(struct reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

/* Moves what is unread to the front and reads more; -1 on error. */
static int
rd_fill(struct reader *r)
{
	ssize_t k;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap || r->eof)
		return 0;
	do
		k = read(r->fd, r->buf + r->end, r->cap - r->end);
	while (k == -1 && errno == EINTR);
	if (k == -1)
		return -1;
	if (k == 0)
		r->eof = 1;
	r->end += (size_t)k;
	return 0;
}

int
rd_next(struct reader *r, const char **p, size_t *n, int *eol)
{
	char *s;
	size_t avail, i;

	for (;;) {
		s = r->buf + r->start;
		avail = r->end - r->start;
		for (i = 0; i < avail; i++)
			if (s[i] == '\n' || s[i] == '\r')
				break;
		if (i < avail) {
			*p = s;
			*n = i;
			*eol = 1;
			if (s[i] == '\n') {
				r->start += i + 1;
				return 1;
			}
			if (i + 1 < avail || r->eof) {
				r->start += i + 1 + (i + 1 < avail && s[i + 1] == '\n');
				return 1;
			}
			/* A CR last in the buffer: hand out what is before it. */
			if (i > 0) {
				*eol = 0;
				r->start += i;
				return 1;
			}
		} else if (avail > 0 && (r->eof || (r->start == 0 && r->end == r->cap))) {
			*p = s;
			*n = avail;
			*eol = 0;
			r->start = r->end;
			return 1;
		} else if (avail == 0 && r->eof)
			return 0;
		if (rd_fill(r) == -1)
			return -1;
	}
}
