/*
 * digest.h: MD5 (RFC 1321), SHA-256 (FIPS 180-4) and HMAC (RFC 2104), for
 * CRAM-MD5 and APOP (sasl.c), the PKCE S256 challenge (oauth2) and the
 * sha256// public-key pin that --serverinfo prints.  Written from the
 * specifications; no allocation, no failure.
 */
#ifndef POSTIE_DIGEST_H
#define POSTIE_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_MD5_LEN		16
#define DIGEST_SHA256_LEN	32

struct digest_md5 {
	uint32_t h[4];
	uint64_t len;
	unsigned char buf[64];
	size_t	 nbuf;
};

struct digest_sha256 {
	uint32_t h[8];
	uint64_t len;
	unsigned char buf[64];
	size_t	 nbuf;
};

void	 digest_md5_init(struct digest_md5 *d);
void	 digest_md5_update(struct digest_md5 *d, const void *data, size_t n);
void	 digest_md5_final(struct digest_md5 *d, unsigned char out[DIGEST_MD5_LEN]);
void	 digest_sha256_init(struct digest_sha256 *d);
void	 digest_sha256_update(struct digest_sha256 *d, const void *data, size_t n);
void	 digest_sha256_final(struct digest_sha256 *d, unsigned char out[DIGEST_SHA256_LEN]);

/* One-shot forms. */
void	 digest_md5_buf(const void *data, size_t n, unsigned char out[DIGEST_MD5_LEN]);
void	 digest_sha256_buf(const void *data, size_t n, unsigned char out[DIGEST_SHA256_LEN]);
void	 digest_hmac_md5(const void *key, size_t klen, const void *msg, size_t mlen,
	    unsigned char out[DIGEST_MD5_LEN]);

/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void	 digest_hex(const unsigned char *in, size_t n, char *out);

#endif
