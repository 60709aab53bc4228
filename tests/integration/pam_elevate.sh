#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `entra-tap-helper elevate` end to end: a user runs the setuid helper, which runs the
# entra-tap PAM service (pam_entra_tap.so with `grant`) for the caller's real uid against the
# mock Entra ID; the grant is for the duration asked, clamped by policy; a wrong pass, an
# ineligible user, an unreachable identity provider and a cancelled prompt each give one
# clear sentence, their own exit status and no grant.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/pam_sandbox.sh"
psb_enter "$@"
T=$PSB_T
G=$GSB_GROUP

# the shipped service file, with the module named by its path in the build tree
sb_pam entra-tap <"$top_srcdir/data/pam.d/entra-tap"
check "the shipped entra-tap service uses the module with grant" grep -qE "^auth .*$SB_MODULE grant" /etc/pam.d/entra-tap

as_user() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; }
# elevate USER LOG STEP... [-- ARGS]: the helper as USER on a terminal, driven by STEPs
elevate() {
	local u=$1 log=$2 steps=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do steps+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	sb_drive --timeout 60 --log "$log" "${steps[@]}" -- setpriv --reuid="$u" --regid="$u" --init-groups -- \
		"$GSB_HELPER_BIN" elevate "$@"
}
reset_user() { gsb_grantctl revoke --user "$1" >/dev/null 2>&1; }
PROMPT='Temporary Access Pass for alice@contoso.com'
export ET_TAP
# alice_with PASS [-- ARGS]: alice's elevate [ARGS] on a terminal, PASS typed at the prompt;
# its exit status, and how long it took in TIMED_MS
alice_with() {
	ET_TAP=$1
	shift
	timed elevate alice "$T/log" "expect=$PROMPT" sendenv=ET_TAP "$@"
}

# ---- bad arguments: refused before any sign-in, exit 2 ----
as_user alice "$GSB_HELPER_BIN" elevate --duration soon </dev/null >/dev/null 2>"$T/err"
is "$?" 2 "elevate --duration soon: exit 2"
check "... says what a duration looks like" grep -q "is not a duration" "$T/err"
as_user alice "$GSB_HELPER_BIN" elevate --reason "$(printf 'x%.0s' $(seq 1 300))" </dev/null >/dev/null 2>"$T/err"
is "$?" 2 "a reason over 256 bytes: exit 2"
as_user alice "$GSB_HELPER_BIN" elevate --reason "$(printf 'two\nlines')" </dev/null >/dev/null 2>"$T/err"
is "$?" 2 "a reason with a newline: exit 2"
check "... says it must be one printable line" grep -q "one line of printable text" "$T/err"
as_user alice "$GSB_HELPER_BIN" elevate --for-ever </dev/null >/dev/null 2>"$T/err"
is "$?" 2 "an unknown option: exit 2"
is "$(sb_grants alice)" 0 "no grant after refused arguments"

# ---- a TAP at the prompt, default duration ----
alice_with "$(mock_tap alice@contoso.com)"
is "$?" 0 "elevate with a TAP: exit 0"
diag "elevate with a TAP: ${TIMED_MS} ms (pty, PAM, password grant, verify, helper grant)"
check "... prints group, local expiry, time left and grant id" \
	grep -qE "^group $G until [0-9-]+ [0-9:]+ [A-Z+0-9-]+ \(([0-9]+h [0-9]+m|59m [0-9]+s) left\), grant [0-9a-f]{32}" "$T/log"
check "... alice is in $G at once" sb_in_group alice
is "$(sb_grant_field alice 'g["expires"] - g["created"]')" 3600 "... for duration_default (1h)"
is "$(sb_grant_field alice 'g["service"]')" entra-tap "... the grant names the entra-tap service"
is "$(sb_grant_field alice 'g["method"]')" password "... and the method password (a typed secret, not proven a pass)"
id=$(grep -oE 'grant [0-9a-f]{32}' "$T/log" | tail -1 | cut -d' ' -f2)
is "$(sb_grant_field alice 'g["id"]')" "$id" "... the printed id is the grant in the store"
check "the pass is not in the transcript" bash -c '! grep -qF "$ET_TAP" "$1"' _ "$T/log"
check "the pass is not in the mock's log" bash -c '! grep -qF "$ET_TAP" "$ET_MOCK_DIR/mock.log"'
reset_user alice

# ---- the duration asked, and the policy's clamp ----
alice_with "$(mock_tap alice@contoso.com)" -- --duration 30m --reason "deploy #42"
is "$?" 0 "elevate --duration 30m --reason: exit 0"
is "$(sb_grant_field alice 'g["expires"] - g["created"]')" 1800 "... the grant lasts 30 minutes"
is "$(sb_grant_field alice 'g["reason"]')" "deploy #42" "... with the reason given"
reset_user alice
alice_with "$(mock_tap alice@contoso.com)" -- --duration 2d
is "$?" 0 "elevate --duration 2d: exit 0"
is "$(sb_grant_field alice 'g["expires"] - g["created"]')" 28800 "... clamped to duration_max (8h)"
check "... and says so" grep -q "outside the allowed 1s..28800s" "$T/log"
reset_user alice

# ---- a device code, approved at the mock ----
timed elevate alice "$T/log" "expect=$PROMPT" send= "expect=Press Enter" device=approve:alice@contoso.com send= -- \
	--duration 10m
is "$?" 0 "elevate with a device code approved at the mock: exit 0"
diag "elevate with a device code: ${TIMED_MS} ms"
is "$(sb_grant_field alice 'g["method"]')" device_code "... the grant's method is device_code"
is "$(sb_grant_field alice 'g["expires"] - g["created"]')" 600 "... for the 10 minutes asked"
reset_user alice

# ---- failures: one sentence, an exit status of their own, no grant ----
alice_with WRONG0PASS1
is "$?" 3 "a wrong TAP: exit 3 (denied)"
check "... says the sign-in failed and nothing was granted" \
	grep -q "entra-tap-helper: elevate: the sign-in failed: no grant was made" "$T/log"
is "$(grep -c 'entra-tap-helper:' "$T/log")" 1 "... in one sentence from the helper"
is "$(sb_grants alice)" 0 "... no grant"
check_not "... alice is not in $G" sb_in_group alice
diag "wrong TAP refused in ${TIMED_MS} ms"

export ET_TAP_BOB
ET_TAP_BOB=$(mock_tap bob@contoso.com)
elevate bob "$T/log" "expect=Temporary Access Pass for bob@contoso.com" sendenv=ET_TAP_BOB
rc=$?
check "bob (in no eligible group) is refused with a non-zero exit ($rc)" test "$rc" -ne 0 -a "$rc" -lt 200
check "... with the helper's one sentence" grep -qE "entra-tap-helper: elevate: .*no grant was made" "$T/log"
is "$(sb_grants bob)" 0 "... no grant for bob"

# unreachable WHAT LO HI FAULT JSON: with the mock's FAULT, alice's elevate with a pass ends
# with exit 10 and the helper's sentence, in LO to HI ms, and no grant
unreachable() {
	local what=$1 lo=$2 hi=$3 rc
	mock_ctl "$4" "$5" >/dev/null
	alice_with "$(mock_tap alice@contoso.com 2>/dev/null || echo UNUSED0PASS)"
	rc=$?
	mock_ctl up >/dev/null
	is "$rc" 10 "$what: exit 10"
	check "... says it could not be reached" \
		grep -q "elevate: the identity provider could not be reached: no grant was made" "$T/log"
	check "... within http_timeout (5 s) and a margin: ${TIMED_MS} ms" test "$TIMED_MS" -ge "$lo" -a "$TIMED_MS" -lt "$hi"
	is "$(sb_grants alice)" 0 "... no grant"
}
unreachable "identity provider down" 0 8000 down '{"mode": "reset"}'
unreachable "an identity provider slower than http_timeout" 4500 9000 latency '{"seconds": 20, "endpoints": ["token"]}'

# the person gives up at the prompt (end of input)
sb_drive --timeout 30 --log "$T/log" "expect=$PROMPT" -- bash -c \
	'setpriv --reuid=alice --regid=alice --init-groups -- "$1" elevate </dev/null' _ "$GSB_HELPER_BIN"
rc=$?
is "$rc" 1 "no answer at the prompt (end of input): exit 1"
check "... says the sign-in was cancelled" grep -q "elevate: the sign-in was cancelled: no grant was made" "$T/log"
is "$(sb_grants alice)" 0 "... no grant"

# ---- a transaction that fails after the grant was made leaves no grant behind ----
sed -e 's|^account .*pam_unix.so.*|account  required pam_deny.so|' "$top_srcdir/data/pam.d/entra-tap" |
	sb_pam entra-tap
alice_with "$(mock_tap alice@contoso.com)"
is "$?" 3 "the account phase refuses after a signed-in TAP (pam_deny): exit 3"
check "... says alice is not allowed" grep -q "elevate: alice is not allowed an elevation: no grant was made" "$T/log"
is "$(sb_grants alice)" 0 "... the grant made during authentication is gone"
check_not "... alice is not in $G" sb_in_group alice

# ---- a stack without the grant option: the sign-in alone does not elevate ----
sed -e '/^auth/s/ grant//' "$top_srcdir/data/pam.d/entra-tap" | sb_pam entra-tap
alice_with "$(mock_tap alice@contoso.com)"
is "$?" 1 "a service without 'grant': exit 1"
check "... says the service made no grant" grep -q "must use pam_entra_tap.so with the grant option" "$T/log"
is "$(sb_grants alice)" 0 "... and there is none"

done_testing
