#!/bin/bash
# tests/bench/run.sh: Postie side by side with msmtp, mpop and curl (issue 7).
#
#   tests/bench/run.sh                 # full run (about 12 minutes on 2 cores)
#   BENCH_QUICK=1 tests/bench/run.sh   # smoke test, under a minute
#   BENCH_ROUNDS=7 BENCH_ONLY="1 4" tests/bench/run.sh
#
# Every workload runs Postie and its peer alternately (ABAB...) on the same
# loopback servers (aiosmtpd, Dovecot), BENCH_ROUNDS rounds, and the table
# shows the medians and the ratios.  It asserts no time; it fails (exit 1,
# "BENCH FAILED: ...") when a program did not deliver or fetch everything.
# See tests/bench/README.md.

# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"

BENCH=$TOP/tests/bench
BPY=("$PY" "$BENCH/bench.py")
B=$T				# work directory: configs, messages, spools
export XDG_STATE_HOME=$B/state	# popfetch's UIDL state, never ~
unset POSTIE_CONF

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	ROUNDS=${BENCH_ROUNDS:-2}
	N1=10 SIZE2=$((5 << 20)) N3=30 N4=200 SIZE5=$((10 << 20)) A6=8 N6=25 N7=20
	MD=${BENCH_MD:-$BENCH/results-quick.md}
else
	ROUNDS=${BENCH_ROUNDS:-5}
	N1=200 SIZE2=$((50 << 20)) N3=1000 N4=2000 SIZE5=$((100 << 20)) A6=20 N6=200 N7=100
	MD=${BENCH_MD:-$BENCH/results.md}
fi
# workload 3 runs 1,000 msmtp processes per round (~2 minutes each): at most
# 3 rounds unless told otherwise
ROUNDS3=${BENCH_QUEUE_ROUNDS:-$((ROUNDS < 3 ? ROUNDS : 3))}
ONLY=${BENCH_ONLY:-1 2 3 4 5 6 7}
# shellcheck disable=SC2034 # read by lib.sh at exit
[ "${BENCH_KEEP:-0}" = 1 ] && POSTIE_KEEP_TMP=1

RESULTS=$B/results.tsv		# KEY SIDE ROUND VALUE
ROWS=$B/rows.jsonl		# one JSON object per table row
: >"$RESULTS"
: >"$ROWS"
mkdir -p "$B/log" "$B/state"

MAILUID=$(id -u "$POP3_USER_UID") MAILGID=$(getent group "$POP3_USER_GID" | cut -d: -f3)
RCPT=you@example.org

# shellcheck source=common.sh
. "$BENCH/common.sh"

# ========================================================== 1. small messages

w1() {
	local r side n cmd t0 wall
	local conf=$B/w1/sendmail.conf nc=$B/w1/nocache.conf rc=$B/w1/msmtprc msg=$B/small.eml
	mkdir -p "$B/w1"
	sendmail_conf "$conf" "$SMTP_PORT" "$B/w1/queue"
	sendmail_conf "$nc" "$SMTP_PORT" "$B/w1/queue" 'connection_cache = 0'
	msmtp_conf "$rc" "$SMTP_PORT"
	for r in $(seq "$ROUNDS"); do
		for side in postie peer background nocache; do
			say "1. sendmail: $N1 small messages, one process each, round $r/$ROUNDS: $side"
			smtp_clear
			case $side in
			postie) cmd=("$SENDMAIL" -C "$conf" "$RCPT") ;;
			peer) cmd=(msmtp -C "$rc" "$RCPT") ;;
			background) cmd=("$SENDMAIL" -C "$conf" -odb "$RCPT") ;;
			nocache) cmd=("$SENDMAIL" -C "$nc" "$RCPT") ;;
			esac
			t0=$(_now_us)
			if [ $side = background ]; then
				# The callers are done; the clock runs until the server has every
				# message, and the detached runner's CPU is counted once it ends.
				ORPHANS=wait measure "$B/log/w1.$side" "$msg" "$N1" "${cmd[@]}"
				wait_for "[ \$(smtp_n) -ge $N1 ]" 60 || die "1c: background delivery did not finish"
				wall=$(calc "($(_now_us) - $t0) / 1000000")
				record 1c postie "$r" "$(calc "$wall / $N1 * 1000")"
			else
				measure "$B/log/w1.$side" "$msg" "$N1" "${cmd[@]}"
			fi
			n=$(smtp_n)
			[ "$n" = "$N1" ] || die "1: $side: the server received $n messages of $N1"
			cpu 1 $side "$r" "$N1"
			case $side in
			postie | peer)
				record 1a $side "$r" "$(calc "$M_WALL / $N1 * 1000")"
				record 1b $side "$r" "$(calc "($M_USER + $M_SYS) / $N1 * 1000")" ;;
			background) record 1d postie "$r" "$(calc "($M_USER + $M_SYS) / $N1 * 1000")" ;;
			nocache)
				record 1e postie "$r" "$(calc "$M_WALL / $N1 * 1000")"
				record 1f postie "$r" "$(calc "($M_USER + $M_SYS) / $N1 * 1000")" ;;
			esac
			if [ $side = peer ]; then
				for k in 1c 1e; do record $k peer "$r" "$(calc "$M_WALL / $N1 * 1000")"; done
				for k in 1d 1f; do record $k peer "$r" "$(calc "($M_USER + $M_SYS) / $N1 * 1000")"; done
			fi
		done
		n=$(find "$B/w1/queue" -maxdepth 1 -type f 2>/dev/null | wc -l)
		[ "$n" = 0 ] || die "1: $n files left in Postie's queue"
	done
	smtp_clear
	local c1 c2 c3
	c1="for i in \$(seq $N1); do $SENDMAIL -C $conf $RCPT <$msg; done"
	c2="for i in \$(seq $N1); do msmtp -C $rc $RCPT <$msg; done"
	c3="for i in \$(seq $N1); do $SENDMAIL -C $nc $RCPT <$msg; done"
	cpu_row 1 message postie="sendmail ($N1 runs, the connection keeper included)" peer="msmtp ($N1 runs)" \
		background="sendmail -odb ($N1 runs, the detached runner included)" \
		nocache="sendmail, connection_cache = 0 ($N1 runs)"
	row 1a 1a "sendmail: $N1 small messages, 1 process each, STARTTLS+AUTH: wall per message (default configuration: the connection is kept for the next sendmail, connection_cache = 5)" ms ratio_le 0.25 msmtp \
		"time sh -c '$c1'" "time sh -c '$c2'"
	row 1b 1b "same: CPU (user+sys) per message, the process keeping the connection included" ms ratio_le 1 msmtp \
		"tests/bench/bench.py run --n $N1 --stdin $msg -- $SENDMAIL -C $conf $RCPT  (wait4 of every run, then SIGTERM to the connection keeper, reparented to bench.py as child subreaper, and its wait4)" "/usr/bin/time -f '%U %S' sh -c '$c2'"
	row 1c 1c "same with sendmail -odb (delivery = \"background\"): wall per message until the server has all" ms ratio_le 0.25 msmtp \
		"time sh -c 'for i in \$(seq $N1); do $SENDMAIL -C $conf -odb $RCPT <$msg; done'" "time sh -c '$c2'"
	row 1d 1d "same with -odb: CPU per message, the detached runner included" ms ratio_le 1 msmtp \
		"tests/bench/bench.py run --orphans wait --n $N1 --stdin $msg -- $SENDMAIL -C $conf -odb $RCPT  (the detached runner, reparented to bench.py, waited for)" "/usr/bin/time -f '%U %S' sh -c '$c2'"
	row 1e 1e "without the kept connection (connection_cache = 0): wall per message" ms info 0 msmtp \
		"time sh -c '$c3'" "time sh -c '$c2'"
	row 1f 1f "without the kept connection: CPU per message" ms info 0 msmtp \
		"/usr/bin/time -f '%U %S' sh -c '$c3'" "/usr/bin/time -f '%U %S' sh -c '$c2'"
}

# ========================================================= 2. one big message

w2() {
	local r side n sz want cmd
	local conf=$B/w1/sendmail.conf rc=$B/w1/msmtprc msg=$B/big.eml
	mkdir -p "$B/w1"
	sendmail_conf "$conf" "$SMTP_PORT" "$B/w1/queue"
	msmtp_conf "$rc" "$SMTP_PORT"
	"${BPY[@]}" msg "$msg" "$SIZE2" || die "cannot write $msg"
	want=$(stat -c %s "$msg")
	for r in $(seq "$ROUNDS"); do
		for side in postie peer; do
			say "2. sendmail: one $((SIZE2 >> 20)) MB message, round $r/$ROUNDS: $side"
			smtp_clear
			if [ $side = postie ]; then
				cmd=("$SENDMAIL" -C "$conf" "$RCPT")
			else
				cmd=(msmtp -C "$rc" "$RCPT")
			fi
			measure "$B/log/w2.$side" "$msg" 1 "${cmd[@]}"
			n=$(smtp_n)
			[ "$n" = 1 ] || die "2: $side: the server received $n messages, want 1"
			sz=$(stat -c %s "$SMTP_SPOOL"/*.msg)
			[ "$sz" -ge "$want" ] || die "2: $side: the server received $sz bytes of $want"
			cpu 2 $side "$r"
			record 2a $side "$r" "$M_WALL"
			record 2b $side "$r" "$(calc "$M_RSS / 1024")"
		done
	done
	smtp_clear
	cpu_row 2 run postie="sendmail, $((SIZE2 >> 20)) MB" peer="msmtp, $((SIZE2 >> 20)) MB"
	row 2a 2a "sendmail: one $((SIZE2 >> 20)) MB message: wall" s ratio_le 1 msmtp \
		"/usr/bin/time -f '%e %M' $SENDMAIL -C $conf $RCPT <$msg" \
		"/usr/bin/time -f '%e %M' msmtp -C $rc $RCPT <$msg"
	row 2b 2b "same: peak RSS" MB abs_le 8 msmtp \
		"/usr/bin/time -f '%e %M' $SENDMAIL -C $conf $RCPT <$msg" \
		"/usr/bin/time -f '%e %M' msmtp -C $rc $RCPT <$msg"
}

# ====================================================== 3. sendmail -q, queue

w3() {
	local r n c0 a0 down
	local live=$B/w3/live.conf dead=$B/w3/down.conf rc=$B/w1/msmtprc msg=$B/small.eml q=$B/w3/queue
	mkdir -p "$B/w3" "$B/w1"
	down=$(free_port)		# nothing listens there: connection refused
	sendmail_conf "$dead" "$down" "$q"
	sendmail_conf "$live" "$SMTP_PORT" "$q"
	msmtp_conf "$rc" "$SMTP_PORT"
	# the queue is filled once (N3 sendmail runs against a closed port), then
	# restored from a copy before each round
	say "3. sendmail -q: queueing $N3 messages with the smarthost down"
	smtp_clear
	rm -rf "$q" "$q.snapshot"
	measure "$B/log/w3.fill" "$msg" "$N3" "$SENDMAIL" -C "$dead" "$RCPT"
	n=$("$SENDMAIL" -C "$dead" -bp | grep -c "$RCPT")
	[ "$n" = "$N3" ] || die "3: $n messages queued, want $N3"
	[ "$(smtp_n)" = 0 ] || die "3: messages reached the server while it was 'down'"
	cp -a "$q" "$q.snapshot" || die "3: cannot copy the queue"
	for r in $(seq "$ROUNDS3"); do
		rm -rf "$q"
		cp -a "$q.snapshot" "$q" || die "3: cannot restore the queue"
		smtp_clear

		say "3. sendmail -q: $N3 queued messages, round $r/$ROUNDS3: postie"
		c0=$(lines "$SMTP_SPOOL/connections") a0=$(lines "$SMTP_SPOOL/auths")
		measure "$B/log/w3.postie" /dev/null 1 "$SENDMAIL" -C "$live" -q
		n=$(smtp_n)
		[ "$n" = "$N3" ] || die "3: postie: the server received $n messages of $N3"
		"$SENDMAIL" -C "$live" -bp | grep -q '^Mail queue is empty' || die "3: the queue is not empty after -q"
		cpu 3 postie "$r" "$N3"
		record 3a postie "$r" "$(calc "$N3 / $M_WALL")"
		record 3b postie "$r" $(($(lines "$SMTP_SPOOL/connections") - c0))
		record 3c postie "$r" $(($(lines "$SMTP_SPOOL/auths") - a0))

		say "3. $N3 separate msmtp runs, round $r/$ROUNDS3: peer"
		smtp_clear
		c0=$(lines "$SMTP_SPOOL/connections") a0=$(lines "$SMTP_SPOOL/auths")
		measure "$B/log/w3.peer" "$msg" "$N3" msmtp -C "$rc" "$RCPT"
		n=$(smtp_n)
		[ "$n" = "$N3" ] || die "3: msmtp: the server received $n messages of $N3"
		cpu 3 peer "$r" "$N3"
		record 3a peer "$r" "$(calc "$N3 / $M_WALL")"
		record 3b peer "$r" $(($(lines "$SMTP_SPOOL/connections") - c0))
		record 3c peer "$r" $(($(lines "$SMTP_SPOOL/auths") - a0))
	done
	smtp_clear
	local fill="for i in \$(seq $N3); do $SENDMAIL -C $dead $RCPT <$msg; done"
	local c2="time sh -c 'for i in \$(seq $N3); do msmtp -C $rc $RCPT <$msg; done'"
	cpu_row 3 message postie="sendmail -q ($N3 messages)" peer="msmtp ($N3 runs)"
	row 3a 3a "sendmail -q: $N3 queued messages, one account: throughput" msg/s ratio_ge 5 "msmtp x$N3" \
		"$fill; time $SENDMAIL -C $live -q" "$c2"
	row 3b 3b "same: SMTP connections" conn abs_eq 1 "msmtp x$N3" \
		"wc -l <\$B/smtp/connections (before and after)"
	row 3c 3c "same: logins (AUTH)" auth abs_eq 1 "msmtp x$N3" \
		"wc -l <\$B/smtp/auths (before and after)"
}

# ===================================================== 4. 2,000 small messages

w4() {
	local r side l0 out n
	local conf=$B/w4/popfetch.conf rc=$B/w4/mpoprc mbox=$B/w4/inbox.mbox curlcfg=$B/w4/curl.cfg
	mkdir -p "$B/w4"
	popfetch_conf "$conf" 0 "alice:$mbox"
	mpop_conf "$rc" "alice:$mbox"
	local i
	for i in $(seq "$N4"); do
		printf 'url = "pop3://localhost:%s/%s"\noutput = "/dev/null"\n' "$POP3_PORT" "$i"
	done >"$curlcfg"
	local curlcmd=(curl -sS --ssl-reqd --cacert "$T/certs/ca.pem" -u alice:secret -w '%{exitcode}\n' -K "$curlcfg")
	for r in $(seq "$ROUNDS"); do
		for side in postie peer floor; do
			say "4. popfetch: $N4 messages of 4 KB, delete mode, round $r/$ROUNDS: $side"
			rm -rf "$mbox" "$XDG_STATE_HOME" "$B"/mpop-uidls.*
			mkdir -p "$XDG_STATE_HOME"
			refill "$N4" 4096 alice
			case $side in
			postie)
				measure "$B/log/w4.postie" /dev/null 1 "$POPFETCH" -C "$conf" -q
				fetched popfetch alice "$mbox" "$N4"
				;;
			peer)
				measure "$B/log/w4.peer" /dev/null 1 mpop -C "$rc" -q -a
				fetched mpop alice "$mbox" "$N4"
				;;
			floor)
				l0=$(pop3_logins)
				: >"$B/log/w4.floor"
				measure "$B/log/w4.floor" /dev/null 1 "${curlcmd[@]}"
				n=$(grep -c '^0$' "$B/log/w4.floor")
				[ "$n" = "$N4" ] || die "4: curl: $n of $N4 RETR succeeded (log $B/log/w4.floor)"
				# Dovecot writes its log asynchronously
				wait_for "[ \$(pop3_logins) -gt $l0 ]" 5
				sleep 0.2
				n=$(($(pop3_logins) - l0))
				[ "$n" = 1 ] || die "4: curl logged in $n times, want one connection"
				;;
			esac
			cpu 4 $side "$r"
			case $side in
			postie) record 4a postie "$r" "$M_WALL"; record 4b postie "$r" "$M_WALL" ;;
			peer) record 4a peer "$r" "$M_WALL" ;;
			floor) record 4b peer "$r" "$M_WALL" ;;
			esac
		done
	done
	cpu_row 4 run postie="popfetch, $N4 x 4 KB" peer="mpop, $N4 x 4 KB" floor="curl, $N4 x 4 KB (no DELE)"
	row 4a 4a "popfetch: $N4 messages of 4 KB into an mbox, delete mode: wall" s ratio_le 0.5 mpop \
		"XDG_STATE_HOME=\$B/state /usr/bin/time -f '%e %M' $POPFETCH -C $conf -q" \
		"/usr/bin/time -f '%e %M' mpop -C $rc -q -a"
	row 4b 4b "same, against the floor: curl RETR 1..$N4 over one connection to /dev/null" s ratio_le 2 curl \
		"/usr/bin/time -f '%e %M' ${curlcmd[*]:0:8} '%{exitcode}\n' ${curlcmd[*]:9}"
}

# ===================================================== 5. one 100 MB message

w5() {
	local r side sz want
	local conf=$B/w5/popfetch.conf rc=$B/w5/mpoprc mbox=$B/w5/inbox.mbox
	mkdir -p "$B/w5"
	popfetch_conf "$conf" 0 "alice:$mbox"
	mpop_conf "$rc" "alice:$mbox"
	for r in $(seq "$ROUNDS"); do
		for side in postie peer; do
			say "5. popfetch: one $((SIZE5 >> 20)) MB message, round $r/$ROUNDS: $side"
			rm -rf "$mbox" "$XDG_STATE_HOME" "$B"/mpop-uidls.*
			mkdir -p "$XDG_STATE_HOME"
			refill 1 "$SIZE5" alice
			want=$(stat -c %s "$T"/mail/alice/cur/* "$T"/mail/alice/new/* 2>/dev/null | head -n 1)
			if [ $side = postie ]; then
				measure "$B/log/w5.postie" /dev/null 1 "$POPFETCH" -C "$conf" -q
			else
				measure "$B/log/w5.peer" /dev/null 1 mpop -C "$rc" -q -a
			fi
			fetched "$side" alice "$mbox" 1
			sz=$(stat -c %s "$mbox")
			[ "$sz" -ge "$want" ] || die "5: $side: the mbox holds $sz bytes, the message has $want"
			cpu 5 $side "$r"
			record 5a $side "$r" "$(calc "$M_RSS / 1024")"
			record 5b $side "$r" "$M_WALL"
		done
	done
	rm -f "$mbox"
	cpu_row 5 run postie="popfetch, $((SIZE5 >> 20)) MB" peer="mpop, $((SIZE5 >> 20)) MB"
	row 5a 5a "popfetch: one $((SIZE5 >> 20)) MB message: peak RSS" MB abs_le 8 mpop \
		"XDG_STATE_HOME=\$B/state /usr/bin/time -f '%e %M' $POPFETCH -C $conf -q" \
		"/usr/bin/time -f '%e %M' mpop -C $rc -q -a"
	row 5b 5b "same: wall" s ratio_le 1 mpop \
		"XDG_STATE_HOME=\$B/state /usr/bin/time -f '%e %M' $POPFETCH -C $conf -q" \
		"/usr/bin/time -f '%e %M' mpop -C $rc -q -a"
}

# ================================================ 6. 20 accounts x 200 messages

w6() {
	local r side u i accts=() users=()
	local par=$B/w6/popfetch.conf seq=$B/w6/popfetch-seq.conf rc=$B/w6/mpoprc
	mkdir -p "$B/w6"
	for i in $(seq "$A6"); do
		u=$(printf 'u%02d' "$i")
		users+=("$u")
		accts+=("$u:$B/w6/$u.mbox")
	done
	popfetch_conf "$par" 0 "${accts[@]}"
	popfetch_conf "$seq" 1 "${accts[@]}"
	mpop_conf "$rc" "${accts[@]}"
	for r in $(seq "$ROUNDS"); do
		for side in postie seq peer; do
			say "6. popfetch: $A6 accounts x $N6 messages, round $r/$ROUNDS: $side"
			rm -rf "$B"/w6/*.mbox "$XDG_STATE_HOME" "$B"/mpop-uidls.*
			mkdir -p "$XDG_STATE_HOME"
			refill "$N6" 4096 "${users[@]}"
			case $side in
			postie) measure "$B/log/w6.postie" /dev/null 1 "$POPFETCH" -C "$par" -q ;;
			seq) measure "$B/log/w6.seq" /dev/null 1 "$POPFETCH" -C "$seq" -q ;;
			peer) measure "$B/log/w6.peer" /dev/null 1 mpop -C "$rc" -q -a ;;
			esac
			for u in "${users[@]}"; do fetched "6: $side" "$u" "$B/w6/$u.mbox" "$N6"; done
			cpu 6 $side "$r"
			case $side in
			postie) record 6a postie "$r" "$M_WALL"; record 6b postie "$r" "$M_WALL" ;;
			seq) record 6a peer "$r" "$M_WALL" ;;
			peer) record 6b peer "$r" "$M_WALL" ;;
			esac
		done
	done
	rm -f "$B"/w6/*.mbox
	cpu_row 6 run postie="popfetch, $A6 x $N6, max_parallel 4" seq="popfetch, max_parallel 1" peer="mpop -a"
	row 6a 6a "popfetch: $A6 accounts x $N6 messages, one run (max_parallel default 4): wall" s ratio_le 0.4 \
		"popfetch max_parallel=1" \
		"XDG_STATE_HOME=\$B/state /usr/bin/time -f '%e %M' $POPFETCH -C $par -q" \
		"XDG_STATE_HOME=\$B/state /usr/bin/time -f '%e %M' $POPFETCH -C $seq -q"
	row 6b 6b "same, against mpop -a" s ratio_le 0.4 "mpop -a" \
		"/usr/bin/time -f '%e %M' mpop -C $rc -q -a"
}

# ============================================================== 7. startup

w7() {
	local r conf=$B/w7/sendmail.conf j
	mkdir -p "$B/w7/queue"
	sendmail_conf "$conf" "$SMTP_PORT" "$B/w7/queue"
	"$SENDMAIL" -C "$conf" -bp | grep -q '^Mail queue is empty' || die "7: sendmail -bp does not say the queue is empty"
	"$POPFETCH" --help >/dev/null || die "7: popfetch --help fails"
	local c1="$SENDMAIL -C $conf -bp" c2="$POPFETCH --help"
	for r in $(seq "$ROUNDS"); do
		say "7. startup: /bin/true, sendmail -bp, popfetch --help, round $r/$ROUNDS"
		j=$B/log/w7.$r.json
		if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null; then
			hyperfine -N --warmup 10 --runs "$N7" --export-json "$j" --style none \
				/bin/true "$c1" "$c2" >"$B/log/w7.$r.out" 2>&1 ||
				die "7: hyperfine failed: $(tail -n 5 "$B/log/w7.$r.out")"
			"$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(" ".join("%.6f" % (x["median"] * 1000) for x in r))' "$j" >"$j.med"
		else
			"${BPY[@]}" interleave --n "$N7" --out "$j.raw" -- /bin/true ::: $c1 ::: $c2 ||
				die "7: a startup command failed"
			"$PY" -c '
import statistics, sys
v = {}
for l in open(sys.argv[1]):
    k, ms = l.split()
    v.setdefault(int(k), []).append(float(ms))
print(" ".join("%.6f" % statistics.median(v[k]) for k in sorted(v)))' "$j.raw" >"$j.med"
		fi
		read -r t0 t1 t2 <"$j.med"
		record 7a postie "$r" "$t1"
		record 7a peer "$r" "$t0"
		record 7b postie "$r" "$t2"
		record 7b peer "$r" "$t0"
	done
	local how="hyperfine -N --warmup 10 --runs $N7 /bin/true '$c1' '$c2'"
	[ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null || how="bench.py interleave --n $N7 -- /bin/true ::: $c1 ::: $c2 (median)"
	row 7a 7a "startup: sendmail -bp, empty queue" ms ratio_le 2 /bin/true "$how"
	row 7b 7b "startup: popfetch --help" ms ratio_le 2 /bin/true "$how"
}

# ================================================================== main

# Benchmark copies of the binaries: others may rebuild the tree meanwhile.
# (A build in progress: wait for it a little.)
for p in sendmail/sendmail popfetch/popfetch; do
	wait_for "[ -x '$TOP/$p' ]" 60 || die "$TOP/$p is not built (make)"
done
mkdir -p "$B/bin"
cp "$TOP/sendmail/sendmail" "$TOP/popfetch/popfetch" "$B/bin/" || die "cannot copy the binaries"
SENDMAIL=$B/bin/sendmail POPFETCH=$B/bin/popfetch
{ "$SENDMAIL" --version && "$POPFETCH" --version; } >/dev/null || die "the copied binaries do not run (a build in progress?)"
GITREV=$(git -C "$TOP" describe --always --dirty 2>/dev/null)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for p in msmtp mpop curl /usr/bin/time; do
	command -v "$p" >/dev/null || die "$p is missing (make deps-bench installs msmtp mpop fetchmail hyperfine)"
done

START=$(date +%s)
say "work directory $B; $ROUNDS rounds (workload 3: $ROUNDS3)$([ "$QUICK" = 1 ] && echo ', quick')"
make_certs "$T/certs" || die "make_certs failed"
"${BPY[@]}" msg "$B/small.eml" 300 || die "cannot write the small message"

if want 1 || want 2 || want 3 || want 7; then
	start_smtpd "$B/smtp" --starttls --auth alice:secret --require-auth || die "cannot start smtpd.py"
fi
SRV=smtp
want 1 && w1
want 2 && w2
want 3 && w3

if want 4 || want 5 || want 6; then
	users=(alice:secret)
	for i in $(seq "$A6"); do users+=("$(printf 'u%02d' "$i"):secret"); done
	start_dovecot "${users[@]}" || die "cannot start dovecot"
fi
SRV=dovecot
want 4 && w4
want 5 && w5
want 6 && w6
want 7 && w7

# ------------------------------------------------------------------ report

notes=()
notes+=("Each round runs Postie, then the peer(s), on the same servers; the table shows the median over the rounds.")
notes+=("Workload 3 ran $ROUNDS3 round(s) (BENCH_QUEUE_ROUNDS); 1,000 msmtp processes take about two minutes.")
notes+=("POP3: before every timed run the mailbox is refilled and listed once (untimed), so every client finds the same, indexed mailbox.")
versions >"$B/versions.txt"
"$PY" - "$B/meta.json" "$(machine)" "$ROUNDS" "$(df -T "$B" | awk 'NR == 2 { print $2 }'); load average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end" "$B" "${notes[@]}" <<EOF || die "meta"
import json, sys, datetime
a = sys.argv[1:]
versions = open("$B/versions.txt").read().splitlines()
json.dump({"machine": a[1], "rounds_text": a[2], "fs": "Work directory on %s." % a[3], "B": a[4],
           "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "versions": versions,
           "notes": a[5:]}, open(a[0], "w"))
EOF
echo
echo "Postie benchmark ($([ "$QUICK" = 1 ] && echo 'BENCH_QUICK=1, ')$ROUNDS rounds, $(($(date +%s) - START)) s)"
echo
"${BPY[@]}" report "$RESULTS" "$ROWS" "$B/meta.json" "$MD" || die "report"
echo
echo "Markdown table: ${MD#"$TOP"/}"
exit 0
