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
#   $GSB_SBINDIR         is an overlay (the host directory below, a tmpfs on top) holding
#                        the built helper setuid root, so its compiled-in path is the real
#                        one inside; a missing directory (another prefix, distcheck) is made
#                        inside the overlay of its deepest existing ancestor
# Nothing outside $GSB_DIR is written; the namespace and its mounts vanish with the test.
#
# Then, besides sandbox_base.sh's sb_* (sb_exec runs a command as it is, sb_helper is
# gsb_helper):
#   gsb_helper ARGS          the helper as root
#   gsb_as USER ARGS         the helper with USER's real uid and gid, no other groups
#   gsb_files_check ARGS     tests/integration/grant_files_check.py for the elevated group
# and GSB_DIR, GSB_GROUP, GSB_GID, GSB_BIN (the installed helper), GSB_STATE, GSB_CONF.
#
# Inputs: top_builddir, top_srcdir (set by `make check`), ET_SBINDIR (sbindir, exported by
# Makefile.am; default from $top_builddir/Makefile), GSB_HELPER (default
# $top_builddir/entra-tap-helper), GSB_GROUP (default entra-elevated).

[ -z "${_GSB_LOADED:-}" ] || return 0
_GSB_LOADED=1
SB_GROUP=${GSB_GROUP:-${SB_GROUP:-entra-elevated}}
# shellcheck source=tests/integration/sandbox_base.sh
. "$(dirname "${BASH_SOURCE[0]}")/sandbox_base.sh"
GSB_GROUP=$SB_GROUP
GSB_CONF=$SB_CONF
GSB_STATE=$SB_STATE

gsb_enter() {
	GSB_HELPER=${GSB_HELPER:-$top_builddir/entra-tap-helper}
	if [ -z "${_GSB_INSIDE:-}" ]; then
		require_root
		require_cmd unshare setpriv
		[ -x "$GSB_HELPER" ] || skip_all "no built helper at $GSB_HELPER"
		_GSB_INSIDE=1 GSB_HELPER=$GSB_HELPER top_srcdir=$top_srcdir top_builddir=$top_builddir \
			exec unshare --mount --propagation private -- bash "$0" "$@"
	fi
	set -u
	_sb_sbindir && _sb_anchor || skip_all "$SB_WHY"
	GSB_SBINDIR=$SB_SBINDIR
	SB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/entra-tap-gsb.XXXXXX") || skip_all "mktemp failed"
	chmod 0755 "$SB_DIR"
	GSB_DIR=$SB_DIR
	at_exit _gsb_cleanup
	sb_etc_init || skip_all "cannot make a private /etc"
	GSB_GID=$SB_GID
	install -m 0755 "$GSB_HELPER" "$SB_DIR/bin/entra-tap-helper"
	mount --bind "$SB_DIR/etc" /etc || skip_all "cannot bind a private /etc"
	mount -t tmpfs -o mode=0755 tmpfs /run || skip_all "cannot mount /run"
	mount -t tmpfs -o mode=0755 tmpfs /var/lib || skip_all "cannot mount /var/lib"
	_GSB_OVERLAY=$SB_ANC
	sh -e -c "$(_sb_stage_lines "$SB_DIR/ov")" || skip_all "cannot overlay $SB_ANC for the helper"
	GSB_BIN=$SB_SBINDIR/entra-tap-helper
	# a bad copy would make every later check meaningless
	grep -q "^$SB_GROUP:" /etc/group || skip_all "the private /etc is not in place"
	[ "$(stat -c %a "$GSB_BIN")" = 4755 ] || skip_all "the helper is not setuid inside"
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
sb_helper() { "$GSB_BIN" "$@"; }
gsb_helper() { "$GSB_BIN" "$@"; }
gsb_as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- "$GSB_BIN" "$@"
}
gsb_files_check() { "$PYTHON3" "$_sb_here/grant_files_check.py" --group "$SB_GROUP" "$@"; }

readonly -f gsb_enter _gsb_cleanup _gsb_cannot gsb_useradd sb_exec sb_helper gsb_helper gsb_as gsb_files_check
