# shellcheck shell=bash
# grant_sandbox.sh: a private mount namespace for the grant store, group-file and helper
# tests (no systemd: the timers tests use sandbox.sh for that).
#
# Source it from a bash test and call gsb_enter "$@" first thing: the script re-executes
# itself inside `unshare --mount --propagation private`, where
#   /etc                 is a copy of the host's /etc (bound over the directory, never a
#                        single file, so rename(2) works), with the elevated group in
#                        group and gshadow and a test configuration
#   /run, /var/lib       are empty tmpfs: no system bus, no nscd, no journal socket, and a
#                        fresh /var/lib/entra-tap
#   $GSB_SBINDIR         is an overlay (the host directory below, a tmpfs on top) holding
#                        the built helper setuid root, so its compiled-in path is the real
#                        one inside; a missing directory (another prefix, distcheck) is made
#                        inside the overlay of its deepest existing ancestor
# Nothing outside $GSB_DIR is written; the namespace and its mounts vanish with the test.
#
# Then: gsb_config KEY VALUE, gsb_useradd NAME..., gsb_members [group|gshadow],
# gsb_helper ARGS (as root), gsb_as USER ARGS (helper as USER via setpriv), and the TAP
# helpers ok / not_ok / is / tap_done.
#
# Inputs: top_builddir, top_srcdir (set by `make check`), ET_SBINDIR (sbindir, exported by
# Makefile.am; default from $top_builddir/Makefile), GSB_HELPER (default
# $top_builddir/entra-tap-helper), GSB_GROUP (default entra-elevated).

GSB_GROUP=${GSB_GROUP:-entra-elevated}
GSB_CONF=/etc/security/pam_entra_tap.conf
GSB_STATE=/var/lib/entra-tap
_gsb_n=0
_gsb_failed=0

ok() { _gsb_n=$((_gsb_n + 1)); echo "ok $_gsb_n - $*"; }
not_ok() { _gsb_n=$((_gsb_n + 1)); _gsb_failed=$((_gsb_failed + 1)); echo "not ok $_gsb_n - $*"; }
# check NAME CMD...: ok when CMD succeeds
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
# is GOT WANT NAME
is() {
	if [ "$1" = "$2" ]; then ok "$3"; else
		not_ok "$3"
		echo "#   got: '$1'"
		echo "#  want: '$2'"
	fi
}
diag() { echo "# $*"; }
tap_done() { echo "1..$_gsb_n"; [ "$_gsb_failed" = 0 ]; }

_gsb_sbindir() {
	if [ -n "${ET_SBINDIR:-}" ]; then echo "$ET_SBINDIR"; return; fi
	if [ -f "$top_builddir/Makefile" ]; then
		printf 'gsb-print-sbindir:\n\t@echo $(sbindir)\n' |
			make -s --no-print-directory -f "$top_builddir/Makefile" -f - gsb-print-sbindir 2>/dev/null &&
			return
	fi
	echo /usr/local/sbin
}

# Skip (or, under CI=true, fail) when the sandbox cannot be made.
_gsb_cannot() {
	if [ "${CI:-}" = true ]; then
		echo "1..1"
		echo "not ok 1 - sandbox unavailable and CI=true forbids skipping: $*"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

gsb_enter() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
	top_builddir=${top_builddir:-$top_srcdir}
	GSB_HELPER=${GSB_HELPER:-$top_builddir/entra-tap-helper}
	if [ -z "${_GSB_INSIDE:-}" ]; then
		[ "$(id -u)" = 0 ] || _gsb_cannot "needs root"
		command -v unshare >/dev/null || _gsb_cannot "needs unshare"
		command -v setpriv >/dev/null || _gsb_cannot "needs setpriv"
		[ -x "$GSB_HELPER" ] || _gsb_cannot "no built helper at $GSB_HELPER"
		_GSB_INSIDE=1 GSB_HELPER=$GSB_HELPER top_srcdir=$top_srcdir top_builddir=$top_builddir \
			exec unshare --mount --propagation private -- bash "$0" "$@"
	fi
	set -u
	GSB_SBINDIR=$(_gsb_sbindir)
	case "$GSB_SBINDIR" in /?*) ;; *) _gsb_cannot "bad sbindir '$GSB_SBINDIR'" ;; esac
	GSB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/entra-tap-gsb.XXXXXX") || _gsb_cannot "mktemp failed"
	chmod 0755 "$GSB_DIR"
	trap '_gsb_cleanup' EXIT
	cp -a /etc "$GSB_DIR/etc"
	mkdir -p "$GSB_DIR/ov"
	# the elevated group, empty, in group and gshadow
	local gid=4790
	while cut -d: -f3 "$GSB_DIR/etc/group" | grep -qx "$gid"; do gid=$((gid + 1)); done
	sed -i "/^$GSB_GROUP:/d" "$GSB_DIR/etc/group"
	echo "$GSB_GROUP:x:$gid:" >>"$GSB_DIR/etc/group"
	if [ -f "$GSB_DIR/etc/gshadow" ]; then
		sed -i "/^$GSB_GROUP:/d" "$GSB_DIR/etc/gshadow"
		echo "$GSB_GROUP:!::" >>"$GSB_DIR/etc/gshadow"
	fi
	GSB_GID=$gid
	mkdir -p "$GSB_DIR/etc/security"
	cat >"$GSB_DIR/etc/security/pam_entra_tap.conf" <<-EOF
		tenant_id = 11111111-2222-3333-4444-555555555555
		client_id = 66666666-7777-8888-9999-000000000000
		eligible_groups = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
		allowed_domains = example.com
		elevated_group = $GSB_GROUP
		duration_min = 1s
		duration_default = 1h
		duration_max = 8h
	EOF
	chmod 0600 "$GSB_DIR/etc/security/pam_entra_tap.conf"
	chown root:root "$GSB_DIR/etc/security/pam_entra_tap.conf"

	mount --bind "$GSB_DIR/etc" /etc || _gsb_cannot "cannot bind a private /etc"
	mount -t tmpfs -o mode=0755 tmpfs /run || _gsb_cannot "cannot mount /run"
	mount -t tmpfs -o mode=0755 tmpfs /var/lib || _gsb_cannot "cannot mount /var/lib"
	GSB_ANC=$GSB_SBINDIR
	while [ ! -d "$GSB_ANC" ]; do GSB_ANC=$(dirname "$GSB_ANC"); done
	case "$GSB_ANC" in / | /usr | /etc | /var | /proc | /sys | /dev | /run | /tmp)
		_gsb_cannot "will not overlay $GSB_ANC to make $GSB_SBINDIR: configure another prefix" ;;
	esac
	mount -t tmpfs -o mode=0755 tmpfs "$GSB_DIR/ov" || _gsb_cannot "cannot mount a tmpfs for the overlay"
	mkdir "$GSB_DIR/ov/upper" "$GSB_DIR/ov/work"
	mount -t overlay overlay -o "lowerdir=$GSB_ANC,upperdir=$GSB_DIR/ov/upper,workdir=$GSB_DIR/ov/work" "$GSB_ANC" ||
		_gsb_cannot "cannot overlay $GSB_ANC"
	mkdir -p "$GSB_SBINDIR"
	install -o root -g root -m 4755 "$GSB_HELPER" "$GSB_SBINDIR/entra-tap-helper"
	GSB_BIN=$GSB_SBINDIR/entra-tap-helper
	# a bad copy would make every later check meaningless
	grep -q "^$GSB_GROUP:" /etc/group || _gsb_cannot "the private /etc is not in place"
	[ "$(stat -c %a "$GSB_BIN")" = 4755 ] || _gsb_cannot "the helper is not setuid inside"
}

_gsb_cleanup() {
	# unmount first: the removal below must never reach through a mount
	[ -n "${GSB_ANC:-}" ] && umount "$GSB_ANC" 2>/dev/null
	umount "$GSB_DIR/ov" 2>/dev/null
	umount /etc 2>/dev/null
	case "${GSB_DIR:-}" in
	/*/entra-tap-gsb.*) mountpoint -q "$GSB_DIR/ov" || rm -rf "$GSB_DIR" ;;
	esac
}

# gsb_config KEY VALUE: set (replace) a key in the sandbox configuration
gsb_config() {
	sed -i "/^$1[[:space:]]*=/d" "$GSB_CONF"
	echo "$1 = $2" >>"$GSB_CONF"
}

# gsb_useradd NAME...: local users without home or groups (fast, direct file edits)
_gsb_uid=20000
gsb_useradd() {
	local u
	for u in "$@"; do
		_gsb_uid=$((_gsb_uid + 1))
		while cut -d: -f3 /etc/passwd | grep -qx "$_gsb_uid"; do _gsb_uid=$((_gsb_uid + 1)); done
		echo "$u:x:$_gsb_uid:$_gsb_uid::/nonexistent:/usr/sbin/nologin" >>/etc/passwd
		[ -f /etc/shadow ] && echo "$u:!:19000:0:99999:7:::" >>/etc/shadow
	done
}

# gsb_members [group|gshadow]: the elevated group's member list in that file, sorted, one line
gsb_members() {
	local f=/etc/${1:-group}
	awk -F: -v g="$GSB_GROUP" '$1 == g { print $4 }' "$f" | tr ',' '\n' | sed '/^$/d' | sort | paste -sd, -
}

gsb_helper() { "$GSB_BIN" "$@"; }
# gsb_as USER ARGS: the helper with USER's real uid (and a clean, minimal environment)
gsb_as() {
	local u=$1
	shift
	setpriv --reuid="$u" --regid="$(id -g "$u")" --clear-groups -- "$GSB_BIN" "$@"
}
