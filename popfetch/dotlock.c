/*
 * dotlock.c: FILE.lock, the lock mutt, procmail and mail(1) honour.
 *
 * Ours holds our pid and a newline (as liblockfile writes it).  It is made
 * NFS-safely: the pid goes into FILE.lock.popfetch, which is then linked
 * to FILE.lock and removed; so a lock of ours is never seen empty.  The
 * temporary name is the same for every popfetch, as they all hold the
 * fcntl lock of FILE while they get here.
 *
 * A lock is taken over at once when its owner is gone:
 *  - it names a process that no longer exists, or ourselves (a popfetch
 *    before us that had our pid);
 *  - it is our own half-made lock: the temporary name and the lock are the
 *    same file (a popfetch killed between link() and unlink());
 *  - it is empty, mode 0600 and ours: what popfetch 0.1 left when the disk
 *    was full (other programs' empty locks have mode 0, or hold a pid);
 *  - it is older than DOTLOCK_STALE seconds (as procmail and mutt do).
 * Anything else is a live lock: the caller waits.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "dest.h"
#include "log.h"

#define DOTLOCK_STALE	300	/* seconds after which any dotlock is taken over */
#define TAKEOVERS	3	/* stale locks removed in one dl_take, at most */

/* 1 if the existing lock at path has no live owner. */
static int
stale(const char *path)
{
	struct stat st;
	char buf[32], *end;
	ssize_t n;
	long pid;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) == -1)
		return errno == ENOENT;	/* gone meanwhile: try again */
	if (fstat(fd, &st) == -1) {
		close(fd);
		return 0;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		pid = strtol(buf, &end, 10);
		if (end != buf && (*end == '\n' || *end == '\0') && pid > 0 &&
		    (pid == (long)getpid() || (kill((pid_t)pid, 0) == -1 && errno == ESRCH)))
			return 1;
	} else if (n == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600 &&
	    st.st_uid == geteuid() && st.st_nlink == 1)
		return 1;
	return time(NULL) - st.st_mtime > DOTLOCK_STALE;
}

/* Writes our pid into a new file at path (O_EXCL); 0, or -1 with errno and nothing left. */
static int
make(const char *path)
{
	char buf[32];
	int fd, n, r, saved;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644)) == -1)
		return -1;
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	r = write_all(fd, buf, (size_t)n);
	saved = errno;
	if (close(fd) == -1 && r == 0) {
		r = -1;
		saved = errno;
	}
	if (r == -1) {
		unlink(path);
		errno = saved;
	}
	return r;
}

static void
take_over(const char *path, const char *why)
{
	log_event(LOG_WARNING, "removing the stale lock %s (%s)", path, why);
	log_info("removing the stale lock %s (%s)", path, why);
	unlink(path);
}

int
dl_take(const char *path)
{
	struct stat ts, ls;
	char *tmp;
	int r, saved, tries;

	if ((tmp = strfmt("%s.popfetch", path)) == NULL)
		return -1;
	/* Our half-made lock: killed between link() and unlink(). */
	if (lstat(tmp, &ts) == 0 && lstat(path, &ls) == 0 && ts.st_dev == ls.st_dev &&
	    ts.st_ino == ls.st_ino)
		take_over(path, "left half-made by a popfetch that was killed");
	/* Never write into an old temporary file: it may be linked to a lock. */
	if (unlink(tmp) == -1 && errno != ENOENT) {
		saved = errno;
		free(tmp);
		errno = saved;
		return -1;
	}
	for (tries = 0;; tries++) {
		if (make(tmp) == -1) {
			saved = errno;
			free(tmp);
			errno = saved;
			return -1;
		}
		r = link(tmp, path);
		saved = errno;
		unlink(tmp);
		if (r == -1 && (saved == EPERM || saved == ENOSYS || saved == EOPNOTSUPP)) {
			/* No hard links on this file system: O_EXCL it is. */
			r = make(path);
			saved = errno;
		}
		if (r == 0) {
			free(tmp);
			return 0;
		}
		if (saved != EEXIST || tries == TAKEOVERS || !stale(path))
			break;
		take_over(path, "its owner is gone");
	}
	free(tmp);
	if (saved == EEXIST)
		return 1;
	errno = saved;
	return -1;
}

void
dl_clean(const char *path)
{
	struct stat ts, ls;
	char *tmp;

	if ((tmp = strfmt("%s.popfetch", path)) == NULL)
		return;
	if (lstat(tmp, &ts) == 0) {
		if (lstat(path, &ls) == 0 && ts.st_dev == ls.st_dev && ts.st_ino == ls.st_ino)
			take_over(path, "left half-made by a popfetch that was killed");
		unlink(tmp);
	}
	if (access(path, F_OK) == 0 && stale(path))
		take_over(path, "its owner is gone");
	free(tmp);
}

int
dl_release(const char *path)
{
	return unlink(path) == -1 && errno != ENOENT ? -1 : 0;
}
