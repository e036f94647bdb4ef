/*
 * dest.h: the inside of popfetch's destinations (the interface the rest of
 * popfetch uses is dest_* in popfetch.h).
 *
 *   dest.c      that interface: the message filter, the batch, and the calls
 *               into the destination's operations
 *   mbox.c      mbox (with dotlock.c, its FILE.lock)
 *   maildir.c   Maildir
 *   mda.c       a delivery command
 *   output.c    the output buffer in front of the file or pipe, and the
 *               error of the message in hand, for all three
 *
 * Dependencies run one way: dest.c -> mbox.c, maildir.c, mda.c ->
 * output.c, dotlock.c.
 */
#ifndef POPFETCH_DEST_H
#define POPFETCH_DEST_H

#include <sys/types.h>

#include "popfetch.h"

struct dest;

/*
 * What a destination does; NULL members do nothing (and succeed).  The
 * functions returning enum px_err set *msg (malloc'd) on failure.
 */
struct dest_ops {
	const char *name;	/* "mbox", "Maildir", "mda" */
	int	 mboxrd;	/* From_ quoting */
	int	 per_message;	/* each message succeeds or fails on its own */
	const char *trailer;	/* added after each message ("\n" for mbox) */
	enum px_err (*open)(struct dest *d, char **msg);
	enum px_err (*batch_begin)(struct dest *d, char **msg);
	enum px_err (*msg_begin)(struct dest *d, char **msg);
	/* The message filter's header callback (the sender is known): 0 or -1. */
	int	(*header)(void *arg, const char *text, size_t len);
	/* The message is written and flushed. */
	enum px_err (*msg_end)(struct dest *d, char **msg);
	void	(*msg_abort)(struct dest *d);
	/* Makes the batch durable; on failure the batch is undone. */
	enum px_err (*commit)(struct dest *d, char **msg);
	/* Takes a committed batch back out; *what says what was done. */
	enum px_err (*undo)(struct dest *d, char **what);
	void	(*batch_end)(struct dest *d);
	void	(*close)(struct dest *d);
};

extern const struct dest_ops mbox_ops, maildir_ops, mda_ops;

struct dest {
	const struct dest_ops *ops;
	char	*path;		/* mbox file, Maildir directory, or mda command */
	const char *what;	/* names the destination in errors: the path, or "mda" */
	struct mfilter mf;
	unsigned long nbatch;	/* messages ended in this batch */
	/* output.c */
	int	 fd;
	char	*buf;
	size_t	 blen;
	int	 epipe_ok;	/* a reader that stops reading is not an error (mda) */
	int	 pipe_gone;	/* ... and it did */
	enum px_err err;	/* error of the message in hand */
	char	*errmsg;
	/* mbox.c */
	int	 locked;
	char	*dotlock;
	off_t	 batch_start;
	off_t	 msg_start;
	/* maildir.c */
	char	*tmpname;	/* tmp/NAME of the message in hand */
	char	*newname;
	char	*newdir;	/* DIR/new */
	unsigned counter;
	char	*host;
	struct strlist batch;	/* new/ names of this batch */
	/* mda.c */
	pid_t	 pid;
};

/* ---- output.c ---- */
/* Remembers the first error of the message in hand (takes msg). */
void	 out_set_err(struct dest *d, enum px_err e, char *msg);
/* The message filter's output: buffered; 0 or -1 (the error is set). */
int	 out_put(void *arg, const char *s, size_t n);
/* Writes the buffer out; 0 or -1. */
int	 out_flush(struct dest *d);

/* ---- dotlock.c ---- */
/*
 * Takes the dotlock at path (FILE.lock), holding our pid; the caller holds
 * the fcntl lock of FILE, so no other popfetch is making the same lock.
 * A lock whose owner is gone is taken over at once.  Returns 0, 1 when a
 * live owner holds it, or -1 with errno when it cannot be made (nothing is
 * left behind).
 */
int	 dl_take(const char *path);
/* Removes our dotlock; 0, or -1 with errno. */
int	 dl_release(const char *path);
/*
 * Removes a dotlock at path whose owner is gone, and our temporary name
 * (the caller holds the fcntl lock): a lock a popfetch could not remove or
 * was killed holding does not wait for the next batch to be taken over.
 */
void	 dl_clean(const char *path);

#endif
