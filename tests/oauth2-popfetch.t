#!/bin/bash
# popfetch with OAuth 2.0 (issue 16) against Dovecot, whose oauth2 passdb
# checks every token at the authorization server's introspection endpoint:
# --authorize --device (RFC 8628: pending, slow_down, denied), the default
# token file, fetches with a fresh, an expired and a refused token, a
# revoked grant (77, the mail stays), authorizing again by the code flow, a
# token file of another user or open to others (78), a client the endpoint
# refuses (78), the token endpoint down (75), and no secret in any log or -v
# transcript.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/tests/lib/oauth2.sh"

require_root "Dovecot runs as root"
start_authserver "$T/auth" --client postie-pop:pop-secret-7 || bail_out "authserver did not start"
start_dovecot --oauth2 "$AUTH_URL/introspect" || bail_out "dovecot did not start"
O2_MORE_SECRETS="pop-secret-7 wrong-secret-9" O2_NO_SCAN="postie.conf wrong.conf"
export XDG_STATE_HOME=$T/state
tok=$T/state/postie/oauth2/pop3-inbox.json

conf=$T/postie.conf
cat >"$conf" <<CONF
log = "$T/postie.log"
tls_ca_file = "$T/certs/ca.pem"
pop3 "inbox" {
	host = "127.0.0.1"
	port = $POP3S_PORT
	tls = "tls"
	user = "alice"
	mbox = "$T/mbox"
	oauth2_token_url = "$AUTH_URL/token"
	oauth2_authorize_url = "$AUTH_URL/authorize"
	oauth2_device_url = "$AUTH_URL/device"
	oauth2_client_id = "postie-pop"
	oauth2_client_secret = "pop-secret-7"
	oauth2_scope = "mail"
}
pop3 "plain" {
	host = "127.0.0.1"
	port = $POP3S_PORT
	tls = "tls"
	user = "alice"
	password = "secret"
	mbox = "$T/mbox.plain"
}
CONF
chmod 600 "$conf"
n=0
put() {
	n=$((n + 1))
	printf 'From: carol@example.org\nSubject: message %d\n\nbody %d\n' "$n" "$n" >"$T/m$n"
	pop3_put alice "$T/m$n"
}
fetch() { "$POPFETCH" -C "$conf" "$@" inbox 2>"$T/fetch.err"; }
refreshes() { o2_events 'grant=refresh_token ok'; }
# the mbox holds message N as the last one, byte for byte
last_in_mbox() {
	awk '/^From /{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' \
		"$T/mbox" | tail -n +2 | head -c -1 >"$T/got.$1"
	cmp_file "$T/got.$1" "$T/m$1" "$2"
}

check_status 64 "--authorize without an account" "$POPFETCH" -C "$conf" --authorize
check_status 64 "--device without --authorize" "$POPFETCH" -C "$conf" --device inbox
check_status 78 "--authorize for an account without oauth2 keys" "$POPFETCH" -C "$conf" \
	--authorize plain
like "$(cat "$T/last.err")" "has no oauth2_\* keys" "... says so"

# ---- before any grant
put
fetch
is "$?" 77 "no grant yet: exit 77"
like "$(cat "$T/fetch.err")" "run \`popfetch --authorize inbox\`" "no grant yet: the line names popfetch --authorize inbox"
is "$(pop3_count alice)" 1 "no grant yet: the mail stays on the server"

# ---- the device authorization grant, denied
"$POPFETCH" -C "$conf" --authorize --device inbox </dev/null >"$T/deny.out" 2>&1 &
apid=$!
wait_for "grep -q 'enter the code' '$T/deny.out' 2>/dev/null" 20
url=$(grep -o "$AUTH_URL/device?user_code=[^ )]*" "$T/deny.out" | head -n 1)
curl -s --cacert "$T/certs/ca.pem" -o /dev/null "$url&deny=1"
wait "$apid"
is "$?" 77 "--device, denied: exit 77"
like "$(cat "$T/deny.out")" "the authorization was denied" "--device, denied: says so"
[ ! -e "$tok" ]
ok $? "--device, denied: no token file"

# ---- the device authorization grant, with a slow_down on the way
o2_admin "set?slow_down=1"
"$POPFETCH" -C "$conf" --authorize --device -v inbox </dev/null >"$T/device.out" 2>&1 &
apid=$!
wait_for "grep -q 'enter the code' '$T/device.out' 2>/dev/null" 20
like "$(cat "$T/device.out")" "open $AUTH_URL/device and enter the code [0-9A-F]{4}-[0-9A-F]{4}" \
	"--device prints the address and the code to enter"
url=$(grep -o "$AUTH_URL/device?user_code=[^ )]*" "$T/device.out" | head -n 1)
wait_for "[ \$(o2_events 'device_code slow_down') -ge 1 ]" 10
curl -s --cacert "$T/certs/ca.pem" -o /dev/null "$url"
wait "$apid"
is "$?" 0 "--device: exit 0 once the code is entered"
is "$(o2_events 'device_code slow_down') $(o2_events too-fast) $(o2_events 'device_code ok')" "1 0 1" \
	"--device: slowed down once as asked, never polled too fast, then granted"
like "$(cat "$T/device.out")" "polling every 6 s" "-v: the new interval is shown"
like "$(cat "$T/device.out")" "is authorized: its refresh token is in $tok" "the default token file is named"
is "$(stat -c %a "$tok") $(stat -c %a "${tok%/*}")" "600 700" "the default token file 0600, its directory 0700"

# ---- fetching with the fresh token
ntok=$(o2_events '^[0-9.]+ token ')
fetch
is "$?" 0 "fresh token: fetched"
last_in_mbox 1 "fresh token: the message arrives byte for byte"
is "$(pop3_count alice) $(o2_events '^[0-9.]+ token ')" "0 $ntok" \
	"fresh token: deleted from the server, the token endpoint not asked"
like "$(grep 'Login: user=<alice>' "$T/dovecot/dovecot.log" | tail -n 1)" \
	"method=XOAUTH2," "auto with both offered: Dovecot logged an XOAUTH2 login"

# ---- an expired token: one refresh, the rotation kept
rt0=$(o2_field "$tok" refresh_token)
o2_expire "$tok"
put
fetch -v
is "$?" 0 "expired token: fetched"
last_in_mbox 2 "expired token: the message arrives byte for byte"
is "$(refreshes)" 1 "expired token: one refresh"
rt1=$(o2_field "$tok" refresh_token)
[ -n "$rt1" ] && [ "$rt1" != "$rt0" ]
ok $? "the rotated refresh token is in the file"
like "$(cat "$T/fetch.err")" "> AUTH (XOAUTH2|OAUTHBEARER)" "-v shows the AUTH command"
cp "$T/fetch.err" "$T/verbose.err"

# ---- a token that looks valid, refused by Dovecot: one refresh, one retry
o2_admin expire
put
nfail=$(grep -c 'oauth2 failed' "$T/dovecot/dovecot.log")
fetch
is "$?" 0 "refused token: fetched after one retry"
is "$(refreshes) $(pop3_count alice)" "2 0" "refused token: one refresh, the mail fetched"
is "$(grep -c 'oauth2 failed' "$T/dovecot/dovecot.log")" $((nfail + 1)) \
	"refused token: one refused login (OAUTHBEARER not tried with the same token)"

# ---- a revoked grant: 77, the line says to authorize again, the mail stays
o2_admin revoke
put
fetch
is "$?" 77 "revoked grant: exit 77"
like "$(cat "$T/fetch.err")" "invalid_grant: .*; run \`popfetch --authorize inbox\`" \
	"revoked grant: the line names invalid_grant and popfetch --authorize inbox"
is "$(grep -c . "$T/fetch.err")" 1 "revoked grant: one line"
is "$(pop3_count alice)" 1 "revoked grant: the mail stays on the server"

# ---- authorized again, by the code flow
o2_authorize "$T/authorize.out" "$POPFETCH" -C "$conf" --authorize inbox
is "$O2_STATUS" 0 "--authorize (code flow): exit 0"
fetch
is "$?" 0 "after authorizing again: fetched"
last_in_mbox 4 "after authorizing again: the waiting message arrives"

# ---- token files that are not safe
chown nobody "$tok"
fetch
is "$?" 78 "a token file of another user: exit 78"
like "$(cat "$T/fetch.err")" "belongs to uid $(id -u nobody), not to you" "... says whose it is"
chown root "$tok"
chmod 644 "$tok"
fetch
is "$?" 78 "a token file others can read: exit 78"
like "$(cat "$T/fetch.err")" "chmod 600 $tok" "... says how to mend it"
chmod 600 "$tok"

# ---- the endpoint refuses the client: a configuration error, with its text
sed 's/pop-secret-7/wrong-secret-9/' "$conf" >"$T/wrong.conf"
chmod 600 "$T/wrong.conf"
o2_expire "$tok"
"$POPFETCH" -C "$T/wrong.conf" inbox 2>"$T/fetch.err"
is "$?" 78 "a wrong client secret: exit 78"
like "$(cat "$T/fetch.err")" "HTTP 401, invalid_client: client authentication failed" \
	"... the line shows the endpoint's error and error_description"

# ---- the token endpoint's certificate: checked with the account's tls_ca_file;
# tls_verify = false turns that off only with a warning
sed "s|^tls_ca_file = .*|tls_ca_file = \"$T/certs/other-ca.pem\"|" "$conf" >"$T/wrong.conf"
chmod 600 "$T/wrong.conf"
o2_expire "$tok"
"$POPFETCH" -C "$T/wrong.conf" inbox 2>"$T/fetch.err"
is "$?" 75 "a token endpoint whose certificate does not verify: exit 75"
like "$(cat "$T/fetch.err")" "the token endpoint 127.0.0.1:$AUTH_PORT: its certificate does not verify: .*\(see tls_ca_file\)" \
	"... says so, naming tls_ca_file"
sed -e "s|^tls_ca_file = .*|tls_ca_file = \"$T/certs/other-ca.pem\"|" -e '/^pop3 "inbox"/a\
	tls_verify = false' "$conf" >"$T/wrong.conf"
"$POPFETCH" -C "$T/wrong.conf" inbox 2>"$T/fetch.err"
is "$?" 0 "tls_verify = false: fetched"
like "$(cat "$T/fetch.err")" "warning: tls_verify = false: the certificate of the token endpoint 127.0.0.1:$AUTH_PORT is not checked" \
	"tls_verify = false: a warning says the token endpoint is not checked"
like "$(cat "$T/postie.log")" "not checking the certificate of the token endpoint" "... in the log too"

# ---- the token endpoint down: temporary
put
o2_expire "$tok"
stop_server "$AUTH_PID"
fetch
is "$?" 75 "token endpoint down: exit 75"
like "$(cat "$T/fetch.err")" "cannot reach the token endpoint 127.0.0.1:$AUTH_PORT" \
	"token endpoint down: the line says so"
is "$(pop3_count alice)" 1 "token endpoint down: the mail stays on the server"

o2_no_secrets "no token, code or client secret in the logs, -v transcripts, Dovecot's logs" "$T"

done_testing
