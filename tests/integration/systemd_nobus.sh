#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A machine without systemd (a container): the sandbox's PID 1 is a plain process, there is
# no manager, no bus and no journal. Granting still works and says that no timer was set;
# the audit call reports the journal as unreachable instead of pretending; the sweep and the
# account check end expired grants. Then the same with a system dbus-daemon running but no
# systemd on it (what a container with dbus looks like to sd-bus).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/sandbox.sh"
CTL="$top_builddir/tests/integration/timer_audit_ctl"
ID=0123456789abcdef0123456789abcdef

require_root
sbx_init || { fail "sandbox set up"; finish; }
sb_useradd alice bob
check "a sandbox without systemd starts" -- sbx_start --no-systemd
[ "$(sbx_exec cat /proc/1/comm)" != systemd ] && ! sbx_exec test -e /run/systemd/system
ok $? "PID 1 is not systemd and /run/systemd/system is absent"

out=$(sbx_exec "$CTL" schedule "$ID" $(($(date +%s) + 60)) /usr/sbin/entra-tap-helper)
st=$?
[ $st = 3 ] && [ "$out" = no-systemd ]
ok $? "et_timer_schedule says there is no systemd (1), not an error ($out, exit $st)"
out=$(sbx_exec "$CTL" cancel "$ID")
ok $? "et_timer_cancel has nothing to do and succeeds ($out)"
out=$(sbx_exec "$CTL" audit grant 6 "no journal here" user=alice)
[ $? = 1 ] && case "$out" in *"No such file"*) true ;; *) false ;; esac
ok $? "et_audit reports the journal as unreachable ($out)"

check "entra-tap-grantctl is built" test -x "$top_builddir/entra-tap-grantctl" || finish
# no systemd, so no timer to set up: the shortest grant will do
err=$(sbx_grantctl grant alice --duration 1s 2>&1 >/dev/null)
ok $? "root grants alice 1 s without systemd"
sb_listed alice
ok $? "alice is a member"
case "$err" in *"no timer"*) r=0 ;; *) r=1 ;; esac
ok $r "the helper says that no timer was set"
diag "helper: $err"
# a second past the expiry: what a timer would have done by then
sleep_until $(($(sb_grant_field alice 'g["expires"]') + 1))
sb_listed alice
ok $? "with no timer, nothing ends the grant by itself"
sbx_grantctl sweep >/dev/null
ok $? "sweep runs without systemd"
sb_listed alice
ok $((!$?)) "the sweep ended the expired grant"

sbx_grantctl grant bob --duration 1s >/dev/null 2>&1
sleep_until "$(sb_grant_field bob 'g["expires"]')"
sbx_grantctl sweep --user bob --cause account >/dev/null
sb_listed bob
ok $((!$?)) "the account check's sweep ends an expired grant"

# a system bus, but no systemd on it
sbx_exec mkdir -p /run/dbus /run/systemd/system
sbx_exec dbus-daemon --system --fork --nopidfile
ok $? "a system dbus-daemon runs in the sandbox"
out=$(sbx_exec "$CTL" schedule "$ID" $(($(date +%s) + 60)) /usr/sbin/entra-tap-helper)
st=$?
[ $st = 3 ]
ok $? "with a bus but no manager, et_timer_schedule still says no systemd ($out, exit $st)"
err=$(sbx_grantctl grant alice --duration 1h 2>&1 >/dev/null)
ok $? "and granting works"
case "$err" in *"no timer"*) r=0 ;; *) r=1 ;; esac
ok $r "and says that no timer was set"

done_testing
