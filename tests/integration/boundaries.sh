#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The boundaries the design draws, checked on the sources and the built programs:
#   - dependencies point one way: common/ includes nothing from pam_entra_tap/ or helper/ and
#     names no program of ours (it neither knows nor runs entra-tap-helper or
#     entra-tap-grantctl); pam_entra_tap/ and helper/ do not include each other's private
#     headers (helper/contract.h and helper/args.h are the shared ones);
#   - errors are typed: no production code compares a reason as a string;
#   - the setuid entra-tap-helper links neither libcurl nor OpenSSL (the module does the
#     network; the less a setuid program maps, the less it exposes);
#   - entra-tap-grantctl is built without a setuid bit (make install re-applies only the
#     helper's).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
S=$top_srcdir

check_not "common/ includes no header of pam_entra_tap/ or helper/" \
	grep -nE '#include "(\.\./)*(pam_entra_tap|helper)/|#include "(contract|args|progutil|module)\.h"' \
	"$S"/common/*.c "$S"/common/*.h
check_not "common/ names no program of ours" \
	grep -nE 'entra-tap-(helper|grantctl)|ET_(HELPER|GRANTCTL)_' "$S"/common/*.c "$S"/common/*.h
check_not "the module includes none of the programs' private headers" \
	grep -nE '#include "(progutil|args)\.h"' "$S"/pam_entra_tap/*.c "$S"/pam_entra_tap/*.h
check_not "the programs include none of the module's headers" \
	grep -nE '#include "(\.\./)*(pam_entra_tap/)?module\.h"' "$S"/helper/*.c "$S"/helper/*.h
check_not "no production code branches on a reason's spelling" \
	grep -nE 'str(n)?cmp\([^)]*reason' "$S"/common/*.c "$S"/pam_entra_tap/*.c "$S"/helper/*.c
for p in entra-tap-helper entra-tap-grantctl; do
	check "$p dispatches its verbs from a table (et_prog_run), with no verb as a default" \
		bash -c 'grep -q "et_prog_run(ET_PROG_" "$1" && ! grep -qE "strcmp\((verb|argv\[1\]), \"(status|drop|elevate|grant|revoke|list|sweep|guard)\"" "$1"' _ "$S/helper/$p.c"
done

# bash completion offers every verb and command there is (and none that is not)
C=$S/data/bash-completion
for v in $(sed -n 's/^[[:space:]]*X([A-Z_]*, *"\([a-z]*\)", *HELPER,.*/\1/p' "$S/helper/contract.h"); do
	check "the entra-tap-helper completion offers $v" grep -qE "compgen -W '[^']*\\b$v\\b" "$C/entra-tap-helper"
done
for v in $(sed -n 's/^[[:space:]]*X([A-Z_]*, *"\([a-z]*\)", *GRANTCTL,.*/\1/p' "$S/helper/contract.h"); do
	check "the entra-tap-grantctl completion offers $v" grep -qE "compgen -W '[^']*\\b$v\\b" "$C/entra-tap-grantctl"
done
for v in $(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", usage_[a-z]*,.*/\1/p' "$S/helper/entra-tap.c") \
	$(sed -n 's/^[[:space:]]*X([A-Z_]*, *"\([a-z]*\)", *GRANTCTL, *true).*/\1/p' "$S/helper/contract.h"); do
	check "the entra-tap completion offers $v" grep -qw -- "$v" "$C/entra-tap"
done
if command -v bash >/dev/null && [ -r /usr/share/bash-completion/bash_completion ]; then
	for f in entra-tap-helper entra-tap entra-tap-grantctl; do
		out=$(bash -c '. /usr/share/bash-completion/bash_completion; . "$1/$2"
			COMP_WORDS=("$2" ""); COMP_CWORD=1; COMP_LINE="$2 "; COMP_POINT=${#COMP_LINE}
			"$(complete -p "$2" | sed -E "s/.*-F ([^ ]+).*/\1/")"; printf "%s\n" "${COMPREPLY[@]}"' _ "$C" "$f" 2>&1)
		check "the $f completion runs in bash and offers --help" grep -qx -- --help <<<"$out"
	done
else
	skip "bash-completion is not installed"
fi

# the licence: every source file says it (SPDX)
missing_spdx=$(find "$S/common" "$S/helper" "$S/pam_entra_tap" "$S/tests" "$S/fuzz" "$S/bench" "$S/demo" \
	-type f \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.py' \) -not -path '*/corpus/*' \
	-exec sh -c 'head -n 3 "$1" | grep -q "SPDX-License-Identifier: Apache-2.0" || echo "$1"' _ {} \;)
check "every C, shell and Python source file carries SPDX-License-Identifier: Apache-2.0" test -z "$missing_spdx"
[ -z "$missing_spdx" ] || diag "without it: $missing_spdx"
check "the licence text is there (LICENSE, Apache-2.0)" grep -q "Apache License" "$S/LICENSE"

if command -v readelf >/dev/null 2>&1; then
	needed=$(readelf -d "$top_builddir/entra-tap-helper" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	check "readelf lists what entra-tap-helper needs" test -n "$needed"
	check_not "entra-tap-helper does not link libcurl, libssl or libcrypto ($(echo $needed))" \
		grep -qE '^lib(curl|ssl|crypto)\.' <<<"$needed"
else
	skip "readelf (binutils) is not installed"
fi
check "entra-tap-grantctl is built" test -x "$top_builddir/entra-tap-grantctl"
check_not "entra-tap-grantctl carries no setuid bit" test -u "$top_builddir/entra-tap-grantctl"
done_testing
