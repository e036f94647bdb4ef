#!/bin/bash
# OAuth 2.0 with the system install (issue 16): sendmail setgid to a group,
# the configuration 0640 in it.  root authorizes the account once; the
# token file and its directory belong to the group (0660 in 2770), so that
# every user's sendmail can use and rotate the tokens while no user can
# read them; a user cannot authorize the system's account; a token
# directory open to others is refused.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/tests/lib/oauth2.sh"

. "$TOP/tests/lib/setgid.sh"

# A build whose SYSCONFDIR is inside $T, installed setgid as install-system does.
setgid_build o -j2 CFLAGS="-O0"
install -d -o root -g "$GRP" -m 2770 "$T/spool"
chmod 755 "$T/etc"
SM=$T/bin/sendmail

start_authserver "$T/auth" --client postie-test || bail_out "authserver did not start"
o2_smtpd "$T/smtp" || bail_out "smtpd did not start"
chmod 644 "$T/certs/ca.pem"
tokdir=$T/lib/oauth2
tok=$tokdir/smtp-default.json
cat >"$T/etc/postie.conf" <<CONF
domain = "example.org"
aliases = ""
log = "none"
queue_dir = "$T/spool"
tls_ca_file = "$T/certs/ca.pem"
connection_cache = 0
$(o2_smtp_section default "$SMTP_PORT" "$tok" 'oauth2_scope = "mail"')
CONF
chown root:"$GRP" "$T/etc/postie.conf"
chmod 0640 "$T/etc/postie.conf"
as_user() { local u=$1; shift; runuser -u "$u" -- "$@"; }
printf 'Subject: from a user\n\nwords\n' >"$T/msg"
chmod 644 "$T/msg"

# ---- a user cannot authorize the system's account
as_user "$U1" "$SM" --authorize </dev/null >"$T/u.out" 2>&1
is "$?" 77 "a user's --authorize of the system's account: exit 77"
like "$(cat "$T/u.out")" "only root can authorize it" "... says who can"
[ ! -e "$tok" ]
ok $? "... and leaves no token file"

# ---- root authorizes it: the files belong to sendmail's group
o2_authorize "$T/authorize.out" "$SM" --authorize
is "$O2_STATUS" 0 "root's --authorize: exit 0"
like "$(stat -c '%a %G' "$tokdir")" "^2770 $GRP\$" "the token directory is 2770 in the group"
like "$(stat -c '%a %G' "$tok")" "^660 $GRP\$" "the token file is 0660 in the group"

# ---- users send with it, and rotate it, without reading it
as_user "$U1" "$SM" -i rcpt@example.org <"$T/msg" 2>"$T/u1.err"
is "$?" 0 "a user sends with the system's token"
smtp_wait "$T/smtp" 1
is "$(smtp_count "$T/smtp")" 1 "... delivered"
o2_expire "$tok"
rt0=$(o2_field "$tok" refresh_token)
as_user "$U2" "$SM" -i rcpt@example.org <"$T/msg" 2>"$T/u2.err"
is "$?" 0 "another user sends with an expired token"
smtp_wait "$T/smtp" 2
is "$(smtp_count "$T/smtp") $(o2_events 'grant=refresh_token ok')" "2 1" "... delivered after one refresh"
rt1=$(o2_field "$tok" refresh_token)
[ -n "$rt1" ] && [ "$rt1" != "$rt0" ]
ok $? "the user's sendmail saved the rotated refresh token"
like "$(stat -c '%a %G' "$tok")" "^660 $GRP\$" "the file it wrote is 0660 in the group"
as_user "$U2" cat "$tok" >/dev/null 2>&1
is "$?" 1 "the user whose sendmail wrote it cannot read it"
as_user "$U1" cat "$tok" >/dev/null 2>&1
is "$?" 1 "another user cannot read it"
as_user "$U1" ls "$tokdir" >/dev/null 2>&1
is "$?" 2 "nor list its directory"
o2_expire "$tok"
as_user "$U1" "$SM" -i rcpt@example.org <"$T/msg" 2>"$T/u1.err"
smtp_wait "$T/smtp" 3
is "$(smtp_count "$T/smtp") $(o2_events 'grant=refresh_token ok') $(o2_events reuse)" "3 2 0" \
	"the first user's sendmail uses the token the second one rotated"

# ---- a token directory open to others is refused
chmod o+x "$tokdir"
as_user "$U1" "$SM" -i rcpt@example.org <"$T/msg" 2>"$T/u1.err"
is "$?" 0 "an open token directory: the message is accepted"
like "$(cat "$T/u1.err")" "$tokdir is open to other users.*chmod o-rwx $tokdir" \
	"... and waits, the line says how to mend it"
chmod o-x "$tokdir"

o2_no_secrets "no token or code in the users' output or the spool" "$T"

done_testing
