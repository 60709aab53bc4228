# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# sandbox_base.sh: the private-/etc layer every sandbox of the integration tests is built on
# (sourced by grant_sandbox.sh and sandbox.sh, not by tests; sources lib.sh):
#
#   grant_sandbox.sh   a private mount namespace, no systemd (grant store, group files,
#                      helper); pam_sandbox.sh adds the mock Entra ID and PAM users on top
#   sandbox.sh         systemd as PID 1 of its own namespaces; journey_sandbox.sh adds the
#                      mock, PAM users, sudo and a terminal on top
#
# A layer sets SB_DIR (its scratch directory; the private /etc is $SB_DIR/etc, the same
# files the sandbox sees as /etc) and defines two hooks: sb_exec CMD... (run CMD where the
# sandbox's processes run) and sb_grantctl ARGS (the installed entra-tap-grantctl, as root).
#
#   sb_etc_init               copy the host's /etc to $SB_DIR/etc, add the elevated group
#                             ($SB_GROUP, empty, in group and gshadow; its gid in SB_GID) and
#                             write the configuration
#   sb_write_config [FILE]    the one configuration writer: /etc/security/pam_entra_tap.conf,
#                             root:root 0600 as debian/rules installs it: the keys of FILE
#                             (default: a fixed test tenant) but elevated_group and state_dir,
#                             then this sandbox's group and state dir, durations 1s..8h (1h)
#   sb_config_for_mock        sb_write_config from the mock's configuration, plus methods tap
#                             and device_code and tap_password_grant = yes (PAM sandboxes)
#   sb_config KEY VALUE       set (replace) one key
#   sb_useradd [--login] NAME...
#                             the one way to add test users: passwd, group, shadow, gshadow;
#                             with --login a home $SB_DIR/home/NAME and /bin/bash, otherwise
#                             no home and nologin
#   sb_pam SERVICE < LINES    write /etc/pam.d/SERVICE; @MODULE@ and a bare pam_entra_tap.so
#                             become the module under test ($SB_MODULE)
#   sb_sudo [--nopasswd]      sudo as data/ ships it: sudo.conf (group_source dynamic), the
#                             sudoers line for $SB_GROUP (NOPASSWD with --nopasswd), no lecture
#   sb_members [group|gshadow]  the elevated group's members in that file, sorted, one line
#   sb_listed USER            the group file lists USER in the elevated group (read directly:
#                             works while a sandbox is down)
#   sb_in_group USER          getent inside says USER is in the elevated group
#   sb_grants [--live] USER   how many grants (with --live: not expired) USER has in the store
#   sb_grant_field WHO EXPR   EXPR (Python, over the grant g) for grant WHO (an id), or the
#                             newest grant of user WHO; "none" without one
#   sb_drive ARGS             tests/integration/pam_drive.py, a pty conversation driver
#   sb_port_open PORT         something listens on 127.0.0.1:PORT
#   sb_tmpdir                 print a new scratch directory (0755) under $SB_DIR
# For the layers: _sb_dirs (sets SB_BINDIR, SB_LIBEXECDIR, SB_HELPER_PATH, SB_GRANTCTL_PATH),
# _sb_anchor (sets SB_ANC: where the programs' overlay goes), both setting SB_WHY when they
# fail; _sb_copy_programs; _sb_stage_lines SCRATCH (commands that install the programs).
#
# Inputs: SB_GROUP (default entra-elevated), SB_MODULE (default the built
# $top_builddir/.libs/pam_entra_tap.so), ET_BINDIR and ET_LIBEXECDIR (exported by `make
# check`; default: from $top_builddir/Makefile).

[ -z "${_SB_BASE_LOADED:-}" ] || return 0
_SB_BASE_LOADED=1
_sb_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$_sb_here/lib.sh"

SB_GROUP=${SB_GROUP:-entra-elevated}
SB_STATE=/var/lib/entra-tap
SB_CONF=/etc/security/pam_entra_tap.conf
# the system interpreter: pexpect and the mock's modules are installed for it
SB_PY=/usr/bin/python3
SB_MODULE=${SB_MODULE:-$top_builddir/.libs/pam_entra_tap.so}
SB_DIR=
SB_ETC=
SB_GID=
SB_WHY=

# The programs' compiled-in paths: bindir and libexecdir of the build (ET_BINDIR and
# ET_LIBEXECDIR, exported by `make check`; else read from $top_builddir/Makefile).
_sb_dirs() {
	local d
	for d in bindir libexecdir; do
		local v
		if [ "$d" = bindir ]; then v=${ET_BINDIR:-}; else v=${ET_LIBEXECDIR:-}; fi
		if [ -z "$v" ] && [ -f "$top_builddir/Makefile" ]; then
			v=$(printf 'sb-print:\n\t@echo $(%s)\n' "$d" |
				make -s --no-print-directory -f "$top_builddir/Makefile" -f - sb-print 2>/dev/null)
		fi
		case "$v" in /?*) ;; *)
			SB_WHY="bad $d '$v'"
			return 1
			;;
		esac
		if [ "$d" = bindir ]; then SB_BINDIR=$v; else SB_LIBEXECDIR=$v; fi
	done
	SB_HELPER_PATH=$SB_BINDIR/entra-tap-helper
	SB_GRANTCTL_PATH=$SB_LIBEXECDIR/entra-tap/entra-tap-grantctl
}

# The programs' install dirs may not exist (a build for another prefix, `make distcheck`):
# one overlay goes on the deepest existing directory above both, and the rest is made
# inside it.
_sb_anchor() {
	SB_ANC=$SB_BINDIR
	while case "$SB_LIBEXECDIR/" in "$SB_ANC"/*) false ;; *) true ;; esac; do SB_ANC=$(dirname "$SB_ANC"); done
	while [ ! -d "$SB_ANC" ]; do SB_ANC=$(dirname "$SB_ANC"); done
	case "$SB_ANC" in / | /usr | /etc | /var | /proc | /sys | /dev | /run | /tmp)
		SB_WHY="will not overlay $SB_ANC to install $SB_HELPER_PATH and $SB_GRANTCTL_PATH: configure another prefix"
		return 1
		;;
	esac
}

# _sb_stage_lines SCRATCH: shell commands, to run inside the sandbox's mount namespace, that
# put the host's $SB_ANC under an overlay (writes in a tmpfs mounted at SCRATCH, released
# once the overlay holds it) and install the built programs from $SB_DIR/bin at their
# compiled-in paths: entra-tap-helper setuid root, entra-tap-grantctl root-only
_sb_stage_lines() {
	local s=$1
	cat <<-EOF
		mkdir -p '$SB_ANC' '$s' && mount -t tmpfs -o mode=0755 tmpfs '$s'
		mkdir '$s/upper' '$s/work'
		mount -t overlay overlay -o 'lowerdir=$SB_ANC,upperdir=$s/upper,workdir=$s/work' '$SB_ANC'
		umount -l '$s'
		install -D -o root -g root -m 4755 '$SB_DIR/bin/entra-tap-helper' '$SB_HELPER_PATH'
		install -D -o root -g root -m 0755 '$SB_DIR/bin/entra-tap-grantctl' '$SB_GRANTCTL_PATH'
	EOF
}

# _sb_copy_programs: the built programs into $SB_DIR/bin (the source of _sb_stage_lines)
_sb_copy_programs() {
	install -m 0755 "$top_builddir/entra-tap-helper" "$SB_DIR/bin/entra-tap-helper" &&
		install -m 0755 "$top_builddir/entra-tap-grantctl" "$SB_DIR/bin/entra-tap-grantctl"
}

sb_etc_init() {
	# a gid of its own: sandboxes that share the host's PID namespace run side by side, and
	# the end of a grant ends every process carrying the group's gid number (sessions.h)
	local e=$SB_DIR/etc gid=$((20000 + RANDOM % 40000))
	SB_ETC=$e
	cp -a /etc "$e" || return 1
	mkdir -p "$SB_DIR/bin" "$e/security" || return 1
	# the elevated group, empty, in group and gshadow
	while cut -d: -f3 "$e/group" | grep -qx "$gid"; do gid=$((gid + 1)); done
	sed -i "/^$SB_GROUP:/d" "$e/group"
	echo "$SB_GROUP:x:$gid:" >>"$e/group"
	if [ -f "$e/gshadow" ]; then
		sed -i "/^$SB_GROUP:/d" "$e/gshadow"
		echo "$SB_GROUP:!::" >>"$e/gshadow"
	fi
	SB_GID=$gid
	sb_write_config
}

sb_write_config() {
	local f=$SB_ETC${SB_CONF#/etc}
	{
		if [ -n "${1:-}" ]; then
			grep -vE '^[[:space:]]*(elevated_group|state_dir)[[:space:]]*=' "$1"
		else
			printf '%s\n' "tenant_id = 11111111-2222-3333-4444-555555555555" \
				"client_id = 66666666-7777-8888-9999-000000000000" \
				"eligible_groups = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" \
				"allowed_domains = example.com"
		fi
		printf '%s\n' "elevated_group = $SB_GROUP" "state_dir = $SB_STATE" \
			"duration_min = 1s" "duration_default = 1h" "duration_max = 8h"
	} >"$f.new" && chown root:root "$f.new" && chmod 0600 "$f.new" && mv "$f.new" "$f"
}

sb_config_for_mock() {
	sb_write_config "$ET_MOCK_CONFIG" && sb_config methods "tap device_code" &&
		sb_config tap_password_grant yes
}

sb_config() {
	local f=$SB_ETC${SB_CONF#/etc}
	sed -i "/^[[:space:]]*$1[[:space:]]*=/d" "$f" && echo "$1 = $2" >>"$f"
}

sb_useradd() {
	local e=$SB_ETC login= n id=5000 home shell pw
	local -A used=()
	[ "${1:-}" = --login ] && login=1 && shift
	for n in $(cut -d: -f3 "$e/passwd" "$e/group"); do used[$n]=1; done
	for n in "$@"; do
		grep -q "^$n:" "$e/passwd" && continue
		while [ -n "${used[$id]:-}" ]; do id=$((id + 1)); done
		used[$id]=1
		if [ -n "$login" ]; then
			home=$SB_DIR/home/$n shell=/bin/bash pw='*'
		else
			home=/nonexistent shell=/usr/sbin/nologin pw='!'
		fi
		echo "$n:x:$id:$id:$n:$home:$shell" >>"$e/passwd"
		echo "$n:x:$id:" >>"$e/group"
		[ -f "$e/shadow" ] && echo "$n:$pw:19000:0:99999:7:::" >>"$e/shadow"
		[ -f "$e/gshadow" ] && echo "$n:!::" >>"$e/gshadow"
		if [ -n "$login" ]; then
			install -d -m 0755 "$SB_DIR/home" && install -d -o "$id" -g "$id" -m 0755 "$home" || return 1
		fi
	done
}

sb_pam() {
	sed -E -e 's#(^|[[:space:]])pam_entra_tap\.so#\1@MODULE@#g' -e "s#@MODULE@#$SB_MODULE#g" \
		>"$SB_ETC/pam.d/$1" && chmod 0644 "$SB_ETC/pam.d/$1"
}

sb_sudo() {
	local e=$SB_ETC nopw=
	[ "${1:-}" = --nopasswd ] && nopw=1
	touch "$e/sudo.conf"
	cat "$top_srcdir/data/sudo.conf.entra-tap" >>"$e/sudo.conf"
	sed -e "s/^%entra-admins /%$SB_GROUP /" ${nopw:+-e 's/(ALL:ALL) ALL$/(ALL:ALL) NOPASSWD: ALL/'} \
		"$top_srcdir/data/sudoers.d/entra-tap" >"$e/sudoers.d/entra-tap"
	printf 'Defaults lecture=never\n' >"$e/sudoers.d/zz-sandbox"
	chmod 0440 "$e/sudoers.d/entra-tap" "$e/sudoers.d/zz-sandbox"
}

sb_members() {
	awk -F: -v g="$SB_GROUP" '$1 == g { print $4 }' "$SB_ETC/${1:-group}" | tr ',' '\n' | sed '/^$/d' |
		sort | paste -sd, -
}

sb_listed() { grep -q "^$SB_GROUP:[^:]*:[^:]*:\(.*,\)\?$1\(,.*\)\?\$" "$SB_ETC/group"; }

sb_in_group() { sb_exec getent group "$SB_GROUP" | cut -d: -f4 | tr ',' '\n' | grep -qx "$1"; }

sb_grants() {
	local live=0
	[ "$1" = --live ] && live=1 && shift
	sb_grantctl list --json | "$PYTHON3" -c '
import json, sys, time
live = sys.argv[2] == "1"
print(sum(1 for g in json.load(sys.stdin) if g["user"] == sys.argv[1] and (not live or g["expires"] > time.time())))' \
		"$1" "$live"
}

sb_grant_field() {
	sb_grantctl list --json | "$PYTHON3" -c '
import json, re, sys
who = sys.argv[1]
gs = [g for g in json.load(sys.stdin) if g["id" if re.fullmatch("[0-9a-f]{32}", who) else "user"] == who]
g = max(gs, key=lambda g: g["created"]) if gs else None
print(eval(sys.argv[2]) if g else "none")' "$1" "$2"
}

sb_drive() { "$SB_PY" "$_sb_here/pam_drive.py" "$@"; }

sb_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

sb_tmpdir() {
	local d
	d=$(mktemp -d "$SB_DIR/t.XXXXXX") && chmod 0755 "$d" && echo "$d"
}

readonly -f _sb_dirs _sb_anchor _sb_stage_lines _sb_copy_programs sb_etc_init sb_write_config sb_config_for_mock \
	sb_config sb_useradd sb_pam sb_sudo sb_members sb_listed sb_in_group sb_grants sb_grant_field \
	sb_drive sb_port_open sb_tmpdir
