#!/bin/bash
# popfetch's mbox dotlock (issue 11): a lock whose owner is gone is taken
# over at once (a popfetch killed between link() and unlink() of its
# temporary name, an empty 0600 lock an older popfetch left, a dead pid);
# a lock of a live program is not; a full disk gives exit 74 and leaves no
# lock behind.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

export XDG_STATE_HOME=$T/state
for i in 1 2; do
	printf 'From: s%s@example.org\nSubject: message %s\n\nbody %s\n' "$i" "$i" "$i" >"$T/m$i"
done

# server: a fresh faultpop3 with messages 1 and 2, and the configuration for MBOX ($1).
server() {
	[ -z "$FAULT_PID" ] || stop_server "$FAULT_PID"
	rm -rf "$T/spool" "$XDG_STATE_HOME"
	start_faultpop3 normal --spool "$T/spool" --message "$T/m1" --message "$T/m2" ||
		bail_out "faultpop3 did not start"
	pf_plain_conf "$T/conf" 127.0.0.1 "$FAULT_PORT" "mbox = \"$1\""
}
count() { if [ -f "$1" ]; then grep -c '^From ' "$1"; else echo 0; fi; }
ndeleted() { if [ -f "$T/spool/deleted" ]; then wc -l <"$T/spool/deleted"; else echo 0; fi; }

# ---- killed between link() and unlink(): the real thing, by strace
server "$T/a.mbox"
(nolsan timeout 60 strace -f -qq -o "$T/strace.log" -P "$T/a.mbox.lock.popfetch" -e trace=unlink \
	-e inject=unlink:signal=KILL:when=2 "$POPFETCH" -C "$T/conf"; true) >/dev/null 2>&1
ok "$(grep -q 'killed by SIGKILL' "$T/strace.log"; echo $?)" "popfetch killed right after link() of its dotlock"
[ -e "$T/a.mbox.lock" ] && [ -e "$T/a.mbox.lock.popfetch" ] &&
	[ "$(stat -c %i "$T/a.mbox.lock")" = "$(stat -c %i "$T/a.mbox.lock.popfetch")" ]
ok $? "it left its half-made lock: the temporary name and the lock are one file"
POSTIE_CMD_TIMEOUT=30 check "the next poll takes the lock over at once" "$POPFETCH" -C "$T/conf"
is "$(count "$T/a.mbox")" 2 "and delivers"
ok "$([ ! -e "$T/a.mbox.lock" ] && [ ! -e "$T/a.mbox.lock.popfetch" ]; echo $?)" "no lock left"

# ---- the same, made by hand, with a pid that is alive now (reused)
server "$T/b.mbox"
sleep 600 &
live=$!
echo "$live" >"$T/b.mbox.lock.popfetch"
ln "$T/b.mbox.lock.popfetch" "$T/b.mbox.lock"
POSTIE_CMD_TIMEOUT=30 check "our half-made lock is ours even when its pid is alive again" \
	"$POPFETCH" -C "$T/conf"
is "$(count "$T/b.mbox")" 2 "and delivers"
kill "$live"
wait "$live" 2>/dev/null

# ---- an empty 0600 lock of ours (what popfetch 0.1 left on a full disk)
server "$T/c.mbox"
: >"$T/c.mbox.lock"
chmod 600 "$T/c.mbox.lock"
POSTIE_CMD_TIMEOUT=30 check "an empty 0600 lock of ours is taken over at once" "$POPFETCH" -C "$T/conf"
is "$(count "$T/c.mbox")" 2 "and delivers"
ok "$([ ! -e "$T/c.mbox.lock" ]; echo $?)" "no lock left"

# ---- a lock naming a process that is gone
server "$T/d.mbox"
sh -c 'exit 0' &
dead=$!
wait "$dead"
echo "$dead" >"$T/d.mbox.lock"
POSTIE_CMD_TIMEOUT=30 check "a lock of a dead process is taken over at once" "$POPFETCH" -C "$T/conf"
is "$(count "$T/d.mbox")" 2 "and delivers"

# ---- a dead popfetch's lock goes at the next poll even when it brings nothing
server "$T/f.mbox"
check "a first poll" "$POPFETCH" -C "$T/conf"
sh -c 'exit 0' &
dead=$!
wait "$dead"
echo "$dead" >"$T/f.mbox.lock"
echo "$dead" >"$T/f.mbox.lock.popfetch"
check "a poll with nothing new" "$POPFETCH" -C "$T/conf"
ok "$([ ! -e "$T/f.mbox.lock" ] && [ ! -e "$T/f.mbox.lock.popfetch" ]; echo $?)" \
	"removes the lock and the temporary name a dead popfetch left"

# ---- a lock of a live program (mutt's: empty, mode 0) is waited for, not taken
server "$T/e.mbox"
: >"$T/e.mbox.lock"
chmod 000 "$T/e.mbox.lock"
"$POPFETCH" -C "$T/conf" >"$T/e.out" 2>"$T/e.err" &
pid=$!
wait_for 'grep -q "C: UIDL" "$T/spool/log" 2>/dev/null' 20
sleep 1
kill -TERM "$pid"
wait "$pid"
is "$?" 73 "a live lock: waited for, then (SIGTERM) exit 73"
like "$(cat "$T/e.err")" "cannot lock $T/e.mbox: it stays locked by another program" "says so"
ok "$([ -e "$T/e.mbox.lock" ]; echo $?)" "the other program's lock stays"
is "$(count "$T/e.mbox")" 0 "nothing written"
is "$(ndeleted)" 0 "nothing deleted"
rm -f "$T/e.mbox.lock"

# ---- a full disk: no room for the dotlock
full=$T/full
mkdir -p "$full"
if mount -t tmpfs -o size=256k,mode=0755 tmpfs "$full" 2>/dev/null; then
	trap '_rc=$?; umount -l "$full" 2>/dev/null; (exit $_rc); _postie_exit' EXIT
	server "$full/inbox"
	printf 'From x@y Thu Nov 26 15:08:17 2026\nSubject: old\n\nold\n\n' >"$full/inbox"
	cp "$full/inbox" "$T/inbox.orig"
	dd if=/dev/zero of="$full/filler" bs=4k 2>/dev/null
	check_status 74 "no room for the dotlock: exit 74" "$POPFETCH" -C "$T/conf"
	like "$(cat "$T/last.err")" "^popfetch: f: cannot create the lock file $full/inbox.lock: No space left on device" \
		"says the lock file cannot be made, and why"
	ok "$([ ! -e "$full/inbox.lock" ] && [ ! -e "$full/inbox.lock.popfetch" ]; echo $?)" "no lock left, not even an empty one"
	cmp_file "$full/inbox" "$T/inbox.orig" "the mbox is untouched"
	is "$(ndeleted)" 0 "nothing deleted"
	rm -f "$full/filler"
	check "with room again, the next poll delivers" "$POPFETCH" -C "$T/conf"
	is "$(count "$full/inbox")" 3 "all there"
	umount "$full"
	trap _postie_exit EXIT
else
	skip "a full disk" "cannot mount a tmpfs here"
fi

done_testing
