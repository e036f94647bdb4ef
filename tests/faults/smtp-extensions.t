#!/bin/bash
# The byte-for-byte and fault scripts of sendmail again, unchanged, with the
# test SMTP server offering PIPELINING, and PIPELINING and CHUNKING (BDAT):
# the transaction sendmail speaks differs with each (one command per turn,
# flights of commands, BDAT chunks instead of dot-stuffed DATA), what
# arrives and what becomes of each message must not.  make test runs them
# against the plain server; tests/sendmail-transaction.t and
# tests/faults-sendmail.t check the extensions themselves.  A few minutes:
# here, not in make test.
. "$(dirname "$0")/../lib/lib.sh"

scripts="sendmail-smtp.t sendmail-input.t sendmail-callers.t sendmail-bs.t sendmail-queue.t
sendmail-conncache.t sendmail-delivery.t sendmail-outcome.t hostile-sendmail.t"
for opts in "--pipelining" "--pipelining --chunking"; do
	for s in $scripts; do
		if POSTIE_SMTPD_OPTS=$opts bash "$TOP/tests/$s" >"$T/out" 2>&1; then
			pass "$s with smtpd.py $opts"
		else
			fail "$s with smtpd.py $opts" "$(grep -E '^not ok|^#' "$T/out" | head -n 20)"
		fi
	done
done
done_testing
