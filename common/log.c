/* log.c: the user channel (stderr) and the event log (syslog, file, stderr, none). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum { LOG_TO_SYSLOG, LOG_TO_STDERR, LOG_TO_NONE, LOG_TO_FILE };

static const char *prog = "postie";
static int verbose;
static int target = LOG_TO_SYSLOG;
static int logfd = -1;
static int syslog_open;

void
log_setprog(const char *p)
{
	prog = p;
}

const char *
log_prog(void)
{
	return prog;
}

void
log_setverbose(int v)
{
	verbose = v;
}

int
log_verbose(void)
{
	return verbose;
}

int
log_open(const char *t)
{
	log_close();
	if (t == NULL || strcmp(t, "syslog") == 0 || *t == '\0')
		target = LOG_TO_SYSLOG;
	else if (strcmp(t, "stderr") == 0)
		target = LOG_TO_STDERR;
	else if (strcmp(t, "none") == 0)
		target = LOG_TO_NONE;
	else {
		logfd = open(t, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (logfd == -1) {
			target = LOG_TO_SYSLOG;
			return -1;
		}
		target = LOG_TO_FILE;
	}
	return 0;
}

void
log_close(void)
{
	if (logfd != -1)
		close(logfd);
	logfd = -1;
	if (syslog_open)
		closelog();
	syslog_open = 0;
}

int
log_fd(void)
{
	return logfd;
}

void
log_detach(void)
{
	if (syslog_open)
		closelog();
	syslog_open = 0;
}

static void
vwarn(const char *fmt, va_list ap)
{
	char buf[4096];
	int n;

	n = snprintf(buf, sizeof buf, "%s: ", prog);
	if (n < 0 || (size_t)n >= sizeof buf)
		n = 0;
	vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	n = (int)strlen(buf);
	buf[n++] = '\n';
	/* One write so that concurrent processes do not interleave. */
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (!verbose)
		return;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
log_event(int priority, const char *fmt, ...)
{
	char buf[4096], stamp[64];
	va_list ap;
	struct tm tm;
	time_t now;
	int n;

	if (target == LOG_TO_NONE)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	switch (target) {
	case LOG_TO_SYSLOG:
		if (!syslog_open) {
			openlog(prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
			syslog_open = 1;
		}
		syslog(priority, "%s", buf);
		break;
	case LOG_TO_STDERR:
		log_error("%s", buf);
		break;
	case LOG_TO_FILE:
		now = time(NULL);
		localtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S%z", &tm);
		{
			char line[4300];

			n = snprintf(line, sizeof line, "%s %s[%ld]: %s\n", stamp, prog,
			    (long)getpid(), buf);
			if (n > 0)
				(void)!write(logfd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		}
		break;
	}
}
