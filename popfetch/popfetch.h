/*
 * popfetch.h: how the parts of popfetch talk to each other.
 *
 *   main.c      options, configuration, the account pool, the daemon loop
 *   fetch.c     one poll of one account: the safe fetch protocol, --list
 *   serverinfo.c --serverinfo: TLS, certificate, capabilities, login
 *   pop3.c      the POP3 session: libcurl logs in, then pipelined commands
 *   msgfilter.c wire bytes -> LF lines, mboxrd quoting, header capture
 *   dest.c      destinations (mbox.c, maildir.c, mda.c; see dest.h)
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
#include "netio.h"
#include "sasl.h"
#include "util.h"

/* Command line, as filled by the getopt loop. */
struct popts {
	const char *conf;	/* -C */
	long	 daemon;	/* -d: -1 = poll once, 0 = each account's interval */
	int	 keep;		/* -k */
	int	 verbose;	/* -v */
	int	 quiet;		/* -q */
	int	 list;		/* --list */
	int	 serverinfo;	/* --serverinfo */
	int	 progress;	/* live progress line allowed (terminal, not -q) */
	int	 summary;	/* one summary line per account on the terminal */
};

/* Set by the SIGTERM/SIGINT handler: finish the message in hand, then stop. */
extern volatile sig_atomic_t pf_stop;

/*
 * The text of an error message: every failure makes one, so a NULL message
 * is one that could not be made for want of memory.
 */
#define PF_WHY(msg)	((msg) != NULL ? (msg) : "out of memory")

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

/* ---- serverinfo.c ---- */
/* --serverinfo for one account, on stdout; the class a poll would have. */
enum px_err serverinfo_account(const struct pop3_account *a, const struct popts *o);

/* ---- pop3.c ---- */
/* Receives body bytes; returns n, or anything else to abort the transfer. */
typedef size_t (*pop3_sink)(void *arg, const char *p, size_t n);

/*
 * The longest UIDL taken (RFC 1939 says 70): a longer one counts as none,
 * in the listing and in the state file alike (below pop3.c's line limit,
 * so that a UIDL cut off by it is never taken for a shorter one).
 */
#define UIDL_MAX	1000

struct pop3_msg {
	unsigned long num;	/* message number in this session */
	long long size;	/* octets from LIST, -1 if unknown */
	char	*uidl;		/* NULL if the server has no UIDL (or one over UIDL_MAX) */
	unsigned seen:1;	/* UIDL in the state file: fetched before */
	unsigned wanted:1;	/* to fetch this poll */
	unsigned done:1;	/* delivered and covered by an fsync */
	unsigned deleted:1;	/* DELE sent */
	unsigned dele_ok:1;	/* DELE answered +OK */
	unsigned gone:1;	/* deleted: DELE +OK, then QUIT +OK */
};

enum pop3_kind { POP3_SIMPLE, POP3_LIST, POP3_RETR, POP3_TOP, POP3_DELE, POP3_UTF8 };

/* A command sent whose reply is not read yet, or one planned. */
struct pop3_pending {
	enum pop3_kind kind;
	unsigned long num;
	long long size;		/* RETR: LIST's size */
	size_t	 len;		/* bytes of the command line */
};

struct pop3 {
	CURL	*c;
	const struct net_cfg *net;
	char	*password;
	struct net_trace t;
	struct netio io;	/* the dialogue, once libcurl connected */
	int	 open;		/* connected */
	CURLcode curl_rc;	/* of the connection */
	int	 logged_in;
	enum sasl_mech mech;	/* the login mechanism used, or tried last */
	char	*ioerr;		/* why the connection failed during the login */
	/* what libcurl heard while connecting */
	struct sbuf greeting;
	struct sbuf capa;	/* CAPA lines, each ending in "\n" */
	int	 greeted;
	int	 capa_state;	/* 1 CAPA sent, 2 reading its lines */
	int	 capa_ok;	/* the server answered CAPA */
	int	 dead;		/* the connection is unusable: no more commands */
	int	 pipelining;	/* the server offers PIPELINING */
	int	 utf8;		/* the server offers UTF8 (RFC 6856) */
	int	 utf8_on;	/* ... and accepted it */
	int	 abortable;	/* in a RETR body: a second signal may cut it */
	int	 uidl_ok;	/* the server answered UIDL */
	/* the listing of pop3_scan (owned by the caller): DELE results go there */
	struct pop3_msg *msgs;
	size_t	 nmsgs;
	int	 bstate;	/* body parser state */
	struct sbuf reply;	/* status line of the last reply */
	size_t	 nunsent;	/* commands in io.out, not sent yet (the newest of the queue) */
	/* replies owed, oldest first (a ring that grows) */
	struct pop3_pending *q;
	size_t	 qcap, qhead, qlen;
	size_t	 qget;		/* RETR and TOP among them */
	long long qbytes;	/* LIST sizes of the RETRs among them */
	size_t	 qcmd;		/* bytes of their command lines */
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

#define POP3_VERBOSE	1	/* show the dialogue on stderr */
#define POP3_CERTINFO	2	/* keep the TLS facts for tls_info_get() */

/*
 * Connects and secures the connection (libcurl: greeting, CAPA, STLS);
 * p->capa and p->greeting hold what the server said.  On failure p still
 * needs pop3_close().
 */
enum px_err pop3_connect(struct pop3 *p, const struct net_cfg *n, int flags, char **msg);
/*
 * Logs in (sasl.c: the mechanism chosen from CAPA and the greeting, the
 * next one offered tried when one is refused), then asks for UTF8 when
 * CAPA lists it.  PX_NOPERM refused, PX_TEMPFAIL for [IN-USE],
 * [LOGIN-DELAY], [SYS/TEMP] or a failed connection, PX_UNAVAILABLE for
 * [SYS/PERM].
 */
enum px_err pop3_login(struct pop3 *p, char **msg);
/* pop3_connect, then pop3_login. */
enum px_err pop3_open(struct pop3 *p, const struct net_cfg *n, int verbose, char **msg);
/* 1 if CAPA listed the capability name (the first word of a line). */
int	 pop3_has_capa(const struct pop3 *p, const char *name);
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

/* ---- dest.c (mbox.c, maildir.c, mda.c behind it: see dest.h) ---- */
struct dest;

/* Prepares the destination (creates the mbox file or the Maildir tree). */
enum px_err dest_open(struct dest **dp, const struct pop3_account *a, char **msg);
/*
 * Starts a batch: takes the mbox locks, held until dest_batch_end.  A
 * batch is begun, filled with messages, committed, recorded in the state
 * (or undone when that fails) and ended.
 */
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
/*
 * Makes every message of the batch durable (fsync).  On failure the batch
 * is taken back out of the destination and *msg says so.
 */
enum px_err dest_commit(struct dest *d, char **msg);
/*
 * Takes a committed batch back out (the state could not be saved): the
 * mbox truncated to where the batch began, the Maildir files removed and
 * new/ synced; an mda cannot be undone.  *what (malloc'd, or NULL for an
 * empty batch) says what was done, for the log line; PX_OK, or PX_IOERR
 * when the messages stay in the destination.
 */
enum px_err dest_undo(struct dest *d, char **what);
/* Ends the batch: releases the mbox locks. */
void	 dest_batch_end(struct dest *d);
void	 dest_close(struct dest *d);
/* 1 if the destination judges each message on its own (mda). */
int	 dest_per_message(const struct dest *d);


/* ---- uidl.c ---- */
struct us_entry {
	char	*uidl;
	long long size;	/* from LIST; -1: unknown (a version 1 file) */
};

struct ustate {
	char	*dir;		/* state directory */
	char	*path;		/* UIDL file */
	char	*lockpath;
	int	 lockfd;
	struct us_entry *v;	/* as in the file, sorted by UIDL */
	size_t	 n;
	int	 rewrite;	/* the file must be written again (version 1) */
};

/*
 * Locks the account (PX_TEMPFAIL if another process has it) and reads its
 * state (PX_DATA for a file that does not parse).
 */
enum px_err us_open(struct ustate *s, const struct pop3_account *a, char **msg);
/* 1 if the state records the message (UIDL, size from LIST) as delivered. */
int	 us_has(const struct ustate *s, const char *uidl, long long size);
/*
 * Writes the state for the messages of v: those seen or done and not gone,
 * each with its UIDL and size (temp file, fsync, rename, fsync dir).
 */
enum px_err us_save(struct ustate *s, const struct pop3_msg *v, size_t n, char **msg);
/* 1 if us_save would write something else than the file holds. */
int	 us_changed(const struct ustate *s, const struct pop3_msg *v, size_t n);
/* Unlocks and frees. */
void	 us_close(struct ustate *s);

#endif
