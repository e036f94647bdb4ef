/*
 * oauth2store.h: the token file of an OAuth 2.0 account and its lock (the
 * format, permissions and atomic replacement oauth2.h describes).  Used by
 * oauth2.c and oauth2auth.c only.
 *
 * The file, a JSON object:
 *   {"version": 1, "token_url": ..., "client_id": ..., "scope": ...,
 *    "refresh_token": ..., "access_token": ..., "obtained_at": UNIX TIME,
 *    "expires_at": UNIX TIME}
 * refresh_token is absent for the client_credentials grant.
 */
#ifndef POSTIE_OAUTH2STORE_H
#define POSTIE_OAUTH2STORE_H

#include <time.h>
#include <json-c/json.h>

#include "config.h"
#include "exitcodes.h"

struct o2store {
	const struct oauth2_cfg *o;
	char	*path;		/* the token file */
	char	*lockpath;	/* path + ".lock" */
	int	 lockfd;	/* -1 when not locked */
	int	 shared;	/* the setgid sendmail: 0660 files in a group directory */
	/* What the file holds (each malloc'd, NULL when absent). */
	char	*refresh_token;
	char	*access_token;
	time_t	 obtained_at;
	time_t	 expires_at;
};

/* Sets s up for the account (nothing read yet); 0, or -1 when out of memory. */
int	 o2store_init(struct o2store *s, const struct oauth2_cfg *o);

/* Unlocks, wipes the tokens and frees s. */
void	 o2store_free(struct o2store *s);

/*
 * Reads the token file into s.  A missing file is PX_OK with nothing in
 * s; a file that is not safe (another owner, open to others, not a regular
 * file, a directory others can enter) is PX_CONFIG; one that cannot be
 * read or parsed is PX_CONFIG too, telling to authorize again.
 */
enum px_err o2store_read(struct o2store *s, char **msg);

/*
 * Takes the lock, waiting at most wait seconds: PX_OK, PX_TEMPFAIL when
 * another process holds it that long, PX_CANTCREAT when the lock file
 * cannot be made (the directory is created when missing).
 */
enum px_err o2store_lock(struct o2store *s, int wait, char **msg);
void	 o2store_unlock(struct o2store *s);

/* 1 when s holds an access token valid for the margin oauth2.h describes. */
int	 o2store_fresh(const struct o2store *s, time_t now);

/*
 * Takes a successful token answer (access_token, expires_in, and a new
 * refresh_token when the server rotates it; the old one is kept
 * otherwise) into s.  need_refresh: the answer must hold a refresh token
 * (a first grant).  PX_OK, or PX_TEMPFAIL / PX_NOPERM with *msg for an
 * answer that holds none of what is needed.
 */
enum px_err o2store_take(struct o2store *s, struct json_object *answer, int need_refresh,
	    time_t now, char **msg);

/* Writes s to the token file (temp file, fsync, rename, fsync dir): PX_OK or PX_CANTCREAT. */
enum px_err o2store_write(struct o2store *s, char **msg);

#endif
