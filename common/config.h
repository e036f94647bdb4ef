/*
 * config.h: postie.conf(5), read with libconfuse.
 *
 * conf_load() returns a struct postie_cfg that owns every string in it;
 * conf_free() releases it all.  Errors come back as a malloc'd one-line
 * message in *err (the caller frees it); the error class is always
 * PX_CONFIG unless stated.
 */
#ifndef POSTIE_CONFIG_H
#define POSTIE_CONFIG_H

#include <stddef.h>
#include "exitcodes.h"

enum tls_mode { TLS_STARTTLS = 0, TLS_TLS, TLS_NONE };

enum oauth2_grant { OAUTH2_REFRESH_TOKEN = 0, OAUTH2_CLIENT_CREDENTIALS };

/*
 * OAuth 2.0 for an account (the oauth2_* keys, presets applied); see
 * oauth2.h for what is done with it.  Every string is owned; NULL = unset.
 */
struct oauth2_cfg {
	const char *kind;	/* "smtp" or "pop3" (static) */
	char	*account;	/* the section's name */
	char	*provider;	/* "microsoft", "google" or "custom" */
	char	*token_url;	/* https://..., never NULL */
	char	*authorize_url;	/* NULL: no authorization code flow */
	char	*device_url;	/* NULL: no device authorization grant */
	char	*client_id;	/* never NULL */
	char	*client_secret;
	char	*client_secret_command;
	char	*scope;		/* space-separated; NULL: none sent */
	enum oauth2_grant grant;
	char	*token_file;	/* explicit (tilde expanded), else the default of conf_oauth2_dir() */
};

/* TLS and connection settings: top-level defaults, overridable per account. */
struct net_cfg {
	char	*host;
	int	 port;		/* resolved default when the file says none */
	enum tls_mode tls;
	char	*auth;		/* "auto", "none", "plain", ... (lower case) */
	char	*user;
	char	*password;	/* may be NULL */
	char	*password_command;	/* may be NULL */
	int	 timeout;	/* seconds */
	char	*tls_ca_file;	/* NULL = system store */
	int	 tls_verify;
	int	 tls_required;	/* 0: credentials may cross an unencrypted connection to a non-loopback host */
	char	*tls_fingerprint;	/* "sha256//..." or NULL */
	char	*tls_cert_file;
	char	*tls_key_file;
	struct oauth2_cfg *oauth2;	/* NULL: no oauth2_* key is set */
};

struct smtp_account {
	char	*name;
	const char *conf;	/* the file it is in (the cfg's path, not owned) */
	struct net_cfg net;
	char	*from;		/* may be NULL */
	char	*domain;	/* section's domain, or the top-level one */
	char	*helo;		/* EHLO name (section's, else top level's); NULL: the default */
	enum { FROM_REWRITE_LOCAL = 0, FROM_REWRITE_ALWAYS, FROM_REWRITE_NEVER } from_rewrite;
	int	 queue;		/* 1 on_failure, 0 never */
	int	 bounce;	/* 1: a message refused while nobody waits is bounced to its sender */
};

enum dest_kind { DEST_MBOX, DEST_MAILDIR, DEST_MDA };

struct pop3_account {
	char	*name;
	struct net_cfg net;
	enum dest_kind dest;
	char	*dest_path;	/* mbox file, Maildir directory (tilde expanded) or mda command */
	int	 keep;
	int	 only_new;
	long	 max_messages;
	long long max_size;
	long	 interval;
};

struct postie_cfg {
	char	*path;		/* the file read (or, when none exists, the one looked for) */
	char	*looked;	/* conf_load_for(): when no file held what was wanted, the
				   files looked at ("A, B"), for the error; else NULL */
	int	 none;		/* conf_load_for(): no configuration file exists at all */
	char	*domain;	/* never NULL: the file's, else the host FQDN */
	char	*aliases;	/* NULL when disabled */
	char	*log;
	char	*queue_dir;	/* never NULL: resolved default */
	long	 queue_lifetime;	/* seconds; CONF_QUEUE_LIFETIME by default */
	long	 failed_lifetime;	/* seconds a failed/ entry is kept */
	int	 max_parallel;
	char	 delivery;	/* 'i' foreground (default), 'b' background, 'q' queue only */
	long	 connection_cache;	/* seconds an idle SMTP connection is kept for the next sendmail, 0 = off */
	/* Shared spool: what one user other than root may keep queued (0 = no limit). */
	long long queue_user_messages;
	long long queue_user_bytes;
	long long queue_minfree;	/* bytes left free on the queue's file system, 0 = none */
	struct smtp_account *smtp;
	size_t	 nsmtp;
	struct pop3_account *pop3;
	size_t	 npop3;
};

/*
 * The configuration file to use: explicit (from -C) if not NULL, else
 * $POSTIE_CONF, else $XDG_CONFIG_HOME/postie/postie.conf (default under the
 * passwd home of the real uid), else SYSCONFDIR/postie.conf.  With
 * env_allowed == 0 (a setgid sendmail called by a non-root user) only
 * explicit == NULL and the system file are considered.  Returns a malloc'd
 * path; the file may not exist.
 */
char	*conf_find(const char *explicit, int env_allowed);

/*
 * The configuration a program uses: explicit (-C) if not NULL, else
 * $POSTIE_CONF, else the user's file (as conf_find), else
 * SYSCONFDIR/postie.conf.  A user file that holds no section of the kind
 * wanted (a popfetch-only file, for sendmail) does not hide the system
 * file.  With env_allowed == 0 only the system file.  A missing file is an
 * empty configuration (then ->none is set and ->looked names the files
 * looked for), except for explicit.  NULL with *err when a file cannot be
 * read or loaded; *err names it.  *file gets the file loaded or failed
 * (malloc'd; the caller frees it, also on failure).
 */
enum conf_want { CONF_ANY, CONF_SMTP, CONF_POP3 };
struct postie_cfg *conf_load_for(const char *explicit, int env_allowed, enum conf_want want,
	    char **file, char **err);

/*
 * The built-in queue directory (queue_dir = ""): SPOOLDIR for root (or
 * $POSTIE_SPOOLDIR) and a setgid sendmail, else
 * $XDG_STATE_HOME/postie/queue, by default under the real user's passwd
 * home.  Malloc'd, NULL on memory.
 */
char	*conf_default_queue_dir(void);
/* The built-in queue_lifetime (5 days): also for messages no configuration could be loaded for. */
#define CONF_QUEUE_LIFETIME	432000
/* The built-in queue limits (postie.conf(5)); also for saved/, whatever loads. */
#define CONF_QUEUE_USER_MESSAGES	1000
#define CONF_QUEUE_USER_BYTES		(100LL << 20)
#define CONF_QUEUE_MINFREE		(50LL << 20)

/*
 * Reads and checks a file.  A missing file is an error only when
 * must_exist is set; otherwise an empty configuration is returned.  A file
 * that holds a password and is readable by others is refused.  Out of
 * memory leaves errno ENOMEM (*err may then be NULL).
 */
struct postie_cfg *conf_load(const char *path, int must_exist, char **err);
void	 conf_free(struct postie_cfg *cfg);

/*
 * The SMTP account for a message: by name when name != NULL (NULL result
 * and *err if unknown), else the one whose from matches sender
 * (case-insensitive), else "default", else the first.  NULL with *err when
 * there is no smtp section at all.
 */
struct smtp_account *conf_smtp_select(struct postie_cfg *cfg, const char *name,
	    const char *sender, char **err);
struct pop3_account *conf_pop3_find(struct postie_cfg *cfg, const char *name);

/*
 * The password of an account: password, else the first line of
 * password_command's output, else NULL with *err == NULL (no password).
 * Returns a malloc'd string the caller should wipe and free.
 */
char	*conf_password(const struct net_cfg *net, char **err);

/*
 * The client secret of an OAuth 2.0 account: oauth2_client_secret, else
 * the first line of oauth2_client_secret_command's output, else NULL with
 * *err == NULL (a public client).  Malloc'd; wipe and free it.
 */
char	*conf_oauth2_secret(const struct oauth2_cfg *o, char **err);

/*
 * Where token files go by default: /var/lib/postie/oauth2 for the setgid
 * sendmail (whoever calls it), else $XDG_STATE_HOME/postie/oauth2, else
 * /var/lib/postie/oauth2 for root, else ~/.local/state/postie/oauth2 (as
 * popfetch's state).  Malloc'd, or NULL without a home directory.
 */
char	*conf_oauth2_dir(void);

const char *conf_tls_name(enum tls_mode m);

#endif
