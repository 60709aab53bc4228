#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Tokens issued by the mock Entra ID (minted, and obtained through a real OAuth exchange)
# judged by `entra-tap verify-token` against discovery + JWKS over HTTPS.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/mock.sh"
mock_enter "$@"
T=$MOCK_T
STATE=$(mock_conf state_dir)

# verify NAME WANT_EXIT WANT_REASON TOKEN [extra args]
verify() {
	name=$1 want_rc=$2 want_reason=$3 tok=$4
	shift 4
	printf '%s\n' "$tok" | "$ENTRA_TAP" verify-token --config "$MOCK_CONF" "$@" >"$T/out.json" 2>"$T/err"
	rc=$?
	reason=$(jget "$T/out.json" 'd["reason"]' 2>/dev/null)
	[ "$rc" = "$want_rc" ] && [ "$reason" = "$want_reason" ]
	if ! ok $? "$name: exit $want_rc, reason $want_reason"; then
		diag "got exit $rc reason '$reason'"
		sed 's/^/# /' "$T/out.json" "$T/err"
	fi
}

tok=$(mock_mint '{"upn":"alice@contoso.com"}')
verify "minted token for an eligible user" 0 accepted "$tok"
check "verdict names the local user" -- test "$(jget "$T/out.json" 'd["user"]')" = alice
check "verdict says eligible" -- test "$(jget "$T/out.json" 'd["eligible"]')" = true
check "verdict carries the claims" -- test "$(jget "$T/out.json" 'd["claims"]["preferred_username"]')" = alice@contoso.com
check "keys were cached root-only" -- test "$(stat -c %a "$(mock_conf jwks_cache_dir)")" = 700

# A real OAuth exchange: the password grant with a Temporary Access Pass.
tap=$(mock_ctl tap '{"upn":"alice@contoso.com","lifetime_minutes":60,"one_time":true}' | jget /dev/stdin 'd["tap"]')
curl -sS --cacert "$ET_MOCK_CA" "$ET_MOCK_BASE/$ET_MOCK_TENANT/oauth2/v2.0/token" \
	--data-urlencode grant_type=password --data-urlencode "client_id=$ET_MOCK_CLIENT" \
	--data-urlencode "username=alice@contoso.com" --data-urlencode "password=$tap" \
	--data-urlencode "scope=openid profile" >"$T/tok.json"
idt=$(jget "$T/tok.json" 'd.get("id_token","")')
check "token endpoint issued an ID token for a TAP" -- test -n "$idt"
verify "ID token from the token endpoint" 0 accepted "$idt"

tok=$(mock_mint '{"upn":"bob@contoso.com"}')
verify "valid token, account in no eligible group" 1 not_eligible "$tok"
check "not eligible: eligible=false" -- test "$(jget "$T/out.json" 'd["eligible"]')" = false

verify "token for another tenant" 1 bad_issuer \
	"$(mock_mint '{"upn":"alice@contoso.com","claims":{"tid":"11111111-2b34-4da1-9baa-8bc8c9d6a490","iss":"'"$ET_MOCK_BASE"'/11111111-2b34-4da1-9baa-8bc8c9d6a490/v2.0"}}')"
verify "right issuer, wrong tid" 1 bad_tenant \
	"$(mock_mint '{"upn":"alice@contoso.com","claims":{"tid":"11111111-2b34-4da1-9baa-8bc8c9d6a490"}}')"
verify "token for another application" 1 bad_audience \
	"$(mock_mint '{"upn":"alice@contoso.com","claims":{"aud":"00000003-0000-0000-c000-000000000000"}}')"
verify "token without oid" 1 missing_claim "$(mock_mint '{"upn":"alice@contoso.com","remove":["oid"]}')"
verify "token of a user outside the allowed domains" 1 domain_not_allowed "$(mock_mint '{"upn":"mallory@fabrikam.com"}')"
now=$(date +%s)
verify "expired token" 1 expired \
	"$(mock_mint '{"upn":"alice@contoso.com","claims":{"iat":'$((now - 7200))',"nbf":'$((now - 7200))',"exp":'$((now - 3600))'}}')"
tok=$(mock_mint '{"upn":"alice@contoso.com"}')
verify "--at two hours later: expired" 1 expired "$tok" --at $((now + 7200))
verify "--at an hour earlier: not yet valid" 1 not_yet_valid "$tok" --at $((now - 3600))
verify "--at now: accepted" 0 accepted "$tok" --at "$now"
verify "header kid unknown to the tenant" 1 unknown_kid \
	"$(mock_mint '{"upn":"alice@contoso.com","header":{"kid":"no-such-key"}}')"
verify "embedded jwk header" 1 embedded_key \
	"$(mock_mint '{"upn":"alice@contoso.com","header":{"jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}}')"
verify "crit header" 1 crit "$(mock_mint '{"upn":"alice@contoso.com","header":{"crit":["exp"]}}')"
verify "garbage on stdin" 1 bad_base64 '%%%.%%%.%%%'
verify "empty stdin" 1 malformed ''

# Group overage: too many groups for a token; the verdict must say so, not just "no".
mock_ctl config '{"overage_limit":2}' >/dev/null
mock_ctl users '{"upn":"dave@contoso.com","groups":["5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90","a1a1a1a1-0000-4000-8000-000000000001","a1a1a1a1-0000-4000-8000-000000000002"]}' >/dev/null
verify "group overage" 1 group_overage "$(mock_mint '{"upn":"dave@contoso.com"}')"
check "overage sentence points at Graph" -- grep -q "resolved via Microsoft Graph" "$T/out.json"

# Identity pin: reported, never recorded, by verify-token; reset by the admin.
check "verify-token recorded no pin" -- test ! -e "$STATE/identities/alice"
mkdir -p "$STATE/identities" && chmod 700 "$STATE" "$STATE/identities"
printf '%s %s\n' "$ET_MOCK_TENANT" 99999999-0000-4000-8000-000000000000 >"$STATE/identities/alice"
verify "oid differs from the pinned one" 1 oid_mismatch "$(mock_mint '{"upn":"alice@contoso.com"}')"
check "mismatch message names the pinned oid" -- grep -q 99999999-0000-4000-8000-000000000000 "$T/out.json"
"$ENTRA_TAP" reset-identity --config "$MOCK_CONF" alice >/dev/null
ok $? "reset-identity removes the pin"
verify "after reset the identity is accepted" 0 accepted "$(mock_mint '{"upn":"alice@contoso.com"}')"
"$ENTRA_TAP" reset-identity --config "$MOCK_CONF" alice >/dev/null 2>&1
check "reset-identity without a pin fails" -- test $? -eq 1

printf 'tenant_id = x\nbogus_key = 1\n' >"$T/bad.conf"
printf '%s\n' "$tok" | "$ENTRA_TAP" verify-token --config "$T/bad.conf" >/dev/null 2>"$T/err"
check "bad config: exit 2" -- test $? -eq 2
check "bad config: file:line named" -- grep -q "$T/bad.conf:2" "$T/err"
done_testing
