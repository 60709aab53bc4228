#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Real sudo with pam_entra_tap.so in /etc/pam.d/sudo, the shipped sudoers line for the
# elevated group and `Set group_source dynamic` in sudo.conf, against the mock Entra ID:
#   - without a grant, sudo refuses;
#   - a grant made while the user's shell runs counts at once (group_source dynamic), and a
#     Temporary Access Pass at sudo's prompt authenticates;
#   - the cached timestamp then skips the prompt, but once the grant has expired the account
#     phase refuses even with that timestamp, and revokes the grant on the spot;
#   - a wrong pass is refused; with pam_permit in the account stack instead (control), the
#     expired grant would have let sudo through: the account phase is what refuses.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/pam_sandbox.sh"
psb_enter "$@"
T=$PSB_T
G=$GSB_GROUP
require_cmd sudo visudo

# sudo.conf and sudoers as shipped in data/ (no lecture in the transcripts), one try
sb_sudo
check "the shipped sudoers line passes visudo -c" visudo -cqf /etc/sudoers.d/entra-tap
printf 'Defaults passwd_tries=1\n' >>/etc/sudoers.d/zz-sandbox

sudo_stack() { # sudo_stack ACCOUNT-MODULE
	sb_pam sudo <<EOF
auth     required @MODULE@
account  required $1
session  required pam_permit.so
EOF
}
sudo_stack @MODULE@
reset_user() { gsb_grantctl revoke --user "$1" >/dev/null 2>&1; }
PROMPT='Temporary Access Pass for alice@contoso.com'
export ET_TAP

# alice's shell, on one terminal (sudo's timestamps are per terminal): each sudo prints a
# marker with its exit status. It waits for a line on stdin between the steps.
SCRIPT='
sudo -n id -u; echo "NOGRANT-RC=$?"
read -r _
sudo id -u; echo "TAP-RC=$?"
sudo -n id -u; echo "CACHED-RC=$?"
read -r _
sudo -n id -u; echo "EXPIRED-RC=$?"
sudo -n id -u; echo "AFTER-RC=$?"
'
as_alice=(setpriv --reuid=alice --regid=alice --init-groups -- bash --norc --noprofile -c "$SCRIPT")
rc_of() { tr -d '\r' <"$2" | sed -n "s/^$1-RC=//p" | head -1; }
# sudo_session SECS: alice's shell on a terminal; once it has started, a grant of SECS
# seconds, her pass at sudo's prompt, the cached sudo, then on when the grant has expired
# (its expiry is at most SECS after the `date` that follows the grant)
sudo_session() {
	ET_TAP=$(mock_tap alice@contoso.com)
	timed sb_drive --timeout 60 --log "$T/log" "expect=NOGRANT-RC=" \
		"run=$GSB_BIN grant alice --duration ${1}s >/dev/null 2>&1 && echo \$((\$(date +%s) + $1)) >$T/expires" send= \
		"expect=$PROMPT" sendenv=ET_TAP "expect=CACHED-RC=" \
		"run=while [ \$(date +%s) -lt \$(cat $T/expires) ]; do sleep 0.05; done" send= \
		"expect=AFTER-RC=" -- "${as_alice[@]}"
}

# the grant must outlast the sudo with the pass and the cached one (about 1 s), no more
GRANT_S=5
sudo_session "$GRANT_S"
rc=$?
diag "sudo session: ${TIMED_MS} ms in all (the grant lasts ${GRANT_S}s)"
is "$rc" 0 "alice's shell ran to the end"
check "without a grant, sudo -n refuses" test "$(rc_of NOGRANT "$T/log")" = 1
is "$(rc_of TAP "$T/log")" 0 "a grant made after the shell started counts (group_source dynamic); the TAP at sudo's prompt authenticates"
check "... and the command ran as root" grep -qx $'0\r' "$T/log"
is "$(rc_of CACHED "$T/log")" 0 "within the timestamp, sudo -n runs without a prompt"
is "$(grep -c "$PROMPT" "$T/log")" 1 "... the module prompted once in all"
is "$(rc_of EXPIRED "$T/log")" 1 "after the grant's expiry, the cached timestamp does not help: refused"
check "... by the account phase: the module's sentence, then sudo's account error" \
	bash -c 'tr -d "\r" <"$1" | grep -A1 "has expired" | grep -q "PAM account management error"' _ "$T/log"
is "$(sb_grants alice)" 0 "... which revoked the expired grant on the spot"
check_not "... alice is no longer in $G" sb_in_group alice
is "$(rc_of AFTER "$T/log")" 1 "the next sudo is refused as well"
check "the pass is not in the transcript" bash -c '! grep -qF "$ET_TAP" "$1"' _ "$T/log"

# ---- a wrong pass ----
gsb_grantctl grant alice --duration 10m >/dev/null 2>&1
ET_TAP=WRONG0PASS1
timed sb_drive --timeout 60 --log "$T/log" "expect=$PROMPT" sendenv=ET_TAP "expect=WRONG-RC=" -- \
	setpriv --reuid=alice --regid=alice --init-groups -- bash --norc -c 'sudo id -u; echo "WRONG-RC=$?"'
is "$(rc_of WRONG "$T/log")" 1 "a wrong TAP at sudo's prompt: refused"
check "... within 10 s: ${TIMED_MS} ms" test "$TIMED_MS" -lt 10000
reset_user alice

# ---- control: without the module in the account stack, the expired grant passes ----
sudo_stack pam_permit.so
# nothing here needs the grant live: the shortest that leaves room for the sign-in
sudo_session 2
is "$(rc_of EXPIRED "$T/log")" 0 "control: pam_permit in the account stack lets the expired grant's member through"
reset_user alice

done_testing
