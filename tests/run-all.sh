#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, from a clean checkout on a Debian 12 machine:
#   - as root, installs the build and test dependencies with apt-get;
#   - builds from scratch with -Wall -Wextra -Werror in _build/;
#   - runs `make check` (unit, mock Entra ID, integration tests) and `make distcheck`;
#   - builds again with ASan + UBSan and runs the in-process tests there (check-sanitizers);
#   - builds the libFuzzer harnesses with clang and runs each for a short time (fuzz-smoke);
#   - ends with one line: "N passed, N failed, N skipped".
# Tests that need root (and, under CI=true, everything) run for real; nothing touches the
# host's /etc: integration tests use private mount namespaces.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD

DEPS=(
	build-essential autoconf automake libtool pkg-config clang libclang-rt-dev
	libpam0g-dev libcurl4-openssl-dev libjson-c-dev libssl-dev libsystemd-dev libqrencode-dev
	python3 python3-cryptography python3-jwt openssl ca-certificates
	util-linux passwd procps curl systemd dbus
	debhelper dpkg-dev devscripts lintian
	libpamtest0-dev libpam-wrapper pamtester
	openssh-server openssh-client sudo python3-pexpect iproute2
	mandoc groff-base bash-completion binutils
)

log() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" = 0 ]; then
	log "installing build and test dependencies"
	export DEBIAN_FRONTEND=noninteractive
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${DEPS[@]}"; } >/tmp/entra-tap-apt.log 2>&1; then
		tail -20 /tmp/entra-tap-apt.log
		echo "0 passed, 1 failed"
		exit 1
	fi
elif [ "${CI:-}" = true ]; then
	echo "the test suite must run as root under CI=true (tests needing root may not skip)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

jobs=$(nproc 2>/dev/null || echo 2)
rm -rf _build
mkdir -p _build
cd _build
log "generating the build system"
(cd "$top" && ./autogen.sh) >autogen.log 2>&1 || { cat autogen.log; echo "0 passed, 1 failed"; exit 1; }
log "configuring (warnings are errors)"
../configure --enable-werror >configure.log 2>&1 || { tail -30 configure.log; echo "0 passed, 1 failed"; exit 1; }
log "building"
make -j"$jobs" >make.log 2>&1 || { grep -E 'error|Error' make.log | head -40; echo "0 passed, 1 failed"; exit 1; }

log "running make check"
make -j"$jobs" check >check.log 2>&1
check_rc=$?
grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' check.log | grep -vE '^PASS:' || true
count() { sed -n "s/^# $1: *\([0-9]*\)\$/\1/p" test-suite.log | head -1; }
pass=$(count PASS); fail=$(count FAIL); skip=$(count SKIP); xfail=$(count XFAIL); xpass=$(count XPASS); error=$(count ERROR)
pass=${pass:-0}; fail=${fail:-0}; skip=${skip:-0}; xfail=${xfail:-0}; xpass=${xpass:-0}; error=${error:-0}
fail=$((fail + xpass + error))
pass=$((pass + xfail))
if [ "$check_rc" -ne 0 ]; then
	log "make check failed; failing logs follow"
	for f in $(find . -name '*.log' -newer Makefile | xargs grep -l -E '^(not ok|FAIL|ERROR|Bail out)' 2>/dev/null | grep -v -e test-suite.log -e check.log | head -20); do
		echo "---- $f"; grep -vE '^ok ' "$f" | tail -40
	done
	[ "$fail" -eq 0 ] && fail=1
fi

if [ "${SKIP_DISTCHECK:-}" != 1 ]; then
	log "running make distcheck"
	if make -j"$jobs" distcheck >distcheck.log 2>&1; then
		log "distcheck passed"
		pass=$((pass + 1))
	else
		tail -40 distcheck.log
		log "distcheck FAILED"
		fail=$((fail + 1))
	fi
fi

if [ "${SKIP_FUZZ:-}" != 1 ]; then
	# each harness counts once: PASS or FAIL (crash, leak, sanitizer report, or not built)
	log "running make fuzz-smoke"
	make fuzz-smoke >fuzz.log 2>&1
	fuzz_rc=$?
	fpass=$(grep -c '^PASS: fuzz_' fuzz.log)
	ffail=$(grep -c '^FAIL: fuzz_' fuzz.log)
	grep -E '^(PASS|FAIL): fuzz_' fuzz.log
	if [ "$fuzz_rc" -ne 0 ]; then
		log "fuzz-smoke FAILED"
		grep -vE '^(PASS|FAIL): fuzz_' fuzz.log | tail -30
		[ "$ffail" -eq 0 ] && ffail=1 # it did not get as far as running the harnesses
	fi
	pass=$((pass + fpass)); fail=$((fail + ffail))
fi

if [ "${SKIP_SANITIZERS:-}" != 1 ]; then
	# A second build with ASan + UBSan, for the tests whose code runs in the test process
	# (make check-sanitizers); its results are added to the totals.
	log "building with --enable-sanitizers and running make check-sanitizers"
	rm -rf "$top/_build-san"
	mkdir -p "$top/_build-san"
	if (cd "$top/_build-san" && ../configure --enable-werror --enable-sanitizers >configure.log 2>&1 &&
		make -j"$jobs" >make.log 2>&1 && make -j"$jobs" check-sanitizers >check.log 2>&1); then
		log "sanitizer pass passed"
	else
		log "sanitizer pass FAILED"
		grep -E '^(FAIL|ERROR):' "$top/_build-san/check.log" | head -20
		tail -20 "$top/_build-san/make.log"
	fi
	scount() { sed -n "s/^# $1: *\([0-9]*\)\$/\1/p" "$top/_build-san/test-suite.log" 2>/dev/null | head -1; }
	spass=$(scount PASS); sfail=$(scount FAIL); sskip=$(scount SKIP); serror=$(scount ERROR); sxpass=$(scount XPASS)
	if [ -z "$spass" ]; then
		fail=$((fail + 1)) # the build or the run did not get as far as a summary
	else
		pass=$((pass + spass)); skip=$((skip + ${sskip:-0}))
		fail=$((fail + ${sfail:-0} + ${serror:-0} + ${sxpass:-0}))
	fi
fi

if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
