#!/bin/bash
# popfetch's state records only what is still on the server (issue 11):
#  - a server that gives new messages the UIDLs of deleted ones (RFC 1939
#    allows it; Dovecot does it for a mailbox recreated within a second):
#    every new message is fetched, none deleted unfetched, in delete and keep
#    mode;
#  - a version 1 state file (UIDLs only) is read, and rewritten with sizes;
#  - the state cannot be saved (open, write, fsync, rename of NAME.uidl.tmp
#    failing with ENOSPC or EIO), and Maildir's new/ cannot be synced or
#    opened: the batch is taken back out of the destination (an mda says it
#    cannot be, and the state saved at the end of the poll records what it
#    delivered), exit 74, nothing deleted; a clean rerun delivers each
#    message once.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

export XDG_STATE_HOME=$T/state
STATE=$T/state/postie/popfetch/f_alice@127.0.0.1.uidl
SPOOL=$T/spool

# msg N [SIZE-PAD]: message N; the pad makes messages of one number differ in size.
msg() {
	{
		printf 'Return-Path: <s%s@example.org>\nFrom: s%s@example.org\nSubject: message %s\n\nbody %s\n' \
			"$1" "$1" "$1" "$1"
		[ -z "$2" ] || head -c "$2" /dev/zero | tr '\0' 'p'
		echo
	} >"$T/m$1"
}

# server UIDL:N... : a fresh faultpop3 serving message N with UIDL UIDL.
server() {
	local a args=()
	[ -z "$FAULT_PID" ] || stop_server "$FAULT_PID"
	rm -rf "$SPOOL"
	for a in "$@"; do
		args+=(--message "$T/m${a#*:}" --uidl "${a%%:*}")
	done
	start_faultpop3 normal --spool "$SPOOL" "${args[@]}" || bail_out "faultpop3 did not start"
	[ ${#CONF_ARGS[@]} -eq 0 ] || conf "${CONF_ARGS[@]}"
}

# conf DEST-LINE [KEY=VALUE...]: the account on the server (written again when it restarts)
CONF_ARGS=()
conf() {
	CONF_ARGS=("$@")
	pf_plain_conf "$T/conf" 127.0.0.1 "$FAULT_PORT" "$@"
}

# subjects MBOX: the Subject lines, in order, one a line.
subjects() { grep -h '^Subject: ' "$@" 2>/dev/null | sed 's/^Subject: //'; }
lines() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }

# deleted_unfetched: UIDLs deleted on the server that no RETR of the poll got.
deleted_unfetched() {
	[ -f "$SPOOL/deleted" ] || return 0
	grep -vxF -f "$SPOOL/retrieved" "$SPOOL/deleted" 2>/dev/null ||
		{ [ -f "$SPOOL/retrieved" ] || cat "$SPOOL/deleted"; }
}

# ---- reused UIDLs, delete mode
for i in 1 2 3 4 5 6 7 8; do msg "$i"; done
server A:1 B:2 C:3
conf "mbox = \"$T/del.mbox\""
check "delete mode: first poll" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/deleted")" 3 "delete mode: 3 fetched and deleted"
like "$(cat "$STATE")" '^# popfetch uidl v2$' "after QUIT's +OK the state holds none of the deleted messages"
# The server is recreated: new messages, the first three with the old UIDLs
# (messages 4-6 are the size of 1-3: the UIDL alone must not count).
server A:4 B:5 C:6 D:7 E:8
check "delete mode: second poll" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/retrieved")" 5 "delete mode: every new message fetched, also those with reused UIDLs"
is "$(deleted_unfetched)" "" "delete mode: nothing deleted that was not fetched"
is "$(lines "$SPOOL/deleted")" 5 "delete mode: all five deleted after the fetch"
is "$(subjects "$T/del.mbox" | tr '\n' ' ')" "message 1 message 2 message 3 message 4 message 5 message 6 message 7 message 8 " \
	"delete mode: the mbox holds all eight, once each"

# ---- reused UIDLs, keep mode: another client deleted 1-3, new ones reuse their UIDLs
rm -f "$STATE"
msg 4 100
msg 5 200
msg 6 300
server A:1 B:2 C:3
conf "mbox = \"$T/keep.mbox\"" "keep = true"
check "keep mode: first poll" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/retrieved")" 3 "keep mode: 3 fetched"
is "$(lines "$SPOOL/deleted")" 0 "keep mode: none deleted"
is "$(grep -vc '^#' "$STATE")" 3 "keep mode: 3 recorded"
like "$(sed -n 2p "$STATE")" '^A [0-9]+$' "each entry is the UIDL and the size LIST gave"
check "keep mode: a poll with nothing new" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/retrieved")" 3 "keep mode: nothing fetched again"
server A:4 B:5 C:6 D:7 E:8
check "keep mode: the mailbox replaced" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/retrieved")" 5 "keep mode: the new messages with reused UIDLs are fetched"
is "$(lines "$SPOOL/deleted")" 0 "keep mode: nothing deleted"
is "$(subjects "$T/keep.mbox" | tr '\n' ' ')" "message 1 message 2 message 3 message 4 message 5 message 6 message 7 message 8 " \
	"keep mode: the mbox holds all eight, once each"
is "$(grep -vc '^#' "$STATE")" 5 "keep mode: the state now holds the five on the server"
check "keep mode: again, nothing new" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/retrieved")" 5 "keep mode: nothing fetched twice"

# ---- a UIDL that starts with '#' (RFC 1939 allows any of 0x21-0x7e) is recorded like any other
msg 1
server '#1:1' '#2:2'
conf "mbox = \"$T/hash.mbox\"" "keep = true"
rm -f "$STATE"
check "UIDLs starting with #: first poll" "$POPFETCH" -C "$T/conf"
check "UIDLs starting with #: second poll" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/retrieved")" 2 "fetched once, not at every poll"

# ---- a version 1 state file: UIDLs only
msg 1
msg 2
server A:1 B:2 C:3
conf "mbox = \"$T/v1.mbox\"" "keep = true"
printf '# popfetch uidl v1\nA\nB\n' >"$STATE"
check "a version 1 state is read" "$POPFETCH" -C "$T/conf"
is "$(cat "$SPOOL/retrieved")" C "only the message it does not name is fetched"
is "$(sed -n 1p "$STATE")" "# popfetch uidl v2" "the state is rewritten in version 2"
like "$(sed -n 2,4p "$STATE" | tr '\n' ' ')" '^A [0-9]+ B [0-9]+ C [0-9]+ $' "with the sizes LIST gave"
printf '# popfetch uidl v2\nA 12 x\n' >"$STATE"
check_status 65 "a state file that does not parse: exit 65" "$POPFETCH" -C "$T/conf"
like "$(cat "$T/last.err")" "^popfetch: f: $STATE, line 2: not a UIDL and a size; remove the file" \
	"names the file, the line and the fix"
# with a second account, polled beside it (max_parallel): still 65 (was 70)
sed 's/^pop3 "f" {/pop3 "g" {/; s|mbox = "[^"]*"|mbox = "'"$T"'/g.mbox"|; /^log =/d; /^timeout =/d' "$T/conf" >>"$T/conf"
check_status 65 "two accounts, one state file that does not parse: exit 65" "$POPFETCH" -C "$T/conf"
conf "mbox = \"$T/v1.mbox\"" "keep = true"

# ---- UIDLs longer than the state takes (RFC 1939: 70): up to 1,000 characters
# a UIDL, beyond that none (fetched at every poll in keep mode), also two whose
# first 1,024 characters are the same: never a poll that fails for ever
rm -f "$STATE"
U1000=$(printf 'u%.0s' $(seq 1000))
U1010=$(printf 'v%.0s' $(seq 1010))
UCUT=$(printf 'w%.0s' $(seq 1030))
server "$U1000:1" "$U1010:2" "${UCUT}x:3" "${UCUT}y:4"
conf "mbox = \"$T/long.mbox\"" "keep = true"
rm -f "$T/long.mbox"
check "long UIDLs: first poll" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/retrieved")" 4 "long UIDLs: all four fetched"
is "$(grep -vc '^#' "$STATE")" 1 "long UIDLs: only the 1,000-character one recorded"
check "long UIDLs: the next poll (was: exit 65 for ever)" "$POPFETCH" -C "$T/conf"
is "$(lines "$SPOOL/retrieved")" 7 "long UIDLs: the three over 1,000 characters fetched again, as with no UIDL"
is "$(lines "$SPOOL/deleted")" 0 "long UIDLs: nothing deleted"

# ---- the state cannot be saved: the batch is undone
rm -f "$STATE"
for i in 1 2 3; do msg "$i"; done
printf 'From old@example.org Thu Nov 26 15:08:17 2026\nSubject: old\n\nold mail\n\n' >"$T/orig.mbox"

# undo_case NAME DEST SPEC PATH: SPEC injected into calls on PATH during a poll into DEST.
undo_case() {
	local name=$1 dest=$2 spec=$3 path=$4
	server A:1 B:2 C:3
	rm -f "$STATE"
	case $dest in
	mbox) cp "$T/orig.mbox" "$T/u.mbox"; conf "mbox = \"$T/u.mbox\"" ;;
	maildir) rm -rf "$T/md"; mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
		cp "$T/orig.mbox" "$T/md/new/1.old.host"; conf "maildir = \"$T/md\"" ;;
	mda) rm -f "$T/mda.out"; conf "mda = \"cat >>$T/mda.out\"" ;;
	esac
	INJECT_STATUS=
	nolsan timeout 60 strace -f -qq -o "$T/inject.log" -P "$path" -e trace="${spec%%:*}" \
		-e inject="$spec" "$POPFETCH" -C "$T/conf" >"$T/out" 2>"$T/err"
	rc=$?
	fired=$(grep -c INJECTED "$T/inject.log")
	ok "$([ "$fired" -ge 1 ]; echo $?)" "$name: the fault fired"
	is "$rc" 74 "$name: exit 74"
	is "$(lines "$SPOOL/deleted")" 0 "$name: nothing deleted on the server"
	like "$(head -n 1 "$T/err")" "^popfetch: f: .*; nothing was deleted on the server\$|^popfetch: f: .*removed again\$|taken back out" \
		"$name: one line saying what happened"
	is "$(wc -l <"$T/err" | tr -d ' ')" 1 "$name: one line"
	case $dest in
	mbox) cmp_file "$T/u.mbox" "$T/orig.mbox" "$name: the mbox is truncated back to where the batch began"
		[ ! -e "$T/u.mbox.lock" ]; ok $? "$name: no dotlock left" ;;
	maildir) is "$(ls "$T/md/new" | tr '\n' ' ')" "1.old.host " "$name: the batch's files are removed from new/"
		is "$(ls "$T/md/tmp" | wc -l)" 0 "$name: nothing in tmp/" ;;
	mda) like "$(cat "$T/err")" "the mda cannot take back the 3 messages it delivered" \
			"$name: says the mda cannot take them back" ;;
	esac
	check "$name: a clean rerun" "$POPFETCH" -C "$T/conf"
	case $dest in
	mbox) is "$(subjects "$T/u.mbox" | tr '\n' ' ')" "old message 1 message 2 message 3 " \
			"$name: after the rerun each message once" ;;
	maildir) is "$(subjects "$T/md/new/"* | sort | tr '\n' ' ')" "message 1 message 2 message 3 old " \
			"$name: after the rerun each message once" ;;
	mda) is "$(subjects "$T/mda.out" | sort | tr '\n' ' ')" "message 1 message 2 message 3 " \
			"$name: each once: the state saved at the end of the poll recorded them" ;;
	esac
	is "$(lines "$SPOOL/deleted")" 3 "$name: then deleted"
}

undo_case "state open ENOSPC" mbox "openat:error=ENOSPC:when=1" "$STATE.tmp"
undo_case "state write ENOSPC" mbox "write:error=ENOSPC:when=1" "$STATE.tmp"
undo_case "state fsync EIO" mbox "fsync:error=EIO:when=1" "$STATE.tmp"
undo_case "state rename EIO" mbox "rename:error=EIO:when=1" "$STATE.tmp"
undo_case "Maildir: state write ENOSPC" maildir "write:error=ENOSPC:when=1" "$STATE.tmp"
undo_case "Maildir: state rename EIO" maildir "rename:error=EIO:when=1" "$STATE.tmp"
undo_case "Maildir: fsync of new/ EIO" maildir "fsync:error=EIO:when=1" "$T/md/new"
undo_case "Maildir: open of new/ EIO" maildir "openat:error=EIO:when=1" "$T/md/new"
undo_case "mda: state fsync EIO" mda "fsync:error=EIO:when=1" "$STATE.tmp"

# The undo itself failing half-way: the state's rename fails, then the undo's
# fsync (the mbox's truncation, the unlinks in new/ are done, not synced). The
# batch must not be recorded as delivered at the end of the poll: the next
# poll fetches it again rather than delete it unfetched. (fsync calls on the
# two paths: the batch's commit 1, the state 2, the undo's 3.)
for dest in mbox maildir; do
	server A:1 B:2 C:3
	rm -f "$STATE"
	if [ "$dest" = mbox ]; then
		cp "$T/orig.mbox" "$T/u.mbox"; conf "mbox = \"$T/u.mbox\""; dpath=$T/u.mbox
	else
		rm -rf "$T/md"; mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
		cp "$T/orig.mbox" "$T/md/new/1.old.host"; conf "maildir = \"$T/md\""; dpath=$T/md/new
	fi
	nolsan timeout 60 strace -f -qq -o "$T/inject.log" -P "$STATE.tmp" -P "$dpath" \
		-e trace=rename,fsync -e inject=rename:error=EIO:when=1 -e inject=fsync:error=EIO:when=3 \
		"$POPFETCH" -C "$T/conf" >"$T/out" 2>"$T/err"
	rc=$?
	is "$(grep -c INJECTED "$T/inject.log")" 2 "$dest, undo failing: both faults fired"
	is "$rc" 74 "$dest, undo failing: exit 74"
	like "$(cat "$T/err")" "the next poll delivers" "$dest, undo failing: the line says the next poll delivers them"
	is "$(lines "$SPOOL/deleted")" 0 "$dest, undo failing: nothing deleted on the server"
	check "$dest, undo failing: a clean rerun" "$POPFETCH" -C "$T/conf"
	if [ "$dest" = mbox ]; then
		is "$(subjects "$T/u.mbox" | tr '\n' ' ')" "old message 1 message 2 message 3 " \
			"$dest, undo failing: after the rerun each message there once, none lost"
	else
		is "$(subjects "$T/md/new/"* | sort | tr '\n' ' ')" "message 1 message 2 message 3 old " \
			"$dest, undo failing: after the rerun each message there once, none lost"
	fi
	is "$(lines "$SPOOL/deleted")" 3 "$dest, undo failing: deleted only once fetched again"
done

done_testing
