#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Tests of the mock Entra ID itself, over real HTTPS with its test CA. Prints TAP.

Run by `make check` with top_srcdir set; starts its own mock instance in a temp dir.
"""

import base64
import html
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    import jwt
    from cryptography import x509
except ImportError:  # a python without Debian's modules: retry with Debian's interpreter
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

HERE = (os.path.join(os.environ["top_srcdir"], "tests", "mock-entra") if os.environ.get("top_srcdir")
        else os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
GROUP = "5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TIME_LIMIT = 30  # seconds: a hung mock fails the run instead of hanging it

n_tests = 0
n_failed = 0


def ok(cond, name, diag=None):
    global n_tests, n_failed
    n_tests += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", n_tests, name))
    if not cond:
        n_failed += 1
        if diag is not None:
            for line in str(diag).splitlines() or [""]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


class Mock:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="et-mock-test.")
        self.proc = subprocess.Popen([PY, os.path.join(HERE, "mock_entra.py"), "--state-dir", self.dir],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.started = time.monotonic()
        ready = os.path.join(self.dir, "ready.json")
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise RuntimeError("mock exited: %s" % self.proc.stderr.read().decode())
            if time.monotonic() - self.started > 20:
                raise RuntimeError("mock not ready within 20 s")
            time.sleep(0.02)
        self.ready_after = time.monotonic() - self.started
        with open(ready) as f:
            self.ready = json.load(f)
        self.base = self.ready["base"]
        self.tenant = self.ready["tenant"]
        self.client = self.ready["client"]
        self.ctx = ssl.create_default_context(cafile=self.ready["ca"])

    def request(self, path, data=None, method=None, headers=None, ctx=None, timeout=10):
        """Returns (status, headers, body bytes). HTTP errors are answers, not exceptions."""
        url = path if path.startswith("https://") else self.base + path
        req = urllib.request.Request(url, data=data, method=method)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=ctx or self.ctx, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get_json(self, path):
        st, _, body = self.request(path)
        return st, json.loads(body)

    def post_form(self, path, form, headers=None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        st, hdrs, body = self.request(path, urllib.parse.urlencode(form).encode(), "POST", h)
        try:
            return st, json.loads(body)
        except ValueError:
            return st, {"_raw": body.decode("utf-8", "replace")}

    def ctl(self, action, args=None, method=None):
        data = None if args is None else json.dumps(args).encode()
        if method == "POST" and data is None:
            data = b"{}"
        st, _, body = self.request("/_control/" + action, data, method or ("POST" if data else "GET"),
                                   {"Content-Type": "application/json"})
        return st, json.loads(body)

    def path(self, suffix):
        return "/%s/%s" % (self.tenant, suffix)

    def token(self, form):
        return self.post_form(self.path("oauth2/v2.0/token"), form)

    def jwks(self):
        return self.get_json(self.path("discovery/v2.0/keys"))[1]

    def verify(self, token, audience=None, issuer=None):
        """Verify with PyJWT against the key the JWKS publishes for the token's kid."""
        kid = jwt.get_unverified_header(token)["kid"]
        jwk = next((k for k in self.jwks()["keys"] if k["kid"] == kid), None)
        if jwk is None:
            raise LookupError("kid %s not published" % kid)
        key = jwt.PyJWK(jwk, algorithm="RS256").key
        return jwt.decode(token, key, algorithms=["RS256"], audience=audience or self.client,
                          issuer=issuer or "%s/%s/v2.0" % (self.base, self.tenant))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def is_entra_error(st, body, status, error, code):
    """Entra's error body shape, with the expected status, error and code (None: no code)."""
    desc = body.get("error_description", "")
    lines = desc.split("\r\n")
    shape = (st == status and body.get("error") == error and len(lines) == 4
             and lines[1].startswith("Trace ID: ") and lines[2].startswith("Correlation ID: ")
             and lines[3].startswith("Timestamp: ")
             and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", body.get("timestamp", "")) is not None
             and body.get("trace_id") == lines[1][len("Trace ID: "):]
             and body.get("correlation_id") == lines[2][len("Correlation ID: "):])
    if code is None:
        return shape and body.get("error_codes") == [] and not desc.startswith("AADSTS")
    return shape and body.get("error_codes") == [code] and desc.startswith("AADSTS%d: " % code)


def b64url_int(s):
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


def main():
    m = Mock()
    secrets_seen = []  # pass values, device codes, tokens: must never reach the log
    try:
        run(m, secrets_seen)
    except Exception:  # report, don't hide: a crash is a failed test
        import traceback
        ok(False, "test run completed without an exception", traceback.format_exc())
    finally:
        log_text = ""
        rc = m.stop()
        ok(rc == 0, "the mock exits cleanly on SIGTERM", "exit status %s" % rc)
        ok(not os.path.exists(os.path.join(m.dir, "ready.json")), "ready.json is removed on exit")
        try:
            with open(os.path.join(m.dir, "mock.log")) as f:
                log_text = f.read()
        except OSError:
            pass
        leaked = [s[:12] for s in secrets_seen if s and s in log_text]
        ok(log_text != "" and not leaked and "password=" not in log_text,
           "mock.log holds requests but no pass, device code or token (%d secrets checked)" % len(secrets_seen),
           "leaked: %s" % leaked)
        shutil.rmtree(m.dir, ignore_errors=True)
    print("1..%d" % n_tests)
    return 1 if n_failed else 0


def run(m, seen):
    ok(m.ready_after < 2.0, "the mock is ready in under 2 s (%.2f s)" % m.ready_after)
    ok(m.ready["port"] > 0 and m.base == "https://127.0.0.1:%d" % m.ready["port"]
       and m.ready["pid"] == m.proc.pid and m.ready["ca"] == os.path.join(m.dir, "ca.pem"),
       "ready.json has base, port, pid and the CA path", m.ready)
    modes = {f: os.stat(os.path.join(m.dir, f)).st_mode & 0o777
             for f in ("ca-key.pem", "server-key.pem", "signing-key.pem")}
    ok(all(v == 0o600 for v in modes.values()), "private keys in the state dir are mode 0600", modes)

    # ---- TLS ----
    try:
        m.request(m.path("v2.0/.well-known/openid-configuration"), ctx=ssl.create_default_context())
        refused = False
    except urllib.error.URLError as e:
        refused = isinstance(e.reason, ssl.SSLCertVerificationError)
    ok(refused, "a client without the test CA refuses the server certificate")
    ctx12 = ssl.create_default_context(cafile=m.ready["ca"])
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    st, _, _ = m.request(m.path("discovery/v2.0/keys"), ctx=ctx12)
    ok(st == 200, "TLS 1.2 is accepted; the certificate is valid for 127.0.0.1")

    # ---- discovery ----
    st, doc = m.get_json(m.path("v2.0/.well-known/openid-configuration"))
    b, t = m.base, m.tenant
    ok(st == 200 and doc.get("issuer") == "%s/%s/v2.0" % (b, t), "discovery: 200 and the v2.0 issuer", doc)
    ok(doc.get("jwks_uri") == "%s/%s/discovery/v2.0/keys" % (b, t)
       and doc.get("token_endpoint") == "%s/%s/oauth2/v2.0/token" % (b, t)
       and doc.get("device_authorization_endpoint") == "%s/%s/oauth2/v2.0/devicecode" % (b, t)
       and doc.get("authorization_endpoint") == "%s/%s/oauth2/v2.0/authorize" % (b, t),
       "discovery: jwks_uri, token, device and authorization endpoints", doc)
    ok(doc.get("id_token_signing_alg_values_supported") == ["RS256"]
       and "id_token" in doc.get("response_types_supported", [])
       and doc.get("subject_types_supported") == ["pairwise"],
       "discovery: RS256 only, response and subject types")

    # ---- unknown tenant ----
    other = "11111111-2222-3333-4444-555555555555"
    st, _, body = m.request("/%s/v2.0/.well-known/openid-configuration" % other)
    ok(is_entra_error(st, json.loads(body), 400, "invalid_tenant", 90002),
       "discovery for an unknown tenant: 400 AADSTS90002 in Entra's error shape", body)
    st, body = m.post_form("/%s/oauth2/v2.0/token" % other, {"grant_type": "password"})
    ok(is_entra_error(st, body, 400, "invalid_request", 90002), "token endpoint of an unknown tenant: 90002", body)
    st, body = m.post_form(m.path("oauth2/v2.0/token"), {"grant_type": "password", "client_id": "x"},
                           headers={"client-request-id": "0f0e0d0c-aaaa-bbbb-cccc-000000000001"})
    ok(body.get("correlation_id") == "0f0e0d0c-aaaa-bbbb-cccc-000000000001",
       "client-request-id comes back as the correlation ID", body)

    # ---- JWKS ----
    keys = m.jwks()["keys"]
    k = keys[0] if keys else {}
    ok(len(keys) == 1 and k.get("kty") == "RSA" and k.get("use") == "sig" and k.get("kid") == k.get("x5t")
       and k.get("e") == "AQAB" and b64url_int(k.get("n", "")).bit_length() == 2048,
       "JWKS: one RSA-2048 signing key, kid = x5t", keys)
    der = base64.b64decode(k["x5c"][0]) if k.get("x5c") else b""
    cert_n = x509.load_der_x509_certificate(der).public_key().public_numbers().n if der else None
    import hashlib
    ok(cert_n == b64url_int(k["n"]) and base64.urlsafe_b64encode(hashlib.sha1(der).digest()).rstrip(b"=").decode()
       == k["x5t"], "JWKS: x5c certificate holds the same key and x5t is its SHA-1 thumbprint")
    kid0 = k["kid"]

    # ---- control API input checks ----
    st, _, body = m.request("/_control/users", b"{not json", "POST", {"Content-Type": "application/json"})
    ok(st == 400 and "error" in json.loads(body), "control: invalid JSON is a 400 with an error", body)
    st, body = m.ctl("no/such/action", {})
    ok(st == 404 and "error" in body, "control: an unknown action is a 404", body)
    st, body = m.ctl("users", {"upn": "not-an-upn"})
    ok(st == 400 and "upn" in body.get("error", ""), "control users: a UPN without a domain is refused", body)
    st, body = m.ctl("users", {"upn": "x@contoso.com", "groups": "g1"})
    ok(st == 400, "control users: groups must be a list", body)
    st, body = m.ctl("users", {"upn": "x@contoso.com", "colour": "red"})
    ok(st == 400 and "colour" in body.get("error", ""), "control users: unknown fields are refused", body)
    st, body = m.ctl("users", {"upn": "x@contoso.com", "oid": "nope"})
    ok(st == 400 and "oid" in body.get("error", ""), "control users: oid must be a GUID", body)

    st, alice = m.ctl("users", {"upn": "alice@contoso.com", "name": "Alice", "groups": [GROUP],
                                "roles": ["Elevate.Admin"]})
    ok(st == 200 and re.fullmatch(r"[0-9a-f-]{36}", alice.get("oid", "")) and alice["groups"] == [GROUP],
       "control users: creates a user with a generated GUID oid", alice)
    st, again = m.ctl("users", {"upn": "Alice@Contoso.com", "name": "Alice Liddell"})
    ok(st == 200 and again["oid"] == alice["oid"] and again["name"] == "Alice Liddell"
       and again["groups"] == [GROUP], "control users: re-posting updates (UPN case-insensitive)", again)
    m.ctl("users", {"upn": "bob@contoso.com", "password": "Bob-pass-1"})
    m.ctl("users", {"upn": "carol@contoso.com", "password": "Carol-pass-1", "mfa_required": True})

    # ---- minted tokens ----
    st, body = m.ctl("mint", {"upn": "alice@contoso.com"})
    tok = body.get("id_token", "")
    seen.append(tok)
    try:
        claims = m.verify(tok)
        verr = None
    except Exception as e:  # noqa: BLE001 - reported below
        claims, verr = {}, e
    ok(st == 200 and verr is None, "mint: the token verifies with PyJWT against the published key", verr)
    hdr = jwt.get_unverified_header(tok) if tok else {}
    ok(hdr == {"typ": "JWT", "alg": "RS256", "kid": kid0, "x5t": kid0}, "mint: header typ, alg, kid, x5t", hdr)
    want = {"ver": "2.0", "tid": m.tenant, "aud": m.client, "oid": alice["oid"],
            "preferred_username": "Alice@Contoso.com", "upn": "Alice@Contoso.com", "name": "Alice Liddell",
            "groups": [GROUP], "roles": ["Elevate.Admin"]}
    got = {k2: claims.get(k2) for k2 in want}
    ok(got == want, "mint: Entra's claims (ver, tid, aud, oid, preferred_username, upn, name, groups, roles)",
       "%s\n%s" % (got, want))
    ok(isinstance(claims.get("sub"), str) and len(claims["sub"]) >= 40 and claims["sub"] != claims.get("oid")
       and isinstance(claims.get("amr"), list) and claims.get("iat") == claims.get("nbf")
       and claims.get("exp", 0) - claims.get("iat", 0) == 3600 and abs(claims.get("iat", 0) - time.time()) < 60,
       "mint: pairwise sub, amr, iat = nbf, exp = iat + 3600", claims)

    st, body = m.ctl("mint", {"upn": "alice@contoso.com", "claims": {"aud": "other-app", "tid": other},
                              "remove": ["groups"], "lifetime": 60, "header": {"typ": "at+jwt"}})
    c2 = jwt.decode(body["id_token"], options={"verify_signature": False})
    ok(st == 200 and c2["aud"] == "other-app" and c2["tid"] == other and "groups" not in c2
       and c2["exp"] - c2["iat"] == 60 and jwt.get_unverified_header(body["id_token"])["typ"] == "at+jwt",
       "mint: claims override, remove, lifetime and header override", c2)
    st, body = m.ctl("mint", {"upn": "alice@contoso.com", "signature": "corrupt"})
    try:
        m.verify(body["id_token"])
        bad_sig = None
    except jwt.InvalidSignatureError as e:
        bad_sig = e
    except Exception:  # noqa: BLE001
        bad_sig = None
    ok(bad_sig is not None, "mint: signature=corrupt produces a token that fails verification")
    st, body = m.ctl("mint", {"upn": "alice@contoso.com", "signature": "empty"})
    ok(st == 200 and body["id_token"].endswith(".") and body["id_token"].count(".") == 2,
       "mint: signature=empty leaves the signature part empty")
    st, body = m.ctl("mint", {"claims": {}})
    ok(st == 400 and "upn" in body.get("error", ""), "mint: upn is required", body)
    st, body = m.ctl("mint", {"upn": "alice@contoso.com", "kid": "no-such-kid"})
    ok(st == 400 and "kid" in body.get("error", ""), "mint: an unknown kid is refused", body)
    st, body = m.ctl("mint", {"upn": "mallory@fabrikam.com"})
    c3 = jwt.decode(body.get("id_token", "x.e30.x"), options={"verify_signature": False})
    ok(st == 200 and c3.get("preferred_username") == "mallory@fabrikam.com" and c3.get("oid")
       and "groups" not in c3, "mint: a user the directory does not know gets a made-up oid and no groups", c3)

    device_tests(m, seen)
    password_tests(m, seen)
    rotation_tests(m, kid0)
    overage_tests(m)
    graph_tests(m, seen)
    config_tests(m)
    fault_tests(m)
    tool_tests(m)


def device_tests(m, seen):
    dc_path = m.path("oauth2/v2.0/devicecode")
    st, body = m.post_form(dc_path, {"scope": "openid profile"})
    ok(is_entra_error(st, body, 400, "invalid_request", 900144) and "client_id" in body["error_description"],
       "devicecode: missing client_id is AADSTS900144", body)
    st, body = m.post_form(dc_path, {"client_id": "99999999-9999-9999-9999-999999999999", "scope": "openid"})
    ok(is_entra_error(st, body, 400, "unauthorized_client", 700016),
       "devicecode: unknown client_id is unauthorized_client AADSTS700016", body)
    st, body = m.post_form(dc_path, {"client_id": m.client})
    ok(is_entra_error(st, body, 400, "invalid_request", 900144) and "'scope'" in body["error_description"],
       "devicecode: missing scope is AADSTS900144", body)

    st, dc = m.post_form(dc_path, {"client_id": m.client, "scope": "openid profile offline_access"})
    seen.append(dc.get("device_code", ""))
    uri = m.base + "/devicelogin"
    ok(st == 200 and re.fullmatch(r"[A-Z0-9]{9}", dc.get("user_code", "")) is not None
       and len(dc.get("device_code", "")) >= 100 and dc.get("verification_uri") == uri
       and dc.get("expires_in") == 900 and dc.get("interval") == 5,
       "devicecode: 9-char user_code, long device_code, verification_uri, expires_in 900, interval 5", dc)
    ok(uri in dc.get("message", "") and dc.get("user_code", "?") in dc.get("message", ""),
       "devicecode: the message names the page and the code", dc.get("message"))
    st, pend = m.ctl("device/pending")
    mine = [p for p in pend.get("pending", []) if p["user_code"] == dc["user_code"]]
    ok(st == 200 and len(mine) == 1 and mine[0]["client_id"] == m.client
       and mine[0]["scope"] == "openid profile offline_access"
       and mine[0]["expires"] - mine[0]["created"] == 900 and "device_code" not in mine[0],
       "control device/pending lists the code (and never the device_code)", pend)

    poll = {"grant_type": DEVICE_GRANT, "client_id": m.client, "device_code": dc["device_code"]}
    st, body = m.token(poll)
    ok(is_entra_error(st, body, 400, "authorization_pending", 70016),
       "device flow: first poll is authorization_pending AADSTS70016", body)
    st, body = m.token(poll)
    ok(is_entra_error(st, body, 400, "slow_down", None) and "10 seconds" in body["error_description"],
       "device flow: polling again at once is slow_down (no Entra code claimed), interval now 10", body)
    st, dump = m.ctl("state/dump")
    dev = [d for d in dump["devices"] if d["user_code"] == dc["user_code"]]
    ok(dev and dev[0]["interval"] == 10, "device flow: the mock tracks the raised interval per code", dev)

    st, body = m.ctl("device/approve", {"user_code": dc["user_code"], "upn": "nobody@contoso.com"})
    ok(st == 400 and "user" in body.get("error", ""), "device/approve: an unknown user is refused", body)
    st, body = m.ctl("device/approve", {"user_code": "AAAAAAAAA", "upn": "alice@contoso.com"})
    ok(st == 400 and "user_code" in body.get("error", ""), "device/approve: an unknown user_code is refused", body)
    st, body = m.ctl("device/approve", {"user_code": dc["user_code"].lower(), "upn": "alice@contoso.com"})
    ok(st == 200 and body.get("state") == "approved", "device/approve: approves (user_code case-insensitive)", body)
    st, tokens = m.token(poll)
    seen.extend([tokens.get("access_token", ""), tokens.get("id_token", ""), tokens.get("refresh_token", "")])
    ok(st == 200 and tokens.get("token_type") == "Bearer" and tokens.get("scope") == "openid profile offline_access"
       and tokens.get("expires_in") == 3600 and tokens.get("ext_expires_in") == 3600
       and tokens.get("access_token") and tokens.get("refresh_token"),
       "device flow: approved → 200 with token_type, scope, expires_in, ext_expires_in, access and refresh token",
       tokens)
    try:
        c = m.verify(tokens.get("id_token", ""))
    except Exception as e:  # noqa: BLE001
        c = {"_error": str(e)}
    ok(c.get("preferred_username") == "Alice@Contoso.com" and c.get("groups") == [GROUP]
       and c.get("amr") == ["pwd", "mfa"], "device flow: the id_token verifies and names the approving user", c)
    st, body = m.token(poll)
    ok(is_entra_error(st, body, 400, "bad_verification_code", 70018),
       "device flow: a redeemed code cannot be used again", body)

    st, body = m.token({"grant_type": DEVICE_GRANT, "client_id": m.client, "device_code": "not-a-code"})
    ok(is_entra_error(st, body, 400, "bad_verification_code", 70018),
       "device flow: an unknown device_code is bad_verification_code AADSTS70018", body)
    st, body = m.token({"grant_type": DEVICE_GRANT, "client_id": m.client})
    ok(is_entra_error(st, body, 400, "invalid_request", 900144), "device flow: missing device_code is 900144", body)

    # decline
    st, dc2 = m.post_form(dc_path, {"client_id": m.client, "scope": "openid"})
    seen.append(dc2["device_code"])
    st, body = m.ctl("device/decline", {"user_code": dc2["user_code"]})
    ok(st == 200 and body.get("state") == "declined", "device/decline answers the new state", body)
    poll2 = {"grant_type": DEVICE_GRANT, "client_id": m.client, "device_code": dc2["device_code"]}
    st, body = m.token(poll2)
    ok(is_entra_error(st, body, 400, "authorization_declined", None),
       "device flow: declined → authorization_declined", body)
    st, body = m.ctl("device/approve", {"user_code": dc2["user_code"], "upn": "alice@contoso.com"})
    ok(st == 400, "device/approve: a declined code cannot be approved", body)

    # expire by control
    st, dc3 = m.post_form(dc_path, {"client_id": m.client, "scope": "openid"})
    seen.append(dc3["device_code"])
    m.ctl("device/expire", {"user_code": dc3["user_code"]})
    st, body = m.token({"grant_type": DEVICE_GRANT, "client_id": m.client, "device_code": dc3["device_code"]})
    ok(is_entra_error(st, body, 400, "expired_token", 70019), "device/expire → expired_token AADSTS70019", body)
    st, pend = m.ctl("device/pending")
    ok(dc3["user_code"] not in [p["user_code"] for p in pend["pending"]], "an expired code is no longer pending")

    # natural expiry and a client that respects the interval (1 s here)
    m.ctl("config", {"device_code_lifetime": 1, "interval": 1})
    st, dc4 = m.post_form(dc_path, {"client_id": m.client, "scope": "openid"})
    m.ctl("config", {"device_code_lifetime": 30})
    st, dc5 = m.post_form(dc_path, {"client_id": m.client, "scope": "openid"})
    seen.extend([dc4["device_code"], dc5["device_code"]])
    ok(dc4.get("expires_in") == 1 and dc4.get("interval") == 1, "config device_code_lifetime / interval apply", dc4)
    poll5 = {"grant_type": DEVICE_GRANT, "client_id": m.client, "device_code": dc5["device_code"]}
    m.token(poll5)
    time.sleep(1.15)
    st, body = m.token({"grant_type": DEVICE_GRANT, "client_id": m.client, "device_code": dc4["device_code"]})
    ok(is_entra_error(st, body, 400, "expired_token", 70019), "device flow: past expires_in → expired_token", body)
    st, body = m.token(poll5)
    ok(is_entra_error(st, body, 400, "authorization_pending", 70016),
       "device flow: polling after the interval is pending, not slow_down", body)
    st, body = m.token({"grant_type": DEVICE_GRANT, "client_id": "99999999-9999-9999-9999-999999999999",
                        "device_code": dc5["device_code"]})
    ok(is_entra_error(st, body, 400, "unauthorized_client", 700016), "device flow: unknown client_id at /token", body)

    # the verification page: sign in there with a Temporary Access Pass
    st, _, page = m.request("/devicelogin")
    ok(st == 200 and b"<form" in page, "GET /devicelogin serves a sign-in page")
    ok(b"name='otc'" in page and b"<script" not in page.lower() and b"role='alert'" not in page,
       "verification page: a plain HTML form asking for the code, no JavaScript, no error", page)
    verification_page_tests(m, seen, dc5, poll5)
    m.ctl("config", {"device_code_lifetime": 900, "interval": 5})


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def vp_post(m, fields):
    """POST the verification page's form as a browser does: (status, page text, flowToken or None)."""
    st, _, page = m.request("/devicelogin", urllib.parse.urlencode(fields).encode(), "POST", FORM)
    text = html.unescape(page.decode("utf-8", "replace"))
    tok = re.search(r"name='flowToken' value='([^']*)'", text)
    return st, text, tok.group(1) if tok else None


def vp_alert(text):
    a = re.search(r"role='alert'>([^<]*)<", text)
    return a.group(1) if a else None


def pending_codes(m):
    return [p["user_code"] for p in m.ctl("device/pending")[1]["pending"]]


def verification_page_tests(m, seen, dc5, poll5):
    code = dc5["user_code"]
    st, text, tok = vp_post(m, {"otc": "ZZZZZZZZZ"})
    ok(st == 200 and vp_alert(text) and "didn't work" in text and tok is None and code in pending_codes(m),
       "verification page: a wrong code shows an error page and approves nothing", text)
    st, text, tok = vp_post(m, {"otc": code[:4] + "-" + code[4:].lower()})
    ok(st == 200 and tok and vp_alert(text) is None and "type='password'" in text and "name='login'" in text,
       "verification page: the right code (any case, with a dash) asks for the account and the pass", text)
    seen.append(tok)
    st, tap = m.ctl("tap", {"upn": "alice@contoso.com"})
    seen.append(tap["tap"])
    st, text, tok2 = vp_post(m, {"flowToken": tok, "login": "alice@contoso.com", "passwd": "Wrong-pass-1"})
    ok(vp_alert(text) == "Your account or password is incorrect." and tok2 == tok and code in pending_codes(m),
       "verification page: a wrong pass shows an error page and approves nothing", text)
    st, text, _ = vp_post(m, {"flowToken": tok, "login": "nobody@contoso.com", "passwd": tap["tap"]})
    ok(vp_alert(text) and "account" in vp_alert(text) and code in pending_codes(m),
       "verification page: an unknown account shows an error page and approves nothing", text)
    st, text, tok3 = vp_post(m, {"flowToken": tok, "login": "alice@contoso.com", "passwd": tap["tap"]})
    ok(vp_alert(text) is None and "Are you trying to sign in to pam_entra_tap?" in text
       and "application id %s" % m.client in text and "made from 127.0.0.1" in text and code in text
       and "openid" in text and "value='continue'" in text and "value='cancel'" in text and tok3 == tok,
       "verification page: the confirmation names the application and the host's request (address, time, "
       "code, permissions)", text)
    ok(code in pending_codes(m), "verification page: nothing is approved before Continue")
    st, text, _ = vp_post(m, {"flowToken": tok, "action": "continue"})
    st, tokens = m.token(poll5)
    seen.extend([tokens.get("access_token", ""), tokens.get("id_token", "")])
    c = jwt.decode(tokens.get("id_token", "x.e30.x"), options={"verify_signature": False})
    ok(st == 200 and "You have signed in to pam_entra_tap" in text and c.get("amr") == ["mfa"]
       and c.get("preferred_username") == "Alice@Contoso.com" and c.get("exp", 1e12) <= tap["expires"],
       "device flow: signing in on /devicelogin with a TAP approves the code; the token ends with the TAP", c)
    st, text, _ = vp_post(m, {"flowToken": tok, "action": "continue"})
    ok(vp_alert(text) and "ended" in vp_alert(text), "verification page: a finished sign-in cannot be replayed",
       text)

    dc_path = m.path("oauth2/v2.0/devicecode")
    st, dc6 = m.post_form(dc_path, {"client_id": m.client, "scope": "openid profile"})
    seen.append(dc6["device_code"])
    poll6 = {"grant_type": DEVICE_GRANT, "client_id": m.client, "device_code": dc6["device_code"]}
    st, text, tok = vp_post(m, {"otc": dc6["user_code"]})
    seen.append(tok)
    st, text, _ = vp_post(m, {"flowToken": tok, "login": "alice@contoso.com", "passwd": tap["tap"]})
    ok(vp_alert(text) and "already been used" in vp_alert(text) and dc6["user_code"] in pending_codes(m),
       "verification page: a used one-time pass shows an error page and approves nothing", text)
    st, old = m.ctl("tap", {"upn": "alice@contoso.com", "one_time": False})
    seen.append(old["tap"])
    m.ctl("tap/expire", {"upn": "alice@contoso.com"})
    st, text, _ = vp_post(m, {"flowToken": tok, "login": "alice@contoso.com", "passwd": old["tap"]})
    ok(vp_alert(text) and "expired" in vp_alert(text) and dc6["user_code"] in pending_codes(m),
       "verification page: an expired pass shows an error page and approves nothing", text)
    st, carol_tap = m.ctl("tap", {"upn": "carol@contoso.com"})
    seen.append(carol_tap["tap"])
    m.ctl("config", {"app_name": "Contoso Linux elevation"})
    st, text, _ = vp_post(m, {"flowToken": tok, "login": "carol@contoso.com", "passwd": carol_tap["tap"]})
    ok(vp_alert(text) is None and "Are you trying to sign in to Contoso Linux elevation?" in text,
       "verification page: a pass satisfies the MFA a user must do (carol); the confirmation has config app_name",
       text)
    m.ctl("config", {"app_name": "pam_entra_tap"})
    st, text, _ = vp_post(m, {"flowToken": tok, "action": "cancel"})
    st, body = m.token(poll6)
    ok("Nothing was approved" in text and is_entra_error(st, body, 400, "authorization_declined", None),
       "verification page: Cancel declines the code (authorization_declined)", body)

    # the scripted browser the journeys and the demo use
    st, dc7 = m.post_form(dc_path, {"client_id": m.client, "scope": "openid profile"})
    seen.append(dc7["device_code"])
    st, tap7 = m.ctl("tap", {"upn": "alice@contoso.com"})
    seen.append(tap7["tap"])
    browse = [PY, os.path.join(HERE, "browser.py"), "--ca", m.ready["ca"], m.base + "/devicelogin"]
    r = subprocess.run(browse + ["WRONGCODE", "alice@contoso.com"], input=tap7["tap"] + "\n",
                       capture_output=True, text=True, timeout=20)
    ok(r.returncode == 1 and "the page says: That code didn't work" in r.stdout
       and dc7["user_code"] in pending_codes(m), "browser.py: a wrong code ends with exit 1 and the page's error",
       r.stdout + r.stderr)
    r = subprocess.run(browse + [dc7["user_code"], "alice@contoso.com"], input=tap7["tap"] + "\n",
                       capture_output=True, text=True, timeout=20)
    st, tokens = m.token({"grant_type": DEVICE_GRANT, "client_id": m.client, "device_code": dc7["device_code"]})
    seen.extend([tokens.get("access_token", ""), tokens.get("id_token", "")])
    ok(r.returncode == 0 and "Are you trying to sign in to pam_entra_tap?" in r.stdout
       and "browser: presses Continue" in r.stdout and tap7["tap"] not in r.stdout + r.stderr and st == 200,
       "browser.py: code, account and pass, Continue: the code is approved; the pass is never printed",
       r.stdout + r.stderr)


def password_tests(m, seen):
    def pw(user, password, scope="openid profile", client=None):
        return m.token({"grant_type": "password", "client_id": client or m.client, "username": user,
                        "password": password, "scope": scope})

    st, body = m.ctl("tap", {"upn": "alice@contoso.com", "lifetime_minutes": 9})
    ok(st == 400 and "lifetime_minutes" in body.get("error", ""), "tap: lifetime 9 minutes is refused", body)
    st, body = m.ctl("tap", {"upn": "alice@contoso.com", "lifetime_minutes": 43201})
    ok(st == 400, "tap: lifetime 43201 minutes is refused", body)
    st, body = m.ctl("tap", {"upn": "alice@contoso.com", "lifetime_minutes": "60"})
    ok(st == 400, "tap: lifetime must be a number", body)
    st, body = m.ctl("tap", {"upn": "nobody@contoso.com"})
    ok(st == 400, "tap: unknown user is refused", body)
    st, t10 = m.ctl("tap", {"upn": "alice@contoso.com", "lifetime_minutes": 10})
    st2, t30d = m.ctl("tap", {"upn": "alice@contoso.com", "lifetime_minutes": 43200, "one_time": False})
    seen.extend([t10.get("tap", ""), t30d.get("tap", "")])
    ok(st == 200 and st2 == 200 and t10["expires"] - t10["start"] == 600
       and t30d["expires"] - t30d["start"] == 43200 * 60, "tap: 10 minutes and 30 days are the accepted bounds")

    st, tap = m.ctl("tap", {"upn": "alice@contoso.com"})
    seen.append(tap["tap"])
    ok(st == 200 and len(tap["tap"]) == 8 and tap["expires"] - tap["start"] == 3600 and tap["one_time"] is True,
       "tap: defaults are 60 minutes, one-time, 8 characters", tap)

    # as Entra ID: a pass is not the account's password
    st, body = pw("alice@contoso.com", tap["tap"])
    wrong = pw("alice@contoso.com", "wrong-pass")[1]
    ok(is_entra_error(st, body, 400, "invalid_grant", 50126)
       and body["error_description"].split("\r\n")[0] == wrong["error_description"].split("\r\n")[0],
       "password grant, default mode: a valid pass is refused exactly like a wrong password (AADSTS50126)", body)
    st, dump = m.ctl("state/dump")
    mine = [t for u in dump["users"] if u["upn"] == "Alice@Contoso.com" for t in u["taps"] if t["id"] == tap["id"]]
    ok(dump["config"]["tap_at_prompt"] is False and mine and mine[0]["used"] is False and mine[0]["uses"] == 0,
       "password grant, default mode: the refused pass is not used up", mine)
    st, cfg = m.ctl("config", {"tap_at_prompt": True})
    ok(st == 200 and cfg.get("tap_at_prompt") is True, "config tap_at_prompt: the pass-at-prompt mode is on", cfg)
    st, body = m.ctl("config", {"tap_at_prompt": "yes"})
    ok(st == 400, "config tap_at_prompt must be a boolean", body)
    st, tokens = pw("alice@contoso.com", tap["tap"])
    seen.extend([tokens.get("access_token", ""), tokens.get("id_token", "")])
    try:
        c = m.verify(tokens.get("id_token", ""))
    except Exception as e:  # noqa: BLE001
        c = {"_error": str(e)}
    ok(st == 200 and c.get("preferred_username") == "Alice@Contoso.com" and c.get("amr") == ["mfa"]
       and c.get("exp", 1e12) <= tap["expires"], "password grant with a TAP: tokens; id_token verifies", c)
    st, body = pw("alice@contoso.com", tap["tap"])
    ok(is_entra_error(st, body, 400, "invalid_grant", None) and "already been used" in body["error_description"],
       "password grant: a one-time TAP used twice is invalid_grant saying so (no invented code)", body)
    st, body = pw("alice@contoso.com", "wrong-pass")
    ok(is_entra_error(st, body, 400, "invalid_grant", 50126), "password grant: a wrong pass is AADSTS50126", body)
    st, body = pw("nobody@contoso.com", "whatever")
    ok(is_entra_error(st, body, 400, "invalid_grant", 50034), "password grant: unknown user is AADSTS50034", body)

    st, multi = m.ctl("tap", {"upn": "alice@contoso.com", "one_time": False, "value": "Multi-Use-1"})
    seen.append(multi["tap"])
    r1, r2 = pw("alice@contoso.com", "Multi-Use-1")[0], pw("alice@contoso.com", "Multi-Use-1")[0]
    ok(r1 == 200 and r2 == 200, "password grant: a multi-use TAP works twice")
    st, body = m.ctl("tap/expire", {"upn": "alice@contoso.com"})
    ok(st == 200 and body.get("expired", 0) >= 2, "tap/expire expires the user's passes", body)
    st, body = pw("alice@contoso.com", "Multi-Use-1")
    ok(is_entra_error(st, body, 400, "invalid_grant", None) and "expired" in body["error_description"],
       "password grant: an expired TAP is invalid_grant saying expired", body)
    st, later = m.ctl("tap", {"upn": "alice@contoso.com", "start_in_seconds": 3600})
    seen.append(later["tap"])
    ok(later["start"] - time.time() > 3500, "tap: start_in_seconds delays the start", later)
    st, body = pw("alice@contoso.com", later["tap"])
    ok(is_entra_error(st, body, 400, "invalid_grant", None) and "not yet valid" in body["error_description"],
       "password grant: a not-yet-valid TAP is invalid_grant saying so", body)

    st, tokens = pw("bob@contoso.com", "Bob-pass-1", scope="User.Read")
    seen.append(tokens.get("access_token", ""))
    ok(st == 200 and "id_token" not in tokens and tokens.get("scope") == "User.Read",
       "password grant: a user's password works; no id_token without the openid scope", tokens)
    st, tokens = pw("bob@contoso.com", "Bob-pass-1")
    seen.append(tokens.get("id_token", ""))
    c = jwt.decode(tokens.get("id_token", "x.e30.x"), options={"verify_signature": False})
    ok(c.get("amr") == ["pwd"] and "groups" not in c, "password sign-in: amr pwd; no groups claim without groups", c)

    st, body = pw("carol@contoso.com", "Carol-pass-1")
    ok(is_entra_error(st, body, 400, "interaction_required", 50076),
       "password grant: a user who must do MFA gets interaction_required AADSTS50076", body)
    st, body = pw("carol@contoso.com", "bad")
    ok(is_entra_error(st, body, 400, "invalid_grant", 50126), "MFA user with a wrong pass still gets 50126", body)

    st, body = m.token({"grant_type": "password", "client_id": m.client, "username": "bob@contoso.com"})
    ok(is_entra_error(st, body, 400, "invalid_request", 900144) and "'password'" in body["error_description"],
       "password grant: missing password is 900144", body)
    st, body = pw("bob@contoso.com", "Bob-pass-1", client="99999999-9999-9999-9999-999999999999")
    ok(is_entra_error(st, body, 400, "unauthorized_client", 700016), "password grant: unknown client_id", body)
    st, body = m.token({"grant_type": "client_credentials", "client_id": m.client})
    ok(is_entra_error(st, body, 400, "unsupported_grant_type", 70003), "token: unsupported grant_type", body)
    st, body = m.token({})
    ok(is_entra_error(st, body, 400, "invalid_request", 900144), "token: missing grant_type is 900144", body)

    st, _ = m.ctl("config", {"password_grant": False})
    st, body = pw("bob@contoso.com", "Bob-pass-1")
    ok(is_entra_error(st, body, 401, "invalid_client", 7000218),
       "password grant disabled: 401 invalid_client AADSTS7000218", body)
    m.ctl("config", {"password_grant": True})
    st, body = pw("bob@contoso.com", "Bob-pass-1")
    ok(st == 200, "password grant re-enabled works again")
    st, t2 = m.ctl("tap", {"upn": "alice@contoso.com"})
    seen.append(t2["tap"])
    m.ctl("config", {"tap_at_prompt": False})
    st, body = pw("alice@contoso.com", t2["tap"])
    st2, body2 = pw("bob@contoso.com", "Bob-pass-1")
    ok(is_entra_error(st, body, 400, "invalid_grant", 50126) and st2 == 200,
       "config tap_at_prompt false: passes are refused again, passwords still work", body)

    st, dump = m.ctl("state/dump")
    text = json.dumps(dump)
    ok(st == 200 and all(s not in text for s in (tap["tap"], later["tap"], "Multi-Use-1", "Bob-pass-1"))
       and any(u["upn"] == "Alice@Contoso.com" and len(u["taps"]) >= 5 for u in dump["users"]),
       "state/dump lists users and TAP metadata but no pass values or passwords")


def rotation_tests(m, kid0):
    st, body = m.ctl("mint", {"upn": "alice@contoso.com"})
    old_tok = body["id_token"]
    st, rot = m.ctl("rotate", {})
    kid1 = rot.get("kid")
    ok(st == 200 and kid1 and kid1 != kid0 and sorted(rot.get("keys", [])) == sorted([kid0, kid1]),
       "rotate: a new kid; the old one stays published", rot)
    ok(sorted(k["kid"] for k in m.jwks()["keys"]) == sorted([kid0, kid1]), "rotate: JWKS publishes both keys")
    st, body = m.ctl("mint", {"upn": "alice@contoso.com"})
    new_tok = body["id_token"]
    try:
        m.verify(old_tok)
        m.verify(new_tok)
        both = jwt.get_unverified_header(new_tok)["kid"] == kid1
    except Exception:  # noqa: BLE001
        both = False
    ok(both, "rotate: new tokens are signed with the new key; old tokens still verify")
    st, rot2 = m.ctl("rotate", {"retire_old": True})
    kid2 = rot2.get("kid")
    ok(st == 200 and rot2.get("keys") == [kid2] and [k["kid"] for k in m.jwks()["keys"]] == [kid2],
       "rotate retire_old: only the newest key stays published", rot2)
    st, body = m.ctl("mint", {"upn": "alice@contoso.com", "kid": kid0})
    try:
        m.verify(body["id_token"])
        unpublished = False
    except LookupError:
        unpublished = True
    ok(st == 200 and jwt.get_unverified_header(body["id_token"])["kid"] == kid0 and unpublished,
       "mint with a retired kid: signed with that key, which JWKS no longer publishes")
    st, body = m.ctl("rotate", {"retire_old": "yes"})
    ok(st == 400, "rotate: retire_old must be a boolean", body)


def overage_tests(m):
    many = ["%08x-0000-4000-8000-%012x" % (i, i) for i in range(201)]
    m.ctl("users", {"upn": "dave@contoso.com", "groups": many[:200]})
    m.ctl("users", {"upn": "erin@contoso.com", "groups": many})
    c = jwt.decode(m.ctl("mint", {"upn": "dave@contoso.com"})[1]["id_token"], options={"verify_signature": False})
    ok(len(c.get("groups", [])) == 200 and "_claim_names" not in c, "overage: 200 groups still fit in the token")
    st, erin = m.ctl("users", {"upn": "erin@contoso.com"})
    c = jwt.decode(m.ctl("mint", {"upn": "erin@contoso.com"})[1]["id_token"], options={"verify_signature": False})
    src = c.get("_claim_sources", {}).get("src1", {}).get("endpoint", "")
    ok("groups" not in c and c.get("_claim_names") == {"groups": "src1"} and erin["oid"] in src
       and src.startswith("https://"), "overage: 201 groups → no groups claim, _claim_names/_claim_sources", c)
    m.ctl("config", {"overage_limit": 0})
    c = jwt.decode(m.ctl("mint", {"upn": "alice@contoso.com"})[1]["id_token"], options={"verify_signature": False})
    ok("groups" not in c and c.get("_claim_names") == {"groups": "src1"}, "overage: config overage_limit applies", c)
    m.ctl("config", {"overage_limit": 200})


GRAPH_CHECK = "/graph/v1.0/me/checkMemberGroups"
GRAPH_PIM = ("/graph/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/"
             "filterByCurrentUser(on='principal')")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def graph_tests(m, seen):
    graph = m.base + "/graph"
    groups = ["%08x-0000-4000-8000-%012x" % (i, i) for i in range(25)]
    m.ctl("users", {"upn": "gina@contoso.com", "password": "Gina-pw-1", "groups": groups[:3] + [GROUP]})

    def access_token(scope):
        st, body = m.token({"grant_type": "password", "client_id": m.client, "username": "gina@contoso.com",
                            "password": "Gina-pw-1", "scope": scope})
        seen.append(body.get("access_token", ""))
        return body.get("access_token")

    def check(tok, ids, auth=None):
        st, _, body = m.request(GRAPH_CHECK, json.dumps({"groupIds": ids}).encode(), "POST",
                                {"Content-Type": "application/json",
                                 "Authorization": auth if auth is not None else "Bearer " + tok})
        return st, json.loads(body)

    def pim(tok, path=GRAPH_PIM):
        st, _, body = m.request(path, headers={"Authorization": "Bearer " + tok})
        return st, json.loads(body)

    user_read = access_token("openid profile %s/User.Read" % graph)
    st, body = check(user_read, groups[:20])
    ok(st == 200 and sorted(body.get("value", [])) == sorted(groups[:3]) and
       body.get("@odata.context", "").endswith("$metadata#Collection(Edm.String)"),
       "graph checkMemberGroups: the subset the user is in, with @odata.context", body)
    st, body = check(user_read, groups[:21])
    ok(st == 400 and body.get("error", {}).get("code") == "Request_BadRequest",
       "graph checkMemberGroups: more than 20 ids is a 400", body)
    st, body = check(user_read, groups[:2], auth="Bearer mock-at.forged")
    ok(st == 401 and body.get("error", {}).get("code") == "InvalidAuthenticationToken",
       "graph: a token the mock did not issue is a 401", body)
    st, body = check(user_read, groups[:2], auth="")
    ok(st == 401, "graph: no token is a 401", body)
    st, body = check(access_token("openid profile"), groups[:2])
    ok(st == 401, "graph: a token issued without a Graph scope is a 401 (not for Graph)", body)
    st, body = pim(user_read)
    ok(st == 403 and body.get("error", {}).get("code") == "Authorization_RequestDenied",
       "graph PIM: a token without PrivilegedAssignmentSchedule.Read.AzureADGroup is a 403", body)

    st, body = m.ctl("pim", {"upn": "gina@contoso.com", "instances": [
        {"group": GROUP, "type": "activated", "start_in": -60, "end_in": 3600},
        {"group": groups[0], "type": "assigned", "end_in": None},
        {"group": groups[1], "access": "owner", "end_in": 60}]})
    ok(st == 200 and len(body.get("instances", [])) == 3, "pim: instances set", body)
    st, body = m.ctl("pim", {"upn": "gina@contoso.com", "instances": [{"group": GROUP, "type": "eligible"}]})
    ok(st == 400, "pim: an unknown assignment type is refused", body)
    m.ctl("pim", {"upn": "gina@contoso.com", "instances": [
        {"group": GROUP, "type": "activated", "start_in": -60, "end_in": 3600},
        {"group": groups[0], "type": "assigned", "end_in": None},
        {"group": groups[1], "access": "owner", "end_in": 60}]})
    both = access_token("openid profile %s/User.Read %s/PrivilegedAssignmentSchedule.Read.AzureADGroup"
                        % (graph, graph))
    m.ctl("config", {"graph_page_size": 2})
    st, p1 = pim(both)
    nxt = p1.get("@odata.nextLink", "")
    ok(st == 200 and len(p1.get("value", [])) == 2 and nxt.startswith(graph + "/v1.0/") and
       p1.get("@odata.context", "").endswith("privilegedAccessGroupAssignmentScheduleInstance)"),
       "graph PIM: a page of 2 with @odata.nextLink on Graph", p1)
    st, p2 = pim(both, nxt[len(m.base):])
    ok(st == 200 and len(p2.get("value", [])) == 1 and "@odata.nextLink" not in p2,
       "graph PIM: the last page has no @odata.nextLink", p2)
    v = p1["value"] + p2["value"]
    ok([i["accessId"] for i in v] == ["member", "member", "owner"] and
       [i["assignmentType"] for i in v] == ["activated", "assigned", "activated"] and
       v[1]["endDateTime"] is None and ISO_Z.match(v[0]["startDateTime"]) and ISO_Z.match(v[0]["endDateTime"]),
       "graph PIM: accessId, assignmentType, ISO 8601 times with Z, null endDateTime when permanent", v)
    m.ctl("config", {"graph_page_size": 100})
    m.ctl("pim", {"upn": "gina@contoso.com", "instances": []})


def config_tests(m):
    st, cfg = m.ctl("config", {}, method="POST")
    ok(st == 200 and cfg == {"device_code_lifetime": 900, "interval": 5, "token_lifetime": 3600,
                             "overage_limit": 200, "password_grant": True, "omit_device_endpoint": False,
                             "issuer_override": None, "graph_page_size": 100, "tap_at_prompt": False,
                             "app_name": "pam_entra_tap"},
       "config: {} answers the current configuration", cfg)
    st, body = m.ctl("config", {"app_name": ""})
    ok(st == 400 and "app_name" in body.get("error", ""), "config: an empty app_name is refused", body)
    st, body = m.ctl("config", {"interval": "5"})
    ok(st == 400, "config: a string where a number is expected is refused", body)
    st, body = m.ctl("config", {"token_lifetime": 0})
    ok(st == 400, "config: token_lifetime 0 is refused", body)
    st, body = m.ctl("config", {"nonsense": 1})
    ok(st == 400 and "nonsense" in body.get("error", ""), "config: unknown keys are refused", body)
    m.ctl("config", {"omit_device_endpoint": True})
    st, doc = m.get_json(m.path("v2.0/.well-known/openid-configuration"))
    ok("device_authorization_endpoint" not in doc and "token_endpoint" in doc,
       "config omit_device_endpoint: discovery has no device_authorization_endpoint")
    m.ctl("config", {"omit_device_endpoint": False, "issuer_override": "https://sts.windows.net/%s/" % m.tenant})
    st, doc = m.get_json(m.path("v2.0/.well-known/openid-configuration"))
    c = jwt.decode(m.ctl("mint", {"upn": "alice@contoso.com"})[1]["id_token"], options={"verify_signature": False})
    ok(doc["issuer"] == "https://sts.windows.net/%s/" % m.tenant and c["iss"] == doc["issuer"],
       "config issuer_override: discovery and tokens report the other issuer")
    m.ctl("config", {"issuer_override": None, "token_lifetime": 120})
    c = jwt.decode(m.ctl("mint", {"upn": "alice@contoso.com"})[1]["id_token"], options={"verify_signature": False})
    ok(c["iss"] == "%s/%s/v2.0" % (m.base, m.tenant) and c["exp"] - c["iat"] == 120,
       "config: issuer_override null restores the issuer; token_lifetime applies")
    m.ctl("config", {"token_lifetime": 3600})


def fault_tests(m):
    keys_path = m.path("discovery/v2.0/keys")
    disc_path = m.path("v2.0/.well-known/openid-configuration")
    m.ctl("stats/reset", method="POST")
    st, body = m.ctl("latency", {"seconds": 0.6, "endpoints": ["keys"]})
    t0 = time.monotonic()
    st1, _, _ = m.request(keys_path)
    t1 = time.monotonic()
    st2, _, _ = m.request(disc_path)
    t2 = time.monotonic()
    ok(st1 == 200 and t1 - t0 >= 0.6 and st2 == 200 and t2 - t1 < 0.5,
       "latency: only the chosen endpoint is slowed (%.2f s vs %.2f s)" % (t1 - t0, t2 - t1))
    st, body = m.ctl("latency", {"seconds": -1})
    ok(st == 400, "latency: negative seconds are refused", body)
    st, body = m.ctl("latency", {"seconds": 1, "endpoints": ["nope"]})
    ok(st == 400 and "nope" in body.get("error", ""), "latency: unknown endpoints are refused", body)
    m.ctl("up", method="POST")

    m.ctl("fail", {"status": 503, "count": 2, "endpoints": ["token"]})
    codes = [m.token({"grant_type": "password"})[0] for _ in range(3)]
    ok(codes == [503, 503, 400], "fail count 2: two 503 answers, then normal service", codes)
    st, _, body = m.request(keys_path)
    ok(st == 200, "fail on token leaves the other endpoints alone")
    m.ctl("fail", {"status": 502, "count": -1, "body": "<html>Bad Gateway</html>", "content_type": "text/html"})
    res = [m.request(disc_path) for _ in range(3)]
    try:
        json.loads(res[0][2])
        parsed = True
    except ValueError:
        parsed = False
    ok(all(r[0] == 502 and r[2] == b"<html>Bad Gateway</html>" for r in res) and not parsed
       and res[0][1].get("Content-Type") == "text/html", "fail count -1 with a non-JSON body, until cleared")
    st, body = m.ctl("fail", {"status": 200})
    ok(st == 400, "fail: a non-error status is refused", body)
    m.ctl("up", method="POST")
    ok(m.request(disc_path)[0] == 200, "up clears an endless failure")

    m.ctl("down", {"mode": "reset"})
    err = None
    try:
        m.request(keys_path, timeout=5)
    except (urllib.error.URLError, ConnectionError, OSError) as e:
        err = e
    reason = getattr(err, "reason", err)
    ok(isinstance(reason, (ConnectionResetError, ConnectionAbortedError)) or
       (err is not None and "reset" in str(err).lower()), "down reset: the connection is reset without an answer",
       repr(err))
    st, stats = m.ctl("stats")
    ok(st == 200, "down: the control API keeps working")
    m.ctl("down", {"mode": "close"})
    err = None
    try:
        m.request(m.path("oauth2/v2.0/token"), b"grant_type=password", "POST",
                  {"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    except (urllib.error.URLError, ConnectionError, OSError, Exception) as e:  # noqa: BLE001
        err = e
    ok(err is not None and "RemoteDisconnected" in type(err).__name__ + repr(err),
       "down close: the connection closes without an answer", repr(err))
    st, body = m.ctl("down", {"mode": "explode"})
    ok(st == 400, "down: an unknown mode is refused", body)
    m.ctl("up", method="POST")
    ok(m.request(keys_path)[0] == 200, "up: service is back")

    st, stats = m.ctl("stats")
    r = stats.get("requests", {})
    ok(r == {"discovery": 5, "keys": 4, "devicecode": 0, "token": 4, "graph_check": 0, "graph_pim": 0},
       "stats count every request per endpoint, failed and dropped ones included", r)
    st, stats = m.ctl("stats/reset", method="POST")
    st, stats = m.ctl("stats")
    ok(stats.get("requests") == {"discovery": 0, "keys": 0, "devicecode": 0, "token": 0, "graph_check": 0,
                                 "graph_pim": 0}, "stats/reset zeroes")


def tool_tests(m):
    ctl = [PY, os.path.join(HERE, "mockctl.py"), "--state-dir", m.dir]
    r = subprocess.run(ctl + ["stats"], capture_output=True, text=True, timeout=20)
    ok(r.returncode == 0 and json.loads(r.stdout).get("requests") is not None, "mockctl: GET stats prints JSON")
    r = subprocess.run(ctl + ["tap", '{"upn":"alice@contoso.com","lifetime_minutes":5}'],
                       capture_output=True, text=True, timeout=20)
    ok(r.returncode != 0 and "lifetime_minutes" in r.stderr and r.stdout == "",
       "mockctl: an HTTP 400 exits non-zero with the body on stderr", r)
    r = subprocess.run(ctl + ["users", "{oops"], capture_output=True, text=True, timeout=20)
    ok(r.returncode == 2, "mockctl: an argument that is not JSON is a usage error", r)

    env = dict(os.environ)
    env.pop("top_srcdir", None)
    script = ('test -n "$ET_MOCK_BASE" && test -n "$ET_MOCK_CA" && test -n "$ET_MOCK_TENANT" '
              '&& test -n "$ET_MOCK_CLIENT" && test -d "$ET_MOCK_DIR" || exit 90; '
              'stat -c %a "$ET_MOCK_CONFIG"; cat "$ET_MOCK_CONFIG"; $ET_MOCKCTL state/dump; echo "DIR=$ET_MOCK_DIR"; '
              'exit 7')
    r = subprocess.run(["sh", os.path.join(HERE, "with-mock.sh"), "sh", "-c", script],
                       capture_output=True, text=True, timeout=25, env=env)
    out = r.stdout
    ok(r.returncode == 7, "with-mock.sh exits with the command's status", r)
    lines = out.splitlines()
    ok(lines and lines[0] == "600" and "client_id = 2c4b8e5f-0d6a-4c1e-9f3b-7a1d2e3f4a5b" in out
       and "eligible_groups = " + GROUP in out and "user_map = strip_domain" in out
       and "allowed_domains = contoso.com" in out and "http_timeout = 5s" in out
       and "elevated_group = entra-admins" in out and re.search(r"^authority = https://127\.0\.0\.1:\d+$", out, re.M)
       and re.search(r"^ca_file = /.*/ca\.pem$", out, re.M), "with-mock.sh writes the test config (mode 0600)", out)
    dump = next((json.loads(line) for line in lines if line.startswith("{")), {})
    users = {u["upn"]: u for u in dump.get("users", [])}
    ok(users.get("alice@contoso.com", {}).get("groups") == [GROUP]
       and users.get("bob@contoso.com", {}).get("groups") == [],
       "with-mock.sh creates alice (in the eligible group) and bob (no groups)", users)
    d = next((line[4:] for line in lines if line.startswith("DIR=")), None)
    ok(d is not None and not os.path.exists(d), "with-mock.sh removes its directory afterwards", d)
    ok(dump.get("config", {}).get("tap_at_prompt") is True,
       "with-mock.sh starts the mock in pass-at-prompt mode by default (for the tests that type a pass)")
    env["ET_MOCK_TAP_AT_PROMPT"] = "no"
    r = subprocess.run(["sh", os.path.join(HERE, "with-mock.sh"), "sh", "-c", "$ET_MOCKCTL state/dump"],
                       capture_output=True, text=True, timeout=25, env=env)
    try:
        mode = json.loads(r.stdout)["config"]["tap_at_prompt"]
    except (ValueError, KeyError):
        mode = None
    ok(r.returncode == 0 and mode is False, "with-mock.sh with ET_MOCK_TAP_AT_PROMPT=no: the mock behaves as Entra ID",
       r)


def on_alarm(signum, frame):
    raise TimeoutError("the test run took longer than %d s" % TIME_LIMIT)


if __name__ == "__main__":
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIME_LIMIT)
    sys.exit(main())
