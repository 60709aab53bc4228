#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Journey: the sessions a grant elevated end with it (common/sessions.h).
#
# On a whole sandboxed host (journey_sandbox.sh: systemd as PID 1, the mock Entra ID, real
# sudo, su, sshd and the OpenSSH client), with the module's session line
# (`session optional <module>`) in /etc/pam.d/sudo, /etc/pam.d/su and /etc/pam.d/sshd:
#   a. terminate (the default): alice signs in for a short grant and opens, while she holds
#      it, a `sudo -i` root shell on her terminal, a background `sudo sh -c 'exec sleep ...'`
#      and an `su -` root shell on a second terminal, and a key login over ssh whose session
#      has the elevated group; a process of hers that got the group at a fresh login, tied to
#      nothing, runs too. The sudo, su and sshd sessions are tied: their processes are in the
#      grant's scope. expiry_warning before the end her terminal gets the warning line; at the
#      end both terminals get "elevation ended: this session is being closed", every one of
#      those processes is gone (SIGTERM, SIGKILL after terminate_grace: the interactive root
#      shells ignore SIGTERM), the ssh client's connection ends, her own shells (which never
#      had the group) are left alone, and the journal has the revoke event (on_expiry
#      terminate, the processes) followed by sessions_ended.
#   b. on_expiry = keep: a `sudo -i` shell and a background sudo outlive the grant, alice is no
#      longer in the group, and the journal's events name them.
#   c. extend: with a live grant and a tied `sudo -i` shell, a second `entra-tap-helper
#      elevate` (a fresh sign-in through the mock) keeps the grant's id, the journal has the
#      extend event, and the tied shell is alive after the first expiry instant has passed;
#      `entra-tap-helper drop` then ends it.
# The waits are bounded (wait_until) and never assert how long something took.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/journey_sandbox.sh"
jny_enter "$@"
. "$_jny_here/journey_steps.sh"
[ -x /usr/sbin/sshd ] || skip_all "needs openssh-server"
require_cmd ssh ssh-keygen su chpasswd

GRANT_A=45s  # scenario a: the warning fires first (at 25 s), then the end
WARN_S=20    # expiry_warning
GRACE_S=3    # terminate_grace
GRANT_B=20s  # scenarios b and c: shorter than expiry_warning, so no warning
GRANT_C=20s
EXTEND_C=60s
PORT=2299
ENDED='elevation ended: this session is being closed'
# a root shell's prompt (root's own PS1) ends in "# "
ROOT_PROMPT_RE='# $'
WARN_RE='elevation ends at [0-9]{2}:[0-9]{2} \(in [0-9]+ min\); run entra-tap-helper elevate to extend'

# ---- the host: session lines, configuration, root's password, sshd ----
# `sudo -i` runs PAM service sudo-i, which on Debian does not include sudo: it gets the same
# lines as sudo (the sandbox's account check, then the session line). `su -` runs su-l,
# which includes su.
printf 'account  required  %s\n' "$SB_MODULE" >>"$SB_ETC/pam.d/sudo-i"
for svc in sudo sudo-i su; do
	printf 'session  optional  %s\n' "$SB_MODULE" >>"$SB_ETC/pam.d/$svc"
done
grep -qxF "session  optional  $SB_MODULE" "$SB_ETC/pam.d/sudo" &&
	grep -qxF "session  optional  $SB_MODULE" "$SB_ETC/pam.d/sudo-i" &&
	grep -qxF "session  optional  $SB_MODULE" "$SB_ETC/pam.d/su" &&
	grep -qE '^session[[:space:]]+include[[:space:]]+su$' "$SB_ETC/pam.d/su-l"
ok $? "/etc/pam.d/sudo, sudo-i (sudo -i) and su (su -: su-l includes it) end with the module's session line"
sb_config expiry_warning "${WARN_S}s" && sb_config terminate_grace "${GRACE_S}s"
conf=$(sbx_exec "$ENTRA_TAP" check-config 2>&1)
st=$?
printf '%s\n' "$conf" | grep -qx "expiry_warning = ${WARN_S}s" &&
	printf '%s\n' "$conf" | grep -qx "terminate_grace = ${GRACE_S}s" &&
	printf '%s\n' "$conf" | grep -qx "on_expiry = terminate"
ok $((st || $?)) "entra-tap check-config: valid and usable, expiry_warning ${WARN_S}s, terminate_grace ${GRACE_S}s, on_expiry terminate (the default)" ||
	diag "$conf"

# su from alice to root asks for root's password (Debian's su stack: pam_rootok only lets
# root through). The sandbox's root gets one, known to the test, so that su's own PAM stack
# (service su, with the session line) opens the root session while its invoking user
# (PAM_RUSER, alice) holds the grant: the session the module must tie to her grant. An
# `su -` from the `sudo -i` shell would prove nothing: it runs inside the scope already,
# and its PAM_RUSER is root, who holds no grant.
ROOTPW=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
printf 'root:%s\n' "$ROOTPW" | sbx_exec chpasswd
ok $? "root has a password in the sandbox (for su)"

S=$SBX_DIR/ssh
mkdir -p "$S" "$SBX_DIR/home/alice/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$S/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$S/alice_key" ||
	skip_all "ssh-keygen failed"
install -m 0600 "$S/alice_key.pub" "$SBX_DIR/home/alice/.ssh/authorized_keys"
chmod 0700 "$SBX_DIR/home/alice/.ssh"
chown -R --reference="$SBX_DIR/home/alice" "$SBX_DIR/home/alice/.ssh"
# Debian's sshd stack plus the module's session line (a key login: no auth phase of the module)
debian_sshd=$(cat "$SB_ETC/pam.d/sshd")
printf '%s\n' "$debian_sshd" |
	sed -e 's|^@include common-session$|@include common-session\nsession    optional     pam_entra_tap.so|' | sb_pam sshd
grep -qE "^session +optional +$SB_MODULE\$" "$SB_ETC/pam.d/sshd"
ok $? "/etc/pam.d/sshd: Debian's, with the module's session line"
{
	echo "Port $PORT"
	echo "ListenAddress 127.0.0.1"
	echo "HostKey $S/host_key"
	echo "PidFile /run/sshd-sessions.pid"
	echo "UsePAM yes"
	echo "AuthenticationMethods publickey"
	echo "UseDNS no"
	echo "PrintMotd no"
	echo "PrintLastLog no"
	echo "PermitRootLogin no"
} >"$S/sshd_config"
sbx_exec mkdir -p /run/sshd
sbx_exec systemd-run -q --unit=journey-sshd /usr/sbin/sshd -D -e -f "$S/sshd_config"
check "sshd runs as a systemd service on 127.0.0.1:$PORT" -- wait_until 5 sb_port_open "$PORT"

# ---- more terminals: jny_shell_* drives alice's first one, these the others ----
declare -A T_PID T_FD T_LOG T_TTY
# term_start NAME USER: USER's bash on a new terminal inside the sandbox (as jny_shell_start)
term_start() {
	local n=$1 u=$2 fd
	T_LOG[$n]=$SBX_DIR/term-$n.log
	rm -f "$SBX_DIR/term-$n.in" && mkfifo -m 0600 "$SBX_DIR/term-$n.in" || return 1
	: >"${T_LOG[$n]}"
	script -qfec "nsenter -t $SBX_PID -m -p -- env -i PATH=$SB_BINDIR:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
HOME=$SBX_DIR/home/$u USER=$u LOGNAME=$u LANG=C.UTF-8 TERM=dumb 'PS1=$u\$ ' \
setpriv --reuid=$u --regid=$u --init-groups -- bash --norc --noprofile --noediting" \
		"${T_LOG[$n]}" <"$SBX_DIR/term-$n.in" >/dev/null 2>&1 &
	T_PID[$n]=$!
	exec {fd}>"$SBX_DIR/term-$n.in"
	T_FD[$n]=$fd
	wait_until 10 term_shows "$n" "^$u\\$ \$" && wait_until 5 _term_find_tty "$n"
}
_term_find_tty() {
	local p t
	for p in $(cat /proc/"${T_PID[$1]}"/task/*/children 2>/dev/null); do
		t=$(readlink "/proc/$p/fd/0" 2>/dev/null)
		case $t in /dev/pts/*) T_TTY[$1]=$t && return 0 ;; esac
	done
	return 1
}
term_stop_all() {
	local n fd
	for n in "${!T_PID[@]}"; do
		fd=${T_FD[$n]}
		{ printf 'exit\n' >&"$fd"; } 2>/dev/null
		exec {fd}>&-
		kill "${T_PID[$n]}" 2>/dev/null
		wait "${T_PID[$n]}" 2>/dev/null
	done
}
at_exit term_stop_all
term_type() { printf '%s\n' "$2" >&"${T_FD[$1]}"; }
# term_shows NAME RE [OFFSET]: the terminal showed RE (after byte OFFSET)
term_shows() { tail -c +$((${3:-0} + 1)) "${T_LOG[$1]}" | tr -d '\r' | grep -qE -- "$2"; }
term_size() { stat -c %s "${T_LOG[$1]}"; }
# term_expect NAME RE [SECS [OFFSET]]
term_expect() {
	wait_until --quiet "${3:-20}" term_shows "$1" "$2" "${4:-0}" && return 0
	diag "terminal $1 did not show /$2/; it showed:"
	tr -d '\r' <"${T_LOG[$1]}" | tail -20 | sed 's/^/#   | /'
	return 1
}
term_echo_off() { wait_until --every 0.02 "${2:-10}" sh -c 'stty -F "$1" -a | grep -qw -- -echo' _ "${T_TTY[$1]}"; }
# term_value NAME KEY: the number printed as KEY=N (the last one)
term_value() { tr -d '\r' <"${T_LOG[$1]}" | grep -oE "$2=[0-9]+" | tail -1 | cut -d= -f2; }
# main_value KEY: the same on alice's first terminal
main_value() { tr -d '\r' <"$JNY_SH_LOG" | grep -oE "$1=[0-9]+" | tail -1 | cut -d= -f2; }
main_size() { stat -c %s "$JNY_SH_LOG"; }
main_shows() { tail -c +$((${2:-0} + 1)) "$JNY_SH_LOG" | tr -d '\r' | grep -qE -- "$1"; }

# ---- processes, by pid and start time inside the sandbox (a reused pid is not the process) ----
declare -A P_ID
pid_start() { sbx_exec cat "/proc/$1/stat" 2>/dev/null | sed 's/.*) //' | awk '{ print $20 }'; }
# track NAME PID: remember the process
track() {
	local st
	[ -n "$2" ] && st=$(pid_start "$2") && [ -n "$st" ] || return 1
	P_ID[$1]="$2 $st"
}
pid_of() { echo "${P_ID[$1]%% *}"; }
alive() {
	local p=${P_ID[$1]%% *} st=${P_ID[$1]#* }
	[ -n "$p" ] && [ "$(pid_start "$p")" = "$st" ]
}
all_alive() {
	local n
	for n in "$@"; do alive "$n" || return 1; done
}
# all_gone NAME...: every one was tracked, and none runs any more
all_gone() {
	local n
	for n in "$@"; do [ -n "${P_ID[$n]:-}" ] && ! alive "$n" || return 1; done
}
still_alive() {
	local n l=
	for n in "$@"; do alive "$n" && l="$l $n($(pid_of "$n"))"; done
	echo "${l# }"
}
# in_scope PID GRANT: the process is in the grant's scope
in_scope() { sbx_exec cat "/proc/$1/cgroup" 2>/dev/null | grep -q "/entra-tap-grant-$2\\.scope\$"; }
# pgrep_one PATTERN: the one process whose whole command line matches PATTERN
pgrep_one() {
	local p
	p=$(sbx_exec pgrep -f -- "$1")
	[ -n "$p" ] && [ "$(printf '%s\n' "$p" | wc -l)" = 1 ] && echo "$p"
}
_pgrep_found() { [ -n "$(pgrep_one "$1")" ]; }

# ---- the journal ----
# event GRANT EVENT: the last entry of EVENT for GRANT, as JSON
event() { sbx_journal_json ENTRA_TAP_GRANT_ID="$1" ENTRA_TAP_EVENT="$2" 2>/dev/null | tail -1; }
has_event() { [ -n "$(event "$1" "$2")" ]; }
jf() { printf '%s' "$1" | jget /dev/stdin "d.get(\"$2\", \"\")"; }
# lists LIST PID...: the "pid uid command; ..." list names every PID
lists() {
	local l=$1 p
	shift
	for p in "$@"; do
		printf '%s\n' "$l" | grep -qE "(^|; )$p [0-9]+ " || return 1
	done
}
# ts JSON: its journal timestamp (microseconds)
ts() { jf "$1" __REALTIME_TIMESTAMP; }

# elevate_tap DURATION REASON: `entra-tap-helper elevate` on alice's first terminal with a
# fresh pass from the mock typed at the prompt (JNY_RC, JNY_OUT)
elevate_tap() {
	local pass
	pass=$(mock_tap alice@contoso.com)
	jny_shell_send "entra-tap-helper elevate --duration $1 --reason \"$2\""
	jny_shell_expect "$ENG_PROMPT_RE" 20 || { jny_shell_wait 5; return 1; }
	jny_shell_echo_off
	jny_shell_type "$pass"
	jny_shell_wait 60
}

# ======== a. on_expiry = terminate: warning, then every session ends ========
jny_say "a. alice's shells: her first terminal, and a second one opened before any elevation"
eng_begin
term_start B alice
ok $? "alice's second shell runs on a terminal of its own (${T_TTY[B]:-none})"
eng_issue_tap ET_TAP
eng_elevate ET_TAP "$GRANT_A" "INC-7 sessions end with the grant"
GA=$ENG_GRANT
EXP_A=$(sb_grant_field "$GA" 'g["expires"]')
[ -n "$GA" ] || bail_out "no grant to work with"

jny_say "on her first terminal: sudo -i (a root shell)"
jny_shell_send 'sudo -i'
jny_shell_expect "$ROOT_PROMPT_RE" 20
jny_shell_type 'unset HISTFILE; echo "A_ROOT""SH=$$"'
jny_shell_expect 'A_ROOTSH=[0-9]+' 20
track a_root_sh "$(main_value A_ROOTSH)"
ok $? "sudo -i gives a root shell (pid $(pid_of a_root_sh))"
track a_sudo_i "$(sbx_exec ps -o ppid= -p "$(pid_of a_root_sh)" | tr -d ' ')"
ok $? "... started by sudo (pid $(pid_of a_sudo_i))"

jny_say "on her second terminal: a background sudo, then su - (root's password)"
term_type B "sudo sh -c 'exec sleep 1001' </dev/null >/dev/null 2>&1 &"
wait_until 10 _pgrep_found '^sleep 1001$'
track a_bg_sleep "$(pgrep_one '^sleep 1001$')"
ok $? "sudo sh -c 'exec sleep 1001' runs in the background (sleep: pid $(pid_of a_bg_sleep))"
track a_bg_sudo "$(sbx_exec pgrep -o -f '^sudo sh -c exec sleep 1001$')"
term_type B 'su -'
term_expect B 'Password:' 20 && term_echo_off B
ok $? "su asks for root's password (echo off)"
# the root shell reads what follows once su has started it
term_type B "$ROOTPW"
term_expect B "$ROOT_PROMPT_RE" 20
term_type B 'unset HISTFILE; echo "A_SU""SH=$$"'
term_expect B 'A_SUSH=[0-9]+' 20
track a_su_sh "$(term_value B A_SUSH)"
ok $? "su - gives a root shell (pid $(pid_of a_su_sh))"
track a_su "$(sbx_exec ps -o ppid= -p "$(pid_of a_su_sh)" | tr -d ' ')"

jny_say "an ssh login with her key (the session gets the group from the group file)"
ssh -n -F /dev/null -p "$PORT" -o UserKnownHostsFile="$S/known_hosts" -o GlobalKnownHostsFile=/dev/null \
	-o StrictHostKeyChecking=no -o IdentityAgent=none -o IdentitiesOnly=yes -o LogLevel=ERROR -o BatchMode=yes \
	-o ConnectTimeout=10 -i "$S/alice_key" -o PreferredAuthentications=publickey alice@127.0.0.1 \
	'id -Gn; echo "SSH""SH=$$"; exec sleep 1003' >"$S/ssh.log" 2>&1 &
SSH_CLIENT=$!
at_exit "kill $SSH_CLIENT 2>/dev/null"
wait_until 20 grep -qE 'SSHSH=[0-9]+' "$S/ssh.log"
jny_show "$(tr -d '\r' <"$S/ssh.log")"
grep -qE "(^| )$G( |$)" "$S/ssh.log"
ok $? "the ssh login's id -Gn lists $G"
track a_ssh_sleep "$(grep -oE 'SSHSH=[0-9]+' "$S/ssh.log" | cut -d= -f2)"
ok $? "the ssh login's command runs (sleep 1003: pid $(pid_of a_ssh_sleep))"
track a_ssh_priv "$(pgrep_one '^sshd(-session)?: alice \[priv\]')"
ok $? "sshd's session process for alice runs (pid $(pid_of a_ssh_priv))"
# what newgrp or another login gives: the group, and no tie to any session
sbx_exec setsid -f setpriv --reuid=alice --regid=alice --init-groups -- sleep 1004 </dev/null >/dev/null 2>&1
wait_until 5 _pgrep_found '^sleep 1004$'
track a_loose "$(pgrep_one '^sleep 1004$')"
sbx_exec grep -qE "^Groups:.*\\b$SB_GID\\b" "/proc/$(pid_of a_loose)/status"
ok $? "a process of alice's that got $G at a fresh login, tied to no session (sleep 1004: pid $(pid_of a_loose))"

SCOPE=entra-tap-grant-$GA.scope
is "$(sbx_exec systemctl show "$SCOPE" -p ActiveState --value)" active "the grant's scope $SCOPE is active"
for n in a_sudo_i a_root_sh a_bg_sudo a_bg_sleep a_su a_su_sh a_ssh_priv; do
	in_scope "$(pid_of "$n")" "$GA"
	ok $? "tied: $n (pid $(pid_of "$n")) is in the grant's scope"
done
if in_scope "$(pid_of a_ssh_sleep)" "$GA"; then diag "the ssh login's command is in the scope too"; else
	diag "the ssh login's command is not in the scope (it carries the group)"; fi
check_not "the loose process is in no scope of the grant" -- in_scope "$(pid_of a_loose)" "$GA"
all_alive a_sudo_i a_root_sh a_bg_sudo a_bg_sleep a_su a_su_sh a_ssh_priv a_ssh_sleep a_loose
ok $? "all of them run"
is "$(sbx_exec systemctl show "entra-tap-warn-$GA.timer" -p ActiveState --value)" active \
	"systemd holds the grant's warning timer (entra-tap-warn-$GA.timer)"

jny_say "expiry_warning (${WARN_S}s) before the end, the tied terminals get a warning"
jny_shell_expect "$WARN_RE" $((EXP_A - $(date +%s) + 10))
ok $? "alice's first terminal shows the warning"
line=$(_jny_sh_new | grep -oE "$WARN_RE" | tail -1)
jny_show "$line"
want=$(date -d "@$EXP_A" +%H:%M)
printf '%s\n' "$line" | grep -qF "elevation ends at $want ("
ok $? "... naming the grant's end in local time ($want)"
if term_shows B "$WARN_RE"; then diag "the second terminal got the warning too"; else
	diag "the second terminal got no warning (its sessions may have been tied after it)"; fi

jny_say "the end ($(date -d "@$EXP_A" +%H:%M:%S)): on_expiry = terminate"
MAIN_OFF=$(main_size)
B_OFF=$(term_size B)
sleep_until "$EXP_A"
A_ALL="a_sudo_i a_root_sh a_bg_sudo a_bg_sleep a_su a_su_sh a_ssh_priv a_ssh_sleep a_loose"
# the timer, the grace for SIGTERM, then SIGKILL: fails only if they never go
# shellcheck disable=SC2086
wait_until $((GRACE_S + 20)) all_gone $A_ALL
ok $? "every tied process, the ssh login and the loose process are gone" || diag "still alive: $(still_alive $A_ALL)"
main_shows "$ENDED" "$MAIN_OFF"
ok $? "alice's first terminal got \"$ENDED\""
term_shows B "$ENDED" "$B_OFF"
ok $? "her second terminal got it too"
w=$(tr -d '\r' <"$JNY_SH_LOG" | grep -nE "$WARN_RE" | head -1 | cut -d: -f1)
e=$(tr -d '\r' <"$JNY_SH_LOG" | grep -nF "$ENDED" | head -1 | cut -d: -f1)
[ -n "$w" ] && [ -n "$e" ] && [ "$w" -lt "$e" ]
ok $? "the warning came before the end on that terminal"
jny_shell_wait 10
check_not "sudo -i ended (its exit status $JNY_RC)" -- test "$JNY_RC" = 0 -o "$JNY_RC" = timeout
jny_shell 'id -Gn'
printf '%s\n' "$JNY_OUT" | tr ' ' '\n' | grep -qx alice && ! printf '%s\n' "$JNY_OUT" | tr ' ' '\n' | grep -qx "$G"
ok $? "alice's first shell (never in $G) is left alone and works: $JNY_OUT"
track b_shell "$(sbx_exec pgrep -t "${T_TTY[B]#/dev/}" -u alice -x bash)"
ok $? "her second shell is left alone too"
wait_until 10 sh -c "! kill -0 $SSH_CLIENT 2>/dev/null"
ok $? "the ssh client's connection ended"
check_not "alice is no longer in $G" -- sb_in_group alice

wait_until 10 has_event "$GA" sessions_ended
rv=$(event "$GA" revoke)
se=$(event "$GA" sessions_ended)
jny_show "$(sbx_exec journalctl --no-pager -q -o cat ENTRA_TAP_GRANT_ID="$GA")"
is "$(jf "$rv" ENTRA_TAP_REASON)" expiry "the journal: revoke, cause expiry"
is "$(jf "$rv" ENTRA_TAP_ON_EXPIRY)" terminate "... ENTRA_TAP_ON_EXPIRY=terminate"
pids=()
for n in $A_ALL; do pids+=("$(pid_of "$n")"); done
lists "$(jf "$rv" ENTRA_TAP_PROCESSES)" "${pids[@]}"
ok $? "... ENTRA_TAP_PROCESSES names every one of them (${pids[*]})" || diag "$(jf "$rv" ENTRA_TAP_PROCESSES)"
check "the journal: then sessions_ended" -- test -n "$se" -a "$(ts "$se")" -ge "$(ts "$rv")"
lists "$(jf "$se" ENTRA_TAP_PROCESSES)" "${pids[@]}"
ok $? "... which names them too" || diag "$(jf "$se" ENTRA_TAP_PROCESSES)"
is "$(jf "$se" PRIORITY)" 5 "... at NOTICE: none of them had to be left (LOG_CRIT otherwise)"
check_not "the ties file is gone" -- test -e "$SBX_DIR/state/sessions/$GA"

# ======== b. on_expiry = keep ========
jny_say "b. on_expiry = keep: the sessions outlive the grant, and the journal names them"
sb_config on_expiry keep
eng_issue_tap ET_TAP
eng_elevate ET_TAP "$GRANT_B" "INC-8 keep what runs"
GB=$ENG_GRANT
EXP_B=$(sb_grant_field "$GB" 'g["expires"]')
term_type B "sudo sh -c 'exec sleep 1011' </dev/null >/dev/null 2>&1 &"
wait_until 10 _pgrep_found '^sleep 1011$'
track b_bg_sleep "$(pgrep_one '^sleep 1011$')"
ok $? "a background sudo sleep 1011 runs (pid $(pid_of b_bg_sleep))"
jny_shell_send 'sudo -i'
jny_shell_expect "$ROOT_PROMPT_RE" 20
jny_shell_type 'unset HISTFILE; echo "B_ROOT""SH=$$"'
jny_shell_expect 'B_ROOTSH=[0-9]+' 20
track b_root_sh "$(main_value B_ROOTSH)"
ok $? "sudo -i gives a root shell (pid $(pid_of b_root_sh))"
in_scope "$(pid_of b_root_sh)" "$GB" && in_scope "$(pid_of b_bg_sleep)" "$GB"
ok $? "both are tied (in the scope of grant $GB)"
MAIN_OFF=$(main_size)
sleep_until "$EXP_B"
wait_until 20 has_event "$GB" sessions_ended
ok $? "the grant ended (the journal has its sessions_ended event)"
all_alive b_root_sh b_bg_sleep
ok $? "the root shell and the background sleep are still there"
jny_shell_type 'echo "B_STILL""=$(id -u)"'
jny_shell_expect 'B_STILL=0' 10
ok $? "... and the root shell still answers"
check_not "no \"$ENDED\" on the terminal" -- main_shows "$ENDED" "$MAIN_OFF"
check_not "alice is no longer in $G" -- sb_in_group alice
rv=$(event "$GB" revoke)
se=$(event "$GB" sessions_ended)
jny_show "$(sbx_exec journalctl --no-pager -q -o cat ENTRA_TAP_GRANT_ID="$GB")"
is "$(jf "$rv" ENTRA_TAP_ON_EXPIRY)" keep "the journal: revoke with ENTRA_TAP_ON_EXPIRY=keep"
lists "$(jf "$rv" ENTRA_TAP_PROCESSES)" "$(pid_of b_root_sh)" "$(pid_of b_bg_sleep)"
ok $? "... naming the root shell and the sleep" || diag "$(jf "$rv" ENTRA_TAP_PROCESSES)"
lists "$(jf "$se" ENTRA_TAP_PROCESSES)" "$(pid_of b_root_sh)" "$(pid_of b_bg_sleep)"
ok $? "the sessions_ended event names them as outliving the grant" || diag "$(jf "$se" ENTRA_TAP_PROCESSES)"
# what is kept is left to the administrator: here, the test
jny_shell_type 'exit'
jny_shell_wait 10
sbx_exec pkill -f '^sleep 1011$'
wait_until 5 all_gone b_root_sh b_bg_sleep
ok $? "(cleanup: the kept root shell exited, the sleep was killed)"

# ======== c. extend ========
jny_say "c. extend: a fresh sign-in while the grant is live keeps it, and its sessions"
sb_config on_expiry terminate
eng_issue_tap ET_TAP
eng_elevate ET_TAP "$GRANT_C" "INC-9 needs longer"
GC=$ENG_GRANT
EXP_C1=$(sb_grant_field "$GC" 'g["expires"]')
B_OFF=$(term_size B)
term_type B 'sudo -i'
term_expect B "$ROOT_PROMPT_RE" 20 "$B_OFF"
term_type B 'unset HISTFILE; echo "C_ROOT""SH=$$"'
term_expect B 'C_ROOTSH=[0-9]+' 20
track c_root_sh "$(term_value B C_ROOTSH)"
ok $? "sudo -i on her second terminal gives a root shell (pid $(pid_of c_root_sh))"
check "it is tied (in the scope of grant $GC)" -- in_scope "$(pid_of c_root_sh)" "$GC"
jny_say "alice runs entra-tap-helper elevate --duration $EXTEND_C again, with a fresh pass"
elevate_tap "$EXTEND_C" "INC-9 needs longer still"
jny_show "$JNY_OUT"
is "$JNY_RC" 0 "the second elevate exits 0"
printf '%s\n' "$JNY_OUT" | grep -qE "elevation is extended: group $G until .*\(grant $GC\)"
ok $? "it says the elevation is extended, grant $GC"
is "$(sb_grant_field alice 'g["id"]')" "$GC" "the grant keeps its id"
is "$(sb_grants alice)" 1 "... and is alice's only grant"
EXP_C2=$(sb_grant_field "$GC" 'g["expires"]')
check "its expiry moved later ($EXP_C1 -> $EXP_C2)" -- test "$EXP_C2" -gt "$EXP_C1"
wait_until 5 has_event "$GC" extend
ok $? "the journal has the extend event of grant $GC"
jny_say "past the first expiry instant ($(date -d "@$EXP_C1" +%H:%M:%S)), and a margin for the old timer"
sleep_until $((EXP_C1 + 5))
check "the tied root shell is still alive" -- alive c_root_sh
check "... still in the grant's scope" -- in_scope "$(pid_of c_root_sh)" "$GC"
check "alice is still in $G" -- sb_in_group alice
check_not "no revoke event for the grant" -- has_event "$GC" revoke
check_not "no \"$ENDED\" on the second terminal" -- term_shows B "$ENDED" "$B_OFF"
jny_say "alice drops the grant: its sessions end with it"
jny_shell 'entra-tap-helper drop'
is "$JNY_RC" 0 "drop exits 0"
wait_until $((GRACE_S + 10)) all_gone c_root_sh
ok $? "the tied root shell is gone"
term_shows B "$ENDED" "$B_OFF"
ok $? "her second terminal got \"$ENDED\""
wait_until 10 has_event "$GC" sessions_ended
ok $? "the journal has its sessions_ended event"

sbx_exec systemctl stop journey-sshd
done_testing
