# shellcheck shell=bash
# Helpers shared by tests/popfetch-*.t, sourced after tests/lib/lib.sh.

MBOXPY=$TOP/popfetch/t/mbox.py
# State files go to the test directory, never to ~ or /var/lib.
export XDG_STATE_HOME=$T/state
unset POSTIE_CONF

# pf_conf FILE [KEY=VALUE lines for the account...]: a configuration with one
# pop3 account "inbox" for alice on the test Dovecot (STARTTLS), mbox $T/mbox
# unless a destination is given; mode 0600 (it holds a password).
pf_conf() {
	local f=$1 line dest=
	shift
	for line in "$@"; do
		case $line in mbox*|maildir*|mda*) dest=1 ;; esac
	done
	{
		echo 'log = "none"'
		echo "tls_ca_file = \"$T/certs/ca.pem\""
		echo 'pop3 "inbox" {'
		echo '  host = "localhost"'
		echo "  port = $POP3_PORT"
		echo '  user = "alice"'
		echo '  password = "secret"'
		[ -n "$dest" ] || echo "  mbox = \"$T/mbox\""
		for line in "$@"; do echo "  $line"; done
		echo '}'
	} >"$f"
	chmod 600 "$f"
}

# mbox_split MBOX DIR: the messages of MBOX as DIR/1..N; prints N; fails if
# the mbox does not parse cleanly.
mbox_split() {
	rm -rf "$2"
	"$PY" "$MBOXPY" split "$1" "$2"
}

# expect_of FILE OUT: what FILE becomes in an mbox (CRLF -> LF, final newline).
expect_of() { "$PY" "$MBOXPY" expect "$1" "$2"; }

# mbox_count MBOX: number of From_ lines.
mbox_count() { if [ -f "$1" ]; then grep -c '^From ' "$1"; else echo 0; fi; }

# bulk_put USER N SIZE [FIRST]: N messages of about SIZE bytes straight into
# USER's Maildir (as pop3_put does, without five processes per message).
# Message k has "Message-ID: <k@bulk>" and "Subject: bulk k"; k counts from
# FIRST (default 1).  bulk_msg K SIZE prints message K as it was put.
BULK_PY='
line = b"abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ !#$%&*+-/=?^_`{|}~\n"
def bulk_msg(k, size):
    head = b"From: sender%d@example.com\nTo: alice@example.com\nSubject: bulk %d\nMessage-ID: <%d@bulk>\n\n" % (k, k, k)
    return head + line * max(1, (size - len(head)) // len(line))
'
bulk_put() {
	_pop3_maildir "$1" || return 1
	"$PY" -c "$BULK_PY"'
import grp, os, pwd, sys, time
md, n, size, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
uid, gid = pwd.getpwnam(sys.argv[5]).pw_uid, grp.getgrnam(sys.argv[6]).gr_gid
now = int(time.time())
for k in range(first, first + n):
    data = bulk_msg(k, size)
    name = "%d.P%dQ%08d.bulk" % (now, os.getpid(), k)
    tmp = os.path.join(md, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.chown(tmp, uid, gid)
    os.chmod(tmp, 0o600)
    os.rename(tmp, os.path.join(md, "new", name))
' "$T/mail/$1" "$2" "$3" "${4:-1}" "$POP3_USER_UID" "$POP3_USER_GID"
}

# nolsan CMD...: CMD with LeakSanitizer off (make check-asan): it cannot work
# under ptrace, so a popfetch run under strace would abort at exit.
nolsan() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$@"; }

# pf_plain_conf FILE HOST PORT [KEY=VALUE lines...]: a configuration with one
# pop3 account "f" for alice:secret on a server without TLS (a scripted one,
# or Dovecot's plain port), the lines added to the section; mode 0600.
pf_plain_conf() {
	local f=$1 host=$2 port=$3 l
	shift 3
	{
		echo 'log = "none"'
		echo 'timeout = 10'
		echo 'pop3 "f" {'
		echo "  host = \"$host\""
		echo "  port = $port"
		echo '  tls = "none"'
		echo '  user = "alice"'
		echo '  password = "secret"'
		for l in "$@"; do echo "  $l"; done
		echo '}'
	} >"$f"
	chmod 600 "$f"
}
