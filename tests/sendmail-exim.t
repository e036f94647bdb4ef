#!/bin/bash
# sendmail against Exim as a real smarthost (Debian's exim4-daemon-light,
# unpacked, its own configuration through -C: tests/lib/mta.sh) with AUTH
# PLAIN and LOGIN after STARTTLS, recipients_max = 10, PIPELINING and
# CHUNKING as Exim offers them.  Exim relays to an aiosmtpd sink, where the
# bytes and envelopes are compared.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"
. "$(dirname "$0")/lib/mta.sh"

mta_unpack
start_sink "$T/sink" || bail_out "the sink did not start"
start_exim 'recipients_max = 10' || bail_out "exim did not start"
CONF_TOP='connection_cache = 0'

conf() { # FILE [LINE...]: an account at Exim's port
	local f=$1
	shift
	write_conf "$f" "$EXIM_PORT" 'tls = "starttls"' 'user = "alice"' \
		"password = \"$MTA_PW\"" 'from = "alice@example.org"' "$@"
}
sink_rcpts() { for f in "$T"/sink/[0-9]*.env; do tail -n +2 "$f"; done | sort; }

printf '%s\n' "From: Alice <alice@example.org>" "To: Bob <bob@example.net>" "Subject: via Exim" \
	"" ".a leading dot" "." "gr$(printf '\303\274')n" "last" >"$T/in"
crlf "From: Alice <alice@example.org>" "To: Bob <bob@example.net>" "Subject: via Exim" \
	"" ".a leading dot" "." "gr$(printf '\303\274')n" "last" >"$T/expected"

# ------------------------------------------------------ auth auto: PLAIN
conf "$T/c.conf"
sm "$T/c.conf" -i bob@example.net <"$T/in"
is "$LAST_STATUS" 0 "Exim, auth auto: exit 0" || diag "$(cat "$T/last.err")" "$(exim_log | tail -n 5)"
smtp_wait "$T/sink" 1 20
env_is "Exim" "$T/sink/0001.env" alice@example.org bob@example.net
sink_got "Exim" 0001 "$T/expected"
like "$(exim_log)" "A=plain:alice" "auth auto over STARTTLS: PLAIN"
like "$(exim_log)" "<= alice@example.org .* P=esmtpsa X=TLS" "Exim took it over TLS, authenticated"
# The transaction as Exim saw it: BDAT with PIPELINING (Exim's log of the
# connection says "K" for CHUNKING).
like "$(exim_log | grep '<= alice@example.org' | head -n 1)" " K " "sent with BDAT (CHUNKING)"

# ------------------------------------------------------ auth = "login"
conf "$T/login.conf" 'auth = "login"'
n0=$(smtp_count "$T/sink")
sm "$T/login.conf" -i login@example.net <"$T/in"
is "$LAST_STATUS" 0 "auth = login: exit 0" || diag "$(cat "$T/last.err")"
smtp_wait "$T/sink" $((n0 + 1)) 20
like "$(exim_log)" "A=login:alice" "auth = login: LOGIN"
sink_got "auth = login" "$(printf '%04d' $((n0 + 1)))" "$T/expected"

# ------------------------------------- a mechanism Exim does not offer
QDIR=$T/q-cram conf "$T/cram.conf" 'auth = "cram-md5"'
sm "$T/cram.conf" -i cram@example.net <"$T/in"
is "$LAST_STATUS" 0 "auth = cram-md5 not offered: queued, exit 0"
like "$(cat "$T/last.err")" "the server does not offer AUTH CRAM-MD5 \\(it offers PLAIN LOGIN\\)" \
	"auth = cram-md5 not offered: the error names what Exim offers"

# ------------------------------------------ 15 recipients, recipients_max = 10
rcpts=()
for i in $(seq -w 1 15); do rcpts+=("x$i@example.net"); done
p0=$(exim_log | grep -c '<= alice@example.org.*A=plain:alice')
a0=$(exim_log | grep -c 'connection count =')
sm "$T/c.conf" -i "${rcpts[@]}" <"$T/in"
is "$LAST_STATUS" 0 "15 recipients, recipients_max 10: exit 0" || diag "$(cat "$T/last.err")"
is "$(mailq_of "$T/c.conf")" "Mail queue is empty" "15 recipients: nothing left in the queue"
wait_for "[ \$(sink_rcpts | grep -c '^x') -ge 15 ]" 20
is "$(sink_rcpts | grep '^x')" "$(printf '%s\n' "${rcpts[@]}")" "15 recipients: each delivered, once"
is "$(($(exim_log | grep -c '<= alice@example.org.*A=plain:alice') - p0))" 2 \
	"15 recipients: two transactions (Exim answered 452 after 10)"
is "$(($(exim_log | grep -c 'connection count =') - a0))" 1 "15 recipients: on one connection"

# ------------------------------------------ a queue run, one connection
QDIR=$T/q-run conf "$T/run.conf"
sed "s/port = $EXIM_PORT/port = 1/" "$T/run.conf" >"$T/down.conf"
chmod 600 "$T/down.conf"
for i in 1 2 3 4; do
	printf 'Subject: run %s\n\nqueued %s\n' "$i" "$i" | "$SENDMAIL" -C "$T/down.conf" -i "q$i@example.net"
done
a0=$(exim_log | grep -c 'connection count =')
check "queue run through Exim: sendmail -q" "$SENDMAIL" -C "$T/run.conf" -q
is "$(mailq_of "$T/run.conf")" "Mail queue is empty" "queue run: all four sent"
wait_for "[ \$(sink_rcpts | grep -c '^q') -ge 4 ]" 20
is "$(sink_rcpts | grep '^q')" "$(printf 'q%s@example.net\n' 1 2 3 4)" "queue run: each at the sink, once"
is "$(($(exim_log | grep -c 'connection count =') - a0))" 1 "queue run: one connection"

done_testing
