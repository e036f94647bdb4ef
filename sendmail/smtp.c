/*
 * smtp.c: the SMTP connection.  libcurl makes it (TCP, TLS or STARTTLS,
 * certificate checks and pins, EHLO, the login) with CURLOPT_CONNECT_ONLY
 * and then leaves it to us: the mail transaction (smtptx.c) is spoken over
 * curl_easy_send()/curl_easy_recv() on libcurl's connection and TLS
 * session, so that commands can be pipelined and messages chunked, which
 * libcurl's one-command-per-turn SMTP cannot do.
 *
 * One connection serves many messages (a queue run, the kept connection of
 * conncache.c); it is made on first use and made again when it broke or
 * the server closed it while idle.  QUIT is sent and the connection closed
 * without waiting for the answer: it tells nothing we need.
 *
 * The login is ours too (common/sasl.c over the same line I/O): libcurl is
 * given no credentials, so it stops after EHLO (and STARTTLS), and we pick
 * the mechanism from what the last EHLO offered: PLAIN or LOGIN with the
 * initial response over TLS, challenge-response only when asked for or in
 * clear.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "oauth2.h"
#include "sasl.h"
#include "smtpconn.h"
#include "tlsinfo.h"

#define REPLY_KEEP	1000	/* bytes of a reply kept for messages */

/* One EHLO keyword line ("SIZE 1000", "AUTH PLAIN LOGIN") into c. */
static void
caps_line(struct smtp_caps *c, const char *p, size_t n)
{
	size_t w, len;

	for (w = 0; w < n && p[w] != ' ' && p[w] != '='; w++)
		;
	if (w == 10 && strncasecmp(p, "PIPELINING", w) == 0)
		c->pipelining = 1;
	else if (w == 8 && strncasecmp(p, "CHUNKING", w) == 0)
		c->chunking = 1;
	else if (w == 8 && strncasecmp(p, "8BITMIME", w) == 0)
		c->eightbit = 1;
	else if (w == 8 && strncasecmp(p, "SMTPUTF8", w) == 0)
		c->smtputf8 = 1;
	else if (w == 8 && strncasecmp(p, "STARTTLS", w) == 0)
		c->starttls = 1;
	else if (w == 4 && strncasecmp(p, "SIZE", w) == 0) {
		c->size = 1;
		c->size_max = w < n ? strtoll(p + w + 1, NULL, 10) : 0;
		if (c->size_max < 0)
			c->size_max = 0;
	} else if (w == 4 && strncasecmp(p, "AUTH", w) == 0 && w < n) {
		/* "AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN": the words after. */
		p += w + 1;
		n -= w + 1;
		len = strlen(c->auth);
		if (len + n + 2 < sizeof c->auth)
			snprintf(c->auth + len, sizeof c->auth - len, "%s%.*s", len ? " " : "",
			    (int)n, p);
	}
}

/*
 * Watches libcurl's connect phase: the reply to the last EHLO (after
 * STARTTLS the server may offer more) says what the server can do.
 */
static void
caps_hook(void *arg, int out, const char *line, size_t n)
{
	struct smtp_conn *s = arg;
	int final;

	if (out) {
		snprintf(s->last_cmd, sizeof s->last_cmd, "%.*s", (int)(n < 8 ? n : 8), line);
		if (n >= 4 && (strncasecmp(line, "EHLO", 4) == 0 ||
		    strncasecmp(line, "HELO", 4) == 0)) {
			memset(&s->next_caps, 0, sizeof s->next_caps);
			s->ehlo_line = 0;
		} else
			s->ehlo_line = -1;
		return;
	}
	final = n == 3 || (n > 3 && line[3] != '-');
	/* Which step a refusal answers: the fix names what mends that step. */
	if (final && n >= 3 && (line[0] == '4' || line[0] == '5'))
		s->failed_at = s->ehlo_line == -2 ? 'g' : s->ehlo_line >= 0 ? 'e' :
		    strncasecmp(s->last_cmd, "STARTTLS", 8) == 0 ? 't' : 0;
	if (s->ehlo_line == -2 && n >= 3) {
		/* Before anything was sent: the greeting (its last line). */
		snprintf(s->greeting, sizeof s->greeting, "%.*s", (int)n, line);
		return;
	}
	if (s->ehlo_line < 0 || n < 3)
		return;
	if (s->ehlo_line++ == 0)
		sb_reset(&s->next_text);
	else if (n > 4 && line[0] == '2') {
		caps_line(&s->next_caps, line + 4, n - 4);
		sb_printf(&s->next_text, "%.*s\n", (int)(n - 4 > 500 ? 500 : n - 4), line + 4);
	}
	if (final) {
		if (line[0] == '2') {
			s->caps = s->next_caps;
			s->starttls_offered |= s->caps.starttls;
			sb_reset(&s->ehlo_text);
			sb_addn(&s->ehlo_text, s->next_text.s ? s->next_text.s : "", s->next_text.len);
		}
		s->ehlo_line = -1;
	}
}

/*
 * The address literal of the local end of a connection to host:port
 * ("[192.0.2.1]", "[IPv6:2001:db8::1]"), found before connecting: a UDP
 * socket connect()ed to the server's address sends nothing, and its
 * local address is the one the connection will have.
 */
static char *
local_literal(const char *host, int port)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t len;
	char sport[16], addr[INET6_ADDRSTRLEN], *r = NULL;
	int fd;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(sport, sizeof sport, "%d", port);
	if (getaddrinfo(host, sport, &hints, &res) != 0)
		return strdup("[127.0.0.1]");
	for (ai = res; ai && r == NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
			continue;
		len = sizeof ss;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
			if (ss.ss_family == AF_INET && inet_ntop(AF_INET,
			    &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof addr))
				r = strfmt("[%s]", addr);
			else if (ss.ss_family == AF_INET6 && inet_ntop(AF_INET6,
			    &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof addr))
				r = strfmt("[IPv6:%s]", addr);
		}
		close(fd);
	}
	freeaddrinfo(res);
	return r ? r : strdup("[127.0.0.1]");
}

/*
 * The EHLO name: helo, else the host's fully qualified name, else
 * HOST.DOMAIN, else the address literal of our end (RFC 5321 4.1.4).
 * Never a bare dotless name: servers refuse it (Postfix's
 * reject_non_fqdn_helo_hostname).
 */
static char *
helo_name(const struct smtp_account *a)
{
	char *fq, *r;

	if (a->helo)
		return strdup(a->helo);
	if ((fq = util_fqdn()) != NULL && strchr(fq, '.'))
		return fq;
	if (fq && *fq && a->domain && strchr(a->domain, '.')) {
		r = strfmt("%s.%s", fq, a->domain);
		free(fq);
		return r;
	}
	free(fq);
	return local_literal(a->net.host, a->net.port);
}

/* The URL path that makes libcurl send name in EHLO: "/" and name, %-encoded. */
static char *
helo_path(const char *name)
{
	struct sbuf b;
	const char *p;

	sb_init(&b);
	sb_addc(&b, '/');
	for (p = name; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-')
			sb_addc(&b, *p);
		else
			sb_printf(&b, "%%%02X", (unsigned char)*p);
	}
	return sb_steal(&b);
}

struct smtp_conn *
smtp_open(struct smtp_account *a, struct postie_cfg *cfg, int verbose)
{
	struct smtp_conn *s;
	char *err = NULL;

	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->acct = a;
	s->cfg = cfg;
	s->verbose = verbose;
	s->io.sock = CURL_SOCKET_BAD;
	s->ehlo_line = -1;
	sb_init(&s->text);
	sb_init(&s->ehlo_text);
	sb_init(&s->next_text);
	net_trace_init(&s->t, verbose);
	s->t.hook = caps_hook;
	s->t.hook_arg = s;
	s->ehlo = helo_name(a);
	if (s->ehlo == NULL) {
		s->setup_err = PX_SOFTWARE;
		s->setup_msg = strdup("out of memory");
		return s;
	}
	if (a->net.oauth2) {
		enum px_err e = oauth2_token(&a->net, NULL, &s->password, &err);

		if (e != PX_OK) {
			/*
			 * No token: no grant or a revoked one (PX_NOPERM, the
			 * message says to run --authorize), the endpoint down
			 * (PX_TEMPFAIL), a client it refuses (PX_CONFIG).
			 * outcome.c decides; the message waits in every case.
			 */
			s->setup_err = e;
			s->attention = e == PX_NOPERM || e == PX_CONFIG;
			s->setup_msg = err ? err : strdup("no OAuth 2.0 access token");
			return s;
		}
	} else if (strcmp(a->net.auth, "none") != 0 && a->net.user) {
		s->password = conf_password(&a->net, &err);
		if (s->password == NULL && err) {
			/* A locked keyring is passing; keep the message queued. */
			s->setup_err = PX_TEMPFAIL;
			s->attention = 1;
			s->failed_at = 'k';
			s->setup_msg = strfmt("%s", err);
			free(err);
			return s;
		}
	}
	return s;
}

/* sasl.h's line I/O over our connection. */
static int
login_send(void *arg, const char *line, int secret)
{
	struct smtp_conn *s = arg;
	const char *sp;
	int verbose = s->verbose, r;

	s->verbose = verbose && !secret;
	if (secret && verbose) {
		/* "AUTH PLAIN <redacted>": the mechanism shows, the rest does not. */
		sp = strncasecmp(line, "AUTH ", 5) == 0 ? strchr(line + 5, ' ') : NULL;
		if (sp)
			log_error("> %.*s <redacted>", (int)(sp - line), line);
		else
			log_error("> <redacted>");
	}
	if (secret) {
		/*
		 * Straight into the output buffer, no copy of our own, and the
		 * buffer wiped once sent: the line carries the credential.
		 */
		r = netio_add(&s->io, line, strlen(line)) == -1 ||
		    netio_add(&s->io, "\r\n", 2) == -1 || netio_flush(&s->io) == -1 ? -1 : 0;
		netio_wipe(&s->io);
	} else
		r = smtp_cmd(s, "%s", line) == -1 || netio_flush(&s->io) == -1 ? -1 : 0;
	s->verbose = verbose;
	return r;
}

static int
login_recv(void *arg, int *code, const char **text)
{
	struct smtp_conn *s = arg;

	if (smtp_reply(s) == -1)
		return -1;
	*code = s->code;
	*text = s->text.len > 4 ? s->text.s + 4 : "";
	return 0;
}

enum px_err
smtp_login(struct smtp_conn *s, char **msg)
{
	const struct net_cfg *n = &s->acct->net;
	struct sasl_offer offer;
	struct sasl_creds cr;
	struct sasl_io io = { s, login_send, login_recv };
	enum sasl_mech tried = (enum sasl_mech)SASL_NMECH;	/* none tried */
	enum px_err e;
	const char *auth;

	if (strcmp(n->auth, "none") == 0 || n->user == NULL)
		return PX_OK;
	memset(&offer, 0, sizeof offer);
	offer.mechs = s->caps.auth[0] ? s->caps.auth : NULL;
	sasl_creds_init(&cr, n, s->password);
	auth = n->auth;
	if (cr.oauth && strcmp(auth, "auto") == 0 && offer.mechs) {
		/*
		 * One mechanism for a token: a token one refuses, the other
		 * refuses too; a refusal brings a new token (below) instead.
		 */
		if (strcasestr(offer.mechs, "XOAUTH2"))
			auth = "xoauth2";
		else if (strcasestr(offer.mechs, "OAUTHBEARER"))
			auth = "oauthbearer";
	}
	e = sasl_login(NET_SMTP, auth, &offer, &cr, n->tls != TLS_NONE || net_loopback(s->c),
	    !n->tls_required, &io, &tried, msg);
	if (e == PX_NOPERM && n->oauth2 && !s->io.dead && tried != (enum sasl_mech)SASL_NMECH) {
		/*
		 * A token that looked valid was refused: one new token, one
		 * retry (not when no mechanism fit: no token was sent).
		 */
		char *tok = NULL, *why = NULL;
		enum px_err te = oauth2_token(n, s->password, &tok, &why);

		if (te != PX_OK) {
			free(*msg);
			*msg = why;
			s->attention = te == PX_NOPERM || te == PX_CONFIG;
			return te;
		}
		util_wipe(&s->password);
		s->password = tok;
		cr.secret = s->password;
		free(*msg);
		*msg = NULL;
		e = sasl_login(NET_SMTP, auth, &offer, &cr, n->tls != TLS_NONE ||
		    net_loopback(s->c), !n->tls_required, &io, &tried, msg);
		if (e == PX_NOPERM)
			oauth2_refused_hint(n, msg);
	}
	if (tried != (enum sasl_mech)SASL_NMECH)
		s->mech = tried;
	/* No mechanism tried: nothing fits (auth, tls); else the login was refused. */
	if (e != PX_OK)
		s->failed_at = tried == (enum sasl_mech)SASL_NMECH ? 'p' : 'a';
	if (e == PX_OK) {
		log_info("%s: logged in as %s (AUTH %s)", n->host, n->user, sasl_name(tried));
		return PX_OK;
	}
	if (*msg == NULL)
		*msg = smtp_io_error(s);
	/* A refused login or a setting to mend wants the user, not a retry. */
	s->attention = e == PX_NOPERM || e == PX_CONFIG;
	return e;
}

enum px_err
smtp_dial(struct smtp_conn *s, const struct net_cfg *n, char **msg)
{
	char *err = NULL, *path;
	CURLcode rc;
	enum px_err e;

	*msg = NULL;
	if (s->up)
		return PX_OK;
	/* No credentials for libcurl (net_setup): it stops after EHLO, and the login is ours. */
	smtp_drop(s);
	if ((s->c = curl_easy_init()) == NULL) {
		*msg = strdup(net_curl_error());
		return PX_SOFTWARE;
	}
	sb_reset(&s->t.reply);
	sb_reset(&s->t.cur);
	s->t.reply_code = 0;
	s->t.in_auth = s->t.quitting = 0;
	memset(&s->caps, 0, sizeof s->caps);
	s->ehlo_line = -2;	/* the greeting comes first */
	s->failed_at = 0;
	s->last_cmd[0] = '\0';
	s->starttls_offered = 0;
	s->greeting[0] = '\0';
	sb_reset(&s->ehlo_text);
	/* libcurl takes the EHLO name from the path. */
	path = helo_path(s->ehlo);
	if (path == NULL || net_setup(s->c, NET_SMTP, n, path, &s->t, &err) == -1) {
		*msg = err ? err : strdup("out of memory");
		free(path);
		return PX_CONFIG;
	}
	free(path);
	curl_easy_setopt(s->c, CURLOPT_CONNECT_ONLY, 1L);
	if (s->certinfo)
		tls_info_enable(s->c);
	s->curl_rc = rc = curl_easy_perform(s->c);
	if (rc != CURLE_OK) {
		e = net_classify(s->c, rc, n, &s->t, msg);
		s->attention = rc == CURLE_PEER_FAILED_VERIFICATION ||
		    rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
		    rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_USE_SSL_FAILED;
		if (!s->certinfo) {
			curl_easy_cleanup(s->c);
			s->c = NULL;
		}
		return e;
	}
	if (netio_open(&s->io, s->c, n->timeout) == -1) {
		*msg = strfmt("%s: %s after connecting", n->host, s->io.why);
		smtp_drop(s);
		return PX_SOFTWARE;
	}
	/* From here the dialogue is ours, and so is its -v trace. */
	curl_easy_setopt(s->c, CURLOPT_VERBOSE, 0L);
	s->up = 1;
	s->used = 0;
	s->need_rset = 0;
	return PX_OK;
}

enum px_err
smtp_connect(struct smtp_conn *s, char **msg)
{
	struct net_cfg *n = &s->acct->net;
	enum px_err e;

	*msg = NULL;
	if (s->up)
		return PX_OK;
	if ((e = smtp_dial(s, n, msg)) != PX_OK)
		return e;
	if ((e = smtp_login(s, msg)) != PX_OK) {
		/* Polite, and not waited for. */
		if (!s->io.dead && smtp_cmd(s, "QUIT") == 0)
			(void)netio_flush(&s->io);
		smtp_drop(s);
		return e;
	}
	log_info("%s: connected (%s%s%s)", n->host, s->caps.pipelining ? "pipelining" :
	    "no pipelining", s->caps.chunking ? ", chunking" : "",
	    s->caps.eightbit ? ", 8bitmime" : "");
	return PX_OK;
}

void
smtp_drop(struct smtp_conn *s)
{
	if (s->c) {
		/*
		 * Nothing more may go over the connection: libcurl would send a
		 * QUIT of its own and wait for an answer.
		 */
		if (s->up && s->io.sock != CURL_SOCKET_BAD)
			shutdown(s->io.sock, SHUT_RDWR);
		curl_easy_cleanup(s->c);
		s->c = NULL;
	}
	if (s->up)
		netio_free(&s->io);
	s->io.sock = CURL_SOCKET_BAD;
	s->up = 0;
	s->need_rset = 0;
	free(s->ahead.id);
	s->ahead.id = NULL;
}

void
smtp_close(struct smtp_conn *s)
{
	if (s == NULL)
		return;
	/*
	 * QUIT, and gone: its reply would only cost a round trip.  Not while
	 * a DATA sent ahead waits for its message (the QUIT would be taken as
	 * message text; the close makes the server drop that transaction).
	 */
	if (s->up && !s->io.dead && s->ahead.id == NULL && smtp_cmd(s, "QUIT") == 0)
		(void)netio_flush(&s->io);
	smtp_drop(s);
	net_trace_free(&s->t);
	sb_free(&s->text);
	sb_free(&s->ehlo_text);
	sb_free(&s->next_text);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	free(s->ehlo);
	free(s->setup_msg);
	free(s->last_error);
	free(s->last_reply);
	free(s);
}

int
smtp_cmd(struct smtp_conn *s, const char *fmt, ...)
{
	va_list ap;
	char *line;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0 || netio_add(&s->io, line, (size_t)r) == -1 || netio_add(&s->io, "\r\n", 2) == -1) {
		if (r >= 0)
			free(line);
		s->io.dead = 1;
		snprintf(s->io.why, sizeof s->io.why, "out of memory");
		return -1;
	}
	if (s->verbose)
		log_error("> %s", line);
	free(line);
	return 0;
}

int
smtp_reply(struct smtp_conn *s)
{
	const char *l;
	size_t n;
	int code = 0, first = 1;

	sb_reset(&s->text);
	for (;;) {
		if (netio_getline(&s->io, SMTP_LINE_LIMIT, &l, &n) == -1)
			return -1;
		if (s->verbose)
			log_error("< %.*s", (int)(n > 2000 ? 2000 : n), l);
		if (n < 3 || !isdigit((unsigned char)l[0]) || !isdigit((unsigned char)l[1]) ||
		    !isdigit((unsigned char)l[2]) || (n > 3 && l[3] != ' ' && l[3] != '-')) {
			s->io.dead = 1;
			snprintf(s->io.why, sizeof s->io.why, "the server's reply is not SMTP: %.80s",
			    l);
			return -1;
		}
		if (first) {
			code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
			sb_addn(&s->text, l, 3);
		}
		if (n > 4 && s->text.len < REPLY_KEEP) {
			sb_adds(&s->text, first ? " " : " / ");
			sb_addn(&s->text, l + 4, n - 4 > REPLY_KEEP ? REPLY_KEEP : n - 4);
		}
		first = 0;
		if (n == 3 || l[3] == ' ')
			break;
	}
	s->code = code;
	if (code == 421) {
		/* The server is closing the connection: nothing more goes over it. */
		s->io.dead = 1;
		snprintf(s->io.why, sizeof s->io.why, "%s", s->text.s);
	}
	return 0;
}

char *
smtp_io_error(struct smtp_conn *s)
{
	const struct net_cfg *n = &s->acct->net;

	return strfmt("%s port %d: %s", n->host, n->port,
	    s->io.why[0] ? s->io.why : "the connection failed");
}

void
smtp_ahead(struct smtp_conn *s, const struct qentry *q)
{
	s->ahead.q = q;
}

/* The reply to the last transaction, for logs. */
const char *
smtp_last_reply(struct smtp_conn *s)
{
	return s->last_reply ? s->last_reply : "";
}

const char *
smtp_host(struct smtp_conn *s)
{
	return s->acct->net.host;
}

const char *
smtp_tls(struct smtp_conn *s)
{
	return conf_tls_name(s->acct->net.tls);
}

int
smtp_attention(struct smtp_conn *s)
{
	return s->attention;
}

int
smtp_failed_at(struct smtp_conn *s)
{
	return s->failed_at;
}

int
smtp_broken(struct smtp_conn *s)
{
	return s->broken;
}

int
smtp_in_transaction(struct smtp_conn *s)
{
	return s->in_txn;
}

void
smtp_set_last_error(struct smtp_conn *s, const char *msg)
{
	free(s->last_error);
	s->last_error = xstrdup(msg);
}

const char *
smtp_last_error(struct smtp_conn *s)
{
	return s->last_error ? s->last_error : "the server failed earlier in this queue run";
}

int
smtp_socket(struct smtp_conn *s)
{
	return s->up ? (int)s->io.sock : -1;
}
