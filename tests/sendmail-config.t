#!/bin/bash
# A configuration that cannot be loaded (issue 12): the message and its
# command line are saved unprocessed in the built-in queue directory, exit
# 75 with the error and the id; the first run that loads the configuration
# completes it exactly as a normal submission with those arguments would,
# and sends it, once.  "No configuration" names the files looked for; -bp
# and -bi exit 78.  A user file with only pop3 sections does not hide
# /etc/postie.conf.  The saved files are hostile input.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"

SAVED=$POSTIE_SPOOLDIR/saved
start_smtpd "$T/s" --plain || bail_out "smtpd"
printf 'team: alice@example.net, bob\n' >"$T/aliases"
good() { # FILE [LINE...]: a working configuration with the aliases file
	local f=$1
	shift
	write_conf "$f" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"' "$@"
	sed -i "s|^aliases = \"\"|aliases = \"$T/aliases\"|" "$f"
}
nsaved() { find "$SAVED" -name '*.args' 2>/dev/null | wc -l; }
# msgs SUBJECT: the spool files of the messages with that Subject
msgs() { grep -l "^Subject: $1"$'\r'"\$" "$T"/s/[0-9]*.msg 2>/dev/null; }
lf "From: root (Cron Daemon)" "To: team, carol" "Cc: dave@example.com" "Subject: SUBJ" "" \
	"body line" ".. a dotted line" "." "after the dot" >"$T/in.tpl"

# ---------------------------------------- a broken file, then the same file mended
good "$T/ok.conf"
# the same message, sent normally: what the saved one must become
sed 's/SUBJ/control/' "$T/in.tpl" >"$T/control.in"
sm "$T/ok.conf" -t -F 'Cron Daemon' -f root frank <"$T/control.in"
is "$LAST_STATUS" 0 "control: sent normally"
smtp_wait "$T/s" 1

for typo in quote key aliases account none; do
	conf=$T/$typo.conf
	good "$conf"
	cp "$conf" "$T/$typo.good"
	chmod 600 "$T/$typo.good"
	case $typo in
	quote) sed -i 's/^domain = "example.org"/domain = "example.org/' "$conf" ;;
	key) sed -i 's/^  tls = /  tsl = /' "$conf" ;;
	aliases) printf 'team alice@example.net\n' >"$T/aliases.bad"
		sed -i "s|$T/aliases|$T/aliases.bad|" "$conf"
		;;
	account) ;;
	none) rm -f "$conf" ;;
	esac
	sed "s/SUBJ/$typo/" "$T/in.tpl" >"$T/$typo.in"
	args=(-t -F 'Cron Daemon' -f root frank)
	[ "$typo" = account ] && args=(-a work "${args[@]}")
	before=$(nsaved)
	sm "$conf" "${args[@]}" <"$T/$typo.in"
	is "$LAST_STATUS" 75 "$typo: exit 75"
	is "$(wc -l <"$T/last.err")" 1 "$typo: one line on stderr"
	like "$(cat "$T/last.err")" "$typo\\.conf|aliases\\.bad" "$typo: the error names the file"
	like "$(cat "$T/last.err")" "saved as [0-9A-F]+\\.[0-9]+\\.[0-9]+ in $SAVED" "$typo: and the saved id"
	is "$(nsaved)" $((before + 1)) "$typo: saved"
	is "$(msgs "$typo" | wc -l)" 0 "$typo: nothing sent"
	like "$(mailq_of "$T/ok.conf")" "-Saved unprocessed in $SAVED.*"$'\n'".*$typo" \
		"$typo: mailq lists it, with the reason"
done
like "$(cat "$T/last.err")" "$T/none\\.conf: No such file or directory" \
	"-C naming no file: the file is named (without -C: sendmail-options.t)"
sm "$T/quote.conf" -bp
is "$LAST_STATUS" 78 "-bp with the broken file: exit 78"
like "$(cat "$T/last.err")" "quote\\.conf" "-bp: the error names the file"
like "$(cat "$T/last.out")" "-Saved unprocessed" "-bp: lists the saved messages all the same"
sm "$T/quote.conf" -bv bob
is "$LAST_STATUS" 78 "-bv with the broken file: exit 78"
sm "$T/aliases.conf" -bi
is "$LAST_STATUS" 78 "-bi with the broken aliases: exit 78"
sm "$T/quote.conf" -q
is "$LAST_STATUS" 78 "-q with the broken file: exit 78"
is "$(nsaved)" 5 "-q with the broken file: nothing completed"

# another configuration does not take them: they are meant for their own file
sm "$T/ok.conf" -q
is "$(nsaved)" 5 "a run with another configuration leaves them"

# mend each file: the next run completes and sends its message, once
cp "$T/quote.good" "$T/quote.conf"
cp "$T/key.good" "$T/key.conf"
cp "$T/aliases.good" "$T/aliases.conf"
sed -i 's/^smtp "default"/smtp "work"/' "$T/account.conf"
cp "$T/none.good" "$T/none.conf"
for typo in quote key aliases account none; do
	sm "$T/$typo.conf" -q
	is "$LAST_STATUS" 0 "$typo mended, -q: exit 0"
done
is "$(nsaved)" 0 "all mended: nothing left in saved/"
smtp_wait "$T/s" 6
ctl=$(msgs control)
"$PY" "$T/strip.py" "$ctl" "$T/control.exp" Date Message-ID >/dev/null
for typo in quote key aliases account none; do
	f=$(msgs "$typo")
	is "$(wc -w <<<"$f")" 1 "$typo: delivered once"
	[ -n "$f" ] || continue
	is "$(cat "${f%.msg}.env")" "$(cat "${ctl%.msg}.env")" "$typo: the envelope of the normal submission"
	sed "s/^Subject: control/Subject: $typo/" "$T/control.exp" >"$T/$typo.exp"
	check_gen "$typo: the header and body of the normal submission" "$f" "$T/$typo.exp"
done
for typo in quote key aliases account none; do sm "$T/$typo.conf" -q; done
is "$(smtp_count "$T/s")" 6 "more runs: nothing sent twice"

# ------------------------ an I/O error reading the file (EIO on its first read)
if command -v strace >/dev/null; then
	cp "$T/ok.conf" "$T/eio.conf"
	eio() { # ARGS...: sendmail -C eio.conf with EIO at the first read of the file
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq \
			-o "$T/eio.log" -P "$T/eio.conf" -e trace=read -e inject=read:error=EIO:when=1 \
			"$SENDMAIL" -C "$T/eio.conf" "$@" >"$T/eio.out" 2>"$T/eio.err"
	}
	eio -bv bob@example.net
	is "$?" 78 "EIO reading the file, -bv: exit 78"
	is "$(grep -c INJECTED "$T/eio.log")" 1 "EIO reading the file: the fault fired"
	is "$(cat "$T/eio.err")" "sendmail: $T/eio.conf: cannot read: Input/output error" \
		"EIO reading the file: one line naming the file and the error"
	eio -i bob@example.net <"$T/control.in"
	is "$?" 75 "EIO reading the file, a send: exit 75 (saved)"
	like "$(cat "$T/eio.err")" "eio\\.conf: cannot read: Input/output error; the message is saved as" \
		"EIO reading the file, a send: the error and the saved id"
	is "$(nsaved)" 1 "EIO reading the file, a send: saved"
	rm -f "$SAVED"/*
else
	skip "an I/O error reading the configuration" "needs strace"
fi

# ---------------------------------- -bs, and --attach, with a broken file
printf 'attached \001 bytes\n' >"$T/att.bin"
good "$T/bs.conf"
cp "$T/bs.conf" "$T/bs.good"
sed -i 's/^smtp "default" {/smtp "default" {{/' "$T/bs.conf"
crlf "EHLO client" "MAIL FROM:<web@example.org>" "RCPT TO:<bs@example.net>" "DATA" \
	"Subject: bs" "" "from -bs" ".." "." "QUIT" >"$T/bs.in"
sm "$T/bs.conf" -bs <"$T/bs.in"
like "$(tr -d '\r' <"$T/last.out" | grep '^250 2.0.0')" "queued as" "-bs with a broken file: 250 after the dot, queued"
printf 'Subject: att\n\nsee attached\n' | "$SENDMAIL" -C "$T/bs.conf" --attach "$T/att.bin" att@example.net 2>/dev/null
is "$?" 75 "--attach with a broken file: exit 75"
is "$(nsaved)" 2 "-bs and --attach: both saved"
rm "$T/att.bin"	# the saved copy is what counts
cp "$T/bs.good" "$T/bs.conf"
sm "$T/bs.conf" -q
smtp_wait "$T/s" 8
f=$(msgs bs)
env_is "-bs saved, then mended: MAIL FROM and RCPT TO" "${f%.msg}.env" web@example.org bs@example.net
sed 's/^Subject: bs/Subject: bs control/' "$T/bs.in" >"$T/bsc.in"
sm "$T/bs.conf" -bs <"$T/bsc.in"
smtp_wait "$T/s" 9
"$PY" "$T/strip.py" "$(msgs "bs control")" "$T/bs.exp" Date Message-ID >/dev/null
sed -i 's/^Subject: bs control/Subject: bs/' "$T/bs.exp"
check_gen "-bs saved, then mended: the message as a normal -bs session gives it" "$f" "$T/bs.exp"
f=$(msgs att)
"$PY" - "$f" >"$T/att.got" <<'PY'
import email, sys
m = email.message_from_bytes(open(sys.argv[1], "rb").read())
for p in m.walk():
    if p.get_filename() == "att.bin":
        sys.stdout.buffer.write(p.get_payload(decode=True))
PY
is "$(cat -v "$T/att.got")" "attached ^A bytes" "--attach saved, then mended: the attachment as it was when sent"

# ------------------------------------------ the saved files are hostile input
good "$T/h.conf"
mkdir -p "$SAVED"
hostile() { # ID CONTENT...: an ID.args (printf format) and an ID.in
	local id=$1
	shift
	printf "$@" >"$SAVED/$id.args"
	printf 'Subject: hostile %s\n\nbody\n' "$id" >"$SAVED/$id.in"
}
hostile 10000000000AA.1.0 'not a saved file\n'
hostile 10000000000AB.1.0 'postie-saved 1\ncreated 1\nerror x\nfiles %s\nargs 99999999\n' "$T/h.conf"
hostile 10000000000AC.1.0 'postie-saved 1\ncreated 1\nerror x\nfiles %s\nargs 1\nbob@example.net\0trailing' "$T/h.conf"
hostile 10000000000AD.1.0 'postie-saved 1\ncreated 1\nerror x\nfiles %s\nargs 2\n-bp\0bob@example.net\0' "$T/h.conf"
# -C and -v are not taken from the file: the run's own configuration sends it
hostile 10000000000AE.1.0 'postie-saved 1\ncreated 1\nerror x\nfiles %s\nargs 4\n-C\0%s\0-v\0evil@example.net\0' \
	"$T/h.conf" "$T/evil.conf"
write_conf "$T/evil.conf" 1 'tls = "none"'
ln -s /etc/passwd "$SAVED/10000000000AF.1.0.in"
printf 'postie-saved 1\ncreated 1\nerror x\nfiles %s\nargs 1\nlink@example.net\0' "$T/h.conf" \
	>"$SAVED/10000000000AF.1.0.args"
n=$(smtp_count "$T/s")
sm "$T/h.conf" -q
is "$LAST_STATUS" 0 "hostile saved files: -q exit 0"
smtp_wait "$T/s" $((n + 2))
sleep 0.3
# the one whose input is a link can never be completed: failed/, and its sender is told
is "$(smtp_count "$T/s")" $((n + 2)) "hostile saved files: only the well-formed one is sent, and a bounce"
f=$(msgs "hostile 10000000000AE.1.0")
[ -n "$f" ] && env_is "-C in a saved file: ignored, sent with the run's configuration" "${f%.msg}.env" \
	me@example.org evil@example.net
unlike "$(cat "$T/s"/*.msg)" "root:x:0:0" "a symbolic link as the saved input: not followed"
# (the format is checked strictly: those are no entries; sendmail-saved.t: they age too)
is "$(ls "$SAVED" | grep -c args)" 3 "the malformed ones are left alone"
is "$(cd "$T/queue/failed" && ls 10000000000AD.1.0.env 10000000000AF.1.0.env)" \
	"10000000000AD.1.0.env"$'\n'"10000000000AF.1.0.env" \
	"a command line that is no send, an input that is a link: failed/ at once"
is "$(stat -c %s:%F "$T/queue/failed/10000000000AF.1.0.msg")" "0:regular empty file" \
	"failed/ keeps the missing input empty, not the link"
like "$(mailq_of "$T/h.conf")" "saved command line is not a send" "mailq shows why"
rm -rf "$SAVED" "$T/queue/failed"

# a saved message belongs to who saved it (the file's owner), whatever it says
if [ "$(id -u)" = 0 ] && getent passwd nobody >/dev/null; then
	mkdir -p "$SAVED"
	printf 'postie-saved 1\ncreated 1\nerror x\nfiles %s\nargs 1\nowned@example.net\0' "$T/h.conf" \
		>"$SAVED/10000000000B0.1.0.args"
	printf 'Subject: owned\n\nbody\n' >"$SAVED/10000000000B0.1.0.in"
	chown nobody "$SAVED"/10000000000B0.1.0.*
	write_conf "$T/nofrom.conf" "$SMTP_PORT" 'tls = "none"'
	cp "$T/nofrom.conf" "$T/h.conf"
	sm "$T/h.conf" -q
	smtp_wait "$T/s" $((n + 2))
	f=$(msgs owned)
	[ -n "$f" ] && env_is "root's run completes nobody's saved message as nobody's" "${f%.msg}.env" \
		nobody@example.org owned@example.net
	like "$(grep -i '^Received:' "$f" | head -n 1)" "from nobody \\(uid $(id -u nobody)\\)" \
		"and a Received: field names nobody"
	rm -rf "$SAVED"
else
	skip "a saved message belongs to its file's owner" "needs root and a user nobody"
fi

# ------------------------- a user file with only pop3 sections, and /etc/postie.conf
# /etc is overlaid in a mount namespace of the test's own: the machine's is
# untouched, and a postie.conf it may have is hidden by the test's
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	mkdir -p "$T/etc/up" "$T/etc/work" &&
	unshare -m sh -c "mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/etc/up,workdir=$T/etc/work /etc" 2>/dev/null; then
	with_etc() {
		unshare -m sh -c 'mount -t overlay overlay -o "lowerdir=/etc,upperdir=$0/up,workdir=$0/work" /etc && exec "$@"' \
			"$T/etc" "$@"
	}
	good "$T/etc/up/postie.conf"
	mkdir -p "$T/xdg/postie"
	cat >"$T/xdg/postie/postie.conf" <<EOF
pop3 "inbox" {
	host = "localhost"
	mbox = "$T/mbox"
}
EOF
	chmod 600 "$T/xdg/postie/postie.conf"
	printf 'Subject: system file\n\nbody\n' >"$T/sys.in"
	n=$(smtp_count "$T/s")
	(unset POSTIE_CONF; XDG_CONFIG_HOME=$T/xdg with_etc "$SENDMAIL" -i sys@example.net <"$T/sys.in" 2>"$T/sys.err")
	is "$?" 0 "a pop3-only user file: sendmail uses /etc/postie.conf" || diag "$(cat "$T/sys.err")"
	smtp_wait "$T/s" $((n + 1))
	f=$(msgs "system file")
	[ -n "$f" ] && env_is "a pop3-only user file: sent through the system account" "${f%.msg}.env" \
		me@example.org sys@example.net
	# neither file has an smtp section: both are named
	printf 'aliases = ""\n' >"$T/etc/up/postie.conf"
	(unset POSTIE_CONF; XDG_CONFIG_HOME=$T/xdg with_etc "$SENDMAIL" -i sys@example.net <"$T/sys.in" 2>"$T/sys.err")
	is "$?" 75 "no smtp section in either file: exit 75 (saved)"
	like "$(cat "$T/sys.err")" "no smtp account in $T/xdg/postie/postie\\.conf, /etc/postie\\.conf" \
		"no smtp section in either: both files named"
	rm -rf "$SAVED"
else
	skip "a pop3-only user file does not hide /etc/postie.conf" "needs root, unshare and overlayfs"
fi

done_testing
