#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A configuration that cannot be used never keeps a grant alive and never locks anyone out,
# against real systemd (PID 1 of a sandbox, see sandbox.sh):
#   - for each way of breaking /etc/security/pam_entra_tap.conf (missing, a directory, not
#     owned by root, group-writable, world-writable, a syntax error, an unknown key) a grant
#     made before still ends on its own timer, from the last good copy: out of the group,
#     its revoke event, the timer's service exits 0, and a config_unusable event at crit
#     naming the file (and line);
#   - the sweep ends an expired grant whose timer was stopped, exits 5, and audits every run;
#   - without a last good copy the timer ends the grant from the built-in defaults (the
#     grant's own group, from its record); the copy comes back once the file is good;
#   - entra-tap-helper drop, run by the user, ends her grant; grant is refused (exit 5);
#   - elevated_group renamed (valid): an older grant ends in its old group;
#   - state_dir changed (valid): grants of the old store end by their timer and the sweep;
#   - duration_max lowered (valid): the next sweep cuts every live grant (cut event with the
#     previous expiry) and ends the one past its new end in the same run;
#   - PAM with the package's profile lines and a broken configuration: account, setcred and
#     session ignore users without a grant (root too), refuse users with one (account:
#     PAM_PERM_DENIED) and revoke all their grants; auth fails;
#   - a grant that expires while the machine is down ends at boot (boot reconcile).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/sandbox.sh"

require_root
sbx_init || { fail "sandbox set up"; finish; }
CONF=$SB_ETC/security/pam_entra_tap.conf
COPY=$SBX_DIR/state/last-good.conf
PROFILE=$top_srcdir/debian/pam-configs/entra-tap
SECOND_GROUP=entra-second
BREAKS="missing directory owner group-writable world-writable syntax unknown-key"
sb_useradd alice bk1 bk2 bk3 bk4 bk5 bk6 bk7 sw1 nl1 dr1 dr2 rn1 rn2 sd1 sd2 dm1 dm2 pfree ph1 ph2 ph3 ph4 bt1

unlisted() { ! sb_listed "$1"; }
# listed in the second group ($SECOND_GROUP) of the group file
in_second() { grep -q "^$SECOND_GROUP:[^:]*:[^:]*:\(.*,\)\?$1\(,.*\)\?\$" "$SB_ETC/group"; }
# the cursor of the journal's last entry: what comes after it is new
cursor() { sbx_exec journalctl -q -n 1 -o export | sed -n 's/^__CURSOR=//p'; }
# jn CURSOR EXPR [FIELD=VALUE...]: how many journal entries after CURSOR (of this boot with
# CURSOR "-b") with those fields make the Python expression EXPR true (e: the entry; N: $N).
# The fields are matched here: journalctl --after-cursor with matches finds nothing when the
# cursor's own entry does not match (systemd 252).
jn() {
	local cur=$1 expr=$2 where
	shift 2
	if [ "$cur" = -b ]; then where=(-b 0); else where=("--after-cursor=$cur"); fi
	sbx_exec journalctl --no-pager -o json "${where[@]}" | N=${N:-} "$PYTHON3" -c '
import json, os, sys
N = os.environ.get("N", "")
want = [a.split("=", 1) for a in sys.argv[2:]]
n = 0
for line in sys.stdin:
    e = json.loads(line)
    for k, v in list(e.items()):
        if isinstance(v, list):
            e[k] = bytes(v).decode("utf-8", "replace")
    if all(e.get(k) == v for k, v in want) and eval(sys.argv[1]):
        n += 1
print(n)' "$expr" "$@"
}
jhas() { [ "$(jn "$@")" -ge 1 ] 2>/dev/null; }
# the config_unusable messages after CURSOR, for the log
unusable_log() {
	sbx_exec journalctl --no-pager -o json "--after-cursor=$1" | "$PYTHON3" -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if e.get("ENTRA_TAP_EVENT") == "config_unusable":
        print("  PRIORITY=%s MESSAGE=%s" % (e.get("PRIORITY"), e.get("MESSAGE")))' | while IFS= read -r l; do diag "$l"; done
}
# a config_unusable entry at crit (PRIORITY=2) after CURSOR whose MESSAGE starts with VERB and
# holds NEEDLE
unusable_by() {
	N=$3 jhas "$1" "e.get('PRIORITY') == '2' and e.get('MESSAGE', '').startswith('$2') and N in e.get('MESSAGE', '')" \
		ENTRA_TAP_EVENT=config_unusable
}
revoked_event() { # CURSOR ID [REASON]
	N=${3:-} jhas "$1" "not N or e.get('ENTRA_TAP_REASON') == N" ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$2"
}
# the transient revoke service of grant ID ran to its end without failing (exit 0)
revoke_unit_done() {
	sbx_exec sh -c "journalctl -u entra-tap-revoke-$1.service -o cat | grep -q -e 'Deactivated successfully' -e 'Failed with result'"
}
revoke_unit_ok() {
	local log
	wait_until 5 revoke_unit_done "$1" || return 1
	log=$(sbx_exec journalctl -u "entra-tap-revoke-$1.service" -o cat)
	echo "$log" | grep -q 'Deactivated successfully' && ! echo "$log" | grep -q 'Failed with result' && return 0
	diag "$log"
	return 1
}
uid_of() { awk -F: -v u="$1" '$1 == u { print $3 }' "$SB_ETC/passwd"; }
# break_conf HOW: make the configuration unusable; BROKEN_NEEDLE is what the reason names
# (the file, and file:line where there is a line)
break_conf() {
	BROKEN_NEEDLE=$SB_CONF
	case $1 in
	missing) rm -f "$CONF" ;;
	directory) rm -f "$CONF" && mkdir -m 0700 "$CONF" ;;
	owner) chown "$(uid_of alice)" "$CONF" ;;
	group-writable) chmod 0620 "$CONF" ;;
	world-writable) chmod 0602 "$CONF" ;;
	syntax)
		echo "this line has no equals sign" >>"$CONF"
		BROKEN_NEEDLE="$SB_CONF:$(wc -l <"$CONF"):"
		;;
	unknown-key)
		echo "no_such_key = 1" >>"$CONF"
		BROKEN_NEEDLE="$SB_CONF:$(wc -l <"$CONF"):"
		;;
	*) return 1 ;;
	esac
}
restore_conf() { rm -rf "$CONF" && sb_write_config; }
json_count() { "$PYTHON3" -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
unit_prop() { sbx_exec systemctl show "$1" -p "$2" --value; }

check "entra-tap-grantctl is built" test -x "$top_builddir/entra-tap-grantctl" || finish
check "the module is built" test -f "$SB_MODULE" || finish
check "systemd boots as PID 1 of the sandbox" -- sbx_start
check "the sandbox reaches running" -- sbx_wait_running 60 || finish
# only the paths under test end grants: the minutely sweep would race them
sbx_exec systemctl stop entra-tap-sweep.timer
ok $? "the minutely sweep timer is stopped"

# ---- the last good copy ----
gid=$(sbx_grantctl grant alice --duration 1h) && sbx_grantctl revoke "$gid" >/dev/null
ok $? "a grant made and revoked with a good configuration"
[ -f "$COPY" ] && [ "$(stat -c '%u %a' "$COPY")" = "0 600" ] && cmp -s "$COPY" "$CONF"
ok $? "$SB_STATE/last-good.conf is a byte copy of the configuration, root 0600 ($(stat -c '%U %a' "$COPY" 2>&1))"

# ---- every way of breaking it: the grant still ends on its timer ----
i=0
for how in $BREAKS; do
	i=$((i + 1))
	u=bk$i
	cur=$(cursor)
	gid=$(sbx_grantctl grant "$u" --duration 2s)
	ok $? "[$how] $u is granted 2 s" || continue
	break_conf "$how"
	exp=$(sb_grant_field "$gid" 'g["expires"]')
	[ "$(date +%s)" -lt "$exp" ] && sb_listed "$u"
	ok $? "[$how] the configuration is broken while the grant is live"
	wait_until 10 unlisted "$u"
	ok $? "[$how] $u leaves $SB_GROUP on the grant's timer"
	wait_until 5 revoked_event "$cur" "$gid" expiry
	ok $? "[$how] the journal has the revoke of grant $gid (cause expiry)"
	wait_until 5 unusable_by "$cur" revoke "$BROKEN_NEEDLE"
	ok $? "[$how] config_unusable at crit from revoke names $BROKEN_NEEDLE" || unusable_log "$cur"
	if [ "$how" = missing ]; then
		unusable_by "$cur" revoke "the last good copy"
		ok $? "[$how] the revoke ran from the last good copy" || unusable_log "$cur"
	fi
	revoke_unit_ok "$gid"
	ok $? "[$how] the timer's revoke service exited 0"
	restore_conf
done

# ---- the sweep ----
gid=$(sbx_grantctl grant sw1 --duration 2s) && sbx_exec systemctl stop "entra-tap-revoke-$gid.timer"
ok $? "[sweep] sw1 is granted 2 s and its timer is stopped"
exp=$(sb_grant_field "$gid" 'g["expires"]')
break_conf unknown-key
sleep_until "$exp"
sb_listed sw1
ok $? "[sweep] past its expiry, with no timer, sw1 is still a member"
cur=$(cursor)
sbx_exec systemctl start entra-tap-sweep.service 2>/dev/null
ok $((!$?)) "[sweep] systemctl start entra-tap-sweep.service reports the failure"
is "$(unit_prop entra-tap-sweep.service ExecMainStatus) $(unit_prop entra-tap-sweep.service Result)" "5 exit-code" \
	"[sweep] the sweep exited 5: the unit shows failed"
unlisted sw1
ok $? "[sweep] but it ended sw1's expired grant"
wait_until 5 revoked_event "$cur" "$gid" sweep
ok $? "[sweep] the journal has the revoke of grant $gid (cause sweep)"
sbx_exec systemctl start entra-tap-sweep.service 2>/dev/null
is "$(unit_prop entra-tap-sweep.service ExecMainStatus)" 5 "[sweep] a second run exits 5 too"
count_sweep_unusable() { N=$BROKEN_NEEDLE jn "$cur" "e.get('PRIORITY') == '2' and e.get('MESSAGE', '').startswith('sweep') and N in e.get('MESSAGE', '')" ENTRA_TAP_EVENT=config_unusable; }
sweep_unusable_two() { [ "$(count_sweep_unusable)" -ge 2 ]; }
wait_until 5 sweep_unusable_two
is "$(count_sweep_unusable)" 2 "[sweep] each of the two runs wrote one config_unusable entry at crit naming $BROKEN_NEEDLE" ||
	unusable_log "$cur"
sbx_grantctl sweep >/dev/null 2>&1
is $? 5 "[sweep] entra-tap-grantctl sweep exits 5"
restore_conf

# ---- no last good copy: the defaults, and the grant's own record ----
cur=$(cursor)
gid=$(sbx_grantctl grant nl1 --duration 2s)
ok $? "[no copy] nl1 is granted 2 s"
rm -f "$COPY"
break_conf syntax
[ ! -e "$COPY" ] && [ "$(date +%s)" -lt "$(sb_grant_field "$gid" 'g["expires"]')" ] && sb_listed nl1
ok $? "[no copy] last-good.conf is deleted and the configuration broken, the grant live"
wait_until 10 unlisted nl1
ok $? "[no copy] nl1 leaves $SB_GROUP on the grant's timer"
wait_until 5 revoked_event "$cur" "$gid" expiry
ok $? "[no copy] the journal has the revoke of grant $gid (cause expiry)"
N=$SB_GROUP jhas "$cur" "e.get('ENTRA_TAP_GROUP') == N" ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$gid"
ok $? "[no copy] in the group its record names ($SB_GROUP)"
wait_until 5 unusable_by "$cur" revoke "$BROKEN_NEEDLE" && unusable_by "$cur" revoke "built-in defaults"
ok $? "[no copy] config_unusable at crit names $BROKEN_NEEDLE and the built-in defaults" || unusable_log "$cur"
revoke_unit_ok "$gid"
ok $? "[no copy] the timer's revoke service exited 0"
[ ! -e "$COPY" ]
ok $? "[no copy] a broken configuration is never kept as the last good copy"
restore_conf
sbx_grantctl list >/dev/null
cmp -s "$COPY" "$CONF"
ok $? "[no copy] the next run with a good configuration keeps the copy again"

# ---- drop, by the user, through the setuid helper ----
gid=$(sbx_grantctl grant dr1 --duration 1h)
ok $? "[drop] dr1 is granted 1 h"
cur=$(cursor)
break_conf group-writable
out=$(sbx_exec setpriv --reuid=dr1 --regid=dr1 --clear-groups "$SB_HELPER_PATH" drop "$gid" 2>&1)
ok $? "[drop] entra-tap-helper drop, run by dr1, succeeds" || diag "$out"
unlisted dr1
ok $? "[drop] dr1 is no longer a member"
is "$(sb_grants dr1)" 0 "[drop] dr1 has no grant left"
wait_until 5 revoked_event "$cur" "$gid"
ok $? "[drop] the journal has the revoke of grant $gid"
wait_until 5 unusable_by "$cur" drop "$BROKEN_NEEDLE"
ok $? "[drop] config_unusable at crit from drop names $BROKEN_NEEDLE" || unusable_log "$cur"
out=$(sbx_grantctl grant dr2 --duration 1h 2>&1)
is $? 5 "[drop] grant is refused with exit 5 while the configuration is broken" || diag "$out"
unlisted dr2
ok $? "[drop] and dr2 was not made a member"
restore_conf

# ---- elevated_group renamed: the old grant ends in its old group ----
g2=4900
while cut -d: -f3 "$SB_ETC/group" | grep -qx "$g2"; do g2=$((g2 + 1)); done
echo "$SECOND_GROUP:x:$g2:" >>"$SB_ETC/group" && { [ ! -f "$SB_ETC/gshadow" ] || echo "$SECOND_GROUP:!::" >>"$SB_ETC/gshadow"; }
gid=$(sbx_grantctl grant rn1 --duration 3s)
ok $? "[rename] rn1 is granted 3 s in $SB_GROUP"
cur=$(cursor)
sb_config elevated_group "$SECOND_GROUP"
gid2=$(sbx_grantctl grant rn2 --duration 1h) && in_second rn2 && unlisted rn2
ok $? "[rename] with elevated_group = $SECOND_GROUP (valid), a new grant goes to $SECOND_GROUP"
sb_listed rn1
ok $? "[rename] rn1 is still in $SB_GROUP before expiry"
wait_until 10 unlisted rn1
ok $? "[rename] at its expiry rn1 leaves $SB_GROUP, the group of the grant"
in_second rn1
ok $((!$?)) "[rename] and was never put in $SECOND_GROUP"
wait_until 5 revoked_event "$cur" "$gid" expiry && N=$SB_GROUP jhas "$cur" "e.get('ENTRA_TAP_GROUP') == N" \
	ENTRA_TAP_EVENT=revoke "ENTRA_TAP_GRANT_ID=$gid"
ok $? "[rename] the revoke event names grant $gid and group $SB_GROUP"
revoke_unit_ok "$gid"
ok $? "[rename] the timer's revoke service exited 0"
is "$(jn "$cur" True ENTRA_TAP_EVENT=config_unusable)" 0 "[rename] a valid configuration writes no config_unusable"
sbx_grantctl revoke "$gid2" >/dev/null && ! in_second rn2
ok $? "[rename] rn2's grant revoked from $SECOND_GROUP"
restore_conf

# ---- state_dir changed: grants of the old store end from where they live ----
gid=$(sbx_grantctl grant sd1 --duration 3s)
ok $? "[state_dir] sd1 is granted 3 s in the store at $SB_STATE"
gid2=$(sbx_grantctl grant sd2 --duration 2s) && sbx_exec systemctl stop "entra-tap-revoke-$gid2.timer"
ok $? "[state_dir] sd2 is granted 2 s, its timer stopped"
grep -qx "$SB_STATE" "$SBX_DIR/state/stores"
ok $? "[state_dir] the store is registered in $SB_STATE/stores"
cur=$(cursor)
sb_config state_dir /var/lib/entra-tap-moved
wait_until 10 unlisted sd1
ok $? "[state_dir] with state_dir moved (valid), sd1's timer still ends its grant"
wait_until 5 revoked_event "$cur" "$gid" expiry
ok $? "[state_dir] the revoke event names grant $gid"
revoke_unit_ok "$gid"
ok $? "[state_dir] the timer's revoke service exited 0 (the grant was found in the old store)"
wait_until 10 sh -c "[ \$(date +%s) -gt $(($(date +%s) + 2)) ]"
sb_listed sd2
ok $? "[state_dir] sd2, whose timer was stopped, is still a member past its expiry"
sbx_grantctl sweep >/dev/null 2>&1 && unlisted sd2 && revoked_event "$cur" "$gid2" sweep
ok $? "[state_dir] the sweep ends sd2's grant in the old store"
restore_conf

# ---- duration_max lowered: the next sweep cuts, and ends what is past its new end ----
is "$(sbx_grantctl list --json | json_count)" 0 "[cut] the store is empty"
gid=$(sbx_grantctl grant dm1 --duration 1h)
ok $? "[cut] dm1 is granted 1 h"
created=$(sb_grant_field "$gid" 'g["created"]')
before=$(sb_grant_field "$gid" 'g["expires"]')
sb_config duration_default 1s && sb_config duration_max 2s
sleep_until $((created + 2))
cur=$(cursor)
out=$(sbx_grantctl sweep 2>&1)
ok $? "[cut] with duration_max = 2s (valid), entra-tap-grantctl sweep succeeds" || diag "$out"
N=$before jhas "$cur" "e.get('ENTRA_TAP_PREVIOUS_EXPIRES_UNIX') == N" ENTRA_TAP_EVENT=cut "ENTRA_TAP_GRANT_ID=$gid"
ok $? "[cut] the journal has the cut of grant $gid with its previous expiry ($before)"
N=$((created + 2)) jhas "$cur" "e.get('ENTRA_TAP_EXPIRES_UNIX') == N" ENTRA_TAP_EVENT=cut "ENTRA_TAP_GRANT_ID=$gid"
ok $? "[cut] cut to created + duration_max ($((created + 2)))"
revoked_event "$cur" "$gid"
ok $? "[cut] the same sweep ended it (revoke event)"
unlisted dm1
ok $? "[cut] dm1 is no longer a member"
is "$(sb_grants dm1)" 0 "[cut] dm1 has no grant left"
restore_conf
gid=$(sbx_grantctl grant dm2 --duration 1h)
ok $? "[cut] dm2 is granted 1 h"
created=$(sb_grant_field "$gid" 'g["created"]')
before=$(sb_grant_field "$gid" 'g["expires"]')
sb_config duration_default 30m && sb_config duration_max 30m
cur=$(cursor)
out=$(sbx_grantctl sweep 2>&1)
ok $? "[cut] with duration_max = 30m, the sweep succeeds" || diag "$out"
N=$before jhas "$cur" "e.get('ENTRA_TAP_PREVIOUS_EXPIRES_UNIX') == N" ENTRA_TAP_EVENT=cut "ENTRA_TAP_GRANT_ID=$gid"
ok $? "[cut] the journal has the cut of grant $gid with its previous expiry ($before)"
is "$(sb_grant_field "$gid" 'g["expires"]')" $((created + 1800)) "[cut] list --json: expires = created + 1800"
sb_listed dm2
ok $? "[cut] dm2 is still a member"
revoked_event "$cur" "$gid"
ok $((!$?)) "[cut] and no revoke event for it"
cal=$(unit_prop "entra-tap-revoke-$gid.timer" TimersCalendar)
case "$cal" in *"OnCalendar=$(date -u -d "@$((created + 1800))" '+%Y-%m-%d %H:%M:%S UTC') ;"*) r=0 ;; *) r=1 ;; esac
ok $r "[cut] its timer is set for the new expiry" || diag "$cal"
sbx_grantctl revoke "$gid" >/dev/null
restore_conf

# ---- PAM: the package's profile lines with a broken configuration ----
# pamcall SERVICE USER PHASE...: one PAM transaction (libpam through ctypes) running the
# phases (auth, acct, setcred = PAM_ESTABLISH_CRED, open), printing PHASE=CODE for each
cat >"$SBX_DIR/pamcall.py" <<'EOF'
import sys
from ctypes import CDLL, CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_int, c_size_t, c_void_p, cast, sizeof
pam, libc = CDLL("libpam.so.0"), CDLL("libc.so.6")
libc.calloc.restype, libc.calloc.argtypes = c_void_p, [c_size_t, c_size_t]
libc.strdup.restype, libc.strdup.argtypes = c_void_p, [c_char_p]
class Msg(Structure):
    _fields_ = [("msg_style", c_int), ("msg", c_char_p)]
class Resp(Structure):
    _fields_ = [("resp", c_void_p), ("resp_retcode", c_int)]
CONV = CFUNCTYPE(c_int, c_int, POINTER(POINTER(Msg)), POINTER(POINTER(Resp)), c_void_p)
class Conv(Structure):
    _fields_ = [("conv", CONV), ("appdata_ptr", c_void_p)]
def conv(n, msgs, resp, data):
    r = cast(libc.calloc(n, sizeof(Resp)), POINTER(Resp))
    for i in range(n):
        m = msgs[i].contents
        if m.msg_style in (1, 2):
            r[i].resp = libc.strdup(b"")
        else:
            sys.stderr.write("pam: %s\n" % (m.msg or b"").decode("utf-8", "replace"))
    resp[0] = r
    return 0
c, h = Conv(CONV(conv), None), c_void_p()
if pam.pam_start(sys.argv[1].encode(), sys.argv[2].encode(), byref(c), byref(h)) != 0:
    sys.exit(2)
calls = {"auth": lambda: pam.pam_authenticate(h, 0), "acct": lambda: pam.pam_acct_mgmt(h, 0),
         "setcred": lambda: pam.pam_setcred(h, 2), "open": lambda: pam.pam_open_session(h, 0)}
out = ["%s=%d" % (p, calls[p]()) for p in sys.argv[3:]]
pam.pam_end(h, 0)
print(" ".join(out))
EOF
pamcall() { sbx_exec "$PYTHON3" "$SBX_DIR/pamcall.py" "$@" 2>/dev/null; }
# section NAME: the lines of a profile section, without their indentation (pam_profile.sh)
section() { awk -v s="$1:" '/^[A-Za-z-]+:/ { on = ($1 == s); next } on && /^[ \t]/ { sub(/^[ \t]+/, ""); print }' "$PROFILE"; }
section Account | grep -q 'pam_entra_tap.so no_grant=ignore'
ok $? "[pam] the profile's Account lines hold pam_entra_tap.so no_grant=ignore"
# sshd: laid out as pam-auth-update lays out common-auth and common-account
{
	section Auth | sed -e 's/success=end/success=1/' -e 's/^/auth /'
	echo "auth requisite pam_deny.so"
	echo "auth required pam_permit.so"
	section Account | sed -e 's/^/account /'
	echo "account required pam_permit.so"
} | sb_pam sshd
# entra-tap: the profile's account stack, passing exactly when the module says PAM_IGNORE
{
	section Account | sed -e 's/^required[[:space:]]*pam_entra_tap\.so/[ignore=ignore default=die] pam_entra_tap.so/' \
		-e 's/^/account /'
	echo "account required pam_permit.so"
} | sb_pam entra-tap
# sudo: the profile's account stack after a pass: its code is the module's failure code
{
	echo "account required pam_permit.so"
	section Account | sed -e 's/^/account /'
} | sb_pam sudo
# et-ignore: setcred and session pass exactly when the module says PAM_IGNORE; et-code: the
# module's failure code, 0 for success or ignore
printf '%s\n' "auth [ignore=ignore default=die] pam_entra_tap.so" "auth required pam_permit.so" \
	"session [ignore=ignore default=die] pam_entra_tap.so" "session required pam_permit.so" | sb_pam et-ignore
printf '%s\n' "auth required pam_permit.so" "auth required pam_entra_tap.so" \
	"session required pam_permit.so" "session required pam_entra_tap.so" | sb_pam et-code
grep -q "$SB_MODULE" "$SB_ETC/pam.d/entra-tap" && grep -q 'ignore=ignore default=die' "$SB_ETC/pam.d/entra-tap"
ok $? "[pam] the test services name the built module"
sbx_grantctl grant ph1 --duration 1h >/dev/null && sbx_grantctl grant ph1 --duration 2h >/dev/null &&
	sbx_grantctl grant ph2 --duration 1h >/dev/null && sbx_grantctl grant ph3 --duration 1h >/dev/null &&
	sbx_grantctl grant ph4 --duration 1h >/dev/null
ok $? "[pam] ph1 holds two grants, ph2, ph3 and ph4 one each"
is "$(sb_grants ph1)" 2 "[pam] ph1's two grants are in the store"
break_conf unknown-key
is "$(pamcall sshd root acct)" acct=0 "[pam] profile stack: root passes the account phase"
is "$(pamcall entra-tap root acct)" acct=0 "[pam] for root the module returns PAM_IGNORE"
is "$(pamcall sshd pfree acct)" acct=0 "[pam] profile stack: a user without a grant passes the account phase"
is "$(pamcall entra-tap pfree acct)" acct=0 "[pam] for him the module returns PAM_IGNORE"
is "$(pamcall et-ignore pfree setcred open)" "setcred=0 open=0" "[pam] setcred and open_session return PAM_IGNORE for him"
r=$(pamcall sshd ph1 acct)
[ -n "$r" ] && [ "$r" != acct=0 ]
ok $? "[pam] profile stack: ph1, who holds grants, is refused in the account phase ($r)"
unlisted ph1
ok $? "[pam] ph1 is no longer a member"
is "$(sb_grants ph1)" 0 "[pam] both of ph1's grants are gone from the store"
is "$(pamcall sudo ph2 acct)" acct=6 "[pam] the module refuses ph2's account with PAM_PERM_DENIED (6)"
unlisted ph2 && [ "$(sb_grants ph2)" = 0 ]
ok $? "[pam] and ph2's grant is revoked"
r=$(pamcall et-code ph3 setcred)
case "$r" in setcred=0 | '') false ;; *) true ;; esac
ok $? "[pam] setcred refuses ph3, who holds a grant ($r)"
unlisted ph3 && [ "$(sb_grants ph3)" = 0 ]
ok $? "[pam] and ph3's grant is revoked"
r=$(pamcall et-code ph4 open)
case "$r" in open=0 | '') false ;; *) true ;; esac
ok $? "[pam] open_session refuses ph4, who holds a grant ($r)"
unlisted ph4 && [ "$(sb_grants ph4)" = 0 ]
ok $? "[pam] and ph4's grant is revoked"
r=$(pamcall sshd pfree auth)
case "$r" in auth=0 | '') false ;; *) true ;; esac
ok $? "[pam] profile stack: authentication fails ($r)"
r=$(pamcall et-code pfree auth)
case "$r" in auth=0 | '') false ;; *) true ;; esac
ok $? "[pam] the module's auth fails closed: neither success nor ignore ($r)"
restore_conf

# ---- boot: a grant that expires while the machine is down ends at boot ----
gid=$(sbx_grantctl grant bt1 --duration 3s)
ok $? "[boot] bt1 is granted 3 s"
exp=$(sb_grant_field "$gid" 'g["expires"]')
break_conf missing
# only the boot reconcile may end it: the sweep timer (Persistent, OnBootSec) stays off
rm -f "$SB_ETC/systemd/system/timers.target.wants/entra-tap-sweep.timer"
sbx_crash
ok $? "[boot] power cut"
sleep_until "$exp"
sb_listed bt1
ok $? "[boot] bt1 is still a member while the machine is down, past the expiry"
check "[boot] the sandbox boots again" -- sbx_start
check "[boot] and settles" -- sbx_wait_running 60
unlisted bt1
ok $? "[boot] bt1's grant was ended at boot"
[ "$(unit_prop entra-tap-sweep.timer ActiveState)" != active ]
ok $? "[boot] the sweep timer did not run in this boot"
is "$(unit_prop entra-tap-boot-reconcile.service ExecMainStatus) $(unit_prop entra-tap-boot-reconcile.service Result)" \
	"5 exit-code" "[boot] entra-tap-boot-reconcile.service ran, and exited 5"
wait_until 5 revoked_event -b "$gid" sweep
ok $? "[boot] the journal of this boot has the revoke of grant $gid (cause sweep)"
wait_until 5 unusable_by -b sweep "$SB_CONF"
ok $? "[boot] and a config_unusable entry at crit from the sweep naming $SB_CONF"
restore_conf

done_testing
