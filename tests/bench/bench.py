#!/usr/bin/python3
"""Helpers for tests/bench/run.sh (run with /usr/bin/python3).

  bench.py run [--n N] [--stdin FILE] [--log FILE] [--orphans stop|wait] -- CMD ARGS...
      Run CMD N times in a row (posix_spawn, stdin from FILE or /dev/null,
      stdout and stderr appended to --log or /dev/null), each waited for with
      wait4.  Prints one line: "N WALL USER SYS MAXRSS_KB ORPHANS" (totals in
      seconds for all N runs; the largest peak RSS of any run, its waited-for
      children included, measured by /usr/bin/time -f %M around each run:
      a process spawned from Python would count Python's memory as its own).  Exits 1 (with
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

  bench.py latency-md MD FRAGMENT
      Put FRAGMENT (latency.sh's Markdown) at the end of MD, in place of the
      latency section a former run left there; report keeps it too.

  bench.py turns PCAP PORT
      The round trips a client waited for, counted from a capture (tcpdump -w)
      of the TCP connections to PORT: each connection's SYN is one, and so is
      each flight of the client's data that follows data from the server (the
      client sent it once the server's answer had come).  The last answer,
      to QUIT, is not waited for unless the client sends something after it.
      Prints "TURNS CONNECTIONS CLIENT_FLIGHTS".  latency.sh's counter.
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
    # Peak RSS through /usr/bin/time: a process spawned from this one has
    # this Python's memory as its own until it execs, and ru_maxrss keeps
    # that (about 11 MB) whatever the program uses.  time forks from a
    # small process, so the peak of its child is the program's own.
    import tempfile
    fd, rssfile = tempfile.mkstemp(prefix="bench-rss.")
    os.close(fd)
    timed = ["/usr/bin/time", "-f", "%M", "-o", rssfile, "--"] + argv
    t0 = time.perf_counter()
    for i in range(n):
        pid = spawn(timed, stdin, log)
        _, st, ru = os.wait4(pid, 0)
        user += ru.ru_utime
        sys_ += ru.ru_stime
        try:
            with open(rssfile) as f:
                maxrss = max(maxrss, int(f.read().split()[-1]))
        except (OSError, ValueError, IndexError):
            maxrss = max(maxrss, ru.ru_maxrss)
        if st != 0:
            sys.stderr.write("bench.py: run %d of %d: %s: %s\n" % (i + 1, n, " ".join(argv), status_text(st)))
            if log != "/dev/null":
                sys.stderr.write("  log %s:\n%s\n" % (log, tail(log)))
            sys.exit(1)
    wall = time.perf_counter() - t0
    os.unlink(rssfile)
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


LATENCY_BEGIN = "<!-- latency: written by tests/bench/latency.sh -->"


def cmd_latency_md(args):
    """bench.py latency-md MD FRAGMENT: puts FRAGMENT (latency.sh's section)
    at the end of MD in place of the last one."""
    md_file, frag = args
    try:
        old = open(md_file).read()
    except OSError:
        old = ""
    i = old.find(LATENCY_BEGIN)
    if i >= 0:
        old = old[:i]
    new = open(frag).read()
    with open(md_file, "w") as f:
        f.write(old.rstrip("\n") + ("\n\n" if old.strip() else "") + LATENCY_BEGIN + "\n\n" + new)


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
    # latency.sh's section stays (it is written by its own run).
    try:
        old = open(md_file).read()
        i = old.find(LATENCY_BEGIN)
        if i >= 0:
            md.append("")
            md.append(old[i:].rstrip("\n"))
    except OSError:
        pass
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


def pcap_packets(path):
    """(src_port, dst_port, flags, payload_len, conn) of each IPv4/IPv6 TCP
    packet of a classic pcap file (tcpdump -w; Ethernet or Linux cooked)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if linktype == 1:	# Ethernet (Linux lo)
            l2, ethertype = 14, struct.unpack("!H", pkt[12:14])[0] if len(pkt) >= 14 else 0
        elif linktype == 113:	# Linux cooked
            l2, ethertype = 16, struct.unpack("!H", pkt[14:16])[0] if len(pkt) >= 16 else 0
        elif linktype == 0:	# BSD loopback
            l2, ethertype = 4, 0x0800 if pkt[:1] == b"\x02" else 0x86dd
        else:
            die("turns: link type %d is not handled" % linktype)
        ip = pkt[l2:]
        if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
            ihl = (ip[0] & 15) * 4
            total = struct.unpack("!H", ip[2:4])[0]
            src, dst, tcp = ip[12:16], ip[16:20], ip[ihl:total]
        elif ethertype == 0x86dd and len(ip) >= 40 and ip[6] == 6:
            total = 40 + struct.unpack("!H", ip[4:6])[0]
            src, dst, tcp = ip[8:24], ip[24:40], ip[40:total]
        else:
            continue
        if len(tcp) < 20:
            continue
        sport, dport = struct.unpack("!HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        yield sport, dport, tcp[13], len(tcp) - doff, (src, sport, dst, dport)


def cmd_turns(args):
    if len(args) != 2:
        die("usage: bench.py turns PCAP PORT")
    port = int(args[1])
    last = {}	# connection (client side first) -> "c" or "s": who sent data last
    turns = conns = flights = 0
    for sport, dport, flags, paylen, (src, sp, dst, dp) in pcap_packets(args[0]):
        if dport == port:
            key, side = (src, sp, dst, dp), "c"
        elif sport == port:
            key, side = (dst, dp, src, sp), "s"
        else:
            continue
        if side == "c" and flags & 0x02 and not flags & 0x10:	# SYN: connecting is a turn
            turns += 1
            conns += 1
            last[key] = None
            continue
        if paylen == 0:
            continue	# ACKs, FIN, RST: nothing anyone waits for
        if side == "c" and last.get(key) == "s":
            turns += 1	# the client sent this once the server's answer came
            flights += 1
        elif side == "c" and last.get(key) is None:
            flights += 1
        last[key] = side
    print(turns, conns, flights)


def main():
    if len(sys.argv) < 2:
        die("usage: bench.py run|interleave|msg|fill|mboxcount|report|turns ...")
    cmd, args = sys.argv[1], sys.argv[2:]
    {"run": cmd_run, "interleave": cmd_interleave, "msg": cmd_msg, "fill": cmd_fill,
     "mboxcount": cmd_mboxcount, "report": cmd_report, "turns": cmd_turns,
     "latency-md": cmd_latency_md}.get(
        cmd, lambda a: die("unknown command " + cmd))(args)


if __name__ == "__main__":
    main()
