/* srvinfo.c: the layout of --serverinfo, one place for both programs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srvinfo.h"
#include "util.h"

char *
srvinfo_account(const char *name, const struct net_cfg *n)
{
	return strfmt("%s: %s port %d, user %s\n", name, n->host, n->port,
	    n->user ? n->user : "(none)");
}

char *
srvinfo_caps(const char *lines, const char *empty)
{
	struct sbuf b;
	const char *s, *nl;
	int first = 1;

	sb_init(&b);
	for (s = lines; s && *s; s = nl + 1) {
		if ((nl = strchr(s, '\n')) == NULL)
			break;
		sb_printf(&b, "%s%.*s\n", first ? "Capabilities: " : "              ",
		    (int)(nl - s), s);
		first = 0;
	}
	if (first)
		sb_printf(&b, "Capabilities: %s\n", empty);
	return sb_steal(&b);
}

int
srvinfo_wants_login(const struct net_cfg *n)
{
	return n->user != NULL && strcmp(n->auth, "none") != 0;
}

char *
srvinfo_login(const struct net_cfg *n, enum px_err e, enum sasl_mech mech)
{
	if (!srvinfo_wants_login(n))
		return strfmt("Login:        none configured (%s)\n", n->user ?
		    "auth = \"none\"" : "no user");
	if (e == PX_OK)
		return strfmt("Login:        ok, as %s (%s)\n", n->user, sasl_name(mech));
	return strfmt("Login:        failed\n");
}

void
srvinfo_put(char *lines)
{
	fputs(lines ? lines : "(out of memory)\n", stdout);
	free(lines);
}
