#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `entra-tap doctor` and `entra-tap check-config` on a whole sandboxed host (systemd as PID 1,
# a private /etc): each wiring mistake is named on a line of its own with its fix, and the
# exit status says whether anything was found. The host as shipped (no module in sudo's or
# sshd's PAM stack, no group_source, no sudoers rule) shows every finding; wired the way the
# README says, none but the clock's (a container cannot say whether its clock is synchronised);
# then one mistake at a time comes back. check-config: the shipped placeholder ids, a pass at
# the prompt without the password grant, a missing elevated group, the consumer tenant.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/sandbox.sh"
ENTRA_TAP=$top_builddir/entra-tap

require_root
require_cmd /usr/sbin/sshd /usr/sbin/visudo
sbx_init || { fail "sandbox set up"; finish; }
check "the sandbox boots" -- sbx_start || finish
check "systemd is running" -- sbx_wait_running 60 || finish
E=$SB_ETC
T=$(sb_tmpdir)
sbx_exec mkdir -p /run/sshd

# doctor_run: findings in $T/out (without the count line), exit status in RC
doctor_run() {
	sbx_exec "$ENTRA_TAP" doctor "$@" >"$T/all" 2>&1
	RC=$?
	grep -v '^[0-9]* findings\?$' "$T/all" | grep -v '^clock: ' >"$T/out"
}
finds() { grep -qF -- "$1" "$T/out"; }

# ---- the host as shipped ----
doctor_run
is "$RC" 1 "doctor on a host without the wiring exits 1"
for w in "/etc/pam.d/sudo: no auth line" "/etc/pam.d/sudo: no account line" "/etc/pam.d/sudo: no session line" \
	"/etc/pam.d/sshd: no auth line" "/etc/pam.d/sshd: no account line" "/etc/pam.d/sshd: no session line" \
	"/etc/pam.d/sudo-i: no account line" "/etc/pam.d/sudo-i: no session line" "/etc/pam.d/su: no session line" \
	"/etc/sudo.conf: no \`Set group_source dynamic\`" "sudoers: no rule for %$SB_GROUP"; do
	check "... it finds: $w" finds "$w"
done
check "every finding names its fix" -- bash -c '! grep -v -- "— fix: " "$1" | grep -q .' _ "$T/out"
check "... and the count line says how many" -- grep -qE '^[0-9]+ findings?$' "$T/all"

# ---- wired as the README says ----
cp "$E/pam.d/sudo" "$T/sudo.pam"
{
	echo "auth     required  pam_entra_tap.so grant"
	echo "account  required  pam_entra_tap.so no_grant=ignore"
	echo "session  optional  pam_entra_tap.so"
	cat "$T/sudo.pam"
} >"$E/pam.d/sudo"
cp "$E/pam.d/sshd" "$T/sshd.pam"
{
	echo "auth     [success=1 default=ignore]  pam_succeed_if.so quiet user notingroup entra-tap-users"
	echo "auth     [success=done default=die]  pam_entra_tap.so grant require_prior_publickey"
	cat "$T/sshd.pam"
	echo "account  [success=1 default=ignore]  pam_succeed_if.so quiet user notingroup entra-tap-users"
	echo "account  required  pam_entra_tap.so no_grant=ignore"
	echo "session  [success=1 default=ignore]  pam_succeed_if.so quiet user notingroup entra-tap-users"
	echo "session  optional  pam_entra_tap.so"
} >"$E/pam.d/sshd"
# sudo -i's own service and su: the account check and the session line (README)
printf 'account  required  pam_entra_tap.so no_grant=ignore\nsession  optional  pam_entra_tap.so\n' >>"$E/pam.d/sudo-i"
echo "session  optional  pam_entra_tap.so" >>"$E/pam.d/su"
cat "$top_srcdir/data/sudo.conf.entra-tap" >>"$E/sudo.conf"
install -m 0440 "$top_srcdir/data/sudoers.d/entra-tap" "$E/sudoers.d/entra-tap"
sed -i "s/%entra-admins/%$SB_GROUP/" "$E/sudoers.d/entra-tap"
mkdir -p "$E/ssh/sshd_config.d"
cp "$top_srcdir/data/sshd_config.d/entra-tap.conf" "$E/ssh/sshd_config.d/entra-tap.conf"
doctor_run
check "wired as the README says, doctor finds nothing but (perhaps) the clock" -- test ! -s "$T/out"
[ -s "$T/out" ] && sed 's/^/# /' "$T/out"

# ---- one mistake at a time ----
sed -i 's/^\(auth .*pam_entra_tap.so\) grant/\1/' "$E/pam.d/sudo"
doctor_run
is "$RC" 1 "sudo's auth line without grant: exit 1"
check "... named" finds "/etc/pam.d/sudo: the module's auth line has no grant option"
sed -i 's/^\(auth .*pam_entra_tap.so\)$/\1 grant/' "$E/pam.d/sudo"
sed -i '1i auth sufficient pam_rootok.so' "$E/pam.d/sudo"
doctor_run
check "an auth module that ends the stack before the module is named" \
	finds "/etc/pam.d/sudo: an auth module before pam_entra_tap.so can end the stack"
sed -i '1d' "$E/pam.d/sudo"
echo "this is not sudoers syntax" >"$E/sudoers.d/broken"
chmod 0440 "$E/sudoers.d/broken"
doctor_run
check "a sudoers file that does not parse is named" finds "sudoers: \`visudo -c\` finds an error"
rm -f "$E/sudoers.d/broken"
printf 'LoginGraceTime 60\n' >"$E/ssh/sshd_config.d/00-grace.conf"
doctor_run
check "a LoginGraceTime below device_code_timeout + 15 s is named" finds "sshd: LoginGraceTime 60 s ends a login"
rm -f "$E/ssh/sshd_config.d/00-grace.conf"
sbx_exec systemctl disable --now entra-tap-sweep.timer >/dev/null 2>&1
doctor_run
check "a disabled sweep timer is named" finds "systemd: entra-tap-sweep.timer is not enabled"
sbx_exec systemctl enable --now entra-tap-sweep.timer >/dev/null 2>&1
doctor_run
is "$RC$(cat "$T/out")" "$RC" "all fixed again: no finding but (perhaps) the clock"

# ---- check-config ----
cp "$E/security/pam_entra_tap.conf" "$T/conf"
cc() { sbx_exec "$ENTRA_TAP" check-config >"$T/cc" 2>&1; echo $?; }
is "$(cc)" 0 "check-config: the sandbox's configuration is valid and usable (exit 0)"
sed -e 's/^tenant_id = .*/tenant_id = 00000000-0000-4000-8000-000000000000/' \
	-e 's/^client_id = .*/client_id = 00000000-0000-4000-8000-000000000001/' "$T/conf" >"$E/security/pam_entra_tap.conf"
is "$(cc)" 1 "check-config: the shipped placeholder ids: valid but unusable (exit 1)"
check "... tenant_id is named" grep -q "^tenant_id: still the shipped placeholder" "$T/cc"
check "... client_id is named" grep -q "^client_id: still the shipped placeholder" "$T/cc"
{ cat "$T/conf"; printf 'methods = tap device_code\n'; } >"$E/security/pam_entra_tap.conf"
is "$(cc)" 1 "check-config: methods = tap without tap_password_grant: exit 1"
check "... named with the Entra route as the fix" grep -q "^methods: tap asks for a pass at the prompt.*device_code" "$T/cc"
sed -e "s/^elevated_group = .*/elevated_group = no-such-group/" "$T/conf" >"$E/security/pam_entra_tap.conf"
is "$(cc)" 1 "check-config: an elevated group that does not exist: exit 1"
check "... named" grep -q "^elevated_group: the group no-such-group does not exist" "$T/cc"
sed -e 's/^tenant_id = .*/tenant_id = 9188040d-6c67-4c5b-b112-36a304b66dad/' "$T/conf" >"$E/security/pam_entra_tap.conf"
is "$(cc)" 2 "check-config: the tenant of personal Microsoft accounts is refused (exit 2)"
check "... saying why" grep -qi "personal Microsoft accounts" "$T/cc"
cp "$T/conf" "$E/security/pam_entra_tap.conf"

# ---- a group with members nobody granted: named, then adopted ----
# (the sweep that ran at boot found the group empty and took it over: a state directory of a
# host that never managed it, and no sweep in between)
sbx_exec systemctl stop entra-tap-sweep.timer >/dev/null 2>&1
sbx_exec gpasswd -a daemon "$SB_GROUP" >/dev/null
rm -f "$SBX_DIR/state/managed/$SB_GROUP"
is "$(cc)" 1 "check-config: the elevated group holds a member no grant accounts for: exit 1"
check "... named, with the fix" grep -q "^elevated_group: $SB_GROUP has members no grant accounts for (daemon).*entra-tap adopt" "$T/cc"
sbx_grantctl grant root --duration 10m >/dev/null 2>"$T/err"
is "$?" 5 "a grant into that group is refused (exit 5)"
check "... saying why" grep -q "never managed it" "$T/err"
sbx_grantctl sweep >/dev/null 2>&1
check "the sweep leaves daemon in the group" sb_listed daemon
sbx_exec "$ENTRA_TAP" adopt >"$T/out" 2>&1
is "$?" 0 "entra-tap adopt: the administrator takes the group over"
is "$(cc)" 0 "check-config: nothing to report any more"
sbx_grantctl sweep >/dev/null 2>&1
check_not "the next sweep removes daemon" sb_listed daemon
sbx_exec systemctl start entra-tap-sweep.timer >/dev/null 2>&1
done_testing
