#!/bin/bash
# Header qualification (issue 12): bare names in From, Sender, Reply-To, To
# and Cc get @domain as the envelope's do, as Postfix does for local
# submissions; display names, comments, groups, folding and every other
# byte stay; aliases are expanded in the envelope only; from_rewrite =
# "never" leaves From alone.  Byte-compared at a real server.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"

start_smtpd "$T/s" --plain || bail_out "smtpd"
printf 'team: alice@example.net, bob\n' >"$T/aliases"
write_conf "$T/conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"'
sed -i "s|^aliases = \"\"|aliases = \"$T/aliases\"|" "$T/conf"

n=0
case_is() { # NAME EXPECTED-ENVELOPE-RECIPIENTS... (input in $T/in, expected in $T/exp)
	local name=$1
	shift
	sm "$T/conf" "${ARGS[@]}" <"$T/in"
	is "$LAST_STATUS" 0 "$name: exit 0"
	n=$((n + 1))
	smtp_wait "$T/s" "$n"
	env_is "$name" "$T/s/$(printf %04d "$n").env" "${SENDER:-me@example.org}" "$@"
	check_gen "$name" "$T/s/$(printf %04d "$n").msg" "$T/exp"
}

# the two of the issue
ARGS=(-t -i)
lf "To: root" "Subject: one" "" "body" >"$T/in"
crlf "To: root@example.org" "Subject: one" "From: root <me@example.org>" "" "body" >"$T/exp"
case_is "To: root" root@example.org
lf "To: admin@example.org, bob" "Subject: two" "" "body" >"$T/in"
crlf "To: admin@example.org, bob@example.org" "Subject: two" "From: root <me@example.org>" "" "body" >"$T/exp"
case_is "To: admin@example.org, bob" admin@example.org bob@example.org

# display names, comments, groups, folding, quoted strings; aliases envelope-only
lf "From: Alice <alice>" "Sender: ops (the ops team)" "Reply-To: \"Doe, John\" <jd>, x@y.org" \
	"To: team, Carol <carol> (cc me)," "  dave@example.com" "Cc: friends: erin, frank@z.org;, undisclosed:;" \
	"X-Other: root" "Subject: many" "" "body" >"$T/in"
# (a local From: gets the account's from: from_rewrite = "local")
crlf "From: Alice <me@example.org>" "Sender: ops@example.org (the ops team)" \
	"Reply-To: \"Doe, John\" <jd@example.org>, x@y.org" \
	"To: team@example.org, Carol <carol@example.org> (cc me)," "  dave@example.com" \
	"Cc: friends: erin@example.org, frank@z.org;, undisclosed:;" "X-Other: root" \
	"Subject: many" "" "body" >"$T/exp"
ARGS=(-i -t -f alice@example.org)
SENDER=alice@example.org case_is "names, comments, groups, folding; aliases in the envelope only" \
	alice@example.net bob@example.org carol@example.org dave@example.com erin@example.org frank@z.org

# what is not a bare name is left as it is
lf "To: John Smith, root@localhost, <>, a..b" "Subject: odd" "" "body" >"$T/in"
crlf "To: John Smith, root@localhost, <>, a..b" "Subject: odd" "From: root <me@example.org>" "" "body" >"$T/exp"
ARGS=(-i other@example.net)
case_is "not bare names: untouched" other@example.net

# from_rewrite = "never": From as written (To still qualified)
write_conf "$T/never.conf" "$SMTP_PORT" 'tls = "none"' 'from = "me@example.org"' 'from_rewrite = "never"'
lf "From: root" "To: bob" "Subject: never" "" "body" >"$T/in"
crlf "From: root" "To: bob@example.org" "Subject: never" "" "body" >"$T/exp"
sm "$T/never.conf" -t -i <"$T/in"
n=$((n + 1))
smtp_wait "$T/s" "$n"
check_gen "from_rewrite = never" "$T/s/$(printf %04d "$n").msg" "$T/exp"

done_testing
