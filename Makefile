# Postie: plain GNU make. `make`, `make test`, `make demo`, `make install`.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
VERSION    := 0.1.0

CC      ?= cc
CFLAGS  ?= -O2 -g
PKGS    := libcurl libconfuse
override CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wstrict-prototypes \
	-Wmissing-prototypes -Wshadow -Wcast-qual -Wsign-compare -Wformat=2 \
	-Wpointer-arith -Wno-format-nonliteral -Icommon \
	-DSYSCONFDIR=\"$(SYSCONFDIR)\" -DPOSTIE_VERSION=\"$(VERSION)\" \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl is not linked: common/curlshim.c loads it when a connection is made.
LDLIBS  += $(shell pkg-config --libs libconfuse 2>/dev/null) -ldl

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

common/libpostie.a: $(COMMON_OBJ)
	$(AR) rcs $@ $^

%.o: %.c $(HEADERS)
	$(CC) $(CFLAGS) $(CPPFLAGS) -c -o $@ $<

sendmail/sendmail: $(SENDMAIL_OBJ) common/libpostie.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SENDMAIL_OBJ) common/libpostie.a $(LDLIBS)

popfetch/popfetch: $(POPFETCH_OBJ) common/libpostie.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(POPFETCH_OBJ) common/libpostie.a $(LDLIBS)

tests/unit/%: tests/unit/%.c tests/unit/tap.h common/libpostie.a
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< common/libpostie.a $(LDLIBS)

# Debian packages needed to build, test, demo and benchmark. A no-op when present.
DEPS_BUILD := gcc make pkg-config libcurl4-openssl-dev libconfuse-dev
DEPS_TEST  := perl python3 python3-aiosmtpd dovecot-core dovecot-pop3d openssl swaks mandoc \
	curl valgrind clang libclang-rt-14-dev time libnet-ssleay-perl media-types strace
DEPS_BENCH := msmtp mpop fetchmail hyperfine
deps:
	@tests/lib/ensure-deps $(DEPS_BUILD) $(DEPS_TEST)

deps-bench:
	@tests/lib/ensure-deps $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_BENCH)

test: deps
	$(MAKE) all $(UNIT_BIN)
	prove -v tests/unit/run.t tests/*.t

# The full fault-injection sweeps (strace at every syscall of a send, a queue
# run and a poll): too long for `make test`; CI runs them after it.
check-faults: deps
	$(MAKE) all
	prove tests/faults/*.t

demo: deps
	$(MAKE) all
	tests/demo.sh

bench: deps-bench
	$(MAKE) all
	tests/bench/run.sh

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
	install -m 0644 man/popfetch.1 $(DESTDIR)$(MANDIR)/man1/popfetch.1
	install -m 0644 man/postie.conf.5 $(DESTDIR)$(MANDIR)/man5/postie.conf.5
	[ -e $(DESTDIR)$(SYSCONFDIR)/postie.conf ] || \
		install -m 0600 etc/postie.conf $(DESTDIR)$(SYSCONFDIR)/postie.conf

# A system-wide spool for multi-user machines: sendmail setgid postie, the
# spool and the configuration readable only through it.
SPOOLDIR ?= /var/spool/postie
install-system: install
	getent group postie >/dev/null || groupadd --system postie
	chgrp postie $(DESTDIR)$(SBINDIR)/sendmail
	chmod 2755 $(DESTDIR)$(SBINDIR)/sendmail
	install -d -o root -g postie -m 2770 $(DESTDIR)$(SPOOLDIR) \
		$(DESTDIR)$(SPOOLDIR)/tmp $(DESTDIR)$(SPOOLDIR)/failed
	chgrp postie $(DESTDIR)$(SYSCONFDIR)/postie.conf
	chmod 0640 $(DESTDIR)$(SYSCONFDIR)/postie.conf

install-units:
	install -d $(DESTDIR)$(UNITDIR)
	for u in etc/*.service etc/*.timer; do \
		sed -e 's|/usr/sbin/sendmail|$(SBINDIR)/sendmail|g' \
		    -e 's|/usr/local/bin/popfetch|$(BINDIR)/popfetch|g' $$u \
		    > $(DESTDIR)$(UNITDIR)/$${u#etc/}; \
	done

uninstall:
	for u in etc/*.service etc/*.timer; do rm -f $(DESTDIR)$(UNITDIR)/$${u#etc/}; done
	rm -f $(DESTDIR)$(SBINDIR)/sendmail $(DESTDIR)$(BINDIR)/popfetch \
		$(DESTDIR)$(BINDIR)/mailq $(DESTDIR)$(BINDIR)/newaliases $(DESTDIR)$(LIBDIR)/sendmail \
		$(DESTDIR)$(MANDIR)/man8/sendmail.8 $(DESTDIR)$(MANDIR)/man1/popfetch.1 \
		$(DESTDIR)$(MANDIR)/man5/postie.conf.5

clean:
	rm -f common/*.o common/libpostie.a sendmail/*.o sendmail/sendmail \
		popfetch/*.o popfetch/popfetch $(UNIT_BIN)

.PHONY: all deps deps-bench test check-faults demo bench install install-system install-units uninstall clean

# check-asan, check-valgrind, fuzz
-include tests/check.mk
