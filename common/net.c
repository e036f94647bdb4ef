/* net.c: libcurl setup shared by SMTP and POP3, the redacting trace, error classes. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "net.h"

void
net_trace_init(struct net_trace *t, int verbose)
{
	memset(t, 0, sizeof *t);
	t->verbose = verbose;
	sb_init(&t->reply);
	sb_init(&t->cur);
}

void
net_trace_free(struct net_trace *t)
{
	sb_free(&t->reply);
	sb_free(&t->cur);
}

int
net_global_init(void)
{
	/* libcurl is loaded, and initialised, when it is first used (curlshim.c). */
	return 0;
}

void
net_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Prints one dialogue line on stderr with the direction marker. */
static void
show(const char *dir, const char *line, size_t n)
{
	log_error("%s %.*s", dir, (int)(n > 2000 ? 2000 : n), line);
}

/* A client line, with credentials replaced. */
static void
client_line(struct net_trace *t, const char *line, size_t n)
{
	const char *sp;

	if (t->hook)
		t->hook(t->hook_arg, 1, line, n);
	t->quitting = n >= 4 && strncasecmp(line, "QUIT", 4) == 0;
	if (n >= 5 && strncasecmp(line, "AUTH ", 5) == 0) {
		t->in_auth = 1;
		/* Keep "AUTH MECH", hide an initial response. */
		sp = memchr(line + 5, ' ', n - 5);
		if (t->verbose) {
			if (sp)
				log_error("> %.*s <redacted>", (int)(sp - line), line);
			else
				show(">", line, n);
		}
		return;
	}
	if (!t->verbose)
		return;
	if (t->in_auth) {
		log_error("> <redacted>");
		return;
	}
	if (n >= 5 && strncasecmp(line, "PASS ", 5) == 0) {
		log_error("> PASS <redacted>");
		return;
	}
	if (n >= 5 && strncasecmp(line, "APOP ", 5) == 0) {
		sp = memchr(line + 5, ' ', n - 5);
		log_error("> %.*s <redacted>", (int)(sp ? sp - line : (long)n), line);
		return;
	}
	show(">", line, n);
}

/* A server line: track the last complete reply. */
static void
server_line(struct net_trace *t, const char *line, size_t n)
{
	int final = 1, code = 0;

	if (t->hook)
		t->hook(t->hook_arg, 0, line, n);
	if (t->verbose)
		show("<", line, n);
	if (n >= 3 && isdigit((unsigned char)line[0]) && isdigit((unsigned char)line[1]) &&
	    isdigit((unsigned char)line[2])) {
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		final = !(n > 3 && line[3] == '-');
		if (t->cur.len == 0)
			sb_addn(&t->cur, line, 3);
		if (n > 4) {
			sb_addc(&t->cur, ' ');
			sb_addn(&t->cur, line + 4, n > 4 + 500 ? 500 : n - 4);
		}
	} else if (n >= 3 && strncmp(line, "+OK", 3) == 0) {
		code = 1;
		sb_addn(&t->cur, line, n > 500 ? 500 : n);
	} else if (n >= 4 && strncmp(line, "-ERR", 4) == 0) {
		code = -1;
		sb_addn(&t->cur, line, n > 500 ? 500 : n);
	} else if (n >= 1 && line[0] == '+') {
		code = 2;	/* SASL continuation in POP3 */
		sb_addn(&t->cur, line, n > 500 ? 500 : n);
	} else
		return;		/* multi-line POP3 data (CAPA lines) */
	if (!final || t->quitting) {
		if (final)
			sb_reset(&t->cur);
		return;
	}
	/* An AUTH exchange ends with anything but a 334 / "+" challenge. */
	if (code != 334 && code != 2)
		t->in_auth = 0;
	sb_reset(&t->reply);
	sb_addn(&t->reply, t->cur.s, t->cur.len);
	sb_reset(&t->cur);
	t->reply_code = code;
}

static int
debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
	struct net_trace *t = arg;
	size_t i, start = 0, end;

	(void)c;
	switch (type) {
	case CURLINFO_HEADER_OUT:
	case CURLINFO_HEADER_IN:
		for (i = 0; i <= size; i++) {
			if (i < size && data[i] != '\n')
				continue;
			end = i;
			if (end > start && data[end - 1] == '\r')
				end--;
			if (end > start || i < size) {
				if (type == CURLINFO_HEADER_OUT)
					client_line(t, data + start, end - start);
				else
					server_line(t, data + start, end - start);
			}
			start = i + 1;
		}
		break;
	case CURLINFO_TEXT:
		if (t->verbose) {
			end = size;
			while (end > 0 && (data[end - 1] == '\n' || data[end - 1] == '\r'))
				end--;
			show("*", data, end);
		}
		break;
	default:
		break;
	}
	return 0;
}

static char *
make_url(enum net_proto proto, const struct net_cfg *n, const char *path)
{
	const char *scheme;
	int v6 = strchr(n->host, ':') != NULL && n->host[0] != '[';

	if (proto == NET_SMTP)
		scheme = n->tls == TLS_TLS ? "smtps" : "smtp";
	else
		scheme = n->tls == TLS_TLS ? "pop3s" : "pop3";
	return strfmt("%s://%s%s%s:%d%s", scheme, v6 ? "[" : "", n->host, v6 ? "]" : "",
	    n->port, path ? path : "");
}

#define SET(opt, val) do { \
	if (curl_easy_setopt(c, opt, val) != CURLE_OK) { \
		*err = strfmt("libcurl does not support %s", #opt); \
		goto fail; \
	} \
} while (0)

int
net_setup(CURL *c, enum net_proto proto, const struct net_cfg *n, const char *path,
    struct net_trace *t, char **err)
{
	char *url = NULL;

	*err = NULL;
	url = make_url(proto, n, path);
	if (url == NULL) {
		*err = strdup("out of memory");
		return -1;
	}
	t->errbuf[0] = '\0';
	SET(CURLOPT_URL, url);
	SET(CURLOPT_ERRORBUFFER, t->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_DEBUGFUNCTION, debug_cb);
	SET(CURLOPT_DEBUGDATA, t);
	SET(CURLOPT_VERBOSE, 1L);	/* the debug callback decides what to show */
	SET(CURLOPT_CONNECTTIMEOUT, (long)n->timeout);
	SET(CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)n->timeout);
	SET(CURLOPT_LOW_SPEED_LIMIT, 1L);
	SET(CURLOPT_LOW_SPEED_TIME, (long)n->timeout);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_PROTOCOLS_STR, proto == NET_SMTP ? "smtp,smtps" : "pop3,pop3s");
	if (n->tls == TLS_STARTTLS)
		SET(CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	else if (n->tls == TLS_NONE)
		SET(CURLOPT_USE_SSL, (long)CURLUSESSL_NONE);
	SET(CURLOPT_SSL_VERIFYPEER, n->tls_verify ? 1L : 0L);
	SET(CURLOPT_SSL_VERIFYHOST, n->tls_verify ? 2L : 0L);
	if (n->tls_ca_file)
		SET(CURLOPT_CAINFO, n->tls_ca_file);
	if (n->tls_fingerprint)
		SET(CURLOPT_PINNEDPUBLICKEY, n->tls_fingerprint);
	if (n->tls_cert_file)
		SET(CURLOPT_SSLCERT, n->tls_cert_file);
	if (n->tls_key_file)
		SET(CURLOPT_SSLKEY, n->tls_key_file);

	free(url);	/* libcurl copies string options */
	return 0;
fail:
	free(url);
	return -1;
}

/*
 * The likely fix when the TLS mode does not fit the port: a server that
 * says nothing to a plain connection waits for TLS at once (465, 995); a
 * TLS handshake answered with plain text ("wrong version number") is a
 * plain port (587, 25, 110).  "" when neither applies.
 */
static const char *
tls_hint(CURL *c, CURLcode rc, const struct net_cfg *n, struct net_trace *t, const char *why)
{
	char *scheme = NULL;
	int pop3;

	curl_easy_getinfo(c, CURLINFO_SCHEME, &scheme);
	pop3 = scheme && strncasecmp(scheme, "pop3", 4) == 0;
	if (n->tls != TLS_TLS && t->reply.len == 0 && t->cur.len == 0 &&
	    rc != CURLE_COULDNT_CONNECT && rc != CURLE_COULDNT_RESOLVE_HOST &&
	    rc != CURLE_COULDNT_RESOLVE_PROXY)
		return pop3 ? " (no greeting: the server may expect TLS at once; for port 995 "
		    "set tls = \"tls\")" : " (no greeting: the server may expect TLS at once; "
		    "for port 465 set tls = \"tls\")";
	if (n->tls == TLS_TLS && (strstr(why, "wrong version number") ||
	    strstr(why, "packet length too long")))
		return pop3 ? " (the server does not start with TLS: for port 110 set "
		    "tls = \"starttls\", or use port 995)" : " (the server does not start with "
		    "TLS: for port 587 or 25 set tls = \"starttls\", or use port 465)";
	return "";
}

enum px_err
net_classify(CURL *c, CURLcode rc, const struct net_cfg *n, struct net_trace *t, char **msg)
{
	const char *why = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
	const char *reply = t->reply.len ? t->reply.s : NULL;
	int code = t->reply_code;
	long rcode = 0;

	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rcode);
	if (code < 100 && rcode >= 100)
		code = (int)rcode;
	*msg = NULL;
	switch (rc) {
	case CURLE_OK:
		return PX_OK;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_ISSUER_ERROR:
		*msg = strfmt("%s: the server's certificate does not verify: %s "
		    "(see tls_ca_file, tls_fingerprint)", n->host, why);
		return PX_TEMPFAIL;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		*msg = strfmt("%s: %s", n->host, why);
		return PX_CONFIG;
	case CURLE_USE_SSL_FAILED:
		*msg = strfmt("%s: the server does not offer STARTTLS (tls = \"starttls\")",
		    n->host);
		return PX_TEMPFAIL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_ABORTED_BY_CALLBACK:
		*msg = strfmt("%s port %d: %s%s", n->host, n->port, why, tls_hint(c, rc, n, t, why));
		return PX_TEMPFAIL;
	case CURLE_WEIRD_SERVER_REPLY:
		if (*tls_hint(c, rc, n, t, why)) {
			*msg = strfmt("%s port %d: %s%s", n->host, n->port, why,
			    tls_hint(c, rc, n, t, why));
			return PX_TEMPFAIL;
		}
		break;
	case CURLE_OUT_OF_MEMORY:
		*msg = strfmt("out of memory");
		return PX_SOFTWARE;
	case CURLE_READ_ERROR:
		*msg = strfmt("cannot read the message: %s", why);
		return PX_IOERR;
	case CURLE_WRITE_ERROR:
		*msg = strfmt("cannot write the message: %s", why);
		return PX_IOERR;
	default:
		break;
	}
	/* Protocol errors: the server's reply decides. */
	if (code == 530 || code == 534 || code == 535 || code == 538) {
		*msg = strfmt("%s: %s", n->host, reply ? reply : why);
		return PX_NOPERM;
	}
	if (code >= 500 && code < 600) {
		*msg = strfmt("%s: %s", n->host, reply ? reply : why);
		return PX_UNAVAILABLE;
	}
	if (code == -1 && reply) {
		*msg = strfmt("%s: %s", n->host, reply);
		return PX_UNAVAILABLE;
	}
	if (code >= 400 && code < 500)
		*msg = strfmt("%s: %s", n->host, reply ? reply : why);
	else
		*msg = strfmt("%s port %d: %s", n->host, n->port, why);
	return PX_TEMPFAIL;
}

int
net_loopback(CURL *c)
{
	char *ip = NULL;

	if (curl_easy_getinfo(c, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || ip == NULL)
		return 0;
	return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
	    strncmp(ip, "::ffff:127.", 11) == 0;
}
