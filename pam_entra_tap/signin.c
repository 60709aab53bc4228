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
#include "audit.h"
#include "clock.h"
#include "identity.h"
#include "json_strict.h"
#include "jwks_cache.h"
#include "oauth.h"
#include "oidc.h"
#include "replay.h"
#include "verify.h"
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <syslog.h>
#include <security/pam_ext.h>

enum reply_kind { REPLY_EMPTY, REPLY_TOKEN, REPLY_TRUNCATED, REPLY_PASS };

static bool is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Three non-empty base64url segments: a compact JWS. A reply that starts like one ("eyJ" is
 * base64url of '{"') but is not complete, or that is exactly as long as sudo lets a reply
 * be, was cut by the conversation. */
static enum reply_kind classify(const char *reply)
{
	size_t len = strlen(reply), dots = 0, seg = 0;
	bool shape = true;
	if (len == 0)
		return REPLY_EMPTY;
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
			      .rhost = m->rhost[0] ? m->rhost : NULL };
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
	pam_syslog(m->pamh, cls == ET_CLASS_DENIED ? LOG_NOTICE : LOG_ERR, "%s: %s: %s (%s)", log_user(m), method,
		   err->message, err->reason);
	if (cls == ET_CLASS_DENIED)
		et_pam_error(m, "%s: %s", lead, err->message);
	else
		et_pam_error(m, "%s: %s", lead, et_pam_class_sentence(cls));
	audit_denied(m, method, err->code, err->message);
	return code;
}

/* Verify an ID token; wipes nothing (the caller owns it). For a name that is no local account
 * the token is checked the same way (same work, same messages) but never pins and never
 * passes: whoever signed in cannot be that account. */
static int verify_token(struct et_pam *m, const char *token, const char *method, json_object **ret_claims)
{
	struct et_keystore ks;
	struct et_verdict v;
	struct et_verify_opts o = { .now = time(NULL),
				    .expect_user = m->user,
				    .record_pin = m->user_known,
				    .check_account = m->user_known };
	int code;

	et_keystore_init(&ks, &m->cfg);
	et_token_verify(&ks, token, strlen(token), &o, &v);
	et_keystore_free(&ks);
	if (v.accept && !m->user_known) {
		v.accept = false;
		et_err_set(&v.why, ET_E_WRONG_USER, "The token is not for local user \"%s\".", log_user(m));
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

/* ---- the methods ---- */

static int method_device_code(struct et_pam *m, json_object **ret_claims)
{
	struct et_oidc oidc = { 0 };
	struct et_device dev = { 0 };
	struct et_device_wait_opts w;
	struct et_err err;
	char *reply = NULL, *id_token = NULL, rid[9];
	const char *who = display_name(m), *lu = log_user(m);
	bool flow_taken = false;
	time_t now = time(NULL);
	int retval;

	/* a name that is no local account names no state file: only the address limit counts */
	if (et_rate_take(&m->cfg, m->user_known ? m->user : NULL, m->rhost, now, &err) < 0 ||
	    (m->user_known && et_flow_begin(&m->cfg, m->user, now + m->cfg.device_code_timeout + 5, &err) < 0)) {
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
	if (et_oidc_discover(&m->cfg, &oidc, &err) < 0 || et_device_start(&m->cfg, &oidc, NULL, &dev, &err) < 0) {
		retval = fail_with(m, "device_code", &err, "Sign-in with a code is unavailable");
		goto done;
	}
	request_id(rid);
	pam_syslog(m->pamh, LOG_INFO, "%s: device sign-in started (request %s, service %s, rhost %s)", lu, rid,
		   m->service, m->rhost[0] ? m->rhost : "-");
	retval = et_pam_ask(m, PAM_PROMPT_ECHO_ON, &reply,
			    "Sign in to %s as %s (service %s, tty %s, from %s; request %s):\n"
			    "open %s and enter the code %s\n"
			    "You can sign in there with your Temporary Access Pass.\n"
			    "Only continue if you started this on %s just now.\n"
			    "Press Enter when you have signed in (or type n to cancel): ",
			    m->host, who, m->service, m->tty[0] ? m->tty : "-", m->rhost[0] ? m->rhost : "this host", rid,
			    dev.verification_uri, dev.user_code, m->host);
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
	if (et_device_wait(&m->cfg, &oidc, &dev, &w, &id_token, &err) < 0) {
		if (err.code == ET_E_DEADLINE)
			et_err_set(&err, ET_E_DEADLINE, "The sign-in with a code was not finished within %ld seconds.",
				   m->cfg.device_code_timeout);
		retval = fail_with(m, "device_code", &err, "Sign-in with a code failed");
		goto done;
	}
	pam_syslog(m->pamh, LOG_INFO, "%s: device sign-in %s answered after %u poll(s)", lu, rid, dev.polls);
	retval = verify_token(m, id_token, "device_code", ret_claims);
done:
	et_pam_reply_free(reply);
	et_oauth_secret_free(id_token);
	et_device_free(&dev);
	et_oidc_free(&oidc);
	if (flow_taken)
		et_flow_end(&m->cfg, m->user);
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
	char *id_token = NULL;
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
	if (et_oidc_discover(&m->cfg, &oidc, &err) < 0)
		return fail_with(m, "tap", &err, "Sign-in refused");
	if (et_password_flow(&m->cfg, &oidc, m->upn, pass, NULL, &id_token, &err) < 0) {
		if (err.code == ET_E_MFA_REQUIRED)
			et_err_set(&err, ET_E_MFA_REQUIRED, "%s", tap_mfa_sentence);
		retval = fail_with(m, "tap", &err, "Sign-in refused");
	} else {
		retval = verify_token(m, id_token, "tap", ret_claims);
	}
	et_oidc_free(&oidc);
	et_oauth_secret_free(id_token);
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
	char *id_token = NULL;
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
	if (et_lock_check(&m->cfg, m->user, now, &until, &err) < 0)
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
	if (et_oidc_discover(&m->cfg, &oidc, &err) < 0)
		return fail_with(m, "tap", &err, "Sign-in refused");
	if (et_password_flow(&m->cfg, &oidc, m->upn, pass, NULL, &id_token, &err) < 0) {
		if (err.code == ET_E_MFA_REQUIRED)
			et_err_set(&err, ET_E_MFA_REQUIRED, "%s", tap_mfa_sentence);
		retval = fail_with(m, "tap", &err, "Sign-in refused");
		et_oidc_free(&oidc);
		if (err.code != ET_E_AUTH_FAILED)
			return retval;
		goto count;
	}
	et_oidc_free(&oidc);
	retval = verify_token(m, id_token, "tap", ret_claims);
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
	if (retval == PAM_SUCCESS && et_lock_reset(&m->cfg, m->user, &err) < 0)
		pam_syslog(m->pamh, LOG_ERR, "%s: cannot reset the failure count: %s", m->user, err.message);
	return retval;
count:
	if (et_lock_fail(&m->cfg, m->user, now, &failures, &until, &err) < 0) {
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
	const char *who = display_name(m);
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
		retval = et_pam_ask(m, PAM_PROMPT_ECHO_OFF, &reply, "Temporary Access Pass for %s (checked as a password%s): ",
				    who, offer_code ? "; Enter to sign in with a code" : "");
		if (retval != PAM_SUCCESS)
			return retval;
	} else if (offer_token) {
		retval = et_pam_ask(m, PAM_PROMPT_ECHO_OFF, &reply, "Entra ID token for %s%s: ", who,
				    offer_code ? " (Enter to sign in with a code)" : "");
		if (retval != PAM_SUCCESS)
			return retval;
	} else {
		reply = strdup("");
		if (!reply)
			return PAM_BUF_ERR;
	}

	switch (classify(reply)) {
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
			retval = verify_token(m, reply, "token", ret_claims);
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
