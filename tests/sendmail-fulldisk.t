#!/bin/bash
# A full disk while sendmail spools: the caller is told (exit 74, one line
# naming the problem), nothing half-written stays in the queue, and the
# next message, once there is room, goes through.
. "$(dirname "$0")/lib/lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to mount a small tmpfs"
mkdir -p "$T/q"
mount -t tmpfs -o size=1m tmpfs "$T/q" 2>/dev/null || skip_all "cannot mount a tmpfs here"
trap 'stop_holders; umount "$T/q" 2>/dev/null; _postie_exit' EXIT

start_smtpd "$T/s" --plain || bail_out "smtpd"
cat >"$T/conf" <<CONF
domain = "example.org"
aliases = ""
log = "none"
queue_dir = "$T/q"
# The disk itself running out, not the reserve of queue_minfree (tested below).
queue_minfree = 0
smtp "default" { host = "127.0.0.1" port = $SMTP_PORT tls = "none" from = "me@example.org" }
CONF

{ printf 'Subject: too big for the disk\n\n'; head -c 3000000 /dev/zero | tr '\0' 'x' | fold -w 76; } >"$T/big"
"$SENDMAIL" -C "$T/conf" -i rcpt@example.org <"$T/big" >"$T/out" 2>"$T/err"
is "$?" 74 "full disk: exit 74"
is "$(wc -l <"$T/err")" 1 "full disk: one line on stderr"
like "$(cat "$T/err")" "[Nn]o space left" "full disk: it names the problem"
is "$(find "$T/q" -type f | wc -l)" 0 "full disk: nothing half-written left in the queue"
is "$(smtp_count "$T/s")" 0 "full disk: nothing sent"

printf 'Subject: small\n\nfits\n' | "$SENDMAIL" -C "$T/conf" -i rcpt@example.org
is "$?" 0 "a small message afterwards: exit 0"
smtp_wait "$T/s" 1 10
is "$(smtp_count "$T/s")" 1 "a small message afterwards: delivered"
is "$("$SENDMAIL" -C "$T/conf" -bp)" "Mail queue is empty" "and the queue is empty"

# queue_minfree keeps room free (issue 13): the big message is refused as a
# temporary failure once it would leave less, before the disk is full, and a
# message when less is free is refused before it is read.
sed -i 's/^queue_minfree = 0$/queue_minfree = 512K/' "$T/conf"
"$SENDMAIL" -C "$T/conf" -i rcpt@example.org <"$T/big" >"$T/out" 2>"$T/err"
is "$?" 75 "queue_minfree: the big message is refused with exit 75"
is "$(wc -l <"$T/err")" 1 "queue_minfree: one line on stderr"
like "$(cat "$T/err")" "queue_minfree = 524288 bytes free; try again later" "queue_minfree: it names the key"
is "$(find "$T/q" -type f ! -name '.*' | wc -l)" 0 "queue_minfree: nothing half-written left in the queue"
sed -i 's/^queue_minfree = 512K$/queue_minfree = 2M/' "$T/conf"
printf 'Subject: small\n\nfits\n' | "$SENDMAIL" -C "$T/conf" -i rcpt@example.org 2>"$T/err"
is "$?" 75 "queue_minfree above what is free: even a small message gets exit 75"
is "$(find "$T/q" -type f ! -name '.*' | wc -l)" 0 "and nothing is written"
is "$(smtp_count "$T/s")" 1 "nothing more was sent"

done_testing
