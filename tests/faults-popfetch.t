#!/bin/bash
# popfetch against a scripted POP3 server failing at every step (issue 5).
# For each fault: the exit code, a one-line error naming the problem, no
# hang (the configured timeout plus a margin), and nothing lost: every
# message is whole in the mbox or still on the server, the mbox holds only
# whole messages, and nothing is deleted that is not in the mbox.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

TIMEOUT=3
# mode            exit  in-mbox  deleted  error pattern
table="
normal            0     3        3        ^\$
drop-greeting     75    0        0        127.0.0.1
stall-greeting    75    0        0        [Tt]ime
garbage           75    0        0        127.0.0.1
drop-user         75    0        0        127.0.0.1
drop-pass         75    0        0        127.0.0.1
err-pass          77    0        0        [Aa]uthentication
drop-uidl         75    0        0        closed
drop-list         75    0        0        closed
drop-mid-retr     75    0        0        broke during RETR 1
stall-mid-retr    75    0        0        broke during RETR 1
endless-retr      75    0        0        more than twice
err-retr          69    0        0        -ERR
drop-dele         75    3        0        closed
err-dele          69    3        0        -ERR
drop-quit         75    3        0        QUIT
"

for i in 1 2 3; do
	printf 'Return-Path: <s%s@example.org>\nFrom: s%s@example.org\nSubject: message %s\n\nbody %s\nFrom here\n>From there\n.\n' \
		"$i" "$i" "$i" "$i" >"$T/m$i"
done

# whole_messages MBOX: how many messages the mbox holds, or "broken".
whole_messages() {
	"$PY" - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read() if __import__("os").path.exists(sys.argv[1]) else b""
if not data:
    print(0); sys.exit()
msgs = data.split(b"\n\nFrom ")
ok = data.startswith(b"From ") and data.endswith(b"\n\n")
for m in msgs:
    ok = ok and b"\nSubject: message " in m and b"body " in m
print(len(msgs) if ok else "broken")
PY
}

while read -r mode want inmbox deleted pattern; do
	[ -n "$mode" ] || continue
	start_faultpop3 "$mode" --message "$T/m1" --message "$T/m2" --message "$T/m3" \
		--stall-max 30 || { fail "$mode: server"; continue; }
	pf_plain_conf "$T/$mode.conf" 127.0.0.1 "$FAULT_PORT" "timeout = $TIMEOUT" \
		"mbox = \"$T/$mode.mbox\""
	t0=$(date +%s)
	XDG_STATE_HOME=$T/state-$mode timeout 60 "$POPFETCH" -C "$T/$mode.conf" \
		>"$T/out" 2>"$T/err"
	rc=$?
	t1=$(date +%s)
	is "$rc" "$want" "$mode: exit $want"
	[ $((t1 - t0)) -le $((TIMEOUT * 3 + 5)) ] && pass "$mode: no hang ($((t1 - t0)) s)" ||
		fail "$mode: no hang" "took $((t1 - t0)) s"
	is "$(whole_messages "$T/$mode.mbox")" "$inmbox" "$mode: $inmbox whole messages in the mbox"
	ndel=$(cat "$FAULT_SPOOL/deleted" 2>/dev/null | wc -l)
	is "$ndel" "$deleted" "$mode: $deleted deleted on the server"
	[ "$ndel" -le "$(whole_messages "$T/$mode.mbox" | tr -dc 0-9)" ] &&
		pass "$mode: nothing deleted that is not in the mbox" ||
		fail "$mode: nothing deleted that is not in the mbox"
	if [ "$want" = 0 ]; then
		is "$(wc -c <"$T/err")" 0 "$mode: silent"
	else
		like "$(head -n 1 "$T/err")" "^popfetch: f: .*$pattern" "$mode: the error names the problem"
		unlike "$(cat "$T/err")" "popfetch: f: [^:]*: *\$" "$mode: no empty error line"
	fi
	is "$(wc -c <"$T/out")" 0 "$mode: nothing on stdout"
	stop_server "$FAULT_PID"
done <<<"$table"

done_testing
