#!/bin/bash
# What becomes of a message (issue 12; DESIGN.md's table): a failure that is
# not the message's fault keeps it queued (a refused login, a server that
# wants AUTH, EHLO refused, TLS, libcurl failing to load), the same in the
# foreground and in -q, with one line naming the problem and the fix; a
# permanent refusal with nobody waiting gets an RFC 3464 bounce to the
# sender; failed/ in mailq, --requeue, failed_lifetime; never twice when a
# sent entry cannot be removed; what a kill leaves is cleaned up.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"

msg() { lf "From: Alice <alice@example.org>" "To: $2" "Subject: $1" "" "body of $1" "line two"; }
exp() { crlf "From: Alice <alice@example.org>" "To: $2" "Subject: $1" "" "body of $1" "line two"; }
qn() { find "$1" -maxdepth 1 -name '*.env' 2>/dev/null | wc -l; }
# traced CMD...: CMD (strace here) without LeakSanitizer, which cannot run under ptrace
traced() {
	if [ "${POSTIE_SANITIZER:-}" = asan ]; then
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@"
	else
		"$@"
	fi
}
# delivered DIR SUBJECT: how many messages in an smtpd spool have that Subject
delivered() { grep -l "^Subject: $2"$'\r'"\$" "$1"/[0-9]*.msg 2>/dev/null | wc -l; }

# ------------------------------------- a wrong password, then the right one
start_smtpd "$T/s" --starttls --auth alice:secret --require-auth || bail_out "smtpd"
S=$SMTP_PORT
QDIR=$T/q1 write_conf "$T/bad.conf" "$S" 'user = "alice"' 'password = "wrong"' \
	'from = "alice@example.org"'
sed -i "s|^log = \"none\"|log = \"$T/bad.log\"|" "$T/bad.conf"
msg pw bob@example.net >"$T/pw.in"
exp pw bob@example.net >"$T/pw.exp"
sm "$T/bad.conf" -i bob@example.net <"$T/pw.in"
is "$LAST_STATUS" 0 "refused login: exit 0, as for any queued message"
is "$(wc -l <"$T/last.err")" 1 "refused login: one line on stderr"
like "$(cat "$T/last.err")" "535.*check user and password of smtp \"default\" in $T/bad\.conf, then run sendmail -q; queued as " \
	"refused login: the line names the problem and the fix, and the queue id"
like "$(cat "$T/bad.log")" "deferred.*535.*check user and password" "refused login: the log line names the fix too"
is "$(qn "$T/q1")" 1 "refused login: the message is queued"
like "$(mailq_of "$T/bad.conf")" "535" "refused login: mailq shows the reason"
sm "$T/bad.conf" -q
is "$LAST_STATUS" 0 "refused login, -q: exit 0"
like "$(cat "$T/last.err")" "kept in the queue: .*535.*check user and password" \
	"refused login, -q: the same line (foreground and -q agree)"
is "$(qn "$T/q1") $(ls "$T/q1/failed" 2>/dev/null | wc -l)" "1 0" "refused login, -q: kept, not failed"
sed 's/"wrong"/"secret"/' "$T/bad.conf" >"$T/good.conf"
chmod 600 "$T/good.conf"
sm "$T/good.conf" -q
is "$LAST_STATUS" 0 "the right password, -q: exit 0"
smtp_wait "$T/s" 1
is "$(delivered "$T/s" pw)" 1 "the right password, -q: delivered once"
check_gen "the right password, -q" "$(grep -l '^Subject: pw' "$T"/s/*.msg | head -n 1)" "$T/pw.exp"
sm "$T/good.conf" -q
is "$(delivered "$T/s" pw) $(qn "$T/q1")" "1 0" "another -q: still once, the queue empty"

# kept_loud NAME CONF QDIR PATTERN: a send that stays queued (exit 0, not
# failed), with one line on stderr matching PATTERN: the problem and the fix
kept_loud() {
	msg "$1" bob@example.net | "$SENDMAIL" -C "$2" -i bob@example.net 2>"$T/err"
	is "$?" 0 "$1: exit 0"
	like "$(cat "$T/err")" "$4" "$1: one line with the fix"
	is "$(qn "$3") $(qn "$3/failed")" "1 0" "$1: queued, not failed"
}

# a server that wants AUTH and a configuration without a login: 530 at MAIL
QDIR=$T/q2 write_conf "$T/noauth.conf" "$S" 'from = "alice@example.org"'
kept_loud "530 authentication required" "$T/noauth.conf" "$T/q2" \
	"530.*the server wants a login: set user and password of smtp \"default\" in $T/noauth\.conf"

# queue = "never": the caller is told (75) and a copy is kept all the same
QDIR=$T/q3 write_conf "$T/never.conf" "$S" 'user = "alice"' 'password = "wrong"' \
	'from = "alice@example.org"' 'queue = "never"'
msg never bob@example.net | "$SENDMAIL" -C "$T/never.conf" -i bob@example.net 2>"$T/err"
is "$?" 75 "queue = never, refused login: exit 75"
like "$(cat "$T/err")" "535.*copy is kept in failed/" "queue = never: stderr says a copy is kept"
is "$(qn "$T/q3") $(qn "$T/q3/failed")" "0 1" "queue = never: not queued, kept in failed/"
like "$(mailq_of "$T/never.conf")" "queue = \"never\".*"$'\n'".*the caller was told" \
	"queue = never: mailq says why and that the caller was told"

# EHLO refused (as Postfix's reject_non_fqdn_helo_hostname does)
start_faultsmtp 504-ehlo || bail_out "faultsmtp"
QDIR=$T/q4 write_conf "$T/helo.conf" "$FAULT_PORT" 'tls = "none"' 'from = "alice@example.org"'
msg helo bob@example.net | "$SENDMAIL" -C "$T/helo.conf" -i bob@example.net 2>"$T/err"
is "$?" 0 "EHLO refused: exit 0"
like "$(cat "$T/err")" "504.*the server refuses the EHLO name: set helo = \"a fully qualified name\" in smtp \"default\" of $T/helo\\.conf, then run sendmail -q" \
	"EHLO refused: one line, the fix names the helo key"
is "$(qn "$T/q4") $(qn "$T/q4/failed")" "1 0" "EHLO refused: queued, not failed"
sm "$T/helo.conf" -q
is "$(qn "$T/q4") $(qn "$T/q4/failed")" "1 0" "EHLO refused, -q: kept, not failed"
stop_server "$FAULT_PID"

# the mechanism asked for is not offered: the fix names auth (and tls), not the password
QDIR=$T/qm write_conf "$T/mech.conf" "$S" 'user = "alice"' 'password = "secret"' \
	'from = "alice@example.org"' 'auth = "external"' "tls_cert_file = \"$T/certs/server.pem\"" "tls_key_file = \"$T/certs/server.key\""
kept_loud "AUTH EXTERNAL not offered" "$T/mech.conf" "$T/qm" \
	"does not offer AUTH EXTERNAL \\(it offers [A-Z0-9 -]+\\); check auth and tls of smtp \"default\" in $T/mech\\.conf, then run sendmail -q; queued as"
# a password_command that fails: the fix names it
QDIR=$T/qp write_conf "$T/pwcmd.conf" "$S" 'user = "alice"' 'password_command = "false"' \
	'from = "alice@example.org"'
kept_loud "password_command fails" "$T/pwcmd.conf" "$T/qp" \
	"password_command failed.*; check password_command of smtp \"default\" in $T/pwcmd\\.conf \\(a keyring must be unlocked\\), then run sendmail -q; queued as"

# a certificate that does not verify: queued, and said without -v
QDIR=$T/q5 write_conf "$T/ca.conf" "$S" 'user = "alice"' 'password = "secret"' \
	'from = "alice@example.org"' "tls_ca_file = \"$T/certs/other-ca.pem\""
kept_loud "certificate error" "$T/ca.conf" "$T/q5" "certificate.*tls_ca_file.*queued as"

# ------------------------------------------------ libcurl cannot be loaded
if command -v strace >/dev/null; then
	# dlopen may open it by any of its names: trace them all
	lib=()
	for p in $(ldconfig -p | awk '/libcurl\.so\.4 /{print $NF}'); do
		lib+=(-P "$p")
		[ -e "/usr$p" ] && lib+=(-P "/usr$p")
	done
	QDIR=$T/q6 write_conf "$T/lc.conf" "$S" 'user = "alice"' 'password = "secret"' \
		'from = "alice@example.org"'
	msg curl bob@example.net >"$T/curl.in"
	traced strace -f -qq -o "$T/strace.log" "${lib[@]}" -e trace=openat -e inject=openat:error=EIO \
		"$SENDMAIL" -C "$T/lc.conf" -i bob@example.net <"$T/curl.in" 2>"$T/err"
	is "$?" 0 "EIO loading libcurl: exit 0 (queued)"
	grep -q INJECTED "$T/strace.log" && pass "EIO loading libcurl: the fault fired" ||
		fail "EIO loading libcurl: the fault fired"
	like "$(cat "$T/err")" "cannot load libcurl.*Input/output error.*queued as" \
		"EIO loading libcurl: one line naming it"
	is "$(qn "$T/q6")" 1 "EIO loading libcurl: the message stays queued"
	traced strace -f -qq -o "$T/strace.log" "${lib[@]}" -e trace=openat -e inject=openat:error=EINTR \
		"$SENDMAIL" -C "$T/lc.conf" -q 2>"$T/err"
	is "$?" 0 "EINTR loading libcurl in -q: exit 0"
	is "$(qn "$T/q6") $(qn "$T/q6/failed")" "1 0" "EINTR loading libcurl in -q: retried later, not failed"
	n=$(smtp_count "$T/s")
	sm "$T/lc.conf" -q
	smtp_wait "$T/s" $((n + 1))
	is "$(delivered "$T/s" curl) $(qn "$T/q6")" "1 0" "libcurl back: -q delivers it once"
else
	skip "libcurl load failures" "strace is not installed"
fi

# --------------------------------------- a refusal during -q: the bounce
start_smtpd "$T/r" --plain --reject-rcpt bad@example.net --reject-rcpt bad2@example.net || bail_out "smtpd 2"
R=$SMTP_PORT
DEAD=$(free_port)
QDIR=$T/qb write_conf "$T/b-down.conf" "$DEAD" 'tls = "none"' 'from = "alice@example.org"'
QDIR=$T/qb write_conf "$T/b.conf" "$R" 'tls = "none"' 'from = "alice@example.org"'
msg bounced bad@example.net >"$T/b.in"
"$SENDMAIL" -C "$T/b-down.conf" -i bad@example.net <"$T/b.in"
is "$(qn "$T/qb")" 1 "bounce: queued while the server is down"
sm "$T/b.conf" -q
is "$LAST_STATUS" 0 "bounce: -q exit 0"
smtp_wait "$T/r" 1
is "$(smtp_count "$T/r")" 1 "bounce: one message arrives: the bounce"
env_is "bounce: to the sender, from the null sender" "$T/r/0001.env" "<>" alice@example.org
cat >"$T/dsn.py" <<'PY'
import email, email.policy, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.compat32)
out = []
out.append("type " + m.get_content_type())
out.append("report-type " + str(m.get_param("report-type")))
parts = m.get_payload()
out.append("parts " + " ".join(p.get_content_type() for p in parts))
ds = parts[1].get_payload()   # message/delivery-status: a list of blocks
out.append("blocks %d" % len(ds))
out.append("reporting-mta " + ("yes" if ds[0]["Reporting-MTA"] else "no"))
for b in ds[1:]:
    out.append("rcpt %s|%s|%s|%s" % (b["Final-Recipient"], b["Action"], b["Status"],
                                    b["Diagnostic-Code"]))
hdr = parts[2].get_payload(decode=True)
open(sys.argv[2], "wb").write(hdr)
out.append("auto " + str(m["Auto-Submitted"]))
out.append("to " + str(m["To"]))
print("\n".join(out))
PY
"$PY" "$T/dsn.py" "$T/r/0001.msg" "$T/b.hdr" >"$T/dsn" 2>&1
d=$(cat "$T/dsn")
like "$d" "^type multipart/report"$'\n'"report-type delivery-status" "bounce: multipart/report; report-type=delivery-status"
like "$d" "parts text/plain message/delivery-status text/rfc822-headers" "bounce: the three parts of RFC 3464"
like "$d" "blocks 2"$'\n'"reporting-mta yes" "bounce: a per-message block and one per recipient"
like "$d" "rcpt rfc822; bad@example.net\|failed\|5\.1\.1\|smtp; 550 5\.1\.1" \
	"bounce: Final-Recipient, Action, Status and Diagnostic-Code of the refused recipient"
like "$d" "auto auto-replied" "bounce: Auto-Submitted: auto-replied"
like "$d" "to <?alice@example\.org>?" "bounce: To: the sender"
f=$(find "$T/qb/failed" -name '*.msg' | head -n 1)
"$PY" - "$f" "$T/orig.hdr" <<'PY'
import sys
d = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(d[:d.index(b"\r\n\r\n") + 2])
PY
cmp_file "$T/b.hdr" "$T/orig.hdr" "bounce: the original header, byte for byte, as text/rfc822-headers"
q=$(mailq_of "$T/b.conf")
is "$(head -n 1 <<<"$q")" "Mail queue is empty" "bounce: nothing left to send"
like "$q" $'-Failed: kept in [^\n]*failed' "bounce: mailq has a failed section"
like "$(sed -n '/^-Failed/,$p' <<<"$q")" "550 5\.1\.1.*"$'\n'".*a bounce was sent to the sender" \
	"bounce: mailq shows the entry as failed, with the reason and the bounce"
like "$(sed -n '/^-Failed/,$p' <<<"$q")" "bad@example\.net" "bounce: and the refused recipient"

# partial refusal during -q: the others get it, the bounce names the refused only
msg partial "ok@example.net, bad2@example.net" >"$T/p.in"
exp partial "ok@example.net, bad2@example.net" >"$T/p.exp"
"$SENDMAIL" -C "$T/b-down.conf" -i ok@example.net bad2@example.net <"$T/p.in"
sm "$T/b.conf" -q
smtp_wait "$T/r" 3
is "$(smtp_count "$T/r")" 3 "partial refusal: the message and a bounce"
env_is "partial refusal: sent to the accepted one" "$T/r/0002.env" alice@example.org ok@example.net
check_gen "partial refusal" "$T/r/0002.msg" "$T/p.exp"
env_is "partial refusal: the bounce" "$T/r/0003.env" "<>" alice@example.org
"$PY" "$T/dsn.py" "$T/r/0003.msg" "$T/p.hdr" >"$T/dsn" 2>&1
is "$(grep -c '^rcpt ' "$T/dsn")" 1 "partial refusal: one recipient block"
like "$(cat "$T/dsn")" "rcpt rfc822; bad2@example\.net\|failed" "partial refusal: the refused one only"

# a null sender gets no bounce; bounce = "none" turns them off
"$SENDMAIL" -C "$T/b-down.conf" -i -f '<>' bad@example.net <"$T/b.in"
QDIR=$T/qn write_conf "$T/n-down.conf" "$DEAD" 'tls = "none"' 'from = "alice@example.org"' 'bounce = "none"'
QDIR=$T/qn write_conf "$T/n.conf" "$R" 'tls = "none"' 'from = "alice@example.org"' 'bounce = "none"'
"$SENDMAIL" -C "$T/n-down.conf" -i bad@example.net <"$T/b.in"
sm "$T/b.conf" -q
sm "$T/n.conf" -q
sleep 0.3
is "$(smtp_count "$T/r")" 3 "null sender, bounce = none: no bounce"
like "$(mailq_of "$T/b.conf")" "no bounce: a null sender gets no bounce" "null sender: mailq says why there is no bounce"
like "$(mailq_of "$T/n.conf")" "no bounce: bounce = \"none\"" "bounce = none: mailq says so"

# background delivery: nobody waits, so a bounce
QDIR=$T/qg CONF_TOP='delivery = "background"' write_conf "$T/bg.conf" "$R" 'tls = "none"' \
	'from = "alice@example.org"'
"$SENDMAIL" -C "$T/bg.conf" -i bad@example.net <"$T/b.in"
is "$?" 0 "background refusal: exit 0"
smtp_wait "$T/r" 4 10
env_is "background refusal: a bounce to the sender" "$T/r/0004.env" "<>" alice@example.org

# foreground refusal: the exit code, a copy in failed/, no bounce
sm "$T/b.conf" -i bad@example.net <"$T/b.in"
is "$LAST_STATUS" 67 "foreground refusal: exit 67"
sleep 0.3
is "$(smtp_count "$T/r")" 4 "foreground refusal: no bounce"
like "$(sed -n '/^-Failed/,$p' <<<"$(mailq_of "$T/b.conf")")" "the caller was told" \
	"foreground refusal: kept in failed/, the caller was told"

# --requeue: once the cause is mended, an administrator sends it again
id=$(basename "$(grep -l '^rcpt bad@example.net' "$T"/qb/failed/*.env | head -n 1)" .env)
start_smtpd "$T/ok" --plain || bail_out "smtpd 3"
QDIR=$T/qb write_conf "$T/ok.conf" "$SMTP_PORT" 'tls = "none"' 'from = "alice@example.org"'
sm "$T/ok.conf" --requeue "$id"
is "$LAST_STATUS" 0 "--requeue ID: exit 0"
like "$(cat "$T/last.out")" "$id: back in the queue" "--requeue: says so"
like "$(mailq_of "$T/ok.conf" | sed '/^-Failed/,$d')" "$id" "--requeue: mailq lists it in the queue again"
sm "$T/ok.conf" -q
smtp_wait "$T/ok" 1
env_is "--requeue then -q: delivered" "$T/ok/0001.env" alice@example.org bad@example.net
exp bounced bad@example.net >"$T/b.exp"
check_gen "--requeue then -q" "$T/ok/0001.msg" "$T/b.exp"
sm "$T/ok.conf" --requeue no-such-id
is "$LAST_STATUS" 66 "--requeue of an unknown id: exit 66"

# a hand-over to the kept connection whose caller is gone: the refusal is bounced
QDIR=$T/qh CONF_TOP='connection_cache = 30' write_conf "$T/h.conf" "$R" 'tls = "none"' \
	'from = "alice@example.org"'
"$SENDMAIL" -C "$T/h.conf" -i ok@example.net <"$T/b.in"
SOCK=$T/qh/tmp/.conn.$(id -u).default
wait_for "[ -S '$SOCK' ]" 10 && pass "hand-over: a keeper holds the connection" ||
	fail "hand-over: a keeper holds the connection"
"$SENDMAIL" -C "$T/h.conf" -odq -i bad@example.net <"$T/b.in"
qid=$(basename "$(ls "$T"/qh/*.env | head -n 1)" .env)
n=$(smtp_count "$T/r")
# a caller that hands the entry over and is gone before the answer (RST)
"$PY" - "$SOCK" "$T/h.conf" "$qid" <<'PY'
import os, socket, struct, sys
h = 14695981039346656037
for c in open(sys.argv[2], "rb").read():
    h = ((h ^ c) * 1099511628211) & 0xffffffffffffffff
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(b"POSTIE-CC1 %d:%016x %s\n" % (os.getuid(), h, sys.argv[3].encode()))
if s.recv(3) == b"GO\n":
    s.sendall(b"L\n")
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY
wait_for "grep -qs '^report bounce' '$T/qh/failed/$qid.env'" 10 &&
	pass "hand-over, caller gone: kept in failed/, a bounce due" ||
	fail "hand-over, caller gone: kept in failed/, a bounce due" "$(cat "$T/qh/failed/$qid.env" 2>&1)"
sm "$T/h.conf" -q
smtp_wait "$T/r" $((n + 1))
f=$T/r/$(printf %04d $((n + 1)))
env_is "hand-over, caller gone: the bounce" "$f.env" "<>" alice@example.org
"$PY" "$T/dsn.py" "$f.msg" "$T/h.hdr" >"$T/dsn" 2>&1
like "$(cat "$T/dsn")" "rcpt rfc822; bad@example\.net\|failed\|5\.1\.1" "hand-over, caller gone: the report names the recipient"

# queue lifetime reached: failed/ and a bounce with Status 4.4.7
QDIR=$T/ql CONF_TOP='queue_lifetime = 1' write_conf "$T/l-down.conf" "$DEAD" 'tls = "none"' \
	'from = "alice@example.org"'
QDIR=$T/ql CONF_TOP='queue_lifetime = 1' write_conf "$T/l.conf" "$R" 'tls = "none"' \
	'from = "alice@example.org"'
"$SENDMAIL" -C "$T/l-down.conf" -i ok@example.net <"$T/b.in"
sleep 2.2
n=$(smtp_count "$T/r")
sm "$T/l.conf" -q
smtp_wait "$T/r" $((n + 1))
f=$T/r/$(printf %04d $((n + 1)))
env_is "lifetime: a bounce to the sender" "$f.env" "<>" alice@example.org
"$PY" "$T/dsn.py" "$f.msg" "$T/l.hdr" >"$T/dsn" 2>&1
like "$(cat "$T/dsn")" "rcpt rfc822; ok@example\.net\|failed\|4\.4\.7\|X-Postie; given up" \
	"lifetime: Status 4.4.7, the reason given"

# failed_lifetime: failed/ entries go, logged
QDIR=$T/qb CONF_TOP="failed_lifetime = 1"$'\n'"log = \"$T/fl.log\"" write_conf "$T/fl.conf" "$R" \
	'tls = "none"' 'from = "alice@example.org"'
sed -i '0,/^log = "none"/{/^log = "none"/d}' "$T/fl.conf"
touch -d '1 minute ago' "$T"/qb/failed/*.env
sed -i 's/^failed [0-9]*/failed 1/' "$T"/qb/failed/*.env
sm "$T/fl.conf" -q
is "$(qn "$T/qb/failed")" 0 "failed_lifetime: the failed/ entries are removed"
like "$(cat "$T/fl.log")" "removed from failed/ after .*failed_lifetime" "failed_lifetime: logged"

# ------------------------------------------ never twice: EIO removing a sent entry
# (not under valgrind: its own unlink and rename calls would get the faults)
if command -v strace >/dev/null && [ "${POSTIE_SANITIZER:-}" != valgrind ]; then
	QDIR=$T/qe write_conf "$T/e.conf" "$S" 'user = "alice"' 'password = "secret"' \
		'from = "alice@example.org"'
	CONF_TOP='connection_cache = 0' QDIR=$T/qe write_conf "$T/e0.conf" "$DEAD" \
		'tls = "none"' 'from = "alice@example.org"'
	# one older entry waits, so that the send is followed by a queue run
	msg waiting w@example.net | "$SENDMAIL" -C "$T/e0.conf" -i w@example.net
	sed -i 's/^next [0-9]*/next 1/' "$T"/qe/*.env
	n=$(smtp_count "$T/s")
	msg twice t@example.net >"$T/t.in"
	# every unlink fails: the envelope is renamed ID.done instead
	traced strace -f -qq -o "$T/strace.log" -e trace=unlink -e inject=unlink:error=EIO \
		"$SENDMAIL" -C "$T/e.conf" -i t@example.net <"$T/t.in" 2>"$T/err"
	is "$?" 0 "EIO on unlink after the 250: exit 0"
	grep -q INJECTED "$T/strace.log" && pass "EIO on unlink: the fault fired" || fail "EIO on unlink: the fault fired"
	smtp_wait "$T/s" $((n + 2))
	sleep 0.3
	is "$(delivered "$T/s" twice)" 1 "EIO on unlink: sent once (the follow-up queue run does not send it again)"
	is "$(delivered "$T/s" waiting)" 1 "EIO on unlink: the waiting one went along"
	sm "$T/e.conf" -q
	is "$(delivered "$T/s" twice) $(delivered "$T/s" waiting)" "1 1" "EIO on unlink, then -q: still once each"
	is "$(find "$T/qe" -maxdepth 1 -type f | wc -l)" 0 "EIO on unlink, then -q: the marks are cleaned up"
	# unlink and rename fail: the process remembers it, and says so
	msg twice2 t@example.net >"$T/t2.in"
	msg waiting2 w@example.net | "$SENDMAIL" -C "$T/e0.conf" -i w@example.net
	sed -i 's/^next [0-9]*/next 1/' "$T"/qe/*.env
	n=$(smtp_count "$T/s")
	traced strace -f -qq -o "$T/strace.log" -e trace=unlink,rename -e inject=unlink:error=EIO \
		-e inject=rename:error=EIO:when=3+ \
		"$SENDMAIL" -C "$T/e.conf" -i t@example.net <"$T/t2.in" 2>"$T/err"
	is "$?" 0 "EIO on unlink and rename: exit 0"
	smtp_wait "$T/s" $((n + 2))
	sleep 0.3
	is "$(delivered "$T/s" twice2)" 1 "EIO on unlink and rename: the same process does not send it again"
	like "$(cat "$T/err")" "sent .*cannot remove .*remove it by hand" "EIO on unlink and rename: the failure is reported"
else
	skip "never twice" "needs strace, and no valgrind"
fi

# --------------------------------------- a queue file that cannot be read (EIO)
# Not the message's fault (PX_IOERR, this host): it stays queued, the reason
# shown, tried again; nothing half-sent; queue_lifetime still ends it.
if command -v strace >/dev/null; then
	start_smtpd "$T/rd" --plain || bail_out "smtpd 4"
	QDIR=$T/qr write_conf "$T/rd.conf" "$SMTP_PORT" 'tls = "none"' 'from = "alice@example.org"'
	msg unreadable bob@example.net | "$SENDMAIL" -C "$T/rd.conf" -odq -i bob@example.net
	f=$(ls "$T"/qr/*.msg)
	id=$(basename "$f" .msg)
	# rd_q WHEN: sendmail -q with EIO at reads of the queue file from the WHEN-th on
	rd_q() {
		traced strace -f -qq -o "$T/strace.log" -P "$f" -e trace=pread64 \
			-e inject=pread64:error=EIO:when="$1" "$SENDMAIL" -C "$T/rd.conf" -q 2>"$T/err"
	}
	for when in 1+ 2+; do
		case $when in 1+) what="before the transaction" ;; *) what="in the middle of DATA" ;; esac
		rd_q "$when"
		is "$?" 0 "EIO reading the queue file $what: -q exit 0"
		grep -q INJECTED "$T/strace.log" && pass "EIO $what: the fault fired" ||
			fail "EIO $what: the fault fired"
		like "$(cat "$T/err")" "$id: kept in the queue: cannot read queue file $id: Input/output error; a failure on this host" \
			"EIO $what: one line, the reason"
		is "$(qn "$T/qr") $(qn "$T/qr/failed") $(smtp_count "$T/rd")" "1 0 0" \
			"EIO $what: still queued, not failed, nothing sent (no final dot)"
		like "$(mailq_of "$T/rd.conf")" "$id.*"$'\n'".*cannot read queue file $id: Input/output error;.*attempt" \
			"EIO $what: mailq shows the reason"
		sed -i 's/^next [0-9]*/next 1/' "$T/qr/$id.env"
	done
	# the second case: the message read once (the scan), then failed while it streamed after 354
	is "$(grep -c 'pread64' "$T/strace.log") $(grep -c 'pread64.*INJECTED' "$T/strace.log")" "2 1" \
		"EIO in the middle of DATA: the fault came while the data went out"
	sm "$T/rd.conf" -q
	smtp_wait "$T/rd" 1
	is "$(delivered "$T/rd" unreadable) $(qn "$T/qr")" "1 0" "the file readable again, -q: delivered once"
	# for ever unreadable: queue_lifetime gives it up (failed/, a bounce from its copy)
	msg unreadable2 bob@example.net | "$SENDMAIL" -C "$T/rd.conf" -odq -i bob@example.net
	f=$(ls "$T"/qr/*.msg)
	id=$(basename "$f" .msg)
	rd_q 1+
	sed -i 's/^created [0-9]*/created 1/; s/^next [0-9]*/next 1/' "$T/qr/$id.env"
	rd_q 1+
	is "$(qn "$T/qr") $(qn "$T/qr/failed")" "0 1" "unreadable past queue_lifetime: given up into failed/"
	like "$(sed -n '/^-Failed/,$p' <<<"$(mailq_of "$T/rd.conf")")" "given up after [0-9]+ days in the queue; last error: cannot read queue file $id: Input/output error" \
		"unreadable past queue_lifetime: mailq shows why"
	smtp_wait "$T/rd" 2
	env_is "unreadable past queue_lifetime: its sender gets a bounce" "$T/rd/0002.env" "<>" alice@example.org
else
	skip "a queue file that cannot be read" "needs strace"
fi

# ------------------------------------------------ what a kill leaves behind
if command -v strace >/dev/null && [ "${POSTIE_SANITIZER:-}" != valgrind ]; then
	QDIR=$T/qk write_conf "$T/k.conf" "$DEAD" 'tls = "none"' 'from = "alice@example.org"'
	msg killed k@example.net >"$T/k.in"
	# the second rename is the envelope's: killed with ID.env.tmpPID written
	{ traced strace -f -qq -o "$T/strace.log" -e trace=rename -e inject=rename:signal=KILL:when=2 \
		"$SENDMAIL" -C "$T/k.conf" -i k@example.net <"$T/k.in"; } 2>/dev/null
	is "$?" 137 "killed before the envelope's rename"
	ls "$T"/qk/tmp/*.env.tmp* >/dev/null 2>&1 && pass "the kill left ID.env.tmpPID" ||
		fail "the kill left ID.env.tmpPID"
	sm "$T/k.conf" -q
	is "$(find "$T/qk" "$T/qk/tmp" -maxdepth 1 -type f | wc -l)" 0 \
		"-q removes what the killed process left (its writer is gone)"
else
	skip "kill leftovers" "needs strace, and no valgrind"
fi

done_testing
