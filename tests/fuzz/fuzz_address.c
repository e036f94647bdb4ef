/*
 * fuzz_address.c: RFC 5322 address lists (common/address.c).
 *
 * Input: the value of an address header (To, Cc, From, -f, MAIL FROM).
 * Checks, for every mailbox addr_parse_list finds:
 *   - the address is not empty, passes addr_is_valid and holds no control
 *     character (safe in an SMTP envelope: no CR or LF, even escaped);
 *   - addr_qualify gives a valid address, and qualifying twice changes
 *     nothing;
 *   - addr_format gives one line (no CR, LF) that parses back to the same
 *     address and, modulo white space and RFC 2047 encoding, the same
 *     display name (what sendmail's From: rewriting relies on);
 * that addr_parse_list_junk finds the same mailboxes, and that what
 * addr_parse_one (-f, Return-Path) returns is safe in an envelope.
 */
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "fuzz.h"
#include "mime.h"

/* 1 if s holds a control character (what addr_is_valid promises to refuse). */
static int
has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 32 || *s == 127)
			return 1;
	return 0;
}

/* White space runs become one space; none at either end. */
static char *
squeeze(const char *s)
{
	char *r = malloc(strlen(s) + 1), *o = r;
	int sp = 0;

	FUZZ_CHECK(r != NULL, "malloc");
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t') {
			sp = 1;
			continue;
		}
		if (sp && o > r)
			*o++ = ' ';
		sp = 0;
		*o++ = *s;
	}
	*o = '\0';
	return r;
}

static void
check_format(const struct addr *a)
{
	struct addr_list l;
	char *f, *want, *got;
	int n;

	f = addr_format(a->name, a->addr);
	FUZZ_CHECK(f != NULL, "addr_format returned NULL");
	FUZZ_CHECK(strpbrk(f, "\r\n") == NULL, "addr_format gave a line break: [%s]", f);
	if (*a->name == '\0') {
		FUZZ_CHECK(strcmp(f, a->addr) == 0, "no name, yet [%s] is not the address", f);
		free(f);
		return;
	}
	addr_list_init(&l);
	n = addr_parse_list(f, &l);
	FUZZ_CHECK(n == 1 && l.n == 1, "[%s] (name [%s], address [%s]) parses to %d mailboxes",
	    f, a->name, a->addr, n);
	FUZZ_CHECK(strcmp(l.v[0].addr, a->addr) == 0, "[%s]: address [%s] came back as [%s]",
	    f, a->addr, l.v[0].addr);
	if (mime_is_ascii(a->name)) {
		want = squeeze(a->name);
		got = squeeze(l.v[0].name);
	} else {
		want = strdup(a->name);
		got = mime_2047_decode(l.v[0].name);
	}
	FUZZ_CHECK(want && got && strcmp(want, got) == 0, "[%s]: name [%s] came back as [%s]",
	    f, want, got);
	free(want);
	free(got);
	addr_list_free(&l);
	free(f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *domains[] = { "example.org", "", "host", "mail.example.org" };
	const char *domain = domains[size % 4];
	struct addr_list l;
	char *s = fuzz_cstr(data, size), *q, *q2, *one, *lp;
	size_t i;
	int n;

	addr_list_init(&l);
	n = addr_parse_list(s, &l);
	FUZZ_CHECK(n >= 0 && (size_t)n == l.n, "addr_parse_list returned %d for %zu", n, l.n);
	for (i = 0; i < l.n; i++) {
		const struct addr *a = &l.v[i];

		FUZZ_CHECK(a->name != NULL && a->addr != NULL, "NULL in a parsed mailbox");
		FUZZ_CHECK(*a->addr != '\0', "empty address");
		FUZZ_CHECK(addr_is_valid(a->addr), "invalid address [%s] parsed", a->addr);
		FUZZ_CHECK(!has_control(a->addr), "a control character in address [%s]", a->addr);

		q = addr_qualify(a->addr, domain);
		FUZZ_CHECK(q != NULL, "addr_qualify returned NULL");
		FUZZ_CHECK(addr_is_valid(q), "qualified [%s] to invalid [%s]", a->addr, q);
		if (strchr(domain, '.')) {
			FUZZ_CHECK(!addr_is_local(q), "[%s] still local after qualifying", q);
			q2 = addr_qualify(q, domain);
			FUZZ_CHECK(q2 && strcmp(q, q2) == 0, "qualifying twice changed [%s]", q);
			free(q2);
		}
		free(q);
		lp = addr_local_part(a->addr);
		FUZZ_CHECK(lp != NULL && strlen(lp) <= strlen(a->addr), "addr_local_part");
		free(lp);
		check_format(a);
	}

	/* The same list, counting junk: same mailboxes; no junk if nothing was skipped. */
	{
		struct addr_list l2;
		int junk = 0, n2;	/* counted up from what the caller sets */

		addr_list_init(&l2);
		n2 = addr_parse_list_junk(s, &l2, &junk);
		FUZZ_CHECK(n2 == n && l2.n == l.n && junk >= 0, "addr_parse_list_junk: %d "
		    "mailboxes, junk %d; addr_parse_list: %d", n2, junk, n);
		for (i = 0; i < l.n; i++)
			FUZZ_CHECK(strcmp(l.v[i].addr, l2.v[i].addr) == 0 &&
			    strcmp(l.v[i].name, l2.v[i].name) == 0, "mailbox %zu differs", i);
		addr_list_free(&l2);
	}

	/* -f and Return-Path: one address or nothing, and always safe. */
	one = addr_parse_one(s);
	if (one != NULL && *one != '\0')
		FUZZ_CHECK(addr_is_valid(one) && !has_control(one),
		    "addr_parse_one gave invalid [%s]", one);
	/* addr_is_valid: "no controls" (an SMTP envelope must not carry CR or LF). */
	FUZZ_CHECK(!addr_is_valid(s) || !has_control(s), "addr_is_valid accepts a control "
	    "character in [%s]", s);
	free(one);
	addr_list_free(&l);
	(void)addr_is_valid(s);
	free(s);
	return 0;
}
