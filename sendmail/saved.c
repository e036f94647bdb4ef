/*
 * saved.c: messages taken while the configuration cannot be loaded (a
 * typo, a missing quote, a bad aliases line, no file at all).
 *
 * Most callers ignore sendmail's exit status, so such a message must not be
 * lost.  It cannot be completed either (the domain, the account, the
 * aliases are in the configuration), so it is kept as it came, with its
 * command line, in the built-in queue directory (SPOOLDIR for the system
 * install, the user's default queue otherwise), subdirectory saved/:
 *
 *   ID.in    the input as read (line endings CRLF; with -bs or without -i
 *            the lone dot and dot-stuffing already undone)
 *   ID.aN    the --attach files, copied while the caller's rights opened them
 *   ID.args  the command line and why it was saved; its existence makes
 *            the entry (written last, fsynced, renamed)
 *
 * The first queue run or send that loads the configuration the message was
 * meant for (the same file, now working) completes it exactly as a normal
 * submission with those arguments would, into the queue, with the same
 * queue id (so that a completion cut short by a crash is recognised), and
 * removes it from saved/.
 *
 * A setgid sendmail reads these files for whoever runs the queue, so they
 * are hostile input: sizes are bounded, the format is checked strictly,
 * the owner of ID.args (who created it) says whose message it is, and no
 * path, -C or other mode is ever taken from it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "reader.h"
#include "sendmail.h"

#define ARGS_MAGIC	"postie-saved 1"
#define ARGS_MAX	(1024 * 1024)	/* bytes of an ID.args */
#define ARGS_NMAX	10000		/* words of its command line */
#define LINE_MAX_SAVED	4096		/* its error and files lines */

/* What ID.args holds. */
struct saved {
	time_t	 created;
	char	*error;
	char	*files;
	int	 argc;
	char	**argv;
};

static void
saved_free(struct saved *s)
{
	int i;

	free(s->error);
	free(s->files);
	for (i = 0; i < s->argc; i++)
		free(s->argv[i]);
	free(s->argv);
	memset(s, 0, sizeof *s);
}

/* DIR/saved, created like failed/ (the group's in a shared spool). */
static char *
saved_dir(const char *dir)
{
	char *d = strfmt("%s/saved", dir);
	mode_t mode = q_shared_dir(dir) ? 02770 : 0700;

	if (d && mkdir(d, mode) == -1 && errno != EEXIST) {
		free(d);
		return NULL;
	}
	return d;
}

/* One line of text, control characters replaced: it goes into a file of lines. */
static void
put_text(FILE *fp, const char *key, const char *v)
{
	size_t n = 0;

	fprintf(fp, "%s ", key);
	for (; v && *v && n < LINE_MAX_SAVED - 64; v++, n++)
		fputc((unsigned char)*v < 0x20 ? ' ' : *v, fp);
	fputc('\n', fp);
}

/*
 * Writes path (through a temp file beside it) from the command line in
 * args; owner: whose it is (its file's owner says so), NO_UID for the caller.
 */
static int
write_args(const char *dir, const char *id, const char *path, const struct saved *sv,
    uid_t owner)
{
	char *tmp = strfmt("%s/tmp/%s.args.tmp%ld", dir, id, (long)getpid());
	FILE *fp = NULL;
	int fd = -1, i, r = -1;

	if (tmp == NULL)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || q_own_file(fd, dir, owner) == -1 || (fp = fdopen(fd, "w")) == NULL)
		goto out;
	fd = -1;
	fprintf(fp, "%s\ncreated %lld\n", ARGS_MAGIC, (long long)sv->created);
	put_text(fp, "error", sv->error);
	put_text(fp, "files", sv->files);
	fprintf(fp, "args %d\n", sv->argc);
	for (i = 0; i < sv->argc; i++)
		fwrite(sv->argv[i], 1, strlen(sv->argv[i]) + 1, fp);
	if (fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) == -1)
		goto out;
	r = fclose(fp);
	fp = NULL;
	if (r == 0)
		r = rename(tmp, path);
out:
	if (fp)
		fclose(fp);
	if (fd != -1)
		close(fd);
	if (r != 0)
		unlink(tmp);
	free(tmp);
	return r == 0 ? 0 : -1;
}

/* The next "key value" line of buf (len n, from *off); NULL if it is not key. */
static char *
take_line(const char *buf, size_t n, size_t *off, const char *key)
{
	const char *p = buf + *off, *nl;
	size_t k = strlen(key);

	if ((nl = memchr(p, '\n', n - *off)) == NULL || (size_t)(nl - p) > LINE_MAX_SAVED ||
	    (size_t)(nl - p) < k + 1 || memcmp(p, key, k) != 0 || p[k] != ' ')
		return NULL;
	*off += (size_t)(nl - p) + 1;
	return xstrndup(p + k + 1, (size_t)(nl - p) - k - 1);
}

/* Reads and checks the locked ID.args at fd; 0, or -1 when it is not one. */
static int
read_args(int fd, struct saved *sv)
{
	struct stat st;
	char *buf, *v, *end;
	size_t n = 0, off, k;
	ssize_t got;
	long count;
	int i;

	memset(sv, 0, sizeof *sv);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > ARGS_MAX)
		return -1;
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		return -1;
	while (n < (size_t)st.st_size) {
		got = pread(fd, buf + n, (size_t)st.st_size - n, (off_t)n);
		if (got == -1 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	if (n != (size_t)st.st_size)
		goto bad;
	buf[n] = '\0';
	off = strlen(ARGS_MAGIC) + 1;
	if (n < off || memcmp(buf, ARGS_MAGIC "\n", off) != 0)
		goto bad;
	if ((v = take_line(buf, n, &off, "created")) == NULL)
		goto bad;
	sv->created = (time_t)strtoll(v, &end, 10);
	k = *v && !*end;
	free(v);
	if (!k || (sv->error = take_line(buf, n, &off, "error")) == NULL ||
	    (sv->files = take_line(buf, n, &off, "files")) == NULL ||
	    (v = take_line(buf, n, &off, "args")) == NULL)
		goto bad;
	count = strtol(v, &end, 10);
	k = *v && !*end && count >= 0 && count <= ARGS_NMAX;
	free(v);
	if (!k || (sv->argv = calloc((size_t)count + 1, sizeof *sv->argv)) == NULL)
		goto bad;
	for (i = 0; i < count; i++) {
		if ((end = memchr(buf + off, '\0', n - off)) == NULL || off >= n)
			goto bad;
		if ((sv->argv[i] = strdup(buf + off)) == NULL)
			goto bad;
		sv->argc++;
		off = (size_t)(end - buf) + 1;
	}
	if (off != n)
		goto bad;	/* something after the last word */
	free(buf);
	return 0;
bad:
	free(buf);
	saved_free(sv);
	return -1;
}

/* Copies fd to DIR/saved/NAME through tmp/, synced; 0 or -1. */
static int
save_copy(const char *dir, const char *sdir, const char *name, int from)
{
	char buf[65536], *tmp = strfmt("%s/tmp/%s.tmp%ld", dir, name, (long)getpid());
	char *path = strfmt("%s/%s", sdir, name);
	ssize_t k;
	int fd = -1, r = -1;

	if (tmp == NULL || path == NULL)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || q_own_file(fd, dir, NO_UID) == -1)
		goto out;
	for (;;) {
		k = read(from, buf, sizeof buf);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (write_all(fd, buf, (size_t)k) == -1)
			goto out;
	}
	if (k == 0 && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		r = rename(tmp, path);
	}
out:
	if (fd != -1)
		close(fd);
	if (r != 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(path);
	return r;
}

/* The command line to record: the caller's, or for -bs the envelope it gave. */
static void
command_line(const struct opts *o, struct saved *sv)
{
	size_t i, n;

	if (o->mode != 's') {
		sv->argc = o->save->argc;
		sv->argv = calloc((size_t)sv->argc + 1, sizeof *sv->argv);
		for (i = 0; sv->argv && i < (size_t)sv->argc; i++)
			sv->argv[i] = xstrdup(o->save->argv[i]);
		if (sv->argv == NULL)
			sv->argc = 0;
		return;
	}
	n = 3 + o->rcpts.n;
	if ((sv->argv = calloc(n + 1, sizeof *sv->argv)) == NULL)
		return;
	sv->argv[0] = strdup("-f");
	sv->argv[1] = strdup(o->sender && *o->sender ? o->sender : "<>");
	sv->argv[2] = strdup("--");
	for (i = 0; i < o->rcpts.n; i++)
		sv->argv[3 + i] = strdup(o->rcpts.v[i]);
	sv->argc = (int)n;
}

void
saved_store(const struct opts *o, struct reader *r, struct submit_result *res)
{
	struct qentry q;
	struct msgctx m;
	struct bodyinfo bi;
	struct saved sv;
	FILE *out = NULL;
	char *dir = conf_default_queue_dir(), *sdir = NULL, *err = NULL, *in = NULL, *args = NULL;
	char name[128];
	enum px_err e;
	size_t i;
	struct postie_cfg lc;
	struct qlimits lim;

	memset(&sv, 0, sizeof sv);
	memset(&m, 0, sizeof m);
	memset(&bi, 0, sizeof bi);
	/*
	 * The queue limits hold here too, the built-in ones (no configuration
	 * is to be had, or not the one meant): else sendmail -a NOSUCH would
	 * fill a shared spool past every limit.
	 */
	memset(&lc, 0, sizeof lc);
	lc.queue_dir = dir;
	lc.queue_user_messages = CONF_QUEUE_USER_MESSAGES;
	lc.queue_user_bytes = CONF_QUEUE_USER_BYTES;
	lc.queue_minfree = CONF_QUEUE_MINFREE;
	memset(&lim, 0, sizeof lim);
	lim.lockfd = -1;
	res->err = PX_CANTCREAT;
	if (dir != NULL && q_init(dir, &err) == 0 && (sdir = saved_dir(dir)) != NULL &&
	    limits_begin(&lc, &lim, &err) != PX_OK) {
		res->err = PX_TEMPFAIL;
		res->msg = strfmt("%s; and the message cannot be saved: %s", o->save->error, err);
		goto out;
	}
	if (dir == NULL || sdir == NULL || q_create(dir, &q, &out, &err) == -1) {
		res->msg = strfmt("%s; and the message cannot be saved: %s", o->save->error,
		    err ? err : strerror(errno));
		if (out)
			q_abort(&q, out);
		goto out;
	}
	/* As it came: only line endings and the lone dot, as any reading does. */
	m.o = o;
	limits_arm(&lim);
	e = copy_body(&m, r, NULL, 0, 0, out, &bi);
	if (e == PX_OK && fflush(out) == EOF)
		e = PX_IOERR;
	if (limits_disarm(&lim, &lc, &err)) {
		e = PX_TEMPFAIL;
		free(m.errmsg);
		m.errmsg = err;
		err = NULL;
	}
	if (message_finish(&m, e, res) != PX_OK) {
		q_abort(&q, out);
		goto out;
	}
	if (limits_commit(&lc, &lim, ftello(out), &err) != PX_OK) {
		q_abort(&q, out);
		res->err = PX_TEMPFAIL;
		res->msg = strfmt("%s; and the message cannot be saved: %s", o->save->error, err);
		goto out;
	}
	res->err = PX_IOERR;
	in = strfmt("%s/%s.in", sdir, q.id);
	args = strfmt("%s/%s.args", sdir, q.id);
	if (in == NULL || args == NULL || fflush(out) == EOF || ferror(out) ||
	    fsync(fileno(out)) == -1 || fclose(out) == EOF) {
		out = NULL;
		res->msg = strfmt("%s; and the message cannot be saved: %s", o->save->error,
		    strerror(errno));
		q_abort(&q, NULL);
		goto out;
	}
	out = NULL;
	if (rename(q.tmpmsg, in) == -1) {
		res->msg = strfmt("%s; and the message cannot be saved: %s", o->save->error,
		    strerror(errno));
		q_abort(&q, NULL);
		goto out;
	}
	for (i = 0; i < o->attach.n && o->attach_fd; i++) {
		snprintf(name, sizeof name, "%s.a%zu", q.id, i);
		if (save_copy(dir, sdir, name, o->attach_fd[i]) == -1) {
			res->msg = strfmt("%s; and the attachment %s cannot be saved: %s",
			    o->save->error, o->attach.v[i], strerror(errno));
			goto undo;
		}
	}
	sv.created = time(NULL);
	sv.error = xstrdup(o->save->error);
	sv.files = xstrdup(o->save->files);
	command_line(o, &sv);
	if (sv.argv == NULL || write_args(dir, q.id, args, &sv, NO_UID) == -1 || fsync_dir(sdir) == -1) {
		res->msg = strfmt("%s; and the message cannot be saved: %s", o->save->error,
		    strerror(errno));
		goto undo;
	}
	res->err = PX_OK;
	res->queued = res->saved = res->loud = 1;
	snprintf(res->id, sizeof res->id, "%s", q.id);
	res->msg = strfmt("%s; the message is saved as %s in %s, and is sent once the "
	    "configuration works (sendmail -q)", o->save->error, q.id, sdir);
	log_event(LOG_WARNING, "%s: saved unprocessed in %s: %s", q.id, sdir, o->save->error);
	q_close(&q);
	goto out;
undo:
	unlink(args);
	unlink(in);
	for (i = 0; i < o->attach.n; i++) {
		char *p;

		snprintf(name, sizeof name, "%s.a%zu", q.id, i);
		if ((p = strfmt("%s/%s", sdir, name)) != NULL)
			unlink(p);
		free(p);
	}
	q_close(&q);
out:
	limits_release(&lim);
	saved_free(&sv);
	free(m.errmsg);
	free(err);
	free(in);
	free(args);
	free(sdir);
	free(dir);
}

/* 1 when files ("A, B") names path. */
static int
meant_for(const char *files, const char *path)
{
	size_t n = strlen(path);
	const char *p = files;

	if (path == NULL)
		return 0;
	while ((p = strstr(p, path)) != NULL) {
		if ((p == files || (p >= files + 2 && p[-2] == ',' && p[-1] == ' ')) &&
		    (p[n] == '\0' || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

/* DIR/saved/ID.EXT opened without following links, a regular file; or -1. */
static int
open_saved(const char *sdir, const char *id, const char *ext)
{
	struct stat st;
	char *p = strfmt("%s/%s.%s", sdir, id, ext);
	int fd = p ? open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) : -1;

	free(p);
	if (fd != -1 && (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Removes saved/ID: its args first (then it is no entry), then the rest. */
static void
saved_remove(const char *sdir, const char *id, size_t nattach)
{
	char *p;
	size_t i;

	if ((p = strfmt("%s/%s.args", sdir, id)) != NULL)
		unlink(p);
	free(p);
	if ((p = strfmt("%s/%s.in", sdir, id)) != NULL)
		unlink(p);
	free(p);
	for (i = 0; i < nattach; i++) {
		if ((p = strfmt("%s/%s.a%zu", sdir, id, i)) != NULL)
			unlink(p);
		free(p);
	}
	fsync_dir(sdir);
}

/* Notes a new reason in ID.args (it stays, for a later run). */
static void
saved_note(const char *dir, const char *sdir, const char *id, struct saved *sv, const char *why)
{
	char *args = strfmt("%s/%s.args", sdir, id);
	struct stat st;

	if (strcmp(sv->error, why) != 0) {
		free(sv->error);
		sv->error = xstrdup(why);
		/* Rewritten by root's run, it stays its owner's. */
		if (args == NULL || stat(args, &st) == -1 ||
		    write_args(dir, id, args, sv, st.st_uid) == -1)
			log_error("%s: cannot note in %s: %s", id, sdir, strerror(errno));
	}
	free(args);
}

/* 1 when the queue directory dir has it, queued or failed. */
static int
has_entry(const char *dir, const char *id)
{
	struct stat st;
	char *a = strfmt("%s/%s.env", dir, id);
	char *b = strfmt("%s/failed/%s.env", dir, id);
	int r = (a && lstat(a, &st) == 0) || (b && lstat(b, &st) == 0);

	free(a);
	free(b);
	return r;
}

/*
 * 1 when a queue has it already: completed, or given up, by a run cut
 * short before it removed it from saved/ (dir: the built-in queue).
 */
static int
completed_before(const struct postie_cfg *cfg, const char *dir, const char *id)
{
	return has_entry(dir, id) || (cfg && has_entry(cfg->queue_dir, id));
}

/* How many --attach files the command line of sv names. */
static size_t
count_attach(const struct saved *sv)
{
	size_t n = 0;
	int k;

	for (k = 0; sv && k < sv->argc; k++)
		if (strcmp(sv->argv[k], "--attach") == 0 || strncmp(sv->argv[k], "--attach=", 9) == 0)
			n++;
	return n;
}

/*
 * The command line of sv into o, as the send it was (the same words: 0),
 * -1 when it is not one, 1 out of memory.  o then needs opts_free().
 */
static int
saved_opts(const struct saved *sv, struct opts *o, uid_t owner)
{
	char **argv;
	int code = 0, r = -1, i;

	opts_init(o);
	if ((argv = calloc((size_t)sv->argc + 2, sizeof *argv)) == NULL)
		return 1;
	argv[0] = (char *)"sendmail";
	for (i = 0; i < sv->argc; i++)
		argv[i + 1] = sv->argv[i];
	/* opts keeps pointers into sv's words, not into argv. */
	if (opts_parse(sv->argc + 1, argv, o, &code) == 0 && o->mode == 'm')
		r = 0;
	free(argv);
	o->conf = NULL;		/* this configuration, never one named in the file */
	o->verbose = 0;
	o->submitter = owner;
	return r;
}

static void
opts_free(struct opts *o)
{
	attach_close(o);
	sl_free(&o->rcpts);
	sl_free(&o->attach);
	sl_free(&o->attach_type);
}

/*
 * Completes saved message id of owner (its command line sv, its input
 * SDIR/ID.INEXT) into cfg's queue as entry qid: 1 done, 0 not now, -1
 * never (outcome_saved_final); *why (malloc'd) says why not, *e its class.
 */
static int
complete_one(struct postie_cfg *cfg, const char *sdir, const char *id, const char *inext,
    const struct saved *sv, uid_t owner, const char *qid, char **why, enum px_err *e)
{
	struct submit_result res;
	struct reader r;
	struct opts o;
	size_t i;
	int in, k, done = -1;

	*why = NULL;
	*e = PX_USAGE;
	if ((k = saved_opts(sv, &o, owner)) != 0) {
		/* Not a send: never one; no memory: later. */
		done = k == -1 ? -1 : 0;
		if (k == -1)
			*why = strdup("the saved command line is not a send");
		goto out;
	}
	o.delivery = 'q';	/* spooled here, sent by the run */
	o.dot_ends = 0;		/* the lone dot was dealt with when it was read */
	o.need_dot = 0;
	o.qid = qid;
	*e = PX_NOINPUT;
	if (o.attach.n > 0) {
		if ((o.attach_fd = calloc(o.attach.n, sizeof *o.attach_fd)) == NULL) {
			done = 0;
			goto out;
		}
		for (i = 0; i < o.attach.n; i++)
			o.attach_fd[i] = -1;
		for (i = 0; i < o.attach.n; i++) {
			char ext[32];

			snprintf(ext, sizeof ext, "a%zu", i);
			if ((o.attach_fd[i] = open_saved(sdir, id, ext)) == -1) {
				*why = strdup("a saved attachment is missing");
				goto out;
			}
		}
	}
	if ((in = open_saved(sdir, id, inext)) == -1) {
		*why = strdup("the saved input is missing");
		goto out;
	}
	if (rd_init(&r, in, READ_BUF) == -1) {
		close(in);
		done = 0;
		goto out;
	}
	submit(cfg, &o, &r, &res);
	rd_free(&r);
	close(in);
	*e = res.err;
	if (res.err == PX_OK) {
		log_event(LOG_NOTICE, "%s: saved message completed into %s", id, cfg->queue_dir);
		done = 1;
		free(res.msg);
	} else {
		*why = res.msg ? res.msg : strdup("cannot complete it");
		done = outcome_saved_final(res.err) ? -1 : 0;
	}
out:
	if (*why == NULL && done != 1)
		*why = strdup("out of memory");
	opts_free(&o);
	return done;
}

/* s with control characters as '?': it goes into an envelope line. */
static char *
clean_word(const char *s)
{
	char *c = xstrdup(s), *p;

	for (p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return c;
}

/*
 * The envelope of saved message sv (NULL: ID.args is no saved entry) as
 * failed/ keeps it: the account and sender the completed message would
 * have had in cfg (if it is the configuration meant), its command line's
 * recipients, and who is told: a bounce when there is a sender, an account
 * and a recipient, and bounce is not "none".
 */
static void
give_up_env(struct postie_cfg *cfg, const struct saved *sv, uid_t owner, struct envelope *e)
{
	struct smtp_account *a = NULL;
	struct opts o;
	char *err = NULL, *sender = NULL;
	int ok = sv && saved_opts(sv, &o, owner) == 0;
	size_t i;

	if (sv == NULL)
		opts_init(&o);
	for (i = 0; ok && i < o.rcpts.n; i++)
		sl_addown(&e->rcpts, clean_word(o.rcpts.v[i]));
	for (i = 0; i < e->rcpts.n; i++)
		sl_add(&e->replies, "");
	if (!ok)
		err = strdup("the saved command line is not a send");
	else if (cfg == NULL)
		err = strdup("the configuration cannot be loaded");
	else if (message_envelope(cfg, &o, &a, &sender, &err) != PX_OK)
		a = NULL;
	if (a) {
		e->account = xstrdup(a->name);
		e->sender = sender;
		if (e->rcpts.n == 0)
			e->report = strdup("none (no recipient is known: the message was never "
			    "completed)");
		else
			e->report = xstrdup(outcome_report(0, *sender == '\0', a->bounce));
	} else {
		e->account = strdup("");
		/* Who sent it, for mailq: -f as given, else the login. */
		e->sender = ok && o.sender ? clean_word(o.sender) : util_username_of(owner);
		e->report = strfmt("none (no account can be chosen: %s)", err ? err : "?");
		free(sender);
	}
	free(err);
	opts_free(&o);
}

/*
 * Gives up saved message id (ID.args open and locked at afd; read into sv,
 * or sv NULL when it is no saved entry) for why: it goes to failed/ of the
 * queue it was meant for (cfg's, when cfg is the configuration it was
 * meant for; else the built-in one, dir), with its command line and
 * attachments, and leaves saved/.  1 when a bounce is due, 0 when not, -1
 * when it cannot be moved (it stays).
 */
static int
give_up(struct postie_cfg *cfg, const char *dir, const char *sdir, const char *id, int afd,
    const struct saved *sv, uid_t owner, time_t created, const char *why)
{
	struct envelope e;
	struct qpart data, *parts = NULL;
	struct stat st;
	const char *to = cfg ? cfg->queue_dir : dir;
	char fid[96], *err = NULL, ext[32], **paths = NULL;
	size_t i, natt = count_attach(sv);
	int r = -1;

	env_init(&e);
	memset(&data, 0, sizeof data);
	data.fd = -1;
	e.uid = owner;
	e.created = created;
	e.failed = time(NULL);
	e.error = xstrdup(why);
	e.saved = 1;
	e.nattach = natt;
	give_up_env(cfg, sv, owner, &e);
	if ((parts = calloc(natt + 1, sizeof *parts)) != NULL)
		for (i = 0; i < natt + 1; i++)
			parts[i].fd = -1;
	if (parts == NULL || (paths = calloc(natt + 2, sizeof *paths)) == NULL ||
	    e.account == NULL || e.sender == NULL || e.report == NULL || e.error == NULL) {
		log_error("%s: out of memory; it stays in %s", id, sdir);
		goto out;
	}
	/*
	 * The parts are locked while they are linked into failed/, where a
	 * cleaner would otherwise take them for leftovers until the envelope
	 * is there.  A part that is missing is kept empty.
	 */
	data.path = paths[natt + 1] = strfmt("%s/%s.in", sdir, id);
	if ((data.fd = open_saved(sdir, id, "in")) != -1) {
		(void)flock(data.fd, LOCK_EX | LOCK_NB);
		if (fstat(data.fd, &st) == 0)
			e.size = st.st_size;
	}
	parts[0].path = paths[0] = strfmt("%s/%s.args", sdir, id);
	parts[0].fd = afd;
	for (i = 0; i < natt; i++) {
		snprintf(ext, sizeof ext, "a%zu", i);
		parts[i + 1].path = paths[i + 1] = strfmt("%s/%s.%s", sdir, id, ext);
		if ((parts[i + 1].fd = open_saved(sdir, id, ext)) != -1)
			(void)flock(parts[i + 1].fd, LOCK_EX | LOCK_NB);
	}
	if (q_init(to, &err) == -1 ||
	    q_failed_add(to, id, &data, parts, &e, fid, sizeof fid, &err) == -1) {
		log_error("%s: the saved message cannot be given up: %s; it stays in %s", id,
		    err ? err : strerror(errno), sdir);
		goto out;
	}
	log_event(LOG_ERR, "%s: uid=%ld from=<%s> saved message given up: %s; kept in %s/failed "
	    "as %s, report: %s", id, (long)owner, e.sender, why, to, fid, e.report);
	if (strncmp(e.report, "none (no account", 16) == 0)
		log_error("%s: no bounce: %.*s", id, (int)strlen(e.report) - 7, e.report + 6);
	saved_remove(sdir, id, natt);
	r = bounce_pending(e.report);
out:
	free(err);
	if (data.fd != -1)
		close(data.fd);
	for (i = 0; paths && i < natt + 2; i++)
		free(paths[i]);
	for (i = 1; parts && i < natt + 1; i++)
		if (parts[i].fd != -1)
			close(parts[i].fd);
	free(paths);
	free(parts);
	env_free(&e);
	return r;
}

/*
 * Opens and (lock) locks sdir/ID.args, its owner in *st: the fd, or -1 when
 * it is busy, gone or not the caller's to see.
 */
static int
open_args(const char *sdir, const char *id, int lock, struct stat *st)
{
	char *p = strfmt("%s/%s.args", sdir, id);
	int fd = p ? open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) : -1;

	free(p);
	if (fd == -1)
		return -1;
	/* Whose it is: who created the file, whatever it says. */
	if ((lock && flock(fd, LOCK_EX | LOCK_NB) == -1) || fstat(fd, st) == -1 ||
	    !S_ISREG(st->st_mode) || !q_visible(st->st_uid)) {
		close(fd);
		return -1;
	}
	return fd;
}


/* How long a saved message waits: the queue_lifetime of the configuration it is meant for. */
static long
lifetime(const struct postie_cfg *cfg, const struct saved *sv)
{
	return cfg && sv && meant_for(sv->files, cfg->path) ? cfg->queue_lifetime :
	    CONF_QUEUE_LIFETIME;
}

/*
 * One locked saved entry (sv NULL: its ID.args is no saved entry): done
 * before, completed, given up, or kept with the reason noted.  1 when the
 * queue has something to send for it (completed, or a bounce due).
 */
static int
saved_one(struct postie_cfg *cfg, const char *dir, const char *sdir, const char *id, int afd,
    struct saved *sv, const struct stat *st)
{
	time_t now = time(NULL), created = sv ? sv->created : st->st_mtime;
	long life = lifetime(cfg, sv);
	enum px_err e;
	char *why = NULL, *msg, span[32];
	int r = 0, k;

	if (sv && completed_before(cfg, dir, id)) {
		saved_remove(sdir, id, count_attach(sv));
		log_event(LOG_NOTICE, "%s: completed before; removed from %s", id, sdir);
		return 0;
	}
	if (sv && cfg && meant_for(sv->files, cfg->path)) {
		k = complete_one(cfg, sdir, id, "in", sv, st->st_uid, id, &why, &e);
		if (k == 1) {
			saved_remove(sdir, id, count_attach(sv));
			return 1;
		}
		if (k == -1) {
			/* Nothing a configuration can mend: no use waiting. */
			msg = strfmt("the saved message cannot be completed: %s", why);
			r = give_up(cfg, dir, sdir, id, afd, sv, st->st_uid, created,
			    msg ? msg : why);
			free(msg);
			free(why);
			return r == 1;
		}
		if (now - created <= life) {
			saved_note(dir, sdir, id, sv, why);
			log_error("%s: the saved message cannot be completed yet: %s", id, why);
			free(why);
			return 0;
		}
		free(sv->error);
		sv->error = why;
	}
	if (now - created <= life)
		return 0;	/* another configuration's, still in time */
	q_age(span, sizeof span, now - created);
	msg = strfmt("given up after %s in saved/ (queue_lifetime), never completed: %s", span,
	    sv ? sv->error : "ID.args is no saved entry");
	r = give_up(sv && cfg && meant_for(sv->files, cfg->path) ? cfg : NULL, dir, sdir, id,
	    afd, sv, st->st_uid, created, msg ? msg : "given up");
	free(msg);
	return r == 1;
}

int
saved_complete(struct postie_cfg *cfg)
{
	struct strlist ids;
	struct saved sv;
	struct stat st;
	char *dir = conf_default_queue_dir(), *sdir;
	size_t i;
	int fd, n = 0, ok;

	sl_init(&ids);
	if (dir == NULL || (sdir = strfmt("%s/saved", dir)) == NULL) {
		free(dir);
		return 0;
	}
	/* What a kill left in saved/ (and in the built-in queue, when it is not cfg's). */
	q_clean_saved(sdir);
	if (cfg == NULL || strcmp(cfg->queue_dir, dir) != 0)
		q_clean(dir);
	if (q_list_marked(sdir, ".args", &ids) == -1)
		log_error("cannot read %s: %s", sdir, strerror(errno));
	for (i = 0; i < ids.n; i++) {
		if ((fd = open_args(sdir, ids.v[i], 1, &st)) == -1)
			continue;
		ok = read_args(fd, &sv) == 0;
		n += saved_one(cfg, dir, sdir, ids.v[i], fd, ok ? &sv : NULL, &st);
		if (ok)
			saved_free(&sv);
		close(fd);
	}
	sl_free(&ids);
	free(sdir);
	free(dir);
	return n;
}

enum px_err
saved_requeue(struct postie_cfg *cfg, struct qentry *q, char **err)
{
	struct saved sv;
	struct stat st;
	char *fdir = strfmt("%s/failed", q->dir), *why = NULL, *p;
	enum px_err e = PX_NOINPUT;
	int fd = -1;

	*err = NULL;
	if (fdir == NULL) {
		*err = strdup("out of memory");
		e = PX_SOFTWARE;
		goto out;
	}
	if ((fd = open_saved(fdir, q->id, "args")) == -1 || read_args(fd, &sv) == -1) {
		*err = strfmt("its saved command line (%s/%s.args) cannot be read", fdir, q->id);
		goto out;
	}
	p = strfmt("%s/%s.env", cfg->queue_dir, q->id);
	if (p && lstat(p, &st) == 0) {
		*err = strfmt("%s is in the queue already", q->id);
		e = PX_USAGE;
	} else if (complete_one(cfg, fdir, q->id, "msg", &sv, q->env.uid, q->id, &why, &e) == 1) {
		if (q_failed_remove(q) == -1)
			log_error("%s: in the queue, but its copy in failed/ stays: %s", q->id,
			    strerror(errno));
		e = PX_OK;
	} else
		*err = strfmt("the saved message cannot be completed: %s", why);
	free(p);
	free(why);
	saved_free(&sv);
out:
	if (fd != -1)
		close(fd);
	free(fdir);
	return e;
}

/* A word of a command line for mailq: printable, control characters escaped. */
static void
put_word(FILE *out, const char *w)
{
	fputc(' ', out);
	for (; *w; w++)
		if ((unsigned char)*w < 0x20 || *w == 0x7f)
			fprintf(out, "\\x%02x", (unsigned char)*w);
		else
			fputc(*w, out);
}

size_t
saved_print(FILE *out, const struct postie_cfg *cfg)
{
	struct strlist ids;
	struct saved sv;
	struct stat st, sin;
	struct tm tm;
	char *dir = conf_default_queue_dir(), *sdir, when[64], a[32], left[32];
	time_t now = time(NULL), created;
	size_t i, count = 0;
	int fd, in, k, ok;

	sl_init(&ids);
	if (dir == NULL || (sdir = strfmt("%s/saved", dir)) == NULL) {
		free(dir);
		return 0;
	}
	/* Saved messages given up while no configuration loaded: the built-in failed/. */
	if (cfg && strcmp(cfg->queue_dir, dir) != 0)
		(void)q_print_failed(dir, out);
	(void)q_list_marked(sdir, ".args", &ids);
	for (i = 0; i < ids.n; i++) {
		if ((fd = open_args(sdir, ids.v[i], 0, &st)) == -1)
			continue;
		ok = read_args(fd, &sv) == 0;
		close(fd);
		if (count++ == 0)
			fprintf(out, "\n-Saved unprocessed in %s: the configuration could not be "
			    "loaded; the first run that loads it sends them-\n", sdir);
		in = open_saved(sdir, ids.v[i], "in");
		if (in == -1 || fstat(in, &sin) == -1)
			sin.st_size = 0;
		if (in != -1)
			close(in);
		created = ok ? sv.created : st.st_mtime;
		localtime_r(&created, &tm);
		strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm);
		q_age(a, sizeof a, now - created);
		q_age(left, sizeof left, created + lifetime(cfg, ok ? &sv : NULL) - now);
		fprintf(out, "%-25s%c %9lld %-20s\n", ids.v[i], '#', (long long)sin.st_size, when);
		/* When it goes to failed/ if nothing completes it (queue_lifetime). */
		fprintf(out, "%58s(%s; age %s, given up in %s)\n", "",
		    ok ? sv.error : "not a saved entry: its .args cannot be read", a, left);
		if (ok) {
			fprintf(out, "%58ssendmail", "");
			for (k = 0; k < sv.argc; k++)
				put_word(out, sv.argv[k]);
			fputc('\n', out);
			saved_free(&sv);
		}
		fputc('\n', out);
	}
	sl_free(&ids);
	free(sdir);
	free(dir);
	return count;
}
