/*
 * pop3.c: a POP3 session on one libcurl easy handle.
 *
 * Every command is one curl_easy_perform() on the same handle, so libcurl
 * keeps the connection, the TLS session and the login between them: the URL
 * "pop3://host:port" with CURLOPT_CUSTOMREQUEST for UIDL, LIST, TOP, DELE
 * and QUIT, and "pop3://host:port/N" for RETR N.  libcurl reads multi-line
 * replies up to the final "." and removes the dot-stuffing itself; the body
 * reaches us through CURLOPT_WRITEFUNCTION as CRLF lines.
 *
 * DELE is only a mark until QUIT: the server expunges the marked messages
 * when it processes QUIT, and forgets the marks if the connection drops.
 * libcurl sends QUIT itself when it closes a connection, but through an
 * internal handle whose reply we never see, so pop3_close() sends QUIT as
 * a command of its own and checks the +OK.  Any failed command makes
 * libcurl drop the connection without QUIT, which undoes the marks: safe.
 *
 * Two things libcurl does not do for us.  It takes a connection closed in
 * the middle of a multi-line reply for its end (the size of a POP3 body
 * is unknown to it), so after each multi-line reply we check that the
 * connection is still open and quiet: a half message is never taken for a
 * whole one.  And it would silently connect and log in again for the next
 * command when the server went away, starting a new session in which our
 * message numbers and DELE marks mean nothing: the socket callback refuses
 * any connection after the first.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "popfetch.h"

#define LISTING_LINE_MAX 1024	/* a UIDL or LIST line is far shorter */

/* Body data: a listing line parser or the caller's sink. */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct pop3 *p = arg;
	size_t n = size * nmemb;

	if (p->sink == NULL)
		return n;	/* a body nobody asked for */
	return p->sink(p->sink_arg, ptr, n);
}

/*
 * A second SIGTERM/SIGINT abandons the message in hand (it is undone);
 * DELE and QUIT always run to the end.
 */
static int
xfer_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct pop3 *p = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return p->in_retr && pf_stop >= 2;
}

/* The first connection only: a second one would be a new POP3 session. */
static curl_socket_t
open_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct pop3 *p = arg;

	(void)purpose;
	if (p->connected) {
		p->dropped = 1;
		errno = ECONNRESET;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/*
 * 1 if the connection is still open and nothing unasked-for waits on it.
 * After a complete reply a POP3 server says nothing until the next
 * command; a readable socket means it closed the connection (or is
 * talking nonsense), so the reply may have been cut short.
 */
static int
conn_sane(struct pop3 *p)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	struct pollfd pfd;

	if (curl_easy_getinfo(p->c, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
	    s == CURL_SOCKET_BAD)
		return 0;
	pfd.fd = s;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 0;
}

/* Remembers the first status line of the reply to the command in hand. */
static void
trace_hook(void *arg, int out, const char *line, size_t len)
{
	struct pop3 *p = arg;

	if (out || p->reply.len > 0)
		return;
	if ((len >= 3 && strncmp(line, "+OK", 3) == 0) ||
	    (len >= 4 && strncmp(line, "-ERR", 4) == 0))
		sb_addn(&p->reply, line, len > 300 ? 300 : len);
}

/*
 * A -ERR to a command after login.  libcurl may have sent QUIT after it,
 * so the trace's last reply is not necessarily this one.  RFC 2449 and
 * 3206 response codes tell temporary from permanent.
 */
static enum px_err
refused(struct pop3 *p, char **msg)
{
	const char *r = p->reply.s;

	*msg = strfmt("%s: %s", p->net->host, r);
	if (strstr(r, "[IN-USE]") || strstr(r, "[SYS/TEMP]") || strstr(r, "[LOGIN-DELAY]"))
		return PX_TEMPFAIL;
	if (strstr(r, "[AUTH]"))
		return PX_NOPERM;
	return PX_UNAVAILABLE;
}

/* One request on the handle; *msg gets the classified error. */
static enum px_err
request(struct pop3 *p, const char *path, const char *custom, int nobody, char **msg)
{
	CURLcode rc;
	char *err = NULL;

	*msg = NULL;
	if (net_setup(p->c, NET_POP3, p->net, p->password, path, &p->t, &err) == -1) {
		*msg = err;
		return PX_CONFIG;
	}
	curl_easy_setopt(p->c, CURLOPT_CUSTOMREQUEST, custom);
	curl_easy_setopt(p->c, CURLOPT_NOBODY, nobody ? 1L : 0L);
	curl_easy_setopt(p->c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(p->c, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(p->c, CURLOPT_XFERINFOFUNCTION, xfer_cb);
	curl_easy_setopt(p->c, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(p->c, CURLOPT_NOPROGRESS, 0L);
	/* One session for the whole poll, however long a delivery takes. */
	curl_easy_setopt(p->c, CURLOPT_MAXAGE_CONN, 86400L);
	curl_easy_setopt(p->c, CURLOPT_OPENSOCKETFUNCTION, open_cb);
	curl_easy_setopt(p->c, CURLOPT_OPENSOCKETDATA, p);
	p->t.reply_code = 0;
	p->t.hook = trace_hook;
	p->t.hook_arg = p;
	sb_reset(&p->reply);
	if (p->dropped) {
		*msg = strfmt("%s: the server closed the connection", p->net->host);
		return PX_TEMPFAIL;
	}
	rc = curl_easy_perform(p->c);
	if (rc == CURLE_OK) {
		p->connected = 1;
		if (!nobody && !conn_sane(p)) {
			p->dropped = 1;
			*msg = strfmt("%s: the server closed the connection during %s",
			    p->net->host, custom ? custom : "RETR");
			return PX_TEMPFAIL;
		}
		return PX_OK;
	}
	if (p->dropped) {
		*msg = strfmt("%s: the server closed the connection", p->net->host);
		return PX_TEMPFAIL;
	}
	if (p->connected && p->reply.len >= 4 && strncmp(p->reply.s, "-ERR", 4) == 0)
		return refused(p, msg);
	if (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR) {
		*msg = strfmt("%s: the server closed the connection", p->net->host);
		return PX_TEMPFAIL;
	}
	return net_classify(p->c, rc, p->net, &p->t, msg);
}

enum px_err
pop3_open(struct pop3 *p, const struct net_cfg *n, int verbose, char **msg)
{
	char *err = NULL;

	*msg = NULL;
	memset(p, 0, sizeof *p);
	p->net = n;
	net_trace_init(&p->t, verbose);
	sb_init(&p->line);
	sb_init(&p->reply);
	if ((p->c = curl_easy_init()) == NULL) {
		*msg = strdup("cannot initialise libcurl");
		return PX_SOFTWARE;
	}
	p->password = conf_password(n, &err);
	if (err) {
		*msg = err;
		return PX_CONFIG;
	}
	/* Catches configuration problems before the first connection. */
	if (net_setup(p->c, NET_POP3, n, p->password, "", &p->t, &err) == -1) {
		*msg = err;
		return PX_CONFIG;
	}
	return PX_OK;
}

/* ---- listings ---- */

struct listing {
	struct pop3 *p;
	int	 uidl;		/* 1: UIDL lines, 0: LIST lines */
	struct pop3_msg *v;
	size_t	 n, cap;
	int	 bad;
};

static int
cmp_num(const void *a, const void *b)
{
	const struct pop3_msg *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

static struct pop3_msg *
find_num(struct listing *l, unsigned long num)
{
	struct pop3_msg key;

	key.num = num;
	return bsearch(&key, l->v, l->n, sizeof *l->v, cmp_num);
}

/* One line "N ARG" of a LIST or UIDL reply. */
static void
listing_line(struct listing *l, char *s)
{
	char *end, *arg;
	unsigned long num;
	struct pop3_msg *m, *nv;
	long long size;

	num = strtoul(s, &end, 10);
	if (end == s || num == 0 || (*end != ' ' && *end != '\t')) {
		l->bad = 1;
		return;
	}
	for (arg = end; *arg == ' ' || *arg == '\t'; arg++)
		;
	if (!l->uidl) {
		size = strtoll(arg, &end, 10);
		if (l->n == l->cap) {
			l->cap = l->cap ? l->cap * 2 : 64;
			if ((nv = realloc(l->v, l->cap * sizeof *nv)) == NULL) {
				l->bad = 2;
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
	/* UIDL: 1-70 printable characters, after the LIST is known. */
	for (end = arg; *end > ' ' && *end < 0x7f; end++)
		;
	*end = '\0';
	if (*arg == '\0' || (m = find_num(l, num)) == NULL)
		return;
	free(m->uidl);
	m->uidl = strdup(arg);
}

static size_t
listing_sink(void *arg, const char *ptr, size_t n)
{
	struct listing *l = arg;
	struct sbuf *b = &l->p->line;
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
	return l->bad == 2 ? 0 : n;
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
	enum px_err e;
	size_t i;

	*vp = NULL;
	*np = 0;
	memset(&l, 0, sizeof l);
	l.p = p;
	p->sink = listing_sink;
	p->sink_arg = &l;
	sb_reset(&p->line);
	e = request(p, "", "LIST", 0, msg);
	if (e != PX_OK)
		goto done;
	for (i = 1; i < l.n; i++)
		if (l.v[i].num <= l.v[i - 1].num) {
			qsort(l.v, l.n, sizeof *l.v, cmp_num);
			break;
		}
	if (l.n > 0) {
		l.uidl = 1;
		sb_reset(&p->line);
		e = request(p, "", "UIDL", 0, msg);
		p->uidl_ok = e == PX_OK;
		if (e != PX_OK && p->t.reply_code == -1) {
			/* No UIDL on this server: every message is new each time. */
			log_info("%s: no UIDL: %s", p->net->host, *msg ? *msg : "");
			free(*msg);
			*msg = NULL;
			e = PX_OK;
		}
	}
done:
	p->sink = NULL;
	if (e != PX_OK) {
		pop3_msgs_free(l.v, l.n);
		return e;
	}
	*vp = l.v;
	*np = l.n;
	return PX_OK;
}

enum px_err
pop3_retr(struct pop3 *p, unsigned long num, pop3_sink sink, void *arg, char **msg)
{
	char path[32];
	enum px_err e;

	snprintf(path, sizeof path, "/%lu", num);
	p->sink = sink;
	p->sink_arg = arg;
	p->in_retr = 1;
	e = request(p, path, NULL, 0, msg);
	p->in_retr = 0;
	p->sink = NULL;
	return e;
}

enum px_err
pop3_top(struct pop3 *p, unsigned long num, pop3_sink sink, void *arg, char **msg)
{
	char cmd[48];
	enum px_err e;

	snprintf(cmd, sizeof cmd, "TOP %lu 0", num);
	p->sink = sink;
	p->sink_arg = arg;
	e = request(p, "", cmd, 0, msg);
	p->sink = NULL;
	return e;
}

enum px_err
pop3_dele(struct pop3 *p, unsigned long num, char **msg)
{
	char cmd[48];

	snprintf(cmd, sizeof cmd, "DELE %lu", num);
	return request(p, "", cmd, 1, msg);
}

enum px_err
pop3_close(struct pop3 *p, char **msg)
{
	enum px_err e = PX_OK;
	curl_socket_t s = CURL_SOCKET_BAD;

	*msg = NULL;
	if (p->c == NULL)
		goto out;
	/*
	 * QUIT only when a connection is open; the server's +OK is what
	 * commits the deletions.
	 */
	if (!p->dropped && curl_easy_getinfo(p->c, CURLINFO_ACTIVESOCKET, &s) == CURLE_OK &&
	    s != CURL_SOCKET_BAD) {
		p->quit_sent = 1;
		e = request(p, "", "QUIT", 1, msg);
		p->quit_reply = e == PX_OK ? 1 : -1;
	}
	curl_easy_cleanup(p->c);
	p->c = NULL;
out:
	if (p->password) {
		explicit_bzero(p->password, strlen(p->password));
		free(p->password);
		p->password = NULL;
	}
	net_trace_free(&p->t);
	sb_free(&p->line);
	sb_free(&p->reply);
	return e;
}
