/*
 * smtptx.c: the mail transaction, spoken by us over the connection of
 * smtp.c, with what the server offers:
 *
 *  - PIPELINING (RFC 2920): MAIL, every RCPT and DATA go in one flight, and
 *    the final dot goes with the envelope of what follows: the rest of the
 *    recipients after a "452 too many recipients", or the next entry of a
 *    queue run (smtp_ahead).  Replies are read in order; every one is
 *    checked.  Without PIPELINING, one command per turn.
 *  - CHUNKING (RFC 3030): BDAT instead of DATA: no dot-stuffing, no 354
 *    turn; with PIPELINING a whole message is one flight.
 *  - SIZE (RFC 1870): SIZE= on MAIL, and a message over the server's limit
 *    is refused before anything is sent; BODY=8BITMIME (RFC 6152) for a
 *    message with 8-bit bytes and SMTPUTF8 (RFC 6531) for UTF-8 addresses,
 *    and a clean refusal when such a message meets a server without them.
 *
 * Without CHUNKING the data is dot-stuffed here (libcurl is not involved
 * any more): a line starting with "." gets one more.  The spool file is
 * read in blocks, so memory stays the same whatever the message size.
 *
 * Nothing of an entry sent ahead is ever delivered before smtp_send() is
 * called for it: at most its MAIL, RCPT and DATA have gone out (never its
 * data), so if it is not sent after all, dropping the connection makes the
 * server forget it.
 *
 * One outcome per recipient: accepted (the server said 2xx to its RCPT and
 * to the end of the data), refused for good (5xx), refused for now (4xx),
 * or not tried; the entry keeps those still to be tried.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "smtpconn.h"

#define BLOCK		65536		/* bytes read from the spool at once */
#define CHUNK		(1024 * 1024)	/* BDAT chunk size when pipelining */

/* What an entry asks of the server. */
struct txinfo {
	off_t	 size;
	int	 eightbit;	/* a byte over 127 in the message */
	int	 utf8;		/* an address with one */
};

/* What became of a recipient. */
enum rstate { RS_UNTRIED, RS_OK, RS_PERM, RS_TEMP, RS_ACCEPTED };

struct rcpt_out {
	enum rstate state;	/* RS_ACCEPTED: RCPT said yes, the end of data is to come */
	char	*text;		/* the refusal */
};

/* One transaction: some (or all) recipients of an entry. */
struct tx {
	size_t	*idx;
	size_t	 n;
	int	 rset;		/* an RSET goes (went) first */
	int	 sent;		/* its envelope went out already (ahead, or after a dot) */
};

/* The first failure that is not one recipient's. */
struct txerr {
	int	 set;
	int	 io;		/* the connection failed */
	int	 code;		/* else the reply */
	char	*msg;		/* "host: 554 ..." */
};

static int
has8bit(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] & 0x80)
			return 1;
	return 0;
}

/* Size, 8-bit content and UTF-8 addresses of q; 0, or -1 with *msg. */
static int
scan_entry(const struct qentry *q, struct txinfo *ti, char **msg)
{
	unsigned char *buf;
	struct stat st;
	off_t off = 0;
	ssize_t k;
	size_t i;

	memset(ti, 0, sizeof *ti);
	if (fstat(q->fd, &st) == -1) {
		*msg = strfmt("cannot read queue file %s: %s", q->id, strerror(errno));
		return -1;
	}
	ti->size = st.st_size;
	ti->utf8 = has8bit((const unsigned char *)q->env.sender, strlen(q->env.sender));
	for (i = 0; i < q->env.rcpts.n && !ti->utf8; i++)
		ti->utf8 = has8bit((const unsigned char *)q->env.rcpts.v[i],
		    strlen(q->env.rcpts.v[i]));
	if ((buf = malloc(BLOCK)) == NULL) {
		*msg = strdup("out of memory");
		return -1;
	}
	while (!ti->eightbit && off < ti->size) {
		k = pread(q->fd, buf, BLOCK, off);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0) {
			*msg = strfmt("cannot read queue file %s: %s", q->id,
			    k == 0 ? "it is shorter than it was" : strerror(errno));
			free(buf);
			return -1;
		}
		ti->eightbit = has8bit(buf, (size_t)k);
		off += k;
	}
	free(buf);
	return 0;
}

/* A message the server cannot take: refused before anything is sent. */
static enum px_err
check_caps(struct smtp_conn *s, const struct qentry *q, const struct txinfo *ti, char **msg)
{
	const char *host = s->acct->net.host;

	(void)q;
	if (s->caps.size && s->caps.size_max > 0 && ti->size > s->caps.size_max) {
		*msg = strfmt("%s: the message is %lld bytes, more than the server takes "
		    "(SIZE %lld)", host, (long long)ti->size, s->caps.size_max);
		return PX_UNAVAILABLE;
	}
	if (ti->eightbit && !s->caps.eightbit) {
		*msg = strfmt("%s: the message holds 8-bit bytes and the server does not "
		    "offer 8BITMIME", host);
		return PX_UNAVAILABLE;
	}
	if (ti->utf8 && !s->caps.smtputf8) {
		*msg = strfmt("%s: an address holds UTF-8 and the server does not offer "
		    "SMTPUTF8", host);
		return PX_UNAVAILABLE;
	}
	return PX_OK;
}

/* Queues MAIL FROM with the parameters the message needs. */
static int
queue_mail(struct smtp_conn *s, const struct qentry *q, const struct txinfo *ti)
{
	char size[40] = "";

	if (s->caps.size)
		snprintf(size, sizeof size, " SIZE=%lld", (long long)ti->size);
	return smtp_cmd(s, "MAIL FROM:<%s>%s%s%s", q->env.sender, size,
	    ti->eightbit ? " BODY=8BITMIME" : "", ti->utf8 ? " SMTPUTF8" : "");
}

/* Queues [RSET] MAIL, the RCPTs of tx and, with_data, DATA. */
static int
queue_envelope(struct smtp_conn *s, const struct qentry *q, const struct txinfo *ti,
    struct tx *tx, int with_data)
{
	size_t i;
	int r = 0;

	tx->rset = s->need_rset;
	s->need_rset = 0;
	if (tx->rset)
		r |= smtp_cmd(s, "RSET");
	r |= queue_mail(s, q, ti);
	for (i = 0; i < tx->n; i++)
		r |= smtp_cmd(s, "RCPT TO:<%s>", q->env.rcpts.v[tx->idx[i]]);
	if (with_data)
		r |= smtp_cmd(s, "DATA");
	tx->sent = 1;
	return r ? -1 : 0;
}

/*
 * Queues len bytes of the spool file from off, dot-stuffed when *bol is
 * not NULL (*bol: at the start of a line); *last2 keeps the last two bytes.
 * Sends as the buffer fills.  0, -1 when the connection failed, -2 when
 * the file could not be read (*msg).
 */
static int
stream(struct smtp_conn *s, const struct qentry *q, off_t off, off_t len, int *bol,
    char last2[2], char **msg)
{
	char *buf;
	ssize_t k;
	size_t i, from;
	int r = 0;

	if ((buf = malloc(BLOCK)) == NULL) {
		*msg = strdup("out of memory");
		return -2;
	}
	while (len > 0 && r == 0) {
		k = pread(q->fd, buf, len < BLOCK ? (size_t)len : BLOCK, off);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0) {
			*msg = strfmt("cannot read queue file %s: %s", q->id,
			    k == 0 ? "it is shorter than it was" : strerror(errno));
			r = -2;
			break;
		}
		off += k;
		len -= k;
		if (bol == NULL) {
			r = netio_add(&s->io, buf, (size_t)k);
		} else {
			for (from = 0, i = 0; i < (size_t)k && r == 0; i++) {
				if (*bol && buf[i] == '.') {
					/* Flush up to here, then the extra dot. */
					r = netio_add(&s->io, buf + from, i - from);
					if (r == 0)
						r = netio_add(&s->io, ".", 1);
					from = i;
				}
				*bol = buf[i] == '\n';
			}
			if (r == 0)
				r = netio_add(&s->io, buf + from, (size_t)k - from);
		}
		if (k >= 2) {
			last2[0] = buf[k - 2];
			last2[1] = buf[k - 1];
		} else {
			last2[0] = last2[1];
			last2[1] = buf[0];
		}
		if (r == 0 && s->io.out.len >= BLOCK)
			r = netio_flush(&s->io);
	}
	free(buf);
	return r;
}

/* The message after DATA's 354: dot-stuffed, then the final dot. */
static int
send_dotted(struct smtp_conn *s, const struct qentry *q, const struct txinfo *ti, char **msg)
{
	char last2[2] = { '\r', '\n' };
	int bol = 1, r;

	if ((r = stream(s, q, 0, ti->size, &bol, last2, msg)) != 0)
		return r;
	if (ti->size > 0 && (last2[0] != '\r' || last2[1] != '\n'))
		r = netio_add(&s->io, "\r\n", 2);
	if (r == 0)
		r = netio_add(&s->io, ".\r\n", 3);
	return r;
}

/* BDAT chunks: one when not pipelining (each chunk would be a turn). */
static int
send_chunks(struct smtp_conn *s, const struct qentry *q, const struct txinfo *ti,
    size_t *nchunks, char **msg)
{
	off_t off = 0, n, chunk = s->caps.pipelining ? CHUNK : ti->size;
	char last2[2];
	int r;

	*nchunks = 0;
	do {
		n = ti->size - off < chunk ? ti->size - off : chunk;
		if (smtp_cmd(s, "BDAT %lld%s", (long long)n, off + n == ti->size ? " LAST" : "") == -1)
			return -1;
		(*nchunks)++;
		if ((r = stream(s, q, off, n, NULL, last2, msg)) != 0)
			return r;
		off += n;
	} while (off < ti->size);
	return 0;
}

static void
set_out(struct rcpt_out *o, enum rstate st, const char *text)
{
	o->state = st;
	free(o->text);
	o->text = text ? xstrdup(text) : NULL;
}

/* The class of a refusal by its reply code. */
static enum px_err
reply_class(int code)
{
	if (code == 530 || code == 534 || code == 535 || code == 538)
		return PX_NOPERM;
	if (code >= 500 && code < 600)
		return PX_UNAVAILABLE;
	return PX_TEMPFAIL;
}

static void
note_reply_err(struct smtp_conn *s, struct txerr *te)
{
	if (te->set)
		return;
	te->set = 1;
	te->code = s->code;
	te->msg = strfmt("%s: %s", s->acct->net.host, s->text.s ? s->text.s : "refused");
}

static void
note_io_err(struct smtp_conn *s, struct txerr *te)
{
	if (te->set)
		return;
	te->set = 1;
	te->io = 1;
	te->msg = smtp_io_error(s);
}

/* The envelope of the entry given to smtp_ahead(), after this one's dot. */
static void
queue_ahead(struct smtp_conn *s)
{
	const struct qentry *a = s->ahead.q;
	struct txinfo ti;
	struct tx tx;
	char *err = NULL;
	size_t i;

	s->ahead.q = NULL;
	if (a == NULL || !s->caps.pipelining || s->caps.chunking || a->env.rcpts.n == 0 ||
	    scan_entry(a, &ti, &err) == -1 || check_caps(s, a, &ti, &err) != PX_OK) {
		free(err);
		return;		/* it goes in a turn of its own */
	}
	if ((tx.idx = calloc(a->env.rcpts.n, sizeof *tx.idx)) == NULL)
		return;
	for (i = 0; i < a->env.rcpts.n; i++)
		tx.idx[i] = i;
	tx.n = a->env.rcpts.n;
	if (queue_envelope(s, a, &ti, &tx, 1) == 0 && (s->ahead.id = strdup(a->id)) != NULL) {
		s->ahead.nrcpt = tx.n;
		s->ahead.rset = tx.rset;
	}
	free(tx.idx);
}

/*
 * Reads the replies to the envelope of tx: RSET, MAIL, each RCPT.  Sets
 * *mail_ok, the outcomes of refused recipients, RS_ACCEPTED for the others,
 * and nx (those answered 452, for another transaction).  0, or -1 when
 * the connection failed.
 */
static int
read_envelope(struct smtp_conn *s, struct qentry *q, struct tx *tx, struct rcpt_out *ro,
    struct tx *nx, int *mail_ok, size_t *naccepted, size_t *nreplies, struct txerr *te)
{
	size_t i, n452 = 0;
	struct rcpt_out *o;

	*mail_ok = 0;
	*naccepted = 0;
	if (tx->rset && smtp_reply(s) == -1)
		return -1;	/* an RSET refused changes nothing that matters */
	if (smtp_reply(s) == -1)
		return -1;
	if (s->code >= 200 && s->code < 300)
		*mail_ok = 1;
	else
		note_reply_err(s, te);
	for (i = 0; i < tx->n; i++) {
		if (!s->caps.pipelining && !*mail_ok)
			break;	/* nothing more was sent */
		if (!s->caps.pipelining && (smtp_cmd(s, "RCPT TO:<%s>",
		    q->env.rcpts.v[tx->idx[i]]) == -1))
			return -1;
		if (smtp_reply(s) == -1)
			return -1;
		if (!*mail_ok)
			continue;	/* "503 need MAIL": not the recipient's fault */
		(*nreplies)++;
		o = &ro[tx->idx[i]];
		if (s->code >= 200 && s->code < 300) {
			set_out(o, RS_ACCEPTED, NULL);
			(*naccepted)++;
		} else if (s->code == 452) {
			/* Too many recipients (RFC 5321 4.5.3.1.10): the rest later. */
			set_out(o, RS_TEMP, s->text.s);
			nx->idx[n452++] = tx->idx[i];
		} else if (s->text.s && strstr(s->text.s, "Helo command rejected")) {
			/*
			 * Postfix checks the EHLO name at RCPT (smtpd_delay_reject):
			 * our name refused, not the recipient; the message waits
			 * for helo to be mended.
			 */
			set_out(o, RS_TEMP, s->text.s);
			s->failed_at = 'e';
			s->attention = 1;
		} else
			set_out(o, s->code >= 500 ? RS_PERM : RS_TEMP, s->text.s);
	}
	/* Another transaction at once, if this one took some. */
	nx->n = *naccepted > 0 ? n452 : 0;
	nx->sent = 0;
	nx->rset = 0;
	return 0;
}

/* The end of data was answered: the accepted recipients have it, or not. */
static void
end_reply(struct smtp_conn *s, struct tx *tx, struct rcpt_out *ro, struct txerr *te)
{
	size_t i;

	if (s->code >= 200 && s->code < 300) {
		for (i = 0; i < tx->n; i++)
			if (ro[tx->idx[i]].state == RS_ACCEPTED)
				set_out(&ro[tx->idx[i]], RS_OK, NULL);
		free(s->last_reply);
		s->last_reply = xstrdup(s->text.s);
		return;
	}
	/* Those accepted stay RS_ACCEPTED: smtp_send() decides by the error. */
	note_reply_err(s, te);
}

/*
 * One transaction over the connection.  0 when it is over (outcomes in
 * ro[], a failure not of one recipient in *te), -1 when the connection
 * failed, -2 when the spool file could not be read (*te set; the
 * connection is dropped: the server must not take a message cut short).
 */
static int
transact(struct smtp_conn *s, struct qentry *q, const struct txinfo *ti, struct tx *tx,
    struct rcpt_out *ro, struct tx *nx, size_t *nreplies, struct txerr *te)
{
	int pipe = s->caps.pipelining, bdat = s->caps.chunking, mail_ok, ok, r = 0;
	size_t naccepted, nchunks = 0, i;
	char *err = NULL;

	/* The envelope: in one flight, or MAIL alone (the RCPTs follow one by one). */
	if (pipe) {
		if (!tx->sent && queue_envelope(s, q, ti, tx, !bdat) == -1)
			return -1;
		/* With BDAT the whole message goes in the same flight. */
		if (bdat && (r = send_chunks(s, q, ti, &nchunks, &err)) != 0)
			goto data_failed;
	} else {
		if (s->need_rset) {
			s->need_rset = 0;
			if (smtp_cmd(s, "RSET") == -1 || smtp_reply(s) == -1)
				return -1;
		}
		tx->rset = 0;
		if (queue_mail(s, q, ti) == -1)
			return -1;
	}
	if (read_envelope(s, q, tx, ro, nx, &mail_ok, &naccepted, nreplies, te) == -1)
		return -1;
	ok = mail_ok && naccepted > 0;
	if (bdat) {
		if (!pipe) {
			if (!ok) {
				s->need_rset = mail_ok;
				return 0;
			}
			if ((r = send_chunks(s, q, ti, &nchunks, &err)) != 0)
				goto data_failed;
		}
		for (i = 0; i < nchunks; i++) {
			if (smtp_reply(s) == -1)
				return -1;
			if (!ok)
				continue;	/* refused: there was no one to take it */
			if (s->code >= 200 && s->code < 300 && i + 1 < nchunks)
				continue;
			end_reply(s, tx, ro, te);
			if (s->code < 200 || s->code >= 300) {
				/* A refused chunk voids the message; the rest are refused too. */
				ok = 0;
				s->need_rset = 1;
			}
		}
		if (!mail_ok || naccepted == 0)
			s->need_rset = mail_ok;
		return 0;
	}
	if (!pipe) {
		if (!ok) {
			s->need_rset = mail_ok;
			return 0;
		}
		if (smtp_cmd(s, "DATA") == -1)
			return -1;
	}
	if (smtp_reply(s) == -1)
		return -1;
	if (s->code != 354) {
		if (ok)
			note_reply_err(s, te);
		s->need_rset = mail_ok;
		return 0;
	}
	if (!ok) {
		/* RFC 2920: a DATA taken with no recipient gets an empty message. */
		if (netio_add(&s->io, ".\r\n", 3) == -1 || smtp_reply(s) == -1)
			return -1;
		return 0;
	}
	if ((r = send_dotted(s, q, ti, &err)) != 0)
		goto data_failed;
	/* With the dot: the rest of the recipients, or the next entry. */
	if (pipe && nx->n > 0) {
		if (queue_envelope(s, q, ti, nx, 1) == -1)
			return -1;
	} else if (pipe)
		queue_ahead(s);
	if (smtp_reply(s) == -1)
		return -1;
	end_reply(s, tx, ro, te);
	return 0;
data_failed:
	if (r == -2) {
		if (!te->set) {
			te->set = 1;
			te->io = 0;
			te->code = 0;
			te->msg = err;
		} else
			free(err);
		smtp_drop(s);
		return -2;
	}
	free(err);
	return -1;
}

/*
 * What the outcomes mean for the entry (sendmail.h): PX_OK when someone got
 * it; the recipients still to be tried stay in it, those refused for good
 * go to q->refused with their replies; *msg for the caller.
 */
static enum px_err
conclude(struct smtp_conn *s, struct qentry *q, struct rcpt_out *ro, struct txerr *te,
    char **msg)
{
	struct strlist keep;
	struct sbuf refused;
	size_t i, nok = 0, ntemp = 0;
	enum px_err err;
	struct rcpt_out *o;

	for (i = 0; i < q->env.rcpts.n; i++)
		nok += ro[i].state == RS_OK;
	sl_init(&keep);
	sb_init(&refused);
	for (i = 0; i < q->env.rcpts.n; i++) {
		o = &ro[i];
		if (o->state == RS_ACCEPTED) {
			/* Taken by RCPT, then the transaction failed. */
			if (nok > 0 && !te->io && te->code >= 500)
				set_out(o, RS_PERM, te->msg);	/* others got it: refused for good */
			else
				set_out(o, RS_UNTRIED, NULL);
		}
		switch (o->state) {
		case RS_OK:
			break;
		case RS_PERM:
			sb_printf(&refused, "%s%s: %s", refused.len ? "; " : "", q->env.rcpts.v[i],
			    o->text ? o->text : "refused");
			sl_add(&q->refused, q->env.rcpts.v[i]);
			sl_add(&q->refused_replies, o->text ? o->text : "");
			break;
		case RS_TEMP:
			ntemp++;
			sb_printf(&refused, "%s%s: %s", refused.len ? "; " : "", q->env.rcpts.v[i],
			    o->text ? o->text : "refused");
			/* FALLTHROUGH */
		default:
			sl_add(&keep, q->env.rcpts.v[i]);
			break;
		}
	}
	if (keep.oom || q->refused.oom || q->refused_replies.oom) {
		/*
		 * Memory ran out sorting them: every recipient of this
		 * transaction stays for the next try (one that got it may get it
		 * twice, one refused may be refused again) rather than one dropped.
		 */
		sl_free(&keep);
		ntemp++;
	} else {
		sl_free(&q->env.rcpts);
		q->env.rcpts = keep;
	}
	if (te->set && nok == 0) {
		/* Nobody got it: the failure of the transaction is the answer. */
		*msg = te->msg;
		te->msg = NULL;
		err = te->io ? PX_TEMPFAIL : te->code == 0 ? PX_IOERR : reply_class(te->code);
	} else {
		if (te->set)
			sb_printf(&refused, "%s%s", refused.len ? "; " : "", te->msg);
		if (refused.len)
			*msg = strfmt("%s: %s", s->acct->net.host, refused.s);
		err = nok ? PX_OK : ntemp ? PX_TEMPFAIL : PX_NOUSER;
	}
	sb_free(&refused);
	return err;
}

enum px_err
smtp_send(struct smtp_conn *s, struct qentry *q, char **msg)
{
	struct txinfo ti;
	struct rcpt_out *ro = NULL;
	struct tx tx, nx, t;
	struct txerr te;
	size_t i, n = q->env.rcpts.n, nreplies = 0, replies_before;
	int ahead, fresh, retried = 0, r = 0;
	enum px_err e;

	*msg = NULL;
	s->broken = 0;
	s->in_txn = 0;
	sl_free(&q->refused);
	sl_free(&q->refused_replies);
	memset(&te, 0, sizeof te);
	memset(&tx, 0, sizeof tx);
	memset(&nx, 0, sizeof nx);
	if (s->setup_err != PX_OK) {
		*msg = strdup(s->setup_msg);
		s->broken = 1;
		s->ahead.q = NULL;
		return s->setup_err;
	}
	s->attention = 0;
	s->failed_at = 0;
	if (scan_entry(q, &ti, msg) == -1) {
		s->ahead.q = NULL;
		return PX_IOERR;
	}
	/* Was its envelope sent with the last message's end? */
	ahead = s->up && s->ahead.id && strcmp(s->ahead.id, q->id) == 0 && s->ahead.nrcpt == n;
	if (s->ahead.id && !ahead)
		smtp_drop(s);	/* another entry's transaction is open: start afresh */
again:
	fresh = !s->up;
	if (s->up && !ahead && !netio_idle_ok(&s->io)) {
		/* Closed while idle (a server's timeout): a new connection at once. */
		log_info("%s: the connection was closed by the server; connecting again",
		    s->acct->net.host);
		smtp_drop(s);
		fresh = 1;
	}
	if (!s->up && (e = smtp_connect(s, msg)) != PX_OK) {
		s->broken = 1;
		s->ahead.q = NULL;
		return e;
	}
	if ((e = check_caps(s, q, &ti, msg)) != PX_OK) {
		/* The message's own fault, as a 552 to MAIL would be. */
		s->in_txn = 1;
		s->ahead.q = NULL;
		return e;
	}
	if ((ro = calloc(n ? n : 1, sizeof *ro)) == NULL ||
	    (tx.idx = calloc(n ? n : 1, sizeof *tx.idx)) == NULL ||
	    (nx.idx = calloc(n ? n : 1, sizeof *nx.idx)) == NULL) {
		*msg = strdup("out of memory");
		e = PX_SOFTWARE;
		goto out;
	}
	for (i = 0; i < n; i++)
		tx.idx[i] = i;
	tx.n = n;
	tx.sent = ahead;
	tx.rset = ahead && s->ahead.rset;
	free(s->ahead.id);
	s->ahead.id = NULL;
	replies_before = nreplies;
	s->in_txn = 1;
	for (;;) {
		r = transact(s, q, &ti, &tx, ro, &nx, &nreplies, &te);
		if (r != 0 || nx.n == 0)
			break;
		/*
		 * The rest's envelope went out with the dot of a transaction
		 * that failed: it is a transaction of its own all the same, and
		 * its replies are owed.  Not sent yet: it stays for later.
		 */
		if (te.set && !nx.sent)
			break;
		/* The recipients answered 452 go now, in a transaction of their own. */
		t = tx;
		tx = nx;
		nx = t;
		nx.n = 0;
	}
	s->used = 1;
	if (r == -1 && !fresh && !retried && nreplies == replies_before && !te.set &&
	    !(s->caps.pipelining && s->caps.chunking)) {
		/*
		 * The connection was reused and failed before anything of this
		 * entry was answered: nothing was taken.  Once more on a new one.
		 * Not after a pipelined BDAT flight: the whole message went out
		 * before any reply, and the server may have taken it (the entry
		 * waits for the next run instead; a connection the server closed
		 * while idle was already replaced above).
		 */
		log_info("%s: %s; connecting again", s->acct->net.host, s->io.why);
		smtp_drop(s);
		retried = 1;
		ahead = 0;
		free(ro);
		free(tx.idx);
		free(nx.idx);
		ro = NULL;
		tx.idx = nx.idx = NULL;
		goto again;
	}
	if (r == -1) {
		note_io_err(s, &te);
		smtp_drop(s);
	}
	e = conclude(s, q, ro, &te, msg);
	s->broken = e != PX_OK && nreplies == 0;
out:
	s->ahead.q = NULL;
	if (ro)
		for (i = 0; i < n; i++)
			free(ro[i].text);
	free(ro);
	free(tx.idx);
	free(nx.idx);
	free(te.msg);
	if (*msg == NULL && e != PX_OK)
		*msg = strdup("failed");
	return e;
}
