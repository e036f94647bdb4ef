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
mbox_count() { grep -c '^From ' "$1" 2>/dev/null || true; }
