#!/bin/bash
# Real sudo with pam_entra_tap.so in /etc/pam.d/sudo, the shipped sudoers line for the
# elevated group and `Set group_source dynamic` in sudo.conf, against the mock Entra ID:
#   - without a grant, sudo refuses;
#   - a grant made while the user's shell runs counts at once (group_source dynamic), and a
#     Temporary Access Pass at sudo's prompt authenticates;
#   - the cached timestamp then skips the prompt, but once the grant has expired the account
#     phase refuses even with that timestamp, and revokes the grant on the spot;
#   - a wrong pass is refused; with pam_permit in the account stack instead (control), the
#     expired grant would have let sudo through: the account phase is what refuses.
. "$(dirname "$0")/pam_sandbox.sh"
psb_enter "$@"
T=$PSB_T
G=$GSB_GROUP
command -v sudo >/dev/null || _psb_cannot "needs sudo"
command -v visudo >/dev/null || _psb_cannot "needs visudo"

# sudo.conf and sudoers as shipped in data/
touch /etc/sudo.conf
cat "$top_srcdir/data/sudo.conf.entra-tap" >>/etc/sudo.conf
sed "s/%entra-admins/%$G/" "$top_srcdir/data/sudoers.d/entra-tap" >/etc/sudoers.d/entra-tap
chmod 0440 /etc/sudoers.d/entra-tap
check "the shipped sudoers line passes visudo -c" visudo -cqf /etc/sudoers.d/entra-tap
# no lecture in the transcripts
printf 'Defaults lecture=never\nDefaults passwd_tries=1\n' >/etc/sudoers.d/zz-test
chmod 0440 /etc/sudoers.d/zz-test

sudo_stack() { # sudo_stack ACCOUNT-MODULE
	psb_pam sudo <<EOF
auth     required @MODULE@
account  required $1
session  required pam_permit.so
EOF
}
sudo_stack @MODULE@
reset_user() { gsb_helper revoke --user "$1" >/dev/null 2>&1; }
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

# the grant lasts 8 s from when alice's shell has started; then wait for its end
GRANT_S=8
ET_TAP=$(psb_tap alice@contoso.com)
t0=$(psb_now)
psb_drive --timeout 60 --log "$T/log" "expect=NOGRANT-RC=" \
	"run=$GSB_BIN grant alice --duration ${GRANT_S}s >/dev/null 2>&1 && date +%s >$T/granted" send= \
	"expect=$PROMPT" sendenv=ET_TAP "expect=CACHED-RC=" \
	"run=while [ \$(date +%s) -le \$((\$(cat $T/granted) + $GRANT_S)) ]; do sleep 0.2; done" send= \
	"expect=AFTER-RC=" -- "${as_alice[@]}"
rc=$?
diag "sudo session: $(psb_ms_since "$t0") ms in all (the grant lasts ${GRANT_S}s)"
is "$rc" 0 "alice's shell ran to the end"
check "without a grant, sudo -n refuses" test "$(rc_of NOGRANT "$T/log")" = 1
is "$(rc_of TAP "$T/log")" 0 "a grant made after the shell started counts (group_source dynamic); the TAP at sudo's prompt authenticates"
check "... and the command ran as root" grep -qx $'0\r' "$T/log"
is "$(rc_of CACHED "$T/log")" 0 "within the timestamp, sudo -n runs without a prompt"
is "$(grep -c "$PROMPT" "$T/log")" 1 "... the module prompted once in all"
is "$(rc_of EXPIRED "$T/log")" 1 "after the grant's expiry, the cached timestamp does not help: refused"
check "... by the account phase: the module's sentence, then sudo's account error" \
	bash -c 'tr -d "\r" <"$1" | grep -A1 "has expired" | grep -q "PAM account management error"' _ "$T/log"
is "$(psb_grants alice)" 0 "... which revoked the expired grant on the spot"
if psb_in_group alice; then not_ok "... alice is no longer in $G"; else ok "... alice is no longer in $G"; fi
is "$(rc_of AFTER "$T/log")" 1 "the next sudo is refused as well"
check "the pass is not in the transcript" bash -c '! grep -qF "$ET_TAP" "$1"' _ "$T/log"

# ---- a wrong pass ----
gsb_helper grant alice --duration 10m >/dev/null 2>&1
ET_TAP=WRONG0PASS1
t0=$(psb_now)
psb_drive --timeout 60 --log "$T/log" "expect=$PROMPT" sendenv=ET_TAP "expect=WRONG-RC=" -- \
	setpriv --reuid=alice --regid=alice --init-groups -- bash --norc -c 'sudo id -u; echo "WRONG-RC=$?"'
ms=$(psb_ms_since "$t0")
is "$(rc_of WRONG "$T/log")" 1 "a wrong TAP at sudo's prompt: refused"
check "... within 10 s: ${ms} ms" test "$ms" -lt 10000
reset_user alice

# ---- control: without the module in the account stack, the expired grant passes ----
sudo_stack pam_permit.so
GRANT_S=4
ET_TAP=$(psb_tap alice@contoso.com)
psb_drive --timeout 60 --log "$T/log" "expect=NOGRANT-RC=" \
	"run=$GSB_BIN grant alice --duration ${GRANT_S}s >/dev/null 2>&1 && date +%s >$T/granted" send= \
	"expect=$PROMPT" sendenv=ET_TAP "expect=CACHED-RC=" \
	"run=while [ \$(date +%s) -le \$((\$(cat $T/granted) + $GRANT_S)) ]; do sleep 0.2; done" send= \
	"expect=AFTER-RC=" -- "${as_alice[@]}"
is "$(rc_of EXPIRED "$T/log")" 0 "control: pam_permit in the account stack lets the expired grant's member through"
reset_user alice

tap_done
