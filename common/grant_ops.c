/* SPDX-License-Identifier: Apache-2.0 */
/* Grant, revoke, sweep, the account check and setcred: the store, the group files, the
 * revocation timers and the audit trail put together. See grant.h for the ordering rules. */
#include "grant_ops.h"
#include "grant_store.h"
#include "audit.h"
#include "fsutil.h"
#include "groupfile.h"
#include "identity.h"
#include "strlist.h"
#include "sessions.h"
#include "timer.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static const char *const state_names[] = {
	[ET_GRANT_STATE_LIVE] = "live",
	[ET_GRANT_STATE_NONE] = "none",
	[ET_GRANT_STATE_PERMANENT] = "permanent",
	[ET_GRANT_STATE_STALE_MEMBER] = "stale_member",
	[ET_GRANT_STATE_EXPIRED] = "expired",
};

const char *et_grant_state_name(enum et_grant_state s)
{
	if ((unsigned)s >= sizeof(state_names) / sizeof(state_names[0]))
		return "unknown";
	return state_names[s];
}

long et_grant_clamp_duration(const struct et_config *cfg, long requested)
{
	long d = requested > 0 ? requested : cfg->duration_default;
	if (d < cfg->duration_min)
		d = cfg->duration_min;
	if (d > cfg->duration_max)
		d = cfg->duration_max;
	return d;
}

void et_grant_audit_fill(struct et_audit *a, const struct et_grant *g, const char *reason)
{
	memset(a, 0, sizeof(*a));
	a->grant_id = g->id;
	a->user = g->user;
	a->group = g->group;
	a->expires = g->expires;
	a->method = et_grant_method_name(g->method);
	a->upn = g->upn[0] ? g->upn : NULL;
	a->oid = g->oid[0] ? g->oid : NULL;
	a->reason = reason;
	a->service = g->service[0] ? g->service : NULL;
	a->rhost = g->rhost[0] ? g->rhost : NULL;
}

/* An unreachable journal (a container without journald) is said once per process, not once
 * per entry; the operation itself goes on. */
void et_grant_audit_note(const struct et_config *cfg, int r)
{
	static bool said;
	if (r >= 0 || said)
		return;
	said = true;
	et_log(&cfg->log, ET_LOG_WARNING, "the journal is unreachable (%s): audit entries are not being recorded",
	       strerror(-r));
}


static void audit_error(const struct et_config *cfg, const char *user, const char *grant_id, const struct et_err *e)
{
	struct et_audit a = { .grant_id = grant_id, .user = user, .group = cfg->elevated_group, .reason = e->reason };
	et_log(&cfg->log, ET_LOG_ERR, "%s", e->message);
	et_grant_audit_note(cfg, et_audit(ET_AUDIT_ERROR, LOG_ERR, &a, "%s", e->message));
}

static bool is_live(const struct et_grant *g, time_t now);

/* A revocation that could not finish: the record stays and every sweep tries again. This is
 * the one failure that leaves someone with a privilege past its end: critical. */
static void audit_stuck(const struct et_config *cfg, const char *user, const char *grant_id, const struct et_err *e)
{
	struct et_audit a = { .grant_id = grant_id, .user = user, .group = cfg->elevated_group, .reason = e->reason };
	et_log(&cfg->log, ET_LOG_ERR, "%s (the record is kept: every sweep tries again)", e->message);
	et_grant_audit_note(cfg, et_audit(ET_AUDIT_ERROR, LOG_CRIT, &a,
					"%s: the grant's record is kept and every sweep tries again", e->message));
}

/* The first step of ending a grant before its expiry: the record says it has ended (expires
 * = now), so that a revocation cut short or failing later (the group edit, the timer) is
 * finished by the sweep, which never restores the membership of an expired grant. */
static int mark_ended(const struct et_config *cfg, const struct et_grant *g, time_t now, struct et_err *err)
{
	struct et_grant ended = *g;
	if (!is_live(g, now))
		return 0;
	ended.expires = now;
	/* a record capped by PIM keeps pim_until == expires; ended early, the PIM end no longer
	 * is its expiry */
	ended.pim_until = 0;
	return et_grant_store_write(cfg, &ended, err);
}

static int lookup_user(const char *user, uid_t *ret_uid, struct et_err *err)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	int r;
	if (!et_local_name_ok(user))
		return et_err_set(err, ET_E_BAD_USER, "'%.64s' is not a valid local user name", user ? user : "");
	r = getpwnam_r(user, &pw, buf, sizeof(buf), &found);
	if (r != 0)
		return et_err_set(err, ET_E_NO_USER, "cannot look up user %s: %s", user, strerror(r));
	if (!found)
		return et_err_set(err, ET_E_NO_USER, "there is no local user %s", user);
	*ret_uid = pw.pw_uid;
	return 0;
}

static bool is_live(const struct et_grant *g, time_t now)
{
	return g->expires > now;
}

static bool is_permanent(const struct et_config *cfg, const char *user)
{
	return et_strlist_contains(&cfg->permanent_members, user);
}

/* Does `user` keep membership of `group` once the grants in `skip` are gone? */
static bool keeps_membership(const struct et_config *cfg, const struct et_grant_list *l, const char *user,
			     const char *group, time_t now, const char *skip_id)
{
	if (cfg->elevated_group && strcmp(group, cfg->elevated_group) == 0 && is_permanent(cfg, user))
		return true;
	for (size_t i = 0; i < l->n; i++) {
		const struct et_grant *g = &l->items[i];
		if (skip_id && strcmp(g->id, skip_id) == 0)
			continue;
		if (strcmp(g->user, user) == 0 && strcmp(g->group, group) == 0 && is_live(g, now))
			return true;
	}
	return false;
}

/* Without any configuration (lastgood.h: the defaults) permanent_members is unknown: a grant
 * then takes away only a membership it added itself. */
static bool unknown_keeper(const struct et_config *cfg, const struct et_grant *g)
{
	return !cfg->elevated_group && !g->added_membership;
}

static int member_remove(const char *group, const char *user, struct et_err *err)
{
	struct et_strlist rm = { 0 };
	struct et_member_edit e = { .remove = &rm };
	int r;
	if (et_strlist_add(&rm, user) < 0)
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	r = et_group_edit(group, &e, NULL, err);
	et_strlist_free(&rm);
	return r;
}

static void group_error_reason(struct et_err *err, const char *group)
{
	if (err && err->code == ET_E_NO_GROUP)
		et_err_set(err, ET_E_NO_GROUP,
			   "the elevated group '%s' does not exist in /etc/group: create it (groupadd %s) or fix "
			   "elevated_group in the configuration",
			   group, group);
}

/* The marker of a pending grant, written before the grant exists (under the store lock). */
static int pending_marker_write(const struct et_config *cfg, const char *id, const char *user, pid_t pid,
				char *path, size_t size, struct et_err *err)
{
	char dir[PATH_MAX], text[64 + ET_GRANT_NAME_MAX];
	int n;
	if ((size_t)snprintf(dir, sizeof(dir), "%s/pending", cfg->state_dir) >= sizeof(dir) ||
	    et_pending_marker_path(cfg, id, path, size) < 0)
		return et_err_set(err, ET_E_PATH_TOO_LONG, "the state directory path is too long");
	if (et_dir_ensure_private(dir, 0700, err) < 0)
		return -1;
	n = snprintf(text, sizeof(text), "user %s\npid %ld\n", user, (long)pid);
	return et_file_write_atomic(path, text, (size_t)n, 0600, err);
}

/* ---- the group is ours only once it is managed ----
 * {state_dir}/managed/GROUP exists once pam_entra_tap manages GROUP: written the first time a
 * grant or a sweep finds the group holding nobody the grants do not account for (nobody but
 * live or ended grants and permanent_members), or when an administrator adopts it
 * (`entra-tap adopt`). Until then a group that holds other members (Debian's sudo group, a
 * group in use) is never emptied: grants into it are refused, the sweep removes only
 * members whose grants ended, the account phase and setcred leave the others alone. */

static int managed_path(const struct et_config *cfg, const char *group, char *buf, size_t size)
{
	if (!et_path_component_ok(group) || (size_t)snprintf(buf, size, "%s/managed/%s", cfg->state_dir, group) >= size)
		return -1;
	return 0;
}

bool et_group_managed(const struct et_config *cfg, const char *group)
{
	char path[PATH_MAX];
	struct stat st;
	/* anything but a clear "not there" counts as managed: the exclusive rule is the safe one */
	return managed_path(cfg, group, path, sizeof(path)) < 0 || lstat(path, &st) == 0 || errno != ENOENT;
}

static int mark_managed(const struct et_config *cfg, const char *group, struct et_err *err)
{
	char path[PATH_MAX], dir[PATH_MAX];
	if (managed_path(cfg, group, path, sizeof(path)) < 0 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/managed", cfg->state_dir) >= sizeof(dir))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "the state directory path is too long");
	if (et_dir_ensure_private(dir, 0700, err) < 0)
		return -1;
	return et_file_write_atomic(path, "managed\n", 8, 0600, err);
}

/* Members of group that neither a grant (live or ended) of the store nor permanent_members
 * accounts for. */
static int unaccounted_members(const struct et_config *cfg, const char *group, const struct et_grant_list *l,
			       struct et_strlist *ret, struct et_err *err)
{
	struct et_strlist members = { 0 };
	if (et_group_read(group, &members, NULL, err) < 0) {
		group_error_reason(err, group);
		return -1;
	}
	for (size_t i = 0; i < members.n; i++) {
		const char *name = members.items[i];
		bool granted = false;
		for (size_t j = 0; j < l->n && !granted; j++)
			granted = strcmp(l->items[j].user, name) == 0;
		if (!granted && !is_permanent(cfg, name) && et_strlist_add(ret, name) < 0) {
			et_strlist_free(&members);
			return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		}
	}
	et_strlist_free(&members);
	return 0;
}

/* Whether the group may be managed exclusively now; marks it managed when nothing stands in
 * the way. ret_others (optional): who stands in the way. */
static int managed_or_mark(const struct et_config *cfg, const char *group, const struct et_grant_list *l,
			   bool *ret_managed, struct et_strlist *ret_others, struct et_err *err)
{
	struct et_strlist others = { 0 };
	*ret_managed = true;
	if (et_group_managed(cfg, group))
		return 0;
	if (unaccounted_members(cfg, group, l, &others, err) < 0)
		return -1;
	if (others.n == 0) {
		et_strlist_free(&others);
		return mark_managed(cfg, group, err);
	}
	*ret_managed = false;
	if (ret_others)
		*ret_others = others;
	else
		et_strlist_free(&others);
	return 0;
}

static void names_joined(const struct et_strlist *names, char *buf, size_t size)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < names->n && n + 1 < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", names->items[i]);
}

int et_group_unaccounted(const struct et_config *cfg, const char *group, struct et_strlist *ret, struct et_err *err)
{
	struct et_grant_list l = { 0 };
	int r = et_grant_store_list(cfg, NULL, &l, err);
	if (r == 0)
		r = unaccounted_members(cfg, group, &l, ret, err);
	et_grant_list_free(&l);
	return r;
}

int et_group_adopt(const struct et_config *cfg, struct et_err *err)
{
	int lock = -1, r = -1;
	if (!cfg->elevated_group)
		return et_err_set(err, ET_E_CONFIG, "elevated_group is not set");
	if (et_grant_store_prepare(cfg, err) < 0 || et_grant_store_lock(cfg, ET_GRANT_LOCK_WAIT_MS, &lock, err) < 0)
		return -1;
	r = mark_managed(cfg, cfg->elevated_group, err);
	et_grant_store_unlock(lock);
	if (r == 0)
		et_log(&cfg->log, ET_LOG_NOTICE,
		       "group %s is now managed by pam_entra_tap: the sweep removes every member without a live grant "
		       "(permanent_members excepted)",
		       cfg->elevated_group);
	return r;
}

/* The grant's revocation timer at its expiry and its warning timer expiry_warning before
 * (none when that is past). No systemd: logged, the sweep and the account check end it. */
static void schedule_timers(const struct et_config *cfg, const struct et_grant *g, const char *program, time_t now)
{
	struct et_err terr;
	int tr;
	if (!program)
		return;
	tr = et_timer_schedule(g->id, g->expires, program, &terr);
	if (tr == 1) {
		et_log(&cfg->log, ET_LOG_NOTICE,
		       "no systemd on the system bus: no timer set for grant %s; the sweep and the account check will "
		       "end it",
		       g->id);
		return;
	}
	if (tr < 0) {
		audit_error(cfg, g->user, g->id, &terr);
		return;
	}
	if (cfg->expiry_warning > 0 && g->expires - cfg->expiry_warning > now &&
	    et_timer_schedule_warning(g->id, g->expires - cfg->expiry_warning, program, &terr) < 0)
		et_log(&cfg->log, ET_LOG_ERR, "grant %s: no expiry warning: %s", g->id, terr.message);
}

/* Under the store lock: when want's user holds a live grant of the elevated group, give it
 * want's later expiry (keeping its id, and so its sessions and scope) and return 1 with want
 * replaced by it; 0 when there is none. */
static int extend_live(const struct et_config *cfg, struct et_grant *want, time_t now, struct et_err *err)
{
	struct et_grant_list l = { 0 };
	struct et_grant g;
	struct et_audit a;
	const struct et_grant *live;
	time_t before;
	if (et_grant_store_list(cfg, want->user, &l, err) < 0)
		return -1;
	live = et_grant_latest_live(&l, want->group, now);
	if (!live) {
		et_grant_list_free(&l);
		return 0;
	}
	g = *live;
	et_grant_list_free(&l);
	before = g.expires;
	/* the new sign-in counts from now (duration_max is measured from created); an
	 * extension never shortens */
	g.created = now;
	if (want->expires > g.expires) {
		g.expires = want->expires;
		g.pim_until = want->pim_until;
	}
	g.method = want->method;
	memcpy(g.reason, want->reason, sizeof(g.reason));
	if (et_grant_store_write(cfg, &g, err) < 0)
		return -1;
	et_grant_audit_fill(&a, &g, g.reason[0] ? g.reason : NULL);
	a.previous_expires = before;
	{
		char until[64];
		struct tm tm;
		if (!gmtime_r(&g.expires, &tm) || strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
			snprintf(until, sizeof(until), "%lld", (long long)g.expires);
		et_grant_audit_note(cfg, et_audit(ET_AUDIT_EXTEND, LOG_NOTICE, &a,
						  "grant %s of %s to group %s extended until %s (%s)", g.id, g.user,
						  g.group, until, et_grant_method_name(g.method)));
	}
	*want = g;
	return 1;
}

int et_grant_create(const struct et_config *cfg, const struct et_grant_request *req, time_t now,
		    struct et_grant *ret, struct et_err *err)
{
	struct et_member_change chg = { 0 };
	struct et_strlist add = { 0 };
	struct et_member_edit edit = { .add = &add };
	struct et_grant g;
	struct et_audit a;
	char marker[PATH_MAX] = "";
	size_t count = 0;
	int lock = -1, r = -1;

	memset(&g, 0, sizeof(g));
	if (lookup_user(req->user, &g.uid, err) < 0)
		return -1;
	if (req->duration < 0)
		return et_err_set(err, ET_E_BAD_DURATION, "a grant's duration cannot be negative");
	if (!et_grant_method_name(req->method))
		return et_err_set(err, ET_E_BAD_METHOD, "unknown grant method");
	if (!cfg->elevated_group || !et_local_name_ok(cfg->elevated_group) || strlen(cfg->elevated_group) > ET_GRANT_NAME_MAX)
		return et_err_set(err, ET_E_CONFIG, "elevated_group is not set to a valid group name");
	if (et_grant_id_new(g.id, err) < 0)
		return -1;
	snprintf(g.user, sizeof(g.user), "%s", req->user);
	snprintf(g.group, sizeof(g.group), "%s", cfg->elevated_group);
	g.created = now;
	g.expires = now + et_grant_clamp_duration(cfg, req->duration);
	if (req->pim_until) {
		if (req->pim_until <= now)
			return et_err_set(err, ET_E_PIM_NOT_ACTIVE, "the PIM for Groups activation has already ended");
		if (req->pim_until < g.expires) {
			g.expires = req->pim_until;
			g.pim_until = req->pim_until;
		}
	}
	g.method = req->method;
	et_text_sanitize(req->oid, g.oid, sizeof(g.oid));
	et_text_sanitize(req->upn, g.upn, sizeof(g.upn));
	et_text_sanitize(req->tid, g.tid, sizeof(g.tid));
	et_text_sanitize(req->reason, g.reason, sizeof(g.reason));
	et_text_sanitize(req->service, g.service, sizeof(g.service));
	et_text_sanitize(req->rhost, g.rhost, sizeof(g.rhost));

	if (et_grant_store_prepare(cfg, err) < 0 || et_grant_store_lock(cfg, ET_GRANT_LOCK_WAIT_MS, &lock, err) < 0)
		goto fail;
	if (et_grant_store_count(cfg, &count, err) < 0)
		goto fail;
	if (count >= ET_GRANTS_MAX) {
		et_err_set(err, ET_E_TOO_MANY_GRANTS, "the store already holds %zu grants", count);
		goto fail;
	}
	{
		/* a group with members nobody granted is not ours to take over (Debian's sudo group) */
		struct et_grant_list all = { 0 };
		struct et_strlist others = { 0 };
		bool managed = true;
		char names[256];
		int mr = et_grant_store_list(cfg, NULL, &all, err);
		if (mr == 0)
			mr = managed_or_mark(cfg, g.group, &all, &managed, &others, err);
		et_grant_list_free(&all);
		if (mr < 0)
			goto fail;
		if (!managed) {
			struct et_audit ua = { .user = g.user, .group = g.group, .reason = "group not managed" };
			names_joined(&others, names, sizeof(names));
			et_strlist_free(&others);
			et_err_set(err, ET_E_GROUP_UNMANAGED,
				   "group %s has members no grant accounts for (%s) and pam_entra_tap has never managed "
				   "it: no grant into it (entra-tap adopt, when emptying it is intended)",
				   g.group, names);
			et_grant_audit_note(cfg, et_audit(ET_AUDIT_REFUSED, LOG_WARNING, &ua, "%s", err ? err->message : ""));
			goto fail;
		}
	}
	if (req->extend) {
		int x = extend_live(cfg, &g, now, err);
		if (x < 0)
			goto fail;
		if (x == 1) {
			et_grant_store_unlock(lock);
			lock = -1;
			schedule_timers(cfg, &g, req->revoke_program, now);
			*ret = g;
			r = 0;
			goto done;
		}
	}
	if (et_strlist_add(&add, g.user) < 0) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto fail;
	}
	/* A pending grant is pending from its first instant: the marker comes before anything
	 * a guard (or the sweep, for a marker whose guard never started) would have to undo. */
	if (req->pending &&
	    pending_marker_write(cfg, g.id, g.user, req->watch_pid, marker, sizeof(marker), err) < 0) {
		marker[0] = '\0';
		goto fail;
	}
	/* Membership first: a kill after this leaves a member without a grant, which the sweep
	 * removes. The other order could leave a grant the caller never saw succeed. */
	if (et_group_edit(g.group, &edit, &chg, err) < 0) {
		group_error_reason(err, g.group);
		goto fail;
	}
	g.added_membership = et_strlist_contains(&chg.added, g.user);
	if (et_grant_store_write(cfg, &g, err) < 0) {
		struct et_err rerr;
		if (g.added_membership && !is_permanent(cfg, g.user) && member_remove(g.group, g.user, &rerr) < 0)
			et_log(&cfg->log, ET_LOG_ERR, "%s (the sweep will remove %s)", rerr.message, g.user);
		goto fail;
	}
	et_grant_store_unlock(lock);
	lock = -1;

	schedule_timers(cfg, &g, req->revoke_program, now);

	et_grant_audit_fill(&a, &g, g.reason[0] ? g.reason : NULL);
	{
		/* The journal shows local time anyway; the message names the instant in UTC so a
		 * reader never has to convert an epoch count by hand. */
		char until[32];
		struct tm tm;
		if (!gmtime_r(&g.expires, &tm) || strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
			snprintf(until, sizeof(until), "%lld", (long long)g.expires);
		et_grant_audit_note(cfg, et_audit(ET_AUDIT_GRANT, LOG_NOTICE, &a, "%s was granted group %s until %s (grant %s, %s)",
						g.user, g.group, until, g.id, et_grant_method_name(g.method)));
	}
	*ret = g;
	r = 0;
	goto done;
fail:
	if (marker[0])
		(void)unlink(marker); /* no grant was made: nothing is pending */
	if (err)
		audit_error(cfg, req->user, g.id[0] ? g.id : NULL, err);
done:
	et_grant_store_unlock(lock);
	et_strlist_free(&add);
	et_member_change_free(&chg);
	return r;
}

int et_grant_revoke(const struct et_config *cfg, const char *id, enum et_revoke_cause cause, uid_t owner,
		    time_t now, struct et_grant *ret, struct et_err *err)
{
	struct et_grant_list others = { 0 };
	struct et_grant g;
	struct et_err gerr = { 0 };
	bool early;
	int lock = -1, r = -1;

	if (!et_grant_id_ok(id))
		return et_err_set(err, ET_E_BAD_ID, "'%.64s' is not a grant id (32 hexadecimal digits)", id ? id : "");
	if (et_grant_store_prepare(cfg, err) < 0 || et_grant_store_lock(cfg, ET_GRANT_LOCK_WAIT_MS, &lock, err) < 0)
		goto done;
	if (et_grant_store_read(cfg, id, &g, err) < 0)
		goto done;
	if (owner != (uid_t)-1 && g.uid != owner) {
		et_err_set(err, ET_E_NOT_OWNER, "grant %s is not yours", id);
		goto done;
	}
	if (cause == ET_REVOKE_EXPIRY && is_live(&g, now))
		cause = ET_REVOKE_ADMIN;
	early = is_live(&g, now);
	/* The record goes last, after the group edit and the timer: a failure (a full file
	 * system, a low resource limit) or a kill on the way leaves it, marked ended, for the
	 * next sweep to finish. */
	if (mark_ended(cfg, &g, now, err) < 0)
		goto done;
	if (et_grant_store_list(cfg, g.user, &others, &gerr) < 0 ||
	    (!keeps_membership(cfg, &others, g.user, g.group, now, id) && !unknown_keeper(cfg, &g) &&
	     member_remove(g.group, g.user, &gerr) < 0)) {
		group_error_reason(&gerr, g.group);
		et_err_set(err, ET_E_GROUP_EDIT_FAILED, "grant %s cannot end: %s is still in group %s: %s", id, g.user,
			   g.group, gerr.message);
		audit_stuck(cfg, g.user, g.id, err ? err : &gerr);
		goto done;
	}
	/* A grant ended early still has a timer; an expired one has fired or is firing (and stopping
	 * its service from inside it would kill this very process). */
	if (early && (cause == ET_REVOKE_DROP || cause == ET_REVOKE_ADMIN || cause == ET_REVOKE_LOGIN_FAILED) &&
	    et_timer_cancel(g.id, &gerr) < 0) {
		et_err_set(err, ET_E_GROUP_EDIT_FAILED, "grant %s: %s left group %s, but its timer could not be cancelled: %s",
			   id, g.user, g.group, gerr.message);
		audit_stuck(cfg, g.user, g.id, err ? err : &gerr);
		goto done;
	}
	if (et_grant_store_remove(cfg, id, err) < 0)
		goto done;
	et_grant_store_unlock(lock);
	lock = -1;

	et_sessions_end(cfg, &g, et_revoke_cause_name(cause));
	if (ret)
		*ret = g;
	r = 0;
done:
	et_grant_store_unlock(lock);
	et_grant_list_free(&others);
	return r;
}

int et_grant_revoke_user(const struct et_config *cfg, const char *user, enum et_revoke_cause cause, time_t now,
			 unsigned *ret_count, struct et_err *err)
{
	struct et_grant_list l = { 0 };
	struct et_err gerr = { 0 };
	bool member_failed = false, timer_failed = false;
	int lock = -1, r = -1;

	if (!et_local_name_ok(user))
		return et_err_set(err, ET_E_BAD_USER, "'%.64s' is not a valid local user name", user ? user : "");
	if (et_grant_store_prepare(cfg, err) < 0 || et_grant_store_lock(cfg, ET_GRANT_LOCK_WAIT_MS, &lock, err) < 0)
		goto done;
	if (et_grant_store_list(cfg, user, &l, err) < 0)
		goto done;
	/* as et_grant_revoke: marked ended, then the group edit and the timers, the records last */
	for (size_t i = 0; i < l.n; i++)
		if (mark_ended(cfg, &l.items[i], now, err) < 0)
			goto done;
	if (cfg->elevated_group && !is_permanent(cfg, user) && member_remove(cfg->elevated_group, user, &gerr) < 0)
		member_failed = true;
	/* grants recorded for another group (elevated_group was changed since, or is unknown) */
	for (size_t i = 0; i < l.n; i++) {
		const char *grp = l.items[i].group;
		bool seen = (cfg->elevated_group && strcmp(grp, cfg->elevated_group) == 0) ||
			    unknown_keeper(cfg, &l.items[i]);
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(l.items[j].group, grp) == 0;
		if (!seen && member_remove(grp, user, &gerr) < 0)
			member_failed = true;
	}
	if (member_failed) {
		group_error_reason(&gerr, l.n ? l.items[0].group : cfg->elevated_group);
		et_err_set(err, ET_E_GROUP_EDIT_FAILED, "%zu grant(s) of %s cannot end: the membership could not be removed: %s",
			   l.n, user, gerr.message);
		audit_stuck(cfg, user, NULL, err ? err : &gerr);
		goto done;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct et_err terr;
		if (is_live(&l.items[i], now) && et_timer_cancel(l.items[i].id, &terr) < 0) {
			et_log(&cfg->log, ET_LOG_ERR, "cannot cancel the timer of grant %s: %s", l.items[i].id,
			       terr.message);
			timer_failed = true;
		}
	}
	if (timer_failed) {
		et_err_set(err, ET_E_GROUP_EDIT_FAILED, "%s left the elevated group, but a timer could not be cancelled",
			   user);
		audit_stuck(cfg, user, NULL, err);
		goto done;
	}
	for (size_t i = 0; i < l.n; i++)
		if (et_grant_store_remove(cfg, l.items[i].id, err) < 0)
			goto done;
	et_grant_store_unlock(lock);
	lock = -1;
	for (size_t i = 0; i < l.n; i++) {
		enum et_revoke_cause c = cause;
		if (c == ET_REVOKE_EXPIRY && is_live(&l.items[i], now))
			c = ET_REVOKE_ADMIN;
		et_sessions_end(cfg, &l.items[i], et_revoke_cause_name(c));
	}
	if (ret_count)
		*ret_count = (unsigned)l.n;
	r = 0;
done:
	et_grant_store_unlock(lock);
	et_grant_list_free(&l);
	return r;
}

static int add_unique(struct et_strlist *l, const char *s)
{
	if (et_strlist_contains(l, s))
		return 0;
	return et_strlist_add(l, s);
}

int et_pending_marker_path(const struct et_config *cfg, const char *id, char *buf, size_t size)
{
	int n;
	if (!et_grant_id_ok(id))
		return -1;
	n = snprintf(buf, size, "%s/pending/%s", cfg->state_dir, id);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Settle the markers a guard left (it was killed, or the machine rebooted): a marker whose
 * grant is gone is removed; one older than the guard's wait whose grant is still there
 * belongs to a login that never settled: the grant is revoked (login_failed) and the marker
 * removed. Runs without the store lock (et_grant_revoke takes it). A failure is logged and
 * left to the next sweep; the sweep itself goes on. */
static void pending_sweep(const struct et_config *cfg, time_t now, struct et_sweep_result *res)
{
	char dir[PATH_MAX];
	struct dirent *de;
	unsigned seen = 0;
	DIR *d = NULL;
	int fd;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/pending", cfg->state_dir) >= sizeof(dir))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			et_log(&cfg->log, ET_LOG_ERR, "cannot open %s: %s", dir, strerror(errno));
		return;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) && seen++ < ET_GRANTS_MAX) {
		struct et_grant g;
		struct et_err e;
		struct stat st;
		if (!et_grant_id_ok(de->d_name) || fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (et_grant_store_read(cfg, de->d_name, &g, &e) < 0) {
			int lock = -1;
			if (e.code != ET_E_NOT_FOUND)
				continue; /* unreadable: the grant's own problem, reported by the store */
			/* a grant being made writes its marker first, under the store lock: look
			 * again under that lock before calling the marker an orphan */
			if (et_grant_store_lock(cfg, ET_GRANT_LOCK_WAIT_MS, &lock, &e) < 0)
				continue;
			if (et_grant_store_read(cfg, de->d_name, &g, &e) < 0 && e.code == ET_E_NOT_FOUND &&
			    unlinkat(fd, de->d_name, 0) == 0)
				res->pending_removed++;
			et_grant_store_unlock(lock);
			continue;
		}
		if ((long long)now - (long long)st.st_mtime <= ET_GUARD_WAIT_S + ET_GUARD_MARGIN_S)
			continue; /* its guard may still be waiting */
		if (et_grant_revoke(cfg, de->d_name, ET_REVOKE_LOGIN_FAILED, (uid_t)-1, now, NULL, &e) < 0 &&
		    e.code != ET_E_NOT_FOUND) {
			audit_error(cfg, g.user, g.id, &e);
			continue;
		}
		et_log(&cfg->log, ET_LOG_NOTICE, "grant %s of %s: the login it was made for never succeeded: revoked",
		       g.id, g.user);
		res->pending_revoked++;
		if (unlinkat(fd, de->d_name, 0) == 0)
			res->pending_removed++;
	}
	closedir(d);
}

/* The sweep without a usable configuration (lastgood.h): every expired grant ends, from its
 * record alone; the group is not reconciled (that is management, which needs the
 * configuration). A store that does not exist holds nothing to end and is not created. */
static int sweep_records_only(const struct et_config *cfg, const char *user, enum et_revoke_cause cause, time_t now,
			      struct et_sweep_result *ret, struct et_err *err)
{
	struct et_sweep_result res = { 0 };
	struct et_grant_list l = { 0 };
	char dir[PATH_MAX];
	struct stat st;

	if (!cfg->state_dir || (size_t)snprintf(dir, sizeof(dir), "%s/grants", cfg->state_dir) >= sizeof(dir))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "state_dir is too long");
	if (lstat(dir, &st) < 0 && errno == ENOENT) {
		if (ret)
			*ret = res;
		return 0;
	}
	if (et_grant_store_list(cfg, user, &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		struct et_err e;
		if (is_live(&l.items[i], now))
			continue;
		if (et_grant_revoke(cfg, l.items[i].id, cause, (uid_t)-1, now, NULL, &e) == 0)
			res.expired++;
		else if (e.code != ET_E_NOT_FOUND)
			audit_error(cfg, l.items[i].user, l.items[i].id, &e);
	}
	et_grant_list_free(&l);
	if (!user) {
		pending_sweep(cfg, now, &res);
		et_sessions_sweep(cfg, NULL);
	}
	if (ret)
		*ret = res;
	return 0;
}

int et_grant_cut(const struct et_config *cfg, const char *revoke_program, time_t now, unsigned *ret_cut,
		 struct et_err *err)
{
	struct et_grant_list l = { 0 };
	struct et_grant *cut = NULL;
	time_t *before = NULL;
	size_t n_cut = 0;
	int lock = -1, r = -1;

	if (ret_cut)
		*ret_cut = 0;
	if (cfg->fallback)
		return 0; /* only the configuration in force may shorten a grant */
	if (et_grant_store_prepare(cfg, err) < 0 || et_grant_store_lock(cfg, ET_GRANT_LOCK_WAIT_MS, &lock, err) < 0)
		goto done;
	if (et_grant_store_list(cfg, NULL, &l, err) < 0)
		goto done;
	cut = calloc(l.n ? l.n : 1, sizeof(*cut));
	before = calloc(l.n ? l.n : 1, sizeof(*before));
	if (!cut || !before) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct et_grant g = l.items[i];
		long cap = cfg->duration_max;
		if (g.method == ET_GRANT_METHOD_BREAKGLASS && cfg->breakglass_duration_max < cap)
			cap = cfg->breakglass_duration_max;
		if (!is_live(&g, now) || (long long)g.expires - (long long)g.created <= cap)
			continue;
		before[n_cut] = g.expires;
		g.expires = g.created + cap;
		if (g.pim_until && g.pim_until != g.expires)
			g.pim_until = 0;
		if (et_grant_store_write(cfg, &g, err) < 0)
			goto done;
		cut[n_cut++] = g;
	}
	et_grant_store_unlock(lock);
	lock = -1;
	for (size_t i = 0; i < n_cut; i++) {
		struct et_audit a;
		char until[64];
		struct tm tm;
		et_grant_audit_fill(&a, &cut[i], "duration_max");
		a.previous_expires = before[i];
		if (!gmtime_r(&cut[i].expires, &tm) || !strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S UTC", &tm))
			snprintf(until, sizeof(until), "%lld", (long long)cut[i].expires);
		et_log(&cfg->log, ET_LOG_NOTICE, "grant %s of %s: cut to duration_max, now ends %s", cut[i].id,
		       cut[i].user, until);
		et_grant_audit_note(cfg, et_audit(ET_AUDIT_CUT, LOG_NOTICE, &a,
						  "grant %s of %s to group %s cut to duration_max (%lds): it ends %s",
						  cut[i].id, cut[i].user, cut[i].group, cfg->duration_max, until));
		if (is_live(&cut[i], now))
			schedule_timers(cfg, &cut[i], revoke_program, now);
	}
	if (ret_cut)
		*ret_cut = (unsigned)n_cut;
	r = 0;
done:
	et_grant_store_unlock(lock);
	et_grant_list_free(&l);
	free(cut);
	free(before);
	return r;
}

int et_grant_sweep(const struct et_config *cfg, const char *user, enum et_revoke_cause cause, time_t now,
		   struct et_sweep_result *ret, struct et_err *err)
{
	struct et_sweep_result res = { 0 };
	struct et_grant_list l = { 0 };
	struct et_grant *ended = NULL;
	struct et_strlist live = { 0 }, keep = { 0 }, add = { 0 }, rm = { 0 }, ended_users = { 0 };
	struct et_member_edit edit = { 0 };
	struct et_member_change chg = { 0 };
	size_t n_ended = 0;
	bool managed = true;
	int lock = -1, r = -1;

	if (user && !et_local_name_ok(user))
		return et_err_set(err, ET_E_BAD_USER, "'%.64s' is not a valid local user name", user);
	if (cfg->fallback || !cfg->elevated_group)
		return sweep_records_only(cfg, user, cause, now, ret, err);
	if (et_grant_store_prepare(cfg, err) < 0 || et_grant_store_lock(cfg, ET_GRANT_LOCK_WAIT_MS, &lock, err) < 0)
		goto done;
	if (et_grant_store_tidy(cfg, &res.quarantined, err) < 0 || et_grant_store_list(cfg, user, &l, err) < 0)
		goto done;
	ended = calloc(l.n ? l.n : 1, sizeof(*ended));
	if (!ended)
		goto nomem;
	for (size_t i = 0; i < l.n; i++) {
		const struct et_grant *g = &l.items[i];
		if (is_live(g, now)) {
			if (strcmp(g->group, cfg->elevated_group) == 0 && add_unique(&live, g->user) < 0)
				goto nomem;
			continue;
		}
		ended[n_ended++] = *g; /* its record goes once the group no longer holds it */
		if (add_unique(&ended_users, g->user) < 0)
			goto nomem;
	}

	{
		/* a group with members nobody granted is not ours to empty (Debian's sudo group):
		 * until it is managed, only members whose grants ended go */
		struct et_strlist others = { 0 };
		if (user) {
			managed = et_group_managed(cfg, cfg->elevated_group);
		} else if (managed_or_mark(cfg, cfg->elevated_group, &l, &managed, &others, err) < 0) {
			goto done;
		}
		if (!managed && !user) {
			struct et_audit a = { .group = cfg->elevated_group, .reason = "group not managed" };
			char names[256];
			names_joined(&others, names, sizeof(names));
			et_grant_audit_note(cfg, et_audit(ET_AUDIT_REFUSED, LOG_WARNING, &a,
							"group %s has members no grant accounts for (%s) and pam_entra_tap "
							"has never managed it: the sweep leaves them (entra-tap adopt, "
							"when emptying it is intended)",
							cfg->elevated_group, names));
		}
		et_strlist_free(&others);
	}
	if (!managed) {
		for (size_t i = 0; i < live.n; i++)
			if (add_unique(&add, live.items[i]) < 0)
				goto nomem;
		for (size_t i = 0; i < ended_users.n; i++)
			if (!et_strlist_contains(&live, ended_users.items[i]) && !is_permanent(cfg, ended_users.items[i]) &&
			    (!user || strcmp(user, ended_users.items[i]) == 0) && add_unique(&rm, ended_users.items[i]) < 0)
				goto nomem;
		edit.add = &add;
		edit.remove = &rm;
	} else if (!user) {
		/* Exclusive management: the group is exactly the live grants plus permanent_members. */
		for (size_t i = 0; i < live.n; i++)
			if (add_unique(&keep, live.items[i]) < 0 || add_unique(&add, live.items[i]) < 0)
				goto nomem;
		for (size_t i = 0; i < cfg->permanent_members.n; i++)
			if (add_unique(&keep, cfg->permanent_members.items[i]) < 0)
				goto nomem;
		edit.keep = &keep;
		edit.add = &add;
	} else if (et_strlist_contains(&live, user)) {
		if (et_strlist_add(&add, user) < 0)
			goto nomem;
		edit.add = &add;
	} else if (!is_permanent(cfg, user)) {
		if (et_strlist_add(&rm, user) < 0)
			goto nomem;
		edit.remove = &rm;
	}
	if (et_group_edit(cfg->elevated_group, &edit, &chg, err) < 0) {
		/* the expired records stay: the next sweep tries again */
		group_error_reason(err, cfg->elevated_group);
		if (n_ended)
			audit_stuck(cfg, user, NULL, err);
		goto done;
	}
	/* Expired grants recorded for another group (elevated_group changed since they were made). */
	for (size_t i = 0; i < n_ended; i++) {
		const struct et_grant *g = &ended[i];
		struct et_err gerr;
		if (strcmp(g->group, cfg->elevated_group) == 0 ||
		    keeps_membership(cfg, &l, g->user, g->group, now, NULL))
			continue;
		if (member_remove(g->group, g->user, &gerr) < 0) {
			audit_stuck(cfg, g->user, g->id, &gerr);
			ended[i].id[0] = '\0'; /* kept: the next sweep tries again */
		}
	}
	/* the group no longer holds them: the records go */
	{
		size_t kept = 0;
		for (size_t i = 0; i < n_ended; i++) {
			if (!ended[i].id[0])
				continue;
			if (et_grant_store_remove(cfg, ended[i].id, err) < 0)
				goto done;
			ended[kept++] = ended[i];
		}
		n_ended = kept;
	}
	et_grant_store_unlock(lock);
	lock = -1;

	res.expired = (unsigned)n_ended;
	res.members_added = (unsigned)chg.added.n;
	res.members_removed = (unsigned)chg.removed.n;
	for (size_t i = 0; i < n_ended; i++)
		et_sessions_end(cfg, &ended[i], et_revoke_cause_name(cause));
	for (size_t i = 0; i < chg.removed.n; i++) {
		const char *name = chg.removed.items[i];
		struct et_audit a = { .user = name, .group = cfg->elevated_group, .reason = et_revoke_cause_name(cause) };
		if (et_strlist_contains(&ended_users, name))
			continue; /* its grant's own entry says why */
		et_log(&cfg->log, ET_LOG_NOTICE, "%s was in group %s without a live grant: removed", name,
		       cfg->elevated_group);
		et_grant_audit_note(cfg, et_audit(ET_AUDIT_MEMBER_REMOVED, LOG_WARNING, &a,
						"%s was in group %s without a live grant and was removed", name,
						cfg->elevated_group));
	}
	for (size_t i = 0; i < chg.added.n; i++)
		et_log(&cfg->log, ET_LOG_NOTICE, "%s has a live grant but was missing from group %s: added back",
		       chg.added.items[i], cfg->elevated_group);
	if (!user) {
		pending_sweep(cfg, now, &res);
		et_sessions_sweep(cfg, NULL);
	}
	if (ret)
		*ret = res;
	r = 0;
	goto done;
nomem:
	et_err_set(err, ET_E_NO_MEMORY, "out of memory");
done:
	if (r < 0 && err)
		audit_error(cfg, user, NULL, err);
	et_grant_store_unlock(lock);
	et_grant_list_free(&l);
	free(ended);
	et_strlist_free(&live);
	et_strlist_free(&keep);
	et_strlist_free(&add);
	et_strlist_free(&rm);
	et_strlist_free(&ended_users);
	et_member_change_free(&chg);
	return r;
}

int et_grant_check(const struct et_config *cfg, const char *user, time_t now, enum et_check_revoke how,
		   et_revoke_user_fn revoke_user, struct et_check_result *ret, struct et_err *err)
{
	struct et_check_result res;
	struct et_grant_list l = { 0 };
	struct et_strlist members = { 0 };
	bool member, have_expired = false;
	const char *expired_id = NULL;
	int r = -1;

	memset(&res, 0, sizeof(res));
	if (!et_local_name_ok(user))
		return et_err_set(err, ET_E_BAD_USER, "'%.64s' is not a valid local user name", user ? user : "");
	if (!cfg->elevated_group)
		return et_err_set(err, ET_E_CONFIG, "elevated_group is not set");
	if (et_grant_store_list(cfg, user, &l, err) < 0)
		goto done;
	if (et_group_read(cfg->elevated_group, &members, NULL, err) < 0) {
		group_error_reason(err, cfg->elevated_group);
		goto done;
	}
	member = et_strlist_contains(&members, user);
	for (size_t i = 0; i < l.n; i++) {
		const struct et_grant *g = &l.items[i];
		if (is_live(g, now)) {
			if (strcmp(g->group, cfg->elevated_group) == 0 && g->expires >= res.expires) {
				res.expires = g->expires;
				snprintf(res.grant_id, sizeof(res.grant_id), "%s", g->id);
			}
		} else if (!have_expired) {
			have_expired = true;
			expired_id = g->id;
		}
	}
	if (res.expires)
		res.state = ET_GRANT_STATE_LIVE;
	else if (have_expired)
		res.state = ET_GRANT_STATE_EXPIRED;
	else if (member && !is_permanent(cfg, user) && et_group_managed(cfg, cfg->elevated_group))
		res.state = ET_GRANT_STATE_STALE_MEMBER;
	else if (member)
		res.state = ET_GRANT_STATE_PERMANENT;
	else
		res.state = ET_GRANT_STATE_NONE;
	if (res.state == ET_GRANT_STATE_EXPIRED)
		snprintf(res.grant_id, sizeof(res.grant_id), "%s", expired_id);

	if ((res.state == ET_GRANT_STATE_EXPIRED || res.state == ET_GRANT_STATE_STALE_MEMBER) &&
	    how != ET_CHECK_REPORT_ONLY) {
		struct et_audit a = { .grant_id = res.grant_id[0] ? res.grant_id : NULL,
				      .user = user,
				      .group = cfg->elevated_group,
				      .reason = res.state == ET_GRANT_STATE_EXPIRED ? "expired grant at the account check"
										  : "member without a live grant at the account check" };
		struct et_err rerr;
		et_grant_audit_note(cfg, et_audit(ET_AUDIT_REFUSED, LOG_WARNING, &a, "%s: %s, revoking it now", user, a.reason));
		if (how == ET_CHECK_REVOKE_HERE) {
			if (et_grant_sweep(cfg, user, ET_REVOKE_ACCOUNT, now, NULL, &rerr) < 0) {
				et_err_set(err, ET_E_REVOKE_FAILED, "cannot revoke the %s of %s: %s",
					   res.state == ET_GRANT_STATE_EXPIRED ? "expired grant" : "stale membership", user,
					   rerr.message);
				goto done;
			}
		} else if (!revoke_user || revoke_user(user, &rerr) < 0) {
			et_err_set(err, ET_E_REVOKE_FAILED, "cannot revoke for %s: %s", user,
				   revoke_user ? rerr.message : "no way to revoke was given");
			goto done;
		}
		res.revoked = true;
	}
	*ret = res;
	r = 0;
done:
	et_grant_list_free(&l);
	et_strlist_free(&members);
	return r;
}

int et_grant_setcred(const struct et_config *cfg, const char *user, time_t now, bool *ret_dropped,
		     struct et_err *err)
{
	struct et_grant_list l = { 0 };
	gid_t gid, *groups = NULL;
	bool keep, present = false;
	int n, m = 0, r = -1;

	if (!et_local_name_ok(user))
		return et_err_set(err, ET_E_BAD_USER, "'%.64s' is not a valid local user name", user ? user : "");
	if (!cfg->elevated_group)
		return et_err_set(err, ET_E_CONFIG, "elevated_group is not set");
	if (et_group_read(cfg->elevated_group, NULL, &gid, err) < 0) {
		group_error_reason(err, cfg->elevated_group);
		return -1;
	}
	n = getgroups(0, NULL);
	if (n < 0)
		return et_err_set(err, ET_E_SETCRED_FAILED, "cannot read the supplementary groups: %s", strerror(errno));
	groups = calloc((size_t)n + 1, sizeof(*groups));
	if (!groups)
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	n = getgroups(n, groups);
	if (n < 0) {
		et_err_set(err, ET_E_SETCRED_FAILED, "cannot read the supplementary groups: %s", strerror(errno));
		goto done;
	}
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			present = true;
	if (!present) {
		if (ret_dropped)
			*ret_dropped = false;
		r = 0;
		goto done;
	}
	/* a member of a group pam_entra_tap does not manage yet is not ours to judge */
	keep = is_permanent(cfg, user) || !et_group_managed(cfg, cfg->elevated_group);
	if (!keep) {
		if (et_grant_store_list(cfg, user, &l, err) < 0)
			goto done;
		keep = keeps_membership(cfg, &l, user, cfg->elevated_group, now, NULL);
	}
	if (keep) {
		if (ret_dropped)
			*ret_dropped = false;
		r = 0;
		goto done;
	}
	for (int i = 0; i < n; i++)
		if (groups[i] != gid)
			groups[m++] = groups[i];
	if (setgroups((size_t)m, groups) < 0) {
		et_err_set(err, ET_E_SETCRED_FAILED, "cannot drop group %s from the process: %s", cfg->elevated_group,
			   strerror(errno));
		goto done;
	}
	if (ret_dropped)
		*ret_dropped = true;
	r = 0;
done:
	free(groups);
	et_grant_list_free(&l);
	return r;
}
