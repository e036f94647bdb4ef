/* oauth2.c: an access token at each login: the cached one, else a refreshed one. */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"
#include "oauth2.h"
#include "oauth2http.h"
#include "oauth2store.h"

/* Longer than one request to the token endpoint can take (its timeout), with room. */
#define LOCK_WAIT(n)	((n)->timeout + 15)

/* The token to hand out: the file's, unless it is the one just refused. */
static int
usable(const struct o2store *s, const char *refused, time_t now)
{
	return o2store_fresh(s, now) && (refused == NULL || strcmp(refused, s->access_token) != 0);
}

/* A new access token from the token endpoint into s (locked), kept in the file when keep. */
static enum px_err
request(const struct net_cfg *n, struct o2store *s, int keep, char **msg)
{
	const struct oauth2_cfg *o = n->oauth2;
	struct o2http_reply r;
	struct sbuf form;
	char *secret, *err = NULL, *hint;
	const char *grant = o->grant == OAUTH2_CLIENT_CREDENTIALS ? "client_credentials" :
	    "refresh_token";
	enum px_err e;
	int rotated;

	if (o->grant == OAUTH2_REFRESH_TOKEN && s->refresh_token == NULL) {
		hint = o2http_hint(o);
		*msg = strfmt("%s account \"%s\" has no OAuth 2.0 grant yet (no refresh token in "
		    "%s): %s", o->kind, o->account, s->path, hint ? hint : "authorize it");
		free(hint);
		return PX_NOPERM;
	}
	secret = conf_oauth2_secret(o, &err);
	if (err) {
		*msg = strfmt("%s account \"%s\": %s", o->kind, o->account, err);
		free(err);
		return PX_TEMPFAIL;	/* a locked keyring passes, like password_command's */
	}
	sb_init(&form);
	o2http_form(&form, "grant_type", grant);
	o2http_form(&form, "refresh_token", o->grant == OAUTH2_REFRESH_TOKEN ?
	    s->refresh_token : NULL);
	o2http_form(&form, "client_id", o->client_id);
	o2http_form(&form, "client_secret", secret);
	o2http_form(&form, "scope", o->scope);
	util_wipe(&secret);
	if (form.s == NULL) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	e = o2http_post(n, o->token_url, form.s, grant, &r, msg);
	explicit_bzero(form.s, form.len);
	sb_free(&form);
	if (e != PX_OK) {
		char *m = *msg;

		*msg = strfmt("%s account \"%s\": %s", o->kind, o->account, m ? m : "?");
		free(m);
		return e;
	}
	if (r.status != 200) {
		e = o2http_refusal(o, o->token_url, o->grant == OAUTH2_CLIENT_CREDENTIALS ?
		    "the client credentials" : "the refresh token", &r, msg);
		o2http_reply_free(&r);
		return e;
	}
	rotated = o2http_str(r.json, "refresh_token") != NULL &&
	    (s->refresh_token == NULL || strcmp(o2http_str(r.json, "refresh_token"),
	    s->refresh_token) != 0);
	e = o2store_take(s, r.json, 0, time(NULL), msg);
	o2http_reply_free(&r);
	if (e != PX_OK)
		return e;
	log_info("oauth2: %s account \"%s\": a new access token for %lld s%s", o->kind,
	    o->account, (long long)(s->expires_at - s->obtained_at),
	    rotated ? ", and a new refresh token" : "");
	if (keep && (e = o2store_write(s, msg)) != PX_OK) {
		/*
		 * The token in hand still logs in now.  A rotated refresh
		 * token that cannot be kept is lost: the next login after
		 * this token expires needs --authorize; say so loudly.
		 */
		log_error("%s%s", *msg, rotated ? " (the new refresh token is lost)" : "");
		log_event(LOG_ERR, "%s%s", *msg, rotated ? " (the new refresh token is lost)" : "");
		free(*msg);
		*msg = NULL;
	}
	return PX_OK;
}

enum px_err
oauth2_token(const struct net_cfg *n, const char *refused, char **token, char **msg)
{
	const struct oauth2_cfg *o = n->oauth2;
	struct o2store s;
	enum px_err e;

	*token = NULL;
	*msg = NULL;
	if (o == NULL) {
		*msg = strdup("no oauth2_* key is set for the account");
		return PX_CONFIG;
	}
	if (o2store_init(&s, o) == -1) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	/* Most logins: the file's token, read without the lock (it is replaced whole). */
	if ((e = o2store_read(&s, msg)) != PX_OK)
		goto out;
	if (usable(&s, refused, time(NULL)))
		goto found;
	if (o->grant == OAUTH2_REFRESH_TOKEN && s.refresh_token == NULL) {
		e = request(n, &s, 0, msg);	/* says what to do */
		goto out;
	}
	e = o2store_lock(&s, LOCK_WAIT(n), msg);
	if (e == PX_CANTCREAT && o->grant == OAUTH2_CLIENT_CREDENTIALS) {
		/* Nothing to keep but a cache: do without it. */
		log_info("%s (the access token is not kept)", *msg);
		free(*msg);
		*msg = NULL;
		if ((e = request(n, &s, 0, msg)) == PX_OK)
			goto found;
		goto out;
	}
	if (e != PX_OK)
		goto out;
	/* Another process may have got a new token while we waited for the lock. */
	if ((e = o2store_read(&s, msg)) != PX_OK)
		goto out;
	if (usable(&s, refused, time(NULL)))
		goto found;
	if ((e = request(n, &s, 1, msg)) != PX_OK)
		goto out;
found:
	if ((*token = strdup(s.access_token)) == NULL) {
		*msg = strdup("out of memory");
		e = PX_SOFTWARE;
	} else
		e = PX_OK;
out:
	o2store_free(&s);
	return e;
}

void
oauth2_refused_hint(const struct net_cfg *n, char **msg)
{
	char *hint, *r;

	if (*msg == NULL || n->oauth2 == NULL || (hint = o2http_hint(n->oauth2)) == NULL)
		return;
	r = strfmt("%s; a new access token was refused too: check user and oauth2_scope, "
	    "or %s", *msg, hint);
	free(hint);
	if (r) {
		free(*msg);
		*msg = r;
	}
}
