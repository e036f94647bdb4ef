/*
 * main.c: sendmail(8) for Postie: options, modes, and the one place where
 * error classes become exit codes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "oauth2.h"
#include "reader.h"
#include "sendmail.h"

static const char usage_text[] =
"usage: sendmail [-i] [-t] [-v] [-C file] [-a account] [-f sender] [-F name]\n"
"                [--attach file [--attach-type type]] [--subject text] [--] [recipient ...]\n"
"       sendmail -bp | mailq\n"
"       sendmail -bs\n"
"       sendmail -q[time] [-qI id] [-qR recipient] [-qS sender]\n"
"       sendmail --requeue id ... | all\n"
"       sendmail -bv recipient ...\n"
"       sendmail -bi | -I | newaliases\n"
"       sendmail --authorize [--device] [-a account]\n"
"       sendmail --serverinfo [-a account]\n"
"       sendmail -V | --version | --help\n";

static const char help_text[] =
"\n"
"  -i, -oi        a line with only \".\" does not end the message\n"
"  -t             take recipients from To, Cc and Bcc (or Resent-*) too\n"
"  -v             show the SMTP dialogue (credentials hidden)\n"
"  -C file        configuration file (default ~/.config/postie/postie.conf,\n"
"                 then " SYSCONFDIR "/postie.conf)\n"
"  -a account     smtp account to use\n"
"  -f, -r sender  envelope sender (\"<>\" for none)\n"
"  -F name        full name for a From: header that is added\n"
"  --attach file  attach a file (repeatable); --attach-type type sets its type\n"
"  --subject text set the Subject\n"
"  -bm            send the message read from standard input (the default)\n"
"  -bp            list the queue (same as mailq)\n"
"  -bs            speak SMTP on standard input and output\n"
"  -bv            show what each recipient resolves to\n"
"  -bi, -I        check the aliases file (same as newaliases)\n"
"  -q[time]       send queued mail now, or every time (e.g. -q5m) in the foreground\n"
"  -qI id, -qR recipient, -qS sender   only entries matching the substring\n"
"  --requeue id|all  put messages from failed/ back in the queue (see mailq)\n"
"  --authorize    get the OAuth 2.0 grant of the account (-a, or the default one):\n"
"                 open the address it prints, sign in; --device: enter a code\n"
"                 on another device instead\n"
"  --serverinfo   connect and log in as a send would (-a, or the default account),\n"
"                 show TLS, certificate (with its tls_fingerprint) and\n"
"                 capabilities; send nothing\n"
"\n"
"  -odi, -odb, -odq  deliver now (foreground), in the background, or queue only\n"
"\n"
"Accepted and ignored for compatibility:\n"
"  -B type, -N dsn, -R ret, -V envid, -X file, -L tag, -h hops, -O option=value,\n"
"  -o* (other than -oi and -od*), -n, -m, -G, -U, -A*, -d*\n"
"\n"
"Exit status: 0 sent or queued, 64 usage, 65 data error, 66 attachment unreadable\n"
"(or --requeue of an unknown id), 67 all recipients refused, 69 refused, 70 out\n"
"of memory before queueing or while loading the configuration, 71 cannot drop\n"
"the group, 73 no queue directory, 74 cannot write the queue (disk full),\n"
"75 temporary failure (queue = \"never\", or a queue limit) or the message saved\n"
"as the configuration cannot be loaded,\n"
"77 --requeue of another user's message, --authorize refused, or --serverinfo's\n"
"login refused, 78 configuration error (modes without a message).\n";

static int
usage(const char *why)
{
	if (why)
		log_error("%s", why);
	fputs(usage_text, stderr);
	return EX_USAGE;
}

/* A value attached to the option or in the next argument. */
static const char *
optval(int argc, char **argv, int *i, const char *attached)
{
	if (*attached)
		return attached;
	if (*i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* "5m", "1h", "30s", "2d", "15" (minutes) -> seconds; -1 if bad. */
static long
parse_interval(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10), mul = 60;

	if (end == s || v <= 0)
		return -1;
	switch (*end) {
	case 's': mul = 1; end++; break;
	case 'm': mul = 60; end++; break;
	case 'h': mul = 3600; end++; break;
	case 'd': mul = 86400; end++; break;
	case '\0': break;
	default: return -1;
	}
	return *end ? -1 : v * mul;
}

static int
has_ctl(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return 1;
	return 0;
}

/*
 * A MIME type as --attach-type may give it: type/subtype (RFC 2045 tokens),
 * then parameters in printable ASCII.  It goes into a header field as it is,
 * so a CR or LF would end the field (and, bare, the DATA of lax servers).
 */
static int
valid_mime_type(const char *s)
{
	static const char tspecials[] = "()<>@,;:\\\"/[]?=";
	const unsigned char *p = (const unsigned char *)s;
	int part;

	for (part = 0; part < 2; part++) {
		const unsigned char *start = p;

		while (*p > 0x20 && *p < 0x7f && strchr(tspecials, *p) == NULL)
			p++;
		if (p == start || (part == 0 && *p++ != '/'))
			return 0;
	}
	if (*p != '\0' && *p != ';')
		return 0;
	for (; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return 0;
	return 1;
}

/* Parses argv into o; returns -1 to exit with *code. */
static int
parse_args(int argc, char **argv, struct opts *o, int *code)
{
	const char *v, *a;
	int i, only_rcpts = 0;
	char c;

	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (only_rcpts || a[0] != '-' || a[1] == '\0') {
			if (has_ctl(a)) {
				*code = usage("a recipient holds a line break");
				return -1;
			}
			sl_add(&o->rcpts, a);
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_rcpts = 1;
			continue;
		}
		if (strncmp(a, "--", 2) == 0) {
			const char *eq = strchr(a, '=');
			size_t nlen = eq ? (size_t)(eq - a) : strlen(a);

#define LONGOPT(name) (nlen == strlen(name) && strncmp(a, name, nlen) == 0)
			if (LONGOPT("--help")) {
				fputs(usage_text, stdout);
				fputs(help_text, stdout);
				*code = 0;
				return -1;
			}
			if (LONGOPT("--serverinfo")) {
				if (eq) {
					*code = usage("--serverinfo takes no value");
					return -1;
				}
				o->mode = 'S';
				continue;
			}
			if (LONGOPT("--requeue")) {
				o->mode = 'R';
				continue;
			}
			if (LONGOPT("--authorize") || LONGOPT("--device")) {
				if (eq) {
					*code = usage("--authorize and --device take no value");
					return -1;
				}
				if (LONGOPT("--authorize"))
					o->mode = 'A';
				else
					o->device = 1;
				continue;
			}
			if (LONGOPT("--version")) {
				printf("sendmail (Postie) %s\n", POSTIE_VERSION);
				*code = 0;
				return -1;
			}
			if (LONGOPT("--attach") || LONGOPT("--attach-type") || LONGOPT("--subject")) {
				v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
				if (v == NULL) {
					*code = usage("an option needs a value");
					return -1;
				}
				if (LONGOPT("--attach")) {
					sl_add(&o->attach, v);
					sl_add(&o->attach_type, "");
				} else if (LONGOPT("--attach-type")) {
					if (o->attach.n == 0) {
						*code = usage("--attach-type goes after --attach");
						return -1;
					}
					if (!valid_mime_type(v)) {
						*code = usage("--attach-type must be a MIME type such as "
						    "text/plain (no control characters)");
						return -1;
					}
					free(o->attach_type.v[o->attach.n - 1]);
					o->attach_type.v[o->attach.n - 1] = strdup(v);
				} else
					o->subject = v;
				continue;
			}
#undef LONGOPT
			log_error("unknown option %s", a);
			*code = usage(NULL);
			return -1;
		}
		/* Clusters of flags such as -ti. */
		if (strspn(a + 1, "itvnmGU") == strlen(a + 1)) {
			for (v = a + 1; *v; v++) {
				if (*v == 'i')
					o->dot_ends = 0;
				else if (*v == 't')
					o->extract = 1;
				else if (*v == 'v')
					o->verbose = 1;
			}
			continue;
		}
		c = a[1];
		switch (c) {
		case 'f':
		case 'r':
		case 'F':
		case 'C':
		case 'a':
			if ((v = optval(argc, argv, &i, a + 2)) == NULL) {
				*code = usage("an option needs a value");
				return -1;
			}
			if (has_ctl(v)) {
				log_error("-%c value holds a line break", c);
				*code = EX_USAGE;
				return -1;
			}
			if (c == 'f' || c == 'r')
				o->sender = v;
			else if (c == 'F')
				o->fullname = v;
			else if (c == 'C')
				o->conf = v;
			else
				o->account = v;
			break;
		case 'b':
			switch (a[2]) {
			case 'm': o->mode = 'm'; break;
			case 'p': o->mode = 'p'; break;
			case 's': o->mode = 's'; break;
			case 'i': o->mode = 'i'; break;
			case 'v': o->mode = 'v'; break;
			default:
				log_error("-%s is not supported", a + 1);
				*code = usage(NULL);
				return -1;
			}
			if (a[3]) {
				*code = usage("unknown -b mode");
				return -1;
			}
			break;
		case 'I':
			o->mode = 'i';
			break;
		case 'q':
			o->mode = 'q';
			v = a + 2;
			if (*v == 'I' || *v == 'R' || *v == 'S') {
				const char *val = optval(argc, argv, &i, v + 1);

				if (val == NULL) {
					*code = usage("-qI, -qR and -qS need a value");
					return -1;
				}
				if (*v == 'I')
					o->q_id = val;
				else if (*v == 'R')
					o->q_rcpt = val;
				else
					o->q_sender = val;
			} else if (*v == 'f' || *v == '\0')
				;
			else if ((o->qinterval = parse_interval(v)) == -1) {
				*code = usage("bad -q interval (e.g. -q5m, -q1h, -q30s)");
				return -1;
			}
			break;
		case 'o':
			if (strcmp(a, "-oi") == 0)
				o->dot_ends = 0;
			else if (a[2] == 'd' && strchr("ibfqd", a[3]) && a[3] && !a[4])
				/* -odi/-odf now, -odb background, -odq/-odd queue only */
				o->delivery = a[3] == 'f' ? 'i' : a[3] == 'd' ? 'q' : a[3];
			else if (a[2] == '\0')
				i++;	/* "-o name value": skip the value */
			break;
		case 'V':
			/* -V alone is the version; -Venvid or -V envid is a DSN id. */
			if (a[2] == '\0' && (i + 1 >= argc || argv[i + 1][0] == '-')) {
				printf("sendmail (Postie) %s\n", POSTIE_VERSION);
				*code = 0;
				return -1;
			}
			/* FALLTHROUGH */
		case 'B':
		case 'N':
		case 'R':
		case 'X':
		case 'L':
		case 'h':
		case 'O':
			if (optval(argc, argv, &i, a + 2) == NULL) {
				*code = usage("an option needs a value");
				return -1;
			}
			break;
		case 'A':
		case 'd':
		case 'n':
		case 'm':
		case 'G':
		case 'U':
			break;
		default:
			log_error("unknown option %s", a);
			*code = usage(NULL);
			return -1;
		}
	}
	if (o->rcpts.oom || o->attach.oom || o->attach_type.oom) {
		/* Not "no recipients": a list cut short by memory is no usage error. */
		log_error("out of memory");
		*code = EX_SOFTWARE;
		return -1;
	}
	return 0;
}

static int send_mode(struct postie_cfg *cfg, struct opts *o);

/*
 * The configuration cannot be used.  A message (-bm, -bs) is saved
 * unprocessed all the same: exit 75 with its id.  Any other mode: exit 78;
 * mailq lists the built-in queue all the same.
 */
static int
unusable(struct opts *o, int argc, char **argv, const char *why, const char *files)
{
	struct saving sv;
	char *dir;
	int code;

	/* Saved messages age all the same: queue_lifetime ends those nothing completes. */
	if (o->mode == 'm' || o->mode == 's' || o->mode == 'q')
		(void)saved_complete(NULL);
	if (o->mode == 'm' || o->mode == 's') {
		sv.argc = argc > 0 ? argc - 1 : 0;
		sv.argv = argc > 0 ? argv + 1 : argv;
		sv.error = why;
		sv.files = files;
		o->save = &sv;
		code = o->mode == 's' ? bs_serve(NULL, o) : send_mode(NULL, o);
		o->save = NULL;
		return code;
	}
	log_error("%s", why);
	if (o->mode == 'p' && (dir = conf_default_queue_dir()) != NULL) {
		q_print(dir, stdout);
		saved_print(stdout, NULL);
		free(dir);
	}
	return EX_CONFIG;
}

void
opts_init(struct opts *o)
{
	memset(o, 0, sizeof *o);
	o->dot_ends = 1;
	o->mode = 'm';
	sl_init(&o->rcpts);
	sl_init(&o->attach);
	sl_init(&o->attach_type);
}

int
opts_parse(int argc, char **argv, struct opts *o, int *code)
{
	return parse_args(argc, argv, o, code);
}

/*
 * Loads the configuration; a setgid sendmail ignores -C and the environment
 * for users.  NULL when it cannot be used, with *reason (the error, naming the
 * file) and *files (the files it was meant to come from) malloc'd.  For a
 * send (sending = 1) it must also have the account asked for and readable
 * aliases: else nothing could complete the message either.
 */
static struct postie_cfg *
load_config(const struct opts *o, int sending, char **reason, char **files)
{
	struct postie_cfg *cfg;
	char *file = NULL, *err = NULL;
	int trusted = getuid() == 0 || getegid() == getgid(), bad;

	*reason = *files = NULL;
	if (!trusted && o->conf)
		log_error("-C is ignored: this sendmail is installed setgid");
	errno = 0;
	cfg = conf_load_for(trusted ? o->conf : NULL, trusted, CONF_SMTP, &file, &err);
	if (cfg == NULL) {
		/* Out of memory (config.h: errno ENOMEM): no configuration error. */
		if (errno == ENOMEM) {
			free(err);
			err = NULL;
		}
		*reason = err;	/* NULL: out of memory */
		*files = file ? file : strdup("");
		return NULL;
	}
	bad = 1;
	if (sending && cfg->nsmtp == 0) {
		if (cfg->none)
			*reason = strfmt("no configuration: none of %s exists (see postie.conf(5))",
			    cfg->looked);
		else if (cfg->looked)
			*reason = strfmt("no smtp account in %s (see postie.conf(5))", cfg->looked);
		else
			*reason = strfmt("%s: no smtp account is configured (see postie.conf(5))",
			    cfg->path);
	} else if (sending && o->account && conf_smtp_select(cfg, o->account, NULL, &err) == NULL)
		*reason = err;
	else if (sending && aliases_check(cfg->aliases, &err) == -1)
		*reason = err;
	else
		bad = 0;
	if (bad) {
		*files = xstrdup(cfg->looked ? cfg->looked : cfg->path);
		free(file);
		conf_free(cfg);
		return NULL;
	}
	free(err);
	free(file);
	if (log_open(cfg->log) == -1) {
		const char *why = strerror(errno);
		struct group *gr = getegid() != getgid() ? getgrgid(getegid()) : NULL;

		/* log_open() fell back to syslog: the line is not lost, the admin must mend it. */
		if (gr)
			log_error("cannot open the log file %s: %s; logging to syslog instead "
			    "(a setgid sendmail needs it writable by group %s: chgrp %s %s; "
			    "chmod g+w %s)", cfg->log, why, gr->gr_name, gr->gr_name,
			    cfg->log, cfg->log);
		else
			log_error("cannot open the log file %s: %s; logging to syslog instead",
			    cfg->log, why);
	}
	return cfg;
}

/* Reads one message from the caller, queues it and tries it once. */
static int
send_mode(struct postie_cfg *cfg, struct opts *o)
{
	struct submit_result res;
	struct reader r;
	char *err;
	int completed;

	if (o->rcpts.n == 0 && !o->extract)
		return usage("no recipients given");
	/* Before a byte of the message is read: the caller cannot swap a file meanwhile. */
	if (attach_open(o, &err) == -1) {
		log_error("%s", err);
		free(err);
		return EX_NOINPUT;
	}
	if (rd_init(&r, STDIN_FILENO, READ_BUF) == -1) {
		attach_close(o);
		log_error("out of memory");
		return EX_SOFTWARE;
	}
	/* Messages saved while the configuration was broken: now they can be completed. */
	completed = cfg ? saved_complete(cfg) : 0;
	submit(cfg, o, &r, &res);
	rd_free(&r);
	attach_close(o);
	if (res.err != PX_OK)
		log_error("%s", res.msg);
	else if (res.saved)
		log_error("%s", res.msg);
	else if (res.queued && res.loud)
		log_error("%s; queued as %s", res.msg, res.id);
	else if (res.queued && (o->verbose || isatty(STDERR_FILENO)))
		log_error("%s; queued as %s, will retry", res.msg, res.id);
	free(res.msg);
	if (completed > 0)
		(void)queue_run(cfg, o, NULL, 1, NULL);
	/* Kept, but the caller must know the configuration is broken. */
	return res.saved ? EX_TEMPFAIL : px_exitcode(res.err);
}

static int
verify_mode(struct postie_cfg *cfg, const struct opts *o)
{
	struct strlist out;
	struct smtp_account *a;
	char *err = NULL;
	enum px_err e;
	size_t i;

	if (o->rcpts.n == 0)
		return usage("-bv needs recipients");
	if ((a = conf_smtp_select(cfg, o->account, o->sender, &err)) == NULL) {
		log_error("%s", err);
		free(err);
		return EX_CONFIG;
	}
	sl_init(&out);
	e = rcpts_resolve(cfg, a->domain, &o->rcpts, &out, 1, &err);
	if (e != PX_OK) {
		log_error("%s", err);
		free(err);
		return px_exitcode(e);
	}
	for (i = 0; i < out.n; i++)
		printf("%s... deliverable: account %s, host %s port %d\n", out.v[i], a->name,
		    a->net.host, a->net.port);
	sl_free(&out);
	return 0;
}

/*
 * --requeue ID... | all: failed/ entries back into the queue, once their
 * cause is mended; the next queue run sends them.  A user may requeue only
 * what they sent; root anything.
 */
static int
requeue_mode(struct postie_cfg *cfg, const struct opts *o)
{
	struct strlist ids;
	struct qentry q;
	char *fdir, *err, *dirs[2];
	const char *qdir;
	enum px_err e;
	size_t i;
	int code = 0, all = o->rcpts.n == 1 && strcmp(o->rcpts.v[0], "all") == 0, n = 0, k;

	if (o->rcpts.n == 0)
		return usage("--requeue needs queue ids (see mailq), or all");
	/*
	 * cfg's failed/, and the built-in queue's when it is another: saved
	 * messages given up while no configuration loaded are kept there.
	 */
	dirs[0] = cfg->queue_dir;
	dirs[1] = conf_default_queue_dir();
	if (dirs[1] && strcmp(dirs[1], dirs[0]) == 0) {
		free(dirs[1]);
		dirs[1] = NULL;
	}
	sl_init(&ids);
	for (k = 0; all && k < 2 && dirs[k]; k++) {
		if ((fdir = strfmt("%s/failed", dirs[k])) == NULL ||
		    q_list(fdir, &ids) == -1) {
			log_error("cannot read %s/failed: %s", dirs[k], strerror(errno));
			free(fdir);
			free(dirs[1]);
			sl_free(&ids);
			return EX_IOERR;
		}
		free(fdir);
	}
	for (i = 0; !all && i < o->rcpts.n; i++)
		sl_add(&ids, o->rcpts.v[i]);
	for (i = 0; i < ids.n; i++) {
		int bad = strchr(ids.v[i], '/') || ids.v[i][0] == '.';
		uid_t owner = NO_UID;

		/* Where it is: cfg's failed/, else the built-in one's. */
		for (qdir = dirs[0], k = 0; !bad && k < 2 && dirs[k]; k++) {
			fdir = strfmt("%s/failed", dirs[k]);
			owner = fdir ? q_peek_owner(fdir, ids.v[i]) : NO_UID;
			free(fdir);
			if (owner != NO_UID) {
				qdir = dirs[k];
				break;
			}
		}
		/* Whose it is, before it is locked: no lock at all on another user's. */
		if (owner != NO_UID && !q_visible(owner)) {
			if (!all) {
				log_error("%s: not yours to send again", ids.v[i]);
				code = EX_NOPERM;
			}
			continue;
		}
		if (bad || q_failed_lock(qdir, ids.v[i], &q) != 0) {
			log_error("%s: no such entry in %s/failed (or it is busy)", ids.v[i], qdir);
			code = EX_NOINPUT;
			continue;
		}
		if (!q_visible(q.env.uid)) {
			if (!all) {
				log_error("%s: not yours to send again", q.id);
				code = EX_NOPERM;
			}
			q_close(&q);
			continue;
		}
		/* A saved message never completed is completed now, as a send would be. */
		if (q.env.saved && (e = saved_requeue(cfg, &q, &err)) != PX_OK) {
			log_error("%s: %s", q.id, err ? err : "cannot be completed");
			free(err);
			code = px_exitcode(e);
		} else if (!q.env.saved && q_requeue(&q, &err) == -1) {
			log_error("%s: %s", q.id, err);
			free(err);
			code = EX_IOERR;
		} else {
			log_event(LOG_NOTICE, "%s: put back in the queue from failed/", q.id);
			printf("%s: back in the queue\n", q.id);
			n++;
		}
		q_close(&q);
	}
	if (n > 0)
		printf("sendmail -q sends %s now\n", n == 1 ? "it" : "them");
	free(dirs[1]);
	sl_free(&ids);
	return code;
}

/* --authorize: the first OAuth 2.0 grant of an account, interactively. */
static int
authorize_mode(struct postie_cfg *cfg, const struct opts *o)
{
	struct smtp_account *a;
	char *err = NULL;
	enum px_err e;

	if ((a = conf_smtp_select(cfg, o->account, NULL, &err)) == NULL) {
		log_error("%s", err);
		free(err);
		return EX_CONFIG;
	}
	if (a->net.oauth2 == NULL) {
		log_error("%s: smtp account \"%s\" has no oauth2_* keys: nothing to authorize "
		    "(see postie.conf(5))", cfg->path, a->name);
		return EX_CONFIG;
	}
	if ((e = oauth2_authorize(&a->net, o->device, &err)) != PX_OK)
		log_error("%s", err ? err : "the authorization failed");
	free(err);
	return px_exitcode(e);
}

static volatile sig_atomic_t stop;

static void
on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int
queue_mode(struct postie_cfg *cfg, const struct opts *o)
{
	struct sigaction sa;
	time_t next;

	if (cfg->nsmtp == 0) {
		log_error("%s: no smtp account is configured", cfg->path);
		return EX_CONFIG;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	do {
		next = time(NULL) + o->qinterval;
		q_clean(cfg->queue_dir);
		(void)saved_complete(cfg);
		failed_maintain(cfg);
		(void)queue_run(cfg, o, NULL, 0, NULL);
		while (o->qinterval && !stop && time(NULL) < next)
			sleep(1);
	} while (o->qinterval && !stop);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct postie_cfg *cfg;
	char *prog = strdup(argc > 0 && argv[0] ? argv[0] : "sendmail"), *err = NULL;
	char *why = NULL, *files = NULL;
	const char *base = prog ? basename(prog) : "sendmail";
	int code = 0, n;

	opts_init(&o);
	log_setprog("sendmail");
	signal(SIGPIPE, SIG_IGN);
	if (getegid() != getgid() && getuid() != 0) {
		/*
		 * Installed setgid for the system spool: the caller's
		 * environment must not steer us (proxies, TLS key logs, PATH
		 * for password_command).  Queue files are group-readable so
		 * that any runner of the queue can send them.
		 */
		clearenv();
		setenv("PATH", "/usr/bin:/bin", 1);
		umask(027);
	} else
		umask(077);
	if (strcmp(base, "mailq") == 0)
		o.mode = 'p';
	else if (strcmp(base, "newaliases") == 0)
		o.mode = 'i';
	if (parse_args(argc, argv, &o, &code) == -1)
		goto out;
	log_setverbose(o.verbose);
	o.submitter = getuid();
	if ((cfg = load_config(&o, o.mode == 'm' || o.mode == 's', &why, &files)) == NULL) {
		if (why == NULL || files == NULL) {
			/* Before a byte of a message is read: the caller is told. */
			log_error("out of memory");
			code = EX_SOFTWARE;
		} else
			code = unusable(&o, argc, argv, why, files);
		free(why);
		free(files);
		goto out;
	}
	if (net_global_init() == -1) {
		log_error("cannot initialise libcurl");
		code = EX_SOFTWARE;
		conf_free(cfg);
		goto out;
	}
	/* Modes that never touch the queue need no group privilege past this point. */
	if ((o.mode == 'i' || o.mode == 'v') && getegid() != getgid() &&
	    setresgid(getgid(), getgid(), getgid()) == -1) {
		log_error("cannot drop the group privilege: %s", strerror(errno));
		code = EX_OSERR;
		conf_free(cfg);
		goto out;
	}
	switch (o.mode) {
	case 'p':
		q_print(cfg->queue_dir, stdout);
		saved_print(stdout, cfg);
		code = fflush(stdout) == EOF ? EX_IOERR : 0;
		break;
	case 'i':
		if ((n = aliases_check(cfg->aliases, &err)) == -1) {
			log_error("%s", err);
			code = EX_CONFIG;
		} else
			printf("%s: %d aliases\n", cfg->aliases ? cfg->aliases : "(none)", n);
		free(err);
		break;
	case 'v':
		code = verify_mode(cfg, &o);
		break;
	case 'A':
		code = authorize_mode(cfg, &o);
		break;
	case 'S':
		code = serverinfo_mode(cfg, &o);
		break;
	case 'q':
		code = queue_mode(cfg, &o);
		break;
	case 'R':
		code = requeue_mode(cfg, &o);
		break;
	case 's':
		(void)saved_complete(cfg);
		code = bs_serve(cfg, &o);
		break;
	default:
		code = send_mode(cfg, &o);
		break;
	}
	net_global_cleanup();
	conf_free(cfg);
	log_close();
out:
	sl_free(&o.rcpts);
	sl_free(&o.attach);
	sl_free(&o.attach_type);
	free(prog);
	return code;
}
