#!/bin/bash
# Issue 13, the shared spool of `make install-system`, as two throwaway users:
# queue entries belong to the user who submitted them.  A user sees and runs
# only their own (mailq, -q, -qI/-qR/-qS); root sees and runs all and keeps
# each entry's owner and mode; a runner never locks an entry it does not
# send, so a stopped runner of one user holds nothing of anyone else's; the
# -odb runner is per user; the connection keeper is per uid.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/system.sh"

make_certs "$T/certs"
start_smtpd "$T/smtp" --plain || bail_out "smtpd"
start_faultsmtp stall-greeting || bail_out "faultsmtp"
SLOW_PORT=$FAULT_PORT
SLOW=$FAULT_SPOOL
# write_system_conf [CONNECTION_CACHE]: accounts "default" (smtpd), "slow"
# (never greets), "down" (nothing listens).
write_system_conf() {
	SYS_LOG=$LOGF SYS_CACHE=${1:-0} put_conf "timeout = 20
smtp \"default\" { host = \"127.0.0.1\" port = $SMTP_PORT tls = \"none\" }
smtp \"slow\" { host = \"127.0.0.1\" port = $SLOW_PORT tls = \"none\" }
smtp \"down\" { host = \"127.0.0.1\" port = 1 tls = \"none\" }"
}
write_system_conf
N=0

# queue U ACCOUNT RCPT [ARGS]: user U queues a message (-odq); prints its id.
queue() {
	local u=$1 acct=$2 rcpt=$3 before
	shift 3
	before=$(spool_ids)
	printf 'Subject: from %s\nBcc: hidden-%s@example.org\n\nwords of %s\n' "$u" "$u" "$u" |
		as "$u" "$SM" -odq -a "$acct" -t -i "$rcpt" "$@" || return 1
	comm -13 <(echo "$before") <(spool_ids)
}

# ------------------------------------- Received: and the log name the user
printf 'From: The Boss <boss@example.org>\nSubject: forged\n\nbody\n' >"$H1/forged"
chown "$U1" "$H1/forged"
as "$U1" "$SM" -i -f boss@example.org one@example.org <"$H1/forged" 2>"$T/err"
is "$?" 0 "user one sends with -f and From: of someone else"
unlike "$(cat "$T/err")" "log file" "no complaint about the log file"
N=$((N + 1))
if smtp_wait "$T/smtp" "$N" 10; then
	m=$T/smtp/$(printf %04d "$N").msg
	like "$(head -1 "$m")" "^Received: from $U1 \\(uid $UID1\\)"$'\r$' "the first field names the user and uid"
	like "$(sed -n 2p "$m")" $'^\tby [^ ]+ \\(Postie\\) id [^ ;]+;\r$' "by this host, with the queue id"
	is "$(grep -c '^Received:' "$m")" 1 "one Received: field"
else
	fail "the forged message arrived"
fi
like "$(grep 'status=sent' "$LOGF" | tail -1)" "uid=$UID1 account=default .*from=<boss@example.org>" \
	"the log line (in the group's log file) names the uid"
printf 'Subject: two\n\nbody\n' | as "$U2" "$SM" -i two@example.org 2>"$T/err"
N=$((N + 1))
unlike "$(cat "$T/err")" "log file" "user two: no complaint about the log file"
is "$(grep -c "uid=$UID2 .*status=sent" "$LOGF")" 1 "user two's send is logged too"
like "$(stat -c '%U %G %a' "$LOGF")" "^root $GRP 620\$" "the log file: root:$GRP 0620, users cannot read it"
as "$U1" cat "$LOGF" >/dev/null 2>&1
is "$?" 1 "user one cannot read the log"
smtp_wait "$T/smtp" "$N" 10
# A log file the group cannot write (made by root's first send, say): said how to mend.
install -m 0600 /dev/null "$T/log/root-only.log"
sed -i "s|^log = .*|log = \"$T/log/root-only.log\"|" "$CONF"
printf 'Subject: two\n\nbody\n' | as "$U2" "$SM" -i two@example.org 2>"$T/err"
is "$?" 0 "a log file the group cannot write: the message is still sent"
like "$(cat "$T/err")" "cannot open the log file $T/log/root-only.log: Permission denied; logging to syslog instead \\(a setgid sendmail needs it writable by group $GRP: chgrp $GRP" \
	"one line: the file, syslog instead, the fix"
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10
write_system_conf

# ------------------------------------------------------------- mailq, -q, -qI
a1=$(queue "$U1" default one@example.org)
a2=$(queue "$U2" default two@example.org)
[ -n "$a1" ] && [ -n "$a2" ] || bail_out "queueing failed"
is "$(grep '^uid ' "$SPOOL/$a1.env")" "uid $UID1" "the envelope records the submitter's uid"
like "$(stat -c '%U %G %a' "$SPOOL/$a1.env" "$SPOOL/$a1.msg" | sort -u)" "^$U1 $GRP 640\$" \
	"the entry's files: the submitter's, in the group, 0640"

q1=$(as "$U1" "$MAILQ")
like "$q1" "$a1" "mailq as user one: its own entry"
unlike "$q1" "$a2|two@example.org|hidden-$U2|$U2" "mailq as user one: nothing of user two's (id, recipients, Bcc, sender)"
like "$q1" "in 1 Request" "mailq as user one: one entry counted"
q2=$(as "$U2" "$SM" -bp)
like "$q2" "$a2" "mailq as user two: its own entry"
unlike "$q2" "$a1|one@example.org|hidden-$U1" "mailq as user two: nothing of user one's"
q0=$("$MAILQ")
like "$q0" "$a1" "mailq as root: user one's entry" && like "$q0" "$a2" "mailq as root: user two's entry"

# -qI with another user's id, -qR/-qS matching another user's entry: nothing.
as "$U1" "$SM" -qI "$a2" 2>"$T/err"
is "$?" 0 "user one: sendmail -qI <user two's id> exits 0"
as "$U1" "$SM" -qR two@example.org 2>>"$T/err"
as "$U1" "$SM" -qS "$U2" 2>>"$T/err"
is "$(smtp_count "$T/smtp")" "$N" "user one's -qI/-qR/-qS sent nothing of user two's"
is "$(spool_ids | tr '\n' ' ')" "$(printf '%s\n' "$a1" "$a2" | sort | tr '\n' ' ')" "both entries still queued"

# A runner locks only what it sends: user one's -q under strace (as root, so
# the setgid bit holds) reads user two's envelope (whose is it?) and nothing
# else of it.
if command -v strace >/dev/null; then
	strace -f -u "$U1" -e trace=openat,flock -o "$T/strace" "$SM" -q 2>/dev/null
	is "$?" 0 "user one: sendmail -q (traced)"
	is "$(grep -c "$a2.msg" "$T/strace")" 0 "user one's queue run never opened or locked user two's message"
	unlike "$(grep "$a2" "$T/strace")" "O_RDWR|O_WRONLY" "it only read user two's envelope, to see whose it is"
	like "$(grep "$a1.msg" "$T/strace")" "openat" "it did open its own"
else
	skip "strace" "no strace"
fi
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && is "$(head -1 "$T/smtp/$(printf %04d "$N").env")" "$U1@example.org" \
	"user one's -q sent user one's message" || fail "user one's message was sent"
is "$(spool_ids)" "$a2" "user two's entry waits for user two or root"
as "$U2" "$SM" -q
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && pass "user two's -q sends user two's" || fail "user two's -q sends user two's"
is "$(spool_ids)" "" "the queue is empty"

# A garbled uid (a hostile or broken envelope) makes the entry root's alone.
g1=$(queue "$U1" down one@example.org)
for bad in "uid -5" "uid 1x" "uid 4294967295" "uid " "uid 99999999999999999999"; do
	content=$(sed "s/^uid .*/$bad/" "$SPOOL/$g1.env")
	printf '%s\n' "$content" >"$SPOOL/$g1.env"
	unlike "$(as "$U1" "$MAILQ")" "$g1" "envelope '$bad': not user one's"
done
like "$("$MAILQ")" "$g1" "root still sees it"
rm -f "$SPOOL/$g1".*

# ------------------------------------------------ a stopped runner holds nothing else
s1=$(queue "$U1" slow one@example.org)
s2=$(queue "$U2" slow two@example.org)
d2=$(queue "$U2" default two@example.org)
# user one asks for user two's slow entry: nothing to do, no connection made.
as "$U1" "$SM" -qI "$s2"
is "$?" 0 "user one's -qI <user two's slow entry> returns at once"
is "$(cat "$SLOW/connections" 2>/dev/null | wc -l)" 0 "and never connected to send it"
# user one's own slow entry: the runner hangs in the greeting; stop it there.
as_exec "$U1" "$SM" -qI "$s1" 2>/dev/null &
pid=$!
wait_for "ls -l /proc/$pid/fd 2>/dev/null | grep -q '$s1.msg'" 10 || fail "user one's runner took its entry"
wait_for "[ \$(cat '$SLOW/connections' 2>/dev/null | wc -l) -ge 1 ]" 10
kill -STOP "$pid"
for id in "$s2" "$d2"; do
	flock -n "$SPOOL/$id.msg" true && pass "the stopped runner does not hold ${id%%.*} (user two's)" ||
		fail "the stopped runner does not hold user two's $id"
done
# root's run: user two's default entry goes; user one's slow one is busy.
# (user two's slow entry makes root's run wait for the slow server's timeout.)
sed -i 's/^timeout = 20$/timeout = 2/' "$CONF"
check "root's sendmail -q finishes while user one's runner is stopped" "$SM" -q
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && pass "root's run sent user two's message" || fail "root's run sent user two's message"
[ -e "$SPOOL/$s1.env" ] && pass "user one's busy entry is left alone" || fail "user one's busy entry is left alone"
{ kill -KILL "$pid"; wait "$pid"; } 2>/dev/null

# ------------------------------------------- root's run keeps owner and mode
like "$(stat -c '%U %G %a' "$SPOOL/$s2.env")" "^$U2 $GRP 640\$" "root's deferral of user two's entry: still user two's, 0640"
like "$(grep '^attempts' "$SPOOL/$s2.env")" "attempts 1" "root's run recorded the attempt"
q2=$(as "$U2" "$MAILQ")
like "$q2" "$s2" "user two still sees it in mailq" && like "$q2" "1 attempt" "with the attempt"
as "$U2" "$SM" -qI "$s2"
like "$(grep '^attempts' "$SPOOL/$s2.env")" "attempts 2" "user two can still retry it"
# An entry root expires goes to failed/ as its owner's.
content=$(sed 's/^created .*/created 1000000000/' "$SPOOL/$s2.env")
printf '%s\n' "$content" >"$SPOOL/$s2.env"
"$SM" -qI "$s2" 2>/dev/null
like "$(stat -c '%U %G %a' "$SPOOL/failed/$s2.env" 2>&1)" "^$U2 $GRP 640\$" "expired by root: in failed/ as user two's, 0640"
like "$(as "$U2" "$MAILQ")" "$s2 *!" "user two sees it failed"
unlike "$(as "$U1" "$MAILQ")" "$s2" "user one does not"
# --requeue of another user's failed entry: refused without even a lock on it.
strace -f -u "$U1" -e trace=openat,flock -o "$T/strace.rq" "$SM" --requeue "$s2" 2>"$T/err"
is "$?" 77 "user one: --requeue <user two's failed entry>: exit 77"
like "$(cat "$T/err")" "not yours to send again" "said so"
is "$(grep -c "$s2.msg" "$T/strace.rq")" 0 "user one's --requeue never opened or locked it"
[ -e "$SPOOL/failed/$s2.env" ] && pass "it stays in failed/" || fail "it stays in failed/"
write_system_conf
rm -f "$SPOOL/$s1.env" "$SPOOL/$s1.msg" "$SPOOL/failed/$s2".*

# ------------------------------------------------------- -odb, per user
printf 'Subject: background\n\nbody\n' | as "$U1" "$SM" -odb -i one@example.org
is "$?" 0 "user one: -odb"
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && pass "user one's background send arrived" || fail "user one's background send arrived"
printf 'Subject: background\n\nbody\n' | as "$U2" "$SM" -odb -i two@example.org
is "$?" 0 "user two: -odb after user one's"
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && pass "user two's background send arrived too" || fail "user two's background send arrived too"
like "$(ls -a "$SPOOL/tmp")" ".runner.$UID1.default" "user one's runner lock"
like "$(ls -a "$SPOOL/tmp")" ".runner.$UID2.default" "user two's runner lock, its own"

# ----------------------------------------- the connection keeper, per uid
write_system_conf 30
printf 'Subject: keep\n\nbody\n' | as "$U1" "$SM" -i one@example.org
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 || fail "user one's send arrived"
wait_for "[ -S '$SPOOL/tmp/.conn.$UID1.default' ]" 5 && pass "user one's keeper listens on its own socket" ||
	fail "user one's keeper listens on its own socket"
conns=$(wc -l <"$T/smtp/connections")
printf 'Subject: keep\n\nbody\n' | as "$U2" "$SM" -i two@example.org
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 || fail "user two's send arrived"
is "$(wc -l <"$T/smtp/connections")" $((conns + 1)) "user two's send used its own connection, not user one's"
stop_holders "$SPOOL"
write_system_conf

# ----------------------------------------- a saved message stays its owner's
# A user's message saved while the file is broken; root's queue run notes a
# new reason (the file mended, but no account "work" yet): saved/ID.args is
# rewritten and must stay the user's (it was root's: gone from the user's
# mailq, then sent as root).
SYS_LOG=$LOGF put_conf 'timeout = "abc"'
printf 'Subject: saved-owner\n\nbody\n' | as "$U1" "$SM" -a work -i one@example.org 2>"$T/err"
is "$?" 75 "user one, broken file: the message saved (75)"
sid=$(ls "$SPOOL/saved" | sed -n 's/\.args$//p' | head -n 1)
[ -n "$sid" ] || fail "a saved entry"
write_system_conf
"$SM" -q 2>/dev/null
is "$(stat -c %u "$SPOOL/saved/$sid.args")" "$UID1" "root's run rewrote the saved entry: still user one's"
like "$(as "$U1" "$MAILQ")" "$sid" "user one's mailq still shows it"
SYS_LOG=$LOGF put_conf "timeout = 20
smtp \"work\" { host = \"127.0.0.1\" port = $SMTP_PORT tls = \"none\" }"
"$SM" -q 2>/dev/null
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && pass "the account added: root's run sends it" || fail "the account added: root's run sends it"
last=$(ls "$T/smtp"/[0-9]*.msg | tail -n 1)
like "$(cat "$last")" "from $U1 \\(uid $UID1\\)" "sent as user one (Received), not as root"
unlike "$(head -n 1 "${last%.msg}.env")" "^root@" "the envelope sender is not root"
write_system_conf

done_testing
