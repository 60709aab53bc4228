/* The grant after a verified sign-in: made by the root-only helper verb (fork + exec with a
 * fixed argv and an empty environment: the group files are never edited inside sshd or
 * sudo), announced to the person, and remembered so that a transaction that fails later
 * (account phase, a later module, pam_end with an error) leaves no grant behind.
 *
 * Two records of the pending grant: pam_set_data (this process: its cleanup revokes the
 * grant when pam_end reports a failure and no session was opened) and the PAM environment
 * variable ENTRA_TAP_GRANT_ID, which sshd carries from its authentication child back to the
 * process that opens (and closes) the session. The grant store stays the source of truth:
 * the account phase and setcred read it, never these records. */
#include "module.h"
#include "grant.h"
#include "json_strict.h"
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_ext.h>

struct pending_grant {
	char id[ET_GRANT_ID_HEX + 1];
	char user[ET_GRANT_NAME_MAX + 1];
	bool confirmed; /* a session was opened: the transaction succeeded */
};

static int run_helper(const char *const argv[], struct et_err *err)
{
	int status = -1;
	if (et_helper_run(argv, &status, err) < 0)
		return -1;
	if (status != ET_EXIT_OK)
		return et_err_set(err, status == ET_EXIT_NO_GROUP ? "no_group" : "helper_failed",
				  "%s %s exited with status %d", ET_HELPER_PATH, argv[1], status);
	return 0;
}

static void pending_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	struct pending_grant *p = data;
	if (!p)
		return;
	if (!(error_status & PAM_DATA_REPLACE) && !p->confirmed && (error_status & ~PAM_DATA_SILENT) != PAM_SUCCESS &&
	    p->id[0]) {
		const char *argv[] = { "entra-tap-helper", "revoke", p->id, NULL };
		struct et_err err;
		if (run_helper(argv, &err) < 0)
			pam_syslog(pamh, LOG_ERR, "%s: cannot revoke grant %s of a failed login: %s", p->user, p->id,
				   err.message);
		else
			pam_syslog(pamh, LOG_NOTICE, "%s: grant %s revoked: the login failed after sign-in", p->user,
				   p->id);
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

/* Make the grant: the helper prints the new grant's id as its only line on standard output
 * (et_helper_grant_id_parse); read that grant back from the store and check that it is the
 * one asked for. */
static int make_grant(struct et_pam *m, const char *const argv[], enum et_grant_method method, struct et_grant *ret,
		      struct et_err *err)
{
	char out[ET_HELPER_OUTPUT_MAX], id[ET_GRANT_ID_HEX + 1];
	size_t len = 0;
	int status = -1;
	if (et_helper_run_capture(argv, out, sizeof(out), &len, &status, err) < 0)
		return -1;
	if (status != ET_EXIT_OK)
		return et_err_set(err, status == ET_EXIT_NO_GROUP ? "no_group" : "helper_failed",
				  "%s grant exited with status %d", ET_HELPER_PATH, status);
	if (et_helper_grant_id_parse(out, len, id, err) < 0)
		return -1;
	if (et_grant_store_read(&m->cfg, id, ret, err) < 0)
		return -1;
	if (strcmp(ret->user, m->user) != 0 || ret->method != method)
		return et_err_set(err, "grant_mismatch", "grant %s reported by %s is not the one asked for %s", id,
				  ET_HELPER_PATH, m->user);
	return 0;
}

int et_pam_grant(struct et_pam *m, json_object *claims, const char *method)
{
	enum et_grant_method gm = ET_GRANT_METHOD_DEVICE_CODE;
	const char *oid = et_json_get_string(claims, "oid"), *tid = et_json_get_string(claims, "tid");
	const char *upn = et_json_get_string(claims, "preferred_username");
	const char *duration = NULL, *reason = NULL;
	char reason_buf[ET_GRANT_TEXT_MAX + 1], dur_buf[32], until[64], env[64];
	const char *argv[24];
	struct pending_grant *p = NULL;
	struct et_grant g;
	struct et_err err;
	long seconds = 0;
	int n = 0;

	if (et_grant_method_parse(method, &gm) < 0)
		gm = ET_GRANT_METHOD_DEVICE_CODE;
	/* duration and reason only from `entra-tap-helper elevate`, never from another service's
	 * environment */
	if (strcmp(m->service, ET_PAM_ELEVATE_SERVICE) == 0) {
		const char *d = pam_getenv(m->pamh, ET_PAM_ENV_DURATION);
		if (d && et_duration_parse(d, &seconds) == 0) {
			snprintf(dur_buf, sizeof(dur_buf), "%ld", seconds);
			duration = dur_buf;
		}
		reason = pam_getenv(m->pamh, ET_PAM_ENV_REASON);
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

	argv[n++] = "entra-tap-helper";
	argv[n++] = "grant";
	argv[n++] = m->user;
	argv[n++] = "--method";
	argv[n++] = et_grant_method_name(gm);
	argv[n++] = "--reason";
	argv[n++] = reason;
	if (duration) {
		argv[n++] = "--duration";
		argv[n++] = duration;
	}
	if (oid && strlen(oid) <= ET_GRANT_SHORT_MAX) {
		argv[n++] = "--oid";
		argv[n++] = oid;
	}
	if (tid && strlen(tid) <= ET_GRANT_SHORT_MAX) {
		argv[n++] = "--tid";
		argv[n++] = tid;
	}
	if (upn && strlen(upn) <= ET_GRANT_TEXT_MAX) {
		argv[n++] = "--upn";
		argv[n++] = upn;
	}
	if (m->service[0] && strlen(m->service) <= ET_GRANT_SHORT_MAX) {
		argv[n++] = "--service";
		argv[n++] = m->service;
	}
	if (m->rhost[0] && strlen(m->rhost) <= ET_GRANT_TEXT_MAX) {
		argv[n++] = "--rhost";
		argv[n++] = m->rhost;
	}
	argv[n] = NULL;

	if (make_grant(m, argv, gm, &g, &err) < 0) {
		pam_syslog(m->pamh, LOG_ERR, "%s: signed in, but the grant could not be made (%s): %s", m->user,
			   err.reason, err.message);
		et_pam_error(m, "You signed in, but the elevation could not be granted%s; the administrator can find "
				"why in the system log.",
			     strcmp(err.reason, "no_group") == 0 ? " (the elevated group is missing)" : "");
		return PAM_SYSTEM_ERR;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		const char *rv[] = { "entra-tap-helper", "revoke", g.id, NULL };
		(void)run_helper(rv, &err);
		return PAM_BUF_ERR;
	}
	snprintf(p->id, sizeof(p->id), "%s", g.id);
	snprintf(p->user, sizeof(p->user), "%s", m->user);
	if (pam_set_data(m->pamh, ET_PAM_DATA_GRANT, p, pending_cleanup) != PAM_SUCCESS) {
		const char *rv[] = { "entra-tap-helper", "revoke", g.id, NULL };
		free(p);
		(void)run_helper(rv, &err);
		pam_syslog(m->pamh, LOG_ERR, "%s: cannot remember grant %s; revoked it", m->user, g.id);
		return PAM_SYSTEM_ERR;
	}
	snprintf(env, sizeof(env), "%s=%s", ET_PAM_ENV_GRANT, g.id);
	if (pam_putenv(m->pamh, env) != PAM_SUCCESS)
		pam_syslog(m->pamh, LOG_WARNING, "%s: cannot put the grant id into the PAM environment", m->user);
	local_time(g.expires, until, sizeof(until));
	pam_syslog(m->pamh, LOG_INFO, "%s: grant %s: group %s until %lld", m->user, g.id, g.group, (long long)g.expires);
	/* shown even under PAM_SILENT: the person asked for exactly this */
	(void)pam_prompt(m->pamh, PAM_TEXT_INFO, NULL, "%s is now in group %s until %s (grant %s).", m->user, g.group,
			 until, g.id);
	return PAM_SUCCESS;
}

void et_pam_grant_confirm(struct et_pam *m)
{
	const void *data = NULL;
	if (pam_get_data(m->pamh, ET_PAM_DATA_GRANT, &data) == PAM_SUCCESS && data)
		((struct pending_grant *)(void *)(uintptr_t)data)->confirmed = true;
}

int et_pam_revoke_id(struct et_pam *m, const char *id, const char *why)
{
	const char *argv[] = { "entra-tap-helper", "revoke", id, NULL };
	struct et_grant g;
	struct et_err err;
	if (!et_grant_id_ok(id))
		return -1;
	/* only a grant of this user: the id came through the PAM environment */
	if (et_grant_store_read(&m->cfg, id, &g, &err) < 0 || strcmp(g.user, m->user) != 0)
		return -1;
	if (run_helper(argv, &err) < 0) {
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
	p->id[0] = '\0';
	return r;
}
