/*
 * sasl.h: logging in over a connection the program speaks itself: SMTP AUTH
 * (RFC 4954), POP3 AUTH (RFC 5034), POP3 USER/PASS and APOP (RFC 1939).
 *
 * libcurl opens the connection and secures it (CURLOPT_CONNECT_ONLY, no
 * CURLOPT_USERNAME, so it stops after EHLO/CAPA and STARTTLS); the program
 * then calls sasl_login() with what the server offered and its own line
 * I/O.  Doing it here rather than in libcurl lets us choose the mechanism
 * (libcurl picks the "strongest" one, which fails against servers whose
 * backend cannot do CRAM-MD5 or DIGEST-MD5), send the initial response
 * (one round trip for PLAIN), fall back to the next mechanism offered when
 * one is refused, and name the mechanism tried and those offered in the
 * error.
 *
 * The policy (sasl_plan).  "Encrypted" means TLS (implicit or STARTTLS) or
 * a peer on loopback (net_loopback()).
 *  - Not encrypted and the account does not allow clear text
 *    (cleartext_ok = 0, the default): no credential is sent at all; the
 *    error says which key allows it (tls_required = false).
 *  - auth = "auto", encrypted: PLAIN, then LOGIN (SMTP and POP3), then
 *    USER/PASS (POP3); with an OAuth token, XOAUTH2, else OAUTHBEARER,
 *    only one of them (the other would refuse the same token; a new
 *    token is the caller's retry, oauth2.h).
 *    Challenge-response mechanisms (CRAM-MD5, APOP) only when the server
 *    offers none of those: over TLS they add nothing, and they are the
 *    ones a server offers and then cannot check (a PAM backend cannot do
 *    CRAM-MD5).
 *  - auth = "auto", not encrypted but allowed: CRAM-MD5, APOP (POP3) first,
 *    so that the password itself does not cross in clear, then PLAIN,
 *    LOGIN, USER.
 *  - auth = a mechanism: exactly that one; "the server does not offer AUTH
 *    CRAM-MD5 (it offers PLAIN LOGIN)" when it is not offered.  "user" is
 *    POP3 USER/PASS, "apop" is APOP.
 * Every mechanism in the plan that is offered is tried in turn while the
 * server refuses with a permanent "wrong credentials" answer; a temporary
 * answer (4xx, [IN-USE], [LOGIN-DELAY], [SYS/TEMP]) ends the attempt at once.
 *
 * Secrets: every line that carries a credential is sent with secret = 1,
 * so that the I/O layer shows it as "<redacted>" in -v; no message built
 * here holds one.
 */
#ifndef POSTIE_SASL_H
#define POSTIE_SASL_H

#include <stddef.h>
#include "exitcodes.h"
#include "net.h"

/* What the server offered. */
struct sasl_offer {
	const char *mechs;	/* SMTP EHLO "AUTH ..." / POP3 CAPA "SASL ..." words, NULL = none */
	int	 user;		/* POP3: USER/PASS possible (CAPA USER, or no CAPA answer) */
	const char *apop;	/* POP3: the greeting's "<...>" timestamp, or NULL */
};

struct sasl_creds {
	const char *user;
	const char *secret;	/* the password, or an OAuth 2.0 access token */
	int	 oauth;		/* secret is an access token (XOAUTH2/OAUTHBEARER only) */
	const char *host;	/* for OAUTHBEARER's gs2 header ("host=", "port=") */
	int	 port;
};

/*
 * Fills *cr for the account n with secret (the password or access token,
 * still the caller's): the user, whether the secret is a token (an OAuth
 * 2.0 account, or auth "xoauth2"/"oauthbearer"), host and port.
 */
void	 sasl_creds_init(struct sasl_creds *cr, const struct net_cfg *n, const char *secret);

/* The program's line I/O on its connection. */
struct sasl_io {
	void	*arg;
	/*
	 * Sends one command line (the callee adds CRLF and flushes); secret:
	 * the line carries a credential and must be shown redacted.  0, or
	 * -1 when the connection failed (the callee keeps the reason).
	 */
	int	(*send)(void *arg, const char *line, int secret);
	/*
	 * Reads one complete reply.  SMTP: *code is the reply code (334 a
	 * challenge), *text the text of its last line after "NNN " (for
	 * multi-line replies the lines joined by " / " is also fine).  POP3:
	 * *code is 1 for "+OK", -1 for "-ERR", 2 for a "+ " continuation,
	 * *text what follows.  *text stays valid until the next call.  0, or
	 * -1 when the connection failed or timed out.
	 */
	int	(*recv)(void *arg, int *code, const char **text);
};

enum sasl_mech {
	SASL_PLAIN, SASL_LOGIN, SASL_CRAM_MD5, SASL_XOAUTH2, SASL_OAUTHBEARER,
	SASL_EXTERNAL, SASL_USER, SASL_APOP
};
#define SASL_NMECH 8

/* "PLAIN", "LOGIN", ..., "USER", "APOP". */
const char *sasl_name(enum sasl_mech m);

/*
 * The mechanisms to try, in order, into out[] (at most SASL_NMECH).
 * auth is the account's auth setting; encrypted: the connection is TLS (or
 * to loopback); cleartext_ok: the account allows a password in clear.
 * Returns how many, or -1 with *err (malloc'd, one line, e.g. "the server
 * does not offer AUTH CRAM-MD5 (it offers PLAIN LOGIN)", "the server offers
 * no way to log in over an unencrypted connection (it offers PLAIN; set
 * tls = \"starttls\", or tls_required = false to send the password in
 * clear)") when nothing fits.
 */
int	 sasl_plan(enum net_proto proto, const char *auth, const struct sasl_offer *offer,
	    int oauth, int encrypted, int cleartext_ok, enum sasl_mech *out, char **err);

/*
 * Logs in: tries each mechanism of the plan in turn.  Returns PX_OK;
 * PX_NOPERM when every mechanism tried was refused, or when the plan is
 * empty (*msg names the mechanisms tried and offered, and the server's last
 * answer); PX_TEMPFAIL for a temporary refusal or a connection that failed
 * (*msg set, "host: ..." first; for a connection failure *msg may be NULL
 * when the I/O layer keeps a better reason).  *tried (may be NULL) gets the
 * mechanism that succeeded or was tried last.
 */
enum px_err sasl_login(enum net_proto proto, const char *auth, const struct sasl_offer *offer,
	    const struct sasl_creds *cr, int encrypted, int cleartext_ok,
	    const struct sasl_io *io, enum sasl_mech *tried, char **msg);

/* The POP3 greeting's APOP timestamp "<...>", malloc'd, or NULL. */
char	*sasl_apop_stamp(const char *greeting);

#endif
