/*
 * deliver.c: one attempt at a queue entry and what follows from it, and the
 * queue run.  The split that matters: a temporary failure keeps the entry
 * (with backoff), a permanent one ends it: the caller is told when there is
 * one, and a queue run, whose caller is gone, keeps the message in failed/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sendmail.h"

/* One log line for an attempt. */
static void
log_attempt(struct smtp_conn *c, const struct qentry *q, const struct strlist *to,
    const char *status, const char *why)
{
	struct sbuf r;
	size_t i;

	sb_init(&r);
	for (i = 0; i < to->n; i++)
		sb_printf(&r, "%s%s", i ? "," : "", to->v[i]);
	/* uid: who submitted it (-1 for entries older than the field). */
	log_event(strcmp(status, "sent") == 0 ? LOG_INFO : LOG_WARNING,
	    "%s: uid=%ld account=%s host=%s tls=%s from=<%s> to=<%s> size=%lld status=%s%s%s",
	    q->id, q->env.uid == NO_UID ? -1L : (long)q->env.uid, q->env.account, c ? smtp_host(c) : "-", c ? smtp_tls(c) : "-", q->env.sender,
	    r.s ? r.s : "",
	    (long long)q->env.size, status, why ? " reply=" : "", why ? why : "");
	sb_free(&r);
}

/* The recipients given up by v: those refused for good, and the left ones with why. */
static void
given_up(const struct qentry *q, const struct verdict *v, const char *why, struct strlist *to,
    struct strlist *replies)
{
	size_t i;

	for (i = 0; i < q->refused.n; i++) {
		sl_add(to, q->refused.v[i]);
		sl_add(replies, i < q->refused_replies.n ? q->refused_replies.v[i] : "");
	}
	for (i = 0; v->fail_left && i < q->env.rcpts.n; i++) {
		sl_add(to, q->env.rcpts.v[i]);
		sl_add(replies, why ? why : "");
	}
}

enum px_err
deliver_entry(struct smtp_conn *c, struct smtp_account *a, struct qentry *q, int attended,
    char **msg, struct verdict *v)
{
	struct attempt at;
	struct strlist to, failed, replies;
	char *fix, *line, *err = NULL;
	size_t i;

	sl_init(&to);
	sl_init(&failed);
	sl_init(&replies);
	for (i = 0; i < q->env.rcpts.n; i++)
		sl_add(&to, q->env.rcpts.v[i]);
	memset(&at, 0, sizeof at);
	at.err = smtp_send(c, q, msg);
	at.in_txn = smtp_in_transaction(c);
	at.attention = smtp_attention(c);
	at.failed_at = smtp_failed_at(c);
	at.nrefused = q->refused.n;
	at.nleft = q->env.rcpts.n;
	at.null_sender = *q->env.sender == '\0';
	at.bounces = a->bounce;
	outcome_decide(&at, attended, a->queue, v);
	if (v->loud && (fix = outcome_fix(&at, a)) != NULL) {
		/* One line: the problem, then the fix. */
		line = strfmt("%s; %s", *msg ? *msg : "failed", fix);
		free(fix);
		if (line) {
			free(*msg);
			*msg = line;
		}
	}
	if (v->done)
		log_attempt(c, q, &to, "sent", *msg ? *msg : smtp_last_reply(c));
	if (v->done && q->refused.n)
		log_error("%s: some recipients were refused: %s", q->id, *msg ? *msg : "");
	if (v->fail) {
		given_up(q, v, *msg, &failed, &replies);
		if (v->fail_left && v->status == PX_TEMPFAIL &&
		    (line = strfmt("%s; not queued (queue = \"never\")", *msg ? *msg : "failed"))) {
			free(*msg);
			*msg = line;
		}
		/* A bounce is due with report "bounce": the run sends it (bounce.c). */
		if (q_fail_copy(q, &failed, &replies, *msg, v->report, v->failed_id,
		    sizeof v->failed_id, &err) == 0) {
			log_attempt(c, q, &failed, "refused", *msg);
		} else {
			/* Nowhere to keep it as failed: it stays queued, for all of them. */
			log_error("%s: %s; the message stays in the queue", q->id, err);
			for (i = 0; i < q->refused.n; i++)
				sl_add(&q->env.rcpts, q->refused.v[i]);
			v->keep = 1;
			v->fail = v->fail_left = v->bounce = 0;
			free(err);
			err = NULL;
		}
	}
	if (v->keep) {
		q->env.attempts++;
		q->env.next = time(NULL) + q_backoff(q->env.attempts);
		free(q->env.error);
		q->env.error = xstrdup(*msg);
		if (!v->done)
			log_attempt(c, q, &q->env.rcpts, "deferred", *msg);
		if (q_update(q) == -1)
			log_error("%s: cannot update the queue entry: %s%s", q->id, strerror(errno),
			    v->done ? "; the recipients it was sent to may get it again" : "");
	} else if (q_remove(q, &err) == -1) {
		log_error("%s: %s %s, but %s: remove it by hand, or it is sent again", q->id,
		    v->done ? "sent" : "kept in failed/", q->id, err);
		log_event(LOG_ERR, "%s: finished, but %s", q->id, err);
	}
	free(err);
	sl_free(&to);
	sl_free(&failed);
	sl_free(&replies);
	return v->status;
}

/* The connection for an account, opened on first use (at most 32 at once). */
static size_t
conn_for(struct conns *cs, struct smtp_account *a, struct postie_cfg *cfg, int verbose)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (cs->a[i] == a)
			return i;
	if (cs->n == 32) {
		smtp_close(cs->c[0]);
		memmove(cs->c, cs->c + 1, 31 * sizeof *cs->c);
		memmove(cs->a, cs->a + 1, 31 * sizeof *cs->a);
		memmove(cs->down, cs->down + 1, 31 * sizeof *cs->down);
		cs->n--;
	}
	cs->a[cs->n] = a;
	cs->down[cs->n] = 0;
	cs->c[cs->n] = smtp_open(a, cfg, verbose);
	return cs->n++;
}

void
conns_close(struct conns *cs)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		smtp_close(cs->c[i]);
	cs->n = 0;
}

/* Bookkeeping of a temporary failure met by another entry of the same server. */
static void
defer(struct qentry *q, const char *why)
{
	q->env.attempts++;
	q->env.next = time(NULL) + q_backoff(q->env.attempts);
	free(q->env.error);
	q->env.error = xstrdup(why);
	if (q_update(q) == -1)
		log_error("%s: cannot update the queue entry", q->id);
}

/*
 * Whether this run sends the entry: the caller's own (root: any), of the
 * account, due, and matching -qI/-qR/-qS.
 */
static int
selected(const struct opts *o, const char *dir, const char *id, const struct envelope *e,
    const char *only_account, int only_due, time_t now)
{
	size_t i;
	int hit;

	if (!q_visible(q_owner(dir, id, e)))
		return 0;
	if ((only_account && strcmp(e->account, only_account) != 0) ||
	    (only_due && e->next > now))
		return 0;
	if (o->q_id && strstr(id, o->q_id) == NULL)
		return 0;
	if (o->q_sender && strcasestr(e->sender, o->q_sender) == NULL)
		return 0;
	if (o->q_rcpt) {
		for (hit = 0, i = 0; i < e->rcpts.n; i++)
			if (strcasestr(e->rcpts.v[i], o->q_rcpt))
				hit = 1;
		if (!hit)
			return 0;
	}
	return 1;
}

/* Gives up an entry that outlived queue_lifetime: failed/, and a bounce. */
static void
expire(struct qentry *q, struct postie_cfg *cfg, time_t now)
{
	struct smtp_account *a;
	char *msg, *err = NULL;
	const char *report;

	a = conf_smtp_select(cfg, q->env.account, NULL, &err);
	free(err);
	err = NULL;
	msg = strfmt("given up after %ld days in the queue; last error: %s",
	    (long)(now - q->env.created) / 86400, q->env.error ? q->env.error : "none");
	report = outcome_report(0, *q->env.sender == '\0', a ? a->bounce : 1);
	log_event(LOG_ERR, "%s: uid=%ld from=<%s> expired: %s", q->id,
	    q->env.uid == NO_UID ? -1L : (long)q->env.uid, q->env.sender, msg);
	if (q_fail_copy(q, NULL, NULL, msg, report, NULL, 0, &err) == -1) {
		log_error("%s: %s; it stays in the queue", q->id, err);
		q_leave(q->id);
		free(err);
		free(msg);
		return;
	}
	log_error("%s: %s", q->id, msg);
	if (q_remove(q, &err) == -1)
		log_event(LOG_ERR, "%s: kept in failed/, but %s", q->id, err);
	free(err);
	free(msg);
}

/* What a queue run did, for its summary. */
struct runstat {
	int	 sent, kept, failed, told, bounced;
};

/*
 * Takes entry id for a queue run: chosen, locked and checked (an expired
 * entry goes to failed/, one whose account left the configuration is
 * kept).  1 with q locked and *ap its account, or 0: nothing to send.
 */
static int
take_entry(struct postie_cfg *cfg, const struct opts *o, const char *id,
    const char *only_account, int only_due, struct runstat *st, struct qentry *q,
    struct smtp_account **ap)
{
	struct envelope peek;
	char *err;
	time_t now;
	int sel;

	/*
	 * Chosen before it is locked: a lock taken on an entry this run
	 * does not send (another user's, say) would let a stopped runner
	 * hold it from everyone else's queue run.
	 */
	now = time(NULL);
	if (q_peek(cfg->queue_dir, id, &peek) == -1)
		return 0;	/* gone */
	sel = selected(o, cfg->queue_dir, id, &peek, only_account, only_due, now);
	env_free(&peek);
	if (!sel)
		return 0;
	if (q_lock(cfg->queue_dir, id, q) != 0)
		return 0;	/* busy with another runner, or gone */
	/* What it is now that it is ours (a runner may have just tried it). */
	if (!selected(o, q->dir, q->id, &q->env, only_account, only_due, now)) {
		q_close(q);
		return 0;
	}
	if (now - q->env.created > cfg->queue_lifetime) {
		expire(q, cfg, now);
		q_close(q);
		st->failed++;
		return 0;
	}
	*ap = conf_smtp_select(cfg, q->env.account, NULL, &err);
	if (*ap == NULL) {
		/* The account left the configuration: keep it for the admin. */
		free(q->env.error);
		q->env.error = err;
		q_update(q);
		q_close(q);
		st->kept++;
		return 0;
	}
	return 1;
}

/* Tries each entry of ids in a queue run. */
static void
run_entries(struct postie_cfg *cfg, const struct opts *o, struct conns *cs,
    const struct strlist *ids, const char *only_account, int only_due, struct runstat *st)
{
	struct qentry q, next;
	struct smtp_account *a, *next_a = NULL;
	struct smtp_conn *c;
	struct verdict v;
	char *msg;
	size_t i, k;
	int looked = 0, have_next = 0;

	for (i = 0; i < ids->n; i++) {
		if (looked) {
			/* Taken already, as the one after the last. */
			looked = 0;
			if (!have_next)
				continue;
			q = next;
			a = next_a;
			have_next = 0;
		} else if (!take_entry(cfg, o, ids->v[i], only_account, only_due, st, &q, &a))
			continue;
		k = conn_for(cs, a, cfg, o->verbose);
		if ((c = cs->c[k]) == NULL) {
			q_close(&q);
			continue;
		}
		if (cs->down[k]) {
			/* The server already failed this run: do not knock again. */
			defer(&q, smtp_last_error(c));
			q_close(&q);
			st->kept++;
			continue;
		}
		/*
		 * The next entry, if it goes over the same connection, can have
		 * its envelope sent with this one's final dot (smtp_ahead).
		 */
		if (i + 1 < ids->n) {
			looked = 1;
			have_next = take_entry(cfg, o, ids->v[i + 1], only_account, only_due, st,
			    &next, &next_a);
			if (have_next && next_a == a)
				smtp_ahead(c, &next);
		}
		msg = NULL;
		deliver_entry(c, a, &q, 0, &msg, &v);
		if (v.done && !v.keep)
			st->sent++;
		if (v.keep)
			st->kept++;
		if (v.fail)
			st->failed++;
		if (v.keep && !v.done) {
			cs->down[k] = smtp_broken(c);
			/* Someone typing sendmail -q sees what the server needs, once. */
			if (v.loud && !st->told++)
				log_error("%s: kept in the queue: %s", q.id, msg ? msg : "");
			else
				log_info("%s: kept in the queue: %s", q.id, msg ? msg : "");
		} else if (v.fail) {
			cs->down[k] = smtp_broken(c);
			log_error("%s: refused, kept in failed/: %s", q.id, msg ? msg : "");
		} else
			log_info("%s: sent", q.id);
		smtp_set_last_error(c, msg);
		free(msg);
		q_close(&q);
	}
}

/* The ids in failed/ into ids; failed/'s path (malloc'd), or NULL. */
static char *
failed_ids(const struct postie_cfg *cfg, struct strlist *ids)
{
	char *fdir = strfmt("%s/failed", cfg->queue_dir);

	sl_init(ids);
	if (fdir && q_list(fdir, ids) == -1) {
		free(fdir);
		return NULL;
	}
	return fdir;
}

/*
 * The bounces due in failed/ (report "bounce"), of only_account if set:
 * each over its account's connection, the caller's own (root: all).
 */
static void
bounce_pass(struct postie_cfg *cfg, const struct opts *o, struct conns *cs,
    const char *only_account, struct runstat *st)
{
	struct strlist ids;
	struct envelope e;
	struct smtp_account *a;
	char *fdir, *err;
	size_t i, k;
	int due;

	if ((fdir = failed_ids(cfg, &ids)) == NULL)
		return;
	for (i = 0; i < ids.n; i++) {
		/* Looked at unlocked: only what this run will send gets locked. */
		if (q_peek(fdir, ids.v[i], &e) == -1)
			continue;
		due = bounce_pending(e.report) && q_visible(q_owner(fdir, ids.v[i], &e)) &&
		    (only_account == NULL || strcmp(e.account, only_account) == 0);
		a = due ? conf_smtp_select(cfg, e.account, NULL, &err) : NULL;
		if (due && a == NULL)
			free(err);	/* the account is gone: the bounce waits for it */
		env_free(&e);
		if (a == NULL)
			continue;
		k = conn_for(cs, a, cfg, o->verbose);
		if (cs->c[k] == NULL || cs->down[k])
			continue;
		if (bounce_send(cs->c[k], a, a->domain, cfg->queue_dir, ids.v[i],
		    cfg->queue_lifetime) == 1)
			st->bounced++;
		else
			cs->down[k] = smtp_broken(cs->c[k]);
	}
	sl_free(&ids);
	free(fdir);
}

int
queue_run(struct postie_cfg *cfg, const struct opts *o, const char *only_account, int only_due,
    struct conns *keep)
{
	struct strlist ids;
	struct conns local, *cs = keep ? keep : &local;
	struct runstat st;

	sl_init(&ids);
	memset(&local, 0, sizeof local);
	memset(&st, 0, sizeof st);
	if (q_list(cfg->queue_dir, &ids) == -1) {
		log_error("cannot read the queue directory %s", cfg->queue_dir);
		return 0;
	}
	run_entries(cfg, o, cs, &ids, only_account, only_due, &st);
	/* The bounces due go out over the same connections now. */
	bounce_pass(cfg, o, cs, only_account, &st);
	if (!keep)
		conns_close(&local);
	if (st.sent + st.kept + st.failed + st.bounced > 0)
		log_info("queue run: %d sent, %d kept, %d failed, %d bounces sent", st.sent,
		    st.kept, st.failed, st.bounced);
	sl_free(&ids);
	q_retry_removals();
	return st.sent + st.kept + st.failed;
}

void
queue_background(struct postie_cfg *cfg, const struct opts *o, const char *account)
{
	struct conns cs;
	char *lock, kind[40];
	pid_t pid;
	int fd;

	if ((pid = fork()) != 0) {
		if (pid == -1)
			log_error("cannot fork a delivery process: %s; the message stays queued",
			    strerror(errno));
		return;
	}
	/* The child: detached, it outlives the caller and holds none of its descriptors. */
	cc_detach(NULL, 0);
	/*
	 * One runner per account at a time.  Later runners wait for the lock;
	 * the one holding it loops until a pass finds nothing due, so a message
	 * queued while it works is sent over the same connection.
	 */
	/* Per user: a shared spool's users must not wait for (or lock out) each other. */
	snprintf(kind, sizeof kind, "runner.%lu", (unsigned long)getuid());
	lock = q_account_file(cfg->queue_dir, kind, account, "");
	fd = lock ? open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660) : -1;
	free(lock);
	if (fd == -1 || flock(fd, LOCK_EX) == -1)
		_exit(0);
	memset(&cs, 0, sizeof cs);
	while (queue_run(cfg, o, account, 1, &cs) > 0)
		;
	conns_close(&cs);
	_exit(0);
}

void
submit(struct postie_cfg *cfg, const struct opts *o, struct reader *r, struct submit_result *res)
{
	struct qentry q;
	struct msgctx m;
	struct qlimits lim;
	struct smtp_conn *c;
	struct verdict v;
	FILE *out = NULL;
	char *err = NULL, delivery;
	enum px_err e;

	memset(res, 0, sizeof *res);
	memset(&m, 0, sizeof m);
	if (cfg == NULL) {
		/* No configuration to complete it with: kept as it came. */
		saved_store(o, r, res);
		return;
	}
	if (q_init(cfg->queue_dir, &err) == -1) {
		res->err = PX_CANTCREAT;
		res->msg = err;
		return;
	}
	/* A user at a limit, or a full file system: refused before a byte is read. */
	if (limits_begin(cfg, &lim, &err) != PX_OK) {
		res->err = PX_TEMPFAIL;
		res->msg = err;
		return;
	}
	if (q_create_id(cfg->queue_dir, o->qid, &q, &out, &err) == -1) {
		res->err = PX_CANTCREAT;
		res->msg = err;
		return;
	}
	/* Root completing a user's saved message: the entry is the user's. */
	q.env.uid = o->submitter;
	if (o->submitter != getuid() && geteuid() == 0)
		(void)!fchown(q.fd, o->submitter, (gid_t)-1);
	m.o = o;
	m.cfg = cfg;
	m.env = &q.env;
	m.qid = q.id;
	limits_arm(&lim);
	e = message_read(&m, r, out);
	if (e == PX_OK && fflush(out) == EOF) {
		e = PX_IOERR;
		m.errmsg = strfmt("cannot write the spool file: %s", strerror(errno));
	}
	if (limits_disarm(&lim, cfg, &err)) {
		/* The message passed the user's bytes or the free space while it was written. */
		e = PX_TEMPFAIL;
		free(m.errmsg);
		m.errmsg = err;
	}
	if (message_finish(&m, e, res) != PX_OK) {
		q_abort(&q, out);
		return;
	}
	if (limits_commit(cfg, &lim, q.env.size, &err) != PX_OK) {
		limits_release(&lim);
		q_abort(&q, out);
		res->err = PX_TEMPFAIL;
		res->msg = err;
		return;
	}
	if (q_commit(&q, out, &err) == -1) {
		limits_release(&lim);
		q_abort(&q, NULL);
		res->err = PX_IOERR;
		res->msg = err;
		return;
	}
	limits_release(&lim);
	snprintf(res->id, sizeof res->id, "%s", q.id);
	log_info("queued as %s (%lld bytes) for account \"%s\"", q.id, (long long)q.env.size,
	    m.acct->name);
	delivery = o->delivery ? o->delivery : cfg->delivery;
	if (delivery == 'q' || delivery == 'b') {
		/* Queued: a queue run, or the background process, sends it. */
		q_close(&q);
		if (delivery == 'b')
			queue_background(cfg, o, m.acct->name);
		return;
	}
	if (cc_handoff(cfg, o, m.acct, &q, res))
		return;	/* sent (or kept) by the process holding a connection */
	if ((c = smtp_open(m.acct, cfg, o->verbose)) == NULL) {
		res->queued = 1;
		res->loud = 1;
		res->msg = strdup("out of memory: the message stays queued; sendmail -q tries again");
		q_close(&q);
		return;
	}
	deliver_entry(c, m.acct, &q, 1, &res->msg, &v);
	submit_conclude(&q, m.acct, &v, res);
	if (v.done) {
		struct conns cs;

		/* The connection is up: send what waits for this account. */
		memset(&cs, 0, sizeof cs);
		cs.c[0] = c;
		cs.a[0] = m.acct;
		cs.n = 1;
		queue_run(cfg, o, m.acct->name, 1, &cs);
		/* Then keep it for the next sendmail, when the server still answers. */
		if (!smtp_broken(c) && cc_hold(cfg, o, m.acct, c))
			return;
	}
	smtp_close(c);
}

void
submit_conclude(struct qentry *q, struct smtp_account *a, const struct verdict *v,
    struct submit_result *res)
{
	char *err;

	res->err = v->status;
	res->loud = v->loud;
	if (v->status == PX_OK && v->keep) {
		res->queued = 1;
		/* A loud line names the account in its fix already. */
		err = v->loud ? xstrdup(res->msg) : strfmt("%s (account \"%s\")",
		    res->msg ? res->msg : "failed", a->name);
	} else if (v->status == PX_TEMPFAIL)
		err = strfmt("%s (account \"%s\"); a copy is kept in failed/",
		    res->msg ? res->msg : "failed", a->name);
	else if (v->status != PX_OK)
		err = strfmt("%s (account \"%s\")", res->msg ? res->msg : "refused", a->name);
	else
		err = res->msg ? strdup(res->msg) : NULL;	/* sent; refusals reported */
	free(res->msg);
	res->msg = err;
	q_close(q);
}

void
failed_maintain(struct postie_cfg *cfg)
{
	struct strlist ids;
	struct envelope e;
	struct qentry q;
	char *fdir;
	time_t now = time(NULL), when;
	size_t i;
	int old;

	if ((fdir = failed_ids(cfg, &ids)) == NULL)
		return;
	for (i = 0; i < ids.n; i++) {
		/* Looked at unlocked: another user's entry is not even locked. */
		if (q_peek(fdir, ids.v[i], &e) == -1)
			continue;
		when = e.failed ? e.failed : e.created;
		old = now - when > cfg->failed_lifetime && q_visible(q_owner(fdir, ids.v[i], &e));
		env_free(&e);
		if (!old || q_failed_lock(cfg->queue_dir, ids.v[i], &q) != 0)
			continue;
		if (q_failed_remove(&q) == 0)
			log_event(LOG_NOTICE, "%s: removed from failed/ after %ld days "
			    "(failed_lifetime); from=<%s> reason: %s", q.id,
			    (long)(now - when) / 86400, q.env.sender, q.env.error ? q.env.error : "?");
		q_close(&q);
	}
	sl_free(&ids);
	free(fdir);
}
