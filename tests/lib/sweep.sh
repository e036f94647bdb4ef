# shellcheck shell=bash
# tests/lib/sweep.sh: the fault sweeps of tests/faults/sendmail-*.t (issue 12).
#
# Sourced after lib.sh; it sources sendmail.sh and inject.sh and calls
# sweep_setup.  One operation (a send,
# a queue run, a -bs session) is run once per injection point: each of
# EIO, ENOSPC, EINTR and SIGKILL at the Nth call of write, fsync, rename,
# openat, unlink, read, pread64 (the queue file: the scan, the data, a
# bounce's header) and close, for every N the operation makes.  After
# each faulty run, one clean `sendmail -q`; then every message must have
# been delivered exactly once, except
#   - a message whose caller was told it was not taken (a non-zero exit,
#     or no 250 to its final dot in -bs) may be delivered zero times;
#   - the one case SMTP cannot avoid: killed after the server's 250 and
#     before the entry was removed (as a connection lost after the final
#     dot, before the reply), the message arrives twice; these are counted
#     and named.
# and nothing may be left in the queue, its tmp/, failed/ or saved/.
#
#   sweep_setup                       the server, the configurations (done here)
#   sweep_op NAME PREP RUN CHECK      runs the sweep of one operation:
#       PREP ID   prepares case ID (its input in $T/case.in, queue, ...)
#                 and prints the Subjects expected, one per line
#       RUN       the operation (stdin from $T/case.in)
#       CHECK     "status" (told = non-zero exit) or "bs" (told = no 250
#                 after the final dot); "queue" (never told: all queued)
#   Results are TAP lines, one per syscall and fault, and a summary.

SWEEP_CALLS=${SWEEP_CALLS:-"write fsync rename openat unlink read pread64 close"}
SWEEP_FAULTS=${SWEEP_FAULTS:-"error=EIO error=ENOSPC error=EINTR signal=KILL"}

sweep_setup() {
	start_smtpd "$T/sw" --plain --reject-rcpt bad@example.net || bail_out "smtpd"
	SW_SPOOL=$T/sw
	SW_Q=$T/swq
	CONF_TOP='connection_cache = 0' QDIR=$SW_Q write_conf "$T/sw.conf" "$SMTP_PORT" \
		'tls = "none"' 'from = "me@example.org"' 'timeout = 10'
	CONF_TOP='connection_cache = 0' QDIR=$SW_Q write_conf "$T/swdead.conf" "$(free_port)" \
		'tls = "none"' 'from = "me@example.org"' 'timeout = 10'
	SW_K=0
	SW_DUPS=()
	SW_START=$SECONDS
	export POSTIE_CMD_TIMEOUT=30
}

# The Subjects of the messages the server stored since the last call; a
# bounce as "bounce:" and the Subject of the message it returns.
sweep_new() {
	local f s
	while f=$SW_SPOOL/$(printf %04d $((SW_K + 1))) && [ -e "$f.env" ]; do
		SW_K=$((SW_K + 1))
		s=$(sed -n 's/^Subject: \(.*\)\r$/\1/p' "$f.msg" | head -n 2 | tr '\n' '|')
		case $s in
		"Undelivered Mail Returned to Sender|"*) s=${s#*|}; echo "bounce:${s%|}" ;;
		*) echo "${s%%|*}" ;;
		esac
	done
}

# What the queue holds that it should not (after the clean run).  With
# SW_FAILED=1 the one failed/ entry of the refused message must be there,
# its bounce noted as sent.
sweep_left() {
	find "$SW_Q" "$POSTIE_SPOOLDIR" -type f ! -name '.*' ! -path "$SW_Q/failed/*" 2>/dev/null
	if [ "${SW_FAILED:-0}" = 1 ]; then
		[ "$(ls "$SW_Q"/failed/*.env 2>/dev/null | wc -l)" = 1 ] &&
			grep -q '^report bounced ' "$SW_Q"/failed/*.env ||
			echo "failed/: not the one entry with its bounce sent: $(cat "$SW_Q"/failed/*.env 2>/dev/null | tr '\n' ' ')"
	else
		find "$SW_Q/failed" -type f 2>/dev/null
	fi
}

# The replies to the final dots of a -bs session, in order (from $T/inject.out).
sweep_dot_replies() {
	tr -d '\r' <"$T/inject.out" | awk 'want { print $1; want = 0 } /^354/ { want = 1 }'
}

# sweep_check ID CHECK SPEC: the invariant for case ID after its clean run.
# Sets SW_WHY when it does not hold.
sweep_check() {
	local id=$1 check=$2 spec=$3 s c1 c2 i=0 told left r
	SW_WHY=
	[ "$INJECT_FIRED" -ge 1 ] || { SW_WHY="the fault did not fire"; return 1; }
	while read -r s; do
		[ -n "$s" ] || continue
		i=$((i + 1))
		c1=$(grep -cxF "$s" "$T/d1")
		c2=$(grep -cxF "$s" "$T/d2")
		told=0
		case $check in
		status) [ "$INJECT_STATUS" != 0 ] && told=1 ;;
		bs) r=$(sweep_dot_replies | sed -n "${i}p")
			[ "$r" != 250 ] && told=1 ;;
		esac
		case $((c1 + c2)) in
		1) ;;
		0) [ "$told" = 1 ] || { SW_WHY="$s: never delivered (status $INJECT_STATUS)"; return 1; } ;;
		2) if [ "$c1" = 1 ] && [ "$INJECT_STATUS" = 137 ]; then
			SW_DUPS+=("$spec")
		   else
			SW_WHY="$s: delivered twice (status $INJECT_STATUS)"
			return 1
		   fi ;;
		*) SW_WHY="$s: delivered $((c1 + c2)) times"; return 1 ;;
		esac
	done <"$T/expect"
	if grep -qvxF -f "$T/expect" "$T/d1" "$T/d2" 2>/dev/null; then
		SW_WHY="an unexpected message arrived: $(cat "$T/d1" "$T/d2" | tr '\n' ' ')"
		return 1
	fi
	left=$(sweep_left)
	[ -z "$left" ] || { SW_WHY="left behind: $(echo $left)"; return 1; }
	return 0
}

# sweep_op NAME PREP RUN CHECK
sweep_op() {
	local name=$1 prep=$2 run=$3 check=$4 sc fault n w id=0 bad failed total=0 spec t0=$SECONDS
	rm -f "$T/inject.counts"
	for sc in $SWEEP_CALLS; do
		"$prep" 0 >"$T/expect"
		n=$(inject_count "$sc" $run <"$T/case.in")
		sweep_new >/dev/null	# what the counting run sent
		"$SENDMAIL" -C "$T/sw.conf" -q 2>/dev/null
		sweep_new >/dev/null
		[ "$n" -ge 1 ] || { fail "$name: $sc is called"; continue; }
		for fault in $SWEEP_FAULTS; do
			bad=0
			failed=
			for w in $(seq 1 "$n"); do
				id=$((id + 1))
				spec="$sc:$fault:when=$w"
				"$prep" "$id" >"$T/expect"
				{ inject_run "$spec" $run <"$T/case.in"; } 2>/dev/null	# no "Killed" notices
				sweep_new >"$T/d1"
				"$SENDMAIL" -C "$T/sw.conf" -q >/dev/null 2>&1
				sweep_new >"$T/d2"
				if ! sweep_check "$id" "$check" "$spec"; then
					bad=$((bad + 1))
					[ -n "$failed" ] || failed="$spec: $SW_WHY"
					# start the next case clean
					rm -rf "$SW_Q" "$POSTIE_SPOOLDIR"
				fi
			done
			total=$((total + n))
			if [ "$bad" = 0 ]; then
				pass "$name: ${fault#*=} at each of the $n $sc calls: delivered once, or the caller told"
			else
				fail "$name: ${fault#*=} at each of the $n $sc calls" "  $bad of $n cases failed; the first: $failed"
			fi
		done
	done
	note "$name: $total injection points in $((SECONDS - t0)) s"
	SW_TOTAL=$((${SW_TOTAL:-0} + total))
}

# sweep_five_queued RCPT5: five entries queued while the server is away
# (the fifth to RCPT5), kept in $T/template; sweep_five_prep ID gives each
# case a copy, its Subjects marked with the case (same length: the sizes in
# the envelopes stay right), and prints q1-ID .. q4-ID (the fifth's Subject
# is the caller's to expect: delivered, or its bounce).
sweep_five_queued() {
	local i rcpt
	for i in 1 2 3 4 5; do
		rcpt=r$i@example.net
		[ "$i" = 5 ] && rcpt=$1
		printf 'Subject: q%s-CASEID\n\nmessage %s\n' "$i" "$i" |
			"$SENDMAIL" -C "$T/swdead.conf" -i "$rcpt" || bail_out "queueing $i"
	done
	[ "$(ls "$SW_Q"/*.env | wc -l)" = 5 ] || bail_out "five entries queued"
	rm -rf "$SW_Q/tmp"/.[!.]* 2>/dev/null
	mv "$SW_Q" "$T/template"
	: >"$T/case.in"
}
sweep_five_prep() {
	local id i
	id=$(printf %06d "$1")
	rm -rf "$SW_Q"
	cp -a "$T/template" "$SW_Q"
	sed -i "s/CASEID/$id/" "$SW_Q"/*.msg
	for i in 1 2 3 4; do echo "q$i-$id"; done
}

# The summary: the duplicates SMTP cannot avoid, named.
sweep_summary() {
	local name=$1 d ok=1
	for d in "${SW_DUPS[@]}"; do
		case $d in
		*signal=KILL*) ;;
		*) ok=0 ;;
		esac
	done
	if [ "$ok" = 1 ]; then
		pass "$name: the only duplicates are kills between the server's 250 and the entry's removal (${#SW_DUPS[@]}: ${SW_DUPS[*]:-none})"
	else
		fail "$name: a duplicate that is not a kill after the 250" "  ${SW_DUPS[*]}"
	fi
	note "$name: ${SW_TOTAL:-0} cases in $((SECONDS - SW_START)) s"
}

. "$TOP/tests/lib/sendmail.sh"
. "$TOP/tests/lib/inject.sh"
command -v strace >/dev/null || bail_out "strace is not installed (make deps)"
sweep_setup
