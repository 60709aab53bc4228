#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Generate the build system from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
# --install also copies the TAP test driver (configure.ac requires it), as debhelper's
# dh_autoreconf does when the Debian package is built from a clean tree
autoreconf --install --force
