#!/usr/bin/python3
"""An OAuth 2.0 authorization server for Postie's tests (HTTPS on loopback).

Endpoints (paths on https://127.0.0.1:PORT):

  GET  /authorize   the authorization code flow: approves at once (the user
                    is login_hint, else --user) and redirects (302) to the
                    loopback redirect_uri with code and state; PKCE S256 is
                    required.  With /admin/set?deny=1: error=access_denied.
  POST /token       grant_type refresh_token (refresh tokens rotate; using an
                    old one again revokes the whole family, as strict
                    providers do), client_credentials (confidential clients),
                    authorization_code (one use; redirect_uri and the PKCE
                    verifier checked), urn:ietf:params:oauth:grant-type:
                    device_code (authorization_pending until approved,
                    slow_down when polled too fast or when asked to by
                    /admin/set?slow_down=1, expired_token, access_denied).
                    Clients authenticate with client_secret in the form or
                    HTTP Basic.
  POST /device      the device authorization request (RFC 8628).
  GET  /device?user_code=X[&deny=1]   approves (or denies) a device code.
  POST /introspect  RFC 7662: {"active": true, "username": ..., ...} for a
                    live access token, {"active": false} otherwise.
  GET  /admin/revoke[?user=U]   revokes every grant (of user U): its refresh
                    tokens and access tokens.
  GET  /admin/expire            every access token issued so far expires now.
  GET  /admin/set?K=V...        expires_in=SECONDS (for new access tokens),
                    rotate=0|1, fail=STATUS (the token endpoint answers that
                    HTTP status with temporarily_unavailable; 0 = normal),
                    deny=0|1, slow_down=1 (the next device poll), app_user=U.
  GET  /admin/stats             counters as JSON.

Spool (--spool DIR): "events" (one line per request that matters, never a
secret), "secrets" (every token, code and device code issued, one per line,
so that tests can check that none of them shows up in a log), "server.log".
Options: see --help.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class State:
    def __init__(self, opts):
        self.opts = opts
        self.lock = threading.Lock()
        self.clients = {}           # id -> secret (None: public)
        for c in opts.client:
            cid, _, sec = c.partition(":")
            self.clients[cid] = sec or None
        self.expires_in = opts.expires_in
        self.rotate = not opts.no_rotate
        self.fail = 0
        self.deny = False
        self.slow_down_next = False
        self.app_user = opts.app_user or opts.user
        self.families = {}          # id -> {user, scope, client, revoked, current_rt}
        self.refresh = {}           # rt -> family id ("used" ones stay, marked)
        self.used_rt = set()
        self.access = {}            # at -> {user, scope, client, exp, family}
        self.codes = {}             # code -> {...}
        self.devices = {}           # device_code -> {...}
        self.user_codes = {}        # user_code -> device_code
        self.nfamily = 0
        self.stats = {}

    def count(self, key):
        self.stats[key] = self.stats.get(key, 0) + 1

    def secret(self, prefix):
        s = prefix + secrets.token_urlsafe(24)
        with open(os.path.join(self.opts.spool, "secrets"), "a") as f:
            f.write(s + "\n")
        return s

    def event(self, text):
        with open(os.path.join(self.opts.spool, "events"), "a") as f:
            f.write("%.3f %s\n" % (time.time(), text))

    def new_family(self, user, scope, client):
        self.nfamily += 1
        fid = self.nfamily
        self.families[fid] = {"user": user, "scope": scope, "client": client,
                              "revoked": False, "current": None}
        return fid

    def issue(self, fid, user, scope, client, with_refresh):
        at = self.secret("at-")
        self.access[at] = {"user": user, "scope": scope, "client": client,
                           "exp": time.time() + self.expires_in, "family": fid}
        out = {"access_token": at, "token_type": "Bearer", "expires_in": self.expires_in,
               "scope": scope}
        if with_refresh:
            rt = self.secret("rt-")
            old = self.families[fid]["current"]
            if old:
                self.used_rt.add(old)
            self.families[fid]["current"] = rt
            self.refresh[rt] = fid
            out["refresh_token"] = rt
        return out

    def revoke_family(self, fid):
        self.families[fid]["revoked"] = True
        for a in self.access.values():
            if a["family"] == fid:
                a["exp"] = 0


def b64url_sha256(s):
    d = hashlib.sha256(s.encode("ascii")).digest()
    return base64.urlsafe_b64encode(d).rstrip(b"=").decode("ascii")


class Handler(BaseHTTPRequestHandler):
    server_version = "PostieTestAuth/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        # The request line may hold a code or a token: log the path only.
        sys.stderr.write("authserver: %s %s\n" % (self.command,
                                                  urllib.parse.urlsplit(self.path).path))

    @property
    def st(self):
        return self.server.state

    def send_json(self, status, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, status, text, headers=()):
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, err, desc):
        self.send_json(status, {"error": err, "error_description": desc})

    def form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        if self.headers.get("Content-Type", "").split(";")[0].strip() != \
                "application/x-www-form-urlencoded":
            return None
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw, keep_blank_values=True).items()}

    def client_auth(self, f):
        """The authenticated client id, or None (an error was sent)."""
        cid, sec = f.get("client_id"), f.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                cid, sec = urllib.parse.unquote_plus(u), urllib.parse.unquote_plus(p)
            except Exception:
                pass
        if cid not in self.st.clients:
            self.error(401, "invalid_client", "unknown client %s" % cid)
            return None
        want = self.st.clients[cid]
        if want is not None and not (sec and hmac.compare_digest(sec, want)):
            self.error(401, "invalid_client", "client authentication failed")
            return None
        return cid

    # ---- GET ----

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query, keep_blank_values=True).items()}
        with self.st.lock:
            if u.path == "/authorize":
                return self.authorize(q)
            if u.path == "/device":
                return self.device_verify(q)
            if u.path.startswith("/admin/"):
                return self.admin(u.path[7:], q)
        self.send_text(404, "not found")

    def authorize(self, q):
        st = self.st
        ruri = q.get("redirect_uri", "")
        if q.get("client_id") not in st.clients:
            return self.send_text(400, "unknown client")
        if not (ruri.startswith("http://127.0.0.1:") or ruri.startswith("http://[::1]:")):
            return self.send_text(400, "redirect_uri must be a loopback address")
        sep = "&" if "?" in ruri else "?"
        state = q.get("state")

        def back(params):
            if state is not None:
                params["state"] = state
            loc = ruri + sep + urllib.parse.urlencode(params)
            self.send_text(302, "redirecting", headers=[("Location", loc)])

        if q.get("response_type") != "code":
            return back({"error": "unsupported_response_type"})
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            st.event("authorize refused: no PKCE S256")
            return back({"error": "invalid_request",
                         "error_description": "PKCE with S256 is required"})
        if st.deny:
            st.event("authorize denied")
            return back({"error": "access_denied", "error_description": "the user said no"})
        user = q.get("login_hint") or st.opts.user
        code = st.secret("code-")
        st.codes[code] = {"client": q["client_id"], "redirect_uri": ruri, "user": user,
                          "scope": q.get("scope", ""), "challenge": q["code_challenge"],
                          "exp": time.time() + 120, "used": False, "family": None}
        st.count("authorize")
        st.event("authorize ok user=%s client=%s scope=%s" % (user, q["client_id"],
                                                                q.get("scope", "")))
        back({"code": code})

    def device_verify(self, q):
        st = self.st
        dc = st.user_codes.get(q.get("user_code", ""))
        if dc is None:
            return self.send_text(404, "no such code")
        d = st.devices[dc]
        d["status"] = "denied" if q.get("deny") else "approved"
        st.event("device %s user_code=%s" % (d["status"], q.get("user_code")))
        self.send_text(200, "device %s" % d["status"])

    def admin(self, what, q):
        st = self.st
        if what == "revoke":
            n = 0
            for fid, f in st.families.items():
                if not f["revoked"] and (not q.get("user") or f["user"] == q["user"]):
                    st.revoke_family(fid)
                    n += 1
            st.event("admin revoke families=%d" % n)
            return self.send_json(200, {"revoked": n})
        if what == "expire":
            for a in st.access.values():
                a["exp"] = min(a["exp"], time.time() - 1)
            st.event("admin expire")
            return self.send_json(200, {"expired": len(st.access)})
        if what == "set":
            if "expires_in" in q:
                st.expires_in = int(q["expires_in"])
            if "rotate" in q:
                st.rotate = q["rotate"] == "1"
            if "fail" in q:
                st.fail = int(q["fail"])
            if "deny" in q:
                st.deny = q["deny"] == "1"
            if "slow_down" in q:
                st.slow_down_next = q["slow_down"] == "1"
            if "app_user" in q:
                st.app_user = q["app_user"]
            st.event("admin set %s" % " ".join("%s=%s" % kv for kv in sorted(q.items())))
            return self.send_json(200, {"ok": True})
        if what == "stats":
            s = dict(st.stats)
            s["families"] = len(st.families)
            s["revoked_families"] = sum(1 for f in st.families.values() if f["revoked"])
            return self.send_json(200, s)
        self.send_text(404, "no such admin call")

    # ---- POST ----

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        f = self.form()
        if f is None:
            return self.error(400, "invalid_request", "the body must be a form")
        with self.st.lock:
            if path == "/token":
                return self.token(f)
            if path == "/device":
                return self.device(f)
            if path == "/introspect":
                return self.introspect(f)
        self.send_text(404, "not found")

    def token(self, f):
        st = self.st
        grant = f.get("grant_type")
        st.count("token")
        if st.fail:
            st.event("token grant=%s failed %d (as set)" % (grant, st.fail))
            return self.error(st.fail, "temporarily_unavailable",
                              "the test server is set to fail with %d" % st.fail)
        cid = self.client_auth(f)
        if cid is None:
            st.event("token grant=%s invalid_client" % grant)
            return
        if grant == "refresh_token":
            return self.grant_refresh(f, cid)
        if grant == "client_credentials":
            if st.clients[cid] is None:
                return self.error(401, "unauthorized_client", "a public client has no "
                                  "client credentials")
            st.count("client_credentials")
            st.event("token grant=client_credentials ok client=%s" % cid)
            fid = st.new_family(st.app_user, f.get("scope", ""), cid)
            return self.send_json(200, st.issue(fid, st.app_user, f.get("scope", ""), cid,
                                                False))
        if grant == "authorization_code":
            return self.grant_code(f, cid)
        if grant == DEVICE_GRANT:
            return self.grant_device(f, cid)
        st.event("token grant=%s unsupported" % grant)
        self.error(400, "unsupported_grant_type", "grant_type %s" % grant)

    def grant_refresh(self, f, cid):
        st = self.st
        rt = f.get("refresh_token", "")
        fid = st.refresh.get(rt)
        st.count("refresh")
        if fid is None:
            st.event("token grant=refresh_token invalid_grant unknown")
            return self.error(400, "invalid_grant", "unknown refresh token")
        fam = st.families[fid]
        if fam["client"] != cid:
            st.event("token grant=refresh_token invalid_grant other-client family=%d" % fid)
            return self.error(400, "invalid_grant", "the refresh token is another client's")
        if fam["revoked"]:
            st.event("token grant=refresh_token invalid_grant revoked family=%d" % fid)
            return self.error(400, "invalid_grant",
                              "AADSTS70000: the grant was revoked (family %d)" % fid)
        if rt in st.used_rt:
            st.revoke_family(fid)
            st.count("reuse")
            st.event("token grant=refresh_token invalid_grant reuse family=%d revoked" % fid)
            return self.error(400, "invalid_grant", "the refresh token was used before: "
                              "the grant is revoked (family %d)" % fid)
        scope = f.get("scope")
        if scope and not set(scope.split()) <= set(fam["scope"].split()):
            st.event("token grant=refresh_token invalid_scope family=%d" % fid)
            return self.error(400, "invalid_scope", "more than the grant holds")
        out = st.issue(fid, fam["user"], fam["scope"], cid, st.rotate)
        st.count("refresh_ok")
        st.event("token grant=refresh_token ok family=%d user=%s%s" % (
            fid, fam["user"], " rotated" if st.rotate else ""))
        self.send_json(200, out)

    def grant_code(self, f, cid):
        st = self.st
        code = f.get("code", "")
        c = st.codes.get(code)
        if c is None or c["exp"] < time.time():
            st.event("token grant=authorization_code invalid_grant unknown")
            return self.error(400, "invalid_grant", "unknown or expired code")
        if c["used"]:
            if c["family"]:
                st.revoke_family(c["family"])
            st.event("token grant=authorization_code invalid_grant reused")
            return self.error(400, "invalid_grant", "the code was used before")
        if c["client"] != cid or f.get("redirect_uri") != c["redirect_uri"]:
            st.event("token grant=authorization_code invalid_grant redirect/client")
            return self.error(400, "invalid_grant", "client or redirect_uri differ")
        v = f.get("code_verifier", "")
        ok = (43 <= len(v) <= 128 and
              all(ch.isalnum() or ch in "-._~" for ch in v) and
              hmac.compare_digest(b64url_sha256(v), c["challenge"]))
        if not ok:
            st.event("token grant=authorization_code invalid_grant pkce")
            return self.error(400, "invalid_grant", "PKCE verification failed")
        c["used"] = True
        fid = st.new_family(c["user"], c["scope"], cid)
        c["family"] = fid
        st.count("authorization_code")
        st.event("token grant=authorization_code ok family=%d user=%s pkce=S256" %
                 (fid, c["user"]))
        self.send_json(200, st.issue(fid, c["user"], c["scope"], cid, True))

    def device(self, f):
        st = self.st
        cid = self.client_auth(f)
        if cid is None:
            return
        dc = st.secret("dc-")
        uc = "%04X-%04X" % (secrets.randbelow(65536), secrets.randbelow(65536))
        host, port = self.server.server_address[:2]
        base = "https://%s:%d/device" % (host, port)
        st.devices[dc] = {"client": cid, "scope": f.get("scope", ""), "status": "pending",
                          "exp": time.time() + st.opts.device_expires_in,
                          "interval": st.opts.device_interval, "last": 0.0,
                          "user": st.opts.user}
        st.user_codes[uc] = dc
        st.count("device")
        st.event("device request client=%s user_code=%s" % (cid, uc))
        self.send_json(200, {"device_code": dc, "user_code": uc, "verification_uri": base,
                             "verification_uri_complete": base + "?user_code=" + uc,
                             "expires_in": st.opts.device_expires_in,
                             "interval": st.opts.device_interval})

    def grant_device(self, f, cid):
        st = self.st
        d = st.devices.get(f.get("device_code", ""))
        if d is None or d["client"] != cid:
            st.event("token grant=device_code invalid_grant unknown")
            return self.error(400, "invalid_grant", "unknown device code")
        now = time.time()
        # polled sooner than the interval allows (a little slack for timers)
        early = d["last"] and now - d["last"] < d["interval"] - 0.2
        d["last"] = now
        if early or st.slow_down_next:
            st.slow_down_next = False
            d["interval"] += 5
            st.event("token grant=device_code slow_down%s" % (" too-fast" if early else ""))
            return self.error(400, "slow_down", "poll less often")
        if now > d["exp"]:
            st.event("token grant=device_code expired_token")
            return self.error(400, "expired_token", "the code expired")
        if d["status"] == "denied":
            st.event("token grant=device_code access_denied")
            return self.error(400, "access_denied", "the user said no")
        if d["status"] == "pending":
            st.event("token grant=device_code authorization_pending")
            return self.error(400, "authorization_pending", "not yet")
        if d["status"] == "done":
            return self.error(400, "invalid_grant", "the device code was used")
        d["status"] = "done"
        fid = st.new_family(d["user"], d["scope"], cid)
        st.count("device_ok")
        st.event("token grant=device_code ok family=%d user=%s" % (fid, d["user"]))
        self.send_json(200, st.issue(fid, d["user"], d["scope"], cid, True))

    def introspect(self, f):
        st = self.st
        a = st.access.get(f.get("token", ""))
        st.count("introspect")
        if a is None or a["exp"] < time.time() or st.families[a["family"]]["revoked"]:
            st.event("introspect active=false%s" % ("" if a else " unknown"))
            return self.send_json(200, {"active": False})
        st.event("introspect active=true user=%s" % a["user"])
        self.send_json(200, {"active": True, "username": a["user"], "scope": a["scope"],
                             "client_id": a["client"], "token_type": "Bearer",
                             "exp": int(a["exp"])})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        # The TLS handshake in the request's thread, so that a stalled client
        # does not hold up the others.
        request.settimeout(30)
        try:
            conn = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        self.RequestHandlerClass(conn, client_address, self)


def watch(pid):
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass
        time.sleep(1)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--spool", required=True)
    p.add_argument("--cert", required=True, help="PEM certificate (chain)")
    p.add_argument("--key", required=True)
    p.add_argument("--client", action="append", default=[], metavar="ID[:SECRET]",
                   help="a registered client (no secret: public); repeatable")
    p.add_argument("--user", default="alice", help="who approves (default alice)")
    p.add_argument("--app-user", help="username of client_credentials tokens (default --user)")
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--no-rotate", action="store_true", help="keep refresh tokens")
    p.add_argument("--device-interval", type=int, default=1)
    p.add_argument("--device-expires-in", type=int, default=300)
    p.add_argument("--ready-file")
    p.add_argument("--watch-pid", type=int)
    opts = p.parse_args(argv)
    if not opts.client:
        opts.client = ["postie-test"]
    os.makedirs(opts.spool, exist_ok=True)
    srv = Server((opts.host, opts.port), Handler)
    srv.state = State(opts)
    srv.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    srv.ctx.load_cert_chain(opts.cert, opts.key)
    if opts.watch_pid:
        threading.Thread(target=watch, args=(opts.watch_pid,), daemon=True).start()
    port = srv.server_address[1]
    srv.state.event("listening on %s:%d" % (opts.host, port))
    if opts.ready_file:
        tmp = opts.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, opts.ready_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
