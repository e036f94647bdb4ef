#!/bin/bash
# Run every compiled C unit test (tests/unit/NAME, built by the Makefile from
# tests/unit/NAME.c): one TAP line per binary, ok if it exits 0. Its output is
# shown as diagnostics when it fails (and with prove -v, always as notes).
. "$(dirname "$0")/../lib/lib.sh"

bins=()
for f in "$TOP"/tests/unit/*; do
	name=${f##*/}
	case $name in *.*) continue ;; esac	# sources, headers, this script
	[ -f "$f" ] && [ -x "$f" ] || continue
	bins+=("$f")
done
[ ${#bins[@]} -gt 0 ] || skip_all "no compiled unit tests in tests/unit (make tests/unit/NAME)"

plan ${#bins[@]}
for f in "${bins[@]}"; do
	name=${f##*/}
	( cd "$TOP" && timeout -k 5 "${POSTIE_UNIT_TIMEOUT:-120}" "$f" ) </dev/null >"$T/unit.out" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		pass "unit test $name"
		[ -s "$T/unit.out" ] && note "$(sed 's/^/    /' "$T/unit.out")"
	else
		why="exit status $rc"
		[ $rc = 124 ] && why="timed out"
		[ $rc -gt 128 ] && [ $rc != 255 ] && why="killed by signal $((rc - 128))"
		fail "unit test $name" "  $why; its output:" "$(sed 's/^/    /' "$T/unit.out" | tail -n 200)"
	fi
done
