#!/bin/bash
# sendmail against a real SMTP server (tests/lib/smtpd.py, aiosmtpd): TLS
# modes, AUTH methods, certificate checks and pins, refused logins and
# connections, the -v dialogue and its redaction, password_command.
# Every delivery is checked byte for byte and with its envelope.
. "$(dirname "$0")/lib/lib.sh"

# ----------------------------------------------------------------- helpers
. "$(dirname "$0")/lib/sendmail.sh"

PW='Pw-0f-Al1ce!'
# The forms a password can leak in: raw, AUTH PLAIN and AUTH LOGIN base64.
pw_forms() { # [PASSWORD]
	local pw=${1:-$PW}
	printf '%s\n' "$pw"
	printf '\0alice\0%s' "$pw" | base64 -w0; echo
	printf 'alice\0alice\0%s' "$pw" | base64 -w0; echo
	printf '%s' "$pw" | base64 -w0; echo
}
# no_password NAME FILE [PASSWORD]: FILE holds none of the password's forms.
no_password() {
	local f leaked=
	while IFS= read -r f; do
		grep -qF -- "$f" "$2" && leaked="$leaked $f"
	done < <(pw_forms "${3:-}")
	is "$leaked" "" "$1"
}

# The message of most tests: complete but for Date and Message-ID.
printf '%s\n' "From: Alice <alice@example.org>" "To: Bob <bob@example.net>" \
	"Subject: postie smtp test" "" "Hello Bob," "" "a line" "-- " "Alice" >"$T/in.txt"
crlf "From: Alice <alice@example.org>" "To: Bob <bob@example.net>" \
	"Subject: postie smtp test" "" "Hello Bob," "" "a line" "-- " "Alice" >"$T/expected"

# ----------------------------------------------------- STARTTLS + AUTH PLAIN
start_smtpd "$T/st" --starttls --auth "alice:$PW" --require-auth || bail_out "smtpd --starttls did not start"
ST_PORT=$SMTP_PORT
write_conf "$T/plain.conf" "$ST_PORT" 'tls = "starttls"' 'auth = "plain"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"'
sm "$T/plain.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "STARTTLS + AUTH PLAIN: exit 0" || diag "$(cat "$T/last.err")"
cp "$T/last.err" "$T/plain.verbose"
smtp_wait "$T/st" 1
env_is "STARTTLS + AUTH PLAIN" "$T/st/0001.env" alice@example.org bob@example.net
check_gen "STARTTLS + AUTH PLAIN" "$T/st/0001.msg" "$T/expected"
like "$(cat "$T/st/0001.info" 2>/dev/null)" $'tls: yes\nauth: alice' "STARTTLS + AUTH PLAIN: server saw TLS and the login"
is "$(tail -n 1 "$T/st/auths" 2>/dev/null)" "PLAIN alice" "STARTTLS + AUTH PLAIN: mechanism PLAIN used"
is "$(mailq_of "$T/plain.conf")" "Mail queue is empty" "STARTTLS + AUTH PLAIN: nothing left in the queue"

# -v: the dialogue is shown, the password in none of its forms.
v=$(cat "$T/plain.verbose")
like "$v" "STARTTLS" "-v shows STARTTLS"
like "$v" "AUTH PLAIN" "-v shows the AUTH command"
like "$v" "MAIL FROM:<alice@example.org>" "-v shows MAIL FROM"
like "$v" "RCPT TO:<bob@example.net>" "-v shows RCPT TO"
like "$v" "< 250 2\.0\.0 OK: queued as 0001" "-v shows the server's final reply"
no_password "-v (AUTH PLAIN) never shows the password or its base64 forms" "$T/plain.verbose"

# ----------------------------------------------------- STARTTLS + AUTH LOGIN
write_conf "$T/login.conf" "$ST_PORT" 'tls = "starttls"' 'auth = "login"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"'
sm "$T/login.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "STARTTLS + AUTH LOGIN: exit 0" || diag "$(cat "$T/last.err")"
cp "$T/last.err" "$T/login.verbose"
smtp_wait "$T/st" 2
env_is "STARTTLS + AUTH LOGIN" "$T/st/0002.env" alice@example.org bob@example.net
check_gen "STARTTLS + AUTH LOGIN" "$T/st/0002.msg" "$T/expected"
is "$(tail -n 1 "$T/st/auths" 2>/dev/null)" "LOGIN alice" "STARTTLS + AUTH LOGIN: mechanism LOGIN used"
like "$(cat "$T/login.verbose")" "AUTH LOGIN" "-v shows AUTH LOGIN"
no_password "-v (AUTH LOGIN) never shows the password or its base64 forms" "$T/login.verbose"

# ---------------------------------------------------------- password_command
printf '%s\n' "$PW" "second line is ignored" >"$T/pwfile"
write_conf "$T/pwcmd.conf" "$ST_PORT" 'tls = "starttls"' 'user = "alice"' \
	"password_command = \"cat $T/pwfile\"" 'from = "alice@example.org"'
sm "$T/pwcmd.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "password_command: exit 0" || diag "$(cat "$T/last.err")"
cp "$T/last.err" "$T/pwcmd.verbose"
smtp_wait "$T/st" 3
env_is "password_command" "$T/st/0003.env" alice@example.org bob@example.net
check_gen "password_command" "$T/st/0003.msg" "$T/expected"
like "$(tail -n 1 "$T/st/auths" 2>/dev/null)" " alice$" "password_command: logged in as alice"

# A failing password_command (a locked keyring under cron, a typo) must not
# lose the message: it stays queued (exit 0, sendmail(8) EXIT STATUS), and the
# error is printed even without -v, since it needs the user's attention.
QDIR=$T/q-pwfail write_conf "$T/pwfail.conf" "$ST_PORT" 'tls = "starttls"' 'user = "alice"' \
	'password_command = "exit 3"' 'from = "alice@example.org"'
n_before=$(smtp_count "$T/st")
sm "$T/pwfail.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "failing password_command: exit 0, the message is kept"
like "$(cat "$T/last.err")" "password_command" "failing password_command: the error names password_command"
is "$(smtp_count "$T/st")" "$n_before" "failing password_command: nothing delivered"
like "$("$SENDMAIL" -C "$T/pwfail.conf" -bp)" "password_command" "failing password_command: queued, mailq shows why"
no_password "-v (password_command, auth auto) never shows the password" "$T/pwcmd.verbose"

# -------------------------------------------------------- refused password
n_before=$(smtp_count "$T/st")
write_conf "$T/badpw.conf" "$ST_PORT" 'tls = "starttls"' 'auth = "plain"' 'user = "alice"' \
	'password = "wrong-password"' 'from = "alice@example.org"'
sm "$T/badpw.conf" -i bob@example.net <"$T/in.txt"
# issue 12: a refused login is not the message's fault: kept queued, exit 0 (was 77, dropped)
is "$LAST_STATUS" 0 "refused password: exit 0, the message is kept"
is "$(wc -l <"$T/last.err")" 1 "refused password: one line on stderr" || diag "$(cat "$T/last.err")"
like "$(cat "$T/last.err")" "check user and password of smtp \"default\" in $T/badpw.conf" \
	"refused password: the line names the fix"
like "$(cat "$T/last.err")" "localhost" "refused password: the error names the host"
like "$(cat "$T/last.err")" "535" "refused password: the error shows the 535 reply"
is "$(cat "$T/last.out")" "" "refused password: nothing on stdout"
is "$(smtp_count "$T/st")" "$n_before" "refused password: nothing delivered"
like "$(cat "$T/st/auth-failures" 2>/dev/null)" "PLAIN alice" "refused password: the server saw the failed AUTH"
like "$(mailq_of "$T/badpw.conf")" "bob@example\.net" "refused password: queued, mailq lists it"
like "$(mailq_of "$T/badpw.conf")" "535" "refused password: mailq shows the reply"
rm -f "$T"/queue/*.env "$T"/queue/*.msg
sm "$T/badpw.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "refused password with -v: exit 0 (queued)"
rm -f "$T"/queue/*.env "$T"/queue/*.msg
no_password "refused password with -v: the password is not shown in any form" \
	"$T/last.err" wrong-password

# --------------------------------------------------- unverifiable certificate
QDIR=$T/q-badca write_conf "$T/badca.conf" "$ST_PORT" 'tls = "starttls"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"' "tls_ca_file = \"$T/certs/other-ca.pem\""
n_before=$(smtp_count "$T/st")
sm "$T/badca.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "unverifiable certificate: exit 0 (queued)"
like "$(cat "$T/last.err")" "[Cc]ertificate|SSL|verify" "unverifiable certificate: -v shows the certificate error"
like "$(cat "$T/last.err")" "queued" "unverifiable certificate: -v says the message was queued"
is "$(smtp_count "$T/st")" "$n_before" "unverifiable certificate: nothing delivered"
q=$(mailq_of "$T/badca.conf")
like "$q" "bob@example\.net" "unverifiable certificate: -bp lists the message"
like "$q" "[Cc]ertificate|verify" "unverifiable certificate: -bp shows the error"
is "$(find "$T/q-badca" -maxdepth 1 -name '*.env' | wc -l)" 1 "unverifiable certificate: one entry in the queue directory"
unlike "$(cat "$T/last.err")" "AUTH|MAIL FROM" "unverifiable certificate: no login or MAIL after the failed handshake"

# ---------------------------------------------------------- public-key pins
write_conf "$T/pin.conf" "$ST_PORT" 'tls = "starttls"' 'user = "alice"' "password = \"$PW\"" \
	'from = "alice@example.org"' "tls_fingerprint = \"$(cat "$T/certs/server.pin")\""
n_before=$(smtp_count "$T/st")
sm "$T/pin.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "matching tls_fingerprint: exit 0" || diag "$(cat "$T/last.err")"
smtp_wait "$T/st" $((n_before + 1))
last=$(printf '%04d' $((n_before + 1)))
env_is "matching tls_fingerprint" "$T/st/$last.env" alice@example.org bob@example.net
check_gen "matching tls_fingerprint" "$T/st/$last.msg" "$T/expected"

wrongpin="sha256//$(printf 'not the key' | openssl dgst -sha256 -binary | openssl base64 -A)"
QDIR=$T/q-pin write_conf "$T/wrongpin.conf" "$ST_PORT" 'tls = "starttls"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"' "tls_fingerprint = \"$wrongpin\""
n_before=$(smtp_count "$T/st")
sm "$T/wrongpin.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "wrong tls_fingerprint: exit 0 (queued, a TLS failure is temporary)"
is "$(smtp_count "$T/st")" "$n_before" "wrong tls_fingerprint: nothing delivered"
unlike "$(cat "$T/last.err")" "> AUTH|MAIL FROM" "wrong tls_fingerprint: no login or MAIL"
like "$(mailq_of "$T/wrongpin.conf")" "bob@example\.net" "wrong tls_fingerprint: -bp lists the message"

# ------------------------------------------------- implicit TLS + AUTH
start_smtpd "$T/tls" --tls --auth "alice:$PW" --require-auth || bail_out "smtpd --tls did not start"
write_conf "$T/tls.conf" "$SMTP_PORT" 'tls = "tls"' 'user = "alice"' "password = \"$PW\"" \
	'from = "alice@example.org"'
sm "$T/tls.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "implicit TLS + AUTH: exit 0" || diag "$(cat "$T/last.err")"
cp "$T/last.err" "$T/tls.verbose"
smtp_wait "$T/tls" 1
env_is "implicit TLS + AUTH" "$T/tls/0001.env" alice@example.org bob@example.net
check_gen "implicit TLS + AUTH" "$T/tls/0001.msg" "$T/expected"
like "$(cat "$T/tls/0001.info" 2>/dev/null)" $'tls: yes\nauth: alice' "implicit TLS + AUTH: server saw TLS and the login"
unlike "$(cat "$T/tls.verbose")" "> STARTTLS" "implicit TLS: no STARTTLS command"
no_password "-v (implicit TLS, auth auto) never shows the password" "$T/tls.verbose"

# implicit TLS against the other CA: refused too
QDIR=$T/q-tlsbad write_conf "$T/tlsbad.conf" "$SMTP_PORT" 'tls = "tls"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"' "tls_ca_file = \"$T/certs/other-ca.pem\""
sm "$T/tlsbad.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "implicit TLS, unverifiable certificate: exit 0 (queued)"
is "$(smtp_count "$T/tls")" 1 "implicit TLS, unverifiable certificate: nothing delivered"
like "$(mailq_of "$T/tlsbad.conf")" "bob@example\.net" "implicit TLS, unverifiable certificate: queued"
stop_server "$SMTP_PID"

# ------------------------------------------- plain on loopback, no AUTH
start_smtpd "$T/plain" --plain || bail_out "smtpd --plain did not start"
write_conf "$T/none.conf" "$SMTP_PORT" 'tls = "none"' 'from = "alice@example.org"'
sm "$T/none.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "plain, no AUTH: exit 0" || diag "$(cat "$T/last.err")"
smtp_wait "$T/plain" 1
env_is "plain, no AUTH" "$T/plain/0001.env" alice@example.org bob@example.net
check_gen "plain, no AUTH" "$T/plain/0001.msg" "$T/expected"
like "$(cat "$T/plain/0001.info" 2>/dev/null)" $'tls: no\nauth: \n' "plain, no AUTH: no TLS, no login"
stop_server "$SMTP_PID"

# ---------------------------------------------------- refused connection
DEAD=$(free_port)
QDIR=$T/q-never write_conf "$T/never.conf" "$DEAD" 'tls = "none"' 'from = "alice@example.org"' \
	'queue = "never"'
sm "$T/never.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 75 "refused connection, queue = never: exit 75"
like "$(cat "$T/last.err")" "localhost|$DEAD" "refused connection, queue = never: the error names the server"
is "$(mailq_of "$T/never.conf" | head -n 1)" "Mail queue is empty" "refused connection, queue = never: nothing queued"
# issue 12: the caller was told (75), and a copy is kept in failed/ all the same
like "$(mailq_of "$T/never.conf")" "queue = \"never\".*"$'\n'".*the caller was told" \
	"refused connection, queue = never: a copy in failed/, mailq says the caller was told"

QDIR=$T/q-onfail write_conf "$T/onfail.conf" "$DEAD" 'tls = "none"' 'from = "alice@example.org"' \
	'queue = "on_failure"'
sm "$T/onfail.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "refused connection, queue = on_failure: exit 0"
is "$(cat "$T/last.out")" "" "refused connection, queue = on_failure: nothing on stdout"
q=$(mailq_of "$T/onfail.conf")
like "$q" "bob@example\.net" "refused connection, queue = on_failure: -bp lists the message"
like "$q" "alice@example\.org" "refused connection, queue = on_failure: -bp shows the sender"
is "$(find "$T/q-onfail" -maxdepth 1 -name '*.msg' | wc -l)" 1 "refused connection: the message file is in the queue"
# the queued bytes are the message as it will be sent
f=$(find "$T/q-onfail" -maxdepth 1 -name '*.msg' | head -n 1)
[ -n "$f" ] && check_gen "refused connection: queued file" "$f" "$T/expected" ||
	fail "refused connection: queued file exists"
sm "$T/onfail.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "refused connection with -v: exit 0"
like "$(cat "$T/last.err")" "queued" "refused connection with -v: says it was queued"
like "$(cat "$T/last.err")" "[Cc]onnect|refused" "refused connection with -v: says why"

# ------------------------------------------------------ more TLS and AUTH
# AUTH CRAM-MD5 on request
write_conf "$T/cram.conf" "$ST_PORT" 'tls = "starttls"' 'auth = "cram-md5"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"'
n_before=$(smtp_count "$T/st")
sm "$T/cram.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "AUTH CRAM-MD5: exit 0" || diag "$(cat "$T/last.err")"
smtp_wait "$T/st" $((n_before + 1))
is "$(tail -n 1 "$T/st/auths" 2>/dev/null)" "CRAM-MD5 alice" "AUTH CRAM-MD5: mechanism CRAM-MD5 used"
check_gen "AUTH CRAM-MD5" "$T/st/$(printf %04d $((n_before + 1))).msg" "$T/expected"

# tls = "starttls" and a server that does not offer STARTTLS: the password
# must not go out in clear text, and the message waits in the queue
start_smtpd "$T/nostarttls" --plain --auth "alice:$PW" || bail_out "smtpd --plain did not start"
QDIR=$T/q-nostls write_conf "$T/nostls.conf" "$SMTP_PORT" 'tls = "starttls"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"'
sm "$T/nostls.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "STARTTLS required but not offered: exit 0 (queued)"
is "$(smtp_count "$T/nostarttls")" 0 "STARTTLS required but not offered: nothing delivered"
is "$(cat "$T/nostarttls/auths" "$T/nostarttls/auth-failures" 2>/dev/null)" "" \
	"STARTTLS required but not offered: no AUTH in clear text"
unlike "$(cat "$T/last.err")" "> AUTH|MAIL FROM" "STARTTLS required but not offered: -v shows no AUTH or MAIL"
like "$(mailq_of "$T/nostls.conf")" "bob@example\.net" "STARTTLS required but not offered: queued"
stop_server "$SMTP_PID"

# STARTTLS offered but optional: used all the same
start_smtpd "$T/opt" --starttls-optional --auth "alice:$PW" || bail_out "smtpd --starttls-optional did not start"
write_conf "$T/opt.conf" "$SMTP_PORT" 'tls = "starttls"' 'user = "alice"' "password = \"$PW\"" 'from = "alice@example.org"'
sm "$T/opt.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "optional STARTTLS: exit 0"
smtp_wait "$T/opt" 1
like "$(cat "$T/opt/0001.info" 2>/dev/null)" $'tls: yes\nauth: alice' "optional STARTTLS: TLS used before the login"
stop_server "$SMTP_PID"

# a certificate for another host name, a self-signed one: refused;
# tls_verify = false accepts the self-signed one
for c in wronghost selfsigned; do
	if [ "$c" = wronghost ]; then
		start_smtpd "$T/$c" --starttls --auth "alice:$PW" --cert "$T/certs/wronghost-chain.pem" \
			--key "$T/certs/wronghost.key" || bail_out "smtpd ($c) did not start"
	else
		start_smtpd "$T/$c" --starttls --auth "alice:$PW" --cert "$T/certs/selfsigned.pem" \
			--key "$T/certs/selfsigned.key" || bail_out "smtpd ($c) did not start"
	fi
	QDIR=$T/q-$c write_conf "$T/$c.conf" "$SMTP_PORT" 'tls = "starttls"' 'user = "alice"' \
		"password = \"$PW\"" 'from = "alice@example.org"'
	sm "$T/$c.conf" -i bob@example.net <"$T/in.txt"
	is "$LAST_STATUS" 0 "$c certificate: exit 0 (queued)"
	is "$(smtp_count "$T/$c") $(cat "$T/$c/auths" 2>/dev/null | wc -l)" "0 0" "$c certificate: no login, nothing delivered"
	like "$(mailq_of "$T/$c.conf")" "bob@example\.net" "$c certificate: queued"
	if [ "$c" = selfsigned ]; then
		QDIR=$T/q-noverify write_conf "$T/noverify.conf" "$SMTP_PORT" 'tls = "starttls"' 'user = "alice"' \
			"password = \"$PW\"" 'from = "alice@example.org"' 'tls_verify = false'
		sm "$T/noverify.conf" -i bob@example.net <"$T/in.txt"
		is "$LAST_STATUS" 0 "tls_verify = false: exit 0"
		smtp_wait "$T/$c" 1
		check_gen "tls_verify = false: the self-signed server gets the message" "$T/$c/0001.msg" "$T/expected"
	fi
	stop_server "$SMTP_PID"
done

# ---------------------------------------------------------------- the log
# one line per message (queue id, account, host, sender, recipients,
# outcome), never a password
start_smtpd "$T/logsrv" --starttls --auth "alice:$PW" --require-auth || bail_out "smtpd did not start"
write_conf "$T/log.conf" "$SMTP_PORT" 'tls = "starttls"' 'auth = "plain"' 'user = "alice"' \
	"password = \"$PW\"" 'from = "alice@example.org"'
sed -i "s|^log = \"none\"|log = \"$T/postie.log\"|" "$T/log.conf"
sm "$T/log.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "log file: message sent"
sed -i "s|^  password = .*|  password = \"not-$PW\"|" "$T/log.conf"
sm "$T/log.conf" -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "log file: refused login (queued)"
log=$(cat "$T/postie.log" 2>/dev/null)
like "$log" "default[^"$'\n'"]*localhost[^"$'\n'"]*alice@example\.org[^"$'\n'"]*bob@example\.net[^"$'\n'"]*sent" \
	"log file: a line for the sent message (account, host, sender, recipient, outcome)"
like "$log" "535" "log file: the refused login is logged with the server's reply"
# DESIGN.md (Logging) and sendmail(8) (Logging): the line also tells the TLS used.
# (Before 21b453f log_attempt() wrote no TLS field.)
like "$(grep 'sent' "$T/postie.log" 2>/dev/null)" "[Tt][Ll][Ss]" "log file: the line for the sent message tells the TLS used"
no_password "log file: the password in none of its forms" "$T/postie.log"
no_password "log file: the wrong password in none of its forms" "$T/postie.log" "not-$PW"
stop_server "$SMTP_PID"

# ------------------------------------------------------------ server faults
# tests/lib/faultsmtp.py: each fault, and what sendmail must make of it:
# temporary or not the message's fault, a refused login too (queued, exit 0),
# every recipient refused (67), message refused (69), or no fault at all
# (sent).  A refusal is told to the caller and kept in failed/.
# ------------------------------------------------- the login is ours (sasl.c)
# auth = "auto" over STARTTLS: PLAIN, although the server also offers
# CRAM-MD5 (aiosmtpd offers CRAM-MD5 LOGIN PLAIN).
write_conf "$T/auto.conf" "$ST_PORT" 'tls = "starttls"' 'user = "alice"' "password = \"$PW\"" \
	'from = "alice@example.org"'
n_before=$(smtp_count "$T/st")
sm "$T/auto.conf" -v -i bob@example.net <"$T/in.txt"
is "$LAST_STATUS" 0 "auth auto over STARTTLS: exit 0" || diag "$(cat "$T/last.err")"
smtp_wait "$T/st" $((n_before + 1))
is "$(tail -n 1 "$T/st/auths" 2>/dev/null)" "PLAIN alice" "auth auto over TLS: PLAIN, not CRAM-MD5"
like "$(cat "$T/last.err")" "> AUTH PLAIN <redacted>" "auth auto: PLAIN with the initial response, redacted in -v"
unlike "$(cat "$T/last.err")" "< 334" "auth auto: no 334 turn (the initial response)"
no_password "auth auto -v: the password in no form" "$T/last.err"

# A mechanism asked for and not offered: the error says what is offered.
start_faultsmtp normal --auth "alice:$PW" || bail_out "faultsmtp did not start"
QDIR=$T/q-nocram write_conf "$T/nocram.conf" "$FAULT_PORT" 'tls = "none"' 'auth = "cram-md5"' \
	'user = "alice"' "password = \"$PW\"" 'from = "alice@example.org"'
sm "$T/nocram.conf" -i bob@example.net <"$T/in.txt"
like "$(cat "$T/last.err")" "the server does not offer AUTH CRAM-MD5 \(it offers PLAIN LOGIN\)" \
	"cram-md5 not offered: the error names what the server offers"
is "$(smtp_count "$FAULT_SPOOL")" 0 "cram-md5 not offered: nothing sent"
like "$(mailq_of "$T/nocram.conf")" "does not offer AUTH CRAM-MD5" "cram-md5 not offered: queued with the reason"
unlike "$(cat "$FAULT_SPOOL/log")" "C: AUTH" "cram-md5 not offered: no AUTH command at all"
stop_server "$FAULT_PID"

# ------------------------------------------------------------ the EHLO name
# Never the bare host name: HOST.DOMAIN when the host has no FQDN and domain
# is set, helo when set, the local address literal when neither.
start_smtpd "$T/helo" || bail_out "smtpd did not start"
write_conf "$T/helo.conf" "$SMTP_PORT" 'tls = "none"' 'from = "alice@example.org"'
sm "$T/helo.conf" -i bob@example.net <"$T/in.txt"
smtp_wait "$T/helo" 1
fqdn=$(hostname -f 2>/dev/null)
case $fqdn in
*.*) want=$fqdn ;;
*) want=$(hostname).example.org ;;
esac
is "$(sed -n 's/^helo: //p' "$T/helo/0001.info")" "$want" "EHLO: the FQDN, else HOST.domain"
write_conf "$T/helo2.conf" "$SMTP_PORT" 'tls = "none"' 'from = "alice@example.org"' \
	'helo = "mx1.example.com"'
sm "$T/helo2.conf" -i bob@example.net <"$T/in.txt"
smtp_wait "$T/helo" 2
is "$(sed -n 's/^helo: //p' "$T/helo/0002.info")" "mx1.example.com" "EHLO: helo in the section"
CONF_TOP='helo = "[192.0.2.7]"' write_conf "$T/helo3.conf" "$SMTP_PORT" 'tls = "none"' \
	'from = "alice@example.org"'
sm "$T/helo3.conf" -i bob@example.net <"$T/in.txt"
smtp_wait "$T/helo" 3
is "$(sed -n 's/^helo: //p' "$T/helo/0003.info")" "[192.0.2.7]" "EHLO: helo at the top level, an address literal"
write_conf "$T/helo4.conf" "$SMTP_PORT" 'tls = "none"' 'from = "alice@example.org"' 'helo = "vm"'
sm "$T/helo4.conf" -bv bob@example.net
is "$LAST_STATUS" 78 "helo = a bare name: a configuration error"
like "$(cat "$T/last.err")" 'helo = "vm" is not a fully qualified host name' "helo = a bare name: the error says why"
if [[ $fqdn != *.* ]]; then
	# No FQDN and no domain: the address literal of our end.
	sed '/^domain = /d' "$T/helo.conf" >"$T/helo5.conf"
	chmod 600 "$T/helo5.conf"
	sm "$T/helo5.conf" -i bob@example.net <"$T/in.txt"
	smtp_wait "$T/helo" 4
	is "$(sed -n 's/^helo: //p' "$T/helo/0004.info")" "[127.0.0.1]" \
		"EHLO: no FQDN, no domain: the address literal of the local end"
else
	skip "EHLO: the address literal" "this host has a fully qualified name"
fi

# ----------------------------------------------------- TLS mode and port hints
# Implicit TLS (as on 465) with tls = "starttls": no greeting comes.
start_smtpd "$T/tls465" --tls || bail_out "smtpd --tls did not start"
QDIR=$T/q-h1 CONF_TOP='timeout = 2' write_conf "$T/h1.conf" "$SMTP_PORT" 'tls = "starttls"' \
	'from = "alice@example.org"'
sm "$T/h1.conf" -i bob@example.net <"$T/in.txt"
like "$(mailq_of "$T/h1.conf")" 'may expect TLS at once; for port 465 set tls = "tls"' \
	"tls = starttls against implicit TLS: the error names the fix"
# STARTTLS port (as 587) with tls = "tls": "wrong version number".
QDIR=$T/q-h2 CONF_TOP='timeout = 2' write_conf "$T/h2.conf" "$ST_PORT" 'tls = "tls"' \
	'from = "alice@example.org"'
sm "$T/h2.conf" -i bob@example.net <"$T/in.txt"
like "$(mailq_of "$T/h2.conf")" 'wrong version number.*for port 587 or 25 set tls = "starttls"' \
	"tls = tls against a plain port: the error names the fix"

# --------------------------------------------------------------- --serverinfo
start_smtpd "$T/si" --starttls --auth "alice:$PW" --pipelining --chunking --size-limit 5000000 ||
	bail_out "smtpd did not start"
write_conf "$T/si.conf" "$SMTP_PORT" 'tls = "starttls"' 'user = "alice"' "password = \"$PW\"" \
	'from = "alice@example.org"'
sm "$T/si.conf" --serverinfo
is "$LAST_STATUS" 0 "--serverinfo: exit 0" || diag "$(cat "$T/last.err")"
out=$(cat "$T/last.out")
like "$out" "TLS: +TLSv1\.[23], [A-Z0-9_-]+ \(STARTTLS\)" "--serverinfo: TLS version and cipher"
like "$out" "Certificate: +CN = localhost"$'\n'"  issuer: +CN = Postie Test CA" "--serverinfo: subject and issuer"
like "$out" "valid: +[A-Z][a-z]{2} .* GMT to " "--serverinfo: validity"
pin=$(sed -n 's/^  pin: *tls_fingerprint = "\(.*\)"$/\1/p' <<<"$out")
is "$pin" "$(cat "$T/certs/server.pin")" "--serverinfo: the pin is server.pin, byte for byte"
write_conf "$T/si-pin.conf" "$SMTP_PORT" 'tls = "starttls"' 'user = "alice"' "password = \"$PW\"" \
	'from = "alice@example.org"' "tls_fingerprint = \"$pin\""
sm "$T/si-pin.conf" --serverinfo
is "$LAST_STATUS" 0 "--serverinfo: the pin shown works as tls_fingerprint" || diag "$(cat "$T/last.err")"
for c in PIPELINING CHUNKING "SIZE 5000000" 8BITMIME SMTPUTF8 "AUTH CRAM-MD5 LOGIN PLAIN"; do
	like "$out" $'\n(Capabilities:| ) +'"$c"$'\n' "--serverinfo: capability $c"
done
like "$out" "STARTTLS before TLS" "--serverinfo: STARTTLS was offered"
like "$out" "Login: +ok, as alice \(PLAIN\)" "--serverinfo: the login and its mechanism"
is "$(smtp_count "$T/si")" 0 "--serverinfo: nothing sent"
wait_for "grep -q QUIT '$T/si/flights'" 5
unlike "$(cat "$T/si/flights")" "MAIL" "--serverinfo: no MAIL"
write_conf "$T/si2.conf" "$SMTP_PORT" 'tls = "starttls"' 'user = "alice"' 'password = "wrong"' \
	'from = "alice@example.org"'
sm "$T/si2.conf" --serverinfo
is "$LAST_STATUS" 77 "--serverinfo, refused login: exit 77"
like "$(cat "$T/last.out")" "Login: +failed" "--serverinfo, refused login: said so"
like "$(cat "$T/last.err")" "535" "--serverinfo, refused login: the reply on stderr"
write_conf "$T/si3.conf" "$SMTP_PORT" 'tls = "starttls"' 'user = "alice"' "password = \"$PW\"" \
	"tls_ca_file = \"$T/certs/other-ca.pem\""
auths=$(cat "$T/si/auths" 2>/dev/null | wc -l)
sm "$T/si3.conf" --serverinfo
is "$LAST_STATUS" 75 "--serverinfo, certificate does not verify: exit 75"
like "$(cat "$T/last.out")" "CN = localhost  \(does NOT verify\)" "--serverinfo: the certificate shown, marked"
is "$(sed -n 's/^  pin: *tls_fingerprint = "\(.*\)"$/\1/p' "$T/last.out")" "$(cat "$T/certs/server.pin")" \
	"--serverinfo: its pin, to pin it"
is "$(cat "$T/si/auths" 2>/dev/null | wc -l)" "$auths" "--serverinfo: no login over the unverified connection"
sm "$T/si.conf" --serverinfo=x
is "$LAST_STATUS" 64 "--serverinfo=x: usage error"
stop_server "$SMTP_PID"

faults=(
	"drop-greeting:0:queued" "421-greeting:0:queued" "stall-greeting:0:queued" "garbage:0:queued"
	"long-reply:0:sent" "drop-ehlo:0:queued" "535-auth:0:queued" "drop-mail:0:queued"
	"451-mail:0:queued" "drop-rcpt:0:queued" "452-rcpt:0:queued" "550-rcpt:67:dropped"
	"drop-data:0:queued" "554-data:69:dropped" "drop-after-dot:0:queued" "451-after-dot:0:queued"
	"552-after-dot:69:dropped" "stall-after-dot:0:queued"
)
for f in "${faults[@]}"; do
	IFS=: read -r mode want what <<<"$f"
	start_faultsmtp "$mode" --auth "alice:$PW" || { fail "faultsmtp $mode started"; continue; }
	QDIR=$T/q-$mode write_conf "$T/f-$mode.conf" "$FAULT_PORT" 'tls = "none"' 'user = "alice"' \
		"password = \"$PW\"" 'from = "alice@example.org"' 'timeout = 1'
	sm "$T/f-$mode.conf" -i bob@example.net <"$T/in.txt"
	is "$LAST_STATUS" "$want" "fault $mode: exit $want" || diag "$(cat "$T/last.err")"
	nq=$(find "$T/q-$mode" -maxdepth 1 -name '*.env' | wc -l)
	nd=$(smtp_count "$FAULT_SPOOL")
	case $what in
	queued) is "$nq $nd" "1 0" "fault $mode: kept in the queue, nothing delivered" ;;
	dropped) is "$nq $nd" "0 0" "fault $mode: refused: not queued, nothing delivered"
		is "$(find "$T/q-$mode/failed" -name '*.env' 2>/dev/null | wc -l)" 1 \
			"fault $mode: a copy kept in failed/"
		[ -s "$T/last.err" ] && pass "fault $mode: the reason is on stderr" ||
			fail "fault $mode: the reason is on stderr" ;;
	sent) is "$nq $nd" "0 1" "fault $mode: sent, not queued"
		[ "$nd" = 1 ] && check_gen "fault $mode" "$FAULT_SPOOL/0001.msg" "$T/expected" ;;
	esac
	stop_server "$FAULT_PID"
done

done_testing
