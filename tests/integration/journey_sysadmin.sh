#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Journey 2, the sysadmin: sshd runs as a systemd service on a host with systemd, the shipped
# sshd fragment (publickey, then keyboard-interactive) and pam_entra_tap.so in Debian's
# /etc/pam.d/sshd in place of common-auth, plus its account and session lines (without the
# session line, nothing settles a successful login's grant and it ends with the connection).
# alice logs in with her key
# and a Temporary Access Pass, then with her key and a device code: the session has the
# elevated group from its first command, the grant names sshd and the remote address, systemd
# holds its revocation timer, and the journal has the sign-in. Denied logins (a wrong pass, an
# expired local account refused by the account phase after the sign-in) leave no grant and
# no timer behind.
# pam_sshd.sh covers the module's sshd cases in detail (decline, expiry, deadlines, setcred);
# this journey is the whole host: systemd, its timers and journal, Debian's PAM stack.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/journey_sandbox.sh"
jny_enter "$@"
[ -x /usr/sbin/sshd ] || skip_all "needs openssh-server"
require_cmd ssh
PORT=2299
S=$SBX_DIR/ssh
mkdir -p "$S"
ssh-keygen -q -t ed25519 -N '' -f "$S/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$S/alice_key" ||
	skip_all "ssh-keygen failed"
mkdir -p "$SBX_DIR/home/alice/.ssh"
install -m 0600 "$S/alice_key.pub" "$SBX_DIR/home/alice/.ssh/authorized_keys"
chmod 0700 "$SBX_DIR/home/alice/.ssh"
chown -R --reference="$SBX_DIR/home/alice" "$SBX_DIR/home/alice/.ssh"

# Debian's sshd service file, with the module instead of common-auth and its account check
debian_sshd=$(cat "$SBX_DIR/etc/pam.d/sshd")
printf '%s\n' "$debian_sshd" | sed -e 's|^@include common-auth$|auth       required     pam_entra_tap.so grant|' \
	-e 's|^@include common-account$|@include common-account\naccount    required     pam_entra_tap.so|' \
	-e 's|^@include common-session$|@include common-session\nsession    optional     pam_entra_tap.so|' | sb_pam sshd
grep -qE "^auth +required +$SB_MODULE grant\$" "$SBX_DIR/etc/pam.d/sshd" &&
	grep -qE "^account +required +$SB_MODULE\$" "$SBX_DIR/etc/pam.d/sshd" &&
	grep -qE "^session +optional +$SB_MODULE\$" "$SBX_DIR/etc/pam.d/sshd"
ok $? "/etc/pam.d/sshd: Debian's, with the module's auth (grant), account and session lines"
{
	echo "Port $PORT"
	echo "ListenAddress 127.0.0.1"
	echo "HostKey $S/host_key"
	echo "PidFile /run/sshd-journey.pid"
	echo "UseDNS no"
	echo "PrintMotd no"
	echo "PrintLastLog no"
	echo "PermitRootLogin no"
	echo "Include $top_srcdir/data/sshd_config.d/entra-tap.conf"
} >"$S/sshd_config"
sbx_exec mkdir -p /run/sshd
# the shipped fragment asks the members of entra-tap-users (the package's group) for the
# Entra sign-in after the key: alice is one of the people who may elevate
sbx_exec sh -c 'getent group entra-tap-users >/dev/null || groupadd --system entra-tap-users; gpasswd -a alice entra-tap-users' >/dev/null
check "sshd -t accepts the configuration with the shipped fragment" -- sbx_exec /usr/sbin/sshd -t -f "$S/sshd_config"
sbx_exec systemd-run -q --unit=journey-sshd /usr/sbin/sshd -D -e -f "$S/sshd_config"
check "sshd runs as a systemd service (journey-sshd) on 127.0.0.1:$PORT" wait_until 5 sb_port_open "$PORT" || finish

export ET_TAP
PROMPT='Temporary Access Pass for alice@contoso.com'
# ssh_login LOG STEP...: key, then keyboard-interactive driven by STEPs; runs `id -Gn`
ssh_login() {
	local log=$1
	shift
	sb_drive --timeout 40 --log "$log" "$@" -- ssh -F /dev/null -p "$PORT" \
		-o UserKnownHostsFile="$S/known_hosts" -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=no \
		-o IdentityAgent=none -o IdentitiesOnly=yes -o LogLevel=ERROR -o NumberOfPasswordPrompts=1 \
		-o ConnectTimeout=10 -i "$S/alice_key" -o PreferredAuthentications=publickey,keyboard-interactive \
		alice@127.0.0.1 'id -Gn'
}
session_has_group() { tr -d '\r' <"$1" | grep -qE "(^| )$G( |$)"; }
revoke_timers() { sbx_exec systemctl list-units --all --no-legend --plain 'entra-tap-revoke-*' | grep -c 'entra-tap-revoke-'; }

# ---- key + Temporary Access Pass ----
ET_TAP=$(mock_tap alice@contoso.com)
ssh_login "$SBX_DIR/log" "expect=$PROMPT" sendenv=ET_TAP
is "$?" 0 "ssh with key and TAP: exit 0"
jny_show "$(tr -d '\r' <"$SBX_DIR/log")"
check "the session's first command already has $G" -- session_has_group "$SBX_DIR/log"
g=$(sb_grant_field alice 'g["id"]')
is "$(sb_grant_field "$g" 'g["service"]')" sshd "the grant names the sshd service"
is "$(sb_grant_field "$g" 'g["rhost"]')" 127.0.0.1 "... the remote address"
is "$(sb_grant_field "$g" 'g["method"]')" password "... and the method password"
is "$(sbx_exec systemctl show "entra-tap-revoke-$g.timer" -p ActiveState --value)" active \
	"systemd holds the login grant's revocation timer"
e=$(sbx_journal_json MESSAGE_ID="$(jny_msgid auth_ok)" ENTRA_TAP_SERVICE=sshd ENTRA_TAP_USER=alice | tail -1)
[ -n "$e" ] && printf '%s' "$e" | "$PYTHON3" -c 'import json,sys; e=json.load(sys.stdin); sys.exit(not (e.get("ENTRA_TAP_RHOST") == "127.0.0.1" and e.get("ENTRA_TAP_METHOD") == "password"))'
ok $? "the journal has the verified sign-in for sshd from 127.0.0.1, method password"
! grep -qF "$ET_TAP" "$SBX_DIR/log" && ! sbx_exec journalctl --no-pager -q | grep -qF "$ET_TAP"
ok $? "the pass is neither on the terminal nor in the journal"
sbx_grantctl revoke --user alice >/dev/null

# ---- key + device code ----
ssh_login "$SBX_DIR/log" "expect=$PROMPT" send= "expect=Press Enter" device=approve:alice@contoso.com send=
is "$?" 0 "ssh with key and a device code approved at the mock: exit 0"
jny_show "$(tr -d '\r' <"$SBX_DIR/log")"
check "the session's first command already has $G" -- session_has_group "$SBX_DIR/log"
g=$(sb_grant_field alice 'g["id"]')
is "$(sb_grant_field "$g" 'g["method"]')" device_code "the grant's method is device_code"
check "the code's message names this host and says to continue only if you started it" -- \
	grep -q "Only continue if you started this on $(sbx_exec hostname) just now" "$SBX_DIR/log"
sbx_grantctl revoke --user alice >/dev/null

# ---- denied logins leave nothing behind ----
timers0=$(revoke_timers)
ET_TAP=WRONG0PASS1
ssh_login "$SBX_DIR/log" "expect=$PROMPT" sendenv=ET_TAP
is "$?" 255 "a wrong pass: ssh fails (255)"
is "$(sb_grants --live alice)" 0 "... no grant"
check_not "... alice is not in $G" -- sb_in_group alice

# alice's local account has expired: pam_unix's account check refuses after the sign-in,
# which had already made a grant in sshd's authentication child
sed -i 's/^\(alice:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:[^:]*:\)[^:]*:/\11:/' "$SBX_DIR/etc/shadow"
check "alice's account has an expiry date in the past" -- grep -q '^alice:\([^:]*:\)\{6\}1:' "$SBX_DIR/etc/shadow"
ET_TAP=$(mock_tap alice@contoso.com)
ssh_login "$SBX_DIR/log" "expect=$PROMPT" sendenv=ET_TAP
is "$?" 255 "a valid pass for an expired local account: ssh fails (255)"
e=$(sbx_journal_json MESSAGE_ID="$(jny_msgid grant)" ENTRA_TAP_SERVICE=sshd ENTRA_TAP_USER=alice | tail -1)
g=$(printf '%s' "$e" | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin).get("ENTRA_TAP_GRANT_ID", ""))' 2>/dev/null)
# common-account refuses (requisite) before the module's account line runs: the grant is
# ended by the module's guard once sshd's connection process is gone, so allow it a moment
t0=$(date +%s%N)
wait_until 10 sbx_exec sh -c "journalctl --no-pager -q MESSAGE_ID=$(jny_msgid revoke) ENTRA_TAP_GRANT_ID=$g | grep -q ."
ok $? "the grant made during the sign-in ($g) was revoked when the login failed"
diag "revoked $(((($(date +%s%N) - t0) / 1000000))) ms after ssh exited"
is "$(sb_grants --live alice)" 0 "... no grant is left"
check_not "... alice is not in $G" -- sb_in_group alice
wait_until 3 sbx_exec sh -c "[ \$(systemctl list-units --all --no-legend --plain 'entra-tap-revoke-*' | grep -c entra-tap-revoke-) = $timers0 ]"
ok $? "... and no revocation timer is left behind"
sed -i 's/^\(alice:\([^:]*:\)\{6\}\)1:/\1:/' "$SBX_DIR/etc/shadow"

sbx_exec systemctl stop journey-sshd
done_testing
