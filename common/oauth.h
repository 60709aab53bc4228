/* SPDX-License-Identifier: Apache-2.0 */
/* OAuth 2.0 client flows against the tenant's token endpoint: the device authorization flow
 * (RFC 8628) and the resource owner password flow (RFC 6749 §4.3, Entra's "ROPC"), both for
 * the configured public client (cfg->client_id, no secret).
 *
 * What comes back is the raw ID token: nothing here verifies it. Callers hand it to
 * et_token_verify (verify.h) before believing a word of it.
 *
 * Every call is bounded in time (cfg->http_timeout per request, never retried) and size
 * (ET_HTTP_MAX_BODY per answer, and the per-field bounds below). Text that comes from the
 * identity provider (error descriptions, the device flow message) is untrusted: control
 * characters are removed and its length is capped before it reaches an error sentence, a log
 * line or a prompt.
 *
 * Secrets: the device code, the password or Temporary Access Pass, every form body carrying
 * one and every ID token are wiped (explicit_bzero) when their owner is done with them, never
 * logged, and never copied into error text. ID tokens handed to the caller are the caller's
 * to wipe: et_oauth_secret_free does it.
 *
 * Failure reasons (err->reason), shared by every function below, and how the PAM module is
 * expected to map them:
 *   "auth_failed"           the identity provider refused the credential: OAuth invalid_grant
 *                           (wrong, expired, used-up or not-yet-valid pass, unknown user, or
 *                           a device sign-in the IdP refused to redeem) → PAM_AUTH_ERR.
 *                           The sentence carries the first line of the IdP's
 *                           error_description, sanitised, never the credential.
 *   "mfa_required"          interaction_required, or AADSTS50076 / AADSTS50079 in any error:
 *                           the tenant demands MFA, which a password flow cannot satisfy
 *                           → PAM_AUTH_ERR (the message should point at the device-code
 *                           sign-in).
 *   "declined"              the person declined the device sign-in (authorization_declined,
 *                           or RFC 8628's access_denied) → PAM_AUTH_ERR.
 *   "code_expired"          the device code expired (expired_token, or its expires_in passed
 *                           locally before the next poll was due) → PAM_AUTH_ERR.
 *   "bad_verification_code" the token endpoint does not know the device code (already
 *                           redeemed, issued to another client) → PAM_AUTH_ERR.
 *   "client_not_allowed"    invalid_client / unauthorized_client: the app registration is
 *                           unknown to the tenant, or is not allowed this flow (Entra answers
 *                           AADSTS7000218 when public client flows are off) → PAM_AUTHINFO_UNAVAIL
 *                           (an administrator must fix the registration; the user cannot).
 *   "idp_unavailable"       network failure, TLS failure, timeout, HTTP 5xx or 429, or an
 *                           OAuth temporarily_unavailable / server_error answer
 *                           → PAM_AUTHINFO_UNAVAIL.
 *   "idp_error"             the IdP answered something we cannot use: not JSON (with a status
 *                           other than 5xx), an unexpected shape, a field that fails
 *                           validation, an unexpected HTTP status, an OAuth error not listed
 *                           here (invalid_request, invalid_scope, unsupported_grant_type...)
 *                           → PAM_AUTHINFO_UNAVAIL.
 *   "deadline"              et_device_wait only: the caller's deadline came before an answer
 *                           → PAM_AUTH_ERR (the person did not finish in time).
 *   "cancelled"             et_device_wait only: the cancel callback said stop → PAM_ABORT or
 *                           PAM_CONV_ERR, as the caller knows why it cancelled.
 *   "bad_argument"          a caller error (missing or oversized argument, bad scope, no
 *                           deadline) → PAM_SYSTEM_ERR.
 *   "no_memory"             → PAM_BUF_ERR.
 *
 * Typical use in the PAM module (error handling elided):
 *
 *     struct et_oidc oidc;            et_oidc_discover(cfg, &oidc, &err);
 *     struct et_device dev;           et_device_start(cfg, &oidc, NULL, &dev, &err);
 *     ... echo-on prompt showing dev.verification_uri and dev.user_code, host, service,
 *         "only continue if you started this just now ... then press Enter" ...
 *     struct et_device_wait_opts w = { .deadline = et_deadline_in(device_code_timeout) };
 *     char *id_token = NULL;
 *     if (et_device_wait(cfg, &oidc, &dev, &w, &id_token, &err) == 0)
 *             ... et_token_verify(&ks, id_token, strlen(id_token), ...) ...
 *     et_oauth_secret_free(id_token);
 *     et_device_free(&dev);
 *
 * or, for a pass typed at the prompt (where the IdP accepts the password flow):
 *
 *     et_password_flow(cfg, &oidc, upn, pass, NULL, &id_token, &err);
 *     explicit_bzero(pass, ...);  then verify and free id_token as above.
 *
 * Nothing here keeps global state: calls on different et_device values may run in parallel.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "conf.h"
#include "err.h"
#include "oidc.h"

/* Always requested: Entra returns an ID token only when the scope has "openid", and
 * "profile" brings the name claims the identity mapping reads. */
#define ET_OAUTH_BASE_SCOPE "openid profile"
#define ET_OAUTH_SCOPE_MAX 512 /* the whole scope string, base scope included */

/* Bounds on what we send and accept. */
#define ET_OAUTH_USERNAME_MAX 256
#define ET_OAUTH_PASSWORD_MAX 256
#define ET_DEVICE_CODE_MAX 4096 /* Entra's are a few hundred characters */
#define ET_USER_CODE_MAX 32	/* Entra's are 9; RFC 8628 suggests short, typable codes */
#define ET_VERIFICATION_URI_MAX 512
#define ET_DEVICE_MESSAGE_MAX 1024
#define ET_DEVICE_EXPIRES_MAX 86400L  /* seconds; Entra's codes live 900 s */
#define ET_DEVICE_INTERVAL_DEFAULT 5L /* RFC 8628 §3.2, when the answer has no interval */
#define ET_DEVICE_INTERVAL_MAX 300L   /* a larger interval in the answer is refused */
#define ET_DEVICE_SLOW_DOWN_STEP 5L   /* RFC 8628 §3.5: each slow_down adds 5 s, cumulatively */
#define ET_DEVICE_MAX_UNAVAILABLE 3   /* consecutive idp_unavailable polls that end the wait */
#define ET_DEVICE_POLL_RECORDS 64     /* polls whose timing is kept (the count goes on) */
#define ET_DEVICE_CANCEL_CHECK_MS 200 /* the cancel callback runs at least this often while waiting */
/* IdP text (error_description) kept in an error sentence, in bytes, "..." included. */
#define ET_OAUTH_IDP_TEXT_MAX 160

/* Timing of one poll, CLOCK_MONOTONIC. */
struct et_device_poll_rec {
	struct timespec sent;	  /* just before the request went out */
	struct timespec answered; /* when the answer (or the failure) came back */
	long interval_after;	  /* the interval in force after this poll (grown by slow_down) */
};

/* A device authorization in progress: what et_device_start got from the device authorization
 * endpoint, plus the polling state. Owned by the caller; et_device_free wipes and frees. */
struct et_device {
	/* SECRET: wiped on free, never logged, never shown. */
	char *device_code;
	/* To show: printable ASCII, 1..ET_USER_CODE_MAX characters. */
	char *user_code;
	/* To show: https, no spaces or control characters. Entra's name; an answer that says
	 * verification_url (older drafts, Entra's v1 endpoint) fills this too. */
	char *verification_uri;
	/* Optional (NULL): https URI with the code in it, for a QR code. */
	char *verification_uri_complete;
	/* Optional (NULL): the IdP's sentence for the person, first line, sanitised. */
	char *message;
	long expires_in; /* seconds, 1..ET_DEVICE_EXPIRES_MAX */
	long interval;   /* seconds between polls, >= 1; grows by 5 on each slow_down */
	/* CLOCK_MONOTONIC when the answer arrived, and issued + expires_in. Both zero when the
	 * value did not come from et_device_start; a zero expiry is not checked locally. */
	struct timespec issued;
	struct timespec expires_at;

	/* Polling state, kept by et_device_poll: read, never written, by callers. */
	unsigned polls;                /* polls made, every outcome counted */
	struct timespec last_answered; /* when the latest poll's answer (or failure) came back */
	struct et_device_poll_rec poll_log[ET_DEVICE_POLL_RECORDS]; /* the first polls' timing */
};

/* Start a device sign-in: POST client_id and scope to oidc->device_authorization_endpoint.
 * scope: NULL for ET_OAUTH_BASE_SCOPE, or extra space-separated scope tokens added after it
 * (duplicates of openid/profile are dropped). Every field of the answer is validated: types,
 * sizes, user_code printable and short, verification_uri https; interval absent → 5 s, 0 → 1 s
 * (we never poll faster than once a second). Reasons: "client_not_allowed",
 * "idp_unavailable", "idp_error", "bad_argument", "no_memory". On success *ret is filled;
 * release it with et_device_free. */
int et_device_start(const struct et_config *cfg, const struct et_oidc *oidc, const char *scope, struct et_device *ret,
		    struct et_err *err);

/* Wipe the device code and free everything; NULL-safe; leaves *dev zeroed. */
void et_device_free(struct et_device *dev);

enum et_poll_result {
	ET_POLL_FAILED = -1,   /* err->reason says why (reasons in the file comment) */
	ET_POLL_OK = 0,	       /* signed in: *ret_id_token is set */
	ET_POLL_PENDING = 1,   /* authorization_pending: ask again after dev->interval */
	ET_POLL_SLOW_DOWN = 2, /* slow_down: dev->interval has already grown by 5 s */
};

/* One poll of the token endpoint (grant_type urn:ietf:params:oauth:grant-type:device_code),
 * right now: it does not wait, so a caller that schedules polls itself must honour
 * dev->interval (et_device_wait does). Records the poll's timing in dev. On ET_POLL_OK,
 * *ret_id_token is a malloc'd ID token (compact JWS, at most ET_JWS_MAX_BYTES), the caller's
 * to wipe (et_oauth_secret_free). A single poll's failures are all final except
 * "idp_unavailable", which et_device_wait retries. */
enum et_poll_result et_device_poll(const struct et_config *cfg, const struct et_oidc *oidc, struct et_device *dev,
				   char **ret_id_token, struct et_err *err);

/* Return true to stop waiting ("cancelled"). */
typedef bool (*et_cancel_fn)(void *data);

struct et_device_wait_opts {
	/* Required: absolute CLOCK_MONOTONIC time after which no poll is sent ("deadline").
	 * Build it with et_deadline_in. The PAM module keeps it below sshd's LoginGraceTime. */
	struct timespec deadline;
	et_cancel_fn cancel; /* optional: checked before every poll and while sleeping */
	void *cancel_data;
};

/* The polling loop: the first poll goes out at once (the person has just pressed Enter; if
 * the code was polled before, at once means as soon as the interval allows), then one poll
 * per dev->interval seconds counted from the previous answer, so the server never sees two
 * polls closer than the interval. slow_down adds 5 s to the interval, cumulatively;
 * authorization_pending goes on. Stops with success (0, *ret_id_token as for
 * et_device_poll) or -1 on: "declined", "code_expired", "bad_verification_code",
 * "auth_failed", "client_not_allowed", "idp_error" (non-JSON, unexpected answers),
 * "idp_unavailable" (ET_DEVICE_MAX_UNAVAILABLE consecutive network / TLS / timeout / 5xx
 * failures), "deadline" (the next poll would come after opts->deadline: the wait ends
 * without sleeping until then; a request in flight is cut off at the deadline, to the
 * second), "cancelled", "bad_argument" (no deadline), "no_memory".
 * Sleeps with clock_nanosleep on CLOCK_MONOTONIC: no signals, no alarm(), nothing that
 * disturbs a host process such as sshd or sudo. */
int et_device_wait(const struct et_config *cfg, const struct et_oidc *oidc, struct et_device *dev,
		   const struct et_device_wait_opts *opts, char **ret_id_token, struct et_err *err);

/* Password flow: POST grant_type=password, client_id, username, password, scope (built as for
 * et_device_start) to oidc->token_endpoint. The password may be a Temporary Access Pass where
 * the IdP accepts one this way (Entra does not document that; see README). The form body is
 * built in a buffer that is wiped after the call; the password is neither logged nor put in
 * any error text (an IdP description that echoes it is dropped). Reasons: "auth_failed",
 * "mfa_required", "client_not_allowed", "idp_unavailable", "idp_error", "bad_argument"
 * (empty or oversized username or password, a control character in the username),
 * "no_memory". On success *ret_id_token as for et_device_poll. */
int et_password_flow(const struct et_config *cfg, const struct et_oidc *oidc, const char *username,
		     const char *password, const char *scope, char **ret_id_token, struct et_err *err);

/* The same two flows, also handing back the access token of the answer (NULL when the answer
 * has none), for Microsoft Graph: scope asks for the Graph permissions
 * (ET_GRAPH_SCOPE_USER_READ, graph.h). The access token is opaque to this host: it is never
 * parsed, verified, logged or stored, only checked to be a bearer token68 of at most
 * ET_ACCESS_TOKEN_MAX bytes and sent to Graph; the caller wipes it (et_oauth_secret_free)
 * as soon as Graph has answered. */
#define ET_ACCESS_TOKEN_MAX 16384
int et_device_wait_tokens(const struct et_config *cfg, const struct et_oidc *oidc, struct et_device *dev,
			  const struct et_device_wait_opts *opts, char **ret_id_token, char **ret_access_token,
			  struct et_err *err);
int et_password_flow_tokens(const struct et_config *cfg, const struct et_oidc *oidc, const char *username,
			    const char *password, const char *scope, char **ret_id_token, char **ret_access_token,
			    struct et_err *err);

/* Wipe a NUL-terminated secret (an ID token from the calls above) and free it; NULL-safe. */
void et_oauth_secret_free(char *secret);

/* An absolute CLOCK_MONOTONIC time `seconds` from now, for et_device_wait_opts.deadline. */
struct timespec et_deadline_in(long seconds);

/* ---- the parsers, exposed for the fuzz harnesses and the unit tests ---- */

/* Build the scope string: ET_OAUTH_BASE_SCOPE, then each token of extra (space-separated,
 * RFC 6749 scope-token characters only) not already present. NULL extra is fine. Reasons:
 * "bad_argument", "no_memory". */
int et_oauth_scope(const char *extra, char **ret_scope, struct et_err *err);

/* Copy untrusted IdP text into out (outsz >= 4): the first line only, sanitised by the rule
 * of et_text_sanitize (text.h: invalid UTF-8, controls, bidirectional marks and separators
 * become '?'), cut at a UTF-8 character boundary and marked with "..." when it does not fit,
 * without trailing blanks. Returns out. */
char *et_oauth_sanitize_text(const char *in, char *out, size_t outsz);

/* Parse and validate a device authorization answer (the JSON body of an HTTP 200). Fills
 * every field of *ret except issued / expires_at / the polling state, which are zero.
 * Reasons: "idp_error", "no_memory". */
int et_device_parse_response(const char *body, size_t len, struct et_device *ret, struct et_err *err);

/* Which flow an answer of the token endpoint belongs to: some errors mean different things
 * (authorization_pending is only meaningful for the device flow). */
enum et_flow_kind { ET_FLOW_DEVICE_CODE = 0, ET_FLOW_PASSWORD = 1 };

/* Classify an answer of the token endpoint (HTTP status and body). Returns ET_POLL_OK with
 * *ret_id_token set (status 200 with a well-formed id_token), ET_POLL_PENDING or
 * ET_POLL_SLOW_DOWN (device flow only; for the password flow these are "idp_error"), or
 * ET_POLL_FAILED with the reason. `secret` (the password or device code, may be NULL) is
 * used only to make sure no IdP text that contains it reaches err. */
enum et_poll_result et_token_response_parse(enum et_flow_kind kind, long status, const char *body, size_t len,
					    const char *secret, char **ret_id_token, struct et_err *err);
/* The same, with the access token too (ret_access_token NULL: not looked at). */
enum et_poll_result et_token_response_parse_tokens(enum et_flow_kind kind, long status, const char *body, size_t len,
						   const char *secret, char **ret_id_token, char **ret_access_token,
						   struct et_err *err);
