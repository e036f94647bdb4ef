/*
 * oauth2http.h: talking to an OAuth 2.0 authorization server's endpoints
 * (token, device authorization): an HTTPS POST of a form with libcurl,
 * the JSON answer parsed with json-c, and what an error answer means.
 * Used by oauth2.c and oauth2auth.c only.
 *
 * TLS: the account's tls_ca_file and tls_verify (tls_verify = false is
 * obeyed, with a warning on stderr and in the log each time); https only,
 * no redirects followed.  Secrets: the form and the answer are never
 * shown; -v shows the URL, the grant type and the HTTP status.
 */
#ifndef POSTIE_OAUTH2HTTP_H
#define POSTIE_OAUTH2HTTP_H

#include <json-c/json.h>

#include "config.h"
#include "exitcodes.h"
#include "util.h"

/* An answer: the HTTP status and the body as a JSON object (NULL if it is not one). */
struct o2http_reply {
	long	 status;
	struct json_object *json;
};

/*
 * Appends key=value to an application/x-www-form-urlencoded body, with
 * "&" between pairs and value percent-encoded; value NULL adds nothing.
 * 0, or -1 when out of memory.
 */
int	 o2http_form(struct sbuf *b, const char *key, const char *value);

/* Appends s percent-encoded (everything but RFC 3986 unreserved); 0 or -1. */
int	 o2http_escape(struct sbuf *b, const char *s);

/*
 * POSTs form (a secret: wiped by the caller) to url with n's TLS settings.
 * what names the request in -v ("refresh_token").  PX_OK when an HTTP
 * answer came, whatever its status (r->json set when the body is a JSON
 * object; free with o2http_reply_free); PX_TEMPFAIL when the endpoint
 * cannot be reached, does not answer in n->timeout seconds, or its
 * certificate does not verify; PX_SOFTWARE when out of memory.  *msg
 * (malloc'd, one line naming the endpoint's host) on failure.
 */
enum px_err o2http_post(const struct net_cfg *n, const char *url, const char *form,
	    const char *what, struct o2http_reply *r, char **msg);

void	 o2http_reply_free(struct o2http_reply *r);

/* A string member of a JSON object, or NULL (absent, not a string, or holding a NUL). */
const char *o2http_str(struct json_object *o, const char *key);

/* A number member (also as a string of digits, as some servers send expires_in), or def. */
long long o2http_num(struct json_object *o, const char *key, long long def);

/*
 * What an answer that is not a success means (RFC 6749 5.2): HTTP 5xx,
 * 429 and "temporarily_unavailable"/"server_error" are temporary;
 * "invalid_grant" is PX_NOPERM with the hint to run --authorize for the
 * account (hint_authorize) or to check the client's credentials and
 * permissions (client_credentials); "invalid_client",
 * "unauthorized_client", "invalid_scope" and "unsupported_grant_type" are
 * PX_CONFIG; anything else PX_NOPERM.  *msg: "smtp account "x": the token
 * endpoint HOST refused ...: HTTP 400, invalid_grant: DESCRIPTION; ...",
 * the server's texts cut to printable characters.
 */
enum px_err o2http_refusal(const struct oauth2_cfg *o, const char *url, const char *doing,
	    const struct o2http_reply *r, char **msg);

/* The host part of an URL, without user information, for messages (malloc'd; "?" when none). */
char	*o2http_host(const char *url);

/* "run `sendmail --authorize -a NAME`" / "run `popfetch --authorize NAME`" (malloc'd). */
char	*o2http_hint(const struct oauth2_cfg *o);

#endif
