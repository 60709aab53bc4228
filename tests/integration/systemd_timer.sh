#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Revocation by the per-grant transient timer, against real systemd (PID 1 of a sandbox, see
# sandbox.sh): the static units are installed and valid; et_timer_schedule() makes a timer
# with OnCalendar= at the absolute UTC expiry and AccuracySec=1us that fires its service;
# cancel and re-schedule work; the warning timer (et_timer_schedule_warning) fires its
# service, is replaced by a new instant and stopped by cancel; the grant's scope
# (et_scope_attach / et_scope_stop) takes in running processes, and what they fork after,
# and stopping it ends them; and end to end, a 3 s grant made with entra-tap-helper is
# revoked by its timer (the lateness is printed; bench-revocation measures it).
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
acc=$(sbx_exec systemctl show "entra-tap-revoke-$id.timer" -p AccuracyUSec --value)
[ "$acc" = 1us ]
ok $? "its AccuracySec is 1us: it fires at the instant ($acc)"
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
	# how late is bench-revocation's to measure; here: never before the instant
	fle 0 "$late"
	ok $? "the timer fired at or after the expiry instant, not before (lateness $late s)"
else
	fail "the service ran '<helper> revoke <id>'"
	fail "the timer fired at or after the expiry instant (it did not fire)"
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
# had the timer stayed, it would have run at the expiry
sleep_until $((exp2 + 1))
[ ! -e "$SBX_DIR/fired.$id2" ]
ok $? "a cancelled timer never runs its service"
sbx_exec "$CTL" cancel "$id2" >/dev/null
ok $? "cancel of a timer that does not exist is success"

# ---- the warning timer ----
# The stand-in warning program records that it ran, and with which arguments.
cat >"$SBX_DIR/bin/warned" <<EOF
#!/bin/sh
echo "\$*" >>"$SBX_DIR/warned.\$2"
EOF
chmod 0755 "$SBX_DIR/bin/warned"
wid=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
at=$(($(date +%s) + 3))
out=$(sbx_exec "$CTL" warn-at "$wid" "$at" "$SBX_DIR/bin/warned")
ok $? "a warning timer is scheduled ($out)"
show=$(sbx_exec systemctl show "entra-tap-warn-$wid.timer" -p TimersCalendar -p AccuracyUSec)
echo "$show" | grep -q "OnCalendar=$(date -u -d "@$at" '+%Y-%m-%d %H:%M:%S UTC') ;" &&
	echo "$show" | grep -qx 'AccuracyUSec=1s'
ok $? "entra-tap-warn-<id>.timer is set for the instant, AccuracySec=1s" || diag "$show"
sbx_exec systemctl show "entra-tap-warn-$wid.service" -p ExecStart --value |
	grep -q "argv\[\]=$SBX_DIR/bin/warned warn $wid ;"
ok $? "its service runs '<program> warn <id>'"
[ "$(sbx_exec systemctl show "entra-tap-warn-$wid.service" -p Type --value)" = oneshot ]
ok $? "its service is Type=oneshot"
sleep_until "$at"
wait_until 10 test -s "$SBX_DIR/warned.$wid"
ok $? "the warning timer fired"
unit_gone "entra-tap-warn-$wid.timer"
ok $? "an elapsed warning timer does not linger"
is "$(cat "$SBX_DIR/warned.$wid" 2>/dev/null)" "warn $wid" "the warning ran its command once"
out=$(sbx_exec "$CTL" warn-at "$wid" "$(date +%s)" "$SBX_DIR/bin/warned")
[ $? = 1 ] && case "$out" in "error: expired:"*) true ;; *) false ;; esac
ok $? "a warning instant that has passed is refused as expired ($out)"

# a new instant for the same grant replaces the warning timer
wid2=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
sbx_exec "$CTL" warn-at "$wid2" $(($(date +%s) + 120)) "$SBX_DIR/bin/warned" >/dev/null
at2=$(($(date +%s) + 2))
sbx_exec "$CTL" warn-at "$wid2" "$at2" "$SBX_DIR/bin/warned" >/dev/null
ok $? "scheduling a grant's warning again succeeds"
cal=$(sbx_exec systemctl show "entra-tap-warn-$wid2.timer" -p TimersCalendar --value)
[ "$(echo "$cal" | grep -o 'OnCalendar=' | wc -l)" = 1 ] &&
	case "$cal" in *"OnCalendar=$(date -u -d "@$at2" '+%Y-%m-%d %H:%M:%S UTC') ;"*) true ;; *) false ;; esac
ok $? "and replaces the old instant instead of adding one ($cal)"
sleep_until "$at2"
wait_until 10 test -s "$SBX_DIR/warned.$wid2"
ok $? "the replacing warning timer fired"
unit_gone "entra-tap-warn-$wid2.timer"
is "$(cat "$SBX_DIR/warned.$wid2" 2>/dev/null)" "warn $wid2" "once, with the grant's id"

# cancel stops both timers of a grant
wid3=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
sbx_exec "$CTL" schedule "$wid3" $(($(date +%s) + 120)) "$SBX_DIR/bin/stamp" >/dev/null &&
	sbx_exec "$CTL" warn-at "$wid3" $(($(date +%s) + 60)) "$SBX_DIR/bin/warned" >/dev/null
ok $? "a grant with both a revocation and a warning timer"
sbx_exec "$CTL" cancel "$wid3" >/dev/null
ok $? "cancel succeeds"
unit_gone "entra-tap-revoke-$wid3.timer" && unit_gone "entra-tap-warn-$wid3.timer"
ok $? "both timers are gone"
sbx_exec "$CTL" cancel "$wid3" >/dev/null
ok $? "cancel when neither exists is success"

# ---- the grant's scope ----
sid=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
scope="entra-tap-grant-$sid.scope"
in_scope() { sbx_exec grep -q "/$scope\$" "/proc/$1/cgroup"; }
# systemd (PID 1 inside) reaps the orphans once they end
proc_gone() { sbx_exec test ! -e "/proc/$1"; }
# the first process: started from outside any unit of the sandbox
p1=$(sbx_exec sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $!')
out=$(sbx_exec "$CTL" scope-attach "$sid" "$p1")
ok $? "a running process is attached to a new scope of the grant ($out)"
in_scope "$p1"
ok $? "its /proc/PID/cgroup names the scope as soon as the attach returns"
show=$(sbx_exec systemctl show "$scope" -p ActiveState -p Delegate -p SendSIGHUP -p CollectMode)
[ "$(echo "$show" | sort | tr '\n' ' ')" = "ActiveState=active CollectMode=inactive-or-failed Delegate=yes SendSIGHUP=yes " ]
ok $? "the scope is active, delegated, sends SIGHUP and is collected" || diag "$show"
# the second: a shell in a scope of its own (as a login session is), which forks a child
# when told to (a file) and reports that child's pid; it ignores SIGTERM (as an interactive
# shell does) and records SIGHUP
cat >"$SBX_DIR/bin/session" <<EOF
#!/bin/sh
trap '' TERM
trap 'echo hup >"$SBX_DIR/hup"; exit 0' HUP
while [ ! -e "$SBX_DIR/fork" ]; do sleep 0.05; done
sleep 300 &
echo \$! >"$SBX_DIR/child"
while :; do sleep 0.05; done
EOF
chmod 0755 "$SBX_DIR/bin/session"
p2=$(sbx_exec sh -c "systemd-run --scope --quiet '$SBX_DIR/bin/session' </dev/null >/dev/null 2>&1 & echo \$!")
wait_until 5 sbx_exec grep -q '/run-.*\.scope$' "/proc/$p2/cgroup"
ok $? "a second process runs in another unit's scope"
out=$(sbx_exec "$CTL" scope-attach "$sid" "$p2")
ok $? "it is attached to the grant's existing scope ($out)"
in_scope "$p2"
ok $? "its /proc/PID/cgroup names the scope as soon as the attach returns"
in_scope "$p1"
ok $? "the first process is still there"
touch "$SBX_DIR/fork"
wait_until 5 test -s "$SBX_DIR/child"
child=$(cat "$SBX_DIR/child" 2>/dev/null)
[ -n "$child" ] && in_scope "$child"
ok $? "a child it forks after the attach is in the scope too"
sbx_exec "$CTL" scope-attach "$sid" "$p2" >/dev/null
ok $? "attaching a process that is in the scope already is success"
out=$(sbx_exec "$CTL" scope-stop "$sid")
ok $? "the scope is stopped ($out)"
wait_until 10 proc_gone "$p1" && wait_until 10 proc_gone "$child"
ok $? "which ends its processes"
wait_until 10 proc_gone "$p2"
ok $? "and the shell that ignores SIGTERM"
[ "$(cat "$SBX_DIR/hup" 2>/dev/null)" = hup ]
ok $? "by the SIGHUP that followed"
unit_gone "$scope"
ok $? "the stopped scope does not linger"
sbx_exec "$CTL" scope-stop "$sid" >/dev/null
ok $? "stopping a scope that does not exist is success"
p3=$(sbx_exec sh -c 'sleep 300 </dev/null >/dev/null 2>&1 & echo $!')
sbx_exec "$CTL" scope-attach "$sid" "$p3" >/dev/null && in_scope "$p3"
ok $? "a later session of the same grant gets a new scope"
sbx_exec "$CTL" scope-stop "$sid" >/dev/null && wait_until 10 proc_gone "$p3"
ok $? "which is stopped in turn"
out=$(sbx_exec "$CTL" scope-attach "$sid" 999999)
[ $? = 1 ]
ok $? "a process that does not exist is not attached ($out)"
unit_gone "$scope"
ok $? "and leaves no scope behind"

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
else
	late=$(fsub "$(date +%s.%N)" "$expires")
	echo "# revocation lateness (membership gone - expiry): $late s (bench-revocation measures it)"
	pass "alice's membership ended by the timer"
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
