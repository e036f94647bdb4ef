# shellcheck shell=bash
# Helpers shared by the tests/sendmail-*.t scripts; source it after lib.sh:
#   . "$(dirname "$0")/lib/sendmail.sh"
# It makes the certificates and defines write_conf, check_gen, env_is, sm,
# mailq_of, crlf, lf and big_message.

make_certs "$T/certs" || bail_out "make_certs failed"

# root's built-in queue directory (where a message is saved when the
# configuration cannot be loaded): the test's, never the machine's spool.
export POSTIE_SPOOLDIR=$T/spool

# write_conf FILE PORT [LINE...]: a 0600 configuration with one smtp account
# "default" at localhost:PORT; each LINE goes into the smtp section.
# $QDIR is the queue (default $T/queue), $CONF_TOP extra top-level lines.
write_conf() {
	local file=$1 port=$2 l
	shift 2
	{
		echo 'domain = "example.org"'
		echo 'aliases = ""'
		echo 'log = "none"'
		echo "queue_dir = \"${QDIR:-$T/queue}\""
		echo "tls_ca_file = \"$T/certs/ca.pem\""
		[ -n "${CONF_TOP:-}" ] && printf '%s\n' "$CONF_TOP"
		echo 'smtp "default" {'
		echo '  host = "localhost"'
		echo "  port = $port"
		for l in "$@"; do echo "  $l"; done
		echo '}'
	} >"$file"
	chmod 600 "$file"
}

# strip.py IN OUT FIELD...: IN without the last header line of each FIELD,
# to OUT; prints each removed line, "MISSING F" or "DUPLICATE F".
cat >"$T/strip.py" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
end = data.find(b"\r\n\r\n")
head, rest = (data, b"") if end < 0 else (data[:end + 2], data[end + 2:])
lines = head.split(b"\r\n")
if lines and lines[-1] == b"":
    lines.pop()
out = []
for name in sys.argv[3:]:
    key = name.lower().encode() + b":"
    idx = [i for i, l in enumerate(lines) if l.lower().startswith(key)]
    if not idx:
        out.append("MISSING " + name)
        continue
    if len(idx) > 1:
        out.append("DUPLICATE " + name)
    out.append(lines[idx[-1]].decode("utf-8", "replace"))
    del lines[idx[-1]]
open(sys.argv[2], "wb").write(b"".join(l + b"\r\n" for l in lines) + rest)
print("\n".join(out))
EOF

DATE_RE='^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-2][0-9]:[0-5][0-9]:[0-6][0-9] [+-][0-9]{4}$'
MSGID_RE='^Message-ID: <[^<>@ ]+@example\.org>$'

# check_gen NAME GOT EXPECTED [FIELD...]: GOT equals EXPECTED once the
# FIELDs sendmail generates (default Date and Message-ID) are removed; each
# must be there exactly once and well formed.
check_gen() {
	local name=$1 got=$2 exp=$3 f line
	shift 3
	[ $# -gt 0 ] || set -- Date Message-ID
	if [ ! -f "$got" ]; then
		fail "$name: message received" "  $got does not exist"
		return 1
	fi
	"$PY" "$T/strip.py" "$got" "$T/stripped" "$@" >"$T/gen"
	for f in "$@"; do
		line=$(grep -i "^$f:\|^MISSING $f\$\|^DUPLICATE $f\$" "$T/gen" | head -n 2 | tr '\n' '|')
		case $f in
		Date) like "${line%|}" "$DATE_RE" "$name: Date added" ;;
		Message-ID) like "${line%|}" "$MSGID_RE" "$name: Message-ID added" ;;
		esac
	done
	cmp_file "$T/stripped" "$exp" "$name: bytes received"
}

# env_is NAME ENVFILE SENDER RCPT...: the envelope (recipients in any order).
env_is() {
	local name=$1 file=$2 sender=$3 got want
	shift 3
	if [ ! -f "$file" ]; then
		fail "$name: envelope" "  $file does not exist"
		return 1
	fi
	got=$(head -n 1 "$file"; tail -n +2 "$file" | sort)
	want=$(echo "$sender"; printf '%s\n' "$@" | sort)
	is "$got" "$want" "$name: envelope"
}

# sm CONF ARGS... < message: run sendmail (output in $T/last.out/.err).
sm() {
	local conf=$1
	shift
	_run "$SENDMAIL" -C "$conf" "$@"
}

# mailq CONF: `sendmail -bp` output.
mailq_of() { "$SENDMAIL" -C "$1" -bp 2>&1; }

crlf() { printf '%s\r\n' "$@"; }
lf() { printf '%s\n' "$@"; }

# big_message FILE LINES: a message whose LINES body lines (68 bytes each)
# all start with a dot, so that all need dot-stuffing: FILE with LF, and
# FILE.crlf as the server must receive it.
big_message() {
	"$PY" - "$1" "$2" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
data = "Subject: big\n\n" + "".join(".%05d %s\n" % (i, "x" * 60) for i in range(n))
open(path, "w").write(data)
open(path + ".crlf", "wb").write(data.replace("\n", "\r\n").encode())
EOF
}
