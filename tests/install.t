#!/bin/bash
# Installing from source: what `make install` and `make install-units` lay
# out, in a copy of the sources under $T (the tree's own build, which the
# other tests and check-asan use, is not touched).
#
# - `make install SYSCONFDIR=...` after `make` rebuilds what the path is
#   compiled into, and `make` afterwards rebuilds it back;
# - the units of etc/ are installed as system units and (but popfetch@) as
#   user units, with the paths of the install and no placeholder, no
#   /usr/local and no advice to copy etc/ files left in them; the user units
#   do not wait for network-online.target (a user manager has none); the
#   timers spread their start (RandomizedDelaySec); systemd-analyze verify
#   finds nothing to say about any of them;
# - the man pages mailq(1) and newaliases(8) are installed and lint-clean.
. "$(dirname "$0")/lib/lib.sh"

S=$T/src
mkdir -p "$S"
(cd "$TOP" && tar cf - Makefile common sendmail/*.[ch] popfetch/*.[ch] man etc debian/changelog) |
	tar -C "$S" -xf -
ok $? "a copy of the sources"
mk() { make -s -C "$S" CFLAGS=-O0 "$@"; }

# ------------------------------------------------------------ SYSCONFDIR
check "make" mk
like "$("$S/sendmail/sendmail" --help 2>&1)" 'then /etc/postie\.conf\)' "the build looks for /etc/postie.conf"
check "make install SYSCONFDIR=\$T/etc after make" mk install PREFIX=/usr SYSCONFDIR="$T/etc" DESTDIR="$T/root"
R=$T/root/usr
like "$("$R/sbin/sendmail" --help 2>&1)" "then $T/etc/postie\\.conf\\)" "the installed sendmail's --help names \$T/etc/postie.conf"
like "$("$R/bin/popfetch" --help 2>&1)" "$T/etc/postie\\.conf\\)" "the installed popfetch's --help names it"
# The programs read it: a configuration there, none of the user's.
mkdir -p "$T/etc"
printf 'aliases = ""\nlog = "none"\nsmtp "sys" { host = "mail.sysconf.example" tls = "none" }\n' >"$T/etc/postie.conf"
chmod 644 "$T/etc/postie.conf"
export XDG_CONFIG_HOME=$T/nocfg XDG_STATE_HOME=$T/state
unset POSTIE_CONF
check "the installed sendmail -bv reads \$T/etc/postie.conf" "$R/sbin/sendmail" -bv root@example.org
like "$(cat "$T/last.out")" 'account sys, host mail\.sysconf\.example' "...its smtp account"
check_status 78 "the installed popfetch reads it too" "$R/bin/popfetch" nosuch
like "$(cat "$T/last.err")" "^popfetch: $T/etc/postie\\.conf: no pop3 account" "...and names it"
is "$(cat "$T/root$T/etc/postie.conf" 2>/dev/null | head -n 1)" "$(head -n 1 "$TOP/etc/postie.conf")" \
	"the example configuration is installed as DESTDIR/SYSCONFDIR/postie.conf"
check "make (the default SYSCONFDIR again)" mk
like "$("$S/sendmail/sendmail" --help 2>&1)" 'then /etc/postie\.conf\)' "rebuilt for /etc/postie.conf"
check "make install-units PREFIX=/usr DESTDIR=\$T/root" mk install-units PREFIX=/usr DESTDIR="$T/root"

# The version: written once, in debian/changelog; the programs report it.
v=$(sed -n '1s/^postie (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
like "$v" '^[0-9]+\.[0-9]+' "debian/changelog starts with the version"
is "$("$S/sendmail/sendmail" -V)" "sendmail (Postie) $v" "sendmail -V reports debian/changelog's version"
like "$("$S/popfetch/popfetch" -V)" "^popfetch \\(Postie\\) $v, " "popfetch -V too"
is "$(grep -rl -F "\"$v\"" "$TOP/Makefile" "$TOP/common" "$TOP/sendmail" "$TOP/popfetch" 2>/dev/null)" "" \
	"no source file writes the version again"

# make deb installs what debian/control's Build-Depends names (debhelper-compat
# is debhelper's), and build-essential, which dpkg-buildpackage wants too.
bdeps=$(awk '/^Build-Depends:/ { f = 1; sub(/^Build-Depends:/, "") } f && /^[A-Z]/ && !/^Build-Depends:/ { f = 0 } f' \
	"$TOP/debian/control" | tr ',' '\n' | sed 's/(.*//; s/^ *//; s/ *$//; /^$/d; s/^debhelper-compat$/debhelper/' | sort)
debdeps=$(make -s -C "$TOP" -p -n deb 2>/dev/null | sed -n 's/^DEPS_DEB := //p' | head -n 1)
debdeps=${debdeps//\$(DEPS_BUILD)/$(make -s -C "$TOP" -p -n deb 2>/dev/null | sed -n 's/^DEPS_BUILD := //p' | head -n 1)}
like "$bdeps" 'debhelper' "debian/control has Build-Depends"
missing=
for p in $bdeps build-essential; do [[ " $debdeps " == *" $p "* ]] || missing="$missing $p"; done
is "$missing" "" "make deb installs every build dependency (DEPS_DEB: $debdeps)"

# ------------------------------------------------------------ units
sys=$(cd "$TOP/etc" && ls -- *.service *.timer | sort | tr '\n' ' ')
is "$(cd "$R/lib/systemd/system" && ls | sort | tr '\n' ' ')" "$sys" "every unit of etc/ is installed as a system unit"
is "$(cd "$R/lib/systemd/user" && ls | sort | tr '\n' ' ')" "${sys/popfetch@.service /}" \
	"and all but popfetch@.service as user units"
left=$(grep -l -E '@[A-Z]+@|/usr/local|etc/popfetch|etc/postie-queue|cp etc/' "$R"/lib/systemd/*/* | sed "s|$R/||")
is "$left" "" "no installed unit has a placeholder, /usr/local or advice to copy etc/ files"
is "$(grep -l '^[A-Za-z]*=.*network-online' "$R"/lib/systemd/user/* | sed "s|$R/||")" "" \
	"no user unit waits for network-online.target"
is "$(grep -L '^After=network-online.target' "$R"/lib/systemd/system/*.service | sed "s|$R/||")" "" \
	"every system service waits for network-online.target"
is "$(grep -h '^ExecStart=' "$R"/lib/systemd/*/*.service | sort -u | tr '\n' ' ')" \
	"ExecStart=/usr/bin/popfetch -d 0 ExecStart=/usr/bin/popfetch -q ExecStart=/usr/sbin/sendmail -q " \
	"the units run the installed programs"
for t in "$R"/lib/systemd/*/*.timer; do
	grep -q '^RandomizedDelaySec=[1-9]' "$t" && pass "${t#"$R"/} has a RandomizedDelaySec" ||
		fail "${t#"$R"/} has a RandomizedDelaySec"
done
# systemd-analyze verify needs the programs where the units name them: an
# install with PREFIX=$T/p (no DESTDIR).
if command -v systemd-analyze >/dev/null; then
	check "make install install-units PREFIX=\$T/p" mk install install-units PREFIX="$T/p" SYSCONFDIR="$T/p/etc"
	[ -e "$T/p/etc/postie.conf" ] && pass "...with its configuration in \$T/p/etc, not in /etc" ||
		fail "...with its configuration in \$T/p/etc, not in /etc"
	_run systemd-analyze verify --man=no "$T"/p/lib/systemd/system/*
	is "$LAST_STATUS $(cat "$T/last.out" "$T/last.err")" "0 " "systemd-analyze verify: the system units, nothing to say"
	mkdir -m 700 "$T/xdg"
	_run env XDG_RUNTIME_DIR="$T/xdg" systemd-analyze --user verify --man=no "$T"/p/lib/systemd/user/*
	is "$LAST_STATUS $(cat "$T/last.out" "$T/last.err")" "0 " "systemd-analyze --user verify: the user units, nothing to say"
else
	skip "systemd-analyze verify" "systemd-analyze not installed"
fi

# ------------------------------------------------------------ man pages
for m in man1/mailq.1 man8/newaliases.8; do
	[ -f "$R/share/man/$m" ] && pass "installed: /usr/share/man/$m" || fail "installed: /usr/share/man/$m"
	if command -v mandoc >/dev/null; then
		check "mandoc -Tlint -W warning $m" mandoc -Tlint -W warning "$R/share/man/$m"
	fi
done
# Every page another page refers to is installed.
for x in $(cat "$R"/share/man/man*/* | sed -n 's/^\.Xr \(mailq\|newaliases\|sendmail\|popfetch\|postie\.conf\) \([158]\).*/\1.\2/p' | sort -u); do
	[ -f "$R/share/man/man${x##*.}/$x" ] && pass "the page $x that the pages refer to is installed" ||
		fail "the page $x that the pages refer to is installed"
done

done_testing
