/* SPDX-License-Identifier: Apache-2.0 */
/* The sign-in: the first prompt, the three methods and the verdict on the ID token.
 *
 *   first prompt (echo off)  "Temporary Access Pass for alice@contoso.com (Enter to sign in
 *                            with a code): " — an empty answer starts a device sign-in, a
 *                            reply that looks like a JWT is a pasted token, anything else a
 *                            pass (redeemed with the password flow, only where
 *                            tap_password_grant = yes says the identity provider takes it).
 *   device code              URL, code, host, service, tty, remote address and a request id
 *                            go *inside* an echo-on prompt ("... then press Enter"): sshd
 *                            before 10.3 holds info messages back until the next prompt and
 *                            sudo passes PAM_SILENT. Polling starts when Enter is pressed.
 *
 * Every ID token, however it came, goes through et_token_verify with the PAM user expected
 * and the identity pin recorded. Secrets (pass, token) are wiped as soon as they are used. */
#include "module.h"
#include "qr.h"
#include "audit.h"
#include "clock.h"
#include "graph.h"
#include "identity.h"
#include "json_strict.h"
#include "jwks_cache.h"
#include "oauth.h"
#include "oidc.h"
#include "text.h"
#include "replay.h"
#include "verify.h"
#include "voucher.h"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <security/pam_ext.h>

enum reply_kind { REPLY_EMPTY, REPLY_TOKEN, REPLY_TRUNCATED, REPLY_PASS, REPLY_VOUCHER };

static bool is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Three non-empty base64url segments: a compact JWS. A reply that starts like one ("eyJ" is
 * base64url of '{"') but is not complete, or that is exactly as long as sudo lets a reply
 * be, was cut by the conversation. */
static enum reply_kind classify(const char *reply, bool vouchers)
{
	size_t len = strlen(reply), dots = 0, seg = 0;
	bool shape = true;
	if (len == 0)
		return REPLY_EMPTY;
	/* a break-glass voucher, where keys are listed (elsewhere such a reply is what it always was) */
	if (vouchers && strncmp(reply, ET_VOUCHER_PREFIX, strlen(ET_VOUCHER_PREFIX)) == 0)
		return REPLY_VOUCHER;
	for (const char *p = reply; *p; p++) {
		if (*p == '.') {
			if (seg == 0)
				shape = false;
			dots++;
			seg = 0;
		} else if (is_b64url(*p)) {
			seg++;
		} else {
			shape = false;
		}
	}
	if (seg == 0)
		shape = false;
	if (strncmp(reply, "eyJ", 3) == 0 && len >= 16) {
		if (len == ET_PAM_SUDO_REPLY_MAX || !shape || dots != 2)
			return REPLY_TRUNCATED;
		return REPLY_TOKEN;
	}
	if (shape && dots == 2 && len > 64)
		return len == ET_PAM_SUDO_REPLY_MAX ? REPLY_TRUNCATED : REPLY_TOKEN;
	if (len == ET_PAM_SUDO_REPLY_MAX)
		return REPLY_TRUNCATED;
	return REPLY_PASS;
}

/* The PAM user for logs: a name that is no local account is shown only when it has the shape
 * of one. */
static const char *log_user(const struct et_pam *m)
{
	return m->user_known || (et_local_name_ok(m->user) && strlen(m->user) <= ET_USER_NAME_MAX) ? m->user : "?";
}

/* The account named in prompts: the Entra name when one can be derived (for unknown local
 * names too, so their prompts look the same), else the local name when it is short and
 * printable. */
static const char *display_name(const struct et_pam *m)
{
	if (m->upn[0])
		return m->upn;
	if (m->user_known)
		return m->user;
	for (const unsigned char *p = (const unsigned char *)m->user; *p; p++)
		if (*p < 0x21 || *p >= 0x7f)
			return "this account";
	return strlen(m->user) <= 64 ? m->user : "this account";
}

static void audit_denied(struct et_pam *m, const char *method, enum et_reason code, const char *message)
{
	struct et_audit a = { .user = log_user(m),
			      .method = method,
			      .upn = m->upn[0] ? m->upn : NULL,
			      .reason = et_reason_name(code),
			      .error_class = et_class_name(et_reason_class(code)),
			      .service = m->service,
			      .rhost = m->rhost[0] ? m->rhost : NULL,
			      .graph_checked = m->graph_checked,
			      .graph_matched = m->graph_matched };
	(void)et_audit(ET_AUDIT_AUTH_DENIED, LOG_NOTICE, &a, "sign-in for %s refused (%s): %s", m->user, method,
		       message);
}

/* A failure of the core: log the detail, tell the person the sentence for its class (a
 * refusal says why; nothing else shows a local path or internal detail), audit; returns the
 * PAM code of its class. */
static int fail_with(struct et_pam *m, const char *method, const struct et_err *err, const char *lead)
{
	enum et_class cls = et_err_class(err);
	int code = et_pam_code(cls);
	if (cls == ET_CLASS_UNAVAILABLE)
		m->idp_unreachable = true;
	pam_syslog(m->pamh, cls == ET_CLASS_DENIED ? LOG_NOTICE : LOG_ERR, "%s: %s: %s (%s)", log_user(m), method,
		   err->message, err->reason);
	if (cls == ET_CLASS_DENIED)
		et_pam_error(m, "%s: %s", lead, err->message);
	else
		et_pam_error(m, "%s: %s", lead, et_pam_class_sentence(cls));
	audit_denied(m, method, err->code, err->message);
	return code;
}

/* Group overage (the token names no groups, only where to ask): ask Microsoft Graph which
 * eligible groups the user is in. Returns 0 when at least one, else -1 with *why. */
static int resolve_overage(struct et_pam *m, const char *access_token, struct et_err *why)
{
	struct et_graph_groups g;
	struct et_err err;

	if (!access_token) {
		et_err_set(why, ET_E_GROUP_OVERAGE,
			   "group overage: membership must be resolved via Microsoft Graph, which needs a sign-in "
			   "here (a pasted token brings no access token)");
		return -1;
	}
	if (et_graph_check_member_groups(&m->cfg, access_token, &g, &err) < 0) {
		m->graph_checked = (long)g.checked;
		m->graph_matched = (long)g.matched;
		*why = err;
		return -1;
	}
	m->graph_checked = (long)g.checked;
	m->graph_matched = (long)g.matched;
	pam_syslog(m->pamh, LOG_INFO,
		   "%s: group overage resolved through Microsoft Graph: %zu of %zu eligible groups (%zu request%s)",
		   m->user, g.matched, g.checked, g.requests, g.requests == 1 ? "" : "s");
	if (g.matched == 0) {
		et_err_set(why, ET_E_NOT_ELIGIBLE,
			   "The account is in none of the eligible groups (Microsoft Graph checked %zu).", g.checked);
		return -1;
	}
	return 0;
}

/* pim = yes: a current PIM for Groups instance of an eligible group must exist. */
static int pim_step(struct et_pam *m, const char *access_token, struct et_err *why)
{
	struct et_pim_instance pi;

	if (et_graph_pim_check(&m->cfg, access_token, time(NULL), &pi, why) < 0)
		return -1;
	m->pim_found = true;
	m->pim_activated = pi.activated;
	m->pim_until = pi.permanent ? 0 : pi.end;
	pam_syslog(m->pamh, LOG_INFO, "%s: PIM for Groups: %s membership of %s %s%lld (%u instance%s, %u page%s)",
		   m->user, pi.activated ? "activated" : "assigned", pi.group_id, pi.permanent ? "permanent" : "until ",
		   pi.permanent ? 0LL : (long long)pi.end, pi.instances, pi.instances == 1 ? "" : "s", pi.pages,
		   pi.pages == 1 ? "" : "s");
	return 0;
}

/* Verify an ID token; wipes nothing of it (the caller owns it). The access token, when there
 * is one, is Microsoft Graph's: used for group overage and PIM, then wiped and freed here,
 * whatever happened (*access_token is NULL on return). For a name that is no local account
 * the token is checked the same way (same work, same messages) but never pins and never
 * passes: whoever signed in cannot be that account. */
static int verify_token(struct et_pam *m, const char *token, const char *method, char **access_token,
			json_object **ret_claims)
{
	struct et_keystore ks;
	struct et_verdict v;
	struct et_verify_opts o = { .now = time(NULL),
				    .expect_user = m->user,
				    .record_pin = m->user_known,
				    .check_account = m->user_known };
	const char *at = access_token ? *access_token : NULL;
	int code;

	et_keystore_init(&ks, &m->cfg);
	et_token_verify(&ks, token, strlen(token), &o, &v);
	et_keystore_free(&ks);
	if (v.accept && !m->user_known) {
		v.accept = false;
		et_err_set(&v.why, ET_E_WRONG_USER, "The token is not for local user \"%s\".", log_user(m));
	}
	/* GROUP_OVERAGE is the verdict only of a token that passed everything else */
	if (!v.accept && v.why.code == ET_E_GROUP_OVERAGE && m->user_known && m->cfg.overage == ET_OVERAGE_GRAPH &&
	    resolve_overage(m, at, &v.why) == 0) {
		v.accept = true;
		v.eligible = true;
		et_err_clear(&v.why);
	}
	if (v.accept && m->cfg.pim && pim_step(m, at, &v.why) < 0)
		v.accept = false;
	if (access_token) {
		et_oauth_secret_free(*access_token); /* Graph has answered: the token has no further use */
		*access_token = NULL;
	}
	/* a pasted token is accepted once (the other methods get a fresh token from the IdP) */
	if (v.accept && strcmp(method, "token") == 0 && et_replay_record(&m->cfg, v.claims, o.now, &v.why) < 0)
		v.accept = false;
	if (!v.accept) {
		code = fail_with(m, method, &v.why, "Sign-in refused");
		et_verdict_free(&v);
		return code;
	}
	*ret_claims = json_object_get(v.claims);
	et_verdict_free(&v);
	return PAM_SUCCESS;
}

static void request_id(char out[9])
{
	unsigned char b[4] = { 0 };
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		struct timespec ts = et_mono_now();
		memcpy(b, &ts.tv_nsec, sizeof(b));
	}
	snprintf(out, 9, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

/* An endpoint named by the (cached) discovery document failed: forget the copy, so the next
 * sign-in asks for the document again (the tenant may have moved it). */
static void endpoint_failed(struct et_pam *m, const struct et_err *err)
{
	if (et_err_class(err) == ET_CLASS_UNAVAILABLE) {
		et_oidc_cache_forget(&m->cfg);
		pam_syslog(m->pamh, LOG_INFO,
			   "%s: the identity provider's endpoint failed (%s): discovery will be fetched again",
			   log_user(m), err->reason);
	}
}

/* ---- the methods ---- */

static int method_device_code(struct et_pam *m, json_object **ret_claims)
{
	struct et_oidc oidc = { 0 };
	struct et_device dev = { 0 };
	struct et_device_wait_opts w;
	struct et_err err;
	char *reply = NULL, *id_token = NULL, *access = NULL, *scope = NULL, *qr = NULL, rid[9];
	const char *who = display_name(m), *lu = log_user(m);
	bool flow_taken = false;
	time_t now = time(NULL);
	int retval;

	/* a name that is no local account names no state file: only the address limit counts */
	if (et_rate_take(&m->cfg, m->user_known ? m->user : NULL, m->rhost, now, &err) < 0 ||
	    (m->user_known && et_flow_begin(&m->cfg, m->user, m->rhost, now + m->cfg.device_code_timeout + 5, &err) < 0)) {
		if (err.code == ET_E_RATE_LIMITED || err.code == ET_E_FLOW_BUSY) {
			pam_syslog(m->pamh, LOG_NOTICE, "%s: device code: %s", lu, err.message);
			et_pam_error(m, "%s", err.message);
			audit_denied(m, "device_code", err.code, err.message);
			retval = err.code == ET_E_RATE_LIMITED ? PAM_MAXTRIES : PAM_AUTH_ERR;
		} else {
			retval = fail_with(m, "device_code", &err, "Sign-in with a code is unavailable");
		}
		goto done;
	}
	flow_taken = m->user_known;
	/* the deadline counts from the start: the whole sign-in stays below LoginGraceTime */
	w = (struct et_device_wait_opts){ .deadline = et_deadline_in(m->cfg.device_code_timeout) };
	if (et_graph_scope(&m->cfg, &scope, &err) < 0 || et_oidc_discover_cached(&m->cfg, time(NULL), &oidc, &err) < 0 ||
	    et_device_start(&m->cfg, &oidc, scope, &dev, &err) < 0) {
		if (oidc.token_endpoint)
			endpoint_failed(m, &err);
		retval = fail_with(m, "device_code", &err, "Sign-in with a code is unavailable");
		goto done;
	}
	request_id(rid);
	pam_syslog(m->pamh, LOG_INFO, "%s: device sign-in started (request %s, service %s, rhost %s)", lu, rid,
		   m->service, m->rhost[0] ? m->rhost : "-");
	/* in the prompt itself: sshd shows information only with the next prompt */
	if (m->cfg.qr) {
		struct et_err qerr;
		qr = et_qr_render(dev.verification_uri, ET_QR_COLUMNS_DEFAULT, &qerr);
		if (!qr && m->debug)
			pam_syslog(m->pamh, LOG_DEBUG, "%s: no QR code of the verification address: %s", lu, qerr.message);
	}
	retval = et_pam_ask(m, PAM_PROMPT_ECHO_ON, &reply,
			    "Sign in to %s as %s (service %s, tty %s, from %s; request %s):\n"
			    "open %s and enter the code %s\n"
			    "%s"
			    "You can sign in there with your Temporary Access Pass.\n"
			    "Only continue if you started this on %s just now.\n"
			    "Press Enter when you have signed in (or type n to cancel): ",
			    m->host, who, m->service, m->tty[0] ? m->tty : "-", m->rhost[0] ? m->rhost : "this host", rid,
			    dev.verification_uri, dev.user_code, qr ? qr : "", m->host);
	if (retval != PAM_SUCCESS) {
		pam_syslog(m->pamh, LOG_NOTICE, "%s: device sign-in %s: the conversation failed", lu, rid);
		audit_denied(m, "device_code", ET_E_CONVERSATION, "the conversation failed");
		goto done;
	}
	if (reply[0] == 'n' || reply[0] == 'N') {
		pam_syslog(m->pamh, LOG_NOTICE, "%s: device sign-in %s cancelled at the prompt", lu, rid);
		audit_denied(m, "device_code", ET_E_CANCELLED, "cancelled at the prompt");
		retval = PAM_AUTH_ERR;
		goto done;
	}
	if (et_device_wait_tokens(&m->cfg, &oidc, &dev, &w, &id_token, &access, &err) < 0) {
		if (err.code == ET_E_DEADLINE)
			et_err_set(&err, ET_E_DEADLINE, "The sign-in with a code was not finished within %ld seconds.",
				   m->cfg.device_code_timeout);
		endpoint_failed(m, &err);
		retval = fail_with(m, "device_code", &err, "Sign-in with a code failed");
		goto done;
	}
	pam_syslog(m->pamh, LOG_INFO, "%s: device sign-in %s answered after %u poll(s)", lu, rid, dev.polls);
	retval = verify_token(m, id_token, "device_code", &access, ret_claims);
done:
	et_pam_reply_free(reply);
	et_oauth_secret_free(id_token);
	et_oauth_secret_free(access);
	free(scope);
	free(qr);
	et_device_free(&dev);
	et_oidc_free(&oidc);
	if (flow_taken)
		et_flow_end(&m->cfg, m->user, m->rhost);
	return retval;
}

/* Told to whoever typed a pass when the tenant demands MFA: the same words whether the name
 * is a local account or not. */
static const char tap_mfa_sentence[] = "Your organisation requires a sign-in that a pass typed here cannot "
				       "satisfy; press Enter at the prompt to sign in with a code instead.";

/* A pass typed for a name that is no local account: the same discovery and token request as
 * for a known one (the identity provider answers for the derived Entra name), counted against
 * the remote address's limit instead of a per-user lockout file, and never a success. */
static int tap_unknown(struct et_pam *m, const char *pass, json_object **ret_claims)
{
	struct et_oidc oidc = { 0 };
	struct et_err err;
	char *id_token = NULL, *access = NULL, *scope = NULL;
	int retval;

	if (et_rate_take(&m->cfg, NULL, m->rhost, time(NULL), &err) < 0) {
		if (err.code == ET_E_RATE_LIMITED) {
			pam_syslog(m->pamh, LOG_NOTICE, "%s: tap: %s", log_user(m), err.message);
			et_err_set(&err, ET_E_AUTH_FAILED, "Too many sign-ins from %.64s recently; try again later.",
				   m->rhost);
		}
		return fail_with(m, "tap", &err, "Sign-in refused");
	}
	if (strlen(pass) > ET_OAUTH_PASSWORD_MAX) {
		et_err_set(&err, ET_E_AUTH_FAILED, "That is not a Temporary Access Pass (too long).");
		return fail_with(m, "tap", &err, "Sign-in refused");
	}
	if (et_graph_scope(&m->cfg, &scope, &err) < 0 || et_oidc_discover_cached(&m->cfg, time(NULL), &oidc, &err) < 0) {
		free(scope);
		return fail_with(m, "tap", &err, "Sign-in refused");
	}
	if (et_password_flow_tokens(&m->cfg, &oidc, m->upn, pass, scope, &id_token, &access, &err) < 0) {
		endpoint_failed(m, &err);
		if (err.code == ET_E_MFA_REQUIRED)
			et_err_set(&err, ET_E_MFA_REQUIRED, "%s", tap_mfa_sentence);
		retval = fail_with(m, "tap", &err, "Sign-in refused");
	} else {
		retval = verify_token(m, id_token, "tap", &access, ret_claims);
	}
	et_oidc_free(&oidc);
	et_oauth_secret_free(id_token);
	et_oauth_secret_free(access);
	free(scope);
	return retval;
}

/* Does the token's amr claim list want? (NULL: nothing is required) */
static bool amr_has(json_object *claims, const char *want)
{
	json_object *arr;
	if (!want)
		return true;
	if (!claims || !json_object_object_get_ex(claims, "amr", &arr) || !json_object_is_type(arr, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), want) == 0)
			return true;
	}
	return false;
}

static int method_tap(struct et_pam *m, const char *pass, json_object **ret_claims)
{
	struct et_oidc oidc = { 0 };
	struct et_err err;
	char *id_token = NULL, *access = NULL, *scope = NULL;
	time_t until = 0, now = time(NULL);
	unsigned failures = 0;
	int retval;

	if (!m->upn[0]) {
		if (m->upn_err.code != ET_E_NONE)
			return fail_with(m, "tap", &m->upn_err, "Sign-in refused");
		pam_syslog(m->pamh, LOG_NOTICE, "%s: no Entra user name can be derived for a pass", log_user(m));
		audit_denied(m, "tap", ET_E_UNMAPPED, "no Entra user name for this local user");
		return PAM_USER_UNKNOWN;
	}
	if (!m->user_known)
		return tap_unknown(m, pass, ret_claims);
	if (et_lock_check(&m->cfg, m->user, m->rhost, now, &until, &err) < 0)
		return fail_with(m, "tap", &err, "Sign-in refused");
	if (until) {
		char when[64];
		struct tm tm;
		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&until, &tm));
		pam_syslog(m->pamh, LOG_NOTICE, "%s: locked out after too many wrong passes, until %s", m->user, when);
		et_pam_error(m, "Too many wrong passes for %s: locked until %s. You can still sign in with a code.",
			     m->user, when);
		audit_denied(m, "tap", ET_E_LOCKED_OUT, "too many wrong passes");
		return PAM_MAXTRIES;
	}
	if (strlen(pass) > ET_OAUTH_PASSWORD_MAX) {
		et_err_set(&err, ET_E_AUTH_FAILED, "That is not a Temporary Access Pass (too long).");
		retval = fail_with(m, "tap", &err, "Sign-in refused");
		goto count;
	}
	if (et_graph_scope(&m->cfg, &scope, &err) < 0 || et_oidc_discover_cached(&m->cfg, time(NULL), &oidc, &err) < 0) {
		free(scope);
		return fail_with(m, "tap", &err, "Sign-in refused");
	}
	retval = et_password_flow_tokens(&m->cfg, &oidc, m->upn, pass, scope, &id_token, &access, &err);
	free(scope);
	et_oidc_free(&oidc);
	if (retval < 0) {
		endpoint_failed(m, &err);
		if (err.code == ET_E_MFA_REQUIRED)
			et_err_set(&err, ET_E_MFA_REQUIRED, "%s", tap_mfa_sentence);
		retval = fail_with(m, "tap", &err, "Sign-in refused");
		if (err.code != ET_E_AUTH_FAILED)
			return retval;
		goto count;
	}
	retval = verify_token(m, id_token, "tap", &access, ret_claims);
	et_oauth_secret_free(id_token);
	if (retval == PAM_SUCCESS && !amr_has(*ret_claims, m->cfg.tap_require_amr)) {
		/* the password grant proves a secret the IdP accepts for the account, not that it
		 * was a pass: only the IdP's amr says which */
		et_err_set(&err, ET_E_AMR_REQUIRED,
			   "The identity provider does not report this sign-in as made with method \"%s\" "
			   "(tap_require_amr); a password is not a Temporary Access Pass.",
			   m->cfg.tap_require_amr);
		json_object_put(*ret_claims);
		*ret_claims = NULL;
		retval = fail_with(m, "tap", &err, "Sign-in refused");
		goto count;
	}
	if (retval == PAM_SUCCESS && et_lock_reset(&m->cfg, m->user, m->rhost, &err) < 0)
		pam_syslog(m->pamh, LOG_ERR, "%s: cannot reset the failure count: %s", m->user, err.message);
	return retval;
count:
	if (et_lock_fail(&m->cfg, m->user, m->rhost, now, &failures, &until, &err) < 0) {
		pam_syslog(m->pamh, LOG_ERR, "%s: cannot count a wrong pass: %s", m->user, err.message);
		return PAM_SYSTEM_ERR;
	}
	if (until) {
		struct et_audit a = { .user = m->user, .method = "tap", .reason = "tap lockout", .service = m->service,
				      .rhost = m->rhost[0] ? m->rhost : NULL };
		(void)et_audit(ET_AUDIT_REFUSED, LOG_WARNING, &a, "%s locked out for %ld s after %ld wrong passes",
			       m->user, m->cfg.tap_lockout, m->cfg.tap_max_failures);
		pam_syslog(m->pamh, LOG_WARNING, "%s: locked out for %ld s after %ld wrong passes", m->user,
			   m->cfg.tap_lockout, m->cfg.tap_max_failures);
	}
	return retval;
}

/* ---- break-glass ---- */

static void audit_voucher(struct et_pam *m, bool accepted, const struct et_voucher *v, enum et_reason code,
			  const char *message)
{
	char *hosts = v && v->hosts.n ? et_voucher_hosts_joined(v) : NULL;
	struct et_audit a = { .user = log_user(m),
			      .method = "breakglass",
			      .reason = accepted ? v->reason : et_reason_name(code),
			      .error_class = accepted ? NULL : et_class_name(et_reason_class(code)),
			      .service = m->service,
			      .rhost = m->rhost[0] ? m->rhost : NULL,
			      .voucher_kid = v && v->kid[0] ? v->kid : NULL,
			      .voucher_jti = v && v->jti[0] ? v->jti : NULL,
			      .voucher_sub = v && v->sub[0] ? v->sub : NULL,
			      .voucher_hosts = hosts,
			      .voucher_reason = v && v->jti[0] ? v->reason : NULL };
	if (accepted)
		(void)et_audit(ET_AUDIT_VOUCHER_ACCEPTED, LOG_ALERT, &a,
			       "break-glass voucher %s (key %s) accepted for %s on %s", v->jti, v->kid, m->user, m->host);
	else
		(void)et_audit(ET_AUDIT_VOUCHER_REFUSED, LOG_ALERT, &a, "break-glass voucher%s%s refused for %s on %s: %s",
			       v && v->jti[0] ? " " : "", v && v->jti[0] ? v->jti : "", log_user(m), m->host, message);
	free(hosts);
}

/* The refusal of a voucher: told to the person, logged, audited at LOG_ALERT. */
static int voucher_refused(struct et_pam *m, const struct et_voucher *v, const struct et_err *err)
{
	pam_syslog(m->pamh, LOG_ALERT, "%s: break-glass voucher refused (%s): %s", log_user(m), err->reason,
		   err->message);
	if (err->code == ET_E_RATE_LIMITED)
		et_pam_error(m, "%s", err->message);
	else
		et_pam_error(m, "Break-glass voucher refused: %s.", err->message);
	audit_voucher(m, false, v, err->code, err->message);
	return err->code == ET_E_RATE_LIMITED ? PAM_MAXTRIES : m->user_known ? PAM_AUTH_ERR : PAM_USER_UNKNOWN;
}

/* Redeem a voucher: the rate limits, the verdict (voucher.h), then the redemption record,
 * written and fsync'd before anything is granted: a crash after it leaves the voucher used. */
static int method_breakglass(struct et_pam *m, const char *text, json_object **ret_claims)
{
	struct et_voucher v = { 0 };
	struct et_voucher_ctx ctx = { 0 };
	struct et_err err;
	char host_short[256], host_fqdn[256];
	time_t now = time(NULL);
	unsigned swept = 0;
	int retval;

	if (et_rate_take(&m->cfg, m->user_known ? m->user : NULL, m->rhost, now, &err) < 0) {
		if (err.code != ET_E_RATE_LIMITED)
			return fail_with(m, "breakglass", &err, "Break-glass is unavailable");
		return voucher_refused(m, NULL, &err);
	}
	et_host_names(host_short, sizeof(host_short), host_fqdn, sizeof(host_fqdn));
	ctx.keys = &m->cfg.breakglass_keys;
	ctx.user = m->user;
	ctx.host_short = host_short;
	ctx.host_fqdn = host_fqdn;
	ctx.now = now;
	ctx.skew = m->cfg.clock_skew;
	if (et_voucher_verify(text, strlen(text), &ctx, &v, &err) < 0) {
		retval = voucher_refused(m, &v, &err);
		goto done;
	}
	if (!m->user_known) {
		et_err_set(&err, ET_E_VOUCHER_WRONG_USER, "there is no local user %s", log_user(m));
		retval = voucher_refused(m, &v, &err);
		goto done;
	}
	if (et_voucher_records_sweep(&m->cfg, now, &swept, &err) < 0)
		pam_syslog(m->pamh, LOG_WARNING, "break-glass records not swept: %s", err.message);
	if (et_voucher_record(&m->cfg, &v, now, &err) < 0) {
		if (err.code == ET_E_VOUCHER_REPLAYED)
			retval = voucher_refused(m, &v, &err);
		else
			retval = fail_with(m, "breakglass", &err, "Break-glass is unavailable");
		goto done;
	}
	*ret_claims = json_object_new_object();
	if (!*ret_claims) {
		retval = PAM_BUF_ERR;
		goto done;
	}
	m->breakglass_duration = v.dur < m->cfg.breakglass_duration_max ? (long)v.dur : m->cfg.breakglass_duration_max;
	{
		/* the grant's reason: the voucher's, after its ids, cut to fit without splitting a character */
		int n = snprintf(m->breakglass_reason, sizeof(m->breakglass_reason), "break-glass %s (key %s): ", v.jti,
				 v.kid);
		if (n > 0 && (size_t)n < sizeof(m->breakglass_reason))
			et_text_sanitize(v.reason, m->breakglass_reason + n, sizeof(m->breakglass_reason) - (size_t)n);
	}
	snprintf(m->breakglass_jti, sizeof(m->breakglass_jti), "%s", v.jti);
	snprintf(m->breakglass_kid, sizeof(m->breakglass_kid), "%s", v.kid);
	pam_syslog(m->pamh, LOG_ALERT, "%s: break-glass voucher %s (key %s) accepted and recorded", m->user, v.jti,
		   v.kid);
	audit_voucher(m, true, &v, ET_E_NONE, NULL);
	retval = PAM_SUCCESS;
done:
	et_voucher_free(&v);
	return retval;
}

/* A voucher typed at the first prompt (break-glass keys are listed). Under breakglass_when = unreachable it counts only
 * when the identity provider cannot be reached in this transaction: asked now if no sign-in
 * has tried it yet. */
static int voucher_at_prompt(struct et_pam *m, const char *text, json_object **ret_claims)
{
	struct et_err err;
	if (m->cfg.breakglass_when == ET_BREAKGLASS_UNREACHABLE && !m->idp_unreachable) {
		struct et_oidc oidc = { 0 };
		struct et_err derr;
		if (et_oidc_discover(&m->cfg, &oidc, &derr) < 0 && et_err_class(&derr) == ET_CLASS_UNAVAILABLE)
			m->idp_unreachable = true;
		et_oidc_free(&oidc);
		if (!m->idp_unreachable) {
			et_err_set(&err, ET_E_VOUCHER_NOT_OFFERED,
				   "Entra ID can be reached, so break-glass is not offered; sign in with Entra ID");
			return voucher_refused(m, NULL, &err);
		}
	}
	return method_breakglass(m, text, ret_claims);
}

/* After a sign-in that failed because Entra ID could not be reached: offer a voucher. */
static bool breakglass_fallback(const struct et_pam *m)
{
	return m->cfg.breakglass_keys.n > 0 && m->idp_unreachable;
}

static int ask_voucher(struct et_pam *m, int failed, json_object **ret_claims, const char **ret_method)
{
	char *reply = NULL;
	int retval = et_pam_ask(m, PAM_PROMPT_ECHO_OFF, &reply,
				"Entra ID cannot be reached from %s. Paste a break-glass voucher for %s "
				"(Enter to give up): ",
				m->host, display_name(m));
	if (retval != PAM_SUCCESS)
		return failed;
	if (!reply[0]) {
		et_pam_reply_free(reply);
		return failed;
	}
	*ret_method = "breakglass";
	retval = method_breakglass(m, reply, ret_claims);
	et_pam_reply_free(reply);
	return retval;
}

static bool prior_publickey(struct et_pam *m)
{
	const char *info = pam_getenv(m->pamh, "SSH_AUTH_INFO_0");
	const char *p = info;
	while (p && *p) {
		if (strncmp(p, "publickey ", 10) == 0)
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

int et_pam_signin(struct et_pam *m, json_object **ret_claims, const char **ret_method)
{
	unsigned methods = m->cfg.methods;
	bool offer_tap = (methods & ET_METHOD_TAP) && m->cfg.tap_password_grant;
	bool offer_code = methods & ET_METHOD_DEVICE_CODE;
	bool offer_token = methods & ET_METHOD_TOKEN;
	bool offer_voucher = m->cfg.breakglass_keys.n > 0 && m->cfg.breakglass_when == ET_BREAKGLASS_ALWAYS;
	const char *who = display_name(m);
	const char *or_voucher = offer_voucher ? " (or paste a break-glass voucher)" : "";
	char *reply = NULL;
	const void *item = NULL;
	int retval;

	if ((methods & ET_METHOD_TAP) && !m->cfg.tap_password_grant && !offer_code && !offer_token) {
		pam_syslog(m->pamh, LOG_ERR, "methods = tap needs tap_password_grant = yes (or add device_code)");
		return PAM_SERVICE_ERR;
	}
	if (m->require_prior_publickey && !prior_publickey(m)) {
		pam_syslog(m->pamh, LOG_NOTICE, "%s: refused: no prior publickey authentication (SSH_AUTH_INFO_0)",
			   m->user);
		et_pam_error(m, "Sign in with your SSH key first.");
		audit_denied(m, "-", ET_E_NO_PRIOR_PUBLICKEY, "no prior publickey authentication");
		return PAM_AUTH_ERR;
	}

	/* the reply: the first pass handed down the stack, or our own prompt */
	if ((m->use_first_pass || m->try_first_pass) && offer_tap &&
	    pam_get_item(m->pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS && item) {
		reply = strdup(item);
		if (!reply)
			return PAM_BUF_ERR;
	} else if (m->use_first_pass) {
		pam_syslog(m->pamh, LOG_NOTICE, "%s: use_first_pass without a pass from an earlier module", m->user);
		return PAM_AUTH_ERR;
	} else if (offer_tap) {
		/* the password grant takes the account's password as well as a pass: say so */
		retval = et_pam_ask(m, PAM_PROMPT_ECHO_OFF, &reply, "Temporary Access Pass for %s (checked as a password%s)%s: ",
				    who, offer_code ? "; Enter to sign in with a code" : "", or_voucher);
		if (retval != PAM_SUCCESS)
			return retval;
	} else if (offer_token) {
		retval = et_pam_ask(m, PAM_PROMPT_ECHO_OFF, &reply, "Entra ID token for %s%s%s: ", who,
				    offer_code ? " (Enter to sign in with a code)" : "", or_voucher);
		if (retval != PAM_SUCCESS)
			return retval;
	} else if (offer_voucher) {
		retval = et_pam_ask(m, PAM_PROMPT_ECHO_OFF, &reply, "Break-glass voucher for %s%s: ", who,
				    offer_code ? " (Enter to sign in with a code)" : "");
		if (retval != PAM_SUCCESS)
			return retval;
	} else {
		reply = strdup("");
		if (!reply)
			return PAM_BUF_ERR;
	}

	switch (classify(reply, m->cfg.breakglass_keys.n > 0)) {
	case REPLY_VOUCHER:
		*ret_method = "breakglass";
		retval = voucher_at_prompt(m, reply, ret_claims);
		break;
	case REPLY_EMPTY:
		*ret_method = "device_code";
		if (!offer_code) {
			et_pam_error(m, "Sign-in refused: nothing was entered.");
			retval = PAM_AUTH_ERR;
		} else {
			retval = method_device_code(m, ret_claims);
		}
		break;
	case REPLY_TRUNCATED:
		*ret_method = "token";
		pam_syslog(m->pamh, LOG_NOTICE, "%s: a pasted token was cut short by the conversation (%zu characters)",
			   m->user, strlen(reply));
		et_pam_error(m, "The token did not fit through this prompt (it was cut at %zu characters); "
				"press Enter to sign in with a code instead.",
			     strlen(reply));
		audit_denied(m, "token", ET_E_TRUNCATED, "a pasted token was cut short");
		retval = m->user_known ? PAM_AUTH_ERR : PAM_USER_UNKNOWN;
		break;
	case REPLY_TOKEN:
		*ret_method = "token";
		if (!offer_token) {
			et_pam_error(m, "Sign-in refused: signing in with a pasted token is not enabled here.");
			audit_denied(m, "token", ET_E_METHOD_DISABLED, "token sign-in is not enabled");
			retval = m->user_known ? PAM_AUTH_ERR : PAM_USER_UNKNOWN;
		} else if (!m->user_known) {
			retval = PAM_USER_UNKNOWN;
		} else {
			retval = verify_token(m, reply, "token", NULL, ret_claims);
		}
		break;
	default:
		/* what is known: a secret the IdP's password grant accepted (a pass or a password) */
		*ret_method = "password";
		if (!offer_tap) {
			et_pam_error(m, "Sign-in refused: a pass cannot be typed here; press Enter to sign in with a code.");
			retval = m->user_known ? PAM_AUTH_ERR : PAM_USER_UNKNOWN;
		} else {
			retval = method_tap(m, reply, ret_claims);
		}
		break;
	}
	/* Entra ID could not be reached: the voucher prompt, when break-glass is configured */
	if (retval != PAM_SUCCESS && strcmp(*ret_method, "breakglass") != 0 && breakglass_fallback(m))
		retval = ask_voucher(m, retval, ret_claims, ret_method);
	/* a name that is no local account ends here whatever happened above: never a grant */
	if (!m->user_known) {
		if (retval == PAM_SUCCESS && *ret_claims) {
			json_object_put(*ret_claims);
			*ret_claims = NULL;
		}
		retval = PAM_USER_UNKNOWN;
		pam_syslog(m->pamh, LOG_NOTICE, "unknown user '%.64s'", log_user(m));
	}
	et_pam_reply_free(reply);
	return retval;
}
