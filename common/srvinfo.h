/*
 * srvinfo.h: the lines both programs' --serverinfo print (popfetch
 * --serverinfo ACCOUNT, sendmail --serverinfo [-a ACCOUNT]), so that the
 * two reports share one layout: the account, a list of capabilities, the
 * login's outcome.  The TLS lines are tlsinfo.h's.
 *
 * Each function returns its lines, each ending in a newline, malloc'd (the
 * caller prints and frees them), or NULL when memory is short: nothing
 * here prints.
 */
#ifndef POSTIE_SRVINFO_H
#define POSTIE_SRVINFO_H

#include "config.h"
#include "exitcodes.h"
#include "sasl.h"

/* "NAME: HOST port PORT, user USER" (or "(none)"). */
char	*srvinfo_account(const char *name, const struct net_cfg *n);
/*
 * "Capabilities: " and the first of lines (each ending in '\n'), then
 * each further one indented under it; "Capabilities: EMPTY" when lines is
 * NULL or empty.
 */
char	*srvinfo_caps(const char *lines, const char *empty);
/* 1 when n has a login to try: a user, and auth is not "none". */
int	 srvinfo_wants_login(const struct net_cfg *n);
/*
 * The "Login:" line: none configured (when !srvinfo_wants_login(n), and
 * why), "ok, as USER (MECH)" when e is PX_OK, else "failed" (the caller
 * shows the error itself, on stderr).
 */
char	*srvinfo_login(const struct net_cfg *n, enum px_err e, enum sasl_mech mech);
/* Prints lines made here or by tlsinfo.h to stdout ("(out of memory)" for NULL), and frees them. */
void	 srvinfo_put(char *lines);

#endif
