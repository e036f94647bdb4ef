#!/bin/bash
# The test fixtures work, without Postie: certificates, smtpd.py in each mode,
# Dovecot over POP3 / STARTTLS / POP3S, the fault servers, and lib.sh itself.
. "$(dirname "$0")/lib/lib.sh"

for tool in curl openssl /usr/sbin/dovecot; do
	command -v "$tool" >/dev/null || skip_all "$tool not installed (make deps)"
done
"$PY" -c 'import aiosmtpd' 2>/dev/null || skip_all "python3-aiosmtpd not installed (make deps)"

C=$T/certs
CURL=(curl --silent --show-error --max-time 20 --noproxy '*')

# ------------------------------------------------------------------ certs
make_certs "$C"
check "make_certs: server cert verifies against the CA" \
	openssl verify -CAfile "$C/ca.pem" -verify_hostname localhost "$C/server.pem"
check "make_certs: server cert is valid for 127.0.0.1" \
	openssl verify -CAfile "$C/ca.pem" -verify_ip 127.0.0.1 "$C/server.pem"
check_fail "make_certs: server cert does not verify against the other CA" \
	openssl verify -CAfile "$C/other-ca.pem" "$C/server.pem"
check_fail "make_certs: wronghost cert is not valid for localhost" \
	openssl verify -CAfile "$C/ca.pem" -verify_hostname localhost "$C/wronghost.pem"
like "$(cat "$C/server.pin")" '^sha256//[A-Za-z0-9+/]{43}=$' "make_certs: server.pin"
before=$(stat -c %Y "$C/ca.pem")
make_certs "$C"
is "$(stat -c %Y "$C/ca.pem")" "$before" "make_certs: cached on a second call"

# A message whose bytes survive SMTP and POP3 unchanged: CRLF line ends, a
# line starting with a dot (stuffed on the wire), 8-bit UTF-8, a last CRLF.
printf '%s\r\n' "From: Alice <alice@example.org>" "To: bob@example.org" \
	"Subject: harness =?UTF-8?Q?caf=C3=A9?=" "MIME-Version: 1.0" \
	"Content-Type: text/plain; charset=utf-8" "Content-Transfer-Encoding: 8bit" "" \
	"Hello Bob," ".a line that starts with a dot" "." "..two dots" "café ☕" "-- " "Alice" \
	>"$T/msg1"
printf '%s\r\n' "Subject: second" "" "second message" >"$T/msg2"
printf 'alice@example.org\nbob@example.org\ncarol@example.org\n' >"$T/env1"

# curl sends the upload as it is (dot-stuffed), then ".\r\n".
smtp_send() { # URL [curl options]
	"${CURL[@]}" --url "$@" --mail-from alice@example.org \
		--mail-rcpt bob@example.org --mail-rcpt carol@example.org --upload-file "$T/msg1"
}

# ------------------------------------------------------------- smtpd plain
start_smtpd "$T/smtp-plain" --plain || bail_out "smtpd.py --plain did not start"
check "smtpd --plain: curl sends a message" smtp_send "smtp://127.0.0.1:$SMTP_PORT"
smtp_wait "$T/smtp-plain" 1
cmp_file "$T/smtp-plain/0001.msg" "$T/msg1" "smtpd --plain: message bytes stored exactly"
cmp_file "$T/smtp-plain/0001.env" "$T/env1" "smtpd --plain: envelope stored"
like "$(cat "$T/smtp-plain/0001.info")" $'tls: no\n' "smtpd --plain: info says no TLS"
is "$(wc -l <"$T/smtp-plain/connections")" 1 "smtpd --plain: one connection counted"
stop_server "$SMTP_PID"
check_fail "stop_server: smtpd.py is gone" _alive "$SMTP_PID"

# ------------------------------------------------------ smtpd STARTTLS + AUTH
start_smtpd "$T/smtp-starttls" --starttls --auth user:pass --require-auth ||
	bail_out "smtpd.py --starttls did not start"
check "smtpd --starttls: curl sends with STARTTLS + AUTH" \
	smtp_send "smtp://127.0.0.1:$SMTP_PORT" --ssl-reqd --cacert "$C/ca.pem" --user user:pass
smtp_wait "$T/smtp-starttls" 1
cmp_file "$T/smtp-starttls/0001.msg" "$T/msg1" "smtpd --starttls: message bytes stored exactly"
cmp_file "$T/smtp-starttls/0001.env" "$T/env1" "smtpd --starttls: envelope stored"
like "$(cat "$T/smtp-starttls/0001.info")" $'tls: yes\nauth: user\n' "smtpd --starttls: info: TLS and AUTH user"
like "$(cat "$T/smtp-starttls/auths")" '^(PLAIN|LOGIN|CRAM-MD5) user$' "smtpd --starttls: AUTH recorded"
check_fail "smtpd --starttls: refused without STARTTLS" \
	smtp_send "smtp://127.0.0.1:$SMTP_PORT" --user user:pass
check_fail "smtpd --starttls: refused with a wrong password" \
	smtp_send "smtp://127.0.0.1:$SMTP_PORT" --ssl-reqd --cacert "$C/ca.pem" --user user:wrong
check_fail "smtpd --starttls: refused without AUTH (--require-auth)" \
	smtp_send "smtp://127.0.0.1:$SMTP_PORT" --ssl-reqd --cacert "$C/ca.pem"
check_fail "smtpd --starttls: certificate fails against the other CA" \
	smtp_send "smtp://127.0.0.1:$SMTP_PORT" --ssl-reqd --cacert "$C/other-ca.pem" --user user:pass
check "smtpd --starttls: pinned public key matches" \
	smtp_send "smtp://127.0.0.1:$SMTP_PORT" --ssl-reqd --cacert "$C/ca.pem" --user user:pass \
	--pinnedpubkey "$(cat "$C/server.pin")"
is "$(smtp_count "$T/smtp-starttls")" 2 "smtpd --starttls: exactly the 2 good sends stored"
is "$(wc -l <"$T/smtp-starttls/connections")" 6 "smtpd --starttls: 6 connections counted"

# --------------------------------------------------- smtpd implicit TLS + AUTH
start_smtpd "$T/smtp-tls" --tls --auth user:pass --reject-rcpt carol@example.org ||
	bail_out "smtpd.py --tls did not start"
check "smtpd --tls: curl sends over SMTPS with AUTH, one recipient refused" \
	smtp_send "smtps://localhost:$SMTP_PORT" --cacert "$C/ca.pem" --user user:pass \
	--mail-rcpt-allowfails
smtp_wait "$T/smtp-tls" 1
cmp_file "$T/smtp-tls/0001.msg" "$T/msg1" "smtpd --tls: message bytes stored exactly"
is "$(cat "$T/smtp-tls/0001.env")" $'alice@example.org\nbob@example.org' \
	"smtpd --tls: envelope has the accepted recipient only"
check_fail "smtpd --tls: self-signed certificate is refused by curl" \
	"${CURL[@]}" --url "smtps://localhost:$SMTP_PORT" --cacert "$C/selfsigned.pem" \
	--mail-from a@b --mail-rcpt b@c --upload-file "$T/msg2"

# ------------------------------------------- smtpd CRAM-MD5 with swaks, tempfail
start_smtpd "$T/smtp-swaks" --plain --auth user:pass --tempfail-rcpt later@example.org ||
	bail_out "smtpd.py --plain --auth did not start"
check "smtpd --auth: swaks AUTH CRAM-MD5" \
	swaks --server "127.0.0.1:$SMTP_PORT" --from '<>' --to bob@example.org \
	--auth CRAM-MD5 --auth-user user --auth-password pass --data "$T/msg2"
smtp_wait "$T/smtp-swaks" 1
is "$(cat "$T/smtp-swaks/auths")" "CRAM-MD5 user" "smtpd --auth: CRAM-MD5 recorded"
is "$(head -n 1 "$T/smtp-swaks/0001.env")" "<>" "smtpd: null sender stored as <>"
check_fail "smtpd --tempfail-rcpt: curl fails on a 451 recipient" \
	"${CURL[@]}" --url "smtp://127.0.0.1:$SMTP_PORT" --mail-from a@b \
	--mail-rcpt later@example.org --upload-file "$T/msg2"
like "$(cat "$T/smtp-swaks/log")" "RCPT later@example.org tempfailed 451" "smtpd: 451 logged"

# ----------------------------------------------------------------- dovecot
start_dovecot alice:secret bob:hunter2 || bail_out "dovecot did not start"
pop3_put alice "$T/msg1"
pop3_put alice "$T/msg2"
printf 'Subject: lf only\n\nbare LF lines\n' >"$T/msg3"
pop3_put bob "$T/msg3"
is "$(pop3_count alice)" 2 "pop3_count: alice has 2 messages"
is "$(pop3_count bob)" 1 "pop3_count: bob has 1 message"

check "dovecot: curl pop3 RETR 1" \
	"${CURL[@]}" -o "$T/got1" "pop3://alice:secret@127.0.0.1:$POP3_PORT/1"
cmp_file "$T/got1" "$T/msg1" "dovecot: pop3 message 1 bytes"
check "dovecot: curl pop3s RETR 2" \
	"${CURL[@]}" -o "$T/got2" --cacert "$C/ca.pem" -u alice:secret "pop3s://localhost:$POP3S_PORT/2"
cmp_file "$T/got2" "$T/msg2" "dovecot: pop3s message 2 bytes"
check "dovecot: curl pop3 STARTTLS RETR 1" \
	"${CURL[@]}" -o "$T/got1s" --ssl-reqd --cacert "$C/ca.pem" -u alice:secret \
	"pop3://localhost:$POP3_PORT/1"
cmp_file "$T/got1s" "$T/msg1" "dovecot: STARTTLS message 1 bytes"
check "dovecot: curl pop3 APOP" \
	"${CURL[@]}" -o "$T/got3" -u bob:hunter2 --login-options 'AUTH=+APOP' \
	"pop3://127.0.0.1:$POP3_PORT/1"
printf 'Subject: lf only\r\n\r\nbare LF lines\r\n' >"$T/msg3.crlf"
cmp_file "$T/got3" "$T/msg3.crlf" "dovecot: LF message is served with CRLF"
check "dovecot: UIDL" "${CURL[@]}" -X UIDL -u alice:secret "pop3://127.0.0.1:$POP3_PORT/"
is "$(grep -c '^[12] [^ ]' "$T/last.out")" 2 "dovecot: UIDL lists 2 messages"
check_fail "dovecot: wrong password fails" \
	"${CURL[@]}" -o /dev/null -u alice:wrong "pop3://127.0.0.1:$POP3_PORT/1"
check_fail "dovecot: unknown user fails" \
	"${CURL[@]}" -o /dev/null -u mallory:secret "pop3://127.0.0.1:$POP3_PORT/1"
check_fail "dovecot: pop3s certificate fails against the other CA" \
	"${CURL[@]}" -o /dev/null --cacert "$C/other-ca.pem" -u alice:secret "pop3s://localhost:$POP3S_PORT/1"
check "dovecot: DELE 1" "${CURL[@]}" -X DELE -I -u alice:secret "pop3://127.0.0.1:$POP3_PORT/1"
is "$(pop3_count alice)" 1 "pop3_count: 1 message left after DELE"
dovecot_pid=$DOVECOT_PID
stop_dovecot
check_fail "stop_dovecot: master gone" _alive "$dovecot_pid"
check_fail "stop_dovecot: ports closed" port_open "$POP3_PORT"

# ----------------------------------------------------------- fault servers
start_faultsmtp 451-after-dot || bail_out "faultsmtp.py did not start"
check_fail "faultsmtp 451-after-dot: curl fails" smtp_send "smtp://127.0.0.1:$FAULT_PORT"
is "$(smtp_count "$FAULT_SPOOL")" 0 "faultsmtp 451-after-dot: nothing delivered"
cmp_file "$FAULT_SPOOL/0001.unaccepted" "$T/msg1" "faultsmtp: unaccepted message bytes kept"
like "$(cat "$FAULT_SPOOL/log")" $'S: 451 4.3.0' "faultsmtp: transcript logged"

start_faultsmtp normal --auth user:pass || bail_out "faultsmtp.py normal did not start"
check "faultsmtp normal: curl sends with AUTH LOGIN" \
	smtp_send "smtp://127.0.0.1:$FAULT_PORT" --user user:pass --login-options 'AUTH=LOGIN'
cmp_file "$FAULT_SPOOL/0001.msg" "$T/msg1" "faultsmtp normal: message bytes stored"
cmp_file "$FAULT_SPOOL/0001.env" "$T/env1" "faultsmtp normal: envelope stored"

start_faultsmtp stall-greeting || bail_out "faultsmtp.py stall-greeting did not start"
check_status 28 "faultsmtp stall-greeting: curl times out" \
	curl -s --max-time 1 --url "smtp://127.0.0.1:$FAULT_PORT" --mail-from a@b --mail-rcpt b@c \
	--upload-file "$T/msg2"

start_faultpop3 normal --message "$T/msg1" --message "$T/msg3" || bail_out "faultpop3.py did not start"
check "faultpop3 normal: curl RETR 1" "${CURL[@]}" -o "$T/f1" "pop3://alice:secret@127.0.0.1:$FAULT_PORT/1"
cmp_file "$T/f1" "$T/msg1" "faultpop3 normal: message 1 bytes"
check "faultpop3 normal: curl RETR 2" "${CURL[@]}" -o "$T/f2" "pop3://alice:secret@127.0.0.1:$FAULT_PORT/2"
cmp_file "$T/f2" "$T/msg3.crlf" "faultpop3 normal: LF message served with CRLF"
check "faultpop3 normal: DELE 1" "${CURL[@]}" -X DELE -I "pop3://alice:secret@127.0.0.1:$FAULT_PORT/1"
check "faultpop3 normal: LIST" "${CURL[@]}" "pop3://alice:secret@127.0.0.1:$FAULT_PORT/"
is "$(tr -d '\r' <"$T/last.out")" "1 $(wc -c <"$T/msg3.crlf")" "faultpop3 normal: LIST after DELE"

start_faultpop3 drop-mid-retr --message "$T/msg1" || bail_out "faultpop3.py did not start"
# NB: libcurl (7.88) reports success when a POP3 server closes in the middle
# of RETR: the caller must check the size itself (LIST size = CRLF size).
"${CURL[@]}" -o "$T/half" "pop3://alice:secret@127.0.0.1:$FAULT_PORT/1" 2>/dev/null
got=$(wc -c <"$T/half") want=$(wc -c <"$T/msg1")
[ "$got" -gt 0 ] && [ "$got" -lt "$want" ] && pass "faultpop3 drop-mid-retr: message cut short ($got of $want bytes)" ||
	fail "faultpop3 drop-mid-retr: message cut short" "got $got of $want bytes"
start_faultpop3 err-pass --message "$T/msg1" || bail_out "faultpop3.py did not start"
check_fail "faultpop3 err-pass: curl fails" \
	"${CURL[@]}" -o /dev/null "pop3://alice:secret@127.0.0.1:$FAULT_PORT/1"

# ------------------------------------------------------------ lib.sh itself
# A child test script: its servers must be gone and its $T removed when it
# exits, and a failed test must make it exit non-zero.
cat >"$T/child.t" <<EOF
. "$TOP/tests/lib/lib.sh"
echo "\$T" >"$T/child.tmp"
start_smtpd "\$T/s" || exit 3
start_faultpop3 normal || exit 3
start_dovecot || exit 3
echo "\$SMTP_PID \$FAULT_PID \$DOVECOT_PID \$_POSTIE_DOVECOT_WATCHDOG \$(_descendants \$DOVECOT_PID | tr '\n' ' ')" >"$T/child.pids"
pass "a passing test"
is "a" "b" "a failing test"
done_testing
EOF
bash "$T/child.t" </dev/null >"$T/child.out" 2>"$T/child.err"
is "$?" 1 "lib.sh: a script with one failed test exits 1"
is "$(grep -c '^ok\|^not ok\|^1\.\.2$' "$T/child.out")" 3 "lib.sh: child printed 2 results and the plan"
like "$(cat "$T/child.err")" "got: 'a'" "lib.sh: 'is' shows what it got"
pids=$(cat "$T/child.pids" 2>/dev/null)
[ "$(wc -w <<<"$pids")" -ge 4 ] && pass "lib.sh: child started its servers (pids $pids)" ||
	fail "lib.sh: child started its servers" "pids: $pids" "$(cat "$T/child.err")"
left=
for p in $pids; do _none_alive "$p" || left="$left $p"; done
is "$left" "" "lib.sh: every server process of the child is gone at its exit"
child_t=$(cat "$T/child.tmp")
check_fail "lib.sh: the child's temp dir is removed" test -e "$child_t"

POSTIE_KEEP_TMP=1 bash -c ". '$TOP/tests/lib/lib.sh'; echo \$T >'$T/keep.tmp'; skip_all testing" >/dev/null 2>&1
is "$?" 0 "lib.sh: skip_all exits 0"
kept=$(cat "$T/keep.tmp")
check "lib.sh: POSTIE_KEEP_TMP=1 keeps the temp dir" test -d "$kept"
rm -rf -- "$kept"

wait_for false 0.3
is "$?" 1 "wait_for: false times out"
wait_for "[ -e '$T/msg1' ]" 1
is "$?" 0 "wait_for: a true condition"

done_testing
