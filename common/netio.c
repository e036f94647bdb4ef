/* netio.c: buffered, pipelining-friendly I/O over libcurl's connection. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netio.h"

#define IN_CHUNK	65536
#define IN_MAX		(4 * 1024 * 1024)	/* unread input kept while sending */

/* Marks the connection failed; why == NULL keeps the reason already noted. */
static int
fail(struct netio *io, const char *why)
{
	if (!io->dead && why)
		snprintf(io->why, sizeof io->why, "%s", why);
	io->dead = 1;
	return -1;
}

int
netio_open(struct netio *io, CURL *c, int timeout)
{
	memset(io, 0, sizeof *io);
	io->c = c;
	io->sock = CURL_SOCKET_BAD;
	io->timeout = timeout > 0 ? timeout : 60;
	sb_init(&io->out);
	sb_init(&io->line);
	if (curl_easy_getinfo(c, CURLINFO_ACTIVESOCKET, &io->sock) != CURLE_OK ||
	    io->sock == CURL_SOCKET_BAD)
		return fail(io, "no connection");
	if ((io->in = malloc(IN_CHUNK)) == NULL)
		return fail(io, "out of memory");
	io->icap = IN_CHUNK;
	return 0;
}

void
netio_free(struct netio *io)
{
	sb_free(&io->out);
	sb_free(&io->line);
	free(io->in);
	io->in = NULL;
	io->icap = io->ipos = io->ilen = 0;
}

int
netio_add(struct netio *io, const void *p, size_t n)
{
	if (sb_addn(&io->out, p, n) == -1)
		return fail(io, "out of memory");
	return 0;
}

/*
 * Reads what the server has sent without waiting.  1 when something (or
 * the end of file) came, 0 when nothing was there, -1 on failure.
 */
static int
absorb(struct netio *io)
{
	CURLcode rc;
	size_t n, room;
	char *nb;

	if (io->eof)
		return 0;
	if (io->ipos > 0 && io->ipos == io->ilen)
		io->ipos = io->ilen = 0;
	if (io->ilen == io->icap) {
		if (io->ipos > 0) {
			memmove(io->in, io->in + io->ipos, io->ilen - io->ipos);
			io->ilen -= io->ipos;
			io->ipos = 0;
		} else {
			if (io->icap >= IN_MAX)
				return fail(io, "the server sends far more than it was asked for");
			if ((nb = realloc(io->in, io->icap * 2)) == NULL)
				return fail(io, "out of memory");
			io->in = nb;
			io->icap *= 2;
		}
	}
	room = io->icap - io->ilen;
	rc = curl_easy_recv(io->c, io->in + io->ilen, room, &n);
	if (rc == CURLE_AGAIN)
		return 0;
	if (rc != CURLE_OK) {
		io->eof = 1;
		snprintf(io->why, sizeof io->why, "%s", curl_easy_strerror(rc));
		return 1;
	}
	if (n == 0) {
		io->eof = 1;
		snprintf(io->why, sizeof io->why, "the server closed the connection");
		return 1;
	}
	io->ilen += n;
	return 1;
}

/* Waits for events (and input meanwhile when POLLOUT); 0, or -1 on timeout. */
static int
wait_for(struct netio *io, short events)
{
	struct pollfd pfd;
	int r, left = io->timeout * 1000;
	const char *why;
	char msg[64];

	for (;;) {
		pfd.fd = io->sock;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 1000 ? 1000 : left);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR)
			return fail(io, strerror(errno));
		if (io->stop && (why = io->stop(io->stop_arg)) != NULL)
			return fail(io, why);
		if (r == 0 && (left -= 1000) <= 0) {
			snprintf(msg, sizeof msg, "the server does not answer (timeout after %d s)",
			    io->timeout);
			return fail(io, msg);
		}
	}
}

int
netio_flush(struct netio *io)
{
	CURLcode rc;
	size_t off = 0, n;

	while (off < io->out.len) {
		if (io->dead)
			return -1;
		rc = curl_easy_send(io->c, io->out.s + off, io->out.len - off, &n);
		if (rc == CURLE_OK) {
			off += n;
			continue;
		}
		if (rc != CURLE_AGAIN)
			return fail(io, io->eof ? NULL : curl_easy_strerror(rc));
		/* The server may be answering instead of reading: take that in. */
		if (absorb(io) == -1)
			return -1;
		if (wait_for(io, io->eof ? POLLOUT : POLLOUT | POLLIN) == -1)
			return -1;
	}
	sb_reset(&io->out);
	return 0;
}

void
netio_wipe(struct netio *io)
{
	if (io->out.s)
		explicit_bzero(io->out.s, io->out.cap);
	sb_reset(&io->out);
}

/* Waits until input is buffered; 0, or -1 (failed, timed out, or the end). */
static int
await_input(struct netio *io)
{
	int r;

	while (io->ipos == io->ilen) {
		if (io->eof)
			return fail(io, NULL);
		if (io->dead)
			return -1;
		if ((r = absorb(io)) == -1)
			return -1;
		if (r == 0 && wait_for(io, POLLIN) == -1)
			return -1;
	}
	return 0;
}

int
netio_getline(struct netio *io, size_t max, const char **line, size_t *len)
{
	if (io->out.len && netio_flush(io) == -1 && io->ipos == io->ilen)
		return -1;
	return netio_readline(io, max, line, len);
}

int
netio_readline(struct netio *io, size_t max, const char **line, size_t *len)
{
	char *nl;
	size_t k;

	sb_reset(&io->line);
	for (;;) {
		if (await_input(io) == -1)
			return -1;
		nl = memchr(io->in + io->ipos, '\n', io->ilen - io->ipos);
		k = nl ? (size_t)(nl - (io->in + io->ipos)) : io->ilen - io->ipos;
		if (io->line.len + k > max)
			return fail(io, "the server sent a line that is far too long");
		if (sb_addn(&io->line, io->in + io->ipos, k) == -1)
			return fail(io, "out of memory");
		io->ipos += k;
		if (nl) {
			io->ipos++;
			if (io->line.len && io->line.s[io->line.len - 1] == '\r')
				io->line.s[--io->line.len] = '\0';
			*line = io->line.s ? io->line.s : "";
			*len = io->line.len;
			return 0;
		}
	}
}

int
netio_peek(struct netio *io, const char **p, size_t *n)
{
	if (await_input(io) == -1)
		return -1;
	*p = io->in + io->ipos;
	*n = io->ilen - io->ipos;
	return 0;
}

void
netio_skip(struct netio *io, size_t n)
{
	io->ipos += n <= io->ilen - io->ipos ? n : io->ilen - io->ipos;
}

int
netio_idle_ok(struct netio *io)
{
	if (io->dead || io->eof || io->ipos < io->ilen)
		return 0;
	if (absorb(io) != 0)
		return 0;	/* something came (a 421), the end, or a failure */
	return 1;
}
