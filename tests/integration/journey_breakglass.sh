#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Journey: break-glass while Entra ID cannot be reached. The key holder made a key pair off
# the host (`entra-tap breakglass keygen`, here outside the sandbox) and the host lists the
# public key in breakglass_keys. Entra ID goes down (the mock resets every connection); the
# key holder issues alice a voucher for this host; alice runs `entra-tap-helper elevate`, the
# sign-in cannot reach Entra ID, the prompt asks for a voucher, she pastes it: a grant of the
# voucher's length with method breakglass, sudo works, the grant's own systemd timer ends it,
# and the voucher cannot be used again. The journal holds the voucher's ALERT entries (their
# own MESSAGE_IDs, PRIORITY 1, key id, voucher id, user, hosts, reasons; never the voucher).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/journey_sandbox.sh"
jny_enter "$@"
. "$_jny_here/journey_steps.sh"
GRANT_S=10
msgid_of() { sed -n "s/.*\[ET_AUDIT_$1\] = { \"\([0-9a-f]\{32\}\)\".*/\1/p" "$top_srcdir/common/audit.c"; }
M_ACCEPTED=$(msgid_of VOUCHER_ACCEPTED)
M_REFUSED=$(msgid_of VOUCHER_REFUSED)
K=$(sb_tmpdir)
VOUCHER_RE='Entra ID cannot be reached from .*Paste a break-glass voucher for alice@contoso\.com \(Enter to give up\): '

jny_say "the key holder makes a key pair on an offline machine; the host trusts its public key"
PUB=$("$ENTRA_TAP" breakglass keygen --out "$K/key.pem" 2>/dev/null)
check "keygen printed the public key" -- test -n "$PUB"
sb_config breakglass_keys "$PUB"
"$ENTRA_TAP" check-config --config "$SB_ETC/security/pam_entra_tap.conf" >"$K/conf.out" 2>&1
check "the host's configuration lists it and is valid" -- grep -qxF "breakglass_keys = $PUB" "$K/conf.out"
KID=$("$PYTHON3" -c 'import base64,hashlib,sys; k=sys.argv[1][8:]; print(hashlib.sha256(base64.urlsafe_b64decode(k+"="*(-len(k)%4))).digest()[:8].hex())' "$PUB")

eng_begin
jny_say "Entra ID becomes unreachable"
mock_ctl down '{"mode":"reset"}' >/dev/null
check "the mock Entra ID is down" -- mock_ctl down '{"mode":"reset"}'
HOST=$(sbx_exec uname -n | cut -d. -f1)
jny_say "the key holder issues alice a voucher for $HOST: ${GRANT_S}s of elevation, valid for an hour"
V=$("$ENTRA_TAP" breakglass issue --key "$K/key.pem" --user alice --host "$HOST" --duration "${GRANT_S}s" \
	--valid 1h --reason "INC-9 Entra ID outage" 2>/dev/null)
check "the voucher was issued" -- grep -Eq '^EBG1\.' <<<"$V"
JTI=$("$PYTHON3" -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"="*(-len(p)%4)))["jti"])' "$V")

# elevate: Enter at the pass prompt (a device sign-in), which cannot reach Entra ID
elevate_with_voucher() {
	jny_shell_send 'entra-tap-helper elevate --reason "database down"'
	jny_shell_expect "$ENG_PROMPT_RE" 20 || return 1
	jny_shell_echo_off
	jny_shell_type ''
	jny_shell_expect "$VOUCHER_RE" 30 || return 1
	jny_show "$(_jny_sh_new | grep -F 'break-glass voucher')"
	jny_shell_echo_off
	jny_shell_type "$V"
	jny_shell_wait 30
	jny_show "$JNY_OUT"
}
jny_say "alice asks for elevation; the sign-in cannot reach Entra ID and the prompt asks for a voucher"
elevate_with_voucher
ok $? "the prompt says Entra ID cannot be reached and asks for a voucher"
is "$JNY_RC" 0 "elevate with the voucher exits 0"
ENG_GRANT=$(printf '%s\n' "$JNY_OUT" | grep -oE "grant [0-9a-f]{32}" | tail -1 | cut -d' ' -f2)
check "it prints the grant" -- test -n "$ENG_GRANT"
is "$(sb_grant_field "$ENG_GRANT" 'g["method"]')" breakglass "the grant's method is breakglass"
exp=$(sb_grant_field "$ENG_GRANT" 'g["expires"]')
created=$(sb_grant_field "$ENG_GRANT" 'g["created"]')
is "$((exp - created))" "$GRANT_S" "the grant lasts the voucher's ${GRANT_S}s"
! grep -qF "$V" "$JNY_SH_LOG"
ok $? "the voucher is not echoed on the terminal"
eng_status
eng_sudo ok
eng_expiry
eng_sudo refused

jny_say "the same voucher a second time"
elevate_with_voucher
ok $? "the prompt asks for a voucher again"
check_not "elevate with a used voucher fails" -- test "$JNY_RC" = 0
check "it says the voucher was used" -- grep -q "redeemed on this host already" <<<"$JNY_OUT"
is "$(sb_grants --live alice)" 0 "no grant"

# ---- the journal ----
# journald may still be writing the last entry
wait_until 5 sbx_exec sh -c "journalctl --no-pager -q MESSAGE_ID=$M_REFUSED | grep -q ."
acc=$(sbx_journal_json MESSAGE_ID="$M_ACCEPTED" 2>/dev/null | tail -1)
ref=$(sbx_journal_json MESSAGE_ID="$M_REFUSED" 2>/dev/null | tail -1)
jf() { printf '%s' "$1" | jget /dev/stdin "d.get(\"$2\", \"\")"; }
check "the journal holds a voucher_accepted entry" -- test -n "$acc"
is "$(jf "$acc" PRIORITY)" 1 "voucher_accepted: PRIORITY 1 (LOG_ALERT)"
is "$(jf "$acc" ENTRA_TAP_EVENT)" voucher_accepted "voucher_accepted: ENTRA_TAP_EVENT"
is "$(jf "$acc" ENTRA_TAP_VOUCHER_KID)" "$KID" "voucher_accepted: the key id"
is "$(jf "$acc" ENTRA_TAP_VOUCHER_JTI)" "$JTI" "voucher_accepted: the voucher id"
is "$(jf "$acc" ENTRA_TAP_VOUCHER_SUB)" alice "voucher_accepted: the voucher's user"
is "$(jf "$acc" ENTRA_TAP_VOUCHER_HOSTS)" "$HOST" "voucher_accepted: the voucher's hosts"
is "$(jf "$acc" ENTRA_TAP_VOUCHER_REASON)" "INC-9 Entra ID outage" "voucher_accepted: the voucher's reason"
check "the journal holds a voucher_refused entry" -- test -n "$ref"
is "$(jf "$ref" PRIORITY)" 1 "voucher_refused: PRIORITY 1 (LOG_ALERT)"
is "$(jf "$ref" ENTRA_TAP_REASON)" voucher_replayed "voucher_refused: the refusal reason"
is "$(jf "$ref" ENTRA_TAP_VOUCHER_JTI)" "$JTI" "voucher_refused: the voucher id"
all=$(sbx_journal_json SYSLOG_IDENTIFIER=entra-tap 2>/dev/null)
! grep -qF "${V##*.}" <<<"$all"
ok $? "no journal entry holds the voucher's signature"
g=$(sbx_journal_json ENTRA_TAP_GRANT_ID="$ENG_GRANT" ENTRA_TAP_EVENT=grant 2>/dev/null | tail -1)
is "$(jf "$g" ENTRA_TAP_METHOD)" breakglass "the grant entry names the method breakglass"
b=$(sbx_journal_json ENTRA_TAP_GRANT_ID="$ENG_GRANT" ENTRA_TAP_EVENT=breakglass 2>/dev/null | tail -1)
is "$(jf "$b" PRIORITY)" 1 "a breakglass entry at LOG_ALERT marks the grant's start"
r=$(sbx_journal_json ENTRA_TAP_GRANT_ID="$ENG_GRANT" ENTRA_TAP_EVENT=revoke 2>/dev/null | tail -1)
is "$(jf "$r" ENTRA_TAP_REASON)" expiry "the grant ended by its timer (revoke, cause expiry)"
done_testing
