"""AUTH XOAUTH2 and OAUTHBEARER (RFC 7628) for smtpd.py, checking every
token against an OAuth 2.0 introspection endpoint (RFC 7662, e.g.
authserver.py's), as a real provider's server does.

smtpd.py calls add_arguments() and install(); with --oauth-introspect URL
both mechanisms are advertised (also without --auth) and a token is good
when the endpoint says {"active": true, "username": USER} for the user the
client names.  A refused token gets the provider's answer: a 334 challenge
holding a JSON error (as Gmail and Microsoft send), then 535 after the
client's (empty or ^A) response.  Successes and failures are recorded like
the other mechanisms ("auths", "auth-failures", "log"); tokens never are.
"""

import asyncio
import base64
import json
import ssl
import urllib.parse
import urllib.request

from aiosmtpd.smtp import AuthResult, LoginPassword


def add_arguments(p):
    p.add_argument("--oauth-introspect", metavar="URL",
                   help="offer XOAUTH2 and OAUTHBEARER, checking tokens at this "
                        "introspection endpoint")
    p.add_argument("--oauth-cafile", metavar="FILE",
                   help="CA bundle for the introspection endpoint's certificate")
    p.add_argument("--oauth-mechanisms", default="XOAUTH2,OAUTHBEARER", metavar="LIST",
                   help="which of the two to offer (default both)")


def introspect(opts, token):
    """The username the endpoint gives for an active token, or None."""
    ctx = ssl.create_default_context(cafile=opts.oauth_cafile)
    data = urllib.parse.urlencode({"token": token}).encode()
    req = urllib.request.Request(opts.oauth_introspect, data=data, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            ans = json.loads(r.read().decode())
    except Exception:
        return None
    if ans.get("active") is not True:
        return None
    return ans.get("username")


def parse_xoauth2(blob):
    """user, token from "user=U^Aauth=Bearer T^A^A"."""
    user = token = None
    for part in blob.split(b"\x01"):
        if part.startswith(b"user="):
            user = part[5:]
        elif part.lower().startswith(b"auth=bearer "):
            token = part[12:]
    return user, token


def parse_oauthbearer(blob):
    """user, token from the RFC 7628 client response "n,a=U,^A...auth=Bearer T^A^A"."""
    head, _, rest = blob.partition(b"\x01")
    user = None
    for f in head.split(b","):
        if f.startswith(b"a="):
            user = f[2:].replace(b"=2C", b",").replace(b"=3D", b"=")
    _, token = parse_xoauth2(b"\x01" + rest)
    return user, token


def install(handler_class, opts, spool, record_auth):
    """Adds the two mechanisms to smtpd.py's Handler when --oauth-introspect is given."""
    if not opts.oauth_introspect:
        return

    async def check(server, args, mechanism, parse, error):
        if len(args) > 1:
            blob = b"" if args[1] == "=" else None
            if blob is None:
                try:
                    blob = base64.b64decode(args[1], validate=True)
                except Exception:
                    await server.push("501 5.5.2 Can't decode base64")
                    return AuthResult(success=False, handled=True)
        else:
            blob = await server.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        user, token = parse(blob)
        name = None
        if user and token:
            loop = asyncio.get_running_loop()
            name = await loop.run_in_executor(None, introspect, opts,
                                              token.decode("ascii", "replace"))
        ok = name is not None and user.decode("utf-8", "replace") == name
        record_auth(spool, mechanism, user or b"?", ok)
        if ok:
            return AuthResult(success=True, auth_data=LoginPassword(user, b""))
        # The provider's error challenge; the client answers it, then 535.
        await server.challenge_auth(json.dumps(error).encode())
        return AuthResult(success=False, handled=False)

    async def auth_XOAUTH2(self, server, args):
        return await check(server, args, "XOAUTH2", parse_xoauth2, {
            "status": "401", "schemes": "bearer", "scope": "https://mail.example/"})

    async def auth_OAUTHBEARER(self, server, args):
        return await check(server, args, "OAUTHBEARER", parse_oauthbearer, {
            "status": "invalid_token", "scope": "mail", "openid-configuration": ""})

    mechs = opts.oauth_mechanisms.upper().split(",")
    if "XOAUTH2" in mechs:
        handler_class.auth_XOAUTH2 = auth_XOAUTH2
    if "OAUTHBEARER" in mechs:
        handler_class.auth_OAUTHBEARER = auth_OAUTHBEARER
