/*
 * pop3.c: a POP3 session, pipelined.
 *
 * libcurl makes the connection and logs in (TLS or STARTTLS, certificate
 * checks, SASL, USER/PASS or APOP, the redacted -v trace: all of
 * common/net.c) with CURLOPT_CONNECT_ONLY; after that we speak POP3
 * ourselves over curl_easy_send() and curl_easy_recv(), on libcurl's
 * connection and TLS session.  That lets us do what libcurl's one-command-
 * per-request POP3 cannot:
 *
 *  - pipelining (RFC 2449): when the server offers PIPELINING, the RETR
 *    commands of the messages planned with pop3_plan() go out ahead, up
 *    to a window of commands and bytes, and DELE commands go out without
 *    waiting for their replies; replies are read in order from a queue;
 *  - certainty about the end of a message: a body ends with the "."
 *    line, and a connection closed before it is an error, never a short
 *    message;
 *  - one session: nothing reconnects behind our back, so message numbers
 *    and DELE marks always belong to the session that listed them.
 *
 * DELE is only a mark until QUIT: the server expunges the marked messages
 * when it processes QUIT, and forgets them if the connection drops.
 * pop3_close() reads every outstanding reply, then sends QUIT and checks
 * its +OK.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "oauth2.h"
#include "popfetch.h"

#define IBUF		65536
#define STATUS_MAX	8192	/* a status line longer than this is nonsense */
#define LISTING_LINE_MAX 1024	/* so is a LIST or UIDL line */
#define WINDOW_BYTES	(1024 * 1024)	/* RETR bytes in flight (by LIST size) */

/* ---- I/O on libcurl's connection ---- */

static enum px_err
io_fail(struct pop3 *p, char **msg, const char *what)
{
	p->dead = 1;
	if (msg && *msg == NULL)
		*msg = strfmt("%s: %s", p->net->host, what);
	return PX_TEMPFAIL;
}

/* Waits until the socket is ready; 0, or -1 on timeout or a second signal. */
static int
wait_sock(struct pop3 *p, short events, char **msg)
{
	struct pollfd pfd;
	int r, left = p->net->timeout * 1000;

	for (;;) {
		pfd.fd = p->sock;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 1000 ? 1000 : left);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR) {
			io_fail(p, msg, strerror(errno));
			return -1;
		}
		if (p->abortable && pf_stop >= 2) {
			io_fail(p, msg, "stopped by a signal");
			return -1;
		}
		if (r == 0 && (left -= 1000) <= 0) {
			io_fail(p, msg, "the server does not answer (timeout)");
			return -1;
		}
	}
}

/* Refills the input buffer; 0, or -1 (connection gone, timeout). */
static int
fill(struct pop3 *p, char **msg)
{
	CURLcode rc;
	size_t n;

	if (p->dead) {
		io_fail(p, msg, "the connection is gone");
		return -1;
	}
	for (;;) {
		rc = curl_easy_recv(p->c, p->ibuf, IBUF, &n);
		if (rc == CURLE_OK && n > 0) {
			p->ipos = 0;
			p->ilen = n;
			return 0;
		}
		if (rc == CURLE_OK) {
			io_fail(p, msg, "the server closed the connection");
			return -1;
		}
		if (rc != CURLE_AGAIN) {
			io_fail(p, msg, curl_easy_strerror(rc));
			return -1;
		}
		if (wait_sock(p, POLLIN, msg) == -1)
			return -1;
	}
}

/* Sends the queued commands. */
static int
flush_out(struct pop3 *p, char **msg)
{
	CURLcode rc;
	size_t off = 0, n;

	while (off < p->out.len) {
		if (p->dead) {
			io_fail(p, msg, "the connection is gone");
			return -1;
		}
		rc = curl_easy_send(p->c, p->out.s + off, p->out.len - off, &n);
		if (rc == CURLE_OK) {
			off += n;
			continue;
		}
		if (rc != CURLE_AGAIN) {
			io_fail(p, msg, curl_easy_strerror(rc));
			return -1;
		}
		if (wait_sock(p, POLLOUT, msg) == -1)
			return -1;
	}
	sb_reset(&p->out);
	return 0;
}

/* Reads one line (CRLF or LF removed) into p->line; 0 or -1. */
static int
read_line(struct pop3 *p, size_t max, char **msg)
{
	char *nl;
	size_t k;

	sb_reset(&p->line);
	for (;;) {
		if (p->ipos == p->ilen && fill(p, msg) == -1)
			return -1;
		nl = memchr(p->ibuf + p->ipos, '\n', p->ilen - p->ipos);
		k = nl ? (size_t)(nl - (p->ibuf + p->ipos)) : p->ilen - p->ipos;
		if (p->line.len + k > max) {
			io_fail(p, msg, "the server sent a line that is far too long");
			return -1;
		}
		if (sb_addn(&p->line, p->ibuf + p->ipos, k) == -1) {
			io_fail(p, msg, "out of memory");
			return -1;
		}
		p->ipos += k;
		if (nl) {
			p->ipos++;
			if (p->line.len && p->line.s[p->line.len - 1] == '\r')
				p->line.s[--p->line.len] = '\0';
			return 0;
		}
	}
}

/*
 * Reads a multi-line body up to the "." line, undoing the dot-stuffing,
 * and hands it to sink (NULL: discard) as CRLF lines.  Returns 0, -1 if the
 * connection failed (or the body was cut off), -2 if the sink refused.
 */
static int
read_body(struct pop3 *p, pop3_sink sink, void *arg, char **msg)
{
	const char *s, *e, *nl;
	size_t run;

	p->bstate = 0;
	for (;;) {
		if (p->ipos == p->ilen && fill(p, msg) == -1)
			return -1;
		s = p->ibuf + p->ipos;
		e = p->ibuf + p->ilen;
		if (p->bstate == 0) {	/* start of a line */
			if (*s != '.') {
				p->bstate = 1;
				continue;
			}
			p->ipos++;
			p->bstate = 2;
			continue;
		}
		if (p->bstate == 2) {	/* after a leading dot */
			if (*s == '\r') {
				p->ipos++;
				p->bstate = 3;
				continue;
			}
			if (*s == '\n') {	/* ".\n": accepted as the end */
				p->ipos++;
				p->bstate = 0;
				return 0;
			}
			/* "..x" is ".x" stuffed; a lone ".x" is kept as it is. */
			if (*s != '.' && sink && sink(arg, ".", 1) != 1)
				goto refused;
			p->bstate = 1;
			continue;
		}
		if (p->bstate == 3) {	/* ".\r" */
			if (*s == '\n') {
				p->ipos++;
				p->bstate = 0;
				return 0;
			}
			if (sink && sink(arg, ".\r", 2) != 2)
				goto refused;
			p->bstate = 1;
			continue;
		}
		/* Inside a line: pass everything up to and with the LF. */
		nl = memchr(s, '\n', (size_t)(e - s));
		run = nl ? (size_t)(nl - s) + 1 : (size_t)(e - s);
		if (sink && sink(arg, s, run) != run)
			goto refused;
		p->ipos += run;
		if (nl)
			p->bstate = 0;
	}
refused:
	p->dead = 1;	/* the rest of the body is never read */
	return -2;
}

/* ---- commands and replies ---- */

static int
queue_cmd(struct pop3 *p, enum pop3_kind kind, unsigned long num, long long size,
    const char *fmt, ...)
{
	va_list ap;
	size_t start = p->out.len;
	struct pop3_pending *q;
	char *line;
	int r;

	if (p->qlen == POP3_QUEUE)
		return -1;
	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -1;
	if (p->t.verbose)
		log_error("> %s", line);
	sb_adds(&p->out, line);
	if (sb_adds(&p->out, "\r\n") == -1) {
		p->out.len = start;
		free(line);
		return -1;
	}
	free(line);
	q = &p->q[(p->qhead + p->qlen) % POP3_QUEUE];
	q->kind = kind;
	q->num = num;
	q->size = size > 0 ? size : 0;
	p->qlen++;
	if (kind == POP3_RETR || kind == POP3_TOP)
		p->qget++;
	p->qbytes += q->size;
	return 0;
}

/* Reads the status line of the oldest outstanding reply: 1 +OK, 0 -ERR, -1 failure. */
static int
read_status(struct pop3 *p, struct pop3_pending *done, char **msg)
{
	if (p->qlen == 0) {
		io_fail(p, msg, "internal error: no reply expected");
		return -1;
	}
	if (flush_out(p, msg) == -1 || read_line(p, STATUS_MAX, msg) == -1)
		return -1;
	*done = p->q[p->qhead];
	p->qhead = (p->qhead + 1) % POP3_QUEUE;
	p->qlen--;
	if (done->kind == POP3_RETR || done->kind == POP3_TOP)
		p->qget--;
	p->qbytes -= done->size;
	if (p->t.verbose)
		log_error("< %.*s", (int)(p->line.len > 500 ? 500 : p->line.len), p->line.s);
	sb_reset(&p->reply);
	sb_addn(&p->reply, p->line.s, p->line.len > 300 ? 300 : p->line.len);
	if (strncmp(p->line.s, "+OK", 3) == 0)
		return 1;
	if (strncmp(p->line.s, "-ERR", 4) == 0)
		return 0;
	io_fail(p, msg, "the server's reply is not POP3");
	return -1;
}

/*
 * A -ERR to a command.  RFC 2449 and 3206 response codes tell temporary
 * from permanent.
 */
static enum px_err
refused(struct pop3 *p, char **msg)
{
	const char *r = p->reply.s ? p->reply.s : "-ERR";

	*msg = strfmt("%s: %s", p->net->host, r);
	if (strstr(r, "[IN-USE]") || strstr(r, "[SYS/TEMP]") || strstr(r, "[LOGIN-DELAY]"))
		return PX_TEMPFAIL;
	if (strstr(r, "[AUTH]"))
		return PX_NOPERM;
	return PX_UNAVAILABLE;
}

/* Reads the oldest reply for nobody in particular (a DELE, or a body ahead). */
static int
consume(struct pop3 *p, char **msg)
{
	struct pop3_pending d;
	char *m = NULL;
	int r;

	if ((r = read_status(p, &d, msg)) == -1)
		return -1;
	if (d.kind == POP3_DELE) {
		if (r == 1)
			p->ndele_ok++;
		else if (p->dele_err == NULL) {
			p->dele_class = refused(p, &m);
			p->dele_err = m;
		}
		return 0;
	}
	if (r == 1 && d.kind != POP3_SIMPLE && read_body(p, NULL, NULL, msg) != 0)
		return -1;
	return 0;
}

/* Reads replies until the oldest one is for (kind, num); 0 or -1. */
static int
reach(struct pop3 *p, enum pop3_kind kind, unsigned long num, char **msg)
{
	while (p->qlen > 0) {
		if (p->q[p->qhead].kind == kind && p->q[p->qhead].num == num)
			return 0;
		if (consume(p, msg) == -1)
			return -1;
	}
	io_fail(p, msg, "internal error: command not sent");
	return -1;
}

static int
queued(const struct pop3 *p, enum pop3_kind kind, unsigned long num)
{
	size_t i;
	const struct pop3_pending *q;

	for (i = 0; i < p->qlen; i++) {
		q = &p->q[(p->qhead + i) % POP3_QUEUE];
		if (q->kind == kind && q->num == num)
			return 1;
	}
	return 0;
}

/* Sends planned commands ahead while the window allows (pipelining only). */
static void
top_up(struct pop3 *p)
{
	const struct pop3_pending *n;

	if (!p->pipelining)
		return;
	while (p->plannext < p->nplan && p->qget < POP3_AHEAD && p->qlen < POP3_QUEUE - 1 &&
	    !pf_stop) {
		n = &p->plan[p->plannext];
		if (p->qget > 0 && p->qbytes + n->size > WINDOW_BYTES)
			break;
		if (n->kind == POP3_TOP ? queue_cmd(p, POP3_TOP, n->num, 0, "TOP %lu 0", n->num) :
		    queue_cmd(p, POP3_RETR, n->num, n->size, "RETR %lu", n->num))
			break;
		p->plannext++;
	}
}

/*
 * Makes room in the queue for one more command by reading the oldest
 * reply (a body sent ahead is then read for nothing, and asked for again
 * later; with POP3_QUEUE far above POP3_AHEAD plus a batch of DELE, that
 * does not happen).
 */
static int
room(struct pop3 *p, char **msg)
{
	while (p->qlen >= POP3_QUEUE - 1)
		if (consume(p, msg) == -1)
			return -1;
	return 0;
}

/* ---- the interface ---- */

/*
 * Watches the CAPA replies libcurl asks for while logging in (the last one
 * counts: after STARTTLS the server may say more): PIPELINING decides
 * whether we send commands ahead.  Saves a CAPA of our own.
 */
static void
capa_hook(void *arg, int out, const char *line, size_t len)
{
	struct pop3 *p = arg;

	if (out) {
		if (len == 4 && strncasecmp(line, "CAPA", 4) == 0)
			p->pipelining = 0;
		return;
	}
	if (len == 10 && strncasecmp(line, "PIPELINING", 10) == 0)
		p->pipelining = 1;
}

enum px_err
pop3_open(struct pop3 *p, const struct net_cfg *n, int verbose, char **msg)
{
	char *err = NULL;
	enum px_err e;
	CURLcode rc;

	*msg = NULL;
	memset(p, 0, sizeof *p);
	p->net = n;
	p->sock = CURL_SOCKET_BAD;
	net_trace_init(&p->t, verbose);
	sb_init(&p->line);
	sb_init(&p->reply);
	sb_init(&p->out);
	if ((p->ibuf = malloc(IBUF)) == NULL || (p->c = curl_easy_init()) == NULL) {
		*msg = strdup(net_curl_error());
		return PX_SOFTWARE;
	}
	/* The password is needed only for a login (and its command only then runs). */
	if (n->oauth2) {
		if ((e = oauth2_token(n, NULL, &p->password, msg)) != PX_OK)
			return e;
	} else if (n->user && strcmp(n->auth, "none") != 0)
		p->password = conf_password(n, &err);
	if (err) {
		*msg = err;
		return PX_CONFIG;
	}
	if (net_setup(p->c, NET_POP3, n, p->password, "", &p->t, &err) == -1) {
		*msg = err;
		return PX_CONFIG;
	}
	/* Greeting, STARTTLS, authentication: libcurl's, then the connection is ours. */
	curl_easy_setopt(p->c, CURLOPT_CONNECT_ONLY, 1L);
	p->t.hook = capa_hook;
	p->t.hook_arg = p;
	rc = curl_easy_perform(p->c);
	if (rc == CURLE_LOGIN_DENIED && n->oauth2) {
		/* A token that looked valid was refused: one new token, one retry. */
		char *tok = NULL;

		if ((e = oauth2_token(n, p->password, &tok, msg)) != PX_OK)
			return e;
		util_wipe(&p->password);
		p->password = tok;
		curl_easy_setopt(p->c, CURLOPT_XOAUTH2_BEARER, p->password);
		rc = curl_easy_perform(p->c);
	}
	if (rc != CURLE_OK)
		return net_classify(p->c, rc, n, &p->t, msg);
	if (curl_easy_getinfo(p->c, CURLINFO_ACTIVESOCKET, &p->sock) != CURLE_OK ||
	    p->sock == CURL_SOCKET_BAD) {
		*msg = strfmt("%s: no connection after login", n->host);
		return PX_SOFTWARE;
	}
	p->t.hook = NULL;
	p->open = 1;
	/* From here the dialogue is ours, and so is its -v trace. */
	curl_easy_setopt(p->c, CURLOPT_VERBOSE, 0L);
	log_info("%s: %s", n->host, p->pipelining ? "pipelining" : "no pipelining");
	return PX_OK;
}

/* ---- listings ---- */

struct listing {
	int	 uidl;		/* 1: UIDL lines, 0: LIST lines */
	struct pop3_msg *v;
	size_t	 n, cap;
	int	 oom;
	struct sbuf *line;
};

static int
cmp_num(const void *a, const void *b)
{
	const struct pop3_msg *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

/* One line "N ARG" of a LIST or UIDL reply. */
static void
listing_line(struct listing *l, char *s)
{
	char *end, *arg;
	unsigned long num;
	struct pop3_msg *m, *nv, key;
	long long size;

	num = strtoul(s, &end, 10);
	if (end == s || num == 0 || (*end != ' ' && *end != '\t'))
		return;
	for (arg = end; *arg == ' ' || *arg == '\t'; arg++)
		;
	if (!l->uidl) {
		size = strtoll(arg, &end, 10);
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 64;
			if ((nv = realloc(l->v, l->cap * sizeof *nv)) == NULL) {
				l->oom = 1;
				return;
			}
			l->v = nv;
		}
		m = &l->v[l->n++];
		memset(m, 0, sizeof *m);
		m->num = num;
		m->size = end == arg ? -1 : size;
		return;
	}
	/* UIDL: 1-70 printable characters. */
	for (end = arg; *end > ' ' && *end < 0x7f; end++)
		;
	*end = '\0';
	key.num = num;
	if (*arg == '\0' || (m = bsearch(&key, l->v, l->n, sizeof *l->v, cmp_num)) == NULL)
		return;
	free(m->uidl);
	if ((m->uidl = strdup(arg)) == NULL)
		l->oom = 1;
}

static size_t
listing_sink(void *arg, const char *ptr, size_t n)
{
	struct listing *l = arg;
	struct sbuf *b = l->line;
	size_t i;

	for (i = 0; i < n; i++) {
		if (ptr[i] == '\n') {
			if (b->len && b->s[b->len - 1] == '\r')
				b->s[--b->len] = '\0';
			if (b->len)
				listing_line(l, b->s);
			sb_reset(b);
		} else if (b->len < LISTING_LINE_MAX && sb_addc(b, ptr[i]) == -1)
			return 0;
	}
	return l->oom ? 0 : n;
}

void
pop3_msgs_free(struct pop3_msg *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].uidl);
	free(v);
}

enum px_err
pop3_scan(struct pop3 *p, struct pop3_msg **vp, size_t *np, char **msg)
{
	struct listing l;
	struct pop3_pending d;
	struct sbuf lb;
	enum px_err e = PX_OK;
	size_t i;
	int r, uidl_sent = 0;

	*msg = NULL;
	*vp = NULL;
	*np = 0;
	memset(&l, 0, sizeof l);
	sb_init(&lb);
	l.line = &lb;
	if (queue_cmd(p, POP3_LIST, 0, 0, "LIST") == -1) {
		e = PX_SOFTWARE;
		*msg = strdup("out of memory");
		goto done;
	}
	if (p->pipelining) {
		if (queue_cmd(p, POP3_LIST, 1, 0, "UIDL") == -1) {
			e = PX_SOFTWARE;
			*msg = strdup("out of memory");
			goto done;
		}
		uidl_sent = 1;
	}
	if ((r = read_status(p, &d, msg)) == -1) {
		e = PX_TEMPFAIL;
		goto done;
	}
	if (r == 0) {
		e = refused(p, msg);
		goto done;
	}
	if ((r = read_body(p, listing_sink, &l, msg)) != 0) {
		e = r == -2 ? PX_SOFTWARE : PX_TEMPFAIL;
		if (r == -2)
			*msg = strdup("out of memory");
		goto done;
	}
	for (i = 1; i < l.n; i++)
		if (l.v[i].num <= l.v[i - 1].num) {
			qsort(l.v, l.n, sizeof *l.v, cmp_num);
			break;
		}
	if (!uidl_sent && queue_cmd(p, POP3_LIST, 1, 0, "UIDL") == -1) {
		e = PX_SOFTWARE;
		*msg = strdup("out of memory");
		goto done;
	}
	l.uidl = 1;
	sb_reset(&lb);
	if ((r = read_status(p, &d, msg)) == -1) {
		e = PX_TEMPFAIL;
		goto done;
	}
	if (r == 1) {
		if ((r = read_body(p, listing_sink, &l, msg)) != 0) {
			e = r == -2 ? PX_SOFTWARE : PX_TEMPFAIL;
			if (r == -2)
				*msg = strdup("out of memory");
			goto done;
		}
		p->uidl_ok = 1;
	} else
		log_info("%s: no UIDL: %s", p->net->host, p->reply.s);
done:
	sb_free(&lb);
	if (e != PX_OK) {
		pop3_msgs_free(l.v, l.n);
		return e;
	}
	*vp = l.v;
	*np = l.n;
	return PX_OK;
}

/* ---- messages ---- */

enum px_err
pop3_plan(struct pop3 *p, int top, const struct pop3_msg *v, size_t n, char **msg)
{
	size_t i, k = 0;

	*msg = NULL;
	free(p->plan);
	p->plan = NULL;
	p->nplan = p->plannext = 0;
	if (n == 0)
		return PX_OK;
	if ((p->plan = calloc(n, sizeof *p->plan)) == NULL) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	for (i = 0; i < n; i++) {
		if (!top && !v[i].wanted)
			continue;
		p->plan[k].kind = top ? POP3_TOP : POP3_RETR;
		p->plan[k].num = v[i].num;
		p->plan[k].size = v[i].size > 0 ? v[i].size : 0;
		k++;
	}
	p->nplan = k;
	return PX_OK;
}

/* RETR or TOP of one message into sink. */
static enum px_err
get(struct pop3 *p, enum pop3_kind kind, unsigned long num, pop3_sink sink, void *arg,
    char **msg)
{
	struct pop3_pending d;
	int r;

	*msg = NULL;
	if (p->dead)
		return io_fail(p, msg, "the connection is gone");
	top_up(p);
	if (!queued(p, kind, num)) {
		/* Not planned (or the plan was passed): ask for it now. */
		if (room(p, msg) == -1)
			return PX_TEMPFAIL;
		if ((kind == POP3_TOP ? queue_cmd(p, kind, num, 0, "TOP %lu 0", num) :
		    queue_cmd(p, kind, num, 0, "RETR %lu", num)) == -1) {
			*msg = strdup("out of memory");
			return PX_SOFTWARE;
		}
	}
	if (flush_out(p, msg) == -1 || reach(p, kind, num, msg) == -1)
		return PX_TEMPFAIL;
	if ((r = read_status(p, &d, msg)) == -1)
		return PX_TEMPFAIL;
	if (r == 0)
		return refused(p, msg);
	p->abortable = kind == POP3_RETR;
	r = read_body(p, sink, arg, msg);
	p->abortable = 0;
	if (r == -2)
		return PX_IOERR;	/* the sink has the details */
	if (r == -1) {
		free(*msg);
		*msg = strfmt("%s: the connection broke during %s %lu", p->net->host,
		    kind == POP3_TOP ? "TOP" : "RETR", num);
		return PX_TEMPFAIL;
	}
	return PX_OK;
}

enum px_err
pop3_retr(struct pop3 *p, unsigned long num, pop3_sink sink, void *arg, char **msg)
{
	return get(p, POP3_RETR, num, sink, arg, msg);
}

enum px_err
pop3_top(struct pop3 *p, unsigned long num, pop3_sink sink, void *arg, char **msg)
{
	return get(p, POP3_TOP, num, sink, arg, msg);
}

enum px_err
pop3_dele(struct pop3 *p, unsigned long num, char **msg)
{
	*msg = NULL;
	if (p->dead)
		return io_fail(p, msg, "the connection is gone");
	if (room(p, msg) == -1)
		return PX_TEMPFAIL;
	if (queue_cmd(p, POP3_DELE, num, 0, "DELE %lu", num) == -1) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	/* Without pipelining, one command at a time. */
	if (!p->pipelining) {
		if (flush_out(p, msg) == -1)
			return PX_TEMPFAIL;
		while (p->qlen > 0)
			if (consume(p, msg) == -1)
				return PX_TEMPFAIL;
	}
	return PX_OK;
}

enum px_err
pop3_close(struct pop3 *p, char **msg)
{
	struct pop3_pending d;
	enum px_err e = PX_OK;
	int r;

	*msg = NULL;
	if (p->open && !p->dead) {
		/* Every reply still owed: DELE results, bodies sent ahead. */
		p->nplan = p->plannext;
		e = PX_TEMPFAIL;
		if (flush_out(p, msg) == -1)
			goto gone;
		while (p->qlen > 0)
			if (consume(p, msg) == -1)
				goto gone;
		if (queue_cmd(p, POP3_SIMPLE, 0, 0, "QUIT") == -1)
			goto gone;
		p->quit_sent = 1;
		if ((r = read_status(p, &d, msg)) == -1) {
			free(*msg);
			*msg = strfmt("%s: QUIT was not answered", p->net->host);
			goto gone;
		}
		p->quit_reply = r == 1 ? 1 : -1;
		e = r == 1 ? PX_OK : refused(p, msg);
		if (e == PX_OK && p->dele_err) {
			*msg = p->dele_err;
			p->dele_err = NULL;
			e = p->dele_class;
		}
	}
gone:
	if (p->c) {
		/*
		 * Nothing more may go over the connection: libcurl would send a
		 * QUIT of its own and wait for an answer that may be stuck behind
		 * the rest of a message we stopped reading.
		 */
		if (p->sock != CURL_SOCKET_BAD)
			shutdown(p->sock, SHUT_RDWR);
		curl_easy_cleanup(p->c);
		p->c = NULL;
	}
	if (p->password) {
		explicit_bzero(p->password, strlen(p->password));
		free(p->password);
		p->password = NULL;
	}
	net_trace_free(&p->t);
	sb_free(&p->line);
	sb_free(&p->reply);
	sb_free(&p->out);
	free(p->ibuf);
	free(p->plan);
	free(p->dele_err);
	p->ibuf = NULL;
	p->plan = NULL;
	p->dele_err = NULL;
	return e;
}
