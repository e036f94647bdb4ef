/*
 * header.h: an RFC 5322 header block held in memory.
 *
 * Each field keeps its raw text (name, colon, value, with folding kept as
 * CRLF + white space) so that what is not changed is written out exactly as
 * it came in, apart from line endings, which are always CRLF.  The block
 * owns all its strings; hdr_free() releases them.  Functions returning
 * char * return malloc'd strings.  Size limits are the caller's to enforce
 * (hdr_bytes() tells the total).
 */
#ifndef POSTIE_HEADER_H
#define POSTIE_HEADER_H

#include <stddef.h>
#include <stdio.h>

struct hdr_field {
	char	*name;		/* as written, without the colon */
	char	*raw;		/* whole field, folded lines joined by CRLF, no final CRLF */
	size_t	 rawlen;	/* strlen(raw) */
	size_t	 rawcap;	/* bytes allocated for raw */
};

struct hdr_block {
	struct hdr_field *f;
	size_t	 n;
	size_t	 cap;
	size_t	 bytes;
};

void	 hdr_init(struct hdr_block *h);
void	 hdr_free(struct hdr_block *h);

/* Length of the field name if line starts "name:" (printable ASCII, no space), else 0. */
size_t	 hdr_name_len(const char *line, size_t len);

/*
 * Adds one physical line (without its line ending).  A line starting with
 * space or tab continues the previous field; otherwise it must start a new
 * field.  Returns 0, -1 on memory, or 1 if the line is neither (the caller
 * decides whether that ends the header).
 */
int	 hdr_add_line(struct hdr_block *h, const char *line, size_t len);

/* Parses a whole header block from text (LF or CRLF); stops at the first empty line. */
int	 hdr_parse(struct hdr_block *h, const char *text, size_t len);

/* The idx-th field called name (case-insensitive), or NULL. */
const struct hdr_field *hdr_find(const struct hdr_block *h, const char *name, size_t idx);
/* Unfolded value of a field, leading white space removed; NULL on memory. */
char	*hdr_value(const struct hdr_field *f);
/* Unfolded value of the first field called name, or NULL. */
char	*hdr_get(const struct hdr_block *h, const char *name);
/* Number of fields called name. */
size_t	 hdr_count(const struct hdr_block *h, const char *name);

/* Removes every field called name; returns how many. */
size_t	 hdr_remove(struct hdr_block *h, const char *name);
/* Appends "name: value" (value written as given); 0 or -1. */
int	 hdr_append(struct hdr_block *h, const char *name, const char *value);
/* Inserts "name: value" before all other fields; 0 or -1. */
int	 hdr_prepend(struct hdr_block *h, const char *name, const char *value);
/*
 * Replaces the i-th field's text after its colon with text, as given
 * (folding as CRLF + white space kept); 0 or -1.
 */
int	 hdr_replace(struct hdr_block *h, size_t i, const char *text);
/* Replaces the value of the first field called name, or appends one. */
int	 hdr_set(struct hdr_block *h, const char *name, const char *value);

/*
 * Folds every physical line longer than max octets: before the last space
 * or tab that fits, or, in a line without one, by inserting CRLF and a
 * space.  A field name longer than a line is never split: its first line
 * ends right after the colon.  Returns the number of fields changed, or -1
 * on memory.
 */
int	 hdr_fold_long(struct hdr_block *h, size_t max);

/* Writes the block with CRLF line endings (no blank line after it). 0 or -1. */
int	 hdr_write(const struct hdr_block *h, FILE *fp);

#endif
