#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The fuzz smoke run behind `make fuzz-smoke` (see fuzz/README.md).
#   smoke.sh CORPUS_DIR BIN_DIR NAME...
# For each NAME: BIN_DIR/fuzz_NAME runs every seed of CORPUS_DIR/NAME once, then fuzzes a
# temporary copy of that corpus for FUZZ_SECONDS seconds (default 20). Any crash, leak,
# sanitizer report, timeout or missing binary fails the harness. Prints one line per
# harness, "PASS: fuzz_NAME ..." or "FAIL: fuzz_NAME ...", and exits 1 when one failed.
# Findings are kept in BIN_DIR/artifacts/, the log of a failed run in BIN_DIR/fuzz_NAME.log.
set -u
corpus=$1
bin=$2
shift 2
seconds=${FUZZ_SECONDS:-20}
failed=0

# -max_len: just over each parser's input cap, so the size checks are exercised too
max_len() {
	case $1 in
	json) echo 4096 ;;
	jwks) echo 8192 ;;
	jws) echo 17000 ;;
	config) echo 8192 ;;
	grant) echo 4200 ;;
	group) echo 4096 ;;
	voucher) echo 2100 ;;
	oauth) echo 8192 ;;
	procs) echo 12288 ;; # a status file with a long Groups: line
	*) echo 4096 ;;
	esac
}

mkdir -p "$bin/artifacts" || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-smoke.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

for name in "$@"; do
	prog=$bin/fuzz_$name
	log=$bin/fuzz_$name.log
	seeds=$corpus/$name
	if [ ! -x "$prog" ]; then
		echo "FAIL: fuzz_$name (not built)"
		failed=1
		continue
	fi
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		echo "FAIL: fuzz_$name (no seed corpus in $seeds)"
		failed=1
		continue
	fi
	rm -rf "$work/$name"
	mkdir -p "$work/$name"
	cp "$seeds"/* "$work/$name/"
	opts="-max_len=$(max_len "$name") -timeout=10 -artifact_prefix=$bin/artifacts/fuzz_$name-"
	# every seed once (files given one by one: nothing is written), then the timed run
	# shellcheck disable=SC2086
	if "$prog" $opts "$seeds"/* >"$log" 2>&1 &&
		"$prog" $opts -max_total_time="$seconds" -print_final_stats=1 "$work/$name" >>"$log" 2>&1 &&
		! grep -qE '^SUMMARY: |runtime error:|^==[0-9]+==ERROR' "$log"; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		echo "PASS: fuzz_$name (${runs:-?} runs in ${seconds} s, $(ls "$seeds" | wc -l) seeds)"
		rm -f "$log"
	else
		echo "FAIL: fuzz_$name (log: $log)"
		grep -E '^SUMMARY: |runtime error:|ERROR|^fuzz_|Test unit written' "$log" | head -20
		failed=1
	fi
done
exit $failed
