#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The package's pam-auth-update profile (debian/pam-configs/entra-tap) puts the Entra
# sign-in in front of sshd, sudo and the entra-tap service only: laid out as pam-auth-update
# lays out common-auth and common-account, it lets a pass through for those services and
# never offers the sign-in to su or login (which fall through to the deny of common-auth).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/pam_sandbox.sh"
psb_enter "$@"
T=$PSB_T
ONCE=$top_builddir/tests/unit/pam_once
PROFILE=$top_srcdir/debian/pam-configs/entra-tap
[ -x "$ONCE" ] || { fail "no pam_once in $top_builddir/tests/unit"; finish; }

# section NAME: the lines of a profile section, without their indentation
section() { awk -v s="$1:" '/^[A-Za-z-]+:/ { on = ($1 == s); next } on && /^[ \t]/ { sub(/^[ \t]+/, ""); print }' "$PROFILE"; }
check "the profile gates its Auth lines with pam_succeed_if" bash -c "$(declare -f section); PROFILE=$PROFILE; section Auth | head -1 | grep -q 'pam_succeed_if.so quiet service notin sshd:sudo:entra-tap'"
# the session line ties the sessions of the services that elevate (sessions.h), never fails one
check "the profile's Session lines are for sshd, sudo, sudo-i, su, su-l and entra-tap only" bash -c "$(declare -f section); PROFILE=$PROFILE; section Session | head -1 | grep -q 'pam_succeed_if.so quiet service notin sshd:sudo:sudo-i:su:su-l:entra-tap\$'"
check "the profile's session line is optional" bash -c "$(declare -f section); PROFILE=$PROFILE; [ \"\$(section Session | sed -n 2p)\" = \"\$(printf 'optional\\tpam_entra_tap.so')\" ]"
grep -qx 'Session-Type: Additional' "$PROFILE"
ok $? "the profile adds its session line to what is there (Session-Type: Additional)"
# common-auth: the profile's primary block (success=end jumps past the deny), then the deny
# and the permit that pam-auth-update adds
{
	section Auth | sed -e 's/success=end/success=1/' -e 's/^/auth /'
	echo "auth requisite pam_deny.so"
	echo "auth required pam_permit.so"
	section Account | sed -e 's/^/account /'
	echo "account required pam_permit.so"
} >"$T/stack"
mock_tap alice@contoso.com '"one_time":false,"lifetime_minutes":60' >"$T/pass"
chmod 0600 "$T/pass"
for svc in sshd sudo entra-tap su login; do
	sb_pam "$svc" <"$T/stack"
	"$ONCE" "$svc" alice "$T/pass" >/dev/null 2>"$T/err"
	rc=$?
	case $svc in
	sshd | sudo | entra-tap)
		is "$rc" 0 "service $svc: a pass signs alice in through the profile"
		is "$(sb_grants alice)" 1 "... and grants"
		;;
	*)
		is "$rc" 1 "service $svc: the profile offers no Entra sign-in (common-auth's deny)"
		is "$(sb_grants alice)" 0 "... and nothing is granted"
		;;
	esac
	gsb_grantctl revoke --user alice >/dev/null 2>&1
done
done_testing
