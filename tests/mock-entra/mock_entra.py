#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A mock Microsoft Entra ID for tests: v2.0 discovery, JWKS with rotation, the device code
and password (ROPC) grants, Entra-shaped error bodies, a verification page where a person
signs in with a Temporary Access Pass and approves a device code (plain HTML forms), and a
control API (/_control/...) that tests use to create users, issue Temporary Access Passes,
approve device codes, rotate keys, and make the service slow, failing or unreachable.

As with Entra ID, the password grant does not take a Temporary Access Pass unless the
pass-at-prompt mode is on (--tap-at-prompt, or config {"tap_at_prompt": true}): a stand-in
for identity providers that accept a pass at the prompt.

Standard library plus python3-cryptography only. Serves HTTPS on 127.0.0.1 with a test CA it
generates in the state directory. See README.md next to this file.
"""

import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import html
import ipaddress
import json
import os
import secrets
import signal
import socket
import ssl
import string
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:  # a python without Debian's modules: retry with Debian's interpreter
    if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

DEFAULT_TENANT = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
DEFAULT_CLIENT = "2c4b8e5f-0d6a-4c1e-9f3b-7a1d2e3f4a5b"
# the display name of the app registration, shown on the verification page's confirmation
DEFAULT_APP_NAME = "pam_entra_tap"

MAX_BODY = 64 * 1024
TAP_MIN_MINUTES = 10
TAP_MAX_MINUTES = 43200
ENDPOINTS = ("discovery", "keys", "devicecode", "token", "graph_check", "graph_pim")
# Microsoft Graph, served under {base}/graph (graph_url in the test configuration).
GRAPH_PREFIX = "/graph"
GRAPH_CHECK_PATH = GRAPH_PREFIX + "/v1.0/me/checkMemberGroups"
GRAPH_PIM_PATH = (GRAPH_PREFIX + "/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleInstances"
                  "/filterByCurrentUser(on='principal')")
GRAPH_USER_READ = "User.Read"
GRAPH_PIM_SCOPE = "PrivilegedAssignmentSchedule.Read.AzureADGroup"
GRAPH_CHECK_MAX_IDS = 20  # checkMemberGroups takes at most 20 ids per request
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# Entra's documented group overage claim source (ID token claims reference).
OVERAGE_ENDPOINT = "https://graph.windows.net/{tid}/users/{oid}/getMemberObjects"
USER_CODE_ALPHABET = string.ascii_uppercase + string.digits
TAP_ALPHABET = string.ascii_letters + string.digits


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def entra_timestamp(now=None):
    t = datetime.datetime.fromtimestamp(now if now is not None else time.time(), datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%SZ")


def write_atomically(path, data, mode):
    """Write a file with the given mode, atomically (a temporary file renamed over it)."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def write_private(path, data):
    """Write a file readable by the owner only, atomically."""
    write_atomically(path, data, 0o600)


def write_public(path, data):
    write_atomically(path, data, 0o644)


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def self_signed(key, cn, days, ca=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=days)))
    if ca:
        b = (b.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                          key_encipherment=False, data_encipherment=False,
                                          key_agreement=False, key_cert_sign=True, crl_sign=True,
                                          encipher_only=False, decipher_only=False), critical=True)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return b.sign(key, hashes.SHA256())


def make_tls_material(state_dir, srv_key):
    """The test CA (kept when already present, so a restarted mock stays trusted) and a fresh
    server certificate for 127.0.0.1 / localhost signed by it. The CA key is EC P-256: cheap
    to make, and start-up time matters more than matching Entra's CA."""
    ca_cert_path = os.path.join(state_dir, "ca.pem")
    ca_key_path = os.path.join(state_dir, "ca-key.pem")
    ca_key = ca_cert = None
    if os.path.exists(ca_cert_path) and os.path.exists(ca_key_path):
        try:
            with open(ca_key_path, "rb") as f:
                ca_key = serialization.load_pem_private_key(f.read(), None)
            with open(ca_cert_path, "rb") as f:
                ca_cert = x509.load_pem_x509_certificate(f.read())
        except (ValueError, OSError):
            ca_key = ca_cert = None
    if ca_key is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = self_signed(ca_key, "pam_entra_tap mock Entra ID test CA", 3650, ca=True)
        write_private(ca_key_path, key_pem(ca_key))
        write_public(ca_cert_path, ca_cert.public_bytes(serialization.Encoding.PEM))

    now = datetime.datetime.now(datetime.timezone.utc)
    srv_cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
                .issuer_name(ca_cert.subject)
                .public_key(srv_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=365))
                .add_extension(x509.SubjectAlternativeName([
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.DNSName("localhost")]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
    srv_cert_path = os.path.join(state_dir, "server.pem")
    srv_key_path = os.path.join(state_dir, "server-key.pem")
    write_private(srv_key_path, key_pem(srv_key))
    write_public(srv_cert_path, srv_cert.public_bytes(serialization.Encoding.PEM))
    return ca_cert_path, srv_cert_path, srv_key_path


class SigningKey:
    """A token signing key published the way Entra does: a self-signed certificate per key,
    kid = x5t = base64url(SHA-1 of the certificate)."""

    def __init__(self, key=None):
        self.key = key or new_rsa_key()
        cert = self_signed(self.key, "accounts.mock-entra.invalid", 365 * 5)
        self.der = cert.public_bytes(serialization.Encoding.DER)
        self.x5t = b64url(hashlib.sha1(self.der).digest())
        self.kid = self.x5t
        self.published = True

    def jwk(self, issuer):
        pub = self.key.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.x5t,
                "n": b64url_uint(pub.n), "e": b64url_uint(pub.e),
                "x5c": [base64.b64encode(self.der).decode("ascii")], "issuer": issuer}

    def sign(self, data):
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class BadRequest(Exception):
    """Control API input error: HTTP 400 {"error": message}."""


class EntraError(Exception):
    """An OAuth error in Entra's body shape. code None: no Entra code is documented for this
    case, so none is claimed (error_codes is empty and the description has no AADSTS prefix)."""

    def __init__(self, error, code, text, status=400, extra=None):
        super().__init__(text)
        self.error, self.code, self.text, self.status = error, code, text, status
        self.extra = extra or {}


class Mock:
    def __init__(self, state_dir, tenant, client, log):
        self.state_dir = state_dir
        self.tenant = tenant
        self.client = client
        self.log = log
        self.base = None
        self.lock = threading.RLock()
        self.users = {}       # upn.lower() -> user dict
        self.taps = {}        # upn.lower() -> [tap dicts]
        self.devices = {}     # device_code -> entry
        self.access_tokens = {}  # access_token -> {"upn", "graph_scopes", "expires"}
        self.pim = {}         # upn.lower() -> [instance dicts as Graph returns them]
        self.flows = {}       # verification page sign-ins: flow token -> entry
        self.keys = []        # SigningKey, newest last
        self.current = None
        self.config = self.default_config()
        self.faults = self.no_faults()
        self.stats = {e: 0 for e in ENDPOINTS}

    @staticmethod
    def default_config():
        return {"device_code_lifetime": 900, "interval": 5, "token_lifetime": 3600,
                "overage_limit": 200, "password_grant": True, "omit_device_endpoint": False,
                "issuer_override": None, "graph_page_size": 100, "tap_at_prompt": False,
                "app_name": DEFAULT_APP_NAME}

    @staticmethod
    def no_faults():
        return {"latency": 0.0, "latency_endpoints": set(ENDPOINTS),
                "fail_status": None, "fail_count": 0, "fail_endpoints": set(ENDPOINTS),
                "fail_body": None, "fail_content_type": None,
                "down": None, "down_endpoints": set(ENDPOINTS)}

    # ---- identities ----

    def issuer(self):
        return "%s/%s/v2.0" % (self.base, self.tenant)

    def add_key(self, key=None):
        k = SigningKey(key)
        with self.lock:
            self.keys.append(k)
            self.current = k
        return k

    def find_user(self, upn):
        return self.users.get(upn.lower()) if isinstance(upn, str) else None

    # ---- tokens ----

    def id_token_claims(self, user, amr, lifetime, now, client=None):
        client = client or self.client
        claims = {
            "aud": client,
            "iss": self.config["issuer_override"] or self.issuer(),
            "iat": now, "nbf": now, "exp": now + lifetime,
            "aio": b64url(secrets.token_bytes(48)),
            "amr": list(amr),
            "name": user["name"],
            "oid": user["oid"],
            "preferred_username": user["upn"],
            # Entra's sub is a pairwise identifier: stable per user and application.
            "sub": b64url(hashlib.sha256(("%s|%s" % (user["oid"], client)).encode()).digest()),
            "tid": self.tenant,
            "upn": user["upn"],
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
        groups = user.get("groups") or []
        if len(groups) > self.config["overage_limit"]:
            claims["_claim_names"] = {"groups": "src1"}
            claims["_claim_sources"] = {"src1": {"endpoint": OVERAGE_ENDPOINT.format(
                tid=self.tenant, oid=user["oid"])}}
        elif groups:
            claims["groups"] = list(groups)
        if user.get("roles"):
            claims["roles"] = list(user["roles"])
        return claims

    def sign_jwt(self, claims, key=None, header_extra=None, signature="valid"):
        key = key or self.current
        header = {"typ": "JWT", "alg": "RS256", "kid": key.kid, "x5t": key.x5t}
        if header_extra:
            header.update(header_extra)
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
        if signature == "empty":
            return signing_input + "."
        sig = bytearray(key.sign(signing_input.encode("ascii")))
        if signature == "corrupt":
            sig[len(sig) // 2] ^= 0x01
        return signing_input + "." + b64url(bytes(sig))

    def token_response(self, user, scope, amr, now, cap=None):
        lifetime = self.config["token_lifetime"]
        if cap is not None:  # tokens from a TAP sign-in live no longer than the pass
            lifetime = max(1, min(lifetime, int(cap - now)))
        resp = {"token_type": "Bearer", "scope": scope, "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": "mock-at." + b64url(secrets.token_bytes(48))}
        scopes = scope.split()
        # Remember what the access token is for: Graph accepts it only for the Graph
        # permissions asked ({graph}/User.Read; "User.Read" alone means Graph too, as Entra reads it).
        graph = self.base + GRAPH_PREFIX + "/"
        granted = set()
        for sc in scopes:
            if sc.startswith(graph):
                granted.add(sc[len(graph):])
            elif sc.startswith("https://graph.microsoft.com/"):
                granted.add(sc[len("https://graph.microsoft.com/"):])
            elif sc in (GRAPH_USER_READ, GRAPH_PIM_SCOPE):
                granted.add(sc)
        self.access_tokens[resp["access_token"]] = {"upn": user["upn"], "graph_scopes": granted,
                                                    "expires": now + lifetime}
        if "openid" in scopes:
            resp["id_token"] = self.sign_jwt(self.id_token_claims(user, amr, lifetime, now))
        if "offline_access" in scopes:
            resp["refresh_token"] = "mock-rt." + b64url(secrets.token_bytes(48))
        return resp

    # ---- credentials (password grant and the device login page) ----

    def check_credentials(self, user, password, now, accept_tap=True, browser=False):
        """Returns (amr, cap) on success; raises EntraError. Consumes a one-time TAP.

        accept_tap False (the password grant outside pass-at-prompt mode): a pass is not the
        account's password, so a pass value is refused exactly like a wrong password and is
        not used up. browser True (the verification page, Entra's own sign-in UI): a pass is a
        strong method there and satisfies a requirement for MFA."""
        if user.get("password") is not None and hmac.compare_digest(
                user["password"].encode(), password.encode()):
            self.require_no_mfa(user)
            return ["pwd"], None
        for tap in self.taps.get(user["upn"].lower(), []) if accept_tap else []:
            if not hmac.compare_digest(tap["value"].encode(), password.encode()):
                continue
            if now < tap["start"]:
                raise EntraError("invalid_grant", None,
                                 "The Temporary Access Pass is not yet valid: its validity starts later.")
            if now >= tap["expires"]:
                raise EntraError("invalid_grant", None, "The Temporary Access Pass has expired.")
            if tap["one_time"] and tap["used"]:
                raise EntraError("invalid_grant", None,
                                 "The Temporary Access Pass was for one-time use and has already been used.")
            if not browser:
                self.require_no_mfa(user)
            if tap["one_time"]:
                tap["used"] = True
            tap["uses"] += 1
            return ["mfa"], tap["expires"]
        raise EntraError("invalid_grant", 50126,
                         "Error validating credentials due to invalid username or password.")

    @staticmethod
    def require_no_mfa(user):
        if user.get("mfa_required"):
            raise EntraError("interaction_required", 50076,
                             "Due to a configuration change made by your administrator, or because "
                             "you moved to a new location, you must use multi-factor authentication "
                             "to access this application.", extra={"suberror": "basic_action"})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end

    def version_string(self):
        return "mock-entra/1.0"

    # ---- plumbing ----

    @property
    def mock(self):
        return self.server.mock

    def log_message(self, fmt, *args):  # the default writes to stderr
        pass

    def log_line(self, status, what=""):
        path = self.path.split("?", 1)[0]
        self.mock.log("%s %s %s %s%s" % (self.client_address[0], self.command, path, status,
                                          (" " + what) if what else ""))

    def read_body(self):
        if self.headers.get("Transfer-Encoding"):
            return None
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n) if n else b""

    def send(self, status, body, ctype="application/json; charset=utf-8", headers=None, what=""):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.log_line(status, what)

    def send_entra_error(self, e, what=""):
        now = time.time()
        trace = str(uuid.uuid4())
        corr = self.headers.get("client-request-id") or str(uuid.uuid4())
        ts = entra_timestamp(now)
        text = ("AADSTS%d: %s" % (e.code, e.text)) if e.code is not None else e.text
        body = {"error": e.error,
                "error_description": "%s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s" % (
                    text, trace, corr, ts),
                "error_codes": [e.code] if e.code is not None else [],
                "timestamp": ts, "trace_id": trace, "correlation_id": corr}
        if e.code is not None:
            body["error_uri"] = "%s/error?code=%d" % (self.mock.base, e.code)
        body.update(e.extra)
        self.send(e.status, body, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
                  what="%s %s%s" % (e.error, e.code if e.code is not None else "-",
                                    (" " + what) if what else ""))

    def abort_connection(self, mode):
        """Close without answering: 'reset' sends a TCP RST, 'close' a plain FIN."""
        self.close_connection = True
        raw = self.connection
        try:
            if mode == "reset":
                # Linger 0 turns close into a TCP RST; detach first, because the request's
                # file objects would otherwise keep the descriptor open.
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                os.close(raw.detach())
            else:
                raw.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.log_line("-", "dropped (%s)" % mode)

    # ---- routing ----

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def route(self, method):
        path = urllib.parse.urlsplit(self.path).path
        parts = [p for p in path.split("/") if p]
        if parts and parts[0] == "_control":
            return self.control(method, "/".join(parts[1:]))
        if path == "/devicelogin":
            return self.devicelogin(method)
        if path == "/error":
            return self.send(200, "<html><body><p>Mock Entra ID error page.</p></body></html>",
                             "text/html; charset=utf-8")

        endpoint = None
        upath = urllib.parse.unquote(path)
        if upath == GRAPH_CHECK_PATH:
            endpoint, want = "graph_check", "POST"
        elif upath == GRAPH_PIM_PATH:
            endpoint, want = "graph_pim", "GET"
        elif len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            endpoint, want = "discovery", "GET"
        elif len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
            endpoint, want = "keys", "GET"
        elif len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "devicecode"]:
            endpoint, want = "devicecode", "POST"
        elif len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            endpoint, want = "token", "POST"
        if endpoint is None:
            return self.send(404, "Not Found\n", "text/plain; charset=utf-8")

        m = self.mock
        with m.lock:
            m.stats[endpoint] += 1
            f = m.faults
            down = f["down"] if endpoint in f["down_endpoints"] else None
            delay = f["latency"] if endpoint in f["latency_endpoints"] else 0.0
            fail = None
            if f["fail_status"] is not None and endpoint in f["fail_endpoints"] and f["fail_count"] != 0:
                fail = (f["fail_status"], f["fail_body"], f["fail_content_type"])
                if f["fail_count"] > 0:
                    f["fail_count"] -= 1
        body = self.read_body() if method == "POST" else b""
        if down:
            return self.abort_connection(down)
        if delay > 0:
            time.sleep(delay)
        if fail:
            status, fbody, ctype = fail
            if fbody is None:
                fbody = json.dumps({"error": "temporarily_unavailable",
                                    "error_description": "The service is temporarily unavailable "
                                                         "(injected failure)."})
                ctype = ctype or "application/json; charset=utf-8"
            return self.send(status, fbody, ctype or "text/plain; charset=utf-8", what="injected failure")
        if method != want:
            return self.send(405, "Method Not Allowed\n", "text/plain; charset=utf-8",
                             headers={"Allow": want})
        if endpoint.startswith("graph_"):
            return self.graph(endpoint, body)
        if body is None:
            return self.send_entra_error(EntraError("invalid_request", 900144,
                                                    "The request body is missing or too large."))
        tenant = parts[0]
        if tenant.lower() != m.tenant.lower():
            err = "invalid_tenant" if method == "GET" else "invalid_request"
            return self.send_entra_error(EntraError(
                err, 90002, "Tenant '%s' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud." % tenant[:100]))
        form = self.parse_form(body) if method == "POST" else {}
        try:
            if endpoint == "discovery":
                return self.discovery()
            if endpoint == "keys":
                return self.jwks()
            if endpoint == "devicecode":
                return self.devicecode(form)
            return self.token(form)
        except EntraError as e:
            return self.send_entra_error(e)

    def parse_form(self, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return {}
        try:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return {}
        form = {}
        for k, v in pairs:
            form.setdefault(k, v)
        return form

    # ---- Entra endpoints ----

    def discovery(self):
        m = self.mock
        b, t = m.base, m.tenant
        with m.lock:
            issuer = m.config["issuer_override"] or m.issuer()
            omit = m.config["omit_device_endpoint"]
        doc = {
            "token_endpoint": "%s/%s/oauth2/v2.0/token" % (b, t),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt",
                                                      "client_secret_basic"],
            "jwks_uri": "%s/%s/discovery/v2.0/keys" % (b, t),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": issuer,
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "%s/oidc/userinfo" % b,
            "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (b, t),
            "device_authorization_endpoint": "%s/%s/oauth2/v2.0/devicecode" % (b, t),
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": "%s/%s/oauth2/v2.0/logout" % (b, t),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat",
                                 "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
                                 "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": "%s/%s/kerberos" % (b, t),
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        if omit:
            del doc["device_authorization_endpoint"]
        self.send(200, doc, headers={"Cache-Control": "max-age=86400, private"})

    def jwks(self):
        m = self.mock
        with m.lock:
            keys = [k.jwk(m.issuer()) for k in m.keys if k.published]
        self.send(200, {"keys": keys}, headers={"Cache-Control": "max-age=86400, private"})

    def check_client(self, form):
        cid = form.get("client_id")
        if not cid:
            raise EntraError("invalid_request", 900144,
                             "The request body must contain the following parameter: 'client_id'.")
        if cid.lower() != self.mock.client.lower():
            raise EntraError("unauthorized_client", 700016,
                             "Application with identifier '%s' was not found in the directory '%s'. "
                             "This can happen if the application has not been installed by the "
                             "administrator of the tenant or consented to by any user in the tenant."
                             % (cid[:100], self.mock.tenant))
        return cid

    @staticmethod
    def require(form, name):
        v = form.get(name)
        if not v:
            raise EntraError("invalid_request", 900144,
                             "The request body must contain the following parameter: '%s'." % name)
        return v

    def devicecode(self, form):
        m = self.mock
        cid = self.check_client(form)
        scope = self.require(form, "scope")
        now = time.time()
        with m.lock:
            live = {d["user_code"] for d in m.devices.values()}
            while True:
                user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(9))
                if user_code not in live:
                    break
            device_code = b64url(secrets.token_bytes(192))
            lifetime = m.config["device_code_lifetime"]
            interval = m.config["interval"]
            m.devices[device_code] = {
                "user_code": user_code, "client_id": cid, "scope": scope, "created": now,
                "expires": now + lifetime, "interval": interval, "state": "pending",
                "upn": None, "amr": None, "last_poll": None, "peer": self.client_address[0]}
        uri = "%s/devicelogin" % m.base
        self.send(200, {
            "user_code": user_code, "device_code": device_code, "verification_uri": uri,
            "expires_in": lifetime, "interval": interval,
            "message": "To sign in, use a web browser to open the page %s and enter the code %s "
                       "to authenticate." % (uri, user_code)},
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
            what="user_code issued")

    def token(self, form):
        grant = self.require(form, "grant_type")
        if grant == DEVICE_GRANT:
            return self.token_device(form)
        if grant == "password":
            return self.token_password(form)
        raise EntraError("unsupported_grant_type", 70003,
                         "The app requested an unsupported grant type '%s'." % grant[:100])

    def token_device(self, form):
        m = self.mock
        self.check_client(form)
        code = self.require(form, "device_code")
        now = time.time()
        mono = time.monotonic()
        with m.lock:
            d = m.devices.get(code)
            if d is None or d["client_id"].lower() != form["client_id"].lower():
                raise EntraError("bad_verification_code", 70018,
                                 "The provided value for the input parameter 'device_code' is not valid.")
            if now >= d["expires"]:
                d["state"] = "expired"
            if d["state"] == "expired":
                raise EntraError("expired_token", 70019, "Verification code expired.")
            if d["state"] == "declined":
                raise EntraError("authorization_declined", None,
                                 "The end user denied the authorization request.")
            if d["state"] == "pending":
                last = d["last_poll"]
                d["last_poll"] = mono
                if last is not None and d["interval"] > 0 and mono - last < d["interval"]:
                    # RFC 8628: the client must add 5 seconds to its interval from now on.
                    d["interval"] += 5
                    raise EntraError("slow_down", None,
                                     "The client is polling too quickly; wait at least %d seconds "
                                     "between requests." % d["interval"])
                raise EntraError("authorization_pending", 70016,
                                 "OAuth 2.0 device flow error. Authorization is pending. "
                                 "Continue polling.")
            # approved: redeem once
            del m.devices[code]
            user = m.find_user(d["upn"])
            if user is None:
                raise EntraError("invalid_grant", 50034,
                                 "The user account does not exist in the directory.")
            resp = m.token_response(user, d["scope"], d["amr"], int(now), d.get("cap"))
        self.send(200, resp, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
                  what="device_code redeemed for %s" % user["upn"])

    def token_password(self, form):
        m = self.mock
        self.check_client(form)
        with m.lock:
            enabled = m.config["password_grant"]
        if not enabled:
            raise EntraError("invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.", status=401)
        username = self.require(form, "username")
        password = self.require(form, "password")
        scope = form.get("scope") or "openid profile"
        now = time.time()
        with m.lock:
            user = m.find_user(username)
            if user is None:
                raise EntraError("invalid_grant", 50034,
                                 "The user account %s does not exist in the %s directory. To sign into "
                                 "this application, the account must be added to the directory."
                                 % (username[:100], m.tenant))
            amr, cap = m.check_credentials(user, password, now, accept_tap=m.config["tap_at_prompt"])
            resp = m.token_response(user, scope, amr, int(now), cap)
        self.send(200, resp, headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
                  what="password grant for %s (%s)" % (user["upn"], ",".join(amr)))

    # ---- Microsoft Graph (checkMemberGroups, PIM for Groups instances) ----

    def send_graph_error(self, status, code, message, what=""):
        now = time.time()
        self.send(status, {"error": {"code": code, "message": message, "innerError": {
            "date": entra_timestamp(now), "request-id": str(uuid.uuid4()),
            "client-request-id": str(uuid.uuid4())}}}, what="graph %s %s" % (code, what))

    def graph_token(self, need):
        """The bearer token's record, or None after answering 401/403 as Graph does."""
        m = self.mock
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            self.send_graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
            return None
        with m.lock:
            rec = m.access_tokens.get(auth[7:].strip())
        if rec is None:
            self.send_graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.")
            return None
        if time.time() >= rec["expires"]:
            self.send_graph_error(401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
            return None
        if not rec["graph_scopes"]:
            self.send_graph_error(401, "InvalidAuthenticationToken",
                                  "Access token validation failure. Invalid audience.")
            return None
        if not any(n in rec["graph_scopes"] for n in need):
            self.send_graph_error(403, "Authorization_RequestDenied",
                                  "Insufficient privileges to complete the operation.",
                                  "missing scope %s" % need[0])
            return None
        return rec

    def graph(self, endpoint, body):
        if endpoint == "graph_check":
            return self.graph_check(body)
        return self.graph_pim()

    def graph_check(self, body):
        m = self.mock
        rec = self.graph_token((GRAPH_USER_READ, "User.Read.All", "Directory.Read.All"))
        if rec is None:
            return None
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            req = json.loads(body) if ctype == "application/json" and body else None
        except ValueError:
            req = None
        ids = req.get("groupIds") if isinstance(req, dict) else None
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            return self.send_graph_error(400, "Request_BadRequest", "Invalid request: groupIds is required.")
        if len(ids) > GRAPH_CHECK_MAX_IDS:
            return self.send_graph_error(400, "Request_BadRequest",
                                         "The number of groupIds cannot exceed %d." % GRAPH_CHECK_MAX_IDS)
        with m.lock:
            user = m.find_user(rec["upn"])
            mine = {g.lower() for g in (user or {}).get("groups") or []}
        value = [g for g in ids if g.lower() in mine]
        self.send(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
                        "value": value}, what="checkMemberGroups %d of %d" % (len(value), len(ids)))

    def graph_pim(self):
        m = self.mock
        rec = self.graph_token((GRAPH_PIM_SCOPE, "PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup"))
        if rec is None:
            return None
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        try:
            skip = int((q.get("$skiptoken") or ["0"])[0])
        except ValueError:
            return self.send_graph_error(400, "BadRequest", "Invalid $skiptoken.")
        with m.lock:
            items = list(m.pim.get(rec["upn"].lower(), []))
            size = m.config["graph_page_size"]
        page = items[skip:skip + size]
        body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection("
                                  "privilegedAccessGroupAssignmentScheduleInstance)", "value": page}
        if skip + size < len(items):
            body["@odata.nextLink"] = "%s%s?$skiptoken=%d" % (m.base, GRAPH_PIM_PATH, skip + size)
        self.send(200, body, what="PIM instances %d..%d of %d" % (skip, skip + len(page), len(items)))

    # ---- the verification page (a stand-in for Entra's sign-in UI) ----

    def devicelogin(self, method):
        form = {}
        if method == "POST":
            form = self.parse_form(self.read_body() or b"")
        with self.mock.lock:
            page, what = verification_page(self.mock, method, form, time.time())
        self.send(200, page, "text/html; charset=utf-8", headers={"Cache-Control": "no-store, no-cache"},
                  what=what)

    # ---- control API ----

    def control(self, method, action):
        body = self.read_body() if method == "POST" else b""
        if body is None:
            return self.send(400, {"error": "body missing or too large"}, what=action)
        args = {}
        if body.strip():
            try:
                args = json.loads(body)
            except ValueError as e:
                return self.send(400, {"error": "invalid JSON: %s" % e}, what=action)
            if not isinstance(args, dict):
                return self.send(400, {"error": "the body must be a JSON object"}, what=action)
        fn = CONTROL.get(action)
        if fn is None:
            return self.send(404, {"error": "unknown control action '%s'" % action[:100]}, what=action)
        try:
            with self.mock.lock:
                result = fn(self.mock, args)
        except BadRequest as e:
            return self.send(400, {"error": str(e)}, what="%s: %s" % (action, e))
        self.send(200, result, headers={"Cache-Control": "no-store"}, what="control " + action)


# ---- the verification page: Entra's browser step in plain HTML forms (no JavaScript) ----
#
# GET /devicelogin: enter the code. POST with the code (otc): a sign-in flow starts (a random
# flowToken, kept in a hidden field) and the page asks for the account and the pass. POST with
# the flow, login and passwd: the credentials are checked as in Entra's own sign-in UI, where
# a Temporary Access Pass is accepted (a one-time pass is used up here); then a confirmation
# names the application and the request the host made. POST with the flow and action=continue
# approves the pending code for that account; action=cancel declines it. A wrong code, a
# wrong or unusable pass, or a flow whose code is no longer pending each answer a page with
# role="alert" and approve nothing.

FLOW_MAX = 256


def page_html(title, body):
    t = html.escape(title)
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>%s</title></head>\n"
            "<body>\n<h1>%s</h1>\n%s<p><small>Mock Entra ID: a test fixture, not Microsoft Entra ID."
            "</small></p>\n</body></html>\n" % (t, t, body))


def alert_html(msg):
    return "<p id='error' role='alert'>%s</p>\n" % html.escape(msg) if msg else ""


def code_page(error=None):
    return page_html("Enter code", alert_html(error) +
                     "<p>Enter the code displayed on your app or device.</p>\n"
                     "<form method='post' action='/devicelogin'>\n"
                     "<p><label for='otc'>Code</label> "
                     "<input id='otc' name='otc' type='text' autocomplete='off' required></p>\n"
                     "<button type='submit'>Next</button>\n</form>\n")


def credentials_page(token, error=None, login=""):
    return page_html("Sign in", alert_html(error) +
                     "<p>Sign in with your account and your Temporary Access Pass (or your password).</p>\n"
                     "<form method='post' action='/devicelogin'>\n"
                     "<input type='hidden' name='flowToken' value='%s'>\n"
                     "<p><label for='login'>Account</label> "
                     "<input id='login' name='login' type='email' value='%s' autocomplete='username' required></p>\n"
                     "<p><label for='passwd'>Temporary Access Pass or password</label> "
                     "<input id='passwd' name='passwd' type='password' autocomplete='off' required></p>\n"
                     "<button type='submit'>Sign in</button>\n</form>\n"
                     % (html.escape(token), html.escape(login)))


def confirm_page(m, token, flow, d):
    app = m.config["app_name"]
    asked = entra_timestamp(d["created"]).replace(" ", " at ").replace("Z", " UTC")
    rows = (("Application", "%s (application id %s)" % (app, d["client_id"])),
            ("Account", flow["upn"]),
            ("Request", "made from %s on %s for the code %s" % (d["peer"], asked, d["user_code"])),
            ("Permissions", d["scope"]))
    return page_html("Are you trying to sign in to %s?" % app,
                     "<dl>\n%s</dl>\n" % "".join("<dt>%s</dt><dd>%s</dd>\n" % (html.escape(k), html.escape(v))
                                                 for k, v in rows) +
                     "<p>Only continue if you started this sign-in yourself, just now, on a device you "
                     "trust. Someone who sends you a code can use your sign-in.</p>\n"
                     "<form method='post' action='/devicelogin'>\n"
                     "<input type='hidden' name='flowToken' value='%s'>\n"
                     "<button type='submit' name='action' value='continue'>Continue</button>\n"
                     "<button type='submit' name='action' value='cancel'>Cancel</button>\n</form>\n"
                     % html.escape(token))


def verification_page(m, method, form, now):
    """One step of the verification page (the mock's lock held): (page, what to log). Never
    logs a code, a pass or a flow token."""
    for t in [t for t, f in m.flows.items() if f["expires"] <= now]:
        del m.flows[t]
    if method != "POST":
        return code_page(), ""
    token = form.get("flowToken")
    if not token:
        otc = "".join(c for c in form.get("otc", "") if c.isalnum()).upper()
        key = next((k for k, d in m.devices.items()
                    if otc and d["user_code"] == otc and d["state"] == "pending" and now < d["expires"]), None)
        if key is None:
            return code_page("That code didn't work. Check the code and try again."), "devicelogin: code refused"
        while len(m.flows) >= FLOW_MAX:
            del m.flows[min(m.flows, key=lambda t: m.flows[t]["started"])]
        token = b64url(secrets.token_bytes(32))
        m.flows[token] = {"device": key, "stage": "credentials", "started": now,
                          "expires": m.devices[key]["expires"], "upn": None, "amr": None, "cap": None}
        return credentials_page(token), "devicelogin: code accepted"
    flow = m.flows.get(token)
    d = m.devices.get(flow["device"]) if flow else None
    if d is None or d["state"] != "pending" or now >= d["expires"]:
        m.flows.pop(token, None)
        return (code_page("This sign-in has ended: the code was used, cancelled or has expired. "
                          "Enter a new code."), "devicelogin: the sign-in has ended")
    if flow["stage"] == "credentials":
        login = form.get("login", "").strip()[:256]
        user = m.find_user(login)
        if user is None:
            return (credentials_page(token, "We couldn't find an account with that name.", login),
                    "devicelogin: unknown account")
        try:
            amr, cap = m.check_credentials(user, form.get("passwd", ""), now, browser=True)
        except EntraError as e:
            text = "Your account or password is incorrect." if e.code == 50126 else e.text
            return credentials_page(token, text, login), "devicelogin: sign-in refused for %s" % user["upn"]
        flow.update(stage="confirm", upn=user["upn"], amr=amr, cap=cap)
        return confirm_page(m, token, flow, d), "devicelogin: %s signed in, confirming" % user["upn"]
    action = form.get("action")
    if action == "continue":
        del m.flows[token]
        d.update(state="approved", upn=flow["upn"], amr=flow["amr"], cap=flow["cap"])
        return (page_html("You have signed in", "<p>You have signed in to %s on your device. You may now "
                                                "close this window.</p>\n" % html.escape(m.config["app_name"])),
                "devicelogin: approved for %s" % flow["upn"])
    if action == "cancel":
        del m.flows[token]
        d["state"] = "declined"
        return (page_html("Sign-in cancelled", "<p>Nothing was approved: the device's request was "
                                               "declined.</p>\n"), "devicelogin: declined by %s" % flow["upn"])
    return confirm_page(m, token, flow, d), ""


# ---- control actions: fn(mock, args) -> JSON-able; raise BadRequest ----

def arg(args, name, types, default=None, required=False):
    if name not in args or args[name] is None:
        if required:
            raise BadRequest("'%s' is required" % name)
        return default
    v = args[name]
    if bool in types and isinstance(v, bool):
        return v
    if isinstance(v, bool) or not isinstance(v, types):
        raise BadRequest("'%s' has the wrong type" % name)
    return v


def no_extra(args, allowed):
    extra = sorted(set(args) - set(allowed))
    if extra:
        raise BadRequest("unknown field(s): %s" % ", ".join(extra))


def str_list(args, name):
    v = arg(args, name, (list,))
    if v is None:
        return None
    if not all(isinstance(x, str) and x for x in v):
        raise BadRequest("'%s' must be a list of non-empty strings" % name)
    return list(v)


def endpoints_arg(args):
    v = str_list(args, "endpoints")
    if v is None:
        return set(ENDPOINTS)
    bad = [e for e in v if e not in ENDPOINTS]
    if bad:
        raise BadRequest("unknown endpoint(s): %s (known: %s)" % (", ".join(bad), ", ".join(ENDPOINTS)))
    return set(v)


def public_user(u):
    return {k: u[k] for k in ("upn", "oid", "name", "groups", "roles", "mfa_required")} | {
        "has_password": u.get("password") is not None}


def ctl_users(m, a):
    no_extra(a, ("upn", "oid", "name", "groups", "roles", "password", "mfa_required"))
    upn = arg(a, "upn", (str,), required=True)
    if "@" not in upn or len(upn) > 256:
        raise BadRequest("'upn' must look like user@domain")
    u = m.users.get(upn.lower())
    if u is None:
        u = {"upn": upn, "oid": str(uuid.uuid4()), "name": upn.split("@")[0].capitalize(),
             "groups": [], "roles": [], "password": None, "mfa_required": False}
    oid = arg(a, "oid", (str,))
    if oid is not None:
        try:
            uuid.UUID(oid)
        except ValueError:
            raise BadRequest("'oid' must be a GUID") from None
        u["oid"] = oid
    for k in ("name", "password"):
        v = arg(a, k, (str,))
        if v is not None:
            u[k] = v
    for k in ("groups", "roles"):
        v = str_list(a, k)
        if v is not None:
            u[k] = v
    mfa = arg(a, "mfa_required", (bool,))
    if mfa is not None:
        u["mfa_required"] = mfa
    u["upn"] = upn
    m.users[upn.lower()] = u
    return public_user(u)


def ctl_tap(m, a):
    no_extra(a, ("upn", "lifetime_minutes", "one_time", "start_in_seconds", "length", "value"))
    u = m.find_user(arg(a, "upn", (str,), required=True))
    if u is None:
        raise BadRequest("no such user")
    lifetime = arg(a, "lifetime_minutes", (int,), 60)
    if not TAP_MIN_MINUTES <= lifetime <= TAP_MAX_MINUTES:
        raise BadRequest("'lifetime_minutes' must be between %d and %d" % (TAP_MIN_MINUTES, TAP_MAX_MINUTES))
    one_time = arg(a, "one_time", (bool,), True)
    start_in = arg(a, "start_in_seconds", (int, float), 0)
    if start_in < 0:
        raise BadRequest("'start_in_seconds' must be >= 0")
    length = arg(a, "length", (int,), 8)
    if not 8 <= length <= 48:
        raise BadRequest("'length' must be between 8 and 48")
    value = arg(a, "value", (str,))
    if value is not None and not value:
        raise BadRequest("'value' must not be empty")
    if value is None:
        value = "".join(secrets.choice(TAP_ALPHABET) for _ in range(length))
    start = time.time() + start_in
    tap = {"id": str(uuid.uuid4()), "value": value, "created": time.time(), "start": start,
           "expires": start + lifetime * 60, "lifetime_minutes": lifetime, "one_time": one_time,
           "used": False, "uses": 0}
    m.taps.setdefault(u["upn"].lower(), []).append(tap)
    return {"tap": value, "id": tap["id"], "start": int(start), "expires": int(tap["expires"]),
            "one_time": one_time, "lifetime_minutes": lifetime}


def ctl_tap_expire(m, a):
    no_extra(a, ("upn",))
    u = m.find_user(arg(a, "upn", (str,), required=True))
    if u is None:
        raise BadRequest("no such user")
    now = time.time()
    taps = m.taps.get(u["upn"].lower(), [])
    for t in taps:
        t["expires"] = min(t["expires"], now)
    return {"expired": len(taps)}


def find_device(m, user_code):
    for code, d in m.devices.items():
        if d["user_code"] == user_code.strip().upper():
            return code, d
    raise BadRequest("no such user_code")


def ctl_device_pending(m, a):
    no_extra(a, ())
    now = time.time()
    return {"pending": [{"user_code": d["user_code"], "client_id": d["client_id"], "scope": d["scope"],
                         "created": int(d["created"]), "expires": int(d["expires"])}
                        for d in m.devices.values() if d["state"] == "pending" and now < d["expires"]]}


def ctl_device_approve(m, a):
    no_extra(a, ("user_code", "upn", "amr"))
    _, d = find_device(m, arg(a, "user_code", (str,), required=True))
    u = m.find_user(arg(a, "upn", (str,), required=True))
    if u is None:
        raise BadRequest("no such user")
    if d["state"] != "pending" or time.time() >= d["expires"]:
        raise BadRequest("the code is not pending (state %s)" % d["state"])
    amr = str_list(a, "amr") or ["pwd", "mfa"]
    d.update(state="approved", upn=u["upn"], amr=amr, cap=None)
    return {"user_code": d["user_code"], "state": "approved", "upn": u["upn"]}


def ctl_device_decline(m, a):
    no_extra(a, ("user_code",))
    _, d = find_device(m, arg(a, "user_code", (str,), required=True))
    if d["state"] not in ("pending", "approved"):
        raise BadRequest("the code is %s" % d["state"])
    d["state"] = "declined"
    return {"user_code": d["user_code"], "state": "declined"}


def ctl_device_expire(m, a):
    no_extra(a, ("user_code",))
    _, d = find_device(m, arg(a, "user_code", (str,), required=True))
    d["state"] = "expired"
    d["expires"] = min(d["expires"], time.time())
    return {"user_code": d["user_code"], "state": "expired"}


def ctl_mint(m, a):
    no_extra(a, ("upn", "claims", "remove", "kid", "lifetime", "header", "signature", "client"))
    upn = arg(a, "upn", (str,), required=True)
    claims_over = arg(a, "claims", (dict,), {})
    remove = str_list(a, "remove") or []
    kid = arg(a, "kid", (str,))
    lifetime = arg(a, "lifetime", (int,), m.config["token_lifetime"])
    header = arg(a, "header", (dict,), {})
    signature = arg(a, "signature", (str,), "valid")
    if signature not in ("valid", "corrupt", "empty"):
        raise BadRequest("'signature' must be valid, corrupt or empty")
    client = arg(a, "client", (str,))
    user = m.find_user(upn)
    if user is None:  # tokens for users the directory does not know: a stable made-up oid
        user = {"upn": upn, "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, "mock-entra:" + upn.lower())),
                "name": upn.split("@")[0].capitalize(), "groups": [], "roles": []}
    key = m.current
    if kid is not None:
        key = next((k for k in m.keys if k.kid == kid), None)
        if key is None:
            raise BadRequest("no such kid")
    claims = m.id_token_claims(user, ["pwd"], lifetime, int(time.time()), client)
    claims.update(claims_over)
    for name in remove:
        claims.pop(name, None)
    return {"id_token": m.sign_jwt(claims, key, header, signature), "kid": key.kid}


def graph_time(t):
    """ISO 8601 with Z, as Graph writes its DateTimeOffset values."""
    return datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ctl_pim(m, a):
    """Give a user PIM for Groups instances (replacing theirs). Each: group, access
    (member|owner), type (assigned|activated), start_in (seconds from now, may be negative),
    end_in (seconds from now, null: a permanent assignment)."""
    no_extra(a, ("upn", "instances"))
    u = m.find_user(arg(a, "upn", (str,), required=True))
    if u is None:
        raise BadRequest("no such user")
    inst = arg(a, "instances", (list,), [])
    now = time.time()
    out = []
    for i in inst:
        if not isinstance(i, dict):
            raise BadRequest("'instances' must be a list of objects")
        no_extra(i, ("group", "access", "type", "start_in", "end_in"))
        group = arg(i, "group", (str,), required=True)
        access = arg(i, "access", (str,), "member")
        kind = arg(i, "type", (str,), "activated")
        start_in = arg(i, "start_in", (int, float), -60)
        end_in = arg(i, "end_in", (int, float))
        if access not in ("member", "owner") or kind not in ("assigned", "activated"):
            raise BadRequest("'access' must be member|owner and 'type' assigned|activated")
        iid = str(uuid.uuid4())
        out.append({"id": iid, "accessId": access, "principalId": u["oid"], "memberType": "direct",
                    "startDateTime": graph_time(now + start_in),
                    "endDateTime": graph_time(now + end_in) if end_in is not None else None,
                    "groupId": group, "assignmentScheduleId": iid, "assignmentType": kind})
    m.pim[u["upn"].lower()] = out
    return {"upn": u["upn"], "instances": out}


def ctl_access_tokens(m, a):
    """The access tokens issued so far (tests look for them where they must never be)."""
    no_extra(a, ())
    return {"access_tokens": sorted(m.access_tokens)}


def ctl_rotate(m, a):
    no_extra(a, ("retire_old",))
    retire = arg(a, "retire_old", (bool,), False)
    k = m.add_key()
    if retire:
        for old in m.keys:
            if old is not k:
                old.published = False
    return {"kid": k.kid, "keys": [x.kid for x in m.keys if x.published]}


def ctl_config(m, a):
    ints = {"device_code_lifetime": 1, "interval": 0, "token_lifetime": 1, "overage_limit": 0,
            "graph_page_size": 1}
    no_extra(a, list(ints) + ["password_grant", "omit_device_endpoint", "issuer_override", "tap_at_prompt",
                              "app_name"])
    new = dict(m.config)
    for k, lo in ints.items():
        v = arg(a, k, (int,))
        if v is not None:
            if v < lo or v > 10 ** 7:
                raise BadRequest("'%s' out of range" % k)
            new[k] = v
    for k in ("password_grant", "omit_device_endpoint", "tap_at_prompt"):
        v = arg(a, k, (bool,))
        if v is not None:
            new[k] = v
    v = arg(a, "app_name", (str,))
    if v is not None:
        if not v.strip() or len(v) > 120:
            raise BadRequest("'app_name' must be 1..120 characters")
        new["app_name"] = v
    if "issuer_override" in a:
        v = a["issuer_override"]
        if v is not None and not isinstance(v, str):
            raise BadRequest("'issuer_override' must be a string or null")
        new["issuer_override"] = v or None
    m.config = new
    return dict(m.config)


def ctl_latency(m, a):
    no_extra(a, ("seconds", "endpoints"))
    s = arg(a, "seconds", (int, float), required=True)
    if not 0 <= s <= 120:
        raise BadRequest("'seconds' must be between 0 and 120")
    m.faults["latency"] = float(s)
    m.faults["latency_endpoints"] = endpoints_arg(a)
    return faults_view(m)


def ctl_fail(m, a):
    no_extra(a, ("status", "count", "endpoints", "body", "content_type"))
    status = arg(a, "status", (int,), 503)
    if not 400 <= status <= 599:
        raise BadRequest("'status' must be 400..599")
    count = arg(a, "count", (int,), -1)
    if count < -1 or count == 0:
        raise BadRequest("'count' must be a positive number or -1")
    m.faults.update(fail_status=status, fail_count=count, fail_endpoints=endpoints_arg(a),
                    fail_body=arg(a, "body", (str,)), fail_content_type=arg(a, "content_type", (str,)))
    return faults_view(m)


def ctl_down(m, a):
    no_extra(a, ("mode", "endpoints"))
    mode = arg(a, "mode", (str,), "reset")
    if mode not in ("reset", "close"):
        raise BadRequest("'mode' must be reset or close")
    m.faults.update(down=mode, down_endpoints=endpoints_arg(a))
    return faults_view(m)


def ctl_up(m, a):
    no_extra(a, ())
    m.faults = m.no_faults()
    return faults_view(m)


def faults_view(m):
    f = m.faults
    return {"latency": {"seconds": f["latency"], "endpoints": sorted(f["latency_endpoints"])},
            "fail": {"status": f["fail_status"], "count": f["fail_count"],
                     "endpoints": sorted(f["fail_endpoints"])} if f["fail_status"] else None,
            "down": {"mode": f["down"], "endpoints": sorted(f["down_endpoints"])} if f["down"] else None}


def ctl_stats(m, a):
    no_extra(a, ())
    return {"requests": dict(m.stats)}


def ctl_stats_reset(m, a):
    no_extra(a, ())
    m.stats = {e: 0 for e in ENDPOINTS}
    return {"requests": dict(m.stats)}


def ctl_state_dump(m, a):
    no_extra(a, ())
    now = time.time()
    users = []
    for key, u in sorted(m.users.items()):
        pu = public_user(u)
        pu["taps"] = [{"id": t["id"], "created": int(t["created"]), "start": int(t["start"]),
                       "expires": int(t["expires"]), "lifetime_minutes": t["lifetime_minutes"],
                       "one_time": t["one_time"], "used": t["used"], "uses": t["uses"],
                       "usable": t["start"] <= now < t["expires"] and not (t["one_time"] and t["used"])}
                      for t in m.taps.get(key, [])]
        users.append(pu)
    return {"tenant": m.tenant, "client": m.client, "base": m.base, "config": dict(m.config),
            "faults": faults_view(m), "users": users,
            "keys": [{"kid": k.kid, "published": k.published, "current": k is m.current} for k in m.keys],
            "devices": [{"user_code": d["user_code"], "state": d["state"], "client_id": d["client_id"],
                         "scope": d["scope"], "expires": int(d["expires"]), "interval": d["interval"],
                         "upn": d["upn"]} for d in m.devices.values()]}


CONTROL = {
    "users": ctl_users, "tap": ctl_tap, "tap/expire": ctl_tap_expire,
    "device/pending": ctl_device_pending, "device/approve": ctl_device_approve,
    "device/decline": ctl_device_decline, "device/expire": ctl_device_expire,
    "mint": ctl_mint, "rotate": ctl_rotate, "config": ctl_config, "pim": ctl_pim,
    "access_tokens": ctl_access_tokens,
    "latency": ctl_latency, "fail": ctl_fail, "down": ctl_down, "up": ctl_up,
    "stats": ctl_stats, "stats/reset": ctl_stats_reset, "state/dump": ctl_state_dump,
}


class TLSServer(ThreadingHTTPServer):
    """TLS is negotiated in the connection's own thread, so a slow or broken client never
    stalls the accept loop."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, ctx, mock):
        self.ctx = ctx
        self.mock = mock
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.mock.log("%s TLS handshake failed: %s" % (client_address[0], e))
            return
        try:
            tls.settimeout(Handler.timeout)
            Handler(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.mock.log("%s handler error: %s" % (client_address[0], sys.exc_info()[1]))


def main():
    ap = argparse.ArgumentParser(description="Mock Microsoft Entra ID for tests.")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tenant", default=DEFAULT_TENANT)
    ap.add_argument("--client", default=DEFAULT_CLIENT)
    ap.add_argument("--tap-at-prompt", action="store_true",
                    help="the password grant accepts a Temporary Access Pass (Entra's does not)")
    opts = ap.parse_args()
    for name in ("tenant", "client"):
        try:
            uuid.UUID(getattr(opts, name))
        except ValueError:
            ap.error("--%s must be a GUID" % name)

    state_dir = os.path.abspath(opts.state_dir)
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    log_fd = os.open(os.path.join(state_dir, "mock.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    log_lock = threading.Lock()

    def log(line):
        data = ("%s %s\n" % (datetime.datetime.now().strftime("%H:%M:%S.%f")[:-3], line)).encode(
            "utf-8", "replace")
        with log_lock:
            os.write(log_fd, data)

    # RSA key generation releases the GIL: make the two RSA keys on both cores.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        srv_key = pool.submit(new_rsa_key)
        sig_key = pool.submit(new_rsa_key)
        ca_path, cert_path, key_path = make_tls_material(state_dir, srv_key.result())
        first_key = sig_key.result()
    mock = Mock(state_dir, opts.tenant.lower(), opts.client.lower(), log)
    mock.config["tap_at_prompt"] = opts.tap_at_prompt
    first = mock.add_key(first_key)
    write_private(os.path.join(state_dir, "signing-key.pem"), key_pem(first.key))

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_path, key_path)

    server = TLSServer((opts.host, opts.port), ctx, mock)
    port = server.server_address[1]
    host = opts.host if ":" not in opts.host else "[%s]" % opts.host
    mock.base = "https://%s:%d" % (host, port)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    ready = {"base": mock.base, "port": port, "tenant": mock.tenant, "client": mock.client,
             "ca": ca_path, "pid": os.getpid()}
    write_public(os.path.join(state_dir, "ready.json"), (json.dumps(ready) + "\n").encode())
    log("listening on %s (tenant %s, client %s, kid %s%s)" % (mock.base, mock.tenant, mock.client, first.kid,
                                                             ", pass-at-prompt mode" if opts.tap_at_prompt else ""))

    while not stop.wait(0.5):
        pass
    log("stopping")
    server.shutdown()
    server.server_close()
    try:
        os.unlink(os.path.join(state_dir, "ready.json"))
    except OSError:
        pass
    os.close(log_fd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
