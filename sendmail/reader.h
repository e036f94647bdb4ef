/*
 * reader.h: a line reader over a file descriptor that never holds a whole
 * line: it hands out pieces of at most its buffer size.  Line endings LF,
 * CRLF and a lone CR all end a line and are not part of the data.
 */
#ifndef READER_H
#define READER_H

#include <stddef.h>

struct reader {
	int	 fd;
	char	*buf;
	size_t	 cap, start, end;
	int	 eof;
};

int	 rd_init(struct reader *r, int fd, size_t cap);	/* 0 or -1 */
void	 rd_free(struct reader *r);
/*
 * The next piece of a line: *p and *n; *eol is 1 when the piece ends its
 * line.  Returns 1, 0 at end of input, -1 on a read error (errno set).
 */
int	 rd_next(struct reader *r, const char **p, size_t *n, int *eol);

#endif
