#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Journey 1, the engineer, in two parts.
#
# With Microsoft Entra ID (the mock behaves as Entra: its password grant refuses a Temporary
# Access Pass; the host is configured as the shipped example, methods = device_code): alice,
# without admin rights, runs `entra-tap-helper elevate --duration 30m --reason "INC-1234
# restart api"` on a terminal; the entra-tap PAM service shows the verification page and a
# code; alice opens the page in a browser (tests/mock-entra/browser.py, filling in the forms
# as she would), enters the code, signs in with her account and pass, reads the confirmation
# naming the application and the host's request, continues, and presses Enter at the
# terminal; the helper prints group, local expiry and grant id; in the same shell
# `sudo -n true` works, and stops working after `entra-tap-helper drop`; a 5 s grant is ended
# by its systemd timer and sudo is refused again; the journal tells the story.
#
# For identity providers that accept the pass at the prompt (the mock's pass-at-prompt mode,
# tap_password_grant = yes): a valid pass typed at the prompt is first refused while the mock
# behaves as Entra ID, then accepted with the mode on, with sudo and drop as above. A wrong
# pass, an ineligible user (bob) and an identity provider that is down each get one
# sentence, a non-zero exit and no grant.
#
# Runs in journey_sandbox.sh (systemd as PID 1, the mock Entra ID, a private /etc); the
# steps are journey_steps.sh, the same ones demo/run-demo.sh plays.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# the mock starts as Entra ID behaves; the second part turns its pass-at-prompt mode on
export ET_MOCK_TAP_AT_PROMPT=no
. "$(dirname "$0")/journey_sandbox.sh"
jny_enter "$@"
. "$_jny_here/journey_steps.sh"

# ---- Microsoft Entra ID: device code, the pass on the verification page ----
eng_idp entra
eng_begin
eng_issue_tap ET_TAP
eng_elevate_code 30m "INC-1234 restart api" ET_TAP
eng_sudo ok
eng_drop
eng_sudo refused

# a short grant, ended by its timer
eng_issue_tap ET_TAP
eng_elevate_code 5s "INC-1234 restart api" ET_TAP
eng_sudo ok
eng_expiry
eng_sudo refused
eng_journal device_code

# ---- identity providers that accept the pass at the prompt (not Entra ID) ----
eng_idp tap-at-prompt
eng_refused entra-pass
eng_issue_tap ET_TAP
eng_elevate ET_TAP 30m "INC-1234 restart api"
eng_sudo ok
eng_drop
eng_sudo refused
eng_journal password drop

eng_refused wrong-tap
eng_refused ineligible
eng_refused idp-down

done_testing
