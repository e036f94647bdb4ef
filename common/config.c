/* config.c: postie.conf(5) schema, lookup, checks, account selection, passwords. */
#include <confuse.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef SPOOLDIR
#define SPOOLDIR "/var/spool/postie"
#endif

/* Keys every account section may set to override the top level. */
#define NET_OPTS \
	CFG_STR("host", NULL, CFGF_NODEFAULT), \
	CFG_INT("port", 0, CFGF_NODEFAULT), \
	CFG_STR("tls", NULL, CFGF_NODEFAULT), \
	CFG_STR("auth", NULL, CFGF_NODEFAULT), \
	CFG_STR("user", NULL, CFGF_NODEFAULT), \
	CFG_STR("password", NULL, CFGF_NODEFAULT), \
	CFG_STR("password_command", NULL, CFGF_NODEFAULT), \
	CFG_INT("timeout", 0, CFGF_NODEFAULT), \
	CFG_STR("tls_ca_file", NULL, CFGF_NODEFAULT), \
	CFG_BOOL("tls_verify", cfg_true, CFGF_NODEFAULT), \
	CFG_BOOL("tls_required", cfg_true, CFGF_NODEFAULT), \
	CFG_STR("tls_fingerprint", NULL, CFGF_NODEFAULT), \
	CFG_STR("tls_cert_file", NULL, CFGF_NODEFAULT), \
	CFG_STR("tls_key_file", NULL, CFGF_NODEFAULT), \
	CFG_STR("domain", NULL, CFGF_NODEFAULT)

/* OAuth 2.0 (oauth2.h), in smtp and pop3 sections. */
#define OAUTH2_OPTS \
	CFG_STR("oauth2_provider", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_tenant", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_token_url", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_authorize_url", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_device_url", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_client_id", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_client_secret", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_client_secret_command", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_scope", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_grant", NULL, CFGF_NODEFAULT), \
	CFG_STR("oauth2_token_file", NULL, CFGF_NODEFAULT)

static cfg_opt_t smtp_opts[] = {
	NET_OPTS,
	OAUTH2_OPTS,
	CFG_STR("from", NULL, CFGF_NODEFAULT),
	CFG_STR("from_rewrite", "local", CFGF_NONE),
	CFG_STR("queue", "on_failure", CFGF_NONE),
	CFG_STR("bounce", NULL, CFGF_NODEFAULT),
	CFG_STR("helo", NULL, CFGF_NODEFAULT),
	CFG_END()
};

static cfg_opt_t pop3_opts[] = {
	NET_OPTS,
	OAUTH2_OPTS,
	CFG_STR("mbox", NULL, CFGF_NODEFAULT),
	CFG_STR("maildir", NULL, CFGF_NODEFAULT),
	CFG_STR("mda", NULL, CFGF_NODEFAULT),
	CFG_BOOL("keep", cfg_false, CFGF_NONE),
	CFG_BOOL("only_new", cfg_true, CFGF_NONE),
	CFG_INT("max_messages", 0, CFGF_NONE),
	CFG_INT("max_size", 0, CFGF_NONE),
	CFG_INT("interval", 300, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t top_opts[] = {
	CFG_STR("domain", NULL, CFGF_NODEFAULT),
	CFG_STR("helo", NULL, CFGF_NODEFAULT),
	CFG_STR("aliases", "/etc/aliases", CFGF_NONE),
	CFG_STR("log", "syslog", CFGF_NONE),
	CFG_INT("timeout", 60, CFGF_NONE),
	CFG_STR("tls_ca_file", "", CFGF_NONE),
	CFG_BOOL("tls_verify", cfg_true, CFGF_NONE),
	CFG_BOOL("tls_required", cfg_true, CFGF_NONE),
	CFG_STR("tls_fingerprint", "", CFGF_NONE),
	CFG_STR("tls_cert_file", "", CFGF_NONE),
	CFG_STR("tls_key_file", "", CFGF_NONE),
	CFG_STR("queue_dir", "", CFGF_NONE),
	CFG_INT("queue_lifetime", CONF_QUEUE_LIFETIME, CFGF_NONE),
	CFG_INT("failed_lifetime", 2592000, CFGF_NONE),
	CFG_STR("bounce", "sender", CFGF_NONE),
	CFG_INT("max_parallel", 4, CFGF_NONE),
	CFG_STR("delivery", "foreground", CFGF_NONE),
	CFG_INT("connection_cache", 5, CFGF_NONE),
	CFG_STR("queue_user_messages", "1000", CFGF_NONE),
	CFG_STR("queue_user_bytes", "100M", CFGF_NONE),
	CFG_STR("queue_minfree", "50M", CFGF_NONE),
	CFG_SEC("smtp", smtp_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("pop3", pop3_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

static char errtext[512];

/* The file being parsed from memory (libconfuse calls it "[buf]"). */
static const char *parsing;

static void
conf_errfn(cfg_t *c, const char *fmt, va_list ap)
{
	char msg[400];
	const char *file = parsing ? parsing : c ? c->filename : NULL;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (c && file && c->line)
		snprintf(errtext, sizeof errtext, "%s:%d: %s", file, c->line, msg);
	else if (file)
		snprintf(errtext, sizeof errtext, "%s: %s", file, msg);
	else
		snprintf(errtext, sizeof errtext, "%s", msg);
}

char *
conf_find(const char *explicit, int env_allowed)
{
	const char *e;
	char *home, *p;
	struct stat st;

	if (explicit && env_allowed)
		return strdup(explicit);
	if (env_allowed) {
		if ((e = getenv("POSTIE_CONF")) != NULL && *e)
			return strdup(e);
		if ((e = getenv("XDG_CONFIG_HOME")) != NULL && *e == '/')
			p = strfmt("%s/postie/postie.conf", e);
		else {
			home = util_home();
			p = home ? strfmt("%s/.config/postie/postie.conf", home) : NULL;
			free(home);
		}
		if (p && stat(p, &st) == 0)
			return p;
		free(p);
	}
	return strdup(SYSCONFDIR "/postie.conf");
}

/* 1 when path exists (as anything: a directory is then an error to report). */
static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 || errno != ENOENT;
}

/* conf_load, noting which file in *file (malloc'd). */
static struct postie_cfg *
load_noting(const char *path, int must_exist, char **file, char **err)
{
	free(*file);
	*file = strdup(path);
	return conf_load(path, must_exist, err);
}

struct postie_cfg *
conf_load_for(const char *explicit, int env_allowed, enum conf_want want, char **file,
    char **err)
{
	struct postie_cfg *cf, *sys;
	const char *e;
	char *user = NULL, *home, *looked;
	int must;

	*err = NULL;
	*file = NULL;
	/* Named by the caller: that file, no other. */
	if (explicit && env_allowed)
		return load_noting(explicit, 1, file, err);
	if (env_allowed && (e = getenv("POSTIE_CONF")) != NULL && *e) {
		if ((cf = load_noting(e, 0, file, err)) != NULL && !exists(e)) {
			cf->looked = strdup(e);
			cf->none = 1;
		}
		return cf;
	}
	if (env_allowed) {
		if ((e = getenv("XDG_CONFIG_HOME")) != NULL && *e == '/')
			user = strfmt("%s/postie/postie.conf", e);
		else {
			home = util_home();
			user = home ? strfmt("%s/.config/postie/postie.conf", home) : NULL;
			free(home);
		}
	}
	if (user && exists(user)) {
		if ((cf = load_noting(user, 1, file, err)) == NULL) {
			free(user);
			return NULL;
		}
		must = (want == CONF_SMTP && cf->nsmtp == 0) || (want == CONF_POP3 && cf->npop3 == 0);
		/*
		 * A user file for the other program only (popfetch's pop3
		 * sections, say) does not hide the system one.
		 */
		if (must && exists(SYSCONFDIR "/postie.conf")) {
			if ((sys = load_noting(SYSCONFDIR "/postie.conf", 1, file, err)) == NULL) {
				conf_free(cf);
				free(user);
				return NULL;
			}
			conf_free(cf);
			cf = sys;
		}
		if (must && (want == CONF_SMTP ? cf->nsmtp : cf->npop3) == 0 &&
		    (looked = strfmt("%s, " SYSCONFDIR "/postie.conf", user)) != NULL) {
			free(cf->looked);
			cf->looked = looked;
		}
		free(user);
		return cf;
	}
	cf = load_noting(SYSCONFDIR "/postie.conf", 0, file, err);
	if (cf && !exists(SYSCONFDIR "/postie.conf")) {
		cf->looked = user ? strfmt("%s, " SYSCONFDIR "/postie.conf", user) :
		    strdup(SYSCONFDIR "/postie.conf");
		cf->none = 1;
	}
	free(user);
	return cf;
}

/* A string option that is set and not empty, or NULL. */
static const char *
optstr(cfg_t *sec, const char *key)
{
	const char *s;

	if (sec == NULL || cfg_size(sec, key) == 0)
		return NULL;
	s = cfg_getstr(sec, key);
	return (s && *s) ? s : NULL;
}

static int
parse_tls(const char *s, enum tls_mode *m)
{
	if (s == NULL || strcasecmp(s, "starttls") == 0)
		*m = TLS_STARTTLS;
	else if (strcasecmp(s, "tls") == 0 || strcasecmp(s, "ssl") == 0)
		*m = TLS_TLS;
	else if (strcasecmp(s, "none") == 0)
		*m = TLS_NONE;
	else
		return -1;
	return 0;
}

static const char *const smtp_auths[] = { "auto", "none", "plain", "login", "cram-md5",
	"xoauth2", "oauthbearer", "external", NULL };
static const char *const pop3_auths[] = { "auto", "none", "user", "apop", "plain", "login",
	"cram-md5", "xoauth2", "oauthbearer", "external", NULL };

static int
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcasecmp(s, *list) == 0)
			return 1;
	return 0;
}

/*
 * A path key's value with ~/ expanded (to *out; NULL when unset).  In the
 * setgid sendmail the system file serves every user: ~ would be whoever
 * calls, a file of theirs read with the group's rights, so it is refused.
 */
static int
path_key(const char *val, const char *where, const char *key, char **out, char **err)
{
	*out = NULL;
	if (val == NULL)
		return 0;
	if (val[0] == '~' && getegid() != getgid()) {
		*err = strfmt("%s: %s = \"%s\": ~ would be the home of whoever calls the setgid "
		    "sendmail; use an absolute path", where, key, val);
		return -1;
	}
	if ((*out = util_expand_tilde(val)) == NULL) {
		*err = strfmt("%s: %s: out of memory, or no home directory for ~", where, key);
		return -1;
	}
	return 0;
}

/* Fills net from section sec with top-level defaults; *err on a bad value. */
static int
load_net(struct net_cfg *n, cfg_t *top, cfg_t *sec, int pop3, const char *where, char **err)
{
	const char *s;
	char *lower, *p;

	memset(n, 0, sizeof *n);
	if ((s = optstr(sec, "host")) == NULL) {
		*err = strfmt("%s: no host", where);
		return -1;
	}
	n->host = strdup(s);
	if (parse_tls(optstr(sec, "tls"), &n->tls) == -1) {
		*err = strfmt("%s: tls must be \"tls\", \"starttls\" or \"none\", not \"%s\"",
		    where, optstr(sec, "tls"));
		return -1;
	}
	if (cfg_size(sec, "port") > 0)
		n->port = (int)cfg_getint(sec, "port");
	else if (pop3)
		n->port = n->tls == TLS_TLS ? 995 : 110;
	else
		n->port = n->tls == TLS_TLS ? 465 : n->tls == TLS_STARTTLS ? 587 : 25;
	if (n->port <= 0 || n->port > 65535) {
		*err = strfmt("%s: port %d is out of range", where, n->port);
		return -1;
	}
	s = optstr(sec, "auth");
	lower = strdup(s ? s : "auto");
	for (p = lower; p && *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	n->auth = lower;
	if (lower && !in_list(lower, pop3 ? pop3_auths : smtp_auths)) {
		*err = strfmt("%s: unknown auth method \"%s\"", where, lower);
		return -1;
	}
	n->user = xstrdup(optstr(sec, "user"));
	n->password = xstrdup(optstr(sec, "password"));
	n->password_command = xstrdup(optstr(sec, "password_command"));
	n->timeout = (int)(cfg_size(sec, "timeout") > 0 ? cfg_getint(sec, "timeout") :
	    cfg_getint(top, "timeout"));
	if (n->timeout <= 0) {
		*err = strfmt("%s: timeout must be a positive number of seconds", where);
		return -1;
	}
	n->tls_verify = cfg_size(sec, "tls_verify") > 0 ? cfg_getbool(sec, "tls_verify") :
	    cfg_getbool(top, "tls_verify");
	n->tls_required = cfg_size(sec, "tls_required") > 0 ? cfg_getbool(sec, "tls_required") :
	    cfg_getbool(top, "tls_required");
	/* A key set in the section wins, "" too: it means "none" (for
	 * tls_ca_file the system store), whatever the top level says. */
#define INHERIT(key) (cfg_size(sec, key) > 0 ? optstr(sec, key) : optstr(top, key))
	n->tls_fingerprint = xstrdup(INHERIT("tls_fingerprint"));
	if (path_key(INHERIT("tls_ca_file"), where, "tls_ca_file", &n->tls_ca_file, err) == -1 ||
	    path_key(INHERIT("tls_cert_file"), where, "tls_cert_file", &n->tls_cert_file, err) == -1 ||
	    path_key(INHERIT("tls_key_file"), where, "tls_key_file", &n->tls_key_file, err) == -1)
		return -1;
#undef INHERIT
	if (n->tls_fingerprint && strncmp(n->tls_fingerprint, "sha256//", 8) != 0) {
		*err = strfmt("%s: tls_fingerprint must look like \"sha256//BASE64\"", where);
		return -1;
	}
	/*
	 * Credentials without TLS: tls = "none" alone is not consent to send a
	 * password in clear to a host that is not on loopback; that takes
	 * tls_required = false (sasl_plan() enforces it).
	 */
	return 0;
}

/* ---- OAuth 2.0 (the oauth2_* keys) ---- */

#define MS_LOGIN "https://login.microsoftonline.com/"

/* The endpoints and scopes a provider fills in; %s is the tenant (Microsoft). */
static const struct o2preset {
	const char *name;
	const char *token, *authorize, *device;
	const char *smtp_scope, *pop3_scope, *app_scope;
} o2presets[] = {
	{ "microsoft", MS_LOGIN "%s/oauth2/v2.0/token", MS_LOGIN "%s/oauth2/v2.0/authorize",
	  MS_LOGIN "%s/oauth2/v2.0/devicecode",
	  "https://outlook.office.com/SMTP.Send offline_access",
	  "https://outlook.office.com/POP.AccessAsUser.All offline_access",
	  "https://outlook.office365.com/.default" },
	{ "google", "https://oauth2.googleapis.com/token",
	  "https://accounts.google.com/o/oauth2/v2/auth",
	  "https://oauth2.googleapis.com/device/code",
	  "https://mail.google.com/", "https://mail.google.com/", NULL },
	{ "custom", NULL, NULL, NULL, NULL, NULL, NULL },
};

static int
has_oauth2_key(cfg_t *sec)
{
	static const char *const keys[] = { "oauth2_provider", "oauth2_tenant",
		"oauth2_token_url", "oauth2_authorize_url", "oauth2_device_url",
		"oauth2_client_id", "oauth2_client_secret", "oauth2_client_secret_command",
		"oauth2_scope", "oauth2_grant", "oauth2_token_file", NULL };
	const char *const *k;

	for (k = keys; *k; k++)
		if (optstr(sec, *k))
			return 1;
	return 0;
}

/* A preset URL with the tenant put in, or the key's value when set. */
static char *
o2url(cfg_t *sec, const char *key, const char *preset, const char *tenant)
{
	if (optstr(sec, key))
		return strdup(optstr(sec, key));
	return preset ? strfmt(preset, tenant) : NULL;
}

/* The default token file: DIR/KIND-NAME.json, the name kept one file name. */
static char *
o2default_file(const char *kind, const char *name)
{
	char *dir, *safe, *p, *r;

	if ((dir = conf_oauth2_dir()) == NULL || (safe = strdup(name)) == NULL) {
		free(dir);
		return NULL;
	}
	for (p = safe; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '_';
	r = strfmt("%s/%s-%s.json", dir, kind, safe);
	free(dir);
	free(safe);
	return r;
}

static void
free_oauth2(struct oauth2_cfg *o)
{
	if (o == NULL)
		return;
	free(o->account);
	free(o->provider);
	free(o->token_url);
	free(o->authorize_url);
	free(o->device_url);
	free(o->client_id);
	util_wipe(&o->client_secret);
	free(o->client_secret_command);
	free(o->scope);
	free(o->token_file);
	free(o);
}

/*
 * Fills n->oauth2 from the oauth2_* keys of a section (left NULL when none
 * is set), applying the provider's preset; *err on a bad combination.
 */
static int
load_oauth2(struct net_cfg *n, cfg_t *sec, const char *kind, const char *name,
    const char *where, char **err)
{
	const struct o2preset *pr = NULL;
	struct oauth2_cfg *o;
	const char *s, *tenant, *scope, **u, *urls[3];
	size_t i;

	if (!has_oauth2_key(sec))
		return 0;
	if ((o = n->oauth2 = calloc(1, sizeof *o)) == NULL) {
		*err = strdup("out of memory");
		return -1;
	}
	o->kind = kind;
	o->account = strdup(name);
	s = optstr(sec, "oauth2_provider");
	for (i = 0; i < sizeof o2presets / sizeof o2presets[0]; i++)
		if (strcasecmp(s ? s : "custom", o2presets[i].name) == 0)
			pr = &o2presets[i];
	if (pr == NULL) {
		*err = strfmt("%s: oauth2_provider must be \"microsoft\", \"google\" or "
		    "\"custom\", not \"%s\"", where, s);
		return -1;
	}
	o->provider = strdup(pr->name);
	s = optstr(sec, "oauth2_grant");
	if (s == NULL || strcasecmp(s, "refresh_token") == 0)
		o->grant = OAUTH2_REFRESH_TOKEN;
	else if (strcasecmp(s, "client_credentials") == 0)
		o->grant = OAUTH2_CLIENT_CREDENTIALS;
	else {
		*err = strfmt("%s: oauth2_grant must be \"refresh_token\" or "
		    "\"client_credentials\", not \"%s\"", where, s);
		return -1;
	}
	tenant = optstr(sec, "oauth2_tenant");
	if (tenant && strcmp(pr->name, "microsoft") != 0) {
		*err = strfmt("%s: oauth2_tenant is for oauth2_provider = \"microsoft\"", where);
		return -1;
	}
	if (tenant == NULL)
		tenant = "common";
	if (strspn(tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
	    strlen(tenant)) {
		*err = strfmt("%s: oauth2_tenant must be a tenant ID or domain name", where);
		return -1;
	}
	o->token_url = o2url(sec, "oauth2_token_url", pr->token, tenant);
	o->authorize_url = o2url(sec, "oauth2_authorize_url", pr->authorize, tenant);
	o->device_url = o2url(sec, "oauth2_device_url", pr->device, tenant);
	scope = o->grant == OAUTH2_CLIENT_CREDENTIALS ? pr->app_scope :
	    strcmp(kind, "pop3") == 0 ? pr->pop3_scope : pr->smtp_scope;
	o->scope = xstrdup(optstr(sec, "oauth2_scope") ? optstr(sec, "oauth2_scope") : scope);
	o->client_id = xstrdup(optstr(sec, "oauth2_client_id"));
	o->client_secret = xstrdup(optstr(sec, "oauth2_client_secret"));
	o->client_secret_command = xstrdup(optstr(sec, "oauth2_client_secret_command"));
	if (optstr(sec, "oauth2_token_file")) {
		if (path_key(optstr(sec, "oauth2_token_file"), where, "oauth2_token_file",
		    &o->token_file, err) == -1)
			return -1;
	} else
		o->token_file = o2default_file(kind, name);
	if (o->account == NULL || o->provider == NULL || o->token_file == NULL) {
		*err = strfmt("%s: out of memory, or no home directory for the token file", where);
		return -1;
	}

	if (o->token_url == NULL) {
		*err = strfmt("%s: oauth2_token_url is not set (or set oauth2_provider)", where);
		return -1;
	}
	urls[0] = o->token_url;
	urls[1] = o->authorize_url;
	urls[2] = o->device_url;
	for (u = urls; u < urls + 3; u++)
		if (*u && strncasecmp(*u, "https://", 8) != 0) {
			*err = strfmt("%s: %s must be an https:// URL", where, *u);
			return -1;
		}
	if (o->client_id == NULL) {
		*err = strfmt("%s: oauth2_client_id is not set (the application's ID "
		    "from its registration)", where);
		return -1;
	}
	if (o->client_secret && o->client_secret_command) {
		*err = strfmt("%s: set oauth2_client_secret or oauth2_client_secret_command, "
		    "not both", where);
		return -1;
	}
	if (o->grant == OAUTH2_CLIENT_CREDENTIALS) {
		if (strcmp(pr->name, "google") == 0) {
			*err = strfmt("%s: Google offers no client_credentials grant for mail "
			    "(oauth2_grant = \"refresh_token\")", where);
			return -1;
		}
		if (!o->client_secret && !o->client_secret_command) {
			*err = strfmt("%s: oauth2_grant = \"client_credentials\" needs "
			    "oauth2_client_secret or oauth2_client_secret_command", where);
			return -1;
		}
		if (strcmp(pr->name, "microsoft") == 0 && (strcasecmp(tenant, "common") == 0 ||
		    strcasecmp(tenant, "organizations") == 0 ||
		    strcasecmp(tenant, "consumers") == 0)) {
			*err = strfmt("%s: oauth2_grant = \"client_credentials\" needs "
			    "oauth2_tenant = your tenant's ID or domain", where);
			return -1;
		}
	}
	if (strcmp(n->auth, "auto") != 0 && strcmp(n->auth, "xoauth2") != 0 &&
	    strcmp(n->auth, "oauthbearer") != 0) {
		*err = strfmt("%s: auth = \"%s\" does not go with the oauth2_* keys (use "
		    "\"auto\", \"xoauth2\" or \"oauthbearer\")", where, n->auth);
		return -1;
	}
	if (n->password || n->password_command) {
		*err = strfmt("%s: an account logs in with a password or with OAuth 2.0: "
		    "remove password%s or the oauth2_* keys", where,
		    n->password ? "" : "_command");
		return -1;
	}
	if (n->user == NULL) {
		*err = strfmt("%s: OAuth 2.0 needs user (the mailbox's address)", where);
		return -1;
	}
	return 0;
}

/* A secret: value, else the first line of command's output (key names it in errors). */
static char *
secret_of(const char *value, const char *command, const char *key, char **err)
{
	const char *why;
	char *s;

	*err = NULL;
	if (value)
		return strdup(value);
	if (command == NULL)
		return NULL;
	/*
	 * Not the command itself: the error reaches queue entries and mailq,
	 * and a system configuration's command is not the user's business.
	 */
	if ((s = util_command_line(command, &why)) == NULL)
		*err = strfmt("%s failed: %s", key, why);
	return s;
}

char *
conf_oauth2_dir(void)
{
	/*
	 * The setgid sendmail serves every user from the system's files, with
	 * the environment cleared: one place, whoever calls.
	 */
	if (getegid() != getgid())
		return strdup("/var/lib/postie/oauth2");
	return util_state_dir("oauth2");
}

char *
conf_oauth2_secret(const struct oauth2_cfg *o, char **err)
{
	return secret_of(o->client_secret, o->client_secret_command,
	    "oauth2_client_secret_command", err);
}

static void
free_net(struct net_cfg *n)
{
	free(n->host);
	free(n->auth);
	free(n->user);
	if (n->password) {
		explicit_bzero(n->password, strlen(n->password));
		free(n->password);
	}
	free(n->password_command);
	free(n->tls_ca_file);
	free(n->tls_fingerprint);
	free(n->tls_cert_file);
	free(n->tls_key_file);
	free_oauth2(n->oauth2);
}

/* An EHLO name: a name with a dot, or an address literal ("[192.0.2.1]"). */
static int
helo_ok(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return 0;
	if (*s == '[')
		return p - s > 2 && p[-1] == ']';
	return strchr(s, '.') != NULL && *s != '.' && p[-1] != '.';
}

static int
load_smtp(struct postie_cfg *cf, cfg_t *top, cfg_t *sec, struct smtp_account *a, char **err)
{
	char where[300];
	const char *s;

	snprintf(where, sizeof where, "%s: smtp \"%s\"", cf->path, cfg_title(sec));
	a->name = strdup(cfg_title(sec));
	a->conf = cf->path;
	if (load_net(&a->net, top, sec, 0, where, err) == -1 ||
	    load_oauth2(&a->net, sec, "smtp", a->name, where, err) == -1)
		return -1;
	a->from = xstrdup(optstr(sec, "from"));
	a->domain = strdup(optstr(sec, "domain") ? optstr(sec, "domain") : cf->domain);
	s = optstr(sec, "helo") ? optstr(sec, "helo") : optstr(top, "helo");
	if (s && !helo_ok(s)) {
		*err = strfmt("%s: helo = \"%s\" is not a fully qualified host name or an address "
		    "literal such as [192.0.2.1]", where, s);
		return -1;
	}
	a->helo = xstrdup(s);
	s = cfg_getstr(sec, "from_rewrite");
	if (strcasecmp(s, "local") == 0)
		a->from_rewrite = FROM_REWRITE_LOCAL;
	else if (strcasecmp(s, "always") == 0)
		a->from_rewrite = FROM_REWRITE_ALWAYS;
	else if (strcasecmp(s, "never") == 0)
		a->from_rewrite = FROM_REWRITE_NEVER;
	else {
		*err = strfmt("%s: from_rewrite must be \"local\", \"always\" or \"never\"", where);
		return -1;
	}
	s = optstr(sec, "bounce") ? optstr(sec, "bounce") : cfg_getstr(top, "bounce");
	if (strcasecmp(s, "sender") == 0)
		a->bounce = 1;
	else if (strcasecmp(s, "none") == 0)
		a->bounce = 0;
	else {
		*err = strfmt("%s: bounce must be \"sender\" or \"none\", not \"%s\"", where, s);
		return -1;
	}
	s = cfg_getstr(sec, "queue");
	if (strcasecmp(s, "on_failure") == 0)
		a->queue = 1;
	else if (strcasecmp(s, "never") == 0)
		a->queue = 0;
	else {
		*err = strfmt("%s: queue must be \"on_failure\" or \"never\"", where);
		return -1;
	}
	return 0;
}

static int
load_pop3(struct postie_cfg *cf, cfg_t *top, cfg_t *sec, struct pop3_account *a, char **err)
{
	char where[300];
	int ndest = 0;

	snprintf(where, sizeof where, "%s: pop3 \"%s\"", cf->path, cfg_title(sec));
	a->name = strdup(cfg_title(sec));
	if (load_net(&a->net, top, sec, 1, where, err) == -1 ||
	    load_oauth2(&a->net, sec, "pop3", a->name, where, err) == -1)
		return -1;
	if (optstr(sec, "mbox")) {
		a->dest = DEST_MBOX;
		a->dest_path = util_expand_tilde(optstr(sec, "mbox"));
		ndest++;
	}
	if (optstr(sec, "maildir")) {
		a->dest = DEST_MAILDIR;
		free(a->dest_path);
		a->dest_path = util_expand_tilde(optstr(sec, "maildir"));
		ndest++;
	}
	if (optstr(sec, "mda")) {
		a->dest = DEST_MDA;
		free(a->dest_path);
		a->dest_path = strdup(optstr(sec, "mda"));
		ndest++;
	}
	if (ndest != 1) {
		*err = strfmt("%s: set exactly one of mbox, maildir and mda", where);
		return -1;
	}
	a->keep = cfg_getbool(sec, "keep");
	a->only_new = cfg_getbool(sec, "only_new");
	a->max_messages = cfg_getint(sec, "max_messages");
	a->max_size = cfg_getint(sec, "max_size");
	a->interval = cfg_getint(sec, "interval");
	if (a->max_messages < 0 || a->max_size < 0 || a->interval <= 0) {
		*err = strfmt("%s: max_messages and max_size must be >= 0, interval > 0", where);
		return -1;
	}
	return 0;
}

char *
conf_default_queue_dir(void)
{
	char *home, *r;
	const char *st;

	/*
	 * root, and a setgid sendmail serving every user, use the system
	 * spool; root may name another (tests, a chroot), a setgid sendmail
	 * never reads the caller's environment.
	 */
	if (getuid() == 0 || getegid() != getgid()) {
		if (getegid() == getgid() && (st = getenv("POSTIE_SPOOLDIR")) != NULL && *st == '/')
			return strdup(st);
		return strdup(SPOOLDIR);
	}
	if ((st = getenv("XDG_STATE_HOME")) != NULL && *st == '/')
		return strfmt("%s/postie/queue", st);
	home = util_home();
	r = home ? strfmt("%s/.local/state/postie/queue", home) : NULL;
	free(home);
	return r;
}

/* "1048576", "512K", "100M", "2G" (1024-based) -> *v; -1 if not that. */
static int
parse_size(const char *s, long long *v)
{
	char *end;
	long long n, mul = 1;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || n < 0 || errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1024LL; end++; break;
	case 'm': case 'M': mul = 1024LL * 1024; end++; break;
	case 'g': case 'G': mul = 1024LL * 1024 * 1024; end++; break;
	}
	if (*end || n > (1LL << 62) / mul)
		return -1;
	*v = n * mul;
	return 0;
}

/* A size key of the top level into *v; *err names the key and the file. */
static int
size_key(cfg_t *top, const char *path, const char *key, int suffixes, long long *v, char **err)
{
	const char *s = cfg_getstr(top, key);

	if (s == NULL || parse_size(s, v) == -1 || (!suffixes && strspn(s, "0123456789") != strlen(s))) {
		*err = strfmt("%s: %s must be a number%s, not \"%s\"", path, key,
		    suffixes ? " of bytes, optionally with K, M or G" : "", s ? s : "");
		return -1;
	}
	return 0;
}

/* 1 if any section sets a password (or an OAuth 2.0 client secret) in the file. */
static int
has_password(cfg_t *top)
{
	unsigned i;

	for (i = 0; i < cfg_size(top, "smtp"); i++)
		if (optstr(cfg_getnsec(top, "smtp", i), "password") ||
		    optstr(cfg_getnsec(top, "smtp", i), "oauth2_client_secret"))
			return 1;
	for (i = 0; i < cfg_size(top, "pop3"); i++)
		if (optstr(cfg_getnsec(top, "pop3", i), "password") ||
		    optstr(cfg_getnsec(top, "pop3", i), "oauth2_client_secret"))
			return 1;
	return 0;
}

/* A configuration is small: more than this is not one. */
#define CONF_MAX	(4 * 1024 * 1024)

/* Reads the whole file; 0, or -1 with *err "FILE: cannot read: REASON". */
static int
slurp_conf(FILE *fp, const char *path, char **text, char **err)
{
	struct sbuf b;
	char buf[8192];
	size_t n;

	sb_init(&b);
	sb_adds(&b, "");
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0) {
		if (b.len + n > CONF_MAX) {
			*err = strfmt("%s: larger than %d MiB: not a configuration file", path,
			    CONF_MAX / (1024 * 1024));
			sb_free(&b);
			return -1;
		}
		if (memchr(buf, '\0', n) != NULL) {
			*err = strfmt("%s: holds a NUL byte: not a configuration file", path);
			sb_free(&b);
			return -1;
		}
		if (sb_addn(&b, buf, n) == -1) {
			*err = strdup("out of memory");
			sb_free(&b);
			return -1;
		}
	}
	if (ferror(fp)) {
		*err = strfmt("%s: cannot read: %s", path, strerror(errno));
		sb_free(&b);
		return -1;
	}
	*text = sb_steal(&b);
	return 0;
}

/* The heap a parse of a small file takes (see conf_load), below malloc's 128 KB trim threshold. */
#define CONF_PARSE_RESERVE	(32 * 1024)

struct postie_cfg *
conf_load(const char *path, int must_exist, char **err)
{
	struct postie_cfg *cf;
	cfg_t *top;
	struct stat st;
	FILE *fp;
	int r;
	unsigned i;
	const char *s;
	char *text = NULL, *reserve;

	*err = NULL;
	if ((cf = calloc(1, sizeof *cf)) == NULL) {
		*err = strdup("out of memory");
		return NULL;
	}
	top = cfg_init(top_opts, CFGF_NONE);
	if (top == NULL) {
		*err = strdup("out of memory");
		free(cf);
		return NULL;
	}
	cfg_set_error_function(top, conf_errfn);
	errtext[0] = '\0';
	fp = path ? fopen(path, "re") : NULL;
	if (fp == NULL && path && (errno != ENOENT || must_exist)) {
		*err = strfmt("%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fp) {
		cf->path = strdup(path);
		if (fstat(fileno(fp), &st) == 0 && !S_ISREG(st.st_mode)) {
			*err = strfmt("%s: not a regular file", path);
			fclose(fp);
			goto fail;
		}
		/*
		 * Read here, through the descriptor checked above, and parsed
		 * from memory: a read error is then ours to name (libconfuse's
		 * scanner would print "input in flex scanner failed" and exit).
		 */
		if (slurp_conf(fp, path, &text, err) == -1) {
			fclose(fp);
			goto fail;
		}
		fclose(fp);
		/*
		 * libconfuse cannot run out of memory safely: its scanner then
		 * exits ("out of dynamic memory in yy_create_buffer()", status
		 * 2) and cfg_free() crashes on the tree a failed allocation
		 * left half made.  So the memory a parse takes is had first
		 * and given back to malloc's free list, where the parse finds
		 * it; a parse that still runs out (ENOMEM) leaves its tree
		 * unfreed.
		 */
		if ((reserve = malloc(CONF_PARSE_RESERVE + 2 * strlen(text))) == NULL) {
			free(text);
			goto fail;
		}
		free(reserve);
		parsing = path;
		errno = 0;
		r = cfg_parse_buf(top, text);
		if (r != CFG_SUCCESS && errno == ENOMEM)
			top = NULL;
		parsing = NULL;
		free(text);
		text = NULL;
		if (r != CFG_SUCCESS) {
			*err = strfmt("%s", errtext[0] ? errtext : "cannot parse the configuration");
			if (errtext[0] && strncmp(errtext, path, strlen(path)) != 0) {
				free(*err);
				*err = strfmt("%s: %s", path, errtext);
			}
			goto fail;
		}
		if (has_password(top) && (st.st_mode & 007)) {
			*err = strfmt("%s holds a password and is readable by others: "
			    "chmod o-rwx %s", path, path);
			goto fail;
		}
	} else
		cf->path = NULL;
	if (cf->path == NULL)
		cf->path = strdup(path ? path : "postie.conf");

	s = optstr(top, "domain");
	cf->domain = s ? strdup(s) : util_fqdn();
	s = cfg_getstr(top, "aliases");
	cf->aliases = (s && *s) ? strdup(s) : NULL;
	cf->log = strdup(cfg_getstr(top, "log"));
	s = optstr(top, "queue_dir");
	if (s) {
		if (path_key(s, cf->path, "queue_dir", &cf->queue_dir, err) == -1)
			goto fail;
	} else
		cf->queue_dir = conf_default_queue_dir();
	cf->queue_lifetime = cfg_getint(top, "queue_lifetime");
	cf->failed_lifetime = cfg_getint(top, "failed_lifetime");
	if (cf->failed_lifetime <= 0) {
		*err = strfmt("%s: failed_lifetime must be a positive number of seconds",
		    cf->path);
		goto fail;
	}
	cf->max_parallel = (int)cfg_getint(top, "max_parallel");
	s = cfg_getstr(top, "delivery");
	if (strcasecmp(s, "foreground") == 0)
		cf->delivery = 'i';
	else if (strcasecmp(s, "background") == 0)
		cf->delivery = 'b';
	else if (strcasecmp(s, "queue") == 0)
		cf->delivery = 'q';
	else {
		*err = strfmt("%s: delivery must be \"foreground\", \"background\" or "
		    "\"queue\", not \"%s\"", cf->path, s);
		goto fail;
	}
	if (cf->max_parallel < 1)
		cf->max_parallel = 1;
	cf->connection_cache = cfg_getint(top, "connection_cache");
	if (cf->connection_cache < 0 || cf->connection_cache > 3600) {
		*err = strfmt("%s: connection_cache must be 0 to 3600 seconds, not %ld", cf->path,
		    cf->connection_cache);
		goto fail;
	}

	if (size_key(top, cf->path, "queue_user_messages", 0, &cf->queue_user_messages, err) == -1 ||
	    size_key(top, cf->path, "queue_user_bytes", 1, &cf->queue_user_bytes, err) == -1 ||
	    size_key(top, cf->path, "queue_minfree", 1, &cf->queue_minfree, err) == -1)
		goto fail;

	cf->nsmtp = cfg_size(top, "smtp");
	cf->smtp = calloc(cf->nsmtp + 1, sizeof *cf->smtp);
	cf->npop3 = cfg_size(top, "pop3");
	cf->pop3 = calloc(cf->npop3 + 1, sizeof *cf->pop3);
	if (cf->smtp == NULL || cf->pop3 == NULL) {
		*err = strdup("out of memory");
		goto fail;
	}
	for (i = 0; i < cf->nsmtp; i++)
		if (load_smtp(cf, top, cfg_getnsec(top, "smtp", i), &cf->smtp[i], err) == -1)
			goto fail;
	for (i = 0; i < cf->npop3; i++)
		if (load_pop3(cf, top, cfg_getnsec(top, "pop3", i), &cf->pop3[i], err) == -1)
			goto fail;
	cfg_free(top);
	return cf;
fail:
	if (top != NULL)
		cfg_free(top);
	conf_free(cf);
	if (*err == NULL)
		*err = strdup("out of memory");
	return NULL;
}

void
conf_free(struct postie_cfg *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; cf->smtp && i < cf->nsmtp; i++) {
		free_net(&cf->smtp[i].net);
		free(cf->smtp[i].name);
		free(cf->smtp[i].from);
		free(cf->smtp[i].domain);
		free(cf->smtp[i].helo);
	}
	for (i = 0; cf->pop3 && i < cf->npop3; i++) {
		free_net(&cf->pop3[i].net);
		free(cf->pop3[i].name);
		free(cf->pop3[i].dest_path);
	}
	free(cf->smtp);
	free(cf->pop3);
	free(cf->path);
	free(cf->looked);
	free(cf->domain);
	free(cf->aliases);
	free(cf->log);
	free(cf->queue_dir);
	free(cf);
}

struct smtp_account *
conf_smtp_select(struct postie_cfg *cf, const char *name, const char *sender, char **err)
{
	size_t i;

	*err = NULL;
	if (cf->nsmtp == 0) {
		*err = strfmt("%s: no smtp account is configured", cf->path);
		return NULL;
	}
	if (name) {
		for (i = 0; i < cf->nsmtp; i++)
			if (strcmp(cf->smtp[i].name, name) == 0)
				return &cf->smtp[i];
		*err = strfmt("%s: no smtp account \"%s\"", cf->path, name);
		return NULL;
	}
	if (sender && *sender)
		for (i = 0; i < cf->nsmtp; i++)
			if (cf->smtp[i].from && strcasecmp(cf->smtp[i].from, sender) == 0)
				return &cf->smtp[i];
	for (i = 0; i < cf->nsmtp; i++)
		if (strcmp(cf->smtp[i].name, "default") == 0)
			return &cf->smtp[i];
	return &cf->smtp[0];
}

struct pop3_account *
conf_pop3_find(struct postie_cfg *cf, const char *name)
{
	size_t i;

	for (i = 0; i < cf->npop3; i++)
		if (strcmp(cf->pop3[i].name, name) == 0)
			return &cf->pop3[i];
	return NULL;
}

char *
conf_password(const struct net_cfg *n, char **err)
{
	return secret_of(n->password, n->password_command, "password_command", err);
}

const char *
conf_tls_name(enum tls_mode m)
{
	switch (m) {
	case TLS_TLS:		return "tls";
	case TLS_STARTTLS:	return "starttls";
	case TLS_NONE:		return "none";
	}
	return "?";
}
