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

enum px_err
deliver_entry(struct smtp_conn *c, struct qentry *q, int interactive, char **msg)
{
	struct strlist to;
	enum px_err err;
	size_t i;

	sl_init(&to);
	for (i = 0; i < q->env.rcpts.n; i++)
		sl_add(&to, q->env.rcpts.v[i]);
	err = smtp_send(c, q, msg);
	if (err == PX_OK) {
		if (*msg)
			log_error("%s: some recipients were refused: %s", q->id, *msg);
		log_attempt(c, q, &to, "sent", *msg ? *msg : smtp_last_reply(c));
		q_remove(q);
		sl_free(&to);
		return PX_OK;
	}
	/* Outside an interactive call, a refused login may be mended later. */
	if (err == PX_TEMPFAIL || (!interactive && (err == PX_NOPERM || err == PX_CONFIG))) {
		q->env.attempts++;
		q->env.next = time(NULL) + q_backoff(q->env.attempts);
		free(q->env.error);
		q->env.error = xstrdup(*msg);
		log_attempt(c, q, &to, "deferred", *msg);
		sl_free(&to);
		if (q_update(q) == -1)
			log_error("%s: cannot update the queue entry", q->id);
		return PX_TEMPFAIL;
	}
	log_attempt(c, q, &to, "refused", *msg);
	sl_free(&to);
	if (interactive)
		q_remove(q);
	else if (q_fail(q, *msg) == -1)
		log_error("%s: cannot move the entry to failed/", q->id);
	return err;
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

int
queue_run(struct postie_cfg *cfg, const struct opts *o, const char *only_account, int only_due,
    struct conns *keep)
{
	struct strlist ids;
	struct qentry q;
	struct envelope peek;
	struct conns local, *cs = keep ? keep : &local;
	struct smtp_account *a;
	struct smtp_conn *c;
	char *msg, *err, *path;
	size_t i, k;
	time_t now;
	int sent = 0, kept = 0, failed = 0;

	sl_init(&ids);
	memset(&local, 0, sizeof local);
	if (q_list(cfg->queue_dir, &ids) == -1) {
		log_error("cannot read the queue directory %s", cfg->queue_dir);
		return 0;
	}
	for (i = 0; i < ids.n; i++) {
		/*
		 * Chosen before it is locked: a lock taken on an entry this run
		 * does not send (another user's, say) would let a stopped runner
		 * hold it from everyone else's queue run.
		 */
		now = time(NULL);
		path = strfmt("%s/%s.env", cfg->queue_dir, ids.v[i]);
		if (path == NULL || q_read_env(path, &peek) == -1) {
			free(path);
			continue;	/* gone */
		}
		free(path);
		k = (size_t)selected(o, cfg->queue_dir, ids.v[i], &peek, only_account, only_due, now);
		env_free(&peek);
		if (!k)
			continue;
		if (q_lock(cfg->queue_dir, ids.v[i], &q) != 0)
			continue;	/* busy with another runner, or gone */
		/* What it is now that it is ours (a runner may have just tried it). */
		if (!selected(o, q.dir, q.id, &q.env, only_account, only_due, now)) {
			q_close(&q);
			continue;
		}
		if (now - q.env.created > cfg->queue_lifetime) {
			msg = strfmt("given up after %ld days in the queue; last error: %s",
			    (long)(now - q.env.created) / 86400,
			    q.env.error ? q.env.error : "none");
			log_event(LOG_ERR, "%s: uid=%ld from=<%s> expired: %s", q.id,
			    q.env.uid == NO_UID ? -1L : (long)q.env.uid, q.env.sender, msg);
			if (q_fail(&q, msg) == -1)
				log_error("%s: cannot move the entry to failed/", q.id);
			log_error("%s: %s", q.id, msg);
			free(msg);
			q_close(&q);
			failed++;
			continue;
		}
		a = conf_smtp_select(cfg, q.env.account, NULL, &err);
		if (a == NULL) {
			/* The account left the configuration: keep it for the admin. */
			free(q.env.error);
			q.env.error = err;
			q_update(&q);
			q_close(&q);
			kept++;
			continue;
		}
		k = conn_for(cs, a, cfg, o->verbose);
		c = cs->c[k];
		if (c == NULL) {
			q_close(&q);
			continue;
		}
		if (cs->down[k]) {
			/* The server already failed this run: do not knock again. */
			defer(&q, smtp_last_error(c));
			q_close(&q);
			kept++;
			continue;
		}
		msg = NULL;
		switch (deliver_entry(c, &q, 0, &msg)) {
		case PX_OK:
			sent++;
			log_info("%s: sent", q.id);
			break;
		case PX_TEMPFAIL:
			kept++;
			cs->down[k] = smtp_broken(c);
			log_info("%s: kept in the queue: %s", q.id, msg ? msg : "");
			break;
		default:
			failed++;
			cs->down[k] = smtp_broken(c);
			log_error("%s: refused, moved to failed/: %s", q.id, msg ? msg : "");
			break;
		}
		smtp_set_last_error(c, msg);
		free(msg);
		q_close(&q);
	}
	if (!keep)
		conns_close(&local);
	if (sent + kept + failed > 0)
		log_info("queue run: %d sent, %d kept, %d failed", sent, kept, failed);
	sl_free(&ids);
	return sent + kept + failed;
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
	struct smtp_conn *c;
	FILE *out = NULL;
	char *err = NULL, delivery;
	enum px_err e;

	memset(res, 0, sizeof *res);
	memset(&m, 0, sizeof m);
	if (q_init(cfg->queue_dir, &err) == -1 || q_create(cfg->queue_dir, &q, &out, &err) == -1) {
		res->err = PX_CANTCREAT;
		res->msg = err;
		return;
	}
	m.o = o;
	m.cfg = cfg;
	m.env = &q.env;
	m.qid = q.id;
	e = message_read(&m, r, out);
	res->dot_seen = m.dot_seen;
	res->too_big = m.too_big;
	if (e == PX_OK && o->need_dot && !m.dot_seen) {
		e = PX_DATA;
		m.errmsg = strdup("the input ended inside DATA");
	}
	if (e != PX_OK) {
		q_abort(&q, out);
		res->err = e;
		res->msg = m.errmsg ? m.errmsg : strdup("cannot read the message");
		return;
	}
	if (q_commit(&q, out, &err) == -1) {
		q_abort(&q, NULL);
		res->err = PX_IOERR;
		res->msg = err;
		return;
	}
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
		res->msg = strdup("out of memory");
		q_close(&q);
		return;
	}
	e = deliver_entry(c, &q, 1, &res->msg);
	submit_conclude(&q, c, m.acct, e, res);
	if (e == PX_OK) {
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
submit_conclude(struct qentry *q, struct smtp_conn *c, struct smtp_account *a, enum px_err e,
    struct submit_result *res)
{
	char *err;

	if (e == PX_OK) {
		/* sent */
	} else if (e == PX_TEMPFAIL && !a->queue) {
		q_remove(q);
		res->err = PX_TEMPFAIL;
		err = strfmt("%s (account \"%s\"); not queued (queue = \"never\")", res->msg,
		    a->name);
		free(res->msg);
		res->msg = err;
	} else if (e == PX_TEMPFAIL) {
		res->queued = 1;
		res->loud = smtp_attention(c);
		err = strfmt("%s (account \"%s\")", res->msg, a->name);
		free(res->msg);
		res->msg = err;
	} else {
		res->err = e;
		err = strfmt("%s (account \"%s\")", res->msg ? res->msg : "refused", a->name);
		free(res->msg);
		res->msg = err;
	}
	q_close(q);
}
