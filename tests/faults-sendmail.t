#!/bin/bash
# sendmail against a scripted SMTP server failing at every step (issue 5).
# For each fault: the exit code DESIGN.md names, the error recorded, nothing
# lost (delivered, queued, or the caller told with a non-zero exit), no
# duplicate, and no hang (each run ends within the timeout plus a margin).
# The transaction steps again with PIPELINING and with PIPELINING and
# CHUNKING offered (BDAT), where the server fails in the middle of a
# pipelined flight: each RCPT, DATA, each BDAT chunk, the end of the data.
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

# conf NAME PORT: a configuration for the fault server at PORT, queue $T/q-NAME.
conf() {
	cat >"$T/$1.conf" <<CONF
domain = "example.org"
aliases = ""
log = "none"
timeout = $TIMEOUT
connection_cache = 0
queue_dir = "$T/q-$1"
smtp "default" {
	host = "127.0.0.1"
	port = $2
	tls = "none"
	user = "alice"
	password = "secret"
	from = "me@example.org"
}
CONF
	chmod 600 "$T/$1.conf"
}

# run_table [SERVER OPTIONS...] < table: each mode of the table against a
# fault server started with the options.
run_table() {
local mode want outcome pattern q name t0 t1 rc queued delivered
while read -r mode want outcome pattern; do
	[ -n "$mode" ] || continue
	name=$mode${1:+ $*}
	start_faultsmtp "$mode" --auth alice:secret --stall-max 30 "$@" || { fail "$name: server"; continue; }
	mode=$mode${1:+$(printf '%s' "$*" | tr -d ' -')}
	q=$T/q-$mode
	conf "$mode" "$FAULT_PORT"
	t0=$(date +%s)
	timeout 60 "$SENDMAIL" -C "$T/$mode.conf" -i rcpt@example.org <"$T/msg" >"$T/out" 2>"$T/err"
	rc=$?
	t1=$(date +%s)
	is "$rc" "$want" "$name: exit $want"
	[ $((t1 - t0)) -le $((TIMEOUT * 3 + 5)) ] && pass "$name: no hang ($((t1 - t0)) s)" ||
		fail "$name: no hang" "took $((t1 - t0)) s"
	queued=$(ls "$q"/*.env 2>/dev/null | wc -l)
	delivered=$(ls "$FAULT_SPOOL"/[0-9]*.env 2>/dev/null | wc -l)
	case $outcome in
	queued)
		is "$queued.$delivered" "1.0" "$name: kept in the queue, not delivered"
		like "$("$SENDMAIL" -C "$T/$mode.conf" -bp)" "$pattern" "$name: mailq shows the error"
		;;
	refused)
		is "$queued.$delivered" "0.0" "$name: not queued, not delivered, the caller is told"
		is "$(ls "$q"/failed/*.env 2>/dev/null | wc -l)" 1 "$name: a copy kept in failed/ (issue 12)"
		is "$(wc -l <"$T/err")" 1 "$name: one line on stderr"
		like "$(cat "$T/err")" "$pattern" "$name: the error names the reply"
		;;
	either)
		is "$((queued + delivered))" 1 "$name: delivered or queued, exactly once"
		;;
	esac
	is "$(wc -c <"$T/out")" 0 "$name: nothing on stdout"
	stop_server "$FAULT_PID"
done
}

run_table <<<"$table"

# The steps of the transaction when it is pipelined: the same outcomes.
pipelined=$(grep -E '^(drop-mail|451-mail|drop-rcpt|452-rcpt|550-rcpt|drop-data|554-data|drop-after-dot|451-after-dot|552-after-dot|stall-after-dot) ' <<<"$table")
run_table --pipelining <<<"$pipelined"
# With CHUNKING the message goes in BDAT: its faults stand for DATA's.
# (A stall is read by the same code either way: once is enough.)
run_table --pipelining --chunking <<<"$(sed 's/^drop-data /drop-bdat /; s/^554-data /554-bdat /; /^stall/d' <<<"$pipelined")"
run_table --chunking <<<"
drop-rcpt       0  queued   .
550-rcpt        67 refused  550
drop-bdat       0  queued   .
554-bdat        69 refused  554
451-after-dot   0  queued   451
"

# ------------------------------------------ faults at one step of a flight
# Three recipients, and a message of three BDAT chunks (1 MiB each when
# pipelining): the server fails at the Nth RCPT or BDAT only.
"$PY" -c '
import sys
sys.stdout.write("Subject: three chunks\n\n")
for i in range(36000):
    sys.stdout.write(".%05d %s\n" % (i, "y" * 60))
' >"$T/big"
# step NAME WANT OUTCOME SERVER-ARGS...: OUTCOME is queued (nothing delivered,
# kept with every recipient), refused (nothing delivered or kept, one line on
# stderr), all (delivered to the three, nothing kept), or partial:R (delivered
# to the others, the refusal of R on stderr, nothing kept).
step() {
	local name=$1 want=$2 outcome=$3 rc got
	shift 3
	start_faultsmtp "$@" || { fail "$name: server"; return; }
	conf "step" "$FAULT_PORT"
	rm -rf "$T/q-step"
	timeout 60 "$SENDMAIL" -C "$T/step.conf" -i r1@example.org r2@example.org r3@example.org \
		<"$MSG" >"$T/out" 2>"$T/err"
	rc=$?
	is "$rc" "$want" "$name: exit $want" || diag "$(cat "$T/err")"
	got=$(cat "$FAULT_SPOOL"/[0-9]*.env 2>/dev/null | grep -v '^me@' | sort | tr '\n' ' ')
	queued=$(cat "$T/q-step"/*.env 2>/dev/null | grep -c '@example.org' || true)
	case $outcome in
	queued)
		is "$got" "" "$name: nothing delivered"
		like "$("$SENDMAIL" -C "$T/step.conf" -bp)" "r1@example.org.*r2@example.org.*r3@example.org|r1@example.org" \
			"$name: kept in the queue"
		is "$(ls "$T/q-step"/*.env 2>/dev/null | wc -l)" 1 "$name: one entry kept"
		;;
	refused)
		is "$got" "" "$name: nothing delivered"
		is "$(ls "$T/q-step"/*.env 2>/dev/null | wc -l)" 0 "$name: not kept, the caller is told"
		is "$(wc -l <"$T/err")" 1 "$name: one line on stderr"
		;;
	all)
		is "$got" "r1@example.org r2@example.org r3@example.org " "$name: delivered to all three, once"
		is "$(ls "$T/q-step"/*.env 2>/dev/null | wc -l)" 0 "$name: nothing kept"
		;;
	partial:*)
		local r=${outcome#partial:}
		is "$got" "$(printf '%s\n' r1@example.org r2@example.org r3@example.org | grep -v "$r" | tr '\n' ' ')" \
			"$name: delivered to the other two"
		like "$(cat "$T/err")" "$r.*550" "$name: the refusal of $r is reported"
		is "$(ls "$T/q-step"/*.env 2>/dev/null | wc -l)" 0 "$name: nothing kept"
		;;
	esac
	stop_server "$FAULT_PID"
}
MSG=$T/msg
for p in "--pipelining" "--pipelining --chunking"; do
	for n in 1 2 3; do
		# shellcheck disable=SC2086
		step "drop at RCPT $n ($p)" 0 queued drop-rcpt --at "$n" $p
	done
	# shellcheck disable=SC2086
	step "550 at RCPT 2 ($p)" 0 partial:r2@example.org 550-rcpt --at 2 $p
	# shellcheck disable=SC2086
	step "452 at RCPT 2 ($p): another transaction" 0 all 452-rcpt --at 2 $p
done
step "drop at DATA (pipelining)" 0 queued drop-data --pipelining
step "drop after the dot (pipelining)" 0 queued drop-after-dot --pipelining
MSG=$T/big
for n in 1 2 3; do
	step "drop at BDAT $n" 0 queued drop-bdat --at "$n" --pipelining --chunking
done
step "drop inside BDAT chunk 2" 0 queued drop-mid-bdat --at 2 --pipelining --chunking
step "451 to BDAT chunk 2" 0 queued 451-bdat --at 2 --pipelining --chunking
step "554 to BDAT chunk 2" 69 refused 554-bdat --at 2 --pipelining --chunking
step "554 to BDAT LAST" 69 refused 554-bdat --at 3 --pipelining --chunking
step "drop after BDAT LAST" 0 queued drop-after-dot --pipelining --chunking
step "552 after BDAT LAST" 69 refused 552-after-dot --pipelining --chunking

# The kept connection (connection_cache), PIPELINING and CHUNKING: the second
# sendmail's message goes out whole in its first flight over the kept
# connection, and the server drops it without a reply. The server may have
# taken it: it is not sent again at once on a new connection (twice at the
# server), it waits in the queue for the next run. (The server holds its
# replies until the end of each message, as one that answers a flight only
# once it has read it all: the drop leaves sendmail without any reply.)
start_faultsmtp drop-after-dot --at 2 --pipelining --chunking --hold-replies || bail_out "server"
conf "bdat2" "$FAULT_PORT"
sed -i 's/^connection_cache = 0/connection_cache = 30/' "$T/bdat2.conf"
rm -rf "$T/q-bdat2"
for i in 1 2; do
	printf 'Subject: bdat-%s\n\nbody %s\n' "$i" "$i" |
		timeout 60 "$SENDMAIL" -C "$T/bdat2.conf" -i "r$i@example.org" 2>"$T/err"
	is "$?" 0 "kept connection, BDAT flight: send $i exit 0" || diag "$(cat "$T/err")"
done
is "$(cat "$FAULT_SPOOL/connections" | wc -l)" 1 "both went over one connection"
is "$(cat "$FAULT_SPOOL"/[0-9]*.env 2>/dev/null | grep -c '^r1@')" 1 "the first message delivered"
is "$(( $(ls "$FAULT_SPOOL"/*.unaccepted 2>/dev/null | wc -l) + $(cat "$FAULT_SPOOL"/[0-9]*.env 2>/dev/null | grep -c '^r2@') ))" 1 \
	"the second reached the server once, not again at once on a new connection"
is "$(ls "$T/q-bdat2"/*.env 2>/dev/null | wc -l)" 1 "the second waits in the queue"
stop_holders
stop_server "$FAULT_PID"

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
is "$(ls "$T/qrun"/failed/*.env 2>/dev/null | wc -l)" 1 "the refused message is kept in failed/"
# (issue 12: and its bounce, refused by the same server, is noted there: no bounce of a bounce)
like "$(cat "$T/qrun"/failed/*.env)" "report none \(the bounce was refused: .*550" \
	"its bounce was tried, refused, and noted"
like "$("$SENDMAIL" -C "$T/q.conf" -bp)" "failed: .*550" "mailq shows it as failed with the reply"
like "$(cat "$T/qerr")" "550" "the queue run reports the refusal"

done_testing
