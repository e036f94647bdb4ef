/*
 * exitcodes.h: the sysexits(3) codes Postie exits with, and the error
 * classes that library code reports.  Library code never exits: it returns
 * an error class, and each program maps it to an exit code in one place.
 */
#ifndef POSTIE_EXITCODES_H
#define POSTIE_EXITCODES_H

#include <sysexits.h>

/* What kind of failure a library call hit; each program maps it once. */
enum px_err {
	PX_OK = 0,
	PX_USAGE,	/* bad command line or argument value */
	PX_DATA,	/* bad input data (message, address) */
	PX_NOINPUT,	/* an input file cannot be read */
	PX_NOUSER,	/* every recipient refused */
	PX_UNAVAILABLE,	/* permanent server refusal (5xx) */
	PX_SOFTWARE,	/* internal error, out of memory */
	PX_OSERR,	/* system error (fork, ...) */
	PX_CANTCREAT,	/* cannot create or lock an output file */
	PX_IOERR,	/* read or write error */
	PX_TEMPFAIL,	/* temporary failure: try again later */
	PX_NOPERM,	/* authentication refused */
	PX_CONFIG,	/* configuration error */
};

/* The sysexits code for an error class. */
int px_exitcode(enum px_err e);

#endif
