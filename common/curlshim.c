/*
 * curlshim.c: libcurl, loaded when the first connection is made.
 *
 * Linking libcurl costs every start of the programs a few milliseconds of
 * dynamic linking (it pulls in TLS, HTTP/2, LDAP, SSH, IDN libraries); most
 * starts (mailq, --help, a poll loop's sleep) need none of it.  So the
 * programs are not linked with -lcurl: these functions, with libcurl's
 * names and signatures, dlopen libcurl.so.4 on first use and forward to it.
 * A program that never connects never loads it.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "curlshim.h"
#include "log.h"
#include "net.h"
#include "util.h"

/* A failed load is tried again after this long (a passing EIO, say). */
#define RETRY_SECONDS	5.0

static char load_error[512];
static double failed_at;

#undef curl_easy_setopt
#undef curl_easy_getinfo

static struct {
	void	*lib;
	int	 failed;	/* the last load failed, at failed_at */
	CURLcode (*global_init)(long);
	void	(*global_cleanup)(void);
	CURL	*(*easy_init)(void);
	void	(*easy_cleanup)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void	(*slist_free_all)(struct curl_slist *);
	char	*(*version)(void);
	CURLcode (*easy_send)(CURL *, const void *, size_t, size_t *);
	CURLcode (*easy_recv)(CURL *, void *, size_t, size_t *);
} c;

#define SYM(field, name) do { \
	*(void **)&c.field = dlsym(c.lib, name); \
	if (c.field == NULL) \
		goto fail; \
} while (0)

/* Loads libcurl once; 0, or -1 (reported once) when it cannot be loaded. */
static int
load(void)
{
	int set_env;

	if (c.lib)
		return 0;
	if (c.failed && util_monotonic() - failed_at < RETRY_SECONDS)
		return -1;
	/*
	 * Debian's libcurl pulls in GnuTLS through librtmp and libldap, whose
	 * constructor initialises it (p11-kit modules included) although
	 * Postie never uses either: 0.6 MB of RSS and some CPU per process.
	 * GnuTLS skips that when this variable is 1 (it reads it only while
	 * loading; a caller's own setting is kept).
	 */
	set_env = getenv("GNUTLS_NO_IMPLICIT_INIT") == NULL &&
	    setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0) == 0;
	c.lib = dlopen("libcurl.so.4", RTLD_LAZY | RTLD_LOCAL);
	if (set_env)
		unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	if (c.lib == NULL) {
		snprintf(load_error, sizeof load_error, "cannot load libcurl: %s", dlerror());
		goto failed;
	}
	SYM(global_init, "curl_global_init");
	SYM(global_cleanup, "curl_global_cleanup");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_perform, "curl_easy_perform");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(version, "curl_version");
	SYM(easy_send, "curl_easy_send");
	SYM(easy_recv, "curl_easy_recv");
	if (c.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_error, sizeof load_error, "cannot initialise libcurl");
		goto fail2;
	}
	c.failed = 0;
	return 0;
fail:
	snprintf(load_error, sizeof load_error, "libcurl.so.4 lacks a function Postie needs");
fail2:
	dlclose(c.lib);
	c.lib = NULL;
failed:
	/* The caller reports it (net_curl_error), once, with what it means. */
	log_info("%s", load_error);
	c.failed = 1;
	failed_at = util_monotonic();
	return -1;
}

const char *
net_curl_error(void)
{
	if (c.lib || !load_error[0])
		return "cannot start libcurl (out of memory?)";
	return load_error;
}

CURLcode
curl_global_init(long flags)
{
	(void)flags;
	return load() == 0 ? CURLE_OK : CURLE_FAILED_INIT;
}

void
curl_global_cleanup(void)
{
	/* Unloading would only cost time at exit; the cleanup is enough. */
	if (c.lib)
		c.global_cleanup();
}

CURL *
curl_easy_init(void)
{
	return load() == 0 ? c.easy_init() : NULL;
}

void
curl_easy_cleanup(CURL *h)
{
	if (h && c.lib)
		c.easy_cleanup(h);
}

CURLcode
curl_easy_perform(CURL *h)
{
	return load() == 0 ? c.easy_perform(h) : CURLE_FAILED_INIT;
}

/* The one argument after the option is a long, a pointer or a curl_off_t, by the option's range. */
CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode r;

	if (load() == -1)
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		r = c.easy_setopt(h, opt, va_arg(ap, long));
	else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB)
		r = c.easy_setopt(h, opt, va_arg(ap, curl_off_t));
	else
		r = c.easy_setopt(h, opt, va_arg(ap, void *));
	va_end(ap);
	return r;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode r;

	if (load() == -1)
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	r = c.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return r;
}

const char *
curl_easy_strerror(CURLcode code)
{
	return load() == 0 ? c.easy_strerror(code) : "libcurl is not available";
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	return load() == 0 ? c.slist_append(l, s) : NULL;
}

void
curl_slist_free_all(struct curl_slist *l)
{
	if (l && c.lib)
		c.slist_free_all(l);
}

char *
curl_version(void)
{
	return load() == 0 ? c.version() : (char *)"libcurl (not loaded)";
}

CURLcode
curl_easy_send(CURL *h, const void *buf, size_t n, size_t *sent)
{
	*sent = 0;
	return load() == 0 ? c.easy_send(h, buf, n, sent) : CURLE_FAILED_INIT;
}

CURLcode
curl_easy_recv(CURL *h, void *buf, size_t n, size_t *got)
{
	*got = 0;
	return load() == 0 ? c.easy_recv(h, buf, n, got) : CURLE_FAILED_INIT;
}

/*
 * A function of libcurl's TLS library (OpenSSL's SSL_get_version, ...), for
 * tlsinfo.c: dlsym on libcurl's handle searches its dependencies too.
 * NULL when libcurl is not loaded or the TLS library is another.
 */
void *
curlshim_sym(const char *name)
{
	return load() == 0 ? dlsym(c.lib, name) : NULL;
}
