/* Tests for common/config.c: schema, defaults, checks, selection, password_command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/postie-unit-XXXXXX";

static char *
write_conf(const char *name, const char *text, mode_t mode)
{
	char *p = strfmt("%s/%s", dir, name);
	FILE *fp = fopen(p, "w");

	fputs(text, fp);
	fclose(fp);
	chmod(p, mode);
	return p;
}

static struct postie_cfg *
load(const char *text, mode_t mode, char **err)
{
	char *p = write_conf("c.conf", text, mode);
	struct postie_cfg *c = conf_load(p, 1, err);

	free(p);
	return c;
}

int
main(void)
{
	struct postie_cfg *c;
	struct smtp_account *a;
	char *err = NULL, *pw, *p;

	if (mkdtemp(dir) == NULL)
		return 1;
	c = load("domain = \"example.org\"\nsmtp \"default\" { host = \"smtp.x.org\" }\n"
	    "smtp \"ssl\" { host = \"s.x.org\" tls = \"tls\" from = \"me@x.org\" }\n"
	    "smtp \"plain\" { host = \"p.x.org\" tls = \"none\" }\n"
	    "pop3 \"in\" { host = \"pop.x.org\" mbox = \"~/Mail/in\" }\n", 0644, &err);
	tap_ok(c != NULL, "loads: %s", err ? err : "");
	if (c == NULL)
		return tap_done();
	tap_is_int(c->smtp[0].net.port, 587, "starttls default port 587");
	tap_is_int(c->smtp[0].net.tls, TLS_STARTTLS, "starttls is the default");
	tap_is_int(c->smtp[1].net.port, 465, "tls default port 465");
	tap_is_int(c->smtp[2].net.port, 25, "none default port 25");
	tap_is_int(c->pop3[0].net.port, 110, "pop3 default port 110");
	tap_is_int(c->smtp[0].net.timeout, 60, "timeout default");
	tap_is_int(c->smtp[0].net.tls_verify, 1, "verification on by default");
	tap_is_str(c->smtp[0].net.auth, "auto", "auth default");
	tap_is_int(c->pop3[0].only_new, 1, "only_new default");
	tap_is_int(c->pop3[0].interval, 300, "interval default");
	tap_is_int(c->pop3[0].dest, DEST_MBOX, "mbox destination");
	tap_ok(c->pop3[0].dest_path[0] == '/', "tilde expanded: %s", c->pop3[0].dest_path);
	tap_is_int(c->queue_lifetime, 432000, "queue_lifetime default");
	tap_is_int(c->max_parallel, 4, "max_parallel default");
	tap_is_str(c->aliases, "/etc/aliases", "aliases default");
	tap_is_str(c->smtp[0].domain, "example.org", "domain inherited");

	a = conf_smtp_select(c, NULL, NULL, &err);
	tap_is_str(a ? a->name : NULL, "default", "\"default\" chosen");
	a = conf_smtp_select(c, NULL, "ME@x.org", &err);
	tap_is_str(a ? a->name : NULL, "ssl", "chosen by from (case-insensitive)");
	a = conf_smtp_select(c, "plain", "me@x.org", &err);
	tap_is_str(a ? a->name : NULL, "plain", "-a wins");
	a = conf_smtp_select(c, "nope", NULL, &err);
	tap_ok(a == NULL && err && strstr(err, "nope"), "unknown account named: %s", err);
	free(err);
	err = NULL;
	conf_free(c);

	/* A section's "" overrides the top level: system store, no pin. */
	c = load("tls_ca_file = \"/top/ca.pem\"\ntls_fingerprint = \"sha256//AAAA\"\n"
	    "smtp \"a\" { host = \"x\" tls_ca_file = \"\" tls_fingerprint = \"\" }\n"
	    "smtp \"b\" { host = \"y\" }\n"
	    "pop3 \"p\" { host = \"z\" mbox = \"/m\" tls_ca_file = \"\" }\n", 0600, &err);
	tap_ok(c != NULL, "tls_ca_file = \"\" in a section loads: %s", err ? err : "");
	if (c) {
		tap_ok(c->smtp[0].net.tls_ca_file == NULL,
		    "smtp section's tls_ca_file = \"\": the system store");
		tap_ok(c->smtp[0].net.tls_fingerprint == NULL,
		    "smtp section's tls_fingerprint = \"\": no pin");
		tap_is_str(c->smtp[1].net.tls_ca_file, "/top/ca.pem", "unset in a section: inherited");
		tap_is_str(c->smtp[1].net.tls_fingerprint, "sha256//AAAA", "fingerprint inherited");
		tap_ok(c->pop3[0].net.tls_ca_file == NULL,
		    "pop3 section's tls_ca_file = \"\": the system store");
		conf_free(c);
	}

	c = load("smtp \"a\" { host = \"x\" password = \"s3cret\" }\n", 0644, &err);
	tap_ok(c == NULL && err && strstr(err, "readable by others"),
	    "password in a world-readable file refused: %s", err ? err : "");
	free(err);
	err = NULL;
	c = load("smtp \"a\" { host = \"x\" password = \"s3cret\" }\n", 0600, &err);
	tap_ok(c != NULL, "password in a 0600 file accepted");
	conf_free(c);

	c = load("smtp \"a\" { host = \"x\" tls = \"maybe\" }\n", 0600, &err);
	tap_ok(c == NULL && err && strstr(err, "maybe"), "bad tls value named: %s", err);
	free(err);
	err = NULL;
	c = load("smtp \"a\" { hots = \"x\" }\n", 0600, &err);
	tap_ok(c == NULL && err && strstr(err, "hots"), "unknown key named: %s", err);
	tap_ok(err && strstr(err, "c.conf"), "error names the file: %s", err);
	free(err);
	err = NULL;
	c = load("pop3 \"a\" { host = \"x\" mbox = \"m\" maildir = \"d\" }\n", 0600, &err);
	tap_ok(c == NULL && err && strstr(err, "exactly one"), "two destinations refused: %s", err);
	free(err);
	err = NULL;
	c = load("smtp \"a\" { host = \"x\" user = \"u\" password_command = \"printf 'pw\\\\nx'\" }\n",
	    0600, &err);
	tap_ok(c != NULL, "password_command loads: %s", err ? err : "");
	if (c) {
		pw = conf_password(&c->smtp[0].net, &err);
		tap_is_str(pw, "pw", "first line of password_command");
		free(pw);
		conf_free(c);
	}
	c = load("smtp \"a\" { host = \"x\" user = \"u\" password_command = \"false\" }\n", 0600,
	    &err);
	pw = c ? conf_password(&c->smtp[0].net, &err) : NULL;
	tap_ok(pw == NULL && err != NULL, "failing password_command reported: %s", err);
	free(err);
	err = NULL;
	conf_free(c);

	p = strfmt("%s/missing.conf", dir);
	c = conf_load(p, 0, &err);
	tap_ok(c != NULL && c->nsmtp == 0, "a missing optional file gives an empty configuration");
	conf_free(c);
	c = conf_load(p, 1, &err);
	tap_ok(c == NULL && err, "a missing -C file is an error: %s", err);
	free(err);
	free(p);
	setenv("POSTIE_CONF", "/some/where.conf", 1);
	p = conf_find(NULL, 1);
	tap_is_str(p, "/some/where.conf", "$POSTIE_CONF");
	free(p);
	p = conf_find(NULL, 0);
	tap_is_str(p, SYSCONFDIR "/postie.conf", "environment ignored when not trusted");
	free(p);
	p = conf_find("/x.conf", 1);
	tap_is_str(p, "/x.conf", "-C first");
	free(p);
	p = strfmt("rm -rf %s", dir);
	if (system(p) != 0)
		tap_diag("cannot remove %s", dir);
	free(p);
	return tap_done();
}
