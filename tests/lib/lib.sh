# shellcheck shell=bash
# Postie test library: sourced by every tests/*.t script (bash), run by prove.
#
#   . "$(dirname "$0")/lib/lib.sh"        # from tests/NAME.t
#
# Do not run test scripts with `set -e`: the TAP helpers return 1 on a failed
# test. Do not call start_* in $(...) (the pid would be recorded in a subshell).
# The full API is described in tests/lib/README.md.

if [ -n "${_POSTIE_LIB_LOADED:-}" ]; then return 0; fi
_POSTIE_LIB_LOADED=1

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
# make check-valgrind points these at wrappers; make check-asan sets POSTIE_SANITIZER.
SENDMAIL=${POSTIE_SENDMAIL:-$TOP/sendmail/sendmail}
POPFETCH=${POSTIE_POPFETCH:-$TOP/popfetch/popfetch}
PY=/usr/bin/python3			# Debian's python, the one with aiosmtpd
POSTIE_CMD_TIMEOUT=${POSTIE_CMD_TIMEOUT:-60}
export TOP SENDMAIL POPFETCH

# In /tmp rather than $TMPDIR: Dovecot's unprivileged processes must be able
# to reach it, and its socket paths must stay short.
T=$(mktemp -d "${POSTIE_TMPDIR:-/tmp}/postie-test.XXXXXX") || { echo "Bail out! mktemp -d failed"; exit 255; }
export T
export LC_ALL=C

_TAP_N=0			# tests run
_TAP_FAILED=0			# tests failed
_TAP_PLANNED=			# N given to plan
_TAP_DONE=			# done_testing called
_POSTIE_PIDS=()			# servers to stop at exit (python servers, dovecot watchdog)
_POSTIE_DOVECOT_PID=		# dovecot master
_POSTIE_SEQ=0

# plain_binaries: true when the programs run as built, with no sanitizer or
# valgrind around them, so that their memory and speed can be measured.
plain_binaries() {
	[ -z "${POSTIE_SANITIZER:-}" ] && [ -z "${POSTIE_SENDMAIL:-}" ] && [ -z "${POSTIE_POPFETCH:-}" ]
}

# ---------------------------------------------------------------- TAP output

# diag TEXT...: diagnostics on stderr (as Test::More), each argument on its
# own line(s), every line prefixed "# ".
diag() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sed 's/^/# /' >&2
}

# note TEXT...: like diag, on stdout (shown by prove -v only).
note() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sed 's/^/# /'
}

# plan N: announce N tests up front (else call done_testing at the end).
plan() {
	_TAP_PLANNED=$1
	echo "1..$1"
}

# done_testing: print the plan "1..N" for the N tests run.
done_testing() {
	if [ -z "$_TAP_PLANNED" ] && [ -z "$_TAP_DONE" ]; then
		echo "1..$_TAP_N"
	fi
	_TAP_DONE=1
}

# skip_all REASON: skip the whole script (exit 0). Only before any test.
skip_all() {
	echo "1..0 # SKIP ${*:-no reason given}"
	_TAP_PLANNED=0
	exit 0
}

# bail_out REASON: stop the whole prove run (fixture broken).
bail_out() {
	echo "Bail out! $*"
	exit 255
}

# _tap_line 0|1 NAME [DIRECTIVE]
_tap_line() {
	local name=${2:-}
	name=${name//\\/\\\\}
	name=${name//#/\\#}
	name=${name//$'\n'/ }
	_TAP_N=$((_TAP_N + 1))
	if [ "$1" = 0 ]; then
		echo "ok $_TAP_N - $name${3:+ # $3}"
	else
		echo "not ok $_TAP_N - $name${3:+ # $3}"
		[ -n "${3:-}" ] || _TAP_FAILED=$((_TAP_FAILED + 1))
	fi
}

# pass NAME
pass() { _tap_line 0 "${1:-}"; return 0; }

# fail NAME [DIAG...]
fail() {
	local name=${1:-}
	_tap_line 1 "$name"
	shift
	diag "  Failed test '${name}'"
	[ $# -eq 0 ] || diag "$@"
	return 1
}

# ok STATUS NAME: ok if STATUS (an exit status, e.g. $?) is 0.
#   some_command; ok $? "some command works"
ok() {
	if [ "${1:-1}" = 0 ]; then pass "${2:-}"; else fail "${2:-}" "exit status $1"; fi
}

# skip NAME REASON: a test that is not run, counted as passed.
skip() { _tap_line 0 "${1:-}" "SKIP ${2:-}"; }

# todo_fail NAME REASON: a known failure (TODO); does not fail the script.
todo_fail() { _tap_line 1 "${1:-}" "TODO ${2:-}"; }

# _run CMD ARGS...: run a command (or shell function) with a timeout of
# POSTIE_CMD_TIMEOUT seconds; stdout to $T/last.out, stderr to $T/last.err,
# exit status to LAST_STATUS (124 on timeout). Stdin is inherited.
LAST_STATUS=0
_run() {
	if [ "$(type -t "$1")" = function ] || [ "$(type -t "$1")" = builtin ]; then
		"$@" >"$T/last.out" 2>"$T/last.err"
	else
		timeout -k 5 "$POSTIE_CMD_TIMEOUT" "$@" >"$T/last.out" 2>"$T/last.err"
	fi
	LAST_STATUS=$?
	return $LAST_STATUS
}

_run_diag() {
	local what="exit status $LAST_STATUS"
	[ "$LAST_STATUS" = 124 ] && what="timed out after ${POSTIE_CMD_TIMEOUT}s (exit 124)"
	[ "$LAST_STATUS" -gt 128 ] && [ "$LAST_STATUS" != 255 ] && what="killed by signal $((LAST_STATUS - 128))"
	local IFS=' '
	echo "  command: $*"
	echo "  $what"
	if [ -s "$T/last.out" ]; then echo "  stdout:"; head -c 4000 "$T/last.out" | head -n 30 | sed 's/^/    /'; fi
	if [ -s "$T/last.err" ]; then echo "  stderr:"; head -c 4000 "$T/last.err" | head -n 30 | sed 's/^/    /'; fi
}

# check NAME CMD ARGS...: ok if CMD exits 0. Output is kept in $T/last.out
# and $T/last.err, the status in LAST_STATUS; all shown on failure.
check() {
	local name=$1
	shift
	if _run "$@"; then pass "$name"; else fail "$name" "$(_run_diag "$@")"; fi
}

# check_fail NAME CMD ARGS...: ok if CMD exits with a failure status 1..125
# (not 0, not a timeout 124, not killed by a signal, not 126/127).
check_fail() {
	local name=$1
	shift
	_run "$@"
	if [ "$LAST_STATUS" -ge 1 ] && [ "$LAST_STATUS" -le 125 ] && [ "$LAST_STATUS" != 124 ]; then
		pass "$name"
	else
		fail "$name" "  expected a failure exit status (1..125)" "$(_run_diag "$@")"
	fi
}

# check_status STATUS NAME CMD ARGS...: ok if CMD exits with exactly STATUS.
check_status() {
	local want=$1 name=$2
	shift 2
	_run "$@"
	if [ "$LAST_STATUS" = "$want" ]; then
		pass "$name"
	else
		fail "$name" "  expected exit status $want" "$(_run_diag "$@")"
	fi
}

# _visible: filter making control characters visible, UTF-8 left alone:
# CR as ^M, TAB as ^I, other controls as ^X, and "$" at every line end.
_visible() {
	perl -pe 's/([\x00-\x09\x0b-\x1f\x7f])/"^".chr(ord($1) ^ 64)/ge; s/\n/\$\n/' 2>/dev/null || cat -A
}

# _show VALUE: quote a value for a diagnostic (see _visible).
_show() {
	if [ -z "${1+x}" ]; then echo "(unset)"; return; fi
	printf '%s' "$1" | _visible | sed -e '1s/^/'"'"'/' -e '$s/$/'"'"'/'
}

# is GOT EXPECTED NAME: string equality.
is() {
	if [ "$1" == "$2" ]; then
		pass "${3:-}"
	else
		fail "${3:-}" "$(printf '%s\n' "         got: $(_show "$1")" "    expected: $(_show "$2")")"
	fi
}

# isnt GOT UNEXPECTED NAME: string inequality.
isnt() {
	if [ "$1" != "$2" ]; then
		pass "${3:-}"
	else
		fail "${3:-}" "         got: $(_show "$1")" "    expected anything else"
	fi
}

# like GOT REGEX NAME: bash =~ (extended regex) match.
like() {
	if [[ $1 =~ $2 ]]; then
		pass "${3:-}"
	else
		fail "${3:-}" "                  $(_show "$1")" "    doesn't match '$2'"
	fi
}

# unlike GOT REGEX NAME
unlike() {
	if ! [[ $1 =~ $2 ]]; then
		pass "${3:-}"
	else
		fail "${3:-}" "                  $(_show "$1")" "    matches '$2'"
	fi
}

# cmp_file GOT_FILE EXPECTED_FILE NAME: byte comparison.
cmp_file() {
	local got=$1 exp=$2 name=${3:-}
	if [ ! -f "$got" ]; then
		fail "$name" "  file $got does not exist"
		return 1
	fi
	if [ ! -f "$exp" ]; then
		fail "$name" "  expected file $exp does not exist"
		return 1
	fi
	if cmp -s -- "$got" "$exp"; then
		pass "$name"
		return 0
	fi
	fail "$name" "$(
		echo "  $got: $(wc -c <"$got") bytes, $exp: $(wc -c <"$exp") bytes"
		echo "  $(cmp -- "$got" "$exp" 2>&1 | head -n 1)"
		echo "  diff -u (\$ = end of line, ^M = CR, ^I = TAB):"
		diff -u --text -- "$exp" "$got" | head -n 40 | _visible | sed 's/^/    /'
	)"
}

# ------------------------------------------------------------------- helpers

# _now_us: microseconds since the epoch.
_now_us() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo "${t:-$(($(date +%s) * 1000000))}"
}

# _to_us SECONDS (may be fractional): microseconds.
_to_us() {
	local s=$1 i f
	i=${s%%.*}
	f=
	[ "$i" != "$s" ] && f=${s#*.}
	f=${f}000000
	echo $((10#${i:-0} * 1000000 + 10#${f:0:6}))
}

# wait_for COND_CMD TIMEOUT_SECONDS: eval COND_CMD (a string) until it
# succeeds (return 0) or TIMEOUT_SECONDS (default 10, may be fractional)
# pass (return 1). Polls every 20 ms at first, backing off to 200 ms.
wait_for() {
	local cond=$1 deadline nap=0.02
	deadline=$(($(_now_us) + $(_to_us "${2:-10}")))
	while :; do
		eval "$cond" && return 0
		[ "$(_now_us)" -lt "$deadline" ] || return 1
		sleep "$nap"
		case $nap in 0.02) nap=0.05 ;; 0.05) nap=0.1 ;; *) nap=0.2 ;; esac
	done
}

# free_port [N]: print N (default 1) currently free TCP ports on 127.0.0.1,
# one per line (all distinct).
free_port() {
	"$PY" - "${1:-1}" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}

# require_root: skip the whole script unless running as root (Dovecot needs it).
require_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root${1:+: $1}"
}

# port_open PORT [HOST]: true if something accepts TCP connections there.
port_open() {
	(exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null
}

# _register_pid PID: stop PID at exit.
_register_pid() { _POSTIE_PIDS+=("$1"); }

# _descendants PID: all descendant pids of PID (read from /proc).
_descendants() {
	local f line rest pid ppid
	local -A parent=()
	local -a todo=("$1")
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		pid=${line%% *}
		rest=${line##*) }	# after "(comm) "
		rest=${rest#* }		# drop the state
		ppid=${rest%% *}
		parent[$pid]=$ppid
	done
	while [ ${#todo[@]} -gt 0 ]; do
		ppid=${todo[0]}
		todo=("${todo[@]:1}")
		for pid in "${!parent[@]}"; do
			if [ "${parent[$pid]}" = "$ppid" ]; then
				echo "$pid"
				todo+=("$pid")
			fi
		done
	done
}

# _none_alive PID...: true if none of the PIDs is a live process (zombies count as gone).
_none_alive() {
	local p st
	for p in "$@"; do
		[ -e "/proc/$p/stat" ] || continue
		read -r st 2>/dev/null <"/proc/$p/stat" || continue
		st=${st##*) }
		[ "${st%% *}" = Z ] || return 1
	done
	return 0
}

# _alive PID: true if PID is a live process (not gone, not a zombie).
_alive() { ! _none_alive "$1"; }

# _stop_pid PID [SECONDS]: SIGTERM, wait up to SECONDS (default 5), then SIGKILL.
_stop_pid() {
	local pid=$1
	_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	if ! wait_for "! _alive $pid" "${2:-5}"; then
		kill -KILL "$pid" 2>/dev/null
		wait_for "! _alive $pid" 2
	fi
	wait "$pid" 2>/dev/null
	return 0
}

# stop_holders [DIR]: stop the sendmail processes under DIR (default $T)
# that keep an SMTP connection open (connection_cache); each writes its pid
# into the QUEUE/tmp/.conn.UID.ACCOUNT.lock file it holds locked.
stop_holders() {
	local f pid
	while IFS= read -r -d '' f; do
		flock -n "$f" true 2>/dev/null && continue	# not held: nobody there
		read -r pid 2>/dev/null <"$f" || continue
		[ -n "$pid" ] || continue
		kill -TERM "$pid" 2>/dev/null
		wait_for "flock -n '$f' true" 5 || kill -KILL "$pid" 2>/dev/null
	done < <(find "${1:-$T}" -name '.conn.*.lock' -print0 2>/dev/null)
}

# stop_server PID: stop one server started by a start_* function.
stop_server() {
	local p rest=()
	_stop_pid "$1"
	for p in "${_POSTIE_PIDS[@]}"; do [ "$p" = "$1" ] || rest+=("$p"); done
	_POSTIE_PIDS=("${rest[@]}")
}

# ------------------------------------------------------------- certificates

# make_certs DIR: a throwaway PKI in DIR (cached: a second call is a no-op).
#   ca.pem ca.key              test CA
#   server.pem server.key      server cert for localhost (SAN DNS:localhost,
#                              IP:127.0.0.1, IP:::1), signed by the CA
#   server-chain.pem           server.pem followed by ca.pem
#   server.pin                 sha256//BASE64 pin of server.key's public key
#   other-ca.pem other-ca.key  an unrelated CA (verification must fail)
#   selfsigned.pem selfsigned.key    self-signed cert for localhost
#   wronghost.pem wronghost.key      cert for wrong.example (SAN DNS:wrong.example)
#                                    signed by the CA: hostname mismatch
#   wronghost-chain.pem        wronghost.pem + ca.pem
make_certs() {
	local d=${1:-$T/certs}
	[ -s "$d/.done" ] && return 0
	mkdir -p "$d" || return 1
	(
		set -e
		cd "$d"
		key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }
		ca() { # name CN
			key "$1.key"
			openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" \
				-addext "basicConstraints=critical,CA:TRUE" \
				-addext "keyUsage=critical,keyCertSign,cRLSign" \
				-addext "subjectKeyIdentifier=hash" -out "$1.pem"
		}
		leaf() { # name CN SAN
			key "$1.key"
			openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
			printf '%s\n' "basicConstraints=critical,CA:FALSE" \
				"keyUsage=critical,digitalSignature" \
				"extendedKeyUsage=serverAuth" \
				"subjectKeyIdentifier=hash" \
				"authorityKeyIdentifier=keyid" \
				"subjectAltName=$3" >"$1.ext"
			openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
				-sha256 -days 3650 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
			cat "$1.pem" ca.pem >"$1-chain.pem"
			rm -f "$1.csr" "$1.ext"
		}
		ca ca "Postie Test CA"
		ca other-ca "Postie Other Test CA"
		leaf server localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
		leaf wronghost wrong.example "DNS:wrong.example"
		key selfsigned.key
		openssl req -x509 -new -key selfsigned.key -sha256 -days 3650 -subj "/CN=localhost" \
			-addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
			-addext "basicConstraints=critical,CA:FALSE" \
			-addext "extendedKeyUsage=serverAuth" -out selfsigned.pem
		echo "sha256//$(openssl pkey -in server.key -pubout -outform DER |
			openssl dgst -sha256 -binary | openssl base64 -A)" >server.pin
		chmod 644 ./*.pem ./*.key server.pin
		echo ok >.done
	) >"$d/make_certs.log" 2>&1 || {
		diag "make_certs $d failed:" "$(cat "$d/make_certs.log")"
		return 1
	}
}

# ---------------------------------------------------------- python servers

# _start_py NAME READYFILE LOGFILE SCRIPT ARGS...: start a python server in the
# background, wait (10 s) for its ready file (holding the port). Sets _PORT, _PID.
_start_py() {
	local name=$1 ready=$2 log=$3
	shift 3
	rm -f "$ready"
	"$PY" "$@" --ready-file "$ready" --watch-pid $$ </dev/null >>"$log" 2>&1 &
	_PID=$!
	_register_pid "$_PID"
	if ! wait_for "[ -s '$ready' ] || ! _alive $_PID" 10 || [ ! -s "$ready" ]; then
		diag "$name did not start; its log $log:" "$(tail -n 30 "$log")"
		stop_server "$_PID"
		_PORT=
		return 1
	fi
	_PORT=$(head -n 1 "$ready")
	return 0
}

# start_smtpd DIR [--plain|--tls|--starttls|--starttls-optional] [--auth USER:PASS]
#             [--require-auth] [--reject-rcpt ADDR]... [--tempfail-rcpt ADDR]...
#             [--cert F --key F] [other smtpd.py options]
# Start tests/lib/smtpd.py spooling to DIR. Sets SMTP_PORT, SMTP_PID, SMTP_SPOOL.
# Default cert: $T/certs/server-chain.pem + server.key. Log: DIR/smtpd.log.
# $POSTIE_SMTPD_OPTS (e.g. "--pipelining --chunking") is added to every start.
start_smtpd() {
	local dir=$1
	shift
	mkdir -p "$dir" || return 1
	make_certs "$T/certs" || return 1
	# shellcheck disable=SC2086
	_start_py "smtpd.py" "$dir/.ready" "$dir/smtpd.log" "$TOP/tests/lib/smtpd.py" \
		--spool "$dir" --cert "$T/certs/server-chain.pem" --key "$T/certs/server.key" \
		${POSTIE_SMTPD_OPTS:-} "$@" || return 1
	SMTP_PORT=$_PORT SMTP_PID=$_PID SMTP_SPOOL=$dir
}

# start_faultsmtp MODE [--spool DIR] [faultsmtp.py options]: scripted faulty SMTP
# server. Sets FAULT_PORT, FAULT_PID, FAULT_SPOOL (default $T/faultsmtp.N).
start_faultsmtp() {
	local mode=$1 dir
	shift
	_POSTIE_SEQ=$((_POSTIE_SEQ + 1))
	dir=$(_spool_arg "$T/faultsmtp.$_POSTIE_SEQ" "$@")
	mkdir -p "$dir" || return 1
	_start_py "faultsmtp.py $mode" "$dir/.ready" "$dir/server.log" "$TOP/tests/lib/faultsmtp.py" \
		--mode "$mode" --spool "$dir" "$@" || return 1
	FAULT_PORT=$_PORT FAULT_PID=$_PID FAULT_SPOOL=$dir
}

# start_faultpop3 MODE [--message FILE]... [--user USER:PASS] [--spool DIR]
# [faultpop3.py options]: scripted faulty POP3 server.
# Sets FAULT_PORT, FAULT_PID, FAULT_SPOOL (default $T/faultpop3.N).
start_faultpop3() {
	local mode=$1 dir
	shift
	_POSTIE_SEQ=$((_POSTIE_SEQ + 1))
	dir=$(_spool_arg "$T/faultpop3.$_POSTIE_SEQ" "$@")
	mkdir -p "$dir" || return 1
	_start_py "faultpop3.py $mode" "$dir/.ready" "$dir/server.log" "$TOP/tests/lib/faultpop3.py" \
		--mode "$mode" --spool "$dir" "$@" || return 1
	FAULT_PORT=$_PORT FAULT_PID=$_PID FAULT_SPOOL=$dir
}

# start_authserver DIR [authserver.py options]: the OAuth 2.0 authorization
# server for the tests (HTTPS, the test CA's localhost certificate). Sets
# AUTH_PORT, AUTH_PID, AUTH_URL (https://127.0.0.1:PORT), AUTH_SPOOL=DIR.
start_authserver() {
	local dir=$1
	shift
	mkdir -p "$dir" || return 1
	make_certs "$T/certs" || return 1
	_start_py "authserver.py" "$dir/.ready" "$dir/server.log" "$TOP/tests/lib/authserver.py" \
		--spool "$dir" --cert "$T/certs/server-chain.pem" --key "$T/certs/server.key" "$@" || return 1
	AUTH_PORT=$_PORT AUTH_PID=$_PID AUTH_SPOOL=$dir AUTH_URL=https://127.0.0.1:$_PORT
}

# _spool_arg DEFAULT ARGS...: the value of --spool in ARGS, else DEFAULT.
_spool_arg() {
	local def=$1
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--spool) def=${2:-$def}; shift ;;
		--spool=*) def=${1#--spool=} ;;
		esac
		shift
	done
	echo "$def"
}

# smtp_msgs DIR: print the ids (NNNN) of the messages stored in an SMTP spool.
smtp_msgs() {
	local f
	for f in "$1"/[0-9][0-9][0-9][0-9].env; do
		[ -e "$f" ] || continue
		f=${f##*/}
		echo "${f%.env}"
	done
}

# smtp_count DIR: print how many messages an SMTP spool holds.
smtp_count() { smtp_msgs "$1" | wc -l; }

# smtp_wait DIR N [TIMEOUT]: wait (default 10 s) until DIR holds at least N messages.
smtp_wait() { wait_for "[ \$(smtp_count '$1') -ge $2 ]" "${3:-10}"; }

# ------------------------------------------------------------------ dovecot

POP3_USER_UID=nobody
POP3_USER_GID=nogroup

# start_dovecot [--oauth2 INTROSPECTION_URL] [USER:PASS ...]: a real Dovecot
# POP3 server (default user alice:secret) in $T/dovecot, mail in
# $T/mail/USER (Maildir, owned by nobody:nogroup). Sets POP3_PORT (plain +
# STARTTLS), POP3S_PORT (implicit TLS), DOVECOT_PID. Log:
# $T/dovecot/dovecot.log. Auth mechanisms: PLAIN, LOGIN, APOP, CRAM-MD5, and
# USER/PASS; plaintext allowed without TLS. --oauth2 adds XOAUTH2 and
# OAUTHBEARER through Dovecot's oauth2 passdb, which checks each token at
# the introspection endpoint (RFC 7662, e.g. authserver.py's).
start_dovecot() {
	local d=$T/dovecot users u try
	_POSTIE_DOVECOT_OAUTH2=
	DOVECOT_SASL_PORT=
	while :; do
		case ${1:-} in
		--oauth2) _POSTIE_DOVECOT_OAUTH2=$2; shift 2 ;;
		# --sasl: its auth service on a loopback port for Postfix (and
		# DIGEST-MD5 offered too); sets DOVECOT_SASL_PORT.
		--sasl) DOVECOT_SASL_PORT=x; shift ;;
		*) break ;;
		esac
	done
	users=("$@")
	[ ${#users[@]} -gt 0 ] || users=(alice:secret)
	if [ -n "$_POSTIE_DOVECOT_PID" ]; then
		diag "start_dovecot: already running"
		return 1
	fi
	make_certs "$T/certs" || return 1
	[ -x /usr/sbin/dovecot ] || { diag "start_dovecot: /usr/sbin/dovecot not installed"; return 1; }
	mkdir -p "$d/run" "$d/state" "$T/mail" || return 1
	# dovecot's unprivileged processes (auth, login, mail as nobody) must reach $T
	chmod 755 "$T" "$T/mail" "$d"
	: >"$d/passwd"
	for u in "${users[@]}"; do
		printf '%s:{PLAIN}%s::::::\n' "${u%%:*}" "${u#*:}" >>"$d/passwd"
		_pop3_maildir "${u%%:*}" || return 1
	done
	chmod 644 "$d/passwd"
	# the free ports may be taken by someone else before dovecot binds them: retry
	for try in 1 2 3; do
		_dovecot_launch && return 0
		grep -q "in use" "$d/master.log" "$d/dovecot.log" 2>/dev/null || break
		diag "start_dovecot: port in use, trying again"
	done
	diag "dovecot did not start:" "$(tail -n 30 "$d/master.log" "$d/dovecot.log" 2>/dev/null)"
	return 1
}

_dovecot_launch() {
	local d=$T/dovecot ports
	: >"$d/master.log"
	: >"$d/dovecot.log"
	mapfile -t ports < <(free_port 3)
	POP3_PORT=${ports[0]}
	POP3S_PORT=${ports[1]}
	[ -n "$DOVECOT_SASL_PORT" ] && DOVECOT_SASL_PORT=${ports[2]}
	cat >"$d/dovecot.conf" <<EOF
# generated by tests/lib/lib.sh for one test script
base_dir = $d/run
state_dir = $d/state
instance_name = postie-test-$$
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
debug_log_path = $d/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$T/certs/server-chain.pem
ssl_key = <$T/certs/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login apop cram-md5${_POSTIE_DOVECOT_OAUTH2:+ xoauth2 oauthbearer}${DOVECOT_SASL_PORT:+ digest-md5}
auth_verbose = yes
auth_failure_delay = 0
login_greeting = Postie test Dovecot ready.
$(_dovecot_oauth2_passdb)
passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/passwd
}
userdb {
  driver = static
  args = uid=$POP3_USER_UID gid=$POP3_USER_GID home=$T/mail/%u
}
mail_location = maildir:$T/mail/%u
pop3_uidl_format = %g
# no growing delays after failed logins (tests fail logins on purpose)
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
$([ -n "$DOVECOT_SASL_PORT" ] && printf 'service auth {\n  inet_listener sasl {\n    address = 127.0.0.1\n    port = %s\n  }\n}\n' "$DOVECOT_SASL_PORT")
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $POP3S_PORT
    ssl = yes
  }
}
EOF
	/usr/sbin/dovecot -F -c "$d/dovecot.conf" </dev/null >>"$d/master.log" 2>&1 &
	DOVECOT_PID=$!
	_POSTIE_DOVECOT_PID=$DOVECOT_PID
	# stop dovecot even if this script is killed before its EXIT trap runs
	"$PY" "$TOP/tests/lib/watchdog.py" $$ "$DOVECOT_PID" </dev/null >/dev/null 2>&1 &
	_POSTIE_DOVECOT_WATCHDOG=$!
	if ! wait_for "! _alive $DOVECOT_PID || (port_open $POP3_PORT && port_open $POP3S_PORT && { [ -z '$DOVECOT_SASL_PORT' ] || port_open $DOVECOT_SASL_PORT; })" 10 ||
		! _alive "$DOVECOT_PID"; then
		stop_dovecot
		return 1
	fi
	return 0
}

# The oauth2 passdb of start_dovecot --oauth2 (nothing without it).
_dovecot_oauth2_passdb() {
	local d=$T/dovecot
	[ -n "$_POSTIE_DOVECOT_OAUTH2" ] || return 0
	cat >"$d/oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = $_POSTIE_DOVECOT_OAUTH2
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = $T/certs/ca.pem
EOF
	chmod 644 "$d/oauth2.conf.ext"
	printf 'passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = %s\n}\n' \
		"$d/oauth2.conf.ext"
}

# stop_dovecot: stop Dovecot and every process it started.
stop_dovecot() {
	local pid=$_POSTIE_DOVECOT_PID kids k
	[ -n "$pid" ] || return 0
	kids=$(_descendants "$pid" | tr "\n" " ")
	_stop_pid "$pid" 10
	# the master has gone; its children follow it within moments
	if ! wait_for "_none_alive $kids" 5; then
		for k in $kids; do kill -KILL "$k" 2>/dev/null; done
		wait_for "_none_alive $kids" 2
	fi
	[ -n "${_POSTIE_DOVECOT_WATCHDOG:-}" ] && _stop_pid "$_POSTIE_DOVECOT_WATCHDOG" 2
	_POSTIE_DOVECOT_PID= _POSTIE_DOVECOT_WATCHDOG= DOVECOT_PID=
}

# _pop3_maildir USER: create $T/mail/USER/{cur,new,tmp} owned by the mail uid.
_pop3_maildir() {
	local md=$T/mail/$1
	[ -d "$md/new" ] && return 0
	mkdir -p "$md/cur" "$md/new" "$md/tmp" &&
		chown -R "$POP3_USER_UID:$POP3_USER_GID" "$md" &&
		chmod 700 "$md" "$md/cur" "$md/new" "$md/tmp"
}

# pop3_put USER FILE: deliver FILE byte-exact as one new message into USER's
# Maildir (tmp/ then rename into new/). Messages put later sort later.
pop3_put() {
	local md=$T/mail/$1 file=$2 name
	[ -f "$file" ] || { diag "pop3_put: no file $file"; return 1; }
	mkdir -p "$T/mail" && _pop3_maildir "$1" || return 1
	_POSTIE_SEQ=$((_POSTIE_SEQ + 1))
	name=$(printf '%s.P%dQ%06d.postie-test' "$(date +%s)" $$ "$_POSTIE_SEQ")
	cp -- "$file" "$md/tmp/$name" &&
		chown "$POP3_USER_UID:$POP3_USER_GID" "$md/tmp/$name" &&
		chmod 600 "$md/tmp/$name" &&
		mv -- "$md/tmp/$name" "$md/new/$name"
}

# pop3_count USER: print the number of messages in USER's Maildir (cur/ + new/).
pop3_count() {
	local md=$T/mail/$1
	find "$md/cur" "$md/new" -maxdepth 1 -type f 2>/dev/null | wc -l
}

# ------------------------------------------------------------------ cleanup

_postie_exit() {
	local rc=$? p
	trap - EXIT
	stop_holders
	for p in "${_POSTIE_PIDS[@]}"; do _stop_pid "$p"; done
	_POSTIE_PIDS=()
	stop_dovecot
	if [ -n "$_TAP_PLANNED" ] && [ "$_TAP_PLANNED" != "$_TAP_N" ]; then
		diag "Looks like you planned $_TAP_PLANNED tests but ran $_TAP_N."
		[ "$rc" = 0 ] && rc=255
	fi
	if [ -z "$_TAP_PLANNED" ] && [ -z "$_TAP_DONE" ] && [ "$_TAP_N" -gt 0 ]; then
		diag "No plan: call plan N or done_testing (ran $_TAP_N tests)."
		[ "$rc" = 0 ] && rc=255
	fi
	if [ "$_TAP_FAILED" -gt 0 ]; then
		diag "Looks like you failed $_TAP_FAILED test(s) of $_TAP_N."
		[ "$rc" = 0 ] && rc=$((_TAP_FAILED > 254 ? 254 : _TAP_FAILED))
	fi
	if [ "${POSTIE_KEEP_TMP:-0}" = 1 ]; then
		diag "kept temp dir $T"
	else
		rm -rf -- "$T"
	fi
	exit "$rc"
}
trap _postie_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
