/* Grants: membership of a local user in the elevated group for a bounded time.
 *
 * The store, one file per grant in {state_dir}/grants/ (root, 0700), is the source of truth;
 * the group files follow it. Every mutation (create, revoke, sweep) runs under the store lock
 * ({state_dir}/lock, flock) and then the group-file locks (see groupfile.h), in that order,
 * and only in a process of its own: the helper. The PAM module reads the store and the group
 * file itself but changes them only by running the helper's root verbs (et_helper_run).
 *
 * Ordering, so that a kill at any instant fails closed and the sweep repairs the rest:
 *   create: add the member, then write the grant (a member without a grant is removed by the
 *           sweep; a grant never exists whose membership was not made);
 *   revoke: delete the grant, then remove the member (a left-over member has no grant and is
 *           removed by the sweep).
 * The sweep reconciles both ways: members without a live grant go (unless listed in
 * permanent_members), users with a live grant are members. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "config.h"
#include "err.h"
#include "text.h" /* et_text_sanitize, for the text fields of a grant */

#ifndef SBINDIR
#define SBINDIR "/usr/sbin"
#endif
#define ET_HELPER_PATH SBINDIR "/entra-tap-helper"

#define ET_GRANT_ID_HEX 32       /* 128 random bits */
#define ET_GRANT_NAME_MAX 32     /* user and group names */
#define ET_GRANT_TEXT_MAX 256    /* reason, upn, rhost: bytes, after sanitising */
#define ET_GRANT_SHORT_MAX 64    /* oid, tid, service */
#define ET_GRANT_FILE_MAX 4096   /* one grant file */
#define ET_GRANTS_MAX 4096       /* grant files in the store */
#define ET_GRANT_LOCK_WAIT_MS 30000
#define ET_GRANT_FORMAT_VERSION 1

enum et_grant_method {
	ET_GRANT_METHOD_TAP,
	ET_GRANT_METHOD_DEVICE_CODE,
	ET_GRANT_METHOD_TOKEN,
	ET_GRANT_METHOD_BREAKGLASS,
	ET_GRANT_METHOD_ADMIN,
};

enum et_revoke_cause {
	ET_REVOKE_EXPIRY,  /* the grant's own timer, at expiry */
	ET_REVOKE_DROP,    /* the user ended it */
	ET_REVOKE_ADMIN,   /* root ended it before expiry */
	ET_REVOKE_SWEEP,   /* the periodic or boot sweep found it expired */
	ET_REVOKE_ACCOUNT, /* the PAM account check found it expired */
	ET_REVOKE_LOGIN_FAILED, /* made during a sign-in whose login never succeeded (guard, sweep) */
};

struct et_grant {
	char id[ET_GRANT_ID_HEX + 1];
	char user[ET_GRANT_NAME_MAX + 1];
	uid_t uid;
	char group[ET_GRANT_NAME_MAX + 1];
	time_t created, expires; /* seconds since the epoch, UTC */
	enum et_grant_method method;
	char oid[ET_GRANT_SHORT_MAX + 1];
	char upn[ET_GRANT_TEXT_MAX + 1];
	char tid[ET_GRANT_SHORT_MAX + 1];
	char reason[ET_GRANT_TEXT_MAX + 1];
	char service[ET_GRANT_SHORT_MAX + 1];
	char rhost[ET_GRANT_TEXT_MAX + 1];
	bool added_membership; /* the user was not a member before this grant */
};

struct et_grant_list {
	struct et_grant *items;
	size_t n;
	size_t n_corrupt; /* files that could not be read; reported through cfg->log */
};
void et_grant_list_free(struct et_grant_list *l);

const char *et_grant_method_name(enum et_grant_method m);
int et_grant_method_parse(const char *s, enum et_grant_method *ret);
const char *et_revoke_cause_name(enum et_revoke_cause c);

/* ---- the store (grant_store.c) ---- */

/* A new id: 32 lowercase hex digits from getrandom(). */
int et_grant_id_new(char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err);
bool et_grant_id_ok(const char *id);
/* The file format, exposed for tests and fuzzing: "entra-tap-grant 1" then one key=value per
 * line, every key exactly once, then "end". Unknown keys, missing keys, bad values, a missing
 * "end" (truncation) are errors with reason "corrupt_grant". */
int et_grant_format(const struct et_grant *g, char *buf, size_t size, size_t *ret_len, struct et_err *err);
int et_grant_parse(const char *text, size_t len, struct et_grant *ret, struct et_err *err);

/* Create {state_dir} and {state_dir}/grants when missing (root, 0700); refuse unsafe ones. */
int et_grant_store_prepare(const struct et_config *cfg, struct et_err *err);
/* The store lock; waits at most timeout_ms. Reason "store_locked" on timeout. */
int et_grant_store_lock(const struct et_config *cfg, int timeout_ms, int *ret_fd, struct et_err *err);
void et_grant_store_unlock(int fd);
/* Atomic and durable: temp file, fsync, rename, fsync the directory. */
int et_grant_store_write(const struct et_config *cfg, const struct et_grant *g, struct et_err *err);
/* Reasons: "bad_id", "not_found", "corrupt_grant", "read_failed". */
int et_grant_store_read(const struct et_config *cfg, const char *id, struct et_grant *ret, struct et_err *err);
/* Delete durably (unlink, fsync the directory). Reason "not_found" when absent. */
int et_grant_store_remove(const struct et_config *cfg, const char *id, struct et_err *err);
/* Every readable grant (of user, when not NULL), ordered by expiry. A corrupt file is logged,
 * counted and skipped: it never hides the other grants. */
int et_grant_store_list(const struct et_config *cfg, const char *user, struct et_grant_list *ret,
			struct et_err *err);
/* How many grant files there are (without reading them). */
int et_grant_store_count(const struct et_config *cfg, size_t *ret_count, struct et_err *err);
/* Under the store lock: remove temp files left by a killed writer and move corrupt grant
 * files aside ("<id>.grant.corrupt") so they are reported once. ret_quarantined (optional)
 * counts the latter. */
int et_grant_store_tidy(const struct et_config *cfg, unsigned *ret_quarantined, struct et_err *err);

/* ---- what the helper and the PAM module do (grant_ops.c) ---- */

struct et_grant_request {
	const char *user;
	long duration; /* seconds; 0: duration_default; always clamped to duration_min..max */
	enum et_grant_method method;
	const char *reason, *oid, *upn, *tid, *service, *rhost; /* NULL when unknown */
};

long et_grant_clamp_duration(const struct et_config *cfg, long requested);

/* Make a grant: membership first, then the store, then the revocation timer (no systemd on
 * the bus: logged, and the sweep and the account check end it). Reasons include "bad_user",
 * "no_user", "bad_duration", "no_group", "store_locked", "group_locked", "too_many_grants". */
int et_grant_create(const struct et_config *cfg, const struct et_grant_request *req, time_t now,
		    struct et_grant *ret, struct et_err *err);

/* End one grant: delete it, then drop the membership unless another live grant of the user or
 * permanent_members keeps it; cancel its timer when it ends early. With owner != (uid_t)-1,
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
 * The module writes the marker {state_dir}/pending/ID and starts `entra-tap-helper guard ID
 * PID [PID]`, which waits at most ET_GUARD_WAIT_S for those processes to end and then
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
	ET_CHECK_REVOKE_HELPER, /* the PAM module: run the helper's root verb (et_helper_run) */
	ET_CHECK_REVOKE_HERE,   /* the helper itself: revoke in this process */
};

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
		   struct et_check_result *ret, struct et_err *err);

/* For pam_sm_setcred: when user has no live grant (and is not a permanent member), remove the
 * elevated group's gid from this process's supplementary groups. ret_dropped (optional):
 * whether it was there and was removed. */
int et_grant_setcred(const struct et_config *cfg, const char *user, time_t now, bool *ret_dropped,
		     struct et_err *err);

/* Run the helper (ET_HELPER_PATH) with fixed argv (argv[0] included) and an empty
 * environment, as a full root process when the caller's euid is 0; reaps only its own child.
 * ret_exit gets the helper's exit status (enum et_helper_exit). */
#define ET_HELPER_TIMEOUT_MS 60000
int et_helper_run(const char *const argv[], int *ret_exit, struct et_err *err);
/* The same with another program (tests). */
int et_helper_run_path(const char *path, const char *const argv[], int timeout_ms, int *ret_exit,
		       struct et_err *err);
/* The same, with the helper's standard output captured (et_spawn_capture: at most
 * out_size - 1 bytes, NUL-terminated; ret_len optional; more is "output_too_long"). */
#define ET_HELPER_OUTPUT_MAX 256
int et_helper_run_capture(const char *const argv[], char *out, size_t out_size, size_t *ret_len, int *ret_exit,
			  struct et_err *err);
int et_helper_run_path_capture(const char *path, const char *const argv[], int timeout_ms, char *out,
			       size_t out_size, size_t *ret_len, int *ret_exit, struct et_err *err);
/* The machine line of `entra-tap-helper grant`: its standard output is exactly the new
 * grant's id (ET_GRANT_ID_HEX lowercase hex digits) and one "\n", nothing else; sentences for
 * people go to standard error. Parse the captured output (len bytes) into ret_id. Reasons:
 * "no_grant_id" (nothing printed), "bad_grant_id" (anything but one valid id line). */
int et_helper_grant_id_parse(const char *out, size_t len, char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err);

/* The helper's exit statuses: one per class of outcome. */
enum et_helper_exit {
	ET_EXIT_OK = 0,
	ET_EXIT_FAILED = 1,    /* an operational error */
	ET_EXIT_USAGE = 2,     /* bad arguments */
	ET_EXIT_DENIED = 3,    /* not allowed for this caller */
	ET_EXIT_NOT_FOUND = 4, /* no such grant / user */
	ET_EXIT_CONFIG = 5,    /* the configuration cannot be used */
	ET_EXIT_BUSY = 6,      /* a lock could not be taken in time */
	ET_EXIT_NO_GROUP = 7,  /* the elevated group does not exist */
	ET_EXIT_UNSAFE = 8,    /* refused to run: argc 0, not setuid root, bad environment */
	ET_EXIT_UNAVAILABLE = 9, /* a reserved verb that is not available yet */
	ET_EXIT_IDP_UNAVAILABLE = 10, /* elevate: the identity provider could not be reached */
};
