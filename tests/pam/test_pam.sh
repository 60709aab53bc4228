#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# pam_entra_tap.so through real libpam (pam_start_confdir, a private service directory)
# against a fresh mock Entra ID, inside a private mount namespace (grant_sandbox.sh) so that
# grants are made by the real setuid helper and the private /etc holds the test users.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
# shellcheck source=../integration/grant_sandbox.sh
. "$top_srcdir/tests/integration/grant_sandbox.sh"
gsb_enter "$@"
[ -f "$top_builddir/.libs/pam_entra_tap.so" ] || _gsb_cannot "no built module in $top_builddir/.libs"
gsb_useradd --login alice bob carol dave erin
ET_PAM_MODULE=$top_builddir/.libs/pam_entra_tap.so
ET_PAM_GROUP=$GSB_GROUP
ET_PAM_GID=$GSB_GID
export ET_PAM_MODULE ET_PAM_GROUP ET_PAM_GID
# inside the mock: its configuration becomes the sandbox's /etc/security/pam_entra_tap.conf
# (the helper reads only that path), with the sandbox's elevated group
# shellcheck disable=SC2016
# The tests drive PAM inside this very process, so its sessions are tied to the grants they
# make: on_expiry = keep, or the end of a grant would end the test (journey_sessions.sh and
# test_sessions cover terminate).
sh "$top_srcdir/tests/mock-entra/with-mock.sh" bash -c '
	sed -e "s/^elevated_group = .*/elevated_group = $ET_PAM_GROUP/" "$ET_MOCK_CONFIG" >/etc/security/pam_entra_tap.conf &&
	printf "duration_min = 1s\ndevice_code_max_per_user = 1000\ndevice_code_max_per_rhost = 10000\n" >>/etc/security/pam_entra_tap.conf &&
	printf "on_expiry = keep\n" >>/etc/security/pam_entra_tap.conf &&
	chmod 0600 /etc/security/pam_entra_tap.conf && chown root:root /etc/security/pam_entra_tap.conf || exit 1
	exec "$top_builddir/tests/pam/test_pam" "$@"' test_pam "$@"
exit $?
