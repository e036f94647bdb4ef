#!/bin/bash
# Delivery modes: foreground (the default), background (delivery =
# "background" or -odb: one detached runner per account sends what is queued
# over one connection) and queue only (-odq).
. "$(dirname "$0")/lib/lib.sh"

start_smtpd "$T/s" --starttls --auth alice:secret --require-auth || bail_out "smtpd"
conf() {
	cat >"$T/$1.conf" <<CONF
domain = "example.org"
aliases = ""
log = "none"
queue_dir = "$T/q-$1"
tls_ca_file = "$T/certs/ca.pem"
delivery = "$2"
smtp "default" {
	host = "localhost"
	port = ${3:-$SMTP_PORT}
	user = "alice"
	password = "secret"
	from = "me@example.org"
}
CONF
	chmod 600 "$T/$1.conf"
}
msg() { printf 'Subject: message %s\n\nbody of %s\n' "$1" "$1"; }

# Background: 30 messages in a row, each process exits 0 at once.
conf bg background
rcs=
for i in $(seq 1 30); do
	msg "$i" | "$SENDMAIL" -C "$T/bg.conf" -i "r$i@example.net"
	rcs="$rcs$?"
done
is "$rcs" "$(printf '0%.0s' $(seq 1 30))" "background: every sendmail exits 0"
smtp_wait "$T/s" 30 30
is "$(smtp_count "$T/s")" 30 "background: all 30 delivered"
nconn=$(wc -l <"$T/s/connections")
[ "$nconn" -lt 30 ] && pass "background: fewer connections than messages ($nconn)" ||
	fail "background: fewer connections than messages" "$nconn connections"
wait_for "[ \"\$('$SENDMAIL' -C '$T/bg.conf' -bp)\" = 'Mail queue is empty' ]" 10
is "$("$SENDMAIL" -C "$T/bg.conf" -bp)" "Mail queue is empty" "background: the queue is empty afterwards"
ok=1
for i in $(seq 1 30); do
	f=$(grep -l "^r$i@example.net\$" "$T"/s/*.env | head -1)
	[ -n "$f" ] && grep -q "^body of $i" "${f%.env}.msg" || ok=0
done
ok $((!ok)) "background: each recipient got its own message"

# -odb on the command line overrides delivery = "foreground".
conf fg foreground
before=$(smtp_count "$T/s")
msg odb | "$SENDMAIL" -C "$T/fg.conf" -odb -i odb@example.net
is "$?" 0 "-odb: exit 0"
smtp_wait "$T/s" $((before + 1)) 10
is "$(smtp_count "$T/s")" $((before + 1)) "-odb: delivered by the background process"

# -odq queues only; sendmail -q sends.
before=$(smtp_count "$T/s")
msg odq | "$SENDMAIL" -C "$T/fg.conf" -odq -i odq@example.net
is "$?" 0 "-odq: exit 0"
sleep 0.5
is "$(smtp_count "$T/s")" "$before" "-odq: nothing sent yet"
like "$("$SENDMAIL" -C "$T/fg.conf" -bp)" "odq@example.net" "-odq: mailq lists it"
"$SENDMAIL" -C "$T/fg.conf" -q
is "$(smtp_count "$T/s")" $((before + 1)) "-odq: sendmail -q sent it"

# Background with the server down: queued, nothing lost.
port=$(free_port)
conf down background "$port"
for i in 1 2 3; do msg "d$i" | "$SENDMAIL" -C "$T/down.conf" -i "d$i@example.net"; done
wait_for "[ \$(ls '$T/q-down'/*.env 2>/dev/null | wc -l) -eq 3 ] && ! ls '$T/q-down/tmp/'*.msg >/dev/null 2>&1" 10
sleep 1
out=$("$SENDMAIL" -C "$T/down.conf" -bp)
is "$(grep -c '@example.net' <<<"$out")" 3 "server down: all three wait in the queue"
like "$out" "[Cc]onnect|refused" "server down: mailq says why"

# A permanent refusal in the background: kept in failed/, logged, exit 0.
start_smtpd "$T/r" --plain --reject-rcpt no@example.net || bail_out "smtpd 2"
cat >"$T/rej.conf" <<CONF
aliases = ""
log = "$T/rej.log"
queue_dir = "$T/q-rej"
delivery = "background"
smtp "default" { host = "127.0.0.1" port = $SMTP_PORT tls = "none" from = "me@example.org" }
CONF
msg rej | "$SENDMAIL" -C "$T/rej.conf" -i no@example.net
is "$?" 0 "background refusal: exit 0 (the caller is gone by then)"
wait_for "ls '$T/q-rej/failed/'*.env >/dev/null 2>&1" 10
is "$(ls "$T"/q-rej/failed/*.env 2>/dev/null | wc -l)" 1 "background refusal: kept in failed/"
like "$(cat "$T/rej.log")" "550" "background refusal: logged with the reply"

# Background, the server down and an entry whose new state cannot be written
# (its envelope made immutable: the rename over it fails, as a write on a
# full disk would): the runner leaves it after one try and ends, where it took
# it again at once for ever (100% CPU, never ending).
conf full background "$(free_port)"
msg full-1 | "$SENDMAIL" -C "$T/full.conf" -odq -i you@example.org
id=$(ls "$T/q-full" | sed -n 's/\.env$//p')
if [ -n "$id" ] && chattr +i "$T/q-full/$id.env" 2>/dev/null; then
	msg full-2 | "$SENDMAIL" -C "$T/full.conf" -i you@example.org
	is "$?" 0 "the send exits 0 at once"
	runlock=$T/q-full/tmp/.runner.$(id -u).default
	if wait_for "[ -e '$runlock' ] && flock -n '$runlock' true" 10; then
		pass "the background runner ended, the entry it could not update left"
	else
		fail "the background runner ended, the entry it could not update left"
		for pid in $(fuser "$runlock" 2>/dev/null); do kill -KILL "$pid"; done
	fi
	chattr -i "$T/q-full/$id.env"
	is "$(ls "$T/q-full"/*.env | wc -l)" 2 "both still queued"
	like "$("$SENDMAIL" -C "$T/full.conf" -bp)" "$id" "mailq shows it"
else
	[ -n "$id" ] && chattr -i "$T/q-full/$id.env" 2>/dev/null
	skip "the background runner and an entry it cannot update" "chattr +i does not work here"
fi

done_testing
