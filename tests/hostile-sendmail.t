#!/bin/bash
# Hostile input to sendmail, against a strict real SMTP server (smtpd.py
# refusing lines over 998 octets + CRLF): NUL bytes, 8-bit and invalid UTF-8
# in headers, lines of 1 MB, 100,000 header lines, a header line with no
# colon, no header, no blank line, CR alone as line ending, header injection
# through -f, -F, --subject and argv recipients, addresses with quotes,
# comments, groups and encoded words, -t with no recipients, a huge message.
#
# Each input must give a delivered message (checked byte for byte, or decoded
# with Python's email package) or one clear error line and a sysexits code:
# never a crash, a hang (every run has a time limit) or unbounded memory
# (peak RSS from /usr/bin/time).
#
# The big message is 200 MB by default, 1 GB with POSTIE_SLOW=1.  Under
# valgrind (SENDMAIL is not an ELF binary) it is 4 MB; the RSS bounds are
# not checked under ASan or valgrind, whose own memory they would measure.
. "$(dirname "$0")/lib/lib.sh"

command -v /usr/bin/time >/dev/null || skip_all "/usr/bin/time not installed (Debian package time)"
start_smtpd "$T/smtp" --plain --line-length-limit 1000 || bail_out "smtpd.py did not start"

CONF=$T/postie.conf
cat >"$CONF" <<EOF
domain = "example.org"
aliases = ""
log = "none"
queue_dir = "$T/queue"
smtp "default" {
  host = "127.0.0.1"
  port = $SMTP_PORT
  tls = "none"
  from = "me@example.org"
}
EOF
chmod 600 "$CONF"

# How sendmail is run: a plain binary, ASan, or a wrapper (valgrind).
KIND=plain
if [ "${POSTIE_SANITIZER:-}" = valgrind ] || [ "$(head -c 4 "$SENDMAIL" 2>/dev/null)" != $'\x7fELF' ]; then
	KIND=wrapped
elif [ "${POSTIE_SANITIZER:-}" = asan ] || ldd "$SENDMAIL" 2>/dev/null | grep -q 'libasan\|libclang_rt.asan'; then
	KIND=asan
fi
note "sendmail: $SENDMAIL ($KIND)"

# ------------------------------------------------------------------ helpers

# sm INPUT ARGS...: runs sendmail -C CONF ARGS < INPUT with the time limit;
# status in LAST_STATUS, stdout/stderr in $T/last.out/.err, peak RSS (kB) in RSS.
RSS=0
sm() {
	local in=$1
	shift
	_run /usr/bin/time -f %M -o "$T/rss" "$SENDMAIL" -C "$CONF" "$@" <"$in"
	RSS=$(tail -n 1 "$T/rss" 2>/dev/null)
	case $RSS in '' | *[!0-9]*) RSS=0 ;; esac
}

# count: messages the server holds; queued: entries in the queue.
count() { smtp_count "$T/smtp"; }
queued() { find "$T/queue" -maxdepth 1 -name '*.env' 2>/dev/null | wc -l; }
last_msg() { echo "$T/smtp/$(smtp_msgs "$T/smtp" | tail -n 1).msg"; }
last_env() { echo "$T/smtp/$(smtp_msgs "$T/smtp" | tail -n 1).env"; }

# delivered NAME: the last run exited 0 and one more message arrived.
BEFORE=0
start() { BEFORE=$(count); }
delivered() {
	local name=$1
	if [ "$LAST_STATUS" = 0 ] && [ "$(count)" = $((BEFORE + 1)) ]; then
		pass "$name: delivered"
	else
		fail "$name: delivered" "  exit $LAST_STATUS, messages $BEFORE -> $(count), queued $(queued)" \
			"$(head -c 2000 "$T/last.err")"
	fi
}

# refused NAME STATUS [REGEX]: the last run exited STATUS with one line
# "sendmail: ..." on stderr (matching REGEX), nothing sent, nothing queued.
# A usage error (64) may add the usage synopsis after that line.
refused() {
	local name=$1 want=$2 re=${3:-.} lines
	lines=$(grep -v -E '^(usage: |       | {8})' "$T/last.err" | wc -l)
	if [ "$LAST_STATUS" = "$want" ] && [ "$lines" = 1 ] &&
		head -n 1 "$T/last.err" | grep -q -E "^sendmail: " &&
		head -n 1 "$T/last.err" | grep -q -E -- "$re" &&
		[ "$(count)" = "$BEFORE" ] && [ "$(queued)" = 0 ]; then
		pass "$name: exit $want, one error line"
	else
		fail "$name: exit $want, one error line" \
			"  exit $LAST_STATUS (want $want), $lines stderr lines (want 1 matching /$re/)," \
			"  messages $BEFORE -> $(count), queued $(queued)" "$(head -c 2000 "$T/last.err" | cat -A)"
	fi
}

# new_envs: the envelope files of the messages that arrived since start.
new_envs() {
	smtp_msgs "$T/smtp" | tail -n +$((BEFORE + 1)) | sed "s|.*|$T/smtp/&.env|"
}

# rss_below NAME KB: peak RSS of the last run under KB (plain binaries only).
rss_below() {
	if [ "$KIND" != plain ]; then
		skip "$1: peak RSS under $(($2 / 1024)) MB" "RSS is not the program's own under $KIND"
	elif [ "$RSS" -gt 0 ] && [ "$RSS" -lt "$2" ]; then
		pass "$1: peak RSS $((RSS / 1024)) MB < $(($2 / 1024)) MB"
	else
		fail "$1: peak RSS under $(($2 / 1024)) MB" "  peak RSS ${RSS} kB"
	fi
}

# no_long_lines NAME FILE: every line of FILE ends with CRLF and has at most 998 octets.
no_long_lines() {
	local r
	r=$("$PY" - "$2" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
bad = []
if data and not data.endswith(b"\r\n"):
    bad.append("no final CRLF")
if b"\0" in data:
    bad.append("NUL byte")
lines = data.split(b"\r\n")
for i, l in enumerate(lines):
    if len(l) > 998:
        bad.append("line %d: %d octets" % (i + 1, len(l)))
    if b"\r" in l or b"\n" in l:
        bad.append("line %d: bare CR or LF" % (i + 1))
print("; ".join(bad[:5]) or "ok")
EOF
)
	is "$r" ok "$1: CRLF lines of at most 998 octets, no NUL"
}

# body_is NAME MSGFILE ORIGINAL: the message body, decoded by Python's email
# package (Content-Transfer-Encoding), equals ORIGINAL's bytes (line endings
# compared as LF).
cat >"$T/body.py" <<'EOF'
import email, email.policy, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
if msg.is_multipart():
    print("multipart"); sys.exit()
got = msg.get_payload(decode=True) or b""
want = open(sys.argv[2], "rb").read()
norm = lambda b: b.replace(b"\r\n", b"\n")
if norm(got) == norm(want):
    print("same (%s, %d bytes)" % (msg.get("Content-Transfer-Encoding", "none"), len(want)))
else:
    g, w = norm(got), norm(want)
    i = next((k for k in range(min(len(g), len(w))) if g[k] != w[k]), min(len(g), len(w)))
    print("differ: %d bytes decoded, %d expected, first difference at %d: %r vs %r"
          % (len(g), len(w), i, g[i:i + 20], w[i:i + 20]))
EOF
body_is() {
	local r
	r=$("$PY" "$T/body.py" "$2" "$3" 2>&1)
	like "$r" '^same' "$1: body decodes to the original bytes"
}

# header NAME FILE: the unfolded value(s) of header NAME in FILE (raw bytes).
header() {
	"$PY" - "$1" "$2" <<'EOF'
import sys
data = open(sys.argv[2], "rb").read()
head = data.split(b"\r\n\r\n", 1)[0]
name = sys.argv[1].lower().encode() + b":"
out, cur = [], None
for l in head.split(b"\r\n"):
    if l[:1] in (b" ", b"\t") and cur is not None:
        cur += l
        continue
    if cur is not None:
        out.append(cur)
    cur = l[len(name):].strip() if l.lower().startswith(name) else None
if cur is not None:
    out.append(cur)
sys.stdout.buffer.write(b"\n".join(out))
EOF
}

# --------------------------------------------------------- NUL, 8-bit, UTF-8

start
printf 'From: a@example.org\nTo: b@example.org\nSubject: a\0b\n\nbody\n' >"$T/in"
sm "$T/in" -t
refused "NUL in a header" 65 'NUL'

start
printf 'From: a@example.org\nTo: b@example.org\nX-Folded: x\n y\0z\n\nbody\n' >"$T/in"
sm "$T/in" -t
refused "NUL in a folded header line" 65 'NUL'

start
printf 'line one\nnul here:\0:and after\n\0\nlast\n' >"$T/body"
{ printf 'From: a@example.org\nTo: b@example.org\nSubject: nul\n\n'; cat "$T/body"; } >"$T/in"
sm "$T/in" -t
delivered "NUL in a single-part body"
no_long_lines "NUL in a single-part body" "$(last_msg)"
body_is "NUL in a single-part body" "$(last_msg)" "$T/body"
like "$(header Content-Transfer-Encoding "$(last_msg)")" '^quoted-printable$' \
	"NUL in a single-part body: sent as quoted-printable"

start
printf 'Content-Type: multipart/mixed; boundary=b\nMIME-Version: 1.0\nTo: b@example.org\n\n--b\n\nx\0y\n--b--\n' >"$T/in"
sm "$T/in" -t
refused "NUL in a multipart body" 65 'NUL'

start
printf 'From: Andr\xe9 <a@example.org>\nTo: b@example.org\nSubject: caf\xc3\xa9 \xff\xfe \xc3\x28 \xe2\x82\n\n8-bit body \xff\n' >"$T/in"
sm "$T/in" -t
delivered "8-bit and invalid UTF-8 in headers"
is "$(header Subject "$(last_msg)" | od -An -tx1 | tr -d ' \n')" \
	"$(printf 'caf\xc3\xa9 \xff\xfe \xc3\x28 \xe2\x82' | od -An -tx1 | tr -d ' \n')" \
	"8-bit and invalid UTF-8 in headers: Subject passed through byte for byte"
is "$(header From "$(last_msg)" | od -An -tx1 | tr -d ' \n')" \
	"$(printf 'Andr\xe9 <a@example.org>' | od -An -tx1 | tr -d ' \n')" \
	"8-bit and invalid UTF-8 in headers: From passed through byte for byte"

# ----------------------------------------------------------- 1 MB lines

start
head -c 1048576 /dev/zero | tr '\0' 'x' >"$T/body"
printf '\nsecond line\n' >>"$T/body"
{ printf 'To: b@example.org\nSubject: long body line\n\n'; cat "$T/body"; } >"$T/in"
sm "$T/in" -t
delivered "a body line of 1 MB"
no_long_lines "a body line of 1 MB" "$(last_msg)"
body_is "a body line of 1 MB" "$(last_msg)" "$T/body"
rss_below "a body line of 1 MB" $((32 * 1024))

# A multipart body cannot be re-encoded as a whole: its long lines are broken,
# and it must not get a Content-Transfer-Encoding other than 7bit/8bit/binary
# (RFC 2045 6.4), however its Content-Type is folded.
cat >"$T/mp.py" <<'EOF'
import email, email.policy, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.compat32)
cte = (m.get("Content-Transfer-Encoding") or "none").strip().lower()
parts = m.get_payload() if m.is_multipart() else []
print("multipart=%s parts=%d cte=%s" % (m.is_multipart(), len(parts), cte))
EOF
for fold in 'Content-Type: multipart/mixed; boundary="b"' $'Content-Type:\n multipart/mixed; boundary="b"'; do
	start
	{ printf 'To: b@example.org\nMIME-Version: 1.0\n%s\n\n--b\nContent-Type: text/plain\n\n' "$fold"
	  head -c 1500 /dev/zero | tr '\0' 'x'; printf '\n--b--\n'; } >"$T/in"
	what="a multipart body with a 1500-octet line ($(printf '%s' "$fold" | tr '\n' ' ' | cut -c1-24)...)"
	sm "$T/in" -t
	delivered "$what"
	no_long_lines "$what" "$(last_msg)"
	is "$("$PY" "$T/mp.py" "$(last_msg)")" "multipart=True parts=1 cte=none" \
		"$what: still one multipart, no encoding on it"
done

start
{ printf 'To: b@example.org\nSubject: '; head -c 1048576 /dev/zero | tr '\0' 'y'; printf '\n\nbody\n'; } >"$T/in"
sm "$T/in" -t
if [ "$LAST_STATUS" = 65 ]; then
	refused "a header line of 1 MB, no white space" 65
else
	# folded by sendmail: the server (998 octets a line at most) must take it
	delivered "a header line of 1 MB, no white space"
	if [ "$(count)" -gt "$BEFORE" ]; then
		no_long_lines "a header line of 1 MB, no white space" "$(last_msg)"
		is "$(header Subject "$(last_msg)" | tr -d ' \t' | wc -c)" 1048576 \
			"a header line of 1 MB, no white space: every character arrives"
	fi
fi
rss_below "a header line of 1 MB, no white space" $((64 * 1024))

start
{ printf 'To: b@example.org\nSubject:'; for i in $(seq 1 100000); do printf ' word%05d' "$i"; done; printf '\n\nbody\n'; } >"$T/in"
sm "$T/in" -t
delivered "a header line of 1 MB of words"
no_long_lines "a header line of 1 MB of words" "$(last_msg)"
is "$(header Subject "$(last_msg)" | tr -s ' \t' ' ' | md5sum)" \
	"$(for i in $(seq 1 100000); do printf ' word%05d' "$i"; done | sed 's/^ //' | md5sum)" \
	"a header line of 1 MB of words: unfolds to the same words"

start
{ printf 'To: b@example.org\nSubject: '; head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' 'z'; printf '\n\nbody\n'; } >"$T/in"
sm "$T/in" -t
refused "a header line of 17 MB (over the 16 MB header limit)" 65 'header'
rss_below "a header line of 17 MB" $((128 * 1024))

# ------------------------------------------------------ 100,000 header lines

start
{ printf 'To: b@example.org\nSubject: many\n'; seq -f 'X-Line-%06g: value' 1 100000; printf '\nbody\n'; } >"$T/in"
sm "$T/in" -t
delivered "100,000 header lines"
is "$(grep -c '^X-Line-' "$(last_msg)")" 100000 "100,000 header lines: all arrive"
rss_below "100,000 header lines" $((64 * 1024))

# Folding costs must stay linear: 300,000 continuation lines (2.4 MB, far
# below the 16 MB header limit) take well under a second when they are.
case $KIND in plain) folds=300000 limit=15 ;; asan) folds=300000 limit=40 ;; *) folds=20000 limit=120 ;; esac
start
{ printf 'To: b@example.org\nSubject: many folds\nX-Folded: start\n'; seq -f ' f%g' 1 "$folds"; printf '\nbody\n'; } >"$T/in"
POSTIE_CMD_TIMEOUT=$limit sm "$T/in" -t
if [ "$LAST_STATUS" = 124 ]; then
	fail "one field folded over $folds lines: done within ${limit}s" "  timed out (killed after ${limit}s)"
else
	delivered "one field folded over $folds lines"
	is "$(grep -a -c '^ f' "$(last_msg)")" "$folds" "one field folded over $folds lines: all arrive"
fi

# ------------------------------------------------------- header structure

start
printf 'From: a@example.org\nTo: b@example.org\nThis line has no colon\nSubject: after\n\nbody\n' >"$T/in"
sm "$T/in" -t
delivered "a header line with no colon"
"$PY" - "$(last_msg)" >"$T/r" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
head, _, body = data.partition(b"\r\n\r\n")
print("in body" if b"This line has no colon\r\n" in body else "not in body")
print("no colon line in header" if b"This line has no colon" not in head else "in header")
EOF
is "$(cat "$T/r")" "in body
no colon line in header" "a header line with no colon: it and what follows are the body"

start
printf 'just a body line\nand: another one\n' >"$T/body"
sm "$T/body" b@example.org
delivered "a message with no header"
"$PY" - "$(last_msg)" >"$T/r" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
head, sep, body = data.partition(b"\r\n\r\n")
names = sorted(set(l.split(b":")[0].decode() for l in head.split(b"\r\n") if l[:1] not in (b" ", b"\t")))
print(" ".join(names))
print(body.decode("utf-8", "replace"), end="")
EOF
is "$(cat "$T/r")" "Date From Message-ID To
just a body line"$'\r'"
and: another one"$'\r' "a message with no header: headers added, the text kept as the body"

start
printf 'To: b@example.org\nSubject: no blank line and no newline' >"$T/in"
sm "$T/in" -t
delivered "a header without a blank line or final newline"
like "$(header Subject "$(last_msg)")" '^no blank line and no newline$' \
	"a header without a blank line or final newline: Subject kept"
no_long_lines "a header without a blank line or final newline" "$(last_msg)"

start
printf '' >"$T/in"
sm "$T/in" b@example.org
delivered "an empty message"

start
printf 'To: b@example.org\rSubject: cr only\r\rbody one\rbody two\r' >"$T/in"
sm "$T/in" -t
delivered "CR alone as line ending"
no_long_lines "CR alone as line ending" "$(last_msg)"
like "$(header Subject "$(last_msg)")" '^cr only$' "CR alone as line ending: header lines split"
is "$("$PY" -c 'import sys; print(repr(open(sys.argv[1],"rb").read().split(b"\r\n\r\n",1)[1]))' "$(last_msg)")" \
	"b'body one\\r\\nbody two\\r\\n'" "CR alone as line ending: body lines split"

start
printf 'To: b@example.org\r\nSubject: mixed\n\r\nline\r\rline2\n' >"$T/in"
sm "$T/in" -t
delivered "mixed CRLF, LF and CR"
no_long_lines "mixed CRLF, LF and CR" "$(last_msg)"

# ------------------------------------------------------------- injection

start
printf 'Subject: inj\n\nbody\n' >"$T/in"
sm "$T/in" -f $'a@example.org\nBcc: evil@example.net' b@example.org
refused "-f with a newline" 64

start
sm "$T/in" -f $'a@example.org\rRCPT TO:<evil@example.net>' b@example.org
refused "-f with a CR" 64

start
sm "$T/in" -f 'a@example.org> <evil@example.net' b@example.org
refused "-f with angle brackets inside" 64

start
sm "$T/in" -F $'Name\nBcc: evil@example.net' b@example.org
refused "-F with a newline" 64

start
sm "$T/in" -F $'Name\r\nX-Injected: yes' b@example.org
refused "-F with CRLF" 64

start
sm "$T/in" $'b@example.org\nBcc: evil@example.net'
refused "argv recipient with a newline" 64

start
sm "$T/in" $'b@example.org>\r\nRCPT TO:<evil@example.net'
refused "argv recipient with SMTP command injection" 64

start
sm "$T/in" 'b@example.org> <evil@example.net'
is "$(cat $(new_envs) /dev/null | grep -c evil)" 0 \
	"argv recipient with angle brackets inside: evil never an envelope recipient"

start
sm "$T/in" --subject $'hello\nBcc: evil@example.net' b@example.org
delivered "--subject with a newline"
is "$(grep -a -c -i '^Bcc:' "$(last_msg)")" 0 "--subject with a newline: no Bcc header"
like "$(cat "$(last_env)")" $'^me@example.org\nb@example.org$' "--subject with a newline: envelope untouched"

start
printf 'To: b@example.org\nBcc: hidden@example.org\nSubject: bcc\n\nx\n' >"$T/in"
sm "$T/in" -t
delivered "Bcc"
is "$(grep -a -c -i -E '^bcc:' "$(last_msg)")" 0 "Bcc: removed from the header"
is "$(tail -n +2 "$(last_env)" | sort | tr '\n' ' ')" "b@example.org hidden@example.org " \
	"Bcc: still a recipient"

start
printf 'To: b@example.org\nResent-To: c@example.org\nResent-Bcc: r@example.org\nSubject: resent\n\nx\n' >"$T/in"
sm "$T/in" -t
delivered "Resent-Bcc"
is "$(grep -a -c -i -E '^resent-bcc:' "$(last_msg)")" 0 "Resent-Bcc: removed from the header"
is "$(tail -n +2 "$(last_env)" | sort | tr '\n' ' ')" "c@example.org r@example.org " \
	"Resent-Bcc: recipients are the Resent set"

# ---------------------------------------------------- addresses from -t

start
cat >"$T/in" <<'EOF'
From: Sender (the boss) <a@example.org>
To: "Doe, John" <john@example.org>, (a comment) jane@example.org (another),
 Team: t1@example.org, "quoted local"@example.org;, =?utf-8?B?w6lsw6h2ZQ==?= <eleve@example.org>
Cc: Empty:; , <@route.example:routed@example.org>, root
Subject: addresses

body
EOF
sm "$T/in" -t
delivered "addresses with quotes, comments, groups and encoded words"
is "$(tail -n +2 "$(last_env)" | sort | tr '\n' ' ')" \
	'"quoted local"@example.org eleve@example.org jane@example.org john@example.org root@example.org routed@example.org t1@example.org ' \
	"addresses with quotes, comments, groups and encoded words: envelope recipients"

start
printf 'To: "" <x@example.org>\nSubject: empty display name\n\nbody\n' >"$T/in"
sm "$T/in" -t
delivered "To: with an empty quoted display name"

start
printf 'From: "" <root>\nTo: x@example.org\nSubject: empty display name in From\n\nbody\n' >"$T/in"
sm "$T/in" -t
delivered "From: with an empty quoted display name"

start
printf 'To: x@example.org, "unterminated <y@example.org>\nSubject: junk\n\nbody\n' >"$T/in"
sm "$T/in" -t
[ "$LAST_STATUS" -lt 128 ] && [ "$LAST_STATUS" != 124 ]
ok $? "To: with an unterminated quote: no crash or hang (exit $LAST_STATUS)"

start
printf 'Subject: nobody\nFrom: a@example.org\n\nbody\n' >"$T/in"
sm "$T/in" -t
refused "-t with no recipients" 64 'recipient'

start
printf 'To: undisclosed-recipients:;\nCc: Empty:;\nSubject: nobody\n\nbody\n' >"$T/in"
sm "$T/in" -t
refused "-t with only empty groups" 64 'recipient'

# --------------------------------------------------------- a big message

if [ "$KIND" = wrapped ]; then
	mb=4
elif [ "${POSTIE_SLOW:-0}" = 1 ]; then
	mb=1024
else
	mb=200
fi
line='QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3'
nlines=$((mb * 1024 * 1024 / (${#line} + 1)))
start
t0=$(date +%s)
# The message is made on the fly and never stored but in the queue and the server.
_run bash -c 'printf "To: b@example.org\nSubject: big\n\n" | cat - <(yes "$1" | head -n "$2") |
	/usr/bin/time -f %M -o "$3" "$4" -C "$5" -t' sh "$line" "$nlines" "$T/rss" "$SENDMAIL" "$CONF"
RSS=$(tail -n 1 "$T/rss" 2>/dev/null)
case $RSS in '' | *[!0-9]*) RSS=0 ;; esac
secs=$(($(date +%s) - t0))
delivered "a message of $mb MB"
note "a message of $mb MB: ${secs}s, peak RSS $((RSS / 1024)) MB"
rss_below "a message of $mb MB" $((32 * 1024))
if [ "$(count)" -gt "$BEFORE" ]; then
	got=$("$PY" - "$(last_msg)" <<'EOF'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = f.read(65536)
        if not chunk:
            break
        head += chunk
    i = head.find(b"\r\n\r\n")
    h.update(head[i + 4:])
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())
EOF
)
	want=$(yes "$line" | head -n "$nlines" | sed 's/$/\r/' | sha256sum | cut -d' ' -f1)
	is "$got" "$want" "a message of $mb MB: the body arrives byte for byte (CRLF)"
fi
rm -f "$T"/smtp/*.msg

done_testing
