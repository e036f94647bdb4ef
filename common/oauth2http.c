/* oauth2http.c: HTTPS POSTs to an authorization server, JSON answers, error classes. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <curl/curl.h>

#include "log.h"
#include "oauth2http.h"

/* More than any token answer; a bigger body is not one. */
#define REPLY_MAX	65536

int
o2http_escape(struct sbuf *b, const char *s)
{
	const unsigned char *p;
	int r = 0;

	for (p = (const unsigned char *)s; *p && r == 0; p++)
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			r = sb_addc(b, (char)*p);
		else
			r = sb_printf(b, "%%%02X", *p);
	return r;
}

int
o2http_form(struct sbuf *b, const char *key, const char *value)
{
	if (value == NULL)
		return 0;
	if ((b->len && sb_addc(b, '&') == -1) || sb_adds(b, key) == -1 || sb_addc(b, '=') == -1)
		return -1;
	return o2http_escape(b, value);
}

char *
o2http_host(const char *url)
{
	const char *h = strstr(url, "://"), *e, *at;

	if (h == NULL)
		return strdup("?");
	h += 3;
	e = h + strcspn(h, "/?#");
	/* Never a user name or password written into the URL. */
	while ((at = memchr(h, '@', (size_t)(e - h))) != NULL)
		h = at + 1;
	return xstrndup(h, (size_t)(e - h));
}

char *
o2http_hint(const struct oauth2_cfg *o)
{
	struct sbuf b;
	const char *p;
	int plain = strspn(o->account, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._@+-") == strlen(o->account) && *o->account;

	sb_init(&b);
	sb_adds(&b, strcmp(o->kind, "pop3") == 0 ? "run `popfetch --authorize " :
	    "run `sendmail --authorize -a ");
	if (plain)
		sb_adds(&b, o->account);
	else {
		sb_addc(&b, '\'');
		for (p = o->account; *p; p++)
			if (*p == '\'')
				sb_adds(&b, "'\\''");
			else if ((unsigned char)*p >= 0x20 && *p != 0x7f)
				sb_addc(&b, *p);
		sb_addc(&b, '\'');
	}
	sb_adds(&b, "`");
	return sb_steal(&b);
}

/* Keeps at most REPLY_MAX bytes; more aborts the transfer. */
static size_t
body_cb(char *data, size_t size, size_t n, void *arg)
{
	struct sbuf *b = arg;

	if (b->len + size * n > REPLY_MAX || sb_addn(b, data, size * n) == -1)
		return 0;
	return size * n;
}

static struct json_object *
parse_object(const char *s, size_t n)
{
	struct json_tokener *tok;
	struct json_object *o;

	if ((tok = json_tokener_new_ex(16)) == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)n);
	/* One complete value and nothing after it but white space. */
	if (o && json_tokener_get_error(tok) == json_tokener_success) {
		size_t used = json_tokener_get_parse_end(tok);

		while (used < n && isspace((unsigned char)s[used]))
			used++;
		if (used != n || !json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			o = NULL;
		}
	} else if (o) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The path of an URL ("" when none). */
static const char *
path_of(const char *url)
{
	const char *h = strstr(url, "://");

	h = h ? h + 3 : url;
	return h + strcspn(h, "/?#");
}

static int warned_verify;

#define SET(opt, val) do { \
	if (curl_easy_setopt(c, opt, val) != CURLE_OK) \
		goto setup; \
} while (0)

enum px_err
o2http_post(const struct net_cfg *n, const char *url, const char *form, const char *what,
    struct o2http_reply *r, char **msg)
{
	char errbuf[CURL_ERROR_SIZE], ua[64];
	struct curl_slist *hdr = NULL;
	struct sbuf body;
	char *host = o2http_host(url);
	enum px_err e = PX_OK;
	CURLcode rc;
	CURL *c;

	*msg = NULL;
	r->status = 0;
	r->json = NULL;
	sb_init(&body);
	errbuf[0] = '\0';
	if (host == NULL || (c = curl_easy_init()) == NULL) {
		free(host);
		*msg = strdup("cannot start libcurl");
		return PX_SOFTWARE;
	}
	if (!n->tls_verify && !warned_verify) {
		/* The one way to turn verification off is the account's own key, and it is said. */
		warned_verify = 1;
		log_error("warning: tls_verify = false: the certificate of the token endpoint "
		    "%s is not checked; whoever is in between can take the tokens", host);
		log_event(LOG_WARNING, "tls_verify = false: not checking the certificate of "
		    "the token endpoint %s", host);
	}
	snprintf(ua, sizeof ua, "Postie/%s", POSTIE_VERSION);
	if ((hdr = curl_slist_append(NULL, "Accept: application/json")) == NULL)
		goto setup;
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "https");
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT, (long)n->timeout);
	SET(CURLOPT_TIMEOUT, (long)n->timeout);
	SET(CURLOPT_SSL_VERIFYPEER, n->tls_verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, n->tls_verify ? 2L : 0L);
	if (n->tls_ca_file)
		SET(CURLOPT_CAINFO, n->tls_ca_file);
	SET(CURLOPT_USERAGENT, ua);
	SET(CURLOPT_HTTPHEADER, hdr);
	SET(CURLOPT_POSTFIELDS, form);
	SET(CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	SET(CURLOPT_WRITEFUNCTION, body_cb);
	SET(CURLOPT_WRITEDATA, &body);
	log_info("oauth2: POST https://%s%.*s (%s)", host, (int)strcspn(path_of(url), "?#"),
	    path_of(url), what);
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
		log_info("oauth2: HTTP %ld from %s", r->status, host);
		if (body.len)
			r->json = parse_object(body.s, body.len);
		goto out;
	}
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		*msg = strfmt("the token endpoint %s: its certificate does not verify: %s "
		    "(see tls_ca_file)", host, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		e = PX_TEMPFAIL;
		break;
	case CURLE_WRITE_ERROR:
		*msg = strfmt("the token endpoint %s: its answer is longer than %d bytes", host,
		    REPLY_MAX);
		e = PX_TEMPFAIL;
		break;
	case CURLE_OUT_OF_MEMORY:
		*msg = strdup("out of memory");
		e = PX_SOFTWARE;
		break;
	default:
		*msg = strfmt("cannot reach the token endpoint %s: %s", host,
		    errbuf[0] ? errbuf : curl_easy_strerror(rc));
		e = PX_TEMPFAIL;
		break;
	}
	goto out;
setup:
	*msg = strfmt("the token endpoint %s: libcurl cannot be set up for it", host);
	e = PX_SOFTWARE;
out:
	curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	if (body.s)
		explicit_bzero(body.s, body.len);
	sb_free(&body);
	free(host);
	return e;
}

void
o2http_reply_free(struct o2http_reply *r)
{
	if (r->json)
		json_object_put(r->json);
	r->json = NULL;
}

const char *
o2http_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char *s;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (s == NULL || strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

long long
o2http_num(struct json_object *o, const char *key, long long def)
{
	struct json_object *v;
	const char *s;
	char *end;
	long long x;

	if (o == NULL || !json_object_object_get_ex(o, key, &v))
		return def;
	if (json_object_is_type(v, json_type_int))
		return (long long)json_object_get_int64(v);
	if (json_object_is_type(v, json_type_string) && (s = json_object_get_string(v)) &&
	    isdigit((unsigned char)*s)) {
		x = strtoll(s, &end, 10);
		return *end ? def : x;
	}
	return def;
}

/* The server's text cut to printable characters, at most max bytes. */
static void
add_text(struct sbuf *b, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s && s[i] && i < max; i++)
		sb_addc(b, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i]);
	if (s && s[i])
		sb_adds(b, "...");
}

enum px_err
o2http_refusal(const struct oauth2_cfg *o, const char *url, const char *doing,
    const struct o2http_reply *r, char **msg)
{
	const char *err = o2http_str(r->json, "error");
	const char *desc = o2http_str(r->json, "error_description");
	char *host = o2http_host(url), *hint = NULL;
	struct sbuf b;
	enum px_err e;

	if (r->status >= 500 || r->status == 429 || (err && (strcmp(err,
	    "temporarily_unavailable") == 0 || strcmp(err, "server_error") == 0)))
		e = PX_TEMPFAIL;
	else if (err && strcmp(err, "invalid_grant") == 0) {
		e = PX_NOPERM;
		hint = o->grant == OAUTH2_CLIENT_CREDENTIALS ?
		    strdup("check oauth2_client_id, the client secret and the application's "
		    "permissions") : o2http_hint(o);
	} else if (err && (strcmp(err, "invalid_client") == 0 ||
	    strcmp(err, "unauthorized_client") == 0 || strcmp(err, "invalid_scope") == 0 ||
	    strcmp(err, "unsupported_grant_type") == 0)) {
		e = PX_CONFIG;
		hint = strdup(strcmp(err, "invalid_scope") == 0 ? "check oauth2_scope" :
		    "check oauth2_client_id, the client secret and the application's "
		    "registration");
	} else
		e = PX_NOPERM;
	sb_init(&b);
	sb_printf(&b, "%s account \"%s\": the token endpoint %s refused %s: HTTP %ld", o->kind,
	    o->account, host ? host : "?", doing, r->status);
	if (err) {
		sb_adds(&b, ", ");
		add_text(&b, err, 80);
	}
	if (desc) {
		sb_adds(&b, ": ");
		add_text(&b, desc, 300);
	}
	if (!err && !desc)
		sb_adds(&b, r->json ? " (no error given)" : " (the answer is not JSON)");
	if (hint)
		sb_printf(&b, "; %s", hint);
	else if (e == PX_TEMPFAIL)
		sb_adds(&b, "; will try again");
	free(hint);
	free(host);
	*msg = sb_steal(&b);
	if (*msg == NULL)
		*msg = strdup("out of memory");
	return e;
}
