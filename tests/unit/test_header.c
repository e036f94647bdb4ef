/* Tests for common/header.c: parsing, unfolding, changes, output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"
#include "tap.h"

static char *
written(const struct hdr_block *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	hdr_write(h, fp);
	fclose(fp);
	return buf;
}

int
main(void)
{
	struct hdr_block h;
	const char *text = "From: a@x.org\r\nSubject: one\r\n two\r\n\tthree\nTo: b@y.org\n"
	    "X-Empty:\nto: c@z.org\n\nbody: not a header\n";
	char *v, *w;

	hdr_init(&h);
	tap_is_int(hdr_parse(&h, text, strlen(text)), 0, "parse");
	tap_is_int((long long)h.n, 5, "five fields, stops at the empty line");
	v = hdr_get(&h, "subject");
	tap_is_str(v, "one two\tthree", "unfolded, case-insensitive name");
	free(v);
	v = hdr_get(&h, "X-Empty");
	tap_is_str(v, "", "empty value");
	free(v);
	tap_is_int((long long)hdr_count(&h, "TO"), 2, "two To fields");
	w = written(&h);
	tap_is_str(w, "From: a@x.org\r\nSubject: one\r\n two\r\n\tthree\r\nTo: b@y.org\r\n"
	    "X-Empty:\r\nto: c@z.org\r\n", "written with CRLF, folding kept");
	free(w);
	tap_is_int((long long)hdr_remove(&h, "to"), 2, "remove both To");
	tap_is_int((long long)hdr_count(&h, "To"), 0, "none left");
	hdr_set(&h, "Subject", "new");
	hdr_append(&h, "Date", "Thu, 1 Jan 2026 00:00:00 +0000");
	hdr_prepend(&h, "Received", "by test");
	w = written(&h);
	tap_is_str(w, "Received: by test\r\nFrom: a@x.org\r\nSubject: new\r\nX-Empty:\r\n"
	    "Date: Thu, 1 Jan 2026 00:00:00 +0000\r\n", "set, append, prepend");
	free(w);
	hdr_free(&h);

	/* Lines that are not fields. */
	hdr_init(&h);
	tap_is_int(hdr_add_line(&h, " leading space", 14), 1, "continuation without a field");
	tap_is_int(hdr_add_line(&h, "no colon here", 13), 1, "no colon");
	tap_is_int(hdr_add_line(&h, "Bad Name: x", 11), 1, "space in name");
	tap_is_int(hdr_add_line(&h, ": x", 3), 1, "empty name");
	tap_is_int(hdr_add_line(&h, "From x@y Thu", 12), 1, "mbox From line");
	tap_is_int(hdr_add_line(&h, "X-8bit: caf\xc3\xa9", 13), 0, "8-bit value kept");
	v = hdr_get(&h, "X-8bit");
	tap_is_str(v, "caf\xc3\xa9", "8-bit value");
	free(v);
	tap_is_int((long long)hdr_name_len("Subject: x", 10), 7, "name length");
	hdr_free(&h);
	return tap_done();
}
