# shellcheck shell=bash
# tests/lib/memsweep.sh: memory running out at every point where a program
# asks the kernel for memory (tests/faults/*-memory.t); sourced after lib.sh.
# glibc's malloc gets memory with brk and mmap; the dynamic loader maps the
# libraries (and a dlopen()ed libcurl's 30) with mmap.  Two sweeps:
#  1. At each brk or mmap call of the first process in turn, in the order a
#     clean run makes them: that call and every later one fails (mmap:
#     ENOMEM; brk: strace returns 0, which glibc takes as a refused brk, as
#     it takes the kernel's old break: error=ENOMEM would be read as a break
#     address and crash glibc itself), `-e inject=brk:retval=0:when=B+
#     -e inject=mmap:error=ENOMEM:when=M+`.
#  2. With the data segment limited (RLIMIT_DATA: brk and private writable
#     mappings, libraries' included, the kernel's own refusals) to every 4 KB
#     step from what the run needs (doubled until nothing fails, then
#     bisected) down until 8 runs never reach main.
# A run "reaches main" when strace sees the program's first own step (a
# string of its strace line, MEM_MARK); below that, the loader's own exit
# 127 or crash, before a byte is read, is counted apart and must merely be
# non-zero.  Once main has begun, a run must exit with one of MEM_CODES and
# never die of a signal.
#
# The script sets, before mem_sweep:
#   MEM_MARK     a fixed string in main's first traced call (openat, brk,
#                mmap, or one of MEM_TRACE, more syscalls to trace)
#   MEM_CODES    the exit codes allowed once main has begun ("0 70 75")
#   MEM_PROMISE  what the TAP line says held ("delivered once, or the caller told")
#   MEM_STDIN    the command's standard input (default /dev/null)
#   MEM_PREP ID  a function: set up case ID (0: a run that is not a case)
#   MEM_AFTER ID a function: what follows each run (the clean rerun)
#   MEM_CHECK ID SPEC  a function: the invariant after MEM_AFTER; sets
#                MEM_WHY and returns 1 when it does not hold
#   MEM_FAILED   optional function: clean up after a case that failed
#
#   mem_sweep NAME CMD...   both sweeps of CMD: two TAP lines, each with
#       notes of the outcome classes (exit status and the first line of
#       stderr, counted), the cases before main, and the time taken.

# mem_fired: did the run (log $T/mem.log) run out of memory: an injected
# call, a brk that got less than it asked for, an mmap refused?
mem_fired() {
	awk '/ENOMEM|INJECTED/ { n++ }
	     match($0, /brk\(0x[0-9a-f]+\) += 0x[0-9a-f]+/) {
		split(substr($0, RSTART, RLENGTH), a, /[()= ]+/)
		if (length(a[4]) == length(a[2]) && a[4] < a[2]) n++ }
	     END { print n + 0 }' "$T/mem.log"
}

# mem_run KIND ARG CMD...: CMD under strace; KIND "call" ARG "B M" (fail
# from the B-th brk and the M-th mmap on) or "limit" ARG KB (RLIMIT_DATA).
# Sets INJECT_STATUS, INJECT_FIRED and MEM_MAIN (1: main was reached).
mem_run() {
	local kind=$1 arg=$2 b m tr=brk,mmap,openat${MEM_TRACE:+,$MEM_TRACE}
	shift 2
	# (bash reports a run's crash on stderr: counted below, not shown)
	if [ "$kind" = call ]; then
		read -r b m <<<"$arg"
		{ timeout -k 5 60 strace -f -qq -o "$T/mem.log" -e trace="$tr" \
			-e inject=brk:retval=0:when="$b"+ -e inject=mmap:error=ENOMEM:when="$m"+ -- \
			"$@" <"${MEM_STDIN:-/dev/null}" >"$T/inject.out" 2>"$T/inject.err"; } 2>/dev/null
	else
		{ timeout -k 5 60 strace -f -qq -o "$T/mem.log" -e trace="$tr" -- \
			prlimit --data=$((arg * 1024)) -- "$@" <"${MEM_STDIN:-/dev/null}" \
			>"$T/inject.out" 2>"$T/inject.err"; } 2>/dev/null
	fi
	INJECT_STATUS=$?
	INJECT_FIRED=$(mem_fired)
	MEM_MAIN=0
	grep -qF -- "$MEM_MARK" "$T/mem.log" && MEM_MAIN=1
}

# mem_case ID KIND ARG CMD...: one case and its invariant.
mem_case() {
	local id=$1 kind=$2 arg=$3
	shift 3
	"$MEM_PREP" "$id"
	mem_run "$kind" "$arg" "$@"
	"$MEM_AFTER" "$id"
	echo "$INJECT_STATUS $(head -n 1 "$T/inject.err" |
		sed "s|$T|\$T|g"'; s/[0-9A-F]\{13\}\.[0-9]*\.[0-9]*/ID/g; s/\(cannot load libcurl\): [^;]*/\1: LIB: .../')" \
		>>"$T/mem.outcomes"
	echo "$kind $arg: $INJECT_STATUS main=$MEM_MAIN $(head -n 1 "$T/inject.err")" >>"$T/mem.cases"
	MEM_WHY=
	if [ "$MEM_MAIN" = 0 ]; then
		MEM_NOMAIN=$((MEM_NOMAIN + 1))
		[ "$INJECT_STATUS" != 0 ] || MEM_WHY="exit 0 without reaching main"
	else
		case " $MEM_CODES " in
		*" $INJECT_STATUS "*) ;;
		*) MEM_WHY="exit $INJECT_STATUS: $(head -n 1 "$T/inject.err" | head -c 200)" ;;
		esac
	fi
	if [ -n "$MEM_WHY" ] || ! "$MEM_CHECK" "$id" "$kind $arg"; then
		MEM_BAD=$((MEM_BAD + 1))
		echo "$kind $arg: $MEM_WHY" >>"$T/mem.fail"
		[ -z "${MEM_FAILED:-}" ] || "$MEM_FAILED"
	fi
}

# mem_start: a new sweep's counters.
mem_start() {
	MEM_BAD=0 MEM_NOMAIN=0
	: >"$T/mem.fail"
	: >"$T/mem.outcomes"
}

# mem_report NAME WHAT N T0: the TAP line and the notes of one sweep.
mem_report() {
	local name=$1 what=$2 n=$3 t0=$4
	if [ "$MEM_BAD" = 0 ]; then
		pass "$name: $what ($n cases): $MEM_PROMISE"
	else
		fail "$name: $what ($n cases)" "  $MEM_BAD failed: $(head -n 20 "$T/mem.fail")"
	fi
	note "$name, $what: $MEM_NOMAIN cases before main (the loader); outcomes:"
	note "$(sort "$T/mem.outcomes" | uniq -c | sort -rn | sed 's/^ */  /')"
	note "$name: $n cases in $((SECONDS - t0)) s"
}

# mem_points: "B M" for each brk or mmap call of the first process of the
# clean run logged in $T/mem.log: fail from that call on.
mem_points() {
	awk 'NR == 1 { p = $1 }
	     $1 == p { r = $0; sub(/^[0-9]+ +/, "", r)
		if (index(r, "brk(") == 1) { b++; print b, m + 1 }
		else if (index(r, "mmap(") == 1) { m++; print b + 1, m } }' "$T/mem.log"
}

# mem_sweep NAME CMD...: both sweeps (see the top).
mem_sweep() {
	local name=$1 id=0 n=0 kb lo hi pt t0=$SECONDS
	shift

	# 1. every brk and mmap call in turn
	mem_start
	"$MEM_PREP" 0
	timeout -k 5 60 strace -f -qq -o "$T/mem.log" -e trace=brk,mmap -- "$@" \
		<"${MEM_STDIN:-/dev/null}" >/dev/null 2>&1
	mem_points >"$T/points"
	"$MEM_AFTER" 0
	n=$(wc -l <"$T/points")
	[ "$n" -ge 10 ] || fail "$name: brk and mmap are called ($n times)"
	while read -r pt; do
		id=$((id + 1))
		mem_case "$id" call "$pt" "$@"
	done <"$T/points"
	mem_report "$name" "memory gone from each of its $n brk and mmap calls on" "$n" "$t0"

	# 2. every data limit, in pages: what it needs (doubled until nothing
	# fails, then halved back), then down until main is never reached
	t0=$SECONDS
	mem_start
	hi=256
	while "$MEM_PREP" 0; mem_run limit "$hi" "$@"; "$MEM_AFTER" 0
		[ "$INJECT_FIRED" != 0 ] && [ "$hi" -lt 65536 ]; do
		hi=$((hi * 2))
	done
	lo=$((hi / 2))
	while [ $((hi - lo)) -gt 4 ]; do
		kb=$(((lo + hi) / 8 * 4))
		"$MEM_PREP" 0
		mem_run limit "$kb" "$@"
		"$MEM_AFTER" 0
		if [ "$INJECT_FIRED" = 0 ]; then hi=$kb; else lo=$kb; fi
	done
	kb=$hi n=0
	while [ "$kb" -ge 8 ] && [ "$MEM_NOMAIN" -lt 8 ]; do
		kb=$((kb - 4))
		id=$((id + 1)) n=$((n + 1))
		mem_case "$id" limit "$kb" "$@"
	done
	[ "$MEM_NOMAIN" -ge 8 ] || fail "$name: data limits swept down to where it cannot be loaded"
	mem_report "$name" "each data limit from $hi KB down to $kb KB" "$n" "$t0"
}
