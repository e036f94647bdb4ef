#!/bin/bash
# Memory sweeps (issue 12: running out of memory is the host's failure, not
# the message's): a foreground send and a `sendmail -q` of five entries, with
# memory running out at every point where they ask the kernel for more.
# Both sweeps of tests/lib/memsweep.sh: from each brk and mmap call on, every
# one fails; the data segment limited to every 4 KB step from what the run
# needs down to where it cannot be loaded.  malloc's top_pad is 0: the heap
# grows a page at a time, so memory also runs out inside the transaction,
# not only while ld.so maps libcurl's libraries.
# After each case one clean `sendmail -q`; then, as in the other sweeps
# (tests/lib/sweep.sh), every message is delivered exactly once, or its
# caller was told (70 "out of memory" before the message is queued) and it
# was never sent; nothing is left in the queue; no run dies of a signal or
# exits otherwise once main has begun (below that, ld.so's own exit 127 or
# crash, before a byte is read, is counted apart).
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/sweep.sh"
. "$TOP/tests/lib/memsweep.sh"

# The hooks of tests/lib/memsweep.sh: the message of case ID on stdin, its
# Subject the one expected; after each run one clean -q; sweep_check's
# invariant (SM_CHECK: "status", the caller told by the exit status, or
# "queue").
MEM_MARK='"/proc/self/fd"'	# main's first step
MEM_STDIN=$T/case.in
MEM_PROMISE="delivered once, or the caller told"
sm_prep() { "$SM_PREP" "$1" >"$T/expect"; }
sm_after() {
	sweep_new >"$T/d1"
	"$SENDMAIL" -C "$T/sw.conf" -q >/dev/null 2>&1
	sweep_new >"$T/d2"
}
sm_check() { sweep_check "$1" "$SM_CHECK" "$2" || { MEM_WHY=$SW_WHY; return 1; }; }
sm_failed() { rm -rf "$SW_Q" "$POSTIE_SPOOLDIR"; }
MEM_PREP=sm_prep MEM_AFTER=sm_after MEM_CHECK=sm_check MEM_FAILED=sm_failed

# sm_sweep NAME PREP CHECK CMD...
sm_sweep() {
	SM_PREP=$2 SM_CHECK=$3
	case $3 in
	status) MEM_CODES="0 70 75" ;;
	queue) MEM_CODES="0 70" ;;
	esac
	local name=$1
	shift 3
	GLIBC_TUNABLES=glibc.malloc.top_pad=0 mem_sweep "$name" "$@"
}

# ------------------------------------------------------------- a send
prep_send() {
	printf 'From: Alice <alice@example.org>\nSubject: mem-%s\n\nline one\n.leading dot\n' "$1" >"$T/case.in"
	echo "mem-$1"
}
sm_sweep "send" prep_send status "$SENDMAIL" -C "$T/sw.conf" -i bob@example.net

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
sm_sweep "STARTTLS send" prep_tls status "$SENDMAIL" -C "$T/sw.conf" -i bob@example.net
mv "$T/sw-plain.conf" "$T/sw.conf"
SW_SPOOL=$PLAIN_SPOOL SW_K=$PLAIN_K

# ------------------------------------------------------------- -q of five
sweep_five_queued r5@example.net
prep_queue() {
	sweep_five_prep "$1"
	printf 'q5-%06d\n' "$1"
}
sm_sweep "-q of five" prep_queue queue "$SENDMAIL" -C "$T/sw.conf" -q

done_testing
