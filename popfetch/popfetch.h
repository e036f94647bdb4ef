/*
 * popfetch.h: how the parts of popfetch talk to each other.
 *
 *   main.c      options, configuration, the account pool, the daemon loop
 *   fetch.c     one poll of one account: the safe fetch protocol, --list
 *   pop3.c      the POP3 session: libcurl logs in, then pipelined commands
 *   msgfilter.c wire bytes -> LF lines, mboxrd quoting, header capture
 *   deliver.c   destinations: mbox, Maildir, mda
 *   uidl.c      per-account state (UIDLs already fetched) and lock
 *
 * Conventions: functions that can fail return an enum px_err (PX_OK on
 * success) and put a malloc'd one-line message in *msg that the caller
 * frees; only main.c turns error classes into exit codes.
 */
#ifndef POPFETCH_H
#define POPFETCH_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"
#include "exitcodes.h"
#include "net.h"
#include "util.h"

/* Command line, as filled by the getopt loop. */
struct popts {
	const char *conf;	/* -C */
	long	 daemon;	/* -d: -1 = poll once, 0 = each account's interval */
	int	 keep;		/* -k */
	int	 verbose;	/* -v */
	int	 quiet;		/* -q */
	int	 list;		/* --list */
	int	 progress;	/* live progress line allowed (terminal, not -q) */
	int	 summary;	/* one summary line per account on the terminal */
};

/* Set by the SIGTERM/SIGINT handler: finish the message in hand, then stop. */
extern volatile sig_atomic_t pf_stop;

/* ---- main.c ---- */
/* Rank of an error class when several accounts fail: the worst wins. */
int	 pf_severity(enum px_err e);
/* The error class an exit code of a child came from. */
enum px_err pf_err_of_exit(int code);

/* ---- fetch.c ---- */
struct poll_result {
	unsigned long nmsgs;	/* messages delivered */
	unsigned long long bytes;	/* bytes received for them */
	unsigned long ndeleted;	/* DELE commands accepted */
	unsigned long nskipped;	/* too big, left on the server */
};

/* One poll of one account; the error message (if any) is already printed. */
enum px_err fetch_account(const struct pop3_account *a, const struct popts *o,
	    struct poll_result *res);
/* --list for one account, on stdout. */
enum px_err list_account(const struct pop3_account *a, const struct popts *o);

/* ---- pop3.c ---- */
/* Receives body bytes; returns n, or anything else to abort the transfer. */
typedef size_t (*pop3_sink)(void *arg, const char *p, size_t n);

struct pop3_msg {
	unsigned long num;	/* message number in this session */
	long long size;	/* octets from LIST, -1 if unknown */
	char	*uidl;		/* NULL if the server has no UIDL */
	unsigned seen:1;	/* UIDL in the state file: fetched before */
	unsigned wanted:1;	/* to fetch this poll */
	unsigned done:1;	/* delivered and covered by an fsync */
	unsigned deleted:1;	/* DELE accepted */
};

#define POP3_QUEUE	1024	/* commands whose replies are owed, at most */
#define POP3_AHEAD	64	/* RETR or TOP commands sent ahead, at most */

enum pop3_kind { POP3_SIMPLE, POP3_LIST, POP3_RETR, POP3_TOP, POP3_DELE };

/* A command sent whose reply is not read yet, or one planned. */
struct pop3_pending {
	enum pop3_kind kind;
	unsigned long num;
	long long size;
};

struct pop3 {
	CURL	*c;
	const struct net_cfg *net;
	char	*password;
	struct net_trace t;
	curl_socket_t sock;
	int	 open;		/* logged in */
	int	 dead;		/* the connection is unusable: no more commands */
	int	 pipelining;	/* the server offers PIPELINING */
	int	 abortable;	/* in a RETR body: a second signal may cut it */
	int	 uidl_ok;	/* the server answered UIDL */
	/* input */
	char	*ibuf;
	size_t	 ipos, ilen;
	int	 bstate;	/* body parser state */
	struct sbuf line;
	struct sbuf reply;	/* status line of the last reply */
	/* output: commands not yet sent */
	struct sbuf out;
	/* replies owed, oldest first (a ring) */
	struct pop3_pending q[POP3_QUEUE];
	size_t	 qhead, qlen;
	size_t	 qget;		/* RETR and TOP among them */
	long long qbytes;	/* their sizes */
	/* RETR or TOP commands to send ahead */
	struct pop3_pending *plan;
	size_t	 nplan, plannext;
	/* DELE results */
	unsigned long ndele_ok;
	char	*dele_err;	/* the first -ERR to a DELE */
	enum px_err dele_class;
	int	 quit_sent;
	int	 quit_reply;	/* 1 +OK, -1 -ERR, 0 none */
};

enum px_err pop3_open(struct pop3 *p, const struct net_cfg *n, int verbose, char **msg);
/* UIDL and LIST: fills *v (malloc'd array, caller frees with pop3_msgs_free). */
enum px_err pop3_scan(struct pop3 *p, struct pop3_msg **v, size_t *nv, char **msg);
void	 pop3_msgs_free(struct pop3_msg *v, size_t n);
/*
 * The messages about to be fetched (v[i].wanted), or with top set every
 * message for TOP, in the order pop3_retr/pop3_top will ask for them: with
 * PIPELINING their commands go out ahead.
 */
enum px_err pop3_plan(struct pop3 *p, int top, const struct pop3_msg *v, size_t n,
	    char **msg);
/* RETR num, body (dot-unstuffed, CRLF) to sink; PX_IOERR if the sink refused. */
enum px_err pop3_retr(struct pop3 *p, unsigned long num, pop3_sink sink, void *arg,
	    char **msg);
/* TOP num 0: the header block to sink. */
enum px_err pop3_top(struct pop3 *p, unsigned long num, pop3_sink sink, void *arg,
	    char **msg);
/* Sends DELE num; its reply is read later (a refusal is reported by pop3_close). */
enum px_err pop3_dele(struct pop3 *p, unsigned long num, char **msg);
/*
 * Reads every reply still owed, sends QUIT (which commits the deletions)
 * and frees everything.  Returns PX_OK, or the first refused DELE, or a
 * QUIT refused or unanswered.  quit_reply and ndele_ok stay readable.
 */
enum px_err pop3_close(struct pop3 *p, char **msg);

/* ---- msgfilter.c ---- */
#define MF_HEADER_MAX	(1024 * 1024)	/* header bytes buffered for the sender */

struct mfilter {
	int	 mboxrd;	/* quote lines matching ^>*From  */
	/* Output of converted bytes; 0 or -1. */
	int	(*put)(void *arg, const char *s, size_t n);
	/* The header block is complete (or too big): text is LF, quoted. 0 or -1. */
	int	(*header)(void *arg, const char *text, size_t len);
	void	*arg;
	size_t	 header_max;
	/* state */
	int	 in_header;
	struct sbuf hdr;
	int	 cr;		/* a CR waits for the next byte */
	int	 scan;		/* at the start of a line, matching >*From */
	size_t	 gt;		/* '>' seen there */
	size_t	 fm;		/* bytes of "From " matched after them */
	int	 empty;		/* nothing output on this line yet */
	int	 failed;
};

void	 mf_init(struct mfilter *f, int mboxrd);
void	 mf_free(struct mfilter *f);
/* Starts a message. */
void	 mf_begin(struct mfilter *f);
/* Feeds wire bytes (CRLF, unstuffed); 0 or -1 if put or header failed. */
int	 mf_feed(struct mfilter *f, const char *p, size_t n);
/* Ends the message: flushes state, adds a missing final newline. 0 or -1. */
int	 mf_end(struct mfilter *f);
/*
 * The envelope sender for a header block: Return-Path, else the first From
 * address, else "MAILER-DAEMON"; safe for a From_ line (no white space or
 * control characters).  malloc'd.
 */
char	*mf_sender(const char *text, size_t len);
/* "From SENDER Thu Nov 26 15:08:17 2026\n" for now, in UTC. malloc'd. */
char	*mf_from_line(const char *sender, time_t now);

/* ---- deliver.c ---- */
struct dest;

/* Prepares the destination (creates the mbox file or the Maildir tree). */
enum px_err dest_open(struct dest **dp, const struct pop3_account *a, char **msg);
/* Takes the mbox locks (mbox only); the batch ends with dest_commit or dest_abort_batch. */
enum px_err dest_batch_begin(struct dest *d, char **msg);
/* Starts a message. */
enum px_err dest_msg_begin(struct dest *d, char **msg);
/* Message bytes as they come off the wire; 0 or -1 (then dest_msg_abort). */
int	 dest_msg_data(struct dest *d, const char *p, size_t n);
/* Ends the message; on failure the message is undone. */
enum px_err dest_msg_end(struct dest *d, char **msg);
/* Undoes the message in hand (network failure or a data error). */
void	 dest_msg_abort(struct dest *d);
/* The error of a failed dest_msg_data, or PX_OK; *msg is set on error. */
enum px_err dest_error(struct dest *d, char **msg);
/* Makes every message since dest_batch_begin durable and unlocks. */
enum px_err dest_commit(struct dest *d, char **msg);
void	 dest_close(struct dest *d);
/* 1 if the destination judges each message on its own (mda). */
int	 dest_per_message(const struct dest *d);


/* ---- uidl.c ---- */
struct ustate {
	char	*dir;		/* state directory */
	char	*path;		/* UIDL file */
	char	*lockpath;
	int	 lockfd;
	char	**v;		/* sorted UIDLs from the file */
	size_t	 n;
};

/* The state directory: $XDG_STATE_HOME/postie/popfetch, /var/lib/postie/popfetch for root. */
char	*us_state_dir(void);
/* Locks the account (75 if another process has it) and reads its state. */
enum px_err us_open(struct ustate *s, const struct pop3_account *a, char **msg);
int	 us_has(const struct ustate *s, const char *uidl);
/* Writes the UIDLs of messages seen or done (temp file, fsync, rename, fsync dir). */
enum px_err us_save(struct ustate *s, const struct pop3_msg *v, size_t n, char **msg);
/* Unlocks and frees. */
void	 us_close(struct ustate *s);

#endif
