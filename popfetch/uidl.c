/*
 * uidl.c: what popfetch remembers about an account between polls, and the
 * lock that keeps two popfetch processes off one account.
 *
 * Files in the state directory, named after the account name, user and
 * host (so that pointing an account at another server starts afresh):
 *   NAME_USER@HOST.uidl   "# popfetch uidl v2" then "UIDL SIZE" per line:
 *                         the messages already delivered that are still on
 *                         the server, each with the size LIST gave it
 *   NAME_USER@HOST.lock   fcntl-locked while a poll runs; holds the pid
 *
 * Only what is still on the server is kept: the messages a poll deleted
 * are dropped once QUIT's +OK has expunged them, and entries for messages
 * that are gone are dropped at the next save.  RFC 1939 lets a server give
 * the UIDL of a deleted message to a new one (Dovecot does, for a mailbox
 * recreated within a second), so a message counts as delivered before only
 * when its UIDL and its size both match an entry.  Version 1 files (one
 * UIDL per line, no size) are still read: their entries match on the UIDL
 * alone until the next save writes the sizes LIST gave.
 * The UIDL file is replaced atomically: temp file, fsync, rename, fsync dir.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "popfetch.h"

#define UIDL_MAGIC	"# popfetch uidl v2\n"
#define UIDL_MAGIC_V1	"# popfetch uidl v1"

/* Appends s with everything but [A-Za-z0-9.@+=-] written as %XX. */
static void
add_safe(struct sbuf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || (*p && strchr(".@+=-", *p) && !(p ==
		    (const unsigned char *)s && *p == '.')))
			sb_addc(b, (char)*p);
		else
			sb_printf(b, "%%%02X", *p);
	}
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct us_entry *)a)->uidl, ((const struct us_entry *)b)->uidl);
}

/*
 * One line of the file: "UIDL SIZE" (v2) or "UIDL" (v1, size unknown).
 * 0, or -1 for a line that is neither.
 */
static int
parse_line(char *line, struct us_entry *e)
{
	char *sp, *end;
	long long size = -1;

	if ((sp = strchr(line, ' ')) != NULL) {
		*sp = '\0';
		size = strtoll(sp + 1, &end, 10);
		if (end == sp + 1 || *end != '\0' || size < 0)
			return -1;
	}
	if (*line == '\0' || strlen(line) > UIDL_MAX)
		return -1;
	e->uidl = line;
	e->size = size;
	return 0;
}

/* Reads the UIDL file; a missing file is an empty state. */
static enum px_err
load(struct ustate *s, char **msg)
{
	FILE *fp;
	char *line = NULL;
	struct us_entry e, *nv;
	size_t cap = 0, vcap = 0;
	ssize_t len;
	unsigned long lineno = 0;

	if ((fp = fopen(s->path, "re")) == NULL) {
		if (errno == ENOENT)
			return PX_OK;
		*msg = strfmt("cannot read %s: %s", s->path, strerror(errno));
		return PX_IOERR;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (lineno == 1 && strcmp(line, UIDL_MAGIC_V1) == 0)
			s->rewrite = 1;
		/* Only the first line is a comment: a UIDL may start with '#'. */
		if (len == 0 || (lineno == 1 && line[0] == '#'))
			continue;
		if (parse_line(line, &e) == -1) {
			*msg = strfmt("%s, line %lu: not a UIDL and a size; remove the file to "
			    "fetch every message on the server again", s->path, lineno);
			free(line);
			fclose(fp);
			return PX_DATA;
		}
		if (e.size < 0)
			s->rewrite = 1;
		if (s->n == vcap) {
			vcap = vcap ? vcap * 2 : 64;
			if ((nv = realloc(s->v, vcap * sizeof *nv)) == NULL)
				goto oom;
			s->v = nv;
		}
		if ((s->v[s->n].uidl = strdup(e.uidl)) == NULL)
			goto oom;
		s->v[s->n++].size = e.size;
	}
	if (ferror(fp)) {
		*msg = strfmt("cannot read %s: %s", s->path, strerror(errno));
		free(line);
		fclose(fp);
		return PX_IOERR;
	}
	free(line);
	fclose(fp);
	if (s->n > 1)
		qsort(s->v, s->n, sizeof *s->v, cmp_entry);
	return PX_OK;
oom:
	free(line);
	fclose(fp);
	*msg = strdup("out of memory");
	return PX_SOFTWARE;
}

/* Takes the account lock, or says who holds it. */
static enum px_err
lock(struct ustate *s, char **msg)
{
	struct flock fl;
	char buf[32];
	ssize_t r;
	long pid;

	s->lockfd = open(s->lockpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lockfd == -1) {
		*msg = strfmt("cannot open %s: %s", s->lockpath, strerror(errno));
		return PX_CANTCREAT;
	}
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(s->lockfd, F_SETLK, &fl) == -1) {
		if (errno != EAGAIN && errno != EACCES) {
			*msg = strfmt("cannot lock %s: %s", s->lockpath, strerror(errno));
			return PX_CANTCREAT;
		}
		pid = 0;
		if (fcntl(s->lockfd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			pid = fl.l_pid;
		if (pid == 0 && (r = pread(s->lockfd, buf, sizeof buf - 1, 0)) > 0) {
			buf[r] = '\0';
			pid = strtol(buf, NULL, 10);
		}
		*msg = strfmt("account is being polled by another popfetch (process %ld)", pid);
		close(s->lockfd);
		s->lockfd = -1;
		return PX_TEMPFAIL;
	}
	snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(s->lockfd, 0) == -1 || pwrite(s->lockfd, buf, strlen(buf), 0) == -1)
		log_info("%s: %s", s->lockpath, strerror(errno));
	return PX_OK;
}

enum px_err
us_open(struct ustate *s, const struct pop3_account *a, char **msg)
{
	struct sbuf key;
	enum px_err e;

	*msg = NULL;
	memset(s, 0, sizeof *s);
	s->lockfd = -1;
	if ((s->dir = util_state_dir("popfetch")) == NULL) {
		*msg = strdup("cannot find the home directory for the state files");
		return PX_CANTCREAT;
	}
	if (mkdir_p(s->dir, 0700) == -1) {
		*msg = strfmt("cannot create %s: %s", s->dir, strerror(errno));
		return PX_CANTCREAT;
	}
	sb_init(&key);
	add_safe(&key, a->name);
	sb_addc(&key, '_');
	add_safe(&key, a->net.user);
	sb_addc(&key, '@');
	add_safe(&key, a->net.host);
	if (key.s == NULL) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	s->path = strfmt("%s/%s.uidl", s->dir, key.s);
	s->lockpath = strfmt("%s/%s.lock", s->dir, key.s);
	sb_free(&key);
	if (s->path == NULL || s->lockpath == NULL) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	if ((e = lock(s, msg)) != PX_OK)
		return e;
	return load(s, msg);
}

/* The entry for (uidl, size): an exact match, or one whose size is unknown. */
static const struct us_entry *
find(const struct ustate *s, const char *uidl, long long size)
{
	struct us_entry key;
	const struct us_entry *e, *lo;

	if (uidl == NULL || s->n == 0)
		return NULL;
	key.uidl = (char *)(uintptr_t)uidl;
	if ((e = bsearch(&key, s->v, s->n, sizeof *s->v, cmp_entry)) == NULL)
		return NULL;
	/* Several entries may share a UIDL (a server that repeats one): look at each. */
	for (lo = e; lo > s->v && strcmp(lo[-1].uidl, uidl) == 0; lo--)
		;
	for (e = lo; e < s->v + s->n && strcmp(e->uidl, uidl) == 0; e++)
		if (e->size == size || e->size < 0 || size < 0)
			return e;
	return NULL;
}

int
us_has(const struct ustate *s, const char *uidl, long long size)
{
	return find(s, uidl, size) != NULL;
}

/* The messages the state records: delivered, and still on the server. */
static int
recorded(const struct pop3_msg *m)
{
	return m->uidl && (m->seen || m->done) && !m->gone;
}

int
us_changed(const struct ustate *s, const struct pop3_msg *v, size_t n)
{
	const struct us_entry *e;
	size_t i, k = 0;

	if (s->rewrite)
		return 1;
	for (i = 0; i < n; i++) {
		if (!recorded(&v[i]))
			continue;
		k++;
		if ((e = find(s, v[i].uidl, v[i].size)) == NULL || e->size != v[i].size)
			return 1;
	}
	return k != s->n;
}

static void
free_entries(struct ustate *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].uidl);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* After a save: the entries are what was written. */
static void
replace_entries(struct ustate *s, const struct pop3_msg *v, size_t n)
{
	size_t i, k = 0;

	free_entries(s);
	s->rewrite = 0;
	for (i = 0; i < n; i++)
		k += recorded(&v[i]);
	if (k == 0)
		return;
	if ((s->v = calloc(k, sizeof *s->v)) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if (!recorded(&v[i]))
			continue;
		if ((s->v[s->n].uidl = strdup(v[i].uidl)) == NULL)
			goto oom;
		s->v[s->n++].size = v[i].size > 0 ? v[i].size : 0;
	}
	qsort(s->v, s->n, sizeof *s->v, cmp_entry);
	return;
oom:
	/* The file is right; only this copy is short: the next save writes it again. */
	s->rewrite = 1;
}

enum px_err
us_save(struct ustate *s, const struct pop3_msg *v, size_t n, char **msg)
{
	struct sbuf b;
	char *tmp;
	size_t i;
	int fd;

	*msg = NULL;
	sb_init(&b);
	sb_adds(&b, UIDL_MAGIC);
	for (i = 0; i < n; i++)
		if (recorded(&v[i]))
			sb_printf(&b, "%s %lld\n", v[i].uidl, v[i].size > 0 ? v[i].size : 0);
	if (b.s == NULL || (tmp = strfmt("%s.tmp", s->path)) == NULL) {
		sb_free(&b);
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1 || write_all(fd, b.s, b.len) == -1 || fsync(fd) == -1) {
		*msg = strfmt("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		*msg = strfmt("cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, s->path) == -1) {
		*msg = strfmt("cannot rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	/*
	 * The new state is in place: undoing the batch now would leave it
	 * recording messages that are not delivered.  If it does not survive
	 * a crash, the old one comes back, and the batch is only delivered
	 * twice.
	 */
	if (fsync_dir(s->dir) == -1)
		log_error("cannot sync %s: %s (the state is saved, but may not survive a crash)",
		    s->dir, strerror(errno));
	free(tmp);
	sb_free(&b);
	replace_entries(s, v, n);
	return PX_OK;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(tmp);
	sb_free(&b);
	return PX_IOERR;
}

void
us_close(struct ustate *s)
{
	free_entries(s);
	if (s->lockfd != -1)
		close(s->lockfd);	/* releases the fcntl lock */
	free(s->dir);
	free(s->path);
	free(s->lockpath);
	memset(s, 0, sizeof *s);
	s->lockfd = -1;
}
