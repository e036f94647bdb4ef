/*
 * output.c: the buffer between the message filter and the destination's
 * file or pipe, and the error of the message in hand.  Writes go out in
 * OUTBUF pieces; the first error is kept for dest_error().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dest.h"

#define OUTBUF		65536

void
out_set_err(struct dest *d, enum px_err e, char *msg)
{
	if (d->err != PX_OK) {
		free(msg);
		return;
	}
	d->err = e;
	d->errmsg = msg;
}

static int
write_out(struct dest *d, const char *s, size_t n)
{
	if (d->fd == -1 || n == 0)
		return 0;
	if (write_all(d->fd, s, n) == 0)
		return 0;
	if (d->epipe_ok && errno == EPIPE) {
		/* The command stopped reading: its exit status decides. */
		d->pipe_gone = 1;
		close(d->fd);
		d->fd = -1;
		return 0;
	}
	out_set_err(d, PX_IOERR, strfmt("%s: %s", d->what, strerror(errno)));
	return -1;
}

int
out_flush(struct dest *d)
{
	size_t n = d->blen;

	d->blen = 0;
	return write_out(d, d->buf, n);
}

int
out_put(void *arg, const char *s, size_t n)
{
	struct dest *d = arg;

	if (d->buf == NULL && (d->buf = malloc(OUTBUF)) == NULL) {
		out_set_err(d, PX_SOFTWARE, strdup("out of memory"));
		return -1;
	}
	if (d->blen + n > OUTBUF) {
		if (out_flush(d) == -1)
			return -1;
		if (n >= OUTBUF)
			return write_out(d, s, n);
	}
	memcpy(d->buf + d->blen, s, n);
	d->blen += n;
	return 0;
}
