#!/usr/bin/python3
"""inetd.py [--host H] [--port P] [--ready-file F] [--watch-pid PID] -- CMD ARGS...

Test helper: a one-service inetd.  Listens on H:P (port 0: a free one,
written to the ready file once listening) and, for each connection, runs
CMD with the connection as its standard input and output (standard error
goes where inetd.py's goes), as inetd(8) runs popa3d.  Exits on SIGTERM,
or when --watch-pid is gone.
"""
import argparse
import os
import select
import signal
import socket
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ready-file")
    p.add_argument("--watch-pid", type=int)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    o = p.parse_args()
    cmd = o.cmd[1:] if o.cmd and o.cmd[0] == "--" else o.cmd
    if not cmd:
        p.error("no command")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)	# children are reaped by the system
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((o.host, o.port))
    s.listen(16)
    if o.ready_file:
        tmp = o.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % s.getsockname()[1])
        os.rename(tmp, o.ready_file)
    while True:
        r, _, _ = select.select([s], [], [], 1.0)
        if o.watch_pid:
            try:
                os.kill(o.watch_pid, 0)
            except ProcessLookupError:
                return
            except PermissionError:
                pass
        if not r:
            continue
        c, _ = s.accept()
        if os.fork() == 0:
            s.close()
            os.dup2(c.fileno(), 0)
            os.dup2(c.fileno(), 1)
            c.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                os.execv(cmd[0], cmd)
            finally:
                os._exit(127)
        c.close()


if __name__ == "__main__":
    main()
