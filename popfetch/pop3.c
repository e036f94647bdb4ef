/*
 * pop3.c: a POP3 session, pipelined, on the connection libcurl made.
 *
 * libcurl connects and secures the connection (TLS or STARTTLS, certificate
 * checks, the redacted -v trace: common/net.c) with CURLOPT_CONNECT_ONLY
 * and no user name, so it stops after the greeting, CAPA and STLS; the
 * greeting (its APOP timestamp) and the capabilities are caught on the way
 * by the trace hook.  Then we log in ourselves through common/sasl.c (the
 * mechanism chosen, the initial response, fallback to the next one
 * offered) and speak POP3 over curl_easy_send() and curl_easy_recv(), on
 * libcurl's connection and TLS session.  That lets us do what libcurl's
 * one-command-per-request POP3 cannot:
 *
 *  - pipelining (RFC 2449): when the server offers PIPELINING, the RETR
 *    commands of the messages planned with pop3_plan() go out ahead, in
 *    flights, up to a window of bytes (the LIST sizes of the messages
 *    asked for, and the bytes of the commands not yet answered); DELE
 *    commands go out with the next flight without waiting for their
 *    replies, and QUIT with the last DELEs; replies are read in order;
 *  - UTF8 (RFC 6856) after the login when CAPA lists it, so that a server
 *    such as Courier sends messages with UTF-8 headers as they are rather
 *    than a "cannot display" notice; the bytes are kept as received;
 *  - certainty about the end of a message: a body ends with the "."
 *    line, and a connection closed before it is an error, never a short
 *    message;
 *  - one session: nothing reconnects behind our back, so message numbers
 *    and DELE marks always belong to the session that listed them.
 *
 * DELE is only a mark until QUIT: the server expunges the marked messages
 * when it processes QUIT, and forgets them if the connection drops.
 * pop3_close() sends QUIT behind whatever is still owed, reads every reply
 * (each DELE's is checked) and then QUIT's +OK; only then do the messages
 * whose DELE was answered +OK count as deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "oauth2.h"
#include "popfetch.h"
#include "sasl.h"
#include "tlsinfo.h"

#define STATUS_MAX	8192	/* a status line longer than this is nonsense */
#define LISTING_LINE_MAX 1024	/* so is a LIST or UIDL line */
/* "NUMBER UIDL": a line cut off at the limit holds a UIDL over UIDL_MAX. */
_Static_assert(UIDL_MAX + 21 < LISTING_LINE_MAX, "UIDL_MAX too close to LISTING_LINE_MAX");
#define WINDOW_BYTES	(4 * 1024 * 1024)	/* RETR bytes in flight (by LIST size) */

/* ---- I/O on libcurl's connection (common/netio.c) ---- */

static enum px_err
io_fail(struct pop3 *p, char **msg, const char *what)
{
	p->dead = 1;
	p->io.dead = 1;
	if (msg && *msg == NULL)
		*msg = strfmt("%s: %s", p->net->host, what);
	return PX_TEMPFAIL;
}

/* After a netio call failed: the connection is gone, and *msg says why. */
static int
io_lost(struct pop3 *p, char **msg)
{
	io_fail(p, msg, p->io.why[0] ? p->io.why : "the connection is gone");
	return -1;
}

/* netio's stop hook: a second SIGTERM or SIGINT cuts a message being read. */
static const char *
stopped(void *arg)
{
	const struct pop3 *p = arg;

	return p->abortable && pf_stop >= 2 ? "stopped by a signal" : NULL;
}

/* Sends the queued commands. */
static int
flush_out(struct pop3 *p, char **msg)
{
	if (netio_flush(&p->io) == -1)
		return io_lost(p, msg);
	p->nunsent = 0;
	return 0;
}

/* Reads one line (CRLF or LF removed), without sending what is queued; 0 or -1. */
static int
read_line(struct pop3 *p, size_t max, const char **line, size_t *len, char **msg)
{
	if (netio_readline(&p->io, max, line, len) == -1)
		return io_lost(p, msg);
	return 0;
}

/*
 * Reads a multi-line body up to the "." line, undoing the dot-stuffing,
 * and hands it to sink (NULL: discard) as CRLF lines.  Returns 0, -1 if the
 * connection failed (or the body was cut off), -2 if the sink refused.
 */
static int
read_body(struct pop3 *p, pop3_sink sink, void *arg, char **msg)
{
	const char *s, *nl;
	size_t n, run;

	p->bstate = 0;
	for (;;) {
		if (netio_peek(&p->io, &s, &n) == -1)
			return io_lost(p, msg);
		if (p->bstate == 0) {	/* start of a line */
			if (*s != '.') {
				p->bstate = 1;
				continue;
			}
			netio_skip(&p->io, 1);
			p->bstate = 2;
			continue;
		}
		if (p->bstate == 2) {	/* after a leading dot */
			if (*s == '\r') {
				netio_skip(&p->io, 1);
				p->bstate = 3;
				continue;
			}
			if (*s == '\n') {	/* ".\n": accepted as the end */
				netio_skip(&p->io, 1);
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
				netio_skip(&p->io, 1);
				p->bstate = 0;
				return 0;
			}
			if (sink && sink(arg, ".\r", 2) != 2)
				goto refused;
			p->bstate = 1;
			continue;
		}
		/* Inside a line: pass everything up to and with the LF. */
		nl = memchr(s, '\n', n);
		run = nl ? (size_t)(nl - s) + 1 : n;
		if (sink && sink(arg, s, run) != run)
			goto refused;
		netio_skip(&p->io, run);
		if (nl)
			p->bstate = 0;
	}
refused:
	/* The rest of the body is never read: no command may follow. */
	p->dead = 1;
	p->io.dead = 1;
	return -2;
}

/* ---- commands and replies ---- */

/* Unanswered command bytes: far below what socket buffers hold, so sending never waits on reading. */
#define CMD_WINDOW	(32 * 1024)
#define TOP_GUESS	2048	/* bytes a TOP reply is counted for in the window */

static int
grow_queue(struct pop3 *p)
{
	struct pop3_pending *nq;
	size_t ncap = p->qcap ? p->qcap * 2 : 64, i;

	if ((nq = malloc(ncap * sizeof *nq)) == NULL)
		return -1;
	for (i = 0; i < p->qlen; i++)
		nq[i] = p->q[(p->qhead + i) % p->qcap];
	free(p->q);
	p->q = nq;
	p->qcap = ncap;
	p->qhead = 0;
	return 0;
}

/* Shows a command in -v, without its credential. */
static void
show_cmd(const char *line, int secret)
{
	const char *sp;
	int keep = 0;

	if (!secret) {
		log_error("> %s", line);
		return;
	}
	/* "AUTH PLAIN x", "APOP user digest": the first two words; "PASS x": the first. */
	if (strncasecmp(line, "AUTH ", 5) == 0 || strncasecmp(line, "APOP ", 5) == 0) {
		if ((sp = strchr(line + 5, ' ')) != NULL)
			keep = (int)(sp - line);
	} else if (strncasecmp(line, "PASS ", 5) == 0)
		keep = 4;
	if (keep)
		log_error("> %.*s <redacted>", keep, line);
	else
		log_error("> <redacted>");
}

/* Queues a command line (CRLF added) whose reply is owed; 0 or -1 (out of memory). */
static int
queue_line(struct pop3 *p, enum pop3_kind kind, unsigned long num, long long size,
    const char *line)
{
	struct pop3_pending *q;
	size_t start = p->io.out.len, len = strlen(line) + 2;

	if (p->qlen == p->qcap && grow_queue(p) == -1)
		return -1;
	if (p->t.verbose)
		show_cmd(line, 0);
	/* Not netio_add(): out of memory here fails the command, not the connection. */
	if (sb_adds(&p->io.out, line) == -1 || sb_adds(&p->io.out, "\r\n") == -1) {
		p->io.out.len = start;
		return -1;
	}
	q = &p->q[(p->qhead + p->qlen) % p->qcap];
	q->kind = kind;
	q->num = num;
	q->size = size > 0 ? size : 0;
	q->len = len;
	p->qlen++;
	p->nunsent++;
	if (kind == POP3_RETR || kind == POP3_TOP)
		p->qget++;
	p->qbytes += q->size;
	p->qcmd += len;
	return 0;
}

/* Queues VERB, with the message number for RETR, DELE and TOP (TOP N 0: the header). */
static int
queue_cmd(struct pop3 *p, enum pop3_kind kind, unsigned long num, long long size,
    const char *verb)
{
	char line[48];

	if (kind == POP3_RETR || kind == POP3_DELE || kind == POP3_TOP)
		snprintf(line, sizeof line, "%s %lu%s", verb, num, kind == POP3_TOP ? " 0" : "");
	else
		snprintf(line, sizeof line, "%s", verb);
	return queue_line(p, kind, num, size, line);
}

/* Queues RETR or TOP of message num; a TOP counts as TOP_GUESS bytes in the window. */
static int
queue_get(struct pop3 *p, enum pop3_kind kind, unsigned long num, long long size)
{
	return kind == POP3_TOP ? queue_cmd(p, kind, num, TOP_GUESS, "TOP") :
	    queue_cmd(p, kind, num, size, "RETR");
}

/* Reads the status line of the oldest outstanding reply: 1 +OK, 0 -ERR, -1 failure. */
static int
read_status(struct pop3 *p, struct pop3_pending *done, char **msg)
{
	const char *l;
	size_t n;

	if (p->qlen == 0) {
		io_fail(p, msg, "internal error: no reply expected");
		return -1;
	}
	/* The oldest command is still in our buffer: send what waits. */
	if (p->nunsent == p->qlen && flush_out(p, msg) == -1)
		return -1;
	if (read_line(p, STATUS_MAX, &l, &n, msg) == -1)
		return -1;
	*done = p->q[p->qhead];
	p->qhead = (p->qhead + 1) % p->qcap;
	p->qlen--;
	if (done->kind == POP3_RETR || done->kind == POP3_TOP)
		p->qget--;
	p->qbytes -= done->size;
	p->qcmd -= done->len;
	if (p->t.verbose)
		log_error("< %.*s", (int)(n > 500 ? 500 : n), l);
	sb_reset(&p->reply);
	sb_addn(&p->reply, l, n > 300 ? 300 : n);
	if (strncmp(l, "+OK", 3) == 0)
		return 1;
	if (strncmp(l, "-ERR", 4) == 0)
		return 0;
	io_fail(p, msg, "the server's reply is not POP3");
	return -1;
}

/*
 * A -ERR to a command.  RFC 2449 and 3206 response codes tell temporary
 * from permanent: [IN-USE], [LOGIN-DELAY] and [SYS/TEMP] say "later",
 * [AUTH] "the credentials", [SYS/PERM] and no code "no".
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

/* The message of this session numbered num, or NULL. */
static struct pop3_msg *
msg_of(struct pop3 *p, unsigned long num)
{
	size_t lo = 0, hi = p->nmsgs, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (p->msgs[mid].num == num)
			return &p->msgs[mid];
		if (p->msgs[mid].num < num)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Reads the oldest reply for nobody in particular (a DELE, UTF8, or a body ahead). */
static int
consume(struct pop3 *p, char **msg)
{
	struct pop3_pending d;
	struct pop3_msg *m;
	char *e = NULL;
	int r;

	if ((r = read_status(p, &d, msg)) == -1)
		return -1;
	switch (d.kind) {
	case POP3_DELE:
		if (r == 1) {
			p->ndele_ok++;
			if ((m = msg_of(p, d.num)) != NULL)
				m->dele_ok = 1;
		} else if (p->dele_err == NULL) {
			p->dele_class = refused(p, &e);
			p->dele_err = e;
		}
		return 0;
	case POP3_UTF8:
		p->utf8_on = r == 1;
		log_info("%s: UTF8 %s: %s", p->net->host, r == 1 ? "enabled" : "refused",
		    p->reply.s);
		return 0;
	case POP3_SIMPLE:
		return 0;
	default:
		break;
	}
	if (r == 1 && read_body(p, NULL, NULL, msg) != 0)
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
		q = &p->q[(p->qhead + i) % p->qcap];
		if (q->kind == kind && q->num == num)
			return 1;
	}
	return 0;
}

/*
 * Sends planned commands ahead (pipelining only), in flights: once half
 * the window is free, as many as fit.  A message larger than the window
 * goes alone.
 */
static void
top_up(struct pop3 *p)
{
	const struct pop3_pending *n;
	long long size;

	if (!p->pipelining || (p->qget > 0 && p->qbytes > WINDOW_BYTES / 2))
		return;
	while (p->plannext < p->nplan && !pf_stop) {
		n = &p->plan[p->plannext];
		size = n->kind == POP3_TOP ? TOP_GUESS : n->size;
		if (p->qget > 0 && (p->qbytes + size > WINDOW_BYTES || p->qcmd + 32 > CMD_WINDOW))
			break;
		if (queue_get(p, n->kind, n->num, n->size) == -1)
			break;
		p->plannext++;
	}
}

/*
 * Before one more command that is not part of a flight: reads the oldest
 * replies while the commands not answered yet would exceed CMD_WINDOW.
 */
static int
room(struct pop3 *p, char **msg)
{
	while (p->qlen > 0 && p->qcmd + 32 > CMD_WINDOW)
		if (consume(p, msg) == -1)
			return -1;
	return 0;
}

/* ---- connecting and logging in ---- */

/*
 * Watches what libcurl says and hears while it connects: the greeting,
 * and the CAPA reply (the last one counts: after STLS the server may say
 * more).
 */
static void
capa_hook(void *arg, int out, const char *line, size_t len)
{
	struct pop3 *p = arg;

	if (out) {
		if (len == 4 && strncasecmp(line, "CAPA", 4) == 0) {
			p->capa_state = 1;
			p->capa_ok = 0;
			sb_reset(&p->capa);
		}
		return;
	}
	if (!p->greeted) {
		p->greeted = 1;
		sb_addn(&p->greeting, line, len > 1000 ? 1000 : len);
		return;
	}
	switch (p->capa_state) {
	case 1:		/* the status line */
		p->capa_state = len >= 3 && strncmp(line, "+OK", 3) == 0 ? 2 : 0;
		p->capa_ok = p->capa_state == 2;
		break;
	case 2:
		if (len == 1 && line[0] == '.') {
			p->capa_state = 0;
			break;
		}
		if (p->capa.len < 8192) {
			sb_addn(&p->capa, line, len > 500 ? 500 : len);
			sb_addc(&p->capa, '\n');
		}
		break;
	default:
		break;
	}
}

/* The capability line that starts with the word name, or NULL (in p->capa). */
static const char *
capa_line(const struct pop3 *p, const char *name, size_t *len)
{
	const char *s = p->capa.s, *nl;
	size_t n = strlen(name), l;

	for (; s && *s; s = nl + 1) {
		if ((nl = strchr(s, '\n')) == NULL)
			break;
		l = (size_t)(nl - s);
		if (l >= n && strncasecmp(s, name, n) == 0 && (l == n || s[n] == ' ')) {
			*len = l;
			return s;
		}
	}
	return NULL;
}

int
pop3_has_capa(const struct pop3 *p, const char *name)
{
	size_t len;

	return capa_line(p, name, &len) != NULL;
}

/* sasl.h's line I/O: one line out, one reply in, nothing pipelined. */
static int
sasl_send(void *arg, const char *line, int secret)
{
	struct pop3 *p = arg;
	int r;

	if (p->dead)
		return -1;
	if (p->t.verbose)
		show_cmd(line, secret);
	if (netio_add(&p->io, line, strlen(line)) == -1 || netio_add(&p->io, "\r\n", 2) == -1)
		r = io_lost(p, &p->ioerr);
	else
		r = flush_out(p, &p->ioerr);
	if (secret)
		netio_wipe(&p->io);
	else
		sb_reset(&p->io.out);
	return r;
}

static int
sasl_recv(void *arg, int *code, const char **text)
{
	struct pop3 *p = arg;
	const char *s;
	size_t n;

	if (read_line(p, STATUS_MAX, &s, &n, &p->ioerr) == -1)
		return -1;
	if (p->t.verbose)
		log_error("< %.*s", (int)(n > 500 ? 500 : n), s);
	sb_reset(&p->reply);
	sb_addn(&p->reply, s, n > 300 ? 300 : n);
	if (strncmp(s, "+OK", 3) == 0) {
		*code = 1;
		s += 3;
	} else if (strncmp(s, "-ERR", 4) == 0) {
		*code = -1;
		s += 4;
	} else if (s[0] == '+') {
		*code = 2;
		s += 1;
	} else {
		io_fail(p, &p->ioerr, "the server's reply is not POP3");
		return -1;
	}
	if (*s == ' ')
		s++;
	*text = s;
	return 0;
}

enum px_err
pop3_connect(struct pop3 *p, const struct net_cfg *n, int flags, char **msg)
{
	char *err = NULL;
	enum px_err e;
	CURLcode rc;

	*msg = NULL;
	memset(p, 0, sizeof *p);
	p->net = n;
	p->io.sock = CURL_SOCKET_BAD;
	net_trace_init(&p->t, (flags & POP3_VERBOSE) != 0);
	sb_init(&p->reply);
	sb_init(&p->capa);
	sb_init(&p->greeting);
	if ((p->c = curl_easy_init()) == NULL) {
		*msg = strdup(net_curl_error());
		return PX_SOFTWARE;
	}
	/* The password is needed only for a login (and its command only then runs). */
	if (n->oauth2) {
		/* An OAuth 2.0 access token takes the password's place. */
		if ((e = oauth2_token(n, NULL, &p->password, msg)) != PX_OK)
			return e;
	} else if (n->user && strcmp(n->auth, "none") != 0) {
		p->password = conf_password(n, &err);
		if (err) {
			*msg = err;
			return PX_CONFIG;
		}
		if (p->password == NULL && strcmp(n->auth, "external") != 0) {
			*msg = strfmt("user \"%s\" is set but neither password nor password_command",
			    n->user);
			return PX_CONFIG;
		}
	}
	/*
	 * libcurl connects and secures the connection; without credentials it
	 * stops after the greeting, CAPA and STLS, and the login is ours.
	 */
	if (net_setup(p->c, NET_POP3, n, "", &p->t, &err) == -1) {
		*msg = err;
		return PX_CONFIG;
	}
	if (flags & POP3_CERTINFO)
		tls_info_enable(p->c);
	curl_easy_setopt(p->c, CURLOPT_CONNECT_ONLY, 1L);
	p->t.hook = capa_hook;
	p->t.hook_arg = p;
	if ((p->curl_rc = rc = curl_easy_perform(p->c)) != CURLE_OK)
		return net_classify(p->c, rc, n, &p->t, msg);
	p->t.hook = NULL;
	if (netio_open(&p->io, p->c, n->timeout) == -1) {
		*msg = strfmt("%s: %s after the greeting", n->host, p->io.why);
		return PX_SOFTWARE;
	}
	p->io.stop = stopped;
	p->io.stop_arg = p;
	p->open = 1;
	/* From here the dialogue is ours, and so is its -v trace. */
	curl_easy_setopt(p->c, CURLOPT_VERBOSE, 0L);
	p->pipelining = pop3_has_capa(p, "PIPELINING");
	p->utf8 = pop3_has_capa(p, "UTF8");
	log_info("%s: %s%s", n->host, p->pipelining ? "pipelining" : "no pipelining",
	    p->capa_ok ? "" : ", no CAPA");
	return PX_OK;
}

enum px_err
pop3_login(struct pop3 *p, char **msg)
{
	const struct net_cfg *n = p->net;
	struct sasl_offer o;
	struct sasl_creds cr;
	struct sasl_io io = { p, sasl_send, sasl_recv };
	const char *sl;
	char *mechs = NULL, *stamp;
	size_t len;
	enum px_err e;
	int encrypted;

	*msg = NULL;
	if (n->user == NULL || strcmp(n->auth, "none") == 0)
		goto logged_in;
	if ((sl = capa_line(p, "SASL", &len)) != NULL && len > 5)
		mechs = xstrndup(sl + 5, len - 5);
	memset(&o, 0, sizeof o);
	o.mechs = mechs;
	/* USER/PASS is RFC 1939's baseline: possible unless CAPA leaves it out. */
	o.user = !p->capa_ok || pop3_has_capa(p, "USER");
	o.apop = stamp = sasl_apop_stamp(p->greeting.s);
	sasl_creds_init(&cr, n, p->password);
	/* Loopback needs no TLS to keep a password private. */
	encrypted = n->tls != TLS_NONE || net_loopback(p->c);
	if (!encrypted && n->tls_required) {
		/* The account's setting, not the server's answer, stops it: 78. */
		*msg = strfmt("%s: will not send the login over an unencrypted connection to a "
		    "host that is not on loopback: use tls = \"tls\" or \"starttls\", or set "
		    "tls_required = false to allow it", n->host);
		free(mechs);
		free(stamp);
		util_wipe(&p->password);
		return PX_CONFIG;
	}
	p->mech = (enum sasl_mech)SASL_NMECH;	/* none tried */
	e = sasl_login(NET_POP3, n->auth, &o, &cr, encrypted, !n->tls_required, &io, &p->mech,
	    msg);
	if (e == PX_NOPERM && n->oauth2 && !p->dead && p->mech != (enum sasl_mech)SASL_NMECH) {
		/*
		 * A token that looked valid was refused: one new token, one
		 * retry (not when no mechanism fit: no token was sent).
		 */
		char *tok = NULL;

		free(*msg);
		*msg = NULL;
		if ((e = oauth2_token(n, p->password, &tok, msg)) == PX_OK) {
			util_wipe(&p->password);
			p->password = tok;
			cr.secret = tok;
			e = sasl_login(NET_POP3, n->auth, &o, &cr, encrypted, !n->tls_required, &io,
			    &p->mech, msg);
			if (e == PX_NOPERM)
				oauth2_refused_hint(n, msg);
		}
	}
	free(mechs);
	free(stamp);
	util_wipe(&p->password);
	if (e != PX_OK) {
		if (*msg == NULL) {
			*msg = p->ioerr ? p->ioerr : strfmt("%s: the connection failed while "
			    "logging in", n->host);
			p->ioerr = NULL;
		}
		return e;
	}
logged_in:
	p->logged_in = 1;
	/* RFC 6856: the server may then send UTF-8 headers as they are. */
	if (p->utf8 && queue_cmd(p, POP3_UTF8, 0, 0, "UTF8") == -1) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	return PX_OK;
}

enum px_err
pop3_open(struct pop3 *p, const struct net_cfg *n, int verbose, char **msg)
{
	enum px_err e;

	if ((e = pop3_connect(p, n, verbose ? POP3_VERBOSE : 0, msg)) != PX_OK)
		return e;
	return pop3_login(p, msg);
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
	/* UIDL: 1-70 printable characters (up to UIDL_MAX taken). */
	for (end = arg; *end > ' ' && *end < 0x7f; end++)
		;
	*end = '\0';
	key.num = num;
	if (*arg == '\0' || end - arg > UIDL_MAX ||
	    (m = bsearch(&key, l->v, l->n, sizeof *l->v, cmp_num)) == NULL)
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
	/* Without pipelining, the UTF8 reply comes before the next command goes out. */
	while (!p->pipelining && p->qlen > 0)
		if (consume(p, msg) == -1) {
			e = PX_TEMPFAIL;
			goto done;
		}
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
	while (p->qlen > 0 && p->q[p->qhead].kind != POP3_LIST)
		if (consume(p, msg) == -1) {
			e = PX_TEMPFAIL;
			goto done;
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
	*vp = p->msgs = l.v;
	*np = p->nmsgs = l.n;
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
	size_t before;
	int r;

	*msg = NULL;
	if (p->dead)
		return io_fail(p, msg, "the connection is gone");
	before = p->qlen;
	top_up(p);
	if (!queued(p, kind, num)) {
		/* Not planned (or the plan was passed): ask for it now. */
		if (room(p, msg) == -1)
			return PX_TEMPFAIL;
		if (queue_get(p, kind, num, 0) == -1) {
			*msg = strdup("out of memory");
			return PX_SOFTWARE;
		}
	}
	/* A new flight goes out now, with any DELE that waits; else DELEs wait for one. */
	if (p->qlen > before && flush_out(p, msg) == -1)
		return PX_TEMPFAIL;
	if (reach(p, kind, num, msg) == -1)
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
	if (queue_cmd(p, POP3_DELE, num, 0, "DELE") == -1) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	/* Without pipelining, one command at a time; with it, DELE goes with the next flight. */
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
	size_t i;
	int r;

	*msg = NULL;
	if (p->open && !p->dead) {
		/* Nothing more is sent ahead; QUIT goes in the same flight as the last DELEs. */
		p->nplan = p->plannext;
		e = PX_TEMPFAIL;
		if (room(p, msg) == -1)
			goto gone;
		if (!p->pipelining) {
			if (flush_out(p, msg) == -1)
				goto gone;
			while (p->qlen > 0)
				if (consume(p, msg) == -1)
					goto gone;
		}
		if (queue_cmd(p, POP3_SIMPLE, 0, 0, "QUIT") == -1)
			goto gone;
		p->quit_sent = 1;
		if (flush_out(p, msg) == -1)
			goto gone;
		/* Every reply still owed, each DELE's checked, then QUIT's. */
		while (p->qlen > 1)
			if (consume(p, msg) == -1)
				goto gone;
		if ((r = read_status(p, &d, msg)) == -1) {
			free(*msg);
			*msg = strfmt("%s: QUIT was not answered", p->net->host);
			goto gone;
		}
		p->quit_reply = r == 1 ? 1 : -1;
		e = r == 1 ? PX_OK : refused(p, msg);
		/* Only now are the messages whose DELE was accepted gone. */
		for (i = 0; r == 1 && i < p->nmsgs; i++)
			if (p->msgs[i].dele_ok)
				p->msgs[i].gone = 1;
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
		if (p->io.sock != CURL_SOCKET_BAD)
			shutdown(p->io.sock, SHUT_RDWR);
		curl_easy_cleanup(p->c);
		p->c = NULL;
	}
	if (p->password) {
		explicit_bzero(p->password, strlen(p->password));
		free(p->password);
		p->password = NULL;
	}
	net_trace_free(&p->t);
	netio_free(&p->io);
	p->io.sock = CURL_SOCKET_BAD;
	sb_free(&p->reply);
	sb_free(&p->capa);
	sb_free(&p->greeting);
	free(p->plan);
	free(p->q);
	free(p->dele_err);
	free(p->ioerr);
	p->plan = NULL;
	p->q = NULL;
	p->dele_err = p->ioerr = NULL;
	p->msgs = NULL;
	p->nmsgs = 0;
	return e;
}
