/*
 * smtpconn.h: what smtp.c (the connection: libcurl's connect phase, the
 * server's capabilities, commands and replies, QUIT) and smtptx.c (the
 * mail transaction) share, and serverinfo.c (--serverinfo) reads.
 */
#ifndef SMTPCONN_H
#define SMTPCONN_H

#include <curl/curl.h>

#include "net.h"
#include "netio.h"
#include "sasl.h"
#include "sendmail.h"

#define SMTP_LINE_LIMIT	65536	/* a reply line longer than this is nonsense */

/* What the server's EHLO reply offered. */
struct smtp_caps {
	int	 pipelining;	/* RFC 2920 */
	int	 chunking;	/* RFC 3030 BDAT */
	int	 eightbit;	/* RFC 6152 8BITMIME */
	int	 smtputf8;	/* RFC 6531 */
	int	 starttls;
	int	 size;		/* RFC 1870 SIZE offered */
	long long size_max;	/* its limit, 0 when none is stated */
	char	 auth[512];	/* the AUTH mechanisms, "" for none */
};

/* The envelope of the entry sent ahead (smtp_ahead), in flight. */
struct smtp_ahead {
	const struct qentry *q;	/* from smtp_ahead() until the current send ends */
	char	*id;		/* set once its commands went out */
	size_t	 nrcpt;		/* RCPT commands sent */
	int	 rset;		/* an RSET went before its MAIL */
};

struct smtp_conn {
	CURL	*c;
	struct smtp_account *acct;
	struct postie_cfg *cfg;
	struct net_trace t;
	struct netio io;
	int	 verbose;
	char	*password;
	char	*ehlo;
	int	 up;		/* connected and ours: commands may go */
	int	 used;		/* a transaction went over it (it may have idled since) */
	int	 need_rset;	/* a transaction was left open */
	int	 ehlo_line;	/* lines of the EHLO reply seen (while connecting); -2: greeting */
	struct smtp_caps caps, next_caps;
	int	 starttls_offered;	/* by an EHLO of this connection */
	char	 greeting[512];	/* the greeting's last line */
	struct sbuf ehlo_text;	/* the last EHLO reply's keyword lines, each with "\n" */
	struct sbuf next_text;
	int	 certinfo;	/* --serverinfo: keep the TLS facts (and the handle on failure) */
	CURLcode curl_rc;	/* of the last connect */
	enum sasl_mech mech;	/* of the last login */
	/* The reply last read. */
	int	 code;
	struct sbuf text;	/* "250 2.0.0 Ok / more", at most REPLY_KEEP bytes */
	char	*last_reply;	/* of the last transaction, for the log */
	struct smtp_ahead ahead;
	enum px_err setup_err;
	char	*setup_msg;
	int	 attention;	/* the last failure wants the user, not a retry */
	int	 broken;	/* the last failure came before any recipient */
	int	 in_txn;	/* the last send got as far as MAIL FROM (or a refusal of the message) */
	char	 failed_at;	/* where the last connect or login was refused (smtp_failed_at) */
	char	 last_cmd[12];	/* the command of the connect phase the next reply answers */
	char	*last_error;	/* for the entries deferred without a try */
};

/* smtp.c */
/*
 * Makes the connection if there is none and logs in (smtp_dial, then
 * smtp_login).  PX_OK, or the error class with *msg (malloc'd);
 * s->attention set for failures a retry will not mend.
 */
enum px_err smtp_connect(struct smtp_conn *s, char **msg);
/*
 * libcurl's connect phase with the settings n (TLS, STARTTLS, EHLO; no
 * login), then the connection is ours.  With s->certinfo the TLS facts are
 * kept for tls_info_get() on s->c, which stays after a failure too.
 */
enum px_err smtp_dial(struct smtp_conn *s, const struct net_cfg *n, char **msg);
/* The login, when the account has one (sasl.c); PX_OK, or the class with *msg. */
enum px_err smtp_login(struct smtp_conn *s, char **msg);
/* Ends the connection now, without QUIT (a broken or abandoned dialogue). */
void	 smtp_drop(struct smtp_conn *s);
/* Queues one command line (CRLF added), shown with -v. */
int	 smtp_cmd(struct smtp_conn *s, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Reads one complete reply into s->code and s->text (flushing first); 0,
 * or -1 when the connection failed (s->io.why) or the reply is not SMTP.
 * A 421 reply marks the connection as closing.
 */
int	 smtp_reply(struct smtp_conn *s);
/* "host port N: why" for a failed connection (malloc'd). */
char	*smtp_io_error(struct smtp_conn *s);

#endif
