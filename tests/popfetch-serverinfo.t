#!/bin/bash
# popfetch --serverinfo ACCOUNT (issue 14): connects as configured, shows
# the TLS version and cipher, the certificate (subject, issuer, validity,
# the tls_fingerprint value that pins it), the CAPA capabilities and
# whether the login works, touches no message, and exits as a poll would.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

start_dovecot alice:secret || bail_out "cannot start dovecot"
printf 'From: a@example.org\nSubject: x\n\nhello\n' >"$T/m1"
pop3_put alice "$T/m1"

pf_conf "$T/conf"
check "--serverinfo over STARTTLS" "$POPFETCH" -C "$T/conf" --serverinfo inbox
out=$(cat "$T/last.out")
like "$out" "^inbox: localhost port $POP3_PORT, user alice" "names the account, host, port and user"
like "$out" $'\nTLS: +TLSv1\\.[23], TLS_[A-Z0-9_]+ \\(STARTTLS\\)' "the TLS version and cipher"
like "$out" $'\nCertificate: +CN ?= ?localhost\n' "the certificate's subject"
like "$out" $'\n  issuer: +CN ?= ?Postie Test CA\n' "its issuer"
like "$out" $'\n  valid: +[^\n]+ to [^\n]+\n' "its validity"
is "$(sed -n 's/^  pin: *tls_fingerprint = "\(.*\)"$/\1/p' "$T/last.out")" "$(cat "$T/certs/server.pin")" \
	"the tls_fingerprint value that pins it"
like "$out" $'\nCapabilities: [A-Z]' "the capabilities"
like "$out" $'\n +SASL PLAIN' "one per line, SASL among them"
like "$out" $'\nLogin: +ok, as alice \\(PLAIN\\)' "the login works, and how"
is "$(cat "$T/last.err")" "" "nothing on stderr"
is "$(pop3_count alice)" 1 "nothing fetched or deleted"
ok "$([ ! -e "$T/mbox" ]; echo $?)" "no destination touched"

pf_conf "$T/tls.conf" 'tls = "tls"' "port = $POP3S_PORT"
sed -i "/port = $POP3_PORT/d" "$T/tls.conf"
check "--serverinfo over implicit TLS" "$POPFETCH" -C "$T/tls.conf" --serverinfo inbox
like "$(cat "$T/last.out")" $'\nTLS: +TLSv1\\.[23], [^\n]*\\(implicit, tls = "tls"\\)' "implicit TLS"

# With the pin it shows, the account still works.
pf_conf "$T/pin.conf" "tls_fingerprint = \"$(cat "$T/certs/server.pin")\""
check "the shown pin works as tls_fingerprint" "$POPFETCH" -C "$T/pin.conf" --serverinfo inbox

pf_conf "$T/badpw.conf"
sed -i 's/password = "secret"/password = "wrong"/' "$T/badpw.conf"
check_status 77 "a wrong password: exit 77, as a poll" "$POPFETCH" -C "$T/badpw.conf" --serverinfo inbox
like "$(cat "$T/last.out")" $'\nLogin: +failed' "says the login failed"
like "$(cat "$T/last.err")" "^popfetch: inbox: localhost: authentication failed: " "and why, on stderr"

pf_conf "$T/badca.conf"
sed -i "s|$T/certs/ca.pem|$T/certs/other-ca.pem|" "$T/badca.conf"
check_status 75 "a certificate that does not verify: exit 75, as a poll" \
	"$POPFETCH" -C "$T/badca.conf" --serverinfo inbox
like "$(cat "$T/last.out")" $'\nCertificate: +CN ?= ?localhost  \\(does NOT verify\\)' \
	"the certificate is shown anyway, marked as not verifying"
is "$(sed -n 's/^  pin: *tls_fingerprint = "\(.*\)"$/\1/p' "$T/last.out")" "$(cat "$T/certs/server.pin")" \
	"with the pin that would accept it"
like "$(cat "$T/last.err")" "certificate does not verify" "the error on stderr"
unlike "$(cat "$T/last.out")" "Login:" "no login attempted"

port=$(free_port)
pf_conf "$T/closed.conf" "port = $port"
sed -i "/port = $POP3_PORT/d" "$T/closed.conf"
check_status 75 "nothing listening: exit 75" "$POPFETCH" -C "$T/closed.conf" --serverinfo inbox
like "$(cat "$T/last.out")" $'\nConnection: +failed' "says the connection failed"

# A server without CAPA (as popa3d), without TLS, on loopback.
start_faultpop3 normal --no-capa --message "$T/m1" || bail_out "faultpop3"
pf_plain_conf "$T/nocapa.conf" 127.0.0.1 "$FAULT_PORT" "mbox = \"$T/mbox\""
check "--serverinfo, no CAPA, no TLS" "$POPFETCH" -C "$T/nocapa.conf" --serverinfo
like "$(cat "$T/last.out")" $'\nTLS: +none' "no TLS"
like "$(cat "$T/last.out")" $'\nCapabilities: none \\(the server does not answer CAPA\\)' "no CAPA"
like "$(cat "$T/last.out")" $'\nLogin: +ok, as alice \\(USER\\)' "USER/PASS, RFC 1939's baseline"
is "$(cat "$FAULT_SPOOL/retrieved" 2>/dev/null)" "" "nothing retrieved"

check_status 64 "--serverinfo and --list exclude each other" "$POPFETCH" -C "$T/conf" --serverinfo --list
check_status 64 "--serverinfo and -d exclude each other" "$POPFETCH" -C "$T/conf" --serverinfo -d 5

done_testing
