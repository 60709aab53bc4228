#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""An independent break-glass voucher minter and checker, written from the format's
description alone (README, "Break-glass"), with the `cryptography` package: the tests mint
vouchers here for the C reader and check the C minter's vouchers here, so the format is
pinned from both sides.

  voucher_mint.py keygen PEM                 write a PKCS#8 PEM key, print ed25519:<key>
  voucher_mint.py pub PEM                    print the ed25519:<key> line of a PEM key
  voucher_mint.py mint PEM JSON              print EBG1.<payload>.<signature> for the JSON
                                             payload text given (kid "auto": the key's id)
  voucher_mint.py check PUBLINE VOUCHER      verify a voucher, print its payload as JSON;
                                             exit 1 when it does not verify
"""
import base64
import hashlib
import json
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text):
    if "=" in text or any(c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" for c in text):
        raise ValueError("not strict base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64u(data) != text:
        raise ValueError("not canonical")
    return data


def raw_public(key):
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid(raw):
    return hashlib.sha256(raw).digest()[:8].hex()


def load(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def main(argv):
    cmd = argv[1]
    if cmd == "keygen":
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        with open(argv[2], "xb") as f:
            f.write(pem)
        print("ed25519:" + b64u(raw_public(key)))
    elif cmd == "pub":
        key = load(argv[2])
        raw = raw_public(key)
        print("ed25519:" + b64u(raw))
        print(kid(raw))
    elif cmd == "mint":
        key = load(argv[2])
        text = argv[3].replace('"kid":"auto"', '"kid":"%s"' % kid(raw_public(key)))
        head = "EBG1." + b64u(text.encode("utf-8"))
        sig = key.sign(head.encode("ascii"))
        print(head + "." + b64u(sig))
    elif cmd == "check":
        pub = argv[2]
        assert pub.startswith("ed25519:")
        raw = unb64u(pub[len("ed25519:"):])
        voucher = argv[3]
        prefix, payload, sig = voucher.split(".")
        assert prefix == "EBG1" and len(voucher) <= 2048
        signature = unb64u(sig)
        assert len(signature) == 64
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, ("EBG1." + payload).encode("ascii"))
        except Exception:
            print("bad signature", file=sys.stderr)
            return 1
        pairs = json.loads(unb64u(payload).decode("utf-8"), object_pairs_hook=lambda p: p)
        names = [k for k, _ in pairs]
        assert len(names) == len(set(names)), "duplicate member"
        d = dict(pairs)
        required = {"kid", "sub", "hosts", "iat", "exp", "dur", "jti", "reason"}
        assert required <= set(d) <= required | {"nbf"}, sorted(d)
        assert d["kid"] == kid(raw)
        assert isinstance(d["hosts"], list) and d["hosts"] and all(isinstance(h, str) for h in d["hosts"])
        for k in ("iat", "exp", "dur") + (("nbf",) if "nbf" in d else ()):
            assert type(d[k]) is int, k
        assert 0 <= d["exp"] - d["iat"] <= 7 * 86400 and d["dur"] > 0
        assert len(d["jti"]) == 32 and all(c in "0123456789abcdef" for c in d["jti"])
        assert isinstance(d["reason"], str) and len(d["reason"]) <= 200
        print(json.dumps(d, sort_keys=True))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
