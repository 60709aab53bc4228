# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# sandbox.sh: a throwaway machine for integration tests, with real systemd as PID 1. Built on
# sandbox_base.sh (the private /etc, users, configuration, the helper's staging); TAP from
# lib.sh.
#
# Source it from a bash test, then:
#   sbx_init                 make the state dir: a private copy of /etc (masked noisy units,
#                            empty fstab, new machine-id, elevated group, config file), our
#                            units installed and enabled, the built helper staged. Runs
#                            sbx_cleanup when the script exits.
#   sbx_start [--no-systemd] boot systemd as PID 1 of new PID + mount + cgroup namespaces;
#                            with --no-systemd the same namespaces hold only a sleeping PID 1
#                            (a container without systemd: no bus, no journal)
#   sbx_wait_running [SECS]  until `systemctl is-system-running` says running (or degraded)
#   sbx_exec CMD...          run CMD inside (nsenter), clean environment, exit code kept
#   sbx_crash                SIGKILL PID 1: everything inside dies at once (a power cut)
#   sbx_halt [SECS]          clean shutdown (SIGRTMIN+3), SIGKILL when it takes too long
#   sbx_reboot               sbx_crash, then sbx_start + sbx_wait_running on the same state
#   sbx_cleanup              stop whatever runs, remove cgroup and state dir (idempotent)
#   sbx_journal_json ARGS    journalctl -o json ARGS inside the running sandbox
#   sbx_grantctl ARGS        run the installed entra-tap-grantctl inside, as root
# and sandbox_base.sh's sb_* (sb_config, sb_useradd, sb_listed, sb_in_group, ...; sb_exec
# is sbx_exec, sb_grantctl is sbx_grantctl). Wait for something inside with
# `wait_until SECS sbx_exec CMD...` (lib.sh).
#
# Inside, the sandbox sees:
#   /etc                 $SBX_DIR/etc, a copy of the host's /etc (kept across reboots)
#   /var                 overlay: host /var below, $SBX_DIR/var/upper on top (kept across
#                        reboots: /var/lib/systemd, the journal in /var/log/journal)
#   /var/lib/entra-tap   $SBX_DIR/state (kept across reboots; readable from outside)
#   /var/log/journal     $SBX_DIR/journal (kept; `journalctl -D` reads it from outside)
#   /run, /tmp           fresh tmpfs at every boot, as on a real machine
#   kept paths           the build and source trees, $SBX_DIR and $SBX_EXTRA_KEEP, bound at
#                        the same paths
#   the programs' dirs   one overlay (host directory below, tmpfs on top) holding
#                        entra-tap-helper setuid root ($SB_HELPER_PATH) and
#                        entra-tap-grantctl ($SB_GRANTCTL_PATH) at their compiled-in paths;
#                        missing directories are made inside the overlay of their deepest
#                        existing common ancestor
#   /proc/sys, /sys      read-only, so systemd treats it as a container
#   /sys/fs/cgroup       cgroup2 rooted at a private sub-cgroup (cgroup namespace), so two
#                        sandboxes never share units' cgroups and the host's stay untouched
# Nothing is written to the host's /etc, /var, /tmp or cgroups other than $SBX_DIR and one
# sub-cgroup, both removed by sbx_cleanup. The sandbox dies with the test: PID 1 gets
# SIGKILL when the test's shell dies (pdeathsig chain) and after SBX_LIFETIME seconds.
#
# Inputs (environment): top_builddir, top_srcdir (set by `make check`; defaults: this
# script's tree), ET_BINDIR and ET_LIBEXECDIR (default: from $top_builddir/Makefile),
# SBX_LIFETIME (default 900 s), SBX_GROUP (default
# entra-elevated).
# Needs root, util-linux (unshare, nsenter, setpriv), overlayfs and systemd.

[ -z "${_SBX_LOADED:-}" ] || return 0
_SBX_LOADED=1
SB_GROUP=${SBX_GROUP:-${SB_GROUP:-entra-elevated}}
# shellcheck source=tests/integration/sandbox_base.sh
. "$(dirname "${BASH_SOURCE[0]}")/sandbox_base.sh"
SBX_LIFETIME=${SBX_LIFETIME:-900}
SBX_GROUP=$SB_GROUP
SBX_PID=
SBX_LAUNCH_PID=
SBX_CGROUP=
SBX_DIR=


# Units that touch the kernel or the host's files, or only slow the boot down.
SBX_MASK="kmod-static-nodes.service proc-sys-fs-binfmt_misc.automount
proc-sys-fs-binfmt_misc.mount sys-fs-fuse-connections.mount sys-kernel-config.mount
sys-kernel-debug.mount sys-kernel-tracing.mount dev-hugepages.mount dev-mqueue.mount tmp.mount
systemd-ask-password-console.path systemd-ask-password-wall.path systemd-binfmt.service
systemd-firstboot.service systemd-machine-id-commit.service systemd-modules-load.service
systemd-pcrphase.service systemd-pcrphase-sysinit.service systemd-repart.service
systemd-sysctl.service systemd-sysusers.service systemd-tmpfiles-setup.service
systemd-tmpfiles-setup-dev.service systemd-tmpfiles-clean.service systemd-tmpfiles-clean.timer
systemd-update-utmp.service systemd-update-utmp-runlevel.service systemd-udevd.service
systemd-udevd-control.socket systemd-udevd-kernel.socket systemd-udev-trigger.service
systemd-udev-settle.service systemd-hwdb-update.service systemd-remount-fs.service
systemd-fsck-root.service systemd-timesyncd.service systemd-pstore.service
systemd-journald-audit.socket systemd-random-seed.service ldconfig.service
systemd-boot-system-token.service systemd-boot-update.service e2scrub_reap.service
e2scrub_all.timer apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer
man-db.timer logrotate.timer systemd-logind.service getty.target console-getty.service"

_sbx_log() { echo "# sandbox: $*" >&2; }
_sbx_die() { echo "# sandbox: FATAL: $*" >&2; return 1; }

# The cgroup2 hierarchy the sandbox nests in: pure v2 hosts and hybrid ones.
_sbx_cgroup_base() {
	if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
		echo /sys/fs/cgroup
	elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		echo /sys/fs/cgroup/unified
	else
		return 1
	fi
}

sbx_init() {
	local u e
	[ "$(id -u)" = 0 ] || { _sbx_die "needs root"; return 1; }
	for u in unshare nsenter setpriv timeout systemctl; do
		command -v "$u" >/dev/null || { _sbx_die "missing $u"; return 1; }
	done
	[ -x /lib/systemd/systemd ] || { _sbx_die "systemd is not installed"; return 1; }
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
		{ _sbx_die "no overlayfs"; return 1; }
	_sbx_cgroup_base >/dev/null || { _sbx_die "no cgroup2 hierarchy"; return 1; }
	_sb_dirs || { _sbx_die "$SB_WHY"; return 1; }

	SBX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/entra-tap-sbx.XXXXXX") || return 1
	SB_DIR=$SBX_DIR
	chmod 0755 "$SBX_DIR"
	at_exit sbx_cleanup
	mkdir -p "$SBX_DIR/var/upper" "$SBX_DIR/var/work" "$SBX_DIR/state" "$SBX_DIR/journal"
	chmod 0700 "$SBX_DIR/state"
	sb_etc_init || return 1
	e=$SB_ETC/systemd/system
	# host-enabled units stay on the host; only what the sandbox target pulls in runs
	find "$e" -mindepth 1 -maxdepth 1 \( -name '*.wants' -o -name '*.requires' \) -exec rm -rf {} +
	for u in $SBX_MASK; do
		rm -f "$e/$u"
		ln -s /dev/null "$e/$u"
	done
	: >"$SB_ETC/fstab"
	systemd-id128 new >"$SB_ETC/machine-id"
	rm -f "$e/default.target"
	cat >"$e/entra-tap-sandbox.target" <<-'EOF'
		[Unit]
		Description=entra-tap test sandbox
		Requires=basic.target
		After=basic.target
		Wants=systemd-user-sessions.service
		AllowIsolate=yes
	EOF
	mkdir -p "$e/entra-tap-sandbox.target.wants" "$e/timers.target.wants"
	# journald: keep everything, no rate limit (tests count entries), flush quickly
	mkdir -p "$SB_ETC/systemd/journald.conf.d"
	printf '[Journal]\nStorage=persistent\nRateLimitBurst=0\nSyncIntervalSec=1s\n' \
		>"$SB_ETC/systemd/journald.conf.d/sandbox.conf"
	_sbx_install_units
}

# Our units, as built (paths substituted), installed and enabled in the private /etc.
_sbx_install_units() {
	local e="$SBX_DIR/etc/systemd/system" u
	for u in entra-tap-sweep.service entra-tap-sweep.timer entra-tap-boot-reconcile.service; do
		if [ -f "$top_builddir/data/$u" ]; then
			install -m 0644 "$top_builddir/data/$u" "$e/$u"
		elif [ -f "$top_srcdir/data/$u" ]; then
			install -m 0644 "$top_srcdir/data/$u" "$e/$u"
		else
			_sbx_log "data/$u is not built: not installed"
		fi
	done
	[ -f "$e/entra-tap-sweep.timer" ] &&
		ln -sf ../entra-tap-sweep.timer "$e/timers.target.wants/entra-tap-sweep.timer"
	[ -f "$e/entra-tap-boot-reconcile.service" ] &&
		ln -sf ../entra-tap-boot-reconcile.service \
			"$e/entra-tap-sandbox.target.wants/entra-tap-boot-reconcile.service"
	return 0
}

# The script that runs as PID 1 of the new namespaces until it becomes systemd.
_sbx_write_boot() {
	local keep="$SBX_DIR $top_builddir $top_srcdir ${SBX_EXTRA_KEEP:-}" p i=0
	_sb_anchor || { _sbx_die "$SB_WHY"; return 1; }
	for p in $keep; do
		case "$p/" in "$SB_ANC"/*)
			_sbx_die "the programs' overlay on $SB_ANC would hide $p: configure another prefix"
			return 1
			;;
		esac
	done
	{
		echo 'set -eu'
		echo 'mount -t tmpfs -o mode=0755 tmpfs /run'
		echo 'mkdir -p /run/systemd /run/.sbx'
		# a fresh /tmp, with the trees the tests use bound back at the same paths
		for p in $keep; do
			echo "mkdir -p /run/.sbx/k$i && mount --bind '$p' /run/.sbx/k$i"
			i=$((i + 1))
		done
		echo 'mount -t tmpfs -o mode=1777 tmpfs /tmp'
		i=0
		for p in $keep; do
			echo "mkdir -p '$p' && mount --bind /run/.sbx/k$i '$p' && umount /run/.sbx/k$i"
			i=$((i + 1))
		done
		echo "mount --bind '$SBX_DIR/etc' /etc"
		echo "mount -t overlay overlay -o 'lowerdir=/var,upperdir=$SBX_DIR/var/upper,workdir=$SBX_DIR/var/work' /var"
		echo "mkdir -p /var/lib/entra-tap /var/log/journal"
		echo "mount --bind '$SBX_DIR/state' /var/lib/entra-tap"
		echo "mount --bind '$SBX_DIR/journal' /var/log/journal"
		# the install dir: the host's as a read-only lower layer, writes in a tmpfs, plus our
		# helper, setuid root
		_sb_stage_lines /run/.sbx/ov
		echo 'rmdir /run/.sbx/* /run/.sbx 2>/dev/null || true'
		echo 'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys'
		echo 'mount -o remount,bind,ro /proc/sysrq-trigger 2>/dev/null || mount --bind -o ro /proc/sysrq-trigger /proc/sysrq-trigger || true'
		echo 'mount -t cgroup2 cgroup2 /sys/fs/cgroup'
		echo 'mount -o remount,bind,ro /sys'
		echo 'cd /'
		if [ "$1" = systemd ]; then
			echo 'exec env -i container=entra-tap-sandbox PATH=/usr/sbin:/usr/bin:/sbin:/bin /lib/systemd/systemd --system --unit=entra-tap-sandbox.target --log-target=journal --log-level=info --show-status=no'
		else
			echo 'exec sleep infinity'
		fi
	} >"$SBX_DIR/boot.sh"
}

# shellcheck disable=SC2120 # callers pass --no-systemd or nothing
sbx_start() {
	local base init=systemd
	[ "${1:-}" = --no-systemd ] && init=none
	[ -n "$SBX_DIR" ] || { _sbx_die "sbx_init first"; return 1; }
	[ -z "$SBX_PID" ] || { _sbx_die "already running"; return 1; }
	_sb_copy_programs || { _sbx_die "no built programs in $top_builddir"; return 1; }
	_sbx_write_boot "$init" || return 1
	base=$(_sbx_cgroup_base) || return 1
	SBX_CGROUP="$base/entra-tap-sbx.$$.$RANDOM"
	mkdir "$SBX_CGROUP" || return 1
	# the subshell moves itself into the sub-cgroup; each link of the chain dies with its
	# parent, and unshare takes PID 1 down with it
	(
		echo "$BASHPID" >"$SBX_CGROUP/cgroup.procs" || exit 1
		exec setpriv --pdeathsig KILL timeout -s KILL "$SBX_LIFETIME" \
			setpriv --pdeathsig KILL unshare --cgroup --pid --mount --mount-proc \
			--propagation private --kill-child=SIGKILL /bin/sh "$SBX_DIR/boot.sh"
	) </dev/null >>"$SBX_DIR/console.log" 2>&1 &
	SBX_LAUNCH_PID=$!
	# PID 1 of the new namespace, then PID 1 exec'ing the real init once its mounts are done
	wait_until --quiet 5 _sbx_pid1_found && wait_until --quiet 10 _sbx_pid1_booted &&
		[ -n "$SBX_PID" ] && kill -0 "$SBX_PID" 2>/dev/null && return 0
	_sbx_log "boot failed; console:"
	sed 's/^/#   /' "$SBX_DIR/console.log" >&2
	sbx_crash
	return 1
}

# the descendant whose NSpid has two levels ending in 1 (SBX_PID), or the launcher gone
_sbx_pid1_found() {
	SBX_PID=$(_sbx_find_pid1 "$SBX_LAUNCH_PID")
	[ -n "$SBX_PID" ] || ! kill -0 "$SBX_LAUNCH_PID" 2>/dev/null
}

# PID 1 is the boot script until it execs the real init (or it died)
_sbx_pid1_booted() {
	[ -n "$SBX_PID" ] || return 0
	case "$(cat "/proc/$SBX_PID/comm" 2>/dev/null)" in systemd | sleep) return 0 ;; esac
	! kill -0 "$SBX_PID" 2>/dev/null
}

_sbx_find_pid1() {
	local p c
	for p in $(_sbx_descendants "$1"); do
		c=$(awk '/^NSpid:/ { if (NF == 3 && $3 == 1) print "yes" }' "/proc/$p/status" 2>/dev/null)
		[ "$c" = yes ] && { echo "$p"; return; }
	done
}

_sbx_descendants() {
	local p
	for p in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$p"
		_sbx_descendants "$p"
	done
}

sbx_exec() {
	[ -n "$SBX_PID" ] || { _sbx_die "sandbox is not running"; return 1; }
	nsenter -t "$SBX_PID" -m -p -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

# running or degraded (in _sbx_state), or systemd gone: nothing more to wait for
_sbx_settled() {
	kill -0 "$SBX_PID" 2>/dev/null || return 0
	_sbx_state=$(sbx_exec systemctl is-system-running 2>/dev/null)
	case "$_sbx_state" in running | degraded) return 0 ;; esac
	return 1
}

sbx_wait_running() {
	local secs=${1:-60}
	_sbx_state=
	wait_until --quiet --every 0.1 "$secs" _sbx_settled
	if ! kill -0 "$SBX_PID" 2>/dev/null; then
		_sbx_die "systemd died"
		sed 's/^/#   /' "$SBX_DIR/console.log" >&2
		return 1
	fi
	case "$_sbx_state" in
	running) return 0 ;;
	degraded)
		_sbx_log "degraded; failed units:"
		sbx_exec systemctl --failed --no-legend --no-pager | sed 's/^/#   /' >&2
		return 0
		;;
	esac
	_sbx_die "not running after ${secs}s (state '$_sbx_state')"
	sbx_exec systemctl list-jobs --no-pager 2>&1 | sed 's/^/#   /' >&2
	return 1
}

# Wait for the launch chain to end and the sub-cgroup to empty, then remove it.
_sbx_reap() {
	if [ -n "$SBX_LAUNCH_PID" ]; then
		wait_until --quiet 5 _sbx_gone "$SBX_LAUNCH_PID"
		wait "$SBX_LAUNCH_PID" 2>/dev/null
	fi
	if [ -n "$SBX_CGROUP" ] && [ -d "$SBX_CGROUP" ]; then
		wait_until --quiet 5 _sbx_cgroup_removed || _sbx_log "could not remove $SBX_CGROUP"
	fi
	SBX_PID='' SBX_LAUNCH_PID='' SBX_CGROUP=
}

_sbx_gone() { ! kill -0 "$1" 2>/dev/null; }
_sbx_cgroup_removed() {
	find "$SBX_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null
	[ ! -d "$SBX_CGROUP" ]
}

sbx_crash() {
	[ -n "$SBX_PID" ] && kill -KILL "$SBX_PID" 2>/dev/null
	_sbx_reap
}

sbx_halt() {
	[ -n "$SBX_PID" ] || return 0
	kill -s RTMIN+3 "$SBX_PID" 2>/dev/null
	wait_until --quiet --every 0.1 "${1:-30}" _sbx_gone "$SBX_PID"
	sbx_crash
}

sbx_reboot() {
	sbx_crash
	sbx_start && sbx_wait_running "${1:-60}"
}

sbx_cleanup() {
	sbx_crash
	if [ -n "$SBX_DIR" ] && [ -d "$SBX_DIR" ]; then
		if [ -n "${SBX_KEEP_DIR:-}" ]; then
			_sbx_log "kept $SBX_DIR"
		else
			rm -rf "$SBX_DIR"
		fi
	fi
	SBX_DIR=
}

sbx_journal_json() {
	sbx_exec journalctl --no-pager -o json "$@"
}

sbx_grantctl() {
	sbx_exec "$SB_GRANTCTL_PATH" "$@"
}

sb_exec() { sbx_exec "$@"; }
sb_grantctl() { sbx_grantctl "$@"; }
# bench/revocation_lateness.sh calls it by its old name
sbx_useradd() { sb_useradd "$@"; }

readonly -f _sbx_log _sbx_die _sbx_cgroup_base sbx_init _sbx_install_units _sbx_write_boot sbx_start \
	_sbx_pid1_found _sbx_pid1_booted _sbx_find_pid1 _sbx_descendants sbx_exec _sbx_settled \
	sbx_wait_running _sbx_reap _sbx_gone _sbx_cgroup_removed sbx_crash sbx_halt sbx_reboot sbx_cleanup \
	sbx_journal_json sbx_grantctl sb_exec sb_grantctl sbx_useradd
