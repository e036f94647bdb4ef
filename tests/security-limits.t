#!/bin/bash
# Issue 13, the shared spool of `make install-system` on a small file system
# (an 8 MB tmpfs), as two throwaway users: one user cannot fill it.
#  - queue_user_messages, queue_user_bytes: what one user other than root
#    keeps (queue and failed/); the other user still sends;
#  - queue_minfree: room kept free for everyone; the queue still runs;
#  - every refusal: one line, exit 75 (451 in -bs), nothing half-written;
#    parallel submissions of one user cannot pass the limit together.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/system.sh"

mount -t tmpfs -o size=8m,mode=2770 tmpfs "$SPOOL" 2>/dev/null || skip_all "cannot mount a tmpfs here"
trap '_sys_cleanup; umount "$SPOOL" 2>/dev/null; _postie_exit' EXIT
chown root:"$GRP" "$SPOOL"
install -d -o root -g "$GRP" -m 2770 "$SPOOL/tmp" "$SPOOL/failed"

# limits MESSAGES BYTES MINFREE: the configuration (the smarthost is down).
limits() {
	put_conf "queue_user_messages = $1
queue_user_bytes = $2
queue_minfree = $3
smtp \"default\" { host = \"127.0.0.1\" port = 1 tls = \"none\" }"
}
# msg FILE KBYTES: a message of about KBYTES kilobytes.
msg() {
	{ printf 'Subject: %s KB\n\n' "$2"; head -c $(($2 * 1024)) /dev/zero | tr '\0' 'x' | fold -w 64; } >"$1"
	chmod 644 "$1"
}
msg "$T/small" 1
msg "$T/k600" 600
msg "$T/k1500" 1500
msg "$T/k3000" 3000
count_of() { grep -l "^uid $1\$" "$SPOOL"/*.env "$SPOOL"/failed/*.env 2>/dev/null | wc -l; }
in_tmp() { find "$SPOOL/tmp" -name '*.msg' | wc -l; }

# ------------------------------------------------------------ the keys
limits 3 "\"1.5M\"" 1M
as "$U1" "$SM" -i one@example.org <"$T/small" 2>"$T/err"
# (issue 12: a send with a configuration that cannot be loaded saves the message, exit 75)
is "$?" 75 "queue_user_bytes = \"1.5M\": exit 75, the message saved"
like "$(cat "$T/err")" "queue_user_bytes must be a number of bytes, optionally with K, M or G, not \"1.5M\"" \
	"the error names the key and the value"
rm -rf "$SPOOL/saved"	# not to be completed into this test's counts
limits 3 1048576 '"1m"'
as "$U1" "$SM" -bp >/dev/null
is "$?" 0 "a size in bytes, or quoted with a suffix in any case"

# --------------------------------------------------------- queue_user_messages
limits 3 1M 1M
for i in 1 2 3; do as "$U1" "$SM" -i one@example.org <"$T/small" 2>/dev/null; done
is "$(count_of "$UID1")" 3 "user one queues 3 messages (the limit)"
as "$U1" "$SM" -i one@example.org <"$T/small" 2>"$T/err"
is "$?" 75 "the 4th: exit 75"
is "$(wc -l <"$T/err")" 1 "one line on stderr"
like "$(cat "$T/err")" "not queued: 3 messages of yours are in the queue or in failed/ \\(queue_user_messages = 3\\); try again later" \
	"it names the limit"
is "$(count_of "$UID1")" 3 "nothing more queued"
is "$(in_tmp)" 0 "nothing half-written"
as "$U2" "$SM" -i two@example.org <"$T/small"
is "$?" 0 "user two still sends (queued)"
for i in 1 2 3 4; do "$SM" -i root@example.org <"$T/small"; done
is "$(count_of 0)" 4 "root is not limited by the per-user limits"

# An entry in failed/ counts: root expires one of user one's; still 3.
id=$(grep -l "^uid $UID1\$" "$SPOOL"/*.env | head -1)
content=$(sed 's/^created .*/created 1000000000/' "$id")
printf '%s\n' "$content" >"$id"
"$SM" -q 2>/dev/null
is "$(ls "$SPOOL"/failed/*.env 2>/dev/null | wc -l)" 1 "one of user one's entries is in failed/"
as "$U1" "$SM" -i one@example.org <"$T/small" 2>/dev/null
is "$?" 75 "failed/ counts: user one is still at the limit"

# -bs: a 4xx reply, nothing queued.  (root's run has queued a bounce of the
# expired message to its sender, user one's entry now, made by root.)
before=$(count_of "$UID1")
printf 'HELO x\r\nMAIL FROM:<one@example.org>\r\nRCPT TO:<a@example.org>\r\nDATA\r\nSubject: bs\r\n\r\nx\r\n.\r\nQUIT\r\n' |
	as "$U1" "$SM" -bs >"$T/bs.out" 2>/dev/null
like "$(grep -a '^4' "$T/bs.out")" "^45[12] .*queue_user_messages" "-bs: the end of DATA gets a 4xx reply naming the limit"
is "$(count_of "$UID1")" "$before" "-bs: nothing queued"
rm -f "$SPOOL"/*.env "$SPOOL"/*.msg "$SPOOL"/failed/*

# Five at once, the limit 3: each holds its input open until all five have
# started, then all finish together.  Exactly three get in.
for i in 1 2 3 4 5; do
	mkfifo "$T/fifo$i"
	chmod 666 "$T/fifo$i"
	as_exec "$U1" "$SM" -i one@example.org <"$T/fifo$i" >/dev/null 2>"$T/par$i.err" &
	pids[$i]=$!
	exec {fd}>"$T/fifo$i"
	fds[$i]=$fd
done
wait_for "[ \$(in_tmp) -ge 3 ]" 10
for i in 1 2 3 4 5; do cat "$T/small" >&"${fds[$i]}"; done
for i in 1 2 3 4 5; do exec {fd}>&-; fd=${fds[$i]}; eval "exec $fd>&-"; done
ok75=0
for i in 1 2 3 4 5; do
	wait "${pids[$i]}"
	rc=$?
	[ "$rc" = 75 ] && ok75=$((ok75 + 1))
done
is "$(count_of "$UID1")" 3 "five parallel submissions, limit 3: exactly 3 queued"
is "$ok75" 2 "the other two: exit 75"
is "$(in_tmp)" 0 "nothing half-written"
rm -f "$SPOOL"/*.env "$SPOOL"/*.msg

# ------------------------------------------------------------ queue_user_bytes
limits 0 1M 1M
as "$U2" "$SM" -i two@example.org <"$T/k1500" 2>"$T/err"
is "$?" 75 "a 1.5 MB message over queue_user_bytes = 1M: exit 75"
like "$(cat "$T/err")" "not queued: your messages in the queue would take more than queue_user_bytes = 1048576 bytes; try again later" \
	"it names the limit"
is "$(in_tmp)" 0 "nothing half-written"
as "$U2" "$SM" -i two@example.org <"$T/k600"
is "$?" 0 "600 KB: queued"
as "$U2" "$SM" -i two@example.org <"$T/k600" 2>/dev/null
is "$?" 75 "another 600 KB: over the limit, exit 75"
as "$U1" "$SM" -i one@example.org <"$T/k600"
is "$?" 0 "user one's 600 KB: queued (its own limit)"
is "$(in_tmp)" 0 "nothing half-written"
rm -f "$SPOOL"/*.env "$SPOOL"/*.msg

# ------------------------------------------------------------ saved/ too
# A message saved for want of a usable configuration or account (here -a
# NOSUCH) is held to the built-in limits (1000 messages, 100M, 50M kept
# free) and counts toward the user's: it went to saved/ outside every limit
# (one user could fill the spool that way). This spool has 8 MB: under the
# built-in queue_minfree, so nothing is saved.
rm -rf "$SPOOL/saved"
limits 1000 100M 1M
as "$U1" "$SM" -a nosuch -i one@example.org <"$T/small" 2>"$T/err"
is "$?" 75 "-a NOSUCH on a spool short of the built-in queue_minfree: exit 75"
like "$(cat "$T/err")" "cannot be saved: not queued: the file system of .* would keep less than queue_minfree = 52428800" \
	"the line says why it is not saved"
is "$(ls "$SPOOL/saved"/*.in 2>/dev/null | wc -l)" 0 "nothing saved"
is "$(find "$SPOOL/tmp" -type f ! -name '.*' | wc -l)" 0 "nothing half-written"

# ------------------------------------------------------------ queue_minfree
limits 0 0 5M
as "$U1" "$SM" -i one@example.org <"$T/k3000" 2>"$T/err"
is "$?" 75 "3 MB with 5 MB of 8 kept free: exit 75"
like "$(cat "$T/err")" "the file system of $SPOOL would keep less than queue_minfree = 5242880 bytes free; try again later" \
	"it names queue_minfree"
is "$(in_tmp)" 0 "nothing half-written"
n=0
for i in 1 2 3 4 5; do
	as "$U1" "$SM" -i one@example.org <"$T/k600" 2>/dev/null || break
	n=$((n + 1))
done
[ "$n" -ge 2 ] && [ "$n" -lt 5 ] && pass "user one fills up to the reserve ($n x 600 KB)" ||
	fail "user one fills up to the reserve" "queued $n"
as "$U2" "$SM" -i two@example.org <"$T/k600" 2>/dev/null
is "$?" 75 "then user two's 600 KB is refused too: exit 75"
"$SM" -q 2>/dev/null
like "$(grep -h '^attempts' "$SPOOL"/*.env | sort -u)" "^attempts 2\$" "root's queue run still records its attempts (the reserve is there)"
is "$(in_tmp)" 0 "nothing half-written"

done_testing
