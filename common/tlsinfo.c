/*
 * tlsinfo.c: the TLS facts --serverinfo prints.  The certificate comes from
 * libcurl's CURLINFO_CERTINFO (subject, issuer, dates, and the PEM, whose
 * SubjectPublicKeyInfo is hashed here into the sha256// pin libcurl's
 * CURLOPT_PINNEDPUBLICKEY compares); the protocol version and cipher from
 * OpenSSL at the end of the handshake, through an info callback set on
 * libcurl's SSL_CTX (CURLINFO_TLS_SSL_PTR has no session any more once a
 * CONNECT_ONLY transfer has returned).  The programs make one such
 * connection per run, so the callback's answer is kept in a static.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curlshim.h"
#include "digest.h"
#include "mime.h"
#include "tlsinfo.h"
#include "util.h"

#define SSL_CB_HANDSHAKE_DONE	0x20	/* OpenSSL's ssl.h */

static struct {
	char	 version[32];
	char	 cipher[96];
} hs;

static void
info_cb(const void *ssl, int where, int ret)
{
	const char *(*get_version)(const void *);
	const void *(*get_cipher)(const void *);
	const char *(*cipher_name)(const void *);
	const void *ciph;
	const char *v;

	(void)ret;
	if (!(where & SSL_CB_HANDSHAKE_DONE))
		return;
	*(void **)&get_version = curlshim_sym("SSL_get_version");
	*(void **)&get_cipher = curlshim_sym("SSL_get_current_cipher");
	*(void **)&cipher_name = curlshim_sym("SSL_CIPHER_get_name");
	if (get_version && (v = get_version(ssl)) != NULL)
		snprintf(hs.version, sizeof hs.version, "%s", v);
	if (get_cipher && cipher_name && (ciph = get_cipher(ssl)) != NULL &&
	    (v = cipher_name(ciph)) != NULL)
		snprintf(hs.cipher, sizeof hs.cipher, "%s", v);
}

static CURLcode
ctx_cb(CURL *c, void *ctx, void *arg)
{
	void (*set_info)(void *, void (*)(const void *, int, int));

	(void)c;
	(void)arg;
	*(void **)&set_info = curlshim_sym("SSL_CTX_set_info_callback");
	if (set_info)
		set_info(ctx, info_cb);
	return CURLE_OK;
}

void
tls_info_enable(CURL *c)
{
	memset(&hs, 0, sizeof hs);
	curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
	/* Only the OpenSSL backend calls it; with another, version and cipher stay unknown. */
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, ctx_cb);
}

/* One DER element at p (n bytes left): its header length and content length. */
static int
der_elem(const unsigned char *p, size_t n, unsigned char *tag, size_t *hdr, size_t *len)
{
	size_t i, k;

	if (n < 2)
		return -1;
	*tag = p[0];
	if (p[1] < 0x80) {
		*hdr = 2;
		*len = p[1];
	} else {
		k = p[1] & 0x7f;
		if (k == 0 || k > 4 || n < 2 + k)
			return -1;
		*len = 0;
		for (i = 0; i < k; i++)
			*len = *len << 8 | p[2 + i];
		*hdr = 2 + k;
	}
	return *hdr + *len <= n ? 0 : -1;
}

/*
 * The SubjectPublicKeyInfo of a DER certificate (RFC 5280 4.1): inside
 * Certificate and tbsCertificate, after [0] version, serialNumber,
 * signature, issuer, validity and subject.
 */
static int
der_spki(const unsigned char *der, size_t n, const unsigned char **spki, size_t *spkilen)
{
	unsigned char tag;
	size_t hdr, len, i;
	const unsigned char *p = der;

	if (der_elem(p, n, &tag, &hdr, &len) == -1 || tag != 0x30)
		return -1;	/* Certificate */
	p += hdr;
	n = len;
	if (der_elem(p, n, &tag, &hdr, &len) == -1 || tag != 0x30)
		return -1;	/* tbsCertificate */
	p += hdr;
	n = len;
	if (n > 0 && p[0] == 0xa0) {	/* [0] version */
		if (der_elem(p, n, &tag, &hdr, &len) == -1)
			return -1;
		p += hdr + len;
		n -= hdr + len;
	}
	for (i = 0; i < 5; i++) {	/* serial, signature, issuer, validity, subject */
		if (der_elem(p, n, &tag, &hdr, &len) == -1)
			return -1;
		p += hdr + len;
		n -= hdr + len;
	}
	if (der_elem(p, n, &tag, &hdr, &len) == -1 || tag != 0x30)
		return -1;
	*spki = p;
	*spkilen = hdr + len;
	return 0;
}

/* "sha256//BASE64" of the public key of the PEM certificate, or NULL. */
static char *
pem_pin(const char *pem)
{
	const char *a, *b;
	unsigned char *der, md[DIGEST_SHA256_LEN];
	const unsigned char *spki;
	size_t n, spkilen;
	char *b64, *pin = NULL;

	if ((a = strstr(pem, "-----BEGIN CERTIFICATE-----")) == NULL ||
	    (b = strstr(a, "-----END CERTIFICATE-----")) == NULL)
		return NULL;
	a += strlen("-----BEGIN CERTIFICATE-----");
	if ((der = mime_b64_decode(a, (size_t)(b - a), &n)) == NULL)
		return NULL;
	if (der_spki(der, n, &spki, &spkilen) == 0) {
		digest_sha256_buf(spki, spkilen, md);
		if ((b64 = mime_b64_encode(md, sizeof md)) != NULL) {
			pin = strfmt("sha256//%s", b64);
			free(b64);
		}
	}
	free(der);
	return pin;
}

/* The value of "Name:value" in the first certificate's list, malloc'd. */
static char *
cert_field(struct curl_slist *l, const char *name)
{
	size_t n = strlen(name);

	for (; l; l = l->next)
		if (strncmp(l->data, name, n) == 0 && l->data[n] == ':')
			return strdup(l->data + n + 1);
	return NULL;
}

int
tls_info_get(CURL *c, struct tls_info *ti, char **err)
{
	struct curl_certinfo *ci = NULL;
	char *pem;

	memset(ti, 0, sizeof *ti);
	*err = NULL;
	if (hs.version[0])
		ti->version = strdup(hs.version);
	if (hs.cipher[0])
		ti->cipher = strdup(hs.cipher);
	if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) != CURLE_OK || ci == NULL ||
	    ci->num_of_certs < 1) {
		if (ti->version == NULL) {
			*err = strdup("the connection is not encrypted");
			return -1;
		}
		*err = strdup("libcurl did not keep the server's certificate");
		return -1;
	}
	ti->subject = cert_field(ci->certinfo[0], "Subject");
	ti->issuer = cert_field(ci->certinfo[0], "Issuer");
	ti->not_before = cert_field(ci->certinfo[0], "Start date");
	ti->not_after = cert_field(ci->certinfo[0], "Expire date");
	if ((pem = cert_field(ci->certinfo[0], "Cert")) != NULL) {
		ti->pin = pem_pin(pem);
		free(pem);
	}
	return 0;
}

void
tls_info_free(struct tls_info *ti)
{
	free(ti->version);
	free(ti->cipher);
	free(ti->subject);
	free(ti->issuer);
	free(ti->not_before);
	free(ti->not_after);
	free(ti->pin);
	memset(ti, 0, sizeof *ti);
}

char *
tls_info_text(CURL *c, enum tls_mode tls, int verified)
{
	struct tls_info ti;
	struct sbuf b;
	char *err = NULL;

	sb_init(&b);
	if (tls == TLS_NONE) {
		sb_adds(&b, "TLS:          none (tls = \"none\")\n");
		return sb_steal(&b);
	}
	memset(&ti, 0, sizeof ti);
	if (tls_info_get(c, &ti, &err) == -1) {
		sb_printf(&b, "TLS:          %s\n", err ? err : "unknown");
		free(err);
		return sb_steal(&b);
	}
	sb_printf(&b, "TLS:          %s%s%s (%s)\n", ti.version ? ti.version : "?",
	    ti.cipher ? ", " : "", ti.cipher ? ti.cipher : "",
	    tls == TLS_TLS ? "implicit, tls = \"tls\"" : "STARTTLS");
	sb_printf(&b, "Certificate:  %s%s\n", ti.subject ? ti.subject : "?",
	    verified ? "" : "  (does NOT verify)");
	sb_printf(&b, "  issuer:     %s\n", ti.issuer ? ti.issuer : "?");
	sb_printf(&b, "  valid:      %s to %s\n", ti.not_before ? ti.not_before : "?",
	    ti.not_after ? ti.not_after : "?");
	if (ti.pin)
		sb_printf(&b, "  pin:        tls_fingerprint = \"%s\"\n", ti.pin);
	tls_info_free(&ti);
	return sb_steal(&b);
}

int
tls_info_cert_failed(CURLcode rc)
{
	return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	    rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_CACERT_BADFILE;
}

void
tls_info_unverified(struct net_cfg *u, const struct net_cfg *n)
{
	*u = *n;
	u->tls_verify = 0;
	u->tls_fingerprint = NULL;
	u->tls_ca_file = NULL;
}
