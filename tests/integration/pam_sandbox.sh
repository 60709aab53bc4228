# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# pam_sandbox.sh: a throwaway host for the PAM integration tests (real sshd, real sudo,
# `entra-tap-helper elevate`), stacked from the layers the other tests use.
#
# Source it from a bash test and call psb_enter "$@" first thing. The script re-executes
# itself into each layer in turn:
#   1. mock.sh's mock_enter --net: a private network namespace with only loopback, so sshd's
#      port 2299 and the mock's port never meet another test's, and the mock Entra ID on it
#      (ET_MOCK_*), with alice@contoso.com (eligible) and bob@contoso.com (no groups);
#   2. grant_sandbox.sh's gsb_enter: a private mount namespace with a copied /etc, empty
#      /run and /var/lib, and the built helper setuid root at its compiled-in path.
# Inside, psb_enter then
#   - writes /etc/security/pam_entra_tap.conf for the mock (sb_config_for_mock:
#     tap_password_grant = yes, elevated_group, durations 1s..8h, state in /var/lib/entra-tap);
#   - adds local users alice and bob (bash, a home under $GSB_DIR/home, no password);
#   - takes SB_MODULE, the built module ($top_builddir/.libs/pam_entra_tap.so), which
#     sb_pam names by absolute path (nothing is installed into the PAM dir);
#   - makes PSB_T, a scratch directory.
# Nothing outside the test's temp dirs is written; everything vanishes with the test.
#
# Then grant_sandbox.sh's gsb_* and sandbox_base.sh's sb_* (sb_pam, sb_drive, sb_in_group,
# sb_grants, sb_grant_field, ...), mock.sh's mock_* and lib.sh.
#
# Inputs: top_builddir, top_srcdir, ET_BINDIR and ET_LIBEXECDIR (set by `make check`), SB_MODULE (default
# the built module; `pam_permit.so` proves the plumbing without it).

[ -z "${_PSB_LOADED:-}" ] || return 0
_PSB_LOADED=1
# shellcheck source=tests/integration/grant_sandbox.sh
. "$(dirname "${BASH_SOURCE[0]}")/grant_sandbox.sh"
# shellcheck source=tests/integration/mock.sh
. "$(dirname "${BASH_SOURCE[0]}")/mock.sh"

psb_enter() {
	export top_srcdir top_builddir SB_MODULE
	if [ "${_MOCK_STAGE:-0}" = 0 ]; then
		require_root
		[ -x "$SB_PY" ] || skip_all "needs $SB_PY"
		case "$SB_MODULE" in
		/*) [ -f "$SB_MODULE" ] || skip_all "the module is not built: $SB_MODULE" ;;
		esac
	fi
	mock_enter --net "$@"
	gsb_enter "$@"
	sb_config_for_mock || skip_all "cannot write the configuration"
	mkdir -p "$SB_STATE" && chmod 0700 "$SB_STATE"
	sb_useradd --login alice bob || skip_all "cannot add the users"
	PSB_T=$(sb_tmpdir)
}

readonly -f psb_enter
