#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Check that /etc/group and /etc/gshadow parse and agree with the grant store.

    grant_files_check.py --group G [--permanent a,b] [--grants FILE] [--now EPOCH]
                         [--parse-only] [--print]

--grants is the output of `entra-tap-helper list --json`. Checks, each reported on stderr:
  * every line of /etc/group is name:passwd:gid:members with a numeric gid, every line of
    /etc/gshadow has four fields, and G appears exactly once in each;
  * no member name is repeated and no member field is empty between commas;
  * (unless --parse-only) G's member set is the same in both files;
  * (unless --parse-only) G's members are exactly the users with a live grant plus those
    permanent_members that are members, and every live grant's user is a member;
  * (unless --parse-only) no lock file (group.lock, gshadow.lock) and no group+ / gshadow+
    is left behind.
Exit status 0 when every check passes, 1 otherwise. --print writes the member list to stdout.
"""
import argparse
import json
import os
import sys
import time


def parse(path, gshadow, group, problems):
    members = None
    count = 0
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        problems.append("%s does not end with a newline" % path)
    for n, raw in enumerate(data.split(b"\n"), 1):
        if raw == b"":
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append("%s:%d is not UTF-8" % (path, n))
            continue
        fields = line.split(":")
        if len(fields) != 4:
            problems.append("%s:%d has %d fields: %r" % (path, n, len(fields), line[:80]))
            continue
        if not gshadow and not fields[2].isdigit():
            problems.append("%s:%d has a bad gid" % (path, n))
        if fields[0] == group:
            count += 1
            items = fields[3].split(",") if fields[3] else []
            if any(i == "" for i in items):
                problems.append("%s: empty member entry in %r" % (path, fields[3]))
            if len(items) != len(set(items)):
                problems.append("%s: repeated member in %r" % (path, fields[3]))
            members = set(i for i in items if i)
    if count != 1:
        problems.append("%s: group %s appears %d times" % (path, group, count))
    return members or set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--group", required=True)
    ap.add_argument("--permanent", default="")
    ap.add_argument("--grants")
    ap.add_argument("--now", type=int, default=None)
    ap.add_argument("--parse-only", action="store_true")
    ap.add_argument("--print", action="store_true", help="print the member list")
    args = ap.parse_args()
    problems = []
    g = parse("/etc/group", False, args.group, problems)
    gs = g
    if os.path.exists("/etc/gshadow"):
        gs = parse("/etc/gshadow", True, args.group, problems)
    if not args.parse_only:
        # right after a kill between the two renames they may differ; the sweep reconciles
        if g != gs:
            problems.append("group and gshadow disagree: %s vs %s" % (sorted(g), sorted(gs)))
        for name in ("group.lock", "gshadow.lock", "group+", "gshadow+"):
            if os.path.exists("/etc/" + name):
                problems.append("/etc/%s was left behind" % name)
        now = args.now if args.now is not None else int(time.time())
        with open(args.grants) as f:
            grants = json.load(f)
        live = set(x["user"] for x in grants if x["expires"] > now and x["group"] == args.group)
        expired = [x["id"] for x in grants if x["expires"] <= now]
        permanent = set(p for p in args.permanent.split(",") if p)
        if expired:
            problems.append("expired grants still in the store: %s" % expired)
        if g - permanent != live:
            problems.append("members %s but live grants for %s" % (sorted(g - permanent), sorted(live)))
    for p in problems:
        print("# " + p, file=sys.stderr)
    if args.print:
        print(",".join(sorted(g)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
