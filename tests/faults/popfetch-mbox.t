#!/bin/bash
# popfetch into an mbox, delete and keep mode: EIO or ENOSPC, and SIGKILL, at
# every write, fsync, rename, openat, link, unlink and close of a poll, each
# followed by one clean rerun and the promise checked (popfetch/t/sweep.sh).
. "$(dirname "$0")/../lib/lib.sh"
. "$TOP/tests/lib/inject.sh"
. "$TOP/popfetch/t/lib.sh"
. "$TOP/popfetch/t/sweep.sh"

sweep_main mbox
