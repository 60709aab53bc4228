/* SPDX-License-Identifier: Apache-2.0 */
/* pam_entra_tap.so: the PAM entry points. Each builds its own state (options.c), does one
 * thing and maps the outcome to one PAM code; the work lives in the other files.
 *
 *   auth      sign in (signin.c), then with `grant` make the grant (grantstep.c)
 *   account   the grant check: a member without a live grant, or an expired grant, is
 *             denied and revoked on the spot; no grant at all → no_grant=ignore|success
 *   setcred   drop the elevated gid from the process when no live grant exists
 *   session   log; tie the session to the live grant of its user (or of the user who ran
 *             sudo or su) so that it ends with it (sessions.h); with revoke_on_close,
 *             end this login's grant when the session closes
 * With a configuration that cannot be used, account, setcred and session ignore everyone
 * who holds no grant and refuse (and revoke) those who do (et_pam_broken_config); auth
 * fails closed. */
#include "module.h"
#include "audit.h"
#include "grant_ops.h"
#include "grant_store.h"
#include "identity.h"
#include "json_strict.h"
#include <json-c/json.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <string.h>
#include <syslog.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct et_pam m;
	json_object *claims = NULL;
	const char *method = "-";
	int retval;

	retval = et_pam_setup(&m, pamh, flags, argc, argv);
	if (retval != PAM_SUCCESS)
		goto done;
	retval = et_pam_signin(&m, &claims, &method);
	if (retval != PAM_SUCCESS)
		goto done;
	{
		struct et_audit a = { .user = m.user,
				      .method = method,
				      .upn = et_json_get_string(claims, "preferred_username"),
				      .oid = et_json_get_string(claims, "oid"),
				      .service = m.service,
				      .rhost = m.rhost[0] ? m.rhost : NULL,
				      .graph_checked = m.graph_checked,
				      .graph_matched = m.graph_matched,
				      .pim_assignment = m.pim_found ? (m.pim_activated ? "activated" : "assigned") : NULL,
				      .pim_end = m.pim_until };
		(void)et_audit(ET_AUDIT_AUTH_OK, LOG_INFO, &a, "%s signed in %s (%s)", m.user,
			       strcmp(method, "breakglass") == 0 ? "with a break-glass voucher" : "with Entra ID", method);
		pam_syslog(pamh, LOG_INFO, "%s: signed in (%s, oid %s)", m.user, method, a.oid ? a.oid : "-");
	}
	if (m.grant)
		retval = et_pam_grant(&m, claims, method);
done:
	json_object_put(claims);
	et_pam_teardown(&m);
	return retval;
}

PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct et_pam m;
	struct et_err err;
	bool dropped = false;
	int retval;

	if (!(flags & (PAM_ESTABLISH_CRED | PAM_REINITIALIZE_CRED | PAM_REFRESH_CRED)))
		return PAM_SUCCESS;
	retval = et_pam_setup(&m, pamh, flags, argc, argv);
	if (retval != PAM_SUCCESS) {
		if (m.config_broken)
			retval = et_pam_broken_config(&m, PAM_CRED_ERR);
		goto done;
	}
	if (!m.user_known) {
		retval = PAM_USER_UNKNOWN;
		goto done;
	}
	/* Applications establish credentials only for a user they accepted (after the account
	 * phase): this settles the pending grant even in a stack without this module's session
	 * line (sshd calls it in the process that runs pam_end). */
	if (flags & PAM_ESTABLISH_CRED)
		et_pam_grant_confirm(&m);
	if (et_grant_setcred(&m.cfg, m.user, time(NULL), &dropped, &err) < 0) {
		pam_syslog(pamh, LOG_ERR, "%s: setcred: %s", m.user, err.message);
		retval = err.code == ET_E_NO_MEMORY ? PAM_BUF_ERR : PAM_CRED_ERR;
		goto done;
	}
	if (dropped)
		pam_syslog(pamh, LOG_NOTICE, "%s: no live grant: group %s dropped from the process", m.user,
			   m.cfg.elevated_group);
	retval = PAM_SUCCESS;
done:
	et_pam_teardown(&m);
	return retval;
}

PAM_EXTERN int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct et_pam m;
	struct et_check_result res;
	struct et_err err;
	int retval;

	retval = et_pam_setup(&m, pamh, flags, argc, argv);
	if (retval != PAM_SUCCESS) {
		if (m.config_broken)
			retval = et_pam_broken_config(&m, PAM_PERM_DENIED);
		goto done;
	}
	if (!m.user_known) {
		retval = PAM_USER_UNKNOWN;
		goto done;
	}
	/* before the check, so that its refusal and a later pam_end(failure) both reach it */
	et_pam_grant_adopt(&m);
	if (et_grant_check(&m.cfg, m.user, time(NULL), ET_CHECK_REVOKE_BY, et_cmd_revoke_user_at_account, &res, &err) < 0) {
		/* fail closed: without an answer the elevated group must not be used */
		pam_syslog(pamh, LOG_ERR, "%s: account: the grant check failed: %s", m.user, err.message);
		et_pam_error(&m, "Access denied: the elevation state of %s cannot be checked.", m.user);
		(void)et_pam_grant_revoke_pending(&m, "the account check failed");
		retval = err.code == ET_E_REVOKE_FAILED ? PAM_PERM_DENIED
			 : err.code == ET_E_NO_MEMORY   ? PAM_BUF_ERR
								  : PAM_SYSTEM_ERR;
		goto done;
	}
	switch (res.state) {
	case ET_GRANT_STATE_LIVE:
	case ET_GRANT_STATE_PERMANENT:
		retval = PAM_SUCCESS;
		break;
	case ET_GRANT_STATE_NONE:
		retval = m.no_grant == ET_NO_GRANT_SUCCESS ? PAM_SUCCESS : PAM_IGNORE;
		break;
	case ET_GRANT_STATE_EXPIRED:
	case ET_GRANT_STATE_STALE_MEMBER:
	default:
		pam_syslog(pamh, LOG_NOTICE, "%s: account: %s (grant %s): denied and revoked", m.user,
			   et_grant_state_name(res.state), res.grant_id[0] ? res.grant_id : "-");
		et_pam_error(&m, "Access denied: the elevation of %s has %s and was revoked; sign in again to renew it.",
			     m.user, res.state == ET_GRANT_STATE_EXPIRED ? "expired" : "no live grant");
		(void)et_pam_grant_revoke_pending(&m, "the account check denied");
		retval = PAM_PERM_DENIED;
		break;
	}
done:
	et_pam_teardown(&m);
	return retval;
}

/* The session's grant, named in the PAM environment (NULL: none), logged with the event. */
static const char *session_grant(struct et_pam *m, const char *event)
{
	const char *id = pam_getenv(m->pamh, ET_PAM_ENV_GRANT_ID);
	if (id && !et_grant_id_ok(id))
		id = NULL;
	pam_syslog(m->pamh, LOG_INFO, "%s: session %s (service %s, grant %s)", m->user, event, m->service,
		   id ? id : "-");
	return id;
}

/* The session's terminal as a /dev path (PAM_TTY is "pts/3", "/dev/pts/3", or a name such as
 * "ssh" that is no terminal): NULL when there is none. */
static const char *session_tty(const struct et_pam *m, char *buf, size_t size)
{
	const char *t = m->tty;
	if (strncmp(t, "/dev/", 5) == 0)
		t += 5;
	if (!t[0] || strstr(t, "..") || (strncmp(t, "pts/", 4) != 0 && strncmp(t, "tty", 3) != 0) ||
	    (size_t)snprintf(buf, size, "/dev/%s", t) >= size)
		return NULL;
	return buf;
}

/* Whose grant this session belongs to: the user's, or, for sudo and su (the user is the
 * target, root), the invoking user's (PAM_RUSER). NULL: nobody here holds a live grant. */
static const char *session_holder(struct et_pam *m)
{
	const void *ruser = NULL;
	const char *who[2] = { m->user, NULL };
	time_t now = time(NULL);
	if (pam_get_item(m->pamh, PAM_RUSER, &ruser) == PAM_SUCCESS && ruser && et_local_name_ok(ruser) &&
	    strlen(ruser) <= ET_USER_NAME_MAX)
		who[1] = ruser;
	for (int i = 0; i < 2; i++) {
		struct et_grant_list l = { 0 };
		struct et_err err;
		bool live;
		if (!who[i] || !et_local_name_ok(who[i]) || et_grant_store_list(&m->cfg, who[i], &l, &err) < 0)
			continue;
		live = et_grant_latest_live(&l, NULL, now) != NULL;
		et_grant_list_free(&l);
		if (live)
			return who[i];
	}
	return NULL;
}

PAM_EXTERN int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct et_pam m;
	const char *holder;
	char tty[80];
	struct et_err err;
	int retval;

	retval = et_pam_setup(&m, pamh, flags, argc, argv);
	if (retval != PAM_SUCCESS) {
		if (m.config_broken)
			retval = et_pam_broken_config(&m, PAM_SESSION_ERR);
		goto done;
	}
	et_pam_grant_confirm(&m);
	(void)session_grant(&m, "opened");
	retval = PAM_SUCCESS;
	/* An elevated session ends with its grant (sessions.h): this process, which starts the
	 * session's command next, joins the grant's scope now. Only root can; a session of
	 * someone without a live grant is nobody's. */
	if (geteuid() != 0 || !(holder = session_holder(&m)))
		goto done;
	if (et_cmd_tie(holder, getpid(), session_tty(&m, tty, sizeof(tty)), &err) < 0) {
		/* the session would outlive the grant: refused (the stack's control decides) */
		pam_syslog(pamh, LOG_ERR, "%s: the session cannot be tied to the grant of %s: %s", m.user, holder,
			   err.message);
		retval = PAM_SESSION_ERR;
		goto done;
	}
	pam_syslog(pamh, LOG_INFO, "%s: session tied to the grant of %s", m.user, holder);
done:
	et_pam_teardown(&m);
	return retval;
}

PAM_EXTERN int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct et_pam m;
	const char *id;
	int retval;

	retval = et_pam_setup(&m, pamh, flags, argc, argv);
	if (retval != PAM_SUCCESS) {
		if (m.config_broken)
			retval = et_pam_broken_config(&m, PAM_SESSION_ERR);
		goto done;
	}
	id = session_grant(&m, "closed");
	if (m.revoke_on_close && id && et_pam_revoke_id(&m, id, "session closed") < 0)
		pam_syslog(pamh, LOG_NOTICE, "%s: revoke_on_close: grant %s was not ended here (gone already?)", m.user,
			   id);
	retval = PAM_SUCCESS;
done:
	et_pam_teardown(&m);
	return retval;
}

PAM_EXTERN int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return PAM_SERVICE_ERR;
}
