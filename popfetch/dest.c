/*
 * dest.c: the destinations as the fetch sees them (dest_* of popfetch.h):
 * the message filter in front (LF line endings, mboxrd quoting for mbox,
 * the header held back until the sender is known), the batch, and the
 * calls into mbox.c, maildir.c or mda.c.
 *
 * Signals: SIGTERM and SIGINT only set a flag (see main.c), so they can
 * never interrupt a message half written; SIGPIPE is ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "dest.h"

enum px_err
dest_open(struct dest **dp, const struct pop3_account *a, char **msg)
{
	struct dest *d;

	*msg = NULL;
	*dp = NULL;
	if ((d = calloc(1, sizeof *d)) == NULL || (d->path = strdup(a->dest_path)) == NULL) {
		free(d);
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	d->ops = a->dest == DEST_MBOX ? &mbox_ops : a->dest == DEST_MAILDIR ? &maildir_ops :
	    &mda_ops;
	d->what = d->path;
	d->fd = -1;
	sl_init(&d->batch);
	mf_init(&d->mf, d->ops->mboxrd);
	d->mf.put = out_put;
	d->mf.header = d->ops->header;
	d->mf.arg = d;
	if (d->ops->header == NULL)
		d->mf.header_max = 0;	/* no sender needed: stream at once */
	*dp = d;
	return d->ops->open ? d->ops->open(d, msg) : PX_OK;
}

int
dest_per_message(const struct dest *d)
{
	return d->ops->per_message;
}

enum px_err
dest_batch_begin(struct dest *d, char **msg)
{
	*msg = NULL;
	d->nbatch = 0;
	return d->ops->batch_begin ? d->ops->batch_begin(d, msg) : PX_OK;
}

enum px_err
dest_msg_begin(struct dest *d, char **msg)
{
	*msg = NULL;
	d->err = PX_OK;
	free(d->errmsg);
	d->errmsg = NULL;
	d->blen = 0;
	mf_begin(&d->mf);
	return d->ops->msg_begin ? d->ops->msg_begin(d, msg) : PX_OK;
}

int
dest_msg_data(struct dest *d, const char *p, size_t n)
{
	if (mf_feed(&d->mf, p, n) == -1) {
		if (d->err == PX_OK)
			out_set_err(d, PX_SOFTWARE, strdup("out of memory"));
		return -1;
	}
	return 0;
}

enum px_err
dest_error(struct dest *d, char **msg)
{
	*msg = d->errmsg;
	d->errmsg = NULL;
	return d->err;
}

enum px_err
dest_msg_end(struct dest *d, char **msg)
{
	enum px_err e;

	*msg = NULL;
	if (mf_end(&d->mf) == -1 || (d->ops->trailer &&
	    out_put(d, d->ops->trailer, strlen(d->ops->trailer)) == -1) || out_flush(d) == -1) {
		if (d->err == PX_OK)
			out_set_err(d, PX_SOFTWARE, strdup("out of memory"));
		e = dest_error(d, msg);
		dest_msg_abort(d);
		return e;
	}
	if (d->ops->msg_end && (e = d->ops->msg_end(d, msg)) != PX_OK)
		return e;
	d->nbatch++;
	return PX_OK;
}

void
dest_msg_abort(struct dest *d)
{
	d->blen = 0;
	if (d->ops->msg_abort)
		d->ops->msg_abort(d);
}

enum px_err
dest_commit(struct dest *d, char **msg)
{
	*msg = NULL;
	return d->ops->commit ? d->ops->commit(d, msg) : PX_OK;
}

enum px_err
dest_undo(struct dest *d, char **what)
{
	*what = NULL;
	if (d->nbatch == 0 || d->ops->undo == NULL)
		return PX_OK;
	return d->ops->undo(d, what);
}

void
dest_batch_end(struct dest *d)
{
	if (d->ops->batch_end)
		d->ops->batch_end(d);
	d->nbatch = 0;
}

void
dest_close(struct dest *d)
{
	if (d == NULL)
		return;
	if (d->ops->close)
		d->ops->close(d);
	mf_free(&d->mf);
	free(d->buf);
	free(d->path);
	free(d->errmsg);
	free(d);
}
