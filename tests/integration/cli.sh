#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The entra-tap command line: help, usage errors, check-config, discover.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/mock.sh"
mock_enter "$@"
T=$MOCK_T

for c in check-config discover verify-token reset-identity; do
	"$ENTRA_TAP" $c --help >"$T/h" 2>&1
	check "$c --help exits 0" -- test $? -eq 0
	check "$c --help shows its usage" -- grep -q "Usage: entra-tap $c" "$T/h"
done
"$ENTRA_TAP" --version >"$T/h"
check "entra-tap --version exits 0" -- test $? -eq 0
check "entra-tap --version names the program and the version" -- grep -qE '^entra-tap \(pam_entra_tap\) [0-9]+\.[0-9]+' "$T/h"
"$ENTRA_TAP" --help >"$T/h"
check "entra-tap --help lists the commands" -- grep -q verify-token "$T/h"
"$ENTRA_TAP" frobnicate 2>"$T/e"
check "unknown command exits 2" -- test $? -eq 2
"$ENTRA_TAP" 2>/dev/null
check "no command exits 2" -- test $? -eq 2
"$ENTRA_TAP" verify-token --at yesterday --config "$MOCK_CONF" </dev/null 2>"$T/e"
check "--at with a non-number exits 2" -- test $? -eq 2
"$ENTRA_TAP" check-config --at 5 --config "$MOCK_CONF" 2>/dev/null
check "--at on another command exits 2" -- test $? -eq 2
"$ENTRA_TAP" reset-identity --config "$MOCK_CONF" ../etc 2>/dev/null
check "reset-identity refuses a hostile user name" -- test $? -eq 2
"$ENTRA_TAP" check-config --config "$MOCK_CONF" extra 2>/dev/null
check "stray argument exits 2" -- test $? -eq 2

# the test configuration's elevated group exists only inside the sandboxes: a group of this
# host's instead, so that the file is valid and usable
grp=$(getent group | head -n 1 | cut -d: -f1)
sed -e "s/^elevated_group = .*/elevated_group = $grp/" "$MOCK_CONF" >"$T/mock.conf" && chmod 600 "$T/mock.conf"
grep -q '^elevated_group' "$T/mock.conf" || echo "elevated_group = $grp" >>"$T/mock.conf"
"$ENTRA_TAP" check-config --config "$T/mock.conf" >"$T/out" 2>&1
check "check-config accepts the test config (valid and usable: exit 0)" -- test $? -eq 0
check "check-config names no finding for it" -- bash -c '! grep -q "finding" "$1"' _ "$T/out"
check "check-config prints the tenant" -- grep -q "^tenant_id = $ET_MOCK_TENANT" "$T/out"
check "check-config prints derived discovery_url" -- grep -q "^discovery_url = $ET_MOCK_BASE/$ET_MOCK_TENANT/v2.0/.well-known/openid-configuration" "$T/out"
check "check-config prints defaults (clock_skew)" -- grep -q "^clock_skew = " "$T/out"

cp "$MOCK_CONF" "$T/c1" && echo "http_timeout = forever" >>"$T/c1" && chmod 600 "$T/c1"
n=$(wc -l <"$T/c1")
"$ENTRA_TAP" check-config --config "$T/c1" >/dev/null 2>"$T/e"
check "bad value exits 2" -- test $? -eq 2
check "bad value names file:line and key" -- grep -q "$T/c1:$n: http_timeout" "$T/e"
cp "$MOCK_CONF" "$T/c2" && chown 65534 "$T/c2"
"$ENTRA_TAP" check-config --config "$T/c2" >/dev/null 2>"$T/e"
check "config not owned by root is refused" -- test $? -eq 2
check "refusal says why" -- grep -q "not owned by root" "$T/e"
cp "$MOCK_CONF" "$T/c3" && chmod 666 "$T/c3"
"$ENTRA_TAP" check-config --config "$T/c3" >/dev/null 2>"$T/e"
check "world-writable config is refused" -- test $? -eq 2
"$ENTRA_TAP" check-config --config "$T/none" >/dev/null 2>"$T/e"
check "missing config exits 2" -- test $? -eq 2

"$ENTRA_TAP" discover --config "$MOCK_CONF" >"$T/out" 2>"$T/e"
check "discover succeeds against the mock" -- test $? -eq 0
check "discover prints the issuer" -- grep -q "^issuer: $ET_MOCK_BASE/$ET_MOCK_TENANT/v2.0" "$T/out"
check "discover prints the device endpoint" -- grep -q "^device_authorization_endpoint: https://" "$T/out"
check "discover prints key ids" -- grep -q "^key: " "$T/out"

mock_ctl down '{"mode":"reset"}' >/dev/null
"$ENTRA_TAP" discover --config "$MOCK_CONF" >"$T/out" 2>"$T/e"
check "discover with the IdP down exits 1" -- test $? -eq 1
check "and says discovery failed" -- grep -q "discovery failed" "$T/e"
mock_ctl up '{}' >/dev/null

# pinned keys: discover reads the file and never fetches keys
"$ENTRA_TAP" discover --config "$MOCK_CONF" >/dev/null 2>&1
cache=$(mock_conf jwks_cache_dir)
"$PYTHON3" -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["jwks"]))' "$cache/jwks.json" >"$T/keys.json"
grep -v '^jwks_cache_dir' "$MOCK_CONF" >"$T/c4" && echo "jwks_file = $T/keys.json" >>"$T/c4" && chmod 600 "$T/c4"
before=$(mock_ctl stats | jget /dev/stdin 'd["requests"]["keys"]')
"$ENTRA_TAP" discover --config "$T/c4" >"$T/out" 2>"$T/e"
check "discover with jwks_file says the keys are pinned" -- grep -q "pinned" "$T/out"
after=$(mock_ctl stats | jget /dev/stdin 'd["requests"]["keys"]')
check "jwks_file mode fetched no keys" -- test "$before" = "$after"
cp "$top_srcdir/data/pam_entra_tap.conf.example" "$T/example.conf" && chmod 600 "$T/example.conf"
"$ENTRA_TAP" check-config --config "$T/example.conf" >"$T/out" 2>"$T/e"
check "the shipped example configuration is valid, but unusable as shipped (exit 1)" -- test $? -eq 1
check "... it parses" -- grep -q ": valid$" "$T/out"
check "... the placeholder tenant_id is named" -- grep -q "^tenant_id: still the shipped placeholder" "$T/out"
check "... the placeholder client_id is named" -- grep -q "^client_id: still the shipped placeholder" "$T/out"
check "... the placeholder eligible group is named" -- grep -q "^eligible_groups: .* is the shipped placeholder" "$T/out"
done_testing
