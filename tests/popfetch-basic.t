#!/bin/bash
# popfetch: command line, configuration errors, TLS, authentication, --list,
# -v redaction, and the exit codes of DESIGN.md.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

# ---- command line
check "--help" "$POPFETCH" --help
like "$(head -n 2 "$T/last.out" | tr '\n' ' ')" '^usage: popfetch \[-C FILE\] \[-d SECONDS\] \[-k\] \[-v \| -q\] \[--list \| --serverinfo\] +\[ACCOUNT \.\.\.\] $' "--help starts with the usage line"
check "--version" "$POPFETCH" --version
like "$(cat "$T/last.out")" '^popfetch \(Postie\) [0-9]' "--version names the program"
check_status 64 "an unknown option: exit 64" "$POPFETCH" --bogus
like "$(cat "$T/last.err")" 'usage: popfetch' "the usage line on stderr"
check_status 64 "-v with -q: exit 64" "$POPFETCH" -v -q
check_status 64 "-d with a non-number: exit 64" "$POPFETCH" -d soon
check_status 64 "--list with -d: exit 64" "$POPFETCH" --list -d 5
like "$("$POPFETCH" --help)" "64 usage, 65 the.*state file does not parse, 69 server refused, 70 internal error,.*71 cannot fork, 73 .*74 I/O error,.*75 temporary failure, 77 login refused" \
	"--help lists every exit status"

# ---- configuration
check_status 78 "-C with a missing file: exit 78" "$POPFETCH" -C "$T/nonexistent"
printf 'smtp "x" {\n host = "h"\n}\n' >"$T/nopop.conf"
check_status 78 "no pop3 account: exit 78" "$POPFETCH" -C "$T/nopop.conf"
like "$(cat "$T/last.err")" "^popfetch: .*nopop.conf: no pop3 account is configured" "says there is no pop3 account"
# An I/O error while the configuration is read (strace injects EIO into the first read of it).
nolsan strace -f -qq -o "$T/conf-eio.log" -P "$T/nopop.conf" -e trace=read -e inject=read:error=EIO:when=1 \
	"$POPFETCH" -C "$T/nopop.conf" >"$T/conf-eio.out" 2>"$T/conf-eio.err"
is "$?" 78 "a configuration that cannot be read: exit 78"
is "$(grep -c INJECTED "$T/conf-eio.log")" 1 "the read error was injected"
is "$(cat "$T/conf-eio.err")" "popfetch: $T/nopop.conf: cannot read: Input/output error" \
	"popfetch: FILE: cannot read: REASON, one line"

start_dovecot alice:secret || bail_out "cannot start dovecot"
printf 'From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.com>\nSubject: =?utf-8?b?R3LDvMOfZQ==?= and more\nMessage-ID: <1@x>\n\nhello\n' >"$T/m1"
printf 'From: plain@example.com\nSubject: evil \033[31mred\033[0m title\n\nbody\n' >"$T/m2"
pop3_put alice "$T/m1"
pop3_put alice "$T/m2"

pf_conf "$T/conf"
check_status 78 "an unknown account name: exit 78" "$POPFETCH" -C "$T/conf" nosuch
like "$(cat "$T/last.err")" 'no pop3 account "nosuch"' "names the unknown account"
chmod 644 "$T/conf"
check_status 78 "a password file readable by others: exit 78" "$POPFETCH" -C "$T/conf"
like "$(cat "$T/last.err")" 'readable by others' "says why"
chmod 600 "$T/conf"

# ---- authentication and certificates: nothing fetched, nothing deleted
pf_conf "$T/badpw.conf" 'password = "wrong"'
sed -i '/password = "secret"/d' "$T/badpw.conf"
check_status 77 "wrong password: exit 77" "$POPFETCH" -C "$T/badpw.conf"
like "$(cat "$T/last.err")" '^popfetch: inbox: localhost: authentication failed: -ERR \[AUTH\] Authentication failed\. \(tried PLAIN [A-Z0-9 -]*; the server offers [A-Z0-9 -]*\)$' \
	"one-line error naming account, host, the server's reply, the mechanisms tried and offered"
is "$(wc -l <"$T/last.err")" 1 "one line"
is "$(pop3_count alice)" 2 "wrong password: the server mailbox is untouched"
ok "$([ ! -s "$T/mbox" ]; echo $?)" "wrong password: nothing in the mbox"

pf_conf "$T/badca.conf"
sed -i "s|$T/certs/ca.pem|$T/certs/other-ca.pem|" "$T/badca.conf"
check_fail "a certificate that does not verify is refused" "$POPFETCH" -C "$T/badca.conf"
like "$(cat "$T/last.err")" "^popfetch: inbox: localhost: the server's certificate does not verify" "says the certificate does not verify"
pf_conf "$T/badca2.conf" "port = $POP3S_PORT" 'tls = "tls"'
sed -i "s|$T/certs/ca.pem|$T/certs/other-ca.pem|" "$T/badca2.conf"
check_fail "POP3S with a certificate that does not verify is refused" "$POPFETCH" -C "$T/badca2.conf"
is "$(pop3_count alice)" 2 "bad certificate: nothing deleted"
ok "$([ ! -s "$T/mbox" ]; echo $?)" "bad certificate: nothing fetched"

# ---- --list
check "--list" "$POPFETCH" -C "$T/conf" --list
out=$(cat "$T/last.out")
like "$out" '^inbox: 2 messages, [0-9]+ bytes \(localhost\)' "--list: a line for the account"
like "$out" $'\n    1 +[0-9]+  [^ ]+ +Jörg Müller <joerg@example.com> +Grüße and more' "--list: number, size, UIDL, From and Subject decoded"
like "$out" $'\n    2 +[0-9]+  [^ ]+ +plain@example.com +evil  \\[31mred \\[0m title' "--list: control characters in headers are defused"
is "$(pop3_count alice)" 2 "--list deletes nothing"
ok "$([ ! -s "$T/mbox" ]; echo $?)" "--list fetches nothing"

# ---- -v shows the dialogue without credentials
rm -rf "$T/state" "$T/mbox"
pf_conf "$T/sasl.conf" 'keep = true'
check "-v with SASL" "$POPFETCH" -C "$T/sasl.conf" -v
like "$(cat "$T/last.err")" '> STLS' "-v shows STARTTLS"
like "$(cat "$T/last.err")" '> AUTH [A-Z0-9-]+' "-v shows the SASL mechanism"
unlike "$(cat "$T/last.err")" 'secret' "-v never shows the password (SASL)"
like "$(cat "$T/last.err")" '> QUIT' "-v shows QUIT"
is "$(mbox_count "$T/mbox")" 2 "fetched both messages"

# ---- memory errors and leaks on a whole fetch, and on --list
if ! plain_binaries; then
	skip "valgrind" "the binary already runs under a sanitizer or a wrapper"
	skip "valgrind --list" "the binary already runs under a sanitizer or a wrapper"
elif command -v valgrind >/dev/null; then
	rm -rf "$T/state" "$T/mbox"
	vg() { valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 "$@"; }
	check "valgrind: a fetch has no memory errors or leaks" vg "$POPFETCH" -C "$T/sasl.conf"
	check "valgrind: --list has no memory errors or leaks" vg "$POPFETCH" -C "$T/sasl.conf" --list
else
	skip "valgrind" "not installed"
	skip "valgrind --list" "not installed"
fi

# ---- faults from a scripted server (plain TCP on loopback)
printf 'From: f@example.com\nSubject: fault\n\n%s\n' "$(head -c 3000 /dev/zero | tr '\0' 'z')" >"$T/f1"
fconf() { # FILE PORT [lines]
	local f=$1 port=$2
	shift 2
	{
		echo 'log = "none"'
		echo 'timeout = 3'
		echo 'pop3 "inbox" {'
		echo '  host = "127.0.0.1"'
		echo "  port = $port"
		echo '  tls = "none"'
		echo '  user = "alice"'
		echo '  password = "secret"'
		echo "  mbox = \"$T/fmbox\""
		for l in "$@"; do echo "  $l"; done
		echo '}'
	} >"$f"
	chmod 600 "$f"
}
rm -rf "$T/state"
start_faultpop3 normal --message "$T/f1" || bail_out "faultpop3"
fconf "$T/f.conf" "$FAULT_PORT" 'keep = true'
check "-v with USER/PASS" "$POPFETCH" -C "$T/f.conf" -v
err=$(cat "$T/last.err")
like "$err" '> USER alice' "-v shows USER"
like "$err" '> PASS <redacted>' "-v redacts PASS"
unlike "$err" 'secret' "-v never shows the password (USER/PASS)"
stop_server "$FAULT_PID"
rm -rf "$T/state" "$T/fmbox"

start_faultpop3 err-pass --message "$T/f1" || bail_out "faultpop3"
fconf "$T/f.conf" "$FAULT_PORT"
check_status 77 "login refused by the server: exit 77" "$POPFETCH" -C "$T/f.conf"
stop_server "$FAULT_PID"

start_faultpop3 drop-mid-retr --message "$T/f1" || bail_out "faultpop3"
fconf "$T/f.conf" "$FAULT_PORT"
check_status 75 "connection dropped in the middle of RETR: exit 75" "$POPFETCH" -C "$T/f.conf"
is "$(stat -c %s "$T/fmbox")" 0 "the half message is not left in the mbox"
ok "$([ ! -s "$FAULT_SPOOL/deleted" ]; echo $?)" "nothing deleted"
stop_server "$FAULT_PID"

start_faultpop3 stall-mid-retr --stall-max 20 --message "$T/f1" || bail_out "faultpop3"
fconf "$T/f.conf" "$FAULT_PORT"
check_status 75 "a server that stalls in RETR times out: exit 75" "$POPFETCH" -C "$T/f.conf"
is "$(stat -c %s "$T/fmbox")" 0 "nothing left in the mbox after the stall"
stop_server "$FAULT_PID"

# A second SIGTERM while the server stalls in the middle of a message (popfetch
# waiting in the body, timeout 60 s, the server silent for 60 s): it stops then,
# not when the timeout or the server ends the wait.
start_faultpop3 stall-mid-retr --stall-max 60 --message "$T/f1" || bail_out "faultpop3"
fconf "$T/f.conf" "$FAULT_PORT" 'timeout = 60'
"$POPFETCH" -C "$T/f.conf" 2>"$T/stop.err" &
pid=$!
wait_for "grep -q stalling '$FAULT_SPOOL/log' 2>/dev/null" 10 || fail "the server did not stall"
sleep 0.5
kill -TERM "$pid"
sleep 0.05
kill -TERM "$pid"
ok "$(wait_for "! kill -0 $pid 2>/dev/null" 20; echo $?)" "a second SIGTERM ends the wait in a stalled RETR"
kill -KILL "$pid" 2>/dev/null
wait "$pid"
is "$?" 75 "exit 75"
like "$(cat "$T/stop.err")" 'stopped by a second signal: message 1 stays on the server' "says so"
is "$(stat -c %s "$T/fmbox")" 0 "nothing left in the mbox"
ok "$([ ! -s "$FAULT_SPOOL/deleted" ]; echo $?)" "nothing deleted"
stop_server "$FAULT_PID"

start_faultpop3 drop-quit --message "$T/f1" || bail_out "faultpop3"
fconf "$T/f.conf" "$FAULT_PORT"
check_status 75 "QUIT unanswered: exit 75" "$POPFETCH" -C "$T/f.conf"
like "$(cat "$T/last.err")" 'QUIT was not answered' "says the deletions may not have happened"
is "$(mbox_count "$T/fmbox")" 1 "the message was delivered"
_run "$POPFETCH" -C "$T/f.conf"
is "$(mbox_count "$T/fmbox")" 1 "the next poll does not fetch it again (it only deletes it)"
like "$(grep -c '^DELE 1' "$FAULT_SPOOL/log" 2>/dev/null; grep -c 'C: DELE' "$FAULT_SPOOL/log")" '2$' "the next poll sends DELE again"
is "$(grep -c 'C: RETR' "$FAULT_SPOOL/log")" 1 "RETR only once over both polls"
stop_server "$FAULT_PID"

start_faultpop3 err-retr --message "$T/f1" --message "$T/f1" || bail_out "faultpop3"
rm -rf "$T/state" "$T/fmbox"
fconf "$T/f.conf" "$FAULT_PORT"
check_status 69 "RETR refused: exit 69" "$POPFETCH" -C "$T/f.conf"
is "$(grep -c 'C: RETR' "$FAULT_SPOOL/log")" 2 "a refused RETR does not stop the others"
is "$(grep -c 'C: QUIT' "$FAULT_SPOOL/log")" 1 "the session ends with QUIT"
ok "$([ ! -s "$FAULT_SPOOL/deleted" ]; echo $?)" "nothing deleted"
stop_server "$FAULT_PID"

start_faultpop3 err-dele --message "$T/f1" || bail_out "faultpop3"
rm -rf "$T/state" "$T/fmbox"
fconf "$T/f.conf" "$FAULT_PORT"
check_status 69 "DELE refused: exit 69" "$POPFETCH" -C "$T/f.conf"
is "$(mbox_count "$T/fmbox")" 1 "the message is in the mbox"
stop_server "$FAULT_PID"

done_testing
