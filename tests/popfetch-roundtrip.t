#!/bin/bash
# popfetch: byte-exact round trip through a real Dovecot into mbox, Maildir
# and an mda command.
#
# What goes into the server comes back identical, except for two documented
# normalisations: CRLF line endings become LF (mbox, Maildir and mda all get
# LF lines), and a message without a final newline gets one (POP3 itself
# cannot carry a message without one; an empty message arrives from Dovecot
# as one empty line, and is stored so).
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

start_dovecot alice:secret || bail_out "cannot start dovecot"

M=$T/msgs
mkdir -p "$M"
hdr() { printf 'Return-Path: <%s>\nFrom: Sender <%s>\nTo: alice@example.com\nSubject: %s\n\n' "$1" "$1" "$2"; }

{ hdr a@example.com "from lines"
  printf 'From here\n>From there\n>>From everywhere\nFrom\nFromage\n From indented\n>From\n>>>From >From\n'; } >"$M/01-from"
{ hdr b@example.com "dots"
  printf '.\n.leading dot\n..two dots\n...\n.\r\nmiddle\n.'; } >"$M/02-dots"
{ hdr c@example.com "8bit"
  printf 'UTF-8: J\303\266rg \342\202\254 \360\237\223\254\nLatin-1: caf\351 \374ber\n\377\376 high bytes\n'; } >"$M/03-8bit"
printf 'Return-Path: <d@example.com>\r\nFrom: d@example.com\r\nSubject: crlf\r\n\r\nline one\r\nline two\r\n\r\nFrom crlf\r\n' >"$M/04-crlf"
printf 'From: e@example.com\nSubject: mixed\r\n\nlf\ncrlf\r\nlf again\n' >"$M/05-mixed"
{ hdr f@example.com "no final newline"; printf 'the end has no newline'; } >"$M/06-nofinal"
hdr g@example.com "empty body" >"$M/07-emptybody"
printf 'From: h@example.com\nSubject: headers only, no empty line\n' >"$M/08-headersonly"
{ hdr i@example.com "long line"; head -c 150000 /dev/zero | tr '\0' 'x'; echo; } >"$M/09-longline"
printf 'Return-Path: <>\nFrom: MAILER-DAEMON@example.com (Mail Delivery System)\nSubject: bounce\n\nnull sender\n' >"$M/10-bounce"
printf 'Subject: no sender at all\n\nbody\n' >"$M/11-nosender"
"$PY" - "$M/12-bigheader" <<'PYEOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Return-Path: <big@example.com>\n")
    for i in range(25000):
        f.write(b"X-Filler-%05d: %s\n" % (i, b"y" * 50))
    f.write(b"Subject: header over 1 MB\n\nbody after a big header\nFrom the body\n")
PYEOF
"$PY" - "$M/13-attach20m" <<'PYEOF'
import base64, random, sys
r = random.Random(3)
with open(sys.argv[1], "wb") as f:
    f.write(b"Return-Path: <m@example.com>\nFrom: m@example.com\nSubject: 20 MB attachment\n"
            b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=BB\n\n--BB\n"
            b"Content-Type: text/plain\n\nsee attachment\nFrom the text part\n.\n--BB\n"
            b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n")
    raw = r.randbytes(15 * 1024 * 1024)
    b = base64.encodebytes(raw)
    f.write(b)
    f.write(b"--BB--\n")
PYEOF
printf '' >"$M/14-empty"

n=0
for f in "$M"/*; do
	pop3_put alice "$f" || bail_out "pop3_put $f"
	n=$((n + 1))
done
E=$T/expect
mkdir -p "$E"
for f in "$M"/*; do expect_of "$f" "$E/${f##*/}"; done

# ---- mbox over STARTTLS, keep mode so the same messages serve Maildir and mda
pf_conf "$T/conf" 'keep = true'
check "fetch into an mbox over STARTTLS" "$POPFETCH" -C "$T/conf"
is "$(cat "$T/last.out")" "" "nothing on stdout"
is "$(cat "$T/last.err")" "" "nothing on stderr when not on a terminal"
is "$(stat -c %a "$T/mbox")" 600 "mbox created with mode 0600"
got=$(mbox_split "$T/mbox" "$T/split")
ok $? "the mbox parses cleanly"
is "$got" "$n" "$n messages in the mbox"
i=0
for f in "$E"/*; do
	i=$((i + 1))
	cmp_file "$T/split/$i" "$f" "mbox round trip: ${f##*/}"
done
senders=$(grep '^From ' "$T/mbox" | cut -d' ' -f2 | tr '\n' ' ')
is "$senders" "a@example.com b@example.com c@example.com d@example.com e@example.com f@example.com g@example.com h@example.com i@example.com MAILER-DAEMON MAILER-DAEMON big@example.com m@example.com MAILER-DAEMON " \
	"From_ lines: Return-Path, else From, else MAILER-DAEMON (also for <>)"
like "$(grep -c '^>From here$' "$T/mbox")" '^1$' "mboxrd: a From line is quoted once"
like "$(grep -c '^>>>>From >From$' "$T/mbox")" '^1$' "mboxrd: a quoted From line gets one more >"
is "$(tail -c 2 "$T/mbox" | od -An -c | tr -d ' ')" '\n\n' "the mbox ends with an empty line"
is "$(pop3_count alice)" "$n" "keep: all messages still on the server"

# ---- the same again with POP3S into a Maildir
rm -rf "$T/state"
pf_conf "$T/conf2" "port = $POP3S_PORT" 'tls = "tls"' "maildir = \"$T/Maildir\"" 'keep = true'
check "fetch into a Maildir over POP3S" "$POPFETCH" -C "$T/conf2"
ok "$([ -d "$T/Maildir/cur" ] && [ -d "$T/Maildir/tmp" ]; echo $?)" "Maildir tree created"
is "$(find "$T/Maildir/new" -type f | wc -l)" "$n" "$n files in new/"
is "$(find "$T/Maildir/tmp" -type f | wc -l)" 0 "nothing left in tmp/"
sums() { for f in "$@"; do sha256sum <"$f"; done | sort; }
is "$(sums "$T/Maildir/new"/*)" "$(sums "$E"/*)" "Maildir files equal what was put (LF line endings)"

# ---- mda: message on stdin, %F the sender, shell-quoted
mkdir -p "$T/mda"
cat >"$T/mda.sh" <<EOS
#!/bin/sh
n=\$(ls "$T/mda" | grep -c '\.msg\$')
cat >"$T/mda/\$n.msg"
printf '%s\n' "\$1" >"$T/mda/\$n.sender"
EOS
chmod +x "$T/mda.sh"
rm -rf "$T/state"
pf_conf "$T/conf3" "mda = \"$T/mda.sh %F\"" 'keep = true'
check "fetch into an mda command" "$POPFETCH" -C "$T/conf3"
is "$(ls "$T/mda" | grep -c '\.msg$')" "$n" "the mda ran once per message"
is "$(sums "$T/mda"/*.msg)" "$(sums "$E"/*)" "the mda got each message on stdin (LF line endings)"
is "$(cat "$T/mda/0.sender")" "a@example.com" "%F is the envelope sender"
is "$(cat "$T/mda/9.sender")" "MAILER-DAEMON" "%F for a bounce is MAILER-DAEMON"

# A sender full of shell syntax reaches the command as one word, unexpanded.
rm -rf "$T/state" "$T/mda" "$T/mail/alice" && mkdir -p "$T/mda"
printf "Return-Path: <\"x';touch \$T/pwned;'\\\$(touch \$T/pwned2)\"@example.com>\nSubject: evil\n\nhi\n" >"$T/evil"
pop3_put alice "$T/evil"
check "mda with a hostile sender" "$POPFETCH" -C "$T/conf3"
ok "$([ ! -e "$T/pwned" ] && [ ! -e "$T/pwned2" ]; echo $?)" "no shell injection through %F"
like "$(cat "$T/mda/0.sender")" "touch" "the hostile sender arrived as one argument"

# mda failure: the message stays on the server, exit 74.
rm -rf "$T/state"
pf_conf "$T/conf4" 'mda = "cat >/dev/null; exit 3"'
check_status 74 "a failing mda: exit 74" "$POPFETCH" -C "$T/conf4"
like "$(cat "$T/last.err")" "inbox: mda .* failed with exit status 3" "the mda failure is reported"
is "$(pop3_count alice)" 1 "a message the mda refused stays on the server"
pf_conf "$T/conf5" 'mda = "cat >/dev/null; exit 75"'
check_status 75 "an mda exiting 75: temporary failure" "$POPFETCH" -C "$T/conf5"

done_testing
