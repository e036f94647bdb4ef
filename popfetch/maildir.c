/*
 * maildir.c: each message goes to tmp/ under a unique name, is fsynced and
 * renamed into new/; the batch ends with an fsync of new/.  The names
 * renamed into new/ during the batch are remembered, so that a batch whose
 * fsync of new/ fails, or whose state cannot be saved, is taken back out
 * (the files removed, new/ synced again).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "dest.h"
#include "log.h"

static enum px_err
maildir_open(struct dest *d, char **msg)
{
	static const char *sub[] = { "cur", "new", "tmp" };
	char *p;
	char host[256];
	size_t i;
	struct sbuf h;

	for (i = 0; i < 3; i++) {
		p = strfmt("%s/%s", d->path, sub[i]);
		if (p == NULL || mkdir_p(p, 0700) == -1) {
			*msg = strfmt("cannot create %s: %s", p ? p : d->path, strerror(errno));
			free(p);
			return PX_CANTCREAT;
		}
		free(p);
	}
	if ((d->newdir = strfmt("%s/new", d->path)) == NULL) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	if (gethostname(host, sizeof host) == -1)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	/* '/' and ':' cannot appear in a Maildir name. */
	sb_init(&h);
	for (p = host; *p; p++) {
		if (*p == '/')
			sb_adds(&h, "\\057");
		else if (*p == ':')
			sb_adds(&h, "\\072");
		else
			sb_addc(&h, *p);
	}
	d->host = sb_steal(&h);
	return PX_OK;
}

static enum px_err
maildir_msg_begin(struct dest *d, char **msg)
{
	struct timeval tv;
	char *name;

	gettimeofday(&tv, NULL);
	name = strfmt("%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
	    (long)getpid(), ++d->counter, d->host ? d->host : "localhost");
	if (name == NULL)
		goto oom;
	d->tmpname = strfmt("%s/tmp/%s", d->path, name);
	d->newname = strfmt("%s/%s", d->newdir, name);
	free(name);
	if (d->tmpname == NULL || d->newname == NULL)
		goto oom;
	d->fd = open(d->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (d->fd == -1) {
		*msg = strfmt("cannot create %s: %s", d->tmpname, strerror(errno));
		return errno == EIO || errno == ENOSPC || errno == EDQUOT ? PX_IOERR : PX_CANTCREAT;
	}
	return PX_OK;
oom:
	*msg = strdup("out of memory");
	return PX_SOFTWARE;
}

static void
drop(struct dest *d)
{
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	if (d->tmpname)
		unlink(d->tmpname);
	free(d->tmpname);
	free(d->newname);
	d->tmpname = d->newname = NULL;
}

static enum px_err
maildir_msg_end(struct dest *d, char **msg)
{
	int r;

	r = fsync(d->fd);
	if (close(d->fd) == -1)
		r = -1;
	d->fd = -1;
	if (r == -1) {
		*msg = strfmt("%s: %s", d->tmpname, strerror(errno));
		drop(d);
		return PX_IOERR;
	}
	if (sl_add(&d->batch, d->newname) == -1) {
		*msg = strdup("out of memory");
		drop(d);
		return PX_SOFTWARE;
	}
	if (rename(d->tmpname, d->newname) == -1) {
		*msg = strfmt("cannot rename %s: %s", d->tmpname, strerror(errno));
		free(d->batch.v[--d->batch.n]);
		drop(d);
		return PX_IOERR;
	}
	free(d->tmpname);
	free(d->newname);
	d->tmpname = d->newname = NULL;
	return PX_OK;
}

/*
 * Removes the batch's files from new/ and syncs it; 0, or -1 with errno
 * (some files may remain: a mail reader may have moved them to cur/).
 */
static int
remove_batch(struct dest *d)
{
	size_t i;
	int r = 0, saved = 0;

	for (i = 0; i < d->batch.n; i++)
		if (unlink(d->batch.v[i]) == -1 && errno != ENOENT) {
			saved = errno;
			r = -1;
		}
	if (fsync_dir(d->newdir) == -1) {
		saved = errno;
		r = -1;
	}
	errno = saved;
	return r;
}

static enum px_err
maildir_commit(struct dest *d, char **msg)
{
	size_t n = d->batch.n;
	int saved;

	if (n == 0)
		return PX_OK;
	if (fsync_dir(d->newdir) == 0)
		return PX_OK;
	saved = errno;
	if (remove_batch(d) == -1)
		*msg = strfmt("%s: %s; the %zu message%s of this batch cannot all be removed "
		    "again (%s): the next poll delivers %s again", d->newdir, strerror(saved), n,
		    n == 1 ? "" : "s", strerror(errno), n == 1 ? "it" : "them");
	else
		*msg = strfmt("%s: %s; the %zu message%s of this batch %s removed again",
		    d->newdir, strerror(saved), n, n == 1 ? "" : "s", n == 1 ? "was" : "were");
	sl_free(&d->batch);
	return PX_IOERR;
}

static enum px_err
maildir_undo(struct dest *d, char **what)
{
	size_t n = d->batch.n;

	if (remove_batch(d) == -1) {
		*what = strfmt("the %zu message%s of this batch cannot all be removed from %s "
		    "(%s): the next poll delivers %s again", n, n == 1 ? "" : "s", d->newdir,
		    strerror(errno), n == 1 ? "it" : "them");
		sl_free(&d->batch);
		return PX_IOERR;
	}
	*what = strfmt("the %zu message%s of this batch %s removed from %s", n,
	    n == 1 ? "" : "s", n == 1 ? "was" : "were", d->newdir);
	sl_free(&d->batch);
	return PX_OK;
}

static void
maildir_batch_end(struct dest *d)
{
	sl_free(&d->batch);
}

static void
maildir_close(struct dest *d)
{
	drop(d);
	sl_free(&d->batch);
	free(d->newdir);
	free(d->host);
	d->newdir = d->host = NULL;
}

const struct dest_ops maildir_ops = {
	.name = "Maildir",
	.open = maildir_open,
	.msg_begin = maildir_msg_begin,
	.msg_end = maildir_msg_end,
	.msg_abort = drop,
	.commit = maildir_commit,
	.undo = maildir_undo,
	.batch_end = maildir_batch_end,
	.close = maildir_close,
};
