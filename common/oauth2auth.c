/*
 * oauth2auth.c: the first grant of an OAuth 2.0 account, interactively:
 * the authorization code flow with PKCE and a loopback redirect (RFC 6749
 * 4.1, RFC 7636, RFC 8252 7.3), or the device authorization grant
 * (RFC 8628).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "log.h"
#include "mime.h"
#include "oauth2.h"
#include "oauth2http.h"
#include "oauth2store.h"

/* How long the user has to finish in the browser. */
#define AUTH_WAIT	600
/* A request on the loopback listener, and a pasted line, are at most this long. */
#define LINE_MAX_	8192

/* base64url without padding (RFC 7636 appendix A), malloc'd. */
static char *
b64url(const unsigned char *in, size_t n)
{
	char *s = mime_b64_encode(in, n), *p, *q;

	if (s == NULL)
		return NULL;
	for (p = q = s; *p; p++) {
		if (*p == '=')
			continue;
		*q++ = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	}
	*q = '\0';
	return s;
}

/* n random bytes as base64url; NULL when the kernel gives none. */
static char *
random_b64url(size_t n)
{
	unsigned char buf[64];
	size_t got = 0;
	ssize_t r;
	char *s;

	if (n > sizeof buf)
		return NULL;
	while (got < n) {
		r = getrandom(buf + got, n - got, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		got += (size_t)r;
	}
	s = b64url(buf, n);
	explicit_bzero(buf, sizeof buf);
	return s;
}

/* ---- what comes back from the browser ---- */

struct redirect {
	char	*code;
	char	*state;
	char	*error;
	char	*error_description;
};

static void
redirect_free(struct redirect *r)
{
	util_wipe(&r->code);
	free(r->state);
	free(r->error);
	free(r->error_description);
	memset(r, 0, sizeof *r);
}

/* Percent-decodes s[0..n) ('+' is a space); NULL for a NUL or control byte. */
static char *
unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;
	int c;

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '+')
			c = ' ';
		else if (c == '%' && i + 2 < n && util_hexval(s[i + 1]) >= 0 &&
		    util_hexval(s[i + 2]) >= 0) {
			c = util_hexval(s[i + 1]) * 16 + util_hexval(s[i + 2]);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f) {
			explicit_bzero(out, n + 1);
			free(out);
			return NULL;
		}
		*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

/* Parses "a=b&c=d" (up to a '#') into r; the keys not wanted are skipped. */
static void
parse_query(const char *q, struct redirect *r)
{
	const char *end = q + strcspn(q, "# \r\n"), *p = q, *amp, *eq;
	char **slot;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		slot = NULL;
		if (eq) {
			size_t k = (size_t)(eq - p);

			if (k == 4 && strncmp(p, "code", 4) == 0)
				slot = &r->code;
			else if (k == 5 && strncmp(p, "state", 5) == 0)
				slot = &r->state;
			else if (k == 5 && strncmp(p, "error", 5) == 0)
				slot = &r->error;
			else if (k == 17 && strncmp(p, "error_description", 17) == 0)
				slot = &r->error_description;
		}
		if (slot) {
			util_wipe(slot);
			*slot = unescape(eq + 1, (size_t)(amp - eq - 1));
		}
		p = amp + 1;
	}
}

/*
 * A line the user pasted: the address the browser ended on, or its query
 * ("code=...&state=...").  0 with r filled, -1 when it holds nothing of use.
 */
static int
parse_pasted(char *line, struct redirect *r)
{
	char *s = trim(line), *q;

	if (strstr(s, "code=") == NULL && strstr(s, "error=") == NULL)
		return -1;
	q = strchr(s, '?');
	parse_query(q ? q + 1 : s, r);
	return r->code || r->error ? 0 : -1;
}

static void
reply_page(int fd, int status, const char *text)
{
	char body[600], head[200];
	int nb, nh;

	nb = snprintf(body, sizeof body, "<!doctype html>\n<title>Postie</title>\n<p>%.500s</p>\n",
	    text);
	nh = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
	    "charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", status,
	    status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request", nb);
	if (nb > 0 && (size_t)nb < sizeof body && nh > 0 && (size_t)nh < sizeof head &&
	    write_all(fd, head, (size_t)nh) == 0)
		(void)write_all(fd, body, (size_t)nb);
}

/* The first complete line in b, taken out of it (malloc'd), or NULL. */
static char *
take_line(struct sbuf *b)
{
	char *nl, *one;
	size_t n;

	if (b->s == NULL || (nl = memchr(b->s, '\n', b->len)) == NULL)
		return NULL;
	n = (size_t)(nl - b->s);
	one = xstrndup(b->s, n);
	explicit_bzero(b->s, n);
	memmove(b->s, nl + 1, b->len - n - 1);
	b->len -= n + 1;
	b->s[b->len] = '\0';
	return one;
}

/*
 * One connection on the loopback listener: reads the request (10 s at
 * most), answers it.  1 with r filled when it was the redirect with our
 * state, 0 for anything else (a favicon, a stranger), -1 on no memory.
 */
static int
serve_one(int lfd, const char *state, const char *account, struct redirect *r)
{
	char buf[LINE_MAX_ + 1], *sp, *path;
	struct pollfd p;
	size_t len = 0;
	ssize_t k;
	double until = util_monotonic() + 10;
	int fd, ok = 0;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd == -1)
		return 0;
	while (len < LINE_MAX_ && memmem(buf, len, "\r\n\r\n", 4) == NULL &&
	    memmem(buf, len, "\n\n", 2) == NULL) {
		p.fd = fd;
		p.events = POLLIN;
		if (util_monotonic() > until || poll(&p, 1, 500) == -1)
			break;
		if (!(p.revents & (POLLIN | POLLHUP)))
			continue;
		k = read(fd, buf + len, LINE_MAX_ - len);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	buf[len] = '\0';
	if (strncmp(buf, "GET ", 4) != 0 || (sp = strchr(buf + 4, ' ')) == NULL) {
		reply_page(fd, 400, "Not a request Postie expects.");
		goto out;
	}
	*sp = '\0';
	path = buf + 4;
	if (path[0] != '/' || (path[1] != '\0' && path[1] != '?')) {
		reply_page(fd, 404, "Not here.");
		goto out;
	}
	parse_query(path[1] == '?' ? path + 2 : "", r);
	if (r->state == NULL || strcmp(r->state, state) != 0 || (!r->code && !r->error)) {
		/* Not the answer to our request (or forged): keep waiting for it. */
		redirect_free(r);
		reply_page(fd, 400, "This is not the answer to Postie's request.");
		goto out;
	}
	ok = 1;
	if (r->code) {
		char *t = strfmt("Postie received the authorization of account \"%s\". You can "
		    "close this window.", account);

		reply_page(fd, 200, t ? t : "Postie received the authorization.");
		free(t);
	} else
		reply_page(fd, 200, "Postie: the authorization was not given.");
out:
	explicit_bzero(buf, sizeof buf);
	close(fd);
	return ok;
}

/* ---- the flows ---- */

/* Stores a token answer of a first grant; says where. */
static enum px_err
store_grant(const struct oauth2_cfg *o, struct json_object *answer, char **msg)
{
	struct o2store s;
	enum px_err e;

	if (o2store_init(&s, o) == -1) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	if ((e = o2store_take(&s, answer, 1, time(NULL), msg)) == PX_OK &&
	    (e = o2store_lock(&s, 30, msg)) == PX_OK &&
	    (e = o2store_write(&s, msg)) == PX_OK) {
		log_error("%s account \"%s\" is authorized: its refresh token is in %s (keep that "
		    "file as secret as a password)", o->kind, o->account, s.path);
		log_event(LOG_NOTICE, "%s account \"%s\": authorized (OAuth 2.0), token file %s",
		    o->kind, o->account, s.path);
	}
	o2store_free(&s);
	return e;
}

/* POSTs a token request and, on success, stores the grant. */
static enum px_err
exchange(const struct net_cfg *n, const char *form, const char *what, const char *doing,
    char **msg)
{
	const struct oauth2_cfg *o = n->oauth2;
	struct o2http_reply r;
	enum px_err e;

	if ((e = o2http_post(n, o->token_url, form, what, &r, msg)) != PX_OK)
		return e;
	if (r.status != 200)
		e = o2http_refusal(o, o->token_url, doing, &r, msg);
	else
		e = store_grant(o, r.json, msg);
	o2http_reply_free(&r);
	return e;
}

static enum px_err
code_flow(const struct net_cfg *n, const char *secret, char **msg)
{
	const struct oauth2_cfg *o = n->oauth2;
	unsigned char hash[DIGEST_SHA256_LEN];
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	struct redirect rd;
	struct pollfd p[2];
	struct sbuf url, form, line;
	char *verifier = NULL, *challenge = NULL, *state = NULL, *redirect = NULL, buf[512];
	char *one;
	enum px_err e = PX_SOFTWARE;
	double until = util_monotonic() + AUTH_WAIT;
	int lfd, in_open = 1, got = 0, left;
	ssize_t k;

	memset(&rd, 0, sizeof rd);
	sb_init(&url);
	sb_init(&form);
	sb_init(&line);
	*msg = NULL;
	if (o->authorize_url == NULL) {
		*msg = strfmt("%s account \"%s\": oauth2_authorize_url is not set (or use "
		    "--device)", o->kind, o->account);
		return PX_CONFIG;
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(lfd, 8) == -1 || getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		*msg = strfmt("cannot listen on 127.0.0.1 for the browser's redirect: %s",
		    strerror(errno));
		e = PX_OSERR;
		goto out;
	}
	verifier = random_b64url(32);
	state = random_b64url(16);
	if (verifier == NULL || state == NULL) {
		*msg = strdup("no random numbers from the kernel (getrandom)");
		goto out;
	}
	digest_sha256_buf(verifier, strlen(verifier), hash);
	challenge = b64url(hash, sizeof hash);
	redirect = strfmt("http://127.0.0.1:%u/", (unsigned)ntohs(sin.sin_port));
	if (challenge == NULL || redirect == NULL)
		goto oom;
	sb_adds(&url, o->authorize_url);
	sb_addc(&url, strchr(o->authorize_url, '?') ? '&' : '?');
	sb_adds(&url, "response_type=code&client_id=");
	o2http_escape(&url, o->client_id);
	sb_adds(&url, "&redirect_uri=");
	o2http_escape(&url, redirect);
	if (o->scope) {
		sb_adds(&url, "&scope=");
		o2http_escape(&url, o->scope);
	}
	sb_printf(&url, "&state=%s&code_challenge=%s&code_challenge_method=S256", state,
	    challenge);
	if (n->user) {
		sb_adds(&url, "&login_hint=");
		o2http_escape(&url, n->user);
	}
	/* Google gives a refresh token only for offline access, and only at consent. */
	if (strcmp(o->provider, "google") == 0)
		sb_adds(&url, "&access_type=offline&prompt=consent");
	if (url.s == NULL)
		goto oom;
	log_error("To authorize %s account \"%s\", open this address in a browser and sign in "
	    "as %s:", o->kind, o->account, n->user ? n->user : "the mailbox's user");
	log_error("%s", url.s);
	log_error("The browser is sent on to %s on this host at the end.  If it runs on "
	    "another host, that page does not load: copy the address it shows and paste it "
	    "here.  Waiting up to %d minutes.", redirect, AUTH_WAIT / 60);

	while (!got) {
		left = (int)((until - util_monotonic()) * 1000);
		if (left <= 0) {
			*msg = strfmt("%s account \"%s\": no answer from the browser in %d minutes; "
			    "nothing was changed", o->kind, o->account, AUTH_WAIT / 60);
			e = PX_NOPERM;
			goto out;
		}
		p[0].fd = lfd;
		p[0].events = POLLIN;
		p[1].fd = in_open ? STDIN_FILENO : -1;
		p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, left > 1000 ? 1000 : left) == -1) {
			if (errno == EINTR)
				continue;
			*msg = strfmt("poll: %s", strerror(errno));
			e = PX_OSERR;
			goto out;
		}
		if (p[0].revents & POLLIN) {
			int r = serve_one(lfd, state, o->account, &rd);

			if (r == -1)
				goto oom;
			got = r;
			continue;
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			k = read(STDIN_FILENO, buf, sizeof buf);
			if (k <= 0) {
				in_open = 0;	/* nothing to paste from: the listener only */
				continue;
			}
			if (line.len + (size_t)k > LINE_MAX_) {
				sb_reset(&line);
				continue;
			}
			sb_addn(&line, buf, (size_t)k);
			explicit_bzero(buf, sizeof buf);
			while (!got && (one = take_line(&line)) != NULL) {
				if (parse_pasted(one, &rd) == 0 && (rd.state == NULL ||
				    strcmp(rd.state, state) == 0))
					got = 1;
				else {
					if (rd.state)
						log_error("that address is not the answer to this "
						    "request (its state differs); paste the right one");
					else
						log_error("paste the whole address the browser shows "
						    "(http://127.0.0.1:...?code=...)");
					redirect_free(&rd);
				}
				util_wipe(&one);
			}
		}
	}
	if (rd.code == NULL) {
		*msg = strfmt("%s account \"%s\": the authorization was not given: %s%s%.300s",
		    o->kind, o->account, rd.error ? rd.error : "no code",
		    rd.error_description ? ": " : "",
		    rd.error_description ? rd.error_description : "");
		e = PX_NOPERM;
		goto out;
	}
	o2http_form(&form, "grant_type", "authorization_code");
	o2http_form(&form, "code", rd.code);
	o2http_form(&form, "redirect_uri", redirect);
	o2http_form(&form, "client_id", o->client_id);
	o2http_form(&form, "client_secret", secret);
	o2http_form(&form, "code_verifier", verifier);
	if (form.s == NULL)
		goto oom;
	e = exchange(n, form.s, "authorization_code", "the authorization code", msg);
	goto out;
oom:
	free(*msg);
	*msg = strdup("out of memory");
	e = PX_SOFTWARE;
out:
	if (lfd != -1)
		close(lfd);
	redirect_free(&rd);
	if (form.s)
		explicit_bzero(form.s, form.len);
	if (line.s)
		explicit_bzero(line.s, line.len);
	sb_free(&form);
	sb_free(&line);
	sb_free(&url);
	util_wipe(&verifier);
	free(state);
	free(challenge);
	free(redirect);
	return e;
}

static enum px_err
device_flow(const struct net_cfg *n, const char *secret, char **msg)
{
	const struct oauth2_cfg *o = n->oauth2;
	struct o2http_reply r;
	struct sbuf form;
	const char *uri, *complete, *user_code, *err;
	char *device_code = NULL;
	long long interval, life;
	double until;
	enum px_err e;
	struct timespec ts;

	*msg = NULL;
	if (o->device_url == NULL) {
		*msg = strfmt("%s account \"%s\": oauth2_device_url is not set (authorize without "
		    "--device)", o->kind, o->account);
		return PX_CONFIG;
	}
	sb_init(&form);
	o2http_form(&form, "client_id", o->client_id);
	o2http_form(&form, "client_secret", secret);
	o2http_form(&form, "scope", o->scope);
	if (form.s == NULL) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	e = o2http_post(n, o->device_url, form.s, "device authorization", &r, msg);
	explicit_bzero(form.s, form.len);
	sb_reset(&form);
	if (e != PX_OK)
		goto out;
	if (r.status != 200) {
		e = o2http_refusal(o, o->device_url, "the device authorization request", &r, msg);
		o2http_reply_free(&r);
		goto out;
	}
	uri = o2http_str(r.json, "verification_uri");
	if (uri == NULL)
		uri = o2http_str(r.json, "verification_url");	/* Google's name for it */
	complete = o2http_str(r.json, "verification_uri_complete");
	user_code = o2http_str(r.json, "user_code");
	device_code = xstrdup(o2http_str(r.json, "device_code"));
	interval = o2http_num(r.json, "interval", 5);
	life = o2http_num(r.json, "expires_in", 900);
	if (uri == NULL || user_code == NULL || device_code == NULL) {
		*msg = strfmt("%s account \"%s\": the device authorization answer lacks "
		    "verification_uri, user_code or device_code", o->kind, o->account);
		o2http_reply_free(&r);
		e = PX_NOPERM;
		goto out;
	}
	if (interval < 1 || interval > 60)
		interval = 5;
	if (life < 10 || life > 1800)
		life = 1800;
	log_error("To authorize %s account \"%s\", open %s and enter the code %s, signing in as "
	    "%s.", o->kind, o->account, uri, user_code, n->user ? n->user : "the mailbox's user");
	if (complete)
		log_error("(or open %s)", complete);
	log_error("Waiting up to %lld minutes.", (life + 59) / 60);
	o2http_reply_free(&r);
	until = util_monotonic() + (double)life;

	for (;;) {
		ts.tv_sec = (time_t)interval;
		ts.tv_nsec = 0;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		if (util_monotonic() > until) {
			*msg = strfmt("%s account \"%s\": the code was not entered in time; run "
			    "--authorize again", o->kind, o->account);
			e = PX_NOPERM;
			goto out;
		}
		sb_reset(&form);
		o2http_form(&form, "grant_type", "urn:ietf:params:oauth:grant-type:device_code");
		o2http_form(&form, "device_code", device_code);
		o2http_form(&form, "client_id", o->client_id);
		o2http_form(&form, "client_secret", secret);
		if (form.s == NULL) {
			*msg = strdup("out of memory");
			e = PX_SOFTWARE;
			goto out;
		}
		e = o2http_post(n, o->token_url, form.s, "device_code", &r, msg);
		explicit_bzero(form.s, form.len);
		if (e == PX_TEMPFAIL) {
			/* The network may come back before the code expires. */
			log_info("%s", *msg);
			free(*msg);
			*msg = NULL;
			continue;
		}
		if (e != PX_OK)
			goto out;
		if (r.status == 200) {
			e = store_grant(o, r.json, msg);
			o2http_reply_free(&r);
			goto out;
		}
		err = o2http_str(r.json, "error");
		if (err && strcmp(err, "authorization_pending") == 0) {
			o2http_reply_free(&r);
			continue;
		}
		if (err && strcmp(err, "slow_down") == 0) {
			interval += 5;	/* RFC 8628 3.5 */
			log_info("oauth2: polling every %lld s, as the server asks", interval);
			o2http_reply_free(&r);
			continue;
		}
		if (err && strcmp(err, "expired_token") == 0)
			*msg = strfmt("%s account \"%s\": the code expired before it was entered; "
			    "run --authorize again", o->kind, o->account);
		else if (err && strcmp(err, "access_denied") == 0)
			*msg = strfmt("%s account \"%s\": the authorization was denied", o->kind,
			    o->account);
		if (*msg)
			e = PX_NOPERM;
		else
			e = o2http_refusal(o, o->token_url, "the device code", &r, msg);
		o2http_reply_free(&r);
		goto out;
	}
out:
	util_wipe(&device_code);
	sb_free(&form);
	return e;
}

enum px_err
oauth2_authorize(const struct net_cfg *n, int device, char **msg)
{
	const struct oauth2_cfg *o = n->oauth2;
	struct o2store s;
	char *secret, *err = NULL, *tok = NULL;
	enum px_err e;

	*msg = NULL;
	if (o == NULL) {
		*msg = strdup("the account has no oauth2_* keys: nothing to authorize");
		return PX_CONFIG;
	}
	if (getegid() != getgid() && getuid() != 0) {
		*msg = strfmt("%s account \"%s\" belongs to the system's configuration: only root "
		    "can authorize it", o->kind, o->account);
		return PX_NOPERM;
	}
	if (o->grant == OAUTH2_CLIENT_CREDENTIALS) {
		/* Nothing to ask the user: show that the credentials work. */
		if ((e = oauth2_token(n, NULL, &tok, msg)) == PX_OK) {
			log_error("%s account \"%s\" uses the client_credentials grant: no "
			    "authorization needed; the token endpoint gave an access token (kept "
			    "in %s)", o->kind, o->account, o->token_file);
			util_wipe(&tok);
		}
		return e;
	}
	/* Can the grant be kept?  Better known before the user signs in. */
	if (o2store_init(&s, o) == -1) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	e = o2store_lock(&s, 30, msg);
	o2store_free(&s);
	if (e != PX_OK)
		return e;
	secret = conf_oauth2_secret(o, &err);
	if (err) {
		*msg = strfmt("%s account \"%s\": %s", o->kind, o->account, err);
		free(err);
		return PX_CONFIG;
	}
	e = device ? device_flow(n, secret, msg) : code_flow(n, secret, msg);
	util_wipe(&secret);
	return e;
}
