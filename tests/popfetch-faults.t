#!/bin/bash
# popfetch: nothing is lost when things go wrong locally: an mbox that cannot
# be written (read-only directory, full filesystem) and kill -9 in the middle
# of a long fetch.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

start_dovecot alice:secret || bail_out "cannot start dovecot"
msg() { printf 'From: s%s@example.com\nSubject: message %s\n\nbody of %s\n' "$1" "$1" "$1" >"$T/m$1"; pop3_put alice "$T/m$1"; }

# Root ignores directory permissions: run popfetch without that power.
as_user() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --bounding-set=-dac_override,-dac_read_search -- "$@"
	else
		"$@"
	fi
}

# ---- read-only directory
msg 1
msg 2
mkdir -p "$T/ro"
pf_conf "$T/ro.conf" "mbox = \"$T/ro/inbox\""
chmod 555 "$T/ro"
check_status 73 "mbox cannot be created in a read-only directory: exit 73" as_user "$POPFETCH" -C "$T/ro.conf"
like "$(cat "$T/last.err")" "^popfetch: inbox: cannot open $T/ro/inbox: Permission denied" "says why"
is "$(pop3_count alice)" 2 "nothing deleted"
chmod 755 "$T/ro"
printf 'From x@y Thu Nov 26 15:08:17 2026\nSubject: old\n\nold mail\n\n' >"$T/ro/inbox"
chmod 600 "$T/ro/inbox"
cp "$T/ro/inbox" "$T/ro.orig"
chmod 555 "$T/ro"
check_status 73 "existing mbox in a read-only directory (no dotlock possible): exit 73" as_user "$POPFETCH" -C "$T/ro.conf"
like "$(cat "$T/last.err")" "cannot create the lock file $T/ro/inbox.lock" "says the lock file cannot be made"
is "$(pop3_count alice)" 2 "nothing deleted"
cmp_file "$T/ro/inbox" "$T/ro.orig" "the mbox is not damaged"
chmod 755 "$T/ro"

# ---- a full filesystem: tmpfs of 1 MB
full=$T/full
mkdir -p "$full"
if mount -t tmpfs -o size=1m,mode=0755 tmpfs "$full" 2>/dev/null; then
	trap '_rc=$?; umount -l "$full" 2>/dev/null; (exit $_rc); _postie_exit' EXIT
	"$PY" -c 'import sys; sys.stdout.write("From x@y Thu Nov 26 15:08:17 2026\nSubject: old\n\n" + "old line\n" * 3000 + "\n")' >"$full/inbox"
	cp "$full/inbox" "$T/full.orig"
	{ printf 'From: big@example.com\nSubject: too big for the disk\n\n'; head -c 2000000 /dev/zero | tr '\0' 'z' | fold -w 76; } >"$T/big"
	rm -rf "$T/mail/alice"
	pop3_put alice "$T/big"
	msg 3
	pf_conf "$T/full.conf" "mbox = \"$full/inbox\""
	check_status 74 "a full filesystem: exit 74" "$POPFETCH" -C "$T/full.conf"
	like "$(cat "$T/last.err")" "^popfetch: inbox: $full/inbox: No space left on device" "says the disk is full"
	is "$(pop3_count alice)" 2 "nothing deleted"
	cmp_file "$full/inbox" "$T/full.orig" "the mbox is truncated back to what it was"
	ok "$([ ! -e "$full/inbox.lock" ]; echo $?)" "the dotlock is removed"
	umount "$full"
	trap _postie_exit EXIT
else
	skip "a full filesystem" "cannot mount a tmpfs here"
fi

# ---- kill -9 in the middle of a 500-message fetch, twice, then a full run
rm -rf "$T/mail/alice" "$T/state" "$T/mbox"
bulk_put alice 500 6000
pf_conf "$T/conf"
# kill_when COND: start popfetch, kill -9 it as soon as COND (a shell
# condition) holds; false if it finished first.
kill_when() {
	local pid
	"$POPFETCH" -C "$T/conf" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null && ! eval "$1"; do :; done
	if kill -9 "$pid" 2>/dev/null; then
		wait "$pid" 2>/dev/null
		note "killed at $(mbox_count "$T/mbox") in the mbox, $(recorded) recorded, $(pop3_count alice) on the server"
		return 0
	fi
	wait "$pid"
	return 1
}
state=$T/state/postie/popfetch/inbox_alice@localhost.uidl
recorded() { if [ -f "$state" ]; then grep -vc '^#' "$state"; else echo 0; fi; }
kill_when '[ "$(mbox_count "$T/mbox")" -ge 100 ]'
ok $? "kill -9 in the first batch (before anything is recorded)"
is "$(pop3_count alice)" 500 "nothing deleted yet"
kill_when '[ "$(recorded)" -gt 0 ]'
ok $? "kill -9 again, once a batch is recorded"
before=$(mbox_count "$T/mbox")
check "a rerun after kill -9" "$POPFETCH" -C "$T/conf"
after=$(mbox_count "$T/mbox")
note "the rerun fetched $((after - before)) messages"
ok "$([ $((after - before)) -lt 500 ]; echo $?)" "the rerun does not fetch again what the killed runs recorded (it deletes them)"
is "$(pop3_count alice)" 0 "the rerun empties the server"
n=$(mbox_split "$T/mbox" "$T/split")
ok $? "the mbox parses cleanly"
"$PY" -c "$BULK_PY"'
import os, re, sys
d, n = sys.argv[1], int(sys.argv[2])
seen, partial, dup, bad = {}, 0, 0, 0
for i in range(1, n + 1):
    data = open(os.path.join(d, str(i)), "rb").read()
    m = re.search(rb"^Message-ID: <(\d+)@bulk>$", data, re.M)
    k = int(m.group(1)) if m else None
    if k is not None and data == bulk_msg(k, 6000):
        dup += k in seen
        seen[k] = 1
    elif k is not None and bulk_msg(k, 6000).startswith(data.rstrip(b"\n")):
        partial += 1
    else:
        bad += 1
missing = [k for k in range(1, 501) if k not in seen]
print("missing=%d partial=%d duplicates=%d bad=%d" % (len(missing), partial, dup, bad))
' "$T/split" "$n" >"$T/verdict"
verdict=$(cat "$T/verdict")
note "kill -9 outcome: $verdict"
like "$verdict" '^missing=0 ' "every message is in the mbox at least once, intact"
like "$verdict" ' partial=[012] ' "at most one cut-off copy per kill"
like "$verdict" ' bad=0$' "nothing else in the mbox"

done_testing
