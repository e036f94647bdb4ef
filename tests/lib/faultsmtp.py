#!/usr/bin/python3
"""A scripted, faulty SMTP server for Postie's tests (plain TCP, no TLS).

It behaves like a small ESMTP server (EHLO advertises 8BITMIME, SMTPUTF8,
AUTH PLAIN LOGIN; no STARTTLS; PIPELINING with --pipelining, CHUNKING and
BDAT with --chunking) except for the one fault chosen with --mode:

  normal          no fault
  drop-greeting   accept, then close without a greeting
  421-greeting    greet with 421 and close
  stall-greeting  accept, never say anything
  garbage         greet with junk and answer every line with junk
  long-reply      greet with one 100 KB "220 xxx..." line, then behave
  drop-ehlo       close on EHLO/HELO
  504-ehlo        answer EHLO and HELO with 504 (as Postfix's reject_non_fqdn_helo_hostname)
  drop-auth       close on AUTH
  535-auth        answer every AUTH with 535
  drop-mail       close on MAIL
  451-mail        answer MAIL with 451
  drop-rcpt       close on RCPT (the first, or the --at Nth)
  452-rcpt        answer RCPT with 452 (all, only --fail-rcpt addresses, or the --at Nth)
  550-rcpt        answer RCPT with 550 (all, only --fail-rcpt addresses, or the --at Nth)
  drop-data       close on DATA (no 354)
  554-data        answer DATA with 554 (no 354)
  drop-bdat       close on BDAT (the first, or the --at Nth), before its chunk
  drop-mid-bdat   close halfway through the chunk of that BDAT
  451-bdat        read that BDAT's chunk, answer 451 (the message is void)
  554-bdat        read that BDAT's chunk, answer 554 (the message is void)
  drop-after-dot  read the message up to the final dot, close without reply
  451-after-dot   read the message, answer 451
  552-after-dot   read the message, answer 552
  stall-after-dot read the message, never answer
  stall-quit      never answer QUIT (a client that waits for the reply hangs)

The *-after-dot modes apply to the end of the message, the final dot after
DATA or the chunk of BDAT ... LAST (of every message, or of the --at Nth
message of a connection). With --hold-replies the replies to a
transaction's MAIL, RCPT and BDAT wait for the end of its message (as a
server that answers a pipelined flight once it has read it all): a drop
after the dot then leaves the client with no reply at all.  Pipelined commands are read and answered
one by one, in order, as a real server does; a close discards what is left.

Spool (--spool DIR), same format as smtpd.py: a message answered 250 after
the final dot is stored as NNNN.msg (bytes after dot-unstuffing) and
NNNN.env (line 1: MAIL FROM address, "<>" for null sender; then one accepted
RCPT TO address per line), .env written last. A message read but NOT
accepted (the *-after-dot modes) is stored as NNNN.unaccepted (bytes) and
NNNN.unaccepted-env instead, so "*.env" matches delivered messages only.
Also: "connections" (a line per connection), "auths" (a line
"MECHANISM user" per successful AUTH), "log" (the transcript: "C: " lines
received, "S: " lines sent, message bodies left out).
"""

import argparse
import asyncio
import base64
import os
import sys
import time

import servlib

MODES = """normal drop-greeting 421-greeting stall-greeting garbage long-reply drop-ehlo
504-ehlo drop-auth 535-auth drop-mail 451-mail drop-rcpt 452-rcpt 550-rcpt drop-data 554-data
drop-bdat drop-mid-bdat 451-bdat 554-bdat
drop-after-dot 451-after-dot 552-after-dot stall-after-dot stall-quit""".split()

JUNK = [b"Hello? \x01\x02 this is not SMTP \xff\xfe", b"2x0 what", b"", b"-", b"999999 overflow"]


class Drop(Exception):
    """Close the connection now, without a reply."""


class Spool:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.n = 0
        for name in os.listdir(directory):  # continue numbering
            stem = name.split(".")[0]
            if stem.isdigit():
                self.n = max(self.n, int(stem))

    def path(self, name):
        return os.path.join(self.dir, name)

    def append(self, name, line):
        with open(self.path(name), "ab") as f:
            f.write(line + b"\n")

    def write(self, name, data):
        tmp = self.path(".%s.tmp" % name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, self.path(name))

    def store(self, mail_from, rcpts, content, accepted):
        self.n += 1
        nid = "%04d" % self.n
        env = b"".join(a + b"\n" for a in [mail_from] + rcpts)
        if accepted:
            self.write(nid + ".msg", content)
            self.write(nid + ".env", env)
        else:
            self.write(nid + ".unaccepted", content)
            self.write(nid + ".unaccepted-env", env)
        return nid


def parse_addr(arg, keyword):
    """b'FROM:<a@b> SIZE=1' -> b'a@b' (b'<>' for the null path), or None."""
    if not arg.upper().startswith(keyword):
        return None
    rest = arg[len(keyword):].strip()
    if rest.startswith(b"<"):
        end = rest.find(b">")
        if end < 0:
            return None
        addr = rest[1:end]
        return addr if addr else b"<>"
    return rest.split(b" ")[0] or None


class Conn:
    def __init__(self, srv, reader, writer):
        self.srv = srv
        self.o = srv.opts
        self.spool = srv.spool
        self.r = reader
        self.w = writer
        self.reset()
        self.authed = False
        self.nrcpt = 0  # RCPT and BDAT commands seen on this connection
        self.nbdat = 0
        self.nmsg = 0   # messages ended (final dot, BDAT LAST) on this connection
        self.held = []  # replies held back (--hold-replies)

    def reset(self):
        self.mail_from = None
        self.rcpts = []
        self.chunks = None  # BDAT chunks of the message, None: no BDAT yet
        self.void = False   # a BDAT of this message was refused

    def hit(self, n):
        """Whether the fault applies to the nth command of its kind."""
        return self.o.at == 0 or self.o.at == n

    def log(self, prefix, line):
        self.spool.append("log", prefix + line[:300])

    async def send(self, *lines):
        # --hold-replies: a transaction's replies wait for the end of the
        # message (354 aside), as a server that answers a pipelined flight
        # only once it has read it all; a close meanwhile loses them.
        if (self.o.hold_replies and self.mail_from is not None
                and not (lines and str(lines[0]).startswith("354"))):
            self.held.extend(lines)
            return
        lines, self.held = self.held + list(lines), []
        for line in lines:
            if isinstance(line, str):
                line = line.encode()
            self.log(b"S: ", line)
            self.w.write(line + b"\r\n")
        await self.w.drain()

    async def readline(self):
        try:
            line = await self.r.readuntil(b"\n")
        except asyncio.IncompleteReadError as e:
            if not e.partial:
                return None
            line = e.partial
        except asyncio.LimitOverrunError:
            raise Drop()
        return line

    async def stall(self):
        """Say nothing; wait (bounded) until the client goes away."""
        self.log(b"-- ", b"stalling")
        try:
            await asyncio.wait_for(self._drain_input(), self.o.stall_max)
        except asyncio.TimeoutError:
            pass
        raise Drop()

    async def _drain_input(self):
        while await self.r.read(65536):
            pass

    async def run(self):
        self.spool.append("connections", b"%.3f" % time.time())
        m = self.o.mode
        try:
            if m == "drop-greeting":
                raise Drop()
            if m == "stall-greeting":
                await self.stall()
            if m == "421-greeting":
                await self.send("421 4.3.2 localhost Service not available, closing channel")
                raise Drop()
            if m == "garbage":
                await self.send(JUNK[0])
            elif m == "long-reply":
                await self.send(b"220 " + b"x" * (100 * 1024))
            else:
                await self.send("220 localhost ESMTP faultsmtp (%s)" % m)
            while True:
                line = await self.readline()
                if line is None:
                    break
                self.log(b"C: ", line.rstrip(b"\r\n"))
                if m == "garbage":
                    for j in JUNK[1:]:
                        await self.send(j)
                    continue
                if not await self.command(line.rstrip(b"\r\n")):
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
        if verb in (b"EHLO", b"HELO"):
            if m == "drop-ehlo":
                raise Drop()
            if m == "504-ehlo":
                await self.send("504 5.5.2 <%s>: Helo command rejected: need fully-qualified "
                                "hostname" % arg.decode("utf-8", "replace"))
                return True
            self.reset()
            if verb == b"HELO":
                await self.send("250 localhost")
            else:
                ext = (["250-PIPELINING"] if self.o.pipelining else []) + \
                      (["250-CHUNKING"] if self.o.chunking else [])
                await self.send("250-localhost hello", *ext, "250-8BITMIME", "250-SMTPUTF8",
                                "250-AUTH PLAIN LOGIN", "250 HELP")
        elif verb == b"AUTH":
            await self.auth(arg)
        elif verb == b"MAIL":
            if m == "drop-mail":
                raise Drop()
            if m == "451-mail":
                await self.send("451 4.3.0 Requested action aborted: local error in processing")
                return True
            addr = parse_addr(arg, b"FROM:")
            if addr is None:
                await self.send("501 5.5.4 Syntax: MAIL FROM:<address>")
            elif self.mail_from is not None:
                await self.send("503 5.5.1 Error: nested MAIL command")
            else:
                self.mail_from = addr
                await self.send("250 2.1.0 OK")
        elif verb == b"RCPT":
            self.nrcpt += 1
            if m == "drop-rcpt" and self.hit(self.nrcpt):
                raise Drop()
            addr = parse_addr(arg, b"TO:")
            if self.mail_from is None:
                await self.send("503 5.5.1 Error: need MAIL command")
            elif addr is None:
                await self.send("501 5.5.4 Syntax: RCPT TO:<address>")
            elif m in ("452-rcpt", "550-rcpt") and self.hit(self.nrcpt) and (
                    not self.srv.fail_rcpt or addr.lower() in self.srv.fail_rcpt):
                if m == "452-rcpt":
                    await self.send("452 4.5.3 Too many recipients / insufficient storage")
                else:
                    await self.send(b"550 5.1.1 <" + addr + b">: Recipient address rejected")
            else:
                self.rcpts.append(addr)
                await self.send("250 2.1.5 OK")
        elif verb == b"DATA":
            if m == "drop-data":
                raise Drop()
            if m == "554-data":
                await self.send("554 5.5.1 Error: no valid recipients")
                return True
            if not self.rcpts:
                await self.send("503 5.5.1 Error: need RCPT command")
                return True
            await self.send("354 End data with <CR><LF>.<CR><LF>")
            content = await self.read_data()
            if content is None:
                raise Drop()
            await self.end_of_message(content)
        elif verb == b"BDAT" and self.o.chunking:
            await self.bdat(arg)
        elif verb == b"RSET":
            self.reset()
            await self.send("250 2.0.0 OK")
        elif verb == b"NOOP":
            await self.send("250 2.0.0 OK")
        elif verb == b"VRFY":
            await self.send("252 2.0.0 Cannot VRFY user")
        elif verb == b"QUIT":
            if m == "stall-quit":
                await self.stall()
            await self.send("221 2.0.0 Bye")
            return False
        else:
            await self.send("502 5.5.2 Error: command not recognized")
        return True

    async def end_of_message(self, content):
        """The final dot, or the chunk of BDAT LAST: the fault, or 250."""
        self.nmsg += 1
        m = self.o.mode if self.hit(self.nmsg) else "normal"
        accepted = m not in ("drop-after-dot", "451-after-dot", "552-after-dot",
                             "stall-after-dot")
        nid = self.spool.store(self.mail_from, self.rcpts, content, accepted)
        self.reset()
        if m == "drop-after-dot":
            raise Drop()
        if m == "stall-after-dot":
            await self.stall()
        if m == "451-after-dot":
            await self.send("451 4.3.0 Error: queue file write error")
        elif m == "552-after-dot":
            await self.send("552 5.3.4 Error: message file too big")
        else:
            await self.send("250 2.0.0 OK: queued as %s" % nid)

    async def bdat(self, arg):
        """RFC 3030: BDAT size [LAST], then exactly size octets."""
        m = self.o.mode
        words = arg.split()
        if (not words or not words[0].isdigit() or len(words) > 2
                or (len(words) == 2 and words[1].upper() != b"LAST")):
            await self.send("501 5.5.4 Syntax: BDAT size [LAST]")
            raise Drop()
        size, last = int(words[0]), len(words) == 2
        self.nbdat += 1
        hit = m.endswith("-bdat") and self.hit(self.nbdat)
        if hit and m == "drop-bdat":
            raise Drop()
        if hit and m == "drop-mid-bdat":
            await self.r.readexactly(size // 2)
            self.log(b"-- ", b"closing halfway through a chunk")
            raise Drop()
        try:
            chunk = await self.r.readexactly(size)
        except asyncio.IncompleteReadError:
            self.log(b"-- ", b"connection closed during BDAT")
            raise Drop()
        self.log(b"C: ", b"<chunk, %d bytes>" % size)
        if not self.rcpts or self.void:
            await self.send("503 5.5.1 Error: need RCPT command" if not self.rcpts else
                            "554 5.5.1 Error: the message was refused already")
            if last:
                self.reset()
            return
        if hit:
            self.void = True
            await self.send("451 4.3.0 Error: chunk not stored" if m == "451-bdat" else
                            "554 5.6.0 Error: chunk refused")
            if last:
                self.reset()
            return
        if self.chunks is None:
            self.chunks = []
        self.chunks.append(chunk)
        if last:
            await self.end_of_message(b"".join(self.chunks))
        else:
            await self.send("250 2.0.0 %d octets received" % size)

    async def read_data(self):
        parts = []
        while True:
            line = await self.readline()
            if line is None or not line.endswith(b"\n"):
                self.log(b"-- ", b"connection closed during DATA")
                return None
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            parts.append(line)
        content = b"".join(parts)
        self.log(b"C: ", b"<message, %d bytes>" % len(content))
        self.log(b"C: ", b".")
        return content

    async def auth(self, arg):
        m = self.o.mode
        if m == "drop-auth":
            raise Drop()
        mech, _, initial = arg.partition(b" ")
        mech = mech.upper()
        if m == "535-auth":
            await self.send("535 5.7.8 Error: authentication failed")
            return
        if self.authed:
            await self.send("503 5.5.1 Error: already authenticated")
            return
        try:
            if mech == b"PLAIN":
                if not initial:
                    await self.send("334 ")
                    initial = (await self.readline() or b"*").strip()
                if initial == b"*":
                    await self.send("501 5.7.0 Authentication aborted")
                    return
                parts = base64.b64decode(initial, validate=True).split(b"\0")
                if len(parts) != 3:
                    raise ValueError
                user, password = parts[1], parts[2]
            elif mech == b"LOGIN":
                if not initial:
                    await self.send("334 VXNlcm5hbWU6")
                    initial = (await self.readline() or b"*").strip()
                if initial == b"*":
                    await self.send("501 5.7.0 Authentication aborted")
                    return
                user = base64.b64decode(initial, validate=True)
                await self.send("334 UGFzc3dvcmQ6")
                resp = (await self.readline() or b"*").strip()
                if resp == b"*":
                    await self.send("501 5.7.0 Authentication aborted")
                    return
                password = base64.b64decode(resp, validate=True)
            else:
                await self.send("504 5.5.4 Unrecognized authentication type")
                return
        except ValueError:
            await self.send("501 5.5.2 Cannot decode response")
            return
        if self.srv.auth is None or self.srv.auth == (user, password):
            self.authed = True
            self.spool.append("auths", mech + b" " + user)
            await self.send("235 2.7.0 Authentication successful")
        else:
            await self.send("535 5.7.8 Error: authentication failed")


class Server:
    def __init__(self, opts):
        self.opts = opts
        self.spool = Spool(opts.spool)
        self.fail_rcpt = set(a.lower().encode() for a in opts.fail_rcpt)
        self.auth = None
        if opts.auth:
            u, _, p = opts.auth.partition(":")
            self.auth = (u.encode(), p.encode())

    async def handle(self, reader, writer):
        await Conn(self, reader, writer).run()


async def main(opts):
    srv = Server(opts)

    def listening(port):
        srv.spool.append("log", b"-- listening on %d mode %s" % (port, opts.mode.encode()))

    await servlib.serve(srv.handle, opts, 4 * 1024 * 1024, listening)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", required=True, choices=MODES)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: pick a free port (default)")
    p.add_argument("--spool", required=True)
    p.add_argument("--auth", metavar="USER:PASS",
                   help="accept only these credentials (default: accept any)")
    p.add_argument("--fail-rcpt", action="append", default=[], metavar="ADDR",
                   help="452-rcpt/550-rcpt: fail only these recipients (default: all)")
    p.add_argument("--at", type=int, default=0, metavar="N",
                   help="rcpt and bdat modes: only the Nth RCPT or BDAT of the connection")
    p.add_argument("--pipelining", action="store_true", help="advertise PIPELINING")
    p.add_argument("--chunking", action="store_true", help="advertise CHUNKING, take BDAT")
    p.add_argument("--hold-replies", action="store_true",
                   help="answer a transaction's commands only at the end of its message")
    p.add_argument("--stall-max", type=float, default=600,
                   help="longest stall, seconds (default 600)")
    p.add_argument("--ready-file", help="write the listening port here once ready")
    p.add_argument("--watch-pid", type=int, help="exit when this process is gone")
    return p.parse_args(argv)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args(sys.argv[1:])))
    except KeyboardInterrupt:
        pass
    sys.exit(0)
