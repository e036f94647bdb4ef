#!/usr/bin/python3
"""A scripted, faulty POP3 server for Postie's tests (plain TCP, no TLS).

Serves a fixed mailbox: one message per --message FILE, in order (message
numbers 1..N). Line ends are sent as CRLF (bare LF in the file becomes CRLF,
a final line without an end gets CRLF), with dot-stuffing; LIST/STAT sizes
count the CRLF form. UIDLs are "<n>.<first 16 hex of sha1(file)>" unless
given with --uidl (one per message, in order).

Commands: CAPA (TOP UIDL USER RESP-CODES), USER, PASS, STAT, LIST, UIDL,
RETR, TOP, DELE, NOOP, RSET, QUIT. Login: --user USER:PASS (default
alice:secret). Deletions happen at QUIT (UPDATE state) and last for the life
of the server process, across connections.

Faults, --mode:
  normal          no fault
  drop-greeting   accept, close without greeting
  stall-greeting  accept, never say anything
  garbage         junk greeting, junk reply to every line
  drop-user       close on USER
  drop-pass       close on PASS
  err-pass        -ERR to every PASS
  drop-uidl       close on UIDL
  drop-list       close on LIST
  drop-mid-retr   on RETR: +OK, about half of the message, close
  stall-mid-retr  on RETR: +OK, about half of the message, then silence
  endless-retr    on RETR: +OK and a body that never ends (bounded by
                  --stall-max seconds, or until the client closes)
  err-retr        -ERR to every RETR
  drop-dele       close on DELE (no deletion happens)
  err-dele        -ERR to every DELE
  drop-quit       close on QUIT without reply and WITHOUT deleting

Spool (--spool DIR): "connections" (a line per connection), "log" (the
transcript, "C: "/"S: " lines, message bodies left out), "deleted" (the UIDL
of each message deleted at QUIT, one a line), "retrieved" (the UIDL of each
message fully sent by RETR, one a line).
"""

import argparse
import asyncio
import hashlib
import os
import sys
import time

import servlib

MODES = """normal drop-greeting stall-greeting garbage drop-user drop-pass err-pass
drop-uidl drop-list drop-mid-retr stall-mid-retr endless-retr err-retr drop-dele
err-dele drop-quit""".split()

JUNK = [b"Hello? \x01\x02 this is not POP3 \xff\xfe", b"+OKAY?", b"", b"-"]


class Drop(Exception):
    pass


def wire_lines(data):
    """File bytes -> list of lines (without CRLF), as sent on the wire."""
    if data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        return []
    return [l[:-1] if l.endswith(b"\r") else l for l in data.split(b"\n")]


class Message:
    def __init__(self, n, data, uidl):
        self.lines = wire_lines(data)
        self.size = sum(len(l) + 2 for l in self.lines)
        self.uidl = uidl or ("%d.%s" % (n, hashlib.sha1(data).hexdigest()[:16]))

    def stuffed(self, lines):
        return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines)

    def top(self, k):
        out = []
        body = None
        for i, l in enumerate(self.lines):
            if l == b"":
                body = i
                break
        if body is None:
            return self.lines[:]
        out = self.lines[:body + 1]
        out += self.lines[body + 1:body + 1 + k]
        return out


class Spool:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)

    def append(self, name, line):
        with open(os.path.join(self.dir, name), "ab") as f:
            f.write(line + b"\n")


class Conn:
    def __init__(self, srv, reader, writer):
        self.srv = srv
        self.o = srv.opts
        self.spool = srv.spool
        self.r = reader
        self.w = writer
        self.user = None
        self.authed = False
        self.marked = set()
        self.box = []  # [(number, message)], fixed at login

    def log(self, prefix, line):
        self.spool.append("log", prefix + line[:300])

    async def send(self, *lines):
        for line in lines:
            if isinstance(line, str):
                line = line.encode()
            self.log(b"S: ", line)
            self.w.write(line + b"\r\n")
        await self.w.drain()

    async def send_raw(self, data, what):
        self.log(b"S: ", what)
        self.w.write(data)
        await self.w.drain()

    async def stall(self):
        self.log(b"-- ", b"stalling")
        try:
            await asyncio.wait_for(self._drain_input(), self.o.stall_max)
        except asyncio.TimeoutError:
            pass
        raise Drop()

    async def _drain_input(self):
        while await self.r.read(65536):
            pass

    def visible(self):
        """(number, message) pairs of this session's mailbox, not marked deleted."""
        return [(n, m) for n, m in self.box if n not in self.marked]

    def get(self, arg):
        try:
            n = int(arg)
        except ValueError:
            return None
        for k, m in self.box:
            if k == n and k not in self.marked:
                return m
        return None

    async def run(self):
        self.spool.append("connections", b"%.3f" % time.time())
        m = self.o.mode
        try:
            if m == "drop-greeting":
                raise Drop()
            if m == "stall-greeting":
                await self.stall()
            await self.send(JUNK[0] if m == "garbage" else b"+OK faultpop3 (%s) ready" % m.encode())
            while True:
                try:
                    line = await self.r.readuntil(b"\n")
                except asyncio.IncompleteReadError:
                    break
                except asyncio.LimitOverrunError:
                    break
                line = line.rstrip(b"\r\n")
                self.log(b"C: ", line)
                if m == "garbage":
                    for j in JUNK[1:]:
                        await self.send(j)
                    continue
                if not await self.command(line):
                    break
        except (Drop, ConnectionError):
            pass
        finally:
            self.log(b"-- ", b"closing")
            try:
                self.w.close()
            except Exception:
                pass

    async def command(self, line):
        m = self.o.mode
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        arg = arg.strip()
        if verb == b"CAPA":
            await self.send("+OK Capability list follows", "TOP", "UIDL", "USER",
                            "RESP-CODES", ".")
            return True
        if verb == b"QUIT":
            if m == "drop-quit":
                raise Drop()
            if self.authed and self.marked:
                self.srv.delete(self.box, self.marked)
            await self.send("+OK Logging out")
            return False
        if verb == b"NOOP":
            await self.send("+OK")
            return True
        if not self.authed:
            if verb == b"USER":
                if m == "drop-user":
                    raise Drop()
                self.user = arg
                await self.send("+OK")
            elif verb == b"PASS":
                if m == "drop-pass":
                    raise Drop()
                if m == "err-pass" or self.user is None or \
                        (self.user, arg) != self.srv.credentials:
                    self.user = None
                    await self.send("-ERR [AUTH] Authentication failed.")
                else:
                    self.authed = True
                    self.box = self.srv.box()
                    await self.send("+OK Logged in.")
            else:
                await self.send("-ERR Unknown command or not logged in.")
            return True
        # TRANSACTION state
        if verb == b"STAT":
            vis = self.visible()
            await self.send("+OK %d %d" % (len(vis), sum(x.size for _, x in vis)))
        elif verb in (b"LIST", b"UIDL"):
            if verb == b"UIDL" and m == "drop-uidl":
                raise Drop()
            if verb == b"LIST" and m == "drop-list":
                raise Drop()
            val = (lambda x: x.uidl) if verb == b"UIDL" else (lambda x: str(x.size))
            if arg:
                msg = self.get(arg)
                if msg is None:
                    await self.send("-ERR No such message")
                else:
                    await self.send("+OK %d %s" % (int(arg), val(msg)))
            else:
                await self.send("+OK", *["%d %s" % (n, val(x)) for n, x in self.visible()], ".")
        elif verb == b"RETR":
            msg = self.get(arg)
            if m == "err-retr":
                await self.send("-ERR Temporary failure reading message")
            elif msg is None:
                await self.send("-ERR No such message")
            else:
                await self.retr(msg)
        elif verb == b"TOP":
            a = arg.split()
            msg = self.get(a[0]) if a else None
            if msg is None or len(a) != 2 or not a[1].isdigit():
                await self.send("-ERR No such message")
            else:
                await self.send("+OK")
                await self.send_raw(msg.stuffed(msg.top(int(a[1]))) + b".\r\n",
                                    b"<top of message, then .>")
        elif verb == b"DELE":
            if m == "drop-dele":
                raise Drop()
            if m == "err-dele":
                await self.send("-ERR Cannot delete message")
                return True
            msg = self.get(arg)
            if msg is None:
                await self.send("-ERR No such message")
            else:
                self.marked.add(int(arg))
                await self.send("+OK Marked to be deleted.")
        elif verb == b"RSET":
            self.marked.clear()
            await self.send("+OK")
        else:
            await self.send("-ERR Unknown command")
        return True

    async def retr(self, msg):
        m = self.o.mode
        data = msg.stuffed(msg.lines)
        if m in ("drop-mid-retr", "stall-mid-retr"):
            await self.send("+OK %d octets" % msg.size)
            await self.send_raw(data[:max(1, len(data) // 2)], b"<half of the message>")
            if m == "stall-mid-retr":
                await self.stall()
            raise Drop()
        if m == "endless-retr":
            await self.send("+OK %d octets" % msg.size)
            self.log(b"S: ", b"<endless body>")
            chunk = b"".join(b"X-Endless-%06d: %s\r\n" % (i, b"y" * 60) for i in range(1000))
            end = time.monotonic() + self.o.stall_max
            self.w.write(b"Subject: endless\r\n")
            while time.monotonic() < end:
                self.w.write(chunk)
                await self.w.drain()
            raise Drop()
        await self.send("+OK %d octets" % msg.size)
        await self.send_raw(data + b".\r\n", b"<message, then .>")
        self.spool.append("retrieved", msg.uidl.encode())


class Server:
    def __init__(self, opts):
        self.opts = opts
        self.spool = Spool(opts.spool)
        u, _, p = opts.user.partition(":")
        self.credentials = (u.encode(), p.encode())
        uidls = opts.uidl or []
        self.messages = []
        for i, path in enumerate(opts.message or []):
            with open(path, "rb") as f:
                data = f.read()
            self.messages.append(Message(i + 1, data, uidls[i] if i < len(uidls) else None))
        self.deleted = set()  # indices into self.messages

    def box(self):
        """The mailbox as a session sees it at login: [(number, message)]."""
        live = [x for i, x in enumerate(self.messages) if i not in self.deleted]
        return list(enumerate(live, 1))

    def delete(self, session_box, numbers):
        box = dict(session_box)
        for n in sorted(numbers):
            msg = box.get(n)
            if msg is None:
                continue
            idx = next(i for i, x in enumerate(self.messages) if x is msg)
            if idx in self.deleted:
                continue
            self.deleted.add(idx)
            self.spool.append("deleted", msg.uidl.encode())

    async def handle(self, reader, writer):
        await Conn(self, reader, writer).run()


async def main(opts):
    srv = Server(opts)

    def listening(port):
        srv.spool.append("log", b"-- listening on %d mode %s, %d messages" % (
            port, opts.mode.encode(), len(srv.messages)))

    await servlib.serve(srv.handle, opts, 1024 * 1024, listening)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", default="normal", choices=MODES)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: pick a free port (default)")
    p.add_argument("--spool", required=True, help="directory for the logs")
    p.add_argument("--message", action="append", metavar="FILE", help="a message (repeatable)")
    p.add_argument("--uidl", action="append", metavar="UID",
                   help="UIDL of the n-th message (repeatable)")
    p.add_argument("--user", default="alice:secret", metavar="USER:PASS")
    p.add_argument("--stall-max", type=float, default=600,
                   help="longest stall or endless body, seconds (default 600)")
    p.add_argument("--ready-file", help="write the listening port here once ready")
    p.add_argument("--watch-pid", type=int, help="exit when this process is gone")
    return p.parse_args(argv)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args(sys.argv[1:])))
    except KeyboardInterrupt:
        pass
    sys.exit(0)
