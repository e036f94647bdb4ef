/*
 * uidl.c: what popfetch remembers about an account between polls, and the
 * lock that keeps two popfetch processes off one account.
 *
 * Files in the state directory, named after the account name, user and
 * host (so that pointing an account at another server starts afresh):
 *   NAME_USER@HOST.uidl   "# popfetch uidl v1" then one UIDL per line: the
 *                         messages already delivered that are still on the
 *                         server (entries for vanished messages are dropped)
 *   NAME_USER@HOST.lock   fcntl-locked while a poll runs; holds the pid
 * The UIDL file is replaced atomically: temp file, fsync, rename, fsync dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "popfetch.h"

#define UIDL_MAGIC	"# popfetch uidl v1\n"

char *
us_state_dir(void)
{
	const char *x;
	char *home, *r;

	if ((x = getenv("XDG_STATE_HOME")) != NULL && *x == '/')
		return strfmt("%s/postie/popfetch", x);
	if (getuid() == 0)
		return strdup("/var/lib/postie/popfetch");
	if ((home = util_home()) == NULL)
		return NULL;
	r = strfmt("%s/.local/state/postie/popfetch", home);
	free(home);
	return r;
}

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
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the UIDL file; a missing file is an empty state. */
static enum px_err
load(struct ustate *s, char **msg)
{
	FILE *fp;
	char *line = NULL, **nv;
	size_t cap = 0, vcap = 0;
	ssize_t len;

	if ((fp = fopen(s->path, "re")) == NULL) {
		if (errno == ENOENT)
			return PX_OK;
		*msg = strfmt("cannot read %s: %s", s->path, strerror(errno));
		return PX_IOERR;
	}
	while ((len = getline(&line, &cap, fp)) != -1) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (s->n == vcap) {
			vcap = vcap ? vcap * 2 : 64;
			if ((nv = realloc(s->v, vcap * sizeof *nv)) == NULL)
				goto oom;
			s->v = nv;
		}
		if ((s->v[s->n] = strdup(line)) == NULL)
			goto oom;
		s->n++;
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
		qsort(s->v, s->n, sizeof *s->v, cmp_str);
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
	if ((s->dir = us_state_dir()) == NULL) {
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

int
us_has(const struct ustate *s, const char *uidl)
{
	if (uidl == NULL || s->n == 0)
		return 0;
	return bsearch(&uidl, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
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
		if (v[i].uidl && (v[i].seen || v[i].done)) {
			sb_adds(&b, v[i].uidl);
			sb_addc(&b, '\n');
		}
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
	if (fsync_dir(s->dir) == -1) {
		*msg = strfmt("cannot sync %s: %s", s->dir, strerror(errno));
		free(tmp);
		sb_free(&b);
		return PX_IOERR;
	}
	free(tmp);
	sb_free(&b);
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
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	if (s->lockfd != -1)
		close(s->lockfd);	/* releases the fcntl lock */
	free(s->dir);
	free(s->path);
	free(s->lockpath);
	memset(s, 0, sizeof *s);
	s->lockfd = -1;
}
