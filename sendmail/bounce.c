/*
 * bounce.c: the delivery status notification (RFC 3464) that tells the
 * sender of a message refused while nobody waited for the answer (a queue
 * run, background delivery, a hand-over whose caller is gone, the queue
 * lifetime reached).
 *
 * The bounce is an ordinary queue entry: the same account, the null sender
 * (RFC 5321 4.5.5: so that it never bounces itself), the original sender
 * as its one recipient.  So it is as durable as any message, retried like
 * one, and a bounce that cannot be delivered ends in failed/ without
 * another bounce.  Its body is multipart/report (RFC 6522): a part for
 * people, message/delivery-status with one block per refused recipient,
 * and the original header as text/rfc822-headers.
 */
#include <errno.h>
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

char *
bounce_queue(struct qentry *q, const struct smtp_account *a, const char *domain,
    const struct strlist *rcpts, const struct strlist *replies, const char *why)
{
	struct qentry b;
	FILE *out = NULL;
	char *err = NULL, *boundary, *id = NULL;
	off_t size;

	if (*q->env.sender == '\0')
		return NULL;	/* never for a null sender */
	if (q_create(q->dir, &b, &out, &err) == -1) {
		log_error("%s: cannot queue a bounce: %s", q->id, err);
		free(err);
		q_abort(&b, out);
		return NULL;
	}
	boundary = strfmt("=_postie.%s", b.id);
	b.env.account = xstrdup(q->env.account);
	b.env.sender = strdup("");
	b.env.uid = q->env.uid;	/* the bounce is the submitter's to see, as the message was */
	sl_add(&b.env.rcpts, q->env.sender);
	if (boundary == NULL || b.env.account == NULL || b.env.sender == NULL ||
	    b.env.rcpts.n != 1 || write_dsn(out, q, a, domain, boundary, rcpts, replies, why,
	    a ? a->net.host : NULL) == -1 || fflush(out) == EOF ||
	    (size = ftello(out)) < 0) {
		log_error("%s: cannot write a bounce: %s", q->id, strerror(errno));
		free(boundary);
		q_abort(&b, out);
		return NULL;
	}
	free(boundary);
	b.env.size = size;
	if (q_commit(&b, out, &err) == -1) {
		log_error("%s: cannot queue a bounce: %s", q->id, err);
		free(err);
		q_abort(&b, NULL);
		return NULL;
	}
	log_event(LOG_NOTICE, "%s: bounce to <%s> queued as %s", q->id, q->env.sender, b.id);
	id = strdup(b.id);
	q_close(&b);
	return id;
}

/* Queues the bounce and notes it in failed/FID.env. */
char *
bounce_note(struct qentry *q, const char *fid, const struct smtp_account *a,
    const char *domain, const struct strlist *rcpts, const struct strlist *replies,
    const char *why)
{
	char *bid, *report;

	if ((bid = bounce_queue(q, a, domain, rcpts, replies, why)) == NULL)
		return NULL;
	report = strfmt("bounced %s", bid);
	if (report == NULL || q_failed_report(q->dir, fid, report) == -1)
		log_error("%s: cannot note the bounce in failed/%s.env: %s", q->id, fid,
		    strerror(errno));
	free(report);
	return bid;
}

char *
bounce_failed(const char *dir, const char *fid, const struct smtp_account *a,
    const char *domain)
{
	struct qentry q;
	char *bid = NULL;

	if (fid == NULL || *fid == '\0' || q_failed_lock(dir, fid, &q) != 0)
		return NULL;
	if (*q.env.sender)
		bid = bounce_note(&q, fid, a, domain, &q.env.rcpts, &q.env.replies, q.env.error);
	q_close(&q);
	return bid;
}
