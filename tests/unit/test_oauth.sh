#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The OAuth client flows (device code and password flow) against a fresh mock Entra ID.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-.}
export top_srcdir top_builddir
exec sh "$top_srcdir/tests/mock-entra/with-mock.sh" "$top_builddir/tests/unit/test_oauth"
