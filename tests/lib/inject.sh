# tests/lib/inject.sh: systematic fault injection with strace(1).
#
# Sourced by tests after lib.sh.  strace 6.1 counts injections per tracee
# (per process), so "the Nth write" is the Nth write of each process of
# the run; a sweep goes from N = 1 to the largest count any process made.
# Note: `-e trace=none` silently disables injection in strace 6.1, so the
# injected syscall is always the one traced.
#
#   inject_count SYSCALL CMD [ARGS...]
#       runs CMD (stdin inherited) under strace -f tracing SYSCALL and
#       prints the largest number of SYSCALL calls one process made.
#       CMD's stdout and stderr go to $T/inject.out and $T/inject.err.
#   inject_run SPEC CMD [ARGS...]
#       runs CMD under strace -f with -e inject=SPEC (e.g.
#       "fsync:error=EIO:when=3", "rename:signal=KILL:when=1"), CMD's
#       output as above, and sets
#         INJECT_STATUS  CMD's exit status (128+N when killed by signal N)
#         INJECT_FIRED   the number of calls that were injected (0: the
#                        fault did not happen, and the case proves nothing)
#       The strace log is kept in $T/inject.log.
#   inject_sweep_points SYSCALL...
#       helper for the tables: prints "SYSCALL N" lines for N in 1..count,
#       with the counts taken from the last inject_count of each SYSCALL
#       (kept in $T/inject.counts).

INJECT_STRACE=${INJECT_STRACE:-strace}

_inject_strace() {
	# $1: log file, $2: trace expression, $3: inject expression or "", rest: command
	local log=$1 trace=$2 inj=$3
	shift 3
	if [ -n "$inj" ]; then
		timeout -k 5 "${POSTIE_CMD_TIMEOUT:-60}" "$INJECT_STRACE" -f -qq -o "$log" \
			-e trace="$trace" -e inject="$inj" -- "$@" >"$T/inject.out" 2>"$T/inject.err"
	else
		timeout -k 5 "${POSTIE_CMD_TIMEOUT:-60}" "$INJECT_STRACE" -f -qq -o "$log" \
			-e trace="$trace" -- "$@" >"$T/inject.out" 2>"$T/inject.err"
	fi
}

inject_count() {
	local sc=$1 n
	shift
	_inject_strace "$T/inject.log" "$sc" "" "$@"
	# "PID write(" starts a call; "<... write resumed>" continues one.
	n=$(awk -v sc="$sc" '
		{ pid = $1; rest = $0; sub(/^[0-9]+ +/, "", rest) }
		index(rest, sc "(") == 1 { c[pid]++ }
		END { m = 0; for (p in c) if (c[p] > m) m = c[p]; print m }' "$T/inject.log")
	# Kept in a file too: inject_count is often called inside $(...).
	echo "$sc $n" >>"$T/inject.counts"
	echo "$n"
}

inject_run() {
	local spec=$1 sc
	shift
	sc=${spec%%:*}
	_inject_strace "$T/inject.log" "$sc" "$spec" "$@"
	INJECT_STATUS=$?
	# An injected error shows as "(INJECTED)"; an injected SIGKILL as the
	# call that never returns ("= ?") and "+++ killed by SIGKILL +++".
	case $spec in
	*signal=*)
		local sig=${spec#*signal=}
		sig=${sig%%:*}
		sig=SIG${sig#SIG}
		INJECT_FIRED=$(grep -c "+++ killed by $sig " "$T/inject.log") ;;
	*)	INJECT_FIRED=$(grep -c '(INJECTED' "$T/inject.log") ;;
	esac
	# strace re-raises a deadly signal: the shell then reports 128+N.
	return 0
}

inject_sweep_points() {
	local sc n i
	for sc in "$@"; do
		n=$(awk -v sc="$sc" '$1 == sc { n = $2 } END { print n + 0 }' "$T/inject.counts" 2>/dev/null)
		i=1
		while [ "$i" -le "$n" ]; do
			echo "$sc $i"
			i=$((i + 1))
		done
	done
}
