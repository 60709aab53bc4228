#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The audit trail in a real journal (journald inside a systemd sandbox, read back with
# journalctl -o json): every event type with its fixed MESSAGE_ID and ENTRA_TAP_* fields;
# the message catalog compiles and explains the entries (journalctl -x); and end to end,
# entra-tap-helper logs a grant, each revoke cause (admin, drop, expiry, sweep, account), a
# refusal, a member removed by the sweep and an error.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/sandbox.sh"
CTL="$top_builddir/tests/integration/timer_audit_ctl"
EVENTS="auth_ok auth_denied grant revoke refused member_removed error breakglass voucher_accepted voucher_refused"

require_root
sbx_init || { fail "sandbox set up"; finish; }
sb_useradd alice bob carol dave
check "the sandbox boots" -- sbx_start
check "and reaches running" -- sbx_wait_running 60 || finish

# jfield JSON-LINES FIELD: the field of the last entry ("" when absent)
jfield() {
	"$PYTHON3" -c 'import json,sys
lines=[l for l in sys.argv[1].splitlines() if l.strip()]
print(json.loads(lines[-1]).get(sys.argv[2], "") if lines else "")' "$1" "$2"
}
# entries [-w SECS] FILTER...: the matching entries as JSON lines, once there is one (waiting
# at most SECS, default 3)
entries() {
	local secs=3
	[ "$1" = -w ] && secs=$2 && shift 2
	wait_until "$secs" has_entry "$@" >&2
	sbx_journal_json "$@" 2>/dev/null
}
has_entry() { [ -n "$(sbx_journal_json "$@" 2>/dev/null)" ]; }
expect_field() { # expect_field JSON FIELD VALUE NAME
	local got
	got=$(jfield "$1" "$2")
	[ "$got" = "$3" ]
	ok $? "$4: $2=$3" || diag "got '$got'"
}

all_fields() { # all_fields JSON EVENT: every field as the loop below sends it
	local kv bad=0
	for kv in "PRIORITY=4" "SYSLOG_IDENTIFIER=entra-tap" "ENTRA_TAP_EVENT=$2" \
		"ENTRA_TAP_GRANT_ID=00112233445566778899aabbccddeeff" "ENTRA_TAP_USER=alice" \
		"ENTRA_TAP_GROUP=$SBX_GROUP" "ENTRA_TAP_EXPIRES=2026-01-01T00:00:00Z" \
		"ENTRA_TAP_EXPIRES_UNIX=1767225600" "ENTRA_TAP_METHOD=tap" "ENTRA_TAP_UPN=alice@example.com" \
		"ENTRA_TAP_OID=8b2e1f0c-1111-4c2d-9a3b-0123456789ab" "ENTRA_TAP_REASON=r $2" \
		"ENTRA_TAP_SERVICE=sshd" "ENTRA_TAP_RHOST=192.0.2.7" "_TRANSPORT=journal"; do
		[ "$(jfield "$1" "${kv%%=*}")" = "${kv#*=}" ] || { diag "$2: ${kv%%=*} is not '${kv#*=}'"; bad=1; }
	done
	return $bad
}

# ---- every event type through the core library ----
tag=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
for ev in $EVENTS; do
	sbx_exec "$CTL" audit "$ev" 4 "test $ev $tag" grant_id=00112233445566778899aabbccddeeff user=alice \
		group="$SBX_GROUP" expires=1767225600 method=tap upn=alice@example.com \
		oid=8b2e1f0c-1111-4c2d-9a3b-0123456789ab reason="r $ev" service=sshd rhost=192.0.2.7 >/dev/null
	id=$(sbx_exec "$CTL" message-id "$ev")
	e=$(entries "MESSAGE_ID=$id" "MESSAGE=test $ev $tag")
	[ -n "$(jfield "$e" MESSAGE_ID)" ]
	ok $? "$ev: an entry with MESSAGE_ID=$id is in the journal" || continue
	all_fields "$e" "$ev"
	ok $? "$ev: PRIORITY, SYSLOG_IDENTIFIER and all ten ENTRA_TAP_* fields as sent"
done

# ---- Microsoft Graph at sign-in: groups checked and matched, the PIM instance ----
sbx_exec "$CTL" audit auth_ok 6 "graph $tag" user=alice method=device_code graph_checked=25 graph_matched=1 \
	pim_assignment=activated pim_end=1767225600 >/dev/null
e=$(entries "MESSAGE=graph $tag")
expect_field "$e" ENTRA_TAP_GRAPH_CHECKED 25 "auth_ok after Graph"
expect_field "$e" ENTRA_TAP_GRAPH_MATCHED 1 "auth_ok after Graph"
expect_field "$e" ENTRA_TAP_PIM_ASSIGNMENT activated "auth_ok after Graph"
expect_field "$e" ENTRA_TAP_PIM_END 2026-01-01T00:00:00Z "auth_ok after Graph"
sbx_exec "$CTL" audit auth_ok 6 "nograph $tag" user=alice method=tap >/dev/null
e=$(entries "MESSAGE=nograph $tag")
[ -n "$e" ] && [ -z "$(jfield "$e" ENTRA_TAP_GRAPH_CHECKED)" ] && [ -z "$(jfield "$e" ENTRA_TAP_PIM_END)" ]
ok $? "a sign-in that asked Graph nothing has no Graph or PIM fields"

# ---- the catalog: compiles, lists every id, explains entries ----
croot="$SBX_DIR/catalog-root"
mkdir -p "$croot/usr/lib/systemd/catalog"
cp "$top_srcdir/data/entra-tap.catalog" "$croot/usr/lib/systemd/catalog/"
out=$(journalctl --root="$croot" --update-catalog 2>&1)
ok $? "journalctl --update-catalog compiles data/entra-tap.catalog"
[ -z "$out" ] || diag "$out"
list=$(journalctl --root="$croot" --list-catalog 2>/dev/null)
n=0
for ev in $EVENTS; do
	id=$(sbx_exec "$CTL" message-id "$ev")
	echo "$list" | grep -q "^$id " && n=$((n + 1))
done
n_events=$(printf '%s\n' $EVENTS | grep -c .)
[ "$n" = "$n_events" ]
ok $? "the compiled catalog has all $n_events event ids ($n)"
sbx_exec mkdir -p /var/lib/systemd/catalog &&
	sbx_exec cp "$croot/var/lib/systemd/catalog/database" /var/lib/systemd/catalog/database
ok $? "the catalog database is installed in the sandbox"
x=$(sbx_exec journalctl --no-pager -x "MESSAGE_ID=$(sbx_exec "$CTL" message-id grant)" "MESSAGE=test grant $tag" 2>&1)
echo "$x" | grep -q "Subject: Elevation granted to alice until 2026-01-01T00:00:00Z"
ok $? "journalctl -x shows the catalog subject with the entry's fields filled in" || diag "$x"
echo "$x" | grep -q "entra-tap-revoke-00112233445566778899aabbccddeeff.timer"
ok $? "and the explanation names the grant's timer unit"

# ---- end to end through entra-tap-helper ----
# the minutely sweep would race the causes checked below: only the paths under test run
sbx_exec systemctl stop entra-tap-sweep.timer
check "entra-tap-grantctl is built" test -x "$top_builddir/entra-tap-grantctl" || finish
g=$(sbx_grantctl grant alice --duration 1h --reason "journal test" --upn alice@example.com \
	--oid 8b2e1f0c-1111-4c2d-9a3b-0123456789ab --service sshd --rhost 192.0.2.9)
ok $? "grant for alice"
e=$(entries ENTRA_TAP_EVENT=grant "ENTRA_TAP_GRANT_ID=$g")
expect_field "$e" MESSAGE_ID "$(sbx_exec "$CTL" message-id grant)" "grant"
expect_field "$e" ENTRA_TAP_USER alice "grant"
expect_field "$e" ENTRA_TAP_GROUP "$SBX_GROUP" "grant"
expect_field "$e" ENTRA_TAP_METHOD admin "grant"
expect_field "$e" ENTRA_TAP_REASON "journal test" "grant"
expect_field "$e" ENTRA_TAP_UPN alice@example.com "grant"
expect_field "$e" ENTRA_TAP_OID 8b2e1f0c-1111-4c2d-9a3b-0123456789ab "grant"
expect_field "$e" ENTRA_TAP_SERVICE sshd "grant"
expect_field "$e" ENTRA_TAP_RHOST 192.0.2.9 "grant"
exp=$(sbx_grantctl list --json | "$PYTHON3" -c 'import json,sys; print([x["expires"] for x in json.load(sys.stdin) if x["id"]==sys.argv[1]][0])' "$g")
expect_field "$e" ENTRA_TAP_EXPIRES_UNIX "$exp" "grant"
expect_field "$e" ENTRA_TAP_EXPIRES "$(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ)" "grant"
x=$(sbx_exec journalctl --no-pager -x "ENTRA_TAP_GRANT_ID=$g" ENTRA_TAP_EVENT=grant 2>&1)
echo "$x" | grep -q "Subject: Elevation granted to alice until $(date -u -d "@$exp" +%Y-%m-%dT%H:%M:%SZ)"
ok $? "journalctl -x explains the grant from the catalog, with its fields filled in" || diag "$x"

sbx_grantctl revoke "$g" >/dev/null
e=$(entries ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$g")
expect_field "$e" MESSAGE_ID "$(sbx_exec "$CTL" message-id revoke)" "revoke by root"
expect_field "$e" ENTRA_TAP_REASON admin "revoke by root"
expect_field "$e" ENTRA_TAP_USER alice "revoke by root"

g=$(sbx_grantctl grant bob --duration 1h)
sbx_exec setpriv --reuid=bob --regid=bob --clear-groups "$SB_HELPER_PATH" drop "$g" >/dev/null
ok $? "bob drops his own grant"
e=$(entries ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$g")
expect_field "$e" ENTRA_TAP_REASON drop "drop"

# 2 s: a grant whose expiry falls in the second it is made gets no timer (it is revoked at
# once); the timer fires within a second of the expiry
g=$(sbx_grantctl grant carol --duration 2s)
e=$(entries -w 6 ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$g")
expect_field "$e" ENTRA_TAP_REASON expiry "revoke by the timer"

g=$(sbx_grantctl grant carol --duration 2s)
sbx_exec systemctl stop "entra-tap-revoke-$g.timer"
sleep_until "$(sb_grant_field "$g" 'g["expires"]')"
sbx_grantctl sweep >/dev/null
ok $? "sweep runs"
e=$(entries ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$g")
expect_field "$e" ENTRA_TAP_REASON sweep "an expired grant found by the sweep"

g=$(sbx_grantctl grant carol --duration 2s)
sbx_exec systemctl stop "entra-tap-revoke-$g.timer"
sleep_until "$(sb_grant_field "$g" 'g["expires"]')"
sbx_grantctl sweep --user carol --cause account >/dev/null
e=$(entries ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$g")
expect_field "$e" ENTRA_TAP_REASON account "an expired grant found by the account check"

sbx_exec setpriv --reuid=alice --regid=alice --clear-groups "$SB_GRANTCTL_PATH" grant alice >/dev/null 2>&1
ok $((!$?)) "a non-root grant is refused"
e=$(entries ENTRA_TAP_EVENT=refused ENTRA_TAP_USER=alice)
expect_field "$e" MESSAGE_ID "$(sbx_exec "$CTL" message-id refused)" "refusal"
[ -n "$(jfield "$e" ENTRA_TAP_REASON)" ]
ok $? "refusal: a reason is given ($(jfield "$e" ENTRA_TAP_REASON))"

sed -i "s/^\($SBX_GROUP:[^:]*:[^:]*:\)\$/\1dave/; s/^\($SBX_GROUP:[^:]*:[^:]*:.\+\)\$/\1,dave/" "$SBX_DIR/etc/group"
grep -q "^$SBX_GROUP:.*dave" "$SBX_DIR/etc/group"
ok $? "dave is added to the group by hand"
sbx_grantctl sweep >/dev/null
e=$(entries ENTRA_TAP_EVENT=member_removed ENTRA_TAP_USER=dave)
expect_field "$e" MESSAGE_ID "$(sbx_exec "$CTL" message-id member_removed)" "member removed"
expect_field "$e" ENTRA_TAP_GROUP "$SBX_GROUP" "member removed"

sb_config elevated_group no-such-group
sbx_grantctl grant alice --duration 1h >/dev/null 2>&1
ok $((!$?)) "a grant into a missing group fails"
e=$(entries ENTRA_TAP_EVENT=error ENTRA_TAP_USER=alice)
expect_field "$e" MESSAGE_ID "$(sbx_exec "$CTL" message-id error)" "error"
[ -n "$(jfield "$e" ENTRA_TAP_REASON)" ]
ok $? "error: the reason is recorded ($(jfield "$e" ENTRA_TAP_REASON))"
sb_config elevated_group "$SBX_GROUP"

# nothing the helper logged may carry a newline-forged field
n=$(sbx_exec journalctl --no-pager -o json SYSLOG_IDENTIFIER=entra-tap | "$PYTHON3" -c '
import json,sys
bad=0
for l in sys.stdin:
    d=json.loads(l)
    for k,v in d.items():
        if k.startswith("ENTRA_TAP_") and isinstance(v,str) and any(ord(c)<32 for c in v): bad+=1
print(bad)')
[ "$n" = 0 ]
ok $? "no ENTRA_TAP_* value in the journal holds a control character"

done_testing
