/*
 * net.h: libcurl easy-handle setup shared by SMTP and POP3: URL, TLS
 * (implicit, STARTTLS required, none), verification, pinning, client
 * certificates, timeouts, and a debug callback that shows the dialogue
 * with credentials redacted and remembers the server's last reply for
 * error messages.  libcurl gets no credentials: with CURLOPT_CONNECT_ONLY
 * it stops after the greeting, EHLO or CAPA, and STARTTLS, and each
 * program logs in itself (sasl.h) over that connection (netio.h).
 */
#ifndef POSTIE_NET_H
#define POSTIE_NET_H

#include <curl/curl.h>
#include "config.h"
#include "exitcodes.h"
#include "util.h"

enum net_proto { NET_SMTP, NET_POP3 };

/* Per-handle dialogue state; zero it with net_trace_init(). */
struct net_trace {
	int	 verbose;	/* 1: print the dialogue on stderr */
	int	 in_auth;	/* redacting client lines of an AUTH exchange */
	int	 quitting;	/* QUIT sent: its reply is not the one that matters */
	struct sbuf reply;	/* last complete server reply, lines joined by " / " */
	struct sbuf cur;	/* server reply being read */
	int	 reply_code;	/* code of the last complete reply (SMTP), 1/-1 for POP3 +OK/-ERR */
	/* Optional: called for each complete line, out = 1 for client lines. */
	void	(*hook)(void *arg, int out, const char *line, size_t len);
	void	*hook_arg;
	char	 errbuf[CURL_ERROR_SIZE];
};

void	 net_trace_init(struct net_trace *t, int verbose);
void	 net_trace_free(struct net_trace *t);

/*
 * Sets up c for the account: URL (with path appended, e.g. "" or "/1"),
 * TLS, timeouts and the trace; n's user and auth are not used (the
 * program logs in itself).  Returns 0, or -1 with *err (malloc'd) for a
 * configuration problem.
 */
int	 net_setup(CURL *c, enum net_proto proto, const struct net_cfg *n,
	    const char *path, struct net_trace *t, char **err);

/*
 * Classifies a failed transfer: temporary (connect, DNS, TLS handshake,
 * timeout, 4xx, dropped connection), authentication, certificate, or a
 * permanent refusal; *msg gets a one-line description naming the host and
 * the server's reply when there was one (malloc'd).
 */
enum px_err net_classify(CURL *c, CURLcode rc, const struct net_cfg *n,
	    struct net_trace *t, char **msg);

/*
 * 1 when the connection of c (after it is made) goes to a loopback address
 * (127.0.0.0/8, ::1): credentials may cross it without TLS.
 */
int	 net_loopback(CURL *c);

/*
 * Why libcurl could not be loaded or initialised (curlshim.c loads it on
 * first use, and tries again a few seconds after a failure): a static
 * one-line text for the caller's message.
 */
const char *net_curl_error(void);

/* Global libcurl init/cleanup; 0 or -1. */
int	 net_global_init(void);
void	 net_global_cleanup(void);

#endif
