#!/bin/bash
# tests/bench/latency.sh: round trips (issue 15).  Postie against msmtp and
# mpop, and the floor, with the network in between slowed down: real
# smarthosts are 20 to 150 ms away, and then round trips, not CPU, decide
# how long a send or a poll takes.
#
#   tests/bench/latency.sh                  # RTT 20 and 100 ms (about 6 minutes)
#   LAT_RTTS="100" LAT_ONLY="1 5" tests/bench/latency.sh
#   BENCH_KEEP=1 tests/bench/latency.sh     # keep $B: configurations, captures, logs
#
# The rig: everything (servers and clients) runs in a network namespace of
# its own whose loopback TCP packets all pass through an NFQUEUE delay line
# (tests/bench/delayline.c, built here with libnetfilter-queue): each packet
# is held RTT/2 and let go in order, so every round trip costs RTT, and
# nothing but the kernel's own TCP stacks talk (netem is not in every
# kernel).  Every run is captured (tcpdump on the namespace's lo) and the
# turns are counted from the capture (bench.py turns): a connection's SYN,
# and each flight of the client's data sent after data came from the
# server.  The servers: aiosmtpd advertising PIPELINING (smtpd.py
# --pipelining, STARTTLS and implicit TLS, AUTH), Dovecot (POP3 with
# STARTTLS, PIPELINING).  It asserts no time; it fails (BENCH FAILED) when a
# program did not deliver or fetch everything.  Needs root (namespaces,
# iptables, tcpdump).
set -u
if [ -z "${LAT_IN_NS:-}" ]; then
	exec unshare --net -- env LAT_IN_NS=1 bash "$0" "$@"
fi
# shellcheck source=../lib/lib.sh
. "$(dirname "$0")/../lib/lib.sh"

BENCH=$TOP/tests/bench
BPY=("$PY" "$BENCH/bench.py")
B=$T
export XDG_STATE_HOME=$B/state
unset POSTIE_CONF
MAILUID=$(id -u "$POP3_USER_UID") MAILGID=$(getent group "$POP3_USER_GID" | cut -d: -f3)
# shellcheck source=common.sh
. "$BENCH/common.sh"
[ "${BENCH_KEEP:-0}" = 1 ] && POSTIE_KEEP_TMP=1
RTTS=${LAT_RTTS:-20 100}
ONLY=${LAT_ONLY:-1 2 3 4 5 6 7 8}
MD=${BENCH_MD:-$BENCH/results.md}
SRV=none
mkdir -p "$B/log" "$B/pcap" "$B/state" "$B/bin"

for p in msmtp mpop tcpdump iptables; do
	command -v "$p" >/dev/null || die "$p is missing (make deps-bench)"
done
[ "$(id -u)" = 0 ] || die "needs root: network namespace, iptables, tcpdump"
for p in sendmail/sendmail popfetch/popfetch; do
	[ -x "$TOP/$p" ] || die "$TOP/$p is not built (make)"
done
cp "$TOP/sendmail/sendmail" "$TOP/popfetch/popfetch" "$B/bin/" || die "cannot copy the binaries"
SENDMAIL=$B/bin/sendmail POPFETCH=$B/bin/popfetch
GITREV=$(git -C "$TOP" describe --always --dirty 2>/dev/null)
# shellcheck disable=SC2046
cc -O2 -o "$B/bin/delayline" "$BENCH/delayline.c" $(pkg-config --cflags --libs libnetfilter_queue) ||
	die "cannot build the delay line (libnetfilter-queue-dev)"

ip link set lo up || die "cannot bring up lo in the namespace"
# --queue-bypass: with no delay line listening, packets pass undelayed.
iptables -A OUTPUT -o lo -p tcp -j NFQUEUE --queue-num 0 --queue-bypass ||
	die "iptables NFQUEUE"

DL_PID=
delay_on() { # RTT_MS
	"$B/bin/delayline" 0 "$(calc "$1 / 2")" >"$B/log/delayline.$1" 2>&1 &
	DL_PID=$!
	_register_pid "$DL_PID"
	wait_for "grep -qs ready '$B/log/delayline.$1'" 10 || die "the delay line did not start"
}
delay_off() { [ -n "$DL_PID" ] && stop_server "$DL_PID"; DL_PID=; }

# capture NAME PORT CMD...: runs CMD (through bench.py run) while tcpdump
# captures the connections to PORT; sets C_TURNS C_CONNS C_WALL C_RSS.
capture() {
	local name=$1 port=$2 pcap=$B/pcap/$1.pcap tp out
	shift 2
	tcpdump -i lo -U --immediate-mode -s 128 -w "$pcap" "tcp port $port" >"$B/log/$name.tcpdump" 2>&1 &
	tp=$!
	wait_for "grep -qs 'listening on' '$B/log/$name.tcpdump'" 10 || die "tcpdump did not start"
	out=$("$@") || { kill "$tp"; die "$name: $* failed (log $B/log/$name)"; }
	# What the last packets were (QUIT, the kept connection's end) still comes in.
	sleep "$(calc "$RTT / 1000 * 2 + 0.2")"
	kill -INT "$tp"
	wait "$tp" 2>/dev/null
	read -r _ C_WALL _ _ C_RSS _ <<<"$out"
	read -r C_TURNS C_CONNS _ <<<"$("${BPY[@]}" turns "$pcap" "$port")" || die "turns $pcap"
}

# run N STDIN CMD...: bench.py run (N runs in a row), the keeper stopped after.
run() {
	local n=$1 in=$2
	shift 2
	"${BPY[@]}" run --n "$n" --stdin "$in" --log "$B/log/run" --orphans stop -- "$@"
}

ROWSMD=$B/latency.rows	# Markdown rows, in order
: >"$ROWSMD"
# line ID RTT WHAT P_TURNS P_WALL P_RSS PEER SUFFIX Q_TURNS Q_WALL Q_RSS FLOOR TARGET:
# a row of the table (walls in seconds, RSS in KB).
line() {
	local met=- ms mb
	[ "${13}" != - ] && { [ "$4" -le "${13}" ] && met=yes || met=NO; }
	ms() { calc "$1 * 1000" | cut -d. -f1; }
	mb() { calc "$1 / 1024" | sed 's/\(\.[0-9]\).*/\1/'; }
	printf '| %s | %s | %s | %s | %s | %s | %s%s | %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" \
		"$4" "$(ms "$5")" "$(mb "$6")" "$7" "${8:+ $8}" "$9" "$(ms "${10}")" "$(mb "${11}")" \
		"${12}" "${13}" "$met" >>"$ROWSMD"
	say "$1 at $2 ms: Postie $4 turns, $7${8:+ $8} $9 turns (floor ${12})"
}

make_certs "$T/certs" || die "make_certs"
"${BPY[@]}" msg "$B/small.eml" 300 || die "cannot write the small message"
start_smtpd "$B/smtp" --starttls --auth alice:secret --require-auth --pipelining ||
	die "cannot start smtpd.py"
S_PORT=$SMTP_PORT S_SPOOL=$SMTP_SPOOL
start_smtpd "$B/smtps" --tls --auth alice:secret --require-auth --pipelining ||
	die "cannot start smtpd.py --tls"
SS_PORT=$SMTP_PORT SS_SPOOL=$SMTP_SPOOL
start_dovecot alice:secret || die "cannot start dovecot"

sendmail_conf "$B/nc.conf" "$S_PORT" "$B/q" 'connection_cache = 0'
sendmail_conf "$B/kept.conf" "$S_PORT" "$B/q"
sed -e "s/port = $S_PORT/port = $SS_PORT/" -e 's/tls = "starttls"/tls = "tls"/' "$B/nc.conf" >"$B/tls.conf"
chmod 600 "$B/tls.conf"
msmtp_conf "$B/msmtprc" "$S_PORT"
sed -e "s/^port $S_PORT/port $SS_PORT/" -e 's/^tls_starttls on/tls_starttls off/' "$B/msmtprc" >"$B/msmtprc.tls"
chmod 600 "$B/msmtprc.tls"
popfetch_conf "$B/popfetch.conf" 0 "alice:$B/inbox.mbox"
mpop_conf "$B/mpoprc" "alice:$B/inbox.mbox"

# The queue of row 6: 100 messages queued while the smarthost was down.
sendmail_conf "$B/down.conf" 1 "$B/q6"
for i in $(seq 100); do
	"$SENDMAIL" -C "$B/down.conf" -i "q$i@example.org" <"$B/small.eml" || die "queueing for row 6"
done
[ "$(find "$B/q6" -maxdepth 1 -name '*.env' | wc -l)" = 100 ] || die "row 6: the queue holds no 100 messages"
cp -a "$B/q6" "$B/q6.orig"
sendmail_conf "$B/live6.conf" "$S_PORT" "$B/q6" 'connection_cache = 0'

rcpts() { local i; for i in $(seq "$1"); do echo "r$i@example.org"; done; }
spool_n() { find "$1" -maxdepth 1 -name '*.env' | wc -l; }
# delivered SPOOL BEFORE N: the spool got N more messages
delivered() { [ "$(spool_n "$1")" -ge $(($2 + $3)) ] || die "$4: $(($(spool_n "$1") - $2)) of $3 delivered"; }

one_smtp() { # ID RTT WHAT PORT SPOOL NRCPT POSTIE_CONF MSMTPRC FLOOR TARGET
	local id=$1 rtt=$2 what=$3 port=$4 spool=$5 n=$6 conf=$7 rc=$8 floor=$9 target=${10}
	local pt pw pr n0 r=()
	mapfile -t r < <(rcpts "$n")
	n0=$(spool_n "$spool")
	capture "$id.postie.$rtt" "$port" run 1 "$B/small.eml" "$SENDMAIL" -C "$conf" -i "${r[@]}"
	delivered "$spool" "$n0" 1 "$id sendmail"
	pt=$C_TURNS pw=$C_WALL pr=$C_RSS
	n0=$(spool_n "$spool")
	capture "$id.msmtp.$rtt" "$port" run 1 "$B/small.eml" msmtp -C "$rc" "${r[@]}"
	delivered "$spool" "$n0" 1 "$id msmtp"
	line "$id" "$rtt" "$what" "$pt" "$pw" "$pr" msmtp "" "$C_TURNS" "$C_WALL" "$C_RSS" "$floor" "$target"
}

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for RTT in $RTTS; do
	delay_on "$RTT"
	want 1 && one_smtp 1 "$RTT" "sendmail, one message, STARTTLS + AUTH, 1 recipient" "$S_PORT" \
		"$S_SPOOL" 1 "$B/nc.conf" "$B/msmtprc" 9 9
	want 2 && one_smtp 2 "$RTT" "same, 10 recipients" "$S_PORT" "$S_SPOOL" 10 "$B/nc.conf" \
		"$B/msmtprc" 9 9
	want 3 && one_smtp 3 "$RTT" "same, 50 recipients" "$S_PORT" "$S_SPOOL" 50 "$B/nc.conf" \
		"$B/msmtprc" 9 9
	want 4 && one_smtp 4 "$RTT" "same over implicit TLS (465), 1 recipient" "$SS_PORT" "$SS_SPOOL" \
		1 "$B/tls.conf" "$B/msmtprc.tls" 7 7
	if want 5; then
		n0=$(spool_n "$S_SPOOL")
		capture "5.postie.$RTT" "$S_PORT" run 20 "$B/small.eml" "$SENDMAIL" -C "$B/kept.conf" -i r1@example.org
		delivered "$S_SPOOL" "$n0" 20 "5 sendmail"
		pt=$C_TURNS pw=$C_WALL pr=$C_RSS
		n0=$(spool_n "$S_SPOOL")
		capture "5.msmtp.$RTT" "$S_PORT" run 20 "$B/small.eml" msmtp -C "$B/msmtprc" r1@example.org
		delivered "$S_SPOOL" "$n0" 20 "5 msmtp"
		line 5 "$RTT" "20 sendmail processes in a row (connection kept)" "$pt" "$pw" "$pr" \
			msmtp "x20" "$C_TURNS" "$C_WALL" "$C_RSS" 47 50
	fi
	if want 6; then
		rm -rf "$B/q6" && cp -a "$B/q6.orig" "$B/q6"
		n0=$(spool_n "$S_SPOOL")
		capture "6.postie.$RTT" "$S_PORT" run 1 /dev/null "$SENDMAIL" -C "$B/live6.conf" -q
		delivered "$S_SPOOL" "$n0" 100 "6 sendmail -q"
		[ "$(spool_n "$B/q6")" = 0 ] || die "6: sendmail -q left messages in the queue"
		pt=$C_TURNS pw=$C_WALL pr=$C_RSS
		n0=$(spool_n "$S_SPOOL")
		capture "6.msmtp.$RTT" "$S_PORT" run 100 "$B/small.eml" msmtp -C "$B/msmtprc" r1@example.org
		delivered "$S_SPOOL" "$n0" 100 "6 msmtp"
		line 6 "$RTT" "sendmail -q, 100 queued messages" "$pt" "$pw" "$pr" msmtp "x100" \
			"$C_TURNS" "$C_WALL" "$C_RSS" 108 110
	fi
	for w in 7 8; do
		want $w || continue
		[ $w = 7 ] && n=1 what="popfetch, one message, delete mode" floor=10 target=10
		[ $w = 8 ] && n=1000 what="popfetch, 1,000 messages of 4 KB, delete mode" floor=10 target=12
		for side in postie mpop; do
			rm -rf "$B/inbox.mbox" "$XDG_STATE_HOME" "$B"/mpop-uidls.*
			mkdir -p "$XDG_STATE_HOME"
			refill "$n" 4096 alice
			if [ $side = postie ]; then
				capture "$w.postie.$RTT" "$POP3_PORT" run 1 /dev/null "$POPFETCH" -C "$B/popfetch.conf" -q
				fetched popfetch alice "$B/inbox.mbox" "$n"
				pt=$C_TURNS pw=$C_WALL pr=$C_RSS
			else
				capture "$w.mpop.$RTT" "$POP3_PORT" run 1 /dev/null mpop -C "$B/mpoprc" -q -a
				fetched mpop alice "$B/inbox.mbox" "$n"
			fi
		done
		line "$w" "$RTT" "$what" "$pt" "$pw" "$pr" mpop "" "$C_TURNS" "$C_WALL" "$C_RSS" "$floor" "$target"
	done
	delay_off
done

# ------------------------------------------------------------------ report
frag=$B/latency.md
{
	echo "### Round trips (tests/bench/latency.sh, $(date '+%Y-%m-%d %H:%M'))"
	echo
	echo "Turns (round trips the client waited for), counted from a packet capture, with the loopback"
	echo "delayed in a network namespace (an NFQUEUE delay line: RTT as shown); wall time of the run at"
	echo "that RTT; peak RSS. Servers: aiosmtpd advertising PIPELINING (STARTTLS, or implicit TLS, AUTH),"
	echo "Dovecot (POP3, STARTTLS). Target: Postie's turns."
	echo
	echo "| # | RTT ms | workload | Postie turns | Postie ms | Postie RSS MB | peer | peer turns | peer ms | peer RSS MB | floor | target | met |"
	echo "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|"
	cat "$ROWSMD"
	echo
	echo "The floor: TCP, greeting, EHLO, STARTTLS, TLS 1.3, EHLO, AUTH PLAIN with the initial response,"
	echo "MAIL+RCPT+DATA in one flight, the data (9; 7 with implicit TLS); a kept connection costs 2 per"
	echo "message with DATA after the first (47 for 20); a queue run 1 per message after the first two"
	echo "(108 for 100); POP3: TCP, greeting, CAPA, STLS, TLS, CAPA, AUTH, UIDL+LIST, RETR, DELE+QUIT (10)."
	echo "Every delivery was checked at the server (smtpd.py's spool) and every fetch in the mbox, with the"
	echo "mailbox empty after it. Postie $(git -C "$TOP" describe --always --dirty 2>/dev/null);"
	echo "$(msmtp --version | head -n 1); $(mpop --version | head -n 1). Machine: $(machine); load"
	echo "average $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(($(date +%s) - START)) s."
	echo
	echo "Rerun: \`tests/bench/latency.sh\` (\`LAT_RTTS=\"100\" LAT_ONLY=\"1 5\"\` for a part); the captures stay"
	echo "in \`\$B/pcap\` with \`BENCH_KEEP=1\` (\`tests/bench/bench.py turns FILE PORT\` counts one)."
} >"$frag"
echo
cat "$frag"
if [ -z "${LAT_ONLY:-}" ] && [ "$RTTS" = "20 100" ]; then
	"${BPY[@]}" latency-md "$MD" "$frag" || die "cannot write $MD"
	echo "Markdown: ${MD#"$TOP"/}"
fi
exit 0
