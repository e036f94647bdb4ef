/*
 * serverinfo.c: sendmail --serverinfo [-a ACCOUNT] (as msmtp -S): connects
 * as a send would, shows the TLS version and cipher, the server
 * certificate (subject, issuer, validity, and the tls_fingerprint value
 * that pins it), the greeting, the EHLO name and the capabilities the last
 * EHLO reply offered, logs in, and quits without sending anything.  The
 * error class is the one a send would meet, so the exit status tells it
 * (0, 69, 75, 77, 78).  The layout is popfetch --serverinfo's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "smtpconn.h"
#include "srvinfo.h"
#include "tlsinfo.h"

static void
show_caps(const struct smtp_conn *s, const struct net_cfg *n)
{
	printf("Greeting:     %s\n", s->greeting);
	printf("EHLO name:    %s\n", s->ehlo);
	srvinfo_put(srvinfo_caps(s->ehlo_text.s, "none (the server answered HELO, not EHLO)"));
	if (n->tls == TLS_STARTTLS && s->starttls_offered)
		printf("              (STARTTLS before TLS)\n");
	if (s->caps.size && s->caps.size_max > 0)
		printf("Largest message: %lld bytes (SIZE)\n", s->caps.size_max);
	printf("Sending:      %s, %s\n", s->caps.pipelining ? "pipelined (PIPELINING)" :
	    "one command per round trip (no PIPELINING)", s->caps.chunking ?
	    "BDAT (CHUNKING)" : "DATA");
}

int
serverinfo_mode(struct postie_cfg *cfg, const struct opts *o)
{
	struct smtp_account *a;
	struct smtp_conn *s;
	struct net_cfg unverified;
	const struct net_cfg *n;
	char *msg = NULL, *qmsg = NULL;
	enum px_err e;

	if ((a = conf_smtp_select(cfg, o->account, NULL, &msg)) == NULL) {
		log_error("%s", msg ? msg : "no smtp account");
		free(msg);
		return px_exitcode(PX_CONFIG);
	}
	n = &a->net;
	srvinfo_put(srvinfo_account(a->name, n));
	fflush(stdout);
	if ((s = smtp_open(a, cfg, o->verbose)) == NULL) {
		log_error("out of memory");
		return px_exitcode(PX_SOFTWARE);
	}
	if (s->setup_err != PX_OK) {
		/* password_command or the OAuth 2.0 token: before any connection. */
		log_error("%s: %s", a->name, s->setup_msg);
		e = s->setup_err;
		smtp_close(s);
		return px_exitcode(e);
	}
	s->certinfo = 1;
	if ((e = smtp_dial(s, n, &msg)) != PX_OK) {
		if (tls_info_cert_failed(s->curl_rc)) {
			/* What the certificate is, so that it can be checked and pinned. */
			tls_info_unverified(&unverified, n);
			if (smtp_dial(s, &unverified, &qmsg) == PX_OK)
				srvinfo_put(tls_info_text(s->c, n->tls, 0));
			free(qmsg);
		}
		printf("Connection:   failed\n");
		fflush(stdout);
		log_error("%s: %s", a->name, msg ? msg : "cannot connect");
		free(msg);
		smtp_close(s);
		return px_exitcode(e);
	}
	srvinfo_put(tls_info_text(s->c, n->tls, 1));
	show_caps(s, n);
	fflush(stdout);
	e = srvinfo_wants_login(n) ? smtp_login(s, &msg) : PX_OK;
	srvinfo_put(srvinfo_login(n, e, s->mech));
	if (e != PX_OK) {
		fflush(stdout);
		log_error("%s: %s", a->name, msg ? msg : "login failed");
	}
	free(msg);
	fflush(stdout);
	smtp_close(s);
	return px_exitcode(e);
}
