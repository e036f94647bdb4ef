/*
 * address.h: RFC 5322 address lists (mailboxes, groups, comments, quoted
 * strings, display names, obsolete routes) and qualification of local
 * names.  Lists own their strings; addr_list_free() releases them.
 */
#ifndef POSTIE_ADDRESS_H
#define POSTIE_ADDRESS_H

#include <stddef.h>

struct addr {
	char	*name;		/* display name (unquoted, comments as names), "" if none */
	char	*addr;		/* addr-spec, e.g. "user@example.com" or "root"; never "" */
};

struct addr_list {
	struct addr *v;
	size_t	 n;
	size_t	 cap;
};

void	 addr_list_init(struct addr_list *l);
void	 addr_list_free(struct addr_list *l);

/*
 * Parses an address list and appends every mailbox to l; groups are
 * flattened, empty groups add nothing.  Tolerant of garbage: what cannot be
 * read as an address is skipped.  Returns the number added, or -1 on memory.
 */
int	 addr_parse_list(const char *s, struct addr_list *l);

/* As addr_parse_list; *junk counts the pieces that were not addresses. */
int	 addr_parse_list_junk(const char *s, struct addr_list *l, int *junk);

/*
 * The single address in s: "<addr>" or a bare addr-spec, "<>" gives "";
 * NULL if s is anything else.  Used for -f and Return-Path.
 */
char	*addr_parse_one(const char *s);

/* 1 if a is safe in an SMTP envelope: no controls, spaces, <, > outside quotes. */
int	 addr_is_valid(const char *a);

/*
 * Qualifies an address: a bare name gets "@domain"; "user@localhost" and
 * "user@shorthost" (a domain without a dot, or the host's own short name)
 * become "user@domain".  Returns a malloc'd string.
 */
char	*addr_qualify(const char *a, const char *domain);

/*
 * A header field's value (as written after the colon, folding kept) with
 * "@domain" added to each bare address: "root" and "root (Cron Daemon)"
 * get it, and so do "Name <bob>" and the members of a group; display
 * names, comments, groups and every other byte stay as they are, and so
 * does anything that is not a plain local part.  Malloc'd; NULL on memory.
 */
char	*addr_qualify_text(const char *value, const char *domain);

/* 1 if a has no domain or a local one (no dot, or localhost). */
int	 addr_is_local(const char *a);

/* The local part of a (up to the last '@'), malloc'd. */
char	*addr_local_part(const char *a);

/* Formats "Name <addr>" with the name quoted or RFC 2047-encoded as needed. */
char	*addr_format(const char *name, const char *addr);

#endif
