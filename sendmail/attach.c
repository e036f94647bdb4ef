/*
 * attach.c: --attach.  The message read from the caller becomes the first
 * part of a multipart/mixed message; each file follows as a base64 part.
 * Everything streams: the text part goes through a scratch file (its
 * charset must be known before it is written), the files are read in
 * blocks.
 *
 * A setgid sendmail may read the spool and the system configuration; the
 * caller must not borrow that.  So each file is opened once, at the start,
 * with the caller's real rights (util_open_real), and read only through that
 * descriptor: swapping a symbolic link while standard input is held open
 * changes nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mime.h"
#include "reader.h"
#include "sendmail.h"

#ifndef MIME_TYPES
#define MIME_TYPES "/etc/mime.types"
#endif

/* Used when /etc/mime.types is missing or does not know the extension. */
static const char *const builtin_types[][2] = {
	{ "txt", "text/plain" }, { "log", "text/plain" }, { "csv", "text/csv" },
	{ "html", "text/html" }, { "htm", "text/html" }, { "pdf", "application/pdf" },
	{ "png", "image/png" }, { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "gif", "image/gif" }, { "zip", "application/zip" }, { "gz", "application/gzip" },
	{ "json", "application/json" }, { "xml", "application/xml" },
	{ "tar", "application/x-tar" },
};

/* The MIME type for a file name, from mime.types by extension; malloc'd. */
static char *
type_for(const char *file)
{
	const char *slash = strrchr(file, '/'), *dot;
	FILE *fp;
	char *line = NULL, *type, *ext, *save = NULL, *r = NULL;
	size_t cap = 0, i;

	dot = strrchr(slash ? slash + 1 : file, '.');
	if (dot == NULL || dot[1] == '\0')
		return strdup("application/octet-stream");
	dot++;
	if ((fp = fopen(MIME_TYPES, "re")) != NULL) {
		while (r == NULL && getline(&line, &cap, fp) > 0) {
			if (line[0] == '#')
				continue;
			if ((type = strtok_r(line, " \t\r\n", &save)) == NULL)
				continue;
			while ((ext = strtok_r(NULL, " \t\r\n", &save)) != NULL)
				if (strcasecmp(ext, dot) == 0) {
					r = strdup(type);
					break;
				}
		}
		free(line);
		fclose(fp);
	}
	for (i = 0; r == NULL && i < sizeof builtin_types / sizeof builtin_types[0]; i++)
		if (strcasecmp(builtin_types[i][0], dot) == 0)
			r = strdup(builtin_types[i][1]);
	return r ? r : strdup("application/octet-stream");
}

int
attach_open(struct opts *o, char **err)
{
	struct stat st;
	size_t i;
	int fd, fl;

	*err = NULL;
	if (o->attach.n == 0)
		return 0;
	if ((o->attach_fd = malloc(o->attach.n * sizeof *o->attach_fd)) == NULL) {
		*err = strdup("out of memory");
		return -1;
	}
	for (i = 0; i < o->attach.n; i++)
		o->attach_fd[i] = -1;
	for (i = 0; i < o->attach.n; i++) {
		/* O_NONBLOCK: a FIFO (bash's <(...)) must not hang the open. */
		fd = util_open_real(o->attach.v[i], O_RDONLY | O_NOCTTY | O_NONBLOCK);
		if (fd == -1 || fstat(fd, &st) == -1 || S_ISDIR(st.st_mode) ||
		    (fl = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
			*err = strfmt("cannot read attachment %s: %s", o->attach.v[i],
			    fd != -1 && S_ISDIR(st.st_mode) ? "it is a directory" : strerror(errno));
			if (fd != -1)
				close(fd);
			attach_close(o);
			return -1;
		}
		o->attach_fd[i] = fd;
	}
	return 0;
}

void
attach_close(struct opts *o)
{
	size_t i;

	if (o->attach_fd == NULL)
		return;
	for (i = 0; i < o->attach.n; i++)
		if (o->attach_fd[i] != -1)
			close(o->attach_fd[i]);
	free(o->attach_fd);
	o->attach_fd = NULL;
}

static int
put_file(void *arg, const char *s, size_t n)
{
	return fwrite(s, 1, n, (FILE *)arg) == n ? 0 : -1;
}

/* Streams fd as base64 lines of 76 characters. */
static int
write_base64(int fd, FILE *out)
{
	unsigned char buf[57 * 1024];
	size_t have = 0, i;
	ssize_t k;
	char *enc;

	for (;;) {
		k = read(fd, buf + have, sizeof buf - have);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return -1;
		have += (size_t)k;
		if (have < sizeof buf && k > 0)
			continue;
		for (i = 0; i < have; i += 57) {
			size_t n = have - i < 57 ? have - i : 57;

			if ((enc = mime_b64_encode(buf + i, n)) == NULL)
				return -1;
			if (fputs(enc, out) == EOF || fputs("\r\n", out) == EOF) {
				free(enc);
				return -1;
			}
			free(enc);
		}
		have = 0;
		if (k == 0)
			return 0;
	}
}

/* The text part: headers from the original message, the body as it must travel. */
static enum px_err
write_text_part(struct msgctx *m, char *ct, char *cte, FILE *body, const struct bodyinfo *bi,
    FILE *out)
{
	struct reader r;
	struct mime_qp qp;
	const char *p;
	size_t n;
	int eol, rv;
	int asis = !bi->long_line && !bi->nul && (!bi->eightbit || cte);

	if (ct)
		fprintf(out, "Content-Type: %s\r\n", ct);
	else
		fprintf(out, "Content-Type: text/plain; charset=%s\r\n", !bi->eightbit ?
		    "us-ascii" : "utf-8");
	if (asis) {
		if (cte)
			fprintf(out, "Content-Transfer-Encoding: %s\r\n", cte);
		fputs("\r\n", out);
		return ferror(out) ? PX_IOERR : PX_OK;
	}
	if (cte && strcasecmp(cte, "7bit") != 0 && strcasecmp(cte, "8bit") != 0 &&
	    strcasecmp(cte, "binary") != 0) {
		m->errmsg = strfmt("the text is %s-encoded but has lines over %d bytes or NUL bytes",
		    cte, SMTP_LINE_MAX);
		return PX_DATA;
	}
	fputs("Content-Transfer-Encoding: quoted-printable\r\n\r\n", out);
	if (rd_init(&r, fileno(body), READ_BUF) == -1)
		return PX_SOFTWARE;
	mime_qp_init(&qp);
	while ((rv = rd_next(&r, &p, &n, &eol)) == 1)
		if (mime_qp_feed(&qp, p, n, put_file, out) == -1 ||
		    (eol && mime_qp_eol(&qp, put_file, out) == -1)) {
			rv = -1;
			break;
		}
	rd_free(&r);
	return rv == 0 && !ferror(out) ? PX_OK : PX_IOERR;
}

static int
copy_fp(FILE *in, FILE *out)
{
	char buf[65536];
	size_t k;

	while ((k = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, k, out) != k)
			return -1;
	return ferror(in) ? -1 : 0;
}

enum px_err
attach_wrap(struct msgctx *m, struct hdr_block *h, struct reader *r, const char *first,
    size_t firstlen, int have_first, FILE *out)
{
	const struct opts *o = m->o;
	char *ct = hdr_get(h, "Content-Type"), *cte = hdr_get(h, "Content-Transfer-Encoding");
	char boundary[64], *type = NULL, *name = NULL, *base;
	struct bodyinfo bi;
	FILE *body = NULL;
	enum px_err err = PX_IOERR;
	size_t i;

	memset(&bi, 0, sizeof bi);
	if (o->attach_fd == NULL) {
		m->errmsg = strdup("the attachments were not opened");
		err = PX_SOFTWARE;
		goto out;
	}
	if ((body = tmpfile()) == NULL) {
		m->errmsg = strfmt("cannot create a scratch file: %s", strerror(errno));
		goto out;
	}
	if (r && (err = copy_body(m, r, first, firstlen, have_first, body, &bi)) != PX_OK)
		goto out;
	err = PX_IOERR;
	if (fflush(body) == EOF || fseek(body, 0, SEEK_SET) == -1)
		goto ioerr;
	snprintf(boundary, sizeof boundary, "=_postie_%lx_%lx", (unsigned long)time(NULL),
	    (unsigned long)getpid() * 2654435761UL % 0xffffffffUL);
	hdr_remove(h, "Content-Type");
	hdr_remove(h, "Content-Transfer-Encoding");
	hdr_remove(h, "MIME-Version");
	if (hdr_append(h, "MIME-Version", "1.0") == -1)
		goto nomem;
	if ((name = strfmt("multipart/mixed; boundary=\"%s\"", boundary)) == NULL ||
	    hdr_append(h, "Content-Type", name) == -1)
		goto nomem;
	free(name);
	name = NULL;
	if (hdr_write(h, out) == -1)
		goto ioerr;
	fprintf(out, "\r\nThis is a MIME message in %zu parts.\r\n\r\n--%s\r\n",
	    o->attach.n + 1, boundary);
	if ((err = write_text_part(m, ct, cte, body, &bi, out)) != PX_OK)
		goto out;
	err = PX_IOERR;
	if (!(bi.long_line || bi.nul || (bi.eightbit && !cte))) {
		if (fseek(body, 0, SEEK_SET) == -1 || copy_fp(body, out) == -1)
			goto ioerr;
	}
	for (i = 0; i < o->attach.n; i++) {
		base = strrchr(o->attach.v[i], '/');
		base = base ? base + 1 : o->attach.v[i];
		type = *o->attach_type.v[i] ? strdup(o->attach_type.v[i]) :
		    type_for(o->attach.v[i]);
		if (type == NULL)
			goto nomem;
		fprintf(out, "\r\n--%s\r\n", boundary);
		if ((name = mime_2231_param("name", base)) == NULL)
			goto nomem;
		fprintf(out, "Content-Type: %s; %s\r\n", type, name);
		free(name);
		if ((name = mime_2231_param("filename", base)) == NULL)
			goto nomem;
		fprintf(out, "Content-Disposition: attachment; %s\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\n", name);
		free(name);
		name = NULL;
		free(type);
		type = NULL;
		if (write_base64(o->attach_fd[i], out) == -1) {
			m->errmsg = strfmt("cannot read attachment %s: %s", o->attach.v[i],
			    strerror(errno));
			err = PX_NOINPUT;
			goto out;
		}
	}
	fprintf(out, "\r\n--%s--\r\n", boundary);
	err = ferror(out) ? PX_IOERR : PX_OK;
	if (err == PX_OK)
		goto out;
ioerr:
	m->errmsg = strfmt("cannot write the spool file: %s", strerror(errno));
	err = PX_IOERR;
	goto out;
nomem:
	m->errmsg = strdup("out of memory");
	err = PX_SOFTWARE;
out:
	if (body)
		fclose(body);
	free(ct);
	free(cte);
	free(type);
	free(name);
	return err;
}
