/* oauth2store.c: an OAuth 2.0 account's token file: read, checked, locked, replaced. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oauth2http.h"
#include "oauth2store.h"
#include "util.h"

#define FILE_MAX	65536

/* The directory part of a path (malloc'd). */
static char *
dir_of(const char *path)
{
	const char *sl = strrchr(path, '/');

	if (sl == NULL)
		return strdup(".");
	if (sl == path)
		return strdup("/");
	return xstrndup(path, (size_t)(sl - path));
}

int
o2store_init(struct o2store *s, const struct oauth2_cfg *o)
{
	memset(s, 0, sizeof *s);
	s->o = o;
	s->lockfd = -1;
	s->shared = getegid() != getgid();
	s->path = strdup(o->token_file);
	s->lockpath = strfmt("%s.lock", o->token_file);
	return s->path && s->lockpath ? 0 : -1;
}

void
o2store_free(struct o2store *s)
{
	o2store_unlock(s);
	util_wipe(&s->refresh_token);
	util_wipe(&s->access_token);
	free(s->path);
	free(s->lockpath);
	s->path = s->lockpath = NULL;
}

/* 0 when the file (and, for the shared install, its directory) may hold our secrets. */
static int
safe(const struct o2store *s, const struct stat *st, char **msg)
{
	struct stat ds;
	char *dir;

	if (!S_ISREG(st->st_mode)) {
		*msg = strfmt("%s is not a regular file", s->path);
		return -1;
	}
	if (s->shared) {
		/* The group guards the files through the directory; others must not enter it. */
		if ((dir = dir_of(s->path)) == NULL) {
			*msg = strdup("out of memory");
			return -1;
		}
		if (stat(dir, &ds) == 0 && (ds.st_mode & 007)) {
			*msg = strfmt("%s is open to other users, and the token files in it with "
			    "it: chmod o-rwx %s", dir, dir);
			free(dir);
			return -1;
		}
		free(dir);
		if (st->st_mode & 007) {
			*msg = strfmt("%s is open to other users: chmod o-rwx %s", s->path, s->path);
			return -1;
		}
		return 0;
	}
	if (st->st_uid != getuid()) {
		*msg = strfmt("%s belongs to uid %u, not to you (uid %u): remove it (or set "
		    "oauth2_token_file) and authorize again", s->path, (unsigned)st->st_uid,
		    (unsigned)getuid());
		return -1;
	}
	if (st->st_mode & 077) {
		*msg = strfmt("%s is open to other users: chmod 600 %s", s->path, s->path);
		return -1;
	}
	return 0;
}

static char *
dupstr(struct json_object *j, const char *key)
{
	const char *v = o2http_str(j, key);

	return v && *v ? strdup(v) : NULL;
}

enum px_err
o2store_read(struct o2store *s, char **msg)
{
	struct json_object *j = NULL;
	struct stat st;
	char *buf = NULL, *hint;
	ssize_t r;
	size_t len = 0;
	int fd;

	*msg = NULL;
	util_wipe(&s->refresh_token);
	util_wipe(&s->access_token);
	s->expires_at = s->obtained_at = 0;
	fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return PX_OK;
	if (fd == -1) {
		*msg = strfmt("%s account \"%s\": cannot read %s: %s", s->o->kind, s->o->account,
		    s->path, errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return PX_CONFIG;
	}
	if (fstat(fd, &st) == -1) {
		*msg = strfmt("%s account \"%s\": %s: %s", s->o->kind, s->o->account, s->path,
		    strerror(errno));
		close(fd);
		return PX_CONFIG;
	}
	if (safe(s, &st, msg) == -1) {
		char *m = *msg;

		*msg = strfmt("%s account \"%s\": %s", s->o->kind, s->o->account, m ? m : "?");
		free(m);
		close(fd);
		return PX_CONFIG;
	}
	if (st.st_size > FILE_MAX || (buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto bad;
	while (len < (size_t)st.st_size) {
		r = read(fd, buf + len, (size_t)st.st_size - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	if (len == 0 || (j = json_tokener_parse(buf)) == NULL ||
	    !json_object_is_type(j, json_type_object) || o2http_num(j, "version", 1) != 1)
		goto bad;
	s->refresh_token = dupstr(j, "refresh_token");
	s->access_token = dupstr(j, "access_token");
	s->obtained_at = (time_t)o2http_num(j, "obtained_at", 0);
	s->expires_at = (time_t)o2http_num(j, "expires_at", 0);
	json_object_put(j);
	explicit_bzero(buf, len);
	free(buf);
	close(fd);
	return PX_OK;
bad:
	if (j)
		json_object_put(j);
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	hint = o2http_hint(s->o);
	*msg = strfmt("%s account \"%s\": %s is not a token file this Postie wrote: %s",
	    s->o->kind, s->o->account, s->path, hint ? hint : "authorize again");
	free(hint);
	return PX_CONFIG;
}

/* Creates the token file's directory when it is missing. */
static int
make_dir(const struct o2store *s)
{
	struct stat st;
	char *dir = dir_of(s->path);
	mode_t mode = s->shared ? 02770 : 0700;
	int r = 0;

	if (dir == NULL)
		return -1;
	if (stat(dir, &st) == -1 && errno == ENOENT) {
		/* The umask would take the group's rights from the directories made. */
		mode_t old = umask(s->shared ? 007 : 077);

		r = mkdir_p(dir, mode);
		umask(old);
		/* And mkdir() may drop the set-group-ID bit that new files need. */
		if (r == 0)
			r = chmod(dir, mode);
	}
	free(dir);
	return r;
}

enum px_err
o2store_lock(struct o2store *s, int wait, char **msg)
{
	mode_t mode = s->shared ? 0660 : 0600;
	double until = util_monotonic() + wait;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	struct stat st;

	*msg = NULL;
	if (s->lockfd != -1)
		return PX_OK;
	if (make_dir(s) == -1) {
		*msg = strfmt("%s account \"%s\": cannot create the directory of %s: %s",
		    s->o->kind, s->o->account, s->path, strerror(errno));
		return PX_CANTCREAT;
	}
	s->lockfd = open(s->lockpath, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    mode);
	if (s->lockfd == -1) {
		*msg = strfmt("%s account \"%s\": cannot open %s: %s", s->o->kind, s->o->account,
		    s->lockpath, strerror(errno));
		return PX_CANTCREAT;
	}
	/* A lock file just made carries the umask: give the group its share. */
	if (fstat(s->lockfd, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 0777) != mode)
		(void)fchmod(s->lockfd, mode);
	while (flock(s->lockfd, LOCK_EX | LOCK_NB) == -1) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || util_monotonic() > until) {
			*msg = strfmt("%s account \"%s\": %s: %s", s->o->kind, s->o->account,
			    s->lockpath, errno == EWOULDBLOCK ? "another process holds the "
			    "token file's lock too long" : strerror(errno));
			close(s->lockfd);
			s->lockfd = -1;
			return PX_TEMPFAIL;
		}
		nanosleep(&ts, NULL);
		if (ts.tv_nsec < 200 * 1000 * 1000)
			ts.tv_nsec *= 2;
	}
	return PX_OK;
}

void
o2store_unlock(struct o2store *s)
{
	if (s->lockfd != -1) {
		close(s->lockfd);	/* releases the flock */
		s->lockfd = -1;
	}
}

int
o2store_fresh(const struct o2store *s, time_t now)
{
	time_t margin = 60;

	if (s->access_token == NULL)
		return 0;
	if (s->obtained_at > 0 && s->expires_at > s->obtained_at &&
	    (s->expires_at - s->obtained_at) / 2 < margin)
		margin = (s->expires_at - s->obtained_at) / 2;
	return now + margin < s->expires_at;
}

/* 1 for a token that can go in a SASL message: printable ASCII, no space. */
static int
printable(const char *t)
{
	if (t == NULL || *t == '\0')
		return 0;
	for (; *t; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return 0;
	return 1;
}

enum px_err
o2store_take(struct o2store *s, struct json_object *a, int need_refresh, time_t now,
    char **msg)
{
	const char *at = o2http_str(a, "access_token");
	const char *rt = o2http_str(a, "refresh_token");
	const char *type = o2http_str(a, "token_type");
	long long life = o2http_num(a, "expires_in", 3600);

	*msg = NULL;
	if (!printable(at)) {
		*msg = strfmt("%s account \"%s\": the token endpoint's answer holds no usable "
		    "access token", s->o->kind, s->o->account);
		return PX_TEMPFAIL;
	}
	if (type && strcasecmp(type, "bearer") != 0) {
		*msg = strfmt("%s account \"%s\": the token endpoint gave a token of type \"%.40s\", "
		    "not a bearer token", s->o->kind, s->o->account, type);
		return PX_NOPERM;
	}
	if (need_refresh && (rt == NULL || *rt == '\0') && s->o->grant == OAUTH2_REFRESH_TOKEN) {
		*msg = strfmt("%s account \"%s\": the token endpoint gave no refresh token (the "
		    "scope needs offline_access for Microsoft; check oauth2_scope)", s->o->kind,
		    s->o->account);
		return PX_NOPERM;
	}
	if (life < 0 || life > 10LL * 365 * 86400)
		life = 3600;
	util_wipe(&s->access_token);
	if ((s->access_token = strdup(at)) == NULL)
		goto oom;
	if (rt && *rt) {
		util_wipe(&s->refresh_token);
		if ((s->refresh_token = strdup(rt)) == NULL)
			goto oom;
	}
	s->obtained_at = now;
	s->expires_at = now + (time_t)life;
	return PX_OK;
oom:
	*msg = strdup("out of memory");
	return PX_SOFTWARE;
}

static int
add(struct json_object *j, const char *key, const char *v)
{
	struct json_object *x;

	if (v == NULL)
		return 0;
	if ((x = json_object_new_string(v)) == NULL)
		return -1;
	return json_object_object_add(j, key, x);
}

enum px_err
o2store_write(struct o2store *s, char **msg)
{
	struct json_object *j;
	const char *text;
	char *tmp = NULL, *dir = NULL;
	mode_t mode = s->shared ? 0660 : 0600;
	int fd = -1, saved;
	size_t len;

	*msg = NULL;
	if ((j = json_object_new_object()) == NULL)
		goto oom;
	if (json_object_object_add(j, "version", json_object_new_int(1)) == -1 ||
	    add(j, "token_url", s->o->token_url) == -1 ||
	    add(j, "client_id", s->o->client_id) == -1 ||
	    add(j, "scope", s->o->scope) == -1 ||
	    add(j, "refresh_token", s->refresh_token) == -1 ||
	    add(j, "access_token", s->access_token) == -1 ||
	    json_object_object_add(j, "obtained_at", json_object_new_int64(s->obtained_at)) == -1 ||
	    json_object_object_add(j, "expires_at", json_object_new_int64(s->expires_at)) == -1 ||
	    (text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE)) == NULL)
		goto oom;
	len = strlen(text);
	if ((tmp = strfmt("%s.new", s->path)) == NULL || (dir = dir_of(s->path)) == NULL)
		goto oom;
	if (make_dir(s) == -1)
		goto fail;
	/* Under the lock: a leftover is from a writer that died. */
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	/*
	 * The umask may have taken the group's write bit (0640 for the setgid
	 * install): give it back, but the file is replaced, never rewritten in
	 * place, so a failure here costs nothing worth losing a token for.
	 */
	if (fd != -1)
		(void)fchmod(fd, mode);
	if (fd == -1 || write_all(fd, text, len) == -1 ||
	    write_all(fd, "\n", 1) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, s->path) == -1)
		goto fail;
	(void)fsync_dir(dir);
	explicit_bzero((char *)(uintptr_t)text, len);
	json_object_put(j);
	free(tmp);
	free(dir);
	return PX_OK;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	if (tmp)
		(void)unlink(tmp);
	*msg = strfmt("%s account \"%s\": cannot write %s: %s", s->o->kind, s->o->account,
	    s->path, strerror(saved));
	json_object_put(j);
	free(tmp);
	free(dir);
	return PX_CANTCREAT;
oom:
	if (j)
		json_object_put(j);
	free(tmp);
	free(dir);
	*msg = strdup("out of memory");
	return PX_SOFTWARE;
}
