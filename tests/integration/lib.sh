# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# lib.sh: the TAP library of the shell tests (sourced, bash). Every name has one meaning:
#
#   plan N                       announce N tests before the first (optional)
#   ok STATUS NAME...            a test that passes when STATUS (an exit status) is 0;
#                                returns STATUS
#   pass NAME...                 a test that passed (the caller decided)
#   fail NAME...                 a test that failed (the caller decided)
#   check NAME [--] CMD...       a test that passes when CMD exits 0; returns CMD's status
#   check_not NAME [--] CMD...   a test that passes when CMD exits non-zero
#   is GOT WANT NAME...          a test that passes when GOT = WANT; both shown when not
#   diag TEXT...                 a comment line
#   skip REASON                  one skipped test; under CI=true a failed one
#   skip_optional REASON         one skipped test that CI may skip too: only for what needs
#                                none of root, namespaces, sshd, sudo or systemd (an optional
#                                linter, a filesystem feature)
#   skip_all REASON              skip the whole script (1..0 # SKIP) and exit; under CI=true
#                                it fails instead, and after a test was reported it bails out
#   bail_out REASON              "Bail out!" and exit 1
#   require_root                 skip_all unless running as root
#   require_cmd CMD...           skip_all unless every CMD is found
#   done_testing                 the plan (unless announced) and the verdict: non-zero when a
#                                test failed or the count differs from the plan
#   finish                       done_testing, then exit with its status
#   at_exit CMD                  run the shell command CMD when the script exits (the last
#                                registered first); INT, TERM and HUP exit through it too
# Waiting without fixed sleeps:
#   wait_until [--every S] [--quiet] SECS CMD...
#                                run CMD (output discarded) every S seconds (default 0.05)
#                                until it succeeds; after SECS, status 1 and a diag naming
#                                CMD (--quiet: the caller reports). SECS may have decimals.
#   sleep_until EPOCH            sleep until the wall clock (date +%s, time(2)) reaches EPOCH
#   now_ns                       the wall clock in nanoseconds
#   ms_since T0                  milliseconds since T0 (from now_ns)
#   timed CMD...                 run CMD; TIMED_MS is how long it took; returns its status
# Data: jget FILE EXPR (a Python expression over the JSON document d in FILE).
#
# TAP_STYLE=human prints the checks for people instead of TAP ([ok], [FAILED], a summary
# line): the demo. The functions are read-only once defined (readonly -f): a test or a
# sandbox that defines one of these names again gets "readonly function" on stderr and
# keeps this definition, and defining one before sourcing this file is refused with a
# bail-out, so an `ok` of another meaning can never take over. Sourcing it again is a no-op.

[ -n "${BASH_VERSION:-}" ] || {
	echo "Bail out! tests/integration/lib.sh needs bash"
	exit 1
}
[ -z "${_TAP_LIB_LOADED:-}" ] || return 0
_TAP_LIB_LOADED=1

_tap_names="plan ok pass fail check check_not is diag skip skip_optional skip_all bail_out
require_root require_cmd done_testing finish at_exit wait_until sleep_until now_ns ms_since
timed jget _tap_line _tap_s2ns _tap_run_exit"
for _tap_f in $_tap_names; do
	if declare -F "$_tap_f" >/dev/null; then
		echo "Bail out! $_tap_f was defined before tests/integration/lib.sh: use the library's"
		exit 1
	fi
done
unset _tap_f

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${PYTHON3:=/usr/bin/python3}"
: "${TAP_STYLE:=tap}"
ENTRA_TAP="$top_builddir/entra-tap"
_tap_n=0
_tap_failed=0
_tap_plan=
_tap_exit_cmds=()

# _tap_line STATUS DIRECTIVE NAME...: report one test
_tap_line() {
	local st=$1 dir=$2
	shift 2
	_tap_n=$((_tap_n + 1))
	[ "$st" = 0 ] || _tap_failed=$((_tap_failed + 1))
	if [ "$TAP_STYLE" = human ]; then
		if [ -n "$dir" ]; then
			printf '    [skipped] %s\n' "${dir#* SKIP }"
		elif [ "$st" = 0 ]; then
			printf '    \033[32m[ok]\033[0m %s\n' "$*"
		else
			printf '    \033[31m[FAILED]\033[0m %s\n' "$*"
		fi
	elif [ "$st" = 0 ]; then
		echo "ok $_tap_n${*:+ - $*}$dir"
	else
		echo "not ok $_tap_n${*:+ - $*}$dir"
	fi
}

plan() {
	_tap_plan=$1
	[ "$TAP_STYLE" = human ] || echo "1..$1"
}

ok() {
	case ${1:-} in
	'' | *[!0-9]*)
		_tap_line 1 '' "ok needs an exit status first: ok $*"
		return 1
		;;
	esac
	local st=$1
	shift
	_tap_line "$st" '' "$@"
	return "$st"
}

pass() { _tap_line 0 '' "$@"; }
fail() {
	_tap_line 1 '' "$@"
	return 1
}

check() {
	local name=$1 st
	shift
	[ "${1:-}" = -- ] && shift
	"$@"
	st=$?
	_tap_line "$st" '' "$name"
	return "$st"
}

check_not() {
	local name=$1
	shift
	[ "${1:-}" = -- ] && shift
	if "$@"; then
		_tap_line 1 '' "$name"
		return 1
	fi
	_tap_line 0 '' "$name"
}

is() {
	local got=$1 want=$2
	shift 2
	if [ "$got" = "$want" ]; then
		_tap_line 0 '' "$@"
		return 0
	fi
	_tap_line 1 '' "$@"
	diag "  got: '$got'"
	diag " want: '$want'"
	return 1
}

diag() {
	if [ "$TAP_STYLE" = human ]; then echo "    note: $*"; else echo "# $*"; fi
}

skip() {
	if [ "${CI:-}" = true ]; then
		_tap_line 1 '' "$* (CI=true forbids skipping)"
		return 1
	fi
	_tap_line 0 " # SKIP $*"
}

skip_optional() { _tap_line 0 " # SKIP $*"; }

skip_all() {
	if [ "$TAP_STYLE" = human ]; then
		echo "cannot run: $*" >&2
		exit 1
	fi
	[ "$_tap_n" = 0 ] || bail_out "cannot go on: $*"
	if [ "${CI:-}" = true ]; then
		echo "1..1"
		echo "not ok 1 - cannot run and CI=true forbids skipping: $*"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

bail_out() {
	if [ "$TAP_STYLE" = human ]; then echo "cannot go on: $*" >&2; else echo "Bail out! $*"; fi
	exit 1
}

require_root() {
	[ "$(id -u)" = 0 ] || skip_all "needs root"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "needs $c"
	done
}

done_testing() {
	if [ "$TAP_STYLE" = human ]; then
		if [ "$_tap_failed" = 0 ]; then
			printf '\n%d checks passed.\n' "$_tap_n"
			return 0
		fi
		printf '\n%d of %d checks FAILED.\n' "$_tap_failed" "$_tap_n"
		return 1
	fi
	if [ -z "$_tap_plan" ]; then
		echo "1..$_tap_n"
	elif [ "$_tap_plan" != "$_tap_n" ]; then
		diag "planned $_tap_plan tests, ran $_tap_n"
		return 1
	fi
	[ "$_tap_failed" = 0 ]
}

finish() {
	done_testing
	exit $?
}

at_exit() {
	_tap_exit_cmds=("$1" "${_tap_exit_cmds[@]}")
	trap _tap_run_exit EXIT
	trap 'exit 130' INT TERM HUP
}

_tap_run_exit() {
	local c
	for c in "${_tap_exit_cmds[@]}"; do
		eval "$c"
	done
}

now_ns() { date +%s%N; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

timed() {
	local t0 st
	t0=$(date +%s%N)
	"$@"
	st=$?
	TIMED_MS=$((($(date +%s%N) - t0) / 1000000))
	return "$st"
}

# _tap_s2ns SECS: seconds, with or without decimals, as nanoseconds
_tap_s2ns() {
	local i=${1%%.*} f=
	[ "$i" = "$1" ] || f=${1#*.}
	f=${f}000000000
	echo $((${i:-0} * 1000000000 + 10#${f:0:9}))
}

wait_until() {
	local every=0.05 quiet= secs deadline
	while :; do
		case $1 in
		--every) every=$2 && shift 2 ;;
		--quiet) quiet=1 && shift ;;
		*) break ;;
		esac
	done
	secs=$1
	shift
	deadline=$(($(date +%s%N) + $(_tap_s2ns "$secs")))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s%N)" -lt "$deadline" ] || break
		sleep "$every"
	done
	[ -n "$quiet" ] || diag "gave up after ${secs}s waiting for: $*"
	return 1
}

sleep_until() {
	local left i
	left=$(($1 * 1000000000 - $(date +%s%N)))
	if [ "$left" -gt 3600000000000 ]; then
		diag "sleep_until: $1 is more than an hour away"
		return 1
	fi
	[ "$left" -le 0 ] || sleep "$((left / 1000000000)).$(printf '%09d' $((left % 1000000000)))"
	# date(1) rounds nothing, but sleep(1) may wake a hair early
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(date +%s)" -lt "$1" ] || return 0
		sleep 0.01
	done
	[ "$(date +%s)" -ge "$1" ]
}

jget() {
	"$PYTHON3" -c 'import json,sys; d=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v) if not isinstance(v,str) else v)' "$1" "$2"
}

# shellcheck disable=SC2086 # the list of names
readonly -f $_tap_names
