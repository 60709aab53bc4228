#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# entra-tap breakglass keygen|issue|verify, with an independent minter and checker
# (tests/breakglass/voucher_mint.py, Python `cryptography`): vouchers of the C minter verify
# there, vouchers minted there verify here, keys from either side are the same keys.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
require_root
MINT="$PYTHON3 $top_srcdir/tests/breakglass/voucher_mint.py"
T=$(mktemp -d) || bail_out "no temp dir"
at_exit 'rm -rf "$T"'
HOST=$(uname -n | cut -d. -f1)

# ---- usage ----
"$ENTRA_TAP" breakglass --help >"$T/h" 2>&1
check "breakglass --help exits 0" -- test $? -eq 0
check "breakglass --help names the three commands" -- grep -q "entra-tap breakglass verify" "$T/h"
"$ENTRA_TAP" --help >"$T/h"
check "entra-tap --help lists breakglass" -- grep -q "breakglass" "$T/h"
"$ENTRA_TAP" breakglass frobnicate 2>/dev/null
is $? 2 "an unknown breakglass command exits 2"
"$ENTRA_TAP" breakglass issue --key x 2>/dev/null
is $? 2 "issue without its required options exits 2"
"$ENTRA_TAP" breakglass issue --key x --user ../etc --host h --duration 1h --valid 1h --reason r 2>/dev/null
is $? 2 "issue refuses a hostile user name"
"$ENTRA_TAP" breakglass issue --key x --user alice --host 'h/1' --duration 1h --valid 1h --reason r 2>/dev/null
is $? 2 "issue refuses a host pattern with '/'"
"$ENTRA_TAP" breakglass issue --key x --user alice --host h --duration 1h --valid 8d --reason r 2>/dev/null
is $? 2 "issue refuses --valid beyond 7d"

# ---- keygen ----
PUB=$("$ENTRA_TAP" breakglass keygen --out "$T/k1.pem" 2>"$T/e")
is $? 0 "keygen exits 0"
check "keygen prints one ed25519: line" -- grep -Eqx 'ed25519:[A-Za-z0-9_-]{43}' <<<"$PUB"
is "$(stat -c %a "$T/k1.pem")" 600 "keygen writes the key with mode 0600"
check "keygen writes PKCS#8 PEM" -- grep -qx -- "-----BEGIN PRIVATE KEY-----" "$T/k1.pem"
cp "$T/k1.pem" "$T/k1.copy"
"$ENTRA_TAP" breakglass keygen --out "$T/k1.pem" >/dev/null 2>&1
is $? 1 "keygen refuses to overwrite a key"
check "the existing key is untouched" -- cmp -s "$T/k1.pem" "$T/k1.copy"
ln -s "$T/nowhere" "$T/link.pem"
"$ENTRA_TAP" breakglass keygen --out "$T/link.pem" >/dev/null 2>&1
is $? 1 "keygen refuses a symbolic link"
$MINT pub "$T/k1.pem" >"$T/pub1"
is "$(head -1 "$T/pub1")" "$PUB" "the Python package reads the key and finds the same public key"
KID1=$(sed -n 2p "$T/pub1")
check "the key id is reported on stderr" -- grep -q "key id $KID1" "$T/e"

# keys minted by Python, one listed (rotation: two keys listed), one not
PUB2=$($MINT keygen "$T/k2.pem")
$MINT keygen "$T/k3.pem" >/dev/null
KID2=$($MINT pub "$T/k2.pem" | sed -n 2p)

cat >"$T/conf" <<CONF
tenant_id = 11111111-2222-3333-4444-555555555555
client_id = 66666666-7777-8888-9999-000000000000
elevated_group = sudo
eligible_groups = 00000000-0000-0000-0000-000000000001
allowed_domains = example.com
breakglass_keys = $PUB $PUB2
CONF
chmod 600 "$T/conf"
"$ENTRA_TAP" check-config --config "$T/conf" >"$T/out" 2>&1
is $? 0 "a configuration with two break-glass keys is valid"
check "check-config prints breakglass_when = unreachable (default)" -- grep -qx "breakglass_when = unreachable" "$T/out"
check "check-config prints breakglass_duration_max = 1h (default)" -- grep -qx "breakglass_duration_max = 1h" "$T/out"
sed 's/^breakglass_keys = .*/breakglass_keys = ed25519:AAAA/' "$T/conf" >"$T/badconf" && chmod 600 "$T/badconf"
"$ENTRA_TAP" check-config --config "$T/badconf" >/dev/null 2>"$T/e"
is $? 2 "a malformed key in breakglass_keys is a configuration error"
check "... naming the key" -- grep -q "breakglass_keys" "$T/e"

# ---- issue (ours) → check (Python) and verify (ours) ----
V=$("$ENTRA_TAP" breakglass issue --key "$T/k1.pem" --user alice --host "$HOST" --host 'db-*.example.com' \
	--duration 30m --valid 2h --reason "database outage INC-7" 2>"$T/e")
is $? 0 "issue exits 0"
is "$(printf '%s\n' "$V" | wc -l)" 1 "issue prints one line when standard output is no terminal"
check "the voucher is EBG1.<payload>.<signature>" -- grep -Eqx 'EBG1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}' <<<"$V"
$MINT check "$PUB" "$V" >"$T/payload"
is $? 0 "the independent checker verifies our voucher's signature and members"
is "$(jget "$T/payload" 'd["sub"]')" alice "sub as issued"
is "$(jget "$T/payload" '",".join(d["hosts"])')" "$HOST,db-*.example.com" "hosts as issued, in order"
is "$(jget "$T/payload" 'd["dur"]')" 1800 "dur: --duration in seconds"
is "$(jget "$T/payload" 'd["exp"] - d["iat"]')" 7200 "exp - iat: --valid"
is "$(jget "$T/payload" 'd["kid"]')" "$KID1" "kid: the key's id"
is "$(jget "$T/payload" 'd["reason"]')" "database outage INC-7" "reason as issued"
is "$(jget "$T/payload" '"nbf" in d')" false "no nbf unless asked for"
$MINT check "$PUB2" "$V" >/dev/null 2>&1
is $? 1 "the independent checker refuses it under another key"
"$ENTRA_TAP" breakglass verify --config "$T/conf" <<<"$V" >"$T/out"
is $? 0 "verify accepts our voucher"
check "verify says valid: yes" -- grep -qx "valid: yes" "$T/out"
check "verify shows the kid" -- grep -qx "kid: $KID1" "$T/out"
check "verify shows the hosts" -- grep -qx "hosts: $HOST,db-\*.example.com" "$T/out"
IAT=$(jget "$T/payload" 'd["iat"]')
"$ENTRA_TAP" breakglass verify --config "$T/conf" --at $((IAT + 7200 + 121)) <<<"$V" >"$T/out"
is $? 1 "verify --at after exp + clock_skew exits 1"
check "... reason voucher_expired" -- grep -qx "reason: voucher_expired" "$T/out"
"$ENTRA_TAP" breakglass verify --config "$T/conf" <<<"${V}x" >"$T/out"
is $? 1 "verify refuses a voucher with a character added"
check "... as malformed" -- grep -qx "reason: voucher_malformed" "$T/out"

# on a terminal: a QR code follows, at most 80 columns wide
if command -v script >/dev/null 2>&1; then
	script -qec "$ENTRA_TAP breakglass issue --key $T/k1.pem --user alice --host $HOST --duration 30m --valid 2h --reason qr" \
		/dev/null >"$T/tty" 2>/dev/null </dev/null
	check "on a terminal the voucher is followed by a QR code" -- grep -q $'\xe2\x96\x88' "$T/tty"
	W=$(tr -d '\r' <"$T/tty" | grep $'\xe2\x96' | "$PYTHON3" -c 'import sys; print(max(len(l.rstrip("\n")) for l in sys.stdin))')
	check "the QR code is at most 80 columns wide ($W)" -- test "$W" -le 80
else
	skip "script(1) is not installed: no terminal for the QR code"
fi

# ---- mint (Python) → verify (ours) ----
NOW=$(date +%s)
mint2() { $MINT mint "$T/k2.pem" "$1"; }
P="\"kid\":\"auto\",\"sub\":\"alice\",\"hosts\":[\"${HOST^^}\"],\"iat\":$NOW,\"exp\":$((NOW + 3600)),\"dur\":600,\"jti\":\"$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')\",\"reason\":\"r\""
V2=$(mint2 "{$P}")
"$ENTRA_TAP" breakglass verify --config "$T/conf" <<<"$V2" >"$T/out"
is $? 0 "a voucher minted by the Python package is valid here (second listed key, host in capitals)"
check "... with that key's id" -- grep -qx "kid: $KID2" "$T/out"
V3=$($MINT mint "$T/k3.pem" "{$P}")
"$ENTRA_TAP" breakglass verify --config "$T/conf" <<<"$V3" >"$T/out"
is $? 1 "a voucher of an unlisted key is refused"
check "... as voucher_unknown_key" -- grep -qx "reason: voucher_unknown_key" "$T/out"
refused_as() { # REASON NAME PAYLOAD
	"$ENTRA_TAP" breakglass verify --config "$T/conf" <<<"$(mint2 "$3")" >"$T/out"
	if [ $? -eq 1 ] && grep -qx "reason: $1" "$T/out"; then pass "$2: $1"; else fail "$2: $1"; sed 's/^/# /' "$T/out"; fi
}
refused_as voucher_malformed "an extra member" "{$P,\"scope\":\"all\"}"
refused_as voucher_malformed "a duplicate member" "{$P,\"dur\":600}"
refused_as voucher_malformed "dur as a string" "{${P/\"dur\":600/\"dur\":\"600\"}}"
refused_as voucher_malformed "a float time" "{${P/\"iat\":$NOW/\"iat\":$NOW.0}}"
refused_as voucher_malformed "exp - iat over 7 days" "{${P/\"exp\":$((NOW + 3600))/\"exp\":$((NOW + 7 * 86400 + 1))}}"
refused_as voucher_wrong_host "another host" "{${P/\"hosts\":\[\"${HOST^^}\"\]/\"hosts\":[\"elsewhere\"]}}"
refused_as voucher_not_yet_valid "nbf an hour ahead" "{$P,\"nbf\":$((NOW + 3600))}"
refused_as voucher_expired "exp an hour ago" "{${P/\"iat\":$NOW,\"exp\":$((NOW + 3600))/\"iat\":$((NOW - 7200)),\"exp\":$((NOW - 3600))}}"
finish
