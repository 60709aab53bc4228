#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run a command next to a fresh mock Entra ID.
#
#   sh tests/mock-entra/with-mock.sh CMD [ARGS...]
#
# Starts the mock in a temporary directory, writes a test configuration there, creates the
# test users alice@contoso.com (in the eligible group) and bob@contoso.com (no groups),
# exports ET_MOCK_* for CMD, runs it, stops the mock, removes the directory and exits with
# CMD's status. ET_MOCK_KEEP=1 keeps the directory (its path is printed on stderr).
#
# The mock starts in its pass-at-prompt mode (its password grant accepts a Temporary Access
# Pass, which Entra ID's does not) because the tests that type a pass at a prompt need it;
# ET_MOCK_TAP_AT_PROMPT=no starts it as Entra ID behaves (the engineer's journey and the demo).

if [ $# -eq 0 ]; then
	echo "usage: with-mock.sh CMD [ARGS...]" >&2
	exit 2
fi

if [ -n "${top_srcdir:-}" ]; then
	mock_here=$top_srcdir/tests/mock-entra
else
	mock_here=$(cd "$(dirname "$0")" && pwd)
fi
mock_py=${ET_MOCK_PYTHON3:-/usr/bin/python3}
[ -x "$mock_py" ] || mock_py=${PYTHON3:-python3}

ELIGIBLE_GROUP=5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90

mock_dir=$(mktemp -d "${TMPDIR:-/tmp}/et-mock.XXXXXX") || exit 1
mock_pid=
cmd_pid=

# shellcheck disable=SC2317 # called from the EXIT trap
mock_cleanup() {
	if [ -n "$cmd_pid" ]; then
		kill -TERM "$cmd_pid" 2>/dev/null
		wait "$cmd_pid" 2>/dev/null
		cmd_pid=
	fi
	if [ -n "$mock_pid" ]; then
		kill -TERM "$mock_pid" 2>/dev/null
		# bounded wait, then force
		n=0
		while kill -0 "$mock_pid" 2>/dev/null && [ "$n" -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "$mock_pid" 2>/dev/null
		wait "$mock_pid" 2>/dev/null
		mock_pid=
	fi
	if [ "${ET_MOCK_KEEP:-0}" = 1 ]; then
		echo "with-mock.sh: kept $mock_dir" >&2
	else
		rm -rf "$mock_dir"
	fi
}
trap 'mock_cleanup' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

case "${ET_MOCK_TAP_AT_PROMPT:-yes}" in
yes) mock_mode=--tap-at-prompt ;;
no) mock_mode= ;;
*)
	echo "with-mock.sh: ET_MOCK_TAP_AT_PROMPT must be yes or no" >&2
	exit 2
	;;
esac
# shellcheck disable=SC2086 # mock_mode is one option or none
"$mock_py" "$mock_here/mock_entra.py" --state-dir "$mock_dir" $mock_mode >"$mock_dir/mock.out" 2>&1 &
mock_pid=$!

n=0
while [ ! -s "$mock_dir/ready.json" ]; do
	if ! kill -0 "$mock_pid" 2>/dev/null; then
		echo "with-mock.sh: the mock exited before it was ready:" >&2
		cat "$mock_dir/mock.out" >&2
		mock_pid=
		exit 1
	fi
	n=$((n + 1))
	if [ "$n" -gt 400 ]; then
		echo "with-mock.sh: the mock was not ready within 20 s" >&2
		cat "$mock_dir/mock.out" >&2
		exit 1
	fi
	sleep 0.05
done

# ready.json is one JSON object; read its fields without relying on jq.
mock_field() {
	"$mock_py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$mock_dir/ready.json" "$1"
}
ET_MOCK_DIR=$mock_dir
ET_MOCK_BASE=$(mock_field base) || exit 1
ET_MOCK_CA=$(mock_field ca) || exit 1
ET_MOCK_TENANT=$(mock_field tenant) || exit 1
ET_MOCK_CLIENT=$(mock_field client) || exit 1
ET_MOCK_CONFIG=$mock_dir/pam_entra_tap.conf
ET_MOCKCTL="$mock_py $mock_here/mockctl.py --state-dir $mock_dir"
export ET_MOCK_DIR ET_MOCK_BASE ET_MOCK_CA ET_MOCK_TENANT ET_MOCK_CLIENT ET_MOCK_CONFIG ET_MOCKCTL

mkdir -p "$mock_dir/cache" "$mock_dir/state" && chmod 0700 "$mock_dir/cache" "$mock_dir/state" || exit 1
(
	umask 077
	cat >"$ET_MOCK_CONFIG" <<EOF
# Test configuration for the mock Entra ID at $ET_MOCK_BASE
tenant_id = $ET_MOCK_TENANT
client_id = $ET_MOCK_CLIENT
authority = $ET_MOCK_BASE
ca_file = $ET_MOCK_CA
jwks_cache_dir = $mock_dir/cache
state_dir = $mock_dir/state
http_timeout = 5s
elevated_group = entra-admins
eligible_groups = $ELIGIBLE_GROUP
user_map = strip_domain
allowed_domains = contoso.com
graph_url = $ET_MOCK_BASE/graph
EOF
) || exit 1
chmod 0600 "$ET_MOCK_CONFIG" || exit 1

$ET_MOCKCTL users "{\"upn\":\"alice@contoso.com\",\"name\":\"Alice\",\"groups\":[\"$ELIGIBLE_GROUP\"]}" >/dev/null || exit 1
$ET_MOCKCTL users '{"upn":"bob@contoso.com","name":"Bob","groups":[]}' >/dev/null || exit 1

# CMD runs in the background with our stdin so that a TERM or INT sent to this script is
# handled at once (a shell runs traps only after a foreground command ends).
exec 3<&0
"$@" <&3 3<&- &
cmd_pid=$!
exec 3<&-
wait "$cmd_pid"
status=$?
cmd_pid=
exit $status
