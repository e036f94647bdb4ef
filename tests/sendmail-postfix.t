#!/bin/bash
# sendmail against Postfix as a real smarthost (Debian's package, unpacked
# and run from its own configuration on loopback: tests/lib/mta.sh), with
# Dovecot SASL (offering PLAIN LOGIN CRAM-MD5 DIGEST-MD5),
# reject_non_fqdn_helo_hostname, smtpd_recipient_limit = 10 and
# smtpd_timeout = 3s.  Postfix relays to an aiosmtpd sink, where bytes and
# envelopes are compared.  Issue 12's cases: the HELO restriction passes (a
# malformed helo refused at RCPT waits, the line names the key);
# 20 recipients against a limit of 10 all delivered at once; the kept
# connection after Postfix's idle timeout; auth auto over TLS picks PLAIN;
# the TLS-mode hints.  And issue 15's transaction against a real server:
# PIPELINING and CHUNKING (BDAT chunks), a queue run over one connection.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"
. "$(dirname "$0")/lib/mta.sh"

mta_unpack
start_dovecot --sasl "alice:$MTA_PW" || bail_out "dovecot did not start"
start_sink "$T/sink" || bail_out "the sink did not start"
start_postfix || bail_out "postfix did not start"

conf() { # FILE [LINE...]: an account at Postfix's STARTTLS port (no kept connection)
	local f=$1
	shift
	CONF_TOP=${CONF_TOP:-connection_cache = 0} write_conf "$f" "$POSTFIX_PORT" 'tls = "starttls"' 'user = "alice"' \
		"password = \"$MTA_PW\"" 'from = "alice@example.org"' "$@"
}
sink_rcpts() { for f in "$T"/sink/[0-9]*.env; do tail -n +2 "$f"; done | sort; }

# ------------------------------------------- the HELO restriction passes
# Postfix refuses a bare name (checked with swaks, so that the restriction
# is known to be on): sendmail's EHLO never is one.
swaks --server 127.0.0.1 --port "$POSTFIX_PORT" --ehlo vm --tls --auth PLAIN \
	--auth-user alice --auth-password "$MTA_PW" --from alice@example.org \
	--to bob@example.net --timeout 10 >"$T/swaks.out" 2>&1
like "$(cat "$T/swaks.out")" "504 5\\.5\\.2 <vm>: Helo command rejected" \
	"Postfix refuses a bare EHLO name (reject_non_fqdn_helo_hostname is on)"
printf '%s\n' "From: Alice <alice@example.org>" "To: Bob <bob@example.net>" "Subject: via Postfix" \
	"" ".a leading dot" ".." "caf$(printf '\303\251') au lait" "last" >"$T/in"
crlf "From: Alice <alice@example.org>" "To: Bob <bob@example.net>" "Subject: via Postfix" \
	"" ".a leading dot" ".." "caf$(printf '\303\251') au lait" "last" >"$T/expected"
conf "$T/c.conf"
sm "$T/c.conf" -i bob@example.net <"$T/in"
is "$LAST_STATUS" 0 "Postfix: exit 0" || diag "$(cat "$T/last.err")" "$(postfix_log | tail -n 5)"
smtp_wait "$T/sink" 1 20
env_is "Postfix" "$T/sink/0001.env" alice@example.org bob@example.net
sink_got "Postfix" 0001 "$T/expected"
like "$(postfix_log)" "helo=<[^>]*\\.[^>]*>|client=unknown\\[127\\.0\\.0\\.1\\], sasl_method=PLAIN" \
	"the EHLO name passed reject_non_fqdn_helo_hostname"
is "$(postfix_log | grep 'Helo command rejected' | grep -v 'helo=<vm>')" "" \
	"no HELO rejection for sendmail"
# helo set to a malformed name: refused, the message waits, the line names the key
QDIR=$T/qh conf "$T/bare.conf" 'helo = "vm..example.org"'
sm "$T/bare.conf" -i bob@example.net <"$T/in"
is "$LAST_STATUS" 0 "a malformed helo: exit 0, queued" || diag "$(cat "$T/last.err")"
like "$(cat "$T/last.err")" "Helo command rejected.*set helo = \"a fully qualified name\" in smtp \"default\" of $T/bare\\.conf" \
	"a malformed helo (Postfix checks it at RCPT): the line names the helo key"
is "$(find "$T/qh" -maxdepth 1 -name '*.env' | wc -l) $(ls "$T/qh/failed" 2>/dev/null | wc -l)" "1 0" \
	"a malformed helo: queued, not failed (not the recipient's fault)"
QDIR=$T/qh conf "$T/fqdn.conf" 'helo = "vm.example.org"'
n0=$(smtp_count "$T/sink")
sm "$T/fqdn.conf" -q
smtp_wait "$T/sink" $((n0 + 1)) 20
is "$(smtp_count "$T/sink") $(find "$T/qh" -maxdepth 1 -name '*.env' | wc -l)" "$((n0 + 1)) 0" \
	"helo mended, -q: delivered once"
like "$(cat "$T/sink/$(printf %04d $((n0 + 1))).msg")" "Received: from vm\\.example\\.org " \
	"the helo key is the EHLO name (Postfix's Received: field)"

# ------------------------------------------------ auth auto over TLS: PLAIN
like "$(postfix_log)" "sasl_method=PLAIN, sasl_username=alice" "auth auto over TLS: PLAIN"
unlike "$(cat "$T/dovecot/dovecot.log")" "DIGEST-MD5|CRAM-MD5" \
	"auth auto: Dovecot saw no DIGEST-MD5 or CRAM-MD5 attempt"

# ---------------------------------- 20 recipients, smtpd_recipient_limit = 10
rcpts=()
for i in $(seq -w 1 20); do rcpts+=("r$i@example.net"); done
n0=$(smtp_count "$T/sink")
t0=$(postfix_log | grep -c 'sasl_username=alice')
c0=$(postfix_log | grep -c ' connect from ')
sm "$T/c.conf" -i "${rcpts[@]}" <"$T/in"
is "$LAST_STATUS" 0 "20 recipients, limit 10: exit 0" || diag "$(cat "$T/last.err")"
is "$(cat "$T/last.err")" "" "20 recipients: nothing on stderr"
is "$(mailq_of "$T/c.conf")" "Mail queue is empty" "20 recipients: nothing left in the queue"
wait_for "[ \$(sink_rcpts | grep -c '^r') -ge 20 ]" 20
is "$(sink_rcpts | grep '^r')" "$(printf '%s\n' "${rcpts[@]}")" "20 recipients: each delivered, once"
is "$(($(postfix_log | grep -c 'sasl_username=alice') - t0))" 2 \
	"20 recipients: two transactions (Postfix answered 452 after 10)"
is "$(($(postfix_log | grep -c ' connect from ') - c0))" 1 "20 recipients: on one connection"
for f in "$T"/sink/[0-9]*.env; do
	n=${f##*/}
	n=${n%.env}
	[ "$n" -gt "$n0" ] && sink_got "20 recipients, message $n" "$n" "$T/expected"
done

# --------------------------------------- PIPELINING and CHUNKING, big message
big_message "$T/big" 40000
n0=$(smtp_count "$T/sink")
sm "$T/c.conf" -i big@example.net <"$T/big"
is "$LAST_STATUS" 0 "2.5 MB through Postfix: exit 0" || diag "$(cat "$T/last.err")"
wait_for "postfix_log | grep -q 'bdat=3 '" 10
like "$(postfix_log)" "mail=1 rcpt=1 bdat=3 quit=1" "2.5 MB: one transaction of three BDAT chunks"
smtp_wait "$T/sink" $((n0 + 1)) 30
n=$(printf '%04d' $((n0 + 1)))
"$PY" "$T/noreceived.py" "$T/sink/$n.msg" "$T/big.nr"
"$PY" "$T/strip.py" "$T/big.nr" "$T/big.got" Date Message-ID From To >/dev/null
"$PY" "$T/strip.py" "$T/big.crlf" "$T/big.want" From To >/dev/null
cmp_file "$T/big.got" "$T/big.want" "2.5 MB: the bytes at the sink"

# ------------------------------------------ a queue run, one connection
QDIR=$T/q-run conf "$T/run.conf"
sed "s/port = $POSTFIX_PORT/port = 1/" "$T/run.conf" >"$T/down.conf"
chmod 600 "$T/down.conf"
for i in 1 2 3 4 5; do
	printf 'Subject: run %s\n\nqueued %s\n' "$i" "$i" | "$SENDMAIL" -C "$T/down.conf" -i "q$i@example.net"
done
is "$(find "$T/q-run" -maxdepth 1 -name '*.env' | wc -l)" 5 "five queued while the server is unreachable"
c0=$(postfix_log | grep -c ' connect from ')
check "queue run through Postfix: sendmail -q" "$SENDMAIL" -C "$T/run.conf" -q
is "$(mailq_of "$T/run.conf")" "Mail queue is empty" "queue run: all five sent"
wait_for "[ \$(sink_rcpts | grep -c '^q') -ge 5 ]" 20
is "$(sink_rcpts | grep '^q')" "$(printf 'q%s@example.net\n' 1 2 3 4 5)" "queue run: each at the sink, once"
is "$(($(postfix_log | grep -c ' connect from ') - c0))" 1 "queue run: one connection"

# ------------------------------- the kept connection after smtpd_timeout
QDIR=$T/q-kept CONF_TOP='connection_cache = 30' conf "$T/kept.conf"
n0=$(smtp_count "$T/sink")
msg_k() { printf 'Subject: kept %s\n\nkept %s\n' "$1" "$1"; }
msg_k 1 | "$SENDMAIL" -C "$T/kept.conf" -i k1@example.net
is "$?" 0 "kept connection: first message sent"
wait_for "postfix_log | grep -q 'timeout after END-OF-MESSAGE\\|timeout after BDAT'" 10
like "$(postfix_log)" "timeout after" "Postfix closed the idle kept connection (smtpd_timeout = 3s)"
msg_k 2 | "$SENDMAIL" -C "$T/kept.conf" -i k2@example.net 2>"$T/err"
is "$?" 0 "after Postfix's timeout: exit 0"
is "$(mailq_of "$T/kept.conf")" "Mail queue is empty" "after Postfix's timeout: sent at once, not left queued"
wait_for "[ \$(sink_rcpts | grep -c '^k') -ge 2 ]" 20
is "$(sink_rcpts | grep '^k')" $'k1@example.net\nk2@example.net' "after Postfix's timeout: both at the sink"
kl=$T/q-kept/tmp/.conn.$(id -u).default.lock
[ -f "$kl" ] && kill "$(head -n 1 "$kl")" 2>/dev/null

# ------------------------------------------------------ TLS-mode hints
QDIR=$T/q-h1 CONF_TOP='timeout = 2' write_conf "$T/h1.conf" "$POSTFIX_TLS_PORT" \
	'tls = "starttls"' 'user = "alice"' "password = \"$MTA_PW\"" 'from = "alice@example.org"'
sm "$T/h1.conf" -i bob@example.net <"$T/in"
is "$LAST_STATUS" 0 "tls = starttls on Postfix's implicit-TLS port: queued, exit 0"
like "$(mailq_of "$T/h1.conf")" 'may expect TLS at once; for port 465 set tls = "tls"' \
	"tls = starttls on the implicit-TLS port: the error names the fix"
QDIR=$T/q-h2 CONF_TOP='timeout = 2' write_conf "$T/h2.conf" "$POSTFIX_PORT" 'tls = "tls"' \
	'user = "alice"' "password = \"$MTA_PW\"" 'from = "alice@example.org"'
sm "$T/h2.conf" -i bob@example.net <"$T/in"
like "$(mailq_of "$T/h2.conf")" 'wrong version number.*for port 587 or 25 set tls = "starttls"' \
	"tls = tls on Postfix's STARTTLS port: the error names the fix"
QDIR=$T/q-h3 write_conf "$T/h3.conf" "$POSTFIX_TLS_PORT" 'tls = "tls"' 'user = "alice"' \
	"password = \"$MTA_PW\"" 'from = "alice@example.org"'
n0=$(smtp_count "$T/sink")
sm "$T/h3.conf" -i tls@example.net <"$T/in"
is "$LAST_STATUS" 0 "implicit TLS with tls = tls: sent" || diag "$(cat "$T/last.err")"
wait_for "sink_rcpts | grep -q '^tls@'" 20
sink_rcpts | grep -q '^tls@example.net$'
ok $? "implicit TLS: at the sink"

done_testing
