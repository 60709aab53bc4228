#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A "reboot" with grants outstanding: systemd (PID 1 of a sandbox) is killed with SIGKILL, as
# in a power cut, so the grants' transient timers die with it; the expiry passes while the
# machine is down; at the next boot entra-tap-boot-reconcile.service ends the expired grants
# before systemd-user-sessions.service lets anyone log in, and keeps the live one. A clean
# shutdown is tested the same way.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/sandbox.sh"

require_root
sbx_init || { fail "sandbox set up"; finish; }
sb_useradd alice bob carol dave
# usec monotonic timestamps of this boot, from systemctl show
mono() { sbx_exec systemctl show "$1" -p "$2" --value; }
grant_ids() { sbx_grantctl list --json | "$PYTHON3" -c 'import json,sys; print(" ".join(g["id"] for g in json.load(sys.stdin)))'; }

check "entra-tap-grantctl is built" test -x "$top_builddir/entra-tap-grantctl" || finish
check "the sandbox boots" -- sbx_start
check "and reaches running" -- sbx_wait_running 60 || finish

a=$(sbx_grantctl grant alice --duration 3s --reason "reboot test") &&
	b=$(sbx_grantctl grant bob --duration 4s) &&
	c=$(sbx_grantctl grant carol --duration 1h)
ok $? "three grants: alice 3 s, bob 4 s, carol 1 h"
bob_expires=$(sb_grant_field "$b" 'g["expires"]')
sb_listed alice && sb_listed bob && sb_listed carol
ok $? "all three are members"
sbx_exec systemctl -q is-active "entra-tap-revoke-$a.timer" "entra-tap-revoke-$b.timer" "entra-tap-revoke-$c.timer"
ok $? "each grant has its timer"

sbx_crash
ok $? "power cut: PID 1 killed with SIGKILL"
# the machine stays down until both short grants have expired
sleep_until "$bob_expires"
sb_listed alice && sb_listed bob
ok $? "the expired grants are still in /etc/group while the machine is down"

check "the sandbox boots again on the same disk" -- sbx_start
check "and reaches running" -- sbx_wait_running 60
sb_listed alice
ok $((!$?)) "alice's expired grant was revoked at boot"
sb_listed bob
ok $((!$?)) "bob's expired grant was revoked at boot"
sb_listed carol
ok $? "carol's live grant survived the reboot"
ids=$(grant_ids)
[ "$ids" = "$c" ]
ok $? "the store holds only carol's grant ($ids)"
state="$(sbx_exec systemctl show entra-tap-boot-reconcile.service -p Result --value)"
state="$state $(sbx_exec systemctl show entra-tap-boot-reconcile.service -p ExecMainStatus --value)"
[ "$state" = "success 0" ]
ok $? "entra-tap-boot-reconcile.service succeeded ($state)"
rec=$(mono entra-tap-boot-reconcile.service ExecMainExitTimestampMonotonic)
us=$(mono systemd-user-sessions.service ExecMainStartTimestampMonotonic)
diag "reconcile finished at ${rec} us, user sessions started at ${us} us (monotonic)"
[ -n "$rec" ] && [ -n "$us" ] && [ "$rec" -gt 0 ] && [ "$us" -gt 0 ] && [ "$rec" -le "$us" ]
ok $? "the reconcile finished before systemd-user-sessions.service started"
out=$(sbx_exec systemctl show -p Before --value entra-tap-boot-reconcile.service)
case " $out " in *" ssh.service "*) r=0 ;; *) r=1 ;; esac
[ $r = 0 ] && case " $out " in *" systemd-user-sessions.service "*) true ;; *) false ;; esac
ok $? "it is ordered before ssh.service and systemd-user-sessions.service"
for g in "$a" "$b"; do
	sbx_exec journalctl -b 0 -o json ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$g" |
		grep -q '"ENTRA_TAP_REASON":"sweep"'
	ok $? "the journal of the new boot records grant $g revoked by the sweep"
done

# a clean shutdown: the same, through systemd's own halt
d=$(sbx_grantctl grant dave --duration 2s)
ok $? "dave gets 2 s"
dave_expires=$(sb_grant_field "$d" 'g["expires"]')
sbx_halt 30
ok $? "clean shutdown"
sleep_until "$dave_expires"
sb_listed dave
ok $? "dave is still a member while the machine is down"
check "boot again" -- sbx_start
check "running" -- sbx_wait_running 60
sb_listed dave
ok $((!$?)) "dave's grant, expired during the shutdown, was revoked at boot"
sbx_exec journalctl -b 0 -o json ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$d" | grep -q '"ENTRA_TAP_REASON":"sweep"'
ok $? "and the journal says so"
sb_listed carol
ok $? "carol's grant is still live"

done_testing
