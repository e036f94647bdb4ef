/*
 * mbox.c: messages appended to an mbox file under an fcntl lock and a
 * dotlock (both, as mutt and procmail do), each as a From_ line, the
 * message with LF line endings and mboxrd quoting, and one empty line.
 *
 * The end of the file is recorded before each message and before the
 * batch; a write error truncates the file back to where the message began,
 * a failed fsync back to where the batch began, and so does an undo (the
 * state could not be saved).  The locks are held from the start of a batch
 * until it is recorded or undone, so that nobody else appends behind it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dest.h"
#include "log.h"

#define LOCK_WAIT	60	/* seconds to wait for a lock another program holds */

/* F_WRLCK or F_UNLCK on the whole file, without waiting; 0 or -1. */
static int
fcntl_set(struct dest *d, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(d->fd, F_SETLK, &fl);
}

static enum px_err
mbox_open(struct dest *d, char **msg)
{
	char *dir, *slash;
	struct stat st;

	if ((slash = strrchr(d->path, '/')) != NULL && slash != d->path) {
		dir = xstrndup(d->path, (size_t)(slash - d->path));
		if (dir == NULL || mkdir_p(dir, 0700) == -1) {
			*msg = strfmt("cannot create %s: %s", dir ? dir : d->path, strerror(errno));
			free(dir);
			return PX_CANTCREAT;
		}
		free(dir);
	}
	d->fd = open(d->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (d->fd == -1) {
		*msg = strfmt("cannot open %s: %s", d->path, strerror(errno));
		return errno == EIO || errno == ENOSPC || errno == EDQUOT ? PX_IOERR : PX_CANTCREAT;
	}
	if (fstat(d->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*msg = strfmt("%s is not a regular file", d->path);
		return PX_CANTCREAT;
	}
	if ((d->dotlock = strfmt("%s.lock", d->path)) == NULL) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	/* A dead popfetch's lock goes now, even if this poll brings nothing. */
	if (fcntl_set(d, F_WRLCK) == 0) {
		dl_clean(d->dotlock);
		fcntl_set(d, F_UNLCK);
	}
	return PX_OK;
}

static void
nap(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static enum px_err
lock(struct dest *d, char **msg)
{
	time_t deadline = time(NULL) + LOCK_WAIT;
	int have_fcntl = 0, r;

	for (;;) {
		if (!have_fcntl) {
			if (fcntl_set(d, F_WRLCK) == 0)
				have_fcntl = 1;
			else if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
				*msg = strfmt("cannot lock %s: %s", d->path, strerror(errno));
				return PX_CANTCREAT;
			}
		}
		if (have_fcntl) {
			if ((r = dl_take(d->dotlock)) == 0) {
				d->locked = 1;
				return PX_OK;
			}
			if (r == -1) {
				*msg = strfmt("cannot create the lock file %s: %s", d->dotlock,
				    strerror(errno));
				fcntl_set(d, F_UNLCK);
				/* A full or failing disk is an I/O error; a directory we may not write is not. */
				return errno == EIO || errno == ENOSPC || errno == EDQUOT ?
				    PX_IOERR : PX_CANTCREAT;
			}
		}
		if (time(NULL) >= deadline || pf_stop) {
			*msg = strfmt("cannot lock %s: it stays locked by another program",
			    d->path);
			if (have_fcntl)
				fcntl_set(d, F_UNLCK);
			return PX_CANTCREAT;
		}
		nap();
	}
}

static void
unlock(struct dest *d)
{
	if (!d->locked)
		return;
	if (dl_release(d->dotlock) == -1)
		log_error("cannot remove the lock file %s: %s (the next poll removes it)",
		    d->dotlock, strerror(errno));
	fcntl_set(d, F_UNLCK);
	d->locked = 0;
}

static void
truncate_to(struct dest *d, off_t to)
{
	if (ftruncate(d->fd, to) == -1)
		log_error("%s: cannot truncate back to %lld bytes: %s", d->path,
		    (long long)to, strerror(errno));
}

/* Makes the file end with an empty line so that the next From_ line is one. */
static enum px_err
pad(struct dest *d, char **msg)
{
	char tail[2];
	const char *p = NULL;

	if (d->batch_start == 0)
		return PX_OK;
	if (d->batch_start == 1) {
		if (pread(d->fd, tail, 1, 0) != 1)
			goto fail;
		p = tail[0] == '\n' ? "\n" : "\n\n";
	} else {
		if (pread(d->fd, tail, 2, d->batch_start - 2) != 2)
			goto fail;
		if (tail[1] != '\n')
			p = "\n\n";
		else if (tail[0] != '\n')
			p = "\n";
	}
	if (p && write_all(d->fd, p, strlen(p)) == -1)
		goto fail;
	return PX_OK;
fail:
	*msg = strfmt("%s: %s", d->path, strerror(errno ? errno : EIO));
	truncate_to(d, d->batch_start);
	return PX_IOERR;
}

static enum px_err
mbox_batch_begin(struct dest *d, char **msg)
{
	enum px_err e;

	if ((e = lock(d, msg)) != PX_OK)
		return e;
	d->batch_start = lseek(d->fd, 0, SEEK_END);
	if (d->batch_start == (off_t)-1) {
		*msg = strfmt("%s: %s", d->path, strerror(errno));
		unlock(d);
		return PX_IOERR;
	}
	if ((e = pad(d, msg)) != PX_OK) {
		unlock(d);
		return e;
	}
	return PX_OK;
}

static enum px_err
mbox_msg_begin(struct dest *d, char **msg)
{
	d->msg_start = lseek(d->fd, 0, SEEK_END);
	if (d->msg_start == (off_t)-1) {
		*msg = strfmt("%s: %s", d->path, strerror(errno));
		return PX_IOERR;
	}
	return PX_OK;
}

/* The header block is complete: the From_ line goes first. */
static int
mbox_header(void *arg, const char *text, size_t len)
{
	struct dest *d = arg;
	char *sender, *line;
	int r;

	if ((sender = mf_sender(text, len)) == NULL ||
	    (line = mf_from_line(sender, time(NULL))) == NULL) {
		free(sender);
		out_set_err(d, PX_SOFTWARE, strdup("out of memory"));
		return -1;
	}
	r = out_put(d, line, strlen(line));
	free(sender);
	free(line);
	return r;
}

static void
mbox_msg_abort(struct dest *d)
{
	truncate_to(d, d->msg_start);
}

static enum px_err
mbox_commit(struct dest *d, char **msg)
{
	if (!d->locked)
		return PX_OK;
	if (fsync(d->fd) == -1) {
		*msg = strfmt("%s: %s; the %lu message%s of this batch %s taken back out of it",
		    d->path, strerror(errno), d->nbatch, d->nbatch == 1 ? "" : "s",
		    d->nbatch == 1 ? "was" : "were");
		truncate_to(d, d->batch_start);
		return PX_IOERR;
	}
	return PX_OK;
}

static enum px_err
mbox_undo(struct dest *d, char **what)
{
	if (ftruncate(d->fd, d->batch_start) == -1 || fsync(d->fd) == -1) {
		*what = strfmt("%s cannot be truncated back to %lld bytes (%s): the next poll "
		    "delivers the %lu message%s of this batch again", d->path,
		    (long long)d->batch_start, strerror(errno), d->nbatch,
		    d->nbatch == 1 ? "" : "s");
		return PX_IOERR;
	}
	*what = strfmt("the %lu message%s of this batch %s taken back out of %s", d->nbatch,
	    d->nbatch == 1 ? "" : "s", d->nbatch == 1 ? "was" : "were", d->path);
	return PX_OK;
}

static void
mbox_close(struct dest *d)
{
	unlock(d);
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	free(d->dotlock);
	d->dotlock = NULL;
}

const struct dest_ops mbox_ops = {
	.name = "mbox",
	.mboxrd = 1,
	.trailer = "\n",
	.open = mbox_open,
	.batch_begin = mbox_batch_begin,
	.msg_begin = mbox_msg_begin,
	.header = mbox_header,
	.msg_abort = mbox_msg_abort,
	.commit = mbox_commit,
	.undo = mbox_undo,
	.batch_end = unlock,
	.close = mbox_close,
};
