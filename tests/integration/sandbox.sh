# shellcheck shell=bash
# sandbox.sh: a throwaway machine for integration tests, with real systemd as PID 1.
#
# Source it from a bash test, then:
#   sbx_init                 make the state dir: a private copy of /etc (masked noisy units,
#                            empty fstab, new machine-id, elevated group, config file), our
#                            units installed and enabled, the built helper staged. Sets an
#                            EXIT trap that runs sbx_cleanup.
#   sbx_start [--no-systemd] boot systemd as PID 1 of new PID + mount + cgroup namespaces;
#                            with --no-systemd the same namespaces hold only a sleeping PID 1
#                            (a container without systemd: no bus, no journal)
#   sbx_wait_running [SECS]  until `systemctl is-system-running` says running (or degraded)
#   sbx_exec CMD...          run CMD inside (nsenter), clean environment, exit code kept
#   sbx_crash                SIGKILL PID 1: everything inside dies at once (a power cut)
#   sbx_halt [SECS]          clean shutdown (SIGRTMIN+3), SIGKILL when it takes too long
#   sbx_reboot               sbx_crash, then sbx_start + sbx_wait_running on the same state
#   sbx_cleanup              stop whatever runs, remove cgroup and state dir (idempotent)
#   sbx_config KEY VALUE     set a key in the sandbox's /etc/security/pam_entra_tap.conf
#   sbx_useradd NAME...      add local users (no home) to the sandbox's /etc
#   sbx_members              the elevated group's member list, as getent inside reports it
#   sbx_journal_json ARGS    journalctl -o json ARGS inside the running sandbox
#   sbx_helper ARGS          run the installed entra-tap-helper inside, as root
#   sbx_wait_for SECS CMD... run CMD inside every 20 ms until it succeeds; 1 after SECS
#   sbx_now                  the time as seconds.nanoseconds (for lateness figures)
# TAP helpers (ok, check, diag, require_root, done_testing) come from lib.sh beside this
# file, or the same few functions defined here when it is absent.
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
#   $SBX_SBINDIR         an overlay (host directory below, tmpfs on top) holding
#                        entra-tap-helper setuid root, so the helper's compiled-in path is
#                        the real one inside; a missing directory is made inside the overlay
#                        of its deepest existing ancestor
#   /proc/sys, /sys      read-only, so systemd treats it as a container
#   /sys/fs/cgroup       cgroup2 rooted at a private sub-cgroup (cgroup namespace), so two
#                        sandboxes never share units' cgroups and the host's stay untouched
# Nothing is written to the host's /etc, /var, /tmp or cgroups other than $SBX_DIR and one
# sub-cgroup, both removed by sbx_cleanup. The sandbox dies with the test: PID 1 gets
# SIGKILL when the test's shell dies (pdeathsig chain) and after SBX_LIFETIME seconds.
#
# Inputs (environment): top_builddir, top_srcdir (set by `make check`; defaults: this
# script's tree), SBX_HELPER (default $top_builddir/entra-tap-helper), SBX_SBINDIR (default:
# sbindir from $top_builddir/Makefile), SBX_LIFETIME (default 900 s), SBX_GROUP (default
# entra-elevated).
# Needs root, util-linux (unshare, nsenter, setpriv), overlayfs and systemd.

SBX_LIFETIME=${SBX_LIFETIME:-900}
SBX_GROUP=${SBX_GROUP:-entra-elevated}
SBX_PID=
SBX_LAUNCH_PID=
SBX_CGROUP=
SBX_DIR=

_sbx_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$_sbx_here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
SBX_HELPER=${SBX_HELPER:-$top_builddir/entra-tap-helper}

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

if ! declare -F ok >/dev/null; then
	# shellcheck source=tests/integration/lib.sh
	. "$_sbx_here/lib.sh"
fi

_sbx_log() { echo "# sandbox: $*" >&2; }
_sbx_die() { echo "# sandbox: FATAL: $*" >&2; return 1; }

_sbx_sbindir() {
	if [ -n "${SBX_SBINDIR:-}" ]; then echo "$SBX_SBINDIR"; return; fi
	if [ -f "$top_builddir/Makefile" ]; then
		printf 'sbx-print-sbindir:\n\t@echo $(sbindir)\n' |
			make -s --no-print-directory -f "$top_builddir/Makefile" -f - sbx-print-sbindir 2>/dev/null &&
			return
	fi
	echo /usr/local/sbin
}

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
	local u
	[ "$(id -u)" = 0 ] || { _sbx_die "needs root"; return 1; }
	for u in unshare nsenter setpriv timeout systemctl; do
		command -v "$u" >/dev/null || { _sbx_die "missing $u"; return 1; }
	done
	[ -x /lib/systemd/systemd ] || { _sbx_die "systemd is not installed"; return 1; }
	grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
		{ _sbx_die "no overlayfs"; return 1; }
	_sbx_cgroup_base >/dev/null || { _sbx_die "no cgroup2 hierarchy"; return 1; }

	SBX_DIR=$(mktemp -d "${TMPDIR:-/tmp}/entra-tap-sbx.XXXXXX") || return 1
	chmod 0755 "$SBX_DIR"
	trap 'sbx_cleanup' EXIT
	trap 'exit 130' INT TERM HUP
	SBX_SBINDIR=$(_sbx_sbindir)
	case "$SBX_SBINDIR" in /*) ;; *) _sbx_die "bad sbindir '$SBX_SBINDIR'"; return 1 ;; esac

	mkdir -p "$SBX_DIR/var/upper" "$SBX_DIR/var/work" "$SBX_DIR/state" "$SBX_DIR/bin" "$SBX_DIR/journal"
	chmod 0700 "$SBX_DIR/state"
	cp -a /etc "$SBX_DIR/etc"
	local e="$SBX_DIR/etc"
	# host-enabled units stay on the host; only what the sandbox target pulls in runs
	find "$e/systemd/system" -mindepth 1 -maxdepth 1 \( -name '*.wants' -o -name '*.requires' \) \
		-exec rm -rf {} +
	for u in $SBX_MASK; do
		rm -f "$e/systemd/system/$u"
		ln -s /dev/null "$e/systemd/system/$u"
	done
	: >"$e/fstab"
	systemd-id128 new >"$e/machine-id"
	rm -f "$e/systemd/system/default.target"
	cat >"$e/systemd/system/entra-tap-sandbox.target" <<-'EOF'
		[Unit]
		Description=entra-tap test sandbox
		Requires=basic.target
		After=basic.target
		Wants=systemd-user-sessions.service
		AllowIsolate=yes
	EOF
	mkdir -p "$e/systemd/system/entra-tap-sandbox.target.wants" "$e/systemd/system/timers.target.wants"
	# journald: keep everything, no rate limit (tests count entries), flush quickly
	mkdir -p "$e/systemd/journald.conf.d"
	printf '[Journal]\nStorage=persistent\nRateLimitBurst=0\nSyncIntervalSec=1s\n' \
		>"$e/systemd/journald.conf.d/sandbox.conf"
	_sbx_install_units
	# the elevated group, empty, in group and gshadow
	if ! grep -q "^$SBX_GROUP:" "$e/group"; then
		local gid=4790
		while cut -d: -f3 "$e/group" | grep -qx "$gid"; do gid=$((gid + 1)); done
		echo "$SBX_GROUP:x:$gid:" >>"$e/group"
		[ -f "$e/gshadow" ] && echo "$SBX_GROUP:!::" >>"$e/gshadow"
	fi
	# a complete configuration (root-owned, 0644, as the loader demands); tests change keys
	# with sbx_config
	mkdir -p "$e/security"
	cat >"$e/security/pam_entra_tap.conf" <<-EOF
		tenant_id = 11111111-2222-3333-4444-555555555555
		client_id = 66666666-7777-8888-9999-000000000000
		allowed_domains = example.com
		eligible_groups = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee
		elevated_group = $SBX_GROUP
		duration_min = 1s
		duration_default = 1h
		duration_max = 8h
	EOF
	chown root:root "$e/security/pam_entra_tap.conf"
	chmod 0644 "$e/security/pam_entra_tap.conf"
	return 0
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

sbx_config() {
	local f="$SBX_DIR/etc/security/pam_entra_tap.conf"
	sed -i "/^[[:space:]]*$1[[:space:]]*=/d" "$f"
	echo "$1 = $2" >>"$f"
}

sbx_useradd() {
	local e="$SBX_DIR/etc" n uid=5000
	for n in "$@"; do
		grep -q "^$n:" "$e/passwd" && continue
		while cut -d: -f3 "$e/passwd" | grep -qx "$uid" || cut -d: -f3 "$e/group" | grep -qx "$uid"; do
			uid=$((uid + 1))
		done
		echo "$n:x:$uid:$uid::/nonexistent:/usr/sbin/nologin" >>"$e/passwd"
		echo "$n:x:$uid:" >>"$e/group"
		[ -f "$e/shadow" ] && echo "$n:!:19000::::::" >>"$e/shadow"
		[ -f "$e/gshadow" ] && echo "$n:!::" >>"$e/gshadow"
	done
}

# The script that runs as PID 1 of the new namespaces until it becomes systemd.
_sbx_write_boot() {
	local keep="$SBX_DIR $top_builddir $top_srcdir ${SBX_EXTRA_KEEP:-}" p i=0 anc
	# the install dir may not exist yet (a build for another prefix, `make distcheck`): the
	# overlay goes on its deepest existing ancestor and the rest is made inside
	anc=$SBX_SBINDIR
	while [ ! -d "$anc" ]; do anc=$(dirname "$anc"); done
	case "$anc" in / | /usr | /etc | /var | /proc | /sys | /dev | /run | /tmp)
		_sbx_die "will not overlay $anc for $SBX_SBINDIR"
		return 1
		;;
	esac
	for p in $keep; do
		case "$p/" in "$anc"/*)
			_sbx_die "the overlay for $SBX_SBINDIR on $anc would hide $p: configure another prefix"
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
		echo "mkdir -p '$anc' /run/.sbx/ov && mount -t tmpfs -o mode=0755 tmpfs /run/.sbx/ov"
		echo "mkdir /run/.sbx/ov/upper /run/.sbx/ov/work"
		echo "mount -t overlay overlay -o 'lowerdir=$anc,upperdir=/run/.sbx/ov/upper,workdir=/run/.sbx/ov/work' '$anc'"
		echo "umount -l /run/.sbx/ov"
		echo "mkdir -p '$SBX_SBINDIR'"
		echo "if [ -f '$SBX_DIR/bin/entra-tap-helper' ]; then install -o root -g root -m 4755 '$SBX_DIR/bin/entra-tap-helper' '$SBX_SBINDIR/entra-tap-helper'; fi"
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
	local base i init=systemd
	[ "${1:-}" = --no-systemd ] && init=none
	[ -n "$SBX_DIR" ] || { _sbx_die "sbx_init first"; return 1; }
	[ -z "$SBX_PID" ] || { _sbx_die "already running"; return 1; }
	if [ -f "$SBX_HELPER" ]; then
		install -m 0755 "$SBX_HELPER" "$SBX_DIR/bin/entra-tap-helper"
	fi
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
	# PID 1 of the new namespace: the descendant whose NSpid has two levels ending in 1
	for i in $(seq 1 100); do
		SBX_PID=$(_sbx_find_pid1 "$SBX_LAUNCH_PID")
		[ -n "$SBX_PID" ] && break
		kill -0 "$SBX_LAUNCH_PID" 2>/dev/null || break
		sleep 0.05
	done
	# PID 1 is the boot script until its mounts are done and it execs the real init
	for i in $(seq 1 200); do
		[ -n "$SBX_PID" ] || break
		case "$(cat "/proc/$SBX_PID/comm" 2>/dev/null)" in systemd | sleep) return 0 ;; esac
		kill -0 "$SBX_PID" 2>/dev/null || break
		sleep 0.05
	done
	_sbx_log "boot failed; console:"
	sed 's/^/#   /' "$SBX_DIR/console.log" >&2
	sbx_crash
	return 1
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

sbx_wait_running() {
	local secs=${1:-60} deadline state
	deadline=$(($(date +%s) + secs))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		kill -0 "$SBX_PID" 2>/dev/null || { _sbx_die "systemd died"; sed 's/^/#   /' "$SBX_DIR/console.log" >&2; return 1; }
		state=$(sbx_exec systemctl is-system-running 2>/dev/null)
		case "$state" in
		running) return 0 ;;
		degraded)
			_sbx_log "degraded; failed units:"
			sbx_exec systemctl --failed --no-legend --no-pager | sed 's/^/#   /' >&2
			return 0
			;;
		esac
		sleep 0.1
	done
	_sbx_die "not running after ${secs}s (state '$state')"
	sbx_exec systemctl list-jobs --no-pager 2>&1 | sed 's/^/#   /' >&2
	return 1
}

# Wait for the launch chain to end and the sub-cgroup to empty, then remove it.
_sbx_reap() {
	local i
	if [ -n "$SBX_LAUNCH_PID" ]; then
		for i in $(seq 1 100); do
			kill -0 "$SBX_LAUNCH_PID" 2>/dev/null || break
			sleep 0.05
		done
		wait "$SBX_LAUNCH_PID" 2>/dev/null
	fi
	if [ -n "$SBX_CGROUP" ] && [ -d "$SBX_CGROUP" ]; then
		for i in $(seq 1 100); do
			find "$SBX_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null
			[ -d "$SBX_CGROUP" ] || break
			sleep 0.05
		done
		[ -d "$SBX_CGROUP" ] && _sbx_log "could not remove $SBX_CGROUP"
	fi
	SBX_PID='' SBX_LAUNCH_PID='' SBX_CGROUP=
}

sbx_crash() {
	[ -n "$SBX_PID" ] && kill -KILL "$SBX_PID" 2>/dev/null
	_sbx_reap
}

sbx_halt() {
	local secs=${1:-30} i
	[ -n "$SBX_PID" ] || return 0
	kill -s RTMIN+3 "$SBX_PID" 2>/dev/null
	for i in $(seq 1 $((secs * 10))); do
		kill -0 "$SBX_PID" 2>/dev/null || break
		sleep 0.1
	done
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

sbx_members() {
	sbx_exec getent group "$SBX_GROUP" | cut -d: -f4
}

sbx_journal_json() {
	sbx_exec journalctl --no-pager -o json "$@"
}

sbx_helper() {
	sbx_exec "$SBX_SBINDIR/entra-tap-helper" "$@"
}

sbx_wait_for() {
	local secs=$1 deadline
	shift
	deadline=$(($(date +%s%N) + secs * 1000000000))
	while [ "$(date +%s%N)" -lt "$deadline" ]; do
		sbx_exec "$@" >/dev/null 2>&1 && return 0
		sleep 0.02
	done
	return 1
}

sbx_now() {
	date +%s.%N
}
