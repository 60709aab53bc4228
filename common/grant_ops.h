/* SPDX-License-Identifier: Apache-2.0 */
/* What the programs and the PAM module do with grants (grant_ops.c): create, revoke, sweep,
 * the pending markers, the account check and setcred, in the order grant.h sets out. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "conf.h"
#include "err.h"
#include "grant.h"
#include "grant_store.h"

/* ---- what the helper and the PAM module do (grant_ops.c) ---- */

struct et_grant_request {
	/* the program the grant's revocation timer runs as `PROGRAM revoke ID` (timer.h);
	 * NULL: no timer (the sweep and the account check still end the grant) */
	const char *revoke_program;
	const char *user;
	long duration; /* seconds; 0: duration_default; always clamped to duration_min..max */
	/* the end of the PIM for Groups activation that allowed the sign-in: the expiry is capped
	 * there (after the clamp; then recorded as the grant's pim_until). 0: none. In the past:
	 * reason "pim_not_active". */
	time_t pim_until;
	enum et_grant_method method;
	const char *reason, *oid, *upn, *tid, *service, *rhost; /* NULL when unknown */
	/* made inside a PAM transaction: the pending marker is written under the store lock
	 * before the membership exists (it names watch_pid, the process that asked) */
	bool pending;
	pid_t watch_pid;
	/* when the user holds a live grant of the elevated group, extend that one (its id, its
	 * sessions) to this request's expiry instead of making another: `elevate` */
	bool extend;
};

long et_grant_clamp_duration(const struct et_config *cfg, long requested);

/* The audit fields of grant g (reason: the cause or the grant's reason), and the one place an
 * unreachable journal is reported (once per process) from the result of et_audit(). */
struct et_audit;
void et_grant_audit_fill(struct et_audit *a, const struct et_grant *g, const char *reason);
void et_grant_audit_note(const struct et_config *cfg, int audit_result);

/* Make a grant (or, with req->extend, extend the user's live one): (the pending marker,)
 * membership, then the store, then the revocation and warning timers (no systemd on
 * the bus: logged, and the sweep and the account check end it). Reasons include "bad_user",
 * "no_user", "bad_duration", "no_group", "store_locked", "group_locked", "too_many_grants". */
int et_grant_create(const struct et_config *cfg, const struct et_grant_request *req, time_t now,
		    struct et_grant *ret, struct et_err *err);

/* End one grant: mark it ended in its record (when it ends early), drop the membership unless
 * another live grant of the user or permanent_members keeps it, cancel its timer when it ends
 * early, and delete the record last: a failure on the way keeps the (ended) record for the
 * sweep to finish, audited at crit. With owner != (uid_t)-1,
 * only a grant of that uid may be ended (reason "not_owner"; the check is made under the
 * lock). ret (optional) gets the grant that ended. Cause ET_REVOKE_EXPIRY on a grant that
 * has not expired yet is recorded as ET_REVOKE_ADMIN. */
int et_grant_revoke(const struct et_config *cfg, const char *id, enum et_revoke_cause cause, uid_t owner,
		    time_t now, struct et_grant *ret, struct et_err *err);
/* End every grant of user (ret_count: how many). No grant is not an error; the membership is
 * still reconciled. */
int et_grant_revoke_user(const struct et_config *cfg, const char *user, enum et_revoke_cause cause, time_t now,
			 unsigned *ret_count, struct et_err *err);

/* Pending grants: a grant made during a PAM sign-in is *pending* until the login succeeds.
 * The module writes the marker {state_dir}/pending/ID and starts a guard (the root program's
 * `guard ID PID [PID]`), which waits at most ET_GUARD_WAIT_S for those processes to end and then
 * revokes the grant (cause login_failed) if the marker is still there. A successful login
 * removes the marker. A marker that outlives its guard (reboot, kill) is settled by the full
 * sweep: without a grant it is removed; older than ET_GUARD_WAIT_S + ET_GUARD_MARGIN_S with
 * its grant still there, the grant is revoked (login_failed) and the marker removed. */
#define ET_GUARD_WAIT_S 600
#define ET_GUARD_MARGIN_S 60
/* "{state_dir}/pending/ID" into buf; -1 on a bad id or a path that does not fit. */
int et_pending_marker_path(const struct et_config *cfg, const char *id, char *buf, size_t size);

struct et_sweep_result {
	unsigned expired;         /* grants ended because they expired */
	unsigned quarantined;     /* corrupt grant files moved aside */
	unsigned members_added;   /* users with a live grant who were missing from the group */
	unsigned members_removed; /* members without a live grant (and not permanent) */
	unsigned pending_revoked; /* full sweep: grants of logins that never settled (login_failed) */
	unsigned pending_removed; /* full sweep: markers removed (grant gone, or just revoked) */
};
/* Revoke every expired grant and reconcile the elevated group with the store. With user,
 * only that user's grants and membership are looked at; without, the pending markers are
 * settled as well (see ET_GUARD_WAIT_S); `now` decides a marker's age (its mtime). cause: ET_REVOKE_SWEEP or
 * ET_REVOKE_ACCOUNT (recorded in the audit trail). */
int et_grant_sweep(const struct et_config *cfg, const char *user, enum et_revoke_cause cause, time_t now,
		   struct et_sweep_result *ret, struct et_err *err);

/* Cut every live grant that is longer than duration_max allows now (created + duration_max,
 * breakglass_duration_max for a voucher's grant) to that, audited ("cut") with its timers set
 * again through revoke_program; one already past its new end is left for the sweep that
 * follows. Nothing under a fallback configuration (lastgood.h). ret_cut: how many. */
int et_grant_cut(const struct et_config *cfg, const char *revoke_program, time_t now, unsigned *ret_cut,
		 struct et_err *err);

/* Whether pam_entra_tap manages group (grant_ops.c: {state_dir}/managed/GROUP); until it
 * does, a group that holds members nobody granted is never emptied. */
bool et_group_managed(const struct et_config *cfg, const char *group);
/* Members of group that no grant of the store (live or ended) nor permanent_members accounts
 * for, into ret (appended). */
int et_group_unaccounted(const struct et_config *cfg, const char *group, struct et_strlist *ret, struct et_err *err);
/* The administrator's decision to let pam_entra_tap manage elevated_group as it is: the next
 * sweep removes every member without a live grant (permanent_members excepted). */
int et_group_adopt(const struct et_config *cfg, struct et_err *err);

/* ---- the account phase and setcred (grant_ops.c) ---- */

enum et_grant_state {
	ET_GRANT_STATE_LIVE,         /* a live grant */
	ET_GRANT_STATE_NONE,         /* no grant and not a member */
	ET_GRANT_STATE_PERMANENT,    /* a member through permanent_members, no live grant */
	ET_GRANT_STATE_STALE_MEMBER, /* a member without a live grant: revoked on the spot */
	ET_GRANT_STATE_EXPIRED,      /* an expired grant: revoked on the spot */
};
const char *et_grant_state_name(enum et_grant_state s);

enum et_check_revoke {
	ET_CHECK_REPORT_ONLY,   /* change nothing */
	ET_CHECK_REVOKE_BY,     /* the PAM module: the caller's revoke_user (a program of its own) */
	ET_CHECK_REVOKE_HERE,   /* a root program: revoke in this process */
};
/* ET_CHECK_REVOKE_BY: end the expired grants and the stale membership of user (as
 * et_grant_sweep(cfg, user, ET_REVOKE_ACCOUNT, ...) would) and return 0, or fail. */
typedef int (*et_revoke_user_fn)(const char *user, struct et_err *err);

struct et_check_result {
	enum et_grant_state state;
	bool revoked;                          /* STALE_MEMBER / EXPIRED: the revocation ran */
	time_t expires;                        /* LIVE: the latest expiry of the user's live grants */
	char grant_id[ET_GRANT_ID_HEX + 1];    /* LIVE / EXPIRED: the grant in question */
};
/* Decide the user's state at `now` from the store and /etc/group, without taking any lock.
 * STALE_MEMBER and EXPIRED are revoked on the spot as `how` says; a failed revocation is an
 * error (reason "revoke_failed"): the caller must deny. */
int et_grant_check(const struct et_config *cfg, const char *user, time_t now, enum et_check_revoke how,
		   et_revoke_user_fn revoke_user, struct et_check_result *ret, struct et_err *err);

/* For pam_sm_setcred: when user has no live grant (and is not a permanent member), remove the
 * elevated group's gid from this process's supplementary groups. ret_dropped (optional):
 * whether it was there and was removed. */
int et_grant_setcred(const struct et_config *cfg, const char *user, time_t now, bool *ret_dropped,
		     struct et_err *err);
