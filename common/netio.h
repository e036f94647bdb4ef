/*
 * netio.h: buffered I/O over a connection that libcurl opened and secured
 * (CURLOPT_CONNECT_ONLY), for a protocol the program speaks itself with
 * curl_easy_send() and curl_easy_recv().
 *
 * Output is queued (netio_add, or sbuf calls on io->out) and goes out in
 * as few writes as possible when flushed, so that a pipelined flight of
 * commands leaves in one packet.  While a flight cannot be sent (the
 * socket buffer is full), whatever the server sends meanwhile is read into
 * the input buffer: a server that answers pipelined commands while we are
 * still sending never waits for us, nor we for it.  Lines already received
 * stay readable after the connection failed, so that a "421 ... closing"
 * before the close is seen.  Every wait is bounded by the timeout, and
 * the caller may cut it short (io->stop).
 *
 * Input is read into a buffer of a fixed size (64 KB; more only while a
 * flight cannot be sent), so that a long body read with netio_peek() and
 * netio_skip() takes constant memory.
 *
 * sendmail's SMTP (sendmail/smtp.c, smtptx.c) and popfetch's POP3
 * (popfetch/pop3.c) both speak through this.  Nothing here prints; a
 * failure leaves its reason in io->why.
 */
#ifndef POSTIE_NETIO_H
#define POSTIE_NETIO_H

#include <stddef.h>
#include <curl/curl.h>
#include "util.h"

struct netio {
	CURL	*c;
	curl_socket_t sock;
	int	 timeout;	/* seconds, for each wait */
	struct sbuf out;	/* queued output */
	char	*in;		/* received, not yet read */
	size_t	 ipos, ilen, icap;
	struct sbuf line;	/* the line last returned */
	int	 eof;		/* the server closed its side */
	int	 dead;		/* failed: nothing more is sent */
	char	 why[256];	/* the failure, for messages */
	/*
	 * Asked at least once a second while waiting (and when a signal
	 * interrupts the wait): a reason to give up, which fails the wait and
	 * the connection with it as io->why, or NULL to go on.  NULL (as
	 * netio_open sets it): waits end only in the timeout.
	 */
	const char *(*stop)(void *arg);
	void	*stop_arg;
};

/*
 * Takes over the connection of c (after a CONNECT_ONLY perform).  0, or
 * -1 when c has no connection or memory is short.
 */
int	 netio_open(struct netio *io, CURL *c, int timeout);
/* Frees the buffers; the connection itself stays libcurl's. */
void	 netio_free(struct netio *io);

/* Queues n bytes; 0, or -1 (out of memory: the connection is dead). */
int	 netio_add(struct netio *io, const void *p, size_t n);
/* Sends everything queued; 0, or -1 (io->why says why; io->dead set). */
int	 netio_flush(struct netio *io);
/*
 * Overwrites the output buffer's memory and empties it: after a line that
 * carried a credential was flushed (or failed to be).
 */
void	 netio_wipe(struct netio *io);
/*
 * Flushes, then returns the next line, without its CRLF or LF, in *line
 * (NUL-terminated, valid until the next call) and *len.  A line longer
 * than max fails.  0, or -1 when the connection failed or timed out with
 * no complete line left.
 */
int	 netio_getline(struct netio *io, size_t max, const char **line, size_t *len);
/*
 * The same without the flush: what is queued stays queued (commands that
 * are to go with the next flight while the replies to those sent are
 * read).
 */
int	 netio_readline(struct netio *io, size_t max, const char **line, size_t *len);
/*
 * Bulk input, for a body read in constant memory: waits until input is
 * buffered, then points *p at it (*n bytes, up to the buffer's size, not
 * NUL-terminated; valid until the next call).  Nothing is consumed and
 * nothing sent: netio_skip() consumes.  0, or -1 when the connection
 * failed, timed out or ended with nothing buffered.
 */
int	 netio_peek(struct netio *io, const char **p, size_t *n);
/* Consumes n of the bytes netio_peek() showed (n at most its *n). */
void	 netio_skip(struct netio *io, size_t n);
/*
 * Whether an idle connection still looks usable: nothing unread from the
 * server (a "421 timeout" sent while idle), no end of file.  Never waits.
 */
int	 netio_idle_ok(struct netio *io);

#endif
