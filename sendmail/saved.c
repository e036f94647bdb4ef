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
#include <dirent.h>
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
	struct stat st;
	char *d = strfmt("%s/saved", dir);
	mode_t mode = stat(dir, &st) == 0 && (st.st_mode & S_ISGID) ? 02770 : 0700;

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

/* Writes path (through a temp file beside it) from the command line in args. */
static int
write_args(const char *dir, const char *id, const char *path, const struct saved *sv)
{
	char *tmp = strfmt("%s/tmp/%s.args.tmp%ld", dir, id, (long)getpid());
	FILE *fp = NULL;
	struct stat st;
	int fd = -1, i, r = -1;

	if (tmp == NULL)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || fchmod(fd, stat(dir, &st) == 0 && (st.st_mode & S_ISGID) ? 0640 : 0600)
	    == -1 || (fp = fdopen(fd, "w")) == NULL)
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
	struct stat st;
	ssize_t k;
	int fd = -1, r = -1;

	if (tmp == NULL || path == NULL)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || fchmod(fd, stat(dir, &st) == 0 && (st.st_mode & S_ISGID) ? 0640 : 0600)
	    == -1)
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

	memset(&sv, 0, sizeof sv);
	memset(&m, 0, sizeof m);
	memset(&bi, 0, sizeof bi);
	res->err = PX_CANTCREAT;
	if (dir == NULL || q_init(dir, &err) == -1 || (sdir = saved_dir(dir)) == NULL ||
	    q_create(dir, &q, &out, &err) == -1) {
		res->msg = strfmt("%s; and the message cannot be saved: %s", o->save->error,
		    err ? err : strerror(errno));
		if (out)
			q_abort(&q, out);
		goto out;
	}
	/* As it came: only line endings and the lone dot, as any reading does. */
	m.o = o;
	e = copy_body(&m, r, NULL, 0, 0, out, &bi);
	if (message_finish(&m, e, res) != PX_OK) {
		q_abort(&q, out);
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
	if (sv.argv == NULL || write_args(dir, q.id, args, &sv) == -1 || fsync_dir(sdir) == -1) {
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

	if (strcmp(sv->error, why) != 0) {
		free(sv->error);
		sv->error = xstrdup(why);
		if (args == NULL || write_args(dir, id, args, sv) == -1)
			log_error("%s: cannot note in %s: %s", id, sdir, strerror(errno));
	}
	free(args);
}

/* 1 when the queue already has it (a completion cut short after the spooling). */
static int
completed_before(const struct postie_cfg *cfg, const char *id)
{
	struct stat st;
	char *a = strfmt("%s/%s.env", cfg->queue_dir, id);
	char *b = strfmt("%s/failed/%s.env", cfg->queue_dir, id);
	int r = (a && lstat(a, &st) == 0) || (b && lstat(b, &st) == 0);

	free(a);
	free(b);
	return r;
}

/* Completes one locked saved message of owner; 1 done, 0 kept (with the reason noted). */
static int
complete_one(struct postie_cfg *cfg, const char *dir, const char *sdir, const char *id,
    struct saved *sv, uid_t owner)
{
	struct submit_result res;
	struct reader r;
	struct opts o;
	char **argv;
	size_t i;
	int code = 0, in, done = 0;

	opts_init(&o);
	if ((argv = calloc((size_t)sv->argc + 2, sizeof *argv)) == NULL)
		return 0;
	argv[0] = (char *)"sendmail";
	for (i = 0; i < (size_t)sv->argc; i++)
		argv[i + 1] = sv->argv[i];
	/* The same words a send took: anything else is not a saved send. */
	if (opts_parse(sv->argc + 1, argv, &o, &code) == -1 || o.mode != 'm') {
		saved_note(dir, sdir, id, sv, "the saved command line is not a send");
		goto out;
	}
	o.conf = NULL;		/* this configuration, never one named in the file */
	o.verbose = 0;
	o.delivery = 'q';	/* spooled here, sent by the run */
	o.dot_ends = 0;		/* the lone dot was dealt with when it was read */
	o.need_dot = 0;
	o.submitter = owner;
	o.qid = id;
	if (o.attach.n > 0) {
		if ((o.attach_fd = calloc(o.attach.n, sizeof *o.attach_fd)) == NULL)
			goto out;
		for (i = 0; i < o.attach.n; i++) {
			char ext[32];

			snprintf(ext, sizeof ext, "a%zu", i);
			if ((o.attach_fd[i] = open_saved(sdir, id, ext)) == -1) {
				saved_note(dir, sdir, id, sv, "a saved attachment is missing");
				goto out;
			}
		}
	}
	if ((in = open_saved(sdir, id, "in")) == -1) {
		saved_note(dir, sdir, id, sv, "the saved input is missing");
		goto out;
	}
	if (rd_init(&r, in, READ_BUF) == -1) {
		close(in);
		goto out;
	}
	submit(cfg, &o, &r, &res);
	rd_free(&r);
	close(in);
	if (res.err == PX_OK) {
		log_event(LOG_NOTICE, "%s: saved message completed into %s", id, cfg->queue_dir);
		done = 1;
	} else {
		/* A configuration problem waits for the next; the message's own says why. */
		saved_note(dir, sdir, id, sv, res.msg ? res.msg : "cannot complete it");
		log_error("%s: the saved message cannot be completed yet: %s", id,
		    res.msg ? res.msg : "?");
	}
	free(res.msg);
out:
	free(argv);
	attach_close(&o);
	sl_free(&o.rcpts);
	sl_free(&o.attach);
	sl_free(&o.attach_type);
	return done;
}

/*
 * Opens, (lock: locks) and reads sdir/ID.args; its owner in *st.  The fd,
 * or -1 when it is busy, not the caller's to see, or not a saved entry.
 */
static int
open_args(const char *sdir, const char *id, int lock, struct stat *st, struct saved *sv)
{
	char *p = strfmt("%s/%s.args", sdir, id);
	int fd = p ? open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK) : -1;

	free(p);
	if (fd == -1)
		return -1;
	/* Whose it is: who created the file, whatever it says. */
	if ((lock && flock(fd, LOCK_EX | LOCK_NB) == -1) || fstat(fd, st) == -1 ||
	    !q_visible(st->st_uid) || read_args(fd, sv) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The ids in saved/ (ID.args), oldest first. */
static int
list_saved(const char *sdir, struct strlist *ids)
{
	DIR *d;
	struct dirent *de;
	size_t n;

	if ((d = opendir(sdir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n > 5 && strcmp(de->d_name + n - 5, ".args") == 0 && de->d_name[0] != '.')
			sl_addown(ids, xstrndup(de->d_name, n - 5));
	}
	closedir(d);
	if (ids->n > 1)
		qsort(ids->v, ids->n, sizeof *ids->v, strcmp_p);
	return 0;
}

int
saved_complete(struct postie_cfg *cfg)
{
	struct strlist ids;
	struct saved sv;
	struct stat st;
	char *dir = conf_default_queue_dir(), *sdir;
	size_t i, natt;
	int fd, n = 0, k;

	sl_init(&ids);
	if (dir == NULL || (sdir = strfmt("%s/saved", dir)) == NULL) {
		free(dir);
		return 0;
	}
	if (list_saved(sdir, &ids) == -1)
		log_error("cannot read %s: %s", sdir, strerror(errno));
	for (i = 0; i < ids.n; i++) {
		if ((fd = open_args(sdir, ids.v[i], 1, &st, &sv)) == -1)
			continue;
		for (natt = 0, k = 0; k < sv.argc; k++)
			if (strcmp(sv.argv[k], "--attach") == 0 ||
			    strncmp(sv.argv[k], "--attach=", 9) == 0)
				natt++;
		if (!meant_for(sv.files, cfg->path)) {
			/* Another configuration's: it completes that one's messages. */
		} else if (completed_before(cfg, ids.v[i])) {
			saved_remove(sdir, ids.v[i], natt);
			log_event(LOG_NOTICE, "%s: completed before; removed from %s", ids.v[i],
			    sdir);
		} else if (complete_one(cfg, dir, sdir, ids.v[i], &sv, st.st_uid)) {
			saved_remove(sdir, ids.v[i], natt);
			n++;
		}
		saved_free(&sv);
		close(fd);
	}
	sl_free(&ids);
	free(sdir);
	free(dir);
	return n;
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
saved_print(FILE *out)
{
	struct strlist ids;
	struct saved sv;
	struct stat st, sin;
	struct tm tm;
	char *dir = conf_default_queue_dir(), *sdir, when[64];
	size_t i, count = 0;
	int fd, in, k;

	sl_init(&ids);
	if (dir == NULL || (sdir = strfmt("%s/saved", dir)) == NULL) {
		free(dir);
		return 0;
	}
	(void)list_saved(sdir, &ids);
	for (i = 0; i < ids.n; i++) {
		if ((fd = open_args(sdir, ids.v[i], 0, &st, &sv)) == -1)
			continue;
		close(fd);
		if (count++ == 0)
			fprintf(out, "\n-Saved unprocessed in %s: the configuration could not be "
			    "loaded; the first run that loads it sends them-\n", sdir);
		in = open_saved(sdir, ids.v[i], "in");
		if (in == -1 || fstat(in, &sin) == -1)
			sin.st_size = 0;
		if (in != -1)
			close(in);
		localtime_r(&sv.created, &tm);
		strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm);
		fprintf(out, "%-25s%c %9lld %-20s\n", ids.v[i], '#', (long long)sin.st_size, when);
		fprintf(out, "%58s(%s)\n%58ssendmail", "", sv.error, "");
		for (k = 0; k < sv.argc; k++)
			put_word(out, sv.argv[k]);
		fputs("\n\n", out);
		saved_free(&sv);
	}
	sl_free(&ids);
	free(sdir);
	free(dir);
	return count;
}
