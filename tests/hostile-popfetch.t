#!/bin/bash
# Hostile message content through popfetch into an mbox: From_ lines and
# ">From" in bodies and headers, NUL bytes, a line of 1 MB, a missing final
# newline, odd or hostile senders (Return-Path <>, spaces, control
# characters, an empty quoted display name), served byte for byte by the
# scripted POP3 server (tests/lib/faultpop3.py, mode normal).
#
# Each message must arrive whole: the mbox parses (one From_ line per
# message, the From_ line safe), every message reads back (mboxrd quoting
# undone) as what was served, and the server deletes only what was written.
# popfetch must never crash or hang, and its memory stays bounded.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

command -v /usr/bin/time >/dev/null || skip_all "/usr/bin/time not installed (Debian package time)"

KIND=plain
if [ "${POSTIE_SANITIZER:-}" = valgrind ] || [ "$(head -c 4 "$POPFETCH" 2>/dev/null)" != $'\x7fELF' ]; then
	KIND=wrapped
elif [ "${POSTIE_SANITIZER:-}" = asan ] || ldd "$POPFETCH" 2>/dev/null | grep -q 'libasan\|libclang_rt.asan'; then
	KIND=asan
fi

# conf FILE PORT MBOX: one pop3 account on the scripted server (plain, loopback).
conf() {
	cat >"$1" <<EOF
log = "none"
pop3 "inbox" {
  host = "127.0.0.1"
  port = $2
  tls = "none"
  user = "alice"
  password = "secret"
  mbox = "$3"
}
EOF
	chmod 600 "$1"
}

# fetch NAME MBOX FILE...: serves the FILEs, runs popfetch once into MBOX;
# then checks exit 0, the mbox reads back as the FILEs, all deleted.
fetch() {
	local name=$1 mbox=$2 n i
	shift 2
	local args=()
	for f in "$@"; do args+=(--message "$f"); done
	start_faultpop3 normal "${args[@]}" || { fail "$name: server started"; return 1; }
	conf "$T/conf" "$FAULT_PORT" "$mbox"
	_run /usr/bin/time -f %M -o "$T/rss" "$POPFETCH" -C "$T/conf"
	RSS=$(tail -n 1 "$T/rss" 2>/dev/null)
	case $RSS in '' | *[!0-9]*) RSS=0 ;; esac
	if [ "$LAST_STATUS" = 0 ]; then
		pass "$name: popfetch exit 0"
	else
		fail "$name: popfetch exit 0" "$(_run_diag "$POPFETCH" -C "$T/conf")"
	fi
	n=$(mbox_split "$mbox" "$T/split" 2>"$T/split.err")
	is "$n" $# "$name: the mbox parses into $# messages" || diag "$(cat "$T/split.err")"
	i=0
	for f in "$@"; do
		i=$((i + 1))
		# an empty message stays empty (expect_of models a server that adds a line)
		if [ -s "$f" ]; then expect_of "$f" "$T/expect"; else : >"$T/expect"; fi
		cmp_file "$T/split/$i" "$T/expect" "$name: message $i (${f##*/}) arrives byte for byte"
	done
	is "$(cat "$FAULT_SPOOL/deleted" 2>/dev/null | wc -l)" $# "$name: the server deleted $# messages"
	stop_server "$FAULT_PID"
}

M=$T/msgs
mkdir -p "$M"
printf 'From: a@example.org\nSubject: from lines\n\nFrom the start\n>From once\n>>From twice\nFrom\nFrom:\n  From indented\nFrom  two spaces\n' >"$M/from-lines"
printf 'From: b@example.org\nSubject: first body line\n\nFrom here on\n' >"$M/from-first"
printf 'From x@y Thu Nov 26 15:08:17 2026\nFrom: c@example.org\nSubject: an mbox line first\n\nbody\n' >"$M/mbox-line-first"
printf 'From: n@example.org\nSubject: nul\n\na\0b\nFrom \0\n\0\n' >"$M/nul-body"
printf 'From: n@example.org\nSubject: nul \0 in the header\n\nbody\n' >"$M/nul-header"
printf 'From: m@example.org\nSubject: no final newline\n\nlast line without one' >"$M/no-final-newline"
printf 'Return-Path: <>\nFrom: MAILER-DAEMON@example.org\nSubject: bounce\n\nbounced\n' >"$M/bounce"
printf 'Return-Path: <"a b"@example.org>\nFrom: s@example.org\nSubject: spaces in the sender\n\nx\n' >"$M/sender-spaces"
printf 'Return-Path: <a\tb\001c@example.org>\nSubject: controls in the sender\n\nx\n' >"$M/sender-controls"
printf 'Subject: no sender at all\n\nx\n' >"$M/no-sender"
printf 'From: r@example.org\nSubject: body is only a dot line\n\n.\n..\n.x\n' >"$M/dots"
printf '' >"$M/empty"

fetch "From_ lines, NUL, no final newline, odd senders" "$T/mbox1" \
	"$M/from-lines" "$M/from-first" "$M/mbox-line-first" "$M/nul-body" "$M/nul-header" \
	"$M/no-final-newline" "$M/bounce" "$M/sender-spaces" "$M/sender-controls" "$M/no-sender" \
	"$M/dots"
like "$(grep -a '^From ' "$T/mbox1" | cut -d' ' -f2 | tr '\n' ' ')" \
	'^a@example.org b@example.org [^ ]+ n@example.org n@example.org m@example.org MAILER-DAEMON [^ ]+ [^ ]+ MAILER-DAEMON r@example.org $' \
	"From_ lines: one per message, the sender one safe word"

{ printf 'From: big@example.org\nSubject: 1 MB line\n\n'; head -c 1048576 /dev/zero | tr '\0' 'x'; printf '\nFrom after the long line\n'; } >"$M/long-line"
{ printf 'From: big@example.org\nSubject: '; head -c 1048576 /dev/zero | tr '\0' 'h'; printf '\n\nbody\n'; } >"$M/long-header"
fetch "a line of 1 MB in the body and in the header" "$T/mbox2" "$M/long-line" "$M/long-header"
if [ "$KIND" = plain ]; then
	ok "$([ "$RSS" -gt 0 ] && [ "$RSS" -lt $((32 * 1024)) ]; echo $?)" \
		"a line of 1 MB: peak RSS $((RSS / 1024)) MB < 32 MB"
else
	skip "a line of 1 MB: peak RSS < 32 MB" "RSS is not the program's own under $KIND"
fi

printf 'From: "" <q@example.org>\nSubject: empty quoted display name, no Return-Path\n\nx\n' >"$M/empty-name"
fetch "From: with an empty quoted display name" "$T/mbox3" "$M/empty-name"

fetch "an empty message" "$T/mbox4" "$M/empty"

done_testing
