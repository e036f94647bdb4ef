/*
 * log.h: all output of the library goes through here.
 *
 * Two channels: diagnostics for the user on stderr ("prog: message"), and
 * the one-line-per-event log to syslog, a file, stderr or nowhere, chosen
 * by the "log" key.  Nothing here ever prints a secret: callers pass
 * redacted text.
 */
#ifndef POSTIE_LOG_H
#define POSTIE_LOG_H

#include <stdarg.h>

/* Sets the program name used as prefix and syslog ident. */
void log_setprog(const char *prog);
const char *log_prog(void);

/*
 * Chooses the event log: "syslog", "stderr", "none" or a file path.
 * Returns 0, or -1 if the file cannot be opened (then events go to syslog).
 */
int log_open(const char *target);
void log_close(void);
/* The log file's descriptor, or -1; log_detach closes the syslog socket (reopened on use). */
int log_fd(void);
void log_detach(void);

/* Verbosity for the user channel: 0 errors only, 1 -v. */
void log_setverbose(int v);
int log_verbose(void);

/* "prog: message" on stderr, always. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "prog: message" on stderr only with -v. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One event line to the configured log (syslog facility mail). */
void log_event(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
