#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Session end: how long after its expiry instant the processes a grant elevated are gone
# (common/sessions.h: on_expiry = terminate, SIGTERM, SIGKILL after terminate_grace).
# In a systemd sandbox (tests/integration/sandbox.sh), N grants (default 10) of N users, with
# staggered short durations so that several end in the same second; each grant gets two
# processes of its user, started as transient services and tied with
# `entra-tap-grantctl tie USER PID` (so moved into the grant's scope): a `sleep 1000`, which
# SIGTERM ends, and a `sleep 1000` that ignores SIGTERM, which only SIGKILL ends, after
# terminate_grace (default here 2 s). A poller inside the sandbox reads /proc every 5 ms;
# for each grant, the sample is: the first instant when none of its processes runs any more
# (gone, or a zombie) - its expiry instant. Also shown per grant: its revoke and
# sessions_ended journal entries, relative to the expiry.
# Prints every sample, then p50 / p90 / p99 / max; the goal is p99 <= terminate_grace + 1 s.
#   bench/session_end.sh [N]        (root; run by `make bench-sessions`)
#   ET_BENCH_GRACE=S                terminate_grace in seconds (default 2)
# Exit status 1 when a grant's processes were not all ended, or p99 > terminate_grace + 1 s;
# 2 when the bench could not run.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/.." && pwd)}"
. "$top_srcdir/tests/integration/sandbox.sh"
: "${PYTHON3:=/usr/bin/python3}"
N=${1:-10}
GRACE=${ET_BENCH_GRACE:-2}
case "$N" in '' | 0 | *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
case "$GRACE" in '' | *[!0-9]*) echo "ET_BENCH_GRACE: whole seconds" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 2; }
[ -x "$top_builddir/entra-tap-grantctl" ] || { echo "entra-tap-grantctl is not built in $top_builddir" >&2; exit 2; }

sbx_init || exit 2
users=""
for i in $(seq 1 "$N"); do users="$users ses$i"; done
# shellcheck disable=SC2086
sb_useradd $users
sb_config on_expiry terminate && sb_config terminate_grace "${GRACE}s" && sb_config expiry_warning 0 || exit 2
if ! { sbx_start && sbx_wait_running 60 >/dev/null 2>&1; }; then
	echo "the sandbox did not boot" >&2
	exit 2
fi
# the minutely sweep would race the timers (it ends expired grants too)
sbx_exec systemctl stop entra-tap-sweep.timer

# pid_start PID: its start time (a reused pid is not the process)
pid_start() { sbx_exec cat "/proc/$1/stat" 2>/dev/null | sed 's/.*) //' | awk '{ print $20 }'; }
# durations: every tie is made before the first end; several grants end in the same second
base=$((5 + N / 2))
list=$SBX_DIR/bench.list
: >"$list"
for i in $(seq 1 "$N"); do
	u=ses$i
	id=$(sbx_grantctl grant "$u" --duration "$((base + i % 5))s" 2>/dev/null) || {
		echo "grant $i failed" >&2
		exit 1
	}
	line="$id $(sbx_grantctl list --json | "$PYTHON3" -c 'import json,sys; print([g["expires"] for g in json.load(sys.stdin) if g["id"] == sys.argv[1]][0])' "$id")"
	for kind in plain stubborn; do
		case $kind in
		plain) cmd=(sleep 1000) ;;
		stubborn) cmd=(sh -c 'trap "" TERM; exec sleep 1000') ;;
		esac
		sbx_exec systemd-run -q --unit="bench-$kind-$i" -p User="$u" -- "${cmd[@]}" || exit 2
		pid=$(sbx_exec systemctl show -p MainPID --value "bench-$kind-$i")
		[ -n "$pid" ] && [ "$pid" != 0 ] || { echo "bench-$kind-$i did not start" >&2; exit 2; }
		sbx_grantctl tie "$u" "$pid" >/dev/null || { echo "tie $u $pid failed" >&2; exit 1; }
		sbx_exec grep -q "/entra-tap-grant-$id\\.scope\$" "/proc/$pid/cgroup" ||
			echo "warning: $u's $kind process $pid is not in the scope of grant $id" >&2
		line="$line $pid $(pid_start "$pid")"
	done
	echo "$line" >>"$list"
done
first=$(awk '{ print $2 }' "$list" | sort -n | head -1)
now=$(date +%s)
[ "$now" -lt "$first" ] || echo "warning: the first grant ended before every tie was made" >&2
# the stubborn one really ignores SIGTERM (bit 15 of SigIgn)
stub=$(awk 'NR == 1 { print $5 }' "$list")
ign=$(sbx_exec awk '/^SigIgn:/ { print $2 }' "/proc/$stub/status")
[ -n "$ign" ] && (((16#$ign & 16#4000) != 0)) || { echo "process $stub does not ignore SIGTERM" >&2; exit 2; }
echo "$N grants, 2 tied processes each (one ignores SIGTERM), terminate_grace ${GRACE}s; ends from $(date -d "@$first" +%T)"

# the poller, inside the sandbox's PID namespace: one line per grant, "ID EXPIRES GONE-TIME"
deadline=$(($(awk '{ print $2 }' "$list" | sort -n | tail -1) + GRACE + 30))
# shellcheck disable=SC2016
sbx_exec "$PYTHON3" -c '
import sys, time
deadline = float(sys.argv[1])
grants = []
for line in sys.stdin:
    f = line.split()
    grants.append((f[0], int(f[1]), [(f[i], f[i + 1]) for i in range(2, len(f), 2)]))
def runs(pid, start):
    try:
        with open("/proc/%s/stat" % pid) as fh:
            rest = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return rest[19] == start and rest[0] != "Z"
gone = {}
while len(gone) < len(grants) and time.time() < deadline:
    now = time.time()
    for gid, exp, procs in grants:
        if gid not in gone and not any(runs(p, s) for p, s in procs):
            gone[gid] = now
    time.sleep(0.005)
for gid, exp, procs in grants:
    print(gid, exp, "%.6f" % gone[gid] if gid in gone else "-")
' "$deadline" <"$list" >"$SBX_DIR/bench.gone"

# each end writes sessions_ended once its processes are gone: give the last ones a moment
_all_ended() { [ "$(sbx_exec journalctl --no-pager -q -o cat ENTRA_TAP_EVENT=sessions_ended | wc -l)" -ge "$N" ]; }
wait_until --quiet 10 _all_ended
sbx_exec journalctl --no-pager -o json ENTRA_TAP_EVENT=revoke + ENTRA_TAP_EVENT=sessions_ended >"$SBX_DIR/bench.journal"
"$PYTHON3" - "$SBX_DIR/bench.gone" "$SBX_DIR/bench.journal" "$GRACE" <<'EOF'
import json, math, sys
gone_file, journal_file, grace = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [l.split() for l in open(gone_file) if l.strip()]
ev = {}
for line in open(journal_file):
    d = json.loads(line)
    key = (d.get("ENTRA_TAP_GRANT_ID"), d.get("ENTRA_TAP_EVENT"))
    ev.setdefault(key, int(d["__REALTIME_TIMESTAMP"]) / 1e6)
late, missing = {}, []
for gid, exp, gone in rows:
    if gone == "-":
        missing.append(gid)
    else:
        late[gid] = float(gone) - int(exp)
def rel(gid, what, exp):
    t = ev.get((gid, what))
    return "%+.3f s" % (t - exp) if t is not None else "none"
for gid, exp, gone in sorted(rows, key=lambda r: late.get(r[0], 1e9)):
    exp = int(exp)
    print("sample %s %s (revoke entry %s, sessions_ended %s)"
          % (gid, "%.3f s" % late[gid] if gid in late else "NOT ENDED", rel(gid, "revoke", exp),
             rel(gid, "sessions_ended", exp)))
v = sorted(late.values())
def pct(p):
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)] if v else float("nan")
goal = grace + 1
print("session end over %d grants (expiry -> all its processes gone, terminate_grace %gs): "
      "p50 %.3f s, p90 %.3f s, p99 %.3f s, max %.3f s, min %.3f s; goal p99 <= %g s: %s"
      % (len(v), grace, pct(50), pct(90), pct(99), v[-1] if v else float("nan"),
         v[0] if v else float("nan"), goal, "met" if v and not missing and pct(99) <= goal else "MISSED"))
if missing:
    print("NOT ended: %d grant(s): %s" % (len(missing), " ".join(missing)))
sys.exit(1 if missing or not v or pct(99) > goal else 0)
EOF
