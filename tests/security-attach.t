#!/bin/bash
# Issue 13, files and header values a caller hands to the setgid sendmail
# of `make install-system`, as two throwaway users:
#  - --attach opens the file once, with the caller's own rights, before the
#    message is read: a symbolic link swapped while stdin is held open does
#    not mail the system configuration (the password) or another user's
#    queued message;
#  - header values from the command line (-F, --subject, --attach-type, file
#    names) cannot carry CR, LF or other control characters: encoded, or
#    refused with exit 64 (an LF in --attach-type put "." and "MAIL FROM:"
#    lines into the DATA stream).
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/system.sh"

make_certs "$T/certs"
start_smtpd "$T/smtp" --plain --auth alice:topsecret || bail_out "smtpd"
put_conf "smtp \"default\" {
	host = \"127.0.0.1\"
	port = $SMTP_PORT
	tls = \"none\"
	auth = \"plain\"
	user = \"alice\"
	password = \"topsecret\"
}
smtp \"down\" {
	host = \"127.0.0.1\"
	port = 1
	tls = \"none\"
}"
like "$(stat -c '%G %a' "$CONF")" "^$GRP 640\$" "install-system: the configuration is root:$GRP 0640"
like "$(stat -c '%G %a' "$SM")" "^$GRP 2755\$" "install-system: sendmail is setgid $GRP"
N=0

# The other user's message, kept in the queue (-odq) for an account whose
# server is down (so that no send of user one's flushes it).
printf 'Subject: for the eyes of two\n\nthe words of user two\n' >"$H2/msg"
chown "$U2" "$H2/msg"
as "$U2" "$SM" -a down -odq -i carol@example.org <"$H2/msg"
is "$?" 0 "user two queues a message"
id2=$(spool_ids | head -1)
[ -n "$id2" ] || bail_out "nothing queued"

# b64_part FILE: the decoded body of the last base64 part of a received message.
b64_part() {
	"$PY" - "$1" <<'EOF'
import sys, email, email.policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
parts = [p for p in m.walk() if p.get("Content-Transfer-Encoding", "").lower() == "base64"]
sys.stdout.buffer.write(parts[-1].get_payload(decode=True) if parts else b"NO PART")
EOF
}

# swap_attach NAME TARGET: user one attaches $H1/link (pointing at a file of
# its own) with stdin held open; once sendmail has started, the link is
# pointed at TARGET; then the body ends.  The attachment must be the file
# the link named at the start.
swap_attach() {
	local name=$1 target=$2 pid fifo=$H1/fifo.$N
	printf 'my own harmless file\n' >"$H1/decoy"
	chown "$U1" "$H1/decoy"
	ln -sfn "$H1/decoy" "$H1/link"
	rm -f "$fifo"
	mkfifo "$fifo"
	chown "$U1" "$fifo"
	as_exec "$U1" "$SM" -i --attach "$H1/link" mallory@example.org <"$fifo" >"$T/swap.out" 2>"$T/swap.err" &
	pid=$!
	exec 7>"$fifo"
	printf 'Subject: %s\n\nsee the attachment\n' "$name" >&7
	# The fixed sendmail holds the decoy open by now; an old one would
	# check it with access() and open it only after the body.
	wait_for "ls -l /proc/$pid/fd 2>/dev/null | grep -q '$H1/decoy'" 5 ||
		note "$name: sendmail does not hold the file open yet"
	ln -sfn "$target" "$H1/link"
	printf 'more body\n' >&7
	exec 7>&-
	wait "$pid"
	is "$?" 0 "$name: sendmail exits 0"
	N=$((N + 1))
	if smtp_wait "$T/smtp" "$N" 10; then
		m=$T/smtp/$(printf %04d "$N").msg
		is "$(b64_part "$m")" "my own harmless file" "$name: the file attached is the one named at the start"
		unlike "$(b64_part "$m")" "topsecret|words of user two" "$name: no secret in the attachment"
	else
		fail "$name: the message was sent" "$(cat "$T/swap.err")"
	fi
}
swap_attach "swap to the configuration" "$CONF"
swap_attach "swap to user two's queued message" "$SPOOL/$id2.msg"

# Pointing at them from the start: the caller's own rights refuse it.
for target in "$CONF" "$SPOOL/$id2.msg"; do
	ln -sfn "$target" "$H1/link"
	printf 'Subject: direct\n\nbody\n' | as "$U1" "$SM" -i --attach "$H1/link" mallory@example.org \
		>/dev/null 2>"$T/err"
	is "$?" 66 "attaching ${target##*/} directly: exit 66"
	like "$(cat "$T/err")" "cannot read attachment $H1/link: Permission denied" \
		"attaching ${target##*/}: one line naming the file"
	as "$U1" "$SM" --attach "$target" mallory@example.org </dev/null >/dev/null 2>&1
	is "$?" 66 "attaching ${target##*/} by its own name: exit 66"
done
is "$(smtp_count "$T/smtp")" "$N" "nothing unreadable was sent"
is "$(spool_ids)" "$id2" "nothing was queued for it"

# A directory, a FIFO (bash's <(...)) and a file of the caller's own.
printf 'Subject: dir\n\nx\n' | as "$U1" "$SM" -i --attach "$H1" mallory@example.org >/dev/null 2>"$T/err"
is "$?" 66 "a directory as attachment: exit 66"
like "$(cat "$T/err")" "is a directory" "a directory: said so"
as "$U1" bash -c "printf 'Subject: fifo\n\nx\n' | '$SM' -i --attach <(printf 'from a pipe\n') mallory@example.org"
is "$?" 0 "a pipe as attachment (process substitution)"
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && is "$(b64_part "$T/smtp/$(printf %04d "$N").msg")" "from a pipe" \
	"the pipe's bytes are attached" || fail "the pipe's message arrived"

# ------------------------------------------------- header values, control characters
# An LF in --attach-type: refused before anything is sent.
printf 'Subject: smuggle\n\nbody\n' >"$H1/plain"
chown "$U1" "$H1/plain" "$H1/decoy"
as "$U1" "$SM" -i --attach "$H1/decoy" --attach-type $'text/plain\r\n.\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.net>' \
	mallory@example.org <"$H1/plain" 2>"$T/err"
is "$?" 64 "LF in --attach-type: exit 64"
like "$(cat "$T/err")" "--attach-type" "LF in --attach-type: the error names the option"
as "$U1" "$SM" -i --attach "$H1/decoy" --attach-type $'text/plain\x01' mallory@example.org <"$H1/plain" 2>/dev/null
is "$?" 64 "another control character in --attach-type: exit 64"
as "$U1" "$SM" -i --attach "$H1/decoy" --attach-type 'not a type' mallory@example.org <"$H1/plain" 2>/dev/null
is "$?" 64 "--attach-type that is not type/subtype: exit 64"
is "$(smtp_count "$T/smtp")" "$N" "nothing of those was sent"
grep -q 'evil@example.net' "$T/smtp/log" "$T"/smtp/*.env 2>/dev/null &&
	fail "the server never saw the smuggled MAIL FROM" || pass "the server never saw the smuggled MAIL FROM"

as "$U1" "$SM" -i -F $'Mal\nBcc: victim@example.net' mallory@example.org <"$H1/plain" 2>"$T/err"
is "$?" 64 "LF in -F: exit 64"
as "$U1" "$SM" -i -F $'Mal\x07lory' mallory@example.org <"$H1/plain"
is "$?" 0 "another control character in -F is encoded"
N=$((N + 1))
smtp_wait "$T/smtp" "$N" 10 && like "$(grep -a '^From:' "$T/smtp/$(printf %04d "$N").msg")" \
	'^From: =\?utf-8\?B\?[A-Za-z0-9+/=]+\?= <' "-F with a control character: an encoded word" ||
	fail "the -F message arrived"

as "$U1" "$SM" -i --subject $'one\r\nBcc: victim@example.net' mallory@example.org <"$H1/plain"
is "$?" 0 "LF in --subject is encoded"
N=$((N + 1))
if smtp_wait "$T/smtp" "$N" 10; then
	m=$T/smtp/$(printf %04d "$N").msg
	like "$(grep -a '^Subject:' "$m")" '^Subject: =\?utf-8\?B\?' "--subject with CRLF: an encoded word"
	unlike "$(sed '/^\r$/q' "$m")" $'\nBcc:' "--subject: no Bcc field was made"
else
	fail "the --subject message arrived"
fi

cp "$H1/decoy" "$H1/"$'evil\r\nContent-Type: text-html'
chown "$U1" "$H1/"evil*
as "$U1" "$SM" -i --attach "$H1/"$'evil\r\nContent-Type: text-html' mallory@example.org <"$H1/plain"
is "$?" 0 "a file name with CRLF is encoded (RFC 2231)"
N=$((N + 1))
if smtp_wait "$T/smtp" "$N" 10; then
	m=$T/smtp/$(printf %04d "$N").msg
	like "$(grep -a 'filename' "$m")" "filename\\*=utf-8''evil%0D%0AContent-Type%3A%20text-html" \
		"the file name: percent-encoded"
	is "$(grep -ac '^Content-Type: text-html' "$m")" 0 "no Content-Type field was made"
else
	fail "the file name message arrived"
fi

done_testing
