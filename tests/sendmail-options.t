#!/bin/bash
# sendmail's command line: option forms, --, usage errors, header injection,
# mailq/newaliases by name, -bv, --help/--version, the aliases file,
# duplicate recipients, -t parsing, account selection, and the odd ways
# callers run it (stdin a file, stdout closed, a wrong $HOME).
. "$(dirname "$0")/lib/lib.sh"

# ----------------------------------------------------------------- helpers
. "$(dirname "$0")/lib/sendmail.sh"

start_smtpd "$T/s" --plain || bail_out "smtpd did not start"
S1_PORT=$SMTP_PORT
write_conf "$T/conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"'
N=0

# got_one NAME: a new message arrived: $M.msg, $M.env.
got_one() {
	N=$((N + 1))
	M=$T/s/$(printf %04d "$N")
	smtp_wait "$T/s" "$N" 5 || { fail "$1: message delivered"; N=$(smtp_count "$T/s"); return 1; }
}
# nothing_new NAME: no message arrived, none is queued.
nothing_new() {
	is "$(smtp_count "$T/s")" "$N" "$1: nothing delivered"
	is "$(mailq_of "$T/conf")" "Mail queue is empty" "$1: nothing queued"
}
DATE='Date: Thu, 26 Nov 2026 10:00:00 +0000'

lf "Subject: options" "" "body" >"$T/plain.in"
crlf "Subject: options" "From: root <me@example.org>" "To: undisclosed-recipients:;" "" "body" >"$T/plain.exp"

# ------------------------------------------- attached and separate values
sm "$T/conf" -fsender@x.org -FAttached bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "-fADDR -FNAME (attached): exit 0"
got_one "attached" && env_is "-fADDR (attached)" "$M.env" sender@x.org bob@x.org
crlf "Subject: options" "From: Attached <sender@x.org>" "To: undisclosed-recipients:;" "" "body" >"$T/att.exp"
check_gen "-FNAME (attached)" "$M.msg" "$T/att.exp"

sm "$T/conf" -f sender@x.org -F "Sep Arate" bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "-f ADDR -F NAME (separate): exit 0"
got_one "separate" && env_is "-f ADDR (separate)" "$M.env" sender@x.org bob@x.org
crlf "Subject: options" "From: Sep Arate <sender@x.org>" "To: undisclosed-recipients:;" "" "body" >"$T/sep.exp"
check_gen "-F NAME (separate)" "$M.msg" "$T/sep.exp"

_run "$SENDMAIL" "-C$T/conf" -r sender@x.org bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "-CFILE attached and -r ADDR: exit 0"
got_one "-r" && env_is "-r is -f" "$M.env" sender@x.org bob@x.org

sm "$T/conf" -f '<>' bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "-f '<>': exit 0"
got_one "-f <>" && env_is "-f '<>' gives the null sender" "$M.env" '<>' bob@x.org

# clustered flags: -ti = -t -i (a lone "." does not end the message)
lf "To: carol@y.org" "Subject: cluster" "" "one" "." "two" >"$T/ti.in"
crlf "To: carol@y.org" "Subject: cluster" "From: root <me@example.org>" "" "one" "." "two" >"$T/ti.exp"
sm "$T/conf" -ti <"$T/ti.in"
is "$LAST_STATUS" 0 "-ti: exit 0"
got_one "-ti" && env_is "-ti takes the header recipients" "$M.env" me@example.org carol@y.org
check_gen "-ti keeps the lone dot" "$M.msg" "$T/ti.exp"

# options accepted and ignored for compatibility (their values are not recipients)
sm "$T/conf" -bm -oem -oee -oQ/var/spool/mqueue -B 8BITMIME -N never -R full -V envid-1 -X /dev/null \
	-L tag -h 5 -n -m -G -U -Ai -O DeliveryMode=b -i bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "ignored options: exit 0" || diag "$(cat "$T/last.err")"
got_one "ignored options" && env_is "ignored options: only the real recipient" "$M.env" me@example.org bob@x.org
check_gen "ignored options: message unchanged" "$M.msg" "$T/plain.exp"

# ------------------------------------------------------------------- --
# after --, "-i" is a recipient, not an option: the lone "." still ends input
lf "Subject: dashes" "" "kept" "." "dropped" >"$T/dd.in"
crlf "Subject: dashes" "From: root <me@example.org>" "To: undisclosed-recipients:;" "" "kept" >"$T/dd.exp"
sm "$T/conf" -- -i bob@x.org <"$T/dd.in"
is "$LAST_STATUS" 0 "-- -i RCPT: exit 0"
got_one "--" && env_is "-- -i RCPT: -i is a recipient" "$M.env" me@example.org -i@example.org bob@x.org
check_gen "-- -i RCPT: -i not taken as an option" "$M.msg" "$T/dd.exp"

# ------------------------------------------------------------ usage errors
sm "$T/conf" -Z bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 64 "unknown option -Z: exit 64"
like "$(cat "$T/last.err")" "usage: sendmail " "unknown option -Z: usage line on stderr"
sm "$T/conf" --no-such-option bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 64 "unknown option --no-such-option: exit 64"
like "$(cat "$T/last.err")" "usage: sendmail " "unknown long option: usage line on stderr"
sm "$T/conf" -bz bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 64 "unknown mode -bz: exit 64"
sm "$T/conf" bob@x.org -f <"$T/plain.in"
is "$LAST_STATUS" 64 "-f without a value: exit 64"
nothing_new "usage errors"

sm "$T/conf" <"$T/plain.in"
is "$LAST_STATUS" 64 "no recipients: exit 64"
like "$(cat "$T/last.err")" "recipient" "no recipients: says so"
sm "$T/conf" -i <"$T/plain.in"
is "$LAST_STATUS" 64 "no recipients (with -i): exit 64"
sm "$T/conf" -t <"$T/plain.in"
is "$LAST_STATUS" 64 "-t and no recipient in the header: exit 64"
lf "To: undisclosed-recipients:;" "Subject: none" "" "body" >"$T/group.in"
sm "$T/conf" -t -i <"$T/group.in"
is "$LAST_STATUS" 64 "-t with only an empty group: exit 64"
nothing_new "no recipients"

# ---------------------------------------------------- invalid recipients
# refused before anything is queued or sent (exit 65, like sendmail's
# "invalid recipient address"), never turned into another address or dropped
# KNOWN FAILURE (reported): "a@b@c" is qualified to a@b@example.org and given
# to the smarthost (553 there; with another recipient: sent to it, exit 0);
# "bob smith" is dropped without a word and the message goes to the other
# recipients (exit 0).
for bad in 'x@' '@y.org' 'a@b@c' 'bob smith'; do
	n_before=$(smtp_count "$T/s")
	sm "$T/conf" -i "$bad" carol@y.org <"$T/plain.in"
	is "$LAST_STATUS" 65 "invalid recipient '$bad': exit 65"
	like "$(cat "$T/last.err")" "${bad//./\\.}" "invalid recipient '$bad': named on stderr"
	sleep 0.1
	is "$(smtp_count "$T/s")" "$n_before" "invalid recipient '$bad': nothing sent"
	N=$(smtp_count "$T/s")
done
is "$(mailq_of "$T/conf")" "Mail queue is empty" "invalid recipients: nothing queued"

# ---------------------------------------------------------- header injection
sm "$T/conf" -f $'attacker@x.org\nBcc: victim@z.org' bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 64 "-f with a LF: exit 64"
sm "$T/conf" -f$'attacker@x.org\rBcc: victim@z.org' bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 64 "-f with a CR (attached): exit 64"
sm "$T/conf" -F $'Mallory\nBcc: victim@z.org' bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 64 "-F with a LF: exit 64"
sm "$T/conf" -F$'Mallory\r\nTo: victim@z.org' bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 64 "-F with CRLF (attached): exit 64"
sm "$T/conf" -i $'bob@x.org\nBcc: victim@z.org' <"$T/plain.in"
is "$LAST_STATUS" 64 "a recipient with a LF: exit 64"
nothing_new "header injection"

# ------------------------------------------------------- mailq, newaliases
mkdir -p "$T/bin"
ln -s "$SENDMAIL" "$T/bin/mailq"
ln -s "$SENDMAIL" "$T/bin/newaliases"
_run "$T/bin/mailq" -C "$T/conf"
is "$LAST_STATUS" 0 "mailq (by name): exit 0"
is "$(cat "$T/last.out")" "Mail queue is empty" "mailq (by name): exactly 'Mail queue is empty'"
_run "$T/bin/newaliases" -C "$T/conf"
is "$LAST_STATUS" 0 "newaliases (by name): exit 0"
check "sendmail -bi: exit 0" "$SENDMAIL" -C "$T/conf" -bi
check "sendmail -I: exit 0" "$SENDMAIL" -C "$T/conf" -I

# ---------------------------------------------------- --help, --version
_run "$SENDMAIL" --help
is "$LAST_STATUS" 0 "--help: exit 0"
h=$(cat "$T/last.out")
like "$h" "usage: sendmail" "--help: usage on stdout"
like "$h" "[Ii]gnored" "--help: lists the options accepted and ignored"
missing=
for o in -B -N -R -X -L -h -o -U -A; do
	[[ $h == *" $o"* ]] || missing="$missing $o"
done
is "$missing" "" "--help: names -B -N -R -X -L -h -o -U -A"
_run "$SENDMAIL" --version
is "$LAST_STATUS" 0 "--version: exit 0"
like "$(cat "$T/last.out")" "Postie.*[0-9]+\.[0-9]+" "--version: prints the version"
_run "$SENDMAIL" -V
is "$LAST_STATUS" 0 "-V alone: exit 0"
like "$(cat "$T/last.out")" "Postie.*[0-9]+\.[0-9]+" "-V alone: prints the version"

# ------------------------------------------------------------ aliases, -bv
lf "# an aliases(5) file" "postmaster: root" "root: admin, ops@x.org" "admin: alice@x.org," \
	"	bob@x.org" "loop1: loop2" "loop2: loop1, carol@x.org" "self: self, dave@x.org" \
	"" "Mixed: erin@x.org" >"$T/aliases"
sed "s|^aliases = \"\"|aliases = \"$T/aliases\"|" "$T/conf" >"$T/alias.conf"
chmod 600 "$T/alias.conf"
# -bi checks the file (sendmail(8)): the count, or exit 78 naming the entry's first line.
_run "$SENDMAIL" -C "$T/alias.conf" -bi
is "$LAST_STATUS" 0 "-bi with a good aliases file: exit 0"
is "$(cat "$T/last.out")" "$T/aliases: 7 aliases" "-bi: prints the file and its number of aliases"
lf "a: b," "	c" "not an alias" "	continued" "	and more" >"$T/aliases.bad"
sed "s|^aliases = \"\"|aliases = \"$T/aliases.bad\"|" "$T/conf" >"$T/bad-alias.conf"
chmod 600 "$T/bad-alias.conf"
_run "$SENDMAIL" -C "$T/bad-alias.conf" -bi
is "$LAST_STATUS" 78 "-bi with an entry without a colon: exit 78"
is "$(cat "$T/last.err")" "sendmail: $T/aliases.bad:3: no colon after the alias name" \
	"-bi: one line naming the file and the entry's first line"
_run "$T/bin/newaliases" -C "$T/bad-alias.conf"
is "$LAST_STATUS" 78 "newaliases with the same file: exit 78"

_run "$SENDMAIL" -C "$T/alias.conf" -bv postmaster
is "$LAST_STATUS" 0 "-bv: exit 0"
is "$(sed 's/\.\.\..*//' "$T/last.out" | sort | tr '\n' ' ')" "alice@x.org bob@x.org ops@x.org " \
	"-bv postmaster: expanded recursively (postmaster -> root -> admin, ops; continuation line)"
like "$(head -n 1 "$T/last.out")" "^[^ ]+@[^ ]+\.\.\. " "-bv: one 'address... ' line per recipient"
is "$(smtp_count "$T/s")" "$N" "-bv sends nothing"

_run "$SENDMAIL" -C "$T/alias.conf" -bv loop1 self
is "$LAST_STATUS" 0 "-bv, alias loops: terminates, exit 0"
got=$(sed 's/\.\.\..*//' "$T/last.out" | sort)
like "$got" "carol@x.org" "alias loop: the loop's real address is kept"
like "$got" "dave@x.org" "alias naming itself: its other address is kept"
is "$(sort "$T/last.out" | uniq -d)" "" "alias loops: no address twice"

_run "$SENDMAIL" -C "$T/alias.conf" -bv bob root@vm mixed
is "$(sed 's/\.\.\..*//' "$T/last.out" | sort | tr '\n' ' ')" \
	"alice@x.org bob@example.org bob@x.org erin@x.org ops@x.org " \
	"-bv: bare name qualified, root@shorthost expanded, alias names match case-insensitively"

# delivery through aliases: each address once, even when two aliases share one
sm "$T/alias.conf" -i postmaster admin bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "aliases: exit 0"
got_one "aliases" && env_is "aliases: expanded, duplicates dropped" "$M.env" me@example.org \
	alice@x.org bob@x.org ops@x.org
check_gen "aliases: message" "$M.msg" "$T/plain.exp"

# Program, file and :include: targets are skipped (sendmail(8), Recipients);
# a quoted "|cmd" and a :include: once came out as "|/bin/cat"@example.org
# and include@example.org.
lf 'prog: |/usr/bin/procmail, pat@x.org' 'qprog: "|/bin/cat", quinn@x.org' \
	'file: /var/mail/x, fay@x.org' 'inc: :include:/etc/mail/list, ian@x.org' >"$T/aliases2"
sed "s|^aliases = \"\"|aliases = \"$T/aliases2\"|" "$T/conf" >"$T/alias2.conf"
chmod 600 "$T/alias2.conf"
for a in prog:pat qprog:quinn file:fay inc:ian; do
	_run "$SENDMAIL" -C "$T/alias2.conf" -bv "${a%%:*}"
	is "$(sed 's/\.\.\..*//' "$T/last.out")" "${a#*:}@x.org" "alias with a ${a%%:*} target: only the address is kept"
done

# an aliases file with CRLF line ends
printf 'root: alice@x.org,\r\n  bob@x.org\r\nops: carol@y.org\r\n' >"$T/aliases-crlf"
sed "s|^aliases = \"\"|aliases = \"$T/aliases-crlf\"|" "$T/conf" >"$T/alias3.conf"
chmod 600 "$T/alias3.conf"
_run "$SENDMAIL" -C "$T/alias3.conf" -bv root ops
is "$(sed 's/\.\.\..*//' "$T/last.out" | tr '\n' ' ')" "alice@x.org bob@x.org carol@y.org " \
	"aliases file with CRLF line ends"

# ------------------------------------------------------ duplicate recipients
sm "$T/conf" -i bob@x.org bob@x.org,bob@x.org "Bob <bob@x.org>" root root@vm root@localhost <"$T/plain.in"
is "$LAST_STATUS" 0 "duplicates: exit 0"
got_one "duplicates" && env_is "duplicates dropped (also root = root@vm = root@localhost)" "$M.env" \
	me@example.org bob@x.org root@example.org

# ---------------------------------------------------------- -t parsing
# only a Bcc: removed, and the message gets To: undisclosed-recipients:;
lf "Bcc: hidden@x.org" "Subject: only bcc" "" "body" >"$T/bcconly.in"
crlf "Subject: only bcc" "From: root <me@example.org>" "To: undisclosed-recipients:;" "" "body" >"$T/bcconly.exp"
sm "$T/conf" -t <"$T/bcconly.in"
got_one "Bcc only" && env_is "-t with only a Bcc" "$M.env" me@example.org hidden@x.org
check_gen "-t with only a Bcc: Bcc removed, undisclosed-recipients added" "$M.msg" "$T/bcconly.exp"

lf 'To: "Doe, John" <john@x.org>, jane@x.org (Jane),' '   Friends: g1@x.org, g2@x.org;' \
	'Cc: undisclosed:;' 'Subject: parse' '' 'body' >"$T/parse.in"
sm "$T/conf" -t -i <"$T/parse.in"
is "$LAST_STATUS" 0 "-t parsing: exit 0"
got_one "-t parsing" && env_is "-t: quoted names, comments, folding, groups" "$M.env" me@example.org \
	john@x.org jane@x.org g1@x.org g2@x.org

lf "Resent-To: r1@x.org" "Resent-Cc: r2@x.org" "Resent-Bcc: r3@x.org" "To: orig@x.org" "Bcc: ob@x.org" \
	"Subject: resent" "$DATE" "" "body" >"$T/resent.in"
sm "$T/conf" -t -i <"$T/resent.in"
is "$LAST_STATUS" 0 "-t with Resent-*: exit 0"
got_one "-t resent" && env_is "-t with Resent-*: the Resent-* recipients only" "$M.env" me@example.org \
	r1@x.org r2@x.org r3@x.org
crlf "Resent-To: r1@x.org" "Resent-Cc: r2@x.org" "To: orig@x.org" "Subject: resent" "From: root <me@example.org>" \
	"" "body" >"$T/resent.exp"
check_gen "-t with Resent-*: Bcc and Resent-Bcc removed" "$M.msg" "$T/resent.exp"

# ------------------------------------------------------- account selection
start_smtpd "$T/s2" --plain || bail_out "second smtpd did not start"
cat >"$T/two.conf" <<EOC
domain = "example.org"
aliases = ""
log = "none"
queue_dir = "$T/queue"
smtp "first" {
  host = "localhost"
  port = $SMTP_PORT
  tls = "none"
  from = "first@example.org"
}
smtp "default" {
  host = "localhost"
  port = $(head -n 1 "$T/s/.ready")
  tls = "none"
  from = "me@example.org"
}
EOC
chmod 600 "$T/two.conf"
sm "$T/two.conf" -i bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "two accounts: exit 0"
got_one "two accounts: \"default\" is chosen" && env_is "two accounts: \"default\" is chosen" "$M.env" \
	me@example.org bob@x.org
sm "$T/two.conf" -i -a first bob@x.org <"$T/plain.in"
smtp_wait "$T/s2" 1
env_is "-a first: that account (its server, its from)" "$T/s2/0001.env" first@example.org bob@x.org
sm "$T/two.conf" -i -afirst bob@x.org <"$T/plain.in"
smtp_wait "$T/s2" 2
is "$(smtp_count "$T/s2")" 2 "-aNAME (attached) chooses the account"
sm "$T/two.conf" -i -f first@example.org bob@x.org <"$T/plain.in"
smtp_wait "$T/s2" 3
is "$(smtp_count "$T/s2")" 3 "-f matching an account's from chooses that account"
sm "$T/two.conf" -i -a nosuch bob@x.org <"$T/plain.in"
# issue 12: a configuration that cannot take the message keeps it all the
# same (saved unprocessed, exit 75, was 78); sendmail-config.t completes them
is "$LAST_STATUS" 75 "-a with an unknown account: exit 75, the message saved"
like "$(cat "$T/last.err")" "nosuch.*saved as" "-a with an unknown account: names it, and the saved id"

# ------------------------------------------------- configuration file checks
write_conf "$T/readable.conf" "$SMTP_PORT" 'tls = "none"' 'user = "u"' 'password = "p"'
chmod 644 "$T/readable.conf"
sm "$T/readable.conf" -i bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 75 "a password in a file readable by others: exit 75, the message saved"
like "$(cat "$T/last.err")" "readable" "a password in a file readable by others: says why"
sm "$T/nonexistent.conf" -i bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 75 "-C with a missing file: exit 75, the message saved"
like "$(cat "$T/last.err")" "nonexistent\.conf.*saved as" "-C with a missing file: names it"
is "$(ls "$POSTIE_SPOOLDIR"/saved/*.args | wc -l)" 3 "configuration errors: three messages saved"
rm -rf "$POSTIE_SPOOLDIR/saved"
nothing_new "configuration errors"

# ---------------------------------------------------- From: completion, rewriting
# -F with non-ASCII text: RFC 2047; with specials: a quoted string
sm "$T/conf" -F 'Zoë Ünïcode' bob@x.org <"$T/plain.in"
got_one "-F UTF-8"
like "$(grep -a '^From:' "$M.msg" | tr -d '\r')" '^From: =\?[Uu][Tt][Ff]-8\?[BbQq]\?[^ ]+\?= <me@example\.org>$' \
	"-F with UTF-8: RFC 2047-encoded display name"
is "$("$PY" -c 'import sys, email
from email import policy
print(email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=policy.default)["from"])' "$M.msg")" \
	"Zoë Ünïcode <me@example.org>" "-F with UTF-8: decodes back"
sm "$T/conf" -F 'Doe, John "JD"' bob@x.org <"$T/plain.in"
got_one "-F specials"
crlf "Subject: options" 'From: "Doe, John \"JD\"" <me@example.org>' "To: undisclosed-recipients:;" "" "body" >"$T/fq.exp"
check_gen "-F with a comma and quotes: quoted string" "$M.msg" "$T/fq.exp"

# Bcc folded over lines and in capitals: all of it removed
lf "To: bob@x.org" "Bcc: c@x.org," "  d@x.org" "BCC: e@x.org" "Subject: bcc" "" "body" >"$T/bcc.in"
crlf "To: bob@x.org" "Subject: bcc" "From: root <me@example.org>" "" "body" >"$T/bcc.exp"
sm "$T/conf" -t <"$T/bcc.in"
got_one "folded Bcc" && env_is "folded and upper-case Bcc: recipients" "$M.env" me@example.org \
	bob@x.org c@x.org d@x.org e@x.org
check_gen "folded and upper-case Bcc: removed with its continuation" "$M.msg" "$T/bcc.exp"

# from_rewrite = always | never, and an account without from
lf "From: Alice <alice@x.org>" "To: bob@x.org" "Subject: rw" "" "body" >"$T/rw.in"
write_conf "$T/always.conf" "$S1_PORT" 'tls = "none"' 'from = "me@example.org"' 'from_rewrite = "always"'
sm "$T/always.conf" -i bob@x.org <"$T/rw.in"
got_one "from_rewrite always"
crlf "From: Alice <me@example.org>" "To: bob@x.org" "Subject: rw" "" "body" >"$T/always.exp"
check_gen "from_rewrite = always: every From address replaced, name kept" "$M.msg" "$T/always.exp"

lf "From: root" "To: bob@x.org" "Subject: rw" "" "body" >"$T/rwroot.in"
write_conf "$T/never.conf" "$S1_PORT" 'tls = "none"' 'from = "me@example.org"' 'from_rewrite = "never"'
sm "$T/never.conf" -i bob@x.org <"$T/rwroot.in"
got_one "from_rewrite never"
crlf "From: root" "To: bob@x.org" "Subject: rw" "" "body" >"$T/never.exp"
check_gen "from_rewrite = never: From left alone" "$M.msg" "$T/never.exp"
env_is "from_rewrite = never: envelope sender is still the account's from" "$M.env" me@example.org bob@x.org

write_conf "$T/nofrom.conf" "$S1_PORT" 'tls = "none"'
sm "$T/nofrom.conf" -i bob@x.org <"$T/rwroot.in"
got_one "no from, From: root"
crlf "From: root@example.org" "To: bob@x.org" "Subject: rw" "" "body" >"$T/nofrom.exp"
check_gen "account without from: a local From is qualified with domain" "$M.msg" "$T/nofrom.exp"
env_is "account without from: envelope sender is the user at domain" "$M.env" root@example.org bob@x.org
sm "$T/nofrom.conf" -i bob@x.org <"$T/plain.in"
got_one "no from, no From"
crlf "Subject: options" "From: root <root@example.org>" "To: undisclosed-recipients:;" "" "body" >"$T/nofrom2.exp"
check_gen "account without from: From added as user at domain" "$M.msg" "$T/nofrom2.exp"

lf "From: root@localhost, Bob <bob@vm>, Carol <carol@y.org>" "To: bob@x.org" "Subject: rw" "" "body" >"$T/rwlist.in"
sm "$T/conf" -i bob@x.org <"$T/rwlist.in"
got_one "From list"
crlf "From: me@example.org, Bob <me@example.org>, Carol <carol@y.org>" "To: bob@x.org" "Subject: rw" "" "body" >"$T/rwlist.exp"
check_gen "from_rewrite = local: only the local addresses of a From list" "$M.msg" "$T/rwlist.exp"

# a queue directory that cannot be created: a failure, nothing sent
: >"$T/not-a-dir"
QDIR=$T/not-a-dir/queue write_conf "$T/badq.conf" "$S1_PORT" 'tls = "none"' 'from = "me@example.org"'
n_before=$(smtp_count "$T/s")
sm "$T/badq.conf" -i bob@x.org <"$T/plain.in"
[ "$LAST_STATUS" -ne 0 ] && pass "queue directory cannot be created: fails (exit $LAST_STATUS)" ||
	fail "queue directory cannot be created: fails"
like "$(cat "$T/last.err")" "not-a-dir" "queue directory cannot be created: names it"
sleep 0.2
is "$(smtp_count "$T/s")" "$n_before" "queue directory cannot be created: nothing sent unspooled"

# bad values: exit 78 with the file (and the line, for syntax errors)
printf '%s\n' 'domain = "example.org"' 'this is not a setting' >"$T/syntax.conf"
printf '%s\n' 'domain = "example.org"' 'no_such_key = 1' >"$T/unknown.conf"
write_conf "$T/badtls.conf" "$S1_PORT" 'tls = "sometimes"'
write_conf "$T/badauth.conf" "$S1_PORT" 'tls = "none"' 'auth = "magic"'
for c in syntax unknown badtls badauth; do
	chmod 600 "$T/$c.conf"
	sm "$T/$c.conf" -i bob@x.org <"$T/plain.in"
	is "$LAST_STATUS" 75 "configuration $c: exit 75 (saved)"
	like "$(cat "$T/last.err")" "$c\.conf" "configuration $c: the error names the file"
done
like "$(sm "$T/syntax.conf" -bp; cat "$T/last.err")" "syntax\.conf:2" "configuration syntax error: and the line"
sm "$T/syntax.conf" -bp
is "$LAST_STATUS" 78 "-bp with a configuration error: exit 78"
rm -rf "$POSTIE_SPOOLDIR/saved"

# ------------------------------------------------ how daemons run sendmail
# stdin a regular file
sm "$T/conf" -i bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "stdin a regular file: exit 0"
got_one "stdin a file" && check_gen "stdin a regular file: message" "$M.msg" "$T/plain.exp"

# stdout closed
timeout 30 "$SENDMAIL" -C "$T/conf" -i bob@x.org <"$T/plain.in" >&- 2>"$T/closed.err"
is "$?" 0 "stdout closed: exit 0" || diag "$(cat "$T/closed.err")"
got_one "stdout closed" && check_gen "stdout closed: message" "$M.msg" "$T/plain.exp"
timeout 30 "$SENDMAIL" -C "$T/conf" -i bob@x.org <"$T/plain.in" >&- 2>&-
is "$?" 0 "stdout and stderr closed: exit 0"
got_one "stdout and stderr closed" && check_gen "stdout and stderr closed: message" "$M.msg" "$T/plain.exp"

# HOME pointing elsewhere (cron, sudo), -C given
HOME=/nonexistent/home sm "$T/conf" -i bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "HOME wrong, -C given: exit 0" || diag "$(cat "$T/last.err")"
got_one "HOME wrong" && check_gen "HOME wrong: message" "$M.msg" "$T/plain.exp"
mkdir -p "$T/otherhome" && chmod 000 "$T/otherhome"
HOME=$T/otherhome XDG_CONFIG_HOME= sm "$T/conf" -i bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "HOME unreadable, -C given: exit 0"
got_one "HOME unreadable" && check_gen "HOME unreadable: message" "$M.msg" "$T/plain.exp"
# POSTIE_CONF instead of -C
HOME=/nonexistent/home POSTIE_CONF=$T/conf _run "$SENDMAIL" -i bob@x.org <"$T/plain.in"
is "$LAST_STATUS" 0 "POSTIE_CONF (HOME wrong): exit 0"
got_one "POSTIE_CONF" && check_gen "POSTIE_CONF: message" "$M.msg" "$T/plain.exp"

# an unprivileged user (cron runs jobs as their owner) with HOME=/root
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && getent passwd nobody >/dev/null; then
	chmod 755 "$T"
	mkdir -p "$T/nobody"
	QDIR=$T/nobody/queue write_conf "$T/nobody/conf" "$S1_PORT" 'tls = "none"' 'from = "me@example.org"'
	chown -R nobody "$T/nobody"
	cp "$T/plain.in" "$T/nobody/in"
	( cd / && HOME=/root timeout 30 setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups \
		"$SENDMAIL" -C "$T/nobody/conf" -i bob@x.org <"$T/nobody/in" >"$T/nobody.out" 2>"$T/nobody.err" )
	is "$?" 0 "as user nobody with HOME=/root: exit 0" || diag "$(cat "$T/nobody.err")"
	got_one "as nobody"
	gecos=$(getent passwd nobody | cut -d: -f5 | cut -d, -f1)
	crlf "Subject: options" "From: ${gecos:+$gecos }<me@example.org>" "To: undisclosed-recipients:;" "" "body" |
		sed 's/^From: <\(.*\)>\r$/From: \1\r/' >"$T/nobody.exp"
	check_gen "as user nobody: From from nobody's GECOS" "$M.msg" "$T/nobody.exp"
	is "$(find "$T/nobody/queue" -type f ! -name ".*" | wc -l)" 0 "as user nobody: the queue is left empty"
else
	skip "as user nobody with HOME=/root" "needs root, setpriv and a user nobody"
fi

# ~ is the passwd entry's home, not $HOME: a configuration under a wrong
# $HOME is not read (only when this machine has no configuration of its own)
if [ ! -e /etc/postie.conf ] && [ ! -e "$(getent passwd "$(id -un)" | cut -d: -f6)/.config/postie/postie.conf" ]; then
	mkdir -p "$T/fakehome/.config/postie"
	cp "$T/conf" "$T/fakehome/.config/postie/postie.conf"
	n_before=$(smtp_count "$T/s")
	( unset POSTIE_CONF XDG_CONFIG_HOME; HOME=$T/fakehome _run "$SENDMAIL" -i bob@x.org <"$T/plain.in" )
	sleep 0.2
	is "$(smtp_count "$T/s")" "$n_before" "a configuration under a wrong \$HOME is not used"
	is "$(find "$T/queue" -type f ! -name ".*")" "" "a configuration under a wrong \$HOME: its queue is not used"
	# (issue 12) no configuration at all: the files looked for are named, the message is saved
	like "$(cat "$T/last.err")" "no configuration: none of .*/\.config/postie/postie\.conf, /etc/postie\.conf exists.*saved as" \
		"no configuration: the files looked for are named, the message saved"
	rm -rf "$POSTIE_SPOOLDIR/saved"
else
	skip "a configuration under a wrong \$HOME is not used" "this machine has a postie.conf"
fi

is "$(mailq_of "$T/conf")" "Mail queue is empty" "nothing left in the queue"
done_testing
