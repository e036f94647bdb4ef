/*
 * tlsinfo.h: what --serverinfo shows of a TLS connection: protocol version
 * and cipher, the server certificate's subject, issuer and validity, and
 * the sha256// pin of its public key (the value tls_fingerprint takes).
 *
 * tls_info_enable() must be called on the handle before the connection is
 * made (it sets CURLOPT_CERTINFO); tls_info_get() after.  Strings in
 * struct tls_info are malloc'd; tls_info_free() releases them.
 */
#ifndef POSTIE_TLSINFO_H
#define POSTIE_TLSINFO_H

#include <curl/curl.h>

struct tls_info {
	char	*version;	/* "TLSv1.3", or NULL when unknown */
	char	*cipher;	/* "TLS_AES_256_GCM_SHA384", or NULL */
	char	*subject;	/* "CN = localhost", ... */
	char	*issuer;
	char	*not_before;	/* as libcurl gives it, e.g. "2026-12-01 10:00:00 GMT" */
	char	*not_after;
	char	*pin;		/* "sha256//BASE64" of the SubjectPublicKeyInfo, or NULL */
};

void	 tls_info_enable(CURL *c);
/* 0, or -1 with *err (malloc'd) when the connection has no TLS or no certificate. */
int	 tls_info_get(CURL *c, struct tls_info *ti, char **err);
void	 tls_info_free(struct tls_info *ti);

#endif
