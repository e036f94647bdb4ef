#!/bin/bash
# sendmail -bs: SMTP on standard input and output, as Symfony Mailer,
# SwiftMailer, Laravel and Nextcloud use it: driven by a real client (swaks)
# and by scripted dialogues (HELO, several messages without RSET, dot
# un-stuffing, bad sequences, input ending inside DATA).
. "$(dirname "$0")/lib/lib.sh"

# ----------------------------------------------------------------- helpers
. "$(dirname "$0")/lib/sendmail.sh"

command -v swaks >/dev/null || bail_out "swaks is not installed (make deps)"
start_smtpd "$T/s" --plain || bail_out "smtpd did not start"
write_conf "$T/conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"'
DATE='Date: Thu, 26 Nov 2026 10:00:00 +0000'

# bs INPUTFILE [CONF]: run sendmail -bs on INPUTFILE; replies in $T/last.out.
bs() { _run "$SENDMAIL" -C "${2:-$T/conf}" -bs <"$1"; }
# codes: the reply codes of $T/last.out, one line, final lines only.
codes() { tr -d '\r' <"$T/last.out" | grep -v '^[0-9][0-9][0-9]-' | cut -c1-3 | tr '\n' ' '; }

# ------------------------------------------------------------------ swaks
# swaks --pipe speaks EHLO, MAIL, RCPT x2, DATA (dot-stuffing ".dot"), QUIT
printf '%s\n' "From: Alice <alice@x.org>" "To: bob@x.org, carol@y.org" "Subject: swaks over -bs" "$DATE" \
	"Message-ID: <swaks1@x.org>" "" "hello" ".dot at the start" "Grüße, 8-bit" >"$T/swaks.data"
printf 'last line' >>"$T/swaks.data"
crlf "From: Alice <alice@x.org>" "To: bob@x.org, carol@y.org" "Subject: swaks over -bs" "$DATE" \
	"Message-ID: <swaks1@x.org>" "" "hello" ".dot at the start" "Grüße, 8-bit" "last line" >"$T/swaks.exp"
_run swaks --pipe "'$SENDMAIL' -C '$T/conf' -bs" --from alice@x.org --to bob@x.org,carol@y.org \
	--data "@$T/swaks.data"
is "$LAST_STATUS" 0 "swaks --pipe: exit 0" || diag "$(tail -n 20 "$T/last.out")"
like "$(cat "$T/last.out")" "<- +220 " "swaks --pipe: 220 greeting"
like "$(cat "$T/last.out")" "<- +250 [^"$'\n'"]*(sent|queued)" "swaks --pipe: 250 after the final dot"
smtp_wait "$T/s" 1
env_is "swaks --pipe" "$T/s/0001.env" alice@x.org bob@x.org carol@y.org
cmp_file "$T/s/0001.msg" "$T/swaks.exp" "swaks --pipe: bytes received (dot un-stuffed, 8-bit kept)"

# ------------------------------------------- scripted: HELO, two messages
# Symfony Mailer: HELO (not EHLO), several transactions, no RSET between
{
	crlf "HELO client.example" "MAIL FROM:<shop@x.org>" "RCPT TO:<bob@x.org>" "DATA"
	crlf "From: Shop <shop@x.org>" "To: bob@x.org" "Subject: first" "" "first body" "..one dot" ".." "end" "."
	crlf "MAIL FROM:<shop@x.org>" "RCPT TO:<carol@y.org>" "RCPT TO:<dave@z.org>" "DATA"
	crlf "From: Shop <shop@x.org>" "To: carol@y.org" "Cc: dave@z.org" "Subject: second" "$DATE" \
		"Message-ID: <second@x.org>" "" "second body" "."
	crlf "QUIT"
} >"$T/two.in"
crlf "From: Shop <shop@x.org>" "To: bob@x.org" "Subject: first" "" "first body" ".one dot" "." "end" >"$T/first.exp"
crlf "From: Shop <shop@x.org>" "To: carol@y.org" "Cc: dave@z.org" "Subject: second" "$DATE" \
	"Message-ID: <second@x.org>" "" "second body" >"$T/second.exp"
bs "$T/two.in"
is "$LAST_STATUS" 0 "two messages: exit 0"
is "$(codes)" "220 250 250 250 354 250 250 250 250 354 250 221 " "two messages: the replies"
is "$(grep -c $'\r$' "$T/last.out")" "$(wc -l <"$T/last.out")" "replies end in CRLF"
smtp_wait "$T/s" 3
env_is "first message" "$T/s/0002.env" shop@x.org bob@x.org
check_gen "first message (headers completed, '..' -> '.')" "$T/s/0002.msg" "$T/first.exp"
env_is "second message" "$T/s/0003.env" shop@x.org carol@y.org dave@z.org
cmp_file "$T/s/0003.msg" "$T/second.exp" "second message: bytes received"
is "$(smtp_count "$T/s")" 3 "two messages: two delivered"

# EHLO, RSET, null sender, LF-only client, lower-case commands
{
	printf '%s\n' "ehlo client" "mail from:<a@x.org>" "rcpt to:<wrong@x.org>" "rset" \
		"mail from:<>" "rcpt to:<bob@x.org>" "data" "Subject: bounce" "" "null sender" "." "noop" "quit"
} >"$T/rset.in"
crlf "Subject: bounce" "From: root <me@example.org>" "To: undisclosed-recipients:;" "" "null sender" >"$T/rset.exp"
bs "$T/rset.in"
is "$(codes)" "220 250 250 250 250 250 250 354 250 250 221 " "EHLO, RSET, MAIL FROM:<>: the replies"
smtp_wait "$T/s" 4
env_is "after RSET, null sender" "$T/s/0004.env" "<>" bob@x.org
check_gen "after RSET" "$T/s/0004.msg" "$T/rset.exp" Date Message-ID

# ----------------------------------------------------------- bad sequences
long=$(head -c 2000 /dev/zero | tr '\0' x)
crlf "HELO c" "RCPT TO:<b@x.org>" "DATA" "MAIL FROM:<a@x.org>" "DATA" "MAIL FROM:<a@x.org>" \
	"FROBNICATE now" "NOOP $long" "RCPT TO:<b@x.org>" "QUIT" >"$T/bad.in"
bs "$T/bad.in"
is "$LAST_STATUS" 0 "bad sequences: exit 0"
c=$(codes)
like "$c" "^220 250 503 " "RCPT before MAIL: 503"
like "$c" "^220 250 503 503 " "DATA before MAIL: 503"
like "$c" "^220 250 503 503 250 (503|554) " "DATA before RCPT: 503 or 554"
like "$c" "^220 250 503 503 250 (503|554) 503 " "a second MAIL: 503"
like "$c" "^220 250 503 503 250 (503|554) 503 500 " "unknown command: 500"
like "$c" "^220 250 503 503 250 (503|554) 503 500 500 " "over-long line: 500"
like "$c" "^220 250 503 503 250 (503|554) 503 500 500 250 221 $" "the session goes on after the errors"
sleep 0.2
is "$(smtp_count "$T/s")" 4 "bad sequences: nothing delivered"

# syntax errors: 501 (RFC 5321 4.1.1.1: HELO and EHLO need a domain), bad addresses 501/553
# KNOWN FAILURE (reported): HELO and EHLO without a domain get 250, and
# RCPT TO:<a@b@c> gets 250 (it is later qualified to a@b@example.org).
crlf "HELO" "EHLO" "HELO c" "MAIL FROM:<a@x.org" "MAIL FROM:<a b@x.org>" "MAIL FROM:<a@x.org>" \
	"RCPT TO:" "RCPT TO:<>" "RCPT TO:<a@b@c>" "RCPT TO:<postmaster>" "QUIT" >"$T/syntax.in"
bs "$T/syntax.in"
c=$(codes)
like "$c" "^220 501 " "HELO without a domain: 501"
like "$c" "^220 [0-9]+ 501 " "EHLO without a domain: 501"
like "$c" "^220 [0-9]+ [0-9]+ 250 (501|553) (501|553) 250 " "MAIL FROM with a bad path: 501 or 553"
like "$c" "^220( [0-9]+){6} (501|553) (501|553) " "RCPT TO: empty or <>: 501 or 553"
like "$c" "^220( [0-9]+){8} (501|553) " "RCPT TO:<a@b@c>: 501 or 553"
like "$c" "^220( [0-9]+){9} 250 221 $" "RCPT TO:<postmaster> accepted"

# ------------------------------------------------ input ends inside DATA
crlf "HELO c" "MAIL FROM:<a@x.org>" "RCPT TO:<b@x.org>" "DATA" "Subject: cut" "" "a message cut" >"$T/cut.in"
printf 'no final line end' >>"$T/cut.in"
bs "$T/cut.in"
is "$(codes)" "220 250 250 250 354 " "input ends inside DATA: no reply to the data"
sleep 0.3
is "$(smtp_count "$T/s")" 4 "input ends inside DATA: nothing delivered"
is "$(mailq_of "$T/conf")" "Mail queue is empty" "input ends inside DATA: nothing queued"
is "$(find "$T/queue" -type f ! -name ".*" | wc -l)" 0 "input ends inside DATA: no file left in the queue directory"

crlf "HELO c" "MAIL FROM:<a@x.org>" "RCPT TO:<b@x.org>" "DATA" "Subject: cut" "" "body" >"$T/cut2.in"
bs "$T/cut2.in"
sleep 0.3
is "$(smtp_count "$T/s")" 4 "input ends inside DATA after a complete line: nothing delivered"
is "$(mailq_of "$T/conf")" "Mail queue is empty" "input ends inside DATA after a complete line: nothing queued"

# --------------------------------------------- Laravel/Nextcloud: -bs -i
crlf "EHLO app" "MAIL FROM:<app@x.org>" "RCPT TO:<bob@x.org>" "DATA" "From: app@x.org" "To: bob@x.org" \
	"Subject: laravel" "$DATE" "Message-ID: <laravel@x.org>" "" "hello" "." "QUIT" >"$T/laravel.in"
crlf "From: app@x.org" "To: bob@x.org" "Subject: laravel" "$DATE" "Message-ID: <laravel@x.org>" "" "hello" >"$T/laravel.exp"
_run "$SENDMAIL" -C "$T/conf" -bs -i <"$T/laravel.in"
is "$(codes)" "220 250 250 250 354 250 221 " "-bs -i: the final dot still ends DATA"
smtp_wait "$T/s" 5
env_is "-bs -i" "$T/s/0005.env" app@x.org bob@x.org
cmp_file "$T/s/0005.msg" "$T/laravel.exp" "-bs -i: bytes received"

# ------------------------------------ the 250 comes after the smarthost's
# a live dialogue: when the 250 for the final dot is read, the message must
# already be at the smarthost
n_before=$(smtp_count "$T/s")
coproc BS { exec timeout 30 "$SENDMAIL" -C "$T/conf" -bs 2>/dev/null; }
# bash closes the coproc's descriptors when it ends: read and write through copies
exec {BSR}<&"${BS[0]}" {BSW}>&"${BS[1]}"
rd() { local l; IFS= read -r -t 10 l <&"$BSR" || return 1; printf '%s' "${l%$'\r'}"; }
say() { printf '%s\r\n' "$@" >&"$BSW"; }
r=$(rd)
say "EHLO live"
while r=$(rd) && [[ $r == 250-* ]]; do :; done
say "MAIL FROM:<live@x.org>"
r1=$(rd)
say "RCPT TO:<bob@x.org>"
r2=$(rd)
say "DATA"
r3=$(rd)
say "Subject: live" "" "live body" "."
r4=$(rd)
n_at_reply=$(smtp_count "$T/s")
say "QUIT"
r5=$(rd)
exec {BSW}>&-
wait "$BS_PID" 2>/dev/null
exec {BSR}<&-
is "${r1%% *} ${r2%% *} ${r3%% *} ${r4%% *} ${r5%% *}" "250 250 354 250 221" "live dialogue: the replies"
is "$n_at_reply" $((n_before + 1)) "live dialogue: the message was at the smarthost when the 250 came"

# ------------------------------- the two-message dialogue arriving a few bytes at a time
cat >"$T/trickle.py" <<'PYEOF'
import random, sys, time
random.seed(int(sys.argv[2]))
data = open(sys.argv[1], "rb").read()
out, i = sys.stdout.buffer, 0
while i < len(data):
    n = random.choice([1, 1, 2, 3, 5, 8])
    out.write(data[i:i + n])
    out.flush()
    i += n
    if random.random() < 0.02:
        time.sleep(0.002)
PYEOF
n_before=$(smtp_count "$T/s")
"$PY" "$T/trickle.py" "$T/two.in" 3 | _run "$SENDMAIL" -C "$T/conf" -bs
is "$(codes)" "220 250 250 250 354 250 250 250 250 354 250 221 " "two messages in small pieces: the replies"
smtp_wait "$T/s" $((n_before + 2))
check_gen "two messages in small pieces: first" "$T/s/$(printf %04d $((n_before + 1))).msg" "$T/first.exp"
cmp_file "$T/s/$(printf %04d $((n_before + 2))).msg" "$T/second.exp" "two messages in small pieces: second"


# ---------------------------------------------------------- message size limit
# issue 4 and sendmail(8): "line length and message size are limited". The
# limit is announced (RFC 1870 SIZE), a larger declared SIZE gets 552, and a
# larger message gets 552 after its final dot and goes nowhere.
# KNOWN FAILURE (reported): bs.c has no message size limit and no SIZE keyword.
crlf "EHLO c" "QUIT" >"$T/ehlo.in"
bs "$T/ehlo.in"
limit=$(tr -d '\r' <"$T/last.out" | sed -n 's/^250[- ]SIZE \([0-9][0-9]*\)$/\1/p')
like "${limit:-none}" '^[1-9][0-9]*$' "-bs: EHLO announces the message size limit (SIZE)"
if [ -n "$limit" ]; then
	crlf "EHLO c" "MAIL FROM:<a@x.org> SIZE=$((limit + 1))" "QUIT" >"$T/size.in"
	bs "$T/size.in"
	like "$(codes)" "^220 250 552 221 $" "-bs: MAIL with a SIZE over the limit: 552"
	if [ "$limit" -le $((300 * 1024 * 1024)) ]; then
		n_before=$(smtp_count "$T/s")
		line=$(head -c 998 /dev/zero | tr '\0' 'q')
		{
			crlf "EHLO c" "MAIL FROM:<a@x.org>" "RCPT TO:<b@x.org>" "DATA" "Subject: too big" ""
			yes "$line"$'\r' | head -n $((limit / 1000 + 2))
			crlf "." "QUIT"
		} | _run "$SENDMAIL" -C "$T/conf" -bs
		like "$(codes)" "^220 250 250 250 354 552 221 $" "-bs: a message over the limit: 552 after the final dot"
		sleep 0.3
		is "$(smtp_count "$T/s")" "$n_before" "-bs: a message over the limit: not delivered"
		is "$(mailq_of "$T/conf")" "Mail queue is empty" "-bs: a message over the limit: not queued"
	fi
else
	fail "-bs: MAIL with a SIZE over the limit: 552" "  no SIZE in the EHLO reply: $(tr -d '\r' <"$T/last.out" | tr '\n' '|')"
fi

# --------------------------------------- the smarthost's answer is relayed
start_smtpd "$T/r" --plain --reject-rcpt bad@x.org || bail_out "smtpd did not start"
QDIR=$T/qr write_conf "$T/rej.conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"'
crlf "HELO c" "MAIL FROM:<a@x.org>" "RCPT TO:<bad@x.org>" "DATA" "Subject: refused" "" "body" "." "QUIT" >"$T/rej.in"
bs "$T/rej.in" "$T/rej.conf"
like "$(codes)" "^220 250 250 250 354 5[0-9][0-9] 221 $" "permanent refusal: 5xx reply to the final dot"
like "$(tr -d '\r' <"$T/last.out" | sed -n 6p)" "bad@x\.org|[Rr]ejected" "permanent refusal: the server's text is passed on"
is "$(mailq_of "$T/rej.conf" | head -n 1)" "Mail queue is empty" "permanent refusal: not queued"
like "$(mailq_of "$T/rej.conf")" "-Failed.*bad@x\.org" "permanent refusal: a copy in failed/ (issue 12)"

# ------------------------------------------------- smarthost down: queued
DEAD=$(free_port)
QDIR=$T/qd write_conf "$T/down.conf" "$DEAD" 'tls = "none"' 'from = "me@example.org"'
crlf "HELO c" "MAIL FROM:<a@x.org>" "RCPT TO:<b@x.org>" "DATA" "Subject: later" "" "body" "." "QUIT" >"$T/down.in"
bs "$T/down.in" "$T/down.conf"
is "$(codes)" "220 250 250 250 354 250 221 " "smarthost down: 250 (safely queued)"
like "$(mailq_of "$T/down.conf")" "b@x\.org" "smarthost down: the message is queued"

done_testing
