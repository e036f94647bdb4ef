/* mime.c: base64, quoted-printable, RFC 2047 and RFC 2231. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime.h"
#include "util.h"

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
mime_b64_encode(const unsigned char *in, size_t n)
{
	char *out, *p;
	size_t i;

	if (n > ((size_t)-1) / 2)
		return NULL;
	if ((out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	p = out;
	for (i = 0; i + 2 < n; i += 3) {
		*p++ = b64[in[i] >> 2];
		*p++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*p++ = b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*p++ = b64[in[i + 2] & 63];
	}
	if (i < n) {
		*p++ = b64[in[i] >> 2];
		if (i + 1 < n) {
			*p++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			*p++ = b64[(in[i + 1] & 15) << 2];
		} else {
			*p++ = b64[(in[i] & 3) << 4];
			*p++ = '=';
		}
		*p++ = '=';
	}
	*p = '\0';
	return out;
}

static int
b64val(int c)
{
	const char *p;

	if (c == 0 || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

unsigned char *
mime_b64_decode(const char *in, size_t n, size_t *outlen)
{
	unsigned char *out;
	unsigned int acc = 0;
	int bits = 0, v;
	size_t i, o = 0, pad = 0;

	if ((out = malloc(n / 4 * 3 + 4)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		int c = (unsigned char)in[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad || (v = b64val(c)) < 0) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

char *
mime_qp_decode(const char *in, size_t n, size_t *outlen)
{
	char *out;
	size_t i, o = 0;
	int h, l;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (in[i] != '=') {
			out[o++] = in[i];
			continue;
		}
		if (i + 1 < n && in[i + 1] == '\n') {
			i += 1;
			continue;
		}
		if (i + 2 < n && in[i + 1] == '\r' && in[i + 2] == '\n') {
			i += 2;
			continue;
		}
		if (i + 2 < n && (h = util_hexval(in[i + 1])) >= 0 && (l = util_hexval(in[i + 2])) >= 0) {
			out[o++] = (char)(h * 16 + l);
			i += 2;
			continue;
		}
		out[o++] = '=';
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

int
mime_is_ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x7f || ((unsigned char)*s < 0x20 && *s != '\t'))
			return 0;
	return 1;
}

int
mime_is_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k, len;
	unsigned int cp;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = p[i] & 0x07;
		} else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Length of the UTF-8 sequence starting at s (1 for invalid bytes). */
static size_t
u8len(const unsigned char *s, size_t left)
{
	size_t len = 1;

	if ((s[0] & 0xe0) == 0xc0)
		len = 2;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4;
	return len <= left ? len : 1;
}

char *
mime_2047_encode(const char *s)
{
	struct sbuf b;
	const char *cs;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, wordlen, clen, need;

	if (mime_is_ascii(s))
		return strdup(s);
	cs = mime_is_utf8(s, n) ? "utf-8" : "unknown-8bit";
	sb_init(&b);
	/* B encoding; at most 45 input bytes per word keeps words under 75 chars. */
	while (i < n) {
		if (b.len)
			sb_adds(&b, " ");
		sb_printf(&b, "=?%s?B?", cs);
		wordlen = 0;
		while (i + wordlen < n) {
			clen = u8len(p + i + wordlen, n - i - wordlen);
			need = wordlen + clen;
			if (need > 45 - (strlen(cs) > 5 ? 6 : 0))
				break;
			wordlen = need;
		}
		if (wordlen == 0)
			wordlen = 1;
		{
			char *enc = mime_b64_encode(p + i, wordlen);

			if (enc == NULL) {
				sb_free(&b);
				return NULL;
			}
			sb_adds(&b, enc);
			free(enc);
		}
		sb_adds(&b, "?=");
		i += wordlen;
	}
	if (b.s == NULL)
		return NULL;
	return sb_steal(&b);
}

/* Appends a Latin-1 byte as UTF-8. */
static void
latin1(struct sbuf *b, unsigned char c)
{
	if (c < 0x80)
		sb_addc(b, (char)c);
	else {
		sb_addc(b, (char)(0xc0 | (c >> 6)));
		sb_addc(b, (char)(0x80 | (c & 0x3f)));
	}
}

#define MAX_WORD	1000	/* the longest encoded word decoded */

/* Decodes one encoded word at s; returns its length or 0 if s is not one. */
static size_t
decode_word(const char *s, struct sbuf *out)
{
	const char *cs, *q, *text, *end;
	char enc;
	char *dec = NULL;
	size_t declen = 0, i, cslen, lim;
	int is_latin1;

	if (s[0] != '=' || s[1] != '?')
		return 0;
	/*
	 * Look no further than an encoded word can reach (75 characters by
	 * RFC 2047; be lenient): text full of "=?" openers stays linear.
	 */
	cs = s + 2;
	lim = strnlen(cs, MAX_WORD);
	if ((q = memchr(cs, '?', lim)) == NULL || q == cs)
		return 0;
	cslen = (size_t)(q - cs);
	enc = (char)toupper((unsigned char)q[1]);
	if ((enc != 'B' && enc != 'Q') || q[2] != '?')
		return 0;
	text = q + 3;
	if ((size_t)(text - cs) >= lim ||
	    (end = memmem(text, lim - (size_t)(text - cs), "?=", 2)) == NULL)
		return 0;
	for (q = text; q < end; q++)
		if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
			return 0;
	if (enc == 'B')
		dec = (char *)mime_b64_decode(text, (size_t)(end - text), &declen);
	else {
		char *tmp = xstrndup(text, (size_t)(end - text));

		if (tmp) {
			for (i = 0; tmp[i]; i++)
				if (tmp[i] == '_')
					tmp[i] = ' ';
			dec = mime_qp_decode(tmp, strlen(tmp), &declen);
			free(tmp);
		}
	}
	if (dec == NULL)
		return 0;
	is_latin1 = (cslen >= 10 && strncasecmp(cs, "iso-8859-1", 10) == 0) ||
	    (cslen >= 12 && strncasecmp(cs, "windows-1252", 12) == 0);
	if (is_latin1)
		for (i = 0; i < declen; i++)
			latin1(out, (unsigned char)dec[i]);
	else
		sb_addn(out, dec, declen);
	free(dec);
	return (size_t)(end + 2 - s);
}

char *
mime_2047_decode(const char *s)
{
	struct sbuf b;
	const char *p = s, *ws;
	size_t n;

	sb_init(&b);
	sb_addn(&b, "", 0);
	while (*p) {
		if ((n = decode_word(p, &b)) > 0) {
			p += n;
			/* White space between two encoded words is dropped. */
			ws = p;
			while (*ws == ' ' || *ws == '\t' || *ws == '\r' || *ws == '\n')
				ws++;
			if (ws != p && ws[0] == '=' && ws[1] == '?') {
				struct sbuf probe;

				sb_init(&probe);
				if (decode_word(ws, &probe) > 0)
					p = ws;
				sb_free(&probe);
			}
			continue;
		}
		sb_addc(&b, *p++);
	}
	return sb_steal(&b);
}

static int
attr_char(unsigned char c)
{
	return isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL;
}

char *
mime_2231_param(const char *name, const char *value)
{
	struct sbuf b;
	const unsigned char *p;
	int plain = mime_is_ascii(value);

	sb_init(&b);
	if (plain) {
		sb_printf(&b, "%s=\"", name);
		for (p = (const unsigned char *)value; *p; p++) {
			if (*p == '"' || *p == '\\')
				sb_addc(&b, '\\');
			sb_addc(&b, (char)*p);
		}
		sb_addc(&b, '"');
	} else {
		sb_printf(&b, "%s*=utf-8''", name);
		for (p = (const unsigned char *)value; *p; p++) {
			if (attr_char(*p))
				sb_addc(&b, (char)*p);
			else
				sb_printf(&b, "%%%02X", *p);
		}
	}
	return b.s ? sb_steal(&b) : NULL;
}

void
mime_qp_init(struct mime_qp *q)
{
	q->col = 0;
	q->pending = -1;
}

/* Emits text of n chars, breaking the line softly first if it would pass 76. */
static int
qp_emit(struct mime_qp *q, const char *s, int n, mime_put_fn put, void *arg)
{
	if (q->col + n > 75) {
		if (put(arg, "=\r\n", 3) == -1)
			return -1;
		q->col = 0;
	}
	q->col += n;
	return put(arg, s, (size_t)n);
}

static int
qp_flush_pending(struct mime_qp *q, int at_eol, mime_put_fn put, void *arg)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[4];
	int c = q->pending;

	if (c < 0)
		return 0;
	q->pending = -1;
	if (at_eol) {
		enc[0] = '=';
		enc[1] = hex[(c >> 4) & 15];
		enc[2] = hex[c & 15];
		return qp_emit(q, enc, 3, put, arg);
	}
	enc[0] = (char)c;
	return qp_emit(q, enc, 1, put, arg);
}

int
mime_qp_feed(struct mime_qp *q, const char *s, size_t n, mime_put_fn put, void *arg)
{
	static const char hex[] = "0123456789ABCDEF";
	char enc[3];
	size_t i;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (qp_flush_pending(q, 0, put, arg) == -1)
			return -1;
		if (c == ' ' || c == '\t') {
			q->pending = c;
			continue;
		}
		/* A "." or "From " at line start is encoded to survive dumb relays. */
		if ((c >= 33 && c <= 126 && c != '=' && !(q->col == 0 && (c == '.' || c == 'F')))) {
			enc[0] = (char)c;
			if (qp_emit(q, enc, 1, put, arg) == -1)
				return -1;
			continue;
		}
		enc[0] = '=';
		enc[1] = hex[c >> 4];
		enc[2] = hex[c & 15];
		if (qp_emit(q, enc, 3, put, arg) == -1)
			return -1;
	}
	return 0;
}

int
mime_qp_eol(struct mime_qp *q, mime_put_fn put, void *arg)
{
	if (qp_flush_pending(q, 1, put, arg) == -1)
		return -1;
	q->col = 0;
	return put(arg, "\r\n", 2);
}
