/*
 * Tests for common/sasl.c: the plan for each setting and offer, and each
 * exchange against a scripted server, line by line (RFC 2195's CRAM-MD5
 * and RFC 1939's APOP examples included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sasl.h"
#include "tap.h"
#include "util.h"

/* A scripted server: the replies in order; what the client sent, recorded. */
struct fake {
	const char *const *replies;	/* "CODE text" (SMTP) or "+OK x", "-ERR x", "+ x" (POP3); NULL = drop */
	size_t	 next;
	struct sbuf sent;		/* lines joined by "|", secret ones marked with "!" */
	char	 text[512];
};

static int
f_send(void *arg, const char *line, int secret)
{
	struct fake *f = arg;

	sb_printf(&f->sent, "%s%s%s", f->sent.len ? "|" : "", secret ? "!" : "", line);
	return 0;
}

static int
f_recv(void *arg, int *code, const char **text)
{
	struct fake *f = arg;
	const char *r = f->replies[f->next];

	if (r == NULL)
		return -1;
	f->next++;
	if (strncmp(r, "+OK", 3) == 0) {
		*code = 1;
		r += 3;
	} else if (strncmp(r, "-ERR", 4) == 0) {
		*code = -1;
		r += 4;
	} else if (r[0] == '+') {
		*code = 2;
		r += 1;
	} else {
		*code = atoi(r);
		r += 3;
	}
	if (*r == ' ')
		r++;
	snprintf(f->text, sizeof f->text, "%s", r);
	*text = f->text;
	return 0;
}

struct login_case {
	const char *name;
	enum net_proto proto;
	const char *auth;
	const char *mechs;
	int	 user, oauth, encrypted, cleartext_ok;
	const char *apop;
	const char *u, *pw;
	const char *replies[8];
	const char *want_sent;
	enum px_err want;
	const char *want_msg;	/* substring, or NULL for none */
};

static const struct login_case cases[] = {
	{ "SMTP auto over TLS: PLAIN with the initial response, one turn", NET_SMTP, "auto",
	  "CRAM-MD5 DIGEST-MD5 PLAIN LOGIN", 0, 0, 1, 0, NULL, "alice", "secret",
	  { "235 2.7.0 ok", NULL }, "!AUTH PLAIN AGFsaWNlAHNlY3JldA==", PX_OK, NULL },
	{ "SMTP auto over TLS: LOGIN when PLAIN is not offered, never CRAM-MD5", NET_SMTP, "auto",
	  "CRAM-MD5 LOGIN", 0, 0, 1, 0, NULL, "alice", "secret",
	  { "334 UGFzc3dvcmQ6", "235 ok", NULL }, "AUTH LOGIN YWxpY2U=|!c2VjcmV0", PX_OK, NULL },
	{ "SMTP LOGIN, a server that ignores the initial response", NET_SMTP, "login",
	  "LOGIN", 0, 0, 1, 0, NULL, "alice", "secret",
	  { "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 ok", NULL },
	  "AUTH LOGIN YWxpY2U=|YWxpY2U=|!c2VjcmV0", PX_OK, NULL },
	{ "SMTP PLAIN refused: LOGIN tried next, then the error names both", NET_SMTP, "auto",
	  "PLAIN LOGIN", 0, 0, 1, 0, NULL, "alice", "wrong",
	  { "535 5.7.8 bad", "334 UGFzc3dvcmQ6", "535 5.7.8 still bad", NULL },
	  "!AUTH PLAIN AGFsaWNlAHdyb25n|AUTH LOGIN YWxpY2U=|!d3Jvbmc=", PX_NOPERM,
	  "authentication failed: 535 5.7.8 still bad (tried PLAIN LOGIN; the server offers PLAIN LOGIN)" },
	{ "SMTP 454: temporary, no second mechanism", NET_SMTP, "auto", "PLAIN LOGIN", 0, 0, 1, 0,
	  NULL, "alice", "secret", { "454 4.7.0 try later", NULL }, "!AUTH PLAIN AGFsaWNlAHNlY3JldA==",
	  PX_TEMPFAIL, "temporarily (AUTH PLAIN): 454 4.7.0 try later" },
	{ "SMTP cram-md5 asked for and not offered", NET_SMTP, "cram-md5", "PLAIN LOGIN", 0, 0, 1, 0,
	  NULL, "alice", "secret", { NULL }, "", PX_NOPERM,
	  "the server does not offer AUTH CRAM-MD5 (it offers PLAIN LOGIN)" },
	{ "SMTP CRAM-MD5, RFC 2195's example", NET_SMTP, "cram-md5", "CRAM-MD5", 0, 0, 1, 0, NULL,
	  "tim", "tanstaaftanstaaf",
	  { "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", "235 ok", NULL },
	  "AUTH CRAM-MD5|!dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", PX_OK, NULL },
	{ "SMTP no AUTH offered without TLS: the hint names STARTTLS", NET_SMTP, "auto", NULL, 0, 0,
	  0, 1, NULL, "alice", "secret", { NULL }, "", PX_NOPERM, "only after STARTTLS" },
	{ "unencrypted, not on loopback: nothing is sent", NET_SMTP, "plain", "PLAIN", 0, 0, 0, 0,
	  NULL, "alice", "secret", { NULL }, "", PX_NOPERM, "tls_required = false" },
	{ "unencrypted but allowed: CRAM-MD5 before PLAIN", NET_SMTP, "auto", "PLAIN CRAM-MD5", 0, 0,
	  0, 1, NULL, "tim", "tanstaaftanstaaf",
	  { "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", "235 ok", NULL },
	  "AUTH CRAM-MD5|!dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", PX_OK, NULL },
	{ "SMTP XOAUTH2 refused: the JSON challenge answered, then 535", NET_SMTP, "auto",
	  "PLAIN XOAUTH2", 0, 1, 1, 0, NULL, "a@x", "tok",
	  { "334 eyJzdGF0dXMiOiI0MDEifQ==", "535 5.7.8 bad token", NULL },
	  "!AUTH XOAUTH2 dXNlcj1hQHgBYXV0aD1CZWFyZXIgdG9rAQE=|", PX_NOPERM, "535 5.7.8 bad token" },
	{ "POP3 XOAUTH2 refused: OAUTHBEARER is not tried with the same token", NET_POP3, "auto",
	  "XOAUTH2 OAUTHBEARER", 1, 1, 1, 0, NULL, "a@x", "tok",
	  { "+ eyJzdGF0dXMiOiI0MDEifQ==", "-ERR [AUTH] bad token", NULL },
	  "!AUTH XOAUTH2 dXNlcj1hQHgBYXV0aD1CZWFyZXIgdG9rAQE=|", PX_NOPERM, "-ERR [AUTH] bad token" },
	{ "SMTP OAUTHBEARER when only it is offered", NET_SMTP, "auto", "OAUTHBEARER", 0, 1, 1, 0,
	  NULL, "a@x", "tok", { "235 ok", NULL },
	  "!AUTH OAUTHBEARER bixhPWFAeCwBaG9zdD1zbXRwLmV4YW1wbGUBcG9ydD01ODcBYXV0aD1CZWFyZXIgdG9rAQE=",
	  PX_OK, NULL },
	{ "the connection drops during AUTH: temporary", NET_SMTP, "auto", "PLAIN", 0, 0, 1, 0, NULL,
	  "alice", "secret", { NULL }, "!AUTH PLAIN AGFsaWNlAHNlY3JldA==", PX_TEMPFAIL, NULL },
	{ "POP3 auto over TLS: AUTH PLAIN with the initial response", NET_POP3, "auto",
	  "CRAM-MD5 PLAIN", 1, 0, 1, 0, "<1@x>", "alice", "secret", { "+OK logged in", NULL },
	  "!AUTH PLAIN AGFsaWNlAHNlY3JldA==", PX_OK, NULL },
	{ "POP3 auth = user sends USER/PASS although SASL is offered", NET_POP3, "user", "PLAIN", 1,
	  0, 1, 0, NULL, "alice", "secret", { "+OK", "+OK logged in", NULL },
	  "USER alice|!PASS secret", PX_OK, NULL },
	{ "POP3 APOP refused (RFC 1939's example), then USER/PASS", NET_POP3, "auto", NULL, 1, 0, 0,
	  1, "<1896.697170952@dbc.mtview.ca.us>", "mrose", "tanstaaf",
	  { "-ERR APOP not allowed", "+OK", "+OK maildrop ready", NULL },
	  "!APOP mrose c4c9334bac560ecc979e58001b3e22fb|USER mrose|!PASS tanstaaf", PX_OK, NULL },
	{ "POP3 auto over TLS prefers USER to APOP", NET_POP3, "auto", NULL, 1, 0, 1, 0,
	  "<1@x>", "alice", "secret", { "+OK", "+OK", NULL }, "USER alice|!PASS secret", PX_OK,
	  NULL },
	{ "POP3 [IN-USE] is temporary", NET_POP3, "auto", "PLAIN", 1, 0, 1, 0, NULL, "alice", "s",
	  { "-ERR [IN-USE] mailbox locked", NULL }, "!AUTH PLAIN AGFsaWNlAHM=", PX_TEMPFAIL,
	  "[IN-USE]" },
	{ "POP3 [SYS/PERM] is a permanent refusal", NET_POP3, "plain", "PLAIN", 1, 0, 1, 0, NULL,
	  "alice", "s", { "-ERR [SYS/PERM] disabled", NULL }, "!AUTH PLAIN AGFsaWNlAHM=",
	  PX_UNAVAILABLE, "[SYS/PERM]" },
	{ "POP3 [AUTH] refused everywhere: exit as a refused login", NET_POP3, "auto", "PLAIN", 1, 0,
	  1, 0, NULL, "alice", "s", { "-ERR [AUTH] bad", "+OK", "-ERR [AUTH] bad", NULL },
	  "!AUTH PLAIN AGFsaWNlAHM=|USER alice|!PASS s", PX_NOPERM, "(tried PLAIN USER;" },
	{ "POP3 a long XOAUTH2 response goes after the \"+\" (RFC 5034's 255 octets)", NET_POP3,
	  "xoauth2", "XOAUTH2", 0, 1, 1, 0, NULL, "someone@example.org",
	  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
	  { "+ ", "+OK", NULL }, NULL, PX_OK, NULL },
	{ "POP3 LOGIN", NET_POP3, "login", "LOGIN", 1, 0, 1, 0, NULL, "alice", "secret",
	  { "+ UGFzc3dvcmQ6", "+OK", NULL }, "AUTH LOGIN YWxpY2U=|!c2VjcmV0", PX_OK, NULL },
	{ "POP3 apop without a timestamp", NET_POP3, "apop", NULL, 1, 0, 1, 0, NULL, "a", "b",
	  { NULL }, "", PX_NOPERM, "has no APOP timestamp (it offers USER)" },
	{ "POP3 auto over TLS, wrong password: PLAIN and USER, never CRAM-MD5 or APOP as well",
	  NET_POP3, "auto", "PLAIN CRAM-MD5", 1, 0, 1, 0, "<1@x>", "alice", "wrongpw",
	  { "-ERR [AUTH] failed", "+OK", "-ERR [AUTH] failed", "+OK", NULL },
	  "!AUTH PLAIN AGFsaWNlAHdyb25ncHc=|USER alice|!PASS wrongpw", PX_NOPERM,
	  "(tried PLAIN USER; the server offers PLAIN CRAM-MD5 USER APOP)" },
	{ "POP3 auto over TLS, only CRAM-MD5 offered: used", NET_POP3, "auto", "CRAM-MD5", 0, 0, 1,
	  0, NULL, "tim", "tanstaaftanstaaf",
	  { "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", "+OK", NULL },
	  "AUTH CRAM-MD5|!dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", PX_OK, NULL },
	{ "auth = none: nothing to do", NET_SMTP, "none", "PLAIN", 0, 0, 0, 0, NULL, "a", "b",
	  { NULL }, "", PX_OK, NULL },
};

int
main(void)
{
	size_t i;
	char *msg, *s;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct login_case *c = &cases[i];
		struct fake f = { c->replies, 0, { 0 }, "" };
		struct sasl_io io = { &f, f_send, f_recv };
		struct sasl_offer o = { c->mechs, c->user, c->apop };
		struct sasl_creds cr = { c->u, c->pw, c->oauth, "smtp.example", 587 };
		enum px_err e;

		sb_init(&f.sent);
		sb_adds(&f.sent, "");
		e = sasl_login(c->proto, c->auth, &o, &cr, c->encrypted, c->cleartext_ok, &io,
		    NULL, &msg);
		tap_is_int((int)e, (int)c->want, c->name);
		if (c->want_sent)
			tap_is_str(f.sent.s, c->want_sent, "  what the client sent");
		else
			tap_ok(strncmp(f.sent.s, "AUTH XOAUTH2|!", 14) == 0 && f.next == 2,
			    "  the AUTH line alone, then the response (%s)", f.sent.s);
		if (c->want_msg)
			tap_ok(msg && strstr(msg, c->want_msg) != NULL, "  the message says \"%s\" (%s)",
			    c->want_msg, msg ? msg : "none");
		else if (e == PX_OK)
			tap_ok(msg == NULL, "  no message");
		if (strlen(c->pw) >= 6)
			tap_ok(msg == NULL || strstr(msg, c->pw) == NULL, "  the secret is not in the message");
		free(msg);
		sb_free(&f.sent);
	}
	s = sasl_apop_stamp("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
	tap_is_str(s, "<1896.697170952@dbc.mtview.ca.us>", "the APOP timestamp of RFC 1939's greeting");
	free(s);
	tap_ok(sasl_apop_stamp("+OK Dovecot ready.") == NULL, "no timestamp in a plain greeting");
	tap_ok(sasl_apop_stamp("+OK <not a stamp>") == NULL, "\"<not a stamp>\" is no msg-id");
	return tap_done();
}
