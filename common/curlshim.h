/*
 * curlshim.h: libcurl is loaded on first use (curlshim.c), so the programs
 * are not linked with -lcurl; the libcurl functions keep their names.
 * This is the one extra entry point.
 */
#ifndef POSTIE_CURLSHIM_H
#define POSTIE_CURLSHIM_H

/* A symbol of libcurl or of a library it links (OpenSSL), or NULL. */
void	*curlshim_sym(const char *name);

#endif
