#!/usr/bin/python3
"""Test helper for popfetch: read an mboxrd file back into messages.

  mbox.py split MBOX OUTDIR   writes OUTDIR/1, OUTDIR/2, ... (mboxrd quoting
                              undone, the separating empty line removed) and
                              prints the number of messages; exit 1 with a
                              reason on stderr if the file does not parse
                              cleanly (no From_ line first, a message not
                              followed by an empty line, a bad From_ line)
  mbox.py expect FILE OUT     what FILE should look like after a trip through
                              a POP3 server into an mbox: CRLF -> LF, and a
                              final newline added when missing (an empty
                              message becomes one empty line)
"""
import os
import re
import sys

FROM_LINE = re.compile(rb"^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                       rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                       rb"[ 1-3]\d \d\d:\d\d:\d\d \d{4}$")
QUOTED = re.compile(rb"^>+From ")


def split(path, outdir):
    data = open(path, "rb").read()
    if not data:
        print(0)
        return 0
    if not data.startswith(b"From "):
        sys.stderr.write("mbox does not start with a From_ line\n")
        return 1
    lines = data.split(b"\n")
    if lines[-1] != b"":
        sys.stderr.write("mbox does not end with a newline\n")
        return 1
    lines.pop()
    msgs = []
    for line in lines:
        if line.startswith(b"From "):
            if not FROM_LINE.match(line):
                sys.stderr.write("bad From_ line: %r\n" % line)
                return 1
            msgs.append([])
            continue
        msgs[-1].append(line)
    os.makedirs(outdir, exist_ok=True)
    for i, m in enumerate(msgs, 1):
        if not m or m[-1] != b"":
            sys.stderr.write("message %d is not followed by an empty line\n" % i)
            return 1
        m.pop()
        body = b"".join((l[1:] if QUOTED.match(l) else l) + b"\n" for l in m)
        with open(os.path.join(outdir, str(i)), "wb") as f:
            f.write(body)
    print(len(msgs))
    return 0


def expect(path, out):
    data = open(path, "rb").read().replace(b"\r\n", b"\n")
    # Dovecot sends an empty message as one empty line: so does the mbox.
    if not data.endswith(b"\n"):
        data += b"\n"
    open(out, "wb").write(data)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "split":
        sys.exit(split(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "expect":
        sys.exit(expect(sys.argv[2], sys.argv[3]))
    sys.stderr.write(__doc__)
    sys.exit(2)
