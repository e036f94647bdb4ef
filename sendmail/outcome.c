/*
 * outcome.c: what becomes of a message after an attempt at it.  This is
 * the one place that reads an error class and decides (DESIGN.md, "What
 * becomes of a message"): the server took it (never sent again), kept
 * queued with backoff, kept in failed/ (with a bounce when nobody waits for
 * the answer), and what the caller is told.
 *
 * The split that matters: only a refusal inside the mail transaction (MAIL,
 * RCPT, DATA answered 5xx) is the message's fault.  Everything before it
 * (connect, TLS, certificate, EHLO, AUTH, the login refused) and everything
 * on this host (memory, libcurl, the queue file) is about the server, the
 * account or the machine: the message waits for it to be mended.
 */
#include <stdlib.h>
#include <string.h>

#include "sendmail.h"

void
outcome_decide(const struct attempt *a, int attended, int may_queue, struct verdict *v)
{
	int permanent = a->in_txn && (a->err == PX_NOUSER || a->err == PX_UNAVAILABLE ||
	    a->err == PX_DATA);
	/* queue = "never": the caller keeps the message and is told so (75). */
	int no_queue = attended && !may_queue;

	memset(v, 0, sizeof *v);
	v->status = PX_OK;
	if (a->err == PX_OK) {
		v->done = 1;
		if (a->nleft > 0 && no_queue) {
			v->fail_left = 1;
			v->status = PX_TEMPFAIL;
		} else if (a->nleft > 0)
			v->keep = 1;
	} else if (permanent) {
		v->fail_left = 1;
		v->status = a->err;
	} else {
		/* Temporary, or not the message's fault: it waits. */
		v->loud = a->err != PX_TEMPFAIL || a->attention;
		if (no_queue) {
			v->fail_left = 1;
			v->status = PX_TEMPFAIL;
		} else
			v->keep = 1;
	}
	v->fail = a->nrefused > 0 || (v->fail_left && a->nleft > 0);
	v->report = outcome_report(attended, a->null_sender, a->bounces);
	v->report_gone = outcome_report(0, a->null_sender, a->bounces);
	/* Nobody waits for the answer: the sender learns it from a bounce. */
	v->bounce = v->fail && strcmp(v->report, "bounce") == 0;
}

const char *
outcome_report(int attended, int null_sender, int bounces)
{
	if (attended)
		return "caller";	/* told by the exit status or the SMTP reply */
	if (null_sender)
		return "none (a null sender gets no bounce)";
	if (!bounces)
		return "none (bounce = \"none\")";
	return "bounce";
}

char *
outcome_fix(const struct attempt *at, const struct smtp_account *a)
{
	const char *file = a->conf ? a->conf : "the configuration";

	/*
	 * The EHLO name refused: at EHLO, or at RCPT when the server checks
	 * it there (Postfix's smtpd_delay_reject; reject_non_fqdn_helo_hostname,
	 * reject_invalid_helo_hostname).
	 */
	if (at->failed_at == 'e' && at->err != PX_OK)
		return strfmt("the server refuses the EHLO name: set helo = \"a fully "
		    "qualified name\" in smtp \"%s\" of %s, then run sendmail -q", a->name, file);
	switch (at->err) {
	case PX_NOPERM:
		/* OAuth 2.0: the line says to authorize again (oauth2.h). */
		if (a->net.oauth2)
			return strdup("then run sendmail -q");
		if (at->failed_at == 'p')
			/* Nothing to log in with: the line says what is offered. */
			return strfmt("check auth and tls of smtp \"%s\" in %s, then run "
			    "sendmail -q", a->name, file);
		if (a->net.user == NULL)
			return strfmt("the server wants a login: set user and password of "
			    "smtp \"%s\" in %s, then run sendmail -q", a->name, file);
		return strfmt("check user and %s of smtp \"%s\" in %s, then run sendmail -q",
		    a->net.password_command ? "password_command" : "password", a->name, file);
	case PX_CONFIG:
		return strfmt("mend smtp \"%s\" in %s, then run sendmail -q", a->name, file);
	case PX_NOUSER:
	case PX_UNAVAILABLE:
	case PX_DATA:
	case PX_USAGE:
		/* Refused before the mail transaction: the step says what mends it. */
		if (at->failed_at == 't')
			return strfmt("the server refuses STARTTLS: check tls and port of smtp "
			    "\"%s\" in %s, then run sendmail -q", a->name, file);
		if (at->failed_at == 'g')
			return strfmt("the server refuses connections from this host: check host "
			    "and port of smtp \"%s\" in %s (or ask the server's administrator), "
			    "then run sendmail -q", a->name, file);
		return strfmt("the server refuses this client: check host, port and tls of "
		    "smtp \"%s\" in %s, then run sendmail -q", a->name, file);
	case PX_TEMPFAIL:
		if (at->failed_at == 'k')
			return strfmt("check password_command of smtp \"%s\" in %s (a keyring "
			    "must be unlocked), then run sendmail -q", a->name, file);
		/* A certificate, STARTTLS not offered: the line names the keys. */
		return strfmt("mend smtp \"%s\" in %s, then run sendmail -q", a->name, file);
	case PX_OK:
		return NULL;
	default:
		/* Memory, libcurl, the queue file: this host, not the message. */
		return strdup("a failure on this host, not the message's: sendmail -q tries again");
	}
}

int
outcome_saved_final(enum px_err e)
{
	switch (e) {
	case PX_USAGE:		/* -f no address, no recipients */
	case PX_DATA:		/* a recipient that is no address, the message itself */
	case PX_NOINPUT:
	case PX_NOUSER:
	case PX_UNAVAILABLE:
		return 1;
	default:
		/*
		 * PX_CONFIG (the account asked for, the aliases), a full queue,
		 * memory, the disk: mended without touching the message.
		 */
		return 0;
	}
}
