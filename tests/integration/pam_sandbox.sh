# shellcheck shell=bash
# pam_sandbox.sh: a throwaway host for the PAM integration tests (real sshd, real sudo,
# `entra-tap-helper elevate`), built from the pieces the other tests already use.
#
# Source it from a bash test and call psb_enter "$@" first thing. The script re-executes
# itself three times, each layer inside the previous one:
#   1. `unshare --net`: a private network namespace with only loopback, so sshd's port 2299
#      and the mock's port never meet another test's;
#   2. tests/mock-entra/with-mock.sh: the mock Entra ID on that loopback (ET_MOCK_*), with
#      alice@contoso.com (eligible) and bob@contoso.com (no groups);
#   3. grant_sandbox.sh's gsb_enter: a private mount namespace with a copied /etc, empty
#      /run and /var/lib, and the built helper setuid root at its compiled-in path.
# Inside, psb_enter then
#   - writes /etc/security/pam_entra_tap.conf for the mock (tap_password_grant = yes,
#     elevated_group, durations 1s..8h, state in /var/lib/entra-tap);
#   - adds local users alice and bob (bash, a home under $GSB_DIR/home, no password);
#   - sets PSB_MODULE to the built module ($top_builddir/.libs/pam_entra_tap.so), which the
#     service files below name by absolute path (nothing is installed into the PAM dir).
# Nothing outside the test's temp dirs is written; everything vanishes with the test.
#
# Functions:
#   psb_pam SERVICE LINES    write /etc/pam.d/SERVICE (LINES: a here-string; @MODULE@ is
#                            replaced by the module's path)
#   psb_tap UPN [JSON]       issue a Temporary Access Pass at the mock, print it
#   psb_mock ACTION [JSON]   the mock's control API (mockctl.py)
#   psb_drive ARGS           tests/integration/pam_drive.py (a pty conversation driver)
#   psb_todo WHY NAME CMD... a check of a known gap (TAP TODO)
#   psb_ms_since T0          milliseconds since T0 (from psb_now)
#   psb_now                  the time in nanoseconds
# and the TAP helpers of grant_sandbox.sh (ok, not_ok, check, is, diag, tap_done).
#
# Inputs: top_builddir, top_srcdir, ET_SBINDIR (set by `make check`), PSB_MODULE (default
# the built module; `pam_permit.so` proves the plumbing without it).

_psb_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/grant_sandbox.sh
. "$_psb_here/grant_sandbox.sh"
PSB_PY=/usr/bin/python3

_psb_cannot() {
	if [ "${CI:-}" = true ]; then
		echo "1..1"
		echo "not ok 1 - PAM sandbox unavailable and CI=true forbids skipping: $*"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

psb_enter() {
	top_srcdir=${top_srcdir:-$(cd "$_psb_here/../.." && pwd)}
	top_builddir=${top_builddir:-$top_srcdir}
	export top_srcdir top_builddir
	case "${_PSB_STAGE:-0}" in
	0)
		[ "$(id -u)" = 0 ] || _psb_cannot "needs root"
		command -v unshare >/dev/null || _psb_cannot "needs unshare"
		command -v ip >/dev/null || _psb_cannot "needs ip (iproute2)"
		[ -x "$PSB_PY" ] || _psb_cannot "needs $PSB_PY"
		: "${PSB_MODULE:=$top_builddir/.libs/pam_entra_tap.so}"
		case "$PSB_MODULE" in
		/*) [ -f "$PSB_MODULE" ] || _psb_cannot "the module is not built: $PSB_MODULE" ;;
		esac
		export PSB_MODULE
		_PSB_STAGE=1 exec unshare --net -- bash "$0" "$@"
		;;
	1)
		ip link set lo up || _psb_cannot "cannot bring up loopback in a network namespace"
		_PSB_STAGE=2 exec sh "$top_srcdir/tests/mock-entra/with-mock.sh" bash "$0" "$@"
		;;
	esac
	[ -n "${ET_MOCK_CONFIG:-}" ] || _psb_cannot "the mock Entra ID did not start"
	gsb_enter "$@"
	_psb_setup
}

_psb_uid=6000
_psb_useradd() {
	local u=$1 home=$GSB_DIR/home/$1
	while cut -d: -f3 /etc/passwd | grep -qx "$_psb_uid" || cut -d: -f3 /etc/group | grep -qx "$_psb_uid"; do
		_psb_uid=$((_psb_uid + 1))
	done
	echo "$u:x:$_psb_uid:$_psb_uid:$u:$home:/bin/bash" >>/etc/passwd
	echo "$u:x:$_psb_uid:" >>/etc/group
	[ -f /etc/shadow ] && echo "$u:*:19000:0:99999:7:::" >>/etc/shadow
	[ -f /etc/gshadow ] && echo "$u:!::" >>/etc/gshadow
	mkdir -p "$home"
	chown "$_psb_uid:$_psb_uid" "$home"
	chmod 0755 "$home"
	_psb_uid=$((_psb_uid + 1))
}

_psb_setup() {
	local conf=/etc/security/pam_entra_tap.conf
	# the mock's configuration, with this sandbox's group and state
	grep -vE '^[[:space:]]*(elevated_group|state_dir)[[:space:]]*=' "$ET_MOCK_CONFIG" >"$conf.new"
	cat >>"$conf.new" <<-EOF
		elevated_group = $GSB_GROUP
		state_dir = /var/lib/entra-tap
		duration_min = 1s
		duration_default = 1h
		duration_max = 8h
		methods = tap device_code
		tap_password_grant = yes
	EOF
	chown root:root "$conf.new" && chmod 0644 "$conf.new" && mv "$conf.new" "$conf"
	mkdir -p /var/lib/entra-tap && chmod 0700 /var/lib/entra-tap
	chmod 0755 "$GSB_DIR" && mkdir -p "$GSB_DIR/home" && chmod 0755 "$GSB_DIR/home"
	_psb_useradd alice
	_psb_useradd bob
	PSB_T=$(mktemp -d "$GSB_DIR/t.XXXXXX")
	chmod 0755 "$PSB_T"
}

psb_pam() {
	local svc=$1
	sed "s|@MODULE@|$PSB_MODULE|g" >"/etc/pam.d/$svc"
	chmod 0644 "/etc/pam.d/$svc"
}

psb_mock() {
	# shellcheck disable=SC2086 # ET_MOCKCTL is a command prefix
	$ET_MOCKCTL "$@"
}

psb_tap() {
	local upn=$1 extra=${2:-}
	psb_mock tap "{\"upn\":\"$upn\"${extra:+,$extra}}" |
		"$PSB_PY" -c 'import json,sys; print(json.load(sys.stdin)["tap"])'
}

psb_drive() {
	"$PSB_PY" "$_psb_here/pam_drive.py" "$@"
}

psb_now() { date +%s%N; }
psb_ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# psb_todo REASON NAME CMD...: a check for a known gap; TAP "# TODO": a failure does not fail
# the test, a pass shows as XPASS (so the TODO gets removed)
psb_todo() {
	local why=$1 name=$2
	shift 2
	_gsb_n=$((_gsb_n + 1))
	if "$@"; then echo "ok $_gsb_n - $name # TODO $why"; else echo "not ok $_gsb_n - $name # TODO $why"; fi
}

# psb_in_group USER: whether getent lists USER in the elevated group
psb_in_group() { getent group "$GSB_GROUP" | cut -d: -f4 | tr ',' '\n' | grep -qx "$1"; }
# psb_grants USER: how many grants of USER the store holds
psb_grants() {
	gsb_helper list --json | "$PSB_PY" -c 'import json,sys; print(sum(1 for g in json.load(sys.stdin) if g["user"] == sys.argv[1]))' "$1"
}
