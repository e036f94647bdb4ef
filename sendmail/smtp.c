/*
 * smtp.c: sends queue entries through libcurl.  One connection serves many
 * messages (libcurl keeps it open between transfers on the same handle, so
 * there is one login), and the server's reply to each RCPT is remembered so
 * that a partly refused message reaches those who were accepted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "log.h"
#include "net.h"
#include "oauth2.h"
#include "sendmail.h"

struct smtp_conn {
	CURL	*c;
	struct smtp_account *acct;
	struct net_trace t;
	char	*password;
	char	*ehlo;
	int	 fresh;		/* the last transfer failed: do not reuse its connection */
	/* Per transfer: RCPT replies, in the order of the RCPT commands. */
	int	 want_rcpt;	/* an RCPT was sent and its reply not yet seen */
	size_t	 nrcpt;
	int	*codes;
	char	**texts;
	size_t	 cap;
	int	 fd;		/* the data being sent */
	enum px_err setup_err;
	char	*setup_msg;
	int	 attention;	/* the last failure wants the user, not a retry: show it */
	int	 broken;	/* the last failure came before any recipient: the server, not the message */
	int	 in_txn;	/* MAIL FROM was sent in the last transfer */
	char	*last_error;	/* for the entries deferred without a try */
};

static void
hook(void *arg, int out, const char *line, size_t n)
{
	struct smtp_conn *s = arg;
	int code;

	if (out) {
		if (n >= 8 && strncasecmp(line, "RCPT TO:", 8) == 0)
			s->want_rcpt = 1;
		if (n >= 10 && strncasecmp(line, "MAIL FROM:", 10) == 0)
			s->in_txn = 1;
		return;
	}
	if (!s->want_rcpt || n < 3 || (n > 3 && line[3] == '-'))
		return;
	code = atoi(line);
	if (s->nrcpt == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		int *c = realloc(s->codes, ncap * sizeof *c);
		char **t;

		if (c == NULL)
			return;
		s->codes = c;
		if ((t = realloc(s->texts, ncap * sizeof *t)) == NULL)
			return;
		s->texts = t;
		s->cap = ncap;
	}
	s->codes[s->nrcpt] = code;
	s->texts[s->nrcpt] = xstrndup(line, n > 300 ? 300 : n);
	s->nrcpt++;
	s->want_rcpt = 0;
}

static void
clear_rcpts(struct smtp_conn *s)
{
	size_t i;

	for (i = 0; i < s->nrcpt; i++)
		free(s->texts[i]);
	s->nrcpt = 0;
	s->want_rcpt = 0;
}

struct smtp_conn *
smtp_open(struct smtp_account *a, struct postie_cfg *cfg, int verbose)
{
	struct smtp_conn *s;
	char *err = NULL, *path;

	(void)cfg;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->acct = a;
	s->fd = -1;
	net_trace_init(&s->t, verbose);
	s->t.hook = hook;
	s->t.hook_arg = s;
	s->ehlo = util_fqdn();
	if ((s->c = curl_easy_init()) == NULL) {
		s->setup_err = PX_SOFTWARE;
		s->setup_msg = strdup(net_curl_error());
		return s;
	}
	if (a->net.oauth2) {
		enum px_err e = oauth2_token(&a->net, NULL, &s->password, &err);

		if (e != PX_OK) {
			/*
			 * No token (revoked grant, endpoint down): as for a
			 * password_command that fails, the message waits and
			 * the user is told what to do.
			 */
			s->setup_err = e == PX_SOFTWARE ? e : PX_TEMPFAIL;
			s->attention = 1;
			s->setup_msg = err ? err : strdup("no OAuth 2.0 access token");
			return s;
		}
	} else if (strcmp(a->net.auth, "none") != 0 && a->net.user) {
		s->password = conf_password(&a->net, &err);
		if (s->password == NULL && err) {
			/* A locked keyring is passing; keep the message queued. */
			s->setup_err = PX_TEMPFAIL;
			s->attention = 1;
			s->setup_msg = strfmt("%s", err);
			free(err);
			return s;
		}
	}
	path = strfmt("/%s", s->ehlo ? s->ehlo : "localhost");
	if (path == NULL || net_setup(s->c, NET_SMTP, &a->net, s->password, path, &s->t,
	    &err) == -1) {
		s->setup_err = PX_CONFIG;
		s->setup_msg = strdup(err ? err : "out of memory");
	}
	free(err);
	free(path);
	return s;
}

void
smtp_close(struct smtp_conn *s)
{
	if (s == NULL)
		return;
	if (s->c)
		curl_easy_cleanup(s->c);	/* sends QUIT */
	clear_rcpts(s);
	free(s->codes);
	free(s->texts);
	net_trace_free(&s->t);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	free(s->ehlo);
	free(s->setup_msg);
	free(s->last_error);
	free(s);
}

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct smtp_conn *s = arg;
	ssize_t k;

	do
		k = read(s->fd, buf, size * nitems);
	while (k == -1 && errno == EINTR);
	return k < 0 ? CURL_READFUNC_ABORT : (size_t)k;
}

/* An address in angle brackets, as libcurl wants it. */
static char *
angle(const char *a)
{
	return strfmt("<%s>", a);
}

enum px_err
smtp_send(struct smtp_conn *s, struct qentry *q, char **msg)
{
	struct curl_slist *rcpts = NULL, *last = NULL, *tmp;
	struct strlist keep;
	struct sbuf refused;
	char *from = NULL, *r;
	CURLcode rc;
	enum px_err err;
	size_t i, nok = 0, nperm = 0, ntemp = 0;
	int oauth_retried;

	*msg = NULL;
	s->in_txn = 0;
	sl_free(&q->refused);
	sl_free(&q->refused_replies);
	if (s->setup_err != PX_OK) {
		*msg = strdup(s->setup_msg);
		s->broken = 1;
		return s->setup_err;
	}
	sl_init(&keep);
	sb_init(&refused);
	for (i = 0; i < q->env.rcpts.n; i++) {
		/* Appended after the last node: curl_slist_append walks from the node it is given. */
		if ((r = angle(q->env.rcpts.v[i])) == NULL ||
		    (tmp = curl_slist_append(last, r)) == NULL) {
			free(r);
			curl_slist_free_all(rcpts);
			*msg = strdup("out of memory");
			return PX_SOFTWARE;
		}
		free(r);
		if (rcpts == NULL)
			rcpts = tmp;
		last = last ? last->next : tmp;
	}
	from = angle(q->env.sender);
	if (lseek(q->fd, 0, SEEK_SET) == -1) {
		*msg = strfmt("cannot read queue file %s: %s", q->id, strerror(errno));
		curl_slist_free_all(rcpts);
		free(from);
		return PX_IOERR;
	}
	s->fd = q->fd;
	oauth_retried = 0;
again:
	clear_rcpts(s);
	sb_reset(&s->t.reply);
	s->t.reply_code = 0;
	s->t.quitting = 0;
	s->t.errbuf[0] = '\0';
	curl_easy_setopt(s->c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(s->c, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(s->c, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
	curl_easy_setopt(s->c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->c, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(s->c, CURLOPT_READDATA, s);
	curl_easy_setopt(s->c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->env.size);
	curl_easy_setopt(s->c, CURLOPT_FRESH_CONNECT, s->fresh ? 1L : 0L);
	rc = curl_easy_perform(s->c);
	if (rc == CURLE_LOGIN_DENIED && s->acct->net.oauth2 && !oauth_retried) {
		/* A token that looked valid was refused: one new token, one retry. */
		enum px_err e;
		char *tok = NULL, *why = NULL;

		oauth_retried = 1;
		e = oauth2_token(&s->acct->net, s->password, &tok, &why);
		if (e != PX_OK) {
			s->fd = -1;
			s->fresh = 1;
			s->broken = 1;
			s->attention = 1;
			*msg = why;
			err = e == PX_SOFTWARE ? e : PX_TEMPFAIL;
			goto out;
		}
		util_wipe(&s->password);
		s->password = tok;
		curl_easy_setopt(s->c, CURLOPT_XOAUTH2_BEARER, s->password);
		curl_easy_setopt(s->c, CURLOPT_FRESH_CONNECT, 1L);
		if (lseek(q->fd, 0, SEEK_SET) != -1)
			goto again;
	}
	s->fd = -1;
	s->fresh = rc != CURLE_OK;
	s->broken = rc != CURLE_OK && s->nrcpt == 0;

	/* What each recipient got. */
	for (i = 0; i < q->env.rcpts.n; i++) {
		int code = i < s->nrcpt ? s->codes[i] : 0;

		if (code >= 200 && code < 300)
			nok++;
		else if (code >= 500) {
			nperm++;
			sb_printf(&refused, "%s%s: %s", refused.len ? "; " : "",
			    q->env.rcpts.v[i], s->texts[i]);
			sl_add(&q->refused, q->env.rcpts.v[i]);
			sl_add(&q->refused_replies, s->texts[i]);
		} else {
			if (code >= 400) {
				ntemp++;
				sb_printf(&refused, "%s%s: %s", refused.len ? "; " : "",
				    q->env.rcpts.v[i], s->texts[i]);
			}
			sl_add(&keep, q->env.rcpts.v[i]);
		}
	}
	if (rc == CURLE_OK) {
		/*
		 * Sent to those accepted.  The entry keeps the temporarily
		 * refused; the permanently refused are reported by the caller.
		 */
		sl_free(&q->env.rcpts);
		q->env.rcpts = keep;
		sl_init(&keep);
		if (nperm || ntemp)
			*msg = strfmt("%s: %s", s->acct->net.host, refused.s);
		err = PX_OK;
		goto out;
	}
	if (s->nrcpt == q->env.rcpts.n && nok == 0 && (nperm || ntemp)) {
		/* Every recipient refused. */
		*msg = strfmt("%s: %s", s->acct->net.host, refused.s);
		sl_free(&q->env.rcpts);
		q->env.rcpts = keep;
		sl_init(&keep);
		err = ntemp ? PX_TEMPFAIL : PX_NOUSER;
		goto out;
	}
	/* The transaction failed: all but those refused for good stay. */
	sl_free(&keep);
	for (i = 0; i < q->env.rcpts.n; i++)
		if (!sl_has(&q->refused, q->env.rcpts.v[i]))
			sl_add(&keep, q->env.rcpts.v[i]);
	sl_free(&q->env.rcpts);
	q->env.rcpts = keep;
	sl_init(&keep);
	err = net_classify(s->c, rc, &s->acct->net, &s->t, msg);
	s->attention = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
	    rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH || rc == CURLE_SSL_ISSUER_ERROR ||
	    rc == CURLE_USE_SSL_FAILED || rc == CURLE_LOGIN_DENIED;
out:
	if (*msg == NULL && err != PX_OK)
		*msg = strdup("failed");
	sl_free(&keep);
	sb_free(&refused);
	curl_easy_setopt(s->c, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(rcpts);
	free(from);
	return err;
}

/* The reply of the last refused step, for logs. */
const char *
smtp_last_reply(struct smtp_conn *s)
{
	return s->t.reply.len ? s->t.reply.s : "";
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
	curl_socket_t fd = CURL_SOCKET_BAD;

	if (s->c == NULL || curl_easy_getinfo(s->c, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK)
		return -1;
	return fd == CURL_SOCKET_BAD ? -1 : (int)fd;
}
