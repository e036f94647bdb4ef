/*
 * mda.c: "/bin/sh -c COMMAND" per message with the message (LF line
 * endings, no From_ line) on its stdin; %F is replaced by the envelope
 * sender, shell-quoted.  Exit status 0 means delivered, 75 (EX_TEMPFAIL) a
 * temporary failure.  What a command delivered cannot be taken back: an
 * undo only says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dest.h"

/* cmd with %F replaced by the shell-quoted sender and %% by %. */
static char *
command(const char *cmd, const char *sender)
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

static enum px_err
mda_open(struct dest *d, char **msg)
{
	(void)msg;
	d->what = "mda";
	d->epipe_ok = 1;
	return PX_OK;
}

static enum px_err
mda_msg_begin(struct dest *d, char **msg)
{
	(void)msg;
	d->fd = -1;
	d->pid = 0;
	d->pipe_gone = 0;
	return PX_OK;
}

/* The sender is known: start the command. */
static int
mda_header(void *arg, const char *text, size_t len)
{
	struct dest *d = arg;
	char *sender, *cmd;
	int pfd[2];
	pid_t pid;

	sender = mf_sender(text, len);
	cmd = sender ? command(d->path, sender) : NULL;
	free(sender);
	if (cmd == NULL) {
		out_set_err(d, PX_SOFTWARE, strdup("out of memory"));
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		out_set_err(d, PX_OSERR, strfmt("cannot create a pipe: %s", strerror(errno)));
		free(cmd);
		return -1;
	}
	if ((pid = fork()) == -1) {
		out_set_err(d, PX_OSERR, strfmt("cannot fork: %s", strerror(errno)));
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
	return 0;
}

/* Waits for the command; PX_OK if it exited 0. */
static enum px_err
mda_msg_end(struct dest *d, char **msg)
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

static enum px_err
mda_undo(struct dest *d, char **what)
{
	*what = strfmt("the mda cannot take back the %lu message%s it delivered in this batch: "
	    "unless the state can be saved before this poll ends, the next poll delivers %s "
	    "again", d->nbatch, d->nbatch == 1 ? "" : "s", d->nbatch == 1 ? "it" : "them");
	return PX_IOERR;
}

const struct dest_ops mda_ops = {
	.name = "mda",
	.per_message = 1,
	.open = mda_open,
	.msg_begin = mda_msg_begin,
	.header = mda_header,
	.msg_end = mda_msg_end,
	.msg_abort = mda_kill,
	.undo = mda_undo,
	.close = mda_kill,
};
