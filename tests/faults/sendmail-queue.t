#!/bin/bash
# Fault sweep (issue 12): `sendmail -q` of five queued entries, the fifth
# refused by the server, with EIO, ENOSPC, EINTR and SIGKILL at every
# write, fsync, rename, openat, unlink, read, pread64 and close it makes; after one
# clean `sendmail -q` each of the four is delivered exactly once, the fifth
# is in failed/ and its bounce delivered exactly once; only a kill between
# the server's 250 and the removal (or the note of the bounce) may send one
# twice, and those cases are named.  See tests/lib/sweep.sh.
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/sweep.sh"

# Five entries queued while the server is away, the fifth refused for good
# (failed/ and a bounce); each case gets a copy (tests/lib/sweep.sh).
sweep_five_queued bad@example.net
prep_queue() {
	sweep_five_prep "$1"
	printf 'bounce:q5-%06d\n' "$1"
}
SW_FAILED=1
sweep_op "-q of five" prep_queue "$SENDMAIL -C $T/sw.conf -q" queue
sweep_summary "-q of five"
done_testing
