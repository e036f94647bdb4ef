/*
 * oauth2.h: OAuth 2.0 access tokens for the logins of both programs
 * (XOAUTH2, OAUTHBEARER), from the account's oauth2_* keys (config.h).
 *
 * The token file (oauth2_token_file, default conf_oauth2_dir()/KIND-NAME.json)
 * holds the refresh token, the last access token and when it expires, as
 * a JSON object.  It is replaced whole (temp file, fsync, rename, fsync
 * of the directory) while KIND-NAME.json.lock is flock()ed, so that many
 * processes at once make one request to the token endpoint and none loses
 * a refresh token that the server rotated.  Reading needs no lock.
 *
 * Permissions: for a user's own configuration the file and its lock are
 * 0600 in a 0700 directory, and a file that belongs to another user or is
 * open to others is refused.  For the setgid sendmail (the system install)
 * they are 0660 in a directory 2770 of sendmail's group: only processes
 * with that group reach them, never the users who send; a directory that
 * others can enter is refused.
 *
 * Secrets (access and refresh tokens, client secrets, authorization codes,
 * device codes) are never put in a message, a log line or -v output, and
 * never on a command line.
 *
 * Error classes, the same for both calls: PX_NOPERM when the account has
 * no usable grant (never authorized, invalid_grant: revoked, expired,
 * password changed), *msg then says to run --authorize for the account;
 * PX_TEMPFAIL when the token endpoint cannot be reached or answers 5xx or
 * 429, or the lock is held too long; PX_CONFIG for a configuration the
 * endpoint refuses (invalid_client, invalid_scope, ...) and for a token
 * file that is not safe to use; PX_CANTCREAT when the token file cannot be
 * written; PX_SOFTWARE when out of memory.  *msg is one line, malloc'd,
 * starting with 'smtp account "NAME"' (or pop3).
 */
#ifndef POSTIE_OAUTH2_H
#define POSTIE_OAUTH2_H

#include "config.h"
#include "exitcodes.h"

/*
 * An access token for the account n (n->oauth2 set): the one in the token
 * file while it stays valid for a margin (a minute, or half its lifetime
 * when that is shorter), else a new one from the token endpoint (the
 * refresh_token grant with the stored refresh token, or the
 * client_credentials grant), saved in the file.
 *
 * refused: NULL, or the token a server just refused although it looked
 * valid: then the file's token is used only when it differs (another
 * process got a new one meanwhile), else a new one is requested.  Call it
 * at most once per login with refused set: a second refusal is the
 * server's answer.
 *
 * Returns PX_OK with *token (malloc'd; wipe it with explicit_bzero before
 * free), or an error class above with *msg.
 */
enum px_err oauth2_token(const struct net_cfg *n, const char *refused, char **token,
	    char **msg);

/*
 * The first grant, interactively (sendmail --authorize, popfetch
 * --authorize): with device = 0 the authorization code flow with PKCE
 * (S256): prints the URL to open, waits for the browser's redirect to
 * http://127.0.0.1:PORT/ on this host, or for the address the browser
 * ended on pasted on standard input (when the browser runs elsewhere);
 * with device = 1 the device authorization grant (RFC 8628): prints the
 * URL and the code to enter, and polls the token endpoint.  The refresh
 * token is stored in the token file, whose path is printed.  For the
 * client_credentials grant there is nothing to authorize: it gets a token
 * to show that the configuration works.  In the setgid sendmail only root
 * may do it (PX_NOPERM).  Prints through log.c; PX_OK, or an error class
 * above with *msg (PX_NOPERM also for a denied authorization, an expired
 * code, or no answer in 10 minutes).
 */
enum px_err oauth2_authorize(const struct net_cfg *n, int device, char **msg);

/*
 * When a server refused a login although oauth2_token() had just given a
 * new token: appends to *msg (when there is one; malloc'd, replaced) what
 * to do: "; a new access token was refused too: check user and
 * oauth2_scope, or run `sendmail --authorize -a NAME`".  *msg stays as it
 * is when memory is short or n has no OAuth 2.0 settings.
 */
void	 oauth2_refused_hint(const struct net_cfg *n, char **msg);

#endif
