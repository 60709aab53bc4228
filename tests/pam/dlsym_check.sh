#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# pam_entra_tap.so exports the PAM entry points and nothing else (the core library stays
# private), and loads with every symbol resolved.
top_builddir=${top_builddir:-.}
so=$top_builddir/.libs/pam_entra_tap.so
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
if [ ! -f "$so" ]; then
	echo "1..0 # SKIP no built module at $so"
	exit 0
fi
exported=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVWiu]$/ { print $3 }' | sort | tr '\n' ' ')
want="pam_sm_acct_mgmt pam_sm_authenticate pam_sm_chauthtok pam_sm_close_session pam_sm_open_session pam_sm_setcred "
if [ "$exported" = "$want" ]; then ok "exports exactly the pam_sm_* entry points"; else
	not_ok "exports exactly the pam_sm_* entry points"
	echo "#   got: $exported"
	echo "#  want: $want"
fi
others=$(nm -D --defined-only "$so" | awk '{ print $3 }' | grep -v '^pam_sm_' | grep -c '^et_')
if [ "$others" = 0 ]; then ok "no et_* symbol of the core is visible"; else not_ok "no et_* symbol of the core is visible ($others)"; fi
# every undefined symbol resolves against the libraries it names (ld -z defs did the same at link time)
if LD_BIND_NOW=1 /usr/bin/python3 -c 'import ctypes,sys; ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)' "$so" 2>/dev/null; then
	ok "dlopen with RTLD_NOW succeeds"
else
	not_ok "dlopen with RTLD_NOW succeeds"
fi
echo "1..$n"
exit $failed
