#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The setuid helper against hostile callers: root verbs refused to non-root, argc 0 refused,
# closed fds 0-2 survived, a hostile environment ignored, oversized arguments refused, no way
# to hand it a path or a configuration, and a clear refusal when it is not setuid root.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$(dirname "$0")/grant_sandbox.sh"
gsb_enter "$@"
ARGV0=${GRANT_ARGV0:-$top_builddir/tests/unit/helper_argv0}
PRELOAD=${GRANT_PRELOAD:-$top_builddir/tests/unit/.libs/helper_preload.so}
G=$GSB_GROUP
T=$(sb_tmpdir)
sb_useradd alice bob

# ---- root verbs from a non-root caller ----
id=$(gsb_grantctl grant alice --duration 10m 2>/dev/null)
before=$(sb_members)
for v in "grant bob" "revoke $id" "revoke --user alice" "list" "list --json" "sweep" "sweep --user alice"; do
	# entra-tap-grantctl is not setuid and refuses anyone but root
	# shellcheck disable=SC2086
	gsb_as_prog nobody "$GSB_BIN" $v >/dev/null 2>"$T/err"
	rc=$?
	is "$rc" 3 "nobody: entra-tap-grantctl '$v' is refused (exit 3)"
	check "nobody: '$v' says it is for root only" grep -q "is for root only" "$T/err"
	# the setuid helper does not carry root verbs at all
	# shellcheck disable=SC2086
	gsb_as nobody $v >/dev/null 2>"$T/err"
	is "$?" 2 "nobody: entra-tap-helper '$v' is no verb of the helper (exit 2)"
	check "nobody: entra-tap-helper '$v' says where the verb went" grep -q "run \`entra-tap\` as root" "$T/err"
done
check "entra-tap-grantctl is not setuid" test "$(stat -c %a "$GSB_BIN")" = 755
gsb_as_prog alice "$GSB_BIN" grant alice >/dev/null 2>&1
is "$?" 3 "alice cannot grant herself (exit 3)"
is "$(sb_members)" "$before" "the refused calls changed nothing"
check "the grant is still there" test -f "$GSB_STATE/grants/$id.grant"
gsb_as nobody status >"$T/out" 2>&1
is "$?" 0 "nobody may run status"
check "and sees no grants" grep -q "no grants for nobody" "$T/out"

# ---- no path, configuration or option override for anyone ----
gsb_as alice status --config /tmp/evil.conf >/dev/null 2>&1
is "$?" 2 "status takes no --config (exit 2)"
gsb_as alice status /tmp/evil >/dev/null 2>&1
is "$?" 2 "status takes no argument at all (exit 2)"
gsb_as alice drop "$id" extra >/dev/null 2>&1
is "$?" 2 "drop takes at most one id (exit 2)"

# ---- argc 0 ----
if [ -x "$ARGV0" ]; then
	setpriv --reuid=alice --regid="$(id -g alice)" --clear-groups -- "$ARGV0" "$GSB_HELPER_BIN" 2>"$T/err"
	is "$?" 8 "argc 0 is refused (exit 8)"
	check "with a clear message" grep -q "refusing to run without argv\[0\]" "$T/err"
	"$ARGV0" "$GSB_HELPER_BIN" 2>/dev/null
	is "$?" 8 "argc 0 is refused for root too"
else
	fail "no helper_argv0 at $ARGV0"
fi

# ---- closed fds 0-2 ----
gsb_grantctl grant bob --duration 10m 0<&- 1>&- 2>&-
is "$?" 0 "root: grant with fds 0-2 closed succeeds"
check "bob is a member" grep -q "^$G:.*bob" /etc/group
check "no stray output went into a group file" bash -c "! grep -q 'entra-tap-helper' /etc/group /etc/gshadow"
gsb_grantctl list --json >"$T/grants.json"
check "the files parse and agree with the store" gsb_files_check --grants "$T/grants.json"
gsb_as alice status 0<&- 1>&- 2>&-
is "$?" 0 "alice: status with fds 0-2 closed exits 0"
gsb_as alice status 1>&- 2>&- 0<&- >/dev/null
is "$?" 0 "alice: status with only stdout reopened exits 0"
gsb_as_prog nobody "$GSB_BIN" list 0<&- 1>&- 2>&-
is "$?" 3 "nobody: a root verb with fds 0-2 closed is still refused"

# ---- a hostile environment ----
mkdir -p "$T/evil"
for p in gpasswd nscd sss_cache id sh getent; do
	printf '#!/bin/sh\ntouch %s/path-used-%s\n' "$T" "$p" >"$T/evil/$p"
	chmod 0755 "$T/evil/$p"
done
hostile=(env "LD_PRELOAD=$PRELOAD" "ET_PRELOAD_MARKER=$T/preload-loaded" "LD_LIBRARY_PATH=$T/evil"
	"LD_AUDIT=$PRELOAD" "PATH=$T/evil" "IFS=/" "LANG=tr_TR.UTF-8" "LC_ALL=tr_TR.UTF-8" "TZ=Asia/Tokyo"
	"GCONV_PATH=$T/evil" "MALLOC_CHECK_=3" "NLSPATH=$T/evil/%N" "TMPDIR=$T/evil" "HOME=$T/evil")
if [ -f "$PRELOAD" ]; then
	# the marker library does work when the loader honours LD_PRELOAD: prove it first
	env "LD_PRELOAD=$PRELOAD" "ET_PRELOAD_MARKER=$T/control" /bin/true
	check "control: the marker library leaves its mark in an ordinary program" test -f "$T/control"
else
	fail "no marker library at $PRELOAD"
fi
out=$(setpriv --reuid=alice --regid="$(id -g alice)" --clear-groups -- "${hostile[@]}" "$GSB_HELPER_BIN" status 2>&1)
is "$?" 0 "alice: status in a hostile environment exits 0"
check "status prints times in UTC whatever TZ says" grep -q "UTC" <<<"$out"
check "status shows alice's grant" grep -q "grant $id" <<<"$out"
setpriv --reuid=alice --regid="$(id -g alice)" --clear-groups -- "${hostile[@]}" "$GSB_HELPER_BIN" drop "$id" >/dev/null 2>&1
is "$?" 0 "alice: drop in a hostile environment works"
check "alice is no member after the drop" bash -c "! grep -q '^$G:.*alice' /etc/group"
# root is trusted and not in the loader's secure mode: leave the loader variables out (a
# sanitizer build would refuse a preloaded library ahead of its runtime)
hostile_root=()
for v in "${hostile[@]}"; do case $v in LD_PRELOAD=* | LD_AUDIT=*) ;; *) hostile_root+=("$v") ;; esac; done
"${hostile_root[@]}" "$GSB_BIN" grant alice --duration 10m >/dev/null 2>&1
is "$?" 0 "root: grant in a hostile environment works"
check "root: the grant took effect" grep -q "^$G:.*alice" /etc/group
setpriv --reuid=alice --regid="$(id -g alice)" --clear-groups -- "${hostile[@]}" "$GSB_HELPER_BIN" status >/dev/null 2>&1
check "LD_PRELOAD is ignored for a non-root caller" test ! -f "$T/preload-loaded"
check "no program was taken from the caller's PATH" bash -c "! ls $T/path-used-* >/dev/null 2>&1"
gsb_grantctl list --json >"$T/grants.json"
check "the files still parse and agree with the store" gsb_files_check --grants "$T/grants.json"

# ---- oversized and excess arguments ----
long=$(head -c 2000 /dev/zero | tr '\0' a)
gsb_as alice drop "$long" 2>"$T/err"
is "$?" 2 "alice: a 2000-byte argument is refused (exit 2)"
check "the refusal names the limit" grep -q "longer than 1024 bytes" "$T/err"
gsb_grantctl grant "$long" 2>/dev/null
is "$?" 2 "root: a 2000-byte user name is refused (exit 2)"
gsb_grantctl grant bob --reason "$(head -c 300 /dev/zero | tr '\0' r)" 2>"$T/err"
is "$?" 2 "a 300-byte reason is refused (exit 2)"
check "the refusal names the reason limit" grep -q "reason is longer than 256 bytes" "$T/err"
# shellcheck disable=SC2046
gsb_as alice status $(seq 1 30) 2>"$T/err"
is "$?" 2 "30 arguments are refused (exit 2)"
check "the refusal names the limit" grep -q "too many arguments" "$T/err"
gsb_grantctl grant bob --reason $'multi\nline\x1b[31m' --duration 10m >/dev/null 2>&1
gsb_grantctl list --json >"$T/grants.json"
check "a reason with control characters is stored sanitised" "$PYTHON3" -c '
import json,sys
r=[x["reason"] for x in json.load(open(sys.argv[1])) if x["user"]=="bob"]
sys.exit(0 if "multi?line?[31m" in r else 1)' "$T/grants.json"

# ---- not setuid ----
cp "$GSB_HELPER_BIN" "$T/helper-copy"

# ---- the caller's resource limits and signal dispositions are not the helper's ----
# a file size limit below the size of /etc/group with SIGXFSZ ignored, then very few file
# descriptors, then every signal blocked: drop still ends the grant in full (the membership,
# the record, the backup /etc/group- kept)
gsb_grantctl revoke --user alice >/dev/null 2>&1
for how in --fsize=64: --nofile=5:; do
	id=$(gsb_grantctl grant alice --duration 10m 2>/dev/null)
	setpriv --reuid=alice --regid="$(id -g alice)" --clear-groups -- \
		bash -c 'trap "" XFSZ; exec prlimit "$1" -- "$2" drop "$3"' _ "$how" "$GSB_HELPER_BIN" "$id" >/dev/null 2>"$T/err"
	is "$?" 0 "alice: drop with prlimit $how and SIGXFSZ ignored exits 0"
	check "... alice is no member of $G" bash -c "! grep -q '^$G:.*alice' /etc/group"
	check "... her grant record is gone" test ! -e "$GSB_STATE/grants/$id.grant"
	check "... /etc/group- is still there" test -s /etc/group-
	check "... /etc/group and /etc/gshadow parse" gsb_files_check --parse-only
done
# a hard limit lowered by the caller: root raises it back (CAP_SYS_RESOURCE); where root
# may not (a container without that capability), the helper refuses before touching anything
id=$(gsb_grantctl grant alice --duration 10m 2>/dev/null)
setpriv --reuid=alice --regid="$(id -g alice)" --clear-groups -- \
	bash -c 'trap "" XFSZ; exec prlimit --fsize=64:64 -- "$1" drop "$2"' _ "$GSB_HELPER_BIN" "$id" >/dev/null 2>"$T/err"
case $? in
0) check "alice: drop with a hard file size limit of 64 bytes ends the grant in full" \
	bash -c "! grep -q '^$G:.*alice' /etc/group && test ! -e '$GSB_STATE/grants/$id.grant'" ;;
8) check "alice: drop with a hard file size limit it cannot lift is refused, nothing changed" \
	bash -c "grep -q '^$G:.*alice' /etc/group && test -e '$GSB_STATE/grants/$id.grant'" ;;
*) fail "alice: drop with a hard file size limit of 64 bytes: exit $? ($(cat "$T/err"))" ;;
esac
gsb_grantctl revoke --user alice >/dev/null 2>&1
id=$(gsb_grantctl grant alice --duration 10m 2>/dev/null)
setpriv --reuid=alice --regid="$(id -g alice)" --clear-groups -- \
	"$PYTHON3" -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP})
for s in (signal.SIGALRM, signal.SIGXFSZ, signal.SIGTERM): signal.signal(s, signal.SIG_IGN)
os.execv(sys.argv[1], [sys.argv[1], "drop", sys.argv[2]])' "$GSB_HELPER_BIN" "$id" >/dev/null 2>"$T/err"
is "$?" 0 "alice: drop with every signal blocked and SIGALRM ignored exits 0"
check "... alice is no member of $G" bash -c "! grep -q '^$G:.*alice' /etc/group"
check "... her grant record is gone" test ! -e "$GSB_STATE/grants/$id.grant"

chmod 0755 "$T/helper-copy"
setpriv --reuid=alice --regid="$(id -g alice)" --clear-groups -- "$T/helper-copy" status 2>"$T/err"
is "$?" 8 "a copy without the setuid bit refuses to run (exit 8)"
check "and says it must be setuid root" grep -q "must be installed setuid root" "$T/err"
done_testing
