# shellcheck shell=bash
# The fault sweep of a poll, for tests/faults/popfetch-*.t; sourced after
# tests/lib/lib.sh, tests/lib/inject.sh and popfetch/t/lib.sh, with Dovecot
# running.
#
#   sweep DEST MODE: DEST mbox or maildir, MODE delete or keep.  For each of
#   write, fsync, rename, openat, link, unlink and close, counts the calls a
#   poll of three messages makes (inject_count), then, at each call N,
#   injects an error (EIO at odd N, ENOSPC at even N) and, separately, a
#   SIGKILL; after each, one clean rerun, and popfetch/t/verdict.py checks
#   the promise (each message once, after a kill at most twice with at most
#   one cut-off copy; nothing deleted that is not delivered; the state parses;
#   no lock left).  One TAP line per syscall and fault; a point where the
#   fault did not fire fails it.

SWEEP_CALLS="write fsync rename openat link unlink close"
VERDICT=$TOP/popfetch/t/verdict.py
SM=$T/sweep-msgs
SE=$T/sweep-expect
mkdir -p "$SM" "$SE"
printf 'Return-Path: <a@example.org>\nFrom: a@example.org\nSubject: one\n\nFrom the first\n>From quoted\n.\n..dots\nend\n' >"$SM/1"
printf 'Return-Path: <b@example.org>\nFrom: b@example.org\nSubject: two\n\nsecond message\n' >"$SM/2"
printf 'From: c@example.org\nSubject: three\n\nthird message, no final newline' >"$SM/3"
for f in "$SM"/*; do expect_of "$f" "$SE/${f##*/}"; done

# _sweep_reset: the three messages on the server, no destination, no state.
_sweep_reset() {
	local f md=$T/mail/alice
	rm -rf "$md" "$SW_DEST" "$SW_DEST.lock" "$SW_DEST.lock.popfetch" "$XDG_STATE_HOME"
	_pop3_maildir alice || return 1
	for f in "$SM"/*; do
		install -o "$POP3_USER_UID" -g "$POP3_USER_GID" -m 600 "$f" "$md/new/1.${f##*/}.sweep" || return 1
	done
}

# sweep_main DEST: the whole of tests/faults/popfetch-DEST.t: Dovecot, then
# the sweep in delete and in keep mode.
sweep_main() {
	local t0
	command -v strace >/dev/null || bail_out "strace is not installed (make deps)"
	start_dovecot alice:secret || bail_out "cannot start dovecot"
	t0=$(date +%s)
	sweep "$1" delete
	sweep "$1" keep
	note "popfetch into $1: $(($(date +%s) - t0)) s"
	done_testing
}

# sweep_setup DEST MODE: $T/sweep.conf, a poll of alice's mailbox on the
# test Dovecot into SW_DEST (an mbox or a Maildir) in delete or keep mode;
# its state file SW_STATE.
sweep_setup() {
	SW_DEST=$T/sweep.$1
	pf_plain_conf "$T/sweep.conf" 127.0.0.1 "$POP3_PORT" "$1 = \"$SW_DEST\"" \
		"keep = $([ "$2" = keep ] && echo true || echo false)"
	SW_STATE=$XDG_STATE_HOME/postie/popfetch/f_alice@127.0.0.1.uidl
}

# sweep_verdict DEST MODE: after a poll with a fault (its status
# INJECT_STATUS, stderr $T/inject.err), one clean rerun and the promise
# (popfetch/t/verdict.py; a kill allows the batch in hand twice).  Sets
# SW_WHY (": what is wrong", to follow the fault's name) and returns 1 when
# it does not hold.
sweep_verdict() {
	local killed=0 rc v
	SW_WHY=
	[ "${INJECT_STATUS:-0}" -ge 128 ] && killed=1
	"$POPFETCH" -C "$T/sweep.conf" >"$T/rerun.out" 2>"$T/rerun.err"
	rc=$?
	[ "$rc" = 0 ] || SW_WHY=": the rerun exits $rc: $(head -n 1 "$T/rerun.err")"
	if ! v=$("$PY" "$VERDICT" --expect "$SE" "--$1" "$SW_DEST" --server "$T/mail/alice" \
		--mode "$2" --killed "$killed" --state "$SW_STATE"); then
		SW_WHY="$SW_WHY${SW_WHY:+;} (exit $INJECT_STATUS: $(head -n 1 "$T/inject.err")): $v"
	fi
	[ -z "$SW_WHY" ]
}

sweep() {
	local dest=$1 mode=$2 sc n i spec fault err points fired bad t0
	sweep_setup "$dest" "$mode"
	: >"$T/inject.counts"
	t0=$(date +%s)
	for sc in $SWEEP_CALLS; do
		_sweep_reset || bail_out "cannot fill the mailbox"
		n=$(nolsan inject_count "$sc" "$POPFETCH" -C "$T/sweep.conf")
		note "$dest $mode: $n $sc calls"
		if [ "$n" = 0 ]; then
			# (a Maildir poll links and unlinks nothing unless something fails)
			skip "$dest $mode: $sc" "a poll makes no $sc call"
			continue
		fi
		for fault in error kill; do
			points=0 fired=0 bad=
			for i in $(seq 1 "$n"); do
				if [ "$fault" = error ]; then
					err=EIO
					[ $((i % 2)) = 0 ] && err=ENOSPC
					spec="$sc:error=$err:when=$i"
				else
					spec="$sc:signal=KILL:when=$i"
				fi
				_sweep_reset || bail_out "cannot fill the mailbox"
				# (bash reports each SIGKILL on stderr: not ours to show)
				{ nolsan inject_run "$spec" "$POPFETCH" -C "$T/sweep.conf"; } 2>/dev/null
				points=$((points + 1))
				if [ "$INJECT_FIRED" -ge 1 ]; then
					fired=$((fired + 1))
				else
					bad="$bad
$spec: did not fire"
					continue
				fi
				sweep_verdict "$dest" "$mode" || bad="$bad
$spec$SW_WHY"
			done
			if [ -z "$bad" ] && [ "$fired" = "$points" ] && [ "$points" -gt 0 ]; then
				pass "$dest $mode: $fault at each of the $points $sc calls: fired, and the promise holds"
			else
				fail "$dest $mode: $fault at each of the $points $sc calls ($fired fired)" "$bad"
			fi
		done
	done
	SWEEP_POINTS=$(awk '{ s += $2 } END { print s + 0 }' "$T/inject.counts")
	note "$dest $mode: $SWEEP_POINTS injection points, twice each, in $(($(date +%s) - t0)) s"
}
