#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# 200 concurrent grants, then 200 revokes racing 200 more grants, all for different users:
# no member entry is lost or duplicated, group and gshadow agree, the store matches.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/grant_sandbox.sh"
gsb_enter "$@"
G=$GSB_GROUP
T=$(sb_tmpdir)
N=${GRANT_CONCURRENCY:-200}

users_a=$(seq -f 'ca%03g' 1 "$N")
users_b=$(seq -f 'cb%03g' 1 "$N")
# shellcheck disable=SC2086
sb_useradd $users_a $users_b

# run_all OUTDIR CMD-PREFIX... USERS: one background helper per user, exit codes in OUTDIR
run_all() {
	local dir=$1 verb=$2 u
	shift 2
	mkdir -p "$dir"
	for u in "$@"; do
		case $verb in
		grant) ("$GSB_BIN" grant "$u" --duration 1h >/dev/null 2>"$dir/$u.err"; echo $? >"$dir/$u.rc") & ;;
		revoke) ("$GSB_BIN" revoke --user "$u" >/dev/null 2>"$dir/$u.err"; echo $? >"$dir/$u.rc") & ;;
		esac
	done
}
failures() { grep -lvx 0 "$1"/*.rc 2>/dev/null | wc -l; }
sorted_members() { sb_members "$1" | tr ',' '\n'; }

start=$(date +%s%N)
# shellcheck disable=SC2086
run_all "$T/a" grant $users_a
wait
diag "$N concurrent grants took $((($(date +%s%N) - start) / 1000000)) ms"
is "$(ls "$T/a"/*.rc | wc -l)" "$N" "all $N grant processes finished"
is "$(failures "$T/a")" 0 "all $N grants succeeded"
if [ "$(failures "$T/a")" != 0 ]; then head -3 "$T"/a/*.err | sed 's/^/# /'; fi
is "$(sorted_members group | tr '\n' ' ')" "$(echo $users_a | tr ' ' '\n' | sort | tr '\n' ' ')" \
	"/etc/group lists exactly the $N users"
is "$(sorted_members group | uniq -d | wc -l)" 0 "no user is listed twice in /etc/group"
is "$(sorted_members gshadow | tr '\n' ' ')" "$(sorted_members group | tr '\n' ' ')" "/etc/gshadow agrees"
gsb_grantctl list --json >"$T/grants.json"
is "$("$PYTHON3" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/grants.json")" "$N" \
	"the store holds $N grants"
check "group files parse and agree with the store" gsb_files_check --grants "$T/grants.json"

start=$(date +%s%N)
# shellcheck disable=SC2086
run_all "$T/r" revoke $users_a
# shellcheck disable=SC2086
run_all "$T/b" grant $users_b
wait
diag "$N revokes racing $N grants took $((($(date +%s%N) - start) / 1000000)) ms"
is "$(failures "$T/r")" 0 "all $N revokes succeeded"
is "$(failures "$T/b")" 0 "all $N racing grants succeeded"
is "$(sorted_members group | tr '\n' ' ')" "$(echo $users_b | tr ' ' '\n' | sort | tr '\n' ' ')" \
	"/etc/group lists exactly the second $N users: none lost, none left over"
is "$(sorted_members group | uniq -d | wc -l)" 0 "no user is listed twice"
is "$(sorted_members gshadow | tr '\n' ' ')" "$(sorted_members group | tr '\n' ' ')" "/etc/gshadow agrees"
gsb_grantctl list --json >"$T/grants.json"
check "group files parse and agree with the store" gsb_files_check --grants "$T/grants.json"
out=$(gsb_grantctl sweep)
check "a sweep afterwards has nothing to repair" grep -q "0 expired grant(s) ended, 0 member(s) removed, 0 member(s) restored" <<<"$out"
done_testing
