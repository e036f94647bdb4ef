# shellcheck shell=bash
# tests/bench/common.sh: what run.sh (the throughput and memory workloads)
# and latency.sh (the round trips) share: configurations for Postie and its
# peers, the runner's wrappers, the POP3 mailbox helpers, the report of the
# machine and the versions.  Sourced after lib.sh, with BENCH, BPY, B (the
# work directory), MAILUID and MAILGID set.

# ---------------------------------------------------------------- helpers

say() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

die() {
	printf 'BENCH FAILED: %s\n' "$*" >&2
	[ "${BENCH_KEEP:-0}" = 1 ] || printf '(BENCH_KEEP=1 keeps the work directory, its logs and configurations)\n' >&2
	exit 1
}

want() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# record KEY SIDE ROUND VALUE
record() { printf '%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"; }

# row ID KEY "label" UNIT KIND TARGET PEER CMD... : a line of the table.
# KIND: ratio_le | ratio_ge (Postie/peer against TARGET), abs_le | abs_eq
# (Postie's value against TARGET).  The commands are shown with $B and ./
# for the work directory and the repository.
row() {
	local id=$1 key=$2 label=$3 unit=$4 kind=$5 target=$6 peer=$7
	shift 7
	local c cmds=()
	for c in "$@"; do
		c=${c//$SENDMAIL/./sendmail/sendmail}
		c=${c//$POPFETCH/./popfetch/popfetch}
		c=${c//$B/\$B}
		c=${c//$TOP\//./}
		cmds+=("$c")
	done
	"$PY" -c '
import json, sys
a = sys.argv[1:]
print(json.dumps({"id": a[0], "key": a[1], "label": a[2], "unit": a[3], "kind": a[4],
                  "target": float(a[5]), "peer": a[6], "cmds": a[7:]}))' \
		"$id" "$key" "$label" "$unit" "$kind" "$target" "$peer" "${cmds[@]}" >>"$ROWS"
}

# cpu_row ID PER SIDE=NAME...: a line of the CPU table (PER: "message" or "run")
cpu_row() {
	local id=$1 per=$2
	shift 2
	"$PY" -c '
import json, sys
a = sys.argv[1:]
print(json.dumps({"cpu": a[0], "per": a[1], "sides": [x.split("=", 1) for x in a[2:]]}))' \
		"$id" "$per" "$@" >>"$ROWS"
}

# measure LOG STDIN N CMD...: run CMD N times in a row; sets M_WALL M_USER
# M_SYS (seconds, totals), M_RSS (KB, largest) and M_SRV (CPU seconds the
# server used meanwhile: SRV=smtp or dovecot). Dies if a run fails.
measure() {
	local log=$1 in=$2 n=$3 out s0 s1
	shift 3
	s0=$(srv_ticks)
	out=$("${BPY[@]}" run --n "$n" --stdin "$in" --log "$log" --orphans "${ORPHANS:-stop}" -- "$@") ||
		die "$* (run $n times) failed; log: $log"
	read -r _ M_WALL M_USER M_SYS M_RSS M_ORPHANS <<<"$out"
	[ "$SRV" = dovecot ] && sleep 0.2	# let the master reap its pop3 processes
	s1=$(srv_ticks)
	M_SRV=$(calc "($s1 - $s0) / $CLK_TCK")
}

# srv_ticks: CPU time (clock ticks) used so far by the server SRV: smtpd.py,
# or Dovecot with all its processes (the reaped ones through the master's
# cutime/cstime; a process is counted by its parent only once it is gone).
CLK_TCK=$(getconf CLK_TCK)
SRV=none
srv_ticks() {
	local p st s=0 pids=()
	case $SRV in
	smtp) pids=("$SMTP_PID") ;;
	dovecot) pids=("$DOVECOT_PID"); mapfile -t -O 1 pids < <(_descendants "$DOVECOT_PID") ;;
	esac
	for p in "${pids[@]}"; do
		read -r -a st 2>/dev/null <"/proc/$p/stat" || continue
		s=$((s + st[13] + st[14] + st[15] + st[16]))
	done
	echo "$s"
}

# cpu ID SIDE ROUND [DIVISOR]: record the client's and the server's CPU time
# of the last measure (milliseconds, divided by DIVISOR: per message)
cpu() {
	record "cpu.$1" "$2" "$3" "$(calc "($M_USER + $M_SYS) * 1000 / ${4:-1}")"
	record "srv.$1" "$2" "$3" "$(calc "$M_SRV * 1000 / ${4:-1}")"
}

# calc EXPR: floating point arithmetic (awk)
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

smtp_n() { find "$SMTP_SPOOL" -maxdepth 1 -name '*.env' | wc -l; }
smtp_clear() { find "$SMTP_SPOOL" -maxdepth 1 \( -name '*.msg' -o -name '*.env' -o -name '*.info' \) -delete; }
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# ------------------------------------------------------------- machine

machine() {
	local cpu
	cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
	echo "$(nproc) CPUs ($cpu), $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null)"
}

versions() {
	echo "Postie $("$SENDMAIL" --version 2>&1 | head -n 1) / $("$POPFETCH" --version 2>&1 | head -n 1) (git $GITREV)"
	msmtp --version | head -n 1
	mpop --version | head -n 1
	fetchmail --version 2>&1 | grep -m1 '^This is fetchmail' || echo "fetchmail: not installed"
	curl --version | head -n 1
	echo "hyperfine: $(hyperfine --version 2>/dev/null || echo 'not installed (startup measured by bench.py interleave)')"
	echo "Dovecot $(dovecot --version 2>/dev/null)"
	echo "aiosmtpd $("$PY" -c 'import aiosmtpd; print(aiosmtpd.__version__)' 2>/dev/null) on $("$PY" --version 2>&1)"
}

# ------------------------------------------------------------ configurations

# sendmail_conf FILE PORT QUEUE_DIR [TOP-LEVEL LINE]
sendmail_conf() {
	cat >"$1" <<EOF
${4:-}
aliases = ""
log = "none"
queue_dir = "$3"
tls_ca_file = "$T/certs/ca.pem"
smtp "default" {
  host = "localhost"
  port = $2
  tls = "starttls"
  user = "alice"
  password = "secret"
  from = "me@example.org"
}
EOF
	chmod 600 "$1"
}

# msmtp_conf FILE PORT
msmtp_conf() {
	cat >"$1" <<EOF
defaults
tls on
tls_starttls on
tls_trust_file $T/certs/ca.pem

account default
host localhost
port $2
auth on
user alice
password secret
from me@example.org
EOF
	chmod 600 "$1"
}

# popfetch_conf FILE MAX_PARALLEL(0 = default) USER:MBOX...
popfetch_conf() {
	local f=$1 par=$2 a
	shift 2
	{
		echo 'log = "none"'
		echo "tls_ca_file = \"$T/certs/ca.pem\""
		[ "$par" = 0 ] || echo "max_parallel = $par"
		for a in "$@"; do
			cat <<EOF
pop3 "${a%%:*}" {
  host = "localhost"
  port = $POP3_PORT
  tls = "starttls"
  user = "${a%%:*}"
  password = "secret"
  mbox = "${a#*:}"
}
EOF
		done
	} >"$f"
	chmod 600 "$f"
}

# mpop_conf FILE USER:MBOX...
mpop_conf() {
	local f=$1 a
	shift
	{
		cat <<EOF
defaults
tls on
tls_starttls on
tls_trust_file $T/certs/ca.pem
keep off
only_new on
EOF
		for a in "$@"; do
			cat <<EOF

account ${a%%:*}
host localhost
port $POP3_PORT
user ${a%%:*}
password secret
delivery mbox ${a#*:}
uidls_file $B/mpop-uidls.${a%%:*}
EOF
		done
	} >"$f"
	chmod 600 "$f"
}

# ------------------------------------------------------ POP3 mailbox helpers

# refill COUNT SIZE USER...: each user's Maildir holds exactly COUNT new
# messages, then one untimed LIST session per user lets Dovecot index them
# (every client then finds the same, indexed mailbox).
refill() {
	local n=$1 size=$2 u pids=() p
	shift 2
	"${BPY[@]}" fill --uid "$MAILUID" --gid "$MAILGID" "$n" "$size" "${@/#/$T/mail/}" || die "fill $*"
	for u in "$@"; do
		curl -sS --ssl-reqd --cacert "$T/certs/ca.pem" -u "$u:secret" -o /dev/null "pop3://localhost:$POP3_PORT/" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "LIST after refilling failed"; done
}

pop3_logins() { grep -c 'pop3-login: Info: Login: ' "$T/dovecot/dovecot.log"; }

# messages in an mbox (the benchmark's bodies never hold a line "From ...")
mbox_n() { if [ -f "$1" ]; then grep -c '^From ' "$1"; else echo 0; fi; }

# fetched WHAT USER MBOX N: the mbox holds N messages and the server none
fetched() {
	local got left
	got=$(mbox_n "$3")
	left=$(pop3_count "$2")
	[ "$got" = "$4" ] || die "$1: $3 holds $got messages, want $4"
	[ "$left" = 0 ] || die "$1: $left messages left on the server for $2 (delete mode)"
}

