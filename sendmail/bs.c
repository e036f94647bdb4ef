/*
 * bs.c: -bs, server-side SMTP on standard input and output, as PHP's
 * Symfony Mailer, SwiftMailer, Laravel and Nextcloud use it.  Each message
 * takes the same path as one read with -t off: headers completed, spooled,
 * tried, queued on a temporary failure.  The reply to the final dot comes
 * only after that.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "reader.h"
#include "sendmail.h"

#define CMD_MAX		1000	/* RFC 5321 says 512; be generous */
#define MAX_RCPTS	1000
#define MAX_SIZE	(256LL * 1024 * 1024)	/* announced in EHLO as SIZE */

struct bs {
	struct reader r;
	int	 greeted;
	int	 in_mail;
	char	*sender;
	struct strlist rcpts;
	char	*host;
};

static void
reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
reply(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputs("\r\n", stdout);
	fflush(stdout);
}

/* Reads one command line; 0 at end of input, 1, or 2 when it was too long. */
static int
read_cmd(struct bs *b, struct sbuf *line)
{
	const char *p;
	size_t n;
	int eol = 0, rv, toolong = 0;

	sb_reset(line);
	while (!eol) {
		rv = rd_next(&b->r, &p, &n, &eol);
		if (rv <= 0)
			return line->len || toolong ? (toolong ? 2 : 1) : 0;
		if (line->len + n > CMD_MAX)
			toolong = 1;
		else
			sb_addn(line, p, n);
	}
	if (line->s == NULL)
		sb_addn(line, "", 0);
	return toolong ? 2 : 1;
}

static void
reset(struct bs *b)
{
	free(b->sender);
	b->sender = NULL;
	sl_free(&b->rcpts);
	b->in_mail = 0;
}

/* The address in "FROM:<a> params" / "TO:<a>"; NULL if malformed. */
static char *
path_arg(const char *arg, const char *key)
{
	size_t klen = strlen(key);
	const char *p, *end;

	if (strncasecmp(arg, key, klen) != 0)
		return NULL;
	p = arg + klen;
	while (*p == ' ')
		p++;
	if (*p != '<') {
		/* Some clients omit the brackets. */
		end = p + strcspn(p, " ");
		return end > p ? xstrndup(p, (size_t)(end - p)) : NULL;
	}
	if ((end = strchr(p, '>')) == NULL)
		return NULL;
	p++;
	/* Drop an obsolete source route "@a,@b:". */
	if (*p == '@' && memchr(p, ':', (size_t)(end - p)))
		p = (const char *)memchr(p, ':', (size_t)(end - p)) + 1;
	return xstrndup(p, (size_t)(end - p));
}

/* The SIZE= parameter of a MAIL command, or 0. */
static long long
declared_size(const char *arg)
{
	const char *p = strcasestr(arg, " SIZE=");

	return p ? strtoll(p + 6, NULL, 10) : 0;
}

/* Drains a message that could not be taken, up to its final dot. */
static void
drain(struct bs *b)
{
	struct sbuf line;
	int rv;

	sb_init(&line);
	while ((rv = read_cmd(b, &line)) != 0)
		if (rv == 1 && line.len == 1 && line.s[0] == '.')
			break;
	sb_free(&line);
}

/* DATA: take the message and answer for it. */
static int
data(struct bs *b, struct postie_cfg *cfg, const struct opts *o)
{
	struct opts tx = *o;
	struct submit_result res;
	int code;

	tx.extract = 0;
	tx.dot_ends = 1;
	tx.need_dot = 1;
	tx.sender = b->sender;
	tx.rcpts = b->rcpts;
	sl_init(&tx.attach);
	sl_init(&tx.attach_type);
	tx.subject = NULL;
	tx.max_size = MAX_SIZE;
	reply("354 End data with <CR><LF>.<CR><LF>");
	submit(cfg, &tx, &b->r, &res);
	if (!res.dot_seen && b->r.eof && b->r.start == b->r.end) {
		/* Input ended inside DATA: the transaction is void. */
		free(res.msg);
		return 0;
	}
	if (res.err != PX_OK && !res.dot_seen)
		drain(b);
	if (res.err == PX_OK)
		reply("250 2.0.0 Ok: %s as %s", res.queued ? "queued" : "sent", res.id);
	else if (res.too_big)
		reply("552 5.3.4 Message size exceeds fixed limit of %lld bytes", MAX_SIZE);
	else {
		switch (res.err) {
		case PX_NOUSER:
		case PX_UNAVAILABLE:
		case PX_NOPERM:
			code = 554;
			break;
		case PX_DATA:
			code = 554;
			break;
		default:
			code = 451;
			break;
		}
		reply("%d %d.0.0 %s", code, code / 100, res.msg ? res.msg : "failed");
		log_error("%s", res.msg ? res.msg : "failed");
	}
	free(res.msg);
	reset(b);
	return 1;
}

int
bs_serve(struct postie_cfg *cfg, const struct opts *o)
{
	struct bs b;
	struct sbuf line;
	char *arg, *addr;
	int rv;

	memset(&b, 0, sizeof b);
	sl_init(&b.rcpts);
	sb_init(&line);
	if (rd_init(&b.r, STDIN_FILENO, READ_BUF) == -1)
		return EX_SOFTWARE;
	b.host = util_fqdn();
	reply("220 %s ESMTP Postie sendmail -bs", b.host);
	while ((rv = read_cmd(&b, &line)) != 0) {
		if (rv == 2) {
			reply("500 5.5.2 Line too long");
			continue;
		}
		arg = line.s + strcspn(line.s, " ");
		while (*arg == ' ')
			arg++;
#define IS(cmd) (strncasecmp(line.s, cmd, strlen(cmd)) == 0 && \
    (line.s[strlen(cmd)] == '\0' || line.s[strlen(cmd)] == ' '))
		if ((IS("HELO") || IS("EHLO")) && *arg == '\0') {
			reply("501 5.5.4 Syntax: %.4s hostname", line.s);
		} else if (IS("HELO")) {
			reset(&b);
			b.greeted = 1;
			reply("250 %s", b.host);
		} else if (IS("EHLO")) {
			reset(&b);
			b.greeted = 1;
			reply("250-%s\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE %lld\r\n"
			    "250-ENHANCEDSTATUSCODES\r\n250 HELP", b.host, MAX_SIZE);
		} else if (IS("MAIL")) {
			if (b.in_mail) {
				reply("503 5.5.1 Nested MAIL command");
				continue;
			}
			if ((addr = path_arg(arg, "FROM:")) == NULL) {
				reply("501 5.5.4 Syntax: MAIL FROM:<address>");
				continue;
			}
			if (*addr && !addr_is_valid(addr)) {
				free(addr);
				reply("553 5.1.7 Bad sender address syntax");
				continue;
			}
			if (declared_size(arg) > MAX_SIZE) {
				free(addr);
				reply("552 5.3.4 Message size exceeds fixed limit of %lld bytes",
				    MAX_SIZE);
				continue;
			}
			b.sender = addr;
			b.in_mail = 1;
			reply("250 2.1.0 Ok");
		} else if (IS("RCPT")) {
			if (!b.in_mail) {
				reply("503 5.5.1 Need MAIL before RCPT");
				continue;
			}
			if ((addr = path_arg(arg, "TO:")) == NULL || *addr == '\0') {
				free(addr);
				reply("501 5.5.4 Syntax: RCPT TO:<address>");
				continue;
			}
			if (!addr_is_valid(addr)) {
				free(addr);
				reply("553 5.1.3 Bad recipient address syntax");
				continue;
			}
			if (b.rcpts.n >= MAX_RCPTS) {
				free(addr);
				reply("452 4.5.3 Too many recipients");
				continue;
			}
			sl_addown(&b.rcpts, addr);
			reply("250 2.1.5 Ok");
		} else if (IS("DATA")) {
			if (!b.in_mail) {
				reply("503 5.5.1 Need MAIL command");
				continue;
			}
			if (b.rcpts.n == 0) {
				reply("554 5.5.1 No valid recipients");
				continue;
			}
			if (!data(&b, cfg, o))
				break;
		} else if (IS("RSET")) {
			reset(&b);
			reply("250 2.0.0 Ok");
		} else if (IS("NOOP")) {
			reply("250 2.0.0 Ok");
		} else if (IS("QUIT")) {
			reply("221 2.0.0 Bye");
			break;
		} else if (IS("VRFY")) {
			reply("252 2.0.0 Cannot VRFY user, but will accept message");
		} else if (IS("HELP")) {
			reply("214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY");
		} else if (IS("STARTTLS") || IS("AUTH") || IS("EXPN") || IS("ETRN") ||
		    IS("BDAT") || IS("TURN")) {
			reply("502 5.5.1 Command not implemented");
		} else
			reply("500 5.5.2 Command not recognized");
#undef IS
	}
	reset(&b);
	rd_free(&b.r);
	sb_free(&line);
	free(b.host);
	return 0;
}
