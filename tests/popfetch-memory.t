#!/bin/bash
# popfetch: memory stays constant whatever the message size: a 200 MB
# message is fetched over TLS into an mbox with a peak RSS of a few MB.
. "$(dirname "$0")/lib/lib.sh"
. "$TOP/popfetch/t/lib.sh"

[ -x /usr/bin/time ] || skip_all "GNU time (Debian package time) is not installed"
start_dovecot alice:secret || bail_out "cannot start dovecot"

# 200 MB of base64-like lines, written straight into the Maildir.
_pop3_maildir alice
big=$T/mail/alice/new/1.P1Q1.big
"$PY" - "$big" <<'PYEOF'
import sys
line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"Return-Path: <big@example.com>\nFrom: big@example.com\nSubject: 200 MB\n\n")
    chunk = line * 13000
    for _ in range(200 * 1024 * 1024 // len(chunk)):
        f.write(chunk)
PYEOF
chown "$POP3_USER_UID:$POP3_USER_GID" "$big"
size=$(stat -c %s "$big")
sum=$(sha256sum <"$big")

pf_conf "$T/conf" "port = $POP3S_PORT" 'tls = "tls"'

# Two SIGINTs (^C ^C) in the middle of it: stop at once, undo the message.
"$POPFETCH" -C "$T/conf" 2>"$T/int.err" &
pid=$!
while kill -0 "$pid" 2>/dev/null && [ "$(stat -c %s "$T/mbox" 2>/dev/null || echo 0)" -lt 2000000 ]; do :; done
kill -INT "$pid"
sleep 0.05
kill -INT "$pid"
t0=$(_now_us)
wait "$pid"
is "$?" 75 "a second SIGINT stops at once: exit 75"
ok "$([ $(( $(_now_us) - t0 )) -lt 2000000 ]; echo $?)" "within moments, not after 200 MB"
like "$(cat "$T/int.err")" 'stopped by a second signal: message 1 stays on the server' "says so"
is "$(stat -c %s "$T/mbox")" 0 "the half message is taken out of the mbox"
is "$(pop3_count alice)" 1 "and it stays on the server"
check "fetch a 200 MB message" /usr/bin/time -v -o "$T/time" "$POPFETCH" -C "$T/conf"
rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$T/time")
note "peak RSS: ${rss} kB for a $size byte message"
if plain_binaries; then
	ok "$([ -n "$rss" ] && [ "$rss" -le 32768 ]; echo $?)" "peak RSS ${rss} kB <= 32 MB"
else
	skip "peak RSS" "a sanitizer or wrapper measures its own memory"
fi
is "$(pop3_count alice)" 0 "the message is deleted from the server"
# The mbox: From_ line, the message, an empty line.
is "$(stat -c %s "$T/mbox")" "$(( $(head -n 1 "$T/mbox" | wc -c) + size + 1 ))" "the mbox holds the whole message"
is "$(tail -n +2 "$T/mbox" | head -c "$size" | sha256sum)" "$sum" "byte for byte"

done_testing
