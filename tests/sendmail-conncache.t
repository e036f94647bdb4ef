#!/bin/bash
# The connection cache (connection_cache in postie.conf): after a successful
# send, a process keeps the SMTP connection open for the next sendmail of the
# same user, configuration and account, which hands its queued message over
# and reports the outcome as if it had sent it.  What it must never do: lose
# a message, send it with another configuration, or outlive its idle time.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"

PW='s3cret-Pw'
start_smtpd "$T/s" --starttls --auth "alice:$PW" --require-auth \
	--reject-rcpt nobody@example.net --tempfail-rcpt later@example.net || bail_out "smtpd"
S_PORT=$SMTP_PORT S_PID=$SMTP_PID
CONF_TOP='log = "stderr"' write_conf "$T/c.conf" "$S_PORT" 'tls = "starttls"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"'
sed -i 's/^log = "none"$//' "$T/c.conf"
SOCK=$T/queue/tmp/.conn.$(id -u).default LOCK=$SOCK.lock

# holder_alive: a process holds the lock (and so the connection).
holder_alive() { [ -f "$LOCK" ] && ! flock -n "$LOCK" true; }
holder_pid() { head -n 1 "$LOCK" 2>/dev/null; }
msg() { printf 'From: Alice <alice@example.org>\nTo: %s\nSubject: number %s\n\nbody %s\n' "$2" "$1" "$1"; }
expected() { crlf "From: Alice <alice@example.org>" "To: $2" "Subject: number $1" "" "body $1"; }

# ------------------------------------------------ 20 sends, one connection
rcs= errs=0
for i in $(seq 1 20); do
	msg "$i" "r$i@example.net" | "$SENDMAIL" -C "$T/c.conf" -i "r$i@example.net" 2>"$T/err.$i"
	rcs="$rcs$?"
	grep -q "to=<r$i@example.net>.*status=sent" "$T/err.$i" || errs=$((errs + 1))
done
is "$rcs" "$(printf '0%.0s' $(seq 1 20))" "20 sends in a row: every sendmail exits 0"
is "$(smtp_count "$T/s")" 20 "20 sends: all 20 on the server when each sendmail has exited"
is "$(wc -l <"$T/s/connections")" 1 "20 sends: one connection"
is "$(wc -l <"$T/s/auths")" 1 "20 sends: one login"
is "$errs" 0 "20 sends: each sendmail's stderr has its own log line (log = \"stderr\")"
bad=
for i in $(seq 1 20); do
	f=$(grep -l "^r$i@example.net\$" "$T"/s/*.env | head -n 1)
	[ -n "$f" ] || { bad="$bad r$i(missing)"; continue; }
	[ "$(head -n 1 "$f")" = alice@example.org ] || bad="$bad r$i(sender)"
	expected "$i" "r$i@example.net" >"$T/exp"
	"$PY" "$T/strip.py" "${f%.env}.msg" "$T/got" Date Message-ID >/dev/null
	cmp -s "$T/got" "$T/exp" || bad="$bad r$i(bytes)"
done
is "$bad" "" "20 sends: each message byte for byte, with its envelope"
is "$("$SENDMAIL" -C "$T/c.conf" -bp)" "Mail queue is empty" "20 sends: the queue is empty"
holder_alive && pass "a process keeps the connection" || fail "a process keeps the connection"
[ -S "$SOCK" ] && pass "it listens in the queue's tmp/" || fail "it listens in the queue's tmp/"
like "$(stat -c %a "$SOCK")" '^[0-7]00$' "its socket is the user's only"

# ------------------------------------- refusals come back to the caller
msg x nobody@example.net | "$SENDMAIL" -C "$T/c.conf" -i nobody@example.net 2>"$T/err"
is "$?" 67 "a refused recipient through the kept connection: exit 67"
like "$(cat "$T/err")" "nobody@example\.net.*550" "a refused recipient: the server's reply on stderr"
is "$("$SENDMAIL" -C "$T/c.conf" -bp | head -n 1)" "Mail queue is empty" "a refused recipient: not queued (the caller was told)"
like "$("$SENDMAIL" -C "$T/c.conf" -bp)" "-Failed.*nobody@example\.net" "a refused recipient: a copy in failed/ (issue 12)"
wait_for "! holder_alive" 10
holder_alive && fail "after a refusal the connection is closed" || pass "after a refusal the connection is closed"
n=$(smtp_count "$T/s")
msg y r21@example.net | "$SENDMAIL" -C "$T/c.conf" -i r21@example.net 2>/dev/null
is "$?" 0 "the next send opens a new connection: exit 0"
is "$(smtp_count "$T/s")" $((n + 1)) "the next send: delivered"
is "$(wc -l <"$T/s/connections")" 2 "the next send: a second connection"
holder_alive && pass "the new connection is kept" || fail "the new connection is kept"

msg t later@example.net | "$SENDMAIL" -C "$T/c.conf" -i later@example.net 2>"$T/err"
is "$?" 0 "a temporarily refused recipient through the kept connection: exit 0"
like "$("$SENDMAIL" -C "$T/c.conf" -bp)" "later@example\.net" "a temporarily refused recipient: kept in the queue"
"$SENDMAIL" -C "$T/c.conf" -bp 2>/dev/null | grep -q later && rm -f "$T"/queue/*.env "$T"/queue/*.msg
wait_for "! holder_alive" 10

# ------------------------------------------------ another configuration
start_smtpd "$T/other" --plain || bail_out "smtpd --plain"
O_PORT=$SMTP_PORT
msg a r22@example.net | "$SENDMAIL" -C "$T/c.conf" -i r22@example.net 2>/dev/null
holder_alive && pass "kept again" || fail "kept again"
pid=$(holder_pid)
write_conf "$T/o.conf" "$O_PORT" 'tls = "none"' 'from = "alice@example.org"'
n=$(smtp_count "$T/s")
for i in 1 2 3; do
	msg "o$i" "o$i@example.net" | "$SENDMAIL" -C "$T/o.conf" -i "o$i@example.net" 2>/dev/null || echo "rc $?"
done >"$T/out"
is "$(cat "$T/out")" "" "another configuration, same queue and account: exit 0"
is "$(smtp_count "$T/other")" 3 "another configuration: sent to its own server"
is "$(smtp_count "$T/s")" "$n" "another configuration: nothing through the kept connection"
is "$(holder_pid)" "$pid" "another configuration: the first process still holds its connection"
# the same file, rewritten with one byte changed (same size, maybe same mtime)
sed "s/$O_PORT/$S_PORT/" "$T/o.conf" >"$T/o2.conf"
cp "$T/c.conf" "$T/c2.conf"
sed -i "s/$PW/${PW%?}X/" "$T/c.conf"
msg b r23@example.net | "$SENDMAIL" -C "$T/c.conf" -i r23@example.net 2>"$T/err"
is "$?" 0 "the same file with another password: its own (refused) login, the message kept (exit 0, issue 12)"
like "$("$SENDMAIL" -C "$T/c.conf" -bp)" "r23@example\.net" "the refused login: the message waits in the queue"
cp "$T/c2.conf" "$T/c.conf"
c0=$(wc -l <"$T/s/connections")
msg c r24@example.net | "$SENDMAIL" -C "$T/c.conf" -i r24@example.net 2>/dev/null
is "$?" 0 "the file as it was: exit 0"
is "$(smtp_count "$T/s")" $((n + 1)) "the file as it was: delivered"
is "$(wc -l <"$T/s/connections")" "$c0" "the file as it was: over the kept connection"

# ------------------------------------------------------------ -v, off
msg v r25@example.net | "$SENDMAIL" -C "$T/c.conf" -v -i r25@example.net 2>"$T/err"
is "$?" 0 "-v: exit 0"
like "$(cat "$T/err")" "> RCPT TO:<r25@example.net>" "-v: the dialogue is this process's own"
is "$(wc -l <"$T/s/connections")" $((c0 + 1)) "-v: its own connection"
stop_holders
holder_alive && fail "SIGTERM: the process ends" || pass "SIGTERM: the process ends"
[ -e "$SOCK" ] && fail "SIGTERM: the socket is removed" || pass "SIGTERM: the socket is removed"
like "$(tail -n 1 "$T/s/log")" "QUIT" "SIGTERM: the connection ends with QUIT"

CONF_TOP='connection_cache = 0' write_conf "$T/off.conf" "$S_PORT" 'tls = "starttls"' \
	'user = "alice"' "password = \"$PW\"" 'from = "alice@example.org"'
c0=$(wc -l <"$T/s/connections")
for i in 1 2 3; do msg "off$i" "off$i@example.net" | "$SENDMAIL" -C "$T/off.conf" -i "off$i@example.net"; done
is "$(wc -l <"$T/s/connections")" $((c0 + 3)) "connection_cache = 0: one connection per sendmail"
holder_alive && fail "connection_cache = 0: nothing kept" || pass "connection_cache = 0: nothing kept"

# ------------------------------------------------- idle time, dead server
CONF_TOP='connection_cache = 1' write_conf "$T/c1.conf" "$S_PORT" 'tls = "starttls"' \
	'user = "alice"' "password = \"$PW\"" 'from = "alice@example.org"'
msg i r26@example.net | "$SENDMAIL" -C "$T/c1.conf" -i r26@example.net 2>/dev/null
holder_alive && pass "connection_cache = 1: kept" || fail "connection_cache = 1: kept"
wait_for "! holder_alive" 5
holder_alive && fail "connection_cache = 1: gone after a second idle" ||
	pass "connection_cache = 1: gone after a second idle"
[ -e "$SOCK" ] && fail "idle end: the socket is removed" || pass "idle end: the socket is removed"

msg k r27@example.net | "$SENDMAIL" -C "$T/c.conf" -i r27@example.net 2>/dev/null
holder_alive && pass "kept before the server dies" || fail "kept before the server dies"
pid=$(holder_pid)
n=$(smtp_count "$T/s")
stop_server "$S_PID"
msg d dead@example.net | "$SENDMAIL" -C "$T/c.conf" -i dead@example.net 2>"$T/err"
is "$?" 0 "the server died meanwhile: exit 0"
like "$("$SENDMAIL" -C "$T/c.conf" -bp)" "dead@example\.net" "the server died meanwhile: the message is queued"
wait_for "! holder_alive" 10
holder_alive && fail "the server died meanwhile: the keeper ends" || pass "the server died meanwhile: the keeper ends"
start_smtpd "$T/s" --starttls --auth "alice:$PW" --require-auth --port "$S_PORT" || bail_out "smtpd again"
"$SENDMAIL" -C "$T/c.conf" -q 2>/dev/null
is "$(smtp_count "$T/s")" $((n + 2)) "server back: -q sends the queued messages (and the one of the refused login)"
grep -q "^dead@example.net\$" "$T"/s/*.env && pass "server back: to its recipient" ||
	fail "server back: to its recipient"

# A server whose idle timeout is shorter than connection_cache closes the
# kept connection: the next message goes out at once over a new one, not
# left in the queue for a later run (issue 12).
start_smtpd "$T/short" --starttls --auth "alice:$PW" --require-auth --timeout 1 ||
	bail_out "smtpd --timeout 1"
QDIR=$T/q-short CONF_TOP='connection_cache = 30' write_conf "$T/short.conf" "$SMTP_PORT" \
	'tls = "starttls"' 'user = "alice"' "password = \"$PW\"" 'from = "alice@example.org"'
SHORT_LOCK=$T/q-short/tmp/.conn.$(id -u).default.lock
msg s1 s1@example.net | "$SENDMAIL" -C "$T/short.conf" -i s1@example.net 2>/dev/null
[ -f "$SHORT_LOCK" ] && ! flock -n "$SHORT_LOCK" true && pass "short server timeout: kept" ||
	fail "short server timeout: kept"
sleep 2.5	# the server closes the idle connection after 1 s
msg s2 s2@example.net | "$SENDMAIL" -C "$T/short.conf" -i s2@example.net 2>"$T/err"
is "$?" 0 "the server closed the kept connection: exit 0"
is "$(smtp_count "$T/short")" 2 "the server closed the kept connection: delivered at once"
is "$("$SENDMAIL" -C "$T/short.conf" -bp)" "Mail queue is empty" "...and nothing left in the queue"
is "$(wc -l <"$T/short/connections")" 2 "...over a new connection"
grep -q "^s2@example.net\$" "$T"/short/*.env && pass "...to its recipient" || fail "...to its recipient"
stop_server "$SMTP_PID"

# a keeper killed with SIGKILL leaves its socket: the next sendmail works alone
msg k2 r28@example.net | "$SENDMAIL" -C "$T/c.conf" -i r28@example.net 2>/dev/null
holder_alive && pass "kept" || fail "kept"
kill -KILL "$(holder_pid)"
wait_for "! holder_alive" 5
[ -S "$SOCK" ] && pass "SIGKILL: the socket stays behind" || fail "SIGKILL: the socket stays behind"
n=$(smtp_count "$T/s")
msg k3 r29@example.net | "$SENDMAIL" -C "$T/c.conf" -i r29@example.net 2>"$T/err"
is "$?" 0 "stale socket: exit 0"
is "$(smtp_count "$T/s")" $((n + 1)) "stale socket: delivered"
like "$(cat "$T/err")" "^[^"$'\n'"]*to=<r29@example\.net>[^"$'\n'"]*status=sent[^"$'\n'"]*\$" "stale socket: one log line, nothing else on stderr"
holder_alive && pass "stale socket: replaced by a new keeper" || fail "stale socket: replaced by a new keeper"

# ------------------------------------------------- what the keeper refuses
# A raw client: REQUEST over the socket, then "L" after "GO"; prints the replies.
cat >"$T/raw.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
first = s.recv(3)
out = first.decode()
if first == b"GO\n":
    s.sendall(b"L\n")
    while True:
        b = s.recv(4096)
        if not b:
            break
        out += b.decode()
print(repr(out))
PY
ident() { # the configuration identity: uid and FNV-1a 64 of the file
	"$PY" -c '
import os, sys
h = 14695981039346656037
for c in open(sys.argv[1], "rb").read():
    h = ((h ^ c) * 1099511628211) & 0xffffffffffffffff
print("%d:%016x" % (os.getuid(), h))' "$1"
}
msg r r31@example.net | "$SENDMAIL" -C "$T/c.conf" -i r31@example.net 2>/dev/null
holder_alive && pass "kept for the refusal checks" || fail "kept for the refusal checks"
msg o other@example.net | "$SENDMAIL" -C "$T/c.conf" -odq -i other@example.net 2>/dev/null
qid=$(basename "$(ls "$T"/queue/*.env | head -n 1)" .env)
chown nobody "$T/queue/$qid.msg"
n=$(smtp_count "$T/s")
is "$("$PY" "$T/raw.py" "$SOCK" "POSTIE-CC1 $(ident "$T/c.conf") $qid")" "'GO\n'" \
	"another user's queue entry: no answer after GO"
is "$(smtp_count "$T/s")" "$n" "another user's queue entry: not sent"
like "$("$SENDMAIL" -C "$T/c.conf" -bp)" "other@example\.net" "another user's queue entry: still queued"
is "$("$PY" "$T/raw.py" "$SOCK" "POSTIE-CC1 0:0123456789abcdef $qid")" "'NO\n'" \
	"another configuration's request: NO"
is "$("$PY" "$T/raw.py" "$SOCK" "POSTIE-CC1 $(ident "$T/c.conf") ../../etc/passwd")" "'NO\n'" \
	"a queue id with a slash: NO"
chown root "$T/queue/$qid.msg"
"$SENDMAIL" -C "$T/c.conf" -q 2>/dev/null
is "$(smtp_count "$T/s")" $((n + 1)) "the entry itself is fine: -q sends it"

# A keeper that fails the caller after all: it says GO (the caller lets go of
# its entry) and closes without an answer, or it says NO.  The caller must
# send the message itself, once.
cat >"$T/fakekeeper.py" <<'PY'
import os, socket, sys
path, mode, ready = sys.argv[1:4]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
s.settimeout(20)
open(ready, "w").close()
c, _ = s.accept()
c.settimeout(20)
c.recv(1024)
if mode == "no":
    c.sendall(b"NO\n")
else:
    c.sendall(b"GO\n")
    c.recv(16)
c.close()
PY
for mode in go-close no; do
	stop_holders
	rm -f "$T/fk.ready"
	"$PY" "$T/fakekeeper.py" "$SOCK" "$mode" "$T/fk.ready" &
	fk=$!
	wait_for "[ -e '$T/fk.ready' ]" 10
	n=$(smtp_count "$T/s")
	msg "$mode" "fk-$mode@example.net" | "$SENDMAIL" -C "$T/c.conf" -i "fk-$mode@example.net" 2>/dev/null
	is "$?" 0 "a keeper that answers $mode: exit 0"
	wait "$fk"
	is "$?" 0 "a keeper that answers $mode: the caller did hand the message to it"
	is "$(smtp_count "$T/s")" $((n + 1)) "a keeper that answers $mode: sent by sendmail itself"
	is "$(grep -l "^fk-$mode@example.net\$" "$T"/s/*.env | wc -l)" 1 "a keeper that answers $mode: once"
	is "$("$SENDMAIL" -C "$T/c.conf" -bp | head -n 1)" "Mail queue is empty" "a keeper that answers $mode: nothing left queued"
done

# ------------------------------------------------------------ concurrency
n=$(smtp_count "$T/s")
pids=()
for i in $(seq 1 12); do
	(msg "p$i" "p$i@example.net" | "$SENDMAIL" -C "$T/c.conf" -i "p$i@example.net" 2>/dev/null
	 echo "$?" >"$T/rc.p$i") &
	pids+=($!)
done
wait "${pids[@]}"
is "$(cat "$T"/rc.p* | sort -u)" 0 "12 at once: every sendmail exits 0"
is "$(smtp_count "$T/s")" $((n + 12)) "12 at once: all delivered"
is "$("$SENDMAIL" -C "$T/c.conf" -bp | head -n 1)" "Mail queue is empty" "12 at once: the queue is empty"
dups=$(cat "$T"/s/*.env | grep '^p[0-9]*@' | sort | uniq -d)
is "$dups" "" "12 at once: none sent twice"

# a caller that keeps stdout and stderr open and waits for EOF is not held up
stop_holders
out=$(msg e r30@example.net | "$SENDMAIL" -C "$T/c2.conf" -i r30@example.net 2>&1; echo "rc=$?")
like "$out" "status=sent.*"$'\n'"rc=0\$" "\$(sendmail ...) returns while a connection is kept"
holder_alive && pass "\$(sendmail ...): the connection is kept" || fail "\$(sendmail ...): the connection is kept"
# nor one that waits for EOF on another descriptor it gave sendmail
stop_holders
mkfifo "$T/fifo"
( timeout 3 cat "$T/fifo" >/dev/null; echo "$?" >"$T/fifo.rc" ) &
reader=$!
msg f r32@example.net | "$SENDMAIL" -C "$T/c2.conf" -i r32@example.net 7>"$T/fifo" 2>/dev/null
wait "$reader"
is "$(cat "$T/fifo.rc")" 0 "a descriptor the caller passed is closed by the keeper (EOF at once)"
holder_alive && pass "fd 7: the connection is kept" || fail "fd 7: the connection is kept"
stop_holders
done_testing
