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
#include "config.h"

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

/*
 * What both programs' --serverinfo print of the TLS of c, as lines (each
 * ending in a newline, malloc'd, NULL when out of memory): "TLS:" with the
 * version, the cipher and the mode, then the certificate's subject (marked
 * when it did not verify: verified = 0), issuer, validity and the
 * tls_fingerprint value that pins it; "TLS: none" for tls = "none".
 */
char	*tls_info_text(CURL *c, enum tls_mode tls, int verified);
/* 1 when rc is a certificate that did not verify: worth showing, unverified. */
int	 tls_info_cert_failed(CURLcode rc);
/*
 * *u becomes a copy of n that connects without checking the certificate
 * (no verification, no pin, no CA file), to show one that failed
 * tls_info_cert_failed(); its strings stay n's.
 */
void	 tls_info_unverified(struct net_cfg *u, const struct net_cfg *n);

#endif
