#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The helper end to end, in a private /etc: grant shows as membership at once (getent) and in
# `status`; drop ends it; overlapping grants; revoke by id and by user; the sweep removes
# hand-added members but keeps permanent_members, and ends expired grants; durations are
# clamped; a corrupt grant file is reported and blocks nothing; a missing elevated group is
# a clear error; exit codes per outcome; the guard of a pending grant (argument checks, root
# only, waits for its processes, revokes only while the marker is there) and the sweep of
# markers a dead guard left.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/grant_sandbox.sh"
gsb_enter "$@"
G=$GSB_GROUP
T=$(sb_tmpdir)

sb_useradd alice bob carol mallory bg
sb_config permanent_members bg

files_agree() {
	gsb_grantctl list --json >"$T/grants.json" &&
		gsb_files_check --permanent bg --grants "$T/grants.json" >/dev/null
}

# grep -c on grpck's findings before we touch anything: later runs must not add any
grpck -r >/dev/null 2>&1
grpck_before=$?

# ---- grant, status, drop ----
id=$(gsb_grantctl grant alice --duration 10m --reason "deploy #7" 2>"$T/err")
rc=$?
is "$rc" 0 "grant alice exits 0"
check "grant prints the grant id (32 hex digits)" grep -qxE '[0-9a-f]{32}' <<<"$id"
check "getent group shows alice at once" sb_in_group alice
check "gshadow lists alice too" grep -q "^$G:.*:.*alice" /etc/gshadow
out=$(gsb_as alice status)
is "$?" 0 "status as alice exits 0"
check "status shows alice's grant and the time left" grep -qE "grant $id: group $G until .* UTC \((9|10)m [0-9]+s left\)" <<<"$out"
check "status says alice is a member" grep -q "alice is a member of $G" <<<"$out"
out=$(gsb_as bob status)
check "status as bob: no grants" grep -q "no grants for bob" <<<"$out"
out=$(gsb_as alice status --json)
is "$?" 0 "status --json as alice exits 0"
check "status --json: alice's grant, her name, the group and her membership" "$PYTHON3" -c '
import json, sys
d = json.loads(sys.argv[1])
ok = d["user"] == "alice" and d["group"] == sys.argv[3] and d["member"] is True
ok = ok and [g["id"] for g in d["grants"]] == [sys.argv[2]] and d["grants"][0]["live"] is True
sys.exit(0 if ok else 1)' "$out" "$id" "$G"
out=$(gsb_as bob status --json)
check "status --json as bob: no grants, not a member" "$PYTHON3" -c '
import json, sys
d = json.loads(sys.argv[1]); sys.exit(0 if d["grants"] == [] and d["member"] is False else 1)' "$out"
gsb_as bob status --yaml >/dev/null 2>&1
is "$?" 2 "status takes only --json (exit 2)"
for p in "$GSB_HELPER_BIN" "$GSB_BIN"; do
	out=$(gsb_as_prog bob "$p" --version)
	is "$?" 0 "$(basename "$p") --version exits 0, for anyone"
	check "$(basename "$p") --version names the program and the version" grep -qE "^$(basename "$p") \(pam_entra_tap\) [0-9]+\.[0-9]+" <<<"$out"
done
gsb_as bob drop "$id" 2>"$T/err"
is "$?" 3 "bob cannot drop alice's grant (exit 3)"
check "the refusal says why" grep -q "is not yours" "$T/err"
check "alice is still a member" sb_in_group alice
gsb_as alice drop "$id" >/dev/null
is "$?" 0 "alice drops her grant"
check_not "after drop, alice is no member" sb_in_group alice
check "after drop, status shows no grant" grep -q "no grants for alice" <<<"$(gsb_as alice status)"
# a grant a PIM for Groups activation cut short says so, in local time
pim_end=$(($(date +%s) + 300))
id=$(gsb_grantctl grant alice --duration 1h --method device_code --pim-until "$pim_end" 2>"$T/err")
is "$?" 0 "grant --pim-until exits 0"
out=$(gsb_as alice status)
check "status: until HH:MM (when the PIM activation ends)" grep -qE "grant $id: group $G until $(date -d "@$pim_end" +%H:%M) \(when the PIM activation ends\), .* UTC \((4|5)m [0-9]+s left\)" <<<"$out"
gsb_as alice drop "$id" >/dev/null
gsb_grantctl grant alice --pim-until "$(($(date +%s) - 5))" >/dev/null 2>"$T/err"
is "$?" 3 "grant --pim-until in the past: refused (exit 3)"
check "... saying the activation has ended" grep -q "PIM for Groups activation has already ended" "$T/err"
gsb_grantctl grant alice --pim-until 0123 >/dev/null 2>"$T/err"
is "$?" 2 "grant --pim-until with a malformed time: usage (exit 2)"
check_not "no grant was made by the refused requests" sb_in_group alice
gsb_as alice drop 2>"$T/err"
is "$?" 4 "drop with nothing to drop exits 4"
check "files and store agree" files_agree

# ---- overlapping grants; revoke by id and by user ----
c1=$(gsb_grantctl grant carol --duration 10m 2>/dev/null)
c2=$(gsb_grantctl grant carol --duration 20m 2>/dev/null)
gsb_grantctl revoke "$c1" >/dev/null
is "$?" 0 "revoke the first of carol's two grants"
check "overlap: carol stays a member while the second lasts" sb_in_group carol
gsb_grantctl revoke "$c2" >/dev/null
check_not "overlap: the last grant's end removes carol" sb_in_group carol
gsb_grantctl grant bob >/dev/null 2>&1
gsb_grantctl grant bob --duration 2h >/dev/null 2>&1
out=$(gsb_grantctl revoke --user bob)
check "revoke --user ends both of bob's grants" grep -q "2 grant(s) of bob ended" <<<"$out"
check_not "revoke --user: bob is no member" sb_in_group bob
check "files and store agree" files_agree

# ---- the sweep: hand-added members, permanent members, expiry ----
gpasswd -a mallory "$G" >/dev/null
gpasswd -a bg "$G" >/dev/null
check "mallory and bg were added by hand (gpasswd)" sb_in_group mallory
a=$(gsb_grantctl grant alice --duration 1h 2>/dev/null)
out=$(gsb_grantctl sweep)
is "$?" 0 "sweep exits 0"
check "sweep reports one member removed" grep -q "1 member(s) removed" <<<"$out"
check_not "sweep removed mallory (no grant)" sb_in_group mallory
check "sweep kept bg (permanent_members)" sb_in_group bg
check "sweep kept alice (live grant)" sb_in_group alice
# no systemd here, so no timer to set up: the shortest grant will do
s=$(gsb_grantctl grant carol --duration 1s 2>&1 >/dev/null)
check "a 1 s grant is allowed with duration_min = 1s" sb_in_group carol
sleep_until "$(sb_grant_field carol 'g["expires"]')"
out=$(gsb_grantctl sweep)
check "sweep ends the expired grant" grep -q "1 expired grant(s) ended" <<<"$out"
check_not "sweep: carol is gone after expiry" sb_in_group carol
check "files and store agree after the sweep" files_agree

# ---- durations are clamped ----
sb_config duration_min 1m
b=$(gsb_grantctl grant bob --duration 5s 2>"$T/err")
check "a 5 s request says it is raised" grep -q "using 60s" "$T/err"
b2=$(gsb_grantctl grant bob --duration 30d 2>"$T/err")
check "a 30 d request says it is cut" grep -q "using 28800s" "$T/err"
gsb_grantctl list --json >"$T/l.json"
d=$("$PYTHON3" -c 'import json,sys; g={x["id"]:x for x in json.load(open(sys.argv[1]))}; print(g[sys.argv[2]]["expires"]-g[sys.argv[2]]["created"], g[sys.argv[3]]["expires"]-g[sys.argv[3]]["created"])' "$T/l.json" "$b" "$b2")
is "$d" "60 28800" "stored durations are clamped to duration_min and duration_max"
gsb_grantctl grant bob --duration 0s 2>"$T/err"
is "$?" 2 "a zero duration is a usage error (exit 2)"
gsb_grantctl grant bob --duration 10 --duration 20 2>"$T/err"
is "$?" 2 "a repeated option is a usage error (exit 2)"
gsb_grantctl revoke --user bob >/dev/null

# ---- a corrupt grant file is reported and blocks nothing ----
printf 'entra-tap-grant 1\nid=00\nuser=alice\n' >"$GSB_STATE/grants/0123456789abcdef0123456789abcdef.grant"
gsb_grantctl list >"$T/out" 2>"$T/err"
is "$?" 0 "list still works next to a corrupt file"
check "list names the corrupt grant" grep -q "0123456789abcdef0123456789abcdef" "$T/err"
check "list still shows alice's grant" grep -q "$a" "$T/out"
gsb_grantctl grant bob --duration 10m >/dev/null 2>&1
is "$?" 0 "a new grant is not blocked by the corrupt file"
gsb_as alice status >/dev/null 2>&1
is "$?" 0 "status is not blocked by the corrupt file"
out=$(gsb_grantctl sweep 2>"$T/err")
check "sweep moves the corrupt file aside" grep -q "1 corrupt file(s) moved aside" <<<"$out"
check "it is kept as .corrupt for inspection" test -f "$GSB_STATE/grants/0123456789abcdef0123456789abcdef.grant.corrupt"
check "alice and bob are still members" bash -c "getent group $G | grep -q alice && getent group $G | grep -q bob"

# ---- a missing elevated group ----
sb_config elevated_group no-such-group
gsb_grantctl grant alice 2>"$T/err"
is "$?" 7 "grant with a missing elevated group exits 7"
check "and says the group does not exist" grep -q "elevated group 'no-such-group' does not exist" "$T/err"
gsb_grantctl sweep 2>"$T/err"
is "$?" 7 "sweep with a missing elevated group exits 7"
sb_config elevated_group "$G"

# ---- exit codes ----
gsb_grantctl revoke 00000000000000000000000000000000 2>/dev/null
is "$?" 4 "revoke of an unknown grant exits 4"
gsb_grantctl revoke ../../etc/passwd 2>"$T/err"
is "$?" 2 "revoke of a path exits 2"
gsb_grantctl grant nosuchuser 2>/dev/null
is "$?" 4 "grant to an unknown user exits 4"
gsb_grantctl grant 'bad:name' 2>/dev/null
is "$?" 2 "grant to a bad user name exits 2"
gsb_grantctl frobnicate 2>/dev/null
is "$?" 2 "an unknown verb exits 2"
gsb_grantctl 2>/dev/null
is "$?" 2 "no verb exits 2"
# elevate runs the entra-tap PAM service (tests/integration/pam_elevate.sh covers it with the
# module); here a service that refuses everyone: exit 3, and nothing granted
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >/etc/pam.d/entra-tap
members_before=$(sb_members)
gsb_as alice elevate </dev/null >/dev/null 2>"$T/err"
is "$?" 3 "elevate through a refusing entra-tap service exits 3"
is "$(sb_members)" "$members_before" "... and changes no membership"
gsb_grantctl list --json >"$T/l.json"
check "list --json is a JSON array of grants with every field" "$PYTHON3" -c '
import json,sys
d=json.load(open(sys.argv[1]))
keys={"id","user","uid","group","created","expires","live","method","oid","upn","tid","reason","service","rhost","added_membership"}
sys.exit(0 if isinstance(d,list) and d and all(set(x)==keys for x in d) else 1)' "$T/l.json"
chmod 0666 "$GSB_CONF"
gsb_grantctl grant bob --duration 1h 2>"$T/err" >/dev/null
is "$?" 5 "a world-writable configuration is refused for a grant (exit 5)"
grep -q "group- or world-writable" "$T/err"
ok $? "... and says why"
# what ends grants, or only reads them, runs from the last good copy (lastgood.h)
gsb_grantctl list 2>"$T/err" >/dev/null
is "$?" 0 "list still runs from the last good copy"
grep -q "ending grants from the last good copy of the configuration" "$T/err"
ok $? "... and says so"
chmod 0600 "$GSB_CONF"

# ---- guard ID PID [PID]: the watch over a pending grant ----
P=$GSB_STATE/pending
mkdir -p -m 0700 "$P"
gsb_grantctl revoke --user alice >/dev/null
gid=$(gsb_grantctl grant alice --duration 10m 2>/dev/null)
true & dead=$!
wait "$dead"
for bad in "" "$gid" "nothex $dead" "${gid}0 $dead" "../../etc/x $dead" "$gid 0" "$gid 1" "$gid -5" "$gid +5" \
	"$gid 12a" "$gid 007" "$gid 99999999999" "$gid 2147483648" "$gid $dead $dead $dead" "$gid --user alice"; do
	# shellcheck disable=SC2086
	gsb_grantctl guard $bad 2>"$T/err" >/dev/null
	is "$?" 2 "guard '$bad' is a usage error (exit 2)"
done
check "a bad pid is named in the message" grep -q "is not a process id" "$T/err"
gsb_as_prog alice "$GSB_BIN" guard "$gid" "$dead" 2>"$T/err" >/dev/null
is "$?" 3 "guard from a non-root caller is refused (exit 3)"
check "... saying it is for root only" grep -q "guard is for root only" "$T/err"
grant_exists() { gsb_grantctl list --json | grep -q "\"$1\""; }
# guard_waits PID N: the guard is asleep in its poll, watching N processes (pidfds) and the
# pending directory (inotify), where only one of those events wakes it
guard_waits() {
	local fds
	[ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = S ] || return 1
	fds=$(find "/proc/$1/fd" -mindepth 1 -exec readlink {} + 2>/dev/null)
	[ "$(grep -c pidfd <<<"$fds")" = "$2" ] && grep -q inotify <<<"$fds"
}
gone() { ! kill -0 "$1" 2>/dev/null; }
# no marker: the login settled; the guard leaves the grant alone, without a word
out=$(gsb_grantctl guard "$gid" "$dead" 2>&1)
is "$?" 0 "guard without a marker, the process gone: exit 0"
is "$out" "" "... and quiet"
check "... the grant stays" grant_exists "$gid"
# a marker and the process gone: the login never settled
echo "user alice" >"$P/$gid"
out=$(gsb_grantctl guard "$gid" "$dead" 2>&1)
is "$?" 0 "guard with a marker, the process gone: exit 0"
check "... says the grant ended" grep -q "grant $gid ended: its login never succeeded" <<<"$out"
check_not "... the grant is revoked" grant_exists "$gid"
check_not "... alice is no member" sb_in_group alice
check "... the marker is gone" test ! -e "$P/$gid"
# it waits for the process (a pidfd, not a sleep loop) and for a second one
gid=$(gsb_grantctl grant alice --duration 10m 2>/dev/null)
echo "user alice" >"$P/$gid"
sleep 30 & p1=$!
sleep 30 & p2=$!
"$GSB_BIN" guard "$gid" "$p1" "$p2" >/dev/null 2>&1 & gpid=$!
wait_until 5 guard_waits "$gpid" 2
check "guard waits while the processes live" kill -0 "$gpid"
check "... the grant stays meanwhile" grant_exists "$gid"
kill "$p1"; wait "$p1" 2>/dev/null
# p1's end woke it (its pidfd became readable as p1 exited): asleep again, on one pidfd
wait_until 5 guard_waits "$gpid" 1
check "guard still waits for the second process" kill -0 "$gpid"
t0=$(date +%s%N)
kill "$p2"; wait "$p2" 2>/dev/null
wait "$gpid"
is "$?" 0 "guard exits 0 once both are gone"
t1=$(date +%s%N)
check "... at once (within 2 s of the last one ending)" test $(((t1 - t0) / 1000000)) -lt 2000
check_not "... and revoked the unsettled grant" grant_exists "$gid"
check "... and removed its marker" test ! -e "$P/$gid"
# the marker goes while it waits (the login succeeded): it stands down early, the grant stays
gid=$(gsb_grantctl grant alice --duration 10m 2>/dev/null)
echo "user alice" >"$P/$gid"
sleep 60 & p1=$!
"$GSB_BIN" guard "$gid" "$p1" >/dev/null 2>&1 & gpid=$!
wait_until 5 guard_waits "$gpid" 1
rm -f "$P/$gid"
check "guard stands down when the marker goes" wait_until 5 gone "$gpid" || kill "$gpid"
wait "$gpid"
is "$?" 0 "... with exit 0"
check "... and the grant stays" grant_exists "$gid"
kill "$p1"; wait "$p1" 2>/dev/null
gsb_grantctl revoke "$gid" >/dev/null
# the sweep finishes what a dead guard left
gid=$(gsb_grantctl grant alice --duration 10m 2>"$T/err")
check "a grant for the sweep's markers" grep -qxE '[0-9a-f]{32}' <<<"$gid" || sed 's/^/# /' "$T/err"
echo "user alice" >"$P/$gid"
touch -d '-12 minutes' "$P/$gid"
orphan=0123456789abcdef0123456789abcdef
echo "user bob" >"$P/$orphan"
young=$(gsb_grantctl grant bob --duration 10m 2>/dev/null)
echo "user bob" >"$P/$young"
gsb_grantctl sweep >/dev/null
is "$?" 0 "sweep with pending markers exits 0"
check_not "sweep revokes the grant of an old marker" grant_exists "$gid"
check "... and removes that marker" test ! -e "$P/$gid"
check "sweep removes a marker without a grant" test ! -e "$P/$orphan"
check "sweep leaves a young marker (its guard may still wait) and its grant" sh -c "test -e '$P/$young'" 
check "... the young marker's grant stays" grant_exists "$young"
rm -f "$P/$young"
gsb_grantctl revoke "$young" >/dev/null

# ---- shadow-utils still likes the files ----
grpck -r >/dev/null 2>&1
is "$?" "$grpck_before" "grpck -r finds nothing new after our edits"
check "files and store agree at the end" files_agree
done_testing
