#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Hold a PAM conversation with a program on a pseudo-terminal (ssh, sudo, elevate).

    pam_drive.py [--timeout S] [--log FILE] STEP... -- CMD [ARGS...]

Steps, in order:
    expect=REGEX        wait for REGEX in the program's output
    send=TEXT           type TEXT and Enter
    sendenv=NAME        type the value of environment variable NAME and Enter (a pass stays
                        out of every argv)
    device=ACTION[:UPN] act on the one device code pending at the mock Entra ID (ET_MOCKCTL):
                        approve:UPN, decline or expire; the code must have been shown in the
                        output so far
    sleep=SECONDS
    run=SHELL           run a shell command beside the program (it must succeed)
Then it waits for the program to end (within --timeout in all, counted from the start).

Exit status: the program's own (128+N when killed by signal N) when every step worked;
200 a step timed out or the program ended before it (the program is killed), 201 the
pending device code was not shown in the output, 202 the mock's control API failed, 203 a
run= command failed.
The whole output goes to --log (default: stdout). Requires Debian's python3-pexpect.
"""

import json
import os
import shlex
import subprocess
import sys
import time

import pexpect


def mock(action, body=None):
    cmd = shlex.split(os.environ["ET_MOCKCTL"]) + [action]
    if body is not None:
        cmd.append(json.dumps(body))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=30).stdout
    return json.loads(out)


def main(argv):
    timeout, log = 60.0, None
    steps = []
    i = 0
    while i < len(argv) and argv[i] != "--":
        a = argv[i]
        if a == "--timeout":
            timeout = float(argv[i + 1])
            i += 2
            continue
        if a == "--log":
            log = argv[i + 1]
            i += 2
            continue
        key, sep, value = a.partition("=")
        if not sep or key not in ("expect", "send", "sendenv", "device", "sleep", "run"):
            print("pam_drive: bad step %r" % a, file=sys.stderr)
            return 2
        steps.append((key, value))
        i += 1
    cmd = argv[i + 1:]
    if not cmd:
        print("pam_drive: no command", file=sys.stderr)
        return 2

    start = time.monotonic()
    transcript = []

    class Sink:
        def write(self, s):
            transcript.append(s)

        def flush(self):
            pass

    child = pexpect.spawn(cmd[0], cmd[1:], encoding="utf-8", codec_errors="replace", timeout=timeout,
                          dimensions=(50, 500))
    child.logfile_read = Sink()
    status = None

    def left():
        return max(0.1, timeout - (time.monotonic() - start))

    try:
        for key, value in steps:
            if key == "expect":
                child.expect(value, timeout=left())
            elif key == "send":
                child.sendline(value)
            elif key == "sendenv":
                child.sendline(os.environ.get(value, ""))
            elif key == "sleep":
                time.sleep(float(value))
            elif key == "run":
                try:
                    failed = subprocess.run(["bash", "-c", value], timeout=left()).returncode != 0
                except subprocess.TimeoutExpired:
                    failed = True
                if failed:
                    print("pam_drive: run=%s failed" % value, file=sys.stderr)
                    status = 203
                    break
            elif key == "device":
                action, _, upn = value.partition(":")
                try:
                    pending = mock("device/pending")["pending"]
                    if len(pending) != 1:
                        print("pam_drive: %d device codes pending, want 1" % len(pending), file=sys.stderr)
                        status = 202
                        break
                    code = pending[0]["user_code"]
                    if code not in "".join(transcript):
                        print("pam_drive: the pending code %s was not shown" % code, file=sys.stderr)
                        status = 201
                        break
                    body = {"user_code": code}
                    if action == "approve":
                        body["upn"] = upn
                    mock("device/" + action, body)
                except (subprocess.SubprocessError, OSError, ValueError, KeyError) as e:
                    print("pam_drive: the mock's control API failed: %s" % e, file=sys.stderr)
                    status = 202
                    break
        if status is None:
            child.expect(pexpect.EOF, timeout=left())
    except pexpect.TIMEOUT:
        print("pam_drive: timed out at step %s=%s" % (key, value), file=sys.stderr)
        status = 200
    except pexpect.EOF:
        print("pam_drive: the program ended before step %s=%s" % (key, value), file=sys.stderr)
        status = 200
    if status is not None:
        child.close(force=True)
    else:
        child.close()
        if child.signalstatus is not None:
            status = 128 + child.signalstatus
        else:
            status = child.exitstatus
    text = "".join(transcript)
    if log:
        with open(log, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
