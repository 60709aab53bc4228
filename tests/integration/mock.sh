# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# mock.sh: the mock Entra ID layer of the shell tests (sourced, bash; sources lib.sh).
#
#   mock_enter [--net] "$@"    first thing in a test (as root: the mock's configuration is
#                              root's, as the loader demands): re-execute the script next to
#                              a fresh mock (tests/mock-entra/with-mock.sh: ET_MOCK_* and
#                              ET_MOCKCTL exported; users alice@contoso.com, eligible, and
#                              bob@contoso.com, in no group). With --net the script first
#                              moves into a network namespace of its own with only loopback,
#                              so the mock and an sshd on a fixed port meet no other test.
#                              Sets MOCK_CONF (the mock's configuration file) and MOCK_T (a
#                              scratch directory, removed with the mock's).
#   mock_conf KEY              the value of KEY in the mock's configuration
#   mock_ctl ACTION [JSON]     the mock's control API (mockctl.py)
#   mock_tap UPN [MEMBERS]     issue a Temporary Access Pass (MEMBERS: more JSON members of
#                              the request), print it
#   mock_mint JSON             a signed ID token for the claims described by JSON
# The sandboxes build on it: pam_sandbox.sh and journey_sandbox.sh call mock_enter --net.

[ -z "${_MOCK_SH_LOADED:-}" ] || return 0
_MOCK_SH_LOADED=1
# shellcheck source=tests/integration/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mock_enter() {
	local net=
	[ "${1:-}" = --net ] && net=1 && shift
	case "${_MOCK_STAGE:-0}" in
	0)
		require_root
		[ -x "$PYTHON3" ] || skip_all "needs $PYTHON3"
		if [ -n "$net" ]; then
			require_cmd unshare ip
			_MOCK_STAGE=1 exec unshare --net -- bash "$0" "$@"
		fi
		_MOCK_STAGE=2 exec sh "$top_srcdir/tests/mock-entra/with-mock.sh" bash "$0" "$@"
		;;
	1)
		ip link set lo up || skip_all "cannot bring up loopback in a network namespace"
		_MOCK_STAGE=2 exec sh "$top_srcdir/tests/mock-entra/with-mock.sh" bash "$0" "$@"
		;;
	esac
	[ -n "${ET_MOCK_CONFIG:-}" ] || skip_all "the mock Entra ID did not start"
	MOCK_CONF=$ET_MOCK_CONFIG
	MOCK_T=$(mktemp -d "$ET_MOCK_DIR/t.XXXXXX") || skip_all "mktemp failed"
}

mock_conf() { sed -n "s/^$1 *= *//p" "$MOCK_CONF"; }

mock_ctl() {
	# shellcheck disable=SC2086 # ET_MOCKCTL is a command prefix
	$ET_MOCKCTL "$@"
}

mock_tap() {
	local upn=$1 extra=${2:-}
	mock_ctl tap "{\"upn\":\"$upn\"${extra:+,$extra}}" | jget /dev/stdin 'd["tap"]'
}

mock_mint() {
	mock_ctl mint "$1" | jget /dev/stdin 'd["id_token"]'
}

readonly -f mock_enter mock_conf mock_ctl mock_tap mock_mint
