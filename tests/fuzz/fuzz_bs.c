/*
 * fuzz_bs.c: sendmail -bs, the SMTP server on standard input
 * (sendmail/bs.c), and behind it everything a message goes through:
 * message reading and completion (message.c), recipients and aliases,
 * the queue (queue.c), delivery bookkeeping (deliver.c).
 *
 * Input: what a client such as PHP's Symfony Mailer writes to sendmail -bs
 * (HELO/EHLO, MAIL, RCPT, DATA, the message, ".", RSET, QUIT).  The
 * SMTP layer is the stand-in of fuzz_sendmail.c: nothing goes on the
 * network, and every message handed to it is checked as a strict server
 * would (CRLF only, no NUL, lines within 998 octets, a complete
 * header, no Bcc, envelope addresses safe).  The queue lives in a private
 * temp directory that is emptied after each input.
 */
#include <string.h>

#include "fuzz.h"
#include "fuzz_sendmail.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_setup();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct opts o;

	fz_setup();
	memset(&o, 0, sizeof o);
	o.dot_ends = 1;
	o.mode = 's';
	o.delivery = 'i';	/* now, in this process (no background runner) */
	sl_init(&o.rcpts);
	sl_init(&o.attach);
	sl_init(&o.attach_type);
	fz_stdin(data, size);
	FUZZ_CHECK(bs_serve(fz_cfg, &o) == 0, "bs_serve failed");
	fz_clean_queue();
	return 0;
}
