#!/bin/bash
# The mail transaction sendmail speaks itself (sendmail/smtptx.c) against
# aiosmtpd with and without PIPELINING and CHUNKING: bytes and envelopes as
# sent, the command flights the server saw (pipelined: MAIL, every RCPT and
# DATA in one; not pipelined: one command per turn), dot-stuffing done once,
# BDAT in chunks, SIZE, BODY=8BITMIME and SMTPUTF8, 452 "too many
# recipients" answered with another transaction at once, a queue run with
# each dot and the next envelope in one flight, QUIT not waited for.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"
# No kept connection: each run ends with its QUIT (the kept one: sendmail-conncache.t).
CONF_TOP="connection_cache = 0"

# A body that needs dot-stuffing, 8-bit bytes, and no final newline.
printf '%s\n' "From: a@example.org" "To: b@example.net" "Subject: dots" "" ".leading dot" \
	".." "." "x.y" "caf$(printf '\303\251')" >"$T/in"
printf 'last line, no newline' >>"$T/in"
crlf "From: a@example.org" "To: b@example.net" "Subject: dots" "" ".leading dot" \
	".." "." "x.y" "caf$(printf '\303\251')" >"$T/expected"
printf 'last line, no newline\r\n' >>"$T/expected"

# flights DIR: the server's flights, one line each: "F: VERB VERB ...",
# once the server has read the QUIT (sendmail does not wait for it).
flights() {
	wait_for "grep -q ' QUIT\$' '$1/flights'" 10
	awk '{ v = $3; sub(/:.*/, "", v); if ($2 != f) { if (line) print line; f = $2; line = f ":" }
	line = line " " v } END { if (line) print line }' "$1/flights"
}

for variant in plain pipelining chunking pipelining+chunking; do
	opts=()
	[[ $variant == *pipelining* ]] && opts+=(--pipelining)
	[[ $variant == *chunking* ]] && opts+=(--chunking)
	start_smtpd "$T/$variant" "${opts[@]}" --size-limit 100000 ||
		bail_out "smtpd $variant did not start"
	write_conf "$T/$variant.conf" "$SMTP_PORT" 'tls = "none"' 'from = "a@example.org"'
	sm "$T/$variant.conf" -i b@example.net c@example.net d@example.net <"$T/in"
	is "$LAST_STATUS" 0 "$variant: exit 0" || diag "$(cat "$T/last.err")"
	smtp_wait "$T/$variant" 1
	env_is "$variant" "$T/$variant/0001.env" a@example.org b@example.net c@example.net \
		d@example.net
	check_gen "$variant" "$T/$variant/0001.msg" "$T/expected"
	info=$(cat "$T/$variant/0001.info")
	like "$info" "mail_options: SIZE=[0-9]+ BODY=8BITMIME" \
		"$variant: SIZE and BODY=8BITMIME on MAIL for an 8-bit message"
	case $variant in
	*chunking) like "$info" "via: BDAT" "$variant: sent with BDAT" ;;
	*) like "$info" "via: DATA" "$variant: sent with DATA" ;;
	esac
	f=$(flights "$T/$variant")
	case $variant in
	plain) want=$'1: EHLO\n2: MAIL\n3: RCPT\n4: RCPT\n5: RCPT\n6: DATA\n7: <data>\n8: QUIT' ;;
	pipelining) want=$'1: EHLO\n2: MAIL RCPT RCPT RCPT DATA\n3: <data>\n4: QUIT' ;;
	chunking) want=$'1: EHLO\n2: MAIL\n3: RCPT\n4: RCPT\n5: RCPT\n6: BDAT\n7: QUIT' ;;
	pipelining+chunking) want=$'1: EHLO\n2: MAIL RCPT RCPT RCPT BDAT\n3: QUIT' ;;
	esac
	is "$f" "$want" "$variant: the command flights"
	is "$(wc -l <"$T/$variant/connections")" 1 "$variant: one connection"
	is "$(mailq_of "$T/$variant.conf")" "Mail queue is empty" "$variant: nothing left in the queue"
done

# ------------------------------------------------ a big message in chunks
# 2.5 MiB: three BDAT chunks of at most 1 MiB when pipelining, one without.
big_message "$T/big" 40000
for variant in pipelining+chunking chunking pipelining; do
	opts=()
	[[ $variant == *pipelining* ]] && opts+=(--pipelining)
	[[ $variant == *chunking* ]] && opts+=(--chunking)
	start_smtpd "$T/big-$variant" "${opts[@]}" || bail_out "smtpd did not start"
	write_conf "$T/big.conf" "$SMTP_PORT" 'tls = "none"' 'from = "a@example.org"'
	sm "$T/big.conf" -i b@example.net <"$T/big"
	is "$LAST_STATUS" 0 "2.5 MiB, $variant: exit 0" || diag "$(cat "$T/last.err")"
	smtp_wait "$T/big-$variant" 1
	"$PY" "$T/strip.py" "$T/big-$variant/0001.msg" "$T/big.got" Date Message-ID From To >/dev/null
	"$PY" "$T/strip.py" "$T/big.crlf" "$T/big.want" From To >/dev/null
	cmp_file "$T/big.got" "$T/big.want" "2.5 MiB, $variant: bytes received (dots unstuffed once)"
	n=$(grep -c ' BDAT ' "$T/big-$variant/flights")
	case $variant in
	pipelining+chunking) is "$n" 3 "2.5 MiB: three BDAT chunks when pipelining" ;;
	chunking) is "$n" 1 "2.5 MiB: one BDAT chunk without pipelining" ;;
	pipelining) is "$n" 0 "2.5 MiB: DATA without CHUNKING" ;;
	esac
done

# ------------------------------------------------------ SIZE, 8BITMIME, SMTPUTF8
start_smtpd "$T/small" --pipelining --size-limit 500 --no-8bitmime --no-smtputf8 ||
	bail_out "smtpd did not start"
QDIR=$T/q-small write_conf "$T/small.conf" "$SMTP_PORT" 'tls = "none"' 'from = "a@example.org"'
sm "$T/small.conf" -i b@example.net <"$T/big"
is "$LAST_STATUS" 69 "over the server's SIZE: exit 69"
like "$(cat "$T/last.err")" "SIZE 500" "over SIZE: the error names the server's limit"
sm "$T/small.conf" -i b@example.net <"$T/in"
is "$LAST_STATUS" 69 "8-bit message, no 8BITMIME: exit 69"
like "$(cat "$T/last.err")" "8BITMIME" "no 8BITMIME: the error says so"
printf 'Subject: ascii\n\nplain\n' >"$T/ascii"
sm "$T/small.conf" -i "$(printf 'j\303\274rgen@example.net')" <"$T/ascii"
is "$LAST_STATUS" 69 "UTF-8 address, no SMTPUTF8: exit 69"
like "$(cat "$T/last.err")" "SMTPUTF8" "no SMTPUTF8: the error says so"
unlike "$(cat "$T/small/flights")" "MAIL" "refused before anything was sent: no MAIL at all"
sm "$T/small.conf" -i b@example.net <"$T/ascii"
is "$LAST_STATUS" 0 "a small 7-bit message still goes" || diag "$(cat "$T/last.err")"
smtp_wait "$T/small" 1
like "$(cat "$T/small/0001.info")" "mail_options: SIZE=[0-9]+"$'\n' "7-bit: SIZE= but no BODY="

start_smtpd "$T/utf8" --pipelining || bail_out "smtpd did not start"
write_conf "$T/utf8.conf" "$SMTP_PORT" 'tls = "none"' 'from = "a@example.org"'
sm "$T/utf8.conf" -i "$(printf 'j\303\274rgen@example.net')" <"$T/ascii"
is "$LAST_STATUS" 0 "UTF-8 address with SMTPUTF8 offered: exit 0" || diag "$(cat "$T/last.err")"
smtp_wait "$T/utf8" 1
like "$(cat "$T/utf8/0001.info")" "mail_options: SMTPUTF8" "UTF-8 address: MAIL ... SMTPUTF8"
is "$(tail -n 1 "$T/utf8/0001.env")" "$(printf 'j\303\274rgen@example.net')" "UTF-8 address: envelope"

# ------------------------------------------- 452: the rest in another transaction
rcpts=()
for i in $(seq 1 25); do rcpts+=("r$i@example.net"); done
for variant in pipelining plain; do
	opts=()
	[ "$variant" = pipelining ] && opts+=(--pipelining)
	start_smtpd "$T/lim-$variant" "${opts[@]}" --max-rcpt 10 || bail_out "smtpd did not start"
	QDIR=$T/q-lim-$variant write_conf "$T/lim.conf" "$SMTP_PORT" 'tls = "none"' \
		'from = "a@example.org"'
	sm "$T/lim.conf" -i "${rcpts[@]}" <"$T/ascii"
	is "$LAST_STATUS" 0 "25 recipients, limit 10, $variant: exit 0" || diag "$(cat "$T/last.err")"
	smtp_wait "$T/lim-$variant" 3
	is "$(smtp_count "$T/lim-$variant")" 3 "limit 10, $variant: three transactions"
	got=$(for f in "$T/lim-$variant"/*.env; do tail -n +2 "$f"; done | sort)
	is "$got" "$(printf '%s\n' "${rcpts[@]}" | sort)" \
		"limit 10, $variant: every recipient once, none twice"
	is "$(wc -l <"$T/lim-$variant/connections")" 1 "limit 10, $variant: on the same connection"
	is "$(mailq_of "$T/lim.conf")" "Mail queue is empty" "limit 10, $variant: nothing queued"
	is "$(cat "$T/last.err")" "" "limit 10, $variant: nothing on stderr"
	if [ "$variant" = pipelining ]; then
		f=$(flights "$T/lim-$variant")
		like "$f" $'\n3: <data> MAIL( RCPT){15} DATA\n4: <data> MAIL( RCPT){5} DATA\n5: <data>' \
			"limit 10, pipelining: the rest's envelope goes with the dot"
	fi
done

# --------------------------------------- a queue run: each dot with the next envelope
for variant in pipelining pipelining+chunking; do
	opts=(--pipelining)
	[[ $variant == *chunking ]] && opts+=(--chunking)
	QDIR=$T/q-run-$variant write_conf "$T/run.conf" 1 'tls = "none"' 'from = "a@example.org"'
	for i in 1 2 3 4; do
		printf 'Subject: run %s\n\nmessage %s\n' "$i" "$i" |
			"$SENDMAIL" -C "$T/run.conf" -i "q$i@example.net" 2>/dev/null
	done
	start_smtpd "$T/run-$variant" "${opts[@]}" || bail_out "smtpd did not start"
	QDIR=$T/q-run-$variant write_conf "$T/run.conf" "$SMTP_PORT" 'tls = "none"' \
		'from = "a@example.org"'
	check "queue run, $variant: sendmail -q" "$SENDMAIL" -C "$T/run.conf" -q
	smtp_wait "$T/run-$variant" 4
	is "$(smtp_count "$T/run-$variant")" 4 "queue run, $variant: four messages"
	is "$(wc -l <"$T/run-$variant/connections")" 1 "queue run, $variant: one connection"
	bodies=$(for f in "$T/run-$variant"/*.msg; do tail -n 1 "$f" | tr -d '\r'; done | sort)
	is "$bodies" $'message 1\nmessage 2\nmessage 3\nmessage 4' "queue run, $variant: each message once"
	f=$(flights "$T/run-$variant")
	if [ "$variant" = pipelining ]; then
		want=$'1: EHLO\n2: MAIL RCPT DATA\n3: <data> MAIL RCPT DATA\n4: <data> MAIL RCPT DATA\n5: <data> MAIL RCPT DATA\n6: <data>\n7: QUIT'
	else
		want=$'1: EHLO\n2: MAIL RCPT BDAT\n3: MAIL RCPT BDAT\n4: MAIL RCPT BDAT\n5: MAIL RCPT BDAT\n6: QUIT'
	fi
	is "$f" "$want" "queue run, $variant: one flight per message"
done

# ------------------------------------------------------- QUIT is not waited for
# The server never answers QUIT; a client waiting for the reply would hang
# for the configured timeout (600 s), far beyond the command timeout.
start_faultsmtp stall-quit --pipelining || bail_out "faultsmtp did not start"
cat >"$T/quit.conf" <<CONF
domain = "example.org"
aliases = ""
log = "none"
timeout = 600
connection_cache = 0
queue_dir = "$T/q-quit"
smtp "default" {
	host = "127.0.0.1"
	port = $FAULT_PORT
	tls = "none"
	from = "a@example.org"
}
CONF
chmod 600 "$T/quit.conf"
check "QUIT not answered: sendmail exits 0 at once" "$SENDMAIL" -C "$T/quit.conf" -i b@example.net <"$T/ascii"
is "$(smtp_count "$FAULT_SPOOL")" 1 "QUIT not answered: the message was delivered"
wait_for "grep -q '^C: QUIT' '$FAULT_SPOOL/log'" 5
like "$(cat "$FAULT_SPOOL/log")" $'C: QUIT' "QUIT was sent"

done_testing
