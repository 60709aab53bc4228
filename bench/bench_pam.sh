#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs bench/bench_pam inside the grant sandbox of the tests (a private mount namespace with
# its own /etc), where the PAM user "benchuser" exists, against a fresh mock Entra ID.
# Run by `make bench-pam`, which passes both directories as absolute paths.
: "${top_srcdir:?run by make bench-pam}" "${top_builddir:?run by make bench-pam}"
export top_srcdir top_builddir ET_PAM_MODULE="$top_builddir/.libs/pam_entra_tap.so"
# shellcheck source=../tests/integration/grant_sandbox.sh
. "$top_srcdir/tests/integration/grant_sandbox.sh"
gsb_enter "$@"
[ -f "$ET_PAM_MODULE" ] || _gsb_cannot "no built module at $ET_PAM_MODULE"
gsb_useradd --login benchuser
exec sh "$top_srcdir/tests/mock-entra/with-mock.sh" "$top_builddir/bench/bench_pam"
