#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs bench/bench_pam inside the grant sandbox of the tests (a private mount namespace with
# its own /etc), where the PAM user "benchuser" exists, against a fresh mock Entra ID.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd)
export top_srcdir top_builddir
# shellcheck source=../tests/integration/grant_sandbox.sh
. "$top_srcdir/tests/integration/grant_sandbox.sh"
gsb_enter "$@"
[ -f "$top_builddir/.libs/pam_entra_tap.so" ] || _gsb_cannot "no built module in $top_builddir/.libs"
gsb_useradd --login benchuser
ET_PAM_MODULE=$top_builddir/.libs/pam_entra_tap.so
export ET_PAM_MODULE
exec sh "$top_srcdir/tests/mock-entra/with-mock.sh" "$top_builddir/bench/bench_pam"
