#!/bin/bash
# Issue 13, the smarthost's password in the system install, as throwaway users:
#  - password_command runs with the group (sh -p), with the cleared
#    environment, so it can read a secret only the group may read; its
#    failures name neither the command nor what it printed on stderr;
#  - the login is never sent over a connection without TLS to a host that is
#    not on loopback unless the account says tls_required = false (a
#    non-loopback address, 192.0.2.10, in a network namespace of this test's
#    own: on its lo device, as the kernel may lack the dummy and veth
#    modules; what counts is the address); loopback still works.
#  - a path key beginning with ~ in the system file is a configuration error
#    (the message saved, 75): ~ would be whoever calls.
if [ -z "${POSTIE_IN_NETNS:-}" ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    command -v ip >/dev/null && unshare -n true 2>/dev/null; then
	POSTIE_IN_NETNS=1 exec unshare -n -- "$BASH" "$0" "$@"
fi
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/system.sh"
[ -n "${POSTIE_IN_NETNS:-}" ] || skip_all "needs unshare -n and ip (a network namespace)"

ip link set lo up && ip addr add 192.0.2.10/32 dev lo || bail_out "cannot set up the namespace's addresses"
FAR=192.0.2.10

make_certs "$T/certs"
start_smtpd "$T/smtp" --plain --auth alice:topsecret || bail_out "smtpd"
N=0

# ------------------------------------------------------------- password_command
install -m 0640 -g "$GRP" /dev/null "$T/etc/secret"
printf 'topsecret\n' >"$T/etc/secret"
install -d -m 0777 "$T/dump"
conf() {
	put_conf "smtp \"default\" {
	host = \"$1\"
	port = $2
	tls = \"none\"
	auth = \"plain\"
	user = \"alice\"
	$3
}"
}
conf 127.0.0.1 "$SMTP_PORT" "password_command = \"id > $T/dump/id; env > $T/dump/env; cat $T/etc/secret\""
as "$U1" cat "$T/etc/secret" >/dev/null 2>&1
is "$?" 1 "the secret is readable by the group only"
printf 'Subject: pwcmd\n\nbody\n' | as "$U1" env SECRET_HINT=mine "$SM" -i bob@example.org 2>"$T/err"
is "$?" 0 "password_command reading a group-only secret: sent" || diag "$(cat "$T/err")"
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && like "$(tail -1 "$T/smtp/auths")" "PLAIN alice" "logged in with the secret" ||
	fail "the message arrived"
like "$(cat "$T/dump/id")" "^uid=$UID1\\(.* egid=[0-9]+\\($GRP\\)" "the command ran as the user, with the group"
unlike "$(cat "$T/dump/env")" "SECRET_HINT" "the command did not get the caller's environment"
like "$(grep '^PATH=' "$T/dump/env")" "^PATH=/usr/bin:/bin\$" "the command's PATH is the fixed one"

# A failing command: queued, and neither the error nor mailq shows the command
# or its stderr.
conf 127.0.0.1 "$SMTP_PORT" "password_command = \"cat $T/etc/no-such-vault-entry; exit 3\""
printf 'Subject: pwfail\n\nbody\n' | as "$U1" "$SM" -i bob@example.org 2>"$T/err"
is "$?" 0 "a failing password_command: the message is kept (exit 0)"
like "$(cat "$T/err")" "password_command failed: it exited with status 3" "the error says what failed"
unlike "$(cat "$T/err")" "no-such-vault-entry" "the error does not show the command or its stderr"
q1=$(as "$U1" "$MAILQ")
like "$q1" "password_command failed" "the owner's mailq says why"
unlike "$q1" "no-such-vault-entry" "mailq does not show the command"
unlike "$(as "$U2" "$MAILQ")" "password_command" "another user's mailq shows nothing of it"
unlike "$("$MAILQ")" "no-such-vault-entry" "not even root's mailq shows the command"
"$SM" -q 2>"$T/err"
like "$(cat "$T/err")" "no-such-vault-entry" "root's queue run does show the command's stderr (the admin's)"
rm -f "$SPOOL"/*.env "$SPOOL"/*.msg

# ------------------------------------------------------------- tls_required
stop_server "$SMTP_PID"
start_smtpd "$T/far" --plain --auth alice:topsecret --host "$FAR" || bail_out "smtpd on $FAR"
FAR_PORT=$SMTP_PORT
start_smtpd "$T/near" --plain --auth alice:topsecret || bail_out "smtpd"
NEAR_PORT=$SMTP_PORT

conf "$FAR" "$FAR_PORT" 'password = "topsecret"'
printf 'Subject: far\n\nbody\n' | as "$U1" "$SM" -i bob@example.org 2>"$T/err"
# (issue 12: a login that cannot be sent is the account's problem, not the
# message's: it stays queued, exit 0, and the line names the fix; was 77)
is "$?" 0 "tls = none to $FAR (not loopback): no login sent, the message kept (exit 0)"
like "$(cat "$T/err")" "will not send the login over an unencrypted connection .*tls_required = false" \
	"the error names the key that allows it"
is "$(cat "$T/far/auths" "$T/far/auth-failures" 2>/dev/null | wc -l)" 0 "the server saw no AUTH"
is "$(smtp_count "$T/far")" 0 "nothing was sent"
unlike "$(cat "$T/far"/*.log "$T/far/log" 2>/dev/null)" "AUTH" "no AUTH in the server's log"

# queued (-odq), then a queue run: kept, with the reason
printf 'Subject: far queued\n\nbody\n' | as "$U1" "$SM" -odq -i bob@example.org
as "$U1" "$SM" -q
like "$(as "$U1" "$MAILQ")" "tls_required = false" "a queue run keeps it, mailq says why"
is "$(cat "$T/far/auths" "$T/far/auth-failures" 2>/dev/null | wc -l)" 0 "the queue run sent no AUTH either"

# The account says so: sent in clear.
conf "$FAR" "$FAR_PORT" 'password = "topsecret"
	tls_required = false'
as "$U1" "$SM" -q
smtp_wait "$T/far" 1 10 && like "$(cat "$T/far/auths")" "PLAIN alice" "tls_required = false: logged in, sent" ||
	fail "tls_required = false: sent"
is "$(spool_ids)" "" "the queue is empty"

# Loopback needs no consent.
conf 127.0.0.1 "$NEAR_PORT" 'password = "topsecret"'
printf 'Subject: near\n\nbody\n' | as "$U1" "$SM" -i bob@example.org 2>"$T/err"
is "$?" 0 "tls = none to 127.0.0.1: sent" || diag "$(cat "$T/err")"
smtp_wait "$T/near" 1 10 && like "$(cat "$T/near/auths")" "PLAIN alice" "loopback: logged in" ||
	fail "loopback: sent"
# No credentials: nothing to protect, no consent needed.
conf "$FAR" "$FAR_PORT" ''
sed -i '/auth = "plain"/d; /user = "alice"/d' "$CONF"
printf 'Subject: far no login\n\nbody\n' | as "$U1" "$SM" -i bob@example.org 2>"$T/err"
is "$?" 0 "no login configured: $FAR without TLS is fine" || diag "$(cat "$T/err")"
smtp_wait "$T/far" 2 10 && pass "sent without a login" || fail "sent without a login"

# ------------------------------------------------------------- ~ in the system file
# The setgid sendmail serves every user from one file: a ~ there would be the
# home of whoever calls, a file of theirs read with the group's rights. It is
# a configuration error (the message is saved, exit 75), for each path key.
usermod -d "$H1" "$U1" || bail_out "usermod"
nearn=$(smtp_count "$T/near")
for key in tls_ca_file tls_cert_file tls_key_file queue_dir; do
	conf 127.0.0.1 "$NEAR_PORT" 'password = "topsecret"'
	if [ "$key" = queue_dir ]; then
		sed -i "s|^queue_dir = .*|queue_dir = \"~/q\"|" "$CONF"
	else
		sed -i "s|^smtp \"default\" {|&\n\t$key = \"~/x.pem\"|" "$CONF"
	fi
	printf 'Subject: tilde %s\n\nbody\n' "$key" | as "$U1" "$SM" -i bob@example.org 2>"$T/err"
	is "$?" 75 "$key = \"~/...\" in the system file: a configuration error, the message saved (75)"
	like "$(cat "$T/err")" "$key = \"~/[a-z.]*\": ~ would be the home of whoever calls the setgid sendmail; use an absolute path" \
		"$key: the line names the key and the fix"
done
[ -e "$H1/q" ] && fail "nothing made under the caller's home" || pass "nothing made under the caller's home"
conf 127.0.0.1 "$NEAR_PORT" 'password = "topsecret"'
as "$U1" "$SM" -q 2>"$T/err"
is "$?" 0 "the file mended: the owner's queue run" || diag "$(cat "$T/err")"
smtp_wait "$T/near" $((nearn + 4)) 10 && pass "the four saved messages sent" || fail "the four saved messages sent"
is "$(cat "$T"/near/[0-9]*.msg | grep -c "^Subject: tilde")" 4 \
	"each of them once"
is "$(spool_ids)" "" "the queue is empty"

done_testing
