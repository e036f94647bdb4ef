#!/bin/bash
# sendmail's durable queue (issue 4): queued on a temporary failure, mailq,
# sendmail -q byte-exact, one connection and one login per queue run,
# backoff, lifetime and failed/, concurrent runners, kill -9 during DATA,
# partly refused recipients, -qR/-qS/-qI selectors, -qTIME.
. "$(dirname "$0")/lib/lib.sh"

# ----------------------------------------------------------------- helpers
. "$(dirname "$0")/lib/sendmail.sh"

# msg N: a message with Subject "queued N"; exp N: what must arrive.
msg() { lf "From: Alice <alice@x.org>" "To: bob@x.org" "Subject: queued $1" "" "message $1" "line two"; }
exp() { crlf "From: Alice <alice@x.org>" "To: bob@x.org" "Subject: queued $1" "" "message $1" "line two"; }
# subjects DIR: the Subject lines of every message in an smtpd spool, sorted.
subjects() { cat "$1"/[0-9]*.msg 2>/dev/null | tr -d '\r' | grep '^Subject: ' | sort; }
# qfiles DIR [EXT]: how many queue entries (.env, or EXT) DIR holds.
qfiles() { find "$1" -maxdepth 1 -name "*.${2:-env}" | wc -l; }
AUTH=(--plain --auth alice:secret --require-auth)
ACCT=('tls = "none"' 'user = "alice"' 'password = "secret"' 'from = "me@example.org"' 'timeout = 10')

# ---------------------------------------------------- smarthost down, -q
PORT=$(free_port)
write_conf "$T/conf" "$PORT" "${ACCT[@]}"
msg 1 >"$T/m1.in"
exp 1 >"$T/m1.exp"
sm "$T/conf" -i bob@x.org <"$T/m1.in"
is "$LAST_STATUS" 0 "smarthost down: exit 0"
is "$(cat "$T/last.out")" "" "smarthost down: nothing on stdout"
is "$(qfiles "$T/queue")" 1 "smarthost down: one entry in the queue"
_run "$SENDMAIL" -C "$T/conf" -bp
is "$LAST_STATUS" 0 "-bp: exit 0"
q=$(cat "$T/last.out")
like "$q" "bob@x\.org" "-bp lists the recipient"
like "$q" "me@example\.org" "-bp lists the sender"
like "$q" "[Cc]onnect|refused|port $PORT" "-bp shows the last error"
like "$q" "[Nn]ext" "-bp shows the next attempt"
like "$q" " $(stat -c %s "$(find "$T/queue" -maxdepth 1 -name '*.msg' | head -n 1)") " "-bp shows the size"
id=$(basename "$(find "$T/queue" -maxdepth 1 -name '*.env' | head -n 1)" .env)
like "$q" "$id" "-bp shows the queue id"
cp "$(find "$T/queue" -maxdepth 1 -name '*.msg' | head -n 1)" "$T/m1.queued"
check_gen "queued file" "$T/m1.queued" "$T/m1.exp"

sm "$T/conf" -q
is "$LAST_STATUS" 0 "-q with the smarthost still down: exit 0"
is "$(qfiles "$T/queue")" 1 "-q with the smarthost still down: still queued"

start_smtpd "$T/s1" "${AUTH[@]}" --port "$PORT" || bail_out "smtpd did not start on port $PORT"
sm "$T/conf" -q
is "$LAST_STATUS" 0 "-q with the smarthost up: exit 0"
smtp_wait "$T/s1" 1
env_is "-q" "$T/s1/0001.env" me@example.org bob@x.org
cmp_file "$T/s1/0001.msg" "$T/m1.queued" "-q: the queued bytes arrive exactly"
check_gen "-q" "$T/s1/0001.msg" "$T/m1.exp"
is "$(qfiles "$T/queue") $(qfiles "$T/queue" msg)" "0 0" "-q: the queue directory is empty"
_run "$SENDMAIL" -C "$T/conf" -bp
is "$(cat "$T/last.out")" "Mail queue is empty" "-bp after -q: exactly 'Mail queue is empty'"
is "$LAST_STATUS" 0 "-bp on an empty queue: exit 0"
stop_server "$SMTP_PID"

# -------------------------------------- ten messages, one connection, one AUTH
for i in $(seq 10 19); do
	msg "$i" | "$SENDMAIL" -C "$T/conf" -i bob@x.org || fail "queueing message $i"
done
is "$(qfiles "$T/queue")" 10 "ten messages queued while the smarthost is down"
start_smtpd "$T/s2" "${AUTH[@]}" --port "$PORT" || bail_out "smtpd did not start on port $PORT"
sm "$T/conf" -q
is "$LAST_STATUS" 0 "-q of ten: exit 0"
smtp_wait "$T/s2" 10
is "$(smtp_count "$T/s2")" 10 "-q of ten: ten messages delivered"
is "$(subjects "$T/s2")" "$(for i in $(seq 10 19); do echo "Subject: queued $i"; done | sort)" \
	"-q of ten: each message once"
is "$(wc -l <"$T/s2/connections")" 1 "-q of ten: one connection"
is "$(wc -l <"$T/s2/auths")" 1 "-q of ten: one AUTH"
is "$(qfiles "$T/queue")" 0 "-q of ten: queue empty"
stop_server "$SMTP_PID"

# ----------------------------------------------------------------- backoff
msg 20 | "$SENDMAIL" -C "$T/conf" -i bob@x.org
is "$(qfiles "$T/queue")" 1 "backoff: message A queued (smarthost down)"
start_smtpd "$T/s3" "${AUTH[@]}" --port "$PORT" || bail_out "smtpd did not start on port $PORT"
msg 21 >"$T/m21.in"
sm "$T/conf" -i bob@x.org <"$T/m21.in"
is "$LAST_STATUS" 0 "backoff: message B sent"
smtp_wait "$T/s3" 1
sleep 0.3
is "$(subjects "$T/s3")" "Subject: queued 21" "backoff: a submission right after the failure does not retry A"
is "$(qfiles "$T/queue")" 1 "backoff: A is still queued"
sm "$T/conf" -q
smtp_wait "$T/s3" 2
is "$(subjects "$T/s3")" $'Subject: queued 20\nSubject: queued 21' "backoff: -q sends A at once"
is "$(qfiles "$T/queue")" 0 "backoff: queue empty after -q"
stop_server "$SMTP_PID"

# once its backoff has passed, a successful submission takes A along
msg 22 | "$SENDMAIL" -C "$T/conf" -i bob@x.org
envf=$(find "$T/queue" -maxdepth 1 -name '*.env' | head -n 1)
if [ -n "$envf" ] && grep -q '^next [0-9]' "$envf"; then
	sed -i 's/^next [0-9]*/next 1/' "$envf"	# as if the minute had passed
	start_smtpd "$T/s4" "${AUTH[@]}" --port "$PORT" || bail_out "smtpd did not start on port $PORT"
	msg 23 | "$SENDMAIL" -C "$T/conf" -i bob@x.org
	smtp_wait "$T/s4" 2
	is "$(subjects "$T/s4")" $'Subject: queued 22\nSubject: queued 23' \
		"backoff passed: the next successful submission also sends A"
	is "$(wc -l <"$T/s4/connections")" 1 "backoff passed: over the same connection"
	is "$(qfiles "$T/queue")" 0 "backoff passed: queue empty"
	stop_server "$SMTP_PID"
else
	skip "backoff passed: the next successful submission also sends A" "queue .env has no 'next' line"
	rm -f "$T"/queue/*.env "$T"/queue/*.msg
fi

# ---------------------------------------------------------------- lifetime
DEAD=$(free_port)
# (the bounce a lifetime brings is tested in sendmail-outcome.t)
QDIR=$T/ql CONF_TOP='queue_lifetime = 1' write_conf "$T/life.conf" "$DEAD" "${ACCT[@]}" 'bounce = "none"'
msg 30 | "$SENDMAIL" -C "$T/life.conf" -i bob@x.org
is "$(qfiles "$T/ql")" 1 "lifetime: queued"
sleep 2.2
sm "$T/life.conf" -q
is "$LAST_STATUS" 0 "lifetime: -q after it expired: exit 0"
is "$(qfiles "$T/ql")" 0 "lifetime: gone from the queue"
is "$(qfiles "$T/ql/failed" msg)" 1 "lifetime: moved to failed/"
_run "$SENDMAIL" -C "$T/life.conf" -bp
like "$(cat "$T/last.out")" "[Ff]ailed" "lifetime: -bp shows it as failed"
like "$(cat "$T/last.out")" "bob@x\.org" "lifetime: -bp still lists its recipient"
start_smtpd "$T/s5" "${AUTH[@]}" || bail_out "smtpd did not start"
S5_PORT=$SMTP_PORT
QDIR=$T/ql CONF_TOP='queue_lifetime = 1' write_conf "$T/life2.conf" "$SMTP_PORT" "${ACCT[@]}" 'bounce = "none"'
sm "$T/life2.conf" -q
sleep 0.3
is "$(smtp_count "$T/s5")" 0 "lifetime: a message in failed/ is not sent again"

# -------------------------------------------------- two concurrent -q runs
P2=$(free_port)
QDIR=$T/qc write_conf "$T/conc.conf" "$P2" "${ACCT[@]}"
for i in $(seq 40 59); do
	msg "$i" | "$SENDMAIL" -C "$T/conc.conf" -i bob@x.org
done
is "$(qfiles "$T/qc")" 20 "concurrent: 20 messages queued"
start_smtpd "$T/s6" "${AUTH[@]}" --port "$P2" || bail_out "smtpd did not start on port $P2"
timeout 60 "$SENDMAIL" -C "$T/conc.conf" -q 2>"$T/qa.err" &
pa=$!
timeout 60 "$SENDMAIL" -C "$T/conc.conf" -q 2>"$T/qb.err" &
pb=$!
wait "$pa"
ra=$?
wait "$pb"
rb=$?
is "$ra $rb" "0 0" "concurrent: both -q runs exit 0"
sleep 0.3
is "$(smtp_count "$T/s6")" 20 "concurrent: 20 messages received"
is "$(subjects "$T/s6")" "$(for i in $(seq 40 59); do echo "Subject: queued $i"; done | sort)" \
	"concurrent: each message exactly once"
is "$(qfiles "$T/qc") $(qfiles "$T/qc" msg)" "0 0" "concurrent: queue empty"

# ------------------------------------------------- kill -9 during DATA
start_faultsmtp stall-after-dot || bail_out "faultsmtp did not start"
QDIR=$T/qk write_conf "$T/kill.conf" "$FAULT_PORT" 'tls = "none"' 'from = "me@example.org"' 'timeout = 30'
msg 60 >"$T/m60.in"
exp 60 >"$T/m60.exp"
"$SENDMAIL" -C "$T/kill.conf" -i bob@x.org <"$T/m60.in" 2>/dev/null &
spid=$!
disown "$spid"	# no "Killed" notice from bash
if wait_for "[ -e '$FAULT_SPOOL/0001.unaccepted-env' ]" 10; then
	pass "kill -9: the server has read the whole message and not answered"
else
	fail "kill -9: the server has read the whole message"
fi
kill -9 "$spid" 2>/dev/null
wait_for "! kill -0 $spid 2>/dev/null" 5
is "$(qfiles "$T/qk") $(qfiles "$T/qk" msg)" "1 1" "kill -9 during DATA: the message is still queued"
f=$(find "$T/qk" -maxdepth 1 -name '*.msg' | head -n 1)
[ -n "$f" ] && cp "$f" "$T/m60.queued"
cmp_file "$FAULT_SPOOL/0001.unaccepted" "$T/m60.queued" "kill -9: the server had got the queued bytes"
like "$("$SENDMAIL" -C "$T/kill.conf" -bp)" "bob@x\.org" "kill -9: -bp lists it"
stop_server "$FAULT_PID"
QDIR=$T/qk write_conf "$T/kill2.conf" "$S5_PORT" "${ACCT[@]}"
sm "$T/kill2.conf" -q
is "$LAST_STATUS" 0 "kill -9: -q against a real server: exit 0"
smtp_wait "$T/s5" 1
env_is "kill -9 then -q" "$T/s5/0001.env" me@example.org bob@x.org
cmp_file "$T/s5/0001.msg" "$T/m60.queued" "kill -9 then -q: the queued bytes arrive exactly"
check_gen "kill -9 then -q" "$T/s5/0001.msg" "$T/m60.exp"
is "$(qfiles "$T/qk")" 0 "kill -9 then -q: queue empty"

# ------------------------------------ a message in a runner's hands is locked
QDIR=$T/qlk write_conf "$T/lk-dead.conf" "$(free_port)" 'tls = "none"' 'from = "me@example.org"'
msg 65 >"$T/m65.in"
exp 65 >"$T/m65.exp"
"$SENDMAIL" -C "$T/lk-dead.conf" -i bob@x.org <"$T/m65.in"
start_faultsmtp stall-after-dot || bail_out "faultsmtp did not start"
QDIR=$T/qlk write_conf "$T/lk-stall.conf" "$FAULT_PORT" 'tls = "none"' 'from = "me@example.org"' 'timeout = 30'
"$SENDMAIL" -C "$T/lk-stall.conf" -q 2>/dev/null &
rpid=$!
disown "$rpid"
wait_for "[ -e '$FAULT_SPOOL/0001.unaccepted-env' ]" 10 ||
	fail "locked entry: the first runner is in DATA"
QDIR=$T/qlk write_conf "$T/lk-real.conf" "$S5_PORT" "${ACCT[@]}"
n5=$(smtp_count "$T/s5")
sm "$T/lk-real.conf" -q
is "$LAST_STATUS" 0 "locked entry: a second -q meanwhile: exit 0"
sleep 0.3
is "$(smtp_count "$T/s5")" "$n5" "locked entry: the second runner leaves it alone"
is "$(qfiles "$T/qlk")" 1 "locked entry: still queued"
kill -9 "$rpid" 2>/dev/null
wait_for "! kill -0 $rpid 2>/dev/null" 5
stop_server "$FAULT_PID"
sm "$T/lk-real.conf" -q
smtp_wait "$T/s5" $((n5 + 1))
is "$(smtp_count "$T/s5")" $((n5 + 1)) "locked entry: sent once the first runner is gone"
check_gen "locked entry, sent later" "$T/s5/$(printf %04d $((n5 + 1))).msg" "$T/m65.exp"
is "$(qfiles "$T/qlk")" 0 "locked entry: queue empty"

# --------------------------------------------- partly refused recipients
start_smtpd "$T/sr" --plain --reject-rcpt bad@x.org --reject-rcpt bad2@x.org \
	--tempfail-rcpt later@x.org || bail_out "smtpd did not start"
QDIR=$T/qr write_conf "$T/rej.conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"'
msg 70 >"$T/m70.in"
exp 70 >"$T/m70.exp"
sm "$T/rej.conf" -i good@x.org bad@x.org good2@y.org <"$T/m70.in"
is "$LAST_STATUS" 0 "one recipient refused: exit 0"
like "$(cat "$T/last.err")" "bad@x\.org" "one recipient refused: stderr names it"
unlike "$(cat "$T/last.err")" "good@x\.org|good2@y\.org" "one recipient refused: stderr names only it"
smtp_wait "$T/sr" 1
env_is "one recipient refused: sent to the others" "$T/sr/0001.env" me@example.org good@x.org good2@y.org
check_gen "one recipient refused" "$T/sr/0001.msg" "$T/m70.exp"
is "$(qfiles "$T/qr")" 0 "one recipient refused: nothing queued"

sm "$T/rej.conf" -i bad@x.org bad2@x.org <"$T/m70.in"
is "$LAST_STATUS" 67 "every recipient refused: exit 67"
like "$(cat "$T/last.err")" "bad@x\.org" "every recipient refused: stderr says why"
sleep 0.2
is "$(smtp_count "$T/sr")" 1 "every recipient refused: nothing delivered"
q=$("$SENDMAIL" -C "$T/rej.conf" -bp)
is "$(head -n 1 <<<"$q")" "Mail queue is empty" "every recipient refused: not queued for a retry"
# (issue 12: the caller was told, and a copy is kept in failed/ all the same)
like "$q" $'-Failed: kept in [^\n]*/qr/failed' "every recipient refused: mailq has a failed section"
like "$(sed -n '/^-Failed/,$p' <<<"$q")" "bad2@x\.org: 550|bad2@x\.org.*550" \
	"every recipient refused: the failed entry says why"
like "$(sed -n '/^-Failed/,$p' <<<"$q")" "the caller was told" \
	"every recipient refused: and that the caller was told (no bounce)"
is "$(ls "$T"/qr/failed/*.env | wc -l)" 2 "failed/ holds the refused recipients of both messages"

# a 4xx recipient stays queued, the others are sent
sm "$T/rej.conf" -i good@x.org later@x.org <"$T/m70.in"
is "$LAST_STATUS" 0 "one recipient tempfailed: exit 0"
smtp_wait "$T/sr" 2
env_is "one recipient tempfailed: sent to the other" "$T/sr/0002.env" me@example.org good@x.org
q=$("$SENDMAIL" -C "$T/rej.conf" -bp)
like "$q" "later@x\.org" "one recipient tempfailed: -bp lists it"
unlike "$q" "good@x\.org" "one recipient tempfailed: only it stays queued"
start_smtpd "$T/sr2" --plain || bail_out "smtpd did not start"
QDIR=$T/qr write_conf "$T/rej2.conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"'
sm "$T/rej2.conf" -q
smtp_wait "$T/sr2" 1
env_is "the tempfailed recipient, later" "$T/sr2/0001.env" me@example.org later@x.org
check_gen "the tempfailed recipient, later" "$T/sr2/0001.msg" "$T/m70.exp"
is "$(qfiles "$T/qr")" 0 "tempfailed recipient delivered: queue empty"

# ------------------------------------------------------- -qR, -qS, -qI
P3=$(free_port)
QDIR=$T/qs write_conf "$T/sel.conf" "$P3" 'tls = "none"' 'from = "me@example.org"'
msg 81 | "$SENDMAIL" -C "$T/sel.conf" -i -f a@x.org r1@x.org
msg 82 | "$SENDMAIL" -C "$T/sel.conf" -i -f b@y.org r2@y.org
msg 83 | "$SENDMAIL" -C "$T/sel.conf" -i r3@z.org
is "$(qfiles "$T/qs")" 3 "selectors: three messages queued"
start_smtpd "$T/ss" --plain --port "$P3" || bail_out "smtpd did not start on port $P3"
sm "$T/sel.conf" -qR nobody@nowhere
sleep 0.2
is "$(smtp_count "$T/ss")" 0 "-qR matching nothing: nothing sent"
sm "$T/sel.conf" -qR r2@y
is "$LAST_STATUS" 0 "-qR RCPT: exit 0"
smtp_wait "$T/ss" 1
is "$(smtp_count "$T/ss")" 1 "-qR RCPT: one message sent"
env_is "-qR RCPT: the one with that recipient" "$T/ss/0001.env" b@y.org r2@y.org
sm "$T/sel.conf" -qSa@x.org
smtp_wait "$T/ss" 2
is "$(smtp_count "$T/ss")" 2 "-qSSENDER (attached): one more message sent"
env_is "-qSSENDER: the one from that sender" "$T/ss/0002.env" a@x.org r1@x.org
left=$(basename "$(find "$T/qs" -maxdepth 1 -name '*.env' | head -n 1)" .env)
sm "$T/sel.conf" -qI "${left:-none}"
smtp_wait "$T/ss" 3
is "$(smtp_count "$T/ss")" 3 "-qI ID: the last one sent"
env_is "-qI ID: the one with that id" "$T/ss/0003.env" me@example.org r3@z.org
is "$(qfiles "$T/qs")" 0 "selectors: queue empty"

# ------------------------------------------- what a queue run does with refusals
P5=$(free_port)
QDIR=$T/qp write_conf "$T/perm.conf" "$P5" "${ACCT[@]}"
msg 100 | "$SENDMAIL" -C "$T/perm.conf" -i refused@x.org
msg 101 | "$SENDMAIL" -C "$T/perm.conf" -i fine@x.org
is "$(qfiles "$T/qp")" 2 "queue-run refusals: two messages queued"
perms=$(stat -c '%a' "$T/qp" $(find "$T/qp" -maxdepth 1 -type f) | sort -u | tr '\n' ' ')
like "$perms" '^([0-7][0-7]0 )+$' "the queue directory and its files are closed to others ($perms)"
start_smtpd "$T/sp" --plain --auth alice:secret --require-auth --reject-rcpt refused@x.org \
	--port "$P5" || bail_out "smtpd did not start on port $P5"
# a refused login during a queue run: kept for later (the password may be mended)
QDIR=$T/qp write_conf "$T/perm-badpw.conf" "$P5" 'tls = "none"' 'user = "alice"' 'password = "wrong"' \
	'from = "me@example.org"'
sm "$T/perm-badpw.conf" -q
is "$LAST_STATUS" 0 "-q with a refused login: exit 0"
is "$(qfiles "$T/qp")" 2 "-q with a refused login: both kept in the queue"
like "$("$SENDMAIL" -C "$T/perm.conf" -bp)" "535|[Aa]uthentication" "-q with a refused login: -bp shows the error"
# a permanent refusal during a queue run: moved to failed/, the other one sent
sm "$T/perm.conf" -q
is "$LAST_STATUS" 0 "-q with a refused recipient: exit 0"
smtp_wait "$T/sp" 1
smtp_wait "$T/sp" 2
# issue 12: and nobody waited for the answer, so the sender gets a bounce
is "$(smtp_count "$T/sp")" 2 "-q with a refused recipient: the other message is sent, and a bounce"
env_is "-q with a refused recipient: the other message" "$T/sp/0001.env" me@example.org fine@x.org
env_is "-q with a refused recipient: the bounce" "$T/sp/0002.env" "<>" me@example.org
is "$(qfiles "$T/qp") $(qfiles "$T/qp/failed")" "0 1" "-q with a refused recipient: moved to failed/"
q=$("$SENDMAIL" -C "$T/perm.conf" -bp)
like "$q" "refused@x\.org" "-bp lists the failed message"
like "$q" "550|[Rr]ejected" "-bp shows why it failed"

# an entry whose account has left the configuration: kept, with a reason
P6=$(free_port)
QDIR=$T/qa write_conf "$T/acct.conf" "$P6" "${ACCT[@]}"
msg 110 | "$SENDMAIL" -C "$T/acct.conf" -i bob@x.org
sed 's/^smtp "default"/smtp "renamed"/' "$T/acct.conf" >"$T/acct2.conf"
chmod 600 "$T/acct2.conf"
sm "$T/acct2.conf" -q
is "$LAST_STATUS" 0 "-q, account gone from the configuration: exit 0"
is "$(qfiles "$T/qa")" 1 "-q, account gone from the configuration: the message is kept"
like "$("$SENDMAIL" -C "$T/acct2.conf" -bp)" "default" "-q, account gone: -bp names the missing account"

# --------------------------------------------------- backoff doubles
P8=$(free_port)
QDIR=$T/qd write_conf "$T/dbl.conf" "$P8" 'tls = "none"' 'from = "me@example.org"'
msg 120 | "$SENDMAIL" -C "$T/dbl.conf" -i bob@x.org
like "$("$SENDMAIL" -C "$T/dbl.conf" -bp)" "next (5[0-9]s|60s|1m)" "backoff: one minute after the first failure"
sm "$T/dbl.conf" -q
like "$("$SENDMAIL" -C "$T/dbl.conf" -bp)" "next (11[0-9]s|120s|2m)" "backoff: two minutes after the second"

# --------------------------------- one account down does not hold up another
PA=$(free_port) PB=$(free_port)
mkconf2() { # FILE PORT_A PORT_B
	cat >"$1" <<EOC
domain = "example.org"
aliases = ""
log = "none"
queue_dir = "$T/q2"
smtp "a" {
  host = "localhost"
  port = $2
  tls = "none"
  from = "a@example.org"
}
smtp "b" {
  host = "localhost"
  port = $3
  tls = "none"
  from = "b@example.org"
}
EOC
	chmod 600 "$1"
}
mkconf2 "$T/two-down.conf" "$PA" "$PB"
msg 130 | "$SENDMAIL" -C "$T/two-down.conf" -i -a a bob@x.org
msg 131 | "$SENDMAIL" -C "$T/two-down.conf" -i -a b bob@x.org
is "$(qfiles "$T/q2")" 2 "two accounts: one message queued for each"
start_smtpd "$T/sb" --plain --port "$PB" || bail_out "smtpd did not start on port $PB"
sm "$T/two-down.conf" -q
is "$LAST_STATUS" 0 "two accounts, one down: -q exit 0"
smtp_wait "$T/sb" 1
is "$(subjects "$T/sb")" "Subject: queued 131" "two accounts, one down: the other account's message is sent"
env_is "two accounts: sent through its own account" "$T/sb/0001.env" b@example.org bob@x.org
is "$(qfiles "$T/q2")" 1 "two accounts, one down: its message stays queued"
like "$("$SENDMAIL" -C "$T/two-down.conf" -bp)" "a@example\.org" "two accounts: -bp lists the one left"

# ---------------------------------------------------------------- -qTIME
P4=$(free_port)
QDIR=$T/qt write_conf "$T/qt.conf" "$P4" 'tls = "none"' 'from = "me@example.org"'
msg 90 | "$SENDMAIL" -C "$T/qt.conf" -i bob@x.org
start_smtpd "$T/st" --plain --port "$P4" || bail_out "smtpd did not start on port $P4"
"$SENDMAIL" -C "$T/qt.conf" -q1s 2>"$T/qt.err" &
qpid=$!
smtp_wait "$T/st" 1 10
is "$(smtp_count "$T/st")" 1 "-q1s: the queued message is sent"
sleep 1.5
kill -0 "$qpid" 2>/dev/null
ok $? "-q1s: stays in the foreground"
kill -TERM "$qpid" 2>/dev/null
wait_for "! kill -0 $qpid 2>/dev/null" 5
wait "$qpid"
is "$?" 0 "-q1s: exits 0 on SIGTERM"
sm "$T/qt.conf" -q5x
is "$LAST_STATUS" 64 "-q with a bad interval: exit 64"

# What a crash leaves (a temp file, a data file without its envelope) goes
# once it is a day old; a complete entry of the same age stays.
QDIR=$T/qo write_conf "$T/orph.conf" "$DEAD" "${ACCT[@]}"
printf 'Subject: kept\n\nkept\n' | "$SENDMAIL" -C "$T/orph.conf" -i keep@example.net
kept=$(ls "$T/qo"/*.env)
echo partial >"$T/qo/tmp/DEADBEEF.1.0.msg"
echo orphan >"$T/qo/DEADBEEF.2.0.msg"
echo fresh >"$T/qo/DEADBEEF.3.0.msg"
touch -d '2 days ago' "$T/qo/tmp/DEADBEEF.1.0.msg" "$T/qo/DEADBEEF.2.0.msg" "$kept" "${kept%.env}.msg"
"$SENDMAIL" -C "$T/orph.conf" -q
[ ! -e "$T/qo/tmp/DEADBEEF.1.0.msg" ] && pass "a day-old temp file is removed" ||
	fail "a day-old temp file is removed"
[ ! -e "$T/qo/DEADBEEF.2.0.msg" ] && pass "a day-old data file without envelope is removed" ||
	fail "a day-old data file without envelope is removed"
[ -e "$T/qo/DEADBEEF.3.0.msg" ] && pass "a fresh one stays (its writer may still be at work)" ||
	fail "a fresh one stays"
[ -e "$kept" ] && [ -e "${kept%.env}.msg" ] && pass "a complete entry stays queued" ||
	fail "a complete entry stays queued"

done_testing
