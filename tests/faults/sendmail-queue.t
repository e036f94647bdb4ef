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

# Five entries queued while the server is away, kept as a template; each
# case gets a copy, its Subjects marked with the case (same length: the
# sizes in the envelopes stay right).
for i in 1 2 3 4 5; do
	rcpt=r$i@example.net
	[ "$i" = 5 ] && rcpt=bad@example.net	# refused for good: failed/ and a bounce
	printf 'Subject: q%s-CASEID\n\nmessage %s\n' "$i" "$i" |
		"$SENDMAIL" -C "$T/swdead.conf" -i "$rcpt" || bail_out "queueing $i"
done
[ "$(ls "$SW_Q"/*.env | wc -l)" = 5 ] || bail_out "five entries queued"
rm -rf "$SW_Q/tmp"/.[!.]* 2>/dev/null
mv "$SW_Q" "$T/template"
: >"$T/case.in"

prep_queue() {
	local id i
	id=$(printf %06d "$1")
	rm -rf "$SW_Q"
	cp -a "$T/template" "$SW_Q"
	sed -i "s/CASEID/$id/" "$SW_Q"/*.msg
	for i in 1 2 3 4; do echo "q$i-$id"; done
	echo "bounce:q5-$id"
}
SW_FAILED=1
sweep_op "-q of five" prep_queue "$SENDMAIL -C $T/sw.conf -q" queue
sweep_summary "-q of five"
done_testing
