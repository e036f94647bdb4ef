/*
 * popfetch: fetch mail from POP3 servers into mbox, Maildir or a command.
 *
 * main.c: options, configuration, the pool that polls up to max_parallel
 * accounts at once (one child process per account), the daemon loop and
 * its signals, and the one mapping from error classes to exit codes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "oauth2.h"
#include "popfetch.h"

#ifndef POSTIE_VERSION
#define POSTIE_VERSION "unknown"
#endif

volatile sig_atomic_t pf_stop;
static volatile sig_atomic_t got_hup, got_usr1;
static int wake[2] = { -1, -1 };	/* self-pipe: signals wake the daemon and the pool */

static const char usage_line[] =
    "usage: popfetch [-C FILE] [-d SECONDS] [-k] [-v | -q] [--list | --serverinfo]\n"
    "                [ACCOUNT ...]\n"
    "       popfetch [-C FILE] [-v] --authorize [--device] ACCOUNT";

static void
usage(void)
{
	fprintf(stderr, "%s\n", usage_line);
	exit(EX_USAGE);
}

static void
help(void)
{
	printf("%s\n\n"
	    "Fetch mail from the pop3 accounts of postie.conf(5) (all of them, or the\n"
	    "ACCOUNTs named) into mbox files, Maildirs or a delivery command.\n\n"
	    "  -C FILE        configuration file (default: $POSTIE_CONF,\n"
	    "                 ~/.config/postie/postie.conf, " SYSCONFDIR "/postie.conf)\n"
	    "  -d SECONDS     keep running, polling every SECONDS (0: each account's\n"
	    "                 interval); SIGTERM/SIGINT stop after the message in hand,\n"
	    "                 SIGHUP re-reads the configuration, SIGUSR1 polls now\n"
	    "  -k             keep the messages on the server\n"
	    "  -q             quiet: no progress line\n"
	    "  -v             show the POP3 dialogue (credentials redacted)\n"
	    "      --list     show the messages on the server without fetching\n"
	    "      --serverinfo  connect and log in as a poll would, and show the TLS\n"
	    "                 version, the certificate (with its tls_fingerprint) and\n"
	    "                 the server's capabilities; fetch nothing\n"
	    "      --authorize  get the OAuth 2.0 grant of ACCOUNT: open the address it\n"
	    "                 prints and sign in; --device: enter a code on another device\n"
	    "      --help     this text\n"
	    "      --version  the version\n\n"
	    "Exit status: 0 success (also when there was no mail), 64 usage, 65 the\n"
	    "account's state file does not parse, 69 server refused, 70 internal error,\n"
	    "71 cannot fork, 73 cannot create or lock the destination, 74 I/O error,\n"
	    "75 temporary failure, 77 login refused (or no OAuth 2.0 grant: --authorize),\n"
	    "78 configuration error.\n",
	    usage_line);
	exit(EX_OK);
}

/* ---- error classes ---- */

int
pf_severity(enum px_err e)
{
	/*
	 * Several accounts: the exit code is the worst of theirs.  What needs
	 * the user's hand ranks above what fixes itself: temporary failures
	 * lowest, then server refusals, refused logins, local I/O and
	 * destination problems, internal errors, and configuration highest.
	 */
	switch (e) {
	case PX_OK:		return 0;
	case PX_TEMPFAIL:	return 1;
	case PX_UNAVAILABLE:	return 2;
	case PX_DATA:		return 2;
	case PX_NOUSER:		return 2;
	case PX_NOPERM:		return 3;
	case PX_IOERR:		return 4;
	case PX_CANTCREAT:	return 5;
	case PX_OSERR:		return 6;
	case PX_SOFTWARE:	return 7;
	case PX_CONFIG:		return 8;
	case PX_USAGE:		return 9;
	default:		return 7;
	}
}

enum px_err
pf_err_of_exit(int code)
{
	static const enum px_err all[] = { PX_OK, PX_TEMPFAIL, PX_UNAVAILABLE, PX_DATA, PX_NOPERM,
		PX_IOERR, PX_CANTCREAT, PX_OSERR, PX_SOFTWARE, PX_CONFIG, PX_USAGE };
	size_t i;

	for (i = 0; i < sizeof all / sizeof all[0]; i++)
		if (px_exitcode(all[i]) == code)
			return all[i];
	return PX_SOFTWARE;
}

static enum px_err
worse(enum px_err a, enum px_err b)
{
	return pf_severity(b) > pf_severity(a) ? b : a;
}

/* ---- signals ---- */

static void
on_signal(int sig)
{
	int saved = errno;

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		/* The first asks to stop after the message in hand, a second now. */
		if (pf_stop < 2)
			pf_stop++;
		break;
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGUSR1:
		got_usr1 = 1;
		break;
	default:
		break;
	}
	if (wake[1] != -1)
		(void)!write(wake[1], "", 1);
	errno = saved;
}

static void
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) == -1)
		wake[0] = wake[1] = -1;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Sleeps until a signal or timeout_ms (-1: no timeout). */
static void
wait_wake(int timeout_ms)
{
	struct pollfd pfd;
	char buf[64];

	if (wake[0] == -1) {
		if (timeout_ms > 0) {
			struct timespec ts = { timeout_ms / 1000, (timeout_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		return;
	}
	pfd.fd = wake[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, timeout_ms) > 0)
		while (read(wake[0], buf, sizeof buf) > 0)
			;
}

/* ---- polling accounts ---- */

/* Polls one account in a child; the exit code carries the result. */
static pid_t
spawn(const struct pop3_account *a, const struct popts *o, pid_t *pids)
{
	struct poll_result res;
	struct popts co;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) != 0)
		return pid;
	if (wake[0] != -1) {
		close(wake[0]);
		close(wake[1]);
		wake[0] = wake[1] = -1;
	}
	free(pids);	/* the parent's */
	co = *o;
	co.summary = o->progress || o->summary;
	co.progress = 0;	/* live lines from several children would garble */
	_exit(px_exitcode(fetch_account(a, &co, &res)));
}

/*
 * Polls the accounts: in this process when there is one (or max_parallel
 * is 1), else up to max_parallel child processes at a time.  Returns the
 * worst error class.
 */
static enum px_err
poll_accounts(struct pop3_account **v, size_t n, int max_parallel, const struct popts *o)
{
	struct poll_result res;
	enum px_err worst = PX_OK;
	pid_t *pids, pid;
	size_t next = 0, running = 0, i;
	int status, forwarded = 0;

	if (n == 1 || max_parallel <= 1) {
		for (i = 0; i < n && !pf_stop; i++)
			worst = worse(worst, fetch_account(v[i], o, &res));
		return worst;
	}
	if ((pids = calloc(n, sizeof *pids)) == NULL) {
		log_error("out of memory");
		return PX_SOFTWARE;
	}
	/* Load and initialise libcurl once, here, rather than once in every child. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(pids);
		return PX_SOFTWARE;
	}
	while (running > 0 || (next < n && !pf_stop)) {
		while (running < (size_t)max_parallel && next < n && !pf_stop) {
			if ((pid = spawn(v[next], o, pids)) == -1) {
				log_error("%s: cannot fork: %s", v[next]->name, strerror(errno));
				worst = worse(worst, PX_OSERR);
			} else {
				pids[next] = pid;
				running++;
			}
			next++;
		}
		/* Reap whatever finished; then sleep until SIGCHLD or another signal. */
		while (running > 0 && (pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (i = 0; i < next && pids[i] != pid; i++)
				;
			if (i == next)
				continue;	/* not ours */
			pids[i] = 0;
			running--;
			if (WIFEXITED(status))
				worst = worse(worst, pf_err_of_exit(WEXITSTATUS(status)));
			else {
				log_error("%s: the poll was killed by signal %d", v[i]->name,
				    WTERMSIG(status));
				worst = worse(worst, PX_SOFTWARE);
			}
		}
		if (pf_stop > forwarded) {
			/* Each child finishes its message in hand, then quits. */
			for (i = 0; i < next; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGTERM);
			forwarded = pf_stop;
		}
		if (running > 0 && (running == (size_t)max_parallel || next == n || pf_stop))
			wait_wake(1000);
	}
	free(pids);
	return worst;
}

/* ---- configuration ---- */

/*
 * The accounts to poll: the named ones, else all.  NULL + message on error;
 * NULL without one: out of memory.
 */
static struct pop3_account **
select_accounts(struct postie_cfg *cfg, char **names, int nnames, size_t *np, char **err)
{
	struct pop3_account **v;
	size_t i;
	int k;

	*err = NULL;
	if (cfg->npop3 == 0) {
		*err = strfmt("%s: no pop3 account is configured", cfg->path);
		return NULL;
	}
	if ((v = calloc(nnames > 0 ? (size_t)nnames : cfg->npop3, sizeof *v)) == NULL)
		return NULL;
	*np = 0;
	if (nnames == 0) {
		for (i = 0; i < cfg->npop3; i++)
			v[(*np)++] = &cfg->pop3[i];
		return v;
	}
	for (k = 0; k < nnames; k++) {
		if ((v[*np] = conf_pop3_find(cfg, names[k])) == NULL) {
			*err = strfmt("%s: no pop3 account \"%s\"", cfg->path, names[k]);
			free(v);
			return NULL;
		}
		for (i = 0; i < *np && v[i] != v[*np]; i++)
			;
		if (i == *np)
			(*np)++;
	}
	return v;
}

struct loaded {
	struct postie_cfg *cfg;
	struct pop3_account **acc;
	size_t	 nacc;
};

static enum px_err
load(const struct popts *o, char **names, int nnames, struct loaded *l, char **err)
{
	char *path;

	memset(l, 0, sizeof *l);
	*err = NULL;
	if ((path = conf_find(o->conf, 1)) == NULL)
		return PX_SOFTWARE;
	errno = 0;
	l->cfg = conf_load(path, o->conf != NULL, err);
	free(path);
	/*
	 * Out of memory (no message, or a call that failed with ENOMEM, as
	 * fopen() whose buffer could not be had) is the host's failure, not
	 * the configuration's.
	 */
	if (l->cfg == NULL)
		return *err == NULL || errno == ENOMEM ? PX_SOFTWARE : PX_CONFIG;
	if ((l->acc = select_accounts(l->cfg, names, nnames, &l->nacc, err)) == NULL) {
		conf_free(l->cfg);
		l->cfg = NULL;
		return *err == NULL ? PX_SOFTWARE : PX_CONFIG;
	}
	return PX_OK;
}

static void
unload(struct loaded *l)
{
	free(l->acc);
	conf_free(l->cfg);
	memset(l, 0, sizeof *l);
}

/* ---- daemon ---- */

static long
interval_of(const struct popts *o, const struct pop3_account *a)
{
	return o->daemon > 0 ? o->daemon : a->interval;
}

static int
run_daemon(const struct popts *o, char **names, int nnames, struct loaded *l)
{
	struct loaded nl;
	struct pop3_account **due = NULL;
	double *next = NULL, t, soonest;
	size_t i, ndue;
	char *err = NULL;
	int timeout;

	log_event(LOG_INFO, "started, %zu account%s", l->nacc, l->nacc == 1 ? "" : "s");
	while (!pf_stop) {
		if (got_hup) {
			got_hup = 0;
			if (load(o, names, nnames, &nl, &err) != PX_OK) {
				log_error("%s (keeping the previous configuration)", PF_WHY(err));
				log_event(LOG_ERR, "reload failed: %s", PF_WHY(err));
				free(err);
				err = NULL;
			} else {
				unload(l);
				*l = nl;
				log_close();
				log_open(l->cfg->log);
				log_event(LOG_INFO, "configuration reloaded, %zu account%s",
				    l->nacc, l->nacc == 1 ? "" : "s");
				free(next);
				next = NULL;
			}
		}
		if (next == NULL) {
			/* First round, or after a reload: everything is due now. */
			free(due);
			next = calloc(l->nacc, sizeof *next);
			due = calloc(l->nacc, sizeof *due);
			if (next == NULL || due == NULL) {
				log_error("out of memory");
				break;
			}
		}
		if (got_usr1) {
			got_usr1 = 0;
			for (i = 0; i < l->nacc; i++)
				next[i] = 0;
		}
		t = util_monotonic();
		for (i = ndue = 0; i < l->nacc; i++)
			if (next[i] <= t)
				due[ndue++] = l->acc[i];
		if (ndue > 0) {
			poll_accounts(due, ndue, l->cfg->max_parallel, o);
			t = util_monotonic();
			for (i = 0; i < l->nacc; i++)
				if (next[i] <= t)
					next[i] = t + (double)interval_of(o, l->acc[i]);
		}
		if (pf_stop || got_hup || got_usr1)
			continue;
		soonest = -1;
		for (i = 0; i < l->nacc; i++)
			if (soonest < 0 || next[i] < soonest)
				soonest = next[i];
		t = soonest - util_monotonic();
		timeout = t <= 0 ? 0 : t > 3600 ? 3600000 : (int)(t * 1000) + 1;
		wait_wake(timeout);
	}
	log_event(LOG_INFO, "stopped");
	free(next);
	free(due);
	/* A second signal cut a message short: it stays on the server, say so. */
	return pf_stop >= 2 ? EX_TEMPFAIL : EX_OK;
}

/* ---- main ---- */

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help",	no_argument,	NULL, 'h' },
		{ "list",	no_argument,	NULL, 'l' },
		{ "serverinfo",	no_argument,	NULL, 'S' },
		{ "authorize",	no_argument,	NULL, 'A' },
		{ "device",	no_argument,	NULL, 'D' },
		{ "version",	no_argument,	NULL, 'V' },
		{ NULL,		0,		NULL, 0 }
	};
	struct popts o;
	struct loaded l;
	enum px_err e, worst = PX_OK;
	char *err = NULL, *end;
	size_t i;
	int c, rc, authorize = 0, device = 0;

	log_setprog("popfetch");
	memset(&o, 0, sizeof o);
	o.daemon = -1;
	while ((c = getopt_long(argc, argv, "C:d:hkqvV", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o.conf = optarg;
			break;
		case 'd':
			errno = 0;
			o.daemon = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o.daemon < 0) {
				log_error("-d wants a number of seconds, not \"%s\"", optarg);
				usage();
			}
			break;
		case 'h':
			help();
			break;
		case 'k':
			o.keep = 1;
			break;
		case 'l':
			o.list = 1;
			break;
		case 'A':
			authorize = 1;
			break;
		case 'D':
			device = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'S':
			o.serverinfo = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'V':
			printf("popfetch (Postie) %s, %s\n", POSTIE_VERSION, curl_version());
			return EX_OK;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (o.verbose && o.quiet) {
		log_error("-v and -q exclude each other");
		usage();
	}
	if ((o.list || o.serverinfo) && o.daemon >= 0) {
		log_error("%s and -d exclude each other", o.list ? "--list" : "--serverinfo");
		usage();
	}
	if (o.list && o.serverinfo) {
		log_error("--list and --serverinfo exclude each other");
		usage();
	}
	if ((authorize && (argc != 1 || o.list || o.serverinfo || o.daemon >= 0)) ||
	    (device && !authorize)) {
		log_error("--authorize [--device] takes one ACCOUNT and no other mode");
		usage();
	}
	log_setverbose(o.verbose);
	o.progress = !o.quiet && !o.verbose && !o.list && !o.serverinfo && isatty(STDERR_FILENO);

	if ((e = load(&o, argv, argc, &l, &err)) != PX_OK) {
		log_error("%s", PF_WHY(err));
		free(err);
		return px_exitcode(e);
	}
	if (log_open(l.cfg->log) == -1)
		log_error("cannot open the log file %s: %s", l.cfg->log, strerror(errno));
	setup_signals();
	if (net_global_init() == -1) {
		log_error("cannot initialise libcurl");
		unload(&l);
		return EX_SOFTWARE;
	}
	if (authorize) {
		if (l.acc[0]->net.oauth2 == NULL) {
			log_error("%s: pop3 account \"%s\" has no oauth2_* keys: nothing to authorize "
			    "(see postie.conf(5))", l.cfg->path, l.acc[0]->name);
			rc = EX_CONFIG;
		} else if ((e = oauth2_authorize(&l.acc[0]->net, device, &err)) != PX_OK) {
			log_error("%s", err ? err : "the authorization failed");
			rc = px_exitcode(e);
		} else
			rc = EX_OK;
		free(err);
	} else if (o.list || o.serverinfo) {
		for (i = 0; i < l.nacc && !pf_stop; i++) {
			if (o.serverinfo && i > 0)
				printf("\n");
			e = o.list ? list_account(l.acc[i], &o) : serverinfo_account(l.acc[i], &o);
			worst = worse(worst, e);
		}
		rc = px_exitcode(worst);
	} else if (o.daemon >= 0)
		rc = run_daemon(&o, argv, argc, &l);
	else
		rc = px_exitcode(poll_accounts(l.acc, l.nacc, l.cfg->max_parallel, &o));
	unload(&l);
	net_global_cleanup();
	log_close();
	return rc;
}
