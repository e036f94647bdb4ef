/* Table-driven tests for common/address.c: one line per input and expected result. */
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "tap.h"
#include "util.h"

/* Each mailbox as "name|addr", joined by " ; ". */
static char *
render(const char *in)
{
	struct addr_list l;
	struct sbuf b;
	size_t i;

	addr_list_init(&l);
	sb_init(&b);
	sb_addn(&b, "", 0);
	if (addr_parse_list(in, &l) < 0)
		sb_adds(&b, "ERROR");
	for (i = 0; i < l.n; i++)
		sb_printf(&b, "%s%s|%s", i ? " ; " : "", l.v[i].name, l.v[i].addr);
	addr_list_free(&l);
	return sb_steal(&b);
}

static const struct {
	const char *in, *want;
} lists[] = {
	{ "root", "|root" },
	{ "a@x.org", "|a@x.org" },
	{ "a@x.org,b@y.org", "|a@x.org ; |b@y.org" },
	{ "a@x.org, b@y.org ,c@z.org", "|a@x.org ; |b@y.org ; |c@z.org" },
	{ "Anacron <root>", "Anacron|root" },
	{ "root (Cron Daemon)", "Cron Daemon|root" },
	{ "\"Doe, John\" <john@y.org>", "Doe, John|john@y.org" },
	{ "John Q. Public <jqp@x.org>", "John Q. Public|jqp@x.org" },
	{ "\"quoted \\\"inner\\\"\" <q@x.org>", "quoted \"inner\"|q@x.org" },
	{ "\"local part\"@x.org", "|\"local part\"@x.org" },
	{ "undisclosed-recipients:;", "" },
	{ "team: a@b.org, c@d.org; e@f.org", "|a@b.org ; |c@d.org ; |e@f.org" },
	{ "<@relay1,@relay2:u@h.org>", "|u@h.org" },
	{ "a@b.org (comment (nested)) ", "comment (nested)|a@b.org" },
	{ "=?utf-8?q?J=C3=B6rg?= <j@x.de>", "=?utf-8?q?J=C3=B6rg?=|j@x.de" },
	{ "a@x.org,,b@y.org", "|a@x.org ; |b@y.org" },
	{ "John Smith", "" },
	{ "garbage <<>> @@", "" },
	{ "", "" },
	{ "<>", "" },
	{ "a@[127.0.0.1]", "|a@[127.0.0.1]" },
	{ "x <a b@c.org>", "x|ab@c.org" },
	{ "Ünïcode Name <u@x.org>", "Ünïcode Name|u@x.org" },
	{ "\r\n folded@x.org", "|folded@x.org" },
	{ "\"abc@de", "" },
	{ "\"\" <x@example.org>", "|x@example.org" },
	{ "\"unterminated <a@b.org>", "" },
};

static const struct {
	const char *in, *domain, *want;
} quals[] = {
	{ "root", "example.org", "root@example.org" },
	{ "root@localhost", "example.org", "root@example.org" },
	{ "root@vm", "example.org", "root@example.org" },
	{ "root@mail.example.com", "example.org", "root@mail.example.com" },
	{ "u@[10.0.0.1]", "example.org", "u@[10.0.0.1]" },
	{ "\"a@b\"", "example.org", "\"a@b\"@example.org" },
	{ "\"a@b\"@x.org", "example.org", "\"a@b\"@x.org" },
};

static const struct {
	const char *in, *want;	/* NULL: not one address */
} ones[] = {
	{ "<>", "" },
	{ " <> ", "" },
	{ "<a@x.org>", "a@x.org" },
	{ "a@x.org", "a@x.org" },
	{ "Name <a@x.org>", "a@x.org" },
	{ "a@x.org, b@y.org", NULL },
	{ "<> junk", NULL },
	{ "a@example.org> <evil@example.net", NULL },
	{ "<a@x.org> <b@y.org>", NULL },
	{ "<a@x.org", NULL },
	{ "<@route:a@x.org>", "a@x.org" },
};

static const struct {
	const char *name, *addr, *want;
} fmts[] = {
	{ "", "a@x.org", "a@x.org" },
	{ "Cron Daemon", "a@x.org", "Cron Daemon <a@x.org>" },
	{ "Doe, John", "a@x.org", "\"Doe, John\" <a@x.org>" },
	{ "Say \"hi\"", "a@x.org", "\"Say \\\"hi\\\"\" <a@x.org>" },
	{ "Jörg", "a@x.org", "=?utf-8?B?SsO2cmc=?= <a@x.org>" },
};

/* Header fields: bare names qualified, every other byte kept. */
static const struct {
	const char *in, *want;
} hq[] = {
	{ " root", " root@example.org" },
	{ " admin@example.org, bob", " admin@example.org, bob@example.org" },
	{ " root (Cron Daemon)", " root@example.org (Cron Daemon)" },
	{ " Anacron <root>", " Anacron <root@example.org>" },
	{ " \"Doe, John\" <jd>, x@y.org", " \"Doe, John\" <jd@example.org>, x@y.org" },
	{ " team: a, b@c.org, d;, e", " team: a@example.org, b@c.org, d@example.org;, e@example.org" },
	{ " undisclosed-recipients:;", " undisclosed-recipients:;" },
	{ " a.b.c", " a.b.c@example.org" },
	{ " \"quoted local\"", " \"quoted local\"@example.org" },
	{ " =?utf-8?B?SsO2cmc=?= <joerg>", " =?utf-8?B?SsO2cmc=?= <joerg@example.org>" },
	{ " one,\r\n two", " one@example.org,\r\n two@example.org" },
	{ " <>", " <>" },
	{ " John Smith", " John Smith" },
	{ " a..b, .c, d.", " a..b, .c, d." },
	{ " user@localhost", " user@localhost" },
	{ " <@route:user@x.org>", " <@route:user@x.org>" },
	{ " (only a comment)", " (only a comment)" },
	{ " bob (x) , (y) carol", " bob@example.org (x) , (y) carol@example.org" },
	{ " <bob> trailing", " <bob> trailing" },
	{ "", "" },
	{ " \"unterminated", " \"unterminated" },
};

int
main(void)
{
	size_t i;
	char *got;

	for (i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		got = render(lists[i].in);
		tap_is_str(got, lists[i].want, lists[i].in);
		free(got);
	}
	for (i = 0; i < sizeof quals / sizeof quals[0]; i++) {
		got = addr_qualify(quals[i].in, quals[i].domain);
		tap_is_str(got, quals[i].want, quals[i].in);
		free(got);
	}
	for (i = 0; i < sizeof hq / sizeof hq[0]; i++) {
		got = addr_qualify_text(hq[i].in, "example.org");
		tap_is_str(got, hq[i].want, hq[i].in);
		free(got);
	}
	for (i = 0; i < sizeof ones / sizeof ones[0]; i++) {
		got = addr_parse_one(ones[i].in);
		tap_is_str(got, ones[i].want, ones[i].in);
		free(got);
	}
	for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
		got = addr_format(fmts[i].name, fmts[i].addr);
		tap_is_str(got, fmts[i].want, fmts[i].want);
		free(got);
	}
	tap_ok(addr_is_valid("a@b.org"), "valid plain");
	tap_ok(addr_is_valid("\"a b\"@c.org"), "valid quoted");
	tap_ok(!addr_is_valid("a@b.org\r\nRCPT TO:<x@y>"), "CRLF refused");
	tap_ok(!addr_is_valid("a b@c.org"), "space refused");
	tap_ok(!addr_is_valid(""), "empty refused");
	tap_ok(!addr_is_valid("<a@b.org>"), "brackets refused");
	return tap_done();
}
