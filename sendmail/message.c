/*
 * message.c: reads a message from the caller, completes its header and
 * envelope, and writes it with CRLF line endings to the spool file.  The
 * header block is held in memory (bounded); the body is streamed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mime.h"
#include "reader.h"
#include "sendmail.h"


/* Collects the addresses of every field called name into out. */
static int
collect(const struct hdr_block *h, const char *name, struct strlist *out)
{
	const struct hdr_field *f;
	struct addr_list l;
	size_t i, k;
	char *v;

	for (i = 0; (f = hdr_find(h, name, i)) != NULL; i++) {
		if ((v = hdr_value(f)) == NULL)
			return -1;
		addr_list_init(&l);
		if (addr_parse_list(v, &l) == -1) {
			free(v);
			return -1;
		}
		for (k = 0; k < l.n; k++)
			if (sl_add(out, l.v[k].addr) == -1) {
				addr_list_free(&l);
				free(v);
				return -1;
			}
		addr_list_free(&l);
		free(v);
	}
	return 0;
}

/* A Message-ID: <time.pid.random@domain>. */
char *
message_id(const char *domain)
{
	unsigned long r;
	FILE *fp;

	r = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	if ((fp = fopen("/dev/urandom", "re")) != NULL) {
		if (fread(&r, sizeof r, 1, fp) != 1)
			r ^= (unsigned long)clock();
		fclose(fp);
	}
	return strfmt("<%lx.%ld.%lx@%s>", (unsigned long)time(NULL), (long)getpid(),
	    r & 0xffffffffffUL, domain);
}

/* The address a local sender becomes: the account's from, else qualified. */
static char *
rewrite_local(const struct smtp_account *a, const char *addr)
{
	if (a->from && a->from_rewrite != FROM_REWRITE_NEVER)
		return strdup(a->from);
	return addr_qualify(addr, a->domain);
}

/* Applies from_rewrite to an existing From field. */
static int
rewrite_from(struct hdr_block *h, const struct smtp_account *a)
{
	struct addr_list l;
	struct sbuf b;
	char *v, *na, *f;
	size_t i;
	int changed = 0, r = -1;

	if (a->from_rewrite == FROM_REWRITE_NEVER || (v = hdr_get(h, "From")) == NULL)
		return 0;
	addr_list_init(&l);
	sb_init(&b);
	if (addr_parse_list(v, &l) <= 0) {
		r = 0;
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		int local = addr_is_local(l.v[i].addr);

		if (a->from_rewrite == FROM_REWRITE_ALWAYS && a->from)
			na = strdup(a->from);
		else if (local)
			na = rewrite_local(a, l.v[i].addr);
		else
			na = strdup(l.v[i].addr);
		if (na == NULL)
			goto out;
		if (strcmp(na, l.v[i].addr) != 0)
			changed = 1;
		f = addr_format(l.v[i].name, na);
		free(na);
		if (f == NULL)
			goto out;
		if (b.len)
			sb_adds(&b, ", ");
		sb_adds(&b, f);
		free(f);
	}
	r = changed ? hdr_set(h, "From", b.s) : 0;
out:
	free(v);
	sb_free(&b);
	addr_list_free(&l);
	return r;
}

/*
 * The Received: field of a local submission: which user handed the message
 * over, whatever From: and -f claim, as Postfix's "from userid N" does.  Only
 * a setgid sendmail (the system install) adds it: there every user sends
 * through the same smarthost account, which alone says nothing of who it
 * was; a user's own install sends with the user's own account.
 */
static int
add_received(struct msgctx *m, struct hdr_block *h, const char *user)
{
	char *host = util_fqdn(), *date = util_rfc5322_date(time(NULL)), *v = NULL;
	const char *p;
	int r = -1;

	/* A user name from passwd is trusted, but it goes into a header field. */
	for (p = user; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("._-$", *p)))
			user = "unknown";
	if (host && date)
		v = strfmt("from %s (uid %lu)\r\n\tby %s (Postie) id %s;\r\n\t%s", *user ? user :
		    "unknown", (unsigned long)m->o->submitter, host, m->qid ? m->qid : "none", date);
	if (v && hdr_prepend(h, "Received", v) == 0)
		r = 0;
	free(host);
	free(date);
	free(v);
	return r;
}

/*
 * Bare names in the address fields get "@domain", as the envelope's do
 * (Postfix does the same for local submissions): "To: root" would make
 * replies go to root at the provider's host.  Everything else in the field
 * stays as written; aliases are for the envelope only; From: is left alone
 * when the account says from_rewrite = "never".
 */
static int
qualify_fields(struct hdr_block *h, const struct smtp_account *a)
{
	static const char *const names[] = { "From", "Sender", "Reply-To", "To", "Cc" };
	const char *domain = a->domain;
	const char *text;
	char *q;
	size_t i, k, len;

	for (i = 0; i < h->n; i++)
		for (k = 0; k < sizeof names / sizeof names[0]; k++) {
			if (strcasecmp(h->f[i].name, names[k]) != 0)
				continue;
			/* from_rewrite = "never": the account wants From: as written. */
			if (k == 0 && a->from_rewrite == FROM_REWRITE_NEVER)
				continue;
			len = strlen(h->f[i].name);
			text = h->f[i].raw + len + 1;	/* after "name:" */
			if ((q = addr_qualify_text(text, domain)) == NULL)
				return -1;
			if (strcmp(q, text) != 0 && hdr_replace(h, i, q) == -1) {
				free(q);
				return -1;
			}
			free(q);
		}
	return 0;
}

enum px_err
message_envelope(struct postie_cfg *cfg, const struct opts *o, struct smtp_account **acct,
    char **sender, char **err)
{
	char *fsender = NULL, *user = NULL;
	enum px_err e = PX_SOFTWARE;

	*acct = NULL;
	*sender = NULL;
	if (o->sender && *o->sender == '\0')
		fsender = strdup("");	/* the null sender, from -bs MAIL FROM:<> */
	else if (o->sender && ((fsender = addr_parse_one(o->sender)) == NULL ||
	    (*fsender && !addr_is_valid(fsender)))) {
		*err = strfmt("invalid sender address \"%s\"", o->sender);
		e = PX_USAGE;
		goto out;
	}
	if ((*acct = conf_smtp_select(cfg, o->account, fsender, err)) == NULL) {
		e = PX_CONFIG;
		goto out;
	}
	if (fsender && *fsender == '\0')
		*sender = strdup("");
	else if (fsender)
		*sender = addr_is_local(fsender) ? rewrite_local(*acct, fsender) :
		    strdup(fsender);
	else if ((*acct)->from)
		*sender = strdup((*acct)->from);
	else if ((user = util_username_of(o->submitter)) != NULL)
		*sender = strfmt("%s@%s", user, (*acct)->domain);
	if (*sender != NULL)
		e = PX_OK;
out:
	if (e == PX_SOFTWARE && *err == NULL)
		*err = strdup("out of memory");
	free(fsender);
	free(user);
	return e;
}

/*
 * Works out account, envelope sender and recipients, and completes the
 * header: Bcc removed, Date, Message-ID, From, To added when missing, and
 * a Received: field naming the submitting user.
 */
static enum px_err
complete(struct msgctx *m, struct hdr_block *h)
{
	const struct opts *o = m->o;
	struct envelope *e = m->env;
	struct strlist raw;
	char *user = NULL, *name = NULL, *tmp, *from;
	enum px_err err = PX_SOFTWARE;
	const char *const *set;
	static const char *const plain[] = { "To", "Cc", "Bcc", NULL };
	static const char *const resent[] = { "Resent-To", "Resent-Cc", "Resent-Bcc", NULL };

	sl_init(&raw);
	if (o->extract) {
		set = (hdr_count(h, "Resent-To") || hdr_count(h, "Resent-Cc") ||
		    hdr_count(h, "Resent-Bcc")) ? resent : plain;
		for (; *set; set++)
			if (collect(h, *set, &raw) == -1)
				goto out;
	}
	hdr_remove(h, "Bcc");
	hdr_remove(h, "Resent-Bcc");

	if ((err = message_envelope(m->cfg, o, &m->acct, &e->sender, &m->errmsg)) != PX_OK)
		goto out;
	err = PX_SOFTWARE;
	e->account = strdup(m->acct->name);
	if ((user = util_username_of(o->submitter)) == NULL)
		goto out;

	/* The command line's recipients must all be addresses; a header's garbage is skipped. */
	err = rcpts_resolve(m->cfg, m->acct->domain, &o->rcpts, &e->rcpts, 1, &m->errmsg);
	if (err == PX_OK)
		err = rcpts_resolve(m->cfg, m->acct->domain, &raw, &e->rcpts, 0, &m->errmsg);
	if (err != PX_OK)
		goto out;
	err = PX_SOFTWARE;
	if (e->rcpts.n == 0) {
		m->errmsg = strdup(o->extract ? "no recipients: none given and none in "
		    "To, Cc or Bcc" : "no recipients given");
		err = PX_USAGE;
		goto out;
	}

	/* Header completion. */
	if (rewrite_from(h, m->acct) == -1 || qualify_fields(h, m->acct) == -1)
		goto out;
	if (hdr_count(h, "From") == 0) {
		name = o->fullname ? strdup(o->fullname) : util_fullname_of(o->submitter);
		from = *e->sender ? e->sender : NULL;
		tmp = NULL;
		if (from == NULL)
			from = tmp = m->acct->from ? strdup(m->acct->from) :
			    strfmt("%s@%s", user, m->acct->domain);
		from = addr_format(name, from);
		free(tmp);
		if (from == NULL || hdr_append(h, "From", from) == -1) {
			free(from);
			goto out;
		}
		free(from);
	}
	if (hdr_count(h, "Date") == 0) {
		tmp = util_rfc5322_date(time(NULL));
		if (tmp == NULL || hdr_append(h, "Date", tmp) == -1) {
			free(tmp);
			goto out;
		}
		free(tmp);
	}
	if (hdr_count(h, "Message-ID") == 0) {
		tmp = message_id(m->acct->domain);
		if (tmp == NULL || hdr_append(h, "Message-ID", tmp) == -1) {
			free(tmp);
			goto out;
		}
		free(tmp);
	}
	if (hdr_count(h, "To") == 0 && hdr_count(h, "Cc") == 0 &&
	    hdr_append(h, "To", "undisclosed-recipients:;") == -1)
		goto out;
	if (o->subject) {
		tmp = mime_2047_encode(o->subject);
		if (tmp == NULL || hdr_set(h, "Subject", tmp) == -1) {
			free(tmp);
			goto out;
		}
		free(tmp);
	}
	/* Also when root's queue run completes a user's saved message. */
	if ((getegid() != getgid() || o->submitter != getuid()) && add_received(m, h, user) == -1)
		goto out;
	/* SMTP allows 998 octets a line; fold longer header lines at white space. */
	if (hdr_fold_long(h, SMTP_LINE_MAX) == -1)
		goto out;
	err = PX_OK;
out:
	if (err == PX_SOFTWARE && m->errmsg == NULL)
		m->errmsg = strdup("out of memory");
	sl_free(&raw);
	free(user);
	free(name);
	return err;
}

/* 1 if any of the n bytes has the high bit. */
static int
has8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return 1;
	return 0;
}

/* Writes the body, piece by piece, with the lone-dot rule. */
enum px_err
copy_body(struct msgctx *m, struct reader *r, const char *first, size_t firstlen,
    int have_first, FILE *out, struct bodyinfo *bi)
{
	const char *p;
	size_t n, linelen = 0;
	int eol, rv, at_start = 1, pending_dot = 0, partial = 0;
	int dot = m->o->dot_ends;

	if (have_first) {
		/* The first body line came in while reading the header. */
		if (dot && firstlen >= 2 && first[0] == '.' && first[1] == '.') {
			first++;
			firstlen--;
		}
		if (firstlen > SMTP_LINE_MAX)
			bi->long_line = 1;
		if (memchr(first, '\0', firstlen))
			bi->nul = 1;
		bi->eightbit |= has8bit(first, firstlen);
		if (fwrite(first, 1, firstlen, out) != firstlen || fputs("\r\n", out) == EOF)
			goto ioerr;
	}
	for (;;) {
		rv = rd_next(r, &p, &n, &eol);
		if (rv == -1) {
			m->errmsg = strfmt("cannot read the message: %s", strerror(errno));
			return PX_IOERR;
		}
		if (rv == 0)
			break;
		if (at_start && dot) {
			if (pending_dot) {
				pending_dot = 0;
				if (n == 0 && eol) {
					m->dot_seen = 1;	/* ".\r" split across reads */
					return PX_OK;
				}
				if (n > 0 && p[0] == '.') {
					/* ".." -> "." */
				} else if (fputc('.', out) == EOF)
					goto ioerr;
				linelen++;
			} else if (n == 1 && p[0] == '.') {
				if (eol) {
					m->dot_seen = 1;	/* a lone "." ends the message */
					return PX_OK;
				}
				pending_dot = 1;
				at_start = 1;
				continue;
			} else if (n >= 2 && p[0] == '.' && p[1] == '.') {
				p++;
				n--;
			}
		}
		bi->bytes += n + 2;
		if (m->o->max_size && bi->bytes > m->o->max_size) {
			m->too_big = 1;
			m->errmsg = strfmt("the message is larger than %lld bytes",
			    (long long)m->o->max_size);
			return PX_DATA;
		}
		if (n && memchr(p, '\0', n))
			bi->nul = 1;
		if (!bi->eightbit)
			bi->eightbit = has8bit(p, n);
		linelen += n;
		if (linelen > SMTP_LINE_MAX)
			bi->long_line = 1;
		if (n && fwrite(p, 1, n, out) != n)
			goto ioerr;
		partial = !eol;
		if (eol) {
			if (fputs("\r\n", out) == EOF)
				goto ioerr;
			linelen = 0;
			at_start = 1;
		} else
			at_start = 0;
	}
	if (pending_dot && dot)
		return PX_OK;	/* input ended with a lone "." and no newline */
	if (partial && fputs("\r\n", out) == EOF)
		goto ioerr;
	return PX_OK;
ioerr:
	m->errmsg = strfmt("cannot write the spool file: %s", strerror(errno));
	return PX_IOERR;
}

/* Reads the header block; *first gets a body line read too early, if any. */
static enum px_err
read_header(struct msgctx *m, struct reader *r, struct hdr_block *h, struct sbuf *line,
    int *have_first, int *ended)
{
	const char *p;
	size_t n;
	int eol, rv, lines = 0, add;

	*have_first = 0;
	*ended = 0;
	for (;;) {
		sb_reset(line);
		eol = 0;
		rv = 0;
		while (!eol) {
			rv = rd_next(r, &p, &n, &eol);
			if (rv <= 0)
				break;
			if (line->len + n > MAX_HEADER_BYTES) {
				m->errmsg = strfmt("header line %d is longer than %u bytes",
				    lines + 1, MAX_HEADER_BYTES);
				return PX_DATA;
			}
			if (sb_addn(line, p, n) == -1) {
				m->errmsg = strdup("out of memory");
				return PX_SOFTWARE;
			}
		}
		if (rv == -1) {
			m->errmsg = strfmt("cannot read the message: %s", strerror(errno));
			return PX_IOERR;
		}
		if (rv == 0 && line->len == 0) {
			*ended = 1;	/* end of input inside or right after the header */
			return PX_OK;
		}
		lines++;
		if (m->o->dot_ends && line->len == 1 && line->s[0] == '.') {
			*ended = 1;
			m->dot_seen = 1;
			return PX_OK;
		}
		if (line->len == 0)
			return PX_OK;	/* the empty line that ends the header */
		if (lines == 1 && strncmp(line->s, "From ", 5) == 0)
			continue;	/* an mbox "From " line: not part of the message */
		add = 1;
		if (memchr(line->s, '\0', line->len) != NULL) {
			if (hdr_name_len(line->s, line->len) == 0 && line->s[0] != ' ' &&
			    line->s[0] != '\t')
				add = 0;	/* body text: the encoder deals with the NUL */
			else {
				m->errmsg = strfmt("header line %d holds a NUL byte", lines);
				return PX_DATA;
			}
		}
		if (hdr_name_len(line->s, line->len) > SMTP_LINE_MAX - 2) {
			m->errmsg = strfmt("header line %d: a field name longer than %d octets",
			    lines, SMTP_LINE_MAX - 2);
			return PX_DATA;
		}
		rv = add ? hdr_add_line(h, line->s, line->len) : 1;
		if (rv == -1) {
			m->errmsg = strdup("out of memory");
			return PX_SOFTWARE;
		}
		if (rv == 1) {
			/* Not a header field: the message has no (more) header. */
			*have_first = 1;
			return PX_OK;
		}
		if (h->n > MAX_HEADER_FIELDS || h->bytes > MAX_HEADER_BYTES) {
			m->errmsg = strfmt("the header is larger than %u fields or %u bytes",
			    MAX_HEADER_FIELDS, MAX_HEADER_BYTES);
			return PX_DATA;
		}
	}
}

static int
put_file(void *arg, const char *s, size_t n)
{
	return fwrite(s, 1, n, (FILE *)arg) == n ? 0 : -1;
}

/*
 * A body with lines too long for SMTP or with NUL bytes cannot travel as
 * it is.  A single-part message is re-encoded as quoted-printable, which
 * keeps every byte; a multipart one has its long lines broken (and a NUL
 * refused), as no single encoding can be laid over it.
 */
static enum px_err
reencode(struct msgctx *m, struct hdr_block *h, FILE *spool, const struct bodyinfo *bi, FILE *out)
{
	char *ct = hdr_get(h, "Content-Type"), *cte = hdr_get(h, "Content-Transfer-Encoding");
	int multipart = ct && strcaseprefix(ct, "multipart/");
	int encodable = !multipart && (cte == NULL || strcasecmp(cte, "7bit") == 0 ||
	    strcasecmp(cte, "8bit") == 0 || strcasecmp(cte, "binary") == 0);
	struct reader r;
	struct mime_qp qp;
	const char *p;
	size_t n, col = 0;
	int eol, rv;
	enum px_err err = PX_IOERR;

	if (!encodable && bi->nul) {
		m->errmsg = strdup(multipart ? "the message holds a NUL byte inside a "
		    "multipart body" : "the message holds a NUL byte in an encoded body");
		free(ct);
		free(cte);
		return PX_DATA;
	}
	if (encodable) {
		hdr_remove(h, "Content-Transfer-Encoding");
		if (hdr_count(h, "MIME-Version") == 0 && hdr_append(h, "MIME-Version", "1.0") == -1)
			goto nomem;
		if (ct == NULL && hdr_append(h, "Content-Type",
		    "text/plain; charset=utf-8") == -1)
			goto nomem;
		if (hdr_append(h, "Content-Transfer-Encoding", "quoted-printable") == -1)
			goto nomem;
	}
	if (hdr_write(h, out) == -1 || fputs("\r\n", out) == EOF)
		goto ioerr;
	fflush(spool);
	if (rd_init(&r, fileno(spool), READ_BUF) == -1)
		goto nomem;
	if (lseek(fileno(spool), bi->offset, SEEK_SET) == -1) {
		rd_free(&r);
		goto ioerr;
	}
	mime_qp_init(&qp);
	while ((rv = rd_next(&r, &p, &n, &eol)) == 1) {
		if (encodable) {
			if (mime_qp_feed(&qp, p, n, put_file, out) == -1 ||
			    (eol && mime_qp_eol(&qp, put_file, out) == -1))
				break;
			continue;
		}
		/* Break long lines: a CRLF every SMTP_LINE_MAX octets. */
		while (n > 0) {
			size_t take = n;

			if (col + take > SMTP_LINE_MAX)
				take = SMTP_LINE_MAX - col;
			if (fwrite(p, 1, take, out) != take)
				break;
			p += take;
			n -= take;
			col += take;
			if (col == SMTP_LINE_MAX && (n > 0 || !eol)) {
				if (fputs("\r\n", out) == EOF)
					break;
				col = 0;
			}
		}
		if (eol) {
			if (fputs("\r\n", out) == EOF)
				break;
			col = 0;
		}
	}
	rd_free(&r);
	if (rv != 0 || ferror(out))
		goto ioerr;
	log_info("lines over %d bytes%s: the body was %s", SMTP_LINE_MAX,
	    bi->nul ? " or NUL bytes" : "", encodable ? "encoded as quoted-printable" :
	    "broken into shorter lines");
	err = PX_OK;
	goto out;
nomem:
	m->errmsg = strdup("out of memory");
	err = PX_SOFTWARE;
	goto out;
ioerr:
	m->errmsg = strfmt("cannot write the spool file: %s", strerror(errno));
out:
	free(ct);
	free(cte);
	return err;
}

/* Copies fd from offset to its end into out. */
static int
copy_range(int fd, off_t off, FILE *out)
{
	char buf[65536];
	ssize_t k;

	for (;;) {
		k = pread(fd, buf, sizeof buf, off);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			return k == 0 ? 0 : -1;
		if (fwrite(buf, 1, (size_t)k, out) != (size_t)k)
			return -1;
		off += k;
	}
}

enum px_err
message_read(struct msgctx *m, struct reader *r, FILE *out)
{
	struct hdr_block h;
	struct sbuf line;
	struct bodyinfo bi;
	enum px_err err;
	int have_first = 0, ended = 0;
	FILE *body = NULL;

	memset(&bi, 0, sizeof bi);
	hdr_init(&h);
	sb_init(&line);
	m->dot_seen = 0;
	err = read_header(m, r, &h, &line, &have_first, &ended);
	if (err != PX_OK)
		goto out;
	if ((err = complete(m, &h)) != PX_OK)
		goto out;
	if (m->o->attach.n > 0) {
		err = attach_wrap(m, &h, ended ? NULL : r, line.s, line.len, have_first, out);
		if (err == PX_OK)
			m->env->size = ftell(out);
		goto out;
	}
	/*
	 * The header goes out first; the body follows.  If the body turns out
	 * to need encoding it is written to a scratch file first.
	 */
	if (hdr_write(&h, out) == -1 || fputs("\r\n", out) == EOF) {
		m->errmsg = strfmt("cannot write the spool file: %s", strerror(errno));
		err = PX_IOERR;
		goto out;
	}
	if (!ended) {
		long before = ftell(out);

		err = copy_body(m, r, line.s, line.len, have_first, out, &bi);
		if (err != PX_OK)
			goto out;
		if (bi.long_line || bi.nul) {
			/* Move the body aside, then write header and encoded body again. */
			bi.offset = before;
			if ((body = tmpfile()) == NULL) {
				m->errmsg = strfmt("cannot create a scratch file: %s",
				    strerror(errno));
				err = PX_IOERR;
				goto out;
			}
			err = PX_IOERR;
			if (fflush(out) == EOF || copy_range(fileno(out), before, body) == -1 ||
			    fflush(body) == EOF || ftruncate(fileno(out), 0) == -1 ||
			    fseek(out, 0, SEEK_SET) == -1) {
				m->errmsg = strfmt("cannot write the spool file: %s",
				    strerror(errno));
				goto out;
			}
			bi.offset = 0;
			err = reencode(m, &h, body, &bi, out);
		}
	}
	m->env->size = ftell(out);
out:
	if (body)
		fclose(body);
	sb_free(&line);
	hdr_free(&h);
	return err;
}

enum px_err
message_finish(struct msgctx *m, enum px_err e, struct submit_result *res)
{
	res->dot_seen = m->dot_seen;
	res->too_big = m->too_big;
	if (e == PX_OK && m->o->need_dot && !m->dot_seen) {
		free(m->errmsg);
		m->errmsg = strdup("the input ended inside DATA");
		e = PX_DATA;
	}
	if (e != PX_OK) {
		res->err = e;
		res->msg = m->errmsg ? m->errmsg : strdup("cannot read the message");
		m->errmsg = NULL;
	}
	return e;
}
