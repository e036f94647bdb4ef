#!/bin/bash
# 40,000 recipients (issue 13): duplicates are dropped by sorting, not by a
# scan of the list per address (that took seconds in the setgid program).
# Duplicates differ in case, come from the command line and from -t
# header fields, and from aliases; each address stays once, in the order
# first met.  No timing is asserted (tests/bench measures); the result is.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/sendmail.sh"

printf '%s\n' "crowd: c1, R7@EXAMPLE.ORG, c2@example.org" "c1: c1-target@x.org" >"$T/aliases"
write_conf "$T/conf" 1 'tls = "none"' 'from = "me@example.org"'
sed -i "s|^aliases = \"\"|aliases = \"$T/aliases\"|" "$T/conf"

# The command line: r0..r29999, then every third one again in other case,
# then the alias (its c1 is itself an alias).  The header: 9,999 more,
# half of them already on the command line.
"$PY" - "$T" <<'EOF'
import sys
t = sys.argv[1]
argv = ["r%d@example.org" % i for i in range(30000)]
argv += ["R%d@Example.ORG" % i for i in range(0, 30000, 3)]
argv += ["crowd"]
hdr = ["h%d@example.org" % i for i in range(4999)] + ["r%d@example.org" % i for i in range(29999, 24999, -1)]
open(t + "/argv", "w").write("\n".join(argv) + "\n")
with open(t + "/msg", "w") as f:
    f.write("To: " + ",\n\t".join(hdr) + "\nSubject: many\n\nbody\n")
# What the envelope must hold, in order.
want, seen = [], set()
for a in argv[:-1] + ["c1-target@x.org", "r7@example.org", "c2@example.org"] + hdr:
    if a.lower() not in seen:
        seen.add(a.lower())
        want.append(a)
open(t + "/want", "w").write("\n".join(want) + "\n")
print(len(argv), len(hdr), len(want))
EOF
mapfile -t RCPTS <"$T/argv"
is "${#RCPTS[@]}" 40001 "40,001 recipients on the command line"

_run "$SENDMAIL" -C "$T/conf" -odq -t -i "${RCPTS[@]}" <"$T/msg"
is "$LAST_STATUS" 0 "40,001 + 9,999 recipients queued" || diag "$(head -3 "$T/last.err")"
envf=$(ls "$T"/queue/*.env 2>/dev/null | head -1)
if [ -n "$envf" ]; then
	sed -n 's/^rcpt //p' "$envf" >"$T/got"
	is "$(wc -l <"$T/got")" "$(wc -l <"$T/want")" "each address once (35,001)"
	cmp_file "$T/got" "$T/want" "the envelope: first spelling, first order, aliases expanded in place"
else
	fail "an entry was queued"
fi

# -bv resolves the same way: one line per distinct address.
_run "$SENDMAIL" -C "$T/conf" -bv "${RCPTS[@]}"
is "$LAST_STATUS" 0 "-bv with 40,001 recipients"
sed 's/\.\.\. deliverable.*//' "$T/last.out" >"$T/bv"
head -n 30002 "$T/want" >"$T/bv.want"
cmp_file "$T/bv" "$T/bv.want" "-bv lists each distinct address once, in order"

done_testing
