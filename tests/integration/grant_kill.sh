#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 at random instants of grants, revokes and sweeps (hundreds of runs): right after
# each kill /etc/group and /etc/gshadow parse; after the next sweep they agree with the store,
# no lock or temp file is left, and the elevated group has no member without a live grant.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/grant_sandbox.sh"
gsb_enter "$@"
KILLER=${GRANT_KILLER:-$top_builddir/tests/unit/helper_killer}
G=$GSB_GROUP
T=$(sb_tmpdir)
RUNS=${GRANT_KILL_RUNS:-300}
# the sweep of each run ends the 1 s grants of earlier runs
sb_config duration_min 1s
sb_config permanent_members kperm
users="k0 k1 k2 k3 k4 k5 k6 k7 k8 k9 kperm"
# shellcheck disable=SC2086
sb_useradd $users
set -- $users
[ -x "$KILLER" ] || { fail "no helper_killer at $KILLER"; finish; }
gpasswd -a kperm "$G" >/dev/null

# kill delays spread over a whole grant's run time on this build and machine to start with,
# then adjusted as the runs go (sweeps and revokes are quicker, so some runs finish first)
t0=$(date +%s%N)
for i in 1 2 3 4 5; do gsb_grantctl grant k0 --duration 1h >/dev/null 2>&1; done
gsb_grantctl revoke --user k0 >/dev/null 2>&1
span=$((($(date +%s%N) - t0) / 1000 / 5))
[ "$span" -ge 1000 ] || span=1000
diag "a grant takes about $span us here: kills land within 0..$span us at first"
killed=0 finished=0 parse_fail=0 agree_fail=0 sweep_fail=0 leftovers=0
first_problem=
for run in $(seq 1 "$RUNS"); do
	u=k$((RANDOM % 10))
	delay=$(((RANDOM * 32768 + RANDOM) % span))
	case $((RANDOM % 10)) in
	0 | 1 | 2 | 3) args=(grant "$u" --duration 1h) ;;
	4) args=(grant "$u" --duration 1s) ;;
	5 | 6) args=(revoke --user "$u") ;;
	7)
		f=$(ls "$GSB_STATE/grants/" 2>/dev/null | grep -E '^[0-9a-f]{32}\.grant$' | shuf -n1)
		args=(revoke "${f%.grant}")
		[ -n "$f" ] || args=(sweep)
		;;
	*) args=(sweep) ;;
	esac
	res=$("$KILLER" "$delay" "$GSB_BIN" "${args[@]}")
	# keep about two kills in three landing part way, whatever the machine's speed right now
	case $res in
	killed) killed=$((killed + 1)) span=$((span * 21 / 20)) ;;
	*) finished=$((finished + 1)) span=$((span * 9 / 10)) ;;
	esac
	[ "$span" -ge 200 ] || span=200
	if ! gsb_files_check --parse-only 2>"$T/parse.err"; then
		parse_fail=$((parse_fail + 1))
		[ -n "$first_problem" ] || first_problem="run $run (${args[*]}, ${delay}us, $res): $(cat "$T/parse.err")"
	fi
	# one second of slack: time() may trail `date` by a tick at a second's boundary
	now=$(($(date +%s) - 1))
	if ! gsb_grantctl sweep >/dev/null 2>"$T/sweep.err"; then
		sweep_fail=$((sweep_fail + 1))
		[ -n "$first_problem" ] || first_problem="run $run: sweep failed: $(cat "$T/sweep.err")"
		continue
	fi
	gsb_grantctl list --json >"$T/grants.json" 2>/dev/null
	if ! gsb_files_check --permanent kperm --grants "$T/grants.json" --now "$now" 2>"$T/agree.err"; then
		agree_fail=$((agree_fail + 1))
		[ -n "$first_problem" ] || first_problem="run $run (${args[*]}, ${delay}us, $res, now $now): $(cat "$T/agree.err")"
	fi
	if ls "$GSB_STATE/grants/" | grep -q '\.tmp\.'; then
		leftovers=$((leftovers + 1))
	fi
done
diag "$RUNS runs: $killed killed part way, $finished finished before the kill"
[ -z "$first_problem" ] || diag "first problem: $first_problem"
is "$parse_fail" 0 "right after every kill, /etc/group and /etc/gshadow parse"
is "$sweep_fail" 0 "the sweep after every kill succeeds"
is "$agree_fail" 0 "after every sweep, the group files agree with the store (no stale lock or temp file)"
is "$leftovers" 0 "after every sweep, no temp file is left in the store"
check "at least a quarter of the runs were cut short ($killed of $RUNS)" test "$killed" -ge $((RUNS / 4))
check "some runs finished before the kill ($finished)" test "$finished" -gt 0
check "the permanent member survived every sweep" grep -q "^$G:.*kperm" /etc/group
ls /etc/group.[0-9]* /etc/gshadow.[0-9]* >/dev/null 2>&1
is "$?" 2 "no lock-in-progress file of a killed process is left in /etc"
done_testing
