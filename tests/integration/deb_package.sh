#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package, from source to purge:
#   1. dpkg-buildpackage -us -uc -b in a temporary copy of the source tree;
#   2. lintian: no errors, the two reviewed overrides in effect; the binaries hardened;
#   3. install, use and remove it in a sandbox: a private mount namespace in which /etc,
#      /usr and /var are overlays (the host's directory below, a directory of this test on
#      top) and /run is a fresh tmpfs, so dpkg, the maintainer scripts, pam-auth-update,
#      debconf and the triggers write only to the overlays. (/lib, /bin and /sbin are links
#      into /usr on Debian 12.) Each step runs in a new namespace over the same upper dirs;
#      the upper dirs are read from outside to find stray files;
#   4. the host is untouched: package not installed, its files absent, /etc/group and the
#      PAM stacks unchanged.
# Needs root; never skipped when CI=true.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

PKG=libpam-entra-tap
GROUP=entra-admins
HELPER=/usr/bin/entra-tap-helper
GRANTCTL=/usr/libexec/entra-tap/entra-tap-grantctl
# the administrator's grant commands (entra-tap runs entra-tap-grantctl)
ADMIN=/usr/sbin/entra-tap
CONF=/etc/security/pam_entra_tap.conf
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
MODULE=/usr/lib/$MA/security/pam_entra_tap.so

require_root
missing=
for tool in dpkg-buildpackage dh lintian hardening-check unshare; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
[ -z "$missing" ] ||
	skip_all "packaging tools missing:$missing (apt-get install debhelper dpkg-dev devscripts lintian)"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || skip_all "no overlayfs"

T=$(mktemp -d /tmp/deb-package.XXXXXX) || exit 1
cleanup() {
	# the namespaces die with their processes; only the directory is left
	rm -rf "$T"
}
at_exit cleanup
# A clean environment for the build and the sandbox: nothing from `make check` (MAKEFLAGS
# with jobserver fds, top_srcdir...) and the Debian interpreter first on PATH.
CLEAN_ENV=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$T" LC_ALL=C.UTF-8 TMPDIR=/tmp)

# ---- the host as it is before ----
host_status() { dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null || echo not-installed; }
host_sums() { sha256sum /etc/group /etc/gshadow /etc/pam.d/common-auth /etc/pam.d/common-account \
	/etc/pam.d/common-session /etc/pam.d/common-password 2>/dev/null; }
before_status=$(host_status)
before_sums=$(host_sums)

# ---- 1. build ----
# From a clean tree, as an administrator who clones the repository gets it: in a git
# checkout, exactly what is committed (git archive HEAD: nothing generated, nothing left by
# a previous build); in a release tarball (make distcheck), the tarball's own tree.
mkdir -p "$T/src"
# (a distcheck tree lies inside the checkout's build directory: only the checkout's own top
# is a checkout here)
if [ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$top_srcdir" && pwd -P)" ]; then
	git -C "$top_srcdir" archive --format=tar HEAD | tar -C "$T/src" -xf -
	ok $? "the source is the committed tree (git archive HEAD), nothing generated in it"
	test ! -e "$T/src/configure" && test ! -e "$T/src/build-aux/tap-driver.sh"
	ok $? "... it holds no configure script and no build-aux files"
else
	tar -C "$top_srcdir" --exclude=./_build --exclude=./autom4te.cache \
		--exclude='./pam_entra_tap-[0-9]*' -cf - . | tar -C "$T/src" -xf -
	ok $? "the source is the release tree (not a git checkout)"
	pass "... which carries its generated files, as a release does"
fi
chmod -R u+w "$T/src" # a distcheck tree is read-only
(cd "$T/src" && "${CLEAN_ENV[@]}" DEB_BUILD_OPTIONS="parallel=$(nproc 2>/dev/null || echo 2)" \
	dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
st=$?
if ! ok $st "dpkg-buildpackage -us -uc -b builds"; then
	tail -40 "$T/build.log" | sed 's/^/# /'
	finish
fi
debs=("$T/${PKG}"_*.deb)
DEB=${debs[0]}
[ -f "$DEB" ]
ok $? "the binary package $PKG exists ($(basename "$DEB"))"
grep -- '--mode=link.* -o pam_entra_tap.la ' "$T/build.log" | grep -q -- '-Wl,-z,defs'
ok $? "the PAM module is linked with -Wl,-z,defs"
grep -q '^dh_missing --fail-missing' "$T/build.log"
ok $? "dh_missing --fail-missing ran and passed"

# ---- 2. lintian and the contents ----
"${CLEAN_ENV[@]}" lintian -I --pedantic --show-overrides "$DEB" >"$T/lintian.log" 2>&1
lintian_rc=$?
sed 's/^/# lintian: /' "$T/lintian.log"
! grep -q '^E:' "$T/lintian.log" && [ $lintian_rc = 0 ]
ok $? "lintian reports no errors (exit $lintian_rc)"
! grep -q '^[WP]:' "$T/lintian.log"
ok $? "lintian -I --pedantic: no warning and no pedantic finding either"
grep -q '^O: .*elevated-privileges 4755 root/root \[usr/bin/entra-tap-helper\]' "$T/lintian.log"
ok $? "lintian: the setuid helper is covered by the reviewed override"
! grep -q '^[EW]: .*\(elevated-privileges\|setuid-binary\|non-standard-file-perm\)' "$T/lintian.log"
ok $? "lintian: no unexplained privilege or permission finding"

dpkg-deb -c "$DEB" >"$T/contents"
mode_of() { awk -v p="./${1#/}" '$6 == p { print $1, $2 }' "$T/contents"; }
[ "$(mode_of $HELPER)" = "-rwsr-xr-x root/root" ]
ok $? "entra-tap-helper is packaged setuid root ($(mode_of $HELPER))"
[ "$(mode_of $GRANTCTL)" = "-rwxr-xr-x root/root" ]
ok $? "entra-tap-grantctl is packaged root-owned and not setuid ($(mode_of $GRANTCTL))"
[ "$(mode_of $CONF)" = "-rw------- root/root" ]
ok $? "the configuration is packaged 0600 root ($(mode_of $CONF))"
[ -n "$(mode_of "$MODULE")" ]
ok $? "the module is packaged in the multiarch security dir ($MODULE)"
! grep -q '\.la$' "$T/contents"
ok $? "no libtool archive is packaged"
dpkg-deb -f "$DEB" Depends | grep -q 'libpam0g' && dpkg-deb -f "$DEB" Depends | grep -q 'libcurl'
ok $? "Depends come from shlibs ($(dpkg-deb -f "$DEB" Depends))"
dpkg-deb -e "$DEB" "$T/control"
grep -qx "$CONF" "$T/control/conffiles" && grep -qx /etc/pam.d/entra-tap "$T/control/conffiles"
ok $? "the configuration and the entra-tap PAM service are conffiles"

mkdir -p "$T/x" && dpkg-deb -x "$DEB" "$T/x"
for f in entra-tap-helper entra-tap entra-tap-grantctl; do
	test -s "$T/x/usr/share/bash-completion/completions/$f"
	ok $? "the package carries the bash completion of $f"
done
test -s "$T/x/usr/share/doc/$PKG/README.md" || test -s "$T/x/usr/share/doc/$PKG/README.md.gz"
ok $? "the README is installed under /usr/share/doc/$PKG"
hard_ok=0
for f in usr/sbin/entra-tap usr/bin/entra-tap-helper "${GRANTCTL#/}" "${MODULE#/}"; do
	out=$(hardening-check "$T/x/$f" 2>&1)
	for want in "Stack protected: yes" "Fortify Source functions: yes" "Read-only relocations: yes" \
		"Immediate binding: yes"; do
		grep -qF "$want" <<<"$out" || { hard_ok=1; diag "$f: missing '$want'"; }
	done
	case $f in *.so) ;; *) grep -qF "Position Independent Executable: yes" <<<"$out" || { hard_ok=1; diag "$f: not PIE"; } ;; esac
done
ok $hard_ok "hardening=+all: PIE, stack protector, fortify, RELRO and BIND_NOW in all three binaries"

# ---- 3. the sandbox ----
OVL="$T/ovl"
for d in etc usr var; do mkdir -p "$OVL/$d.upper" "$OVL/$d.work"; done
# sbx CMD...: run CMD (through sh -c) with root's clean environment in a new mount + PID
# namespace whose /etc, /usr and /var are the overlays. The PID namespace ends every process
# a maintainer script might leave behind, so each call's overlays are gone when it returns.
# shellcheck disable=SC2016 # the inner script expands its own variables
sbx() {
	"${CLEAN_ENV[@]}" DEBIAN_FRONTEND=noninteractive OVL="$OVL" \
		unshare --mount --propagation private --pid --fork --mount-proc sh -c '
		set -e
		for d in etc usr var; do
			mount -t overlay overlay -o "lowerdir=/$d,upperdir=$OVL/$d.upper,workdir=$OVL/$d.work" "/$d"
		done
		mount -t tmpfs -o mode=0755 tmpfs /run
		set +e
		sh -c "$1"' sbx "$1"
}

sbx "dpkg -i '$DEB'" >"$T/install.log" 2>&1
st=$?
sed 's/^/# install: /' "$T/install.log"
if ! ok $st "dpkg -i installs the package in the sandbox"; then
	finish
fi
[ "$(sbx "dpkg-query -W -f='\${db:Status-Abbrev}' $PKG")" = "ii " ]
ok $? "inside, dpkg says installed"
[ "$(sbx "stat -c %a:%U:%G $HELPER")" = 4755:root:root ]
ok $? "entra-tap-helper is installed 4755 root:root"
[ "$(sbx "stat -c %a:%U:%G $CONF")" = 600:root:root ]
ok $? "$CONF is installed 0600 root:root"
sbx "test -f $MODULE && test ! -e ${MODULE%.so}.la && test -x /usr/sbin/entra-tap && test -f /etc/pam.d/entra-tap"
ok $? "module, admin CLI and PAM service file are in place"
line=$(sbx "getent -s files group $GROUP")
gid=$(echo "$line" | cut -d: -f3)
sys_max=$(awk '$1 == "SYS_GID_MAX" { print $2 }' /etc/login.defs)
[ -n "$gid" ] && [ "$gid" -le "${sys_max:-999}" ] && [ -z "$(echo "$line" | cut -d: -f4)" ]
ok $? "postinst created the system group $GROUP, empty ($line)"
line=$(sbx "getent -s files group entra-tap-users")
[ -n "$line" ] && [ "$(echo "$line" | cut -d: -f3)" -le "${sys_max:-999}" ] && [ -z "$(echo "$line" | cut -d: -f4)" ]
ok $? "postinst created the system group entra-tap-users (the sshd fragment's Match Group), empty ($line)"
[ "$(sbx "readlink /etc/systemd/system/timers.target.wants/entra-tap-sweep.timer")" = /lib/systemd/system/entra-tap-sweep.timer ]
ok $? "the sweep timer is enabled (timers.target.wants link)"
[ "$(sbx "readlink /etc/systemd/system/multi-user.target.wants/entra-tap-boot-reconcile.service")" = \
	/lib/systemd/system/entra-tap-boot-reconcile.service ]
ok $? "the boot reconcile service is enabled (multi-user.target.wants link)"
[ "$(sbx "stat -c %a:%U /var/lib/entra-tap /var/cache/entra-tap" | tr '\n' ' ')" = "700:root 700:root " ]
ok $? "/var/lib/entra-tap and /var/cache/entra-tap exist, 0700 root (tmpfiles)"
msgid=$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$top_srcdir/data/entra-tap.catalog" | head -1)
sbx "journalctl --list-catalog" | grep -q "^$msgid "
ok $? "the journal catalog was indexed by the trigger (message id $msgid)"
sbx "test -f /usr/share/pam-configs/entra-tap && ! grep -q pam_entra_tap /etc/pam.d/common-auth /etc/pam.d/common-account"
ok $? "the pam-auth-update profile is installed and not enabled (Default: no)"
sbx "pam-auth-update --enable entra-tap && grep -q 'pam_entra_tap.so grant' /etc/pam.d/common-auth &&
	grep -q 'required.*pam_entra_tap.so no_grant=ignore' /etc/pam.d/common-account &&
	awk '/pam_unix.so/ { u = NR } /pam_entra_tap.so/ { e = NR } END { exit !(u && e > u) }' /etc/pam.d/common-auth &&
	pam-auth-update --disable entra-tap && ! grep -q pam_entra_tap /etc/pam.d/common-auth /etc/pam.d/common-account" \
	>"$T/pam-auth-update.log" 2>&1
ok $? "an administrator can enable the profile (after pam_unix) and disable it again"
sbx "entra-tap check-config" >"$T/check-config.log" 2>&1
st=$?
[ $st = 1 ] && grep -q ": valid$" "$T/check-config.log"
ok $? "entra-tap check-config: the shipped configuration parses, and is unusable until edited (exit $st)" ||
	sed 's/^/# /' "$T/check-config.log"
grep -q "^tenant_id: still the shipped placeholder" "$T/check-config.log" &&
	! grep -q "^elevated_group:" "$T/check-config.log"
ok $? "... it names the placeholder tenant_id, and the package's elevated group exists"

# a root grant / list / revoke round trip (no systemd here: the sweep and revoke do the work)
sbx "useradd -M -N -s /usr/sbin/nologin pkgtest1 && useradd -M -N -s /usr/sbin/nologin pkgtest2"
ok $? "two test users are added in the sandbox"
id=$(sbx "$ADMIN grant pkgtest1 --duration 10m --reason 'package test' 2>/tmp/grant.err")
[[ $id =~ ^[0-9a-f]{32}$ ]]
ok $? "entra-tap grant prints a grant id ($id)" || sbx "cat /tmp/grant.err" | sed 's/^/# /'

sbx "getent -s files group $GROUP" | grep -q ":pkgtest1\$"
ok $? "the grant made pkgtest1 a member of $GROUP"
sbx "$ADMIN list --json" | grep -q "\"id\":\"$id\",\"user\":\"pkgtest1\""
ok $? "entra-tap list --json shows the grant"
sbx "$ADMIN revoke $id" | grep -q "grant $id ended"
ok $? "entra-tap revoke ends it"
[ "$(sbx "$GRANTCTL list --json")" = "[]" ] && [ -z "$(sbx "getent -s files group $GROUP" | cut -d: -f4)" ]
ok $? "no grant and no member are left"

# the package's autopkgtest (debian/tests/pam-signin): a real PAM sign-in with the installed
# module against the mock, in this throw-away testbed
sbx "cd '$T/src' && debian/tests/pam-signin" >"$T/autopkgtest.log" 2>&1
st=$?
ok $st "debian/tests/pam-signin: a real PAM sign-in with the installed package" ||
	tail -20 "$T/autopkgtest.log" | sed 's/^/# /'
grep -q "^pam-signin: alice signed in through libpam" "$T/autopkgtest.log"
ok $? "... alice signed in through libpam and got a grant"
sbx "getent -s files group $GROUP" | cut -d: -f4 | grep -qv alice
ok $? "... and the grant ended"
sbx "userdel alice" >/dev/null 2>&1

# live grants for two users, kept across a reinstall, ended by the removal
sbx "$GRANTCTL grant pkgtest1 --duration 1h >/dev/null 2>&1 && $GRANTCTL grant pkgtest2 --duration 1h --reason 'a \"user\":\"x\" reason' >/dev/null 2>&1"
ok $? "two live grants (one with a quote-laden reason)"
sbx "dpkg -i '$DEB'" >"$T/reinstall.log" 2>&1
ok $? "reinstalling the package (prerm upgrade) works"
[ "$(sbx "getent -s files group $GROUP" | cut -d: -f4)" = pkgtest1,pkgtest2 ]
ok $? "an upgrade keeps the live grants"

# removal refuses to leave anyone elevated; dpkg then keeps the package installed (status
# "ri": removal wanted, can be retried)
pkg_status() { sbx "dpkg-query -W -f='\${db:Status-Abbrev}' $PKG 2>/dev/null"; }
members() { sbx "getent -s files group $GROUP" | cut -d: -f4; }
# a configuration that cannot be used does not stop the revocation: the grants end from the
# last good copy (lastgood.h), and the removal goes on
sbx "chmod 0666 $CONF"
sbx "dpkg -r $PKG" >"$T/remove-broken.log" 2>&1
st=$?
sed 's/^/# broken: /' "$T/remove-broken.log"
[ $st = 0 ] && grep -q "grants were ended from the last good copy" "$T/remove-broken.log"
ok $? "dpkg -r with a world-writable configuration still ends the grants, from the last good copy (exit $st)"
[ -z "$(members)" ] && [ -z "$(sbx "find /var/lib/entra-tap/grants -type f 2>/dev/null")" ]
ok $? "... nobody is left in $GROUP, no grant in the store (members '$(members)')"
sbx "chmod 0600 $CONF && dpkg -i '$DEB'" >"$T/reinstall2.log" 2>&1 &&
	sbx "$GRANTCTL grant pkgtest1 --duration 1h >/dev/null 2>&1 && $GRANTCTL grant pkgtest2 --duration 1h >/dev/null 2>&1"
ok $? "installed again, with two live grants"
if sbx "chattr +i /var/lib/entra-tap/grants" 2>/dev/null; then
	sbx "dpkg -r $PKG" >"$T/remove-stuck.log" 2>&1
	st=$?
	sbx "chattr -i /var/lib/entra-tap/grants"
	sed 's/^/# stuck: /' "$T/remove-stuck.log"
	[ $st != 0 ] && grep -q "removal stopped: some grants could not be revoked" "$T/remove-stuck.log" &&
		[[ $(pkg_status) == ?"i " ]]
	ok $? "dpkg -r stops when a grant cannot be revoked (store made immutable; exit $st, $(pkg_status))"
else
	skip_optional "dpkg -r stops when a grant cannot be revoked: chattr +i does not work on $T"
fi
[ -n "$(sbx "find /var/lib/entra-tap/grants -name '*.grant'")" ]
ok $? "grants are still in the store before the real removal"

sbx "dpkg -r $PKG" >"$T/remove.log" 2>&1
st=$?
sed 's/^/# remove: /' "$T/remove.log"
ok $st "dpkg -r removes the package"
[ "$(pkg_status)" = "rc " ]
ok $? "inside, dpkg says removed, configuration files kept"
[ -z "$(members)" ]
ok $? "prerm revoked every grant: $GROUP has no members"
[ -z "$(sbx "find /var/lib/entra-tap/grants -type f 2>/dev/null")" ]
ok $? "prerm revoked every grant: the store holds no grant"
sbx "test ! -e $HELPER && test ! -e /usr/sbin/entra-tap && test ! -e $MODULE && test ! -e /usr/share/pam-configs/entra-tap && test -f $CONF"
ok $? "binaries, module and profile are gone; the conffile stays until purge"
sbx "! grep -qs entra-tap /var/lib/pam/seen && ! grep -q pam_entra_tap /etc/pam.d/common-auth /etc/pam.d/common-account"
ok $? "the profile is out of pam-auth-update's state and the stacks"

sbx "dpkg -P $PKG" >"$T/purge.log" 2>&1
st=$?
sed 's/^/# purge: /' "$T/purge.log"
ok $st "dpkg -P purges the package"
[ -z "$(sbx "dpkg-query -W -f='\${db:Status-Abbrev}' $PKG 2>/dev/null" | tr -d ' ')" ] ||
	[ "$(sbx "dpkg-query -W -f='\${db:Status-Abbrev}' $PKG 2>/dev/null")" = "un " ]
ok $? "inside, dpkg no longer knows the package"
stray=$(cd "$OVL" && find . -path '*entra*' 2>/dev/null | tr '\n' ' ')
[ -z "$stray" ]
ok $? "no file with 'entra' in its path is left in /etc, /usr or /var ($stray)"
sbx "test ! -e /var/lib/entra-tap && test ! -e /var/cache/entra-tap && test ! -e $CONF && test ! -e /etc/pam.d/entra-tap"
ok $? "state dirs and conffiles are gone"
sbx "getent -s files group $GROUP" | grep -q "^$GROUP:[^:]*:[0-9]*:\$"
ok $? "the system group is kept, empty (Debian keeps system groups)"

# ---- 4. the host ----
[ "$(host_status)" = "$before_status" ]
ok $? "the host's dpkg status of $PKG is unchanged ($(host_status))"
[ "$(host_sums)" = "$before_sums" ]
ok $? "the host's /etc/group, /etc/gshadow and PAM stacks are unchanged"
if [ "$before_status" = not-installed ]; then
	leaked=
	for p in $HELPER /usr/sbin/entra-tap "$MODULE" /usr/share/pam-configs/entra-tap $CONF /etc/pam.d/entra-tap \
		/lib/systemd/system/entra-tap-sweep.timer /etc/systemd/system/timers.target.wants/entra-tap-sweep.timer \
		/usr/lib/systemd/catalog/entra-tap.catalog; do
		[ -e "$p" ] && leaked="$leaked $p"
	done
	[ -z "$leaked" ]
	ok $? "none of the package's files reached the host ($leaked)"
fi

done_testing
