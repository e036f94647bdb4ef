/*
 * util.h: small helpers shared by both programs.
 *
 * Ownership: functions returning char * return malloc'd strings that the
 * caller frees; NULL means failure (out of memory or as documented).
 * Nothing here exits.
 */
#ifndef POSTIE_UTIL_H
#define POSTIE_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* A growable byte string, always NUL-terminated. */
struct sbuf {
	char	*s;
	size_t	 len;
	size_t	 cap;
};

void	 sb_init(struct sbuf *b);
void	 sb_free(struct sbuf *b);
void	 sb_reset(struct sbuf *b);
int	 sb_addn(struct sbuf *b, const char *s, size_t n);	/* 0 or -1 */
int	 sb_adds(struct sbuf *b, const char *s);
int	 sb_addc(struct sbuf *b, char c);
int	 sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char	*sb_steal(struct sbuf *b);	/* returns the string, b is reset */

/* A growable list of strings (each malloc'd). */
struct strlist {
	char	**v;
	size_t	  n;
	size_t	  cap;
	int	  oom;	/* an add failed for memory: the list is short (never written out) */
};

void	 sl_init(struct strlist *l);
void	 sl_free(struct strlist *l);
int	 sl_add(struct strlist *l, const char *s);	/* copies s */
int	 sl_addown(struct strlist *l, char *s);	/* takes s */
int	 sl_has(const struct strlist *l, const char *s);	/* case-insensitive */
/* Drops every string equal (case-insensitive) to an earlier one, keeping the order; O(n log n); 0 or -1. */
int	 sl_uniq(struct strlist *l);

char	*xstrdup(const char *s);	/* strdup that accepts NULL */
void	 util_wipe(char **s);	/* a secret: zeroed, freed, *s = NULL (NULL accepted) */
char	*xstrndup(const char *s, size_t n);
char	*strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	 strcaseprefix(const char *s, const char *prefix);	/* 1 if s starts with prefix */
int	 util_hexval(int c);	/* the value of a hex digit (either case), or -1 */
char	*trim(char *s);	/* in place, returns s moved past leading space */

/* Home directory of the real uid, from the passwd entry (not $HOME). */
char	*util_home(void);
/*
 * The directory of the real user's state of kind name (popfetch's UIDLs,
 * OAuth 2.0 tokens): $XDG_STATE_HOME/postie/NAME when that is absolute,
 * /var/lib/postie/NAME for root, else ~/.local/state/postie/NAME.
 * Malloc'd, NULL when memory is short; nothing is created.
 */
char	*util_state_dir(const char *name);
/* User name of the real uid, and its GECOS full name ("" if none). */
char	*util_username(void);
char	*util_fullname(void);
/* The same for another uid (a saved message completed for its submitter). */
char	*util_username_of(uid_t uid);
char	*util_fullname_of(uid_t uid);
/* "~/x" -> home/x; anything else copied. */
char	*util_expand_tilde(const char *path);
/* The host's fully qualified name if one can be found, else the short name. */
char	*util_fqdn(void);

/* Writes all of buf; 0 or -1 with errno. */
int	 write_all(int fd, const void *buf, size_t n);
/* fsync a directory. */
int	 fsync_dir(const char *dir);
/* mkdir -p with mode; 0 or -1. */
int	 mkdir_p(const char *dir, mode_t mode);

/* Time as RFC 5322 date-time in local time: "Thu, 26 Nov 2026 15:08:17 +0000". */
char	*util_rfc5322_date(time_t t);

/* Seconds on the monotonic clock, for intervals and timeouts. */
double	 util_monotonic(void);

/*
 * open(path, flags | O_CLOEXEC) with the real user and group IDs as the
 * effective ones (a setgid program opening a file named by its caller),
 * then the effective IDs back.  The descriptor, or -1 with errno.
 */
int	 util_open_real(const char *path, int flags);

/*
 * Runs "/bin/sh -c cmd" and returns the first line of its stdout with the
 * newline removed.  In a set-ID process it runs "/bin/sh -p -c cmd" (the
 * effective IDs kept), with stderr to /dev/null unless the real user is
 * root.  NULL on failure, with *err set to a static description ("it exited
 * with status 3"; valid until the next call).
 */
char	*util_command_line(const char *cmd, const char **err);

#endif
