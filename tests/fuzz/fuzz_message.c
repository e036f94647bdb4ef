/*
 * fuzz_message.c: sendmail's message path without -bs: what cron, mail(1),
 * PHP's mail() and friends pipe into sendmail (sendmail/message.c,
 * attach.c, aliases.c, queue.c, deliver.c), with the SMTP stand-in of
 * fuzz_sendmail.c checking every message that comes out.
 *
 * Input: byte 0 holds option flags, then one line of TAB-separated
 * fields, then the message:
 *   flags: 0x01 -t  0x02 -i  0x04 -f SENDER  0x08 -a other  0x10 -F NAME
 *          0x20 argv recipients  0x40 --subject  0x80 --attach
 *   line:  SENDER \t NAME \t RECIPIENTS \t SUBJECT \n
 * Values with CR or LF in -f, -F or a recipient are refused by main.c
 * before this code runs, so such inputs are skipped.  Checks, besides the stand-in's: the
 * result is sent, queued or an error with a one-line message.
 */
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_sendmail.h"
#include "reader.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_setup();
	return 0;
}

/* The i-th TAB-separated field of line (malloc'd, "" if missing). */
static char *
field(const char *line, int i)
{
	const char *p = line, *e;

	while (i-- > 0) {
		if ((p = strchr(p, '\t')) == NULL)
			return strdup("");
		p++;
	}
	e = p + strcspn(p, "\t");
	return strndup(p, (size_t)(e - p));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct opts o;
	struct reader r;
	struct submit_result res;
	const uint8_t *nl, *msg;
	char *line, *sender, *name, *rcpts, *subject;
	size_t msglen;
	unsigned flags;

	if (size < 1)
		return 0;
	fz_setup();
	flags = data[0];
	nl = memchr(data + 1, '\n', size - 1);
	line = fuzz_cstr(data + 1, nl ? (size_t)(nl - (data + 1)) : size - 1);
	msg = nl ? nl + 1 : data + size;
	msglen = (size_t)(data + size - msg);
	sender = field(line, 0);
	name = field(line, 1);
	rcpts = field(line, 2);
	subject = field(line, 3);

	memset(&o, 0, sizeof o);
	sl_init(&o.rcpts);
	sl_init(&o.attach);
	sl_init(&o.attach_type);
	o.mode = 'm';
	o.delivery = 'i';	/* now, in this process (no background runner) */
	o.extract = (flags & 0x01) != 0;
	o.dot_ends = (flags & 0x02) == 0;
	if (flags & 0x04)
		o.sender = sender;
	if (flags & 0x08)
		o.account = "other";
	if (flags & 0x10)
		o.fullname = name;
	if ((flags & 0x20) && *rcpts)
		sl_add(&o.rcpts, rcpts);
	if (flags & 0x40)
		o.subject = subject;
	if (flags & 0x80) {
		sl_add(&o.attach, fz_attach);
		sl_add(&o.attach_type, "");
	}
	/* What main.c refuses before any of this runs: line breaks in -f, -F, recipients. */
	if (strpbrk(sender, "\r\n") || strpbrk(name, "\r\n") || strpbrk(rcpts, "\r\n") ||
	    (o.rcpts.n == 0 && !o.extract))
		goto out;

	/* As send_mode() does: the attachments are opened before the message is read. */
	if (o.attach.n > 0) {
		char *aerr = NULL;

		FUZZ_CHECK(attach_open(&o, &aerr) == 0, "attach_open: %s", aerr ? aerr : "?");
	}
	fz_stdin(msg, msglen);
	FUZZ_CHECK(rd_init(&r, STDIN_FILENO, READ_BUF) == 0, "rd_init");
	submit(fz_cfg, &o, &r, &res);
	rd_free(&r);
	attach_close(&o);
	if (res.err == PX_OK)
		FUZZ_CHECK(res.id[0] != '\0', "sent or queued without a queue id");
	else {
		FUZZ_CHECK(res.msg != NULL && *res.msg, "error %d without a message", res.err);
		FUZZ_CHECK(strpbrk(res.msg, "\r\n") == NULL, "error message [%s] is not one line",
		    res.msg);
	}
	free(res.msg);
	fz_clean_queue();
out:
	sl_free(&o.rcpts);
	sl_free(&o.attach);
	sl_free(&o.attach_type);
	free(line);
	free(sender);
	free(name);
	free(rcpts);
	free(subject);
	return 0;
}
