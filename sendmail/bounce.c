/*
 * bounce.c: the delivery status notification (RFC 3464) that tells the
 * sender of a message refused while nobody waited for the answer (a queue
 * run, background delivery, a hand-over whose caller is gone, the queue
 * lifetime reached).
 *
 * Such a message is kept in failed/ with its report "bounce": the bounce is
 * due.  The queue run that made it, or the next, composes the report from
 * the entry and sends it through the same account with the null sender
 * (RFC 5321 4.5.5: so that it never bounces itself), to the original
 * sender, and notes in the entry that it was sent.  The failed/ entry is
 * the bounce's only durable state: a bounce is retried like a message,
 * sent once (a crash after the server's 250 and before the note can at
 * worst send it twice, as for any message), and one that cannot be
 * delivered ends noted, without another bounce.  Its body is
 * multipart/report (RFC 6522): a part for people, message/delivery-status
 * with one block per refused recipient, and the original header as
 * text/rfc822-headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sendmail.h"

/* 1 if p starts with an SMTP reply code. */
static int
is_reply(const char *p)
{
	return p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
	    p[2] <= '9' && (p[3] == ' ' || p[3] == '-' || p[3] == '\0');
}

/* The SMTP reply in why, also past a "host: " prefix; NULL if none. */
static const char *
smtp_reply(const char *why)
{
	const char *p;

	if (why == NULL)
		return NULL;
	if (is_reply(why))
		return why;
	if ((p = strstr(why, ": ")) != NULL && is_reply(p + 2))
		return p + 2;
	return NULL;
}

/* The RFC 3463 status of a reply: its enhanced code, else class.0.0. */
static void
status_of(const char *reply, int expired, char *buf, size_t n)
{
	const char *p;
	size_t k;

	if (reply == NULL) {
		snprintf(buf, n, "%s", expired ? "4.4.7" : "5.0.0");
		return;
	}
	p = reply + 4;
	k = strspn(p, "0123456789.");
	if (k >= 5 && k < 12 && p[0] == reply[0] && p[1] == '.' &&
	    (p[k] == ' ' || p[k] == '\0')) {
		snprintf(buf, n, "%.*s", (int)k, p);
		return;
	}
	snprintf(buf, n, "%c.0.0", reply[0] == '2' ? '5' : reply[0]);
}

/* s as printable ASCII on one line (a reply may hold anything). */
static void
put_clean(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?', out);
}

/* 1 if s has a byte over 127. */
static int
eightbit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s & 0x80)
			return 1;
	return 0;
}

/* Copies the header of q's message (up to its empty line) to out, streamed. */
static int
copy_header(const struct qentry *q, FILE *out)
{
	char buf[8192];
	off_t off = 0;
	ssize_t k, i;
	unsigned int last = 0;	/* the last four bytes seen */

	for (;;) {
		k = pread(q->fd, buf, sizeof buf, off);
		if (k == -1 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			return 0;	/* no body: the whole file is header */
		for (i = 0; i < k; i++) {
			last = (last << 8) | (unsigned char)buf[i];
			if (last == 0x0d0a0d0a) {
				/* Up to and with the last field's CRLF. */
				if (fwrite(buf, 1, (size_t)(i - 1), out) != (size_t)(i - 1))
					return -1;
				return 0;
			}
		}
		/* Keep the last bytes unwritten in case the empty line straddles reads. */
		if (k > 3) {
			if (fwrite(buf, 1, (size_t)(k - 3), out) != (size_t)(k - 3))
				return -1;
			off += k - 3;
			last = 0;
			/* Those 3 bytes are read again. */
		} else {
			if (fwrite(buf, 1, (size_t)k, out) != (size_t)k)
				return -1;
			off += k;
		}
	}
}

static int
write_dsn(FILE *out, const struct qentry *q, const struct smtp_account *a, const char *domain,
    const char *bid, const struct strlist *rcpts, const struct strlist *replies, const char *why,
    const char *host)
{
	char *from, *to, *date, *arrival, *msgid, *fqdn, status[32];
	const char *r, *reply;
	int expired = why && strncmp(why, "given up after", 14) == 0, utf8 = 0, rv = -1;
	size_t i;

	from = addr_format("Mail Delivery System", a && a->from ? a->from : NULL);
	if (a == NULL || a->from == NULL) {
		free(from);
		to = strfmt("MAILER-DAEMON@%s", domain);
		from = to ? addr_format("Mail Delivery System", to) : NULL;
		free(to);
	}
	to = addr_format(NULL, q->env.sender);
	date = util_rfc5322_date(time(NULL));
	arrival = util_rfc5322_date(q->env.created);
	msgid = message_id(domain);
	fqdn = util_fqdn();
	if (!from || !to || !date || !arrival || !msgid || !fqdn)
		goto out;
	for (i = 0; i < rcpts->n; i++)
		utf8 |= eightbit(rcpts->v[i]);
	utf8 |= eightbit(q->env.sender);

	fprintf(out, "From: %s\r\nTo: %s\r\nSubject: Undelivered Mail Returned to Sender\r\n"
	    "Date: %s\r\nMessage-ID: %s\r\nAuto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n", from, to, date, msgid, bid);

	/* For people. */
	fprintf(out, "--%s\r\nContent-Description: Notification\r\n"
	    "Content-Type: text/plain; charset=%s\r\n%s\r\n", bid,
	    utf8 ? "utf-8" : "us-ascii", utf8 ? "Content-Transfer-Encoding: 8bit\r\n" : "");
	fprintf(out, "This is the mail system at host %s.\r\n\r\n", fqdn);
	fprintf(out, "Your message could not be delivered to %s below.\r\n",
	    rcpts->n == 1 ? "the recipient" : "the recipients");
	fprintf(out, "A copy is kept on %s as %s (see mailq).\r\n\r\n", fqdn, q->id);
	for (i = 0; i < rcpts->n; i++) {
		r = replies && i < replies->n && *replies->v[i] ? replies->v[i] : why;
		fprintf(out, "<%s>: ", rcpts->v[i]);
		put_clean(out, r ? r : "refused");
		fputs("\r\n", out);
	}
	fputs("\r\n", out);

	/* For programs: RFC 3464. */
	fprintf(out, "--%s\r\nContent-Description: Delivery report\r\n"
	    "Content-Type: message/delivery-status\r\n\r\n", bid);
	fprintf(out, "Reporting-MTA: dns; %s\r\nX-Postie-Queue-ID: %s\r\nArrival-Date: %s\r\n",
	    fqdn, q->id, arrival);
	for (i = 0; i < rcpts->n; i++) {
		r = replies && i < replies->n && *replies->v[i] ? replies->v[i] : why;
		reply = smtp_reply(r);
		status_of(reply, expired, status, sizeof status);
		fprintf(out, "\r\nFinal-Recipient: rfc822; %s\r\nAction: failed\r\nStatus: %s\r\n",
		    rcpts->v[i], status);
		if (reply && host)
			fprintf(out, "Remote-MTA: dns; %s\r\n", host);
		fputs(reply ? "Diagnostic-Code: smtp; " : "Diagnostic-Code: X-Postie; ", out);
		put_clean(out, reply ? reply : r ? r : "refused");
		fprintf(out, "\r\nLast-Attempt-Date: %s\r\n", date);
	}
	fputs("\r\n", out);

	/* What was sent: the header. */
	fprintf(out, "--%s\r\nContent-Description: Undelivered Message Headers\r\n"
	    "Content-Type: text/rfc822-headers\r\n\r\n", bid);
	if (copy_header(q, out) == -1)
		goto out;
	fprintf(out, "\r\n--%s--\r\n", bid);
	rv = ferror(out) ? -1 : 0;
out:
	free(from);
	free(to);
	free(date);
	free(arrival);
	free(msgid);
	free(fqdn);
	return rv;
}

int
bounce_pending(const char *report)
{
	return report && strncmp(report, "bounce", 6) == 0 && (report[6] == '\0' ||
	    report[6] == ' ');
}

int
bounce_send(struct smtp_conn *c, const struct smtp_account *a, const char *domain,
    const char *dir, const char *fid, long lifetime)
{
	struct qentry f, b;
	struct attempt at;
	struct verdict v;
	FILE *out = NULL;
	char *tmp = NULL, *boundary = NULL, *msg = NULL, *report = NULL, *date;
	off_t size;
	time_t now = time(NULL);
	int fd = -1, r = 0;

	if (q_failed_lock(dir, fid, &f) != 0)
		return 0;	/* busy, or gone */
	if (!bounce_pending(f.env.report) || *f.env.sender == '\0') {
		q_close(&f);
		return 0;
	}
	/*
	 * The report is composed afresh for each try and sent from a file
	 * no name points to: the failed/ entry is its only durable state,
	 * so a crash can at worst send it twice, as any message.
	 */
	memset(&b, 0, sizeof b);
	env_init(&b.env);
	b.fd = -1;
	if ((tmp = strfmt("%s/tmp/%s.bounce.tmp%ld", dir, fid, (long)getpid())) == NULL ||
	    (fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1 ||
	    unlink(tmp) == -1 || (out = fdopen(dup(fd), "w")) == NULL ||
	    (boundary = strfmt("=_postie.%s.%lld", fid, (long long)now)) == NULL ||
	    write_dsn(out, &f, a, domain, boundary, &f.env.rcpts, &f.env.replies, f.env.error,
	    a ? a->net.host : NULL) == -1 || fflush(out) == EOF || (size = ftello(out)) < 0) {
		log_error("%s: cannot write its bounce: %s", fid, strerror(errno));
		if (tmp && fd != -1)
			unlink(tmp);
		goto out;
	}
	b.dir = strdup(dir);
	b.id = strdup(fid);
	b.fd = fd;
	fd = -1;
	b.env.account = xstrdup(f.env.account);
	b.env.sender = strdup("");
	b.env.uid = f.env.uid;
	b.env.created = now;
	b.env.size = size;
	sl_add(&b.env.rcpts, f.env.sender);
	if (b.dir == NULL || b.id == NULL || b.env.sender == NULL || b.env.rcpts.n != 1)
		goto out;
	memset(&at, 0, sizeof at);
	at.err = smtp_send(c, &b, &msg);
	at.in_txn = smtp_in_transaction(c);
	at.attention = smtp_attention(c);
	at.nrefused = b.refused.n;
	at.nleft = b.env.rcpts.n;
	at.null_sender = 1;	/* a bounce is never bounced */
	outcome_decide(&at, 0, 1, &v);
	if (v.done) {
		date = util_rfc5322_date(now);
		report = strfmt("bounced %s", date ? date : "");
		free(date);
		log_event(LOG_NOTICE, "%s: bounce sent to <%s> through account %s", fid,
		    f.env.sender, f.env.account);
		r = 1;
	} else if (v.fail) {
		report = strfmt("none (the bounce was refused: %s)", msg ? msg : "?");
		log_event(LOG_ERR, "%s: the bounce to <%s> was refused: %s", fid, f.env.sender,
		    msg ? msg : "?");
		r = -1;
	} else if (now - (f.env.failed ? f.env.failed : f.env.created) > lifetime) {
		report = strfmt("none (no bounce could be sent in %ld days: %s)",
		    lifetime / 86400, msg ? msg : "?");
		r = -1;
	} else {
		report = strfmt("bounce (last try: %s)", msg ? msg : "?");
		log_info("%s: the bounce waits: %s", fid, msg ? msg : "?");
	}
	free(f.env.report);
	f.env.report = report;
	report = NULL;
	if (q_failed_update(&f) == -1)
		log_error("%s: cannot note the bounce in failed/%s.env: %s", fid, fid,
		    strerror(errno));
	smtp_set_last_error(c, msg);
out:
	if (out)
		fclose(out);
	if (fd != -1)
		close(fd);
	free(tmp);
	free(boundary);
	free(msg);
	free(report);
	q_close(&b);
	q_close(&f);
	return r;
}
