#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Signing-key rotation and the unknown-kid refresh limit, across processes: every
# `entra-tap verify-token` is a new process, as every PAM authentication is.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/mock.sh"
mock_enter "$@"
CACHE=$(mock_conf jwks_cache_dir)

fetches() { mock_ctl stats | jget /dev/stdin 'd["requests"]["keys"]'; }
reason_of() { printf '%s\n' "$1" | "$ENTRA_TAP" verify-token --config "$MOCK_CONF" 2>/dev/null | jget /dev/stdin 'd["reason"]'; }
# Pretend the last network attempt was more than a minute ago.
age_stamp() { echo $(($(date +%s) - 61)) >"$CACHE/refresh.stamp"; }

check "first token accepted (keys fetched)" -- test "$(reason_of "$(mock_mint '{"upn":"alice@contoso.com"}')")" = accepted
check "one JWKS fetch so far" -- test "$(fetches)" = 1
check "second token served from the cache" -- test "$(reason_of "$(mock_mint '{"upn":"alice@contoso.com"}')")" = accepted
check "still one JWKS fetch" -- test "$(fetches)" = 1

bad=0
i=0
while [ $i -lt 25 ]; do
	r=$(reason_of "$(mock_mint '{"upn":"alice@contoso.com","header":{"kid":"flood-'$i'"}}')")
	[ "$r" = unknown_kid ] || bad=$((bad + 1))
	i=$((i + 1))
done
check "25 tokens with unknown kids all rejected as unknown_kid" -- test $bad -eq 0
check "the flood caused no fetch (last one was under a minute ago)" -- test "$(fetches)" = 1

newkid=$(mock_ctl rotate '{}' | jget /dev/stdin 'd["kid"]')
check "mock rotated to a new key" -- test -n "$newkid"
tok=$(mock_mint '{"upn":"alice@contoso.com"}')
# base64url without padding: let Python decode it (base64 -d rejects unpadded input)
hdr_kid=$("$PYTHON3" -c 'import base64,json,sys; h=sys.argv[1].split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"])' "$tok")
check "token names the new kid" -- test "$hdr_kid" = "$newkid"
check "new key unknown within the rate limit" -- test "$(reason_of "$tok")" = unknown_kid
age_stamp
check "after the minute: one refresh finds the new key" -- test "$(reason_of "$tok")" = accepted
check "exactly one more fetch" -- test "$(fetches)" = 2
check "token of the old key still accepted (old key still published)" -- \
	test "$(reason_of "$(mock_mint '{"upn":"alice@contoso.com","kid":"'"$(mock_ctl state/dump | jget /dev/stdin 'd["keys"][0]["kid"]' 2>/dev/null)"'"}')")" = accepted

i=0
while [ $i -lt 25 ]; do
	reason_of "$(mock_mint '{"upn":"alice@contoso.com","header":{"kid":"flood2-'$i'"}}')" >/dev/null
	i=$((i + 1))
done
check "second flood: still two fetches" -- test "$(fetches)" = 2
age_stamp
reason_of "$(mock_mint '{"upn":"alice@contoso.com","header":{"kid":"late"}}')" >/dev/null
check "a minute later an unknown kid may refresh once more" -- test "$(fetches)" = 3
check "refresh stamp and cache are root-only files" -- test "$(stat -c %a "$CACHE/jwks.json")" = 600
done_testing
