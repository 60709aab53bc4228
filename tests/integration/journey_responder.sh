#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Journey 3, the incident responder: from a jump box's terminal, a device-code sign-in
# (Enter at the prompt; the code is approved through the mock's control API, standing in for
# the person's browser sign-in with their Temporary Access Pass), a short grant,
# `entra-tap-helper status` counting down, sudo used, the grant ended by its own systemd timer,
# and the journal telling the whole story in order: sign-in verified (device_code), grant,
# sudo's own log line of the command, revoke with cause expiry (journalctl -o json inside the
# sandbox; order by timestamps, events by the MESSAGE_IDs of data/entra-tap.catalog).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/journey_sandbox.sh"
jny_enter "$@"
. "$_jny_here/journey_steps.sh"
# the grant must outlast the checks and the sudo before its end (about 4 s), no more
GRANT_S=10

eng_begin
eng_elevate_code "${GRANT_S}s" "INC-2024 database failover"
eng_status countdown
eng_sudo ok
eng_expiry
eng_sudo refused
eng_journal device_code

# sudo's own entry of the command sits between the grant and its end
order=$(sbx_journal_json ENTRA_TAP_GRANT_ID="$ENG_GRANT" + SYSLOG_IDENTIFIER=sudo | "$PYTHON3" -c '
import json, sys
m_grant, m_revoke = sys.argv[1:3]
out = []
for e in sorted((json.loads(l) for l in sys.stdin if l.strip()), key=lambda e: int(e["__REALTIME_TIMESTAMP"])):
    msg = e.get("MESSAGE", "")
    if isinstance(msg, list):
        msg = bytes(msg).decode("utf-8", "replace")
    if e.get("MESSAGE_ID") == m_grant:
        out.append("grant")
    elif e.get("MESSAGE_ID") == m_revoke:
        out.append("revoke:" + e.get("ENTRA_TAP_REASON", ""))
    elif e.get("SYSLOG_IDENTIFIER") == "sudo" and "alice : " in msg and "COMMAND=/usr/bin/true" in msg:
        out.append("sudo")
print(" ".join(out))' "$(jny_msgid grant)" "$(jny_msgid revoke)")
# the refused sudo before the grant logs no command; the one that ran does, and the refused
# one after the revoke does not either
[ "$order" = "grant sudo revoke:expiry" ]
ok $? "sudo's log of alice's command lies between the grant and its end by expiry" || diag "order: $order"
is "$(sb_grant_field "$ENG_GRANT" 'g["id"]')" none "the ended grant is gone from the store"

done_testing
