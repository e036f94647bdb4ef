# Postie: plain GNU make. `make`, `make test`, `make demo`, `make install`.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
USERUNITDIR ?= $(PREFIX)/lib/systemd/user
DESTDIR    ?=
# The version is that of debian/changelog, the one place it is written: the
# package's, and what sendmail -V and popfetch -V report ("unknown" in a
# partial copy of the sources without debian/).
VERSION    := $(or $(shell sed -n '1s/^postie (\([0-9A-Za-z.+~:-]*\)).*/\1/p' debian/changelog 2>/dev/null),unknown)

CC      ?= cc
CFLAGS  ?= -O2 -g
PKGS    := libcurl libconfuse json-c
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wstrict-prototypes \
	-Wmissing-prototypes -Wshadow -Wcast-qual -Wsign-compare -Wformat=2 \
	-Wpointer-arith -Wno-format-nonliteral -Icommon \
	-DSYSCONFDIR=\"$(SYSCONFDIR)\" -DSPOOLDIR=\"$(SPOOLDIR)\" -DPOSTIE_VERSION=\"$(VERSION)\" \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is not linked: common/curlshim.c loads it when a connection is made.
LDLIBS  += $(shell pkg-config --libs libconfuse json-c 2>/dev/null) -ldl

COMMON_SRC   := $(sort $(wildcard common/*.c))
SENDMAIL_SRC := $(sort $(wildcard sendmail/*.c))
POPFETCH_SRC := $(sort $(wildcard popfetch/*.c))
UNIT_SRC     := $(sort $(wildcard tests/unit/*.c))
COMMON_OBJ   := $(COMMON_SRC:.c=.o)
SENDMAIL_OBJ := $(SENDMAIL_SRC:.c=.o)
POPFETCH_OBJ := $(POPFETCH_SRC:.c=.o)
UNIT_BIN     := $(UNIT_SRC:.c=)
HEADERS      := $(wildcard common/*.h sendmail/*.h popfetch/*.h)

all: sendmail/sendmail popfetch/popfetch

# What a build compiles in: the compiler, its flags and with them SYSCONFDIR
# and VERSION.  When they change (`make install SYSCONFDIR=/opt/etc` after
# `make`, other CFLAGS), .build-flags changes and everything is rebuilt.
BUILD_FLAGS = $(CC) $(CFLAGS) $(CPPFLAGS) $(LDFLAGS) $(LDLIBS)
.build-flags: FORCE
	@printf '%s\n' '$(subst ','\'',$(BUILD_FLAGS))' | cmp -s - $@ || \
		printf '%s\n' '$(subst ','\'',$(BUILD_FLAGS))' >$@

common/libpostie.a: $(COMMON_OBJ)
	$(AR) rcs $@ $^

%.o: %.c $(HEADERS) .build-flags
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

sendmail/sendmail: $(SENDMAIL_OBJ) common/libpostie.a .build-flags
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SENDMAIL_OBJ) common/libpostie.a $(LDLIBS)

popfetch/popfetch: $(POPFETCH_OBJ) common/libpostie.a .build-flags
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(POPFETCH_OBJ) common/libpostie.a $(LDLIBS)

tests/unit/%: tests/unit/%.c tests/unit/tap.h common/libpostie.a .build-flags
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< common/libpostie.a $(LDLIBS)

# Debian packages needed to build, test, demo and benchmark. A no-op when present.
DEPS_BUILD := gcc make pkg-config libcurl4-openssl-dev libconfuse-dev libjson-c-dev
# The libraries of Courier's POP3 server and popa3d, which are unpacked, not
# installed (tests/lib/pop3servers.sh: they conflict with dovecot-pop3d).
DEPS_POP3SERVERS := libcourier-unicode4 libltdl7 libgdbm6 libidn12 libgnutls30 libpam0g
# The libraries of Postfix and Exim, also unpacked, not installed
# (tests/lib/mta.sh: either would replace the system MTA).
DEPS_MTAS := libdb5.3 libicu72 libsasl2-2 libnsl2 libgnutls-dane0 libgnutls30 libidn12 \
	libpcre2-8-0 libssl3 util-linux
DEPS_TEST  := perl python3 python3-aiosmtpd dovecot-core dovecot-pop3d openssl swaks mandoc \
	curl valgrind clang libclang-rt-14-dev time libnet-ssleay-perl media-types strace systemd \
	$(DEPS_POP3SERVERS) $(DEPS_MTAS)
DEPS_BENCH := msmtp mpop fetchmail hyperfine tcpdump iptables libnetfilter-queue-dev
# What tests/demo.sh runs: an SMTP server (aiosmtpd), Dovecot, openssl for its
# certificates; not the compilers and checkers of the whole test set.
DEPS_DEMO  := python3-aiosmtpd dovecot-core dovecot-pop3d openssl
deps:
	@tests/lib/ensure-deps $(DEPS_BUILD) $(DEPS_TEST)

deps-demo:
	@tests/lib/ensure-deps $(DEPS_BUILD) $(DEPS_DEMO)

deps-bench:
	@tests/lib/ensure-deps $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_BENCH)

test: deps
	$(MAKE) all $(UNIT_BIN)
	prove -v tests/unit/run.t tests/*.t

# The C unit tests alone: no server, no network, no root (the package build runs them).
check-unit: all $(UNIT_BIN)
	prove tests/unit/run.t

# The full fault-injection sweeps (strace at every syscall of a send, a queue
# run and a poll): too long for `make test`; CI runs them after it.
check-faults: deps
	$(MAKE) all
	prove tests/faults/*.t

demo: deps-demo
	$(MAKE) all
	tests/demo.sh

bench: deps-bench
	$(MAKE) all
	tests/bench/run.sh
	tests/bench/latency.sh

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)
	install -m 0755 sendmail/sendmail $(DESTDIR)$(SBINDIR)/sendmail
	install -m 0755 popfetch/popfetch $(DESTDIR)$(BINDIR)/popfetch
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/mailq
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/newaliases
	ln -sf $(SBINDIR)/sendmail $(DESTDIR)$(LIBDIR)/sendmail
	install -m 0644 man/sendmail.8 $(DESTDIR)$(MANDIR)/man8/sendmail.8
	install -m 0644 man/newaliases.8 $(DESTDIR)$(MANDIR)/man8/newaliases.8
	install -m 0644 man/popfetch.1 $(DESTDIR)$(MANDIR)/man1/popfetch.1
	install -m 0644 man/mailq.1 $(DESTDIR)$(MANDIR)/man1/mailq.1
	install -m 0644 man/postie.conf.5 $(DESTDIR)$(MANDIR)/man5/postie.conf.5
	[ -e $(DESTDIR)$(SYSCONFDIR)/postie.conf ] || \
		install -m 0600 etc/postie.conf $(DESTDIR)$(SYSCONFDIR)/postie.conf

# A system-wide spool for multi-user machines: sendmail setgid postie, the
# spool and the configuration readable only through it, and a log file the
# group may append to (for log = "/var/log/postie.log"; syslog needs none).
# The layout (sendmail(8), SECURITY CONSIDERATIONS) is what a package must make.
SPOOLDIR     ?= /var/spool/postie
LOGFILE      ?= /var/log/postie.log
POSTIE_GROUP ?= postie
install-system: install
	getent group $(POSTIE_GROUP) >/dev/null || groupadd --system $(POSTIE_GROUP)
	chgrp $(POSTIE_GROUP) $(DESTDIR)$(SBINDIR)/sendmail
	chmod 2755 $(DESTDIR)$(SBINDIR)/sendmail
	install -d -o root -g $(POSTIE_GROUP) -m 2770 $(DESTDIR)$(SPOOLDIR) \
		$(DESTDIR)$(SPOOLDIR)/tmp $(DESTDIR)$(SPOOLDIR)/failed
	chgrp $(POSTIE_GROUP) $(DESTDIR)$(SYSCONFDIR)/postie.conf
	chmod 0640 $(DESTDIR)$(SYSCONFDIR)/postie.conf
	install -d $(DESTDIR)$(dir $(LOGFILE))
	[ -e $(DESTDIR)$(LOGFILE) ] || install -m 0620 /dev/null $(DESTDIR)$(LOGFILE)
	chown root:$(POSTIE_GROUP) $(DESTDIR)$(LOGFILE)
	chmod 0620 $(DESTDIR)$(LOGFILE)

# The units of etc/ with the paths of this install, as system units and, all
# but popfetch@.service, as user units (what a user's systemd finds without
# copying).  A user manager has no network-online.target: the user units
# leave it out.
UNITS      := $(notdir $(sort $(wildcard etc/*.service etc/*.timer)))
USER_UNITS := $(filter-out popfetch@.service,$(UNITS))
UNIT_SED   := -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g'
install-units:
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(USERUNITDIR)
	for u in $(UNITS); do \
		sed $(UNIT_SED) etc/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	for u in $(USER_UNITS); do \
		sed $(UNIT_SED) -e '/^[A-Za-z]*=network-online\.target$$/d' etc/$$u \
			>$(DESTDIR)$(USERUNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(USERUNITDIR)/$$u || exit 1; \
	done

uninstall:
	for u in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$$u; done
	for u in $(USER_UNITS); do rm -f $(DESTDIR)$(USERUNITDIR)/$$u; done
	rm -f $(DESTDIR)$(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/popfetch \
		$(DESTDIR)$(BINDIR)/mailq $(DESTDIR)$(BINDIR)/newaliases $(DESTDIR)$(LIBDIR)/sendmail \
		$(DESTDIR)$(MANDIR)/man8/sendmail.8 $(DESTDIR)$(MANDIR)/man8/newaliases.8 \
		$(DESTDIR)$(MANDIR)/man1/popfetch.1 $(DESTDIR)$(MANDIR)/man1/mailq.1 \
		$(DESTDIR)$(MANDIR)/man5/postie.conf.5

clean:
	rm -f common/*.o common/libpostie.a sendmail/*.o sendmail/sendmail \
		popfetch/*.o popfetch/popfetch $(UNIT_BIN) .build-flags

# The Debian package (debian/), built by dpkg-buildpackage in a copy of the
# sources, so that its files land in $(DEB_DIR) and not next to the tree:
# $(DEB_DIR)/postie_$(VERSION)_ARCH.deb.  check-package builds it, runs
# lintian, installs it on this machine, checks it and purges it (as root:
# it replaces the MTA while it runs; see tests/package/check.t).
DEB_DIR  ?= build-deb
DEPS_DEB := $(DEPS_BUILD) build-essential dpkg-dev debhelper fakeroot
deb:
	@tests/lib/ensure-deps $(DEPS_DEB)
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)
	echo '*' >$(DEB_DIR)/.gitignore
	tests/lib/copy-sources $(DEB_DIR)/postie-$(VERSION) '($(DEB_DIR)|build-asan|tests/fuzz/bin)/'
	cd $(DEB_DIR)/postie-$(VERSION) && dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

check-package:
	@tests/lib/ensure-deps $(DEPS_DEB) lintian python3-aiosmtpd dovecot-core dovecot-pop3d openssl
	prove -v tests/package/check.t

.PHONY: all deps deps-bench deps-demo test check-unit check-faults demo bench install \
	install-system install-units uninstall clean deb check-package FORCE

# check-asan, check-valgrind, fuzz
-include tests/check.mk
