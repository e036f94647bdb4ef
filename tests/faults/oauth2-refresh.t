#!/bin/bash
# Fault injection at every call on the OAuth 2.0 token file of a sendmail
# that refreshes an expired token (issue 16): its read, its lock, the temp
# file's open, writes and fsync, the rename (errors, and SIGKILL at each
# write, fsync and rename).  The authorization server rotates refresh tokens
# and revokes the grant when an old one comes back, as strict providers do.
#
# After each case, and a clean `sendmail -q` (with --authorize first when
# the grant was lost): the token file is whole (old or new, never cut), the
# message was delivered exactly once, and a rotated refresh token that could
# not be saved was said to be lost by the faulted run (never silently).
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/inject.sh"
. "$TOP/tests/lib/oauth2.sh"

command -v strace >/dev/null || skip_all "no strace"
start_authserver "$T/auth" --client postie-test || bail_out "authserver did not start"
o2_smtpd "$T/smtp" || bail_out "smtpd did not start"
tok=$T/tok/work.json
conf=$T/postie.conf
cat >"$conf" <<CONF
aliases = ""
log = "$T/postie.log"
queue_dir = "$T/queue"
tls_ca_file = "$T/certs/ca.pem"
connection_cache = 0
$(o2_smtp_section work "$SMTP_PORT" "$tok" 'oauth2_scope = "mail"')
CONF
# strace on the token file, its temp file and its lock only
cat >"$T/strace-tok" <<EOF
#!/bin/sh
exec strace -P "$tok" -P "$tok.new" -P "$tok.lock" "\$@"
EOF
chmod +x "$T/strace-tok"
INJECT_STRACE=$T/strace-tok

authorize() {
	o2_authorize "$T/authorize.out" "$SENDMAIL" -C "$conf" --authorize -a work
	[ "$O2_STATUS" = 0 ] ||
		bail_out "--authorize failed ($O2_STATUS): $(tail -n 2 "$T/authorize.out" | tr '\n' ' ')"
}
queued() { ls "$T/queue"/*.env 2>/dev/null | wc -l; }
delivered() { grep -l -x -F "Subject: $1"$'\r' "$T/smtp"/*.msg 2>/dev/null | wc -l; }
msg() { printf 'To: bob@example.org\nSubject: %s\n\nbody\n' "$1"; }

authorize
o2_expire "$tok"
msg "count" | inject_count openat "$SENDMAIL" -C "$conf" -i bob@example.org >/dev/null
for sc in read write fsync rename flock fchmod; do
	o2_expire "$tok"
	msg "count" | inject_count "$sc" "$SENDMAIL" -C "$conf" -i bob@example.org >/dev/null
done
smtp_wait "$T/smtp" 7 || bail_out "the counting runs did not deliver"
points=$(inject_sweep_points openat read write fsync rename flock fchmod)
[ -n "$points" ] || bail_out "no call on the token file was counted"
cases=$(echo "$points" | awk '{ e = $1 == "openat" ? "EACCES" : $1 == "write" ? "ENOSPC" : "EIO"
	print $1 ":error=" e ":when=" $2 }
	$1 == "write" || $1 == "fsync" || $1 == "rename" { print $1 ":signal=KILL:when=" $2 }')
note "$(echo "$points" | awk '{ n[$1]++ } END { for (s in n) printf "%s %d  ", s, n[s] }')"

n=0
while read -r spec; do
	[ -n "$spec" ] || continue
	n=$((n + 1))
	t0=$SECONDS
	o2_expire "$tok"
	rt_before=$(o2_field "$tok" refresh_token)
	msg "case $n" >"$T/msg.$n"
	inject_run "$spec" "$SENDMAIL" -C "$conf" -i bob@example.org <"$T/msg.$n"
	if [ "$INJECT_FIRED" = 0 ]; then
		fail "$spec: the fault fired"
		continue
	fi
	why=$(grep -v '^\*\|^strace' "$T/inject.err" | head -n 3)
	# the token file is whole: old or new, never cut
	whole=$(o2_field "$tok" version 2>/dev/null)
	# A clean queue run, then a probe that refreshes again: a grant lost by
	# this case shows in one of them, and authorizing again mends it.
	needed=0
	: >"$T/q.err"
	for step in queue probe; do
		if [ $step = probe ]; then
			o2_expire "$tok"
			msg "probe $n" | "$SENDMAIL" -C "$conf" -i bob@example.org 2>>"$T/q.err"
		fi
		"$SENDMAIL" -C "$conf" -q 2>>"$T/q.err"
		if [ "$(queued)" != 0 ] && grep -q -e "--authorize -a work" "$T/q.err" "$T/queue"/*.env; then
			needed=1
			authorize
			"$SENDMAIL" -C "$conf" -q 2>>"$T/q.err"
		fi
	done
	got=$(delivered "case $n")
	[ "$(delivered "probe $n")" = 1 ] || got="$got (probe $(delivered "probe $n"))"
	lost_said=0
	grep -q 'the new refresh token is lost' "$T/inject.err" && lost_said=1
	killed=0
	[ "$INJECT_STATUS" -ge 128 ] && killed=1
	ok=1
	[ "$whole" = 1 ] || ok=0
	[ "$got" = 1 ] && [ "$(queued)" = 0 ] || ok=0
	# losing the rotated token is never silent: said by the run, or the run was killed
	[ "$needed" = 0 ] || [ "$lost_said" = 1 ] || [ "$killed" = 1 ] ||
		[ "$(o2_field "$tok" refresh_token)" = "$rt_before" ] || ok=0
	# a case takes a second or two: say where the time went if not
	[ $((SECONDS - t0)) -lt 30 ] || note "$spec took $((SECONDS - t0)) s; events:" \
		"$(tail -n 5 "$AUTH_SPOOL/events")" "processes: $(ps -eo pid,etime,args | grep -c '[s]endmail -C')"
	if [ "$ok" = 1 ]; then
		pass "$spec: token file whole, delivered once$([ "$needed" = 1 ] && echo ", grant lost and said so")"
	else
		fail "$spec" "exit $INJECT_STATUS, fired $INJECT_FIRED, file version '$whole'," \
			"delivered $got, queued $(queued), authorize needed $needed, lost said $lost_said" \
			"its stderr: $why" "the queue run: $(head -n 3 "$T/q.err")"
	fi
done <<<"$cases"

[ "$n" -ge 8 ]
ok $? "at least 8 injection cases ($n)"
o2_no_secrets "no secret in what the faulted runs printed or logged" "$T"
done_testing
