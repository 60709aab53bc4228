#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs test_jwks_cache next to a fresh mock Entra ID.
exec sh "$top_srcdir/tests/mock-entra/with-mock.sh" "$top_builddir/tests/unit/test_jwks_cache"
