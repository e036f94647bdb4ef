#!/usr/bin/python3
"""Test helper for popfetch's fault sweeps: is the outcome of a poll (an
injected fault, then one clean rerun) what popfetch promises?

  verdict.py --expect DIR (--mbox FILE | --maildir DIR) --server MAILDIR
             --mode delete|keep --killed 0|1 --state FILE

DIR holds the messages as they should arrive (LF lines, final newline).
Checks, printing one line of what is wrong (or "ok") and exiting 1 if
anything is:
  - each expected message is in the destination as a whole copy exactly
    once; after a SIGKILL at most twice (the batch in hand) and, over the
    whole destination, at most one cut-off copy (a prefix of a message: the
    end of an mbox, or a file left in the Maildir's tmp/); nothing else is;
  - the server: empty in delete mode (so nothing was deleted that is not
    delivered: every message is in the destination), all there in keep mode;
  - the state file parses ("# popfetch uidl v2", then "UIDL SIZE" lines)
    and records what is still on the server;
  - no dotlock (FILE.lock, FILE.lock.popfetch) is left.
"""
import argparse
import os
import re
import sys

FROM_LINE = re.compile(rb"^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                       rb"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                       rb"[ 1-3]\d \d\d:\d\d:\d\d \d{4}$")
QUOTED = re.compile(rb"^>+From ")


def mbox_messages(path):
    """The messages of an mboxrd file (quoting undone, separator removed)."""
    if not os.path.exists(path):
        return []
    data = open(path, "rb").read()
    msgs, cur = [], None
    for line in data.split(b"\n"):
        if FROM_LINE.match(line):
            if cur is not None:
                msgs.append(cur)
            cur = []
            continue
        if cur is None:
            cur = [b"<text before the first From_ line>"]
        cur.append(line[1:] if QUOTED.match(line) else line)
    if cur is not None:
        msgs.append(cur)
    out = []
    for lines in msgs:
        text = b"\n".join(lines)
        # one empty line ends each message (two newlines, the last one the line's own)
        if text.endswith(b"\n\n"):
            text = text[:-1]
        out.append(text)
    return out


def files(d):
    if not os.path.isdir(d):
        return []
    return [open(os.path.join(d, n), "rb").read() for n in sorted(os.listdir(d))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--expect", required=True)
    p.add_argument("--mbox")
    p.add_argument("--maildir")
    p.add_argument("--server", required=True)
    p.add_argument("--mode", choices=("delete", "keep"), required=True)
    p.add_argument("--killed", type=int, default=0)
    p.add_argument("--state", required=True)
    o = p.parse_args()
    want = {n: open(os.path.join(o.expect, n), "rb").read() for n in sorted(os.listdir(o.expect))}
    bad = []

    if o.mbox:
        got, cutoff = mbox_messages(o.mbox), []
        for lock in (o.mbox + ".lock", o.mbox + ".lock.popfetch"):
            if os.path.exists(lock):
                bad.append("lock left: " + os.path.basename(lock))
    else:
        got = files(os.path.join(o.maildir, "new")) + files(os.path.join(o.maildir, "cur"))
        cutoff = files(os.path.join(o.maildir, "tmp"))
    copies = {n: 0 for n in want}
    partial = len(cutoff)
    for text in got:
        name = next((n for n, w in want.items() if w == text), None)
        if name:
            copies[name] += 1
        elif text and any(w.startswith(text.rstrip(b"\n")) for w in want.values()):
            partial += 1
        else:
            bad.append("not a message of the server: %r" % text[:60])
    for text in cutoff:
        if not any(w.startswith(text) for w in want.values()):
            bad.append("tmp/ holds something else: %r" % text[:60])
    most = 2 if o.killed else 1
    for n, c in copies.items():
        if c == 0:
            bad.append("%s missing" % n)
        elif c > most:
            bad.append("%s %d times" % (n, c))
    if partial > 1:
        bad.append("%d cut-off copies" % partial)

    server = files(os.path.join(o.server, "new")) + files(os.path.join(o.server, "cur"))
    if o.mode == "delete" and server:
        bad.append("%d still on the server" % len(server))
    if o.mode == "keep" and len(server) != len(want):
        bad.append("%d of %d on the server in keep mode" % (len(server), len(want)))

    try:
        lines = open(o.state, "rb").read().split(b"\n")
        if lines[0] != b"# popfetch uidl v2" or lines[-1] != b"":
            bad.append("state: bad first or last line")
        entries = [l for l in lines[1:-1] if l]
        if not all(re.match(rb"^[\x21-\x7e]+ \d+$", l) for l in entries):
            bad.append("state: a line is not UIDL SIZE")
        if len(entries) != len(server):
            bad.append("state: %d entries, %d on the server" % (len(entries), len(server)))
    except OSError as e:
        bad.append("state: %s" % e.strerror)

    print("; ".join(bad) if bad else "ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
