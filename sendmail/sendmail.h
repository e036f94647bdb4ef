/*
 * sendmail.h: what the parts of sendmail share.
 *
 * The flow: main.c parses options and picks a mode; message.c reads the
 * message from stdin (or -bs) into a queue entry with completed headers;
 * queue.c keeps entries durable; smtp.c (the connection) and smtptx.c (the
 * mail transaction) deliver entries over one connection per account;
 * aliases.c expands local names.
 */
#ifndef SENDMAIL_H
#define SENDMAIL_H

#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "address.h"
#include "config.h"
#include "exitcodes.h"
#include "header.h"
#include "util.h"

/* Limits on input; over them the message is refused with a data error. */
#define MAX_HEADER_BYTES	(16u * 1024 * 1024)
#define MAX_HEADER_FIELDS	200000u
#define SMTP_LINE_MAX		998

struct opts {
	int	 dot_ends;	/* no -i: a lone "." ends input */
	int	 need_dot;	/* -bs: input must end with the lone "." */
	char	 delivery;	/* -od: 'i' now, 'b' background, 'q' queue only; 0: config */
	long long max_size;	/* -bs: largest message taken, 0 = no limit */
	int	 extract;	/* -t */
	int	 verbose;	/* -v */
	const char *conf;	/* -C */
	const char *account;	/* -a */
	const char *sender;	/* -f / -r, "" for <> */
	const char *fullname;	/* -F */
	const char *subject;	/* --subject */
	struct strlist attach;	/* --attach files */
	struct strlist attach_type;	/* matching types, "" = from mime.types */
	int	*attach_fd;	/* attach_open(): each file opened with the caller's rights */
	char	 mode;		/* 'm' send, 'p' list queue, 's' -bs, 'q' run queue, 'i' newaliases, 'v' verify, 'R' --requeue, 'A' --authorize, 'S' --serverinfo */
	int	 device;	/* --device: --authorize by the device authorization grant */
	long	 qinterval;	/* -qTIME in seconds, 0 = once */
	const char *q_id, *q_rcpt, *q_sender;	/* -qI -qR -qS substrings */
	struct strlist rcpts;	/* argv recipients (comma lists split later) */
	uid_t	 submitter;	/* whose message: getuid(), or a saved message's owner */
	const char *qid;	/* the queue id to give it (a saved message's own), or NULL */
	/* Set when the configuration cannot be loaded: submit() saves the message. */
	const struct saving *save;
};

/* What a message saved unprocessed records (saved.c). */
struct saving {
	int	 argc;		/* the command line after argv[0] */
	char	**argv;
	const char *error;	/* why the configuration cannot be loaded */
	const char *files;	/* the configuration files meant, "A, B" ("" unknown) */
};

/* The envelope and bookkeeping of one queue entry. */
struct envelope {
	char	*account;	/* smtp account name */
	char	*sender;	/* "" for the null sender */
	struct strlist rcpts;
	time_t	 created;
	int	 attempts;
	time_t	 next;		/* next attempt not before */
	char	*error;		/* last error, or NULL */
	off_t	 size;
	uid_t	 uid;		/* who submitted it; NO_UID in entries older than the field */
	/* failed/ only: */
	struct strlist replies;	/* the reply each recipient got ("" none), parallel to rcpts */
	time_t	 failed;	/* when it was given up */
	char	*report;	/* who is told: "caller", "bounce", "bounced ID", "none (why)" */
	int	 saved;		/* a saved message never completed: FID.args, FID.aN beside it */
	size_t	 nattach;	/* its attachments (FID.a0 ...) */
};
#define Q_ATTACH_MAX	10000	/* attachments of a saved message, at most */
#define NO_UID	((uid_t)-1)

void	 env_init(struct envelope *e);
void	 env_free(struct envelope *e);

/* A queue entry: its id, envelope, and the locked data file. */
struct qentry {
	char	*dir;
	char	*id;
	struct envelope env;
	int	 fd;		/* data file, locked; -1 if none */
	char	*tmpmsg;	/* data file path while not yet committed */
	/* Set by smtp_send: the recipients refused for good, and the reply each got. */
	struct strlist refused;
	struct strlist refused_replies;
};

/* queue.c */
int	 q_init(const char *dir, char **err);
int	 q_create(const char *dir, struct qentry *q, FILE **out, char **err);
/* q_create with a given queue id (NULL: a new one). */
int	 q_create_id(const char *dir, const char *id, struct qentry *q, FILE **out, char **err);
/* 1 when dir is a shared spool: setgid, its files belong to the group. */
int	 q_shared_dir(const char *dir);
/*
 * A new file's mode in queue directory dir (its failed/ and saved/ too):
 * readable by the group in a shared spool (any runner of the queue is the
 * setgid sendmail), private otherwise, set explicitly as root's umask is
 * not the setgid program's.  Written by root for another user (owner, not
 * NO_UID or 0: root's queue run), the file goes to that user, so that the
 * entry stays theirs to see and retry.  0 or -1.
 */
int	 q_own_file(int fd, const char *dir, uid_t owner);
int	 q_commit(struct qentry *q, FILE *fp, char **err);
void	 q_abort(struct qentry *q, FILE *fp);
int	 q_list(const char *dir, struct strlist *ids);
/* The ids of the files ID.MARK in dir (q_list: ID.env), oldest first; 0, or -1. */
int	 q_list_marked(const char *dir, const char *mark, struct strlist *ids);
int	 q_lock(const char *dir, const char *id, struct qentry *q);	/* 0, 1 busy, -1 gone */
/* The same for failed/FID; q->id is FID, q->dir the queue directory. */
int	 q_failed_lock(const char *dir, const char *fid, struct qentry *q);
int	 q_failed_update(struct qentry *q);	/* rewrites failed/FID.env; 0 or -1 */
int	 q_failed_remove(struct qentry *q);	/* removes failed/FID; 0 or -1 */
/* Sets the report of failed/FID (its creator, holding the data's lock); 0 or -1. */
int	 q_failed_report(const char *dir, const char *fid, const char *report);
/*
 * Puts the locked failed/ entry q back in the queue to be sent again (a
 * new queue_lifetime, tried at the next run).  0, or -1 with *err.
 */
int	 q_requeue(struct qentry *q, char **err);
int	 q_update(struct qentry *q);	/* rewrites the envelope (one retry); 0 or -1 */
/*
 * The entry is finished (the server took it, or failed/ holds it): its
 * envelope goes first, so that it is no entry from then on, then its data.
 * If the envelope cannot be removed it is renamed ID.done (no entry
 * either); if that fails too this process remembers the id, never sends it
 * again (q_lock says gone) and tries once more in q_retry_removals().
 * 0, or -1 with *err (malloc'd): the entry is still there.
 */
int	 q_remove(struct qentry *q, char **err);
int	 q_finished(const char *id);	/* 1: this process sent it; its removal failed */
/* This process takes id no more (q_lock refuses it): its new state could not be written. */
void	 q_leave(const char *id);
void	 q_retry_removals(void);	/* before exit: those removals again, logged */
/*
 * Keeps a copy of q in failed/ (the data linked, else copied) for the
 * recipients rcpts with the reply each got (parallel; rcpts NULL: q's own),
 * the reason why and report (who is told).  The queue entry is left as it
 * is.  0, or -1 with *err (malloc'd).
 */
int	 q_fail_copy(struct qentry *q, const struct strlist *rcpts, const struct strlist *replies,
	    const char *why, const char *report, char *fid, size_t fidlen, char **err);
/* A file to keep in failed/: linked from path when it can be, else copied from fd. */
struct qpart {
	const char *path;
	int	 fd;
};
/*
 * A new entry in DIR/failed for id with envelope e (what q_fail_copy
 * writes; one copy for the same recipients): the data from data, and for
 * a saved message (e->saved) its command line and attachments from
 * parts[0 .. e->nattach] as FID.args, FID.a0 ...  The failed/ id into fid.
 * 0, or -1 with *err (malloc'd): nothing of it is left in failed/.
 */
int	 q_failed_add(const char *dir, const char *id, const struct qpart *data,
	    const struct qpart *parts, const struct envelope *e, char *fid, size_t fidlen,
	    char **err);
void	 q_close(struct qentry *q);
int	 q_read_env(const char *path, struct envelope *e);
/*
 * Whose entry ID (envelope e, read locked or not) is: the uid recorded in
 * it, else (entries written before the field) the owner of its data file,
 * which only its submitter ever creates.  NO_UID if neither is known.
 */
uid_t	 q_owner(const char *dir, const char *id, const struct envelope *e);
/*
 * The owner of entry ID in dir, read without locking it (NO_UID when it is
 * gone): who may lock an entry is decided before the lock is taken.
 */
uid_t	 q_peek_owner(const char *dir, const char *id);
/* The envelope of DIR/ID.env read without a lock (to choose before locking); 0 or -1. */
int	 q_peek(const char *dir, const char *id, struct envelope *e);
/* 1 when the caller may see and run an entry of owner: root, or its owner. */
int	 q_visible(uid_t owner);
/* DIR/tmp/.KIND.ACCOUNT plus suffix: a per-account lock or socket (malloc'd). */
char	*q_account_file(const char *dir, const char *kind, const char *account,
	    const char *suffix);
time_t	 q_backoff(int attempts);
/*
 * Removes what a crash or a kill left in the queue: temp files whose
 * writer is gone (or a day old), data files without an envelope (a day
 * old; in failed/ too), entries marked done.  Locked files stay.
 */
void	 q_clean(const char *dir);
/* The same for a saved/ directory: parts (ID.in, ID.aN) without their ID.args, a day old. */
void	 q_clean_saved(const char *sdir);
int	 q_print(const char *dir, FILE *out);
/* mailq's section of DIR/failed (q_print shows it after the queue); how many. */
size_t	 q_print_failed(const char *dir, FILE *out);
/* A time span as mailq shows it: "45s", "3m", "2h", "4d". */
void	 q_age(char *buf, size_t n, time_t secs);
int	 strcmp_p(const void *a, const void *b);

/*
 * limits.c: queue_user_messages, queue_user_bytes (a user other than root
 * in a shared spool) and queue_minfree (everyone).  limits_begin() before
 * the message is read; limits_arm()/limits_disarm() around writing it (a
 * file size bound: disarm returns 1, with *msg, when the message hit it);
 * limits_commit() before q_commit(), holding a per-user lock until
 * limits_release().  Refusals are PX_TEMPFAIL with a one-line *msg.
 */
struct qlimits {
	int	 per_user;	/* a shared spool and a caller other than root */
	long long max_file;	/* bound for the message's files, -1 = none */
	char	 bound;		/* 'u' the user's bytes, 'f' the free space */
	int	 armed;
	int	 lockfd;
	struct rlimit old_rl;
	struct sigaction old_sa;
};
enum px_err limits_begin(struct postie_cfg *cfg, struct qlimits *l, char **msg);
void	 limits_arm(struct qlimits *l);
int	 limits_disarm(struct qlimits *l, struct postie_cfg *cfg, char **msg);
enum px_err limits_commit(struct postie_cfg *cfg, struct qlimits *l, off_t size, char **msg);
void	 limits_release(struct qlimits *l);

/* message.c: reads stdin (fd) and writes the completed message to out. */
struct msgctx {
	const struct opts *o;
	struct postie_cfg *cfg;
	struct smtp_account *acct;	/* chosen account (set by message_read) */
	struct envelope *env;
	const char *qid;		/* the queue id, for the Received: field */
	char	*errmsg;		/* one-line error on failure */
	int	 dot_seen;		/* input ended with a lone "." line */
	int	 too_big;		/* over o->max_size */
};
/* A new Message-ID field value, "<time.pid.random@domain>" (malloc'd). */
char	*message_id(const char *domain);
/*
 * The account and envelope sender (malloc'd) a message submitted with o
 * gets in cfg: -a, else the account for -f's address; -f rewritten as
 * the account says, else the account's from, else the submitter at the
 * account's domain.  PX_OK, or PX_USAGE (-f is no address), PX_CONFIG (no
 * such account), PX_SOFTWARE, with *err (malloc'd).
 */
enum px_err message_envelope(struct postie_cfg *cfg, const struct opts *o,
	    struct smtp_account **acct, char **sender, char **err);
struct reader;
/* Reads one message from r (up to end of input, or a lone "." with dot_ends). */
enum px_err message_read(struct msgctx *m, struct reader *r, FILE *out);
#define READ_BUF	(256 * 1024)

/* aliases.c: checks the aliases file; returns the number of aliases or -1. */
int	 aliases_check(const char *file, char **err);

/* recipients: split comma lists, expand aliases, qualify, dedupe. */
/* strict: every comma-separated piece must be an address (argv); else garbage is skipped. */
enum px_err rcpts_resolve(struct postie_cfg *cfg, const char *domain, const struct strlist *in,
	    struct strlist *out, int strict, char **err);

/* smtp.c */
struct smtp_conn;
struct smtp_conn *smtp_open(struct smtp_account *a, struct postie_cfg *cfg, int verbose);
/*
 * Sends one committed entry.  Returns PX_OK when the server took the
 * message for at least one recipient, else the error class of the failure.
 * Either way the entry's recipients are reduced to those still to be tried
 * (none refused, or refused only for now), and q->refused gets those
 * refused for good with the reply each got (q->refused_replies).  *msg gets
 * a one-line description of a failure or of the refused recipients.
 */
enum px_err smtp_send(struct smtp_conn *c, struct qentry *q, char **msg);
void	 smtp_close(struct smtp_conn *c);
const char *smtp_last_reply(struct smtp_conn *c);
const char *smtp_host(struct smtp_conn *c);
const char *smtp_tls(struct smtp_conn *c);
/* 1 when the last failure needs the user (certificate, password_command), not a retry. */
int	 smtp_attention(struct smtp_conn *c);
/* 1 when the last failure came before any recipient (the server, not the message). */
int	 smtp_broken(struct smtp_conn *c);
/*
 * 1 when the last smtp_send got as far as MAIL FROM, so that a refusal is
 * about this message (sender, recipients, data); 0 when it failed before
 * (connect, TLS, EHLO, AUTH, setup, libcurl): about the server, the
 * account or this host, never the message's fault.
 */
int	 smtp_in_transaction(struct smtp_conn *c);
void	 smtp_set_last_error(struct smtp_conn *c, const char *msg);
const char *smtp_last_error(struct smtp_conn *c);
/*
 * Where the last connect or login was refused: 'g' the greeting, 'e' EHLO
 * (and HELO), 't' STARTTLS, 'p' no login mechanism fits (auth, tls), 'a'
 * the login itself, 'k' the password (password_command); 0 anywhere else.
 */
int	 smtp_failed_at(struct smtp_conn *c);
/* The connection's socket, or -1. */
int	 smtp_socket(struct smtp_conn *c);
/*
 * q (locked) is the entry the caller sends next over c: its MAIL, RCPT and
 * DATA may go out with the final dot of the entry being sent now (one
 * round trip less per message, RFC 2920).  Only for the next smtp_send();
 * nothing of q is delivered before smtp_send(c, q), and if another entry
 * is sent instead the connection is made again.
 */
void	 smtp_ahead(struct smtp_conn *c, const struct qentry *q);

/* outcome.c: the one place that decides what a failure means for a message. */
struct attempt {
	enum px_err err;	/* smtp_send's: PX_OK = the server took it for some recipients */
	int	 in_txn;	/* the failure came inside the mail transaction */
	int	 attention;	/* a temporary failure the user must mend (certificate, keyring) */
	int	 failed_at;	/* smtp_failed_at(): the step refused before the transaction */
	size_t	 nrefused;	/* recipients refused for good */
	size_t	 nleft;		/* recipients still to be tried */
	int	 null_sender;	/* MAIL FROM:<>: never bounced */
	int	 bounces;	/* the account sends bounces (bounce = "sender") */
};
struct verdict {
	int	 done;		/* the server has it: those recipients never get it again */
	int	 keep;		/* the recipients left stay queued, with backoff */
	int	 fail_left;	/* the recipients left are given up too */
	int	 fail;		/* failed/ gets a copy: the refused (and fail_left: the left) */
	int	 bounce;	/* nobody waits: the sender gets a delivery status notification */
	int	 loud;		/* not the message's fault: one line naming problem and fix */
	enum px_err status;	/* what the caller is told */
	const char *report;	/* who learns of a failure (outcome_report) */
	const char *report_gone;	/* the same, should the caller turn out to be gone */
	char	 failed_id[96];	/* deliver_entry: the failed/ id of the copy it kept, or "" */
};
/*
 * The verdict on an attempt.  attended: a caller waits for the answer (a
 * foreground send, -bs, a hand-over); may_queue: the account's queue is
 * "on_failure".  Only a 5xx inside the mail transaction fails a message.
 */
void	 outcome_decide(const struct attempt *a, int attended, int may_queue, struct verdict *v);
/*
 * Who learns that a message failed: "caller", "bounce", or "none (why)";
 * kept in the failed/ entry.
 */
const char *outcome_report(int attended, int null_sender, int bounces);
/*
 * The fix to name for a failure that is not the message's (malloc'd), or
 * NULL: the key or the action that mends the step that failed.
 */
char	*outcome_fix(const struct attempt *at, const struct smtp_account *a);
/*
 * What the failure e of completing a saved message (saved.c) means: 1 when
 * no configuration can mend it (the message or its command line: the
 * message goes to failed/ at once), 0 when a later run may complete it
 * (the configuration, this host).
 */
int	 outcome_saved_final(enum px_err e);

/* deliver.c: tries an entry now and handles the outcome (remove, keep, fail). */
/*
 * One attempt at q over c (account a) and its outcome carried out: removed,
 * kept with backoff, copied to failed/ (and bounced).  attended: a caller
 * waits for the answer.  Returns what the caller is told (v->status); *msg
 * gets the line to show, v the verdict.
 */
enum px_err deliver_entry(struct smtp_conn *c, struct smtp_account *a, struct qentry *q,
	    int attended, char **msg, struct verdict *v);

/* Open connections of a queue run, one per account, kept across passes. */
struct conns {
	struct smtp_conn *c[32];
	struct smtp_account *a[32];
	int	 down[32];	/* the server failed before any recipient: skip the rest */
	size_t	 n;
};
void	 conns_close(struct conns *cs);
/*
 * One pass over the queue: every entry (of only_account, if set; due ones
 * only, if only_due) is tried.  cs keeps the connections (NULL: opened and
 * closed here).  Returns how many entries were tried.
 */
int	 queue_run(struct postie_cfg *cfg, const struct opts *o, const char *only_account,
	    int only_due, struct conns *cs);
/* failed/: entries older than failed_lifetime are removed, logged (the caller's own; root: all). */
void	 failed_maintain(struct postie_cfg *cfg);
/* Background delivery: a detached process sends the account's queue. */
void	 queue_background(struct postie_cfg *cfg, const struct opts *o, const char *account);

/*
 * bounce.c: the delivery status notification (RFC 3464) of a failed/
 * entry whose report is pending ("bounce"), composed from it and sent over
 * c with the null sender to its envelope sender; From: the account's from
 * (a may be NULL), else MAILER-DAEMON@domain.  The entry's report then
 * says what became of it: "bounced DATE", "bounce (last try: ...)" to be
 * tried again by the next run, or "none (...)" once refused, or after
 * lifetime seconds.  Returns 1 sent, 0 not (yet), -1 given up.
 */
int	 bounce_send(struct smtp_conn *c, const struct smtp_account *a, const char *domain,
	    const char *dir, const char *fid, long lifetime);
/* 1 when report says a bounce is still to be sent. */
int	 bounce_pending(const char *report);

/*
 * serverinfo.c: --serverinfo: connects and logs in as a send would, prints
 * TLS, certificate and capabilities; returns the exit status.
 */
int	 serverinfo_mode(struct postie_cfg *cfg, const struct opts *o);

/* bs.c */
int	 bs_serve(struct postie_cfg *cfg, const struct opts *o);

/* attach.c */
/*
 * Opens every --attach file once, with the caller's real user and group
 * (never the setgid group's), before the message is read: what is attached
 * is what the caller could read when it started us.  0, or -1 with *err
 * (malloc'd, names the file; exit status 66).  attach_close() closes them.
 */
int	 attach_open(struct opts *o, char **err);
void	 attach_close(struct opts *o);
/*
 * Writes h and a multipart/mixed body: the text read from r (r NULL: no
 * text; first/firstlen: a line already read when have_first) as the first
 * part, then each --attach file (read from o->attach_fd) as a base64 part.
 */
enum px_err attach_wrap(struct msgctx *m, struct hdr_block *h, struct reader *r,
	    const char *first, size_t firstlen, int have_first, FILE *out);

/* message.c: what a body held, and the body copier attach.c uses too. */
struct bodyinfo {
	int	 long_line;	/* a line over SMTP_LINE_MAX octets */
	int	 nul;		/* a NUL byte */
	int	 eightbit;	/* a byte over 127 */
	off_t	 offset;	/* where the body starts in the spool file */
	long long bytes;	/* body bytes read, line endings counted as two */
};
enum px_err copy_body(struct msgctx *m, struct reader *r, const char *first, size_t firstlen,
	    int have_first, FILE *out, struct bodyinfo *bi);

/* The result of taking one message from a caller (stdin or -bs). */
struct submit_result {
	enum px_err err;	/* PX_OK: sent or queued */
	int	 queued;	/* kept in the queue for a later try */
	int	 dot_seen;	/* the input ended with a lone "." */
	int	 loud;		/* queued for a reason the user must see */
	int	 too_big;	/* refused: over the size limit */
	int	 saved;		/* the configuration cannot be loaded: saved unprocessed */
	char	*msg;		/* why, when not simply sent; malloc'd */
	char	 id[64];
};
/*
 * message.c: the end of reading a message into res (dot_seen, too_big);
 * e, or PX_DATA when -bs input ended before its lone dot; on failure
 * res->err and res->msg (m->errmsg handed over).
 */
enum px_err message_finish(struct msgctx *m, enum px_err e, struct submit_result *res);
/* deliver.c: spools the message read from r, tries it, flushes the account's queue. */
void	 submit(struct postie_cfg *cfg, const struct opts *o, struct reader *r,
	    struct submit_result *res);
/* The verdict v of an attended attempt at q (account a), into res; closes q. */
void	 submit_conclude(struct qentry *q, struct smtp_account *a, const struct verdict *v,
	    struct submit_result *res);

/*
 * saved.c: messages taken while the configuration cannot be loaded, kept
 * unprocessed in the built-in queue directory's saved/ until a run finds
 * a working configuration.  saved_store: what submit() does without a
 * configuration (o->save says why): the input from r (line endings and,
 * with o->dot_ends, dots as a message is read) and the command line; res
 * as for submit (res->saved, exit 75).  saved_complete: completes each
 * saved message this configuration is meant by (the same file), as a
 * normal submission with its arguments would, into the queue.  A saved
 * message that can never be completed (outcome_saved_final), or that
 * outlives queue_lifetime (of the configuration it is meant for; with
 * another or none, CONF_QUEUE_LIFETIME), goes to failed/ with its reason,
 * its command line and attachments (envelope "saved"), a bounce due when
 * a sender and an account are known; cfg NULL (none can be loaded): only
 * that.  Returns how many give the queue something to send (completed, or
 * a bounce due).  saved_requeue: --requeue of such a failed/ entry q
 * (locked): completes it into cfg's queue as q->id and removes it from
 * failed/; PX_OK, or the failure's class with *err (malloc'd), and it
 * stays.  saved_print: mailq's section of them (cfg: the configuration
 * loaded, or NULL), with when each is given up; returns how many.
 */
void	 saved_store(const struct opts *o, struct reader *r, struct submit_result *res);
int	 saved_complete(struct postie_cfg *cfg);
enum px_err saved_requeue(struct postie_cfg *cfg, struct qentry *q, char **err);
size_t	 saved_print(FILE *out, const struct postie_cfg *cfg);

/* main.c: the defaults of a command line; the command line into o, as sendmail parses it (-1, with *code, to exit). */
void	 opts_init(struct opts *o);
int	 opts_parse(int argc, char **argv, struct opts *o, int *code);

/*
 * conncache.c: a connection kept open after a send, for the next sendmail.
 * cc_handoff: passes the locked entry q to a process holding a connection
 * for account a; 1 when that process answered (res filled, q closed), 0
 * when the caller must send it itself (q locked again).  cc_hold: after a
 * successful send, forks a process that keeps c for connection_cache
 * seconds; 1 when it did (c belongs to it now: do not use or close it).
 * cc_detach: makes the current process a daemon: a new session, standard
 * input and output (and error, unless -v) on /dev/null, and every other
 * descriptor the caller passed closed (those in keep excepted).
 */
int	 cc_handoff(struct postie_cfg *cfg, const struct opts *o, struct smtp_account *a,
	    struct qentry *q, struct submit_result *res);
int	 cc_hold(struct postie_cfg *cfg, const struct opts *o, struct smtp_account *a,
	    struct smtp_conn *c);
void	 cc_detach(int *keep, size_t n);

#endif
