#!/bin/bash
# The Debian package on this machine (make check-package; CI runs it last).
#
# Builds it (make deb: dpkg-buildpackage -us -uc -b in a copy of the
# sources), runs lintian on the .deb and the .changes (no error, no
# warning), installs it with apt-get, and checks what it set up: the files,
# modes, overrides and units; that apt plans no other MTA for bsd-mailx,
# cron and logwatch (and would have without Postie); that an unprivileged
# user's message goes through /usr/sbin/sendmail and the installed
# configuration to a loopback SMTP server (STARTTLS, AUTH), bytes compared;
# that `dpkg -r` keeps /etc/postie.conf and the queue, that a reinstall
# sends what was queued, that an upgrade keeps the queue; and that
# `dpkg -P` leaves no file, group or statoverride behind.
#
# Installing the package makes /usr/sbin/sendmail and /etc/postie.conf
# Postie's for as long as it runs: it purges the package at exit, whatever
# happened.  It does not run where postie is installed already, where
# anything of an earlier install is left, or where another MTA is installed
# (the package would remove it): it skips, or with POSTIE_PACKAGE_CI=1
# (CI's throwaway machine, set by .ci/run) it fails on the first two and
# replaces the MTA.
. "$(dirname "$0")/../lib/lib.sh"

require_root "it installs a package"
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600 -q)
CI=${POSTIE_PACKAGE_CI:-0}
# not_here REASON: this machine is not clean; on CI that is a failure.
not_here() { if [ "$CI" = 1 ]; then bail_out "$*"; else skip_all "$*"; fi; }

if dpkg-query -W -f='${Status}\n' postie 2>/dev/null | grep -q -E 'installed|config-files'; then
	not_here "postie is installed here already (dpkg -P postie first)"
fi
for f in /etc/postie.conf /var/spool/postie /var/lib/postie /var/log/postie.log; do
	[ -e "$f" ] && not_here "$f exists, left by another install or a test: remove it first"
done
if dpkg-statoverride --list | grep -q postie; then
	not_here "dpkg-statoverride lists postie: $(dpkg-statoverride --list | grep postie | tr '\n' ' ')"
fi
mta=$(dpkg-query -W -f='${Package} ${Status} ${Provides}\n' 2>/dev/null |
	awk '/ install ok installed/ && /mail-transport-agent/ { print $1 }' | tr '\n' ' ')
if [ -n "$mta" ] && [ "$CI" != 1 ]; then
	skip_all "an MTA is installed ($mta): the package would remove it (POSTIE_PACKAGE_CI=1 to allow)"
fi

U=postieci$$
cleanup() {
	if dpkg-query -W -f='${Status}\n' postie 2>/dev/null | grep -q -E 'installed|config-files|half'; then
		dpkg -P postie >"$T/cleanup.log" 2>&1 || diag "cleanup: dpkg -P postie failed: $(cat "$T/cleanup.log")"
	fi
	userdel "$U" 2>/dev/null
}
trap 'cleanup; _postie_exit' EXIT

# ------------------------------------------------------------ build, lintian
VERSION=$(cd "$TOP" && dpkg-parsechangelog -S Version)
ARCH=$(dpkg --print-architecture)
DD=$TOP/build-deb
DEB=$DD/postie_${VERSION}_$ARCH.deb
CHANGES=$DD/postie_${VERSION}_$ARCH.changes
# In a network namespace of its own (make check-package installed the build
# dependencies first): the build must not need the network.
nonet=
if unshare --net true 2>/dev/null; then
	nonet="unshare --net"
fi
POSTIE_CMD_TIMEOUT=900 _run $nonet make -C "$TOP" deb
ok $? "make deb (dpkg-buildpackage -us -uc -b)${nonet:+, without network}" ||
	bail_out "the package does not build: $(tail -n 20 "$T/last.out" "$T/last.err" | tr '\n' ' ')"
[ -n "$nonet" ] || skip "the build needs no network" "unshare --net is not permitted here"
[ -f "$DEB" ] && [ -f "$CHANGES" ] && pass "the .deb and the .changes of version $VERSION" ||
	bail_out "no $DEB or $CHANGES"
unlike "$(cat "$T/last.out" "$T/last.err")" '[Ww]arning:' "the build prints no warning"
like "$(cat "$T/last.out")" 'All tests successful' "the build ran the unit tests"
like "$(cat "$T/last.out")" '-D_FORTIFY_SOURCE=2 .*-c -o sendmail/main\.o' "the build uses dpkg-buildflags (CPPFLAGS)"
like "$(cat "$T/last.out")" '-Wl,-z,relro -Wl,-z,now -o sendmail/sendmail' "...and LDFLAGS (hardening=+all)"
# lintian as the user nobody would not read the build directory; root is fine.
lintian --fail-on error,warning --display-info "$DEB" "$CHANGES" >"$T/lintian" 2>"$T/lintian.err"
is "$?" 0 "lintian --fail-on error,warning: the .deb and the .changes"
is "$(grep -E '^[EW]: ' "$T/lintian")" "" "lintian: no E: and no W: tag"
note "lintian: $(cat "$T/lintian")"

# The version: one place (debian/changelog), the package's and sendmail -V's.
is "$(dpkg-deb -f "$DEB" Version)" "$VERSION" "the package's version is debian/changelog's"
for f in Provides Conflicts Replaces; do
	is "$(dpkg-deb -f "$DEB" $f)" "mail-transport-agent" "$f: mail-transport-agent"
done

# ------------------------------------------------------------ before
# Without Postie, apt plans an MTA for these (the check below can fail).
"${APT[@]}" install -s bsd-mailx cron logwatch >"$T/sim0" 2>&1
mtas=$(apt-cache showpkg mail-transport-agent | awk '/^Reverse Provides:/ { f = 1; next } f && NF { print $1 }' | sort -u)
planned() { awk '/^Inst / { print $2 }' "$1" | grep -x -F -f <(printf '%s\n' $mtas) | tr '\n' ' '; }
isnt "$(planned "$T/sim0")" "" "without Postie, apt-get install -s bsd-mailx cron logwatch plans an MTA"

# What the package needs from Debian, installed first, and a user to send as:
# the snapshot of the file system is taken with them in place.
"${APT[@]}" satisfy -y "$(dpkg-deb -f "$DEB" Depends), $(dpkg-deb -f "$DEB" Recommends)" >"$T/satisfy" 2>&1
ok $? "apt-get satisfy: the package's dependencies" || diag "$(tail -n 5 "$T/satisfy")"
useradd --no-create-home --home-dir /nonexistent --shell /bin/sh "$U" || bail_out "useradd failed"
snap() {
	find /etc /usr /lib /var/spool /var/lib /var/log -xdev \
		\( -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/log/apt -o -path /var/cache \
		-o -path /var/log/journal -o -path '*/__pycache__' \) -prune -o -print 2>/dev/null |
		grep -v -x -E '/etc/(passwd|group|shadow|gshadow)-|/etc/ld\.so\.cache|/var/log/(dpkg|alternatives)\.log' | sort
}
snap >"$T/before"
is "$(getent group postie)" "" "no group postie before"

# ------------------------------------------------------------ install
"${APT[@]}" install -y "$DEB" >"$T/install" 2>&1
ok $? "apt-get install ./postie_${VERSION}_$ARCH.deb" || diag "$(tail -n 20 "$T/install")"
is "$(dpkg-query -W -f='${Status}' postie)" "install ok installed" "postie is installed"
is "$(/usr/sbin/sendmail -V)" "sendmail (Postie) $VERSION" "sendmail -V reports the package's version"
like "$(getent group postie)" '^postie:x:[0-9]+:$' "the group postie exists"
is "$(stat -c '%U:%G %a' /usr/sbin/sendmail)" "root:postie 2755" "/usr/sbin/sendmail root:postie 2755"
is "$(dpkg-statoverride --list | grep postie | sort -k 4)" \
	"$(printf 'root postie 640 /etc/postie.conf\nroot postie 2755 /usr/sbin/sendmail')" \
	"through dpkg-statoverride, and /etc/postie.conf too"
is "$(stat -c '%U:%G %a' /etc/postie.conf)" "root:postie 640" "/etc/postie.conf root:postie 0640"
grep -q -x '/etc/postie.conf' /var/lib/dpkg/info/postie.conffiles
ok $? "/etc/postie.conf is a conffile"
for d in /var/spool/postie /var/spool/postie/tmp /var/spool/postie/failed; do
	is "$(stat -c '%U:%G %a' "$d" 2>&1)" "root:postie 2770" "$d root:postie 2770"
done
is "$(stat -c '%U:%G %a' /var/lib/postie 2>&1)" "root:root 755" "/var/lib/postie, root's state"
is "$(stat -c '%U:%G %a' /var/log/postie.log 2>&1)" "root:postie 620" "/var/log/postie.log root:postie 0620"
for l in /usr/lib/sendmail /usr/bin/mailq /usr/bin/newaliases; do
	is "$(readlink -f "$l")" /usr/sbin/sendmail "$l is /usr/sbin/sendmail"
done
[ -x /usr/bin/popfetch ] && pass "/usr/bin/popfetch" || fail "/usr/bin/popfetch"
for m in man1/mailq.1 man1/popfetch.1 man5/postie.conf.5 man8/newaliases.8 man8/sendmail.8; do
	[ -f "/usr/share/man/$m.gz" ] && pass "man page $m" || fail "man page $m"
done
like "$(zcat -f /usr/share/doc/postie/README.Debian 2>&1)" 'sendmail --serverinfo' "README.Debian: the first steps"
# Units: the queue timer enabled, nothing of popfetch's.
[ -L /etc/systemd/system/timers.target.wants/postie-queue.timer ] &&
	pass "postie-queue.timer is enabled" || fail "postie-queue.timer is enabled"
is "$(find /etc/systemd -name 'popfetch*' 2>/dev/null)" "" "no popfetch unit is enabled"
for u in popfetch.service popfetch-once.service popfetch.timer postie-queue.service postie-queue.timer; do
	[ -f "/lib/systemd/system/$u" ] && [ -f "/usr/lib/systemd/user/$u" ] &&
		pass "$u: system and user unit" || fail "$u: system and user unit"
done
[ -f /lib/systemd/system/popfetch@.service ] && pass "popfetch@.service" || fail "popfetch@.service"

# Nothing brings another MTA back.
"${APT[@]}" install -s bsd-mailx cron logwatch >"$T/sim1" 2>&1
ok $? "apt-get install -s bsd-mailx cron logwatch" || diag "$(tail -n 5 "$T/sim1")"
like "$(awk '/^Inst / { print $2 }' "$T/sim1" | tr '\n' ' ')" 'logwatch' "...plans to install them"
is "$(planned "$T/sim1")" "" "...and no other MTA"
is "$(grep -c '^Remv postie' "$T/sim1")" 0 "...and does not remove postie"

# ------------------------------------------------------------ send
chmod 755 "$T"
make_certs "$T/certs" || bail_out "make_certs failed"
PW=ci-secret-$$
start_smtpd "$T/smtp" --starttls --auth "ci:$PW" --require-auth || bail_out "smtpd did not start"
PORT=$SMTP_PORT
cat >/etc/postie.conf <<CONF
# written by tests/package/check.t
domain = "example.org"
aliases = ""
log = "/var/log/postie.log"
connection_cache = 0
smtp "default" {
	host = "localhost"
	port = $PORT
	tls = "starttls"
	tls_ca_file = "$T/certs/ca.pem"
	user = "ci"
	password = "$PW"
	from = "ci@example.org"
}
CONF
cp /etc/postie.conf "$T/conf.saved"
as_user() { runuser -u "$U" -- "$@"; }
# A message with every header sendmail would otherwise add, 8-bit text and
# a line that starts with a dot.
printf 'From: Postie CI <ci@example.org>\nTo: bob@example.org\nSubject: package check\nDate: Tue, 01 Dec 2026 10:00:00 +0000\nMessage-ID: <pkg-1@example.org>\n\nGr\303\274\303\237e,\n.a dotted line\nend\n' >"$T/m1"
chmod 644 "$T/m1"
as_user cat /etc/postie.conf >/dev/null 2>&1
is "$?" 1 "the user cannot read /etc/postie.conf"
as_user /usr/sbin/sendmail -i bob@example.org <"$T/m1" >"$T/send.out" 2>&1
is "$?" 0 "an unprivileged user sends through /usr/sbin/sendmail" || diag "$(cat "$T/send.out")"
smtp_wait "$T/smtp" 1 10
# What arrived: the message with CRLF line ends; trace fields sendmail
# prepends (Received:) are allowed and must name the user.
"$PY" - "$T/smtp/0001.msg" "$T/m1" "$U" >"$T/cmp1" <<'PY'
import sys
got = open(sys.argv[1], "rb").read()
want = open(sys.argv[2], "rb").read().replace(b"\n", b"\r\n")
while got.lower().startswith(b"received:"):
    end = got.find(b"\r\n")
    while got[end + 2:end + 3] in (b" ", b"\t"):
        end = got.find(b"\r\n", end + 2)
    field, got = got[:end + 2], got[end + 2:]
    if sys.argv[3].encode() not in field:
        print("a Received field that does not name the user:", field)
print("same" if got == want else "DIFFERENT:\n%r\n%r" % (got, want))
PY
is "$(cat "$T/cmp1")" "same" "the server received the message byte for byte"
is "$(cat "$T/smtp/0001.env" 2>/dev/null | tr '\n' ' ')" "ci@example.org bob@example.org " \
	"envelope: the account's from, the recipient"
like "$(cat "$T/smtp/0001.info" 2>/dev/null | tr '\n' ' ')" 'tls: .*auth: ' "over STARTTLS, with AUTH"
like "$(tail -n 1 /var/log/postie.log 2>/dev/null)" 'bob@example\.org' \
	"the user's sendmail appended to /var/log/postie.log"
is "$(as_user /usr/bin/mailq 2>&1)" "Mail queue is empty" "mailq (as the user): the queue is empty"
# README.Debian's second step: the smarthost checked, nothing sent.
check "sendmail --serverinfo with the installed configuration" /usr/sbin/sendmail --serverinfo
like "$(cat "$T/last.out")" $'(^|\n)TLS: +TLSv1\\.[23], [^\n]*\\(STARTTLS\\)' "...shows the TLS of the connection"
grep -qF "tls_fingerprint = \"$(cat "$T/certs/server.pin")\"" "$T/last.out"
ok $? "...the server's tls_fingerprint"
like "$(cat "$T/last.out")" $'\nLogin: +ok, as ci ' "...and that the login works"
is "$(smtp_count "$T/smtp")" 1 "...and sends nothing"

# The installed popfetch, as root with /etc/postie.conf: a message from a
# Dovecot on loopback into an mbox, bytes compared; its state goes to
# /var/lib/postie/popfetch (which purge must remove).
if start_dovecot ci:"$PW"; then
	printf 'From: Alice <alice@example.org>
To: ci@example.org
Subject: fetched by the package

GrÃ¼Ãe
end
' >"$T/p1"
	pop3_put ci "$T/p1"
	cat >>/etc/postie.conf <<CONF
pop3 "ci" {
	host = "localhost"
	port = $POP3_PORT
	tls = "starttls"
	tls_ca_file = "$T/certs/ca.pem"
	user = "ci"
	password = "$PW"
	mbox = "$T/ci.mbox"
}
CONF
	cp /etc/postie.conf "$T/conf.saved"
	check "the installed popfetch polls the account" /usr/bin/popfetch ci
	"$PY" - "$T/ci.mbox" "$T/p1" >"$T/cmp2" <<'PY'
import sys
box = open(sys.argv[1], "rb").read()
want = open(sys.argv[2], "rb").read()
first, _, rest = box.partition(b"\n")
ok = first.startswith(b"From ") and rest == want + b"\n"
print("same" if ok else "DIFFERENT:\n%r\n%r" % (box, want))
PY
	is "$(cat "$T/cmp2")" "same" "the mbox holds the message byte for byte"
	is "$(pop3_count ci)" 0 "and the server does not any more"
	[ -n "$(ls /var/lib/postie/popfetch 2>/dev/null)" ] && pass "root's popfetch state is in /var/lib/postie/popfetch" ||
		fail "root's popfetch state is in /var/lib/postie/popfetch"
	# README.Debian's first step for a POP3 account.
	check "popfetch --serverinfo ci with the installed configuration" /usr/bin/popfetch --serverinfo ci
	like "$(cat "$T/last.out")" $'\nTLS: +TLSv1\\.[23], [^\n]*\\(STARTTLS\\)' "...shows the TLS of the connection"
	is "$(sed -n 's/^  pin: *tls_fingerprint = "\(.*\)"$/\1/p' "$T/last.out")" "$(cat "$T/certs/server.pin")" \
		"...the server's tls_fingerprint"
	like "$(cat "$T/last.out")" $'\nLogin: +ok' "...and that the login works"
	stop_dovecot
else
	fail "Dovecot started for the popfetch check"
fi

# ------------------------------------------------------------ remove, reinstall
# The smarthost goes down: the next message is queued.
stop_server "$SMTP_PID"
printf 'Subject: queued\n\nwaits for the smarthost\n' >"$T/m2"
chmod 644 "$T/m2"
as_user /usr/sbin/sendmail -i carol@example.org <"$T/m2" >"$T/send2.out" 2>&1
is "$?" 0 "with the smarthost down, the message is accepted (queued)" || diag "$(cat "$T/send2.out")"
queue() { (cd /var/spool/postie && find . -type f ! -name '.*' | sort | xargs -r md5sum); }
q1=$(queue)
like "$q1" '\.env' "it waits in /var/spool/postie"

dpkg -r postie >"$T/remove" 2>&1
ok $? "dpkg -r postie" || diag "$(tail -n 10 "$T/remove")"
is "$(dpkg-query -W -f='${Status}' postie)" "deinstall ok config-files" "postie: config-files"
[ ! -e /usr/sbin/sendmail ] && pass "/usr/sbin/sendmail is gone" || fail "/usr/sbin/sendmail is gone"
cmp -s /etc/postie.conf "$T/conf.saved"
ok $? "/etc/postie.conf is kept, as edited"
is "$(stat -c '%U:%G %a' /etc/postie.conf 2>&1)" "root:postie 640" "...still root:postie 0640"
is "$(queue)" "$q1" "the queue is kept, unchanged"
is "$(dpkg-statoverride --list /usr/sbin/sendmail)" "" \
	"the setgid override of /usr/sbin/sendmail went with it (another MTA's sendmail will not be setgid postie)"
grep -q -i -E 'warning|error' "$T/remove" && fail "dpkg -r prints no warning" "$(cat "$T/remove")" ||
	pass "dpkg -r prints no warning"

"${APT[@]}" install -y "$DEB" >"$T/reinstall" 2>&1
ok $? "apt-get install: the package again" || diag "$(tail -n 20 "$T/reinstall")"
is "$(stat -c '%U:%G %a' /usr/sbin/sendmail)" "root:postie 2755" "sendmail is setgid postie again"
cmp -s /etc/postie.conf "$T/conf.saved"
ok $? "/etc/postie.conf is still the edited one"
start_smtpd "$T/smtp2" --starttls --auth "ci:$PW" --require-auth --port "$PORT" || bail_out "smtpd did not start again"
check "sendmail -q (root) sends what was queued" /usr/sbin/sendmail -q
smtp_wait "$T/smtp2" 1 10
is "$(tail -n +2 "$T/smtp2/0001.env" 2>/dev/null)" "carol@example.org" "the queued message arrived"
grep -q 'waits for the smarthost' "$T/smtp2/0001.msg" 2>/dev/null
ok $? "...with its body"
is "$(queue | grep -c '\.env')" 0 "the queue is empty"

# An upgrade (the same version again: prerm upgrade, postinst configure) keeps the queue.
stop_server "$SMTP_PID"
as_user /usr/sbin/sendmail -i dave@example.org <"$T/m2" >/dev/null 2>&1
q2=$(queue)
like "$q2" '\.env' "another message waits"
dpkg -i "$DEB" >"$T/upgrade" 2>&1
ok $? "dpkg -i (upgrade in place)" || diag "$(tail -n 10 "$T/upgrade")"
is "$(queue)" "$q2" "the queue is kept across the upgrade"
is "$(dpkg-statoverride --list | grep -c postie)" 2 "the overrides are there once each"

# ------------------------------------------------------------ purge
dpkg -P postie >"$T/purge" 2>&1
ok $? "dpkg -P postie" || diag "$(tail -n 10 "$T/purge")"
is "$(dpkg-query -W -f='${Status}' postie 2>/dev/null)" "" "postie is not known to dpkg any more"
is "$(getent group postie)" "" "the group postie is gone"
is "$(dpkg-statoverride --list | grep postie)" "" "no statoverride is left"
snap >"$T/after"
is "$(comm -3 "$T/before" "$T/after")" "" "no file is left behind (and none of the system's is gone)"
grep -q -i -E 'warning|error' "$T/purge" && fail "dpkg -P prints no warning" "$(cat "$T/purge")" ||
	pass "dpkg -P prints no warning"

done_testing
