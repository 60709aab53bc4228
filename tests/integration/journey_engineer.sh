#!/bin/bash
# Journey 1, the engineer: alice, without admin rights, runs
# `entra-tap-helper elevate --duration 30m --reason "INC-1234 restart api"` on a terminal;
# the entra-tap PAM service prompts for her Temporary Access Pass; the helper prints group,
# local expiry and grant id; in the same shell `sudo -n true` works, and stops working after
# `entra-tap-helper drop`; a 5 s grant is ended by its systemd timer and sudo is refused
# again; the journal tells the story. A wrong pass, an ineligible user (bob) and an identity
# provider that is down each get one sentence, a non-zero exit and no grant.
# Runs in journey_sandbox.sh (systemd as PID 1, the mock Entra ID, a private /etc); the
# steps are journey_steps.sh, the same ones demo/run-demo.sh plays.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/journey_sandbox.sh"
jny_enter "$@"
. "$_jny_here/journey_steps.sh"

eng_begin
eng_issue_tap ET_TAP
eng_elevate ET_TAP 30m "INC-1234 restart api"
eng_sudo ok
eng_drop
eng_sudo refused

# a short grant, ended by its timer
eng_issue_tap ET_TAP
eng_elevate ET_TAP 5s "INC-1234 restart api"
eng_sudo ok
eng_expiry
eng_sudo refused
eng_journal

eng_refused wrong-tap
eng_refused ineligible
eng_refused idp-down

done_testing
