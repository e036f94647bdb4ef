#!/bin/bash
# The setgid system spool (issue 4): sendmail installed setgid to a group,
# the spool 2770 and the configuration 0640 in that group.  Unprivileged
# users submit through it, cannot read the password or anyone's queued mail,
# and cannot point sendmail at another configuration.
. "$(dirname "$0")/lib/lib.sh"

. "$TOP/tests/lib/setgid.sh"

# A build whose SYSCONFDIR is inside $T, installed setgid the way install-system does.
setgid_build t
install -d -o root -g "$GRP" -m 2770 "$T/spool"
chmod 755 "$T/etc"

make_certs "$T/certs"
port=$(free_port)
cat >"$T/etc/postie.conf" <<CONF
domain = "example.org"
aliases = ""
log = "none"
queue_dir = "$T/spool"
smtp "default" {
	host = "127.0.0.1"
	port = $port
	tls = "none"
	auth = "plain"
	user = "alice"
	password = "topsecret"
}
CONF
chown root:"$GRP" "$T/etc/postie.conf"
chmod 0640 "$T/etc/postie.conf"

as_user() { local u=$1; shift; runuser -u "$u" -- "$@"; }

# The smarthost is down: the message is queued in the shared spool.
printf 'Subject: from user one\n\nprivate words\n' >"$T/msg1"
chmod 644 "$T/msg1"
as_user "$U1" "$T/bin/sendmail" -i rcpt@example.org <"$T/msg1" 2>"$T/err1"
is "$?" 0 "a user's message is accepted while the smarthost is down"
n=$(ls "$T/spool"/*.env 2>/dev/null | wc -l)
is "$n" 1 "it waits in the shared spool"
msgfile=$(ls "$T/spool"/*.msg | head -1)
like "$(stat -c '%G %a' "$msgfile")" "^$GRP 640\$" "queue file is in the group, not world-readable"

as_user "$U1" cat "$T/etc/postie.conf" >/dev/null 2>&1
is "$?" 1 "the user cannot read the configuration with the password"
as_user "$U2" cat "$msgfile" >/dev/null 2>&1
is "$?" 1 "another user cannot read the queued message"
as_user "$U1" cat "$msgfile" >/dev/null 2>&1
is "$?" 1 "not even its sender can read the spool file directly"
as_user "$U2" ls "$T/spool" >/dev/null 2>&1
is "$?" 2 "the spool directory cannot be listed by users"

# -C and POSTIE_CONF are ignored for users: no borrowing the group for another file.
cat >"$T/evil.conf" <<CONF
queue_dir = "$T/evilq"
smtp "default" { host = "127.0.0.1" port = 1 tls = "none" }
CONF
chmod 644 "$T/evil.conf"
as_user "$U2" env POSTIE_CONF="$T/evil.conf" "$T/bin/sendmail" -C "$T/evil.conf" -i rcpt@example.org \
	<"$T/msg1" 2>"$T/err2"
is "$?" 0 "a user's -C is ignored, the system configuration is used"
like "$(cat "$T/err2")" "-C is ignored" "and the user is told so"
[ -e "$T/evilq" ] && fail "the user's queue_dir was used" || pass "the user's queue_dir was not used"

out=$(as_user "$U2" "$T/bin/sendmail" -bp 2>&1)
like "$out" "rcpt@example.org" "mailq works for users through the setgid binary"
unlike "$out" "private words" "mailq shows no message content"

# The smarthost comes up.  A user's queue run sends that user's messages only
# (issue 13: they were everyone's); root's sends the rest.
start_smtpd "$T/smtp" --plain --auth alice:topsecret --port "$port" || bail_out "smtpd"
as_user "$U2" "$T/bin/sendmail" -q 2>"$T/err3"
is "$?" 0 "sendmail -q as another user"
is "$(smtp_count "$T/smtp")" 1 "it delivered that user's own message, not the first user's"
like "$(as_user "$U1" "$T/bin/sendmail" -bp)" "rcpt@example.org" "the first user's message still waits"
"$T/bin/sendmail" -q 2>>"$T/err3"
is "$?" 0 "sendmail -q as root"
is "$(smtp_count "$T/smtp")" 2 "root's queue run delivered the other one"
is "$(ls "$T/spool" | grep -c '\.env$')" 0 "the spool is empty"
is "$(as_user "$U1" "$T/bin/sendmail" -bp)" "Mail queue is empty" "mailq says so"
grep -q "private words" "$T/smtp/0002.msg" && pass "the body arrived" || fail "the body arrived"
unlike "$(cat "$T/err1" "$T/err2" "$T/err3")" "topsecret" "the password never shows"

done_testing
