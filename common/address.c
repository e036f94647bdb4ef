/* address.c: RFC 5322 address lists: mailboxes, groups, comments, quoting, qualification. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "mime.h"
#include "util.h"

enum tok_type { TOK_WORD, TOK_QUOTED, TOK_SPECIAL, TOK_END };

struct tok {
	enum tok_type type;
	char	 c;		/* TOK_SPECIAL */
	struct sbuf raw;	/* as written (quotes kept) */
	struct sbuf text;	/* unquoted */
	int	 space_before;	/* white space or a comment came before it */
	int	 broken;	/* an unterminated quoted string */
};

struct lexer {
	const char *p;
	struct sbuf comment;	/* text of the last comment seen */
};

void
addr_list_init(struct addr_list *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
}

void
addr_list_free(struct addr_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].addr);
	}
	free(l->v);
	addr_list_init(l);
}

static int
list_add(struct addr_list *l, const char *name, const char *addr)
{
	struct addr *v;

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;

		if ((v = realloc(l->v, ncap * sizeof *v)) == NULL)
			return -1;
		l->v = v;
		l->cap = ncap;
	}
	l->v[l->n].name = strdup(name ? name : "");
	l->v[l->n].addr = strdup(addr);
	if (l->v[l->n].name == NULL || l->v[l->n].addr == NULL) {
		free(l->v[l->n].name);
		free(l->v[l->n].addr);
		return -1;
	}
	l->n++;
	return 0;
}

static int
is_special(int c)
{
	return c != 0 && strchr("()<>[]:;@\\,.\"", c) != NULL;
}

/* Skips white space and (nested) comments; keeps the last comment's text. */
static int
skip_cfws(struct lexer *lx)
{
	int skipped = 0, depth;

	for (;;) {
		while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n') {
			lx->p++;
			skipped = 1;
		}
		if (*lx->p != '(')
			return skipped;
		skipped = 1;
		sb_reset(&lx->comment);
		depth = 0;
		for (; *lx->p; lx->p++) {
			if (*lx->p == '\\' && lx->p[1]) {
				lx->p++;
				sb_addc(&lx->comment, *lx->p);
				continue;
			}
			if (*lx->p == '(') {
				if (depth++ > 0)
					sb_addc(&lx->comment, '(');
				continue;
			}
			if (*lx->p == ')') {
				if (--depth == 0) {
					lx->p++;
					break;
				}
				sb_addc(&lx->comment, ')');
				continue;
			}
			sb_addc(&lx->comment, *lx->p);
		}
	}
}

static void
tok_reset(struct tok *t)
{
	sb_reset(&t->raw);
	sb_reset(&t->text);
	t->c = 0;
	t->broken = 0;
}

/* Reads the next token into t. */
static void
next_tok(struct lexer *lx, struct tok *t)
{
	tok_reset(t);
	t->space_before = skip_cfws(lx);
	sb_addn(&t->raw, "", 0);	/* never NULL, even for "" */
	sb_addn(&t->text, "", 0);
	if (*lx->p == '\0') {
		t->type = TOK_END;
		return;
	}
	if (*lx->p == '"') {
		t->type = TOK_QUOTED;
		sb_addc(&t->raw, '"');
		for (lx->p++; *lx->p && *lx->p != '"'; lx->p++) {
			if (*lx->p == '\\' && lx->p[1]) {
				sb_addn(&t->raw, lx->p, 2);
				lx->p++;
				sb_addc(&t->text, *lx->p);
				continue;
			}
			if (*lx->p == '\r' || *lx->p == '\n')
				continue;
			sb_addc(&t->raw, *lx->p);
			sb_addc(&t->text, *lx->p);
		}
		if (*lx->p == '"')
			lx->p++;
		else
			t->broken = 1;	/* no closing quote: not an address */
		sb_addc(&t->raw, '"');
		return;
	}
	if (*lx->p == '[') {
		/* Domain literal: one word up to the closing bracket. */
		t->type = TOK_WORD;
		while (*lx->p && *lx->p != ']') {
			sb_addc(&t->raw, *lx->p);
			lx->p++;
		}
		if (*lx->p == ']')
			sb_addc(&t->raw, *lx->p++);
		sb_adds(&t->text, t->raw.s);
		return;
	}
	if (is_special((unsigned char)*lx->p)) {
		t->type = TOK_SPECIAL;
		t->c = *lx->p++;
		sb_addc(&t->raw, t->c);
		sb_addc(&t->text, t->c);
		return;
	}
	t->type = TOK_WORD;
	while (*lx->p && !is_special((unsigned char)*lx->p) && *lx->p != ' ' &&
	    *lx->p != '\t' && *lx->p != '\r' && *lx->p != '\n') {
		sb_addc(&t->raw, *lx->p);
		sb_addc(&t->text, *lx->p);
		lx->p++;
	}
}

/* Tokens of one mailbox or phrase, until a delimiter. */
struct seq {
	struct sbuf phrase;	/* words unquoted, joined by one space */
	struct sbuf spec;	/* words and . @ as written, no white space */
	int	 nwords;
	int	 adjacent;	/* two words with nothing but space between: not an addr-spec */
	int	 last_was_word;
	int	 has_comment;
	int	 angle_done;	/* an angle-addr was taken: what follows is junk */
	struct sbuf comment;
};

static void
seq_init(struct seq *s)
{
	memset(s, 0, sizeof *s);
}

static void
seq_reset(struct seq *s)
{
	sb_reset(&s->phrase);
	sb_reset(&s->spec);
	sb_reset(&s->comment);
	s->nwords = s->adjacent = s->last_was_word = s->has_comment = s->angle_done = 0;
}

static void
seq_free(struct seq *s)
{
	sb_free(&s->phrase);
	sb_free(&s->spec);
	sb_free(&s->comment);
}

/* Reads an angle-addr after '<'; puts the address (route removed) in out. */
static void
read_angle(struct lexer *lx, struct tok *t, struct sbuf *out)
{
	int route = 1;

	sb_reset(out);
	for (;;) {
		next_tok(lx, t);
		if (t->type == TOK_END)
			return;
		if (t->type == TOK_SPECIAL && t->c == '>')
			return;
		/* Obsolete route "@a,@b:": drop it. */
		if (route && t->type == TOK_SPECIAL && t->c == ':' && out->len && out->s[0] == '@') {
			sb_reset(out);
			route = 0;
			continue;
		}
		sb_adds(out, t->raw.s);
	}
}

static int
emit_spec(struct addr_list *l, struct seq *s, const char *name, int *junk)
{
	if (s->spec.len == 0 && s->phrase.len == 0)
		return 0;
	if (s->spec.len == 0 || s->adjacent || s->spec.s[0] == '@' ||
	    s->spec.s[s->spec.len - 1] == '@' || !addr_is_valid(s->spec.s)) {
		if (junk && !s->angle_done)
			(*junk)++;
		return 0;
	}
	if (list_add(l, name, s->spec.s) == -1)
		return -1;
	return 1;
}

int
addr_parse_list(const char *str, struct addr_list *l)
{
	return addr_parse_list_junk(str, l, NULL);
}

int
addr_parse_list_junk(const char *str, struct addr_list *l, int *junk)
{
	struct lexer lx;
	struct tok t;
	struct seq s;
	struct sbuf angle;
	int added = 0, r, in_group = 0;

	memset(&lx, 0, sizeof lx);
	memset(&t, 0, sizeof t);
	seq_init(&s);
	sb_init(&angle);
	lx.p = str ? str : "";
	sb_init(&lx.comment);
	for (;;) {
		sb_reset(&lx.comment);
		next_tok(&lx, &t);
		if (lx.comment.len) {
			sb_reset(&s.comment);
			sb_adds(&s.comment, lx.comment.s);
			s.has_comment = 1;
		}
		if (t.type == TOK_WORD || t.type == TOK_QUOTED) {
			if (s.last_was_word || t.broken)
				s.adjacent = 1;
			if (s.phrase.len)
				sb_addc(&s.phrase, ' ');
			sb_adds(&s.phrase, t.text.s);
			sb_adds(&s.spec, t.raw.s);
			s.nwords++;
			s.last_was_word = 1;
			continue;
		}
		if (t.type == TOK_SPECIAL && (t.c == '.' || t.c == '@')) {
			sb_addc(&s.spec, t.c);
			if (t.c == '.')
				sb_addc(&s.phrase, '.');
			s.last_was_word = 0;
			continue;
		}
		if (t.type == TOK_SPECIAL && t.c == '<') {
			if (s.angle_done && junk)
				(*junk)++;	/* a second angle-addr in one mailbox */
			read_angle(&lx, &t, &angle);
			if (angle.len > 0 && addr_is_valid(angle.s)) {
				const char *name = s.phrase.len ? s.phrase.s :
				    (s.has_comment ? s.comment.s : "");
				if (list_add(l, name, angle.s) == -1)
					goto nomem;
				added++;
			} else if (junk)
				(*junk)++;
			/* Skip to the delimiter after the angle-addr. */
			seq_reset(&s);
			s.adjacent = 1;	/* anything before ',' is junk */
			s.angle_done = 1;
			continue;
		}
		if (t.type == TOK_SPECIAL && t.c == ':' && !in_group) {
			in_group = 1;
			seq_reset(&s);
			continue;
		}
		if (t.type == TOK_SPECIAL && (t.c == ',' || t.c == ';' || t.c == ':')) {
			if (s.angle_done && s.spec.len && junk)
				(*junk)++;
			r = emit_spec(l, &s, s.has_comment ? s.comment.s : "", junk);
			if (r == -1)
				goto nomem;
			added += r;
			if (t.c == ';')
				in_group = 0;
			seq_reset(&s);
			continue;
		}
		if (t.type == TOK_END) {
			if (s.angle_done && s.spec.len && junk)
				(*junk)++;
			r = emit_spec(l, &s, s.has_comment ? s.comment.s : "", junk);
			if (r == -1)
				goto nomem;
			added += r;
			break;
		}
		/* Anything else ('>', ']', stray specials): the mailbox is junk. */
		s.adjacent = 1;
		if (junk)
			(*junk)++;
	}
	seq_free(&s);
	sb_free(&t.raw);
	sb_free(&t.text);
	sb_free(&angle);
	sb_free(&lx.comment);
	return added;
nomem:
	seq_free(&s);
	sb_free(&t.raw);
	sb_free(&t.text);
	sb_free(&angle);
	sb_free(&lx.comment);
	return -1;
}

char *
addr_parse_one(const char *s)
{
	const char *p = s, *end;
	char *inner, *colon;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' ||
	    end[-1] == '\n'))
		end--;
	if (end - p == 2 && p[0] == '<' && p[1] == '>')
		return strdup("");
	if (p < end && *p == '<') {
		if (end[-1] != '>')
			return NULL;
		if ((inner = xstrndup(p + 1, (size_t)(end - p - 2))) == NULL)
			return NULL;
		/* An obsolete source route "@a,@b:" goes. */
		if (inner[0] == '@' && (colon = strchr(inner, ':')) != NULL)
			memmove(inner, colon + 1, strlen(colon + 1) + 1);
	} else if ((inner = xstrndup(p, (size_t)(end - p))) == NULL)
		return NULL;
	if (*inner && addr_is_valid(inner))
		return inner;
	free(inner);
	/* "Name <addr>": one mailbox and nothing else. */
	{
		struct addr_list l;
		int junk = 0;
		char *r = NULL;

		addr_list_init(&l);
		if (addr_parse_list_junk(s, &l, &junk) == 1 && junk == 0)
			r = strdup(l.v[0].addr);
		addr_list_free(&l);
		return r;
	}
}

int
addr_is_valid(const char *a)
{
	int quoted = 0, ats = 0, literal = 0;
	const unsigned char *p = (const unsigned char *)a;

	if (*p == '\0' || *p == '@')
		return 0;
	for (; *p; p++) {
		if (*p < 32 || *p == 127)
			return 0;
		if (*p == '\\' && quoted && p[1]) {
			p++;
			if (*p < 32 || *p == 127)
				return 0;	/* no control character, escaped or not */
			continue;
		}
		if (*p == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && strchr(" <>(),;:\\", *p))
			return 0;
		/* One @, with a domain after it. */
		if (!quoted && *p == '@' && (++ats > 1 || p[1] == '\0'))
			return 0;
		/* Brackets only as a whole domain literal: "@[...]" at the end. */
		if (!quoted && *p == '[') {
			if (literal || p == (const unsigned char *)a || p[-1] != '@')
				return 0;
			literal = 1;
		}
		if (!quoted && *p == ']' && (!literal || p[1] != '\0'))
			return 0;
	}
	return !quoted && (!literal || a[strlen(a) - 1] == ']');
}

/* The last '@' outside quotes, or NULL. */
static const char *
last_at(const char *a)
{
	const char *p, *at = NULL;
	int quoted = 0;

	for (p = a; *p; p++) {
		if (*p == '\\' && quoted && p[1])
			p++;
		else if (*p == '"')
			quoted = !quoted;
		else if (*p == '@' && !quoted)
			at = p;
	}
	return at;
}

/* The domain part of a, or NULL. */
static const char *
domain_of(const char *a)
{
	const char *at = last_at(a);

	return at ? at + 1 : NULL;
}

int
addr_is_local(const char *a)
{
	const char *d = domain_of(a);

	if (d == NULL || *d == '\0')
		return 1;
	if (strcasecmp(d, "localhost") == 0 || strcasecmp(d, "localhost.localdomain") == 0)
		return 1;
	return strchr(d, '.') == NULL && d[0] != '[';
}

char *
addr_local_part(const char *a)
{
	const char *at = last_at(a);

	return at ? xstrndup(a, (size_t)(at - a)) : strdup(a);
}

char *
addr_qualify(const char *a, const char *domain)
{
	char *local, *r;

	if (!addr_is_local(a) || domain == NULL || *domain == '\0')
		return strdup(a);
	local = addr_local_part(a);
	r = local ? strfmt("%s@%s", local, domain) : NULL;
	free(local);
	return r;
}

char *
addr_format(const char *name, const char *addr)
{
	struct sbuf b;
	const char *p;
	char *enc;
	int need_quote = 0;

	if (name == NULL || *name == '\0')
		return strdup(addr);
	if (!mime_is_ascii(name)) {
		if ((enc = mime_2047_encode(name)) == NULL)
			return NULL;
		b.s = strfmt("%s <%s>", enc, addr);
		free(enc);
		return b.s;
	}
	for (p = name; *p; p++)
		if (strchr("()<>[]:;@\\,.\"", *p))
			need_quote = 1;
	if (!need_quote)
		return strfmt("%s <%s>", name, addr);
	sb_init(&b);
	sb_addc(&b, '"');
	for (p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			sb_addc(&b, '\\');
		sb_addc(&b, *p);
	}
	sb_printf(&b, "\" <%s>", addr);
	return b.s ? sb_steal(&b) : NULL;
}

/*
 * addr_qualify_text: a small scanner of its own, because the rewrite must
 * leave every other byte of the field as it was (folding, comments, quoted
 * display names, groups).  Tokens: white space, comments, quoted strings,
 * domain literals, specials, atoms.  An item (between commas, inside or
 * outside a group) is qualified when its address (inside <...>, or the item
 * itself) is one word or words joined by dots, without "@".
 */
enum qtok { Q_WSP, Q_COMMENT, Q_WORD, Q_SPECIAL };

struct qscan {
	const char *s;
	size_t	 pos;
	/* the current item */
	int	 angle;		/* inside <...> */
	int	 had_angle;	/* the item has an angle-addr */
	int	 at;		/* "@" seen in the address */
	int	 words;		/* words in the address */
	int	 bad;		/* not a plain local part (two words without a dot, ...) */
	int	 last_dot;	/* the last address token was "." */
	size_t	 end;		/* just after the address's last word */
};

/* Length of the token at s[pos] and its kind. */
static size_t
qtok_len(const char *s, enum qtok *kind)
{
	size_t n = 0;
	int depth = 0;

	if (s[0] == ' ' || s[0] == '\t' || s[0] == '\r' || s[0] == '\n') {
		while (s[n] == ' ' || s[n] == '\t' || s[n] == '\r' || s[n] == '\n')
			n++;
		*kind = Q_WSP;
		return n;
	}
	if (s[0] == '(') {
		for (; s[n]; n++) {
			if (s[n] == '\\' && s[n + 1]) {
				n++;
				continue;
			}
			if (s[n] == '(')
				depth++;
			else if (s[n] == ')' && --depth == 0)
				return (*kind = Q_COMMENT, n + 1);
		}
		return (*kind = Q_COMMENT, n);	/* unterminated: to the end */
	}
	if (s[0] == '"' || s[0] == '[') {
		char close = s[0] == '"' ? '"' : ']';

		for (n = 1; s[n] && s[n] != close; n++)
			if (s[n] == '\\' && s[n + 1])
				n++;
		/* Unterminated: not an address to touch. */
		*kind = s[n] ? Q_WORD : Q_SPECIAL;
		return s[n] ? n + 1 : n;
	}
	if (is_special((unsigned char)s[0])) {
		*kind = Q_SPECIAL;
		return 1;
	}
	while (s[n] && !is_special((unsigned char)s[n]) && s[n] != ' ' && s[n] != '\t' &&
	    s[n] != '\r' && s[n] != '\n')
		n++;
	*kind = Q_WORD;
	return n;
}

static void
qitem_reset(struct qscan *q)
{
	q->angle = q->had_angle = q->at = q->words = q->bad = q->last_dot = 0;
	q->end = 0;
}

/* The item ends: note where "@domain" goes, if it is a bare local part. */
static int
qitem_end(struct qscan *q, size_t **at, size_t *nat, size_t *cap)
{
	size_t *v;

	if (q->words > 0 && !q->at && !q->bad && !q->last_dot) {
		if (*nat == *cap) {
			*cap = *cap ? *cap * 2 : 8;
			if ((v = realloc(*at, *cap * sizeof *v)) == NULL)
				return -1;
			*at = v;
		}
		(*at)[(*nat)++] = q->end;
	}
	qitem_reset(q);
	return 0;
}

char *
addr_qualify_text(const char *s, const char *domain)
{
	struct qscan q;
	struct sbuf out;
	enum qtok kind;
	size_t n, *at = NULL, nat = 0, cap = 0, i, from;
	int prev_word = 0;	/* the last address token outside <> was a word */

	memset(&q, 0, sizeof q);
	q.s = s;
	for (q.pos = 0; s[q.pos]; q.pos += n) {
		n = qtok_len(s + q.pos, &kind);
		if (kind == Q_WSP || kind == Q_COMMENT)
			continue;
		if (kind == Q_SPECIAL && !q.angle && (s[q.pos] == ',' || s[q.pos] == ';')) {
			if (qitem_end(&q, &at, &nat, &cap) == -1)
				goto nomem;
			prev_word = 0;
			continue;
		}
		if (kind == Q_SPECIAL && !q.angle && s[q.pos] == ':') {
			qitem_reset(&q);	/* what came before is a group's name */
			prev_word = 0;
			continue;
		}
		if (kind == Q_SPECIAL && s[q.pos] == '<') {
			/* What came before is a display name: the address starts here. */
			qitem_reset(&q);
			q.angle = q.had_angle = 1;
			prev_word = 0;
			continue;
		}
		if (kind == Q_SPECIAL && s[q.pos] == '>') {
			q.angle = 0;
			continue;
		}
		if (q.had_angle && !q.angle) {
			q.bad = 1;	/* something after the angle-addr */
			continue;
		}
		/* A token of the address. */
		if (kind == Q_SPECIAL && s[q.pos] == '@')
			q.at = 1;
		else if (kind == Q_SPECIAL && s[q.pos] == '.') {
			if (prev_word == 0)
				q.bad = 1;
			q.last_dot = 1;
			prev_word = 0;
		} else if (kind == Q_SPECIAL)
			q.bad = 1;
		else {
			if (prev_word)
				q.bad = 1;	/* "John Smith": not an address */
			q.words++;
			q.last_dot = 0;
			prev_word = 1;
			q.end = q.pos + n;
		}
	}
	if (qitem_end(&q, &at, &nat, &cap) == -1)
		goto nomem;
	sb_init(&out);
	if (sb_adds(&out, "") == -1)
		goto nomem;
	for (from = 0, i = 0; i < nat; i++) {
		if (sb_addn(&out, s + from, at[i] - from) == -1 || sb_addc(&out, '@') == -1 ||
		    sb_adds(&out, domain) == -1) {
			sb_free(&out);
			goto nomem;
		}
		from = at[i];
	}
	free(at);
	if (sb_adds(&out, s + from) == -1) {
		sb_free(&out);
		return NULL;
	}
	return sb_steal(&out);
nomem:
	free(at);
	return NULL;
}
