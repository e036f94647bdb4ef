#!/bin/bash
# popfetch logs in itself, through common/sasl.c, over the connection
# libcurl opened (issue 11): the mechanism chosen from CAPA and the greeting,
# the initial response, the next mechanism offered when one is refused,
# errors naming the mechanisms tried and offered; RFC 3206 response codes;
# UTF8 (RFC 6856) after the login; the command flights (QUIT with the last
# DELEs).  Against the scripted faultpop3.py, which can offer what real
# servers offer and refuse what their backends cannot check.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

export XDG_STATE_HOME=$T/state
printf 'From: s1@example.org\nSubject: message 1\n\nbody 1\n' >"$T/m1"
printf 'From: s2@example.org\nSubject: message 2\n\nbody 2\n' >"$T/m2"
printf 'From: s3@example.org\nSubject: message 3\n\nbody 3\n' >"$T/m3"

# server [faultpop3 options]: a fresh server with messages 1-3 ($NMSG of them).
NMSG=1
server() {
	local mode=normal args=() i
	[ -z "$FAULT_PID" ] || stop_server "$FAULT_PID"
	FAULT_PID=
	rm -rf "$T/spool" "$XDG_STATE_HOME" "$T/mbox"
	[ "$1" = err-pass ] && { mode=err-pass; shift; }
	for i in $(seq 1 "$NMSG"); do args+=(--message "$T/m$i"); done
	start_faultpop3 "$mode" --spool "$T/spool" "${args[@]}" "$@" || bail_out "faultpop3 did not start"
}
# conf [KEY=VALUE...]: the account on the server.
conf() { pf_plain_conf "$T/conf" "${HOST:-127.0.0.1}" "${PORT:-$FAULT_PORT}" "mbox = \"$T/mbox\"" "$@"; }
logins() { cat "$T/spool/logins" 2>/dev/null; }
count() { if [ -f "$1" ]; then grep -c '^From ' "$1"; else echo 0; fi; }

# ---- auth = "user" really sends USER/PASS, though SASL is offered
server --sasl "PLAIN LOGIN"
conf 'auth = "user"'
check 'auth = "user" against a server offering SASL PLAIN' "$POPFETCH" -C "$T/conf"
is "$(logins)" "USER alice" "it logs in with USER/PASS"
unlike "$(cat "$T/spool/log")" "C: AUTH" "no AUTH command"
is "$(count "$T/mbox")" 1 "and fetches"

# ---- auto, on loopback: PLAIN with the initial response, one round trip
server --sasl "PLAIN LOGIN CRAM-MD5"
conf
check 'auto: PLAIN' "$POPFETCH" -C "$T/conf"
is "$(logins)" "PLAIN alice" "PLAIN is chosen, not CRAM-MD5"
like "$(grep -A1 'C: AUTH' "$T/spool/log" | tr '\n' '|')" '^C: AUTH PLAIN <redacted>\|S: \+OK Logged in\.\|$' \
	"with the initial response: one command, one reply"

# ---- a backend that cannot check CRAM-MD5 (as Courier over PAM) nor PLAIN: LOGIN
server --sasl "CRAM-MD5 PLAIN LOGIN" --refuse CRAM-MD5 --refuse PLAIN
conf
check 'auto: PLAIN refused, LOGIN next' "$POPFETCH" -C "$T/conf"
is "$(logins)" "LOGIN alice" "falls back to the next mechanism offered"
unlike "$(cat "$T/spool/log")" "AUTH CRAM-MD5" "CRAM-MD5 is not tried while something better works"

server --sasl "CRAM-MD5" --refuse CRAM-MD5 --refuse USER
conf 'auth = "cram-md5"'
check_status 77 'auth = "cram-md5" refused: exit 77' "$POPFETCH" -C "$T/conf"
like "$(cat "$T/last.err")" '^popfetch: f: 127\.0\.0\.1: authentication failed: -ERR \[AUTH\] Authentication failed\. \(tried CRAM-MD5; the server offers CRAM-MD5\)$' \
	"the error names the mechanism tried and those offered"

server --sasl "PLAIN"
conf 'auth = "cram-md5"'
check_status 77 'auth = "cram-md5" not offered: exit 77' "$POPFETCH" -C "$T/conf"
like "$(cat "$T/last.err")" 'the server does not offer AUTH CRAM-MD5 \(it offers PLAIN USER\)' "says what is offered"
is "$(grep -c '^C: \(AUTH\|USER\|PASS\|APOP\)' "$T/spool/log")" 0 "no credential sent"

# ---- a greeting with an APOP timestamp, APOP refused
server --apop --refuse APOP
conf 'auth = "apop"'
check_status 77 'auth = "apop", refused: exit 77' "$POPFETCH" -C "$T/conf"
like "$(cat "$T/last.err")" '^popfetch: f: 127\.0\.0\.1: authentication failed: -ERR \[AUTH\] Authentication failed\. \(tried APOP; the server offers USER APOP\)$' \
	"names APOP and what is offered"
conf
check 'auto with an APOP timestamp: USER/PASS, not APOP, on loopback' "$POPFETCH" -C "$T/conf"
is "$(logins)" "USER alice" "logged in"
server --apop
conf 'auth = "apop"'
check 'auth = "apop" where it works' "$POPFETCH" -C "$T/conf"
is "$(logins)" "APOP alice" "APOP"

# ---- not on loopback, no TLS (a network namespace of our own)
if unshare -n true 2>/dev/null; then
	# in_netns CONF-LINES... : faultpop3 on 192.0.2.1 with $NETNS_SERVER options, popfetch.
	in_netns() {
		rm -rf "$T/spool" "$XDG_STATE_HOME" "$T/mbox"
		HOST=192.0.2.1 PORT=11000 conf "$@"
		unshare -n bash -c '
			ip link set lo up && ip addr add 192.0.2.1/24 dev lo || exit 90
			"$1" "$2" --host 192.0.2.1 --port 11000 --spool "$3" --ready-file "$3/ready" \
				--message "$4" $5 &
			srv=$!
			for i in $(seq 100); do [ -s "$3/ready" ] && break; sleep 0.1; done
			"$6" -C "$7" >"$8.out" 2>"$8.err"
			rc=$?
			kill $srv; wait $srv
			exit $rc' sh "$PY" "$TOP/tests/lib/faultpop3.py" "$T/spool" "$T/m1" "$NETNS_SERVER" \
			"$POPFETCH" "$T/conf" "$T/netns"
		NETNS_RC=$?
	}
	NETNS_SERVER="--apop --refuse APOP"
	in_netns 'tls_required = false'
	is "$NETNS_RC" 0 "in clear, allowed: APOP first, refused, then USER/PASS"
	is "$(logins)" "USER alice" "logged in with USER"
	like "$(cat "$T/spool/log")" "C: APOP alice <redacted>" "APOP was tried first"
	NETNS_SERVER="--sasl PLAIN"
	in_netns
	is "$NETNS_RC" 78 "in clear to a host not on loopback: exit 78 (the account's setting)"
	like "$(cat "$T/netns.err")" "will not send the login over an unencrypted connection.*tls_required = false" \
		"says which key allows it"
	is "$(grep -c '^C: \(AUTH\|USER\|PASS\|APOP\)' "$T/spool/log")" 0 "no credential sent"
else
	skip "not on loopback" "no network namespace here"
fi

# ---- RFC 2449/3206 response codes to the login
while read -r code want; do
	server err-pass --pass-error "$code the server says so"
	conf
	check_status "$want" "-ERR $code to the login: exit $want" "$POPFETCH" -C "$T/conf"
	like "$(cat "$T/last.err")" "^popfetch: f: .*$(printf '%s' "$code" | sed 's/[][]/\\&/g') the server says so" \
		"$code: the error quotes the server"
done <<'EOF'
[IN-USE] 75
[LOGIN-DELAY] 75
[SYS/TEMP] 75
[AUTH] 77
[SYS/PERM] 69
- 77
EOF

# ---- UTF8 (RFC 6856) after the login, when CAPA lists it
printf 'From: =?utf-8?q?J=C3=B6rg?= <j@example.org>\nSubject: Grüße aus Köln\nTo: Zoë <zoe@example.org>\n\nKöln\n' >"$T/m1"
server --capa UTF8 --capa PIPELINING
conf
check 'a server offering UTF8' "$POPFETCH" -C "$T/conf"
is "$(cat "$T/spool/utf8" 2>/dev/null)" "after login" "UTF8 is sent, after the login"
"$PY" - "$T/m1" "$T/mbox" <<'PY'
import sys
want = open(sys.argv[1], "rb").read()
got = open(sys.argv[2], "rb").read()
body = got.split(b"\n", 1)[1]
sys.exit(0 if body == want + b"\n" else 1)
PY
ok $? "the raw UTF-8 header bytes are kept exactly"
server --capa PIPELINING
conf
check 'a server without UTF8' "$POPFETCH" -C "$T/conf"
unlike "$(cat "$T/spool/log")" "C: UTF8" "no UTF8 command"
printf 'From: s1@example.org\nSubject: message 1\n\nbody 1\n' >"$T/m1"

# ---- flights: QUIT goes with the last DELEs, RETRs ahead in one flight
NMSG=3
server --capa PIPELINING
conf
check 'three messages, pipelined' "$POPFETCH" -C "$T/conf"
is "$(tr '\n' '|' <"$T/spool/flights")" "LIST UIDL|RETR RETR RETR|DELE DELE DELE QUIT|" \
	"flights: LIST+UIDL, the RETRs, the DELEs with QUIT"
is "$(wc -l <"$T/spool/deleted")" 3 "all three deleted"
server --capa PIPELINING --capa UTF8
conf
check 'with UTF8' "$POPFETCH" -C "$T/conf"
is "$(head -n 1 "$T/spool/flights")" "UTF8 LIST UIDL" "UTF8 goes in the flight of LIST and UIDL"
server
conf
check 'three messages, no PIPELINING' "$POPFETCH" -C "$T/conf"
is "$(tr '\n' '|' <"$T/spool/flights")" "LIST|UIDL|RETR|RETR|RETR|DELE|DELE|DELE|QUIT|" \
	"without PIPELINING one command at a time"
NMSG=1
server --capa PIPELINING
conf 'keep = true'
check 'nothing new' "$POPFETCH" -C "$T/conf"
check 'nothing new, again' "$POPFETCH" -C "$T/conf"
is "$(tail -n 2 "$T/spool/flights" | tr '\n' '|')" "LIST UIDL|QUIT|" "a poll with nothing new: LIST+UIDL, then QUIT"

done_testing
