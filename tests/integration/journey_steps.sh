# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# journey_steps.sh: the engineer's journey as steps, one implementation for the end-to-end
# test (tests/integration/journey_engineer.sh) and the demo (demo/run-demo.sh), so the two
# cannot drift. Source after journey_sandbox.sh's jny_enter. Each step narrates (jny_say),
# shows what alice's terminal showed (jny_show) and checks what it claims (ok / is / check);
# a step returns non-zero when one of its checks failed.
#
#   eng_idp entra|tap-at-prompt       what the identity provider does with a pass, and the
#                                     host's configuration to match (below)
#   eng_begin                         alice's shell, without rights: sudo refused
#   eng_issue_tap VAR [UPN]           the mock issues a pass; exported in VAR
#   eng_elevate VAR DURATION REASON   `entra-tap-helper elevate` with the pass at the prompt
#                                     (tap-at-prompt only); sets ENG_GRANT (the printed id)
#   eng_elevate_code DURATION REASON [VAR]
#                                     the same with a device code (Enter at the pass prompt
#                                     when there is one). With VAR, alice opens the
#                                     verification page in a browser (the scripted
#                                     tests/mock-entra/browser.py) and signs in there with the
#                                     pass in VAR, as with Entra ID; without, the code is
#                                     approved through the mock's control API
#   eng_status [countdown]            `entra-tap-helper status`; with countdown, again once
#                                     the clock's second has changed, and the time left must
#                                     have gone down
#   eng_sudo ok|refused               `sudo -n true` in the same shell
#   eng_drop                          `entra-tap-helper drop`
#   eng_expiry                        the grant's timer ends it; waits for it
#   eng_journal [METHOD [CAUSE]]      the audit trail of ENG_GRANT, as journalctl shows it:
#                                     sign-in (METHOD, default password: a pass typed at the prompt), grant, revoke (CAUSE,
#                                     default expiry)
#   eng_refused WHAT                  wrong-tap | ineligible | idp-down | entra-pass (a valid
#                                     pass typed at the prompt, refused by an identity
#                                     provider that behaves as Entra ID): one sentence, no grant
#
# The sandbox starts with the pass prompt on (methods tap device_code, tap_password_grant =
# yes); eng_idp entra turns it off as an Entra ID host is configured.

ENG_PROMPT_RE='Temporary Access Pass for [a-z]+@contoso\.com \(checked as a password; Enter to sign in with a code\): '
# the host prompts for a pass before offering a device code (tap_password_grant = yes)
ENG_PASS_PROMPT=yes
# the scripted browser that signs in on the mock's verification page
ENG_BROWSER=$(cd "$(dirname "${BASH_SOURCE[0]}")/../mock-entra" && pwd)/browser.py
_eng_failed=0
# _eng_ok STATUS NAME: ok, remembering a failure for the step's result
_eng_ok() {
	ok "$@" && return 0
	_eng_failed=1
	return 1
}
# _eng_abort: a step that cannot go on lets the command end and reports failure
_eng_abort() {
	jny_shell_wait 5
	_eng_failed=0
	return 1
}
_eng_result() {
	local r=$_eng_failed
	_eng_failed=0
	return "$r"
}
# _eng_prompted DURATION REASON SAY CHECK: alice types `entra-tap-helper elevate` (SAY
# narrates it, @CMD@ standing for the command); CHECK names the test that the PAM service
# prompted for the pass
_eng_prompted() {
	local cmd="entra-tap-helper elevate --duration $1 --reason \"$2\""
	jny_say "${3//@CMD@/$cmd}"
	ENG_GRANT=
	jny_shell_send "$cmd"
	jny_shell_expect "$ENG_PROMPT_RE" 20
	_eng_ok $? "$4"
}
# show the command as typed and what the terminal printed
_eng_show() { jny_show "$(printf '%s%s\n%s' "$JNY_SH_PROMPT" "$1" "$JNY_OUT")"; }

# eng_idp entra|tap-at-prompt
#   entra          the mock behaves as Entra ID (its password grant refuses a pass as an
#                  invalid credential) and the host is configured as
#                  data/pam_entra_tap.conf.example ships: methods = device_code,
#                  tap_password_grant = no; the person signs in with the pass in the browser
#   tap-at-prompt  an identity provider that accepts a pass through the password grant (the
#                  mock's pass-at-prompt mode): methods = tap device_code,
#                  tap_password_grant = yes
eng_idp() {
	local mode methods grant got
	case "$1" in
	entra)
		mode=false methods=device_code grant=no
		jny_say "the host is set up for Microsoft Entra ID: a device code, and the person signs in on the verification page; Entra ID does not take a Temporary Access Pass typed at a prompt"
		;;
	tap-at-prompt)
		mode=true methods="tap device_code" grant=yes
		jny_say "the host is set up for an identity provider that accepts a Temporary Access Pass typed at the prompt (the mock's pass-at-prompt mode; Entra ID does not)"
		;;
	*) return 2 ;;
	esac
	sb_config methods "$methods" && sb_config tap_password_grant "$grant"
	_eng_ok $? "the host's configuration has methods = $methods, tap_password_grant = $grant"
	jny_show "$(sbx_exec grep -E '^(methods|tap_password_grant) ' /etc/security/pam_entra_tap.conf)"
	got=$(mock_ctl config "{\"tap_at_prompt\": $mode}" | jget /dev/stdin 'd["tap_at_prompt"]')
	is "$got" "$mode" "the mock's password grant $([ "$mode" = true ] && echo accepts || echo refuses) a pass (tap_at_prompt $mode)"
	ENG_PASS_PROMPT=$grant
	_eng_result
}

eng_begin() {
	jny_say "alice logs in: an ordinary user, no admin rights"
	jny_shell_start alice
	_eng_ok $? "alice's shell runs on a terminal inside the sandbox"
	jny_shell 'id -nG'
	_eng_show 'id -nG'
	printf '%s\n' "$JNY_OUT" | tr ' ' '\n' | grep -qx "$G"
	_eng_ok $((!$?)) "alice is not in $G"
	jny_shell 'sudo -n true'
	_eng_show 'sudo -n true'
	[ "$JNY_RC" != 0 ] && [ "$JNY_RC" != timeout ]
	_eng_ok $? "sudo -n true is refused before any elevation (exit $JNY_RC)"
	_eng_result
}

eng_issue_tap() {
	local var=$1 upn=${2:-alice@contoso.com} answer pass
	jny_say "the administrator issues $upn a Temporary Access Pass (in Entra ID: user > Authentication methods > Temporary Access Pass; here the mock Entra ID)"
	answer=$(mock_ctl tap "{\"upn\":\"$upn\"}")
	pass=$(printf '%s' "$answer" | jget /dev/stdin 'd["tap"]')
	[ -n "$pass" ]
	_eng_ok $? "the mock Entra ID issued a Temporary Access Pass for $upn"
	export "$var=$pass"
	# a demo may show the pass of a mock; a test log keeps it out
	[ "$TAP_STYLE" = human ] && jny_show "$(printf '%s' "$answer" | "$PYTHON3" -c '
import json, sys
a = json.load(sys.stdin)
print("Temporary Access Pass: %s   (%s, valid %d minutes)" % (a["tap"], "one use" if a["one_time"] else "several uses", a["lifetime_minutes"]))')"
	_eng_result
}

# eng_elevate VAR DURATION REASON
eng_elevate() {
	local var=$1 dur=$2 reason=$3 line
	_eng_prompted "$dur" "$reason" "alice asks for elevation: @CMD@" \
		"the entra-tap PAM service prompts for the pass" || { _eng_abort; return 1; }
	line=$(_jny_sh_new | grep -oE "$ENG_PROMPT_RE" | tail -1)
	jny_show "$line"
	jny_say "alice types her pass at that prompt (it is not echoed)"
	# the pass goes in only once the terminal's echo is off: typed earlier, it would be
	# echoed, then flushed when the prompt turns the echo off
	jny_shell_echo_off
	_eng_ok $? "the prompt turns the terminal's echo off"
	jny_shell_type "${!var}"
	jny_shell_wait 30
	jny_show "$(printf '%s\n' "$JNY_OUT" | grep -vF "$line")"
	_eng_granted "$dur" "$reason" password # a typed secret: recorded as what is known
	! grep -qF "${!var}" "$JNY_SH_LOG"
	_eng_ok $? "the pass appears nowhere on the terminal"
	_eng_result
}

# _eng_granted DURATION REASON METHOD: what a successful elevate printed and made
_eng_granted() {
	local dur=$1 reason=$2 method=$3 secs want
	is "$JNY_RC" 0 "elevate exits 0"
	secs=$(printf '%s\n' "$JNY_OUT" | grep -oE "^group $G until [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} [A-Za-z0-9+-]+ \(([0-9]+[hms] ?)+( [0-9]+[ms])* left\), grant [0-9a-f]{32}\$")
	[ -n "$secs" ]
	_eng_ok $? "it prints the group, the expiry in local time, the time left and the grant id"
	ENG_GRANT=$(printf '%s\n' "$secs" | grep -oE '[0-9a-f]{32}$')
	local want
	want=$(date -d "@$(sb_grant_field "$ENG_GRANT" 'g["expires"]')" '+%Y-%m-%d %H:%M:%S %Z' 2>/dev/null)
	printf '%s\n' "$secs" | grep -qF "until $want"
	_eng_ok $? "the expiry shown is the grant's, in the host's local time ($want)"
	is "$(sb_grant_field "$ENG_GRANT" 'g["expires"] - g["created"]')" "$(_eng_seconds "$dur")" \
		"the grant lasts the $dur asked"
	is "$(sb_grant_field "$ENG_GRANT" 'g["reason"]')" "$reason" "the grant carries the reason"
	is "$(sb_grant_field "$ENG_GRANT" 'g["method"]')" "$method" "the grant's method is $method"
	sb_in_group alice
	_eng_ok $? "alice is in $G now"
}

# eng_elevate_code DURATION REASON [VAR]: a device-code sign-in; with VAR, alice signs in on
# the verification page with the pass in VAR, else the code is approved at the mock
eng_elevate_code() {
	local dur=$1 reason=$2 var=${3:-} code shown url out rc
	if [ "$ENG_PASS_PROMPT" = yes ]; then
		_eng_prompted "$dur" "$reason" "alice asks for elevation with a device code: @CMD@, then Enter at the prompt" \
			"the entra-tap PAM service prompts" || { _eng_abort; return 1; }
		jny_shell_echo_off
		jny_shell_type ''
	else
		ENG_GRANT=
		jny_say "alice asks for elevation: entra-tap-helper elevate --duration $dur --reason \"$reason\""
		jny_shell_send "entra-tap-helper elevate --duration $dur --reason \"$reason\""
	fi
	jny_shell_expect 'Press Enter' 20
	_eng_ok $? "a device-code sign-in starts and says where to sign in" || { _eng_abort; return 1; }
	shown=$(_jny_sh_new | sed '1d')
	jny_show "$shown"
	code=$(mock_ctl device/pending | "$PYTHON3" -c 'import json,sys; p=json.load(sys.stdin)["pending"]; print(p[0]["user_code"] if len(p) == 1 else "")')
	[ -n "$code" ] && printf '%s\n' "$shown" | grep -qF "$code"
	_eng_ok $? "the one pending code ($code) is the one shown on the terminal"
	if [ -n "$var" ]; then
		url=$(printf '%s\n' "$shown" | sed -n "s|^open \(https://[^ ]*\) and enter the code $code\$|\1|p" | tail -1)
		[ "$url" = "$ET_MOCK_BASE/devicelogin" ]
		_eng_ok $? "the terminal names the verification page ($url)"
		jny_say "on her phone or laptop, alice opens $url, enters the code, signs in with alice@contoso.com and her Temporary Access Pass, and confirms (a scripted browser, tests/mock-entra/browser.py, fills in the page as she would)"
		out=$(printf '%s\n' "${!var}" |
			"$PYTHON3" "$ENG_BROWSER" --ca "$ET_MOCK_CA" "$url" "$code" alice@contoso.com 2>&1)
		rc=$?
		jny_show "$out"
		is "$rc" 0 "the verification page took the code, the account and the pass, and alice confirmed"
		printf '%s\n' "$out" | grep -qF 'Are you trying to sign in to pam_entra_tap?' &&
			printf '%s\n' "$out" | grep -qE "^  \| Request: made from 127\.0\.0\.1 on .* for the code $code\$"
		_eng_ok $? "before approving, the page named the application and the host's request (code $code)"
		! printf '%s\n' "$out" | grep -qF "${!var}"
		_eng_ok $? "the browser's transcript does not show the pass"
		jny_say "back at the terminal, alice presses Enter"
	else
		jny_say "alice signs in with her pass in a browser and approves code $code (here: the mock's control API)"
		mock_ctl device/approve "{\"user_code\":\"$code\",\"upn\":\"alice@contoso.com\"}" >/dev/null
		_eng_ok $? "the mock approved the code for alice@contoso.com"
	fi
	jny_shell_type ''
	jny_shell_wait 60
	jny_show "$(printf '%s\n' "$JNY_OUT" | sed -n '/Press Enter/,$p' | sed '1d')"
	_eng_granted "$dur" "$reason" device_code
	if [ -n "$var" ]; then
		! grep -qF "${!var}" "$JNY_SH_LOG"
		_eng_ok $? "the pass appears nowhere on the terminal"
	fi
	_eng_result
}

# _eng_left_s TEXT: the seconds in "(1h 02m left)", "(3m 05s left)" or "(9s left)"
_eng_left_s() {
	printf '%s\n' "$1" | grep -oE '\(([0-9]+[hms] ?)+ left\)' | tail -1 | tr -d '()' | awk '{
		s = 0
		for (i = 1; i < NF; i++) {
			u = substr($i, length($i)); v = substr($i, 1, length($i) - 1) + 0
			s += (u == "h") ? v * 3600 : (u == "m") ? v * 60 : v
		}
		print s }'
}

# eng_status [countdown]
eng_status() {
	local l1 l2
	jny_say "alice checks her grant: entra-tap-helper status"
	jny_shell 'entra-tap-helper status'
	_eng_show 'entra-tap-helper status'
	is "$JNY_RC" 0 "status exits 0"
	printf '%s\n' "$JNY_OUT" | grep -qE "^grant $ENG_GRANT: group $G until .* \(([0-9]+[hms] ?)+ left\)\$"
	_eng_ok $? "status lists the grant with its group, expiry and time left"
	printf '%s\n' "$JNY_OUT" | grep -qx "alice is a member of $G"
	_eng_ok $? "status says alice is a member of $G"
	l1=$(_eng_left_s "$JNY_OUT")
	if [ "${1:-}" = countdown ]; then
		# the time left is in whole seconds: once the clock's second has changed it is less
		sleep_until $(($(date +%s) + 1))
		jny_shell 'entra-tap-helper status'
		_eng_show 'entra-tap-helper status'
		l2=$(_eng_left_s "$JNY_OUT")
		[ -n "$l1" ] && [ -n "$l2" ] && [ "$l2" -lt "$l1" ] && [ "$l2" -ge $((l1 - 4)) ]
		_eng_ok $? "the time left counts down: ${l1}s, then ${l2}s in a later second"
	fi
	_eng_result
}

_eng_seconds() {
	case "$1" in
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*h) echo $((${1%h} * 3600)) ;;
	esac
}

# eng_sudo ok|refused
eng_sudo() {
	jny_say "in the same shell: sudo -n true"
	jny_shell 'sudo -n true'
	_eng_show 'sudo -n true'
	if [ "$1" = ok ]; then
		is "$JNY_RC" 0 "sudo -n true succeeds in the same shell"
	else
		[ "$JNY_RC" != 0 ] && [ "$JNY_RC" != timeout ]
		_eng_ok $? "sudo -n true is refused (exit $JNY_RC)"
	fi
	_eng_result
}

eng_drop() {
	jny_say "alice is done early: entra-tap-helper drop"
	jny_shell 'entra-tap-helper drop'
	_eng_show 'entra-tap-helper drop'
	is "$JNY_RC" 0 "drop exits 0"
	printf '%s\n' "$JNY_OUT" | grep -qx "grant $ENG_GRANT ended"
	_eng_ok $? "it says the grant ended"
	sb_in_group alice
	_eng_ok $((!$?)) "alice is no longer in $G"
	_eng_result
}

eng_expiry() {
	local exp unit late
	exp=$(sb_grant_field "$ENG_GRANT" 'g["expires"]')
	unit=entra-tap-revoke-$ENG_GRANT.timer
	jny_say "systemd holds a timer for the grant's end: $unit"
	jny_show "$(sbx_exec systemctl list-timers --all --no-pager "$unit" | head -2)"
	[ "$(sbx_exec systemctl show "$unit" -p ActiveState --value)" = active ]
	_eng_ok $? "the grant's revocation timer is active in systemd"
	jny_say "waiting for the expiry at $(date -d "@$exp" '+%H:%M:%S %Z') ..."
	sleep_until "$exp"
	wait_until 10 sbx_exec sh -c "[ \"\$(systemctl show '$unit' -p LoadState --value)\" = not-found ] && ! getent group '$G' | cut -d: -f4 | tr ',' '\\n' | grep -qx alice"
	_eng_ok $? "the timer fired and removed alice from $G"
	late=$(awk -v a="$(date +%s.%N)" -v b="$exp" 'BEGIN { printf "%.1f", a - b }')
	jny_say "the timer revoked the grant (seen ${late}s after the expiry instant)"
	is "$(sb_grants --live alice)" 0 "no grant of alice is left in the store"
	_eng_result
}

# eng_journal [METHOD [CAUSE]]: the grant's story in the journal (shown), its three events checked
eng_journal() {
	local lines
	jny_say "the journal tells the story: journalctl SYSLOG_IDENTIFIER=entra-tap + sudo's own log"
	# journald may still be writing the last entry
	wait_until 5 sbx_exec sh -c "journalctl --no-pager -q ENTRA_TAP_GRANT_ID=$ENG_GRANT ENTRA_TAP_EVENT=revoke | grep -q ."
	# sudo's session lines (pam_unix, and pam_limits, which a sandbox may not apply) are noise here
	lines=$(sbx_exec journalctl --no-pager -q -o short-iso SYSLOG_IDENTIFIER=entra-tap + SYSLOG_IDENTIFIER=sudo |
		grep -vE 'sudo\[[0-9]+\]: pam_(unix|limits)\(sudo:session\)')
	jny_show "$lines"
	_eng_story "$ENG_GRANT" "${1:-password}" "${2:-expiry}"
	_eng_result
}

# _eng_story GRANT METHOD CAUSE: auth_ok, grant and revoke (with CAUSE), in this order
_eng_story() {
	local story
	story=$(sbx_journal_json ENTRA_TAP_USER=alice | "$PYTHON3" -c '
import json, sys
gid, method, cause, m_auth, m_grant, m_revoke = sys.argv[1:7]
es = sorted((json.loads(l) for l in sys.stdin if l.strip()), key=lambda e: int(e["__REALTIME_TIMESTAMP"]))
seq = []
for e in es:
    mid = e.get("MESSAGE_ID")
    if mid == m_auth and e.get("ENTRA_TAP_METHOD") == method:
        seq.append("auth")
    elif mid == m_grant and e.get("ENTRA_TAP_GRANT_ID") == gid:
        seq.append("grant:" + e.get("ENTRA_TAP_METHOD", ""))
    elif mid == m_revoke and e.get("ENTRA_TAP_GRANT_ID") == gid:
        seq.append("revoke:" + e.get("ENTRA_TAP_REASON", ""))
# the sign-in that led to this grant is the last one before it
if "grant:" + method in seq:
    i = seq.index("grant:" + method)
    before = [s for s in seq[:i] if s == "auth"]
    seq = (["auth"] if before else []) + seq[i:]
print(" ".join(seq))' "$1" "$2" "$3" "$(jny_msgid auth_ok)" "$(jny_msgid grant)" "$(jny_msgid revoke)")
	is "$story" "auth grant:$2 revoke:$3" "the journal has, in order: sign-in verified, grant ($2), revoke (cause $3)"
}

# eng_refused wrong-tap|ineligible|idp-down: one clear sentence, a non-zero exit, no grant
eng_refused() {
	local what=$1 user=alice pass want rc_want sentence say=
	case "$what" in
	wrong-tap)
		pass=WRONG0PASS1
		rc_want=3
		sentence='entra-tap-helper: elevate: the sign-in failed: no grant was made'
		;;
	ineligible)
		user=bob
		pass=$(mock_tap bob@contoso.com)
		rc_want=3
		sentence='entra-tap-helper: elevate: the sign-in failed: no grant was made'
		;;
	idp-down)
		pass=$(mock_tap alice@contoso.com)
		mock_ctl down '{"mode": "reset"}' >/dev/null
		rc_want=10
		sentence='entra-tap-helper: elevate: the identity provider could not be reached: no grant was made'
		;;
	entra-pass)
		# a valid pass, but the identity provider behaves as Entra ID for this attempt
		pass=$(mock_tap alice@contoso.com)
		mock_ctl config '{"tap_at_prompt": false}' >/dev/null
		say="as with Entra ID: alice types a valid Temporary Access Pass at the prompt, and the identity provider refuses it as an invalid credential (the mock's pass-at-prompt mode is off for this attempt)"
		rc_want=3
		sentence='entra-tap-helper: elevate: the sign-in failed: no grant was made'
		;;
	esac
	export ENG_REFUSED_PASS=$pass
	jny_say "${say:-refused: $what ($user)}"
	[ "$user" = alice ] || { jny_shell_stop; jny_shell_start "$user"; }
	jny_shell_send "entra-tap-helper elevate --duration 30m --reason \"INC-1234 restart api\""
	if jny_shell_expect "$ENG_PROMPT_RE" 20; then
		jny_shell_echo_off
		jny_shell_type "$pass"
	fi
	jny_shell_wait 30
	[ "$what" = idp-down ] && mock_ctl up >/dev/null
	jny_show "$JNY_OUT"
	is "$JNY_RC" "$rc_want" "$what: elevate exits $rc_want"
	want=$(printf '%s\n' "$JNY_OUT" | grep -c 'entra-tap-helper:')
	is "$want" 1 "$what: the helper says one sentence"
	printf '%s\n' "$JNY_OUT" | grep -qxF "$sentence"
	_eng_ok $? "$what: '$sentence'"
	is "$(sb_grants --live "$user")" 0 "$what: no grant for $user"
	sb_in_group "$user"
	_eng_ok $((!$?)) "$what: $user is not in $G"
	jny_shell 'sudo -n true'
	[ "$JNY_RC" != 0 ] && [ "$JNY_RC" != timeout ]
	_eng_ok $? "$what: sudo -n true is still refused"
	if [ "$what" = entra-pass ]; then
		mock_ctl config '{"tap_at_prompt": true}' >/dev/null
		[ "$(mock_ctl state/dump | jget /dev/stdin '[t["used"] for u in d["users"] if u["upn"] == "alice@contoso.com" for t in u["taps"]][-1]')" = false ]
		_eng_ok $? "$what: the refused pass was not used up"
	fi
	[ "$user" = alice ] || { jny_shell_stop; jny_shell_start alice; }
	_eng_result
}
