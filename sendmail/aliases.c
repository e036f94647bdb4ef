/*
 * aliases.c: the aliases(5) file ("name: a, b@x, other") and the recipient
 * pipeline: comma lists split, local names expanded (recursively, each name
 * once), addresses qualified with the domain, duplicates dropped.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "sendmail.h"

struct alias {
	char	*name;
	char	*value;
};

struct aliases {
	struct alias *v;
	size_t	 n;
	int	 loaded;
};

static int
alias_add(struct aliases *al, const char *name, size_t nlen, const char *value)
{
	struct alias *v = realloc(al->v, (al->n + 1) * sizeof *v);

	if (v == NULL)
		return -1;
	al->v = v;
	v[al->n].name = xstrndup(name, nlen);
	v[al->n].value = strdup(value);
	if (v[al->n].name == NULL || v[al->n].value == NULL)
		return -1;
	al->n++;
	return 0;
}

static void
aliases_free(struct aliases *al)
{
	size_t i;

	for (i = 0; i < al->n; i++) {
		free(al->v[i].name);
		free(al->v[i].value);
	}
	free(al->v);
	memset(al, 0, sizeof *al);
}

/* Reads the file; a missing file is an empty table. */
static int
aliases_load(const char *file, struct aliases *al, char **err)
{
	FILE *fp;
	char *line = NULL, *colon;
	size_t cap = 0;
	ssize_t n;
	struct sbuf entry;
	int lineno = 0, first = 0, r = 0;

	memset(al, 0, sizeof *al);
	al->loaded = 1;
	if (file == NULL)
		return 0;
	if ((fp = fopen(file, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		*err = strfmt("%s: %s", file, strerror(errno));
		return -1;
	}
	sb_init(&entry);
	for (;;) {
		n = getline(&line, &cap, fp);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n >= 0)
			lineno++;
		/* A continuation line starts with white space. */
		if (n > 0 && (line[0] == ' ' || line[0] == '\t') && entry.len) {
			sb_adds(&entry, line);
			continue;
		}
		if (entry.len) {
			colon = strchr(entry.s, ':');
			if (colon == NULL || colon == entry.s) {
				*err = strfmt("%s:%d: no colon after the alias name", file,
				    first);
				r = -1;
				break;
			}
			if (alias_add(al, entry.s, (size_t)(colon - entry.s), colon + 1) == -1) {
				*err = strdup("out of memory");
				r = -1;
				break;
			}
			sb_reset(&entry);
		}
		if (n < 0)
			break;
		if (n == 0 || line[0] == '#' || line[0] == ' ' || line[0] == '\t')
			continue;
		first = lineno;		/* where the entry starts, for the error */
		sb_adds(&entry, line);
	}
	free(line);
	sb_free(&entry);
	fclose(fp);
	if (r == -1)
		aliases_free(al);	/* the entries read before the bad one */
	return r;
}

static const char *
alias_find(const struct aliases *al, const char *name)
{
	size_t i, n;
	const char *p;

	for (i = 0; i < al->n; i++) {
		p = al->v[i].name;
		n = strlen(p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (strlen(name) == n && strncasecmp(p, name, n) == 0)
			return al->v[i].value;
	}
	return NULL;
}

/*
 * Parses an alias value into l, leaving out the targets only a local
 * delivery agent could serve: "|program", "/file" and ":include:" lists,
 * quoted or not.  Returns val, or NULL on memory.
 */
static const char *
skip_local_targets(const char *name, const char *val, struct addr_list *l)
{
	const char *p = val, *start;
	char *item, *t;
	int quoted = 0;

	for (;;) {
		start = p;
		for (quoted = 0; *p && (quoted || *p != ','); p++)
			if (*p == '"')
				quoted = !quoted;
		if ((item = xstrndup(start, (size_t)(p - start))) == NULL)
			return NULL;
		t = trim(item);
		if (*t == '"')
			t++;
		if (*t == '|' || *t == '/' || strncasecmp(t, ":include:", 9) == 0)
			log_error("alias %s: \"%s\" skipped: program, file and :include: "
			    "targets are not supported", name, trim(item));
		else if (addr_parse_list(item, l) == -1) {
			free(item);
			return NULL;
		}
		free(item);
		if (*p == '\0')
			return val;
		p++;
	}
}

/* Expands one address into out; seen holds the names on the way down. */
static int
expand(const struct aliases *al, const char *addr, const char *domain, struct strlist *seen,
    struct strlist *out, int depth, char **err)
{
	struct addr_list l;
	const char *val;
	char *local, *q;
	size_t i;
	int r = 0;

	if (addr_is_local(addr) && depth < 20) {
		if ((local = addr_local_part(addr)) == NULL)
			return -1;
		val = sl_has(seen, local) ? NULL : alias_find(al, local);
		if (val) {
			sl_add(seen, local);
			addr_list_init(&l);
			if ((val = skip_local_targets(local, val, &l)) == NULL)
				r = -1;
			for (i = 0; r == 0 && i < l.n; i++)
				r = expand(al, l.v[i].addr, domain, seen, out, depth + 1, err);
			addr_list_free(&l);
			free(local);
			return r;
		}
		free(local);
	}
	/* Duplicates are dropped once the whole list is known (rcpts_resolve). */
	if ((q = addr_qualify(addr, domain)) == NULL)
		return -1;
	return sl_addown(out, q);
}

/*
 * The first piece of a comma list that holds no address (and is not an
 * empty group such as "undisclosed-recipients:;"), malloc'd, or NULL.
 */
static char *
bad_piece(const char *list)
{
	const char *p = list, *start;
	struct addr_list l;
	int quoted, angle, paren, junk;
	char *piece, *t;
	size_t n;

	for (;;) {
		start = p;
		for (quoted = angle = paren = 0; *p; p++) {
			if (*p == '\\' && p[1]) {
				p++;
				continue;
			}
			if (*p == '"')
				quoted = !quoted;
			else if (!quoted && *p == '<')
				angle++;
			else if (!quoted && *p == '>' && angle)
				angle--;
			else if (!quoted && *p == '(')
				paren++;
			else if (!quoted && *p == ')' && paren)
				paren--;
			else if (!quoted && !angle && !paren && *p == ',')
				break;
		}
		if ((piece = xstrndup(start, (size_t)(p - start))) == NULL)
			return NULL;
		t = trim(piece);
		n = strlen(t);
		addr_list_init(&l);
		junk = 0;
		if (*t && (addr_parse_list_junk(t, &l, &junk) == 0 || junk) &&
		    !(n > 1 && t[n - 1] == ';' && strchr(t, ':') && !junk)) {
			addr_list_free(&l);
			t = strdup(t);
			free(piece);
			return t;
		}
		addr_list_free(&l);
		free(piece);
		if (*p == '\0')
			return NULL;
		p++;
	}
}

enum px_err
rcpts_resolve(struct postie_cfg *cfg, const char *domain, const struct strlist *in,
    struct strlist *out, int strict, char **err)
{
	char *bad;
	struct aliases al;
	struct addr_list l;
	struct strlist seen;
	size_t i, k;
	enum px_err e = PX_OK;

	*err = NULL;
	if (aliases_load(cfg->aliases, &al, err) == -1)
		return PX_CONFIG;
	for (i = 0; i < in->n && e == PX_OK; i++) {
		addr_list_init(&l);
		if (addr_parse_list(in->v[i], &l) == -1)
			e = PX_SOFTWARE;
		bad = strict ? bad_piece(in->v[i]) : NULL;
		if (bad || (l.n == 0 && strpbrk(in->v[i], "@<>") && e == PX_OK)) {
			*err = strfmt("invalid recipient address \"%s\"", bad ? bad : in->v[i]);
			e = PX_DATA;
		}
		free(bad);
		for (k = 0; k < l.n && e == PX_OK; k++) {
			sl_init(&seen);
			if (expand(&al, l.v[k].addr, domain, &seen, out, 0, err) == -1)
				e = PX_SOFTWARE;
			sl_free(&seen);
		}
		addr_list_free(&l);
	}
	aliases_free(&al);
	/* Each address once, in the order first met: sorting, not a scan per address. */
	if (e == PX_OK && sl_uniq(out) == -1)
		e = PX_SOFTWARE;
	if (e == PX_SOFTWARE && *err == NULL)
		*err = strdup("out of memory");
	return e;
}

int
aliases_check(const char *file, char **err)
{
	struct aliases al;
	int n;

	*err = NULL;
	if (aliases_load(file, &al, err) == -1)
		return -1;
	n = (int)al.n;
	aliases_free(&al);
	return n;
}
