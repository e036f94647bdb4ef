#!/bin/bash
# Memory sweeps (issue 12: running out of memory is the host's failure, not
# the message's): a foreground send and a `sendmail -q` of five entries, with
# memory running out at every point where they ask the kernel for more.
# glibc's malloc gets memory with brk and mmap; the dynamic loader maps
# libraries (libconfuse at start, libcurl's 30 at the first send) with mmap.
#  1. At each of those calls in turn, in the order a clean run makes them:
#     that call and every later one fails (mmap: ENOMEM; brk: strace returns
#     0, which glibc takes as a refused brk, as it takes the kernel's old
#     break: error=ENOMEM would be read as a break address and crash
#     glibc itself), `-e inject=brk:retval=0:when=B+
#     -e inject=mmap:error=ENOMEM:when=M+`.
#  2. With the data segment limited (RLIMIT_DATA: brk and private writable
#     mappings, libraries' included, the kernel's own refusals) to every
#     page count from what the run needs down to where it cannot be loaded.
# After each case one clean `sendmail -q`; then, as in the other sweeps
# (tests/lib/sweep.sh), every message is delivered exactly once, or its
# caller was told (70 "out of memory" before the message is queued) and it
# was never sent; nothing is left in the queue; no run dies of a signal or
# exits otherwise once main has begun (below that, ld.so's own exit 127 or
# crash, before a byte is read, is counted apart).
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/sweep.sh"

# mem_fired: did the run (log $T/mem.log) run out of memory: an injected
# call, a brk that got less than it asked for, an mmap refused?
mem_fired() {
	awk '/ENOMEM|INJECTED/ { n++ }
	     match($0, /brk\(0x[0-9a-f]+\) += 0x[0-9a-f]+/) {
		split(substr($0, RSTART, RLENGTH), a, /[()= ]+/)
		if (length(a[4]) == length(a[2]) && a[4] < a[2]) n++ }
	     END { print n + 0 }' "$T/mem.log"
}

# mem_run KIND ARG CMD...: CMD (stdin $T/case.in) under strace; KIND
# "call" ARG "B M" (fail from the B-th brk and the M-th mmap on) or "limit"
# ARG KB (RLIMIT_DATA).  Sets INJECT_STATUS, INJECT_FIRED and MEM_MAIN
# (1: main's first step, reading /proc/self/fd, was reached).
mem_run() {
	local kind=$1 arg=$2 b m
	shift 2
	if [ "$kind" = call ]; then
		read -r b m <<<"$arg"
		timeout -k 5 60 strace -f -qq -o "$T/mem.log" -e trace=brk,mmap,openat \
			-e inject=brk:retval=0:when="$b"+ -e inject=mmap:error=ENOMEM:when="$m"+ -- \
			"$@" <"$T/case.in" >"$T/inject.out" 2>"$T/inject.err"
	else
		timeout -k 5 60 strace -f -qq -o "$T/mem.log" -e trace=brk,mmap,openat -- \
			prlimit --data=$((arg * 1024)) -- "$@" <"$T/case.in" >"$T/inject.out" 2>"$T/inject.err"
	fi
	INJECT_STATUS=$?
	INJECT_FIRED=$(mem_fired)
	MEM_MAIN=0
	grep -q '"/proc/self/fd"' "$T/mem.log" && MEM_MAIN=1
}

# mem_case ID CHECK KIND ARG CMD...: one case and its invariant.
mem_case() {
	local id=$1 check=$2 kind=$3 arg=$4
	shift 4
	"$MEM_PREP" "$id" >"$T/expect"
	mem_run "$kind" "$arg" "$@"
	sweep_new >"$T/d1"
	"$SENDMAIL" -C "$T/sw.conf" -q >/dev/null 2>&1
	sweep_new >"$T/d2"
	echo "$INJECT_STATUS $(head -n 1 "$T/inject.err" |
		sed 's/[0-9A-F]\{13\}\.[0-9]*\.[0-9]*/ID/g; s/\(cannot load libcurl\): [^;]*/\1: LIB: .../')" \
		>>"$T/mem.outcomes"
	SW_WHY=
	if [ "$MEM_MAIN" = 0 ]; then
		MEM_NOMAIN=$((MEM_NOMAIN + 1))
		[ "$INJECT_STATUS" != 0 ] || SW_WHY="exit 0 without reaching main"
	else
		case $check:$INJECT_STATUS in
		status:0|status:70|status:75|queue:0|queue:70) ;;
		*) SW_WHY="exit $INJECT_STATUS: $(head -n 1 "$T/inject.err" | head -c 200)" ;;
		esac
	fi
	if [ -n "$SW_WHY" ] || ! sweep_check "$id" "$check" "$kind $arg"; then
		MEM_BAD=$((MEM_BAD + 1))
		echo "$kind $arg: $SW_WHY" >>"$T/mem.fail"
		rm -rf "$SW_Q" "$POSTIE_SPOOLDIR"
	fi
}

mem_report() {
	local name=$1 what=$2 n=$3 t0=$4
	if [ "$MEM_BAD" = 0 ]; then
		pass "$name: $what ($n cases): delivered once, or the caller told"
	else
		fail "$name: $what ($n cases)" "  $MEM_BAD failed: $(head -n 20 "$T/mem.fail")"
	fi
	note "$name, $what: $MEM_NOMAIN cases before main (the loader); outcomes:"
	note "$(sort "$T/mem.outcomes" | uniq -c | sort -rn | sed 's/^ */  /')"
	note "$name: $n cases in $((SECONDS - t0)) s"
}

# mem_sweep NAME PREP CHECK CMD...
mem_sweep() {
	local name=$1 check=$3 id=0 n=0 kb lo hi pt t0=$SECONDS
	MEM_PREP=$2
	shift 3

	# 1. every brk and mmap call in turn
	MEM_BAD=0 MEM_NOMAIN=0
	: >"$T/mem.fail"
	: >"$T/mem.outcomes"
	"$MEM_PREP" 0 >"$T/expect"
	timeout -k 5 60 strace -f -qq -o "$T/mem.log" -e trace=brk,mmap -- "$@" \
		<"$T/case.in" >/dev/null 2>&1
	awk 'NR == 1 { p = $1 }
	     $1 == p { r = $0; sub(/^[0-9]+ +/, "", r)
		if (index(r, "brk(") == 1) { b++; print b, m + 1 }
		else if (index(r, "mmap(") == 1) { m++; print b + 1, m } }' "$T/mem.log" >"$T/points"
	sweep_new >/dev/null; "$SENDMAIL" -C "$T/sw.conf" -q >/dev/null 2>&1; sweep_new >/dev/null
	n=$(wc -l <"$T/points")
	[ "$n" -ge 10 ] || fail "$name: brk and mmap are called ($n times)"
	while read -r pt; do
		id=$((id + 1))
		mem_case "$id" "$check" call "$pt" "$@"
	done <"$T/points"
	mem_report "$name" "memory gone from each of its $n brk and mmap calls on" "$n" "$t0"

	# 2. every data limit, in pages: what it needs (doubled until nothing
	# fails, then halved back), then down until main is never reached
	t0=$SECONDS
	MEM_BAD=0 MEM_NOMAIN=0
	: >"$T/mem.fail"
	: >"$T/mem.outcomes"
	hi=256
	while "$MEM_PREP" 0 >"$T/expect"; mem_run limit "$hi" "$@"; sweep_new >/dev/null
		"$SENDMAIL" -C "$T/sw.conf" -q >/dev/null 2>&1; sweep_new >/dev/null
		[ "$INJECT_FIRED" != 0 ] && [ "$hi" -lt 65536 ]; do
		hi=$((hi * 2))
	done
	lo=$((hi / 2))
	while [ $((hi - lo)) -gt 4 ]; do
		kb=$(((lo + hi) / 8 * 4))
		"$MEM_PREP" 0 >"$T/expect"
		mem_run limit "$kb" "$@"
		sweep_new >/dev/null; "$SENDMAIL" -C "$T/sw.conf" -q >/dev/null 2>&1; sweep_new >/dev/null
		if [ "$INJECT_FIRED" = 0 ]; then hi=$kb; else lo=$kb; fi
	done
	kb=$hi n=0
	while [ "$kb" -ge 8 ] && [ "$MEM_NOMAIN" -lt 8 ]; do
		kb=$((kb - 4))
		id=$((id + 1)) n=$((n + 1))
		mem_case "$id" "$check" limit "$kb" "$@"
	done
	[ "$MEM_NOMAIN" -ge 8 ] || fail "$name: data limits swept down to where it cannot be loaded"
	mem_report "$name" "each data limit from $hi KB down to $kb KB" "$n" "$t0"
}

# ------------------------------------------------------------- a send
prep_send() {
	printf 'From: Alice <alice@example.org>\nSubject: mem-%s\n\nline one\n.leading dot\n' "$1" >"$T/case.in"
	echo "mem-$1"
}
mem_sweep "send" prep_send status "$SENDMAIL" -C "$T/sw.conf" -i bob@example.net

# ------------------------------------------------------------- over STARTTLS with AUTH
# The same send through a server that takes STARTTLS and AUTH PLAIN: the
# TLS library's allocations (the CA file, the handshake) and the login's.
start_smtpd "$T/tls" --starttls --auth alice:secret --require-auth || bail_out "smtpd (STARTTLS)"
mv "$T/sw.conf" "$T/sw-plain.conf"
CONF_TOP='connection_cache = 0' QDIR=$SW_Q write_conf "$T/sw.conf" "$SMTP_PORT" \
	'tls = "starttls"' 'user = "alice"' 'password = "secret"' 'from = "me@example.org"' 'timeout = 10'
PLAIN_SPOOL=$SW_SPOOL PLAIN_K=$SW_K
SW_SPOOL=$T/tls SW_K=0
prep_tls() {
	printf 'From: Alice <alice@example.org>\nSubject: tls-%s\n\nline one\n' "$1" >"$T/case.in"
	echo "tls-$1"
}
mem_sweep "STARTTLS send" prep_tls status "$SENDMAIL" -C "$T/sw.conf" -i bob@example.net
mv "$T/sw-plain.conf" "$T/sw.conf"
SW_SPOOL=$PLAIN_SPOOL SW_K=$PLAIN_K

# ------------------------------------------------------------- -q of five
sweep_five_queued r5@example.net
prep_queue() {
	sweep_five_prep "$1"
	printf 'q5-%06d\n' "$1"
}
mem_sweep "-q of five" prep_queue queue "$SENDMAIL" -C "$T/sw.conf" -q

done_testing
