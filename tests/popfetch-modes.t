#!/bin/bash
# popfetch: delete and keep modes, only_new, max_size, max_messages, the
# account lock, several accounts at once, the log line, and the daemon with
# its signals.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

start_dovecot alice:secret bob:hunter2 || bail_out "cannot start dovecot"
msg() { printf 'From: s%s@example.com\nSubject: message %s\nMessage-ID: <%s@test>\n\nbody of %s\n' "$1" "$1" "$1" "$1" >"$T/m$1"; pop3_put "${2:-alice}" "$T/m$1"; }

# ---- delete mode
for i in 1 2 3; do msg $i; done
pf_conf "$T/conf" "# delete mode"
sed -i 's|^log = "none"|log = "'"$T"'/pf.log"|' "$T/conf"
check "delete mode" "$POPFETCH" -C "$T/conf"
is "$(mbox_count "$T/mbox")" 3 "three messages in the mbox"
is "$(pop3_count alice)" 0 "delete mode empties the server"
like "$(cat "$T/pf.log")" 'popfetch\[[0-9]+\]: account=inbox host=localhost messages=3 bytes=[0-9]+ deleted=3 skipped=0 outcome=ok' \
	"one log line per poll: host, messages, bytes, outcome"
check "a poll with no mail" "$POPFETCH" -C "$T/conf"
is "$(cat "$T/last.err")" "" "no mail: exit 0 and silent"

# ---- keep mode: each message once over three polls, then only the new one
rm -f "$T/mbox"
for i in 4 5; do msg $i; done
for round in 1 2 3; do
	check "keep mode (-k), poll $round" "$POPFETCH" -C "$T/conf" -k
done
is "$(mbox_count "$T/mbox")" 2 "keep: each message fetched once over three polls"
is "$(pop3_count alice)" 2 "keep: the server still has them"
msg 6
check "keep mode after a new message" "$POPFETCH" -C "$T/conf" -k
is "$(mbox_count "$T/mbox")" 3 "keep: only the new message is fetched"
is "$(grep -c '^Subject: message 6$' "$T/mbox")" 1 "it is the new one"
pf_conf "$T/keep.conf" 'keep = true'
check "keep = true in the file" "$POPFETCH" -C "$T/keep.conf"
is "$(mbox_count "$T/mbox")" 3 "keep = true: nothing fetched twice"
check "delete mode after keep" "$POPFETCH" -C "$T/conf"
is "$(pop3_count alice)" 0 "messages fetched before are deleted..."
is "$(mbox_count "$T/mbox")" 3 "...without being fetched again"

# only_new = false refetches in keep mode
rm -f "$T/mbox"
msg 7
pf_conf "$T/all.conf" 'keep = true' 'only_new = false'
check "only_new = false, poll 1" "$POPFETCH" -C "$T/all.conf"
check "only_new = false, poll 2" "$POPFETCH" -C "$T/all.conf"
is "$(mbox_count "$T/mbox")" 2 "only_new = false: fetched at every poll"
check "clean up" "$POPFETCH" -C "$T/conf"

# ---- max_size and max_messages
rm -f "$T/mbox"
msg 8
{ printf 'From: big@example.com\nSubject: big\n\n'; head -c 300000 /dev/zero | tr '\0' 'b' | fold -w 76; } >"$T/big"
pop3_put alice "$T/big"
msg 9
pf_conf "$T/size.conf" 'max_size = 100000'
check "max_size" "$POPFETCH" -C "$T/size.conf"
is "$(mbox_count "$T/mbox")" 2 "the small messages are fetched"
is "$(pop3_count alice)" 1 "max_size leaves the big one on the server"
unlike "$(cat "$T/mbox")" 'Subject: big' "the big one is not in the mbox"
check "-v says why a message is left" "$POPFETCH" -C "$T/size.conf" -v
like "$(cat "$T/last.err")" 'larger than max_size: left on the server' "max_size: logged"
check "clean up" "$POPFETCH" -C "$T/conf"

rm -f "$T/mbox"
for i in 10 11 12 13 14; do msg $i; done
pf_conf "$T/max.conf" 'max_messages = 2'
check "max_messages = 2" "$POPFETCH" -C "$T/max.conf"
is "$(mbox_count "$T/mbox"),$(pop3_count alice)" "2,3" "two fetched, three left"
check "max_messages = 2 again" "$POPFETCH" -C "$T/max.conf"
is "$(mbox_count "$T/mbox"),$(pop3_count alice)" "4,1" "two more"
check "clean up" "$POPFETCH" -C "$T/conf"

# ---- one popfetch per account
rm -f "$T/mbox"
msg 15
pf_conf "$T/slow.conf" "mda = \"sleep 2; cat >>$T/slow.out\""
"$POPFETCH" -C "$T/slow.conf" 2>"$T/slow.err" &
slow=$!
wait_for "[ -s '$T/state/postie/popfetch/inbox_alice@localhost.lock' ] && grep -q RETR '$T/dovecot/dovecot.log' 2>/dev/null || [ -n \"\$(pgrep -P $slow)\" ]" 10
check_status 75 "a second popfetch on the same account: exit 75" "$POPFETCH" -C "$T/slow.conf"
like "$(cat "$T/last.err")" "^popfetch: inbox: account is being polled by another popfetch \\(process $slow\\)" "it says which process holds the account"
wait "$slow"
is "$?" 0 "the first one finishes normally"
is "$(pop3_count alice)" 0 "and its message is delivered and deleted"

# ---- several accounts, polled in parallel; the worst exit code wins
msg 16 alice
msg 17 bob
cat >"$T/two.conf" <<EOC
log = "none"
max_parallel = 2
tls_ca_file = "$T/certs/ca.pem"
pop3 "a" {
  host = "localhost"
  port = $POP3_PORT
  user = "alice"
  password = "secret"
  mbox = "$T/mbox-a"
}
pop3 "b" {
  host = "localhost"
  port = $POP3S_PORT
  tls = "tls"
  user = "bob"
  password = "hunter2"
  mbox = "$T/mbox-b"
}
pop3 "c" {
  host = "localhost"
  port = $POP3_PORT
  user = "bob"
  password = "wrong"
  mbox = "$T/mbox-c"
}
EOC
chmod 600 "$T/two.conf"
check "two accounts named on the command line, in parallel" "$POPFETCH" -C "$T/two.conf" a b
is "$(mbox_count "$T/mbox-a"),$(mbox_count "$T/mbox-b")" "1,1" "each account into its own mbox"
is "$(pop3_count alice),$(pop3_count bob)" "0,0" "both emptied"
msg 18 alice
check_status 77 "all accounts, one with a wrong password: the worst exit code (77)" "$POPFETCH" -C "$T/two.conf"
is "$(mbox_count "$T/mbox-a")" 2 "the good account was still fetched"
like "$(cat "$T/last.err")" '^popfetch: c: localhost: authentication failed' "the bad one is reported by name"

# ---- daemon mode
rm -f "$T/mbox" "$T/pf.log"
msg 19
"$POPFETCH" -C "$T/conf" -d 1 2>"$T/d.err" &
dpid=$!
ok "$(wait_for "[ \$(grep -c 'outcome=ok' '$T/pf.log' 2>/dev/null) -ge 2 ]" 10; echo $?)" "-d 1 polls again after a second"
msg 20
ok "$(wait_for "[ \$(mbox_count '$T/mbox') -ge 2 ]" 10; echo $?)" "the daemon picks up new mail"
kill -TERM "$dpid"
ok "$(wait_for "! kill -0 $dpid 2>/dev/null" 5; echo $?)" "SIGTERM stops the daemon"
wait "$dpid"
is "$?" 0 "the daemon exits 0 after SIGTERM"
like "$(tail -n 1 "$T/pf.log")" 'stopped' "its last log line says it stopped"
is "$(cat "$T/d.err")" "" "nothing on stderr"

# SIGUSR1 polls now, SIGHUP re-reads the configuration
rm -f "$T/mbox" "$T/pf.log"
"$POPFETCH" -C "$T/conf" -d 3600 2>"$T/d.err" &
dpid=$!
wait_for "grep -q 'outcome=ok' '$T/pf.log' 2>/dev/null" 10
msg 21
kill -USR1 "$dpid"
ok "$(wait_for "[ \$(mbox_count '$T/mbox') -ge 1 ]" 10; echo $?)" "SIGUSR1 polls now"
sed -i "s|$T/mbox\"|$T/mbox-hup\"|" "$T/conf"
msg 22
kill -HUP "$dpid"
ok "$(wait_for "[ \$(mbox_count '$T/mbox-hup') -ge 1 ]" 10; echo $?)" "SIGHUP re-reads the configuration (new mbox used)"
like "$(cat "$T/pf.log")" 'configuration reloaded' "the reload is logged"
echo 'garbage {{{' >>"$T/conf"
kill -HUP "$dpid"
ok "$(wait_for "grep -q 'reload failed' '$T/pf.log'" 10; echo $?)" "a broken configuration on SIGHUP is refused..."
ok "$(kill -0 "$dpid"; echo $?)" "...and the daemon keeps running"
kill -INT "$dpid"
wait "$dpid"
is "$?" 0 "SIGINT stops the daemon cleanly"
sed -i '$d' "$T/conf"
sed -i "s|$T/mbox-hup\"|$T/mbox\"|" "$T/conf"

# SIGTERM in the middle of a poll: the message in hand is finished, then it stops.
rm -rf "$T/slowdir"
mkdir -p "$T/slowdir"
for i in 23 24 25; do msg $i; done
pf_conf "$T/slow2.conf" "mda = \"sleep 1; cat >$T/slowdir/\\\$\\\$\""
"$POPFETCH" -C "$T/slow2.conf" -d 60 2>"$T/d.err" &
dpid=$!
wait_for "[ -n \"\$(pgrep -f 'sleep 1; cat')\" ]" 10
kill -TERM "$dpid"
wait "$dpid"
is "$?" 0 "SIGTERM during a fetch: exit 0"
is "$(ls "$T/slowdir" | wc -l)" 1 "the message in hand was delivered"
is "$(pop3_count alice)" 2 "it was deleted; the others wait for the next poll"

done_testing
