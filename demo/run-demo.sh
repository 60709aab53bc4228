#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The pam_entra_tap demo, on a fresh Debian 12 machine, as root:
#
#     bash demo/run-demo.sh          (as root: a root shell, su -, or sudo where it is installed)
#
# It installs what it needs with apt-get (only packages that are missing), builds the project
# out of tree in a temporary directory, and plays the engineer's journey in a sandbox: a
# private network namespace with the mock Entra ID on loopback, systemd booted as PID 1 of
# its own PID + mount namespaces, and a private copy of /etc (the host's /etc, /etc/pam.d and
# sudoers are never touched).
#
# Part 1, Microsoft Entra ID: the mock behaves as Entra ID (a Temporary Access Pass is not
# accepted at a prompt) and the host is configured as the shipped example (methods =
# device_code). alice, without admin rights, gets a Temporary Access Pass from the mock, runs
# `entra-tap-helper elevate` on a real terminal, which shows the verification page and a code;
# she opens the page in a browser (a scripted one, tests/mock-entra/browser.py, filling in
# the forms as she would), enters the code, signs in with her pass, reads the confirmation
# naming the application and the host's request, continues, and presses Enter at the
# terminal. She gets a short grant, uses sudo, watches the systemd timer revoke it, is refused
# by sudo, and reads the journal.
#
# Part 2, only for identity providers that accept a pass typed at the prompt (not Entra ID):
# the same pass typed at the prompt is refused while the mock behaves as Entra ID; with the
# mock's pass-at-prompt mode on and tap_password_grant = yes, alice types it at the prompt,
# gets a grant, uses sudo and drops it.
#
# Every step is checked; the exit status is 0 only when every check passed. Everything it
# made is removed at the end (also on Ctrl-C).
#
# The steps are tests/integration/journey_steps.sh, the same code the test
# tests/integration/journey_engineer.sh runs under `make check` (in the same two parts).
#
# Environment: DEMO_GRANT (the short grant, default 15s), DEMO_KEEP=1 keeps the build.
set -u
demo_src=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${_DEMO_INNER:-}" ]; then
	demo_t0=$(date +%s)
	if [ "$(id -u)" != 0 ]; then
		echo "run-demo.sh: run it as root (in a root shell: bash demo/run-demo.sh): it boots a sandbox with namespaces" >&2
		exit 1
	fi
	step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

	DEPS=(build-essential autoconf automake libtool pkg-config
		libpam0g-dev libcurl4-openssl-dev libjson-c-dev libssl-dev libsystemd-dev
		python3 python3-cryptography python3-pexpect openssl ca-certificates
		util-linux passwd systemd dbus sudo iproute2)
	missing=()
	for p in "${DEPS[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		step "installing ${missing[*]} (apt-get)"
		export DEBIAN_FRONTEND=noninteractive
		if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
			>/tmp/entra-tap-demo-apt.log 2>&1; then
			tail -20 /tmp/entra-tap-demo-apt.log
			echo "run-demo.sh: apt-get failed (log: /tmp/entra-tap-demo-apt.log)" >&2
			exit 1
		fi
	else
		step "build and runtime dependencies are installed"
	fi

	if [ -f "$demo_src/config.status" ]; then
		echo "run-demo.sh: $demo_src was configured in place; the demo builds out of tree: run 'make distclean' there first" >&2
		exit 1
	fi
	demo_work=$(mktemp -d /tmp/entra-tap-demo.XXXXXX) || exit 1
	demo_cleanup() {
		if [ "${DEMO_KEEP:-}" = 1 ]; then
			echo "run-demo.sh: kept $demo_work"
		else
			rm -rf "$demo_work"
		fi
	}
	trap demo_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	step "building in $demo_work (out of tree)"
	if [ ! -x "$demo_src/configure" ]; then
		(cd "$demo_src" && ./autogen.sh) >"$demo_work/autogen.log" 2>&1 || {
			tail -20 "$demo_work/autogen.log"
			exit 1
		}
	fi
	(cd "$demo_work" && "$demo_src/configure" >configure.log 2>&1) || {
		tail -20 "$demo_work/configure.log"
		exit 1
	}
	(cd "$demo_work" && make -j"$(nproc)" >make.log 2>&1) || {
		grep -E 'error|Error' "$demo_work/make.log" | head -20
		exit 1
	}
	echo "    built: pam_entra_tap.so, entra-tap-helper, entra-tap ($(($(date +%s) - demo_t0)) s so far)"
	_DEMO_INNER=1 top_srcdir=$demo_src top_builddir=$demo_work bash "$0"
	rc=$?
	if [ $rc = 0 ]; then
		step "demo finished: every step did what it said ($(($(date +%s) - demo_t0)) s)"
	else
		step "demo FAILED (exit $rc) after $(($(date +%s) - demo_t0)) s"
	fi
	exit $rc
fi

# ---- inside: the journey ----
# the checks print for people as the demo goes (tests/integration/lib.sh)
TAP_STYLE=human
# the mock starts as Entra ID behaves: no pass at the prompt
export ET_MOCK_TAP_AT_PROMPT=no
# shellcheck source=tests/integration/journey_sandbox.sh
. "$demo_src/tests/integration/journey_sandbox.sh"
[ "${_MOCK_STAGE:-0}" = 0 ] && printf '\n\033[1m==> %s\033[0m\n' \
	"starting the sandbox: private network with the mock Entra ID, systemd as PID 1, a private /etc"
jny_enter "$@"
# shellcheck source=tests/integration/journey_steps.sh
. "$demo_src/tests/integration/journey_steps.sh"

demo_part() {
	printf '\n\033[1;7m %s \033[0m\n' "$1"
	shift
	printf '  %s\n' "$@"
}

jny_say "sandbox ready: mock Entra ID at $ET_MOCK_BASE (tenant $ET_MOCK_TENANT), systemd $(sbx_exec systemctl is-system-running), elevated group $G"
jny_say "the host's configuration, /etc/security/pam_entra_tap.conf inside the sandbox (excerpt)"
jny_show "$(sbx_exec grep -E '^(tenant_id|client_id|authority|elevated_group|duration_(min|max)) ' \
	/etc/security/pam_entra_tap.conf)"

grant=${DEMO_GRANT:-15s}
# each step needs the one before it: stop at the first that failed
demo_part "PART 1 - Microsoft Entra ID: a device code, and the Temporary Access Pass on the verification page" \
	"Entra ID takes a Temporary Access Pass only in its own sign-in page, so the prompt shows a" \
	"page and a code, and alice signs in there with her pass." &&
	eng_idp entra &&
	eng_begin &&
	eng_issue_tap DEMO_TAP &&
	eng_elevate_code "$grant" "INC-1234 restart api" DEMO_TAP &&
	eng_sudo ok &&
	eng_status &&
	eng_expiry &&
	eng_sudo refused &&
	eng_journal device_code &&
	demo_part "PART 2 - NOT Entra ID: identity providers that accept the pass typed at the prompt" \
		"Only where the identity provider's password grant takes a Temporary Access Pass, the" \
		"host may set tap_password_grant = yes and let people type the pass at the prompt." &&
	eng_idp tap-at-prompt &&
	eng_refused entra-pass &&
	eng_issue_tap DEMO_TAP &&
	eng_elevate DEMO_TAP 30m "INC-1234 restart api" &&
	eng_sudo ok &&
	eng_drop &&
	eng_sudo refused
done_testing
