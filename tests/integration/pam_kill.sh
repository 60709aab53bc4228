#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A sign-in killed at a random instant, hundreds of times, leaves no grant behind. The PAM
# transaction runs `auth required pam_entra_tap.so grant` and then a module that refuses (as
# pam_access, pam_time or an expired account would), so no run may end with a grant: killed
# at any instant (the caller alone, as `kill -9` of one's own sudo, or its whole process
# group, as Ctrl-C at a terminal), the grant, when it was made, is revoked by its guard at
# once; when the run finishes first, pam_end revokes it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/pam_sandbox.sh"
psb_enter "$@"
T=$PSB_T
KILLER=${GRANT_KILLER:-$top_builddir/tests/unit/helper_killer}
ONCE=$top_builddir/tests/unit/pam_once
RUNS=${PAM_KILL_RUNS:-300}
[ -x "$KILLER" ] && [ -x "$ONCE" ] || { fail "no helper_killer or pam_once in $top_builddir/tests/unit"; finish; }

sb_pam entra-kill <<'SVC'
auth     required   pam_entra_tap.so grant
auth     requisite  pam_deny.so
account  required   pam_permit.so
SVC
# a pass that stays usable for every run
mock_tap alice@contoso.com '"one_time":false,"lifetime_minutes":480' >"$T/pass"
check "a reusable pass for alice" test -s "$T/pass"
chmod 0600 "$T/pass"
clean() { [ "$(sb_grants alice)" = 0 ] && ! sb_in_group alice; }

# the plumbing: without a kill the sign-in grants, the refusing module fails the login, and
# pam_end takes the grant back
"$ONCE" entra-kill alice "$T/pass" >/dev/null 2>&1
is "$?" 1 "a sign-in followed by a refusing module fails"
check "... and leaves no grant" clean

# how long one sign-in takes here: kills are spread over it, then adjusted as the runs go
t0=$(now_ns)
for i in 1 2 3; do "$ONCE" entra-kill alice "$T/pass" >/dev/null 2>&1; done
span=$(($(ms_since "$t0") * 1000 / 3))
[ "$span" -ge 2000 ] || span=2000
diag "a sign-in with a grant takes about $span us here"
killed=0 finished=0 leaked=0 group_kills=0
first_problem=
for run in $(seq 1 "$RUNS"); do
	delay=$(((RANDOM * 32768 + RANDOM) % span))
	g=
	[ $((RANDOM % 2)) = 0 ] && g=-g
	res=$("$KILLER" $g "$delay" "$ONCE" entra-kill alice "$T/pass")
	case $res in
	killed)
		killed=$((killed + 1)) span=$((span * 21 / 20))
		[ -n "$g" ] && group_kills=$((group_kills + 1))
		;;
	*) finished=$((finished + 1)) span=$((span * 9 / 10)) ;;
	esac
	[ "$span" -ge 1000 ] || span=1000
	if ! wait_until --quiet 20 clean; then
		leaked=$((leaked + 1))
		[ -n "$first_problem" ] ||
			first_problem="run $run (${g:-caller only}, ${delay}us, $res): $(sb_grants alice) grant(s) left, member: $(sb_in_group alice && echo yes || echo no)"
		gsb_grantctl revoke --user alice >/dev/null 2>&1
	fi
done
diag "$RUNS runs: $killed killed part way ($group_kills with their process group), $finished finished"
is "$leaked" 0 "no killed or refused sign-in left a grant ${first_problem:+(first: $first_problem)}"
check "most runs were killed part way ($killed of $RUNS)" test "$killed" -gt $((RUNS / 3))
check "some runs finished before the kill ($finished)" test "$finished" -gt 0
check "no pending marker is left" bash -c '! ls "$1"/pending/ 2>/dev/null | grep -q .' _ "$SB_STATE"
done_testing
