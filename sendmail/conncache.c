/*
 * conncache.c: an SMTP connection outlives the sendmail that opened it.
 *
 * Starting libcurl, OpenSSL, the TLS handshake and the login cost a
 * foreground sendmail most of its time and CPU.  Scripts and cron send mail
 * in bursts, so after a successful send the connection is handed to a child
 * process (the holder) that keeps it open for connection_cache seconds of
 * idleness and listens on a Unix socket in the queue's tmp/ directory.  The
 * next sendmail for the same account, run by the same user with the same
 * configuration file, spools its message as always, then passes the queue id
 * to the holder and waits: the holder sends it over the open connection and
 * answers with the outcome, which that sendmail reports and exits with, as if
 * it had sent the message itself.  Postfix keeps a connection cache for the
 * same reason.
 *
 * Nothing is lost on any failure: the message is in the queue before the
 * hand-over; a holder that is gone, busy with another configuration or dies
 * without an answer makes the caller send the message itself.  The holder
 * stops after the idle time, after MAX_LIFE seconds, and after any failure.
 *
 * Protocol, one request per connection: the client writes
 * "POSTIE-CC1 <config identity> <queue id>\n"; the holder answers
 * "NO\n" (not mine: send it yourself) or "R <err> <queued> <loud>\n<message>"
 * and closes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sendmail.h"

#define MAX_LIFE	300	/* seconds a holder serves at most */
#define REQ_MAX		1024
#define REPLY_MAX	8192
#define ANSWER_WAIT_MS	(3600 * 1000)	/* a holder's sends are bounded by the timeouts */

/* Keeps the pointer reachable in the parent: the child owns the connection. */
static struct smtp_conn *volatile given_away;
static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/*
 * QUEUE/tmp/.conn.UID.ACCOUNT plus suffix, or NULL when too long for a
 * socket.  The uid keeps the users of a shared spool apart.
 */
static char *
cc_path(const char *qdir, const char *account, const char *suffix)
{
	char kind[32], *path;

	snprintf(kind, sizeof kind, "conn.%lu", (unsigned long)getuid());
	path = q_account_file(qdir, kind, account, suffix);
	if (path && strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		free(path);
		return NULL;
	}
	return path;
}

/*
 * Which configuration the connection was opened with: a holder only serves
 * callers of the same user with the same file, byte for byte (a hash of its
 * contents: a file rewritten within the same clock tick has the same mtime).
 */
static char *
conf_identity(const struct postie_cfg *cfg)
{
	unsigned long long h = 14695981039346656037ULL;	/* FNV-1a */
	unsigned char buf[8192];
	ssize_t k, i;
	int fd;

	if (cfg->path == NULL || (fd = open(cfg->path, O_RDONLY | O_CLOEXEC)) == -1)
		return strfmt("%lu:none", (unsigned long)getuid());
	while ((k = read(fd, buf, sizeof buf)) > 0)
		for (i = 0; i < k; i++)
			h = (h ^ buf[i]) * 1099511628211ULL;
	close(fd);
	if (k == -1)
		return NULL;
	return strfmt("%lu:%016llx", (unsigned long)getuid(), h);
}

static int
sock_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path)
		return -1;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Reads until EOF, a newline (want_line) or max bytes; -1 on timeout or error. */
static ssize_t
read_until(int fd, char *buf, size_t max, int want_line, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t n = 0;
	ssize_t k;
	int r;

	while (n < max) {
		if ((r = poll(&p, 1, timeout_ms)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			return -1;
		}
		k = read(fd, buf + n, max - n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return -1;
		if (k == 0)
			break;
		n += (size_t)k;
		if (want_line && memchr(buf, '\n', n))
			break;
	}
	return (ssize_t)n;
}

/*
 * Writes the request with this process's stderr attached, so that what the
 * holder says about this message (log = "stderr", refused recipients)
 * reaches the caller as if this process had sent it.
 */
static int
send_request(int fd, const char *req)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)req, .iov_len = strlen(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	int err = STDERR_FILENO;
	ssize_t k;

	if (fcntl(err, F_GETFD) != -1) {
		memset(&u, 0, sizeof u);
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof u.buf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &err, sizeof err);
	}
	do
		k = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (k == -1 && errno == EINTR);
	if (k == -1)
		return -1;
	if ((size_t)k < iov.iov_len)
		return write_all(fd, req + k, iov.iov_len - (size_t)k);
	return 0;
}

/*
 * Reads the request line (at most max bytes, 10 s) and the stderr
 * descriptor sent with it (*errfd, -1 if none).  Returns its length or -1.
 */
static ssize_t
recv_request(int fd, char *buf, size_t max, int *errfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	size_t n = 0, i, nfd;
	ssize_t k;
	int got[4];

	*errfd = -1;
	while (n < max && memchr(buf, '\n', n) == NULL) {
		if (poll(&p, 1, 10000) <= 0)
			return -1;
		iov.iov_base = buf + n;
		iov.iov_len = max - n;
		memset(&mh, 0, sizeof mh);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof u.buf;
		if ((k = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC)) <= 0)
			return -1;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			if (nfd > 4)
				nfd = 4;
			memcpy(got, CMSG_DATA(cm), nfd * sizeof(int));
			for (i = 0; i < nfd; i++) {
				if (*errfd == -1)
					*errfd = got[i];
				else
					close(got[i]);
			}
		}
		n += (size_t)k;
	}
	return (ssize_t)n;
}

int
cc_handoff(struct postie_cfg *cfg, const struct opts *o, struct smtp_account *a,
    struct qentry *q, struct submit_result *res)
{
	struct sockaddr_un sa;
	char *path, *ident, *req, *dir, *id, buf[REPLY_MAX + 1], *nl;
	int fd, e, queued, loud, r;
	ssize_t n;

	if (cfg->connection_cache == 0 || o->verbose)
		return 0;
	if ((path = cc_path(cfg->queue_dir, a->name, "")) == NULL)
		return 0;
	r = sock_addr(&sa, path);
	free(path);
	if (r == -1 || (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		close(fd);	/* no holder: the usual way */
		return 0;
	}
	ident = conf_identity(cfg);
	req = ident ? strfmt("POSTIE-CC1 %s %s\n", ident, q->id) : NULL;
	free(ident);
	dir = strdup(q->dir);
	id = strdup(q->id);
	if (req == NULL || dir == NULL || id == NULL) {
		free(req);
		free(dir);
		free(id);
		close(fd);
		return 0;
	}
	/* "GO": the holder serves this configuration; it locks the entry itself. */
	n = -1;
	if (send_request(fd, req) == 0)
		n = read_until(fd, buf, 3, 1, 10000);
	free(req);
	if (n != 3 || memcmp(buf, "GO\n", 3) != 0) {
		close(fd);	/* "NO": another configuration; q is still ours */
		free(dir);
		free(id);
		return 0;
	}
	q_close(q);
	n = -1;
	if (write_all(fd, "L\n", 2) == 0)
		n = read_until(fd, buf, REPLY_MAX, 0, ANSWER_WAIT_MS);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		nl = strchr(buf, '\n');
		if (nl && sscanf(buf, "R %d %d %d", &e, &queued, &loud) == 3) {
			res->err = (enum px_err)e;
			res->queued = queued;
			res->loud = loud;
			res->msg = nl[1] ? strdup(nl + 1) : NULL;
			log_info("%s: sent over the connection of process holding it", id);
			free(dir);
			free(id);
			return 1;
		}
	}
	/* No answer, or "NO" after all: this process sends it, if it is still there. */
	switch (q_lock(dir, id, q)) {
	case 0:
		r = 0;
		break;
	case 1:
		res->queued = 1;
		res->msg = strdup("another process is sending it");
		r = 1;
		break;
	default:
		/* Gone: the holder finished it and died before answering. */
		r = 1;
		break;
	}
	free(dir);
	free(id);
	return r;
}

/*
 * The descriptors the caller gave us: those open (3 and up) when the
 * program started, with the file each was.  A detached process closes
 * exactly these.  Closing every descriptor but a few would also close
 * libcurl's own (the socket pair of its internal multi handle), which it
 * closes again later by number, whatever that number has come to be (a
 * queue file, the new connection).
 */
#define INHERITED_MAX	1024
static struct inherited {
	int	 fd;
	dev_t	 dev;
	ino_t	 ino;
} inherited[INHERITED_MAX];
static size_t ninherited;

static void
note_fd(int fd)
{
	struct stat st;

	if (fd < 3 || ninherited == INHERITED_MAX || fstat(fd, &st) == -1)
		return;
	inherited[ninherited].fd = fd;
	inherited[ninherited].dev = st.st_dev;
	inherited[ninherited].ino = st.st_ino;
	ninherited++;
}

/* Before main(): nothing of our own is open yet. */
__attribute__((constructor)) static void
note_inherited(void)
{
	struct dirent *e;
	DIR *d;
	int fd;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		for (fd = 3; fd < INHERITED_MAX; fd++)
			note_fd(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
		    (fd = atoi(e->d_name)) != dirfd(d))
			note_fd(fd);
	closedir(d);
}

void
cc_detach(int *keep, size_t n)
{
	struct stat st;
	size_t i, j;
	int nul;

	setsid();
	if ((nul = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		dup2(nul, STDIN_FILENO);
		dup2(nul, STDOUT_FILENO);
		if (!log_verbose())
			dup2(nul, STDERR_FILENO);
		close(nul);
	}
	log_detach();
	for (i = 0; i < ninherited; i++) {
		for (j = 0; j < n && keep[j] != inherited[i].fd; j++)
			;
		if (j < n || inherited[i].fd == log_fd())
			continue;
		/* Still the caller's (not a number since reused by us). */
		if (fstat(inherited[i].fd, &st) == 0 && st.st_dev == inherited[i].dev &&
		    st.st_ino == inherited[i].ino)
			close(inherited[i].fd);
	}
}

/* One request: read, check, send, answer.  1 sent, 0 not ours, -1 failed: stop. */
static int
serve_one(struct postie_cfg *cfg, struct smtp_account *a, struct smtp_conn *c, int fd,
    const char *ident)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct stat st;
	struct submit_result res;
	struct qentry q;
	struct verdict v;
	char buf[REQ_MAX + 1], *p, *id, *hdr;
	const char *s;
	ssize_t n;
	int errfd, nul, r = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 || cred.uid != getuid())
		return 0;	/* another user's sendmail sends its own */
	n = recv_request(fd, buf, REQ_MAX, &errfd);
	if (errfd != -1) {
		/* Until the answer, stderr is the caller's. */
		dup2(errfd, STDERR_FILENO);
		close(errfd);
	}
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	if ((p = strchr(buf, '\n')) == NULL)
		goto out;
	*p = '\0';
	if (strncmp(buf, "POSTIE-CC1 ", 11) != 0 || (id = strrchr(buf, ' ')) == NULL)
		goto out;
	*id++ = '\0';
	for (s = id; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= 'A' && *s <= 'Z') || *s == '.' || *s == '-' || *s == '_'))
			break;
	if (*s || !*id || *id == '.' || strcmp(buf + 11, ident) != 0) {
		(void)!write_all(fd, "NO\n", 3);
		goto out;
	}
	/* The caller lets go of the entry only when told to. */
	if (write_all(fd, "GO\n", 3) == -1 || read_until(fd, buf, 2, 1, 10000) != 2 ||
	    memcmp(buf, "L\n", 2) != 0)
		goto out;
	/* Not even a moment's lock on another user's entry (a caller may name any id). */
	if (q_peek_owner(cfg->queue_dir, id) != cred.uid || q_lock(cfg->queue_dir, id, &q) != 0)
		goto out;	/* not the caller's, busy or gone: the caller finds out */
	/* Only the caller's own entry (a shared spool holds other users' too). */
	if (strcmp(q.env.account, a->name) != 0 || fstat(q.fd, &st) == -1 ||
	    st.st_uid != cred.uid) {
		q_close(&q);
		goto out;
	}
	memset(&res, 0, sizeof res);
	deliver_entry(c, a, &q, 1, &res.msg, &v);
	submit_conclude(&q, a, &v, &res);
	hdr = strfmt("R %d %d %d\n", (int)res.err, res.queued, res.loud);
	if (hdr == NULL || write_all(fd, hdr, strlen(hdr)) == -1 ||
	    (res.msg && write_all(fd, res.msg, strlen(res.msg)) == -1)) {
		log_event(LOG_WARNING, "%s: the sendmail that handed it over is gone", id);
		/* Nobody heard of the refusal: its sender does. */
		if (v.fail)
			(void)q_failed_report(cfg->queue_dir, v.failed_id, v.report_gone);
	}
	free(hdr);
	free(res.msg);
	r = v.done && !v.keep ? 1 : -1;
out:
	if ((nul = open("/dev/null", O_WRONLY | O_CLOEXEC)) != -1) {
		dup2(nul, STDERR_FILENO);
		close(nul);
	}
	return r;
}

/* The holder's life: serve hand-overs until idle, old or failed. */
static void
serve(struct postie_cfg *cfg, const struct opts *o, struct smtp_account *a,
    struct smtp_conn *c, int sfd, const char *sock, const char *ident)
{
	struct conns cs;
	struct pollfd p = { .fd = sfd, .events = POLLIN };
	double start = util_monotonic(), idle_until = start + (double)cfg->connection_cache;
	int fd, r;

	memset(&cs, 0, sizeof cs);
	cs.c[0] = c;
	cs.a[0] = a;
	cs.n = 1;
	for (;;) {
		double now = util_monotonic();

		if (stopping || now >= idle_until || now - start >= MAX_LIFE)
			break;
		r = poll(&p, 1, (int)((idle_until - now) * 1000) + 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if ((fd = accept4(sfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EAGAIN)
				continue;
			break;	/* out of descriptors, say: let callers send themselves */
		}
		r = serve_one(cfg, a, c, fd, ident);
		close(fd);
		if (r == -1)
			break;
		/* Whatever else waits for this account goes over the same connection. */
		if (r == 1)
			queue_run(cfg, o, a->name, 1, &cs);
		if (cs.down[0])
			break;	/* the server failed meanwhile */
		idle_until = util_monotonic() + (double)cfg->connection_cache;
	}
	/* Later clients find no socket; those already waiting get EOF and send themselves. */
	unlink(sock);
	close(sfd);
	conns_close(&cs);
}

int
cc_hold(struct postie_cfg *cfg, const struct opts *o, struct smtp_account *a,
    struct smtp_conn *c)
{
	struct sockaddr_un sa;
	struct sigaction sa_term;
	char *sock = NULL, *lock = NULL, *ident = NULL, pidbuf[32];
	int lfd = -1, sfd = -1, keep[3];
	pid_t pid;

	if (cfg->connection_cache == 0 || o->verbose)
		return 0;
	if ((sock = cc_path(cfg->queue_dir, a->name, "")) == NULL ||
	    (lock = cc_path(cfg->queue_dir, a->name, ".lock")) == NULL ||
	    (ident = conf_identity(cfg)) == NULL || sock_addr(&sa, sock) == -1)
		goto no;
	lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (lfd == -1 || flock(lfd, LOCK_EX | LOCK_NB) == -1)
		goto no;	/* another process holds a connection for this account */
	/* Bound before the fork: the next sendmail finds it as soon as this one exits. */
	unlink(sock);
	if ((sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(sfd, (struct sockaddr *)&sa, sizeof sa) == -1)
		goto no;
	if (listen(sfd, 64) == -1)
		goto unbind;
	fflush(NULL);
	if ((pid = fork()) == -1)
		goto unbind;
	if (pid > 0) {
		/* Its pid, for whoever must stop it, before the caller sees us exit. */
		if (ftruncate(lfd, 0) == 0) {
			snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)pid);
			(void)!write_all(lfd, pidbuf, strlen(pidbuf));
		}
		close(sfd);
		close(lfd);
		free(sock);
		free(lock);
		free(ident);
		given_away = c;
		return 1;
	}
	keep[0] = sfd;
	keep[1] = lfd;
	keep[2] = smtp_socket(c);
	cc_detach(keep, 3);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	memset(&sa_term, 0, sizeof sa_term);
	sa_term.sa_handler = on_term;	/* no SA_RESTART: poll returns */
	sigaction(SIGTERM, &sa_term, NULL);
	sigaction(SIGINT, &sa_term, NULL);
	serve(cfg, o, a, c, sfd, sock, ident);
	free(sock);
	free(lock);
	free(ident);
	_exit(0);
unbind:
	unlink(sock);
no:
	if (sfd != -1)
		close(sfd);
	if (lfd != -1)
		close(lfd);
	free(sock);
	free(lock);
	free(ident);
	return 0;
}
