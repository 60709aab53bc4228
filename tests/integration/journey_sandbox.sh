# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# journey_sandbox.sh: a whole throwaway host for the end-to-end journeys and the demo, stacked
# from the layers: the mock Entra ID on a private loopback (mock.sh), real systemd as PID 1
# with a private /etc (sandbox.sh on sandbox_base.sh), local users with shells, the
# entra-tap PAM service, sudo set up as the README says, and a terminal on which a user's
# shell can be driven.
#
# Source it from a bash script and call jny_enter "$@" first thing. The script re-executes
# itself into mock_enter --net (only loopback, so the mock and sshd on port 2299 meet
# nobody else; alice@contoso.com eligible, bob@contoso.com in no group; the mock in its
# pass-at-prompt mode unless ET_MOCK_TAP_AT_PROMPT=no, see with-mock.sh), then boots the
# systemd sandbox (torn down when the script exits) with:
#   /etc/security/pam_entra_tap.conf   sb_config_for_mock: the mock's tenant, client, CA and
#                                       key cache, state in /var/lib/entra-tap, durations
#                                       1s..8h, methods tap and device_code,
#                                       tap_password_grant = yes
#   users alice and bob                 /bin/bash, a home under $SBX_DIR/home, no password
#   /etc/pam.d/entra-tap                data/pam.d/entra-tap, the module named by its path in
#                                       the build tree ($SB_MODULE)
#   /etc/pam.d/sudo                     Debian's, plus `account required <module>`
#   /etc/sudo.conf, /etc/sudoers.d      sb_sudo --nopasswd: data/sudo.conf.entra-tap
#                                       (group_source dynamic) and data/sudoers.d/entra-tap
#                                       for the sandbox's group, with NOPASSWD: the
#                                       elevation was the sign-in
# Nothing of the host is changed; the mock's directory and $SBX_DIR are removed at exit.
#
# Functions (besides sandbox.sh's sbx_*, sandbox_base.sh's sb_*, mock.sh's mock_* and lib.sh):
#   jny_say TEXT             narration: a TAP comment in tests, a plain line in the demo
#   jny_show TEXT            a transcript, indented (comments in tests)
#   jny_msgid EVENT          the MESSAGE_ID of auth_ok, auth_denied, grant or revoke, read
#                            from data/entra-tap.catalog
# A user's shell on a real terminal (script(1) holds the pty; input through a FIFO):
#   jny_shell_start USER     start USER's login-less bash inside the sandbox
#   jny_shell_send CMD       type CMD; its exit status is echoed after it as a marker
#   jny_shell_expect RE [S]  wait up to S seconds (default 30) for RE in CMD's output so far
#   jny_shell_echo_off [S]   wait up to S seconds (default 10) until the terminal stops
#                            echoing (a password prompt is ready: typing earlier would be
#                            echoed, then flushed)
#   jny_shell_type TEXT      type TEXT and Enter (an answer to a prompt)
#   jny_shell_wait [S]       wait for CMD to end: JNY_RC (its exit status), JNY_OUT (its
#                            output without the echoed command line, CRs removed)
#   jny_shell CMD [S]        send + wait
#   jny_shell_stop           exit the shell
# TAP_STYLE=human (the demo) makes jny_say and jny_show print for people (lib.sh).

[ -z "${_JNY_LOADED:-}" ] || return 0
_JNY_LOADED=1
_jny_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/sandbox.sh
. "$_jny_here/sandbox.sh"
# shellcheck source=tests/integration/mock.sh
. "$_jny_here/mock.sh"

jny_enter() {
	export top_srcdir top_builddir SB_MODULE TAP_STYLE
	if [ "${_MOCK_STAGE:-0}" = 0 ]; then
		require_root
		require_cmd unshare nsenter ip script setpriv systemctl sudo visudo
		[ -x "$SB_PY" ] || skip_all "needs $SB_PY"
		"$SB_PY" -c 'import pexpect' 2>/dev/null || skip_all "needs python3-pexpect"
		[ -f "$SB_MODULE" ] || skip_all "the module is not built: $SB_MODULE"
		[ -x "$top_builddir/entra-tap-helper" ] || skip_all "the helper is not built"
	fi
	mock_enter --net "$@"
	SBX_EXTRA_KEEP="$ET_MOCK_DIR ${SBX_EXTRA_KEEP:-}"
	sbx_init || skip_all "the systemd sandbox could not be set up"
	at_exit jny_shell_stop
	_jny_setup || skip_all "the sandbox's users, PAM and sudo could not be set up"
	sbx_start || skip_all "systemd did not boot in the sandbox"
	sbx_wait_running 60 || skip_all "the sandbox's systemd did not reach running"
	# the minutely sweep would race the timers and causes the journeys show
	sbx_exec systemctl stop entra-tap-sweep.timer
	JNY_BIN=$SB_HELPER_PATH
	G=$SBX_GROUP
}

_jny_setup() {
	sb_config_for_mock || return 1
	sb_useradd --login alice bob || return 1
	sb_pam entra-tap <"$top_srcdir/data/pam.d/entra-tap" || return 1
	# sudo as the README says: dynamic groups, the module's account check, the group's rule
	printf 'account  required  %s\n' "$SB_MODULE" >>"$SB_ETC/pam.d/sudo"
	sb_sudo --nopasswd
	grep -q "^%$SBX_GROUP ALL=(ALL:ALL) NOPASSWD: ALL\$" "$SB_ETC/sudoers.d/entra-tap" || return 1
	visudo -cqf "$SB_ETC/sudoers.d/entra-tap" || return 1
}

jny_say() {
	if [ "$TAP_STYLE" = human ]; then printf '\n\033[1m==> %s\033[0m\n' "$*"; else echo "# $*"; fi
}

# jny_show TEXT: a transcript, indented (the demo shows it; tests keep it as comments)
jny_show() {
	local pfx='    '
	[ "$TAP_STYLE" = human ] || pfx='#     '
	printf '%s\n' "$1" | sed "s/^/$pfx/"
}

jny_msgid() {
	local subject
	case "$1" in
	auth_ok) subject='Entra ID sign-in verified' ;;
	auth_denied) subject='Entra ID sign-in refused' ;;
	grant) subject='Elevation granted' ;;
	revoke) subject='Elevation of .* ended' ;;
	*) return 1 ;;
	esac
	awk -v s="^Subject: $subject" '/^-- [0-9a-f]+$/ && length($2) == 32 { id = $2 } $0 ~ s { print id; exit }' \
		"$top_srcdir/data/entra-tap.catalog"
}

# ---- a user's shell on a terminal ----
JNY_SH_PID=
JNY_SH_FD=
_jny_sh_n=0
_jny_sh_off=0

jny_shell_start() {
	local u=$1 home=$SBX_DIR/home/$1
	JNY_SH_LOG=$SBX_DIR/shell-$u.log
	JNY_SH_PROMPT="$u\$ "
	rm -f "$SBX_DIR/shell-$u.in" && mkfifo -m 0600 "$SBX_DIR/shell-$u.in" || return 1
	: >"$JNY_SH_LOG"
	# script(1) owns the terminal and records it as it goes (-f); the shell runs inside the
	# sandbox with the user's ids and groups, as after a login
	script -qfec "nsenter -t $SBX_PID -m -p -- env -i PATH=$SB_BINDIR:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
HOME=$home USER=$u LOGNAME=$u LANG=C.UTF-8 TERM=dumb 'PS1=$u\$ ' \
setpriv --reuid=$u --regid=$u --init-groups -- bash --norc --noprofile --noediting" \
		"$JNY_SH_LOG" <"$SBX_DIR/shell-$u.in" >/dev/null 2>&1 &
	JNY_SH_PID=$!
	exec {JNY_SH_FD}>"$SBX_DIR/shell-$u.in"
	_jny_sh_off=0
	# the prompt says the shell is up
	wait_until 10 _jny_sh_at_prompt && wait_until 5 _jny_sh_find_tty
}

_jny_sh_at_prompt() { [ "$(tail -c ${#JNY_SH_PROMPT} "$JNY_SH_LOG")" = "$JNY_SH_PROMPT" ]; }

# the terminal script(1) made for the shell (its child's stdin), in JNY_SH_TTY
_jny_sh_find_tty() {
	local p
	for p in $(cat /proc/"$JNY_SH_PID"/task/*/children 2>/dev/null); do
		JNY_SH_TTY=$(readlink "/proc/$p/fd/0" 2>/dev/null)
		case $JNY_SH_TTY in /dev/pts/*) return 0 ;; esac
	done
	return 1
}

jny_shell_stop() {
	[ -n "$JNY_SH_PID" ] || return 0
	[ -n "$JNY_SH_FD" ] && { printf 'exit\n' >&"$JNY_SH_FD"; } 2>/dev/null
	[ -n "$JNY_SH_FD" ] && exec {JNY_SH_FD}>&-
	JNY_SH_FD=
	wait_until --quiet 2 _jny_sh_ended
	kill "$JNY_SH_PID" 2>/dev/null
	wait "$JNY_SH_PID" 2>/dev/null
	JNY_SH_PID=
}

_jny_sh_ended() { ! kill -0 "$JNY_SH_PID" 2>/dev/null; }

# the terminal's output since the current command was typed, CRs removed
_jny_sh_new() { tail -c +$((_jny_sh_off + 1)) "$JNY_SH_LOG" | tr -d '\r'; }

jny_shell_send() {
	# type only at the prompt, so that the echo of the command starts the new output
	wait_until --every 0.02 2 _jny_sh_at_prompt
	_jny_sh_n=$((_jny_sh_n + 1))
	_jny_sh_off=$(stat -c %s "$JNY_SH_LOG")
	# the marker's $? is expanded only when the shell runs it, never in the typed echo
	printf '%s; echo "@@%s rc=$?@@"\n' "$1" "$_jny_sh_n" >&"$JNY_SH_FD"
}

jny_shell_type() {
	printf '%s\n' "$1" >&"$JNY_SH_FD"
}

_jny_sh_shows() { _jny_sh_new | grep -qE -- "$1"; }

# the terminal does not echo: stty reads the pty's modes (it needs no access to the shell)
_jny_sh_no_echo() { stty -F "$JNY_SH_TTY" -a | grep -qw -- -echo; }

jny_shell_echo_off() {
	wait_until --every 0.02 "${1:-10}" _jny_sh_no_echo
}

jny_shell_expect() {
	local re=$1 secs=${2:-30}
	wait_until --quiet "$secs" _jny_sh_shows "$re" && return 0
	diag "the terminal did not show /$re/ within ${secs}s; it showed:"
	_jny_sh_new | sed 's/^/#   | /'
	return 1
}

jny_shell_wait() {
	local secs=${1:-30} out
	JNY_RC=
	JNY_OUT=
	jny_shell_expect "@@$_jny_sh_n rc=[0-9]+@@" "$secs" || { JNY_RC=timeout; return 1; }
	out=$(_jny_sh_new)
	JNY_RC=$(printf '%s\n' "$out" | sed -n "s/^.*@@$_jny_sh_n rc=\([0-9]*\)@@.*\$/\1/p" | tail -1)
	# drop the echoed command line, keep everything up to the marker
	JNY_OUT=$(printf '%s\n' "$out" | sed '1d' | sed "/@@$_jny_sh_n rc=[0-9]*@@/,\$d")
	return 0
}

jny_shell() {
	jny_shell_send "$1"
	jny_shell_wait "${2:-30}"
}

readonly -f jny_enter _jny_setup jny_say jny_show jny_msgid jny_shell_start _jny_sh_at_prompt \
	_jny_sh_find_tty jny_shell_stop _jny_sh_ended _jny_sh_new jny_shell_send jny_shell_type _jny_sh_shows \
	_jny_sh_no_echo jny_shell_echo_off jny_shell_expect jny_shell_wait jny_shell
