/*
 * deliver.c: the three destinations.
 *
 * mbox: messages are appended under an fcntl lock and a dotlock (both, as
 * mutt and procmail do), each as a From_ line, the message with LF line
 * endings and mboxrd quoting, and one empty line.  The end of the file is
 * recorded before each message; on any write error the file is truncated
 * back to it, and if the fsync that ends a batch fails, back to where the
 * batch began.  Nothing is reported delivered before that fsync.
 *
 * Maildir: each message goes to tmp/ under a unique name, is fsynced and
 * renamed into new/; the batch ends with an fsync of new/.
 *
 * mda: "/bin/sh -c COMMAND" per message with the message (LF line endings,
 * no From_ line) on its stdin; %F is replaced by the envelope sender,
 * shell-quoted.  Exit status 0 means delivered.
 *
 * Signals: SIGTERM and SIGINT only set a flag (see main.c), so they can
 * never interrupt a message half written; SIGPIPE is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "popfetch.h"

#define OUTBUF		65536
#define LOCK_WAIT	60	/* seconds to wait for an mbox lock */
#define DOTLOCK_STALE	300	/* a dotlock older than this is taken over */

struct dest {
	enum dest_kind kind;
	char	*path;		/* mbox file, Maildir directory, or mda command */
	struct mfilter mf;
	/* output buffer in front of fd */
	char	*buf;
	size_t	 blen;
	/* error of the message in hand */
	enum px_err err;
	char	*errmsg;
	/* mbox */
	int	 fd;
	int	 locked;
	char	*dotlock;
	off_t	 batch_start;
	off_t	 msg_start;
	/* Maildir */
	char	*tmpname;	/* tmp/NAME of the message in hand */
	char	*newname;
	unsigned counter;
	char	*host;
	int	 renamed;	/* something went into new/ in this batch */
	/* mda */
	pid_t	 pid;
	int	 pipe_gone;	/* the command stopped reading */
};

static void
set_err(struct dest *d, enum px_err e, char *msg)
{
	if (d->err != PX_OK) {
		free(msg);
		return;
	}
	d->err = e;
	d->errmsg = msg;
}

/* ---- output buffer ---- */

static int
write_out(struct dest *d, const char *s, size_t n)
{
	if (d->fd == -1 || n == 0)
		return 0;
	if (write_all(d->fd, s, n) == 0)
		return 0;
	if (d->kind == DEST_MDA && errno == EPIPE) {
		/* The command stopped reading: its exit status decides. */
		d->pipe_gone = 1;
		close(d->fd);
		d->fd = -1;
		return 0;
	}
	set_err(d, PX_IOERR, strfmt("%s: %s", d->kind == DEST_MDA ? "mda" : d->path,
	    strerror(errno)));
	return -1;
}

static int
flush_buf(struct dest *d)
{
	size_t n = d->blen;

	d->blen = 0;
	return write_out(d, d->buf, n);
}

static int
put(void *arg, const char *s, size_t n)
{
	struct dest *d = arg;

	if (d->blen + n > OUTBUF) {
		if (flush_buf(d) == -1)
			return -1;
		if (n >= OUTBUF)
			return write_out(d, s, n);
	}
	memcpy(d->buf + d->blen, s, n);
	d->blen += n;
	return 0;
}

/* ---- mbox ---- */

static enum px_err
mbox_open(struct dest *d, char **msg)
{
	char *dir, *slash;
	struct stat st;

	if ((slash = strrchr(d->path, '/')) != NULL && slash != d->path) {
		dir = xstrndup(d->path, (size_t)(slash - d->path));
		if (dir == NULL || mkdir_p(dir, 0700) == -1) {
			*msg = strfmt("cannot create %s: %s", dir ? dir : d->path, strerror(errno));
			free(dir);
			return PX_CANTCREAT;
		}
		free(dir);
	}
	d->fd = open(d->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (d->fd == -1) {
		*msg = strfmt("cannot open %s: %s", d->path, strerror(errno));
		return PX_CANTCREAT;
	}
	if (fstat(d->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*msg = strfmt("%s is not a regular file", d->path);
		return PX_CANTCREAT;
	}
	if ((d->dotlock = strfmt("%s.lock", d->path)) == NULL) {
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	return PX_OK;
}

static void
nap(void)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/*
 * 1 if the dotlock at path is stale: it names a process of ours that no
 * longer exists (a popfetch killed with -9), or it is older than
 * DOTLOCK_STALE.  Dotlocks of other programs usually hold no pid.
 */
static int
dotlock_stale(const char *path)
{
	struct stat st;
	char buf[32];
	ssize_t n;
	long pid;
	char *end;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	if (fstat(fd, &st) == -1)
		st.st_mtime = time(NULL);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		pid = strtol(buf, &end, 10);
		if (end != buf && *end == '\n' && pid > 0 && kill((pid_t)pid, 0) == -1 &&
		    errno == ESRCH)
			return 1;
	}
	return time(NULL) - st.st_mtime > DOTLOCK_STALE;
}

/*
 * Creates the dotlock holding our pid, taking over a stale one; 0, or -1
 * with errno (EAGAIN: busy).  The pid goes into a temporary file first,
 * which is then linked to the lock name, so a dotlock of ours is never
 * seen empty (a process killed between create and write would leave one
 * that looks held for DOTLOCK_STALE).  The temporary name is the same for
 * every popfetch: they hold the fcntl lock while they get here.
 */
static int
dotlock_try(const char *path)
{
	char buf[32], *tmp;
	int fd, n, r, saved;

	if ((tmp = strfmt("%s.popfetch", path)) == NULL)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		saved = errno;
		free(tmp);
		errno = saved;
		return -1;
	}
	/* Our pid, as liblockfile writes it, so that a dead holder can be told. */
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	r = write_all(fd, buf, (size_t)n);
	close(fd);
	if (r == 0)
		r = link(tmp, path);
	saved = errno;
	if (r == -1 && saved != EEXIST) {
		/* No hard links here: create it directly. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1) {
			r = write_all(fd, buf, (size_t)n);
			close(fd);
		} else
			saved = errno;
	}
	unlink(tmp);
	free(tmp);
	if (r == 0)
		return 0;
	if (saved != EEXIST) {
		errno = saved;
		return -1;
	}
	if (dotlock_stale(path)) {
		log_event(LOG_WARNING, "removing stale lock %s", path);
		unlink(path);
	}
	errno = EAGAIN;
	return -1;
}

static enum px_err
mbox_lock(struct dest *d, char **msg)
{
	struct flock fl;
	time_t deadline = time(NULL) + LOCK_WAIT;
	int have_fcntl = 0;

	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (!have_fcntl) {
			if (fcntl(d->fd, F_SETLK, &fl) == 0)
				have_fcntl = 1;
			else if (errno != EAGAIN && errno != EACCES && errno != EINTR) {
				*msg = strfmt("cannot lock %s: %s", d->path, strerror(errno));
				return PX_CANTCREAT;
			}
		}
		if (have_fcntl) {
			if (dotlock_try(d->dotlock) == 0) {
				d->locked = 1;
				return PX_OK;
			}
			if (errno != EAGAIN) {
				*msg = strfmt("cannot create the lock file %s: %s", d->dotlock,
				    strerror(errno));
				goto fail;
			}
		}
		if (time(NULL) >= deadline || pf_stop) {
			*msg = strfmt("cannot lock %s: it stays locked by another program",
			    d->path);
			goto fail;
		}
		nap();
	}
fail:
	if (have_fcntl) {
		fl.l_type = F_UNLCK;
		fcntl(d->fd, F_SETLK, &fl);
	}
	return PX_CANTCREAT;
}

static void
mbox_unlock(struct dest *d)
{
	struct flock fl;

	if (!d->locked)
		return;
	unlink(d->dotlock);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	fcntl(d->fd, F_SETLK, &fl);
	d->locked = 0;
}

/* Makes the file end with an empty line so that the next From_ line is one. */
static enum px_err
mbox_pad(struct dest *d, char **msg)
{
	char tail[2];
	const char *pad = NULL;

	if (d->batch_start == 0)
		return PX_OK;
	if (d->batch_start == 1) {
		if (pread(d->fd, tail, 1, 0) != 1)
			goto fail;
		pad = tail[0] == '\n' ? "\n" : "\n\n";
	} else {
		if (pread(d->fd, tail, 2, d->batch_start - 2) != 2)
			goto fail;
		if (tail[1] != '\n')
			pad = "\n\n";
		else if (tail[0] != '\n')
			pad = "\n";
	}
	if (pad && write_all(d->fd, pad, strlen(pad)) == -1)
		goto fail;
	return PX_OK;
fail:
	*msg = strfmt("%s: %s", d->path, strerror(errno ? errno : EIO));
	if (ftruncate(d->fd, d->batch_start) == -1)
		log_error("%s: cannot truncate back to %lld bytes: %s", d->path,
		    (long long)d->batch_start, strerror(errno));
	return PX_IOERR;
}

static int
mbox_header(void *arg, const char *text, size_t len)
{
	struct dest *d = arg;
	char *sender, *line;
	int r;

	if ((sender = mf_sender(text, len)) == NULL ||
	    (line = mf_from_line(sender, time(NULL))) == NULL) {
		free(sender);
		set_err(d, PX_SOFTWARE, strdup("out of memory"));
		return -1;
	}
	r = put(d, line, strlen(line));
	free(sender);
	free(line);
	return r;
}

static void
mbox_truncate(struct dest *d, off_t to)
{
	if (ftruncate(d->fd, to) == -1)
		log_error("%s: cannot truncate back to %lld bytes: %s", d->path,
		    (long long)to, strerror(errno));
}

/* ---- Maildir ---- */

static enum px_err
maildir_open(struct dest *d, char **msg)
{
	static const char *sub[] = { "cur", "new", "tmp" };
	char *p;
	char host[256];
	size_t i;
	struct sbuf h;

	for (i = 0; i < 3; i++) {
		p = strfmt("%s/%s", d->path, sub[i]);
		if (p == NULL || mkdir_p(p, 0700) == -1) {
			*msg = strfmt("cannot create %s: %s", p ? p : d->path, strerror(errno));
			free(p);
			return PX_CANTCREAT;
		}
		free(p);
	}
	if (gethostname(host, sizeof host) == -1)
		strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	/* '/' and ':' cannot appear in a Maildir name. */
	sb_init(&h);
	for (p = host; *p; p++) {
		if (*p == '/')
			sb_adds(&h, "\\057");
		else if (*p == ':')
			sb_adds(&h, "\\072");
		else
			sb_addc(&h, *p);
	}
	d->host = sb_steal(&h);
	return PX_OK;
}

static enum px_err
maildir_begin(struct dest *d, char **msg)
{
	struct timeval tv;
	char *name;

	gettimeofday(&tv, NULL);
	name = strfmt("%lld.M%06ldP%ldQ%u.%s", (long long)tv.tv_sec, (long)tv.tv_usec,
	    (long)getpid(), ++d->counter, d->host ? d->host : "localhost");
	if (name == NULL)
		goto oom;
	d->tmpname = strfmt("%s/tmp/%s", d->path, name);
	d->newname = strfmt("%s/new/%s", d->path, name);
	free(name);
	if (d->tmpname == NULL || d->newname == NULL)
		goto oom;
	d->fd = open(d->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (d->fd == -1) {
		*msg = strfmt("cannot create %s: %s", d->tmpname, strerror(errno));
		return PX_CANTCREAT;
	}
	return PX_OK;
oom:
	*msg = strdup("out of memory");
	return PX_SOFTWARE;
}

static void
maildir_drop(struct dest *d)
{
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	if (d->tmpname)
		unlink(d->tmpname);
	free(d->tmpname);
	free(d->newname);
	d->tmpname = d->newname = NULL;
}

static enum px_err
maildir_end(struct dest *d, char **msg)
{
	if (fsync(d->fd) == -1 || close(d->fd) == -1) {
		*msg = strfmt("%s: %s", d->tmpname, strerror(errno));
		d->fd = -1;
		maildir_drop(d);
		return PX_IOERR;
	}
	d->fd = -1;
	if (rename(d->tmpname, d->newname) == -1) {
		*msg = strfmt("cannot rename %s: %s", d->tmpname, strerror(errno));
		maildir_drop(d);
		return PX_IOERR;
	}
	d->renamed = 1;
	free(d->tmpname);
	free(d->newname);
	d->tmpname = d->newname = NULL;
	return PX_OK;
}

/* ---- mda ---- */

/* cmd with %F replaced by the shell-quoted sender and %% by %. */
static char *
mda_command(const char *cmd, const char *sender)
{
	struct sbuf b;
	const char *p, *q;

	sb_init(&b);
	for (p = cmd; *p; p++) {
		if (p[0] == '%' && p[1] == 'F') {
			sb_addc(&b, '\'');
			for (q = sender; *q; q++) {
				if (*q == '\'')
					sb_adds(&b, "'\\''");
				else
					sb_addc(&b, *q);
			}
			sb_addc(&b, '\'');
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			sb_addc(&b, '%');
			p++;
		} else
			sb_addc(&b, *p);
	}
	if (sb_addc(&b, '\0') == -1) {
		sb_free(&b);
		return NULL;
	}
	return sb_steal(&b);
}

static int
mda_header(void *arg, const char *text, size_t len)
{
	struct dest *d = arg;
	char *sender, *cmd;
	int pfd[2];
	pid_t pid;

	sender = mf_sender(text, len);
	cmd = sender ? mda_command(d->path, sender) : NULL;
	free(sender);
	if (cmd == NULL) {
		set_err(d, PX_SOFTWARE, strdup("out of memory"));
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		set_err(d, PX_OSERR, strfmt("cannot create a pipe: %s", strerror(errno)));
		free(cmd);
		return -1;
	}
	if ((pid = fork()) == -1) {
		set_err(d, PX_OSERR, strfmt("cannot fork: %s", strerror(errno)));
		close(pfd[0]);
		close(pfd[1]);
		free(cmd);
		return -1;
	}
	if (pid == 0) {
		/* Own process group, so that an abandoned message can be killed whole. */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		if (dup2(pfd[0], STDIN_FILENO) == -1)
			_exit(EX_OSERR);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	free(cmd);
	close(pfd[0]);
	d->pid = pid;
	d->fd = pfd[1];
	d->pipe_gone = 0;
	return 0;
}

/* Waits for the command; PX_OK if it exited 0. */
static enum px_err
mda_wait(struct dest *d, char **msg)
{
	int status;
	pid_t r;

	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	if (d->pid <= 0)
		return PX_OK;
	while ((r = waitpid(d->pid, &status, 0)) == -1 && errno == EINTR)
		;
	d->pid = 0;
	if (r == -1) {
		*msg = strfmt("mda: %s", strerror(errno));
		return PX_OSERR;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return PX_OK;
	if (WIFEXITED(status)) {
		*msg = strfmt("mda \"%s\" failed with exit status %d", d->path,
		    WEXITSTATUS(status));
		return WEXITSTATUS(status) == EX_TEMPFAIL ? PX_TEMPFAIL : PX_IOERR;
	}
	*msg = strfmt("mda \"%s\" was killed by signal %d", d->path, WTERMSIG(status));
	return PX_IOERR;
}

static void
mda_kill(struct dest *d)
{
	int status;

	if (d->pid <= 0)
		return;
	/* Kill before closing its stdin: a half message must not be delivered. */
	kill(-d->pid, SIGKILL);
	kill(d->pid, SIGKILL);
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	while (waitpid(d->pid, &status, 0) == -1 && errno == EINTR)
		;
	d->pid = 0;
}

/* ---- the interface ---- */

enum px_err
dest_open(struct dest **dp, const struct pop3_account *a, char **msg)
{
	struct dest *d;
	enum px_err e = PX_OK;

	*msg = NULL;
	if ((d = calloc(1, sizeof *d)) == NULL || (d->buf = malloc(OUTBUF)) == NULL ||
	    (d->path = strdup(a->dest_path)) == NULL) {
		if (d)
			free(d->buf);
		free(d);
		*msg = strdup("out of memory");
		return PX_SOFTWARE;
	}
	d->kind = a->dest;
	d->fd = -1;
	mf_init(&d->mf, d->kind == DEST_MBOX);
	d->mf.put = put;
	d->mf.arg = d;
	switch (d->kind) {
	case DEST_MBOX:
		d->mf.header = mbox_header;
		e = mbox_open(d, msg);
		break;
	case DEST_MAILDIR:
		d->mf.header = NULL;
		d->mf.header_max = 0;	/* no sender needed: stream at once */
		e = maildir_open(d, msg);
		break;
	case DEST_MDA:
		d->mf.header = mda_header;
		break;
	}
	*dp = d;
	return e;
}

int
dest_per_message(const struct dest *d)
{
	return d->kind == DEST_MDA;
}

enum px_err
dest_batch_begin(struct dest *d, char **msg)
{
	enum px_err e;

	*msg = NULL;
	d->renamed = 0;
	if (d->kind != DEST_MBOX)
		return PX_OK;
	if ((e = mbox_lock(d, msg)) != PX_OK)
		return e;
	d->batch_start = lseek(d->fd, 0, SEEK_END);
	if (d->batch_start == (off_t)-1) {
		*msg = strfmt("%s: %s", d->path, strerror(errno));
		mbox_unlock(d);
		return PX_IOERR;
	}
	if ((e = mbox_pad(d, msg)) != PX_OK) {
		mbox_unlock(d);
		return e;
	}
	return PX_OK;
}

enum px_err
dest_msg_begin(struct dest *d, char **msg)
{
	enum px_err e = PX_OK;

	*msg = NULL;
	d->err = PX_OK;
	free(d->errmsg);
	d->errmsg = NULL;
	d->blen = 0;
	mf_begin(&d->mf);
	switch (d->kind) {
	case DEST_MBOX:
		d->msg_start = lseek(d->fd, 0, SEEK_END);
		if (d->msg_start == (off_t)-1) {
			*msg = strfmt("%s: %s", d->path, strerror(errno));
			e = PX_IOERR;
		}
		break;
	case DEST_MAILDIR:
		e = maildir_begin(d, msg);
		break;
	case DEST_MDA:
		d->fd = -1;
		d->pid = 0;
		break;
	}
	return e;
}

int
dest_msg_data(struct dest *d, const char *p, size_t n)
{
	if (mf_feed(&d->mf, p, n) == -1) {
		if (d->err == PX_OK)
			set_err(d, PX_SOFTWARE, strdup("out of memory"));
		return -1;
	}
	return 0;
}

enum px_err
dest_error(struct dest *d, char **msg)
{
	*msg = d->errmsg;
	d->errmsg = NULL;
	return d->err;
}

enum px_err
dest_msg_end(struct dest *d, char **msg)
{
	enum px_err e;

	*msg = NULL;
	if (mf_end(&d->mf) == -1 || (d->kind == DEST_MBOX && put(d, "\n", 1) == -1) ||
	    flush_buf(d) == -1) {
		if (d->err == PX_OK)
			set_err(d, PX_SOFTWARE, strdup("out of memory"));
		e = dest_error(d, msg);
		dest_msg_abort(d);
		return e;
	}
	switch (d->kind) {
	case DEST_MBOX:
		return PX_OK;
	case DEST_MAILDIR:
		return maildir_end(d, msg);
	case DEST_MDA:
		return mda_wait(d, msg);
	}
	return PX_OK;
}

void
dest_msg_abort(struct dest *d)
{
	d->blen = 0;
	switch (d->kind) {
	case DEST_MBOX:
		mbox_truncate(d, d->msg_start);
		break;
	case DEST_MAILDIR:
		maildir_drop(d);
		break;
	case DEST_MDA:
		mda_kill(d);
		break;
	}
}

enum px_err
dest_commit(struct dest *d, char **msg)
{
	char *dir;
	enum px_err e = PX_OK;

	*msg = NULL;
	switch (d->kind) {
	case DEST_MBOX:
		if (!d->locked)
			return PX_OK;
		if (fsync(d->fd) == -1) {
			*msg = strfmt("%s: %s", d->path, strerror(errno));
			mbox_truncate(d, d->batch_start);
			e = PX_IOERR;
		}
		mbox_unlock(d);
		break;
	case DEST_MAILDIR:
		if (!d->renamed)
			break;
		dir = strfmt("%s/new", d->path);
		if (dir == NULL || fsync_dir(dir) == -1) {
			*msg = strfmt("%s: %s", dir ? dir : d->path, strerror(errno));
			e = PX_IOERR;
		}
		free(dir);
		d->renamed = 0;
		break;
	case DEST_MDA:
		break;
	}
	return e;
}

void
dest_close(struct dest *d)
{
	if (d == NULL)
		return;
	switch (d->kind) {
	case DEST_MBOX:
		mbox_unlock(d);
		if (d->fd != -1)
			close(d->fd);
		break;
	case DEST_MAILDIR:
		maildir_drop(d);
		break;
	case DEST_MDA:
		mda_kill(d);
		break;
	}
	mf_free(&d->mf);
	free(d->buf);
	free(d->path);
	free(d->dotlock);
	free(d->host);
	free(d->tmpname);
	free(d->newname);
	free(d->errmsg);
	free(d);
}
