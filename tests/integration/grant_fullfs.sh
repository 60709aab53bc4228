#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Revocation when the file system holding /etc is full: the grant's record stays until the
# group edit succeeds, each sweep tries again and says so at crit, and the first sweep after
# space is freed ends the grant in full. The same for an early revoke. /etc here is a small
# tmpfs of its own, filled to the last block.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/grant_sandbox.sh"
gsb_enter "$@"
G=$GSB_GROUP
T=$(sb_tmpdir)
sb_config duration_min 1s
sb_useradd alice bob

# /etc on a tmpfs just big enough for a copy of it, then filled
kb=$(($(du -sk /etc | cut -f1) + 512))
mkdir -p "$T/etcfs"
mount -t tmpfs -o "size=${kb}k,mode=0755" tmpfs "$T/etcfs" && cp -a /etc/. "$T/etcfs/" &&
	mount --bind "$T/etcfs" /etc || skip_all "cannot put /etc on a small tmpfs"
fill() { dd if=/dev/zero of=/etc/zz-filler bs=4k >/dev/null 2>&1; sync; }
unfill() { rm -f /etc/zz-filler; }

gid=$(gsb_grantctl grant alice --duration 1s 2>/dev/null)
check "alice has a 1 s grant" test -f "$GSB_STATE/grants/$gid.grant"
check "... and is in $G" grep -q "^$G:.*alice" /etc/group
sleep 2
fill
check "/etc is full" bash -c '! echo x >/etc/zz-probe 2>/dev/null'
for n in 1 2; do
	gsb_grantctl sweep >/dev/null 2>"$T/err"
	rc=$?
	check "sweep $n on a full /etc fails (exit $rc)" test "$rc" -ne 0
	check "... the expired grant's record is kept" test -f "$GSB_STATE/grants/$gid.grant"
	check "... alice is still listed in $G (the edit did not happen)" grep -q "^$G:.*alice" /etc/group
	check "... it says every sweep tries again" grep -q "every sweep tries again" "$T/err"
	check "... /etc/group and /etc/gshadow parse" gsb_files_check --parse-only
done
unfill
gsb_grantctl sweep >"$T/out" 2>"$T/err"
is "$?" 0 "with space again, the sweep succeeds"
check "... the grant's record is gone" test ! -e "$GSB_STATE/grants/$gid.grant"
check "... alice is no member of $G" bash -c "! grep -q '^$G:.*alice' /etc/group"
check "... the sweep counts the grant it ended" grep -q "^sweep: 1 expired grant" "$T/out"

# an early revoke on a full /etc: refused, the record kept (marked ended), finished by the sweep
gid=$(gsb_grantctl grant bob --duration 1h 2>/dev/null)
fill
gsb_grantctl revoke "$gid" >/dev/null 2>"$T/err"
rc=$?
check "revoke on a full /etc fails (exit $rc)" test "$rc" -ne 0
check "... bob's record is kept" test -f "$GSB_STATE/grants/$gid.grant"
check "... bob is still listed in $G" grep -q "^$G:.*bob" /etc/group
unfill
gsb_grantctl sweep >"$T/out" 2>"$T/err"
is "$?" 0 "with space again, the sweep succeeds"
check "... and finishes the revoke: bob's record is gone" test ! -e "$GSB_STATE/grants/$gid.grant"
check "... bob is no member of $G" bash -c "! grep -q '^$G:.*bob' /etc/group"
check "... and no sweep puts him back" bash -c "'$GSB_BIN' sweep >/dev/null 2>&1; ! grep -q '^$G:.*bob' /etc/group"
done_testing
