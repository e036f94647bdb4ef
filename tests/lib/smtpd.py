#!/usr/bin/python3
"""A real SMTP server for Postie's tests, built on aiosmtpd.

Run it with /usr/bin/python3 (Debian's python3-aiosmtpd).  Every accepted
message is stored in the spool directory, byte-exact as received in DATA
(after dot-unstuffing, CRLF kept, no header added):

    NNNN.msg   the message bytes
    NNNN.info  "key: value" lines: helo, tls, auth, mail_options, rcpt_options,
               size, via (DATA or BDAT)
    NNNN.env   line 1: MAIL FROM address ("<>" for the null sender),
               then one RCPT TO address per line (only accepted recipients)

All three are written atomically (temp file + rename), .env last, so a test
can wait for NNNN.env and then read the rest.  NNNN counts from 0001.

Also appended to in the spool: "connections" (one line per TCP connection,
not per STARTTLS), "auths" (one line "MECHANISM user" per successful AUTH),
"auth-failures" (one line per failed AUTH), "log" (one line per message or
event), "smtpd.pid", and "flights": one line "C F COMMAND" per command
received, C the connection (1, 2, ...), F the flight within it: a command
that was already in the input buffer when the server went to read it came
in the same flight as the one before (the client did not wait for a
reply).  Message content shows as "<data>" (DATA) once per message; BDAT
chunks are not shown, their commands are; AUTH arguments and the lines of
an AUTH exchange are left out.

--pipelining advertises PIPELINING (RFC 2920; aiosmtpd reads commands in
order anyway, so only the advertisement is new); --chunking advertises
CHUNKING and implements BDAT (RFC 3030), which aiosmtpd lacks: the chunks
of a message are stored as if they had come in DATA.  --max-rcpt N answers
"452 4.5.3 Error: too many recipients" to every RCPT after the Nth of a
transaction, as Postfix's smtpd_recipient_limit does.

Options: see --help.  --port 0 picks a free port; the port actually used is
written (followed by a newline) to --ready-file once the server listens.
"""

import argparse
import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import ssl
import sys
import time

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

import servlib
import smtpd_oauth


def write_atomic(path, data):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
    os.rename(tmp, path)


def append_line(path, line):
    with open(path, "ab") as f:
        f.write(line.encode("utf-8", "surrogateescape") + b"\n")


class Spool:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.n = 0
        # continue numbering if the spool already holds messages
        for name in os.listdir(directory):
            stem = name.split(".")[0]
            if stem.isdigit():
                self.n = max(self.n, int(stem))

    def path(self, name):
        return os.path.join(self.dir, name)

    def next_id(self):
        self.n += 1
        return "%04d" % self.n

    def store(self, mail_from, rcpts, content, info):
        nid = self.next_id()
        write_atomic(self.path(nid + ".msg"), content)
        write_atomic(self.path(nid + ".info"),
                     "".join("%s: %s\n" % kv for kv in info).encode("utf-8", "surrogateescape"))
        env = "".join(a + "\n" for a in [mail_from] + list(rcpts))
        write_atomic(self.path(nid + ".env"), env.encode("utf-8", "surrogateescape"))
        return nid

    def log(self, what):
        append_line(self.path("log"), "%.3f %s" % (time.time(), what))


class Handler:
    def __init__(self, opts, spool):
        self.opts = opts
        self.spool = spool
        self.reject = set(a.lower() for a in opts.reject_rcpt)
        self.tempfail = set(a.lower() for a in opts.tempfail_rcpt)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.opts.auth is None and not self.opts.oauth_introspect:
            responses = [r for r in responses if not r[4:].startswith("AUTH")]
        hide = (["8BITMIME"] if self.opts.no_8bitmime else []) + \
               (["SMTPUTF8"] if self.opts.no_smtputf8 else [])
        responses = [r for r in responses if r[4:] not in hide]
        extra = (["250-PIPELINING"] if self.opts.pipelining else []) + \
                (["250-CHUNKING"] if self.opts.chunking else [])
        return responses[:1] + extra + responses[1:]

    async def handle_QUIT(self, server, session, envelope):
        self.spool.log("QUIT")
        return "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.opts.max_rcpt and len(envelope.rcpt_tos) >= self.opts.max_rcpt:
            self.spool.log("RCPT %s over the limit 452" % address)
            return "452 4.5.3 Error: too many recipients"
        if address.lower() in self.reject:
            self.spool.log("RCPT %s rejected 550" % address)
            return "550 5.1.1 <%s>: Recipient address rejected" % address
        if address.lower() in self.tempfail:
            self.spool.log("RCPT %s tempfailed 451" % address)
            return "451 4.3.0 <%s>: Temporary failure, try again later" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content
        if content is None:
            content = b""
        info = [
            ("helo", session.host_name or ""),
            ("tls", "yes" if is_tls(server) else "no"),
            ("auth", getattr(session.auth_data, "login", b"").decode("utf-8", "replace")
             if session.authenticated and isinstance(session.auth_data, LoginPassword)
             else (str(session.auth_data) if session.authenticated else "")),
            ("mail_options", " ".join(envelope.mail_options)),
            ("rcpt_options", " ".join(envelope.rcpt_options)),
            ("size", str(len(content))),
            ("via", "BDAT" if getattr(envelope, "bdat_size", None) is not None else "DATA"),
        ]
        nid = self.spool.store(envelope.mail_from, envelope.rcpt_tos, content, info)
        self.spool.log("DATA stored %s (%d bytes, %d rcpts)" % (nid, len(content), len(envelope.rcpt_tos)))
        return "250 2.0.0 OK: queued as %s" % nid

    # CRAM-MD5: a handler method named auth_XXX__YYY is mechanism XXX-YYY.
    async def auth_CRAM__MD5(self, server, args):
        if len(args) > 1:
            await server.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = ("<%s.%d@localhost>" % (secrets.token_hex(8), int(time.time()))).encode()
        resp = await server.challenge_auth(challenge)
        if not isinstance(resp, bytes):  # MISSING: aborted or bad base64, already answered
            return AuthResult(success=False, handled=True)
        user, _, digest = resp.partition(b" ")
        ok = False
        if self.opts.auth_user is not None and user == self.opts.auth_user:
            want = hmac.new(self.opts.auth_pass, challenge, hashlib.md5).hexdigest().encode()
            ok = hmac.compare_digest(want, digest.strip().lower())
        record_auth(self.spool, "CRAM-MD5", user, ok)
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user, b""))
        return AuthResult(success=False, handled=False)


def record_auth(spool, mechanism, user, ok):
    u = user.decode("utf-8", "surrogateescape") if isinstance(user, bytes) else str(user)
    append_line(spool.path("auths" if ok else "auth-failures"), "%s %s" % (mechanism, u))
    spool.log("AUTH %s %s %s" % (mechanism, u, "ok" if ok else "failed"))


def is_tls(server):
    if server._tls_protocol is not None:
        return True
    t = server.transport
    return t is not None and t.get_extra_info("sslcontext") is not None


def make_authenticator(opts, spool):
    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = (opts.auth_user is not None
              and hmac.compare_digest(auth_data.login, opts.auth_user)
              and hmac.compare_digest(auth_data.password, opts.auth_pass))
        record_auth(spool, mechanism, auth_data.login, ok)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return authenticator


VERBS = set("EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS AUTH VRFY EXPN HELP".split())


class FlightReader(asyncio.StreamReader):
    """aiosmtpd's input stream, telling the protocol whether each line read
    was already buffered (sent without waiting for the reply before)."""

    proto = None

    async def readuntil(self, separator=b"\n"):
        fresh = not self._buffer
        line = await super().readuntil(separator)
        if self.proto is not None:
            self.proto.saw_line(line, fresh)
        return line


class TestSMTP(SMTP):
    """aiosmtpd's SMTP with a connection counter, a settable line limit, the
    flight record, and BDAT."""

    spool = None
    chunking = False
    nconn = 0

    def connection_made(self, transport):
        if self._original_transport is None:  # a new connection, not STARTTLS
            append_line(self.spool.path("connections"), "%.3f %r" % (
                time.time(), transport.get_extra_info("peername")))
            TestSMTP.nconn += 1
            self.conn_no = TestSMTP.nconn
            self.flight = 0
            self.data_state = None
            self.in_auth = False
        super().connection_made(transport)

    def _client_connected_cb(self, reader, writer):
        reader.__class__ = FlightReader
        reader.proto = self
        super()._client_connected_cb(reader, writer)

    def record(self, fresh, text):
        if fresh or self.flight == 0:
            self.flight += 1
        append_line(self.spool.path("flights"), "%d %d %s" % (self.conn_no, self.flight, text))

    def saw_line(self, line, fresh):
        if self.data_state == "more":
            return
        if self.data_state == "first":
            self.data_state = "more"
            self.record(fresh, "<data>")
            return
        text = line.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
        verb = text.split(" ", 1)[0].upper()
        if verb not in VERBS:
            # an AUTH exchange's responses, or junk
            text = "<auth>" if self.in_auth else "<line>"
        elif verb == "AUTH":
            text = " ".join(text.split(" ")[:2])
        self.in_auth = verb == "AUTH" or (self.in_auth and verb not in VERBS)
        self.record(fresh, text)

    async def smtp_DATA(self, arg):
        ok = (self.envelope.rcpt_tos and not arg and self.session.host_name
              and not (self._auth_required and not self.session.authenticated))
        self.data_state = "first" if ok else None
        try:
            await super().smtp_DATA(arg)
        finally:
            self.data_state = None

    async def smtp_BDAT(self, arg):
        """RFC 3030: BDAT size [LAST], then exactly size octets."""
        words = (arg or "").split()
        if not self.chunking:
            await self.push('500 Error: command "BDAT" not recognized')
            return
        if (not words or not words[0].isdigit() or len(words) > 2
                or (len(words) == 2 and words[1].upper() != "LAST")):
            # The chunk's length is unknown: the stream cannot be followed.
            await self.push("501 5.5.4 Syntax: BDAT size [LAST]; closing")
            self.transport.close()
            return
        size, last = int(words[0]), len(words) == 2
        chunk = await self._reader.readexactly(size)
        env = self.envelope
        if await self.check_helo_needed() or await self.check_auth_needed("BDAT"):
            return
        if not env.rcpt_tos:
            await self.push("503 5.5.1 Error: need RCPT command")
            return
        if not hasattr(env, "bdat"):
            env.bdat = []
            env.bdat_size = 0
        env.bdat_size += size
        limit = self.data_size_limit
        if limit and env.bdat_size > limit:
            env.bdat = None
        elif env.bdat is not None:
            env.bdat.append(chunk)
        if not last:
            await self.push("250 2.0.0 %d octets received" % size)
            return
        if env.bdat is None:
            self._set_post_data_state()
            await self.push("552 5.3.4 Error: message too big")
            return
        env.original_content = env.content = b"".join(env.bdat)
        env.bdat = None
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: pick a free port (default)")
    p.add_argument("--spool", required=True)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--tls", dest="mode", action="store_const", const="tls",
                      help="implicit TLS from the first byte (SMTPS)")
    mode.add_argument("--starttls", dest="mode", action="store_const", const="starttls",
                      help="advertise STARTTLS and require it before MAIL/AUTH")
    mode.add_argument("--starttls-optional", dest="mode", action="store_const",
                      const="starttls-optional", help="advertise STARTTLS, do not require it")
    mode.add_argument("--plain", dest="mode", action="store_const", const="plain",
                      help="no TLS at all (default)")
    p.add_argument("--cert", help="PEM certificate (chain) file")
    p.add_argument("--key", help="PEM private key file")
    p.add_argument("--auth", metavar="USER:PASS",
                   help="enable AUTH PLAIN, LOGIN and CRAM-MD5 with these credentials")
    p.add_argument("--require-auth", action="store_true",
                   help="refuse MAIL/RCPT/DATA before a successful AUTH")
    p.add_argument("--reject-rcpt", action="append", default=[], metavar="ADDR",
                   help="reply 550 to RCPT TO this address (repeatable)")
    p.add_argument("--tempfail-rcpt", action="append", default=[], metavar="ADDR",
                   help="reply 451 to RCPT TO this address (repeatable)")
    p.add_argument("--pipelining", action="store_true", help="advertise PIPELINING")
    p.add_argument("--chunking", action="store_true", help="advertise CHUNKING, take BDAT")
    p.add_argument("--no-8bitmime", action="store_true", help="do not advertise 8BITMIME")
    p.add_argument("--no-smtputf8", action="store_true", help="do not advertise SMTPUTF8")
    p.add_argument("--max-rcpt", type=int, default=0,
                   help="452 to each RCPT after this many in a transaction (0: no limit)")
    p.add_argument("--size-limit", type=int, default=0,
                   help="advertise SIZE and refuse larger messages (0: no limit, default)")
    p.add_argument("--line-length-limit", type=int, default=1 << 20,
                   help="longest line accepted, CRLF included (default 1 MiB)")
    p.add_argument("--timeout", type=float, default=300, help="idle timeout, seconds")
    p.add_argument("--hostname", default="localhost", help="name in greeting and EHLO reply")
    smtpd_oauth.add_arguments(p)
    p.add_argument("--ready-file", help="write the listening port here once ready")
    p.add_argument("--watch-pid", type=int,
                   help="exit when this process (the test script) is gone")
    p.set_defaults(mode="plain")
    opts = p.parse_args(argv)
    opts.auth_user = opts.auth_pass = None
    if opts.auth is not None:
        user, sep, pw = opts.auth.partition(":")
        if not sep:
            p.error("--auth wants USER:PASS")
        opts.auth_user = user.encode("utf-8")
        opts.auth_pass = pw.encode("utf-8")
    if opts.mode != "plain" and not (opts.cert and opts.key):
        p.error("--%s needs --cert and --key" % opts.mode)
    return opts


async def main(opts):
    spool = Spool(opts.spool)
    write_atomic(spool.path("smtpd.pid"), b"%d\n" % os.getpid())
    smtpd_oauth.install(Handler, opts, spool, record_auth)
    handler = Handler(opts, spool)
    ctx = None
    if opts.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(opts.cert, opts.key)
    starttls = opts.mode in ("starttls", "starttls-optional")

    class Proto(TestSMTP):
        line_length_limit = opts.line_length_limit

    Proto.spool = spool
    Proto.chunking = opts.chunking

    kwargs = dict(
        data_size_limit=opts.size_limit or None,
        enable_SMTPUTF8=True,
        decode_data=False,
        hostname=opts.hostname,
        ident="Postie test smtpd",
        timeout=opts.timeout,
        auth_required=opts.require_auth,
        # AUTH advertised after STARTTLS in starttls mode, always otherwise
        auth_require_tls=(opts.mode == "starttls"),
        authenticator=make_authenticator(opts, spool),
        auth_exclude_mechanism=[] if opts.auth is not None else ["PLAIN", "LOGIN", "CRAM-MD5"],
    )
    if starttls:
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = opts.mode == "starttls"

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Proto(handler, loop=loop, **kwargs),
        host=opts.host, port=opts.port,
        ssl=ctx if opts.mode == "tls" else None,
        reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    spool.log("listening on %s:%d mode=%s auth=%s" % (opts.host, port, opts.mode,
                                                      "yes" if opts.auth else "no"))
    if opts.ready_file:
        write_atomic(opts.ready_file, b"%d\n" % port)

    await servlib.stop_future(opts)
    server.close()
    spool.log("stopped")


if __name__ == "__main__":
    o = parse_args(sys.argv[1:])
    logging.basicConfig(level=logging.ERROR, format="smtpd.py: %(name)s: %(message)s")
    try:
        asyncio.run(main(o))
    except KeyboardInterrupt:
        pass
    sys.exit(0)
