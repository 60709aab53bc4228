# TAP helpers for the shell tests (sourced).
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON3:=/usr/bin/python3}"
ENTRA_TAP="$top_builddir/entra-tap"
_tap_n=0
_tap_failed=0

ok() { # ok COND-EXIT-STATUS NAME...
	local st=$1
	shift
	_tap_n=$((_tap_n + 1))
	if [ "$st" -eq 0 ]; then
		echo "ok $_tap_n - $*"
	else
		echo "not ok $_tap_n - $*"
		_tap_failed=$((_tap_failed + 1))
	fi
	return "$st"
}
check() { # check NAME -- COMMAND...: ok when COMMAND exits 0
	local name=$1
	shift
	[ "$1" = "--" ] && shift
	"$@"
	ok $? "$name"
}
diag() { echo "# $*"; }
require_root() {
	[ "$(id -u)" = 0 ] && return 0
	if [ "${CI:-}" = true ]; then
		echo "1..1"
		echo "not ok 1 - needs root and CI=true forbids skipping"
		exit 1
	fi
	echo "1..0 # SKIP needs root"
	exit 0
}
done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}
# jget FILE EXPR: evaluate a Python expression over the JSON document `d` in FILE.
jget() {
	"$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v) if not isinstance(v,str) else v)' "$1" "$2"
}
