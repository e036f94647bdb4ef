/*
 * limits.c: what one user may keep in a shared spool, and the free space
 * kept for everyone.
 *
 * Without them one user of the system install could fill the spool's file
 * system (bytes or inodes) and make every other user's mail fail.  Three
 * keys: queue_user_messages and queue_user_bytes bound what one user other
 * than root keeps in a shared (setgid) spool, failed/ included (and, at
 * the start, submissions under way); queue_minfree is left free on the
 * queue's file system for everyone, root and a user's own queue included
 * (Postfix's queue_minfree).  A refusal is a temporary failure (exit 75, 451 in -bs)
 * with nothing left behind.
 *
 * They are checked three times: before the message is read (a user at the
 * limit is refused at once); while it is written, by RLIMIT_FSIZE, so that
 * one enormous message cannot fill the disk on its way to a refusal; and
 * just before the entry is committed, under a per-user lock
 * (tmp/.limit.UID), so that parallel submissions of one user cannot pass the
 * limit together.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "sendmail.h"

/* Fewer free inodes than this on the queue's file system: refused. */
#define MINFREE_INODES	64

static volatile sig_atomic_t fsize_hit;

static void
on_xfsz(int sig)
{
	(void)sig;
	fsize_hit = 1;
}

/* Adds the caller's files in dir whose names end in ext (".msg") to *n and *bytes. */
static void
count_dir(const char *dir, const char *ext, long long *n, long long *bytes)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	size_t len;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= strlen(ext) || de->d_name[0] == '.' ||
		    strcmp(de->d_name + len - strlen(ext), ext) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_uid == getuid()) {
			(*n)++;
			*bytes += st.st_size;
		}
	}
	closedir(d);
}

/*
 * What the caller has in the queue, failed/ and saved/, and with in_flight
 * also in tmp/ (submissions under way; at the commit, under the lock, only
 * what is committed counts, so that exactly the limit gets in).
 */
static void
usage(const char *qdir, int in_flight, long long *n, long long *bytes)
{
	char *sub;

	*n = *bytes = 0;
	count_dir(qdir, ".msg", n, bytes);
	if ((sub = strfmt("%s/failed", qdir)) != NULL)
		count_dir(sub, ".msg", n, bytes);
	free(sub);
	if ((sub = strfmt("%s/saved", qdir)) != NULL)
		count_dir(sub, ".in", n, bytes);
	free(sub);
	if (in_flight && (sub = strfmt("%s/tmp", qdir)) != NULL) {
		count_dir(sub, ".msg", n, bytes);
		free(sub);
	}
}

/*
 * Checks the limits for one more message of `more` bytes, already written
 * (in tmp/, its bytes no longer free), or, at the start, of at least one
 * byte still to come.  PX_OK, or PX_TEMPFAIL with *msg.  At the start, sets
 * the bound for the message's files.
 */
static enum px_err
check(struct postie_cfg *cfg, struct qlimits *l, long long more, int start, char **msg)
{
	struct statvfs vfs;
	long long n = 0, bytes = 0, freeb, room = -1;

	*msg = NULL;
	if (l->per_user) {
		usage(cfg->queue_dir, start, &n, &bytes);
		if (cfg->queue_user_messages && n + 1 > cfg->queue_user_messages) {
			*msg = strfmt("not queued: %lld messages of yours are in the queue or in "
			    "failed/ (queue_user_messages = %lld); try again later", n,
			    cfg->queue_user_messages);
			return PX_TEMPFAIL;
		}
		if (cfg->queue_user_bytes && bytes + more + (start ? 1 : 0) > cfg->queue_user_bytes) {
			*msg = strfmt("not queued: your messages in the queue would take more than "
			    "queue_user_bytes = %lld bytes; try again later", cfg->queue_user_bytes);
			return PX_TEMPFAIL;
		}
		if (cfg->queue_user_bytes)
			room = cfg->queue_user_bytes - bytes;
		l->bound = 'u';
	}
	if (cfg->queue_minfree && statvfs(cfg->queue_dir, &vfs) == 0) {
		freeb = (long long)vfs.f_bavail * (long long)vfs.f_frsize;
		if (freeb < cfg->queue_minfree + (start ? 1 : 0) ||
		    (vfs.f_files > 0 && vfs.f_favail < MINFREE_INODES)) {
			*msg = vfs.f_files > 0 && vfs.f_favail < MINFREE_INODES ?
			    strfmt("not queued: the file system of %s has almost no free inodes; "
			    "try again later", cfg->queue_dir) :
			    strfmt("not queued: the file system of %s would keep less than "
			    "queue_minfree = %lld bytes free; try again later", cfg->queue_dir,
			    cfg->queue_minfree);
			return PX_TEMPFAIL;
		}
		if (room == -1 || freeb - cfg->queue_minfree < room) {
			room = freeb - cfg->queue_minfree;
			l->bound = 'f';
		}
	}
	if (start)
		l->max_file = room;
	return PX_OK;
}

enum px_err
limits_begin(struct postie_cfg *cfg, struct qlimits *l, char **msg)
{
	struct stat st;

	memset(l, 0, sizeof *l);
	l->lockfd = -1;
	l->max_file = -1;
	l->per_user = getuid() != 0 && stat(cfg->queue_dir, &st) == 0 && (st.st_mode & S_ISGID) &&
	    (cfg->queue_user_messages || cfg->queue_user_bytes);
	return check(cfg, l, 0, 1, msg);
}

void
limits_arm(struct qlimits *l)
{
	struct sigaction sa;
	struct rlimit rl;

	if (l->max_file < 0 || getrlimit(RLIMIT_FSIZE, &l->old_rl) == -1)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_xfsz;	/* the write then fails with EFBIG */
	if (sigaction(SIGXFSZ, &sa, &l->old_sa) == -1)
		return;
	rl = l->old_rl;
	if (rl.rlim_cur == RLIM_INFINITY || (rlim_t)l->max_file < rl.rlim_cur)
		rl.rlim_cur = (rlim_t)l->max_file;
	fsize_hit = 0;
	if (setrlimit(RLIMIT_FSIZE, &rl) == -1) {
		sigaction(SIGXFSZ, &l->old_sa, NULL);
		return;
	}
	l->armed = 1;
}

int
limits_disarm(struct qlimits *l, struct postie_cfg *cfg, char **msg)
{
	if (!l->armed)
		return 0;
	setrlimit(RLIMIT_FSIZE, &l->old_rl);
	sigaction(SIGXFSZ, &l->old_sa, NULL);
	l->armed = 0;
	if (!fsize_hit)
		return 0;
	*msg = l->bound == 'u' ?
	    strfmt("not queued: your messages in the queue would take more than "
	    "queue_user_bytes = %lld bytes; try again later", cfg->queue_user_bytes) :
	    strfmt("not queued: the file system of %s would keep less than queue_minfree = "
	    "%lld bytes free; try again later", cfg->queue_dir, cfg->queue_minfree);
	return 1;
}

enum px_err
limits_commit(struct postie_cfg *cfg, struct qlimits *l, off_t size, char **msg)
{
	char *lock;

	*msg = NULL;
	if (l->per_user) {
		/* Held until limits_release(): what is counted is what is committed. */
		lock = strfmt("%s/tmp/.limit.%lu", cfg->queue_dir, (unsigned long)getuid());
		l->lockfd = lock ? open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660) : -1;
		free(lock);
		if (l->lockfd == -1 || flock(l->lockfd, LOCK_EX) == -1) {
			*msg = strfmt("not queued: cannot lock %s/tmp/.limit.%lu: %s",
			    cfg->queue_dir, (unsigned long)getuid(), strerror(errno));
			return PX_TEMPFAIL;
		}
	}
	return check(cfg, l, (long long)size, 0, msg);
}

void
limits_release(struct qlimits *l)
{
	if (l->lockfd != -1)
		close(l->lockfd);
	l->lockfd = -1;
}
