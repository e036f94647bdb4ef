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
#include "sendmail.h"

void
env_init(struct envelope *e)
{
	memset(e, 0, sizeof *e);
	sl_init(&e->rcpts);
	e->uid = NO_UID;
	sl_init(&e->replies);
}

void
env_free(struct envelope *e)
{
	free(e->account);
	free(e->sender);
	free(e->error);
	free(e->report);
	sl_free(&e->rcpts);
	sl_free(&e->replies);
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

/* "key value" on one line: the value may quote a server reply. */
static void
put_line(FILE *fp, const char *key, const char *v)
{
	fprintf(fp, "%s ", key);
	for (; *v; v++)
		fputc(*v == '\n' || *v == '\r' ? ' ' : *v, fp);
	fputc('\n', fp);
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

int
q_shared_dir(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0 && (st.st_mode & S_ISGID);
}

int
q_own_file(int fd, const char *dir, uid_t owner)
{
	if (fchmod(fd, q_shared_dir(dir) ? 0640 : 0600) == -1)
		return -1;
	if (geteuid() == 0 && owner != NO_UID && owner != 0 && fchown(fd, owner, (gid_t)-1) == -1)
		return -1;
	return 0;
}

/*
 * Writes e as DIR/[SUB/]ID.env: to a temp file in DIR/tmp (where the
 * cleaner finds what a kill left), fsynced, renamed.  0 or -1 with errno.
 */
static int
write_env(const char *dir, const char *sub, const char *id, const struct envelope *e)
{
	FILE *fp;
	size_t i;
	int fd, r = -1, saved;
	char *tmp = strfmt("%s/tmp/%s.env.tmp%ld", dir, id, (long)getpid());
	char *path = strfmt("%s%s%s/%s.env", dir, sub ? "/" : "", sub ? sub : "", id);

	if (tmp == NULL || path == NULL || e->account == NULL || e->sender == NULL ||
	    e->rcpts.oom || e->replies.oom) {
		/* An envelope cut short by memory is never written: it would drop recipients. */
		errno = ENOMEM;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		goto out;
	if (q_own_file(fd, dir, e->uid) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto fail;
	}
	fprintf(fp, "account %s\nsender %s\n", e->account, e->sender);
	if (e->uid != NO_UID)
		fprintf(fp, "uid %lu\n", (unsigned long)e->uid);
	for (i = 0; i < e->rcpts.n; i++) {
		fprintf(fp, "rcpt %s\n", e->rcpts.v[i]);
		if (i < e->replies.n && *e->replies.v[i])
			put_line(fp, "reply", e->replies.v[i]);
	}
	fprintf(fp, "created %lld\nattempts %d\nnext %lld\nsize %lld\n",
	    (long long)e->created, e->attempts, (long long)e->next, (long long)e->size);
	if (e->error)
		put_line(fp, "error", e->error);
	if (e->failed)
		fprintf(fp, "failed %lld\n", (long long)e->failed);
	if (e->report)
		put_line(fp, "report", e->report);
	if (e->saved)
		fprintf(fp, "saved %zu\n", e->nattach);
	if (fflush(fp) == EOF || ferror(fp) || fsync(fileno(fp)) == -1) {
		saved = errno;
		fclose(fp);
		errno = saved;
		goto fail;
	}
	if (fclose(fp) == EOF || rename(tmp, path) == -1)
		goto fail;
	r = 0;
	goto out;
fail:
	saved = errno;
	unlink(tmp);
	errno = saved;
out:
	free(tmp);
	free(path);
	return r;
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
		else if (strncmp(line, "rcpt ", 5) == 0) {
			sl_add(&e->rcpts, v);
			while (e->replies.n + 1 < e->rcpts.n)
				sl_add(&e->replies, "");
			sl_add(&e->replies, "");
		} else if (strncmp(line, "reply ", 6) == 0 && e->replies.n > 0) {
			free(e->replies.v[e->replies.n - 1]);
			if ((e->replies.v[e->replies.n - 1] = strdup(v)) == NULL) {
				e->replies.v[e->replies.n - 1] = NULL;
				e->replies.n--;
				e->replies.oom = 1;
			}
		}
		else if (strncmp(line, "created ", 8) == 0)
			e->created = (time_t)strtoll(v, NULL, 10);
		else if (strncmp(line, "attempts ", 9) == 0)
			e->attempts = atoi(v);
		else if (strncmp(line, "next ", 5) == 0)
			e->next = (time_t)strtoll(v, NULL, 10);
		else if (strncmp(line, "size ", 5) == 0)
			e->size = (off_t)strtoll(v, NULL, 10);
		else if (strncmp(line, "error ", 6) == 0 && e->error == NULL)
			e->error = strdup(v);
		else if (strncmp(line, "uid ", 4) == 0) {
			char *end;
			unsigned long u = strtoul(v, &end, 10);

			/* A garbled uid belongs to nobody but root. */
			e->uid = *v && !*end && u < (unsigned long)NO_UID ? (uid_t)u : 0;
		}
		else if (strncmp(line, "failed ", 7) == 0)
			e->failed = (time_t)strtoll(v, NULL, 10);
		else if (strncmp(line, "report ", 7) == 0 && e->report == NULL)
			e->report = strdup(v);
		else if (strncmp(line, "saved ", 6) == 0) {
			char *end;
			unsigned long k = strtoul(v, &end, 10);

			/* Never completed: FID.args and k FID.aN go with it (k bounded). */
			e->saved = 1;
			e->nattach = *v && !*end && k <= Q_ATTACH_MAX ? (size_t)k : 0;
		}
	}
	free(line);
	fclose(fp);
	if (e->account == NULL || e->sender == NULL || e->rcpts.oom || e->replies.oom) {
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

/* A saved message's part i in DIR/SUB: ID.args (0), else ID.a(i - 1). */
static char *
saved_part(const char *dir, const char *sub, const char *id, size_t i)
{
	char ext[32];

	if (i == 0)
		return qpath(dir, sub, id, "args");
	snprintf(ext, sizeof ext, "a%zu", i - 1);
	return qpath(dir, sub, id, ext);
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

uid_t
q_peek_owner(const char *dir, const char *id)
{
	struct envelope e;
	uid_t u = NO_UID;

	if (q_peek(dir, id, &e) == 0) {
		u = q_owner(dir, id, &e);
		env_free(&e);
	}
	return u;
}

int
q_peek(const char *dir, const char *id, struct envelope *e)
{
	char *env = qpath(dir, NULL, id, "env");
	int r = env ? q_read_env(env, e) : -1;

	free(env);
	return r;
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
	return q_create_id(dir, NULL, q, out, err);
}

int
q_create_id(const char *dir, const char *id, struct qentry *q, FILE **out, char **err)
{
	int fd, fd2;

	memset(q, 0, sizeof *q);
	env_init(&q->env);
	q->fd = -1;
	q->dir = strdup(dir);
	q->id = id ? strdup(id) : make_id();
	if (q->dir == NULL || q->id == NULL ||
	    (q->tmpmsg = qpath(dir, "tmp", q->id, "msg")) == NULL) {
		*err = strdup("out of memory");
		return -1;
	}
	fd = open(q->tmpmsg, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || q_own_file(fd, dir, NO_UID) == -1) {
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
	if (write_env(q->dir, NULL, q->id, &q->env) == -1) {
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
	return q_list_marked(dir, ".env", ids);
}

int
q_list_marked(const char *dir, const char *mark, struct strlist *ids)
{
	DIR *d;
	struct dirent *de;
	size_t n, k = strlen(mark);

	if ((d = opendir(dir)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n > k && strcmp(de->d_name + n - k, mark) == 0 && de->d_name[0] != '.')
			sl_addown(ids, xstrndup(de->d_name, n - k));
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

/*
 * 1 only when path surely does not exist.  Not access(2): a setgid
 * sendmail checks with the caller's ids, which cannot see the spool.
 */
static int
absent(const char *path)
{
	struct stat st;

	return lstat(path, &st) == -1 && errno == ENOENT;
}

/* unlink with one retry; ENOENT counts as done. */
static int
unlink_retry(const char *path)
{
	int tries;

	for (tries = 0; tries < 2; tries++)
		if (unlink(path) == 0 || errno == ENOENT)
			return 0;
	return -1;
}

/* Locks DIR/[SUB/]ID.msg and reads its envelope into q: 0, 1 busy, -1 gone. */
static int
lock_entry(const char *dir, const char *sub, const char *id, struct qentry *q)
{
	struct stat st;
	char *msg, *env;
	int fd, r = -1;

	memset(q, 0, sizeof *q);
	env_init(&q->env);
	q->fd = -1;
	msg = qpath(dir, sub, id, "msg");
	env = qpath(dir, sub, id, "env");
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

/*
 * Ids whose new state this process could not write (q_update, or a move to
 * failed/ that failed): on disk they are as before their attempt (to the
 * recipients that got it, too), so this process leaves them alone; a later
 * run takes them.  Else a run that loops (-odb) would take them again at
 * once, for ever on a full disk, and send them again each time.
 */
static struct strlist left;

void
q_leave(const char *id)
{
	if (!sl_has(&left, id))
		sl_add(&left, id);
}

int
q_lock(const char *dir, const char *id, struct qentry *q)
{
	if (q_finished(id) || sl_has(&left, id)) {
		memset(q, 0, sizeof *q);
		q->fd = -1;
		return -1;	/* sent by this process (its removal failed), or left */
	}
	return lock_entry(dir, NULL, id, q);
}

int
q_failed_lock(const char *dir, const char *fid, struct qentry *q)
{
	return lock_entry(dir, "failed", fid, q);
}

int
q_failed_update(struct qentry *q)
{
	/* One retry, as q_update: a bounce noted as sent must stay so. */
	return write_env(q->dir, "failed", q->id, &q->env) == 0 ||
	    write_env(q->dir, "failed", q->id, &q->env) == 0 ? 0 : -1;
}

int
q_failed_report(const char *dir, const char *fid, const char *report)
{
	struct envelope e;
	char *env = qpath(dir, "failed", fid, "env");
	int r = -1;

	if (env && q_read_env(env, &e) == 0) {
		free(e.report);
		e.report = xstrdup(report);
		r = write_env(dir, "failed", fid, &e);
		env_free(&e);
	}
	free(env);
	return r;
}

int
q_failed_remove(struct qentry *q)
{
	char *msg = qpath(q->dir, "failed", q->id, "msg");
	char *env = qpath(q->dir, "failed", q->id, "env");
	char *fdir = strfmt("%s/failed", q->dir), *p;
	size_t i;
	int r = -1;

	if (msg && env && fdir && unlink_retry(env) == 0) {
		(void)unlink_retry(msg);
		/* A saved message's command line and attachments go with it. */
		for (i = 0; q->env.saved && i <= q->env.nattach; i++) {
			if ((p = saved_part(q->dir, "failed", q->id, i)) != NULL)
				(void)unlink_retry(p);
			free(p);
		}
		(void)fsync_dir(fdir);
		r = 0;
	}
	free(msg);
	free(env);
	free(fdir);
	return r;
}

int
q_requeue(struct qentry *q, char **err)
{
	struct envelope e;
	char *fmsg = qpath(q->dir, "failed", q->id, "msg");
	char *msg = qpath(q->dir, NULL, q->id, "msg");
	char *env = qpath(q->dir, NULL, q->id, "env");
	size_t i;
	int r = -1;

	*err = NULL;
	env_init(&e);
	if (fmsg == NULL || msg == NULL || env == NULL) {
		*err = strdup("out of memory");
		goto out;
	}
	if (!absent(env)) {
		*err = strfmt("%s is in the queue already", q->id);
		goto out;
	}
	/* The data first (an entry exists when its envelope does), then the envelope. */
	if (link(fmsg, msg) == -1 && (errno != EEXIST || unlink(msg) == -1 ||
	    link(fmsg, msg) == -1)) {
		*err = strfmt("cannot link %s to %s: %s", fmsg, msg, strerror(errno));
		goto out;
	}
	e.account = xstrdup(q->env.account);
	e.sender = xstrdup(q->env.sender);
	e.uid = q->env.uid;
	for (i = 0; i < q->env.rcpts.n; i++)
		sl_add(&e.rcpts, q->env.rcpts.v[i]);
	e.created = time(NULL);	/* a new queue_lifetime */
	e.size = q->env.size;
	e.error = strfmt("sent again from failed/ (it failed with: %s)",
	    q->env.error ? q->env.error : "?");
	if (write_env(q->dir, NULL, q->id, &e) == -1 || fsync_dir(q->dir) == -1) {
		*err = strfmt("cannot write %s: %s", env, strerror(errno));
		unlink(env);
		unlink(msg);
		goto out;
	}
	if (q_failed_remove(q) == -1)
		log_error("%s: back in the queue, but its copy in failed/ stays: %s", q->id,
		    strerror(errno));
	r = 0;
out:
	env_free(&e);
	free(fmsg);
	free(msg);
	free(env);
	return r;
}

int
q_update(struct qentry *q)
{
	int tries;

	/* One retry: a write that was interrupted or hit a passing error. */
	for (tries = 0; tries < 2; tries++)
		if (write_env(q->dir, NULL, q->id, &q->env) == 0)
			return 0;
	q_leave(q->id);
	return -1;
}

/* Ids this process finished but could not remove: never sent again by it. */
static struct strlist finished;
static char *finished_dir;

int
q_finished(const char *id)
{
	size_t i;

	for (i = 0; i < finished.n; i++)
		if (strcmp(finished.v[i], id) == 0)
			return 1;
	return 0;
}

int
q_remove(struct qentry *q, char **err)
{
	char *msg = qpath(q->dir, NULL, q->id, "msg");
	char *env = qpath(q->dir, NULL, q->id, "env");
	char *done = qpath(q->dir, NULL, q->id, "done");
	int r = -1, saved;

	*err = NULL;
	if (msg == NULL || env == NULL || done == NULL) {
		*err = strdup("out of memory");
		goto remember;
	}
	/* The entry exists while its envelope does: that goes first. */
	if (unlink_retry(env) == 0 || rename(env, done) == 0) {
		/* A data file left behind is removed by the next queue run. */
		(void)unlink_retry(msg);
		(void)unlink_retry(done);
		if (fsync_dir(q->dir) == -1)
			log_info("%s: cannot sync %s: %s", q->id, q->dir, strerror(errno));
		r = 0;
		goto out;
	}
	saved = errno;
	*err = strfmt("cannot remove %s: %s", env, strerror(saved));
remember:
	/* This process will not send it again, and tries the removal once more before it exits. */
	if (!q_finished(q->id))
		sl_add(&finished, q->id);
	if (q->dir && finished.n == 1)
		finished_dir = strdup(q->dir);
out:
	free(msg);
	free(env);
	free(done);
	return r;
}

void
q_retry_removals(void)
{
	struct qentry q;
	char *err;
	size_t i;

	for (i = 0; finished_dir && i < finished.n; i++) {
		memset(&q, 0, sizeof q);
		q.dir = finished_dir;
		q.id = finished.v[i];
		if (q_remove(&q, &err) == 0)
			log_info("%s: removed from the queue on a second try", q.id);
		else
			log_event(LOG_ERR, "%s: sent, but %s: remove it by hand, or it is sent "
			    "again", q.id, err);
		free(err);
	}
}

/* 1 when the lists hold the same addresses, in any order. */
static int
same_rcpts(const struct strlist *a, const struct strlist *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (!sl_has(b, a->v[i]))
			return 0;
	return 1;
}

/*
 * A name in failed/ for a copy of id for rcpts: id, else id-2, id-3, ...;
 * *again = 1 when a copy for the same recipients is there already (the
 * entry was refused before, and its removal never happened: a crash).
 */
static char *
failed_id(const char *dir, const char *id, const struct strlist *rcpts, int *again)
{
	struct envelope e;
	char *fid, *p;
	int n;

	*again = 0;
	for (n = 1; n < 1000; n++) {
		fid = n == 1 ? strdup(id) : strfmt("%s-%d", id, n);
		p = fid ? qpath(dir, "failed", fid, "env") : NULL;
		if (p && absent(p)) {
			free(p);
			p = qpath(dir, "failed", fid, "msg");
			if (p && absent(p)) {
				free(p);
				return fid;
			}
		} else if (p && q_read_env(p, &e) == 0) {
			*again = same_rcpts(&e.rcpts, rcpts);
			env_free(&e);
			if (*again) {
				free(p);
				return fid;
			}
		}
		free(p);
		free(fid);
	}
	return NULL;
}

/*
 * Puts the file from at path to: linked when it can be (the same file
 * system), else copied from from->fd through a temp file in DIR/tmp; an
 * empty file when fd is -1 (a part that is missing).
 */
static int
keep_part(const char *dir, const char *id, const struct qpart *from, uid_t owner,
    const char *to)
{
	struct stat a, b;
	char buf[65536], *tmp;
	off_t off = 0;
	ssize_t k;
	int fd, r = -1;

	if (from->path && from->fd != -1 && link(from->path, to) == 0) {
		/* The file behind fd, not what its name points to now (a link, say). */
		if (fstat(from->fd, &a) == 0 && lstat(to, &b) == 0 && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino)
			return 0;
		unlink(to);
	}
	if ((tmp = strfmt("%s/tmp/%s.copy%ld", dir, id, (long)getpid())) == NULL)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1 || q_own_file(fd, dir, owner) == -1) {
		if (fd != -1) {
			close(fd);
			unlink(tmp);
		}
		free(tmp);
		return -1;
	}
	for (;;) {
		k = from->fd == -1 ? 0 : pread(from->fd, buf, sizeof buf, off);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (write_all(fd, buf, (size_t)k) == -1)
			break;
		off += k;
	}
	if (k == 0 && fsync(fd) == 0 && close(fd) == 0) {
		fd = -1;
		if (rename(tmp, to) == 0)
			r = 0;
	}
	if (fd != -1)
		close(fd);
	if (r == -1)
		unlink(tmp);
	free(tmp);
	return r;
}

int
q_failed_add(const char *dir, const char *id, const struct qpart *data,
    const struct qpart *parts, const struct envelope *e, char *fidbuf, size_t fidlen,
    char **err)
{
	struct stat st;
	char *fdir = strfmt("%s/failed", dir), *fid = NULL, *fmsg = NULL, *p;
	size_t i, made = 0, nparts = e->saved ? e->nattach + 1 : 0;
	mode_t mode;
	int r = -1, again;

	*err = NULL;
	if (fdir == NULL)
		goto nomem;
	mode = stat(dir, &st) == 0 && (st.st_mode & S_ISGID) ? 02770 : 0700;
	if (mkdir(fdir, mode) == -1 && errno != EEXIST) {
		*err = strfmt("cannot create %s: %s", fdir, strerror(errno));
		goto out;
	}
	if ((fid = failed_id(dir, id, &e->rcpts, &again)) == NULL ||
	    (fmsg = qpath(dir, "failed", fid, "msg")) == NULL)
		goto nomem;
	if (again) {
		/* Kept (and reported) already: one copy, one bounce. */
		r = 0;
		goto done;
	}
	/* The data is shared with the queue entry when it can be; copied when not. */
	if (keep_part(dir, fid, data, e->uid, fmsg) == -1) {
		*err = strfmt("cannot copy %s to %s: %s", data->path ? data->path : id, fdir,
		    strerror(errno));
		goto out;
	}
	/* The parts of a saved message before its envelope: then it is whole. */
	for (; made < nparts; made++) {
		if ((p = saved_part(dir, "failed", fid, made)) == NULL)
			goto undo;
		if (keep_part(dir, fid, &parts[made], e->uid, p) == -1) {
			*err = strfmt("cannot copy %s to %s: %s", parts[made].path, fdir,
			    strerror(errno));
			free(p);
			goto undo;
		}
		free(p);
	}
	if (write_env(dir, "failed", fid, e) == -1 && write_env(dir, "failed", fid, e) == -1) {
		*err = strfmt("cannot write %s/%s.env: %s", fdir, fid, strerror(errno));
		goto undo;
	}
	if (fsync_dir(fdir) == -1)
		log_info("%s: cannot sync %s: %s", id, fdir, strerror(errno));
	r = 0;
done:
	if (fidlen)
		snprintf(fidbuf, fidlen, "%s", fid);
	goto out;
undo:
	for (i = 0; i < made; i++) {
		if ((p = saved_part(dir, "failed", fid, i)) != NULL)
			unlink(p);
		free(p);
	}
	unlink(fmsg);
	if (*err == NULL)
		goto nomem;
	goto out;
nomem:
	free(*err);
	*err = strdup("out of memory");
out:
	free(fdir);
	free(fid);
	free(fmsg);
	return r;
}

int
q_fail_copy(struct qentry *q, const struct strlist *rcpts, const struct strlist *replies,
    const char *why, const char *report, char *fidbuf, size_t fidlen, char **err)
{
	struct envelope e;
	struct qpart data;
	char *msg = qpath(q->dir, NULL, q->id, "msg");
	size_t i;
	int r;

	env_init(&e);
	if (rcpts == NULL)
		rcpts = &q->env.rcpts;
	e.account = xstrdup(q->env.account);
	e.sender = xstrdup(q->env.sender);
	e.uid = q->env.uid;	/* still its submitter's */
	for (i = 0; i < rcpts->n; i++) {
		sl_add(&e.rcpts, rcpts->v[i]);
		sl_add(&e.replies, replies && i < replies->n ? replies->v[i] : "");
	}
	e.created = q->env.created;
	e.attempts = q->env.attempts;
	e.size = q->env.size;
	e.error = xstrdup(why);
	e.failed = time(NULL);
	e.report = xstrdup(report);
	data.path = msg;
	data.fd = q->fd;
	if (msg == NULL) {
		*err = strdup("out of memory");
		r = -1;
	} else
		r = q_failed_add(q->dir, q->id, &data, NULL, &e, fidbuf, fidlen, err);
	env_free(&e);
	free(msg);
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
	sl_free(&q->refused);
	sl_free(&q->refused_replies);
	q->dir = q->id = q->tmpmsg = NULL;
}

/*
 * The pid in a temp file's name: ID.env.tmpPID, ID.copyPID, or the
 * HEX.PID.N of a queue id; 0 if none.
 */
static pid_t
name_pid(const char *name)
{
	const char *p;
	char *end;
	long v;

	if ((p = strstr(name, ".tmp")) != NULL || (p = strstr(name, ".copy")) != NULL) {
		p += p[1] == 't' ? 4 : 5;
		v = strtol(p, &end, 10);
		return end != p && *end == '\0' && v > 0 ? (pid_t)v : 0;
	}
	if ((p = strchr(name, '.')) != NULL) {
		v = strtol(p + 1, &end, 10);
		return end != p + 1 && *end == '.' && v > 0 ? (pid_t)v : 0;
	}
	return 0;
}

/* 1 when the process that wrote a file is gone (a pid of another user counts as alive). */
static int
writer_gone(const char *name)
{
	pid_t pid = name_pid(name);

	return pid > 0 && kill(pid, 0) == -1 && errno == ESRCH;
}

/*
 * ID when name is a part of an entry, ID.msg, ID.in, ID.args or ID.aN, and
 * not its mark (the file whose existence makes the entry); else NULL.
 */
static char *
part_of(const char *name, const char *mark)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL || dot == name || strcmp(dot, mark) == 0)
		return NULL;
	if (strcmp(dot, ".msg") != 0 && strcmp(dot, ".in") != 0 &&
	    strcmp(dot, ".args") != 0 && !(dot[1] == 'a' && dot[2] &&
	    strspn(dot + 2, "0123456789") == strlen(dot + 2)))
		return NULL;
	return xstrndup(name, (size_t)(dot - name));
}

/*
 * Removes, in one directory, what a crash or a kill left: temp files whose
 * writer is gone or that are a day old; with a mark (".env": the queue and
 * failed/, ".args": saved/) also the parts of entries without their mark
 * (a day old) and ID.done (the server had it).  A file locked by a live
 * process stays.  by_pid: the pid in a name is its writer's (tmp/ and the
 * queue; not failed/ and saved/, whose ids name who queued the message).
 */
static void
clean_dir(const char *dir, const char *mark, int by_pid)
{
	char *p, *id, *env;
	DIR *d;
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	size_t n;
	int fd, done, tmp;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		done = mark && n > 5 && strcmp(de->d_name + n - 5, ".done") == 0;
		tmp = strstr(de->d_name, ".env.tmp") != NULL || strstr(de->d_name, ".copy");
		if (mark && !done && !tmp) {
			/* A part whose entry was never made (the caller saw a failure), or is gone. */
			if ((id = part_of(de->d_name, mark)) == NULL)
				continue;
			env = strfmt("%s/%s%s", dir, id, mark);
			free(id);
			if (env == NULL || !absent(env)) {
				free(env);
				continue;
			}
			free(env);
		}
		p = strfmt("%s/%s", dir, de->d_name);
		if (p && lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    (done || (by_pid && writer_gone(de->d_name)) || now - st.st_mtime > 86400)) {
			fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd != -1 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
				unlink(p);
				if (done) {
					/* Sent: its data goes too. */
					free(p);
					p = strfmt("%s/%.*s.msg", dir, (int)(n - 5), de->d_name);
					if (p)
						unlink(p);
				}
			}
			if (fd != -1)
				close(fd);
		}
		free(p);
	}
	closedir(d);
}

void
q_clean(const char *dir)
{
	char *tmp = strfmt("%s/tmp", dir), *failed = strfmt("%s/failed", dir);

	if (tmp)
		clean_dir(tmp, NULL, 1);
	clean_dir(dir, ".env", 1);
	if (failed)
		clean_dir(failed, ".env", 0);
	free(tmp);
	free(failed);
}

void
q_clean_saved(const char *sdir)
{
	clean_dir(sdir, ".args", 0);
}

void
q_age(char *buf, size_t n, time_t secs)
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

/* What a failed/ entry's report means, for mailq. */
static const char *
report_text(const char *report, char *buf, size_t n)
{
	if (report == NULL || strcmp(report, "caller") == 0)
		return "the caller was told";
	if (strcmp(report, "bounce") == 0)
		return "a bounce to the sender is due";
	if (strncmp(report, "bounce (", 8) == 0) {
		snprintf(buf, n, "a bounce to the sender is due, %.*s", (int)strlen(report) - 9,
		    report + 8);
		return buf;
	}
	if (strncmp(report, "bounced ", 8) == 0) {
		snprintf(buf, n, "a bounce was sent to the sender %s", report + 8);
		return buf;
	}
	/* "none (why)" */
	if (strncmp(report, "none (", 6) == 0 && report[strlen(report) - 1] == ')')
		snprintf(buf, n, "no bounce: %.*s", (int)strlen(report) - 7, report + 6);
	else
		snprintf(buf, n, "no bounce: %s", report);
	return buf;
}

/* Prints the entries of one directory; returns how many. */
static size_t
print_dir(const char *dir, const char *sub, FILE *out, long long *bytes)
{
	struct strlist ids;
	struct envelope e;
	char *d, *path, when[64], a[32], nx[32], rep[160];
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
		if (count == 0 && sub)
			fprintf(out, "\n-Failed: kept in %s/failed, not sent again "
			    "(sendmail --requeue ID sends one again)-\n", dir);
		if (count == 0)
			fprintf(out, "%-26s %9s %-20s %s\n", "-Queue ID-", "--Size--",
			    "----Arrival Time----", "-Sender/Recipient-------");
		localtime_r(&e.created, &tm);
		strftime(when, sizeof when, "%a %b %e %H:%M:%S", &tm);
		fprintf(out, "%-25s%c %9lld %-20s %s\n", ids.v[i], sub ? '!' : busy ? '*' : ' ',
		    (long long)e.size, when, *e.sender ? e.sender : "<>");
		q_age(a, sizeof a, now - e.created);
		if (sub) {
			localtime_r(&e.failed, &tm);
			strftime(when, sizeof when, "%a %b %e %H:%M", &tm);
			fprintf(out, "%58s(failed: %s)\n", "", e.error ? e.error : "given up");
			fprintf(out, "%58s(given up %s; %s)\n", "", e.failed ? when : "",
			    report_text(e.report, rep, sizeof rep));
		} else if (e.error || e.attempts) {
			q_age(nx, sizeof nx, e.next - now);
			fprintf(out, "%58s(%s; %d attempt%s, age %s, next %s)\n", "",
			    e.error ? e.error : "not yet tried", e.attempts,
			    e.attempts == 1 ? "" : "s", a, e.next > now ? nx : "now");
		}
		for (k = 0; k < e.rcpts.n; k++)
			if (sub && k < e.replies.n && *e.replies.v[k] && e.error &&
			    strstr(e.error, e.replies.v[k]) == NULL)
				fprintf(out, "%58s%s: %s\n", "", e.rcpts.v[k], e.replies.v[k]);
			else
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

/* The summary line of a section. */
static void
summary(FILE *out, long long bytes, size_t n, const char *what)
{
	fprintf(out, "-- %lld Kbytes in %zu %sRequest%s.\n", (bytes + 1023) / 1024, n, what,
	    n == 1 ? "" : "s");
}

int
q_print(const char *dir, FILE *out)
{
	long long bytes = 0;
	size_t n;

	/* The queue proper: "Mail queue is empty" when nothing waits to be sent. */
	if ((n = print_dir(dir, NULL, out, &bytes)) == 0)
		fputs("Mail queue is empty\n", out);
	else
		summary(out, bytes, n, "");
	/* Then what was given up, in its own section. */
	q_print_failed(dir, out);
	return 0;
}

size_t
q_print_failed(const char *dir, FILE *out)
{
	long long bytes = 0;
	size_t n;

	if ((n = print_dir(dir, "failed", out, &bytes)) > 0)
		summary(out, bytes, n, "failed ");
	return n;
}
