/* SPDX-License-Identifier: Apache-2.0 */
/* The grant after a verified sign-in: made by entra-tap-grantctl (helper_cmd.c: fork + exec
 * with a fixed argv and an empty environment; the group files are never edited inside sshd
 * or sudo), announced to the person, and remembered so that a transaction that fails later
 * (account phase, a later module, pam_end with an error) leaves no grant behind.
 *
 * Until the transaction succeeds the grant is *pending*, and three records of it exist:
 *   - pam_set_data in the process that made it: its cleanup revokes the grant when pam_end
 *     reports a failure and no session was opened, and settles it otherwise;
 *   - the PAM environment variable ENTRA_TAP_GRANT_ID, which sshd carries from its
 *     authentication child back to the process that runs pam_end and opens the session.
 *     The account phase there adopts it (pam_set_data again, after checking in the store that
 *     the grant is this user's), so a failure seen by that process revokes it too;
 *   - a marker {state_dir}/pending/ID and a guard process. sshd runs pam_authenticate *and*
 *     pam_acct_mgmt in a child that exits without pam_end, and passes the environment back
 *     only on success: when another account module refuses there, no process of ours would
 *     ever learn of the failure. Both come from the one root step that makes the grant
 *     (`entra-tap-grantctl grant ... --watch PID,PPID`): the marker is written under the store
 *     lock before the membership exists, and grantctl forks the guard before it reports the
 *     grant, out of the caller's session, so a caller killed at any moment (kill -9 of its
 *     own sudo, Ctrl-C in elevate) leaves no unguarded grant. The guard waits for the process
 *     that made the grant and its parent (sshd's connection process) to end, at most
 *     ET_GUARD_WAIT_S; if the marker is still there by then, nobody settled the grant and it
 *     revokes it (cause login_failed). A marker whose guard died (reboot, kill) is settled by
 *     the sweep.
 *     Establishing credentials (pam_setcred, which applications call only for a user they
 *     accepted), opening a session, or pam_end with success remove the marker (the
 *     transaction succeeded); a revocation removes it too.
 * The grant store stays the source of truth: the account phase and setcred read it, never
 * these records. */
#include "module.h"
#include "grant_ops.h"
#include "grant_store.h"
#include "json_strict.h"
#include "fsutil.h"
#include "audit.h"
#include "wall.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_ext.h>

struct pending_grant {
	char id[ET_GRANT_ID_HEX + 1];
	char user[ET_GRANT_NAME_MAX + 1];
	char marker[PATH_MAX]; /* {state_dir}/pending/ID */
	bool confirmed;        /* a session was opened: the transaction succeeded */
};

static int marker_path(const struct et_config *cfg, const char *id, char *buf, size_t size)
{
	return et_pending_marker_path(cfg, id, buf, size);
}

/* The transaction is settled (succeeded, or the grant was revoked): the guard stands down. */
static void marker_remove(const char *path)
{
	if (path[0])
		(void)unlink(path);
}

static void pending_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	struct pending_grant *p = data;
	if (!p)
		return;
	/* PAM_DATA_REPLACE: another record took over; this grant's marker stays for its guard */
	if (!(error_status & PAM_DATA_REPLACE) && !p->confirmed && (error_status & ~PAM_DATA_SILENT) != PAM_SUCCESS &&
	    p->id[0]) {
		struct et_err err;
		if (et_cmd_revoke(p->id, &err) < 0) {
			/* the marker stays: the guard tries again when this process ends */
			pam_syslog(pamh, LOG_ERR, "%s: cannot revoke grant %s of a failed login: %s", p->user, p->id,
				   err.message);
		} else {
			pam_syslog(pamh, LOG_NOTICE, "%s: grant %s revoked: the login failed after sign-in", p->user,
				   p->id);
			marker_remove(p->marker);
		}
	} else if (!(error_status & PAM_DATA_REPLACE)) {
		marker_remove(p->marker); /* the transaction succeeded, or the grant was revoked already */
	}
	explicit_bzero(p, sizeof(*p));
	free(p);
}

static void local_time(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

/* Make the grant, read it back from the store and check that it is the one asked for. */
static int make_grant(struct et_pam *m, const struct et_cmd_grant_args *a, enum et_grant_method method,
		      struct et_grant *ret, struct et_err *err)
{
	char id[ET_GRANT_ID_HEX + 1];
	if (et_cmd_grant(a, id, err) < 0)
		return -1;
	if (et_grant_store_read(&m->cfg, id, ret, err) < 0)
		return -1;
	if (strcmp(ret->user, m->user) != 0 || ret->method != method)
		return et_err_set(err, ET_E_GRANT_MISMATCH, "grant %s reported by %s is not the one asked for %s", id,
				  ET_GRANTCTL_NAME, m->user);
	return 0;
}

/* A break-glass grant started: every terminal on the host is told, and the journal. */
static void breakglass_announce(struct et_pam *m, const struct et_grant *g, const char *until)
{
	char line[512];
	unsigned sent = 0;
	struct et_err err;
	struct et_audit a = { .grant_id = g->id,
			      .user = m->user,
			      .group = g->group,
			      .expires = g->expires,
			      .method = "breakglass",
			      .reason = g->reason,
			      .service = m->service,
			      .rhost = m->rhost[0] ? m->rhost : NULL,
			      .voucher_kid = m->breakglass_kid,
			      .voucher_jti = m->breakglass_jti };
	snprintf(line, sizeof(line), "BREAK-GLASS on %s: %s is in group %s until %s (voucher %s, key %s, grant %s)",
		 m->host, m->user, g->group, until, m->breakglass_jti, m->breakglass_kid, g->id);
	if (et_wall(NULL, line, &sent, &err) < 0)
		pam_syslog(m->pamh, LOG_WARNING, "%s: break-glass: terminals not told: %s", m->user, err.message);
	(void)et_audit(ET_AUDIT_BREAKGLASS, LOG_ALERT, &a, "break-glass grant %s: %s in group %s until %s (voucher %s)",
		       g->id, m->user, g->group, until, m->breakglass_jti);
	pam_syslog(m->pamh, LOG_ALERT, "%s: break-glass grant %s until %s; %u terminal(s) told", m->user, g->id, until,
		   sent);
}

/* Take back a grant this transaction just made (it could not be guarded or remembered). */
static void undo_grant(const char *id)
{
	struct et_err err;
	(void)et_cmd_revoke(id, &err);
}

/* The user's live grant of the elevated group that ends last, if any ("" when none). */
static void live_grant_id(struct et_pam *m, char id[ET_GRANT_ID_HEX + 1])
{
	struct et_grant_list l = { 0 };
	const struct et_grant *g;
	struct et_err err;
	id[0] = '\0';
	if (et_grant_store_list(&m->cfg, m->user, &l, &err) < 0)
		return;
	g = et_grant_latest_live(&l, m->cfg.elevated_group, time(NULL));
	if (g)
		snprintf(id, ET_GRANT_ID_HEX + 1, "%s", g->id);
	et_grant_list_free(&l);
}

int et_pam_grant(struct et_pam *m, json_object *claims, const char *method)
{
	enum et_grant_method gm = ET_GRANT_METHOD_DEVICE_CODE;
	const char *oid = et_json_get_string(claims, "oid"), *tid = et_json_get_string(claims, "tid");
	const char *upn = et_json_get_string(claims, "preferred_username");
	const char *duration = NULL, *reason = NULL;
	char reason_buf[ET_GRANT_TEXT_MAX + 1], dur_buf[32], pim_buf[32], until[64], env[64];
	char live_id[ET_GRANT_ID_HEX + 1] = "";
	struct et_cmd_grant_args args = { 0 };
	struct pending_grant *p = NULL;
	struct et_grant g;
	struct et_err err;
	long seconds = 0;

	if (et_grant_method_parse(method, &gm) < 0)
		gm = ET_GRANT_METHOD_DEVICE_CODE;
	/* duration and reason only from `entra-tap-helper elevate`, never from another service's
	 * environment */
	if (strcmp(m->service, ET_PAM_SERVICE) == 0) {
		const char *d = pam_getenv(m->pamh, ET_PAM_ENV_DURATION);
		if (d && et_duration_parse(d, &seconds) == 0) {
			snprintf(dur_buf, sizeof(dur_buf), "%ld", seconds);
			duration = dur_buf;
		}
		reason = pam_getenv(m->pamh, ET_PAM_ENV_REASON);
	}
	/* a break-glass voucher brings its own length (already capped by breakglass_duration_max)
	 * and reason, whatever the service */
	if (gm == ET_GRANT_METHOD_BREAKGLASS && m->breakglass_duration > 0) {
		snprintf(dur_buf, sizeof(dur_buf), "%ld", m->breakglass_duration);
		duration = dur_buf;
		reason = m->breakglass_reason;
	}
	if (!reason || !*reason) {
		snprintf(reason_buf, sizeof(reason_buf), "sign-in via %s", m->service[0] ? m->service : "PAM");
		reason = reason_buf;
	} else {
		et_text_sanitize(reason, reason_buf, sizeof(reason_buf));
		reason = reason_buf;
	}
	if (!upn)
		upn = et_json_get_string(claims, "upn");

	args.user = m->user;
	args.method = et_grant_method_name(gm);
	args.reason = reason;
	args.duration = duration;
	args.oid = oid;
	args.tid = tid;
	args.upn = upn;
	args.service = m->service;
	args.rhost = m->rhost;
	/* the PIM activation that allowed the sign-in caps the grant (grantctl: after the clamp) */
	if (m->pim_found && m->pim_until > 0) {
		snprintf(pim_buf, sizeof(pim_buf), "%lld", (long long)m->pim_until);
		args.pim_until = pim_buf;
	}
	args.pending = true;
	/* `elevate` with a live grant extends it (contract.h, --extend) */
	args.extend = strcmp(m->service, ET_PAM_SERVICE) == 0;
	if (args.extend)
		live_grant_id(m, live_id);

	if (make_grant(m, &args, gm, &g, &err) < 0) {
		pam_syslog(m->pamh, LOG_ERR, "%s: signed in, but the grant could not be made (%s): %s", m->user,
			   err.reason, err.message);
		et_pam_error(m, "You signed in, but the elevation could not be granted%s; the administrator can find "
				"why in the system log.",
			     err.code == ET_E_NO_GROUP ? " (the elevated group is missing)" : "");
		return PAM_SYSTEM_ERR;
	}
	if (live_id[0] && strcmp(live_id, g.id) == 0) {
		/* an extension: the grant was settled by the login that made it; this transaction
		 * failing later must not take it back */
		snprintf(env, sizeof(env), "%s=%s", ET_PAM_ENV_GRANT_ID, g.id);
		if (pam_putenv(m->pamh, env) != PAM_SUCCESS)
			pam_syslog(m->pamh, LOG_WARNING, "%s: cannot put the grant id into the PAM environment", m->user);
		local_time(g.expires, until, sizeof(until));
		pam_syslog(m->pamh, LOG_INFO, "%s: grant %s extended: group %s until %lld", m->user, g.id, g.group,
			   (long long)g.expires);
		(void)pam_prompt(m->pamh, PAM_TEXT_INFO, NULL, "%s's elevation is extended: group %s until %s%s (grant %s).",
				 m->user, g.group, until, g.pim_until ? " (when the PIM activation ends)" : "", g.id);
		return PAM_SUCCESS;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		undo_grant(g.id);
		return PAM_BUF_ERR;
	}
	snprintf(p->id, sizeof(p->id), "%s", g.id);
	snprintf(p->user, sizeof(p->user), "%s", m->user);
	if (marker_path(&m->cfg, g.id, p->marker, sizeof(p->marker)) < 0)
		p->marker[0] = '\0';
	if (pam_set_data(m->pamh, ET_PAM_DATA_GRANT, p, pending_cleanup) != PAM_SUCCESS) {
		undo_grant(g.id);
		marker_remove(p->marker);
		free(p);
		pam_syslog(m->pamh, LOG_ERR, "%s: cannot remember grant %s; revoked it", m->user, g.id);
		return PAM_SYSTEM_ERR;
	}
	snprintf(env, sizeof(env), "%s=%s", ET_PAM_ENV_GRANT_ID, g.id);
	if (pam_putenv(m->pamh, env) != PAM_SUCCESS)
		pam_syslog(m->pamh, LOG_WARNING, "%s: cannot put the grant id into the PAM environment", m->user);
	local_time(g.expires, until, sizeof(until));
	pam_syslog(m->pamh, LOG_INFO, "%s: grant %s: group %s until %lld", m->user, g.id, g.group, (long long)g.expires);
	if (gm == ET_GRANT_METHOD_BREAKGLASS)
		breakglass_announce(m, &g, until);
	/* shown even under PAM_SILENT: the person asked for exactly this */
	(void)pam_prompt(m->pamh, PAM_TEXT_INFO, NULL, "%s is now in group %s until %s%s (grant %s).", m->user,
			 g.group, until, g.pim_until ? " (when the PIM activation ends)" : "", g.id);
	return PAM_SUCCESS;
}

/* The grant named by the PAM environment, if it is a grant of this user in the store. */
static int env_grant(struct et_pam *m, struct et_grant *ret)
{
	const char *id = pam_getenv(m->pamh, ET_PAM_ENV_GRANT_ID);
	struct et_err err;
	if (!id || !et_grant_id_ok(id))
		return -1;
	if (et_grant_store_read(&m->cfg, id, ret, &err) < 0 || strcmp(ret->user, m->user) != 0)
		return -1;
	return 0;
}

void et_pam_grant_confirm(struct et_pam *m)
{
	const void *data = NULL;
	struct et_grant g;
	char path[PATH_MAX];
	if (pam_get_data(m->pamh, ET_PAM_DATA_GRANT, &data) == PAM_SUCCESS && data) {
		struct pending_grant *p = (struct pending_grant *)(void *)(uintptr_t)data;
		p->confirmed = true;
		marker_remove(p->marker);
	}
	/* sshd opens the session in another process than the one that made the grant */
	if (env_grant(m, &g) == 0 && marker_path(&m->cfg, g.id, path, sizeof(path)) == 0)
		marker_remove(path);
}

void et_pam_grant_adopt(struct et_pam *m)
{
	const void *data = NULL;
	struct pending_grant *p;
	struct et_grant g;
	if (pam_get_data(m->pamh, ET_PAM_DATA_GRANT, &data) == PAM_SUCCESS && data)
		return; /* this process made (or adopted) the grant itself */
	if (env_grant(m, &g) < 0)
		return;
	p = calloc(1, sizeof(*p));
	if (!p) {
		pam_syslog(m->pamh, LOG_ERR, "%s: out of memory: grant %s is left to its guard", m->user, g.id);
		return;
	}
	snprintf(p->id, sizeof(p->id), "%s", g.id);
	snprintf(p->user, sizeof(p->user), "%s", m->user);
	if (marker_path(&m->cfg, g.id, p->marker, sizeof(p->marker)) < 0)
		p->marker[0] = '\0';
	if (pam_set_data(m->pamh, ET_PAM_DATA_GRANT, p, pending_cleanup) != PAM_SUCCESS) {
		free(p);
		pam_syslog(m->pamh, LOG_ERR, "%s: cannot remember grant %s: it is left to its guard", m->user, g.id);
		return;
	}
	if (m->debug)
		pam_syslog(m->pamh, LOG_DEBUG, "%s: grant %s from the PAM environment is pending in this process", m->user,
			   g.id);
}

int et_pam_revoke_id(struct et_pam *m, const char *id, const char *why)
{
	struct et_grant g;
	struct et_err err;
	if (!et_grant_id_ok(id))
		return -1;
	/* only a grant of this user: the id came through the PAM environment */
	if (et_grant_store_read(&m->cfg, id, &g, &err) < 0 || strcmp(g.user, m->user) != 0)
		return -1;
	if (et_cmd_revoke(id, &err) < 0) {
		pam_syslog(m->pamh, LOG_ERR, "%s: cannot revoke grant %s (%s): %s", m->user, id, why, err.message);
		return -1;
	}
	pam_syslog(m->pamh, LOG_NOTICE, "%s: grant %s revoked (%s)", m->user, id, why);
	return 0;
}

int et_pam_grant_revoke_pending(struct et_pam *m, const char *why)
{
	const void *data = NULL;
	struct pending_grant *p;
	int r;
	if (pam_get_data(m->pamh, ET_PAM_DATA_GRANT, &data) != PAM_SUCCESS || !data)
		return 0;
	p = (struct pending_grant *)(void *)(uintptr_t)data;
	if (!p->id[0])
		return 0;
	r = et_pam_revoke_id(m, p->id, why);
	if (r == 0)
		marker_remove(p->marker);
	p->id[0] = '\0';
	return r;
}
