#!/bin/bash
# Fault sweep (issue 12): a foreground send with EIO, ENOSPC, EINTR and
# SIGKILL at every write, fsync, rename, openat, unlink, read, pread64 and close it
# makes; after one clean `sendmail -q` the message is delivered exactly
# once, or its caller was told (a non-zero exit) and it was never sent;
# only a kill between the server's 250 and the entry's removal may send it
# twice, and those cases are named.  See tests/lib/sweep.sh.
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/sweep.sh"

prep_send() {
	printf 'From: Alice <alice@example.org>\nSubject: send-%s\n\nline one\n.leading dot\n' "$1" >"$T/case.in"
	echo "send-$1"
}
sweep_op "send" prep_send "$SENDMAIL -C $T/sw.conf -i bob@example.net" status
sweep_summary "send"
done_testing
