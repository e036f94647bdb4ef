#!/bin/bash
# Fault sweep (issue 12): a -bs session of two messages with EIO, ENOSPC,
# EINTR and SIGKILL at every write, fsync, rename, openat, unlink, read,
# pread64 and close it makes; after one clean `sendmail -q` each message whose
# final dot was answered 250 is delivered exactly once, and the others at
# most once; only a kill between the server's 250 and the entry's removal
# may send one twice, and those cases are named.  See tests/lib/sweep.sh.
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/sweep.sh"

prep_bs() {
	crlf "EHLO client" "MAIL FROM:<app@example.org>" "RCPT TO:<one@example.net>" "DATA" \
		"Subject: bs1-$1" "" "first" "." \
		"MAIL FROM:<app@example.org>" "RCPT TO:<two@example.net>" "DATA" \
		"Subject: bs2-$1" "" "second" "." "QUIT" >"$T/case.in"
	echo "bs1-$1"
	echo "bs2-$1"
}
sweep_op "-bs" prep_bs "$SENDMAIL -C $T/sw.conf -bs" bs
sweep_summary "-bs"
done_testing
