#!/bin/bash
# popfetch against real POP3 servers besides Dovecot (issue 11): Courier's
# (Debian's courier-pop with courier-authdaemon, over a userdb backend and
# over PAM) and popa3d, unpacked from Debian's packages and run in
# namespaces of their own (tests/lib/pop3servers.sh).  A mixed corpus
# (8-bit and UTF-8 headers, From_ lines, dots, a 5 MB message, no final
# newline) is fetched byte-exact in keep mode, then in delete mode.
#
# How the servers differ, and what each case checks:
#  - Courier offers SASL PLAIN LOGIN CRAM-MD5 whatever its backend can
#    check: over PAM, CRAM-MD5 always fails (auth = "auto" must not pick it);
#    over userdb with an hmac-md5pw, it works.  It refuses without an RFC 3206
#    code.  It offers UTF8 (RFC 6856) and, unless the client sends it, replaces
#    every message with raw UTF-8 in its header by a "Cannot display Unicode
#    content" notice from postmaster.  PIPELINING, STLS, LOGIN-DELAY 10.
#  - popa3d has no CAPA (-ERR), no SASL, no APOP, no PIPELINING: USER/PASS
#    and one command at a time.  It serves an mbox (/var/mail/USER): what it
#    sends is what the mbox holds, so its corpus has no unquoted From_ line
#    and no message without a final newline.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"
. "$TOP/tests/lib/pop3servers.sh"

require_root "the servers run in namespaces of their own"
pop3servers_unpack || skip_all "cannot download or unpack courier-pop and popa3d"

M=$T/corpus
mkdir -p "$M"
hdr() { printf 'Return-Path: <%s>\nFrom: %b\nTo: alice@example.com\nSubject: %b\n\n' "$1" "$2" "$3"; }
{ hdr j@example.org 'J\303\266rg M\303\274ller <j@example.org>' 'Gr\303\274\303\237e aus K\303\266ln \342\202\254'
  printf 'raw UTF-8 in the header: Courier needs UTF8 for it\nK\303\266ln\n'; } >"$M/01-utf8"
{ hdr l@example.org 'l@example.org' 'latin-1 body'
  printf 'caf\351 \374ber\n\377\376 high bytes\n'; } >"$M/02-8bit"
{ hdr a@example.org 'a@example.org' 'from lines'
  printf 'From here\n>From there\n>>From everywhere\nFromage\n From indented\n'; } >"$M/03-from"
{ hdr b@example.org 'b@example.org' 'dots'
  printf '.\n.leading dot\n..two dots\n...\nmiddle\n.\n'; } >"$M/04-dots"
{ hdr f@example.org 'f@example.org' 'no final newline'; printf 'the end has no newline'; } >"$M/05-nofinal"
"$PY" - "$M/06-big" <<'PYEOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"Return-Path: <big@example.org>\nFrom: big@example.org\nSubject: 5 MB\n\n")
    line = b"0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?\n"
    for i in range(5 * 1024 * 1024 // len(line)):
        f.write(b".dot at the start\n" if i % 1000 == 0 else line)
PYEOF
grep -q $'K\xc3\xb6ln \xe2\x82\xac' "$M/01-utf8" || bail_out "the corpus lost its raw UTF-8 header"
E=$T/expect
mkdir -p "$E"
for f in "$M"/*; do expect_of "$f" "$E/${f##*/}"; done

# same_set DIR-A DIR-B: true when the files of A and of B hold the same bytes (as multisets).
same_set() {
	"$PY" - "$1" "$2" <<'PY'
import hashlib, os, sys
def digests(d):
    return sorted(hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest() for n in os.listdir(d))
a, b = digests(sys.argv[1]), digests(sys.argv[2])
if a != b:
    sys.stderr.write("%d vs %d messages, %d differ\n" % (len(a), len(b), len(set(a) ^ set(b))))
sys.exit(a != b)
PY
}

# conf FILE NAME PORT USER TLS [KEY=VALUE...]
conf() {
	local f=$1 name=$2 port=$3 user=$4 tls=$5 l
	shift 5
	{
		echo 'log = "none"'
		echo "tls_ca_file = \"$T/certs/ca.pem\""
		echo "pop3 \"$name\" {"
		echo '  host = "localhost"'
		echo "  port = $port"
		echo "  tls = \"$tls\""
		echo "  user = \"$user\""
		echo '  password = "secret"'
		for l in "$@"; do echo "  $l"; done
		echo '}'
	} >"$f"
	chmod 600 "$f"
}

mcount() { if [ -f "$1" ]; then grep -c '^From ' "$1"; else echo 0; fi; }

# corpus_run SERVER CONF COUNT-FN EXPECT-DIR: keep, again, then delete mode.
corpus_run() {
	local s=$1 c=$2 count=$3 exp=$4 n
	n=$(ls "$exp" | wc -l)
	check "$s: keep mode" "$POPFETCH" -C "$c" -k
	is "$(cat "$T/last.err")" "" "$s: nothing on stderr"
	mbox_split "$T/$s.mbox" "$T/$s.split" >/dev/null
	ok $? "$s: the mbox parses"
	same_set "$T/$s.split" "$exp"
	ok $? "$s: keep mode: every message byte-exact"
	is "$($count)" "$n" "$s: keep mode: all still on the server"
	check "$s: keep mode again" "$POPFETCH" -C "$c" -k
	is "$(mcount "$T/$s.mbox")" "$n" "$s: nothing fetched twice"
	rm -f "$T/$s.mbox"
	check "$s: delete mode" "$POPFETCH" -C "$c"
	# Recorded by the keep runs: in delete mode they are deleted without a second fetch.
	is "$($count)" 0 "$s: delete mode: the server is empty"
	is "$(mcount "$T/$s.mbox")" 0 "$s: what keep mode fetched is not fetched again"
	rm -rf "$XDG_STATE_HOME"
	"$s"_refill
	check "$s: delete mode from scratch" "$POPFETCH" -C "$c"
	mbox_split "$T/$s.mbox" "$T/$s.split2" >/dev/null
	same_set "$T/$s.split2" "$exp"
	ok $? "$s: delete mode: every message byte-exact"
	is "$($count)" 0 "$s: delete mode: the server is empty"
}

# ---------------------------------------------------------------- Courier, userdb
start_courier userdb || bail_out "Courier (userdb) did not start"
courier_refill() { local f; for f in "$M"/*; do courier_put "$f" || return 1; done; }
courier_refill || bail_out "courier_put"
conf "$T/courier.conf" courier "$COURIER_PORT" pc starttls "mbox = \"$T/courier.mbox\""
check "Courier: --serverinfo" "$POPFETCH" -C "$T/courier.conf" --serverinfo
like "$(cat "$T/last.out")" $'\nCapabilities: SASL PLAIN LOGIN CRAM-MD5\n' "Courier offers SASL PLAIN LOGIN CRAM-MD5"
like "$(cat "$T/last.out")" $'\n +UTF8 USER\n' "and UTF8"
like "$(cat "$T/last.out")" $'\nLogin: +ok, as pc \\(PLAIN\\)' "auto: PLAIN"
like "$(cat "$T/last.out")" $'\nUTF8: +offered, enabled after the login' "UTF8 is accepted after the login"
corpus_run courier "$T/courier.conf" courier_count "$E"
courier_refill
conf "$T/cram.conf" cram "$COURIER_PORT" pc starttls 'auth = "cram-md5"' "mbox = \"$T/cram.mbox\"" 'keep = true'
check 'Courier over userdb: auth = "cram-md5" works' "$POPFETCH" -C "$T/cram.conf" --serverinfo
like "$(cat "$T/last.out")" $'\nLogin: +ok, as pc \\(CRAM-MD5\\)' "CRAM-MD5"
conf "$T/user.conf" user "$COURIER_PORT" pc starttls 'auth = "user"' "mbox = \"$T/user.mbox\"" 'keep = true'
check 'Courier: auth = "user"' "$POPFETCH" -v -C "$T/user.conf"
like "$(cat "$T/last.err")" $'> USER pc\npopfetch: < \\+OK' 'USER/PASS, although SASL is offered'
unlike "$(cat "$T/last.err")" '> AUTH' 'no AUTH'
conf "$T/apop.conf" apop "$COURIER_PORT" pc starttls 'auth = "apop"' "mbox = \"$T/apop.mbox\""
check_status 77 'Courier: auth = "apop", no APOP timestamp: exit 77' "$POPFETCH" -C "$T/apop.conf"
like "$(cat "$T/last.err")" "the server's greeting has no APOP timestamp \\(it offers PLAIN LOGIN CRAM-MD5 USER\\)" \
	"says why, and what is offered"
stop_courier

# ---------------------------------------------------------------- Courier, PAM
start_courier pam || bail_out "Courier (PAM) did not start"
courier_put "$M/01-utf8"
conf "$T/pam.conf" pam "$COURIER_PORT" pc starttls "mbox = \"$T/pam.mbox\""
check "Courier over PAM, CRAM-MD5 offered: auth = \"auto\" logs in" "$POPFETCH" -v -C "$T/pam.conf"
like "$(cat "$T/last.err")" '> AUTH PLAIN <redacted>' "with PLAIN"
unlike "$(cat "$T/last.err")" 'AUTH CRAM-MD5' "not with the CRAM-MD5 the backend cannot check"
mbox_split "$T/pam.mbox" "$T/pam.split" >/dev/null
cmp_file "$T/pam.split/1" "$E/01-utf8" "the UTF-8 header message arrives as it is (UTF8 sent)"
is "$(courier_count)" 0 "and is deleted"
courier_put "$M/02-8bit"
conf "$T/pamcram.conf" pamcram "$COURIER_PORT" pc starttls 'auth = "cram-md5"' "mbox = \"$T/pamcram.mbox\""
check_status 77 'Courier over PAM: auth = "cram-md5" is refused: exit 77' "$POPFETCH" -C "$T/pamcram.conf"
like "$(cat "$T/last.err")" '^popfetch: pamcram: localhost: authentication failed: -ERR [^(]*\(tried CRAM-MD5; the server offers PLAIN LOGIN CRAM-MD5 USER\)$' \
	"the error names CRAM-MD5 and what is offered"
is "$(courier_count)" 1 "nothing deleted"
stop_courier

# ---------------------------------------------------------------- popa3d
start_popa3d || bail_out "popa3d did not start"
# An mbox holds no unquoted From_ line and no message without a final newline.
P=$T/pcorpus PE=$T/pexpect
mkdir -p "$P" "$PE"
for f in "$M"/*; do
	case ${f##*/} in
	*-from) sed 's/^From /X-From /' "$f" >"$P/${f##*/}" ;;
	*-nofinal) { cat "$f"; echo; } >"$P/${f##*/}" ;;
	*) cp "$f" "$P/" ;;
	esac
	expect_of "$P/${f##*/}" "$PE/${f##*/}"
done
popa3d_refill() { local f; for f in "$P"/*; do popa3d_put "$f"; done; }
popa3d_refill
conf "$T/popa3d.conf" popa3d "$POPA3D_PORT" pa none "mbox = \"$T/popa3d.mbox\""
sed -i 's/host = "localhost"/host = "127.0.0.1"/' "$T/popa3d.conf"
check "popa3d: --serverinfo" "$POPFETCH" -C "$T/popa3d.conf" --serverinfo
like "$(cat "$T/last.out")" $'\nCapabilities: none \\(the server does not answer CAPA\\)' "popa3d: no CAPA"
like "$(cat "$T/last.out")" $'\nLogin: +ok, as pa \\(USER\\)' "USER/PASS"
corpus_run popa3d "$T/popa3d.conf" popa3d_count "$PE"
stop_popa3d

done_testing
