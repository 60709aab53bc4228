#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Real sshd and the OpenSSH client, pam_entra_tap.so in sshd's PAM stack, the mock Entra ID:
#   - keyboard-interactive login with a Temporary Access Pass, and with a device code
#     approved through the mock's control API; the session has the elevated group from its
#     first command;
#   - a declined, an expired code and a wrong pass fail within bounded time, with no grant;
#   - a login refused by the account stack after sign-in leaves no grant (pam_deny before the
#     module, required or requisite, or after it), and a login that succeeds keeps its grant;
#   - the shipped fragment (for members of entra-tap-users: AuthenticationMethods
#     publickey,keyboard-interactive) works, and refuses keyboard-interactive alone; with it
#     and the README's gated PAM lines, a key-only user outside the group logs in as before
#     and is never asked for an Entra sign-in;
#   - setcred drops the elevated gid of a stale member from the session's groups.
# sshd listens on 127.0.0.1:2299 in the test's own network namespace.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/pam_sandbox.sh"
psb_enter "$@"
T=$PSB_T
G=$GSB_GROUP
PORT=2299
HOME_ALICE=$GSB_DIR/home/alice
USERS=entra-tap-users # the shipped fragment's Match Group
groupadd --system "$USERS" || skip_all "cannot add group $USERS in the sandbox"
FRAGMENT=$top_srcdir/data/sshd_config.d/entra-tap.conf
require_cmd /usr/sbin/sshd ssh

ssh-keygen -q -t ed25519 -N '' -f "$T/host_key" || skip_all "ssh-keygen failed"
ssh-keygen -q -t ed25519 -N '' -f "$T/alice_key" || skip_all "ssh-keygen failed"
install -d -o alice -g alice -m 0700 "$HOME_ALICE/.ssh"
install -o alice -g alice -m 0600 "$T/alice_key.pub" "$HOME_ALICE/.ssh/authorized_keys"
mkdir -p /run/sshd && chmod 0755 /run/sshd

SSHD_PID=
sshd_stop() {
	[ -n "$SSHD_PID" ] || return 0
	kill "$SSHD_PID" 2>/dev/null
	wait "$SSHD_PID" 2>/dev/null
	SSHD_PID=
}
at_exit sshd_stop

# sshd_start [sshd_config lines...]: the lines first (the first value of a keyword wins),
# then the shipped fragment
sshd_start() {
	sshd_stop
	{
		echo "Port $PORT"
		echo "ListenAddress 127.0.0.1"
		echo "HostKey $T/host_key"
		echo "PidFile $T/sshd.pid"
		echo "UseDNS no"
		echo "PrintMotd no"
		echo "PrintLastLog no"
		echo "PermitRootLogin no"
		echo "LogLevel VERBOSE"
		printf '%s\n' "$@"
		echo "Include $FRAGMENT"
	} >"$T/sshd_config"
	/usr/sbin/sshd -t -f "$T/sshd_config" 2>"$T/sshd.log" || { sed 's/^/# /' "$T/sshd.log"; return 1; }
	/usr/sbin/sshd -D -e -f "$T/sshd_config" 2>>"$T/sshd.log" &
	SSHD_PID=$!
	wait_until 5 sb_port_open "$PORT" && return 0
	sed 's/^/# /' "$T/sshd.log"
	return 1
}

SSH_OPTS=(-F /dev/null -p "$PORT" -o UserKnownHostsFile="$T/known_hosts" -o GlobalKnownHostsFile=/dev/null
	-o StrictHostKeyChecking=no -o IdentityAgent=none -o IdentitiesOnly=yes -o LogLevel=ERROR
	-o NumberOfPasswordPrompts=1 -o ConnectTimeout=10 -o ServerAliveInterval=0)
# ssh_kbd LOG STEP...: keyboard-interactive only, runs `id -Gn`
ssh_kbd() {
	local log=$1
	shift
	sb_drive --timeout 90 --log "$log" "$@" -- ssh "${SSH_OPTS[@]}" -o IdentityFile=none \
		-o PubkeyAuthentication=no -o PreferredAuthentications=keyboard-interactive alice@127.0.0.1 'id -Gn'
}
# ssh_key LOG STEP...: public key first, then keyboard-interactive when the server asks
ssh_key() {
	local log=$1
	shift
	sb_drive --timeout 90 --log "$log" "$@" -- ssh "${SSH_OPTS[@]}" -i "$T/alice_key" \
		-o PreferredAuthentications=publickey,keyboard-interactive alice@127.0.0.1 'id -Gn'
}
# tap_login kbd|key [PASS]: alice logs in, PASS (default: a fresh pass from the mock) typed at
# the module's prompt; how long it took in TIMED_MS
tap_login() {
	ET_TAP=${2:-$(mock_tap alice@contoso.com)}
	timed "ssh_$1" "$T/log" "expect=$PROMPT" sendenv=ET_TAP
}
# code_login [STEP]: alice logs in with a device code (STEP: what the mock does with it)
code_login() { timed ssh_kbd "$T/log" "expect=$PROMPT" send= "expect=Press Enter" "$@" send=; }
session_has_group() { tr -d '\r' <"$1" | grep -qE "(^| )$G( |$)"; }
reset_user() { gsb_grantctl revoke --user "$1" >/dev/null 2>&1; }
PROMPT='Temporary Access Pass for alice@contoso.com'
export ET_TAP

sb_pam sshd <<'EOF'
auth     required @MODULE@ grant
account  required @MODULE@
session  required @MODULE@
EOF

# ---- keyboard-interactive alone: a TAP, then a device code ----
check "sshd starts with keyboard-interactive" sshd_start "AuthenticationMethods keyboard-interactive"

tap_login kbd
is "$?" 0 "ssh with a TAP at the keyboard-interactive prompt: exit 0"
diag "ssh login with a TAP, to the end of \`id -Gn\`: ${TIMED_MS} ms"
check "... the first command's groups include $G" session_has_group "$T/log"
is "$(sb_grant_field alice 'g["service"]')" sshd "... the grant names the sshd service"
is "$(sb_grant_field alice 'g["rhost"]')" 127.0.0.1 "... and the remote address"
is "$(sb_grant_field alice 'g["method"]')" password "... and the method password (a typed secret, not proven a pass)"
check "the pass is not in sshd's log" bash -c '! grep -qF "$ET_TAP" "$1"' _ "$T/sshd.log"
reset_user alice

code_login device=approve:alice@contoso.com
is "$?" 0 "ssh with a device code approved at the mock: exit 0"
diag "ssh login with a device code, to the end of \`id -Gn\`: ${TIMED_MS} ms"
check "... the first command's groups include $G" session_has_group "$T/log"
is "$(sb_grant_field alice 'g["method"]')" device_code "... the grant's method is device_code"
check "... the prompt names the host" grep -qF "$(hostname)" "$T/log"
check "... the service" grep -q "service sshd" "$T/log"
check "... the remote address" grep -qF "from 127.0.0.1" "$T/log"
check "... a request id" grep -qE "request [0-9a-f]{8}" "$T/log"
check "... and says only to continue if you started it" grep -q "Only continue if you started this on" "$T/log"
reset_user alice

# declined and expired codes: a refusal soon after Enter, no grant
for how in decline expire; do
	code_login device=$how
	is "$?" 255 "a device code the mock was told to $how: ssh fails (255)"
	check "... within 15 s: ${TIMED_MS} ms" test "$TIMED_MS" -lt 15000
	is "$(sb_grants alice)" 0 "... no grant"
	check_not "... alice is not in $G" sb_in_group alice
done

# nobody approves: the module's own deadline (device_code_timeout, here its minimum of 10 s)
# ends the wait well inside sshd's LoginGraceTime
sb_config device_code_timeout 10s
code_login
rc=$? ms=$TIMED_MS
sb_config device_code_timeout 90s
is "$rc" 255 "a device code nobody approves: ssh fails (255)"
# the wait ends at the deadline, or at the last poll when the next one could not come
# before it (polls every 5 s here): never later than the deadline
check "... by device_code_timeout (10 s), after at least one poll interval: ${ms} ms" \
	test "$ms" -ge 4500 -a "$ms" -lt 12000
is "$(sb_grants alice)" 0 "... no grant"

tap_login kbd WRONG0PASS1
is "$?" 255 "a wrong TAP: ssh fails (255)"
check "... within 10 s: ${TIMED_MS} ms" test "$TIMED_MS" -lt 10000
is "$(sb_grants alice)" 0 "... no grant"

# a login refused after authentication (account phase) leaves no grant behind, although the
# grant was made in sshd's authentication child: sshd runs pam_acct_mgmt in that child too,
# which exits without pam_end, and hands nothing back to the connection process when the
# account stack refuses. The grant's guard revokes it when the connection process ends.
# grants_gone USER: wait (at most 5 s) for USER's grants to be gone; prints the count left
grants_gone() {
	wait_until 5 no_grants "$1" >&2
	sb_grants "$1"
}
no_grants() { [ "$(sb_grants "$1")" = 0 ]; }
# guard_done: the guard of alice's newest grant has ended (whatever it was to revoke is revoked)
guard_done() { ! pgrep -f "entra-tap-grantctl guard $(sb_grant_field alice 'g["id"]') " >/dev/null; }
no_marker() { [ -z "$(ls -A /var/lib/entra-tap/pending 2>/dev/null)" ]; }
for how in required requisite; do
	sb_pam sshd <<EOF
auth     required @MODULE@ grant
account  $how pam_deny.so
account  required @MODULE@
session  required @MODULE@
EOF
	t0=$(now_ns)
	tap_login kbd
	is "$?" 255 "a TAP login that the account phase refuses (pam_deny, $how, before the module): ssh fails (255)"
	is "$(grants_gone alice)" 0 "... no grant is left behind"
	diag "... gone $(ms_since "$t0") ms after the login started"
	check_not "... alice is not in $G" sb_in_group alice
	check "... the pending marker is gone too" no_marker
	reset_user alice
done
# the same with the refusal after the module
sb_pam sshd <<'EOF'
auth     required @MODULE@ grant
account  required @MODULE@
account  required pam_deny.so
session  required @MODULE@
EOF
tap_login kbd
is "$?" 255 "a TAP login refused by pam_deny after the module's account check: ssh fails (255)"
is "$(grants_gone alice)" 0 "... no grant is left behind"
reset_user alice
# control: a login that succeeds keeps its grant after the connection has ended (opening the
# session settled it: the guard stands down)
sb_pam sshd <<'EOF'
auth     required @MODULE@ grant
account  required @MODULE@
session  required @MODULE@
EOF
tap_login kbd
is "$?" 0 "control: a TAP login that succeeds"
wait_until 5 guard_done
is "$(sb_grants alice)" 1 "control: ... its grant outlives the connection"
check "control: ... and alice stays in $G" sb_in_group alice
check "control: ... no pending marker is left" no_marker
reset_user alice
# the same without the module's session line: sshd's pam_setcred (through the auth line) settles
# the grant in the connection process
sb_pam sshd <<'EOF'
auth     required @MODULE@ grant
account  required @MODULE@
session  required pam_permit.so
EOF
tap_login kbd
is "$?" 0 "control: a TAP login that succeeds, no session line of the module"
wait_until 5 guard_done
is "$(sb_grants alice)" 1 "control: ... its grant outlives the connection (setcred settled it)"
check "control: ... no pending marker is left" no_marker
reset_user alice

# ---- the shipped fragment: publickey, then keyboard-interactive (for $USERS) ----
gpasswd -a alice "$USERS" >/dev/null
check "sshd starts with the shipped fragment" sshd_start
tap_login key
is "$?" 0 "publickey,keyboard-interactive: key and TAP log in"
diag "ssh login with a key and a TAP: ${TIMED_MS} ms"
check "... the first command's groups include $G" session_has_group "$T/log"
reset_user alice
mock_ctl stats/reset >/dev/null
ssh_kbd "$T/log"
rc=$?
is "$rc" 255 "publickey,keyboard-interactive: keyboard-interactive alone is refused"
check "... before any prompt of the module" bash -c '! grep -q "Temporary Access Pass" "$1"' _ "$T/log"
is "$(mock_ctl stats | "$PYTHON3" -c 'import json,sys; d=json.load(sys.stdin)["requests"]; print(d["devicecode"] + d["token"])')" 0 \
	"... and the identity provider was not asked anything"
gpasswd -d alice "$USERS" >/dev/null

# require_prior_publickey: the module itself refuses a login that did not start with a key
sb_pam sshd <<'EOF'
auth     required @MODULE@ grant require_prior_publickey
account  required @MODULE@
session  required @MODULE@
EOF
check "sshd starts with keyboard-interactive alone" sshd_start "AuthenticationMethods keyboard-interactive"
ssh_kbd "$T/log"
is "$?" 255 "require_prior_publickey: keyboard-interactive alone is refused by the module"
is "$(sb_grants alice)" 0 "... no grant"
check "sshd starts with the shipped fragment" sshd_start
gpasswd -a alice "$USERS" >/dev/null
tap_login key
is "$?" 0 "require_prior_publickey: after a key, the TAP logs in (alice in $USERS)"
gpasswd -d alice "$USERS" >/dev/null
reset_user alice

# ---- expiry: the grant made at login ends, and the account phase refuses the next login
# until it has been revoked (no timers in this sandbox: the account phase is what acts) ----
sb_pam sshd <<'EOF'
auth     required @MODULE@ grant
account  required pam_unix.so
account  required @MODULE@
session  required @MODULE@
EOF
check "sshd starts with publickey or keyboard-interactive" \
	sshd_start "AuthenticationMethods publickey keyboard-interactive"
# 2 s: the account phase, right after the sign-in, still finds the grant live
sb_config duration_default 2s
tap_login kbd
is "$?" 0 "a TAP login with duration_default = 2s"
check "... the session has $G" session_has_group "$T/log"
sleep_until "$(sb_grant_field alice 'g["expires"]')"
ssh_key "$T/log"
is "$?" 255 "after the grant's expiry, the next login (with a key) is refused by the account phase"
is "$(sb_grants alice)" 0 "... which revoked the expired grant"
check_not "... alice is no longer in $G" sb_in_group alice
ssh_key "$T/log"
is "$?" 0 "then a key login works again"
check_not "... without $G" session_has_group "$T/log"
sb_config duration_default 1h

# ---- setcred: a stale member loses the elevated gid ----
# publickey only, so that neither the auth nor the account phase of the module runs: what
# removes the gid is pam_sm_setcred, called by sshd after initgroups()
check "sshd starts with publickey alone" sshd_start "AuthenticationMethods publickey"
stale() { gpasswd -a alice "$G" >/dev/null; }
sb_pam sshd <<'EOF'
auth     required pam_permit.so
account  required pam_permit.so
session  required pam_permit.so
EOF
stale
ssh_key "$T/log"
is "$?" 0 "control: a stale member logs in with a key, no module in the stack"
check "control: ... and the session has $G (so the next check can fail)" session_has_group "$T/log"
sb_pam sshd <<'EOF'
auth     required @MODULE@
account  required pam_permit.so
session  required pam_permit.so
EOF
ssh_key "$T/log"
is "$?" 0 "a stale member logs in with a key, the module's setcred in the stack"
check_not "... setcred dropped $G from the session's groups" session_has_group "$T/log" || sed 's/^/#   /' "$T/log"
check "... while the group file still lists alice (nothing else removed it)" sb_in_group alice
gpasswd -d alice "$G" >/dev/null

# a live grant keeps the gid through setcred
gsb_grantctl grant alice --duration 10m >/dev/null 2>&1
ssh_key "$T/log"
is "$?" 0 "a user with a live grant logs in with a key"
check "... and keeps $G through setcred" session_has_group "$T/log"
reset_user alice

# ---- the shipped fragment and the README's PAM lines: only $USERS is asked ----
sb_useradd --login robot
HOME_ROBOT=$GSB_DIR/home/robot
ssh-keygen -q -t ed25519 -N '' -f "$T/robot_key" || fail "ssh-keygen failed"
install -d -o robot -g robot -m 0700 "$HOME_ROBOT/.ssh"
install -o robot -g robot -m 0600 "$T/robot_key.pub" "$HOME_ROBOT/.ssh/authorized_keys"
gpasswd -a alice "$USERS" >/dev/null
# README, "Setting up sshd", with pam_deny for common-auth (nobody logs in by password here)
# and pam_permit for common-account and common-session
sb_pam sshd <<'EOF'
auth     [success=1 default=ignore]  pam_succeed_if.so quiet user notingroup entra-tap-users
auth     [success=done default=die]  @MODULE@ grant require_prior_publickey
auth     requisite pam_deny.so
account  required pam_permit.so
account  [success=1 default=ignore]  pam_succeed_if.so quiet user notingroup entra-tap-users
account  required @MODULE@ no_grant=ignore
session  required pam_permit.so
session  [success=1 default=ignore]  pam_succeed_if.so quiet user notingroup entra-tap-users
session  optional @MODULE@
EOF
check "sshd starts with the shipped fragment alone" sshd_start
ssh_robot() {
	sb_drive --timeout 30 --log "$1" -- ssh "${SSH_OPTS[@]}" -i "$T/robot_key" \
		-o PreferredAuthentications="$2" robot@127.0.0.1 'id -un'
}
ssh_robot "$T/log" publickey
is "$?" 0 "a key-only automation user outside $USERS logs in with its key"
check "... and its command ran" grep -q '^robot' <(tr -d '\r' <"$T/log")
check_not "... it was never asked for an Entra sign-in" grep -qF "Temporary Access Pass" "$T/log"
is "$(sb_grants robot)" 0 "... and got no grant"
ssh_robot "$T/log" keyboard-interactive
is "$?" 255 "keyboard-interactive for a user outside $USERS: no way in (the module is skipped, common-auth refuses)"
check_not "... and no Entra prompt either" grep -qF "Temporary Access Pass" "$T/log"
sb_drive --timeout 30 --log "$T/log" -- ssh "${SSH_OPTS[@]}" -i "$T/alice_key" \
	-o PreferredAuthentications=publickey alice@127.0.0.1 'id -Gn'
is "$?" 255 "a member of $USERS cannot log in with a key alone"
tap_login key
is "$?" 0 "a member of $USERS logs in with a key and then a TAP"
check "... and has $G from the first command" session_has_group "$T/log"
reset_user alice
gpasswd -d alice "$USERS" >/dev/null

sshd_stop
done_testing
