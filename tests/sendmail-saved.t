#!/bin/bash
# Saved messages (a configuration that could not be loaded, issue 12) do not
# wait for ever: one that can never be completed (an invalid recipient, a
# command line no configuration makes sense of) goes to failed/ at once;
# one still not completed after queue_lifetime (of the configuration that
# loads, else the built-in 5 days) goes there then.  Each with its reason,
# logged, shown by mailq, a bounce to its sender through the account it
# would have used (none when no account can be chosen, said so), and sent
# again from failed/ by --requeue.  Nothing lost, nothing twice.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"

SPOOL=$POSTIE_SPOOLDIR
SAVED=$SPOOL/saved
start_smtpd "$T/s" --plain || bail_out "smtpd"
printf 'team: alice@example.net\n' >"$T/aliases"
# good FILE [TOP-LINE...]: a working configuration, queue $QDIR (default $T/queue)
good() {
	local f=$1
	shift
	CONF_TOP=$(printf '%s\n' "$@") write_conf "$f" "$SMTP_PORT" 'tls = "none"' \
		'from = "me@example.org"'
	sed -i "s|^aliases = \"\"|aliases = \"$T/aliases\"|" "$f"
}
# broken FILE: the same with a missing quote
broken() { good "$@"; sed -i 's/^domain = "example.org"/domain = "example.org/' "$1"; }
saved_id() { sed -n 's/.*saved as \([0-9A-F.]*\) in .*/\1/p' "$T/last.err"; }
# age ID SECONDS: the saved message was saved SECONDS ago
age() {
	"$PY" - "$SAVED/$1.args" "$2" <<'PY'
import re, sys, time
p, ago = sys.argv[1], int(sys.argv[2])
d = open(p, "rb").read()
d = re.sub(rb"\ncreated [0-9]+\n", b"\ncreated %d\n" % (time.time() - ago), d, count=1)
open(p, "wb").write(d)
PY
}
# bounces_to ADDR: the bounces the server got for ADDR (their .msg)
bounces_to() {
	grep -lx "<>" "$T"/s/[0-9]*.env 2>/dev/null | xargs -r grep -lx "$1" | sed 's/\.env$/.msg/'
}
# msgs SUBJECT: the messages (not bounces) the server got with that Subject
msgs() {
	grep -l "^Subject: $1"$'\r'"\$" "$T"/s/[0-9]*.msg 2>/dev/null |
		grep -vxF -f <(bounces_to '.*' ; echo /none)
}
failed_sec() { sed -n '/^-Failed/,/^--/p' <<<"$1"; }
crlf_of() { sed 's/$/\r/' "$1"; }

# ------------------------- no configuration ever loads: the built-in lifetime
broken "$T/never.conf"
printf 'attached \001 bytes\n' >"$T/att.bin"
lf "Subject: never" "" "saved while broken" >"$T/never.in"
sm "$T/never.conf" --attach "$T/att.bin" -f root alice@example.net <"$T/never.in"
is "$LAST_STATUS" 75 "never: saved (exit 75)"
id=$(saved_id)
sm "$T/never.conf" -q
[ -f "$SAVED/$id.args" ]; ok $? "never: -q within the lifetime leaves it saved"
like "$(mailq_of "$T/never.conf")" "$id.*"$'\n'".*age [0-9]+s, given up in [45]d" \
	"never: mailq says when it is given up"
age "$id" $((5 * 86400 + 60))
sm "$T/never.conf" -q
is "$LAST_STATUS" 78 "never: -q with the broken file still exits 78"
is "$(ls "$SAVED" | grep -c "$id")" 0 "never: after 5 days it leaves saved/, all its files"
[ -f "$SPOOL/failed/$id.env" ]; ok $? "never: into the built-in queue's failed/"
like "$(cat "$T/last.err")" "$id: no bounce: no account can be chosen: the configuration cannot be loaded" \
	"never: says that no account can be chosen (stderr and the log)"
crlf_of "$T/never.in" >"$T/never.exp"
cmp_file "$SPOOL/failed/$id.msg" "$T/never.exp" "never: failed/ keeps the input, byte for byte"
cmp_file "$SPOOL/failed/$id.a0" "$T/att.bin" "never: and the attachment"
q=$(mailq_of "$T/never.conf")
like "$(failed_sec "$q")" "$id +!.*"$'\n'".*given up after 5d in saved/ \\(queue_lifetime\\), never completed:.*never\\.conf" \
	"never: mailq lists it as failed, with the reason"
like "$(failed_sec "$q")" "no bounce: no account can be chosen: the configuration cannot be loaded" \
	"never: mailq says that no account can be chosen"
unlike "$q" "Saved unprocessed" "never: no longer listed as saved"
rm "$T/att.bin"
# mended, --requeue completes it from failed/ as the send it was (the built-in
# queue's failed/, though the file names another queue); -q sends it once
good "$T/never.conf"
sm "$T/never.conf" --requeue "$id"
is "$LAST_STATUS" 0 "never: mended, --requeue: exit 0"
like "$(cat "$T/last.out")" "$id: back in the queue" "never: --requeue says so"
is "$(ls "$SPOOL/failed" | grep -c "$id")" 0 "never: --requeue: out of failed/, all its files"
sm "$T/never.conf" -q
smtp_wait "$T/s" 1
f=$(msgs never)
is "$(wc -w <<<"$f")" 1 "never: delivered once"
# (-f root with from = "me@example.org": the account's from, as for any send)
[ -n "$f" ] && env_is "never: the envelope of the send" "${f%.msg}.env" me@example.org alice@example.net
like "$(cat "$f")" "YXR0YWNoZWQgASBieXRlcwo=" "never: with its attachment"
sm "$T/never.conf" -q
sm "$T/never.conf" --requeue "$id"
is "$LAST_STATUS" 66 "never: a second --requeue finds nothing (exit 66)"
sm "$T/never.conf" -q
is "$(smtp_count "$T/s")" 1 "never: nothing twice"

# -------------- the configuration loads, completing waits: its queue_lifetime
# aliases that cannot be read: the message waits for them to be mended
good "$T/ali.conf" 'queue_lifetime = 3600'
sed -i "s|$T/aliases|$T/aliases.bad|" "$T/ali.conf"
printf 'team alice@example.net\n' >"$T/aliases.bad"
lf "Subject: aliases" "X-Test: the original header" "" "waits for the aliases" >"$T/ali.in"
sm "$T/ali.conf" -i team bob@example.net <"$T/ali.in"
is "$LAST_STATUS" 75 "aliases: saved"
id=$(saved_id)
sm "$T/ali.conf" -q
is "$LAST_STATUS" 0 "aliases: -q loads the file (a queue run needs no aliases): exit 0"
[ -f "$SAVED/$id.args" ]; ok $? "aliases: not completed yet, still saved"
like "$(mailq_of "$T/ali.conf")" "$id.*"$'\n'".*aliases\\.bad.*given up in (59|60)m" \
	"aliases: mailq: the reason, and when (this file's queue_lifetime)"
age "$id" 7200
sm "$T/ali.conf" -q
smtp_wait "$T/s" 2
is "$(ls "$SAVED" | grep -c "$id")" 0 "aliases: after queue_lifetime it leaves saved/"
[ -f "$T/queue/failed/$id.env" ]; ok $? "aliases: into the failed/ of the configuration's queue"
b=$(bounces_to me@example.org)
is "$(wc -w <<<"$b")" 1 "aliases: a bounce to the sender, through its account"
cat >"$T/dsn.py" <<'PY'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.compat32)
parts = m.get_payload()
print("type %s %s" % (m.get_content_type(), m.get_param("report-type")))
print("parts " + " ".join(p.get_content_type() for p in parts))
for blk in parts[1].get_payload()[1:]:
    print("rcpt %s|%s|%s" % (blk["Final-Recipient"], blk["Action"], blk["Status"]))
open(sys.argv[2], "wb").write(parts[2].get_payload(decode=True))
PY
d=$("$PY" "$T/dsn.py" "$b" "$T/b.hdr" 2>&1)
like "$d" "^type multipart/report delivery-status"$'\n'"parts text/plain message/delivery-status text/rfc822-headers" \
	"aliases: the bounce is an RFC 3464 report"
like "$d" "rcpt rfc822; team\\|failed\\|4\\.4\\.7"$'\n'"rcpt rfc822; bob@example.net\\|failed\\|4\\.4\\.7" \
	"aliases: one block per recipient of its command line, expired (4.4.7)"
crlf_of "$T/ali.in" | sed -n '1,/^\r$/p' | sed '$d' >"$T/ali.hdr"
cmp_file "$T/b.hdr" "$T/ali.hdr" "aliases: the bounce holds the original header"
like "$(failed_sec "$(mailq_of "$T/ali.conf")")" "$id +!.*"$'\n'".*given up after 2h in saved/.*aliases\\.bad.*"$'\n'".*a bounce was sent to the sender" \
	"aliases: mailq shows it failed, with the reason and the bounce"
is "$(msgs aliases | wc -l)" 0 "aliases: the message itself was not sent"
n=$(smtp_count "$T/s")
sm "$T/ali.conf" -q
is "$(smtp_count "$T/s")" "$n" "aliases: one bounce, not two"

# ------------------ the account asked for is not there: no account, said so
good "$T/acct.conf" 'queue_lifetime = 3600'
lf "Subject: account" "" "for an account that is not there" >"$T/acct.in"
sm "$T/acct.conf" -a work carol@example.net <"$T/acct.in"
is "$LAST_STATUS" 75 "account: saved"
id=$(saved_id)
age "$id" 7200
sm "$T/acct.conf" -q
[ -f "$T/queue/failed/$id.env" ]; ok $? "account: after queue_lifetime, failed/"
like "$(cat "$T/last.err")" "$id: no bounce: no account can be chosen: .*work" \
	"account: no account can be chosen: said on stderr and in the log"
like "$(failed_sec "$(mailq_of "$T/acct.conf")")" "$id +!.*"$'\n'".*"$'\n'".*no bounce: no account can be chosen" \
	"account: and in mailq"
crlf_of "$T/acct.in" >"$T/acct.exp"
cmp_file "$T/queue/failed/$id.msg" "$T/acct.exp" "account: nothing lost"

# -------------------------- never completable: failed/ at once, no waiting
broken "$T/rcpt.conf"
cp "$T/rcpt.conf" "$T/null.conf"
lf "Subject: rcpt" "" "one recipient is no address" >"$T/rcpt.in"
sm "$T/rcpt.conf" -f root 'no address@@' dave@example.net <"$T/rcpt.in"
id=$(saved_id)
sed 's/Subject: rcpt/Subject: null/' "$T/rcpt.in" >"$T/null.in"
sm "$T/null.conf" -f '<>' 'no address@@' <"$T/null.in"
nid=$(saved_id)
good "$T/rcpt.conf"
good "$T/null.conf" 'bounce = "none"'
n=$(smtp_count "$T/s")
nb=$(bounces_to me@example.org | wc -l)
sm "$T/rcpt.conf" -q
is "$LAST_STATUS" 0 "invalid recipient: -q exit 0"
smtp_wait "$T/s" $((n + 1))
[ ! -e "$SAVED/$id.args" ] && [ -f "$T/queue/failed/$id.env" ]
ok $? "invalid recipient: failed/ at once"
like "$(failed_sec "$(mailq_of "$T/rcpt.conf")")" "$id +!.*"$'\n'".*cannot be completed: invalid recipient address \"no address@@\"" \
	"invalid recipient: mailq shows the reason"
is "$(bounces_to me@example.org | wc -l)" $((nb + 1)) "invalid recipient: a bounce to the sender"
is "$(msgs rcpt | wc -l)" 0 "invalid recipient: nobody got the message"
sm "$T/rcpt.conf" --requeue "$id"
is "$LAST_STATUS" 65 "invalid recipient: --requeue cannot complete it either (exit 65)"
like "$(cat "$T/last.err")" "invalid recipient" "invalid recipient: --requeue says why"
[ -f "$T/queue/failed/$id.env" ]; ok $? "invalid recipient: and it stays in failed/"
sm "$T/null.conf" -q
like "$(failed_sec "$(mailq_of "$T/null.conf")")" "no bounce: a null sender gets no bounce" \
	"null sender: failed/ at once, no bounce"
sm "$T/rcpt.conf" -q
is "$(smtp_count "$T/s")" $((n + 1)) "never completable: one bounce, nothing else"

# ------------------------------ no saved entry, and what a kill left in saved/
good "$T/h.conf"
printf 'not a saved file\n' >"$SAVED/10000000000C0.1.0.args"
printf 'Subject: junk\n\nbody\n' >"$SAVED/10000000000C0.1.0.in"
printf 'partial\n' >"$SAVED/10000000000C1.1.0.in"
touch -d '6 days ago' "$SAVED"/10000000000C*
sm "$T/h.conf" -q
[ -f "$SPOOL/failed/10000000000C0.1.0.env" ]
ok $? "an .args that is no saved entry: failed/ after the built-in lifetime (its age: the file's)"
like "$(mailq_of "$T/h.conf")" "10000000000C0.1.0 +!.*"$'\n'".*ID\\.args is no saved entry" \
	"and mailq shows it (the built-in queue's failed/, beside this file's queue)"
[ ! -e "$SAVED/10000000000C1.1.0.in" ]; ok $? "an input whose .args was never written: removed after a day"

done_testing
