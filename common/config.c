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

static cfg_opt_t smtp_opts[] = {
	NET_OPTS,
	CFG_STR("from", NULL, CFGF_NODEFAULT),
	CFG_STR("from_rewrite", "local", CFGF_NONE),
	CFG_STR("queue", "on_failure", CFGF_NONE),
	CFG_STR("bounce", NULL, CFGF_NODEFAULT),
	CFG_END()
};

static cfg_opt_t pop3_opts[] = {
	NET_OPTS,
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
	CFG_INT("queue_lifetime", 432000, CFGF_NONE),
	CFG_INT("failed_lifetime", 2592000, CFGF_NONE),
	CFG_STR("bounce", "sender", CFGF_NONE),
	CFG_INT("max_parallel", 4, CFGF_NONE),
	CFG_STR("delivery", "foreground", CFGF_NONE),
	CFG_INT("connection_cache", 5, CFGF_NONE),
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
	n->tls_ca_file = util_expand_tilde(INHERIT("tls_ca_file"));
	n->tls_fingerprint = xstrdup(INHERIT("tls_fingerprint"));
	n->tls_cert_file = util_expand_tilde(INHERIT("tls_cert_file"));
	n->tls_key_file = util_expand_tilde(INHERIT("tls_key_file"));
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
}

static int
load_smtp(struct postie_cfg *cf, cfg_t *top, cfg_t *sec, struct smtp_account *a, char **err)
{
	char where[300];
	const char *s;

	snprintf(where, sizeof where, "%s: smtp \"%s\"", cf->path, cfg_title(sec));
	a->name = strdup(cfg_title(sec));
	a->conf = cf->path;
	if (load_net(&a->net, top, sec, 0, where, err) == -1)
		return -1;
	a->from = xstrdup(optstr(sec, "from"));
	a->domain = strdup(optstr(sec, "domain") ? optstr(sec, "domain") : cf->domain);
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
	if (load_net(&a->net, top, sec, 1, where, err) == -1)
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

static char *
default_queue_dir(void)
{
	char *home, *r;
	const char *st;

	/* root, and a setgid sendmail serving every user, use the system spool. */
	if (getuid() == 0 || getegid() != getgid())
		return strdup("/var/spool/postie");
	if ((st = getenv("XDG_STATE_HOME")) != NULL && *st == '/')
		return strfmt("%s/postie/queue", st);
	home = util_home();
	r = home ? strfmt("%s/.local/state/postie/queue", home) : NULL;
	free(home);
	return r;
}

/* 1 if any section sets a password in the file. */
static int
has_password(cfg_t *top)
{
	unsigned i;

	for (i = 0; i < cfg_size(top, "smtp"); i++)
		if (optstr(cfg_getnsec(top, "smtp", i), "password"))
			return 1;
	for (i = 0; i < cfg_size(top, "pop3"); i++)
		if (optstr(cfg_getnsec(top, "pop3", i), "password"))
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
	char *text = NULL;

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
		parsing = path;
		r = cfg_parse_buf(top, text);
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
	cf->queue_dir = s ? util_expand_tilde(s) : default_queue_dir();
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
	}
	for (i = 0; cf->pop3 && i < cf->npop3; i++) {
		free_net(&cf->pop3[i].net);
		free(cf->pop3[i].name);
		free(cf->pop3[i].dest_path);
	}
	free(cf->smtp);
	free(cf->pop3);
	free(cf->path);
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
	const char *why;
	char *pw;

	*err = NULL;
	if (n->password)
		return strdup(n->password);
	if (n->password_command == NULL)
		return NULL;
	/*
	 * Not the command itself: the error reaches queue entries and mailq,
	 * and a system configuration's command is not the user's business.
	 */
	if ((pw = util_command_line(n->password_command, &why)) == NULL)
		*err = strfmt("password_command failed: %s", why);
	return pw;
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
