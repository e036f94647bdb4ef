#!/bin/bash
# sendmail against a scripted SMTP server failing at every step (issue 5).
# For each fault: the exit code DESIGN.md names, the error recorded, nothing
# lost (delivered, queued, or the caller told with a non-zero exit), no
# duplicate, and no hang (each run ends within the timeout plus a margin).
. "$(dirname "$0")/lib/lib.sh"

TIMEOUT=3
# mode  exit  outcome(queued|refused|either)  error pattern
table="
drop-greeting   0  queued   .
421-greeting    0  queued   421
stall-greeting  0  queued   [Tt]ime
garbage         0  queued   .
long-reply      0  either   .
drop-ehlo       0  queued   .
504-ehlo        0  queued   504
drop-auth       0  queued   .
535-auth        0  queued   535
drop-mail       0  queued   .
451-mail        0  queued   451
drop-rcpt       0  queued   .
452-rcpt        0  queued   452
550-rcpt        67 refused  550
drop-data       0  queued   .
554-data        69 refused  554
drop-after-dot  0  queued   .
451-after-dot   0  queued   451
552-after-dot   69 refused  552
stall-after-dot 0  queued   [Tt]ime
"

printf 'Subject: fault test\n\nline one\n.leading dot\n' >"$T/msg"

while read -r mode want outcome pattern; do
	[ -n "$mode" ] || continue
	start_faultsmtp "$mode" --auth alice:secret --stall-max 30 || { fail "$mode: server"; continue; }
	q=$T/q-$mode
	cat >"$T/$mode.conf" <<CONF
domain = "example.org"
aliases = ""
log = "none"
timeout = $TIMEOUT
queue_dir = "$q"
smtp "default" {
	host = "127.0.0.1"
	port = $FAULT_PORT
	tls = "none"
	user = "alice"
	password = "secret"
	from = "me@example.org"
}
CONF
	chmod 600 "$T/$mode.conf"
	t0=$(date +%s)
	timeout 60 "$SENDMAIL" -C "$T/$mode.conf" -i rcpt@example.org <"$T/msg" >"$T/out" 2>"$T/err"
	rc=$?
	t1=$(date +%s)
	is "$rc" "$want" "$mode: exit $want"
	[ $((t1 - t0)) -le $((TIMEOUT * 3 + 5)) ] && pass "$mode: no hang ($((t1 - t0)) s)" ||
		fail "$mode: no hang" "took $((t1 - t0)) s"
	queued=$(ls "$q"/*.env 2>/dev/null | wc -l)
	delivered=$(ls "$FAULT_SPOOL"/[0-9]*.env 2>/dev/null | wc -l)
	case $outcome in
	queued)
		is "$queued.$delivered" "1.0" "$mode: kept in the queue, not delivered"
		like "$("$SENDMAIL" -C "$T/$mode.conf" -bp)" "$pattern" "$mode: mailq shows the error"
		;;
	refused)
		is "$queued.$delivered" "0.0" "$mode: not queued, not delivered, the caller is told"
		is "$(ls "$q"/failed/*.env 2>/dev/null | wc -l)" 1 "$mode: a copy kept in failed/ (issue 12)"
		is "$(wc -l <"$T/err")" 1 "$mode: one line on stderr"
		like "$(cat "$T/err")" "$pattern" "$mode: the error names the reply"
		;;
	either)
		is "$((queued + delivered))" 1 "$mode: delivered or queued, exactly once"
		;;
	esac
	is "$(wc -c <"$T/out")" 0 "$mode: nothing on stdout"
	stop_server "$FAULT_PID"
done <<<"$table"

# A queue run meets a permanent refusal: nobody waits for the answer, so the
# message is kept in failed/ rather than dropped.
start_faultsmtp 550-rcpt || bail_out "server"
cat >"$T/q.conf" <<CONF
domain = "example.org"
aliases = ""
log = "none"
timeout = $TIMEOUT
queue_dir = "$T/qrun"
smtp "default" {
	host = "127.0.0.1"
	port = 1
	tls = "none"
	from = "me@example.org"
}
CONF
"$SENDMAIL" -C "$T/q.conf" -i rcpt@example.org <"$T/msg"
is "$?" 0 "queued while the server is unreachable"
sed -i "s/port = 1\$/port = $FAULT_PORT/" "$T/q.conf"
"$SENDMAIL" -C "$T/q.conf" -q 2>"$T/qerr"
is "$?" 0 "sendmail -q"
# (and the bounce to its sender, refused by the same server, is kept there too: no bounce of a bounce)
is "$(grep -l '^sender alice\|^sender me@example.org' "$T/qrun"/failed/*.env 2>/dev/null | wc -l)" 1 \
	"the refused message is kept in failed/"
is "$(grep -lx 'sender ' "$T/qrun"/failed/*.env 2>/dev/null | wc -l)" 1 \
	"its bounce, refused too, is kept in failed/ without another bounce"
like "$("$SENDMAIL" -C "$T/q.conf" -bp)" "failed: .*550" "mailq shows it as failed with the reply"
like "$(cat "$T/qerr")" "550" "the queue run reports the refusal"

done_testing
