#!/usr/bin/python3
"""Helpers for tests/bench/run.sh (run with /usr/bin/python3).

  bench.py run [--n N] [--stdin FILE] [--log FILE] [--orphans stop|wait] -- CMD ARGS...
      Run CMD N times in a row (posix_spawn, stdin from FILE or /dev/null,
      stdout and stderr appended to --log or /dev/null), each waited for with
      wait4.  Prints one line: "N WALL USER SYS MAXRSS_KB ORPHANS" (totals in
      seconds for all N runs; the largest peak RSS of any run, its waited-for
      children included, as /usr/bin/time -f %M reports it).  Exits 1 (with
      the run number, the exit status and the tail of the log on stderr) as
      soon as a run does not exit 0.
      This process is a child subreaper (PR_SET_CHILD_SUBREAPER): what a run
      leaves running (sendmail's connection keeper, its -odb runner) becomes
      its child, and once the N runs are done (WALL stops there) it is
      stopped with SIGTERM (--orphans stop, the default) or waited for
      (--orphans wait, at most 300 s), and its CPU time and peak RSS are
      counted in USER, SYS and MAXRSS_KB; ORPHANS says how many there were.

  bench.py interleave --n N --out FILE -- CMD1 ::: CMD2 ::: ...
      Run CMD1, CMD2, ... alternately N times each (ABCABC...), stdout and
      stderr to /dev/null; writes the wall time of every run in milliseconds,
      "INDEX MS" per line, to FILE.  For the startup workload when hyperfine
      is missing.

  bench.py msg FILE SIZE [SEQ]
      Write an RFC 5322 message of about SIZE bytes (LF line ends, lines of
      76 base64-alphabet characters) to FILE.

  bench.py fill [--uid UID --gid GID] COUNT SIZE MAILDIR...
      Empty each MAILDIR's cur/ and new/, then put COUNT messages of about
      SIZE bytes into its new/ (written in tmp/, renamed), owned by UID:GID.

  bench.py mboxcount FILE
      Number of messages ("From " lines at the start of the file or after an
      empty line) in an mbox; 0 if the file is missing.

  bench.py report RESULTS ROWS META MD
      The table: medians per row and side, ratios, targets; prints it as text
      and writes it as Markdown to MD.  See run.sh for the file formats.
"""

import json
import os
import statistics
import sys
import time


def die(msg):
    sys.stderr.write("bench.py: %s\n" % msg)
    sys.exit(1)


# ------------------------------------------------------------------ run

def spawn(argv, stdin, out):
    fa = [(os.POSIX_SPAWN_OPEN, 0, stdin, os.O_RDONLY, 0),
          (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
          (os.POSIX_SPAWN_DUP2, 1, 2)]
    return os.posix_spawnp(argv[0], argv, os.environ, file_actions=fa)


def status_text(st):
    if os.WIFEXITED(st):
        return "exit status %d" % os.WEXITSTATUS(st)
    if os.WIFSIGNALED(st):
        return "killed by signal %d" % os.WTERMSIG(st)
    return "status %d" % st


def tail(path, n=20):
    try:
        with open(path, "rb") as f:
            lines = f.read()[-4000:].decode("utf-8", "replace").splitlines()
        return "\n".join("    " + l for l in lines[-n:])
    except OSError:
        return ""


def subreaper():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        die("prctl(PR_SET_CHILD_SUBREAPER) failed: errno %d" % ctypes.get_errno())


def children():
    me, kids = os.getpid(), []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rfind(")") + 2:].split()
        if int(fields[1]) == me and fields[0] != "Z":
            kids.append(int(d))
    return kids


def reap(mode):
    """Stops or waits for the orphans left by the runs: (user, sys, maxrss, count)."""
    import signal
    user = sys_ = 0.0
    maxrss = count = 0
    deadline = time.monotonic() + 300
    signalled = set()
    while True:
        try:
            pid, _, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            user += ru.ru_utime
            sys_ += ru.ru_stime
            maxrss = max(maxrss, ru.ru_maxrss)
            count += 1
            continue
        if time.monotonic() > deadline:
            die("orphans still running after 300 s: %s" % children())
        if mode == "stop":
            for k in children():
                if k not in signalled:
                    os.kill(k, signal.SIGTERM)
                    signalled.add(k)
        time.sleep(0.005)
    return user, sys_, maxrss, count


def cmd_run(args):
    n, stdin, log, orphans = 1, "/dev/null", "/dev/null", "stop"
    while args and args[0] != "--":
        opt = args.pop(0)
        if opt == "--n":
            n = int(args.pop(0))
        elif opt == "--orphans":
            orphans = args.pop(0)
            if orphans not in ("stop", "wait"):
                die("run: --orphans stop or wait")
        elif opt == "--stdin":
            stdin = args.pop(0)
        elif opt == "--log":
            log = args.pop(0)
        else:
            die("run: unknown option " + opt)
    if not args or len(args) < 2:
        die("run: no command")
    argv = args[1:]
    user = sys_ = 0.0
    maxrss = 0
    subreaper()
    t0 = time.perf_counter()
    for i in range(n):
        pid = spawn(argv, stdin, log)
        _, st, ru = os.wait4(pid, 0)
        user += ru.ru_utime
        sys_ += ru.ru_stime
        maxrss = max(maxrss, ru.ru_maxrss)
        if st != 0:
            sys.stderr.write("bench.py: run %d of %d: %s: %s\n" % (i + 1, n, " ".join(argv), status_text(st)))
            if log != "/dev/null":
                sys.stderr.write("  log %s:\n%s\n" % (log, tail(log)))
            sys.exit(1)
    wall = time.perf_counter() - t0
    ou, os_, orss, count = reap(orphans)
    print("%d %.6f %.6f %.6f %d %d" % (n, wall, user + ou, sys_ + os_, max(maxrss, orss), count))


def cmd_interleave(args):
    n, out = 100, None
    while args and args[0] != "--":
        opt = args.pop(0)
        if opt == "--n":
            n = int(args.pop(0))
        elif opt == "--out":
            out = args.pop(0)
        else:
            die("interleave: unknown option " + opt)
    cmds, cur = [], []
    for a in args[1:]:
        if a == ":::":
            cmds.append(cur)
            cur = []
        else:
            cur.append(a)
    cmds.append(cur)
    res = []
    for _ in range(n):
        for k, argv in enumerate(cmds):
            t0 = time.perf_counter()
            pid = spawn(argv, "/dev/null", "/dev/null")
            _, st, _ = os.wait4(pid, 0)
            ms = (time.perf_counter() - t0) * 1000
            if st != 0:
                die("interleave: %s: %s" % (" ".join(argv), status_text(st)))
            res.append("%d %.4f" % (k, ms))
    with open(out, "w") as f:
        f.write("\n".join(res) + "\n")


# ------------------------------------------------------------ messages

B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def message(size, seq=0):
    hdr = ("From: Bench Sender <sender%d@example.com>\n"
           "To: alice@example.org\n"
           "Subject: bench message %d\n"
           "Date: Thu, 01 Jan 2026 00:00:00 +0000\n"
           "Message-ID: <%d.%d@bench.example>\n"
           "MIME-Version: 1.0\n"
           "Content-Type: application/octet-stream\n"
           "Content-Transfer-Encoding: base64\n\n" % (seq, seq, seq, os.getpid())).encode()
    line = (B64 + B64)[seq % 64:seq % 64 + 76] + b"\n"
    nlines = max(1, (size - len(hdr)) // len(line))
    return hdr, line, nlines


def cmd_msg(args):
    path, size = args[0], int(args[1])
    seq = int(args[2]) if len(args) > 2 else 0
    hdr, line, nlines = message(size, seq)
    chunk = line * 1024
    with open(path, "wb") as f:
        f.write(hdr)
        for _ in range(nlines // 1024):
            f.write(chunk)
        f.write(line * (nlines % 1024))


def cmd_fill(args):
    uid = gid = -1
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--uid":
            uid = int(args.pop(0))
        elif opt == "--gid":
            gid = int(args.pop(0))
        else:
            die("fill: unknown option " + opt)
    count, size, mds = int(args[0]), int(args[1]), args[2:]
    t = int(time.time())
    pid = os.getpid()
    big = size > (1 << 20)
    for md in mds:
        for d in ("cur", "new", "tmp"):
            p = os.path.join(md, d)
            os.makedirs(p, exist_ok=True)
            if d != "tmp":
                for f in os.listdir(p):
                    os.unlink(os.path.join(p, f))
        for i in range(count):
            name = "%d.M%06dP%d.postie-bench" % (t, i, pid)
            tmp = os.path.join(md, "tmp", name)
            hdr, line, nlines = message(size, i)
            with open(tmp, "wb") as f:
                f.write(hdr)
                if big:
                    chunk = line * 1024
                    for _ in range(nlines // 1024):
                        f.write(chunk)
                    f.write(line * (nlines % 1024))
                else:
                    f.write(line * nlines)
            if uid >= 0:
                os.chown(tmp, uid, gid)
            os.chmod(tmp, 0o600)
            os.rename(tmp, os.path.join(md, "new", name))


def cmd_mboxcount(args):
    n = 0
    try:
        with open(args[0], "rb") as f:
            prev_empty = True
            for line in f:
                if prev_empty and line.startswith(b"From "):
                    n += 1
                prev_empty = line in (b"\n", b"\r\n")
    except FileNotFoundError:
        pass
    print(n)


# -------------------------------------------------------------- report

def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def cmd_report(args):
    results, rows_file, meta_file, md_file = args
    vals = {}
    with open(results) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 4:
                vals.setdefault((p[0], p[1]), []).append(float(p[3]))
    rows, cpurows = [], []
    with open(rows_file) as f:
        for line in f:
            if line.strip():
                o = json.loads(line)
                (cpurows if "cpu" in o else rows).append(o)
    with open(meta_file) as f:
        meta = json.load(f)

    table = []
    for r in rows:
        pv = vals.get((r["key"], "postie"))
        qv = vals.get((r["key"], "peer"))
        pm = statistics.median(pv) if pv else None
        qm = statistics.median(qv) if qv else None
        ratio = pm / qm if (pm is not None and qm) else None
        kind, tv = r["kind"], r["target"]
        met = None
        if kind == "ratio_le" and ratio is not None:
            met = ratio <= tv
            tgt = "<= %gx" % tv
        elif kind == "ratio_ge" and ratio is not None:
            met = ratio >= tv
            tgt = ">= %gx" % tv
        elif kind == "abs_le" and pm is not None:
            met = pm <= tv
            tgt = "<= %g %s" % (tv, r["unit"])
        elif kind == "abs_eq" and pm is not None:
            met = pm == tv
            tgt = "= %g" % tv
        else:
            tgt = r.get("target_text", "-")
        if "target_text" in r:
            tgt = r["target_text"]
        n = "%d/%d" % (len(pv or []), len(qv or []))
        table.append([r["id"], r["label"], r["unit"],
                      fmt(pm), r["peer"] + " " + fmt(qm) if qm is not None else r["peer"] + " -",
                      ("%.2fx" % ratio) if ratio is not None else "-", tgt,
                      "-" if met is None else ("yes" if met else "NO"), n])

    hdr = ["#", "workload", "unit", "Postie", "peer", "Postie/peer", "target", "met", "rounds"]
    widths = [max(len(str(x[i])) for x in table + [hdr]) for i in range(len(hdr))]
    out = []
    out.append("  ".join(h.ljust(widths[i]) for i, h in enumerate(hdr)))
    out.append("  ".join("-" * widths[i] for i in range(len(hdr))))
    for row in table:
        out.append("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(row)))
    text = "\n".join(out)

    # CPU time: the measured program (with its children) and the server
    cpu = []
    for c in cpurows:
        for side, name in c["sides"]:
            cv = vals.get(("cpu." + c["cpu"], side))
            sv = vals.get(("srv." + c["cpu"], side))
            if not cv:
                continue
            cpu.append([c["cpu"], name, "per " + c["per"], fmt(statistics.median(cv)),
                        fmt(statistics.median(sv)) if sv else "-"])
    chdr = ["#", "program", "", "client CPU ms", "server CPU ms"]
    if cpu:
        cw = [max(len(str(x[i])) for x in cpu + [chdr]) for i in range(len(chdr))]
        ctext = ["CPU time (user+sys, medians; client = the program and its children, "
                 "server = smtpd.py or all of Dovecot's processes):",
                 "  ".join(h.ljust(cw[i]) for i, h in enumerate(chdr)),
                 "  ".join("-" * cw[i] for i in range(len(chdr)))]
        for row in cpu:
            ctext.append("  ".join(str(c).ljust(cw[i]) for i, c in enumerate(row)))
        text += "\n\n" + "\n".join(ctext)

    md = []
    md.append("<!-- written by tests/bench/run.sh on %s; do not edit -->" % meta["date"])
    md.append("")
    md.append("| # | workload | unit | Postie | peer | Postie/peer | target | met |")
    md.append("|---|---|---|---:|---:|---:|---|---|")
    for row in table:
        md.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % tuple(
            str(c).replace("|", "\\|") for c in row[:8]))
    md.append("")
    md.append("Medians of %s rounds (Postie and the peer alternately in each round, "
              "on the same loopback servers). Ratio = Postie / peer; lower is better "
              "except for messages per second." % meta["rounds_text"])
    if cpu:
        md.append("")
        md.append("CPU time, user + sys, medians in milliseconds (client: the program with its "
                  "children; server: smtpd.py, or all of Dovecot's processes):")
        md.append("")
        md.append("| # | program | | client CPU ms | server CPU ms |")
        md.append("|---|---|---|---:|---:|")
        for row in cpu:
            md.append("| %s | %s | %s | %s | %s |" % tuple(row))
    md.append("")
    md.append("Machine: %s. %s" % (meta["machine"], meta.get("fs", "")))
    md.append("")
    md.append("Versions:")
    md.append("")
    for v in meta["versions"]:
        md.append("- %s" % v)
    md.append("")
    md.append("Commands (`$B` is the benchmark's work directory, with the configuration "
              "files and messages it generates; `BENCH_KEEP=1 tests/bench/run.sh` keeps it):")
    md.append("")
    for r in rows:
        md.append("- %s %s:" % (r["id"], r["label"]))
        for c in r["cmds"]:
            md.append("  `%s`" % c.replace("`", "'"))
    if meta.get("notes"):
        md.append("")
        for nline in meta["notes"]:
            md.append("- %s" % nline)
    with open(md_file, "w") as f:
        f.write("\n".join(md) + "\n")

    print(text)
    print()
    print("Machine: %s. %s" % (meta["machine"], meta.get("fs", "")))
    print("Versions:")
    for v in meta["versions"]:
        print("  " + v)
    print("Commands ($B = %s):" % meta["B"])
    for r in rows:
        print("  %s %s:" % (r["id"], r["label"]))
        for c in r["cmds"]:
            print("      " + c)


def main():
    if len(sys.argv) < 2:
        die("usage: bench.py run|interleave|msg|fill|mboxcount|report ...")
    cmd, args = sys.argv[1], sys.argv[2:]
    {"run": cmd_run, "interleave": cmd_interleave, "msg": cmd_msg, "fill": cmd_fill,
     "mboxcount": cmd_mboxcount, "report": cmd_report}.get(
        cmd, lambda a: die("unknown command " + cmd))(args)


if __name__ == "__main__":
    main()
