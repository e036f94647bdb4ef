/*
 * curlio.c: curl_easy_send() and curl_easy_recv() for popfetch.
 *
 * The programs are not linked with libcurl; common/curlshim.c loads it on
 * first use and forwards the functions it knows, which do not include these
 * two yet.  Until they move there, they are looked up here in the libcurl
 * that the shim has already loaded (a connection exists before they are
 * called), under names of our own so as not to collide with the shim's.
 */
#include <dlfcn.h>
#include <stddef.h>

#include <curl/curl.h>

#include "popfetch.h"

static CURLcode (*send_fn)(CURL *, const void *, size_t, size_t *);
static CURLcode (*recv_fn)(CURL *, void *, size_t, size_t *);

static int
load(void)
{
	void *lib;

	if (send_fn && recv_fn)
		return 0;
	/* The shim's copy (RTLD_NOLOAD: never a second one), else a linked libcurl. */
	if ((lib = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL | RTLD_NOLOAD)) == NULL)
		lib = RTLD_DEFAULT;
	*(void **)&send_fn = dlsym(lib, "curl_easy_send");
	*(void **)&recv_fn = dlsym(lib, "curl_easy_recv");
	return send_fn && recv_fn ? 0 : -1;
}

CURLcode
pf_curl_send(CURL *c, const void *buf, size_t n, size_t *sent)
{
	*sent = 0;
	return load() == 0 ? send_fn(c, buf, n, sent) : CURLE_FAILED_INIT;
}

CURLcode
pf_curl_recv(CURL *c, void *buf, size_t n, size_t *got)
{
	*got = 0;
	return load() == 0 ? recv_fn(c, buf, n, got) : CURLE_FAILED_INIT;
}
