#!/bin/bash
# The fault-injection helpers themselves (tests/lib/inject.sh): the count of
# injection points is right, an injected fault fires and is seen by the
# program, and a sweep of every point fires at each one.  If strace cannot
# inject here, every sweep in tests/faults/ would prove nothing.
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/inject.sh"

command -v strace >/dev/null || bail_out "strace is not installed (make deps)"

# Three processes writing once each: the count is per process.
n=$(inject_count write /bin/sh -c 'for i in 1 2 3; do /usr/bin/printf "%s\n" $i; done')
is "$n" 1 "each printf process writes once: the per-process count is 1"
is "$(cat "$T/inject.out")" "$(printf '1\n2\n3')" "the command's output is kept"

n=$(inject_count write /usr/bin/env printf 'a\nb\nc\n')
like "$n" '^[1-9][0-9]*$' "a single process: a count ($n)"

# A program that writes 5 times and reports the errors it sees.
cat >"$T/w.py" <<'PY'
import os, sys
bad = 0
for i in range(5):
    try:
        os.write(1, b"x\n")
    except OSError as e:
        bad += 1
        sys.stderr.write("error %d %s\n" % (i + 1, e.strerror))
sys.exit(bad)
PY
n=$(inject_count write "$PY" "$T/w.py")
is "$n" 5 "five writes counted"
fired=0
for w in $(seq 1 "$n"); do
	inject_run "write:error=EIO:when=$w" "$PY" "$T/w.py"
	[ "$INJECT_FIRED" = 1 ] && [ "$INJECT_STATUS" = 1 ] &&
		grep -q "^error $w Input/output error" "$T/inject.err" && fired=$((fired + 1))
done
is "$fired" 5 "EIO injected at each of the 5 writes, and the program saw each"

inject_run "write:signal=KILL:when=3" "$PY" "$T/w.py"
is "$INJECT_STATUS" 137 "SIGKILL at the third write kills the program"
is "$(wc -l <"$T/inject.out")" 2 "after two writes"
is "$INJECT_FIRED" 1 "and the log says the fault fired"

inject_run "write:error=ENOSPC:when=9" "$PY" "$T/w.py"
is "$INJECT_FIRED" 0 "a point beyond the last call does not fire (and a sweep must fail on it)"

inject_count fsync "$PY" "$T/w.py" >/dev/null
is "$(inject_sweep_points write fsync | wc -l)" 5 "sweep points: 5 writes, no fsync"
done_testing
