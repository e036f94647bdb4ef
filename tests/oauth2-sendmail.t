#!/bin/bash
# sendmail with OAuth 2.0 (issue 16): --authorize by the authorization code
# flow (loopback redirect, and the pasted address), sends with a fresh, an
# expired and a rotated token, a token the server refuses although it looked
# valid, twenty sendmails at once with an expired token (one refresh, none
# lost), the endpoint's HTTP errors, a revoked grant, client_credentials,
# a server offering only OAUTHBEARER, the token endpoint down, and no secret
# in any log or -v transcript.  The SMTP server checks every token at the
# authorization server's introspection endpoint.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/tests/lib/oauth2.sh"

start_authserver "$T/auth" --client postie-test --client postie-app:app-secret-42 \
	--app-user alice || bail_out "authserver did not start"
o2_smtpd "$T/smtp" || bail_out "smtpd did not start"
o2_smtpd "$T/smtp2" --oauth-mechanisms OAUTHBEARER ||
	bail_out "smtpd (OAUTHBEARER only) did not start"
SMTP2_PORT=$SMTP_PORT
SMTP_SPOOL=$T/smtp
SMTP_PORT=$(head -n 1 "$T/smtp/.ready")
printf 'app-secret-42\n' >"$T/app-secret"
chmod 600 "$T/app-secret"
O2_MORE_SECRETS=app-secret-42 O2_NO_SCAN=app-secret

conf=$T/postie.conf
cat >"$conf" <<CONF
domain = "example.org"
aliases = ""
log = "$T/postie.log"
queue_dir = "$T/queue"
tls_ca_file = "$T/certs/ca.pem"
connection_cache = 0
$(o2_smtp_section work "$SMTP_PORT" "$T/tok/work.json" 'from = "alice@example.org"' \
	'oauth2_scope = "mail offline_access"')
smtp "app" {
	host = "127.0.0.1"
	port = $SMTP_PORT
	tls = "tls"
	user = "alice"
	oauth2_token_url = "$AUTH_URL/token"
	oauth2_grant = "client_credentials"
	oauth2_client_id = "postie-app"
	oauth2_client_secret_command = "cat $T/app-secret"
	oauth2_scope = "mail"
	oauth2_token_file = "$T/tok/app.json"
}
smtp "bearer" {
	host = "127.0.0.1"
	port = $SMTP2_PORT
	tls = "tls"
	user = "alice"
	oauth2_token_url = "$AUTH_URL/token"
	oauth2_grant = "client_credentials"
	oauth2_client_id = "postie-app"
	oauth2_client_secret_command = "cat $T/app-secret"
	oauth2_token_file = "$T/tok/bearer.json"
}
CONF
tok=$T/tok/work.json
queued() { ls "$T/queue"/*.env 2>/dev/null | wc -l; }
msg() { printf 'From: alice@example.org\nTo: bob@example.org\nSubject: %s\n\n%s\n' "$1" "$1 body"; }
# send N SUBJECT [sendmail options]: one message; stderr in $T/send.err
send() {
	local subj=$1
	shift
	msg "$subj" | "$SENDMAIL" -C "$conf" -i "$@" bob@example.org 2>"$T/send.err"
}
refreshes() { o2_events 'grant=refresh_token ok'; }

# ---- the README's OAuth 2.0 examples are configurations both programs take
awk '$0 == "## OAuth 2.0: Microsoft 365, Outlook.com, Gmail" { f = 1; next }
	f && /^## / { exit }
	f && /^```$/ { if (inb) { inb = 0; n++ } else { inb = 1; print "" >("'"$T"'/readme." n+1 ".conf") } next }
	f && inb { print >("'"$T"'/readme." n+1 ".conf") }' "$TOP/README.md"
nb=0
for f in "$T"/readme.*.conf; do
	[ -e "$f" ] || continue
	nb=$((nb + 1))
	# sendmail loads every section, the pop3 ones too
	XDG_STATE_HOME=$T/state "$SENDMAIL" -C "$f" -bp >/dev/null 2>"$T/readme.err"
	ok $? "README's OAuth 2.0 example $nb loads ($(grep -c -E '^(smtp|pop3) ' "$f") accounts)" \
		"$(cat "$T/readme.err")"
done
[ "$nb" -ge 2 ]
ok $? "README has the Microsoft and the Gmail examples"

# ---- before any grant: the message waits, the line says what to run
send "no grant"
is "$?" 0 "no grant yet: the message is accepted (exit 0)"
is "$(queued)" 1 "no grant yet: it stays queued"
like "$(cat "$T/send.err")" "has no OAuth 2.0 grant yet.*run \`sendmail --authorize -a work\`" \
	"no grant yet: the line names sendmail --authorize -a work"

# ---- --authorize: the code flow with PKCE and the loopback redirect
o2_authorize "$T/authorize.out" "$SENDMAIL" -C "$conf" --authorize -a work
is "$O2_STATUS" 0 "--authorize: exit 0 once the browser comes back"
like "$(cat "$T/authorize.out")" "is authorized: its refresh token is in $tok" \
	"--authorize says where the refresh token is"
is "$(o2_events 'authorization_code ok .*pkce=S256')" 1 "the code was exchanged with a PKCE S256 verifier"
is "$(stat -c %a "$tok")" 600 "the token file is 0600"
is "$(stat -c %a "$T/tok")" 700 "its directory is 0700"
check "sendmail -q sends what waited for the grant" "$SENDMAIL" -C "$conf" -q
is "$(smtp_count "$SMTP_SPOOL") $(queued)" "1 0" "the waiting message is delivered, the queue empty"

# ---- a fresh token: no request to the token endpoint
n0=$(o2_events '^[0-9.]+ token ')
send "fresh token"
is "$?" 0 "fresh token: sent"
smtp_wait "$SMTP_SPOOL" 2
msg "fresh token" | sed 's/$/\r/' >"$T/fresh.exp"
sed -n '/^\r$/,$p' "$SMTP_SPOOL/0002.msg" | tail -n +2 >"$T/fresh.got"
sed -n '/^\r$/,$p' "$T/fresh.exp" | tail -n +2 >"$T/fresh.body"
cmp_file "$T/fresh.got" "$T/fresh.body" "fresh token: the body arrives byte for byte"
is "$(o2_events '^[0-9.]+ token ')" "$n0" "fresh token: the token endpoint is not asked"
is "$(tail -n 1 "$SMTP_SPOOL/auths")" "XOAUTH2 alice" "auto with both offered: XOAUTH2"

# ---- an expired token: one refresh, and the rotated refresh token is kept
rt0=$(o2_field "$tok" refresh_token)
o2_expire "$tok"
send "expired token"
is "$?" 0 "expired token: sent"
is "$(smtp_count "$SMTP_SPOOL")" 3 "expired token: delivered"
is "$(refreshes)" 1 "expired token: one refresh"
rt1=$(o2_field "$tok" refresh_token)
[ -n "$rt1" ] && [ "$rt1" != "$rt0" ]
ok $? "the rotated refresh token replaced the old one in the file"
is "$(stat -c %a "$tok")" 600 "the file replaced is 0600 too"

o2_expire "$tok"
send "after rotation"
is "$?" 0 "after rotation: sent"
is "$(smtp_count "$SMTP_SPOOL") $(refreshes) $(o2_events reuse)" "4 2 0" \
	"after rotation: delivered with the new refresh token, no reuse"

# ---- the server refuses a token that looked valid: one refresh, one retry
o2_admin expire
nf=$(cat "$SMTP_SPOOL/auth-failures" 2>/dev/null | wc -l)
send "refused token"
is "$?" 0 "refused token: sent after one retry"
is "$(smtp_count "$SMTP_SPOOL") $(refreshes)" "5 3" "refused token: delivered, one refresh"
is "$(wc -l <"$SMTP_SPOOL/auth-failures")" $((nf + 1)) "refused token: one refused login"

# ---- twenty sendmails at once with an expired token
o2_expire "$tok"
pids=()
for i in $(seq 1 20); do
	msg "concurrent $i" | "$SENDMAIL" -C "$conf" -i bob@example.org 2>"$T/conc.$i.err" &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
is "$bad" 0 "20 at once: every sendmail exits 0"
smtp_wait "$SMTP_SPOOL" 25 20
is "$(smtp_count "$SMTP_SPOOL") $(queued)" "25 0" "20 at once: all delivered, none queued"
is "$(refreshes)" 4 "20 at once: one refresh among them"
is "$(o2_events 'reuse|revoked') $(grep -c . "$T"/conc.*.err | grep -vc ':0$')" "0 0" \
	"20 at once: no refresh token used twice (the family stands), no error line"

# ---- the endpoint's HTTP errors
o2_expire "$tok"
o2_admin "set?fail=503"
send "http 503"
is "$?" 0 "token endpoint 503: the message is accepted"
is "$(queued)" 1 "token endpoint 503: queued"
like "$("$SENDMAIL" -C "$conf" -bp)" "token endpoint 127.0.0.1:$AUTH_PORT refused the refresh token: HTTP 503, temporarily_unavailable: the test server is set to fail with 503" \
	"mailq shows the endpoint's error and error_description"
is "$(cat "$T/send.err")" "" "token endpoint 503: temporary, nothing said (as for a server down)"
o2_admin "set?fail=0"

# ---- a revoked grant: queued, the line says to authorize again
o2_admin revoke
send "revoked"
is "$?" 0 "revoked grant: the message is accepted"
is "$(queued)" 2 "revoked grant: it stays queued"
like "$(cat "$T/send.err")" "invalid_grant: .*revoked.*; run \`sendmail --authorize -a work\`; then run sendmail -q" \
	"revoked grant: one line naming invalid_grant, sendmail --authorize -a work, then sendmail -q"
is "$(grep -c . "$T/send.err")" 1 "revoked grant: one line"
like "$("$SENDMAIL" -C "$conf" -bp)" "sendmail --authorize -a work" "mailq shows the reason"

# ---- authorizing again by pasting the address the browser ended on
mkfifo "$T/paste"
"$SENDMAIL" -C "$conf" --authorize -a work <"$T/paste" >"$T/paste.out" 2>&1 &
apid=$!
exec 7>"$T/paste"
wait_for "grep -q '$AUTH_URL/authorize?' '$T/paste.out' 2>/dev/null" 20
url=$(grep -o "$AUTH_URL/authorize?[^ ]*" "$T/paste.out" | head -n 1)
red=$(curl -s --cacert "$T/certs/ca.pem" -o /dev/null -w '%{redirect_url}' "$url")
# ps: the waiting process's command line and environment hold no secret
secret_in_ps=$(cat /proc/$apid/cmdline /proc/$apid/environ 2>/dev/null | tr '\0' '\n' |
	grep -c -F -e app-secret-42 -e "$rt1")
is "$secret_in_ps" 0 "--authorize waiting: no secret in its command line or environment"
echo "not-the-answer" >&7
echo "$red" >&7
exec 7>&-
wait "$apid"
is "$?" 0 "--authorize with the pasted address: exit 0"
like "$(cat "$T/paste.out")" "paste the whole address" "a line that is no address is answered"
check "sendmail -q after authorizing again" "$SENDMAIL" -C "$conf" -q
is "$(smtp_count "$SMTP_SPOOL") $(queued)" "27 0" "the two waiting messages are delivered"

# ---- client_credentials: nothing to authorize; the token is kept
check "--authorize with client_credentials" "$SENDMAIL" -C "$conf" --authorize -a app
like "$(cat "$T/last.err")" "client_credentials grant: no authorization needed" \
	"--authorize says client_credentials needs none"
send "app" -a app
is "$?" 0 "client_credentials: sent"
send "app again" -a app
is "$(smtp_count "$SMTP_SPOOL") $(o2_events 'client_credentials ok')" "29 1" \
	"client_credentials: delivered twice with one token"

# ---- a server that offers only OAUTHBEARER
send "bearer" -a bearer
is "$?" 0 "OAUTHBEARER only: sent"
is "$(smtp_count "$T/smtp2") $(tail -n 1 "$T/smtp2/auths")" "1 OAUTHBEARER alice" \
	"OAUTHBEARER only: delivered, logged in with OAUTHBEARER"

# ---- -v: the token endpoint's exchange shown without a secret
o2_expire "$tok"
send "verbose" -v
is "$?" 0 "-v with an expired token: sent"
like "$(cat "$T/send.err")" "oauth2: POST $AUTH_URL/token \(refresh_token\)" "-v shows the token request"
like "$(cat "$T/send.err")" "oauth2: HTTP 200" "-v shows its HTTP status"
cp "$T/send.err" "$T/verbose.err"

# ---- a server that refuses the new token too: said once, no loop
cp "$tok" "$T/tok/bob.json"
sed -e '/^smtp "work" {/,/^}/!d' -e 's/smtp "work"/smtp "bob"/' -e 's/user = "alice"/user = "bob"/' \
	-e "s|$tok|$T/tok/bob.json|" "$conf" >>"$conf"
n1=$(refreshes)
nf=$(cat "$SMTP_SPOOL/auth-failures" | wc -l)
send "wrong user" -a bob
is "$?" 0 "a token for another user: the message is accepted"
is "$(queued) $(($(refreshes) - n1)) $(($(wc -l <"$SMTP_SPOOL/auth-failures") - nf))" "1 1 2" \
	"a token for another user: queued after one refresh and two refused logins"
like "$(cat "$T/send.err")" "a new access token was refused too: check user and oauth2_scope, or run \`sendmail --authorize -a bob\`; then run sendmail -q" \
	"... the line says what to check"
rm -f "$T"/queue/*.env "$T"/queue/*.msg

# ---- the token endpoint down: temporary, the message waits
o2_expire "$tok"
stop_server "$AUTH_PID"
send "endpoint down"
is "$?" 0 "token endpoint down: the message is accepted"
is "$(queued)" 1 "token endpoint down: queued"
like "$("$SENDMAIL" -C "$conf" -bp)" "cannot reach the token endpoint 127.0.0.1:$AUTH_PORT" \
	"token endpoint down: mailq says so"

# ---- no secret anywhere
o2_no_secrets "no token, code or client secret in the logs, -v transcripts, spools or queue" "$T"

done_testing
