#!/bin/bash
# make demo: Postie's main job, end to end, on loopback, in a temp directory.
#
# A real SMTP server (aiosmtpd, STARTTLS + AUTH) and a real Dovecot POP3
# server are started; ./sendmail sends a text message with an attachment
# through the SMTP server, which hands it to the Dovecot mailbox; ./popfetch
# fetches it into demo/inbox.mbox.  Everything started is stopped at the end,
# and everything written stays in demo/ ($POSTIE_DEMO_DIR) or the temp
# directory: the queue, the log, and popfetch's state (XDG_STATE_HOME, which
# for root would otherwise be /var/lib/postie/popfetch).
. "$(dirname "$0")/lib/lib.sh"

DEMO=${POSTIE_DEMO_DIR:-$TOP/demo}
say() { printf '%s\n' "$*"; }
die() { say "demo: $*" >&2; exit 1; }

rm -rf "$DEMO"
mkdir -p "$DEMO"
export XDG_STATE_HOME=$DEMO/state
make_certs "$T/certs" || die "cannot make certificates"
cp "$T/certs/ca.pem" "$DEMO/ca.pem"
start_smtpd "$T/smtp" --starttls --auth demo:demo-password --require-auth ||
	die "cannot start the SMTP server"
start_dovecot demo:demo-password || die "cannot start Dovecot"

cat >"$DEMO/postie.conf" <<CONF
# Written by make demo: both servers ran on loopback and are gone now.
domain      = "example.org"
aliases     = ""
log         = "$DEMO/postie.log"
queue_dir   = "$DEMO/queue"
tls_ca_file = "$DEMO/ca.pem"
connection_cache = 0	# no connection kept open after the demo

smtp "demo" {
	host     = "localhost"
	port     = $SMTP_PORT
	tls      = "starttls"
	user     = "demo"
	password = "demo-password"
	from     = "demo@example.org"
}

pop3 "demo" {
	host     = "localhost"
	port     = $POP3_PORT
	tls      = "starttls"
	user     = "demo"
	password = "demo-password"
	mbox     = "$DEMO/inbox.mbox"
}
CONF
chmod 600 "$DEMO/postie.conf"

printf 'day,requests,errors\n2026-11-25,18234,3\n2026-11-26,19410,0\n' >"$DEMO/report.csv"
say "1. sendmail: a report with an attachment, over STARTTLS with AUTH to localhost:$SMTP_PORT"
printf 'To: demo@example.org\n\nHello from Postie.\nThe daily report is attached.\n' |
	"$SENDMAIL" -C "$DEMO/postie.conf" -i -t --subject "Daily report ✓" \
		--attach "$DEMO/report.csv" || die "sendmail failed"
smtp_wait "$T/smtp" 1 10 || die "the SMTP server received nothing"
say "   the server received $(wc -c <"$T/smtp/0001.msg") bytes for $(tail -n +2 "$T/smtp/0001.env" | tr '\n' ' ')"
say "   mailq: $("$SENDMAIL" -C "$DEMO/postie.conf" -bp | head -1)"

# The SMTP server's delivery: into the Dovecot mailbox of user demo.
tr -d '\r' <"$T/smtp/0001.msg" >"$T/delivered"
pop3_put demo "$T/delivered" || die "cannot deliver into the Dovecot mailbox"

say "2. popfetch: POP3 with STARTTLS from localhost:$POP3_PORT into the mbox"
"$POPFETCH" -C "$DEMO/postie.conf" || die "popfetch failed"
[ -s "$DEMO/inbox.mbox" ] || die "the mbox is empty"
say "   $DEMO/inbox.mbox: $(grep -c '^From ' "$DEMO/inbox.mbox") message, $(wc -c <"$DEMO/inbox.mbox") bytes"
say "   $(head -1 "$DEMO/inbox.mbox")"
say "   $(grep -m1 '^Subject:' "$DEMO/inbox.mbox")"
say "   messages left on the server: $(pop3_count demo)"

# The attachment, taken back out of the mbox.
if "$PY" - "$DEMO/inbox.mbox" "$DEMO/report.csv" <<'PY'; then
import mailbox, sys
msg = next(iter(mailbox.mbox(sys.argv[1])))
part = [p for p in msg.walk() if p.get_filename()][0]
ok = part.get_payload(decode=True) == open(sys.argv[2], 'rb').read()
print("   attachment %s (%s): %s" % (part.get_filename(), part.get_content_type(),
      "identical to the file sent" if ok else "DIFFERENT from the file sent"))
sys.exit(0 if ok else 1)
PY
	say "3. done: the servers are stopped; the config, queue, log, state and mbox stay in $DEMO/"
else
	die "the attachment did not come back intact"
fi
