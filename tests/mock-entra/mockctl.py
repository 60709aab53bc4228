#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Drive a running mock Entra ID through its control API.

    mockctl.py --state-dir DIR ACTION ['{json}']

Reads DIR/ready.json, calls {base}/_control/ACTION over HTTPS trusting DIR's test CA, prints
the JSON answer on stdout. Without a JSON argument, stats, device/pending and state/dump are
GET requests; everything else is a POST. On an HTTP error the body goes to stderr and the exit
status is 1 (2 for usage errors, 3 when the mock cannot be reached).
"""

import argparse
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

GET_ACTIONS = ("stats", "device/pending", "state/dump")


def main():
    ap = argparse.ArgumentParser(description="Control a running mock Entra ID.")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("action")
    ap.add_argument("json", nargs="?")
    opts = ap.parse_args()

    try:
        with open(os.path.join(opts.state_dir, "ready.json"), encoding="utf-8") as f:
            ready = json.load(f)
    except (OSError, ValueError) as e:
        print("mockctl: cannot read ready.json in %s: %s" % (opts.state_dir, e), file=sys.stderr)
        return 3

    data = None
    if opts.json is not None:
        try:
            json.loads(opts.json)
        except ValueError as e:
            print("mockctl: the argument is not JSON: %s" % e, file=sys.stderr)
            return 2
        data = opts.json.encode("utf-8")
    elif opts.action.strip("/") not in GET_ACTIONS:
        data = b"{}"

    ctx = ssl.create_default_context(cafile=ready["ca"])
    req = urllib.request.Request("%s/_control/%s" % (ready["base"], opts.action.strip("/")), data=data,
                                 method="POST" if data is not None else "GET")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=opts.timeout) as resp:
            body = resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        sys.stderr.write("mockctl: HTTP %d: %s\n" % (e.code, e.read().decode("utf-8", "replace")))
        return 1
    except (urllib.error.URLError, OSError) as e:
        print("mockctl: cannot reach the mock at %s: %s" % (ready["base"], e), file=sys.stderr)
        return 3
    sys.stdout.write(body if body.endswith("\n") else body + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
