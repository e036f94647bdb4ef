#!/bin/bash
# README.md says what Postie does: run what it shows.
#
# Every command block that can run on this machine is run: `make`, `make
# install`, `make install-units` and `make uninstall` into a temp DESTDIR
# (and the files they lay out are checked), the configuration example is
# parsed by both programs, the synopses are compared with --help, the cron
# lines are checked for syntax and against etc/postie.cron, the user-unit
# commands are run against the temp install, the troubleshooting messages
# are produced by popfetch (scripted POP3 server; Dovecot for the certificate
# error, as root), and the numbers of the Reliability section are counted
# again from the test files.  Not run: `make demo` and `make test` (this
# script is part of `make test`; only `make -n` checks the targets exist),
# systemctl, loginctl, sudo, and anything that needs a remote server.
. "$(dirname "$0")/lib/lib.sh"

R=$TOP/README.md
[ -f "$R" ] || bail_out "no README.md"

# block HEADING [N]: the Nth (default 1) fenced block of the "## HEADING"
# section, its indentation removed.
block() {
	awk -v h="## $1" -v want="${2:-1}" '
		$0 == h { f = 1; next }
		f && /^## / { exit }
		f && /^ *```/ {
			if (inb) { inb = 0; if (n == want) exit; next }
			n++; inb = 1; match($0, /^ */); ind = RLENGTH; next
		}
		f && inb && n == want { print substr($0, ind + 1) }' "$R"
}
# section HEADING: the text of the "## HEADING" section.
section() { awk -v h="## $1" '$0 == h { f = 1; next } f && /^## / { exit } f' "$R"; }
# num REGEX: the first number in the first match of REGEX in README.md, lines joined.
num() { tr '\n' ' ' <"$R" | tr -s ' ' | grep -o -E "$1" | head -n 1 | grep -o -E '[0-9]+' | head -n 1; }

# ------------------------------------------------------------ structure
for h in "Quick start" Install Configuration sendmail popfetch \
	"Compared with msmtp, nullmailer, dma, ssmtp, mpop and fetchmail" Reliability Benchmarks \
	Troubleshooting Development; do
	grep -qx "## $h" "$R" && pass "README has the section \"$h\"" || fail "README has the section \"$h\""
done

# Paths of the source tree named in README.md exist.
# (tests/fuzz/bin/ is build output: it exists once the fuzzers were built.)
missing=
for p in $(grep -o -E '`(etc|tests|man|common|sendmail|popfetch|debian|\.ci)/[A-Za-z0-9_.@/-]*`' "$R" | tr -d '`' | sort -u); do
	[[ $p == tests/fuzz/bin* ]] && continue
	[ -e "$TOP/$p" ] || missing="$missing $p"
done
is "$missing" "" "every source path README.md names exists"

# ------------------------------------------------------------ Quick start
qs=$(block "Quick start")
like "$qs" $'^make demo[^\n]*\nmake test' "Quick start: make demo, make test"
# Not run here (make test runs this script): make -n only checks the targets exist.
check "make -n demo" make -C "$TOP" -n demo
# The first steps it names after the package: --serverinfo, which both programs have.
qsec=$(section "Quick start" | tr '\n' ' ')
like "$qsec" 'sudo sendmail --serverinfo' "Quick start: sendmail --serverinfo"
like "$qsec" 'popfetch --serverinfo ACCOUNT' "Quick start: popfetch --serverinfo ACCOUNT"
like "$("$SENDMAIL" --help 2>&1)" '--serverinfo \[-a account\]' "sendmail --help has --serverinfo [-a account]"
like "$("$POPFETCH" --help 2>&1)" '--serverinfo' "popfetch --help has --serverinfo"
grep -q 'sendmail --serverinfo' "$TOP/debian/README.Debian" && grep -q 'popfetch --serverinfo ACCOUNT' "$TOP/debian/README.Debian"
ok $? "debian/README.Debian: both --serverinfo steps"
check "make -n test" make -C "$TOP" -n test

# ------------------------------------------------------------ Install
# The package: make deb, and apt-get install of what it builds.
pkg=$(block Install 1 | sed 's/ *#.*//; s/^sudo //; /^$/d')
is "$pkg" 'make deb'$'\n''apt-get install ./build-deb/postie_*.deb' "Install: make deb, apt-get install ./build-deb/postie_*.deb"
check "make -n deb" make -C "$TOP" -n deb
like "$(cat "$T/last.out")" 'dpkg-buildpackage -us -uc -b' "make deb runs dpkg-buildpackage -us -uc -b"
like "$(cat "$T/last.out")" 'copy-sources build-deb/postie-' "...in build-deb/, where README.md looks for the .deb"
check "make -n check-package" make -C "$TOP" -n check-package
is "$(sed -n 's/^Provides: //p; s/^Conflicts: //p; s/^Replaces: //p' "$TOP/debian/control" | sort -u)" \
	"mail-transport-agent" "debian/control provides, conflicts with and replaces mail-transport-agent, as README.md says"
like "$(section Install | tr '\n' ' ')" 'provides, conflicts with and replaces `mail-transport-agent`' "README says so"
inst=$(block Install 2 | sed 's/ *#.*//; s/^sudo //; /^$/d')
is "$inst" $'make\nmake install PREFIX=/usr\nmake install-units PREFIX=/usr\nmake uninstall PREFIX=/usr' \
	"Install: the commands are make, install, install-units, uninstall"
D=$T/root
check "make" make -C "$TOP"
check "make install PREFIX=/usr DESTDIR=..." make -C "$TOP" install PREFIX=/usr DESTDIR="$D"
check "make install-units PREFIX=/usr DESTDIR=..." make -C "$TOP" install-units PREFIX=/usr DESTDIR="$D"

# The files the comments of the block name, plus the man pages.
files=$(block Install 2 | grep -o -E '/(usr|etc)/[a-z/.]*[a-z]' | sort -u)
like "$files" '/usr/sbin/sendmail' "Install: the comments name the files"
for f in $files usr/share/man/man8/sendmail.8 usr/share/man/man1/popfetch.1 usr/share/man/man5/postie.conf.5; do
	f=${f#/}
	[ "$f" = usr/lib/systemd/system ] && continue
	[ -e "$D/$f" ] || [ -L "$D/$f" ] && pass "installed: /$f" || fail "installed: /$f"
done
for l in usr/lib/sendmail usr/bin/mailq usr/bin/newaliases; do
	is "$(readlink "$D/$l")" /usr/sbin/sendmail "/$l is a link to /usr/sbin/sendmail"
done
is "$(stat -c %a "$D/etc/postie.conf" 2>/dev/null)" 600 "/etc/postie.conf is installed with mode 0600"
check "the installed sendmail runs" "$D/usr/sbin/sendmail" --version
check "the installed popfetch runs" "$D/usr/bin/popfetch" --version
echo '# mine' >>"$D/etc/postie.conf"
check "make install again" make -C "$TOP" install PREFIX=/usr DESTDIR="$D"
like "$(tail -n 1 "$D/etc/postie.conf")" '^# mine$' "/etc/postie.conf is only installed if absent"

# Units: every one of etc/ is installed, with the paths of this install.
units=
for u in "$TOP"/etc/*.service "$TOP"/etc/*.timer; do
	u=${u##*/}
	units="$units $u"
	[ -f "$D/usr/lib/systemd/system/$u" ] && pass "unit installed: $u" || fail "unit installed: $u"
done
is "$(grep -h '^ExecStart=' "$D"/usr/lib/systemd/system/*.service | sort -u | tr '\n' ' ')" \
	"ExecStart=/usr/bin/popfetch -d 0 ExecStart=/usr/bin/popfetch -q ExecStart=/usr/sbin/sendmail -q " \
	"the units run /usr/bin/popfetch and /usr/sbin/sendmail"
# Every unit README.md names exists.
for u in $(grep -o -E '[a-z@-]+\.(service|timer)' "$R" | sort -u); do
	u=${u/@alice/@}
	[[ " $units " == *" $u "* ]] && pass "README's unit $u exists" || fail "README's unit $u exists"
done

# Polling mailboxes: the user units it enables are installed as user units
# (nothing to copy), and the timers start at a random moment, as it says.
poll=$(awk '/^\*\*Polling mailboxes\.\*\*/ { f = 1 } f && /^```/ { n++; next } f && n == 1' "$R")
like "$poll" 'systemctl --user enable --now popfetch.service' "Polling mailboxes: the user-unit commands"
unlike "$poll" '(^|'$'\n'')(mkdir|cp) ' "Polling mailboxes: nothing to copy"
for u in $(printf '%s\n' "$poll" | grep -o -E '[a-z-]+\.(service|timer)' | sort -u); do
	[ -f "$D/usr/lib/systemd/user/$u" ] && pass "user unit installed: $u" || fail "user unit installed: $u"
done
like "$(section Install | tr '\n' ' ')" 'installed in `/usr/lib/systemd/user`' "README says where the user units are"
grep -q '^RandomizedDelaySec=' "$D/usr/lib/systemd/user/popfetch.timer"
ok $? "the user timer has a RandomizedDelaySec, as README says"

# cron lines: five time fields (and a user in /etc/cron.d lines), the program where
# the install put it, options its --help knows.
cronfield='(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?)*'
set -f
while IFS= read -r line; do
	[ -n "$line" ] || continue
	set -- $line
	fields=("$1" "$2" "$3" "$4" "$5")
	shift 5
	good=1
	for fl in "${fields[@]}"; do [[ $fl =~ ^$cronfield$ ]] || good=0; done
	[ "$1" = root ] && shift		# /etc/cron.d format
	prog=$1
	shift
	[ -x "$D$prog" ] || good=0
	for o in "$@"; do grep -q -- "^ *$o\b\|[[ ]$o[] ]" <("$D$prog" --help 2>&1) || good=0; done
	[ $good = 1 ] && pass "cron line: $line" || fail "cron line: $line"
done < <(grep -o -E '\*/[0-9]+ \* \* \* \* [^`]*' "$R" | sort -u)
set +f
queue_cron=$(block Install 3 | grep -E '^\*/')
like "$queue_cron" '^\*/5 \* \* \* \* root /usr/sbin/sendmail -q$' "Running the queue: the cron line"
grep -qxF "$queue_cron" "$TOP/etc/postie.cron" &&
	pass "the queue's cron line is the one of etc/postie.cron" ||
	fail "the queue's cron line is the one of etc/postie.cron"

check "make uninstall PREFIX=/usr DESTDIR=..." make -C "$TOP" uninstall PREFIX=/usr DESTDIR="$D"
left=$(cd "$D" && find . ! -type d | sort | tr '\n' ' ')
is "$left" "./etc/postie.conf " "make uninstall leaves only /etc/postie.conf, as README.md says"

# ------------------------------------------------------------ Configuration
C=$T/readme.conf
block Configuration >"$C"
like "$(cat "$C")" 'smtp "default"' "Configuration: the example is extracted"
# This machine's /etc/aliases must not change what root resolves to; the queue under $T.
printf 'aliases = ""\nlog = "none"\nqueue_dir = "%s/queue"\n' "$T" >>"$C"
chmod 644 "$C"
check "the example (password_command only) may be world-readable" "$SENDMAIL" -C "$C" -bp
chmod 600 "$C"
check "sendmail -C example -bv root" "$SENDMAIL" -C "$C" -bv root
is "$(cat "$T/last.out")" "root@example.com... deliverable: account default, host smtp.163.com port 465" \
	"root -> root@example.com, account default, implicit TLS on 465"
check "sendmail -a work -bv" "$SENDMAIL" -C "$C" -a work -bv root
like "$(cat "$T/last.out")" 'account work, host smtp.gmail.com port 587$' "-a work: STARTTLS on 587"
check "sendmail -f me@gmail.com -bv" "$SENDMAIL" -C "$C" -f me@gmail.com -bv root
like "$(cat "$T/last.out")" 'account work,' "-f matching its from chooses work"
check "sendmail -a relay -bv" "$SENDMAIL" -C "$C" -a relay -bv root
like "$(cat "$T/last.out")" 'account relay, host mail.lan port 25$' "relay: port 25"
check "sendmail -C example -bp" "$SENDMAIL" -C "$C" -bp
is "$(cat "$T/last.out")" "Mail queue is empty" "mailq: Mail queue is empty"
check "popfetch -C example --help" "$POPFETCH" -C "$C" --help
check_status 78 "popfetch -C example nosuch: the file loads, the account does not exist" "$POPFETCH" -C "$C" nosuch
is "$(cat "$T/last.err")" "popfetch: $C: no pop3 account \"nosuch\"" "popfetch reads the pop3 section"
cp "$C" "$T/pw.conf"
sed -i 's|password_command = "pass show mail/163"|password = "secret"|' "$T/pw.conf"
chmod 644 "$T/pw.conf"
check_status 78 "with a password, mode 0644 is refused" "$SENDMAIL" -C "$T/pw.conf" -bp
like "$(cat "$T/last.err")" 'readable by others' "it says why"
chmod 600 "$T/pw.conf"
check "with a password, mode 0600 is accepted" "$SENDMAIL" -C "$T/pw.conf" -bp

# ------------------------------------------------------------ synopses
strip() { sed -E 's/^usage: //; s/^ +//'; }
"$SENDMAIL" --help >"$T/sm.help" 2>&1
is "$(block sendmail | strip)" "$(sed '/^$/q' "$T/sm.help" | sed '/^$/d' | strip)" \
	"the sendmail synopsis is the usage of sendmail --help"
"$POPFETCH" --help >"$T/pf.help" 2>&1
is "$(block popfetch | strip)" "$(sed '/^$/q' "$T/pf.help" | sed '/^$/d' | strip)" \
	"the popfetch synopsis is the usage of popfetch --help"

# ------------------------------------------------------------ popfetch facts and the code
grep -q 'BATCH_MSGS[[:space:]]*256' "$TOP/popfetch/fetch.c" &&
	grep -q 'BATCH_BYTES[[:space:]]*(32LL \* 1024 \* 1024)' "$TOP/popfetch/fetch.c" &&
	grep -q 'BATCH_SECS[[:space:]]*1$' "$TOP/popfetch/fetch.c"
ok $? "a batch ends after 256 messages, 32 MB or 1 second (popfetch/fetch.c)"
grep -q 'LOCK_WAIT[[:space:]]*60' "$TOP/popfetch/mbox.c" && grep -q 'DOTLOCK_STALE[[:space:]]*300' "$TOP/popfetch/dotlock.c"
ok $? "mbox lock: 60 s wait, stale dotlock after 5 minutes (popfetch/mbox.c, dotlock.c)"
grep -q 'util_state_dir("popfetch")' "$TOP/popfetch/uidl.c" && grep -q '"%s/postie/%s"' "$TOP/common/util.c" &&
	grep -q '"/var/lib/postie/%s"' "$TOP/common/util.c" &&
	grep -q '"%s/.local/state/postie/%s"' "$TOP/common/util.c"
ok $? "the state directories (popfetch/uidl.c, util_state_dir in common/util.c)"

# ------------------------------------------------------------ Troubleshooting, as popfetch says it
export XDG_STATE_HOME=$T/state
printf 'From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Berlin\n\nhi\n' >"$T/m1"
printf 'From: Cron Daemon <root@host.example.com>\nSubject: backup done\n\nok\n' >"$T/m2"
pconf() { # FILE PORT [lines]
	local f=$1 port=$2
	shift 2
	{
		echo 'log = "none"'
		echo 'timeout = 5'
		echo 'pop3 "inbox" {'
		echo '  host = "127.0.0.1"'
		echo "  port = $port"
		echo '  user = "alice"'
		echo '  password = "secret"'
		echo "  mbox = \"$T/mbox\""
		for l in "$@"; do echo "  $l"; done
		echo '}'
	} >"$f"
	chmod 600 "$f"
}
trouble=$(section Troubleshooting)
tjoined=$(tr '\n' ' ' <<<"$trouble" | tr -s ' ')
if start_faultpop3 normal --message "$T/m1" --message "$T/m2"; then
	pconf "$T/t.conf" "$FAULT_PORT" 'tls = "none"'
	check "popfetch --list inbox" "$POPFETCH" -C "$T/t.conf" --list inbox
	# The output and README's sample have the same shape.
	head_re='^inbox: 2 messages, [0-9.]+ (bytes|KB) \([a-z0-9.]+\)$'
	line_re='^ {4}[12] +[0-9]+  [^ ]+ +[^ ].* <[^>]+>  [^ ]'
	sample=$(printf '%s\n' "$trouble" | awk '/^ *```/ { n++; next } n == 1' | sed 's/^  //')
	like "$(sed -n 1p "$T/last.out")" "$head_re" "--list: the account line"
	like "$(sed -n 1p <<<"$sample")" "$head_re" "README's --list sample: the account line"
	like "$(sed -n 2p "$T/last.out")" "${line_re}" "--list: a message line"
	like "$(sed -n 2p <<<"$sample")" "${line_re}" "README's --list sample: a message line"
	like "$(sed -n 2p "$T/last.out")" 'Jörg Müller <joerg@example.com>  Grüße aus Berlin$' "--list decodes From and Subject as the sample shows"
	like "$(sed -n 3p <<<"$sample")" "$(sed -n 3p "$T/last.out" | sed -E 's/^ +[0-9]+ +[0-9]+  [^ ]+ +//; s/[][().*+?^$|\\]/\\&/g')\$" \
		"README's sample ends like the real line for the same message"
	# The account lock, held by another process.
	mkdir -p "$T/state/postie/popfetch"
	"$PY" -c 'import fcntl, sys, time
f = open(sys.argv[1], "a+"); fcntl.lockf(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(30)' \
		"$T/state/postie/popfetch/inbox_alice@127.0.0.1.lock" >"$T/locker" &
	locker=$!
	_register_pid "$locker"
	wait_for "[ -s '$T/locker' ]" 10
	check_status 75 "an account locked by another process: exit 75" "$POPFETCH" -C "$T/t.conf"
	is "$(cat "$T/last.err")" "popfetch: inbox: account is being polled by another popfetch (process $locker)" \
		"the lock message, as README.md shows it"
	like "$tjoined" 'popfetch: inbox: account is being polled by another popfetch \(process [0-9]+\)' "README quotes it"
	stop_server "$locker"
	# STARTTLS not offered (the scripted server has none).
	pconf "$T/s.conf" "$FAULT_PORT"
	check_status 75 "STARTTLS not offered: exit 75" "$POPFETCH" -C "$T/s.conf"
	is "$(cat "$T/last.err")" 'popfetch: inbox: 127.0.0.1: the server does not offer STARTTLS (tls = "starttls")' \
		"the STARTTLS message"
	like "$tjoined" 'popfetch: inbox: pop.example.com: the server does not offer STARTTLS \(tls = "starttls"\)' "README quotes it"
	stop_server "$FAULT_PID"
else
	fail "faultpop3.py normal started"
fi
if start_faultpop3 err-pass --message "$T/m1"; then
	pconf "$T/e.conf" "$FAULT_PORT" 'tls = "none"'
	check_status 77 "login refused: exit 77" "$POPFETCH" -C "$T/e.conf"
	like "$(cat "$T/last.err")" '^popfetch: inbox: 127\.0\.0\.1: authentication failed: -ERR' "the login message"
	like "$tjoined" 'popfetch: inbox: pop.example.com: authentication failed: -ERR' "README quotes it"
	stop_server "$FAULT_PID"
else
	fail "faultpop3.py err-pass started"
fi
grep -q 'cannot lock %s: it stays locked by another program' "$TOP/popfetch/mbox.c"
ok $? "the mbox lock message is popfetch's (popfetch/mbox.c)"
like "$tjoined" 'popfetch: inbox: cannot lock /home/me/Mail/inbox: it stays locked by another program' "README quotes it"
if [ "$(id -u)" = 0 ] && start_dovecot alice:secret; then
	pop3_put alice "$T/m2"
	pconf "$T/c.conf" "$POP3_PORT" "tls_ca_file = \"$T/certs/other-ca.pem\""
	sed -i 's/"127.0.0.1"/"localhost"/' "$T/c.conf"
	check_status 75 "a certificate that does not verify: exit 75" "$POPFETCH" -C "$T/c.conf"
	like "$(cat "$T/last.err")" "^popfetch: inbox: localhost: the server's certificate does not verify: SSL certificate problem: .* \(see tls_ca_file, tls_fingerprint\)$" \
		"the certificate message"
	like "$tjoined" "popfetch: inbox: pop.example.com: the server's certificate does not verify: SSL certificate problem: \.\.\. \(see tls_ca_file, tls_fingerprint\)" \
		"README quotes it"
	is "$(pop3_count alice)" 1 "nothing deleted"
else
	skip "the certificate message" "needs root for Dovecot"
fi

# ------------------------------------------------------------ Reliability: the numbers
rel=$(section Reliability)
rows=$(awk '/^table="/ { f = 1; next } f && /^"/ { exit } f && NF' "$TOP/tests/faults-sendmail.t" | wc -l)
smtp_modes=$("$PY" "$TOP/tests/lib/faultsmtp.py" --help 2>&1 | tr -d '\n ' | grep -o -E '\{normal,[a-z0-9,-]+\}' | head -n 1 | tr ',' '\n' | grep -vc -E '^\{?normal$')
is "$(num 'a table of [0-9]+ rows')" "$rows" "Reliability: the rows of the SMTP fault table"
smtp_rows=$(awk '/^table="/ { f = 1; next } f && /^"/ { exit } f && NF { print $1 }' "$TOP/tests/faults-sendmail.t")
all_modes=$("$PY" "$TOP/tests/lib/faultsmtp.py" --help 2>&1 | tr -d '\n ' | grep -o -E '\{normal,[a-z0-9,-]+\}' | head -n 1 | tr -d '{}' | tr ',' '\n' | grep -vx normal)
missing=
for m in $all_modes; do
	grep -qx -- "$m" <<<"$smtp_rows" || grep -q -E -- "(^| )$m( |\$)" "$TOP/tests/faults-sendmail.t" \
		"$TOP/tests/sendmail-transaction.t" || missing="$missing $m"
done
is "$missing" "" "...every fault of faultsmtp.py is played (the table, the pipelined steps, QUIT)"
is "$rows" "$(grep -vc -E -- '-bdat$|^stall-quit$' <<<"$all_modes")" \
	"...the table has one row per fault of a transaction without BDAT"
is "$(num 'runs [0-9]+ of these faults again')" "$(grep -o -E '"[a-z0-9-]+:[0-9]+:[a-z]+"' "$TOP/tests/sendmail-smtp.t" | wc -l)" \
	"Reliability: the faults sendmail-smtp.t runs"
pop_modes=$("$PY" "$TOP/tests/lib/faultpop3.py" --help 2>&1 | tr -d '\n ' | grep -o -E '\{normal,[a-z0-9,-]+\}' | head -n 1 | tr ',' '\n' | wc -l)
pop_rows=$(awk '/^table="/ { f = 1; next } f && /^"/ { exit } f && NF' "$TOP/tests/faults-popfetch.t" | wc -l)
is "$(tr '\n' ' ' <"$R" | grep -o -E 'faults-popfetch.t`): a table of [0-9]+ rows' | grep -o -E '[0-9]+ rows' | grep -o -E '[0-9]+')" "$pop_rows" \
	"Reliability: the rows of the POP3 fault table"
is "$pop_rows" "$pop_modes" "...one per mode of faultpop3.py"
# 36 = each "sm" call of hostile-sendmail.t, one of them in a loop over 2 inputs, plus the big message.
sm_calls=$(grep -c -E '^[[:space:]]*sm ' "$TOP/tests/hostile-sendmail.t")
is "$(num '[0-9]+ runs of sendmail')" "$((sm_calls + 2))" "Reliability: sendmail's hostile runs (sm calls + 1 looped + the big message)"
is "$(num '[0-9]+ hostile messages')" "$(grep -o '>"\$M/' "$TOP/tests/hostile-popfetch.t" | wc -l)" "Reliability: popfetch's hostile messages"
targets=$(sed -n 's/^FUZZ_TARGETS *:= *//p' "$TOP/tests/check.mk")
is "$(num '[0-9]+ libFuzzer targets')" "$(wc -w <<<"$targets")" "Reliability: the fuzz targets"
for t in $targets; do like "$rel" "\`$t\`" "Reliability names the fuzz target $t"; done
is "$(num 'runs each for [0-9]+ seconds')" "$(sed -n 's/^FUZZ_SECONDS *?= *//p' "$TOP/tests/check.mk")" "Reliability: FUZZ_SECONDS"
is "$(num 'seed corpus \([0-9]+ inputs')" "$(find "$TOP/tests/fuzz/corpus" -type f | wc -l)" "Reliability: the seed corpus"
is "$(num '[0-9]+ regression inputs')" "$(find "$TOP/tests/fuzz/regressions" -type f | wc -l)" "Reliability: the regression inputs"
grep -q 'bulk_put alice 500 ' "$TOP/tests/popfetch-faults.t"
ok $? "Reliability: the kill -9 test fetches 500 messages"
# check-valgrind needs lib.sh to take the programs from POSTIE_SENDMAIL/POSTIE_POPFETCH;
# README.md says whether it does.
rel=$(tr '\n' ' ' <<<"$rel" | tr -s ' ')
if grep -q 'POSTIE_SENDMAIL' "$TOP/tests/lib/lib.sh"; then
	unlike "$rel" 'does not yet take the wrapped programs' "Reliability: check-valgrind works, README says nothing else"
else
	like "$rel" 'does not yet take the wrapped programs' "Reliability: README says check-valgrind cannot work yet"
fi

# ------------------------------------------------------------ Benchmarks, Development
like "$(section Benchmarks)" 'make bench' "Benchmarks: make bench"
check "make -n bench" make -C "$TOP" -n bench
[ -f "$TOP/tests/bench/results.md" ] && pass "tests/bench/results.md exists" || fail "tests/bench/results.md exists"
grep -q '^make test$' "$TOP/.ci/run"
ok $? "Development: .ci/run runs make test"
grep -q 'make check-package$' "$TOP/.ci/run"
ok $? "Development: .ci/run runs make check-package"

# ------------------------------------------------------------ man pages
if command -v mandoc >/dev/null; then
	for m in man/popfetch.1 man/postie.conf.5; do
		check "mandoc -Tlint -W warning $m" mandoc -Tlint -W warning "$TOP/$m"
	done
else
	skip "mandoc -Tlint" "mandoc not installed"
fi

done_testing
