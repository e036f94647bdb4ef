/* digest.c: MD5 (RFC 1321), SHA-256 (FIPS 180-4), HMAC-MD5 (RFC 2104). */
#include <string.h>

#include "digest.h"

#define ROL(x, n)	(((x) << (n)) | ((x) >> (32 - (n))))
#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

/* ---- MD5 ---- */

/* T[i] = floor(2^32 * abs(sin(i + 1))), and the per-round shifts. */
static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
	0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
	0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
	0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const unsigned char md5_s[4][4] = {
	{ 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 },
};

static void
md5_block(uint32_t *h, const unsigned char *p)
{
	uint32_t x[16], a = h[0], b = h[1], c = h[2], d = h[3], f, t;
	int i, g;

	for (i = 0; i < 16; i++)
		x[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		    (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (i = 0; i < 64; i++) {
		switch (i / 16) {
		case 0:
			f = (b & c) | (~b & d);
			g = i;
			break;
		case 1:
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
			break;
		case 2:
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
			break;
		default:
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
			break;
		}
		t = d;
		d = c;
		c = b;
		b = b + ROL(a + f + md5_t[i] + x[g], md5_s[i / 16][i % 4]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void
digest_md5_init(struct digest_md5 *d)
{
	d->h[0] = 0x67452301;
	d->h[1] = 0xefcdab89;
	d->h[2] = 0x98badcfe;
	d->h[3] = 0x10325476;
	d->len = 0;
	d->nbuf = 0;
}

/* Shared by both hashes: fills 64-byte blocks and hands them to block(). */
static void
feed(unsigned char *buf, size_t *nbuf, uint64_t *len, uint32_t *h,
    void (*block)(uint32_t *, const unsigned char *), const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t k;

	*len += n;
	while (n > 0) {
		if (*nbuf == 0 && n >= 64) {
			block(h, p);
			p += 64;
			n -= 64;
			continue;
		}
		k = 64 - *nbuf < n ? 64 - *nbuf : n;
		memcpy(buf + *nbuf, p, k);
		*nbuf += k;
		p += k;
		n -= k;
		if (*nbuf == 64) {
			block(h, buf);
			*nbuf = 0;
		}
	}
}

void
digest_md5_update(struct digest_md5 *d, const void *data, size_t n)
{
	feed(d->buf, &d->nbuf, &d->len, d->h, md5_block, data, n);
}

/* The padding: 0x80, zeros, the bit length (little or big endian) in 8 bytes. */
static void
pad(unsigned char *buf, size_t *nbuf, uint64_t len, uint32_t *h,
    void (*block)(uint32_t *, const unsigned char *), int big)
{
	uint64_t bits = len * 8;
	int i;

	buf[(*nbuf)++] = 0x80;
	if (*nbuf > 56) {
		memset(buf + *nbuf, 0, 64 - *nbuf);
		block(h, buf);
		*nbuf = 0;
	}
	memset(buf + *nbuf, 0, 56 - *nbuf);
	for (i = 0; i < 8; i++)
		buf[56 + i] = (unsigned char)(bits >> (big ? 56 - 8 * i : 8 * i));
	block(h, buf);
	*nbuf = 0;
}

void
digest_md5_final(struct digest_md5 *d, unsigned char out[DIGEST_MD5_LEN])
{
	int i;

	pad(d->buf, &d->nbuf, d->len, d->h, md5_block, 0);
	for (i = 0; i < 16; i++)
		out[i] = (unsigned char)(d->h[i / 4] >> (8 * (i % 4)));
	memset(d, 0, sizeof *d);
}

/* ---- SHA-256 ---- */

static const uint32_t sha_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static void
sha256_block(uint32_t *h, const unsigned char *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
	for (i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	f = h[5];
	g = h[6];
	hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
		    sha_k[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
	h[5] += f;
	h[6] += g;
	h[7] += hh;
}

void
digest_sha256_init(struct digest_sha256 *d)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(d->h, iv, sizeof iv);
	d->len = 0;
	d->nbuf = 0;
}

void
digest_sha256_update(struct digest_sha256 *d, const void *data, size_t n)
{
	feed(d->buf, &d->nbuf, &d->len, d->h, sha256_block, data, n);
}

void
digest_sha256_final(struct digest_sha256 *d, unsigned char out[DIGEST_SHA256_LEN])
{
	int i;

	pad(d->buf, &d->nbuf, d->len, d->h, sha256_block, 1);
	for (i = 0; i < 32; i++)
		out[i] = (unsigned char)(d->h[i / 4] >> (24 - 8 * (i % 4)));
	memset(d, 0, sizeof *d);
}

/* ---- one-shot forms, HMAC, hex ---- */

void
digest_md5_buf(const void *data, size_t n, unsigned char out[DIGEST_MD5_LEN])
{
	struct digest_md5 d;

	digest_md5_init(&d);
	digest_md5_update(&d, data, n);
	digest_md5_final(&d, out);
}

void
digest_sha256_buf(const void *data, size_t n, unsigned char out[DIGEST_SHA256_LEN])
{
	struct digest_sha256 d;

	digest_sha256_init(&d);
	digest_sha256_update(&d, data, n);
	digest_sha256_final(&d, out);
}

void
digest_hmac_md5(const void *key, size_t klen, const void *msg, size_t mlen,
    unsigned char out[DIGEST_MD5_LEN])
{
	unsigned char k[64], pad_[64], inner[DIGEST_MD5_LEN];
	struct digest_md5 d;
	int i;

	memset(k, 0, sizeof k);
	if (klen > 64)
		digest_md5_buf(key, klen, k);
	else if (klen > 0)
		memcpy(k, key, klen);
	for (i = 0; i < 64; i++)
		pad_[i] = k[i] ^ 0x36;
	digest_md5_init(&d);
	digest_md5_update(&d, pad_, 64);
	digest_md5_update(&d, msg, mlen);
	digest_md5_final(&d, inner);
	for (i = 0; i < 64; i++)
		pad_[i] = k[i] ^ 0x5c;
	digest_md5_init(&d);
	digest_md5_update(&d, pad_, 64);
	digest_md5_update(&d, inner, sizeof inner);
	digest_md5_final(&d, out);
	explicit_bzero(k, sizeof k);
	explicit_bzero(pad_, sizeof pad_);
	explicit_bzero(inner, sizeof inner);
}

void
digest_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}
