/*
 * mime.h: encodings used in mail headers and bodies: base64,
 * quoted-printable, RFC 2047 encoded words, RFC 2231 parameters.
 * Returned strings are malloc'd; the caller frees them.  NULL = out of
 * memory or invalid input as stated.
 */
#ifndef POSTIE_MIME_H
#define POSTIE_MIME_H

#include <stddef.h>

/* base64 of n bytes, without line breaks. */
char	*mime_b64_encode(const unsigned char *in, size_t n);
/* Decodes base64 (white space ignored); *outlen gets the length.  NULL if invalid. */
unsigned char *mime_b64_decode(const char *in, size_t n, size_t *outlen);

/* Decodes quoted-printable (body rules; soft line breaks removed). */
char	*mime_qp_decode(const char *in, size_t n, size_t *outlen);

/* 1 if s is all printable ASCII (plus tab). */
int	 mime_is_ascii(const char *s);
/* 1 if the n bytes are valid UTF-8. */
int	 mime_is_utf8(const char *s, size_t n);

/*
 * Encodes a header text (phrase) as RFC 2047 encoded words when it is not
 * plain ASCII; plain ASCII is copied.  Charset utf-8 when valid UTF-8,
 * else iso-8859-1 is not guessed: the bytes go as "unknown-8bit".
 * Each encoded word stays within 75 characters.
 */
char	*mime_2047_encode(const char *s);

/* Decodes every RFC 2047 encoded word in s to UTF-8 (utf-8, us-ascii and iso-8859-1 charsets). */
char	*mime_2047_decode(const char *s);

/* RFC 2231 parameter: name="value" or name*=utf-8''pct-encoded. */
char	*mime_2231_param(const char *name, const char *value);

/*
 * Streaming quoted-printable encoder for bodies.  Feed the bytes of a line
 * in as many pieces as convenient with mime_qp_feed(), then end the line
 * with mime_qp_eol().  Output goes through put() in CRLF lines of at most
 * 76 characters.  put returns 0 or -1; so do these.
 */
typedef int (*mime_put_fn)(void *arg, const char *s, size_t n);
struct mime_qp {
	int	 col;		/* characters on the current output line */
	int	 pending;	/* a space or tab not yet written, or -1 */
};
void	 mime_qp_init(struct mime_qp *q);
int	 mime_qp_feed(struct mime_qp *q, const char *s, size_t n, mime_put_fn put, void *arg);
int	 mime_qp_eol(struct mime_qp *q, mime_put_fn put, void *arg);

#endif
