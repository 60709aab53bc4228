# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# grant_sandbox.sh: the sandbox without systemd, for the grant store, group-file and helper
# tests (the systemd layer is sandbox.sh). Built on sandbox_base.sh (the private /etc, users,
# configuration); TAP from lib.sh.
#
# Source it from a bash test and call gsb_enter "$@" first thing: the script re-executes
# itself inside `unshare --mount --propagation private`, where
#   /etc                 is $GSB_DIR/etc, a copy of the host's /etc (bound over the directory,
#                        never a single file, so rename(2) works), with the elevated group in
#                        group and gshadow and a test configuration (sandbox_base.sh)
#   /run, /var/lib       are empty tmpfs: no system bus, no nscd, no journal socket, and a
#                        fresh /var/lib/entra-tap
#   the programs' dirs   are under one overlay (the host directory below, a tmpfs on top)
#                        holding the built entra-tap-helper setuid root and
#                        entra-tap-grantctl, so their compiled-in paths are the real ones
#                        inside; missing directories (another prefix, distcheck) are made
#                        inside the overlay of their deepest existing common ancestor
# Nothing outside $GSB_DIR is written; the namespace and its mounts vanish with the test.
#
# Then, besides sandbox_base.sh's sb_* (sb_exec runs a command as it is, sb_grantctl is
# gsb_grantctl):
#   gsb_grantctl ARGS        entra-tap-grantctl as root
#   gsb_as USER ARGS         entra-tap-helper with USER's real uid and gid, no other groups
#   gsb_as_prog USER PATH ARGS  any installed program so
#   gsb_files_check ARGS     tests/integration/grant_files_check.py for the elevated group
# and GSB_DIR, GSB_GROUP, GSB_GID, GSB_BIN (installed entra-tap-grantctl), GSB_HELPER_BIN
# (installed entra-tap-helper), GSB_STATE, GSB_CONF.
#
# Inputs: top_builddir, top_srcdir (set by `make check`), ET_BINDIR and ET_LIBEXECDIR
# (exported by Makefile.am; default from $top_builddir/Makefile), GSB_GROUP (default
# entra-elevated).

[ -z "${_GSB_LOADED:-}" ] || return 0
_GSB_LOADED=1
SB_GROUP=${GSB_GROUP:-${SB_GROUP:-entra-elevated}}
# shellcheck source=tests/integration/sandbox_base.sh
. "$(dirname "${BASH_SOURCE[0]}")/sandbox_base.sh"
GSB_GROUP=$SB_GROUP
GSB_CONF=$SB_CONF
GSB_STATE=$SB_STATE

gsb_enter() {
	if [ -z "${_GSB_INSIDE:-}" ]; then
		require_root
		require_cmd unshare setpriv
		[ -x "$top_builddir/entra-tap-helper" ] && [ -x "$top_builddir/entra-tap-grantctl" ] ||
			skip_all "no built programs in $top_builddir"
		_GSB_INSIDE=1 top_srcdir=$top_srcdir top_builddir=$top_builddir \
			exec unshare --mount --propagation private -- bash "$0" "$@"
	fi
	set -u
	_sb_dirs && _sb_anchor || skip_all "$SB_WHY"
	SB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/entra-tap-gsb.XXXXXX") || skip_all "mktemp failed"
	chmod 0755 "$SB_DIR"
	GSB_DIR=$SB_DIR
	at_exit _gsb_cleanup
	sb_etc_init || skip_all "cannot make a private /etc"
	GSB_GID=$SB_GID
	_sb_copy_programs || skip_all "cannot copy the built programs"
	mount --bind "$SB_DIR/etc" /etc || skip_all "cannot bind a private /etc"
	mount -t tmpfs -o mode=0755 tmpfs /run || skip_all "cannot mount /run"
	mount -t tmpfs -o mode=0755 tmpfs /var/lib || skip_all "cannot mount /var/lib"
	_GSB_OVERLAY=$SB_ANC
	sh -e -c "$(_sb_stage_lines "$SB_DIR/ov")" || skip_all "cannot overlay $SB_ANC for the programs"
	GSB_BIN=$SB_GRANTCTL_PATH
	GSB_HELPER_BIN=$SB_HELPER_PATH
	# a bad copy would make every later check meaningless
	grep -q "^$SB_GROUP:" /etc/group || skip_all "the private /etc is not in place"
	[ "$(stat -c %a "$GSB_HELPER_BIN")" = 4755 ] || skip_all "the helper is not setuid inside"
}

_gsb_cleanup() {
	# unmount first: the removal below must never reach through a mount
	[ -n "${_GSB_OVERLAY:-}" ] && umount "$_GSB_OVERLAY" 2>/dev/null
	umount /etc 2>/dev/null
	case "${GSB_DIR:-}" in
	/*/entra-tap-gsb.*) mountpoint -q "$GSB_DIR/ov" || rm -rf "$GSB_DIR" ;;
	esac
}

# tests/pam/test_pam.sh calls these by their old names
_gsb_cannot() { skip_all "$@"; }
gsb_useradd() { sb_useradd "$@"; }

sb_exec() { "$@"; }
sb_grantctl() { "$GSB_BIN" "$@"; }
gsb_grantctl() { "$GSB_BIN" "$@"; }
gsb_as_prog() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- "$@"
}
gsb_as() {
	local u=$1
	shift
	gsb_as_prog "$u" "$GSB_HELPER_BIN" "$@"
}
gsb_files_check() { "$PYTHON3" "$_sb_here/grant_files_check.py" --group "$SB_GROUP" "$@"; }

readonly -f gsb_enter _gsb_cleanup _gsb_cannot gsb_useradd sb_exec sb_grantctl gsb_grantctl gsb_as_prog gsb_as gsb_files_check
