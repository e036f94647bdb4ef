/*
 * fetch.c: one poll of one account, by the safe fetch protocol.
 *
 *   1. lock the account, read its UIDL state, prepare the destination;
 *   2. LIST and UIDL; choose: with only_new, messages whose UIDL is in the
 *      state were delivered before (in delete mode they are deleted now,
 *      without fetching them again); max_size leaves big ones on the
 *      server, max_messages caps the rest;
 *   3. in batches: RETR each message streaming into the destination, then
 *      one fsync for the batch, then the UIDLs recorded (atomic state
 *      file), and only then DELE for those messages;
 *   4. QUIT, whose +OK commits the deletions.
 *
 * A kill at any point loses nothing: a message is deleted only after the
 * fsync that covers it and the state that records it.  At worst the
 * messages of the batch in hand, written but not yet recorded, are
 * delivered again at the next poll; a batch ends after BATCH_MSGS
 * messages, BATCH_BYTES bytes or BATCH_SECS seconds, which bounds that and
 * costs three fsyncs per batch (destination, state file, its directory).  A destination error undoes the message in hand and stops the
 * poll; a network error stops it too, after the messages already written
 * are made durable and recorded (they are deleted at the next poll).
 */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "header.h"
#include "log.h"
#include "mime.h"
#include "popfetch.h"

/* A batch ends after this many messages, bytes or seconds. */
#define BATCH_MSGS	256
#define BATCH_BYTES	(32LL * 1024 * 1024)
#define BATCH_SECS	1
#define TOP_MAX		(256 * 1024)

struct fetch {
	const struct pop3_account *a;
	const struct popts *o;
	struct pop3 pop;
	struct ustate us;
	struct dest *dest;
	struct pop3_msg *v;
	size_t	 n;
	int	 keep;
	int	 conn_ok;	/* the session still holds our DELE marks */
	int	 scanned;	/* v lists what is on the server */
	enum px_err err;	/* first fatal error */
	int	 aborted;	/* a second signal cut the message in hand */
	unsigned long long cur, cur_limit;	/* bytes of the message in hand, and the most allowed */
	int	 overflow;	/* the server sent far more than LIST said */
	/* progress */
	unsigned long nwanted, ndone;
	unsigned long long bytes;
	double	 last;
};

static int progress_shown;

static void
human(char *buf, size_t len, unsigned long long b)
{
	if (b < 10 * 1024)
		snprintf(buf, len, "%llu bytes", b);
	else if (b < 10ULL * 1024 * 1024)
		snprintf(buf, len, "%.1f KB", b / 1024.0);
	else
		snprintf(buf, len, "%.1f MB", b / (1024.0 * 1024));
}

/* Clears the progress line before something else goes to stderr. */
static void
progress_clear(void)
{
	if (progress_shown)
		(void)!write(STDERR_FILENO, "\r\033[K", 4);
	progress_shown = 0;
}

static void
progress(struct fetch *f, int force)
{
	char line[256], b[32];
	double t;
	int k;

	if (!f->o->progress || f->nwanted == 0)
		return;
	t = util_monotonic();
	if (!force && t - f->last < 0.2)
		return;
	f->last = t;
	human(b, sizeof b, f->bytes);
	k = snprintf(line, sizeof line, "\r%s: %s: %lu/%lu messages, %s\033[K", log_prog(),
	    f->a->name, f->ndone, f->nwanted, b);
	if (k > 0)
		(void)!write(STDERR_FILENO, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
	progress_shown = 1;
}

/* Prints an error for the account and remembers the first fatal class. */
static void
fail(struct fetch *f, enum px_err e, char *msg)
{
	progress_clear();
	log_error("%s: %s", f->a->name, PF_WHY(msg));
	if (f->err == PX_OK)
		f->err = e;
	free(msg);
}

static size_t
retr_sink(void *arg, const char *p, size_t n)
{
	struct fetch *f = arg;

	f->bytes += n;
	f->cur += n;
	progress(f, 0);
	if (f->cur > f->cur_limit) {
		/* A body that never ends must not fill the disk. */
		f->overflow = 1;
		return 0;
	}
	if (pf_stop >= 2) {
		f->aborted = 1;
		return 0;	/* stop now: the message is undone */
	}
	return dest_msg_data(f->dest, p, n) == 0 ? n : 0;
}

/* Fetches one message into the destination; 0 delivered, -1 not. */
static int
fetch_one(struct fetch *f, struct pop3_msg *m, int *fatal)
{
	enum px_err e, de;
	char *msg = NULL, *dmsg = NULL;

	if ((e = dest_msg_begin(f->dest, &msg)) != PX_OK) {
		dest_msg_abort(f->dest);
		fail(f, e, msg);
		*fatal = 1;
		return -1;
	}
	/* LIST's size is in CRLF lines; LF lines are smaller.  Twice it, and 1 MB, is plenty. */
	f->cur = 0;
	f->overflow = 0;
	f->cur_limit = (m->size > 0 ? 2ULL * (unsigned long long)m->size : 0) + 1024 * 1024;
	e = pop3_retr(&f->pop, m->num, retr_sink, f, &msg);
	if (e != PX_OK && f->overflow) {
		dest_msg_abort(f->dest);
		free(msg);
		*fatal = 1;
		fail(f, PX_TEMPFAIL, strfmt("%s: message %lu: the server sent more than twice the "
		    "%lld bytes LIST announced; it stays on the server", f->a->net.host, m->num,
		    m->size));
		return -1;
	}
	if (e != PX_OK) {
		/* Our own sink stopped the transfer, or the network failed. */
		de = dest_error(f->dest, &dmsg);
		dest_msg_abort(f->dest);
		f->conn_ok = !f->pop.dead;
		/*
		 * A -ERR to one RETR leaves the session usable: that message
		 * stays on the server and the others go on.
		 */
		if (f->pop.dead || de != PX_OK)
			*fatal = 1;
		if (f->aborted || pf_stop >= 2) {
			free(msg);
			free(dmsg);
			fail(f, PX_TEMPFAIL, strfmt("stopped by a second signal: message %lu "
			    "stays on the server", m->num));
		} else if (de != PX_OK) {
			free(msg);
			fail(f, de, dmsg);
		} else {
			free(dmsg);
			fail(f, e, msg);
		}
		return -1;
	}
	if ((e = dest_msg_end(f->dest, &msg)) != PX_OK) {
		/* An mda judges each message: go on with the next one. */
		if (!dest_per_message(f->dest))
			*fatal = 1;
		fail(f, e, msg);
		return -1;
	}
	return 0;
}

/* Deletes the messages marked done (not yet deleted); 0 or -1. */
static int
delete_done(struct fetch *f, size_t from, size_t to, int seen_too)
{
	enum px_err e;
	char *msg;
	size_t i;

	for (i = from; i < to; i++) {
		if (f->v[i].deleted || !(f->v[i].done || (seen_too && f->v[i].seen)))
			continue;
		if ((e = pop3_dele(&f->pop, f->v[i].num, &msg)) != PX_OK) {
			f->conn_ok = !f->pop.dead;
			fail(f, e, msg);
			return -1;
		}
		f->v[i].deleted = 1;
	}
	return 0;
}

/* Forgets the messages of a batch that did not stay in the destination. */
static void
unmark(struct fetch *f, unsigned char *pending, size_t from, size_t to)
{
	size_t k;

	for (k = from; k < to; k++)
		if (pending[k]) {
			pending[k] = 0;
			f->v[k].done = 0;
			f->ndone--;
		}
}

/* The state could not be saved (err, msg): the batch is taken back out. */
static void
undo_batch(struct fetch *f, enum px_err err, char *msg, unsigned char *pending, size_t from,
    size_t to)
{
	char *what = NULL;

	/*
	 * Unmarked even when the undo failed half-way (a truncate or unlink
	 * done, its fsync failed): the end of the poll must not record as
	 * delivered what may be gone, or the next poll deletes it unfetched.
	 * At worst it is delivered twice.  Only an mda's messages stay
	 * marked: they are delivered and cannot be taken back.
	 */
	if (dest_undo(f->dest, &what) == PX_OK || !dest_per_message(f->dest))
		unmark(f, pending, from, to);
	fail(f, err, strfmt("%s; %s; nothing was deleted on the server", PF_WHY(msg),
	    what ? what : "no message was delivered"));
	free(msg);
	free(what);
}

/* Runs batches over the wanted messages. */
static void
fetch_batches(struct fetch *f)
{
	size_t i = 0, first, k;
	int fatal = 0;
	enum px_err e;
	char *msg;
	unsigned long count;
	unsigned long long bytes;
	double start;
	unsigned char *pending;

	if ((pending = calloc(f->n ? f->n : 1, 1)) == NULL) {
		fail(f, PX_SOFTWARE, strdup("out of memory"));
		return;
	}
	while (i < f->n && !fatal && !pf_stop) {
		while (i < f->n && !f->v[i].wanted)
			i++;
		if (i == f->n)
			break;
		if ((e = dest_batch_begin(f->dest, &msg)) != PX_OK) {
			fail(f, e, msg);
			break;
		}
		first = i;
		count = 0;
		bytes = 0;
		start = util_monotonic();
		for (; i < f->n && !fatal && !pf_stop; i++) {
			if (!f->v[i].wanted)
				continue;
			if (count >= BATCH_MSGS || (long long)bytes >= BATCH_BYTES ||
			    util_monotonic() - start >= BATCH_SECS)
				break;
			if (fetch_one(f, &f->v[i], &fatal) == 0) {
				pending[i] = 1;
				f->ndone++;
			}
			count++;
			bytes += f->v[i].size > 0 ? (unsigned long long)f->v[i].size : 0;
			progress(f, 0);
		}
		/* One fsync covers the batch; only then is anything recorded. */
		if ((e = dest_commit(f->dest, &msg)) != PX_OK) {
			/* The batch is out of the destination again: keep it on the server. */
			fail(f, e, msg);
			unmark(f, pending, first, i);
			dest_batch_end(f->dest);
			break;
		}
		for (k = first; k < i; k++)
			if (pending[k])
				f->v[k].done = 1;
		if ((e = us_save(&f->us, f->v, f->n, &msg)) != PX_OK) {
			/*
			 * Delivered but not recorded: the next poll would deliver
			 * the batch again.  Take it back out; nothing is deleted.
			 */
			undo_batch(f, e, msg, pending, first, i);
			dest_batch_end(f->dest);
			break;
		}
		dest_batch_end(f->dest);
		if (!f->keep && f->conn_ok && delete_done(f, first, i, 0) == -1)
			break;
	}
	free(pending);
	progress(f, 1);
}

/* Marks what to fetch, delete or leave. */
static void
choose(struct fetch *f, struct poll_result *res)
{
	size_t i;
	unsigned long nwanted = 0;
	struct pop3_msg *m;

	for (i = 0; i < f->n; i++) {
		m = &f->v[i];
		m->seen = f->a->only_new && us_has(&f->us, m->uidl, m->size);
		if (m->seen)
			continue;
		if (f->a->max_size > 0 && m->size > f->a->max_size) {
			res->nskipped++;
			log_info("%s: message %lu (%lld bytes) is larger than max_size: "
			    "left on the server", f->a->name, m->num, m->size);
			log_event(LOG_NOTICE, "account=%s host=%s message=%lu uidl=%s size=%lld "
			    "left on the server: larger than max_size %lld", f->a->name,
			    f->a->net.host, m->num, m->uidl ? m->uidl : "-", m->size,
			    f->a->max_size);
			continue;
		}
		if (f->a->max_messages > 0 && nwanted >= (unsigned long)f->a->max_messages)
			continue;
		m->wanted = 1;
		nwanted++;
	}
	f->nwanted = nwanted;
}

enum px_err
fetch_account(const struct pop3_account *a, const struct popts *o, struct poll_result *res)
{
	struct fetch f;
	enum px_err e;
	char *msg = NULL, b[32];
	size_t i;
	int pop_started = 0;

	memset(res, 0, sizeof *res);
	memset(&f, 0, sizeof f);
	f.a = a;
	f.o = o;
	f.keep = a->keep || o->keep;
	f.us.lockfd = -1;
	if ((e = us_open(&f.us, a, &msg)) != PX_OK) {
		fail(&f, e, msg);
		goto out;
	}
	if ((e = dest_open(&f.dest, a, &msg)) != PX_OK) {
		fail(&f, e, msg);
		goto out;
	}
	pop_started = 1;
	if ((e = pop3_open(&f.pop, &a->net, o->verbose, &msg)) != PX_OK) {
		fail(&f, e, msg);
		goto out;
	}
	if ((e = pop3_scan(&f.pop, &f.v, &f.n, &msg)) != PX_OK) {
		fail(&f, e, msg);
		goto out;
	}
	f.conn_ok = 1;
	f.scanned = 1;
	if (!f.pop.uidl_ok && f.n > 0 && f.keep && a->only_new)
		log_error("%s: %s has no UIDL: with keep, every message is fetched again "
		    "each time", a->name, a->net.host);
	choose(&f, res);
	if ((e = pop3_plan(&f.pop, 0, f.v, f.n, &msg)) != PX_OK) {
		fail(&f, e, msg);
		goto out;
	}
	/* Delivered by an earlier poll whose deletions did not happen. */
	if (!f.keep && a->only_new && delete_done(&f, 0, f.n, 1) == -1)
		goto out;
	fetch_batches(&f);
out:
	if (pop_started) {
		e = pop3_close(&f.pop, &msg);
		if (e != PX_OK && f.conn_ok)
			fail(&f, e, msg);
		else
			free(msg);
		/* Only QUIT's +OK makes deletions happen. */
		res->ndeleted = f.pop.quit_reply == 1 ? f.pop.ndele_ok : 0;
	}
	/* The state keeps only what is still on the server (and fills in sizes). */
	if (f.scanned && us_changed(&f.us, f.v, f.n) &&
	    (e = us_save(&f.us, f.v, f.n, &msg)) != PX_OK) {
		fail(&f, e, strfmt("%s; the messages deleted from the server stay recorded "
		    "as delivered", PF_WHY(msg)));
		free(msg);
	}
	for (i = 0; i < f.n; i++)
		if (f.v[i].done) {
			res->nmsgs++;
			res->bytes += f.v[i].size > 0 ? (unsigned long long)f.v[i].size : 0;
		}
	if (o->progress || o->summary) {
		progress_clear();
		human(b, sizeof b, res->bytes);
		if (res->nmsgs > 0)
			log_error("%s: %lu message%s, %s%s", a->name, res->nmsgs,
			    res->nmsgs == 1 ? "" : "s", b, f.keep ? " (kept on the server)" : "");
		else if (f.err == PX_OK)
			log_error("%s: no new messages", a->name);
	}
	log_event(f.err == PX_OK ? LOG_INFO : LOG_ERR,
	    "account=%s host=%s messages=%lu bytes=%llu deleted=%lu skipped=%lu outcome=%s",
	    a->name, a->net.host, res->nmsgs, res->bytes, res->ndeleted, res->nskipped,
	    f.err == PX_OK ? (pf_stop ? "stopped" : "ok") : "failed");
	pop3_msgs_free(f.v, f.n);
	dest_close(f.dest);
	us_close(&f.us);
	return f.err;
}

/* ---- --list ---- */

static size_t
top_sink(void *arg, const char *p, size_t n)
{
	struct sbuf *b = arg;

	if (b->len < TOP_MAX && sb_addn(b, p, n < TOP_MAX - b->len ? n : TOP_MAX - b->len) == -1)
		return 0;
	return n;
}

/* Decoded header value, control characters made harmless for a terminal. */
static char *
shown(const struct hdr_block *h, const char *name)
{
	char *v, *d;
	unsigned char *p;

	if ((v = hdr_get(h, name)) == NULL)
		return strdup("");
	d = mime_2047_decode(v);
	free(v);
	if (d == NULL)
		return strdup("");
	for (p = (unsigned char *)d; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			*p = ' ';
	return d;
}

enum px_err
list_account(const struct pop3_account *a, const struct popts *o)
{
	struct pop3 pop;
	struct pop3_msg *v = NULL;
	struct hdr_block h;
	struct sbuf top;
	size_t n = 0, i;
	long long total = 0;
	char *msg = NULL, *from, *subj, b[32];
	enum px_err e, err = PX_OK;

	sb_init(&top);
	if ((e = pop3_open(&pop, &a->net, o->verbose, &msg)) != PX_OK ||
	    (e = pop3_scan(&pop, &v, &n, &msg)) != PX_OK) {
		log_error("%s: %s", a->name, PF_WHY(msg));
		free(msg);
		pop3_close(&pop, &msg);
		free(msg);
		return e;
	}
	for (i = 0; i < n; i++)
		total += v[i].size > 0 ? v[i].size : 0;
	human(b, sizeof b, (unsigned long long)total);
	printf("%s: %zu message%s, %s (%s)\n", a->name, n, n == 1 ? "" : "s", b,
	    a->net.host);
	if ((e = pop3_plan(&pop, 1, v, n, &msg)) != PX_OK) {
		log_error("%s: %s", a->name, PF_WHY(msg));
		free(msg);
		err = e;
		n = 0;
	}
	for (i = 0; i < n && !pf_stop; i++) {
		sb_reset(&top);
		if ((e = pop3_top(&pop, v[i].num, top_sink, &top, &msg)) != PX_OK) {
			log_error("%s: %s", a->name, PF_WHY(msg));
			free(msg);
			err = e;
			break;
		}
		hdr_init(&h);
		hdr_parse(&h, top.s ? top.s : "", top.len);
		from = shown(&h, "From");
		subj = shown(&h, "Subject");
		printf("%5lu %10lld  %-24s  %-32s  %s\n", v[i].num, v[i].size,
		    v[i].uidl ? v[i].uidl : "-", from ? from : "", subj ? subj : "");
		free(from);
		free(subj);
		hdr_free(&h);
	}
	fflush(stdout);
	pop3_close(&pop, &msg);
	free(msg);
	pop3_msgs_free(v, n);
	sb_free(&top);
	return err;
}
