#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Revocation by the per-grant transient timer, against real systemd (PID 1 of a sandbox, see
# sandbox.sh): the static units are installed and valid; et_timer_schedule() makes a timer
# with OnCalendar= at the absolute UTC expiry and AccuracySec=1s that fires its service;
# cancel and re-schedule work; and end to end, a 3 s grant made with entra-tap-helper is
# revoked by its timer within 2 s after expiry (the lateness is printed).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/sandbox.sh"
CTL="$top_builddir/tests/integration/timer_audit_ctl"
# arithmetic on fractional seconds, without bc
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
fle() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
unlisted() { ! sb_listed "$1"; }
# A stopped transient unit is unloaded on systemd's next loop iteration, not at once.
unit_gone() { wait_until 3 sbx_exec sh -c "[ \"\$(systemctl show '$1' -p LoadState --value)\" = not-found ]"; }

require_root
sbx_init || { fail "sandbox set up"; finish; }
sb_useradd alice bob carol
check "systemd boots as PID 1 of the sandbox" -- sbx_start
check "the sandbox reaches running" -- sbx_wait_running 60 || finish

# ---- the static units ----
check "entra-tap-sweep.timer is active" -- sbx_exec systemctl -q is-active entra-tap-sweep.timer
show=$(sbx_exec systemctl show entra-tap-sweep.timer -p AccuracyUSec -p Persistent -p TimersCalendar -p TimersMonotonic)
diag "sweep timer: $(echo "$show" | tr '\n' ' ')"
echo "$show" | grep -qx 'AccuracyUSec=1s'
ok $? "the sweep timer has AccuracySec=1s"
echo "$show" | grep -qx 'Persistent=yes'
ok $? "the sweep timer is Persistent"
echo "$show" | grep -q 'OnCalendar=\*-\*-\* \*:\*:00'
ok $? "the sweep runs at every wall-clock minute (OnCalendar)"
echo "$show" | grep -q 'OnBootUSec'
ok $? "the sweep runs after boot (OnBootSec)"
verify=$(sbx_exec systemd-analyze verify --man=no /etc/systemd/system/entra-tap-sweep.service \
	/etc/systemd/system/entra-tap-sweep.timer /etc/systemd/system/entra-tap-boot-reconcile.service 2>&1)
ok $? "systemd-analyze verify accepts the three units"
[ -n "$verify" ] && diag "$verify"
state="$(sbx_exec systemctl show entra-tap-boot-reconcile.service -p ActiveState --value)"
state="$state $(sbx_exec systemctl show entra-tap-boot-reconcile.service -p Result --value)"
[ "$state" = "active success" ]
ok $? "the boot reconcile ran at boot and succeeded ($state)"

# ---- et_timer_schedule / et_timer_cancel against systemd, with a stand-in service ----
# The stand-in records when systemd ran it, and with which arguments.
cat >"$SBX_DIR/bin/stamp" <<EOF
#!/bin/sh
echo "\$(date +%s.%N) \$*" >"$SBX_DIR/fired.\$2"
EOF
chmod 0755 "$SBX_DIR/bin/stamp"
id=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
exp=$(($(date +%s) + 3))
out=$(sbx_exec "$CTL" schedule "$id" "$exp" "$SBX_DIR/bin/stamp")
ok $? "a timer is scheduled ($out)"
cal=$(sbx_exec systemctl show "entra-tap-revoke-$id.timer" -p TimersCalendar --value)
want=$(date -u -d "@$exp" '+%Y-%m-%d %H:%M:%S UTC')
case "$cal" in *"OnCalendar=$want ;"*) r=0 ;; *) r=1 ;; esac
ok $r "its OnCalendar= is the absolute UTC expiry ($want)"
[ $r = 0 ] || diag "TimersCalendar=$cal"
[ "$(sbx_exec systemctl show "entra-tap-revoke-$id.timer" -p AccuracyUSec --value)" = 1s ]
ok $? "its AccuracySec is 1s"
[ -z "$(sbx_exec systemctl show "entra-tap-revoke-$id.timer" -p TimersMonotonic --value)" ]
ok $? "it has no monotonic trigger"
sbx_exec systemctl list-timers --all --no-pager --no-legend | grep -q "entra-tap-revoke-$id.timer"
ok $? "list-timers shows it"
sleep_until "$exp"
if wait_until 5 test -s "$SBX_DIR/fired.$id"; then
	read -r fired verb fid <"$SBX_DIR/fired.$id"
	late=$(fsub "$fired" "$exp")
	diag "stand-in service ran $late s after the expiry instant"
	[ "$verb $fid" = "revoke $id" ]
	ok $? "the service ran '<helper> revoke <id>'"
	fle 0 "$late" && fle "$late" 2
	ok $? "the timer fired within 2 s after expiry (lateness $late s)"
else
	fail "the service ran '<helper> revoke <id>'"
	fail "the timer fired within 2 s after expiry (it did not fire)"
fi
unit_gone "entra-tap-revoke-$id.timer"
ok $? "an elapsed timer does not linger (RemainAfterElapse=no)"

id2=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
sbx_exec "$CTL" schedule "$id2" $(($(date +%s) + 120)) "$SBX_DIR/bin/stamp" >/dev/null
exp2=$(($(date +%s) + 2))
sbx_exec "$CTL" schedule "$id2" "$exp2" "$SBX_DIR/bin/stamp" >/dev/null
ok $? "scheduling a grant's timer again succeeds"
cal=$(sbx_exec systemctl show "entra-tap-revoke-$id2.timer" -p TimersCalendar --value)
[ "$(echo "$cal" | grep -o 'OnCalendar=' | wc -l)" = 1 ] &&
	case "$cal" in *"OnCalendar=$(date -u -d "@$exp2" '+%Y-%m-%d %H:%M:%S UTC') ;"*) true ;; *) false ;; esac
ok $? "and replaces the old expiry instead of adding one ($cal)"
sbx_exec "$CTL" cancel "$id2" >/dev/null
ok $? "cancel succeeds"
unit_gone "entra-tap-revoke-$id2.timer"
ok $? "the cancelled timer is gone"
# had the timer stayed, it would have run within its accuracy (1 s) after the expiry
sleep_until $((exp2 + 1))
[ ! -e "$SBX_DIR/fired.$id2" ]
ok $? "a cancelled timer never runs its service"
sbx_exec "$CTL" cancel "$id2" >/dev/null
ok $? "cancel of a timer that does not exist is success"

# ---- end to end: entra-tap-helper grant -> membership -> timer -> revoked ----
# the minutely sweep would race the causes checked below: only the paths under test run
sbx_exec systemctl stop entra-tap-sweep.timer
check "entra-tap-grantctl is built" test -x "$top_builddir/entra-tap-grantctl" || finish
gid=$(sbx_grantctl grant alice --duration 3s --reason "timer test")
ok $? "root grants alice 3 s"
sb_listed alice
ok $? "alice is a member at once"
sbx_exec getent group "$SBX_GROUP" | grep -q alice
ok $? "getent inside the sandbox agrees"
expires=$(sbx_grantctl list --json | "$PYTHON3" -c 'import json,sys; print([g["expires"] for g in json.load(sys.stdin) if g["id"]==sys.argv[1]][0])' "$gid")
ok $? "the grant is listed with its expiry ($expires)"
cal=$(sbx_exec systemctl show "entra-tap-revoke-$gid.timer" -p TimersCalendar --value)
case "$cal" in *"OnCalendar=$(date -u -d "@$expires" '+%Y-%m-%d %H:%M:%S UTC') ;"*) r=0 ;; *) r=1 ;; esac
ok $r "the grant's timer is set for its expiry"
sleep_until "$expires"
if ! wait_until --every 0.01 6 unlisted alice; then
	fail "alice's membership ended by the timer (still a member 6 s after expiry)"
	fail "lateness within 2 s"
else
	late=$(fsub "$(date +%s.%N)" "$expires")
	echo "# revocation lateness (membership gone - expiry): $late s"
	pass "alice's membership ended by the timer"
	fle "$late" 2
	ok $? "lateness within 2 s ($late s)"
fi
sbx_grantctl list --json | "$PYTHON3" -c 'import json,sys; sys.exit(any(g["id"]==sys.argv[1] for g in json.load(sys.stdin)))' "$gid"
ok $? "the grant is gone from the store"
wait_until 3 sbx_exec sh -c "journalctl -o json ENTRA_TAP_EVENT=revoke ENTRA_TAP_GRANT_ID=$gid | grep -q '\"ENTRA_TAP_REASON\":\"expiry\"'"
ok $? "the journal records the revoke with cause expiry"

# a grant capped by a PIM for Groups activation ends with it, by its timer
pim_end=$(($(date +%s) + 3))
gid=$(sbx_grantctl grant alice --duration 1h --method device_code --pim-until "$pim_end")
ok $? "root grants alice 1 h, capped by a PIM activation ending in 3 s"
cal=$(sbx_exec systemctl show "entra-tap-revoke-$gid.timer" -p TimersCalendar --value)
case "$cal" in *"OnCalendar=$(date -u -d "@$pim_end" '+%Y-%m-%d %H:%M:%S UTC') ;"*) r=0 ;; *) r=1 ;; esac
ok $r "the capped grant's timer is set for the activation's end"
sleep_until "$pim_end"
wait_until --every 0.01 6 unlisted alice
ok $? "alice's membership ended by the timer when the PIM activation ended"
wait_until 3 sbx_exec sh -c "journalctl -o json ENTRA_TAP_EVENT=revoke ENTRA_TAP_GRANT_ID=$gid | grep -q '\"ENTRA_TAP_REASON\":\"expiry\"'"
ok $? "the journal records that revoke with cause expiry"

gid=$(sbx_grantctl grant bob --duration 1h)
[ "$(sbx_exec systemctl show "entra-tap-revoke-$gid.timer" -p ActiveState --value)" = active ]
ok $? "an hour-long grant has an active timer"
sbx_grantctl revoke "$gid" >/dev/null
ok $? "root revokes it early"
unit_gone "entra-tap-revoke-$gid.timer"
ok $? "an early revoke cancels the grant's timer"
sb_listed bob
ok $((!$?)) "bob is no longer a member"

# the setuid helper run by the user himself reaches systemd too (real uid bob, euid 0)
gid=$(sbx_grantctl grant bob --duration 1h)
sbx_exec setpriv --reuid=bob --regid=bob --clear-groups "$SB_HELPER_PATH" drop "$gid" >/dev/null
ok $? "bob drops his own grant"
unit_gone "entra-tap-revoke-$gid.timer"
ok $? "a drop by the user cancels the grant's timer"

# the static sweep service (as its timer would start it), hardening and all
# 2 s: a grant whose expiry falls in the second it is made gets no timer (it is revoked at once)
gid=$(sbx_grantctl grant carol --duration 2s)
sbx_exec systemctl stop "entra-tap-revoke-$gid.timer"
sleep_until "$(sb_grant_field "$gid" 'g["expires"]')"
sb_listed carol
ok $? "carol's expired grant, its timer stopped, is still there"
sbx_exec systemctl start entra-tap-sweep.service
ok $? "systemctl start entra-tap-sweep.service succeeds"
[ "$(sbx_exec systemctl show entra-tap-sweep.service -p Result --value)" = success ]
ok $? "the sweep service's result is success"
sb_listed carol
ok $((!$?)) "the sweep service ended carol's expired grant"

# a timer that fires for a grant that has already ended (the sweep was first) is no failure
sbx_exec "$CTL" schedule "$gid" $(($(date +%s) + 2)) "$SB_GRANTCTL_PATH" >/dev/null
wait_until 5 sbx_exec sh -c "journalctl -u entra-tap-revoke-$gid.service -o cat | grep -q 'no grant'"
ok $? "the revoke service ran for a grant that no longer exists"
# failed transient units are collected at once (CollectMode), so ask systemd's own log
wait_until 3 sbx_exec sh -c "journalctl -u entra-tap-revoke-$gid.service -o cat | grep -q -e 'Deactivated successfully' -e 'Failed with result'"
log=$(sbx_exec journalctl -u "entra-tap-revoke-$gid.service" -o cat)
echo "$log" | grep -q 'Deactivated successfully' && ! echo "$log" | grep -q 'Failed with result'
ok $? "and did not fail (SuccessExitStatus covers 'not found')" || diag "$log"

done_testing
