#!/bin/bash
# Memory sweeps of a poll (running out of memory is the host's failure, not
# the mail's): popfetch polls the three messages of popfetch/t/sweep.sh from
# Dovecot into an mbox (delete mode, keep mode) and a Maildir (delete mode)
# with memory running out at every point where it asks the kernel for more:
# both sweeps of tests/lib/memsweep.sh (from each brk and mmap call on, every
# one fails; the data segment limited to every 4 KB step from what the poll
# needs down to where it cannot be loaded).  After each case one clean poll
# and popfetch/t/verdict.py's promise: each message in the destination
# exactly once, nothing deleted on the server that is not there, the state
# file parses, no lock left.  Once main has begun (strace sees its first
# call, isatty(2)) a poll exits 0, 70 (out of memory) or 75, and never dies
# of a signal.
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/inject.sh"
. "$TOP/popfetch/t/lib.sh"
. "$TOP/popfetch/t/sweep.sh"
. "$TOP/tests/lib/memsweep.sh"

command -v strace >/dev/null || bail_out "strace is not installed (make deps)"
start_dovecot alice:secret || bail_out "cannot start dovecot"

# main's first step: isatty(2) (load() can fail before it opens a file)
MEM_TRACE=ioctl MEM_MARK="ioctl(2, TCGETS"
MEM_CODES="0 70 75"
MEM_PROMISE="each message once, none lost"
pm_prep() { _sweep_reset || bail_out "cannot fill the mailbox"; }
pm_after() { sweep_verdict "$PM_DEST" "$PM_MODE" >/dev/null; PM_OK=$?; }
pm_check() { [ "$PM_OK" = 0 ] || { MEM_WHY=${SW_WHY#: }; return 1; }; }
MEM_PREP=pm_prep MEM_AFTER=pm_after MEM_CHECK=pm_check

t0=$SECONDS
# (PM_SWEEPS="maildir:delete" narrows a run)
for pm in ${PM_SWEEPS:-mbox:delete mbox:keep maildir:delete}; do
	PM_DEST=${pm%:*} PM_MODE=${pm#*:}
	sweep_setup "$PM_DEST" "$PM_MODE"
	# With top_pad 0 malloc asks the kernel for each page it grows by, not
	# 128 KB ahead: memory then runs out inside the poll itself too, not
	# only in ld.so's mappings of libcurl.
	GLIBC_TUNABLES=glibc.malloc.top_pad=0 nolsan \
		mem_sweep "$PM_DEST $PM_MODE" "$POPFETCH" -C "$T/sweep.conf"
done
note "popfetch-memory: $((SECONDS - t0)) s"
done_testing
