/* SPDX-License-Identifier: Apache-2.0 */
/* Grant, revoke, sweep, the account check and setcred, against the real group files of a
 * private mount namespace (no systemd on the bus there: no timers, which is a supported mode). */
#include "grant_ops.h"
#include "grant_store.h"
#include "groupfile.h"
#include "grant_testenv.h"
#include "../../pam_entra_tap/module.h"
#include "tap.h"
#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct et_config cfg;
static char *state;
static time_t now;

static bool member(const char *user)
{
	char *m = gte_members("group", GTE_GROUP), *ms = gte_members("gshadow", GTE_GROUP);
	bool in_g = false, in_gs = false;
	for (char *t = m ? strtok(m, ",") : NULL; t; t = strtok(NULL, ","))
		in_g |= strcmp(t, user) == 0;
	for (char *t = ms ? strtok(ms, ",") : NULL; t; t = strtok(NULL, ","))
		in_gs |= strcmp(t, user) == 0;
	free(m);
	free(ms);
	if (in_g != in_gs)
		tap_diag("group and gshadow disagree about %s", user);
	return in_g && in_gs;
}

static size_t grants_of(const char *user)
{
	struct et_grant_list l = { 0 };
	struct et_err err;
	size_t n;
	if (et_grant_store_list(&cfg, user, &l, &err) < 0)
		return (size_t)-1;
	n = l.n;
	et_grant_list_free(&l);
	return n;
}

static int grant(const char *user, long duration, struct et_grant *g, struct et_err *err)
{
	struct et_grant_request req = { .user = user, .duration = duration, .method = ET_GRANT_METHOD_TAP,
					.reason = "unit test", .upn = "u@example.com", .service = "sshd",
					.rhost = "192.0.2.1" };
	return et_grant_create(&cfg, &req, now, g, err);
}

static void test_create(void)
{
	struct et_grant g, out;
	struct et_err err;
	struct et_grant_request req = { .user = "alice", .method = ET_GRANT_METHOD_ADMIN,
					.reason = "bad\nreason\x1b[0m" };

	ok(grant("alice", 600, &g, &err) == 0, "create: alice gets a grant");
	ok(member("alice"), "create: alice is a member (group and gshadow)");
	ok(g.added_membership && g.expires == now + 600 && g.created == now && strcmp(g.group, GTE_GROUP) == 0,
	   "create: the grant records expiry, group and that it added the membership");
	ok(et_grant_store_read(&cfg, g.id, &out, &err) == 0 && strcmp(out.upn, "u@example.com") == 0 &&
		   strcmp(out.service, "sshd") == 0 && out.uid == g.uid,
	   "create: the grant is in the store with its details");

	/* durations are clamped to duration_min..duration_max; 0 means the default */
	ok(grant("bob", 0, &g, &err) == 0 && g.expires - g.created == cfg.duration_default,
	   "create: duration 0 gives duration_default");
	ok(grant("bob", 1, &g, &err) == 0 && g.expires - g.created == cfg.duration_min,
	   "create: a too short duration is raised to duration_min");
	ok(grant("bob", 999999, &g, &err) == 0 && g.expires - g.created == cfg.duration_max,
	   "create: a too long duration is cut to duration_max");
	is_int(et_grant_clamp_duration(&cfg, 3600), 3600, "clamp keeps an in-range duration");

	/* a PIM for Groups activation caps the grant at its end, after the clamp */
	{
		struct et_grant_request pr = { .user = "bob", .duration = 3600, .method = ET_GRANT_METHOD_DEVICE_CODE,
					       .pim_until = now + 20 };
		ok(et_grant_create(&cfg, &pr, now, &g, &err) == 0 && g.expires == now + 20 && g.pim_until == now + 20 &&
			   et_grant_store_read(&cfg, g.id, &out, &err) == 0 && out.pim_until == now + 20,
		   "create: a PIM activation that ends first caps the grant (even below duration_min) and is recorded");
		pr.pim_until = now + 7200;
		ok(et_grant_create(&cfg, &pr, now, &g, &err) == 0 && g.expires == now + 3600 && g.pim_until == 0,
		   "create: a PIM activation that ends after the asked duration does not cap it");
		pr.pim_until = now;
		ok(et_grant_create(&cfg, &pr, now, &g, &err) < 0 && strcmp(err.reason, "pim_not_active") == 0,
		   "create: a PIM activation that has ended gives no grant (pim_not_active)");
	}

	/* bad input */
	ok(grant("bo:b", 60, &g, &err) < 0 && strcmp(err.reason, "bad_user") == 0, "create: a bad name is bad_user");
	ok(grant("-rf", 60, &g, &err) < 0 && strcmp(err.reason, "bad_user") == 0,
	   "create: a name starting with '-' is bad_user");
	ok(grant("nosuchuser", 60, &g, &err) < 0 && strcmp(err.reason, "no_user") == 0,
	   "create: an unknown user is no_user");
	ok(grant("alice", -5, &g, &err) < 0 && strcmp(err.reason, "bad_duration") == 0,
	   "create: a negative duration is bad_duration");
	req.method = (enum et_grant_method)42;
	ok(et_grant_create(&cfg, &req, now, &g, &err) < 0 && strcmp(err.reason, "bad_method") == 0,
	   "create: an unknown method is bad_method");
	req.method = ET_GRANT_METHOD_ADMIN;
	ok(et_grant_create(&cfg, &req, now, &g, &err) == 0 && strcmp(g.reason, "bad?reason?[0m") == 0,
	   "create: the reason is sanitised");
	et_grant_revoke(&cfg, g.id, ET_REVOKE_ADMIN, (uid_t)-1, now, NULL, &err);
	if (et_grant_revoke_user(&cfg, "bob", ET_REVOKE_ADMIN, now, NULL, &err) < 0)
		tap_diag("revoke_user: %s: %s", err.reason, err.message);
	ok(!member("bob") && grants_of("bob") == 0, "revoke_user: bob's three grants end and so does membership");
}

static void test_missing_group(void)
{
	struct et_config other;
	struct et_grant g;
	struct et_err err;
	struct et_grant_request req = { .user = "alice", .method = ET_GRANT_METHOD_ADMIN };
	gte_config(&other, "no-such-group", state);
	ok(et_grant_create(&other, &req, now, &g, &err) < 0 && strcmp(err.reason, "no_group") == 0 &&
		   strstr(err.message, "groupadd no-such-group"),
	   "create: a missing elevated group is no_group with a clear message");
	ok(grants_of("alice") == 1, "create: and no grant was stored");
	et_config_free(&other);
}

static void test_revoke(void)
{
	struct et_grant a1, a2, out;
	struct et_err err;
	uid_t carol = 0;

	/* overlapping grants keep the membership until the last one ends */
	ok(grant("carol", 600, &a1, &err) == 0 && grant("carol", 1200, &a2, &err) == 0,
	   "overlap: carol gets two grants");
	ok(!a2.added_membership, "overlap: the second did not add the membership");
	carol = a1.uid;
	ok(et_grant_revoke(&cfg, a1.id, ET_REVOKE_DROP, carol, now, &out, &err) == 0 && strcmp(out.id, a1.id) == 0,
	   "overlap: the first ends");
	ok(member("carol"), "overlap: carol is still a member");
	ok(et_grant_revoke(&cfg, a2.id, ET_REVOKE_DROP, carol, now, NULL, &err) == 0, "overlap: the second ends");
	ok(!member("carol"), "overlap: now carol is no member");

	/* ownership, unknown and bad ids */
	ok(grant("carol", 600, &a1, &err) == 0, "carol gets a grant");
	ok(et_grant_revoke(&cfg, a1.id, ET_REVOKE_DROP, carol + 1, now, NULL, &err) < 0 &&
		   strcmp(err.reason, "not_owner") == 0,
	   "revoke: another uid cannot end it (not_owner)");
	ok(member("carol") && grants_of("carol") == 1, "revoke: after not_owner the grant and membership stay");
	ok(et_grant_revoke(&cfg, a1.id, ET_REVOKE_ADMIN, (uid_t)-1, now, NULL, &err) == 0, "revoke: root ends it");
	ok(et_grant_revoke(&cfg, a1.id, ET_REVOKE_ADMIN, (uid_t)-1, now, NULL, &err) < 0 &&
		   strcmp(err.reason, "not_found") == 0,
	   "revoke: twice is not_found");
	ok(et_grant_revoke(&cfg, "../grants/x", ET_REVOKE_ADMIN, (uid_t)-1, now, NULL, &err) < 0 &&
		   strcmp(err.reason, "bad_id") == 0,
	   "revoke: a path is bad_id");
	ok(et_grant_revoke_user(&cfg, "a,b", ET_REVOKE_ADMIN, now, NULL, &err) < 0 && strcmp(err.reason, "bad_user") == 0,
	   "revoke_user: a bad name is bad_user");

	/* permanent members keep membership when their grant ends */
	ok(grant("root", 600, &a1, &err) == 0, "permanent: root (a permanent member) gets a grant");
	ok(et_grant_revoke(&cfg, a1.id, ET_REVOKE_ADMIN, (uid_t)-1, now, NULL, &err) == 0 && member("root"),
	   "permanent: root stays a member after the grant ends");
}

/* Members added to the group (and its gshadow line) by hand, behind the grants' back. */
static void add_by_hand(const char *names)
{
	char line[256];
	char *m = gte_members("group", GTE_GROUP), *ms = gte_members("gshadow", GTE_GROUP);
	struct group *gr = getgrnam(GTE_GROUP);
	snprintf(line, sizeof(line), "%s:x:%u:%s,%s", GTE_GROUP, gr ? (unsigned)gr->gr_gid : 0u, m, names);
	gte_set_group_line("group", GTE_GROUP, line);
	snprintf(line, sizeof(line), "%s:!::%s,%s", GTE_GROUP, ms, names);
	gte_set_group_line("gshadow", GTE_GROUP, line);
	free(m);
	free(ms);
}

static void test_sweep(void)
{
	struct et_grant g_short, g_long;
	struct et_sweep_result res;
	struct et_err err;
	char line[256], path[1024];
	int fd;

	ok(grant("dave", 60, &g_short, &err) == 0 && grant("erin", 3600, &g_long, &err) == 0,
	   "sweep: dave (1 min) and erin (1 h) get grants");
	/* a member added by hand, and a permanent member's existing membership */
	add_by_hand("mallory");
	ok(member("mallory") && member("root"), "sweep: mallory was added by hand, root is a permanent member");
	/* a corrupt grant file next to the good ones */
	snprintf(path, sizeof(path), "%s/grants/abababababababababababababababab.grant", state);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	(void)!write(fd, "entra-tap-grant 1\nid=ab", 23);
	close(fd);

	ok(et_grant_sweep(&cfg, NULL, ET_REVOKE_SWEEP, now + 120, &res, &err) == 0, "sweep runs two minutes later");
	is_int(res.expired, 1, "sweep: one expired grant ended");
	is_int(res.quarantined, 1, "sweep: the corrupt file was moved aside");
	ok(!member("dave"), "sweep: dave (expired) is gone");
	ok(member("erin"), "sweep: erin (live) stays");
	ok(!member("mallory"), "sweep: mallory (no grant) is removed");
	ok(member("root"), "sweep: root (permanent_members) is kept");
	ok(member("alice"), "sweep: alice (live) stays");
	is_int(res.members_removed, 2, "sweep: two members removed (dave, mallory)");

	/* a live grant whose membership vanished is restored */
	{
		char *m = gte_members("group", GTE_GROUP);
		struct group *gr = getgrnam(GTE_GROUP);
		snprintf(line, sizeof(line), "%s:x:%u:root", GTE_GROUP, gr ? (unsigned)gr->gr_gid : 0u);
		gte_set_group_line("group", GTE_GROUP, line);
		free(m);
	}
	ok(et_grant_sweep(&cfg, NULL, ET_REVOKE_SWEEP, now + 120, &res, &err) == 0 && res.members_added == 2 &&
		   member("alice") && member("erin"),
	   "sweep: live grants missing from the group are restored (alice, erin)");
	ok(et_grant_sweep(&cfg, NULL, ET_REVOKE_SWEEP, now + 120, &res, &err) == 0 && res.members_added == 0 &&
		   res.members_removed == 0 && res.expired == 0 && res.quarantined == 0,
	   "sweep: a second sweep has nothing to do");

	/* scoped to one user: only that user is looked at */
	add_by_hand("mallory,dave");
	ok(et_grant_sweep(&cfg, "dave", ET_REVOKE_ACCOUNT, now + 120, &res, &err) == 0 && !member("dave") &&
		   member("mallory"),
	   "sweep --user dave: dave is removed, mallory is not looked at");
	ok(et_grant_sweep(&cfg, "mallory", ET_REVOKE_SWEEP, now + 120, &res, &err) == 0 && !member("mallory"),
	   "sweep --user mallory: removed");
	ok(et_grant_sweep(&cfg, "bad name", ET_REVOKE_SWEEP, now, &res, &err) < 0 && strcmp(err.reason, "bad_user") == 0,
	   "sweep: a bad user name is bad_user");
}

static void test_check(void)
{
	struct et_check_result r;
	struct et_grant g;
	struct et_err err;

	ok(et_grant_check(&cfg, "erin", now, ET_CHECK_REVOKE_HERE, NULL, &r, &err) == 0 && r.state == ET_GRANT_STATE_LIVE &&
		   r.expires == now + 3600 && !r.revoked,
	   "check: erin is live until her expiry");
	ok(et_grant_check(&cfg, "frank", now, ET_CHECK_REVOKE_HERE, NULL, &r, &err) == 0 && r.state == ET_GRANT_STATE_NONE,
	   "check: frank has nothing (none)");
	ok(et_grant_check(&cfg, "root", now, ET_CHECK_REVOKE_HERE, NULL, &r, &err) == 0 &&
		   r.state == ET_GRANT_STATE_PERMANENT && member("root"),
	   "check: root is a permanent member (kept)");

	/* expired: report only, then revoked on the spot */
	ok(grant("frank", 60, &g, &err) == 0, "check: frank gets a 1-minute grant");
	ok(et_grant_check(&cfg, "frank", now + 61, ET_CHECK_REPORT_ONLY, NULL, &r, &err) == 0 &&
		   r.state == ET_GRANT_STATE_EXPIRED && !r.revoked && strcmp(r.grant_id, g.id) == 0 && member("frank"),
	   "check: after expiry, report only: expired, nothing changed");
	ok(et_grant_check(&cfg, "frank", now + 60, ET_CHECK_REVOKE_HERE, NULL, &r, &err) == 0 &&
		   r.state == ET_GRANT_STATE_EXPIRED && r.revoked,
	   "check: at the expiry instant the grant is expired and revoked");
	ok(!member("frank") && grants_of("frank") == 0, "check: frank's grant and membership are gone");

	/* a stale member */
	add_by_hand("frank");
	ok(et_grant_check(&cfg, "frank", now, ET_CHECK_REVOKE_HERE, NULL, &r, &err) == 0 &&
		   r.state == ET_GRANT_STATE_STALE_MEMBER && r.revoked && !member("frank"),
	   "check: a member without a grant is stale and removed on the spot");

	ok(et_grant_check(&cfg, "x y", now, ET_CHECK_REPORT_ONLY, NULL, &r, &err) < 0 && strcmp(err.reason, "bad_user") == 0,
	   "check: a bad user name is bad_user");
	{
		struct et_config other;
		gte_config(&other, "no-such-group", state);
		ok(et_grant_check(&other, "erin", now, ET_CHECK_REPORT_ONLY, NULL, &r, &err) < 0 &&
			   strcmp(err.reason, "no_group") == 0,
		   "check: a missing elevated group is no_group");
		et_config_free(&other);
	}
	is_str(et_grant_state_name(ET_GRANT_STATE_STALE_MEMBER), "stale_member", "state names");
}

/* The PAM module's way: revocation through the installed helper's root verb. */
static void test_check_via_helper(void)
{
	struct et_check_result r;
	struct et_grant g;
	struct et_err err;
	if (!gte_install_grantctl(GTE_GROUP, state, "permanent_members = root\n")) {
		ok(!(getenv("CI") && strcmp(getenv("CI"), "true") == 0),
		   "helper: no built helper (top_builddir unset); CI=true needs it");
		return;
	}
	ok(grant("gina", 60, &g, &err) == 0, "helper check: gina gets a 1-minute grant");
	/* a real expiry: the helper uses the clock */
	{
		struct et_grant_request req = { .user = "gina", .duration = 60, .method = ET_GRANT_METHOD_ADMIN };
		struct et_config c2;
		gte_config(&c2, GTE_GROUP, state);
		et_config_set(&c2, "duration_min", "1s", "test", &err);
		et_config_finish(&c2, &err);
		req.duration = 1;
		ok(et_grant_create(&c2, &req, time(NULL) - 10, &g, &err) == 0, "helper check: and an already expired one");
		et_config_free(&c2);
	}
	ok(et_grant_check(&cfg, "gina", time(NULL) + 3600, ET_CHECK_REVOKE_BY, et_cmd_revoke_user_at_account, &r, &err) == 0 &&
		   r.state == ET_GRANT_STATE_EXPIRED && r.revoked,
	   "helper check: an expired grant is revoked by running the helper (%s)", r.revoked ? "ok" : err.message);
	ok(grants_of("gina") == 1 && member("gina"),
	   "helper check: the helper ended only what had expired by its clock (the live one stays)");
	ok(et_grant_revoke_user(&cfg, "gina", ET_REVOKE_ADMIN, now, NULL, &err) == 0 && !member("gina"), "cleanup");
}

static void test_setcred(void)
{
	struct group *gr = getgrnam(GTE_GROUP);
	gid_t gid = gr ? gr->gr_gid : 0;
	struct et_grant g;
	struct et_err err;
	int status;
	pid_t pid;

	ok(gr != NULL, "setcred: the elevated group resolves");
	ok(grant("hank", 600, &g, &err) == 0, "setcred: hank has a live grant");
	/* children: each sets supplementary groups, runs setcred, reports through its exit code */
	for (int k = 0; k < 4; k++) {
		static const char *const users[] = { "hank", "ivan", "root", "ivan" };
		static const int expect_dropped[] = { 0, 1, 0, 0 };
		pid = fork();
		if (pid == 0) {
			gid_t set[2] = { 12345, gid }, got[8];
			bool dropped = false;
			int n, has = 0;
			if (setgroups(k == 3 ? 1 : 2, set) < 0)
				_exit(10);
			if (et_grant_setcred(&cfg, users[k], now, &dropped, &err) < 0)
				_exit(11);
			n = getgroups(8, got);
			for (int i = 0; i < n; i++)
				has |= got[i] == gid;
			if (dropped != (bool)expect_dropped[k])
				_exit(12);
			/* the gid stays exactly when it was there and was not dropped */
			if ((bool)has != (k != 3 && !expect_dropped[k]))
				_exit(13);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
		       k == 0 ? "setcred: a live grant keeps the gid"
		       : k == 1 ? "setcred: no grant: the gid is dropped from the process"
		       : k == 2 ? "setcred: a permanent member keeps the gid"
				: "setcred: a process without the gid is left alone");
	}
	ok(et_grant_setcred(&cfg, "bad:name", now, NULL, &err) < 0 && strcmp(err.reason, "bad_user") == 0,
	   "setcred: a bad user name is bad_user");
	et_grant_revoke_user(&cfg, "hank", ET_REVOKE_ADMIN, now, NULL, &err);
}

/* The full sweep settles the markers of pending grants that a dead guard (reboot, kill) left. */
static bool marker_at(const char *id, time_t mtime)
{
	char dir[1024], path[1200];
	struct timespec ts[2] = { { .tv_sec = mtime }, { .tv_sec = mtime } };
	int fd;
	snprintf(dir, sizeof(dir), "%s/pending", state);
	(void)mkdir(dir, 0700);
	if (et_pending_marker_path(&cfg, id, path, sizeof(path)) < 0)
		return false;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	(void)!write(fd, "user x\n", 7);
	close(fd);
	return utimensat(AT_FDCWD, path, ts, 0) == 0;
}

static bool marker_exists(const char *id)
{
	char path[1200];
	return et_pending_marker_path(&cfg, id, path, sizeof(path)) == 0 && access(path, F_OK) == 0;
}

static void test_pending_sweep(void)
{
	static const char orphan[] = "0123456789abcdef0123456789abcdef";
	struct et_grant old, young, g;
	struct et_sweep_result res;
	struct et_err err;
	char path[1200], stray[1200];

	is_str(et_revoke_cause_name(ET_REVOKE_LOGIN_FAILED), "login_failed", "pending: the cause is named login_failed");
	ok(et_pending_marker_path(&cfg, "../../etc/passwd", path, sizeof(path)) < 0,
	   "pending: a marker path needs a grant id");
	ok(et_pending_marker_path(&cfg, orphan, path, 8) < 0, "pending: a marker path that does not fit is refused");
	ok(grant("frank", 3600, &old, &err) == 0 && grant("gina", 3600, &young, &err) == 0,
	   "pending: frank and gina get grants (1 h)");
	ok(marker_at(old.id, now - ET_GUARD_WAIT_S - ET_GUARD_MARGIN_S - 1) && marker_at(young.id, now - ET_GUARD_WAIT_S) &&
		   marker_at(orphan, now - 5),
	   "pending: markers: frank's older than the guard's wait and margin, gina's within it, one without a grant");
	snprintf(stray, sizeof(stray), "%s/pending/not-a-grant-id", state);
	free(tu_write_file(state, "pending/not-a-grant-id", "x", 0600));

	ok(et_grant_sweep(&cfg, "frank", ET_REVOKE_SWEEP, now, &res, &err) == 0 && res.pending_revoked == 0 &&
		   marker_exists(old.id) && marker_exists(orphan),
	   "pending: a sweep of one user leaves the markers alone");
	ok(et_grant_sweep(&cfg, NULL, ET_REVOKE_SWEEP, now, &res, &err) == 0, "pending: the full sweep runs");
	is_int(res.pending_revoked, 1, "pending: one unsettled grant revoked");
	is_int(res.pending_removed, 2, "pending: two markers removed");
	is_int(res.expired, 0, "pending: ... not counted as expired");
	ok(et_grant_store_read(&cfg, old.id, &g, &err) < 0 && strcmp(err.reason, "not_found") == 0,
	   "pending: frank's grant (marker older than the limit) is revoked");
	ok(!member("frank"), "pending: ... and frank is no member");
	ok(!marker_exists(old.id), "pending: ... and its marker is removed");
	ok(!marker_exists(orphan), "pending: a marker without a grant is removed");
	ok(marker_exists(young.id), "pending: a marker within the guard's wait stays");
	ok(et_grant_store_read(&cfg, young.id, &g, &err) == 0 && member("gina"), "pending: ... and so does its grant");
	ok(access(stray, F_OK) == 0, "pending: a file that is not named by a grant id is left alone");

	ok(et_grant_sweep(&cfg, NULL, ET_REVOKE_SWEEP, now + ET_GUARD_WAIT_S + ET_GUARD_MARGIN_S + 60, &res, &err) == 0 &&
		   res.pending_revoked == 1 && !marker_exists(young.id) && !member("gina"),
	   "pending: later, gina's marker is old too: her grant is revoked and the marker removed");
	ok(et_grant_sweep(&cfg, NULL, ET_REVOKE_SWEEP, now, &res, &err) == 0 && res.pending_revoked == 0 &&
		   res.pending_removed == 0,
	   "pending: a second sweep has nothing left to do");
	unlink(stray);
}

/* A group that already has members nobody granted (Debian's sudo group) is not taken over:
 * grants into it are refused and the sweep leaves those members, until the administrator
 * adopts it; from then on the sweep manages it exclusively. */
static void test_unmanaged_group(void)
{
	struct et_config c2;
	struct et_grant g;
	struct et_err err;
	struct et_sweep_result res;
	struct et_check_result r;
	char line[256], *m;
	struct group *gr = getgrnam(GTE_GROUP);
	char *state2 = gte_state_dir();

	gte_config(&c2, GTE_GROUP, state2); /* a store that never managed the group */
	snprintf(line, sizeof(line), "%s:x:%u:hank,ivan", GTE_GROUP, gr ? (unsigned)gr->gr_gid : 0u);
	gte_set_group_line("group", GTE_GROUP, line);
	snprintf(line, sizeof(line), "%s:!::hank,ivan", GTE_GROUP);
	gte_set_group_line("gshadow", GTE_GROUP, line);
	ok(!et_group_managed(&c2, GTE_GROUP), "unmanaged: a new store manages no group");
	ok(et_grant_create(&c2, &(struct et_grant_request){ .user = "alice", .duration = 3600,
							    .method = ET_GRANT_METHOD_ADMIN },
			   now, &g, &err) < 0 &&
		   strcmp(err.reason, "group_unmanaged") == 0 && strstr(err.message, "hank, ivan"),
	   "unmanaged: a grant into a group with members nobody granted is refused, naming them (%s)", err.reason);
	ok(et_grant_sweep(&c2, NULL, ET_REVOKE_SWEEP, now, &res, &err) == 0 && res.members_removed == 0,
	   "unmanaged: the sweep removes nobody");
	m = gte_members("group", GTE_GROUP);
	is_str(m, "hank,ivan", "unmanaged: hank and ivan are still members");
	free(m);
	ok(et_grant_check(&c2, "hank", now, ET_CHECK_REVOKE_HERE, NULL, &r, &err) == 0 && !r.revoked &&
		   r.state != ET_GRANT_STATE_STALE_MEMBER,
	   "unmanaged: the account check leaves hank alone");
	ok(!et_group_managed(&c2, GTE_GROUP), "unmanaged: ... and the group is still not managed");
	ok(et_group_adopt(&c2, &err) == 0 && et_group_managed(&c2, GTE_GROUP), "adopt: the administrator adopts the group");
	ok(et_grant_sweep(&c2, NULL, ET_REVOKE_SWEEP, now, &res, &err) == 0 && res.members_removed == 2,
	   "adopt: the next sweep removes the two members without a grant");
	ok(et_grant_create(&c2, &(struct et_grant_request){ .user = "alice", .duration = 3600,
							    .method = ET_GRANT_METHOD_ADMIN },
			   now, &g, &err) == 0,
	   "adopt: then grants into it are made");
	et_grant_revoke_user(&c2, "alice", ET_REVOKE_ADMIN, now, NULL, &err);
	et_config_free(&c2);
	free(state2);

	/* an empty group is managed from the first grant on */
	state2 = gte_state_dir();
	gte_config(&c2, GTE_GROUP, state2);
	ok(et_grant_create(&c2, &(struct et_grant_request){ .user = "alice", .duration = 3600,
							    .method = ET_GRANT_METHOD_ADMIN },
			   now, &g, &err) == 0 && et_group_managed(&c2, GTE_GROUP),
	   "a grant into a group that holds nobody else makes it managed");
	et_grant_revoke_user(&c2, "alice", ET_REVOKE_ADMIN, now, NULL, &err);
	et_config_free(&c2);
	free(state2);
}

int main(void)
{
	tap_require_root();
	gte_enter(GTE_GROUP);
	state = gte_state_dir();
	gte_config(&cfg, GTE_GROUP, state);
	{
		struct et_err err;
		if (et_config_set(&cfg, "permanent_members", "root", "test", &err) < 0)
			return 99;
	}
	now = time(NULL);
	for (const char *const *u = (const char *const[]){ "alice", "bob", "carol", "dave", "erin", "frank", "gina",
							   "hank", "ivan", "mallory", NULL };
	     *u; u++)
		gte_useradd(*u);
	test_create();
	test_missing_group();
	test_revoke();
	test_sweep();
	test_check();
	test_check_via_helper();
	test_setcred();
	test_pending_sweep();
	test_unmanaged_group();
	et_config_free(&cfg);
	return tap_done();
}
