/*
 * Tests for the OAuth 2.0 parts of common/: the oauth2_* keys (presets,
 * checks), the form encoding, the token file (round trip, permissions,
 * freshness margin) and the error classes of token endpoint answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "oauth2http.h"
#include "oauth2store.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/postie-unit-XXXXXX";

static struct postie_cfg *
load(const char *text, char **err)
{
	char *p = strfmt("%s/c.conf", dir);
	FILE *fp = fopen(p, "w");
	struct postie_cfg *c;

	fputs(text, fp);
	fclose(fp);
	chmod(p, 0600);
	c = conf_load(p, 1, err);
	free(p);
	return c;
}

/* A configuration that must be refused with an error holding want. */
static void
refused(const char *text, const char *want, const char *name)
{
	char *err = NULL;
	struct postie_cfg *c = load(text, &err);

	tap_ok(c == NULL && err && strstr(err, want), "%s: %s", name, err ? err : "(loaded)");
	conf_free(c);
	free(err);
}

#define SMTP(keys) "smtp \"w\" { host = \"h\" user = \"me@x.org\" " keys " }\n"
#define POP3(keys) "pop3 \"in\" { host = \"h\" user = \"me@x.org\" mbox = \"/tmp/m\" " keys " }\n"

static void
test_config(void)
{
	struct postie_cfg *c;
	const struct oauth2_cfg *o;
	char *err = NULL, *want, *p;

	c = load(SMTP("oauth2_provider = \"microsoft\" oauth2_client_id = \"id1\"")
	    POP3("oauth2_provider = \"Microsoft\" oauth2_tenant = \"contoso.onmicrosoft.com\" "
	    "oauth2_client_id = \"id2\""), &err);
	tap_ok(c != NULL, "microsoft preset loads: %s", err ? err : "");
	if (c == NULL)
		return;
	o = c->smtp[0].net.oauth2;
	tap_ok(o != NULL, "oauth2 set for the smtp account");
	tap_is_str(o->token_url, "https://login.microsoftonline.com/common/oauth2/v2.0/token",
	    "microsoft token URL, tenant common by default");
	tap_is_str(o->device_url,
	    "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode", "device URL");
	tap_is_str(o->scope, "https://outlook.office.com/SMTP.Send offline_access", "SMTP scope");
	tap_is_str(o->kind, "smtp", "kind");
	tap_is_int(o->grant, OAUTH2_REFRESH_TOKEN, "refresh_token is the default grant");
	p = conf_oauth2_dir();
	want = strfmt("%s/smtp-w.json", p);
	tap_is_str(o->token_file, want, "default token file");
	free(want);
	free(p);
	o = c->pop3[0].net.oauth2;
	tap_is_str(o->authorize_url,
	    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
	    "tenant in the URL");
	tap_is_str(o->scope, "https://outlook.office.com/POP.AccessAsUser.All offline_access",
	    "POP3 scope");
	tap_is_str(o->provider, "microsoft", "provider name lower case");
	conf_free(c);

	c = load(SMTP("oauth2_provider = \"google\" oauth2_client_id = \"id\" "
	    "oauth2_client_secret = \"s\" oauth2_scope = \"x y\" "
	    "oauth2_token_file = \"/tmp/t.json\""), &err);
	tap_ok(c != NULL, "google preset loads: %s", err ? err : "");
	if (c) {
		o = c->smtp[0].net.oauth2;
		tap_is_str(o->token_url, "https://oauth2.googleapis.com/token", "google token URL");
		tap_is_str(o->scope, "x y", "oauth2_scope overrides the preset");
		tap_is_str(o->token_file, "/tmp/t.json", "oauth2_token_file");
		tap_is_str(o->client_secret, "s", "client secret");
	}
	conf_free(c);

	c = load(SMTP("oauth2_provider = \"microsoft\" oauth2_tenant = \"contoso.com\" "
	    "oauth2_grant = \"client_credentials\" oauth2_client_id = \"id\" "
	    "oauth2_client_secret_command = \"echo s\""), &err);
	tap_ok(c != NULL, "client_credentials loads: %s", err ? err : "");
	if (c) {
		char *sec;

		o = c->smtp[0].net.oauth2;
		tap_is_str(o->scope, "https://outlook.office365.com/.default", "app-only scope");
		sec = conf_oauth2_secret(o, &err);
		tap_is_str(sec, "s", "client secret from the command");
		free(sec);
	}
	conf_free(c);

	c = load(SMTP(""), &err);
	tap_ok(c && c->smtp[0].net.oauth2 == NULL, "no oauth2 key: no oauth2");
	conf_free(c);

	refused(SMTP("oauth2_provider = \"yahoo\" oauth2_client_id = \"i\""), "oauth2_provider must",
	    "unknown provider");
	refused(SMTP("oauth2_client_id = \"i\""), "oauth2_token_url is not set", "custom without URL");
	refused(SMTP("oauth2_token_url = \"http://a/t\" oauth2_client_id = \"i\""),
	    "must be an https:// URL", "http token URL");
	refused(SMTP("oauth2_provider = \"google\""), "oauth2_client_id is not set", "no client id");
	refused(SMTP("oauth2_provider = \"google\" oauth2_tenant = \"x\" oauth2_client_id = \"i\""),
	    "oauth2_tenant is for", "tenant with google");
	refused(SMTP("oauth2_provider = \"microsoft\" oauth2_tenant = \"a/b\" "
	    "oauth2_client_id = \"i\""), "tenant ID or domain", "tenant with a slash");
	refused(SMTP("oauth2_provider = \"microsoft\" oauth2_grant = \"client_credentials\" "
	    "oauth2_client_id = \"i\" oauth2_client_secret = \"s\""), "needs oauth2_tenant",
	    "client_credentials with tenant common");
	refused(SMTP("oauth2_provider = \"microsoft\" oauth2_tenant = \"c.com\" "
	    "oauth2_grant = \"client_credentials\" oauth2_client_id = \"i\""),
	    "needs oauth2_client_secret", "client_credentials without a secret");
	refused(SMTP("oauth2_provider = \"google\" oauth2_grant = \"client_credentials\" "
	    "oauth2_client_id = \"i\" oauth2_client_secret = \"s\""), "Google offers no",
	    "client_credentials with google");
	refused(SMTP("oauth2_provider = \"google\" oauth2_grant = \"password\" "
	    "oauth2_client_id = \"i\""), "oauth2_grant must", "unknown grant");
	refused(SMTP("auth = \"plain\" oauth2_provider = \"google\" oauth2_client_id = \"i\""),
	    "does not go with the oauth2_* keys", "auth = plain with oauth2");
	refused(SMTP("password = \"p\" oauth2_provider = \"google\" oauth2_client_id = \"i\""),
	    "remove password or the oauth2_* keys", "password and oauth2");
	refused("smtp \"w\" { host = \"h\" oauth2_provider = \"google\" oauth2_client_id = \"i\" }\n",
	    "needs user", "oauth2 without user");
	refused(SMTP("oauth2_provider = \"google\" oauth2_client_id = \"i\" "
	    "oauth2_client_secret = \"s\" oauth2_client_secret_command = \"c\""), "not both",
	    "secret and secret command");
}

static void
test_form(void)
{
	struct sbuf b;
	char *h;

	sb_init(&b);
	o2http_form(&b, "a", "x y/z+&=~._-");
	o2http_form(&b, "skipped", NULL);
	o2http_form(&b, "b", "\xc3\xa9");
	tap_is_str(b.s, "a=x%20y%2Fz%2B%26%3D~._-&b=%C3%A9", "form encoding");
	sb_free(&b);
	h = o2http_host("https://login.example.com:8443/x/token?y");
	tap_is_str(h, "login.example.com:8443", "host of an URL");
	free(h);
	h = o2http_host("https://u:p@ss@login.example.com/token");
	tap_is_str(h, "login.example.com", "host of an URL, without user and password");
	free(h);
}

static struct json_object *
json(const char *s)
{
	return json_tokener_parse(s);
}

static void
test_store(void)
{
	struct oauth2_cfg o;
	struct o2store s, t;
	struct json_object *j;
	struct o2http_reply r;
	struct stat st;
	char *msg = NULL;
	time_t now = time(NULL);
	enum px_err e;

	memset(&o, 0, sizeof o);
	o.kind = "pop3";
	o.account = (char *)"in box";
	o.token_url = (char *)"https://a.example/token";
	o.client_id = (char *)"id";
	o.grant = OAUTH2_REFRESH_TOKEN;
	o.token_file = strfmt("%s/tok/pop3-in.json", dir);
	o2store_init(&s, &o);
	tap_is_int(o2store_read(&s, &msg), PX_OK, "a missing token file is empty");
	tap_ok(s.refresh_token == NULL && !o2store_fresh(&s, now), "nothing in it");

	j = json("{\"access_token\":\"at1\",\"token_type\":\"Bearer\",\"expires_in\":\"3600\"}");
	e = o2store_take(&s, j, 1, now, &msg);
	tap_is_int(e, PX_NOPERM, "a first grant without refresh token is refused");
	tap_ok(msg && strstr(msg, "no refresh token"), "says so: %s", msg ? msg : "");
	free(msg);
	json_object_put(j);

	j = json("{\"access_token\":\"at1\",\"token_type\":\"bearer\",\"expires_in\":3600,"
	    "\"refresh_token\":\"rt1\"}");
	tap_is_int(o2store_take(&s, j, 1, now, &msg), PX_OK, "a grant is taken");
	json_object_put(j);
	tap_is_int(o2store_lock(&s, 1, &msg), PX_OK, "lock (the directory is made)");
	tap_is_int(o2store_write(&s, &msg), PX_OK, "written");
	stat(o.token_file, &st);
	tap_is_int(st.st_mode & 07777, 0600, "token file 0600");
	*strrchr(o.token_file, '/') = '\0';
	stat(o.token_file, &st);
	tap_is_int(st.st_mode & 07777, 0700, "its directory 0700");
	o.token_file[strlen(o.token_file)] = '/';

	o2store_init(&t, &o);
	tap_is_int(o2store_lock(&t, 0, &msg), PX_TEMPFAIL, "a held lock is not taken twice");
	tap_ok(msg && strstr(msg, "holds the token file's lock"), "says so: %s", msg ? msg : "");
	free(msg);
	tap_is_int(o2store_read(&t, &msg), PX_OK, "read back");
	tap_is_str(t.refresh_token, "rt1", "refresh token kept");
	tap_is_str(t.access_token, "at1", "access token kept");
	tap_ok(o2store_fresh(&t, now), "fresh now");
	tap_ok(!o2store_fresh(&t, now + 3600 - 59), "not fresh within a minute of its end");

	/* A rotation keeps the new one; no refresh token in the answer keeps the old. */
	j = json("{\"access_token\":\"at2\",\"expires_in\":30}");
	tap_is_int(o2store_take(&t, j, 0, now, &msg), PX_OK, "a refresh without rotation");
	json_object_put(j);
	tap_is_str(t.refresh_token, "rt1", "the old refresh token stays");
	tap_ok(o2store_fresh(&t, now + 14) && !o2store_fresh(&t, now + 16),
	    "a 30 s token: margin of half its life");
	j = json("{\"access_token\":\"bad token\",\"expires_in\":30}");
	tap_is_int(o2store_take(&t, j, 0, now, &msg), PX_TEMPFAIL, "a token with a space is refused");
	free(msg);
	json_object_put(j);
	o2store_free(&t);
	o2store_free(&s);

	chmod(o.token_file, 0640);
	o2store_init(&t, &o);
	tap_is_int(o2store_read(&t, &msg), PX_CONFIG, "a token file open to others is refused");
	tap_ok(msg && strstr(msg, "chmod 600"), "says how to mend it: %s", msg ? msg : "");
	free(msg);
	chmod(o.token_file, 0600);
	if (getuid() == 0) {
		(void)chown(o.token_file, 65534, 65534);
		tap_is_int(o2store_read(&t, &msg), PX_CONFIG, "another user's token file is refused");
		tap_ok(msg && strstr(msg, "belongs to uid 65534"), "says whose: %s", msg ? msg : "");
		free(msg);
		(void)chown(o.token_file, 0, 0);
	} else
		tap_skip("not root", "another user's token file");
	o2store_free(&t);

	/* What the endpoint's errors mean. */
	r.status = 400;
	r.json = json("{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008:\\n expired\"}");
	tap_is_int(o2http_refusal(&o, o.token_url, "the refresh token", &r, &msg), PX_NOPERM,
	    "invalid_grant: authentication refused");
	tap_is_str(msg, "pop3 account \"in box\": the token endpoint a.example refused the refresh "
	    "token: HTTP 400, invalid_grant: AADSTS70008:  expired; run `popfetch --authorize "
	    "'in box'`", "the line: error, description, what to run");
	free(msg);
	o2http_reply_free(&r);
	r.status = 401;
	r.json = json("{\"error\":\"invalid_client\"}");
	tap_is_int(o2http_refusal(&o, o.token_url, "x", &r, &msg), PX_CONFIG, "invalid_client");
	free(msg);
	o2http_reply_free(&r);
	r.status = 503;
	r.json = NULL;
	tap_is_int(o2http_refusal(&o, o.token_url, "x", &r, &msg), PX_TEMPFAIL, "503: temporary");
	tap_ok(strstr(msg, "the answer is not JSON") != NULL, "no JSON: said: %s", msg);
	free(msg);
	r.status = 400;
	r.json = json("{\"error\":\"temporarily_unavailable\"}");
	tap_is_int(o2http_refusal(&o, o.token_url, "x", &r, &msg), PX_TEMPFAIL,
	    "temporarily_unavailable");
	free(msg);
	o2http_reply_free(&r);
	free(o.token_file);
}

int
main(void)
{
	char *cmd;

	if (mkdtemp(dir) == NULL)
		return 1;
	test_config();
	test_form();
	test_store();
	cmd = strfmt("rm -rf %s", dir);
	if (cmd && system(cmd) != 0)
		tap_diag("cannot remove %s", dir);
	free(cmd);
	return tap_done();
}
