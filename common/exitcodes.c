/* exitcodes.c: the one mapping from error class to sysexits code. */
#include "exitcodes.h"

int
px_exitcode(enum px_err e)
{
	switch (e) {
	case PX_OK:		return EX_OK;
	case PX_USAGE:		return EX_USAGE;
	case PX_DATA:		return EX_DATAERR;
	case PX_NOINPUT:	return EX_NOINPUT;
	case PX_NOUSER:		return EX_NOUSER;
	case PX_UNAVAILABLE:	return EX_UNAVAILABLE;
	case PX_SOFTWARE:	return EX_SOFTWARE;
	case PX_OSERR:		return EX_OSERR;
	case PX_CANTCREAT:	return EX_CANTCREAT;
	case PX_IOERR:		return EX_IOERR;
	case PX_TEMPFAIL:	return EX_TEMPFAIL;
	case PX_NOPERM:		return EX_NOPERM;
	case PX_CONFIG:		return EX_CONFIG;
	}
	return EX_SOFTWARE;
}
