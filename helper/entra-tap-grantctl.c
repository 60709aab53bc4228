/* SPDX-License-Identifier: Apache-2.0 */
/* entra-tap-grantctl: the root-only program of grants (contract.h). Not setuid: it refuses
 * anyone but root. The PAM module (already root inside sshd or sudo) runs it for every
 * change, the systemd units run it for the timers' revoke and the sweep, the administrator
 * through `entra-tap grant|revoke|list|sweep`:
 *
 *   grant USER [--duration D] [--reason TEXT] [--method M] [--oid OID] [--upn UPN]
 *              [--tid TID] [--service NAME] [--rhost HOST] [--watch PID[,PID]]
 *   revoke ID | revoke --user USER
 *   list [--json]
 *   sweep [--user USER] [--cause sweep|account]
 *   guard ID PID [PID]
 *   adopt
 *   tie USER PID [--tty TTY]
 *   warn ID
 *
 * The configuration is ET_DEFAULT_CONFIG; the environment is replaced. */
#include "audit.h"
#include "conf.h"
#include "grant_ops.h"
#include "grant_store.h"
#include "groupfile.h"
#include "args.h"
#include "clock.h"
#include "progutil.h"
#include "lastgood.h"
#include "sessions.h"
#include "voucher.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fputs("usage: " ET_GRANTCTL_NAME " VERB [ARGS]   (root only)\n"
	      "  grant USER [--duration D] [--reason TEXT] [--method M] [--pim-until EPOCH]\n"
	      "             [--oid OID] [--upn UPN] [--tid TID] [--service NAME] [--rhost HOST]\n"
	      "             [--watch PID[,PID]] [--extend]   (the PAM module) pending until the login\n"
	      "                              succeeds; --extend: a live grant gets the new expiry\n"
	      "                              (--watch: revoked when those processes end first)\n"
	      "  revoke ID | revoke --user USER\n"
	      "  list [--json]\n"
	      "  sweep [--user USER] [--cause sweep|account]\n"
	      "  adopt                       let the sweep manage elevated_group as it is (members\n"
	      "                              without a grant go at the next sweep)\n"
	      "  guard ID PID [PID]          revoke grant ID when the processes end and its login\n"
	      "                              never succeeded\n"
	      "  tie USER PID [--tty TTY]    (the PAM module) the session of PID ends with USER's grant\n"
	      "  warn ID                     (the warning timer) tell grant ID's terminals it ends soon\n",
	      out);
}

static size_t watch_open(const pid_t *pids, size_t n, int *fds, bool *ret_unwatched);
static int guard_watch(const struct et_config *cfg, const char *id, const int *pidfds, size_t n_pidfds,
		       bool unwatched);

static void watch_close(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

static int unlink_marker(const struct et_config *cfg, const char *id)
{
	char marker[PATH_MAX];
	if (et_pending_marker_path(cfg, id, marker, sizeof(marker)) < 0)
		return -1;
	return unlink(marker);
}

/* Start the guard of a pending grant: a child of this process, in the session made for the
 * grant, with fds 0-2 on /dev/null (standard output is the module's pipe, which must see
 * its end when this process exits), watching the pidfds opened before the grant was made.
 * This process exits right after, so the guard is nobody's child in the caller. */
static int guard_fork(const struct et_config *cfg, const char *id, const int *fds, size_t n_fds, bool unwatched)
{
	pid_t pid;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0) {
		et_say("cannot open /dev/null: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		et_say("cannot start the guard of grant %s: %s", id, strerror(errno));
		close(null);
		return -1;
	}
	if (pid == 0) {
		int rc;
		if (dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(ET_EXIT_FAILED);
		close(null);
		if (chdir("/") < 0)
			_exit(ET_EXIT_FAILED);
		rc = guard_watch(cfg, id, fds, n_fds, unwatched);
		_exit(rc);
	}
	close(null);
	return 0;
}

/* ---- grant, revoke, list, sweep ---- */

static int verb_grant(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	(void)who; /* root, checked in main */
	struct et_grant_request req = { .revoke_program = ET_GRANTCTL_PATH,
					.user = a->user,
					.duration = a->duration,
					.method = a->have_method ? a->method : ET_GRANT_METHOD_ADMIN,
					.reason = a->reason,
					.oid = a->oid,
					.upn = a->upn,
					.tid = a->tid,
					.service = a->service,
					.rhost = a->rhost,
					.pim_until = a->pim_until,
					.extend = a->extend };
	struct et_grant g;
	struct et_err err;
	char until[64];
	long clamped = et_grant_clamp_duration(cfg, req.duration);
	int fds[ET_GUARD_PIDS_MAX];
	size_t n_fds = 0;
	bool unwatched = false;

	if (a->n_pids) {
		/* a pending grant (contract.h, --watch): out of the caller's session first, so that
		 * nothing sent to the caller's process group or terminal cuts this short */
		(void)setsid();
		n_fds = watch_open(a->pids, a->n_pids, fds, &unwatched);
		if (n_fds == 0 && !unwatched) {
			et_say("the processes to watch are gone already: no grant for a sign-in that ended");
			return ET_EXIT_FAILED;
		}
		req.pending = true;
		req.watch_pid = a->pids[0];
	}
	/* the store is known before a grant lives in it: should state_dir change later, the
	 * grant still ends from here (lastgood.h) */
	if (et_stores_register(cfg, ET_STORES_FILE, &err) < 0)
		et_say("the store was not registered: %s", err.message);
	if (req.duration && clamped != req.duration)
		et_say("duration %lds is outside %lds..%lds: using %lds", req.duration, cfg->duration_min,
		       cfg->duration_max, clamped);
	if (et_grant_create(cfg, &req, time(NULL), &g, &err) < 0) {
		watch_close(fds, n_fds);
		return et_fail(&err);
	}
	if (a->n_pids && guard_fork(cfg, g.id, fds, n_fds, unwatched) < 0) {
		/* nothing could take the grant back after a failed login: it is not made */
		if (et_grant_revoke(cfg, g.id, ET_REVOKE_LOGIN_FAILED, (uid_t)-1, time(NULL), NULL, &err) < 0)
			et_say("cannot revoke grant %s: %s (the sweep will)", g.id, err.message);
		else
			(void)unlink_marker(cfg, g.id);
		watch_close(fds, n_fds);
		return ET_EXIT_FAILED;
	}
	watch_close(fds, n_fds);
	et_format_utc(g.expires, until, sizeof(until));
	printf("%s\n", g.id);
	et_say("%s is in group %s until %s (grant %s)", g.user, g.group, until, g.id);
	return ET_EXIT_OK;
}

/* The other stores that have held grants (state_dir changed since): each as a fallback
 * configuration, which only ends grants (lastgood.h). */
static size_t other_stores(const struct et_config *cfg, struct et_strlist *dirs)
{
	struct et_err err;
	if (et_stores_others(cfg, ET_STORES_FILE, dirs, &err) < 0)
		et_say("the other stores are not known: %s", err.message);
	return dirs->n;
}

static struct et_config store_config(const struct et_config *cfg, char *dir)
{
	struct et_config o = *cfg; /* borrowed: never freed */
	o.state_dir = dir;
	o.fallback = true;
	return o;
}

static int verb_revoke(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	(void)who; /* root, checked in main */
	struct et_strlist dirs = { 0 };
	struct et_grant g;
	struct et_err err;
	unsigned n = 0, total;
	time_t now = time(NULL);
	int rc = ET_EXIT_OK;

	if (!a->id) {
		if (et_grant_revoke_user(cfg, a->user, ET_REVOKE_ADMIN, now, &n, &err) < 0)
			return et_fail(&err);
		total = n;
		other_stores(cfg, &dirs);
		for (size_t i = 0; i < dirs.n; i++) {
			struct et_config o = store_config(cfg, dirs.items[i]);
			if (et_grant_revoke_user(&o, a->user, ET_REVOKE_ADMIN, now, &n, &err) < 0)
				rc = et_fail(&err);
			else
				total += n;
		}
		et_strlist_free(&dirs);
		printf("%u grant(s) of %s ended\n", total, a->user);
		return rc;
	}
	/* The per-grant timer runs this at expiry; before expiry it is an administrator's revoke. */
	if (et_grant_revoke(cfg, a->id, ET_REVOKE_EXPIRY, (uid_t)-1, now, &g, &err) < 0) {
		/* made before state_dir was changed: it ends where it lives */
		bool found = false;
		if (err.code == ET_E_NOT_FOUND)
			other_stores(cfg, &dirs);
		for (size_t i = 0; !found && i < dirs.n; i++) {
			struct et_config o = store_config(cfg, dirs.items[i]);
			found = et_grant_revoke(&o, a->id, ET_REVOKE_EXPIRY, (uid_t)-1, now, &g, &err) == 0 ||
				err.code != ET_E_NOT_FOUND;
		}
		et_strlist_free(&dirs);
		if (!found || err.code != ET_E_NONE)
			return et_fail(&err);
	}
	printf("grant %s ended\n", g.id);
	return ET_EXIT_OK;
}

static int verb_list(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	(void)who; /* root, checked in main */
	struct et_grant_list l = { 0 };
	struct et_err err;
	time_t now = time(NULL);
	bool json = a->json;

	if (et_grant_store_list(cfg, NULL, &l, &err) < 0)
		return et_fail(&err);
	if (json) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; arr && i < l.n; i++)
			json_object_array_add(arr, et_grant_json(&l.items[i], now));
		if (!arr) {
			et_grant_list_free(&l);
			et_say("out of memory");
			return ET_EXIT_FAILED;
		}
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	} else {
		if (l.n)
			printf("%-32s  %-16s  %-16s  %-23s  %-14s  %s\n", "ID", "USER", "GROUP", "EXPIRES", "LEFT", "METHOD");
		for (size_t i = 0; i < l.n; i++) {
			char until[64], left[64];
			et_format_utc(l.items[i].expires, until, sizeof(until));
			et_format_left(l.items[i].expires, now, left, sizeof(left));
			printf("%-32s  %-16s  %-16s  %-23s  %-14s  %s\n", l.items[i].id, l.items[i].user, l.items[i].group,
			       until, left, et_grant_method_name(l.items[i].method));
		}
		if (!l.n)
			printf("no grants\n");
	}
	if (l.n_corrupt)
		et_say("%zu grant file(s) could not be read (see above); `entra-tap sweep` moves them aside", l.n_corrupt);
	et_grant_list_free(&l);
	return ET_EXIT_OK;
}

static int verb_sweep(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	(void)who; /* root, checked in main */
	struct et_sweep_result res;
	struct et_err err;

	unsigned cut = 0;

	/* duration_max lowered since a grant was made: cut first, so that one now past its end
	 * ends in this very sweep */
	if (!a->user && et_grant_cut(cfg, ET_GRANTCTL_PATH, time(NULL), &cut, &err) < 0)
		et_say("grants not cut to duration_max: %s", err.message);
	if (et_grant_sweep(cfg, a->user, a->cause_account ? ET_REVOKE_ACCOUNT : ET_REVOKE_SWEEP, time(NULL), &res,
			   &err) < 0)
		return et_fail(&err);
	if (cut)
		printf("sweep: %u grant(s) cut to duration_max\n", cut);
	if (!a->user) {
		/* stores state_dir named before: their expired grants end too */
		struct et_strlist dirs = { 0 };
		other_stores(cfg, &dirs);
		for (size_t i = 0; i < dirs.n; i++) {
			struct et_config o = store_config(cfg, dirs.items[i]);
			struct et_sweep_result r2;
			if (et_grant_sweep(&o, NULL, ET_REVOKE_SWEEP, time(NULL), &r2, &err) < 0)
				et_say("%s: %s", dirs.items[i], err.message);
			else
				res.expired += r2.expired;
		}
		et_strlist_free(&dirs);
	}
	printf("sweep: %u expired grant(s) ended, %u member(s) removed, %u member(s) restored, %u corrupt file(s) "
	       "moved aside\n",
	       res.expired, res.members_removed, res.members_added, res.quarantined);
	/* break-glass redemption records outlive their voucher by clock_skew, then go */
	if (!a->user && !cfg->fallback && et_voucher_records_sweep(cfg, time(NULL), NULL, &err) < 0)
		et_say("break-glass records not swept: %s", err.message);
	/* the grants ended; the unit still shows that the configuration needs fixing */
	return cfg->fallback && !a->cause_account ? ET_EXIT_CONFIG : ET_EXIT_OK;
}

/* tie: the module's session phase (contract.h, sessions.h) */
static int verb_tie(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	char id[ET_GRANT_ID_HEX + 1];
	struct et_err err;
	(void)who; /* root, checked in main */
	if (et_session_tie(cfg, a->user, a->tie_pid, a->tty, id, &err) < 0)
		return et_fail(&err);
	printf("%s\n", id);
	return ET_EXIT_OK;
}

/* warn: the warning timer's line on the grant's terminals */
static int verb_warn(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	struct et_err err;
	unsigned sent = 0;
	(void)who; /* root, checked in main */
	if (et_sessions_warn(cfg, a->id, ET_WARN_HINT, time(NULL), &sent, &err) < 0) {
		if (err.code == ET_E_NOT_FOUND)
			return ET_EXIT_OK; /* ended or dropped meanwhile: nobody to warn */
		return et_fail(&err);
	}
	printf("grant %s: %u terminal(s) warned\n", a->id, sent);
	return ET_EXIT_OK;
}

/* ---- guard: the watch over a pending grant (see ET_GUARD_WAIT_S in grant_ops.h) ---- */


static bool marker_present(const char *path)
{
	struct stat st;
	/* anything but a clear "not there" keeps the grant under watch */
	return lstat(path, &st) == 0 || errno != ENOENT;
}

/* Open a pidfd per process; one that is gone already is not watched (ESRCH). Returns how
 * many are watched; *ret_unwatched: one could not be watched (no pidfd: Linux < 5.3), so the
 * wait is the whole limit. */
static size_t watch_open(const pid_t *pids, size_t n, int *fds, bool *ret_unwatched)
{
	size_t n_fds = 0;
	*ret_unwatched = false;
	for (size_t i = 0; i < n; i++) {
		int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
		if (fd >= 0) {
			fds[n_fds++] = fd;
		} else if (errno != ESRCH) { /* ESRCH: already gone */
			et_say("cannot watch process %ld: %s: waiting %d s", (long)pids[i], strerror(errno),
			       ET_GUARD_WAIT_S);
			*ret_unwatched = true;
		}
	}
	return n_fds;
}

/* Wait for the watched processes (pidfds, closed here) to end, at most ET_GUARD_WAIT_S; then
 * revoke grant id (login_failed) unless its pending marker is gone. */
static int guard_watch(const struct et_config *cfg, const char *id, const int *pidfds, size_t n_pidfds,
		       bool unwatched)
{
	struct pollfd fds[ET_GUARD_PIDS_MAX + 1];
	char marker[PATH_MAX], dir[PATH_MAX];
	long long deadline;
	size_t n_fds = 0, n_alive = 0;
	int ino = -1, rc = ET_EXIT_OK;
	struct et_grant g;
	struct et_err err;

	for (size_t i = 0; i < n_pidfds && i < ET_GUARD_PIDS_MAX; i++) {
		fds[n_fds++] = (struct pollfd){ .fd = pidfds[i], .events = POLLIN };
		n_alive++;
	}
	if (et_pending_marker_path(cfg, id, marker, sizeof(marker)) < 0 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/pending", cfg->state_dir) >= sizeof(dir)) {
		et_say("the state directory path is too long");
		rc = ET_EXIT_CONFIG;
		goto done;
	}
	deadline = et_mono_ms() + ET_GUARD_WAIT_S * 1000LL;
	/* the marker going away (the login succeeded) ends the watch early */
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino >= 0 && inotify_add_watch(ino, dir, IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF) < 0) {
		close(ino);
		ino = -1;
	}
	for (;;) {
		long long left;
		int pr;
		if (!marker_present(marker))
			goto quiet;
		if (n_alive == 0 && !unwatched)
			break;
		left = deadline - et_mono_ms();
		if (left <= 0)
			break;
		fds[n_fds] = (struct pollfd){ .fd = ino, .events = POLLIN }; /* poll skips a negative fd */
		pr = poll(fds, n_fds + 1, (int)left);
		if (pr < 0 && errno != EINTR)
			break;
		for (size_t i = 0; pr > 0 && i < n_fds; i++) {
			if (fds[i].fd >= 0 && fds[i].revents) {
				close(fds[i].fd);
				fds[i].fd = -1;
				n_alive--;
			}
		}
		if (pr > 0 && ino >= 0 && fds[n_fds].revents) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			if (fds[n_fds].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				close(ino);
				ino = -1;
			} else {
				while (read(ino, buf, sizeof(buf)) > 0)
					;
			}
		}
	}
	if (!marker_present(marker))
		goto quiet;
	/* nobody settled the transaction: the login did not succeed */
	if (et_grant_revoke(cfg, id, ET_REVOKE_LOGIN_FAILED, (uid_t)-1, time(NULL), &g, &err) < 0) {
		if (err.code != ET_E_NOT_FOUND) {
			rc = et_fail(&err);
			goto done; /* the marker stays: the sweep tries again */
		}
	} else {
		printf("grant %s ended: its login never succeeded\n", g.id);
	}
	(void)unlink(marker);
	goto done;
quiet:
	rc = ET_EXIT_OK;
done:
	for (size_t i = 0; i < n_fds; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	if (ino >= 0)
		close(ino);
	return rc;
}

static int verb_guard(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	int fds[ET_GUARD_PIDS_MAX];
	bool unwatched;
	size_t n = watch_open(a->pids, a->n_pids, fds, &unwatched);
	(void)who; /* root, checked in main */
	return guard_watch(cfg, a->id, fds, n, unwatched);
}

/* adopt: the administrator's decision that elevated_group, members and all, is pam_entra_tap's
 * to manage (grant_ops.h) */
static int verb_adopt(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	struct et_err err;
	(void)who; /* root, checked in main */
	(void)a;   /* takes no arguments */
	if (et_group_adopt(cfg, &err) < 0)
		return et_fail(&err);
	printf("group %s is managed: the next sweep removes every member without a live grant\n", cfg->elevated_group);
	return ET_EXIT_OK;
}

static const et_verb_fn verbs[ET_VERB__COUNT] = {
	[ET_VERB_GRANT] = verb_grant, [ET_VERB_REVOKE] = verb_revoke, [ET_VERB_LIST] = verb_list,
	[ET_VERB_SWEEP] = verb_sweep, [ET_VERB_GUARD] = verb_guard,   [ET_VERB_ADOPT] = verb_adopt,
	[ET_VERB_TIE] = verb_tie,     [ET_VERB_WARN] = verb_warn,
};

int main(int argc, char **argv)
{
	int rc = et_prog_start(ET_GRANTCTL_NAME, argc, argv);
	struct et_caller who;

	if (rc != ET_EXIT_OK)
		return rc;
	et_caller_of(getuid(), &who);
	/* not setuid: a non-root caller could not edit anything anyway, but is told plainly,
	 * before any argument of theirs is looked at */
	if ((getuid() != 0 || geteuid() != 0) &&
	    !(argc == 2 && (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
			    strcmp(argv[1], "--version") == 0))) {
		const char *verb = argc >= 2 && et_verb_find(ET_PROG_GRANTCTL, argv[1]) >= 0 ? argv[1] : ET_GRANTCTL_NAME;
		et_refuse(&who, verb, "a root-only verb from a non-root caller");
		et_say("%s is for root only", verb);
		return ET_EXIT_DENIED;
	}
	return et_prog_run(ET_PROG_GRANTCTL, argc, argv, &who, usage, verbs);
}
