# shellcheck shell=bash
# journey_sandbox.sh: a whole throwaway host for the end-to-end journeys and the demo: real
# systemd as PID 1 (tests/integration/sandbox.sh), the mock Entra ID on a private loopback
# (tests/mock-entra/with-mock.sh), local users with shells, the entra-tap PAM service, sudo
# set up as the README says, and a terminal on which a user's shell can be driven.
#
# Source it from a bash script and call jny_enter "$@" first thing. The script re-executes
# itself twice, each layer inside the previous one:
#   1. `unshare --net`: only loopback, so the mock and sshd (port 2299) meet nobody else;
#   2. with-mock.sh: the mock with alice@contoso.com (eligible) and bob@contoso.com (no
#      groups), ET_MOCK_* and ET_MOCKCTL exported;
# then it boots the systemd sandbox (its EXIT trap tears everything down) with:
#   /etc/security/pam_entra_tap.conf   the mock's tenant, client, CA and key cache, state in
#                                       /var/lib/entra-tap, durations 1s..8h, methods tap and
#                                       device_code, tap_password_grant = yes
#   users alice and bob                 /bin/bash, a home under $SBX_DIR/home, no password
#   /etc/pam.d/entra-tap                data/pam.d/entra-tap, the module named by its path in
#                                       the build tree ($JNY_MODULE)
#   /etc/pam.d/sudo                     Debian's, plus `account required <module>`
#   /etc/sudo.conf                      plus data/sudo.conf.entra-tap (group_source dynamic)
#   /etc/sudoers.d/entra-tap            data/sudoers.d/entra-tap for the sandbox's group, with
#                                       NOPASSWD: the elevation was the sign-in
# Nothing of the host is changed; the mock's directory and $SBX_DIR are removed at exit.
#
# Functions (besides sandbox.sh's sbx_* and the TAP helpers ok / check / diag / is):
#   jny_tap UPN [JSON]       issue a Temporary Access Pass at the mock, print it
#   jny_mock ACTION [JSON]   the mock's control API
#   jny_say TEXT             narration: a TAP comment in tests, a plain line in the demo
#   jny_grants USER          how many live grants USER has in the store
#   jny_in_group USER        whether the elevated group lists USER (getent inside)
#   jny_grant_field ID EXPR  EXPR (Python, over grant `g`) for grant ID, "none" if absent
#   jny_msgid EVENT          the MESSAGE_ID of auth_ok, auth_denied, grant or revoke, read
#                            from data/entra-tap.catalog
# A user's shell on a real terminal (script(1) holds the pty; input through a FIFO):
#   jny_shell_start USER     start USER's login-less bash inside the sandbox
#   jny_shell_send CMD       type CMD; its exit status is echoed after it as a marker
#   jny_shell_expect RE [S]  wait up to S seconds (default 30) for RE in CMD's output so far
#   jny_shell_type TEXT      type TEXT and Enter (an answer to a prompt)
#   jny_shell_wait [S]       wait for CMD to end: JNY_RC (its exit status), JNY_OUT (its
#                            output without the echoed command line, CRs removed)
#   jny_shell CMD [S]        send + wait
#   jny_shell_stop           exit the shell
# Mode: JNY_MODE=test (default) or demo (jny_say and jny_show print for people).

_jny_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
JNY_PY=/usr/bin/python3
JNY_MODE=${JNY_MODE:-test}

_jny_cannot() {
	if [ "$JNY_MODE" = test ]; then
		if [ "${CI:-}" = true ]; then
			echo "1..1"
			echo "not ok 1 - journey sandbox unavailable and CI=true forbids skipping: $*"
			exit 1
		fi
		echo "1..0 # SKIP $*"
		exit 0
	fi
	echo "cannot run: $*" >&2
	exit 1
}

jny_enter() {
	top_srcdir=${top_srcdir:-$(cd "$_jny_here/../.." && pwd)}
	top_builddir=${top_builddir:-$top_srcdir}
	export top_srcdir top_builddir
	: "${JNY_MODULE:=$top_builddir/.libs/pam_entra_tap.so}"
	export JNY_MODULE JNY_MODE
	case "${_JNY_STAGE:-0}" in
	0)
		[ "$(id -u)" = 0 ] || _jny_cannot "needs root"
		local c
		for c in unshare nsenter ip script setpriv systemctl sudo visudo; do
			command -v "$c" >/dev/null || _jny_cannot "needs $c"
		done
		[ -x "$JNY_PY" ] || _jny_cannot "needs $JNY_PY"
		"$JNY_PY" -c 'import pexpect' 2>/dev/null || _jny_cannot "needs python3-pexpect"
		[ -f "$JNY_MODULE" ] || _jny_cannot "the module is not built: $JNY_MODULE"
		[ -x "$top_builddir/entra-tap-helper" ] || _jny_cannot "the helper is not built"
		_JNY_STAGE=1 exec unshare --net -- bash "$0" "$@"
		;;
	1)
		ip link set lo up || _jny_cannot "cannot bring up loopback in a network namespace"
		_JNY_STAGE=2 exec sh "$top_srcdir/tests/mock-entra/with-mock.sh" bash "$0" "$@"
		;;
	esac
	[ -n "${ET_MOCK_CONFIG:-}" ] || _jny_cannot "the mock Entra ID did not start"
	# shellcheck source=tests/integration/sandbox.sh
	. "$_jny_here/sandbox.sh"
	declare -F is >/dev/null || is() { # is GOT WANT NAME
		[ "$1" = "$2" ]
		ok $? "$3" || diag "got '$1', want '$2'"
	}
	SBX_EXTRA_KEEP="$ET_MOCK_DIR ${SBX_EXTRA_KEEP:-}"
	sbx_init || _jny_cannot "the systemd sandbox could not be set up"
	trap '_jny_cleanup' EXIT
	_jny_setup || _jny_cannot "the sandbox's users, PAM and sudo could not be set up"
	sbx_start || _jny_cannot "systemd did not boot in the sandbox"
	sbx_wait_running 60 || _jny_cannot "the sandbox's systemd did not reach running"
	# the minutely sweep would race the timers and causes the journeys show
	sbx_exec systemctl stop entra-tap-sweep.timer
	JNY_BIN=$SBX_SBINDIR/entra-tap-helper
	G=$SBX_GROUP
}

_jny_cleanup() {
	jny_shell_stop
	sbx_cleanup
}

_jny_uid=6100
_jny_useradd() {
	local e=$SBX_DIR/etc u=$1
	while cut -d: -f3 "$e/passwd" | grep -qx "$_jny_uid" || cut -d: -f3 "$e/group" | grep -qx "$_jny_uid"; do
		_jny_uid=$((_jny_uid + 1))
	done
	echo "$u:x:$_jny_uid:$_jny_uid:$u:$SBX_DIR/home/$u:/bin/bash" >>"$e/passwd"
	echo "$u:x:$_jny_uid:" >>"$e/group"
	[ -f "$e/shadow" ] && echo "$u:*:19000:0:99999:7:::" >>"$e/shadow"
	[ -f "$e/gshadow" ] && echo "$u:!::" >>"$e/gshadow"
	install -d -o "$_jny_uid" -g "$_jny_uid" -m 0755 "$SBX_DIR/home/$u"
	_jny_uid=$((_jny_uid + 1))
}

_jny_setup() {
	local e=$SBX_DIR/etc
	# the mock's configuration, with this sandbox's group and state
	grep -vE '^[[:space:]]*(elevated_group|state_dir)[[:space:]]*=' "$ET_MOCK_CONFIG" >"$e/security/pam_entra_tap.conf" || return 1
	cat >>"$e/security/pam_entra_tap.conf" <<-EOF
		elevated_group = $SBX_GROUP
		state_dir = /var/lib/entra-tap
		duration_min = 1s
		duration_default = 1h
		duration_max = 8h
		methods = tap device_code
		tap_password_grant = yes
	EOF
	chown root:root "$e/security/pam_entra_tap.conf" && chmod 0600 "$e/security/pam_entra_tap.conf" || return 1
	install -d -m 0755 "$SBX_DIR/home"
	_jny_useradd alice && _jny_useradd bob || return 1
	jny_pam entra-tap <"$top_srcdir/data/pam.d/entra-tap" || return 1
	# sudo as the README says: dynamic groups, the module's account check, the group's rule
	printf 'account  required  %s\n' "$JNY_MODULE" >>"$e/pam.d/sudo"
	touch "$e/sudo.conf"
	cat "$top_srcdir/data/sudo.conf.entra-tap" >>"$e/sudo.conf"
	sed -e "s/^%entra-admins /%$SBX_GROUP /" -e 's/(ALL:ALL) ALL$/(ALL:ALL) NOPASSWD: ALL/' \
		"$top_srcdir/data/sudoers.d/entra-tap" >"$e/sudoers.d/entra-tap"
	grep -q "^%$SBX_GROUP ALL=(ALL:ALL) NOPASSWD: ALL\$" "$e/sudoers.d/entra-tap" || return 1
	printf 'Defaults lecture=never\n' >"$e/sudoers.d/zz-journey"
	chmod 0440 "$e/sudoers.d/entra-tap" "$e/sudoers.d/zz-journey"
	visudo -cqf "$e/sudoers.d/entra-tap" || return 1
}

# jny_pam SERVICE < FILE: install a PAM service file in the sandbox, the module named by path
jny_pam() {
	sed "s|pam_entra_tap\.so|$JNY_MODULE|g" >"$SBX_DIR/etc/pam.d/$1" && chmod 0644 "$SBX_DIR/etc/pam.d/$1"
}

jny_mock() {
	# shellcheck disable=SC2086 # ET_MOCKCTL is a command prefix
	$ET_MOCKCTL "$@"
}

jny_tap() {
	local upn=$1 extra=${2:-}
	jny_mock tap "{\"upn\":\"$upn\"${extra:+,$extra}}" |
		"$JNY_PY" -c 'import json,sys; print(json.load(sys.stdin)["tap"])'
}

jny_say() {
	if [ "$JNY_MODE" = demo ]; then printf '\n\033[1m==> %s\033[0m\n' "$*"; else echo "# $*"; fi
}

# jny_show TEXT: a transcript, indented (the demo shows it; tests keep it as comments)
jny_show() {
	local pfx='    '
	[ "$JNY_MODE" = demo ] || pfx='#     '
	printf '%s\n' "$1" | sed "s/^/$pfx/"
}

jny_grants() {
	sbx_helper list --json | "$JNY_PY" -c '
import json, sys, time
print(sum(1 for g in json.load(sys.stdin) if g["user"] == sys.argv[1] and g["expires"] > time.time()))' "$1"
}
jny_in_group() { sbx_exec getent group "$SBX_GROUP" | cut -d: -f4 | tr ',' '\n' | grep -qx "$1"; }
jny_grant_field() {
	sbx_helper list --json | "$JNY_PY" -c '
import json, sys
gs = [g for g in json.load(sys.stdin) if g["id"] == sys.argv[1]]
g = gs[0] if gs else None
print(eval(sys.argv[2]) if g else "none")' "$1" "$2"
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
	script -qfec "nsenter -t $SBX_PID -m -p -- env -i PATH=$SBX_SBINDIR:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
HOME=$home USER=$u LOGNAME=$u LANG=C.UTF-8 TERM=dumb 'PS1=$u\$ ' \
setpriv --reuid=$u --regid=$u --init-groups -- bash --norc --noprofile --noediting" \
		"$JNY_SH_LOG" <"$SBX_DIR/shell-$u.in" >/dev/null 2>&1 &
	JNY_SH_PID=$!
	exec {JNY_SH_FD}>"$SBX_DIR/shell-$u.in"
	_jny_sh_off=0
	# the prompt says the shell is up
	local i
	for i in $(seq 1 200); do
		[ "$(tail -c ${#JNY_SH_PROMPT} "$JNY_SH_LOG")" = "$JNY_SH_PROMPT" ] && return 0
		sleep 0.05
	done
	return 1
}

jny_shell_stop() {
	[ -n "$JNY_SH_PID" ] || return 0
	[ -n "$JNY_SH_FD" ] && { printf 'exit\n' >&"$JNY_SH_FD"; } 2>/dev/null
	[ -n "$JNY_SH_FD" ] && exec {JNY_SH_FD}>&-
	JNY_SH_FD=
	local i
	for i in $(seq 1 40); do
		kill -0 "$JNY_SH_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill "$JNY_SH_PID" 2>/dev/null
	wait "$JNY_SH_PID" 2>/dev/null
	JNY_SH_PID=
}

# the terminal's output since the current command was typed, CRs removed
_jny_sh_new() { tail -c +$((_jny_sh_off + 1)) "$JNY_SH_LOG" | tr -d '\r'; }

jny_shell_send() {
	local i
	# type only at the prompt, so that the echo of the command starts the new output
	for i in $(seq 1 100); do
		[ "$(tail -c ${#JNY_SH_PROMPT} "$JNY_SH_LOG")" = "$JNY_SH_PROMPT" ] && break
		sleep 0.02
	done
	_jny_sh_n=$((_jny_sh_n + 1))
	_jny_sh_off=$(stat -c %s "$JNY_SH_LOG")
	# the marker's $? is expanded only when the shell runs it, never in the typed echo
	printf '%s; echo "@@%s rc=$?@@"\n' "$1" "$_jny_sh_n" >&"$JNY_SH_FD"
}

jny_shell_type() {
	printf '%s\n' "$1" >&"$JNY_SH_FD"
}

jny_shell_expect() {
	local re=$1 secs=${2:-30} deadline
	deadline=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		_jny_sh_new | grep -qE -- "$re" && return 0
		sleep 0.05
	done
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
