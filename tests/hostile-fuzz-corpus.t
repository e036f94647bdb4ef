#!/bin/bash
# The fuzz targets of tests/fuzz replayed over their seed corpus and every
# crash found so far (tests/fuzz/regressions/TARGET/NAME), without libFuzzer:
# each target is linked with tests/fuzz/driver.c, a main() that runs it once
# per file, by the C compiler at hand, with ASan and UBSan when it has them
# (make fuzz-drivers).  One test per corpus and one per regression input, so
# that a regression that is not fixed yet is named.  No clang needed.
. "$(dirname "$0")/lib/lib.sh"

targets=(header address rfc2047 mboxrd bs message)
cc=${CC:-cc}
command -v "$cc" >/dev/null 2>&1 || skip_all "no C compiler ($cc)"
command -v make >/dev/null 2>&1 || skip_all "no make"

# Build (incremental: objects stay in tests/fuzz/bin/drv).
if ! (cd "$TOP" && make -s -j2 -f tests/check.mk FUZZ_DRV_CC="$cc" fuzz-drivers) \
	>"$T/build.log" 2>&1; then
	echo "1..1"
	fail "build the fuzz drivers (make -f tests/check.mk fuzz-drivers)" "$(tail -n 40 "$T/build.log")"
	exit 1
fi
pass "build the fuzz drivers with $cc$(grep -q fsanitize "$T/build.log" 2>/dev/null && echo ' (sanitizers)')"

# The sendmail targets keep their queue here.  Sanitizers stop at the first
# error and report on stderr (shown in the diagnostics), whatever the caller set.
export POSTIE_FUZZ_TMP=$T/fuzz-spool
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:abort_on_error=1:log_path=stderr
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}:halt_on_error=1:abort_on_error=1:log_path=stderr

# run_driver NAME TARGET PATH...: one test, ok if the driver exits 0.
run_driver() {
	local name=$1 target=$2
	shift 2
	# in a subshell, so that bash's "Aborted" notice goes to the log too
	(timeout -k 5 60 "$TOP/tests/fuzz/bin/drv/fuzz_$target" "$@") </dev/null >"$T/out" 2>&1
	local rc=$?
	if [ $rc = 0 ]; then
		pass "$name"
	else
		local why="exit status $rc"
		[ $rc = 124 ] && why="timed out"
		[ $rc -gt 128 ] && why="killed by signal $((rc - 128))"
		fail "$name" "  $why; reproduce: tests/fuzz/bin/drv/fuzz_$target $*" \
			"$(grep -a -v '^driver:' "$T/out" | grep -a -E -m 1 'invariant broken|ERROR|runtime error|SUMMARY')" \
			"$(tail -n 25 "$T/out" | sed 's/^/    /')"
	fi
}

for t in "${targets[@]}"; do
	corpus=$TOP/tests/fuzz/corpus/$t
	if [ -d "$corpus" ]; then
		n=$(find "$corpus" -maxdepth 1 -type f | wc -l)
		run_driver "fuzz_$t replays its seed corpus ($n inputs)" "$t" "$corpus"
	else
		fail "fuzz_$t has a seed corpus" "  no directory $corpus"
	fi
	for f in "$TOP"/tests/fuzz/regressions/"$t"/*; do
		[ -f "$f" ] || continue
		run_driver "regression $t/${f##*/}" "$t" "$f"
	done
done
rm -rf "$POSTIE_FUZZ_TMP"
done_testing
