/*
 * fuzz_sendmail.h: the test bed fuzz_bs and fuzz_message share: a
 * configuration and queue in a private temp directory, standard input fed
 * from the fuzz input, and a stand-in for sendmail/smtp.c (the libcurl
 * layer, which is not what is fuzzed here).  The stand-in does not talk
 * to anyone; it checks the spooled message the way a strict SMTP server
 * would see it, and answers by recipient:
 *   a recipient containing "tempfail"  -> temporary failure (stays queued)
 *   a recipient containing "reject"    -> every recipient refused (5xx)
 *   a recipient containing "noauth"    -> login refused
 *   anything else                      -> sent
 */
#ifndef FUZZ_SENDMAIL_H
#define FUZZ_SENDMAIL_H

#include <stddef.h>
#include <stdint.h>

#include "sendmail.h"

extern struct postie_cfg *fz_cfg;
/* A small text file to attach. */
extern char *fz_attach;

/* Creates the temp directory and configuration once (aborts on failure). */
void	 fz_setup(void);
/* Makes the n bytes at data the process's standard input (a memfd). */
void	 fz_stdin(const uint8_t *data, size_t n);
/* Empties the queue directory after a run. */
void	 fz_clean_queue(void);
/* Messages the stand-in received since the start. */
extern unsigned long fz_sent;

#endif
