#!/bin/bash
# What sendmail does to the bytes it reads: line endings (CRLF, LF, mixed,
# lone CR, none at the end), 8-bit data, a message without a header, lines
# too long for SMTP and NUL bytes (quoted-printable), --attach and
# --subject (checked with Python's email package), and a 200 MB message
# streamed in constant memory.
. "$(dirname "$0")/lib/lib.sh"

# ----------------------------------------------------------------- helpers
. "$(dirname "$0")/lib/sendmail.sh"


start_smtpd "$T/s" --plain || bail_out "smtpd did not start"
write_conf "$T/conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"'
N=0
# send NAME ARGS... < input: exit 0 and one message arrives ($M.msg, $M.env).
send() {
	local name=$1
	shift
	_run "$SENDMAIL" -C "$T/conf" "$@"
	is "$LAST_STATUS" 0 "$name: exit 0" || diag "$(cat "$T/last.err")"
	N=$((N + 1))
	M=$T/s/$(printf %04d "$N")
	smtp_wait "$T/s" "$N" 30 || { fail "$name: message delivered"; N=$(smtp_count "$T/s"); }
}
DATE='Date: Thu, 26 Nov 2026 10:00:00 +0000'
HDR=("From: Alice <alice@x.org>" "To: bob@x.org" "Subject: input test" "$DATE" "Message-ID: <input@x.org>")

# mime.py: checks on a received message with Python's email package.
#   qp MSG ORIGINAL_BODY: the body is quoted-printable and decodes to ORIGINAL_BODY
#   attach MSG FILE...: print the subject, the parts, and whether each attachment decodes to FILE
cat >"$T/mime.py" <<'PYEOF'
import sys, email
from email import policy
mode, path = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
m = email.message_from_bytes(raw, policy=policy.default)
crlf = lambda b: b.replace(b"\r\n", b"\n")
if mode == "qp":
    orig = open(sys.argv[3], "rb").read()
    print("type", m.get_content_type(), m.get("Content-Transfer-Encoding", "").strip().lower())
    body = m.get_payload(decode=True)
    print("decodes", "same" if crlf(body) == crlf(orig) else "DIFFERENT %r" % crlf(body)[:200])
    print("longest", max(len(l) for l in raw.split(b"\r\n")))
    print("bare-lf", b"\n" in raw.replace(b"\r\n", b""))
elif mode == "attach":
    print("subject", m["subject"])
    print("type", m.get_content_type())
    parts = list(m.iter_parts())
    print("parts", len(parts))
    text = parts[0]
    print("text", text.get_content_type(), repr(crlf(text.get_payload(decode=True))))
    for p, f in zip(parts[1:], sys.argv[3:]):
        data = p.get_payload(decode=True)
        want = open(f, "rb").read()
        print("part", p.get_content_type(), p.get_filename(), p.get_content_disposition(),
              "same" if data == want else "DIFFERENT (%d vs %d bytes)" % (len(data or b""), len(want)))
    print("longest", max(len(l) for l in raw.split(b"\r\n")))
elif mode == "bodysha":
    import hashlib
    i = raw.find(b"\r\n\r\n")
    print(hashlib.sha256(raw[i + 4:]).hexdigest())
PYEOF

# ---------------------------------------------------------- line endings
crlf "${HDR[@]}" "" "line one" "" "line three" "end" >"$T/le.exp"
send "CRLF input" -i bob@x.org <"$T/le.exp"
cmp_file "$M.msg" "$T/le.exp" "CRLF input: bytes unchanged"
env_is "CRLF input" "$M.env" me@example.org bob@x.org

tr -d '\r' <"$T/le.exp" >"$T/le.lf"
send "LF input" -i bob@x.org <"$T/le.lf"
cmp_file "$M.msg" "$T/le.exp" "LF input: sent with CRLF"

printf '%s\r\n%s\n%s\r\n%s\n%s\r\n\n%s\r\n%s\n%s\r\n%s\n' "${HDR[@]}" "line one" "" "line three" "end" >"$T/le.mixed"
send "mixed input" -i bob@x.org <"$T/le.mixed"
cmp_file "$M.msg" "$T/le.exp" "mixed CRLF/LF input: all CRLF"

printf '%s\r' "${HDR[@]}" "" "line one" "" "line three" "end" >"$T/le.cr"
send "lone CR input" -i bob@x.org <"$T/le.cr"
cmp_file "$M.msg" "$T/le.exp" "lone CR line endings: sent with CRLF"

printf '%s\n' "${HDR[@]}" "" "line one" "" "line three" >"$T/le.nonl"
printf 'end' >>"$T/le.nonl"
send "no final newline" -i bob@x.org <"$T/le.nonl"
cmp_file "$M.msg" "$T/le.exp" "no final newline: the last line arrives complete"
send "no final newline, no -i" bob@x.org <"$T/le.nonl"
cmp_file "$M.msg" "$T/le.exp" "no final newline, without -i: the last line arrives complete"

# ------------------------------------------ input arriving in small pieces
# 3000 lines with every kind of line end, ".x" and "..y" lines, empty and
# long lines, then a lone "." and more text; written to sendmail's stdin a
# few bytes at a time (pieces cut at CR, between CR and LF, inside "..").
cat >"$T/pieces.py" <<'PYEOF'
import os, random, sys, time
T, what = sys.argv[1], sys.argv[2]
if what == "make":
    random.seed(7)
    hdr = [b"From: Alice <alice@x.org>", b"To: bob@x.org", b"Subject: pieces",
           b"Date: Thu, 26 Nov 2026 10:00:00 +0000", b"Message-ID: <pieces@x.org>"]
    body = []
    for i in range(3000):
        k = random.choice(["plain", "dot", "dotdot", "empty", "long"])
        body.append({"plain": b"line %d text" % i, "dot": b".x%d" % i, "dotdot": b"..y%d" % i,
                     "empty": b"", "long": b"z" * random.randint(100, 900)}[k])
    inp, exp, expi = b"", b"", b""
    for l in hdr:
        e = random.choice([b"\r\n", b"\n"])
        inp += l + e
        exp += l + b"\r\n"
    inp += b"\n"
    exp += b"\r\n"
    expi = exp
    for j, l in enumerate(body):
        e = random.choice([b"\r\n", b"\n", b"\r"])
        if e == b"\r" and j + 1 < len(body) and body[j + 1] == b"":
            e = b"\r\n"  # a CR, then an empty LF line, reads as one CRLF
        inp += l + e
        exp += (l[1:] if l.startswith(b"..") else l) + b"\r\n"
        expi += l + b"\r\n"
    inp += b".\r\nafter the lone dot\r\n"
    expi += b".\r\nafter the lone dot\r\n"
    open(T + "/pieces.in", "wb").write(inp)
    open(T + "/pieces.exp", "wb").write(exp)
    open(T + "/pieces-i.exp", "wb").write(expi)
else:
    random.seed(int(what))
    data = open(T + "/pieces.in", "rb").read()
    out, i = sys.stdout.buffer, 0
    while i < len(data):
        n = random.choice([1, 1, 2, 3, 5, 7, 13, 64, 511, 4096])
        out.write(data[i:i + n])
        out.flush()
        i += n
        if random.random() < 0.01:
            time.sleep(0.001)
PYEOF
"$PY" "$T/pieces.py" "$T" make
for seed in 1 2; do
	"$PY" "$T/pieces.py" "$T" "$seed" | _run "$SENDMAIL" -C "$T/conf" bob@x.org
	is "$LAST_STATUS" 0 "small pieces ($seed), no -i: exit 0"
	N=$((N + 1)) M=$T/s/$(printf %04d "$N")
	smtp_wait "$T/s" "$N" 10
	cmp_file "$M.msg" "$T/pieces.exp" "small pieces ($seed), no -i: '..' un-stuffed, ends at the lone dot, CRLF"
	"$PY" "$T/pieces.py" "$T" "$seed" | _run "$SENDMAIL" -C "$T/conf" -i bob@x.org
	is "$LAST_STATUS" 0 "small pieces ($seed), -i: exit 0"
	N=$((N + 1)) M=$T/s/$(printf %04d "$N")
	smtp_wait "$T/s" "$N" 10
	cmp_file "$M.msg" "$T/pieces-i.exp" "small pieces ($seed), -i: every line kept, CRLF"
done

# ------------------------------------------------------------------ 8-bit
printf '%s\r\n' "From: Zoë <zoe@x.org>" "To: bob@x.org" "Subject: Grüße aus Köln ✓" "X-Latin1: caf$(printf '\351')" \
	"$DATE" "Message-ID: <8bit@x.org>" "MIME-Version: 1.0" "Content-Type: text/plain; charset=utf-8" \
	"Content-Transfer-Encoding: 8bit" "" "Ünïcödé ☕ body" "latin-1: $(printf '\351\340\374')" \
	"control: $(printf '\001\033[0m\177')" "high: $(printf '\200\201\376\377')" >"$T/8bit.exp"
tr -d '\r' <"$T/8bit.exp" >"$T/8bit.in"
send "8-bit" -i bob@x.org <"$T/8bit.in"
cmp_file "$M.msg" "$T/8bit.exp" "8-bit header and body passed through untouched"

# -------------------------------------------------- no header at all
printf '%s\n' "Hello there, this message has no header." "second line" >"$T/nohdr.in"
crlf "From: root <me@example.org>" "To: undisclosed-recipients:;" "" \
	"Hello there, this message has no header." "second line" >"$T/nohdr.exp"
send "no header" -i bob@x.org <"$T/nohdr.in"
check_gen "no header: header added, body kept" "$M.msg" "$T/nohdr.exp"
printf '\n%s\n' "body after an empty header" >"$T/nohdr2.in"
crlf "From: root <me@example.org>" "To: undisclosed-recipients:;" "" "body after an empty header" >"$T/nohdr2.exp"
send "empty header" -i bob@x.org <"$T/nohdr2.in"
check_gen "empty header: header added, body kept" "$M.msg" "$T/nohdr2.exp"

# ------------------------------------------- a 2000-byte line: quoted-printable
long=$(head -c 2000 /dev/zero | tr '\0' 'a')
{ printf '%s\n' "${HDR[@]}" ""; printf '%s\n' "short line" "$long" "x=1 and a tab	end" "Ünïcödé"; } >"$T/long.in"
printf '%s\n' "short line" "$long" "x=1 and a tab	end" "Ünïcödé" >"$T/long.body"
send "2000-byte line" -i bob@x.org <"$T/long.in"
"$PY" "$T/mime.py" qp "$M.msg" "$T/long.body" >"$T/long.chk" 2>&1
like "$(cat "$T/long.chk")" "type text/plain quoted-printable" "2000-byte line: re-encoded as quoted-printable"
like "$(cat "$T/long.chk")" "decodes same" "2000-byte line: decodes back to the original"
l=$(sed -n 's/^longest //p' "$T/long.chk")
[ "${l:-9999}" -le 998 ] && pass "2000-byte line: no line over 998 octets on the wire ($l)" ||
	fail "2000-byte line: no line over 998 octets on the wire" "$(cat "$T/long.chk")"
like "$(cat "$T/long.chk")" "bare-lf False" "2000-byte line: no bare LF on the wire"
is "$(head -n 5 "$M.msg" | tr -d '\r')" "$(printf '%s\n' "${HDR[@]}")" "2000-byte line: the original header fields are kept"

# ------------------------------------------------------ NUL in the body
printf '%s\n' "${HDR[@]}" "" "before" >"$T/nul.in"
printf 'one\0two\nthree\n' >>"$T/nul.in"
printf 'before\none\0two\nthree\n' >"$T/nul.body"
send "NUL in the body" -i bob@x.org <"$T/nul.in"
"$PY" "$T/mime.py" qp "$M.msg" "$T/nul.body" >"$T/nul.chk" 2>&1
like "$(cat "$T/nul.chk")" "type text/plain quoted-printable" "NUL in the body: re-encoded as quoted-printable"
like "$(cat "$T/nul.chk")" "decodes same" "NUL in the body: decodes back to the original"
tr -d '\n' <"$M.msg" | grep -qaP '\x00'
ok $((! $?)) "NUL in the body: no NUL byte on the wire"

# ---------------------------------------------------- NUL in a header
printf 'From: alice@x.org\nSubject: bad\0header\nTo: bob@x.org\n\nbody\n' >"$T/nulhdr.in"
_run "$SENDMAIL" -C "$T/conf" -i bob@x.org <"$T/nulhdr.in"
is "$LAST_STATUS" 65 "NUL in a header: exit 65"
like "$(cat "$T/last.err")" "NUL" "NUL in a header: says why"
sleep 0.2
is "$(smtp_count "$T/s")" "$N" "NUL in a header: nothing delivered"
is "$(mailq_of "$T/conf")" "Mail queue is empty" "NUL in a header: nothing queued"
is "$(find "$T/queue" -type f ! -name ".*" | wc -l)" 0 "NUL in a header: no file left in the queue directory"

# ------------------------------------------------------ --attach, --subject
head -c 1048576 /dev/urandom >"$T/random.bin"
printf 'col1,col2\n1,"two"\r\nno final newline' >"$T/notes.txt"
printf '%s\n' "Hello Bob," "" "two files attached." >"$T/att.in"
send "--attach" -i --subject "Grüße ✓ — monthly report" --attach "$T/random.bin" \
	--attach "$T/notes.txt" --attach-type text/x-custom-notes bob@x.org <"$T/att.in"
env_is "--attach" "$M.env" me@example.org bob@x.org
"$PY" "$T/mime.py" attach "$M.msg" "$T/random.bin" "$T/notes.txt" >"$T/att.chk" 2>&1
a=$(cat "$T/att.chk")
is "$(sed -n 's/^subject //p' "$T/att.chk")" "Grüße ✓ — monthly report" "--subject: UTF-8 decodes back"
like "$(grep -i '^Subject:' "$M.msg" | tr -d '\r')" '^Subject: [ -~]*=\?[Uu][Tt][Ff]-8\?[BbQq]\?' "--subject: RFC 2047-encoded on the wire"
like "$a" $'\ntype multipart/mixed\n' "--attach: multipart/mixed"
like "$a" $'\nparts 3\n' "--attach: text + two attachments"
# The CRLF before a boundary belongs to the delimiter (RFC 2046 5.1.1): without
# one more, the text loses its final line break (fixed in 21b453f).
like "$a" $'\ntext text/plain b\'Hello Bob,\\\\n\\\\ntwo files attached.\\\\n\'\n' "--attach: the text part holds the message body, final line break included"
like "$a" $'\npart application/octet-stream random.bin attachment same\n' "--attach: 1 MB binary decodes byte-exact (type from mime.types)"
like "$a" $'\npart text/x-custom-notes notes.txt attachment same\n' "--attach-type overrides the type; the text file decodes byte-exact"
l=$(sed -n 's/^longest //p' "$T/att.chk")
[ "${l:-9999}" -le 998 ] && pass "--attach: no line over 998 octets ($l)" || fail "--attach: no line over 998 octets" "$a"
[ -z "$(grep -v '^\(subject\|type\|parts\|text\|part\|longest\) ' "$T/att.chk")" ] ||
	diag "mime.py said:" "$a"

# --subject replaces the Subject in place; ASCII stays as it is
printf '%s\n' "From: Alice <alice@x.org>" "Subject: old subject" "To: bob@x.org" "$DATE" \
	"Message-ID: <subj@x.org>" "" "body" >"$T/subj.in"
crlf "From: Alice <alice@x.org>" "Subject: New plain subject" "To: bob@x.org" "$DATE" \
	"Message-ID: <subj@x.org>" "" "body" >"$T/subj.exp"
send "--subject ASCII" -i --subject "New plain subject" bob@x.org <"$T/subj.in"
cmp_file "$M.msg" "$T/subj.exp" "--subject: replaces the Subject in place, ASCII unencoded"

# an 8-bit body without Content-Type, a file name that is not ASCII
printf '%s\n' "Grüße aus Köln," "✓ done" >"$T/att8.in"
printf 'Zeile eins\nZeile zwei\n' >"$T/résumé 2026.txt"
send "--attach, 8-bit text, UTF-8 file name" -i --attach "$T/résumé 2026.txt" bob@x.org <"$T/att8.in"
"$PY" "$T/mime.py" attach "$M.msg" "$T/résumé 2026.txt" >"$T/att8.chk" 2>&1
a=$(cat "$T/att8.chk")
like "$a" $'\ntext text/plain b\'Gr\\\\xc3\\\\xbc\\\\xc3\\\\x9fe aus K\\\\xc3\\\\xb6ln,\\\\n\\\\xe2\\\\x9c\\\\x93 done\\\\n\'\n' \
	"--attach: the 8-bit text part decodes back"
like "$(tr -d '\r' <"$M.msg")" $'Content-Type: text/plain; charset=(utf-8|"utf-8"|UTF-8)\n' "--attach: the 8-bit text part says charset=utf-8"
like "$a" $'\npart text/plain résumé 2026.txt attachment same\n' "--attach: a UTF-8 file name (RFC 2231) decodes back, the file byte-exact"
unlike "$(tr -d '\r\n' <"$M.msg" | LC_ALL=C grep -c $'[\x80-\xff]')" '^[1-9]' "--attach: 7-bit on the wire"

_run "$SENDMAIL" -C "$T/conf" -i --attach "$T/does-not-exist.pdf" bob@x.org <"$T/att.in"
isnt "$LAST_STATUS" 0 "--attach of a missing file: fails"
like "$(cat "$T/last.err")" "does-not-exist" "--attach of a missing file: names it"
sleep 0.2
is "$(smtp_count "$T/s")" "$N" "--attach of a missing file: nothing sent"
is "$(mailq_of "$T/conf")" "Mail queue is empty" "--attach of a missing file: nothing queued"

# -------------------------------------------- a header field of 2500 bytes
# RFC 5322 2.1.1 / RFC 5321 4.5.3.1.6: no line over 998 octets. Folded at
# white space (and unfolding back to the same text), or refused (65).
# (Before 21b453f the header went out as it was, one 2258-octet line.)
words=$(seq -f 'word%04g' 1 250 | tr '\n' ' ' | sed 's/ $//')
printf '%s\n' "From: Alice <alice@x.org>" "To: bob@x.org" "Subject: $words" "$DATE" \
	"Message-ID: <longhdr@x.org>" "" "body" >"$T/longhdr.in"
printf '%s' "$words" >"$T/longhdr.subject"
_run "$SENDMAIL" -C "$T/conf" -i bob@x.org <"$T/longhdr.in"
if [ "$LAST_STATUS" = 0 ]; then
	N=$((N + 1))
	M=$T/s/$(printf %04d "$N")
	smtp_wait "$T/s" "$N" 10
	l=$(tr -d '\r' <"$M.msg" | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
	[ "$l" -le 998 ] && pass "2500-byte Subject: no line over 998 octets on the wire ($l)" ||
		fail "2500-byte Subject: no line over 998 octets on the wire" "  longest line: $l octets"
	is "$("$PY" -c 'import sys, email
from email import policy
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=policy.compat32)
print("".join(str(m["subject"]).replace("\r\n", "").split("\n")))' "$M.msg" | sed 's/\t/ /g')" "$words" \
		"2500-byte Subject: unfolds to the original text"
else
	is "$LAST_STATUS" 65 "2500-byte Subject: refused as a data error"
	sleep 0.2
	is "$(smtp_count "$T/s")" "$N" "2500-byte Subject: refused, nothing sent"
fi

# ------------------------------------------------- 200 MB in constant memory
# 419430 lines of 499 bytes + LF, piped in; they arrive with CRLF.
if [ -x /usr/bin/time ]; then
	line=$(head -c 499 /dev/zero | tr '\0' 'y')
	gen() { printf '%s\n' "${HDR[@]}" ""; yes "$line$1" | head -n 419430; }
	wantsize=$(($(crlf "${HDR[@]}" "" | wc -c) + 419430 * 501))
	wantsha=$(yes "$line"$'\r' | head -n 419430 | sha256sum | cut -d' ' -f1)
	gen "" | /usr/bin/time -f %M -o "$T/rss" timeout 120 "$SENDMAIL" -C "$T/conf" -i bob@x.org \
		2>"$T/big.err"
	st=$?
	is "$st" 0 "200 MB message: exit 0" || diag "$(cat "$T/big.err")"
	N=$((N + 1))
	M=$T/s/$(printf %04d "$N")
	smtp_wait "$T/s" "$N" 60 || fail "200 MB message: delivered"
	rss=$(tail -n 1 "$T/rss")
	if ! plain_binaries; then
		skip "200 MB message: peak RSS" "a sanitizer or wrapper measures its own memory"
	else
		[ "${rss:-999999}" -lt 32768 ] && pass "200 MB message: peak RSS ${rss} KB < 32 MB" ||
			fail "200 MB message: peak RSS under 32 MB" "got ${rss:-?} KB"
	fi
	is "$(stat -c %s "$M.msg" 2>/dev/null)" "$wantsize" "200 MB message: size"
	is "$("$PY" "$T/mime.py" bodysha "$M.msg")" "$wantsha" "200 MB message: body arrives byte-exact (sha256)"
	is "$(head -n 5 "$M.msg" | tr -d '\r')" "$(printf '%s\n' "${HDR[@]}")" "200 MB message: header unchanged"
	rm -f "$M.msg"
else
	skip "200 MB message in constant memory" "/usr/bin/time missing: apt-get install time"
fi

is "$(mailq_of "$T/conf")" "Mail queue is empty" "nothing left in the queue"
done_testing
