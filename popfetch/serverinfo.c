/*
 * serverinfo.c: popfetch --serverinfo ACCOUNT (as mpop -S): connects as a
 * poll would, shows the TLS version and cipher, the server certificate
 * (subject, issuer, validity, and the tls_fingerprint value that pins it),
 * the greeting and the CAPA capabilities, logs in, and quits without
 * touching a message.  The error class is the one a poll would have, so
 * the exit status is too.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "popfetch.h"
#include "srvinfo.h"
#include "tlsinfo.h"

enum px_err
serverinfo_account(const struct pop3_account *a, const struct popts *o)
{
	const struct net_cfg *n = &a->net;
	struct net_cfg unverified;
	struct pop3 pop;
	enum px_err e, q;
	char *msg = NULL, *qmsg = NULL;
	int flags = POP3_CERTINFO | (o->verbose ? POP3_VERBOSE : 0);

	srvinfo_put(srvinfo_account(a->name, n));
	fflush(stdout);
	if ((e = pop3_connect(&pop, n, flags, &msg)) != PX_OK) {
		if (tls_info_cert_failed(pop.curl_rc)) {
			/* What the certificate is, so that it can be checked and pinned. */
			pop3_close(&pop, &qmsg);
			free(qmsg);
			qmsg = NULL;
			tls_info_unverified(&unverified, n);
			if (pop3_connect(&pop, &unverified, POP3_CERTINFO, &qmsg) == PX_OK)
				srvinfo_put(tls_info_text(pop.c, n->tls, 0));
			free(qmsg);
			qmsg = NULL;
		}
		printf("Connection:   failed\n");
		fflush(stdout);
		log_error("%s: %s", a->name, msg ? msg : "cannot connect");
		free(msg);
		pop3_close(&pop, &qmsg);
		free(qmsg);
		return e;
	}
	srvinfo_put(tls_info_text(pop.c, n->tls, 1));
	printf("Greeting:     %s\n", pop.greeting.s ? pop.greeting.s : "");
	srvinfo_put(srvinfo_caps(pop.capa_ok ? pop.capa.s : NULL, pop.capa_ok ? "(an empty list)" :
	    "none (the server does not answer CAPA)"));
	fflush(stdout);
	e = srvinfo_wants_login(n) ? pop3_login(&pop, &msg) : PX_OK;
	srvinfo_put(srvinfo_login(n, e, pop.mech));
	if (e != PX_OK) {
		fflush(stdout);
		log_error("%s: %s", a->name, msg ? msg : "login failed");
	}
	free(msg);
	msg = NULL;
	q = pop3_close(&pop, &msg);
	if (pop.utf8)
		printf("UTF8:         offered%s\n", e != PX_OK ? "" : pop.utf8_on ?
		    ", enabled after the login" : ", refused after the login");
	fflush(stdout);
	if (e == PX_OK && q != PX_OK) {
		log_error("%s: %s", a->name, msg ? msg : "QUIT failed");
		e = q;
	}
	free(msg);
	return e;
}
