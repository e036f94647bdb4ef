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
#include <string.h>

#include "log.h"
#include "popfetch.h"
#include "tlsinfo.h"

/* Prints the TLS facts of the connection made by p. */
static void
show_tls(struct pop3 *p, const struct net_cfg *n, int verified)
{
	struct tls_info ti;
	char *err = NULL;

	if (n->tls == TLS_NONE) {
		printf("TLS:          none (tls = \"none\")\n");
		return;
	}
	memset(&ti, 0, sizeof ti);
	if (tls_info_get(p->c, &ti, &err) == -1) {
		printf("TLS:          %s\n", err ? err : "unknown");
		free(err);
		return;
	}
	printf("TLS:          %s%s%s (%s)\n", ti.version ? ti.version : "?",
	    ti.cipher ? ", " : "", ti.cipher ? ti.cipher : "",
	    n->tls == TLS_TLS ? "implicit, tls = \"tls\"" : "STARTTLS");
	printf("Certificate:  %s%s\n", ti.subject ? ti.subject : "?",
	    verified ? "" : "  (does NOT verify)");
	printf("  issuer:     %s\n", ti.issuer ? ti.issuer : "?");
	printf("  valid:      %s to %s\n", ti.not_before ? ti.not_before : "?",
	    ti.not_after ? ti.not_after : "?");
	if (ti.pin)
		printf("  pin:        tls_fingerprint = \"%s\"\n", ti.pin);
	tls_info_free(&ti);
}

static void
show_capa(const struct pop3 *p)
{
	const char *s, *nl;
	int first = 1;

	printf("Greeting:     %s\n", p->greeting.s ? p->greeting.s : "");
	if (!p->capa_ok) {
		printf("Capabilities: none (the server does not answer CAPA)\n");
		return;
	}
	for (s = p->capa.s; s && *s; s = nl + 1) {
		if ((nl = strchr(s, '\n')) == NULL)
			break;
		printf("%s%.*s\n", first ? "Capabilities: " : "              ", (int)(nl - s), s);
		first = 0;
	}
	if (first)
		printf("Capabilities: (an empty list)\n");
}

/* A failure that is about the certificate: show it anyway, unverified. */
static int
cert_problem(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	    rc == CURLE_SSL_ISSUER_ERROR;
}

enum px_err
serverinfo_account(const struct pop3_account *a, const struct popts *o)
{
	const struct net_cfg *n = &a->net;
	struct net_cfg unverified;
	struct pop3 pop;
	enum px_err e, q;
	char *msg = NULL, *qmsg = NULL;
	int flags = POP3_CERTINFO | (o->verbose ? POP3_VERBOSE : 0);

	printf("%s: %s port %d, user %s\n", a->name, n->host, n->port,
	    n->user ? n->user : "(none)");
	fflush(stdout);
	if ((e = pop3_connect(&pop, n, flags, &msg)) != PX_OK) {
		if (cert_problem(pop.curl_rc)) {
			/* What the certificate is, so that it can be checked and pinned. */
			pop3_close(&pop, &qmsg);
			free(qmsg);
			qmsg = NULL;
			unverified = *n;
			unverified.tls_verify = 0;
			unverified.tls_fingerprint = NULL;
			if (pop3_connect(&pop, &unverified, POP3_CERTINFO, &qmsg) == PX_OK)
				show_tls(&pop, n, 0);
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
	show_tls(&pop, n, 1);
	show_capa(&pop);
	fflush(stdout);
	if (n->user == NULL || strcmp(n->auth, "none") == 0) {
		printf("Login:        none configured (%s)\n", n->user ? "auth = \"none\"" :
		    "no user");
		e = PX_OK;
	} else if ((e = pop3_login(&pop, &msg)) == PX_OK)
		printf("Login:        ok, as %s (%s)\n", n->user, sasl_name(pop.mech));
	else {
		printf("Login:        failed\n");
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
