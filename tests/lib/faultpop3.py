#!/usr/bin/python3
"""A scripted, faulty POP3 server for Postie's tests (plain TCP, no TLS).

Serves a fixed mailbox: one message per --message FILE, in order (message
numbers 1..N). Line ends are sent as CRLF (bare LF in the file becomes CRLF,
a final line without an end gets CRLF), with dot-stuffing; LIST/STAT sizes
count the CRLF form. UIDLs are "<n>.<first 16 hex of sha1(file)>" unless
given with --uidl (one per message, in order).

Commands: CAPA (TOP UIDL USER RESP-CODES, and --capa WORDS lines), USER,
PASS, APOP (with --apop), AUTH PLAIN/LOGIN/CRAM-MD5 (those --sasl lists,
initial response or not), UTF8 (when a --capa line says UTF8), STAT, LIST,
UIDL, RETR, TOP, DELE, NOOP, RSET, QUIT. Login: --user USER:PASS (default
alice:secret); --refuse MECH (USER, APOP, PLAIN, ...; repeatable) refuses
that way of logging in whatever the credentials, as a server whose backend
cannot check it; --pass-error TEXT is the -ERR text of a refused login
(default "[AUTH] Authentication failed."). --no-capa: CAPA is refused
(as popa3d). Deletions happen at QUIT (UPDATE state) and last for the life
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
transcript, "C: "/"S: " lines, message bodies left out, credentials shown
as <redacted>), "deleted" (the UIDL of each message deleted at QUIT, one a
line), "retrieved" (the UIDL of each message fully sent by RETR, one a
line), "flights" (per connection after the login, one line per flight of
commands: the verbs the client sent in one go, i.e. found waiting together
in the input), "logins" (MECH USER per successful login), "utf8" (a line
per UTF8 command accepted).
"""

import argparse
import asyncio
import base64
import hashlib
import hmac
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
        self.stamp = "<%d.%d@faultpop3>" % (os.getpid(), int(time.time() * 1000))
        self.flight = []

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
            greeting = b"+OK faultpop3 (%s) ready" % m.encode()
            if self.o.apop:
                greeting += b" " + self.stamp.encode()
            await self.send(JUNK[0] if m == "garbage" else greeting)
            while True:
                line = await self.readline()
                if line is None:
                    break
                self.log(b"C: ", self.redacted(line))
                self.note_flight(line)
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

    async def readline(self):
        try:
            line = await self.r.readuntil(b"\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        return line.rstrip(b"\r\n")

    def redacted(self, line):
        verb = line.split(b" ", 1)[0].upper()
        if verb == b"PASS":
            return b"PASS <redacted>"
        if verb in (b"APOP", b"AUTH"):
            return b" ".join(line.split(b" ")[:2]) + b" <redacted>"
        return line

    def note_flight(self, line):
        """Commands found waiting together in the input came in one flight."""
        if not self.authed:
            return
        self.flight.append(line.split(b" ", 1)[0].upper())
        if not self.r._buffer:
            self.spool.append("flights", b" ".join(self.flight))
            self.flight = []

    def capas(self):
        c = [] if "USER" in self.o.refuse else ["USER"]
        c = ["TOP", "UIDL"] + c + ["RESP-CODES"] + (self.o.capa or [])
        if self.o.sasl:
            c.append("SASL " + self.o.sasl)
        return c

    async def refuse_login(self):
        await self.send("-ERR " + self.o.pass_error)

    async def logged_in(self, mech, user):
        self.authed = True
        self.box = self.srv.box()
        self.spool.append("logins", b"%s %s" % (mech.encode(), user))
        await self.send("+OK Logged in.")

    async def challenge(self, text):
        """Sends "+ text", returns the client's answer (base64-decoded), None if cancelled."""
        await self.send(b"+ " + base64.b64encode(text))
        line = await self.readline()
        if line is None:
            raise Drop()
        self.log(b"C: ", b"<response>")
        if line == b"*":
            return None
        return base64.b64decode(line)

    async def auth(self, arg):
        mech, _, ir = arg.partition(b" ")
        mech = mech.upper().decode(errors="replace")
        offered = (self.o.sasl or "").upper().split()
        if mech not in offered:
            await self.send("-ERR Unsupported authentication mechanism.")
            return
        user = None
        pw = None
        if mech == "PLAIN":
            data = base64.b64decode(ir) if ir and ir != b"=" else \
                (b"" if ir == b"=" else await self.challenge(b""))
            if data is None:
                await self.send("-ERR Cancelled.")
                return
            parts = data.split(b"\0")
            if len(parts) == 3:
                user, pw = parts[1], parts[2]
        elif mech == "LOGIN":
            user = base64.b64decode(ir) if ir else await self.challenge(b"Username:")
            pw = await self.challenge(b"Password:") if user is not None else None
        elif mech == "CRAM-MD5":
            ch = self.stamp.encode()
            resp = await self.challenge(ch)
            if resp is None:
                await self.send("-ERR Cancelled.")
                return
            u, _, digest = resp.rpartition(b" ")
            want = hmac.new(self.srv.credentials[1], ch, "md5").hexdigest().encode()
            user, pw = u, (self.srv.credentials[1] if digest == want else None)
        if mech in self.o.refuse or (user, pw) != self.srv.credentials:
            await self.refuse_login()
            return
        await self.logged_in(mech, user)

    async def command(self, line):
        m = self.o.mode
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        arg = arg.strip()
        if verb == b"CAPA":
            if self.o.no_capa:
                await self.send("-ERR Unknown command")
                return True
            await self.send("+OK Capability list follows", *self.capas(), ".")
            return True
        if verb == b"UTF8" and any(c.split()[0].upper() == "UTF8" for c in self.o.capa or []):
            self.spool.append("utf8", b"%s" % (b"after login" if self.authed else b"before login"))
            await self.send("+OK UTF8 enabled")
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
                if m == "err-pass" or self.user is None or "USER" in self.o.refuse or \
                        (self.user, arg) != self.srv.credentials:
                    self.user = None
                    await self.refuse_login()
                else:
                    await self.logged_in("USER", self.user)
            elif verb == b"APOP" and self.o.apop:
                a = arg.split()
                want = hashlib.md5(self.stamp.encode() + self.srv.credentials[1]).hexdigest()
                if m == "err-pass" or "APOP" in self.o.refuse or len(a) != 2 or \
                        (a[0], a[1].decode(errors="replace")) != (self.srv.credentials[0], want):
                    await self.refuse_login()
                else:
                    await self.logged_in("APOP", a[0])
            elif verb == b"AUTH" and arg:
                if m == "err-pass":
                    await self.refuse_login()
                else:
                    await self.auth(arg)
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
    p.add_argument("--capa", action="append", metavar="LINE",
                   help="one more CAPA line, e.g. UTF8 or PIPELINING (repeatable)")
    p.add_argument("--sasl", metavar="MECHS", help="SASL mechanisms offered, e.g. 'PLAIN LOGIN'")
    p.add_argument("--apop", action="store_true", help="a timestamp in the greeting; APOP works")
    p.add_argument("--refuse", action="append", default=[], metavar="MECH",
                   help="refuse this way of logging in (USER, APOP, PLAIN, ...)")
    p.add_argument("--pass-error", default="[AUTH] Authentication failed.", metavar="TEXT",
                   help="text of the -ERR to a refused login")
    p.add_argument("--no-capa", action="store_true", help="-ERR to CAPA")
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
