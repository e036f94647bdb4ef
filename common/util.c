/* util.c: growable strings and lists, passwd lookups, files, dates, commands. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

void
sb_init(struct sbuf *b)
{
	b->s = NULL;
	b->len = b->cap = 0;
}

void
sb_free(struct sbuf *b)
{
	free(b->s);
	sb_init(b);
}

void
sb_reset(struct sbuf *b)
{
	b->len = 0;
	if (b->s)
		b->s[0] = '\0';
}

static int
sb_grow(struct sbuf *b, size_t need)
{
	size_t ncap;
	char *p;

	if (need < b->cap)
		return 0;
	ncap = b->cap ? b->cap : 64;
	while (ncap <= need) {
		if (ncap > ((size_t)-1) / 2)
			return -1;
		ncap *= 2;
	}
	if ((p = realloc(b->s, ncap)) == NULL)
		return -1;
	b->s = p;
	b->cap = ncap;
	return 0;
}

int
sb_addn(struct sbuf *b, const char *s, size_t n)
{
	if (sb_grow(b, b->len + n + 1) == -1)
		return -1;
	if (n)
		memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

int
sb_adds(struct sbuf *b, const char *s)
{
	return sb_addn(b, s, strlen(s));
}

int
sb_addc(struct sbuf *b, char c)
{
	return sb_addn(b, &c, 1);
}

int
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sb_grow(b, b->len + (size_t)n + 1) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

char *
sb_steal(struct sbuf *b)
{
	char *s = b->s;

	if (s == NULL)
		s = calloc(1, 1);
	sb_init(b);
	return s;
}

void
sl_init(struct strlist *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
	l->oom = 0;
}

void
sl_free(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	sl_init(l);
}

int
sl_addown(struct strlist *l, char *s)
{
	char **v;

	if (s == NULL) {
		l->oom = 1;
		return -1;
	}
	if (l->n + 1 >= l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;

		if ((v = realloc(l->v, ncap * sizeof *v)) == NULL) {
			free(s);
			l->oom = 1;
			return -1;
		}
		l->v = v;
		l->cap = ncap;
	}
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
	return 0;
}

int
sl_add(struct strlist *l, const char *s)
{
	return sl_addown(l, strdup(s));
}

int
sl_has(const struct strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

/* Orders by string (case-insensitive), then by position: the first of equals leads. */
static int
uniq_cmp(const void *a, const void *b)
{
	const char *const *x = *(const char *const *const *)a, *const *y =
	    *(const char *const *const *)b;
	int r = strcasecmp(*x, *y);

	return r ? r : (x > y) - (x < y);
}

int
sl_uniq(struct strlist *l)
{
	char ***idx, **prev = NULL;
	size_t i, k;

	if (l->n < 2)
		return 0;
	/* Sort pointers into v (their order is the position), mark the later equals. */
	if ((idx = malloc(l->n * sizeof *idx)) == NULL)
		return -1;
	for (i = 0; i < l->n; i++)
		idx[i] = &l->v[i];
	qsort(idx, l->n, sizeof *idx, uniq_cmp);
	for (i = 0; i < l->n; i++) {
		if (prev && strcasecmp(*prev, *idx[i]) == 0) {
			free(*idx[i]);
			*idx[i] = NULL;
		} else
			prev = idx[i];
	}
	free(idx);
	for (i = k = 0; i < l->n; i++)
		if (l->v[i])
			l->v[k++] = l->v[i];
	l->n = k;
	l->v[k] = NULL;
	return 0;
}

char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

char *
strfmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

void
util_wipe(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
strcaseprefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

char *
trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
	    s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

static struct passwd *
real_pw(void)
{
	return getpwuid(getuid());
}

char *
util_home(void)
{
	struct passwd *pw = real_pw();

	if (pw && pw->pw_dir && *pw->pw_dir)
		return strdup(pw->pw_dir);
	return strdup("/");
}

char *
util_state_dir(const char *name)
{
	const char *x;
	char *home, *r;

	if ((x = getenv("XDG_STATE_HOME")) != NULL && *x == '/')
		return strfmt("%s/postie/%s", x, name);
	if (getuid() == 0)
		return strfmt("/var/lib/postie/%s", name);
	if ((home = util_home()) == NULL)
		return NULL;
	r = strfmt("%s/.local/state/postie/%s", home, name);
	free(home);
	return r;
}

char *
util_username(void)
{
	return util_username_of(getuid());
}

char *
util_username_of(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);

	if (pw && pw->pw_name)
		return strdup(pw->pw_name);
	return strfmt("uid%lu", (unsigned long)uid);
}

char *
util_fullname(void)
{
	return util_fullname_of(getuid());
}

char *
util_fullname_of(uid_t uid)
{
	struct passwd *pw = getpwuid(uid);
	size_t n;

	if (pw == NULL || pw->pw_gecos == NULL)
		return strdup("");
	/* GECOS: "Full Name,room,phone,...". */
	n = strcspn(pw->pw_gecos, ",");
	return xstrndup(pw->pw_gecos, n);
}

char *
util_expand_tilde(const char *path)
{
	char *home, *r;

	if (path == NULL)
		return NULL;
	if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
		return strdup(path);
	if ((home = util_home()) == NULL)
		return NULL;
	r = strfmt("%s%s", home, path + 1);
	free(home);
	return r;
}

char *
util_fqdn(void)
{
	char host[256];
	struct addrinfo hints, *res;
	char *r;

	if (gethostname(host, sizeof host - 1) == -1)
		return strdup("localhost");
	host[sizeof host - 1] = '\0';
	if (strchr(host, '.'))
		return strdup(host);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(host, NULL, &hints, &res) == 0) {
		if (res->ai_canonname && strchr(res->ai_canonname, '.')) {
			r = strdup(res->ai_canonname);
			freeaddrinfo(res);
			return r;
		}
		freeaddrinfo(res);
	}
	return strdup(host);
}

int
write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
fsync_dir(const char *dir)
{
	int fd, r;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int
mkdir_p(const char *dir, mode_t mode)
{
	char *p, *s;
	struct stat st;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
	if ((s = strdup(dir)) == NULL)
		return -1;
	for (p = s + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(s, mode) == -1 && errno != EEXIST) {
			free(s);
			return -1;
		}
		*p = '/';
	}
	free(s);
	if (mkdir(dir, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

char *
util_rfc5322_date(time_t t)
{
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	return strfmt("%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday],
	    tm.tm_mday, mons[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
}

double
util_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
util_open_real(const char *path, int flags)
{
	uid_t eu = geteuid(), ru = getuid();
	gid_t eg = getegid(), rg = getgid();
	int fd, saved;

	/* Back to the caller's own rights for the open, and no further. */
	if (eg != rg && setegid(rg) == -1)
		return -1;
	if (eu != ru && seteuid(ru) == -1) {
		saved = errno;
		/* Failing, it leaves us without the group: the spool refuses us. */
		(void)!setegid(eg);
		errno = saved;
		return -1;
	}
	fd = open(path, flags | O_CLOEXEC);
	saved = errno;
	if ((eu != ru && seteuid(eu) == -1) || (eg != rg && setegid(eg) == -1)) {
		/* Not privileged any more: the spool will refuse us, nothing leaks. */
		if (fd != -1)
			close(fd);
		errno = EPERM;
		return -1;
	}
	errno = saved;
	return fd;
}

char *
util_command_line(const char *cmd, const char **err)
{
	int pfd[2], status;
	pid_t pid;
	struct sbuf out;
	char buf[512];
	ssize_t r;
	char *nl;

	static char why[64];
	int privileged = getegid() != getgid() || geteuid() != getuid();

	*err = NULL;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		*err = "cannot create a pipe";
		return NULL;
	}
	if ((pid = fork()) == -1) {
		close(pfd[0]);
		close(pfd[1]);
		*err = "cannot fork";
		return NULL;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		if (!privileged) {
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
			_exit(127);
		}
		/*
		 * Set-ID (the system install): sh -p keeps the effective group,
		 * which dash and bash drop otherwise, so the command can read a
		 * secret only the group may read.  The real IDs stay the
		 * caller's, so that the command and what it runs stay undumpable
		 * and untraceable by the caller.  Its stderr is not the caller's
		 * unless the caller is root: the messages may name what the
		 * caller must not know.
		 */
		if (getuid() != 0) {
			int nul = open("/dev/null", O_WRONLY | O_CLOEXEC);

			if (nul != -1)
				dup2(nul, STDERR_FILENO);
		}
		execl("/bin/sh", "sh", "-p", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	sb_init(&out);
	/* Read everything (so the child never blocks), keep at most 64 KiB. */
	for (;;) {
		r = read(pfd[0], buf, sizeof buf);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (out.len < 65536 && sb_addn(&out, buf, (size_t)r) == -1)
			break;
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			snprintf(why, sizeof why, "it exited with status %d", WEXITSTATUS(status));
		else
			snprintf(why, sizeof why, "it was killed by signal %d",
			    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		*err = why;
		sb_free(&out);
		return NULL;
	}
	if (out.s == NULL || out.len == 0) {
		*err = "it printed nothing";
		sb_free(&out);
		return NULL;
	}
	if ((nl = strchr(out.s, '\n')) != NULL)
		*nl = '\0';
	if (out.s[0] && out.s[strlen(out.s) - 1] == '\r')
		out.s[strlen(out.s) - 1] = '\0';
	return sb_steal(&out);
}
