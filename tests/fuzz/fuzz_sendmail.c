/*
 * fuzz_sendmail.c: see fuzz_sendmail.h.
 *
 * The temp directory is $POSTIE_FUZZ_TMP when set (make fuzz makes one in
 * /dev/shm and removes it afterwards), else a new one under /dev/shm (or
 * $TMPDIR) that is removed at exit.  A spool on tmpfs keeps the fsyncs of
 * the queue cheap.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_sendmail.h"
#include "log.h"

struct postie_cfg *fz_cfg;
char *fz_attach;
unsigned long fz_sent;
static char *fz_dir;
static int fz_own_dir;
static int fz_memfd = -1;

/* Removes everything below path (not path itself). */
static void
rm_below(const char *path)
{
	DIR *d;
	struct dirent *e;
	struct stat st;
	char *p;

	if ((d = opendir(path)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (asprintf(&p, "%s/%s", path, e->d_name) == -1)
			abort();
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			rm_below(p);
			rmdir(p);
		} else
			unlink(p);
		free(p);
	}
	closedir(d);
}

static void
fz_atexit(void)
{
	if (fz_own_dir && fz_dir) {
		rm_below(fz_dir);
		rmdir(fz_dir);
	}
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	char *p;
	FILE *fp;

	if (asprintf(&p, "%s/%s", dir, name) == -1)
		abort();
	fp = fopen(p, "w");
	FUZZ_CHECK(fp != NULL, "cannot create %s: %s", p, strerror(errno));
	fputs(text, fp);
	FUZZ_CHECK(fclose(fp) == 0, "cannot write %s", p);
	chmod(p, 0600);
	free(p);
}

void
fz_setup(void)
{
	const char *env = getenv("POSTIE_FUZZ_TMP"), *base;
	char *tmpl, *conf, *text, *err = NULL;
	int devnull;

	if (fz_cfg)
		return;
	if (env && *env) {
		fz_dir = strdup(env);
		FUZZ_CHECK(mkdir(fz_dir, 0700) == 0 || errno == EEXIST, "mkdir %s", fz_dir);
	} else {
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
		    (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if (asprintf(&tmpl, "%s/postie-fuzz.XXXXXX", base) == -1)
			abort();
		fz_dir = mkdtemp(tmpl);
		FUZZ_CHECK(fz_dir != NULL, "mkdtemp %s: %s", tmpl, strerror(errno));
		fz_own_dir = 1;
		atexit(fz_atexit);
	}
	write_file(fz_dir, "aliases", "# fuzz aliases\n"
	    "postmaster: root\n"
	    "root: admin@example.org\n"
	    "team: a@example.org, b, \"c d\"@example.org\n"
	    "loop1: loop2\n"
	    "loop2: loop1, x@example.org\n");
	if (asprintf(&text, "domain = \"example.org\"\n"
	    "aliases = \"%s/aliases\"\n"
	    "log = \"none\"\n"
	    "connection_cache = 0\n"	/* no process outlives a run */
	    "queue_dir = \"%s/queue\"\n"
	    "smtp \"default\" {\n"
	    "  host = \"127.0.0.1\"\n  port = 1\n  tls = \"none\"\n  auth = \"none\"\n"
	    "  from = \"me@example.org\"\n}\n"
	    "smtp \"other\" {\n"
	    "  host = \"127.0.0.1\"\n  port = 1\n  tls = \"none\"\n  auth = \"none\"\n"
	    "  from = \"other@example.net\"\n  from_rewrite = \"always\"\n  queue = \"never\"\n}\n",
	    fz_dir, fz_dir) == -1)
		abort();
	write_file(fz_dir, "postie.conf", text);
	if (asprintf(&fz_attach, "%s/aliases", fz_dir) == -1)
		abort();
	free(text);
	if (asprintf(&conf, "%s/postie.conf", fz_dir) == -1)
		abort();
	fz_cfg = conf_load(conf, 1, &err);
	FUZZ_CHECK(fz_cfg != NULL, "conf_load: %s", err ? err : "?");
	free(conf);
	log_setprog("sendmail");
	log_open("none");
	umask(077);
	/* SMTP replies go nowhere; libFuzzer reports on stderr. */
	devnull = open("/dev/null", O_WRONLY);
	FUZZ_CHECK(devnull != -1 && dup2(devnull, STDOUT_FILENO) != -1, "/dev/null");
	close(devnull);
	fz_memfd = memfd_create("fuzz-stdin", 0);
	FUZZ_CHECK(fz_memfd != -1, "memfd_create: %s", strerror(errno));
}

void
fz_stdin(const uint8_t *data, size_t n)
{
	FUZZ_CHECK(ftruncate(fz_memfd, 0) == 0, "ftruncate");
	FUZZ_CHECK(n == 0 || pwrite(fz_memfd, data, n, 0) == (ssize_t)n, "pwrite");
	FUZZ_CHECK(dup2(fz_memfd, STDIN_FILENO) != -1, "dup2");
	FUZZ_CHECK(lseek(STDIN_FILENO, 0, SEEK_SET) == 0, "lseek");
}

void
fz_clean_queue(void)
{
	rm_below(fz_cfg->queue_dir);
}

/* ---- the stand-ins for sendmail/main.c (saved.c replays a command line) ---- */

void
opts_init(struct opts *o)
{
	memset(o, 0, sizeof *o);
}

int
opts_parse(int argc, char **argv, struct opts *o, int *code)
{
	(void)argc;
	(void)argv;
	(void)o;
	*code = EX_USAGE;
	return -1;	/* no saved messages are completed while fuzzing */
}

/* ---- the stand-in for sendmail/smtp.c ---- */

struct smtp_conn {
	struct smtp_account *acct;
	char	 last[64];
	char	*last_error;
	int	 broken;
	int	 in_txn;
};

struct smtp_conn *
smtp_open(struct smtp_account *a, struct postie_cfg *cfg, int verbose)
{
	struct smtp_conn *c = calloc(1, sizeof *c);

	(void)cfg;
	(void)verbose;
	if (c)
		c->acct = a;
	return c;
}

void
smtp_close(struct smtp_conn *c)
{
	if (c)
		free(c->last_error);
	free(c);
}

const char *
smtp_last_reply(struct smtp_conn *c)
{
	return c->last;
}

const char *
smtp_host(struct smtp_conn *c)
{
	return c->acct->net.host;
}

const char *
smtp_tls(struct smtp_conn *c)
{
	return conf_tls_name(c->acct->net.tls);
}

int
smtp_attention(struct smtp_conn *c)
{
	(void)c;
	return 0;
}

int
smtp_failed_at(struct smtp_conn *c)
{
	(void)c;
	return 0;
}

int
smtp_broken(struct smtp_conn *c)
{
	return c->broken;
}

int
smtp_in_transaction(struct smtp_conn *c)
{
	return c->in_txn;
}

void
smtp_set_last_error(struct smtp_conn *c, const char *msg)
{
	free(c->last_error);
	c->last_error = xstrdup(msg);
}

const char *
smtp_last_error(struct smtp_conn *c)
{
	return c->last_error ? c->last_error : "the server failed earlier in this queue run";
}

int
smtp_socket(struct smtp_conn *c)
{
	(void)c;
	return -1;
}

void
smtp_ahead(struct smtp_conn *c, const struct qentry *q)
{
	(void)c;
	(void)q;
}

/* The spooled message as an SMTP server would take it. */
static void
check_spool(const struct qentry *q)
{
	struct stat st;
	char *buf, *hend;
	struct hdr_block h;
	off_t i;
	size_t linelen = 0;
	int in_header = 1;

	FUZZ_CHECK(fstat(q->fd, &st) == 0, "fstat");
	FUZZ_CHECK(st.st_size == q->env.size, "%s: %lld bytes, the envelope says %lld", q->id,
	    (long long)st.st_size, (long long)q->env.size);
	buf = malloc((size_t)st.st_size + 1);
	FUZZ_CHECK(buf != NULL, "malloc");
	FUZZ_CHECK(pread(q->fd, buf, (size_t)st.st_size, 0) == st.st_size, "pread");
	buf[st.st_size] = '\0';
	FUZZ_CHECK(st.st_size >= 2 && buf[st.st_size - 2] == '\r' && buf[st.st_size - 1] == '\n',
	    "the message does not end with CRLF");
	for (i = 0; i < st.st_size; i++) {
		char c = buf[i];

		FUZZ_CHECK(c != '\0', "NUL byte at offset %lld of the spooled message", (long long)i);
		if (c == '\r') {
			FUZZ_CHECK(i + 1 < st.st_size && buf[i + 1] == '\n',
			    "bare CR at offset %lld", (long long)i);
			if (linelen == 0)
				in_header = 0;
			/*
			 * RFC 5321 4.5.3.1.6: 998 octets before the CRLF; header
			 * lines are folded and the body re-encoded to fit.
			 */
			FUZZ_CHECK(linelen <= SMTP_LINE_MAX, "%s line of %zu octets ending at "
			    "offset %lld", in_header ? "header" : "body", linelen, (long long)i);
			linelen = 0;
			i++;
			continue;
		}
		FUZZ_CHECK(c != '\n', "bare LF at offset %lld", (long long)i);
		linelen++;
	}
	hend = strstr(buf, "\r\n\r\n");
	FUZZ_CHECK(hend != NULL, "no empty line after the header");
	hdr_init(&h);
	FUZZ_CHECK(hdr_parse(&h, buf, (size_t)(hend + 2 - buf)) == 0,
	    "the spooled header does not parse");
	FUZZ_CHECK(hdr_count(&h, "From") >= 1, "no From");
	FUZZ_CHECK(hdr_count(&h, "Date") >= 1, "no Date");
	FUZZ_CHECK(hdr_count(&h, "Message-ID") >= 1, "no Message-ID");
	FUZZ_CHECK(hdr_count(&h, "To") + hdr_count(&h, "Cc") >= 1, "no To or Cc");
	FUZZ_CHECK(hdr_count(&h, "Bcc") == 0 && hdr_count(&h, "Resent-Bcc") == 0,
	    "a Bcc left in");
	hdr_free(&h);
	free(buf);
}

enum px_err
smtp_send(struct smtp_conn *c, struct qentry *q, char **msg)
{
	size_t i;
	const char *r;

	*msg = NULL;
	FUZZ_CHECK(q->fd >= 0, "no data file");
	FUZZ_CHECK(q->env.rcpts.n > 0, "%s: no recipients", q->id);
	FUZZ_CHECK(q->env.sender != NULL, "no sender");
	FUZZ_CHECK(*q->env.sender == '\0' || addr_is_valid(q->env.sender),
	    "envelope sender [%s] unsafe", q->env.sender);
	for (i = 0; i < q->env.rcpts.n; i++)
		FUZZ_CHECK(addr_is_valid(q->env.rcpts.v[i]), "recipient [%s] unsafe",
		    q->env.rcpts.v[i]);
	check_spool(q);
	c->broken = 0;
	c->in_txn = 1;
	for (i = 0; i < q->env.rcpts.n; i++) {
		r = q->env.rcpts.v[i];
		if (strstr(r, "tempfail")) {
			snprintf(c->last, sizeof c->last, "451 4.3.0 try later");
			*msg = strdup("451 4.3.0 try later");
			return PX_TEMPFAIL;
		}
		if (strstr(r, "reject")) {
			*msg = strdup("550 5.1.1 no such user");
			return PX_NOUSER;
		}
		if (strstr(r, "noauth")) {
			c->broken = 1;
			c->in_txn = 0;
			*msg = strdup("535 5.7.8 authentication failed");
			return PX_NOPERM;
		}
	}
	snprintf(c->last, sizeof c->last, "250 2.0.0 Ok");
	sl_free(&q->env.rcpts);
	sl_init(&q->env.rcpts);
	fz_sent++;
	return PX_OK;
}
