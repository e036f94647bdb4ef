/*
 * sasl.c: the login, spoken over the program's own line I/O.  See sasl.h
 * for the policy; RFC 4954 (SMTP AUTH), RFC 5034 (POP3 AUTH), RFC 1939
 * (USER/PASS, APOP), RFC 4616 (PLAIN), RFC 2195 (CRAM-MD5), RFC 7628
 * (OAUTHBEARER), RFC 4422 (EXTERNAL), and Google's and Microsoft's XOAUTH2.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "digest.h"
#include "mime.h"
#include "sasl.h"
#include "util.h"

/* RFC 5034 4: an AUTH command with its initial response fits in 255 octets. */
#define POP3_IR_MAX	255

static const char *const names[SASL_NMECH] = {
	"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", "EXTERNAL", "USER", "APOP",
};

const char *
sasl_name(enum sasl_mech m)
{
	return (unsigned)m < SASL_NMECH ? names[m] : "?";
}

/* 1 when the word w is in the space-separated list (case-insensitive). */
static int
in_words(const char *list, const char *w)
{
	size_t n = strlen(w);
	const char *p = list;

	while (p && *p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, w, n) == 0 && (p[n] == '\0' || p[n] == ' ' || p[n] == '\t'))
			return 1;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	return 0;
}

static int
offered(enum net_proto proto, const struct sasl_offer *o, enum sasl_mech m)
{
	if (m == SASL_USER)
		return proto == NET_POP3 && o->user;
	if (m == SASL_APOP)
		return proto == NET_POP3 && o->apop != NULL;
	return o->mechs != NULL && in_words(o->mechs, names[m]);
}

/* "PLAIN LOGIN", or "no AUTH mechanism", for error messages (malloc'd). */
static char *
offer_text(enum net_proto proto, const struct sasl_offer *o)
{
	struct sbuf b;
	const char *p;

	sb_init(&b);
	for (p = o->mechs; p && *p; p++) {
		if (*p == ' ' || *p == '\t') {
			if (b.len && b.s[b.len - 1] != ' ')
				sb_addc(&b, ' ');
		} else
			sb_addc(&b, (char)toupper((unsigned char)*p));
	}
	while (b.len && b.s[b.len - 1] == ' ')
		b.s[--b.len] = '\0';
	if (proto == NET_POP3) {
		if (o->user)
			sb_printf(&b, "%sUSER", b.len ? " " : "");
		if (o->apop)
			sb_printf(&b, "%sAPOP", b.len ? " " : "");
	}
	if (b.len == 0)
		sb_adds(&b, proto == NET_SMTP ? "no AUTH mechanism" : "no way to log in");
	return sb_steal(&b);
}

static int
from_setting(enum net_proto proto, const char *auth, enum sasl_mech *m)
{
	static const struct {
		const char *name;
		enum sasl_mech m;
		int pop3_only;
	} map[] = {
		{ "plain", SASL_PLAIN, 0 }, { "login", SASL_LOGIN, 0 },
		{ "cram-md5", SASL_CRAM_MD5, 0 }, { "xoauth2", SASL_XOAUTH2, 0 },
		{ "oauthbearer", SASL_OAUTHBEARER, 0 }, { "external", SASL_EXTERNAL, 0 },
		{ "user", SASL_USER, 1 }, { "apop", SASL_APOP, 1 },
	};
	size_t i;

	for (i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(auth, map[i].name) == 0 && (!map[i].pop3_only || proto == NET_POP3)) {
			*m = map[i].m;
			return 0;
		}
	return -1;
}

int
sasl_plan(enum net_proto proto, const char *auth, const struct sasl_offer *offer,
    int oauth, int encrypted, int cleartext_ok, enum sasl_mech *out, char **err)
{
	/* auto, in order of preference. */
	static const enum sasl_mech tls_order[] = {
		SASL_PLAIN, SASL_LOGIN, SASL_USER, SASL_CRAM_MD5, SASL_APOP,
	};
	static const enum sasl_mech clear_order[] = {
		SASL_CRAM_MD5, SASL_APOP, SASL_PLAIN, SASL_LOGIN, SASL_USER,
	};
	static const enum sasl_mech oauth_order[] = { SASL_XOAUTH2, SASL_OAUTHBEARER };
	const enum sasl_mech *order;
	size_t norder, i;
	int n = 0;
	enum sasl_mech m;
	char *offers;

	*err = NULL;
	if (auth == NULL)
		auth = "auto";
	if (strcasecmp(auth, "none") == 0)
		return 0;
	if (!encrypted && !cleartext_ok) {
		*err = strfmt("will not send the login over an unencrypted connection to a host "
		    "that is not on loopback: use tls = \"tls\" or \"starttls\", or set "
		    "tls_required = false to allow it");
		return -1;
	}
	offers = offer_text(proto, offer);
	if (strcasecmp(auth, "auto") != 0) {
		if (from_setting(proto, auth, &m) == -1) {
			*err = strfmt("auth = \"%s\" is not a %s mechanism", auth,
			    proto == NET_SMTP ? "SMTP" : "POP3");
			goto fail;
		}
		if (!offered(proto, offer, m)) {
			if (m == SASL_APOP)
				*err = strfmt("the server's greeting has no APOP timestamp "
				    "(it offers %s)", offers);
			else if (m == SASL_USER)
				*err = strfmt("the server does not offer USER/PASS (it offers %s)",
				    offers);
			else
				*err = strfmt("the server does not offer AUTH %s (it offers %s)",
				    names[m], offers);
			goto fail;
		}
		out[n++] = m;
		free(offers);
		return n;
	}
	if (oauth) {
		order = oauth_order;
		norder = sizeof oauth_order / sizeof oauth_order[0];
	} else if (encrypted) {
		/*
		 * Challenge-response last: over TLS it protects nothing more,
		 * and servers offer CRAM-MD5 their backend cannot check.
		 */
		order = tls_order;
		norder = sizeof tls_order / sizeof tls_order[0];
	} else {
		order = clear_order;
		norder = sizeof clear_order / sizeof clear_order[0];
	}
	for (i = 0; i < norder; i++) {
		/*
		 * Over an encrypted connection the challenge-response
		 * mechanisms come in only when nothing that sends the password
		 * is offered: each refused attempt is one more failed login in
		 * the server's log (and fail2ban's count).
		 */
		if (encrypted && !oauth && n > 0 &&
		    (order[i] == SASL_CRAM_MD5 || order[i] == SASL_APOP))
			break;
		if (offered(proto, offer, order[i]))
			out[n++] = order[i];
	}
	/*
	 * A token one mechanism refuses the other refuses too: one login
	 * refused is enough, and the caller's retry (oauth2.h) brings a new
	 * token instead.
	 */
	if (oauth && n > 1)
		n = 1;
	if (n == 0) {
		if (oauth)
			*err = strfmt("the server offers neither AUTH XOAUTH2 nor OAUTHBEARER for "
			    "the OAuth 2.0 token (it offers %s)", offers);
		else if (proto == NET_SMTP && (offer->mechs == NULL || *offer->mechs == '\0'))
			*err = strfmt("the server offers no AUTH mechanism%s", encrypted ? "" :
			    " (many offer it only after STARTTLS: tls = \"starttls\")");
		else
			*err = strfmt("the server offers no mechanism Postie can log in with "
			    "(it offers %s)", offers);
		goto fail;
	}
	free(offers);
	return n;
fail:
	free(offers);
	return -1;
}

/* ---- the exchanges ---- */

struct login {
	enum net_proto proto;
	const struct sasl_creds *cr;
	const struct sasl_io *io;
	int	 code;		/* of the last reply */
	const char *text;
	char	*last;		/* the last refusal, for the error: "535 5.7.8 ..." */
};

/* Sends a line; the secret ones are wiped after. */
static int
say(struct login *l, char *line, int secret)
{
	int r;

	if (line == NULL)
		return -2;	/* out of memory */
	r = l->io->send(l->io->arg, line, secret);
	if (secret)
		explicit_bzero(line, strlen(line));
	free(line);
	return r;
}

static int
hear(struct login *l)
{
	if (l->io->recv(l->io->arg, &l->code, &l->text) == -1)
		return -1;
	if (l->text == NULL)
		l->text = "";
	return 0;
}

/* The reply is a continuation: 334 / "+". */
static int
is_more(const struct login *l)
{
	return l->proto == NET_SMTP ? l->code == 334 : l->code == 2;
}

static int
is_ok(const struct login *l)
{
	return l->proto == NET_SMTP ? l->code == 235 : l->code == 1;
}

/* base64 of n bytes, wiped input stays the caller's. */
static char *
b64(const void *p, size_t n)
{
	return mime_b64_encode(p, n);
}

/* The response to a challenge, as a line: base64, "=" for an empty one in SMTP IR. */
static char *
respond_line(const void *p, size_t n)
{
	return n == 0 ? strdup("") : b64(p, n);
}

/*
 * "AUTH MECH" with the initial response ir (n bytes; ir NULL: none).  In
 * POP3 an initial response that would make the line longer than 255
 * octets is sent after the server's "+" instead (RFC 5034).
 */
static int
auth_cmd(struct login *l, const char *mech, const void *ir, size_t n, int secret)
{
	char *enc = NULL;
	int r;

	if (ir != NULL && (enc = n ? b64(ir, n) : strdup("=")) == NULL)
		return -2;
	if (enc && l->proto == NET_POP3 && strlen("AUTH ") + strlen(mech) + 1 + strlen(enc) >
	    POP3_IR_MAX - 2) {
		r = say(l, strfmt("AUTH %s", mech), 0);
		if (r == 0 && (r = hear(l)) == 0 && is_more(l))
			r = say(l, strcmp(enc, "=") == 0 ? strdup("") : strdup(enc), secret);
		else {
			/* Refused at once (or the connection failed): the reply is in l. */
			explicit_bzero(enc, strlen(enc));
			free(enc);
			return r;
		}
	} else
		r = say(l, enc ? strfmt("AUTH %s %s", mech, enc) : strfmt("AUTH %s", mech),
		    secret);
	if (enc) {
		explicit_bzero(enc, strlen(enc));
		free(enc);
	}
	if (r != 0)
		return r;
	return hear(l);
}

/* "\0user\0secret" or similar, built in a buffer that is wiped. */
static char *
join3(const char *a, char sep1, const char *b, char sep2, const char *c, size_t *n)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *p = malloc(la + lb + lc + 3);

	if (p == NULL)
		return NULL;
	memcpy(p, a, la);
	p[la] = sep1;
	memcpy(p + la + 1, b, lb);
	p[la + 1 + lb] = sep2;
	memcpy(p + la + 2 + lb, c, lc);
	*n = la + lb + lc + 2;
	p[*n] = '\0';
	return p;
}

static void
wipe(char *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

/* A base64 challenge decoded (malloc'd, NUL-terminated), or NULL. */
static char *
challenge(const char *text, size_t *n)
{
	unsigned char *d = mime_b64_decode(text, strlen(text), n);
	char *s;

	if (d == NULL)
		return NULL;
	if ((s = realloc(d, *n + 1)) == NULL) {
		free(d);
		return NULL;
	}
	s[*n] = '\0';
	return s;
}

static int
do_plain(struct login *l)
{
	size_t n;
	char *ir = join3("", '\0', l->cr->user, '\0', l->cr->secret, &n);
	int r;

	/* join3 gives "" NUL user NUL secret: the RFC 4616 message (authzid empty). */
	if (ir == NULL)
		return -2;
	r = auth_cmd(l, "PLAIN", ir, n, 1);
	if (r == 0 && is_more(l))	/* a server that ignored the initial response */
		if ((r = say(l, respond_line(ir, n), 1)) == 0)
			r = hear(l);
	wipe(ir, n);
	return r;
}

static int
do_login(struct login *l)
{
	const char *u = l->cr->user, *pw = l->cr->secret;
	int r, steps = 0, sent_user = 1;
	size_t n;
	char *ch;

	r = auth_cmd(l, "LOGIN", u, strlen(u), 0);
	/* Answer the prompts: "Username:" or "Password:" (base64), at most twice more. */
	while (r == 0 && is_more(l) && steps++ < 2) {
		ch = challenge(l->text, &n);
		if (ch && strncasecmp(ch, "user", 4) == 0 && sent_user && steps == 1) {
			/* It asks again for the name: it ignored the initial response. */
			r = say(l, b64(u, strlen(u)), 0);
			sent_user = 0;
		} else
			r = say(l, b64(pw, strlen(pw)), 1);
		free(ch);
		if (r == 0)
			r = hear(l);
	}
	return r;	/* a third prompt is cancelled by sasl_login() */
}

static int
do_cram(struct login *l)
{
	unsigned char md[DIGEST_MD5_LEN];
	char hex[2 * DIGEST_MD5_LEN + 1], *ch, *resp;
	size_t n;
	int r;

	if ((r = auth_cmd(l, "CRAM-MD5", NULL, 0, 0)) != 0 || !is_more(l))
		return r;
	if ((ch = challenge(l->text, &n)) == NULL) {
		/* Not base64: cancel the exchange (RFC 4954 "*", RFC 5034 "*"). */
		if ((r = say(l, strdup("*"), 0)) == 0)
			r = hear(l);
		return r;
	}
	digest_hmac_md5(l->cr->secret, strlen(l->cr->secret), ch, n, md);
	free(ch);
	digest_hex(md, sizeof md, hex);
	explicit_bzero(md, sizeof md);
	resp = strfmt("%s %s", l->cr->user, hex);
	explicit_bzero(hex, sizeof hex);
	if (resp == NULL)
		return -2;
	r = say(l, b64(resp, strlen(resp)), 1);
	wipe(resp, strlen(resp));
	return r == 0 ? hear(l) : r;
}

/*
 * XOAUTH2 and OAUTHBEARER: on a refusal the server sends a continuation
 * with a JSON error; the client answers it (an empty line, or ^A for
 * OAUTHBEARER) to get the final refusal.
 */
static int
do_oauth(struct login *l, int bearer)
{
	const struct sasl_creds *cr = l->cr;
	char *ir;
	int r;

	if (bearer)
		ir = cr->host ? strfmt("n,a=%s,\001host=%s\001port=%d\001auth=Bearer %s\001\001",
		    cr->user, cr->host, cr->port, cr->secret) :
		    strfmt("n,a=%s,\001auth=Bearer %s\001\001", cr->user, cr->secret);
	else
		ir = strfmt("user=%s\001auth=Bearer %s\001\001", cr->user, cr->secret);
	if (ir == NULL)
		return -2;
	r = auth_cmd(l, bearer ? "OAUTHBEARER" : "XOAUTH2", ir, strlen(ir), 1);
	wipe(ir, strlen(ir));
	if (r == 0 && is_more(l)) {
		/* The error JSON; answered, the server sends the refusal. */
		r = say(l, bearer ? strdup("AQ==") : strdup(""), 0);
		if (r == 0)
			r = hear(l);
	}
	return r;
}

static int
do_external(struct login *l)
{
	const char *u = l->cr->user ? l->cr->user : "";

	return auth_cmd(l, "EXTERNAL", u, strlen(u), 0);
}

static int
do_user(struct login *l)
{
	int r;

	if ((r = say(l, strfmt("USER %s", l->cr->user), 0)) != 0 || (r = hear(l)) != 0)
		return r;
	if (l->code != 1)
		return 0;
	if ((r = say(l, strfmt("PASS %s", l->cr->secret), 1)) != 0)
		return r;
	return hear(l);
}

static int
do_apop(struct login *l, const char *stamp)
{
	struct digest_md5 d;
	unsigned char md[DIGEST_MD5_LEN];
	char hex[2 * DIGEST_MD5_LEN + 1];
	int r;

	digest_md5_init(&d);
	digest_md5_update(&d, stamp, strlen(stamp));
	digest_md5_update(&d, l->cr->secret, strlen(l->cr->secret));
	digest_md5_final(&d, md);
	digest_hex(md, sizeof md, hex);
	explicit_bzero(md, sizeof md);
	r = say(l, strfmt("APOP %s %s", l->cr->user, hex), 1);
	explicit_bzero(hex, sizeof hex);
	return r == 0 ? hear(l) : r;
}

/* RFC 2449/3206 codes in a -ERR that mean "not now", or "the system, not you". */
static int
pop3_temporary(const char *text)
{
	return strstr(text, "[IN-USE]") || strstr(text, "[LOGIN-DELAY]") ||
	    strstr(text, "[SYS/TEMP]");
}

enum px_err
sasl_login(enum net_proto proto, const char *auth, const struct sasl_offer *offer,
    const struct sasl_creds *cr, int encrypted, int cleartext_ok,
    const struct sasl_io *io, enum sasl_mech *tried, char **msg)
{
	enum sasl_mech plan[SASL_NMECH];
	struct login l;
	struct sbuf names_tried;
	char *err = NULL, *offers;
	const char *host = cr->host ? cr->host : "the server";
	enum px_err e = PX_NOPERM;
	int n, i, r;

	*msg = NULL;
	n = sasl_plan(proto, auth, offer, cr->oauth, encrypted, cleartext_ok, plan, &err);
	if (n == -1) {
		*msg = strfmt("%s: cannot log in: %s", host, err ? err : "out of memory");
		free(err);
		return PX_NOPERM;
	}
	if (n == 0)
		return PX_OK;
	if (cr->user == NULL || (cr->secret == NULL && plan[0] != SASL_EXTERNAL)) {
		*msg = strfmt("%s: cannot log in: no %s", host, cr->user ? "password" : "user");
		return PX_CONFIG;
	}
	memset(&l, 0, sizeof l);
	l.proto = proto;
	l.cr = cr;
	l.io = io;
	sb_init(&names_tried);
	for (i = 0; i < n; i++) {
		if (tried)
			*tried = plan[i];
		sb_printf(&names_tried, "%s%s", i ? " " : "", names[plan[i]]);
		switch (plan[i]) {
		case SASL_PLAIN:	r = do_plain(&l); break;
		case SASL_LOGIN:	r = do_login(&l); break;
		case SASL_CRAM_MD5:	r = do_cram(&l); break;
		case SASL_XOAUTH2:	r = do_oauth(&l, 0); break;
		case SASL_OAUTHBEARER:	r = do_oauth(&l, 1); break;
		case SASL_EXTERNAL:	r = do_external(&l); break;
		case SASL_USER:		r = do_user(&l); break;
		case SASL_APOP:		r = do_apop(&l, offer->apop); break;
		default:		r = -2; break;
		}
		if (r == -2) {
			*msg = strdup("out of memory");
			e = PX_SOFTWARE;
			goto out;
		}
		if (r == -1) {
			/* The connection failed: the I/O layer knows why. */
			e = PX_TEMPFAIL;
			goto out;
		}
		if (is_ok(&l)) {
			e = PX_OK;
			goto out;
		}
		free(l.last);
		l.last = proto == NET_SMTP ? strfmt("%d %s", l.code, l.text) :
		    strfmt("%s%s%s", l.code == -1 ? "-ERR" : "+", *l.text ? " " : "", l.text);
		if (proto == NET_SMTP ? (l.code >= 400 && l.code < 500) :
		    pop3_temporary(l.text)) {
			*msg = strfmt("%s: authentication failed temporarily (AUTH %s): %s",
			    host, names[plan[i]], l.last ? l.last : "");
			e = PX_TEMPFAIL;
			goto out;
		}
		if (proto == NET_POP3 && strstr(l.text, "[SYS/PERM]")) {
			*msg = strfmt("%s: the server refuses the login (%s): %s", host,
			    names[plan[i]], l.last ? l.last : "");
			e = PX_UNAVAILABLE;
			goto out;
		}
		if (is_more(&l)) {
			/* A challenge where none belongs: cancel the exchange (RFC 4954, 5034). */
			if (say(&l, strdup("*"), 0) != 0 || hear(&l) != 0) {
				e = PX_TEMPFAIL;
				goto out;
			}
		}
	}
	offers = offer_text(proto, offer);
	*msg = strfmt("%s: authentication failed: %s (tried %s; the server offers %s)", host,
	    l.last ? l.last : "refused", names_tried.s ? names_tried.s : "", offers);
	free(offers);
	e = PX_NOPERM;
out:
	free(l.last);
	sb_free(&names_tried);
	return e;
}

char *
sasl_apop_stamp(const char *greeting)
{
	const char *a, *b, *p;

	if (greeting == NULL || (a = strchr(greeting, '<')) == NULL ||
	    (b = strchr(a, '>')) == NULL)
		return NULL;
	/* RFC 1939: a msg-id, so something@something, no spaces. */
	for (p = a + 1; p < b; p++)
		if (*p == ' ' || *p == '<')
			return NULL;
	if (memchr(a, '@', (size_t)(b - a)) == NULL)
		return NULL;
	return strndup(a, (size_t)(b - a + 1));
}

void
sasl_creds_init(struct sasl_creds *cr, const struct net_cfg *n, const char *secret)
{
	memset(cr, 0, sizeof *cr);
	cr->user = n->user;
	cr->secret = secret;
	cr->oauth = n->oauth2 != NULL || strcmp(n->auth, "xoauth2") == 0 ||
	    strcmp(n->auth, "oauthbearer") == 0;
	cr->host = n->host;
	cr->port = n->port;
}
