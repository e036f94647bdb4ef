#!/bin/bash
# popfetch/t/turns.sh [POPFETCH]: counts popfetch's round trips against
# Dovecot through popfetch/t/turns.py (a relay holding each chunk 50 ms each
# way), for the rows of issue 15: one message in delete mode, a poll with
# nothing new, and 1,000 messages of 4 KB, over STARTTLS and implicit TLS.
# Prints one line per row.  Needs root (Dovecot).  Not part of make test:
# a measurement, not an assertion.
. "$(dirname "$0")/../../tests/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"
[ -n "${1:-}" ] && POPFETCH=$1
start_dovecot alice:secret || bail_out "cannot start dovecot"
relay() {
	rm -f "$T/relay.ready"
	"$PY" "$TOP/popfetch/t/turns.py" --to "127.0.0.1:$1" --ready-file "$T/relay.ready" \
		--log "$T/turns.log" &
	RELAY=$!
	_register_pid "$RELAY"
	wait_for "[ -s '$T/relay.ready' ]" 10 || bail_out "turns.py did not start"
	pf_conf "$T/conf" "port = $(cat "$T/relay.ready")" "$2"
	sed -i "/port = $POP3_PORT\$/d" "$T/conf"
}
row() {
	local t0 rc
	t0=$(date +%s.%N)
	"$POPFETCH" -C "$T/conf"
	rc=$?
	printf '%-44s %s, %.2f s, exit %d\n' "$1" "$(tail -n 1 "$T/turns.log" | cut -d' ' -f1-2)" \
		"$(echo "$(date +%s.%N) - $t0" | bc)" "$rc"
}
printf 'From: a@example.org\nSubject: one\n\nhello\n' >"$T/m1"
for mode in starttls tls; do
	if [ $mode = starttls ]; then relay "$POP3_PORT" 'tls = "starttls"'; else relay "$POP3S_PORT" 'tls = "tls"'; fi
	pop3_put alice "$T/m1"
	row "$mode: one message, delete mode"
	row "$mode: nothing new"
	bulk_put alice 1000 4096
	row "$mode: 1,000 messages of 4 KB, delete mode"
	stop_server "$RELAY"
done
pass "measured"
done_testing
