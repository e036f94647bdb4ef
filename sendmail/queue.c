/*
 * queue.c: the durable queue.  An entry is two files in the queue
 * directory: ID.msg, the message as it will be sent (written once, locked
 * with flock while someone works on it), and ID.env, the envelope and
 * bookkeeping (replaced atomically).  An entry exists when its .env exists;
 * both are written to tmp/ first, fsynced and renamed, so a crash leaves an
 * entry either complete or absent.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sendmail.h"

void
env_init(struct envelope *e)
{
	memset(e, 0, sizeof *e);
	sl_init(&e->rcpts);
	e->uid = NO_UID;
}

void
env_free(struct envelope *e)
{
	free(e->account);
	free(e->sender);
	free(e->error);
	sl_free(&e->rcpts);
	env_init(e);
}

time_t
q_backoff(int attempts)
{
	time_t t = 60;

	while (--attempts > 0 && t < 3600)
		t *= 2;
	return t > 3600 ? 3600 : t;
}

int
q_init(const char *dir, char **err)
{
	char *sub;
	int r = 0;
	mode_t old = umask(007), mode = 0700;
	struct stat st;

	if (mkdir_p(dir, 0700) == -1) {
		*err = strfmt("cannot create the queue directory %s: %s", dir, strerror(errno));
		umask(old);
		return -1;
	}
	/* A shared spool (setgid directory) hands its group to what we make in it. */
	if (stat(dir, &st) == 0 && (st.st_mode & S_ISGID))
		mode = 02770;
	sub = strfmt("%s/tmp", dir);
	if (sub == NULL || (mkdir(sub, mode) == -1 && errno != EEXIST)) {
		*err = strfmt("cannot create %s: %s", sub ? sub : dir, strerror(errno));
		r = -1;
	}
	free(sub);
	umask(old);
	return r;
}

static char *
make_id(void)
{
	static unsigned counter;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return strfmt("%lX%05lX.%lu.%u", (unsigned long)ts.tv_sec,
	    (unsigned long)(ts.tv_nsec / 10000) & 0xfffff, (unsigned long)getpid(), counter++);
}

/* 1 when dir is a shared spool: setgid, its files belong to the group. */
static int
shared_dir(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0 && (st.st_mode & S_ISGID);
}

/*
 * A new queue file's mode: readable by the group in a shared spool (any
 * runner of the queue is the setgid sendmail), private otherwise.  Set
 * explicitly, as root's umask is not the setgid program's.  Written by root
 * for another user (root's queue run), the file goes to that user, so that
 * the entry stays theirs to see and retry.
 */
static int
own_file(int fd, const char *dir, uid_t owner)
{
	if (fchmod(fd, shared_dir(dir) ? 0640 : 0600) == -1)
		return -1;
	if (geteuid() == 0 && owner != NO_UID && owner != 0 && fchown(fd, owner, (gid_t)-1) == -1)
		return -1;
	return 0;
}

static int
write_env(const char *dir, const char *path, const struct envelope *e)
{
	FILE *fp;
	size_t i;
	int fd;
	char *tmp = strfmt("%s.tmp%ld", path, (long)getpid());

	if (tmp == NULL)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || own_file(fd, dir, e->uid) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return -1;
	}
	fprintf(fp, "account %s\nsender %s\n", e->account, e->sender);
	if (e->uid != NO_UID)
		fprintf(fp, "uid %lu\n", (unsigned long)e->uid);
	for (i = 0; i < e->rcpts.n; i++)
		fprintf(fp, "rcpt %s\n", e->rcpts.v[i]);
	fprintf(fp, "created %lld\nattempts %d\nnext %lld\nsize %lld\n",
	    (long long)e->created, e->attempts, (long long)e->next, (long long)e->size);
	if (e->error) {
		/* One line: the error may quote a server reply. */
		fputs("error ", fp);
		for (i = 0; e->error[i]; i++)
			fputc(e->error[i] == '\n' || e->error[i] == '\r' ? ' ' : e->error[i], fp);
		fputc('\n', fp);
	}
	if (fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) == -1) {
		fclose(fp);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	if (fclose(fp) == EOF || rename(tmp, path) == -1) {
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

int
q_read_env(const char *path, struct envelope *e)
{
	FILE *fp;
	char *line = NULL, *v;
	size_t cap = 0;
	ssize_t n;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	env_init(e);
	e->uid = NO_UID;
	while ((n = getline(&line, &cap, fp)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		v = strchr(line, ' ');
		v = v ? v + 1 : line + n;
		if (strncmp(line, "account ", 8) == 0)
			e->account = strdup(v);
		else if (strncmp(line, "sender ", 7) == 0 || strcmp(line, "sender") == 0)
			e->sender = strdup(v);
		else if (strncmp(line, "rcpt ", 5) == 0)
			sl_add(&e->rcpts, v);
		else if (strncmp(line, "created ", 8) == 0)
			e->created = (time_t)strtoll(v, NULL, 10);
		else if (strncmp(line, "attempts ", 9) == 0)
			e->attempts = atoi(v);
		else if (strncmp(line, "next ", 5) == 0)
			e->next = (time_t)strtoll(v, NULL, 10);
		else if (strncmp(line, "size ", 5) == 0)
			e->size = (off_t)strtoll(v, NULL, 10);
		else if (strncmp(line, "error ", 6) == 0)
			e->error = strdup(v);
		else if (strncmp(line, "uid ", 4) == 0) {
			char *end;
			unsigned long u = strtoul(v, &end, 10);

			/* A garbled uid belongs to nobody but root. */
			e->uid = *v && !*end && u < (unsigned long)NO_UID ? (uid_t)u : 0;
		}
	}
	free(line);
	fclose(fp);
	if (e->account == NULL || e->sender == NULL) {
		env_free(e);
		return -1;
	}
	return 0;
}

static char *
qpath(const char *dir, const char *sub, const char *id, const char *ext)
{
	return strfmt("%s%s%s/%s.%s", dir, sub ? "/" : "", sub ? sub : "", id, ext);
}

uid_t
q_owner(const char *dir, const char *id, const struct envelope *e)
{
	struct stat st;
	char *msg;
	uid_t u = NO_UID;

	if (e->uid != NO_UID)
		return e->uid;
	if ((msg = qpath(dir, NULL, id, "msg")) != NULL && lstat(msg, &st) == 0)
		u = st.st_uid;
	free(msg);
	return u;
}

int
q_visible(uid_t owner)
{
	return getuid() == 0 || (owner != NO_UID && owner == getuid());
}

char *
q_account_file(const char *dir, const char *kind, const char *account, const char *suffix)
{
	char *name, *p, *path;

	/* An account name is any string: keep it one file name, printable. */
	if ((name = strdup(account)) == NULL)
		return NULL;
	for (p = name; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x20)
			*p = '_';
	path = strfmt("%s/tmp/.%s.%s%s", dir, kind, name, suffix);
	free(name);
	return path;
}

int
q_create(const char *dir, struct qentry *q, FILE **out, char **err)
{
	int fd, fd2;

	memset(q, 0, sizeof *q);
	env_init(&q->env);
	q->fd = -1;
	q->dir = strdup(dir);
	q->id = make_id();
	if (q->dir == NULL || q->id == NULL ||
	    (q->tmpmsg = qpath(dir, "tmp", q->id, "msg")) == NULL) {
		*err = strdup("out of memory");
		return -1;
	}
	fd = open(q->tmpmsg, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || own_file(fd, dir, NO_UID) == -1) {
		*err = strfmt("cannot create %s: %s", q->tmpmsg, strerror(errno));
		if (fd != -1) {
			close(fd);
			unlink(q->tmpmsg);
		}
		return -1;
	}
	/* flock belongs to the open file, so it survives renames and dup. */
	if (flock(fd, LOCK_EX | LOCK_NB) == -1 || (fd2 = dup(fd)) == -1 ||
	    (*out = fdopen(fd2, "w")) == NULL) {
		*err = strfmt("cannot open %s: %s", q->tmpmsg, strerror(errno));
		close(fd);
		unlink(q->tmpmsg);
		return -1;
	}
	q->fd = fd;
	q->env.created = time(NULL);
	q->env.uid = getuid();	/* the entry is its submitter's, whoever runs the queue */
	return 0;
}

int
q_commit(struct qentry *q, FILE *fp, char **err)
{
	char *msg = NULL, *env = NULL;
	int r = -1;

	if (fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) == -1) {
		*err = strfmt("cannot write the queue file: %s", strerror(errno));
		goto out;
	}
	if (fclose(fp) == EOF) {
		fp = NULL;
		*err = strfmt("cannot write the queue file: %s", strerror(errno));
		goto out;
	}
	fp = NULL;
	msg = qpath(q->dir, NULL, q->id, "msg");
	env = qpath(q->dir, NULL, q->id, "env");
	if (msg == NULL || env == NULL) {
		*err = strdup("out of memory");
		goto out;
	}
	if (rename(q->tmpmsg, msg) == -1) {
		*err = strfmt("cannot rename %s: %s", q->tmpmsg, strerror(errno));
		goto out;
	}
	free(q->tmpmsg);
	q->tmpmsg = NULL;
	if (write_env(q->dir, env, &q->env) == -1) {
		*err = strfmt("cannot write %s: %s", env, strerror(errno));
		unlink(msg);
		goto out;
	}
	if (fsync_dir(q->dir) == -1) {
		*err = strfmt("cannot sync %s: %s", q->dir, strerror(errno));
		unlink(env);
		unlink(msg);
		goto out;
	}
	r = 0;
out:
	if (fp)
		fclose(fp);
	free(msg);
	free(env);
	return r;
}

void
q_abort(struct qentry *q, FILE *fp)
{
	if (fp)
		fclose(fp);
	if (q->tmpmsg)
		unlink(q->tmpmsg);
	q_close(q);
}

int
q_list(const char *dir, struct strlist *ids)
{
	DIR *d;
	struct dirent *de;
	size_t n;

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".env") == 0 && de->d_name[0] != '.')
			sl_addown(ids, xstrndup(de->d_name, n - 4));
	}
	closedir(d);
	/* Oldest first: ids start with the time in hex, fixed width until 2106. */
	if (ids->n > 1)
		qsort(ids->v, ids->n, sizeof *ids->v, strcmp_p);
	return 0;
}

int
strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
q_lock(const char *dir, const char *id, struct qentry *q)
{
	struct stat st;
	char *msg, *env;
	int fd, r = -1;

	memset(q, 0, sizeof *q);
	env_init(&q->env);
	q->fd = -1;
	msg = qpath(dir, NULL, id, "msg");
	env = qpath(dir, NULL, id, "env");
	if (msg == NULL || env == NULL)
		goto out;
	if ((fd = open(msg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto out;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		close(fd);
		r = errno == EWOULDBLOCK ? 1 : -1;
		goto out;
	}
	/* Someone may have finished it between our listing and our lock. */
	if (q_read_env(env, &q->env) == -1) {
		close(fd);
		goto out;
	}
	/* An entry from before the uid field: its data file says whose it is. */
	if (q->env.uid == NO_UID && fstat(fd, &st) == 0)
		q->env.uid = st.st_uid;
	q->fd = fd;
	q->dir = strdup(dir);
	q->id = strdup(id);
	r = 0;
out:
	free(msg);
	free(env);
	return r;
}

int
q_update(struct qentry *q)
{
	char *env = qpath(q->dir, NULL, q->id, "env");
	int r;

	if (env == NULL)
		return -1;
	r = write_env(q->dir, env, &q->env);
	free(env);
	return r;
}

int
q_remove(struct qentry *q)
{
	char *msg = qpath(q->dir, NULL, q->id, "msg");
	char *env = qpath(q->dir, NULL, q->id, "env");
	int r = -1;

	if (msg && env && unlink(env) == 0) {
		unlink(msg);
		fsync_dir(q->dir);
		r = 0;
	}
	free(msg);
	free(env);
	return r;
}

int
q_fail(struct qentry *q, const char *why)
{
	char *fdir = strfmt("%s/failed", q->dir);
	char *msg = qpath(q->dir, NULL, q->id, "msg");
	char *env = qpath(q->dir, NULL, q->id, "env");
	char *fmsg = qpath(q->dir, "failed", q->id, "msg");
	char *fenv = qpath(q->dir, "failed", q->id, "env");
	int r = -1;

	if (!fdir || !msg || !env || !fmsg || !fenv)
		goto out;
	{
		struct stat st;
		mode_t mode = stat(q->dir, &st) == 0 && (st.st_mode & S_ISGID) ? 02770 : 0700;

		if (mkdir(fdir, mode) == -1 && errno != EEXIST)
			goto out;
	}
	free(q->env.error);
	q->env.error = xstrdup(why);
	if (write_env(fdir, fenv, &q->env) == -1)
		goto out;
	if (rename(msg, fmsg) == -1) {
		unlink(fenv);
		goto out;
	}
	unlink(env);
	fsync_dir(fdir);
	fsync_dir(q->dir);
	r = 0;
out:
	free(fdir);
	free(msg);
	free(env);
	free(fmsg);
	free(fenv);
	return r;
}

void
q_close(struct qentry *q)
{
	if (q->fd != -1)
		close(q->fd);
	q->fd = -1;
	free(q->dir);
	free(q->id);
	free(q->tmpmsg);
	env_free(&q->env);
	q->dir = q->id = q->tmpmsg = NULL;
}

/* "3m", "2h", "45s", "1d". */
static void
age(char *buf, size_t n, time_t secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		snprintf(buf, n, "%lds", (long)secs);
	else if (secs < 7200)
		snprintf(buf, n, "%ldm", (long)secs / 60);
	else if (secs < 172800)
		snprintf(buf, n, "%ldh", (long)secs / 3600);
	else
		snprintf(buf, n, "%ldd", (long)secs / 86400);
}

/* Prints the entries of one directory; returns how many. */
static size_t
print_dir(const char *dir, const char *sub, FILE *out, long long *bytes)
{
	struct strlist ids;
	struct envelope e;
	char *d, *path, when[64], a[32], nx[32];
	size_t i, k, count = 0;
	struct tm tm;
	time_t now = time(NULL);
	int busy;

	d = sub ? strfmt("%s/%s", dir, sub) : strdup(dir);
	sl_init(&ids);
	if (d == NULL || q_list(d, &ids) == -1) {
		free(d);
		return 0;
	}
	for (i = 0; i < ids.n; i++) {
		path = qpath(d, NULL, ids.v[i], "env");
		if (path == NULL || q_read_env(path, &e) == -1) {
			free(path);
			continue;
		}
		free(path);
		/* Another user's entry: not even its size or sender. */
		if (!q_visible(q_owner(d, ids.v[i], &e))) {
			env_free(&e);
			continue;
		}
		busy = 0;
		if (!sub) {
			int fd;

			path = qpath(d, NULL, ids.v[i], "msg");
			fd = path ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
			if (fd != -1 && flock(fd, LOCK_SH | LOCK_NB) == -1)
				busy = 1;
			if (fd != -1)
				close(fd);
			free(path);
		}
		if (count == 0 && !sub)
			fprintf(out, "%-26s %9s %-20s %s\n", "-Queue ID-", "--Size--",
			    "----Arrival Time----", "-Sender/Recipient-------");
		localtime_r(&e.created, &tm);
		strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm);
		fprintf(out, "%-25s%c %9lld %-20s %s\n", ids.v[i], sub ? '!' : busy ? '*' : ' ',
		    (long long)e.size, when, *e.sender ? e.sender : "<>");
		age(a, sizeof a, now - e.created);
		if (sub)
			fprintf(out, "%58s(failed: %s)\n", "", e.error ? e.error : "given up");
		else if (e.error || e.attempts) {
			age(nx, sizeof nx, e.next - now);
			fprintf(out, "%58s(%s; %d attempt%s, age %s, next %s)\n", "",
			    e.error ? e.error : "not yet tried", e.attempts,
			    e.attempts == 1 ? "" : "s", a, e.next > now ? nx : "now");
		}
		for (k = 0; k < e.rcpts.n; k++)
			fprintf(out, "%58s%s\n", "", e.rcpts.v[k]);
		fputc('\n', out);
		*bytes += e.size;
		count++;
		env_free(&e);
	}
	sl_free(&ids);
	free(d);
	return count;
}

int
q_print(const char *dir, FILE *out)
{
	long long bytes = 0;
	size_t n, nf;

	n = print_dir(dir, NULL, out, &bytes);
	nf = print_dir(dir, "failed", out, &bytes);
	if (n + nf == 0) {
		fputs("Mail queue is empty\n", out);
		return 0;
	}
	fprintf(out, "-- %lld Kbytes in %zu Request%s%s.\n", (bytes + 1023) / 1024, n + nf,
	    n + nf == 1 ? "" : "s", nf ? " (! = failed, kept in failed/)" : "");
	return 0;
}
