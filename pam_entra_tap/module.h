/* SPDX-License-Identifier: Apache-2.0 */
/* pam_entra_tap.so, inside: one `struct et_pam` per call of an entry point, built from the
 * PAM handle, the configuration file and the module arguments. Nothing here is global. */
#pragma once
#include <stdbool.h>
#include <time.h>
#include <security/pam_modules.h>
#include "conf.h"
#include "contract.h"
#include "err.h"
#include "grant_ops.h"

#define ET_PAM_DATA_GRANT "pam_entra_tap:grant"
/* Set by `entra-tap-helper elevate` for the entra-tap service only. */
/* sudo cuts a reply at this many characters. */
#define ET_PAM_SUDO_REPLY_MAX 1023
#define ET_PAM_UPN_MAX 256

enum et_no_grant { ET_NO_GRANT_IGNORE = 0, ET_NO_GRANT_SUCCESS = 1 };

struct et_pam {
	pam_handle_t *pamh;
	int flags;
	struct et_config cfg;
	bool cfg_ready;
	/* et_pam_setup failed because the configuration (file or arguments) cannot be used:
	 * account, setcred and session then decide with et_pam_broken_config */
	bool config_broken;
	char config_path[256];
	struct et_err config_why;

	/* module options that are not configuration keys */
	bool debug;
	bool grant;
	bool use_first_pass, try_first_pass;
	bool require_prior_publickey;
	bool revoke_on_close;
	enum et_no_grant no_grant;

	/* PAM items (owned by libpam; "" when unset) */
	const char *user;
	const char *service;
	const char *tty;
	const char *rhost;
	bool user_known;       /* a valid local name that exists in the passwd database */
	char upn[ET_PAM_UPN_MAX + 1]; /* the Entra name for user, "" when none can be derived */
	struct et_err upn_err;        /* why upn is "": the user map cannot be used (else ET_E_NONE) */
	char host[256];

	/* What Microsoft Graph said at sign-in (graph.h), for the audit and the grant. */
	long graph_checked, graph_matched; /* checkMemberGroups: eligible groups sent / matched */
	bool pim_found;                    /* pim = yes: the instance that allowed the sign-in */
	bool pim_activated;                /* its assignmentType: activated (else assigned) */
	time_t pim_until;                  /* its endDateTime; 0: permanent (allowed) */
	/* break-glass (signin.c): set in this transaction */
	bool idp_unreachable;    /* a sign-in failed because the identity provider could not be reached */
	long breakglass_duration; /* an accepted voucher: the grant's length, seconds */
	char breakglass_reason[ET_GRANT_TEXT_MAX + 1];
	char breakglass_jti[33], breakglass_kid[17];
};

/* ---- options.c ---- */
/* Fill m from pamh, the configuration and argv. Returns PAM_SUCCESS, or a PAM code after
 * logging why (PAM_SERVICE_ERR for a configuration that cannot be used, PAM_BUF_ERR). */
int et_pam_setup(struct et_pam *m, pam_handle_t *pamh, int flags, int argc, const char **argv);
void et_pam_teardown(struct et_pam *m);
/* The account, setcred and session phases when the configuration cannot be used
 * (m->config_broken): the user's grants are looked up from the last good copy or the
 * defaults (lastgood.h). No grant (or not root, so no store to read): PAM_IGNORE, so that a
 * broken file never locks out root, cron or anyone without elevation. A grant: every grant
 * of the user is revoked (entra-tap-grantctl revoke --user) and refused_code returned. */
int et_pam_broken_config(struct et_pam *m, int refused_code);
/* The Entra name for a local user: upn_format, the user map file read backwards, or
 * user@first allowed domain. Returns 0 or -1 (none can be derived); err is set only when the
 * user map cannot be used (unsafe, malformed, missing). */
int et_pam_upn_for(const struct et_config *cfg, const char *user, char *out, size_t size, struct et_err *err);

/* ---- conv.c ---- */
/* A prompt; *ret_reply is malloc'd (wipe it). PAM_SUCCESS or PAM_CONV_ERR / PAM_BUF_ERR. */
int et_pam_ask(struct et_pam *m, int style, char **ret_reply, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* An error sentence for the person: always shown. */
void et_pam_error(struct et_pam *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Derived from a failure's class (reasons.h), and only from it. */
int et_pam_code(enum et_class cls);
const char *et_pam_class_sentence(enum et_class cls);
/* Wipe and free a reply. */
void et_pam_reply_free(char *reply);

/* ---- limits.c: root-only per-user state under {state_dir} ---- */
/* Every budget of a user is kept per origin: rhost (the remote address), or a local terminal
 * when rhost is empty; what is spent from one origin never counts against another. */
/* TAP lockout. ret_until: when the current lockout ends (0 when not locked). */
int et_lock_check(const struct et_config *cfg, const char *user, const char *rhost, time_t now, time_t *ret_until,
		  struct et_err *err);
/* Count a wrong pass; ret_until != 0 when this failure started a lockout. */
int et_lock_fail(const struct et_config *cfg, const char *user, const char *rhost, time_t now, unsigned *ret_failures,
		 time_t *ret_until, struct et_err *err);
int et_lock_reset(const struct et_config *cfg, const char *user, const char *rhost, struct et_err *err);
/* One outstanding device sign-in per user and origin: take the marker (pid + expiry) or
 * learn that a live one exists (reason "flow_busy"). */
int et_flow_begin(const struct et_config *cfg, const char *user, const char *rhost, time_t expires,
		  struct et_err *err);
void et_flow_end(const struct et_config *cfg, const char *user, const char *rhost);
/* Sliding-window rate limit on device sign-ins, per user and origin and per remote address
 * (rhost may be empty: a local terminal, no address budget; user NULL: only the address
 * counts, for a name that is no local account and must not name a state file). Reason
 * "rate_limited" names which limit. */
int et_rate_take(const struct et_config *cfg, const char *user, const char *rhost, time_t now, struct et_err *err);

/* ---- signin.c ---- */
/* The authentication: prompts, the chosen method, verification. Returns a PAM code. On
 * PAM_SUCCESS, *ret_claims holds the verified token's claims (json_object, owned). */
struct json_object;
int et_pam_signin(struct et_pam *m, struct json_object **ret_claims, const char **ret_method);

/* ---- grantstep.c ---- */
/* Create the grant through the helper, tell the person, remember it for revocation if the
 * transaction fails later. Returns a PAM code. */
int et_pam_grant(struct et_pam *m, struct json_object *claims, const char *method);
/* The account phase and setcred/session parts that concern this transaction's grant. */
/* Credentials were established or a session was opened: the transaction succeeded (settles
 * the pending grant). */
void et_pam_grant_confirm(struct et_pam *m);
/* The account phase in a process that did not make the grant (sshd): take the grant named by
 * ENTRA_TAP_GRANT_ID, once checked in the store to be this user's, as pending here. */
void et_pam_grant_adopt(struct et_pam *m);
int et_pam_grant_revoke_pending(struct et_pam *m, const char *why);
int et_pam_revoke_id(struct et_pam *m, const char *id, const char *why);

/* ---- helper_cmd.c: every command line given to entra-tap-grantctl (contract.h) ---- */
struct et_cmd_grant_args {
	const char *user, *method, *reason; /* required */
	const char *duration;               /* seconds, as text; NULL: the default */
	const char *oid, *tid, *upn, *service, *rhost;
	const char *pim_until; /* seconds since the epoch, as text; NULL: no PIM cap */
	bool pending; /* --watch this process and its parent: grantctl guards the grant */
	bool extend;  /* --extend: a live grant of the user gets the new expiry (elevate) */
};
/* `grant`: the new grant's id from its one output line. */
int et_cmd_grant(const struct et_cmd_grant_args *a, char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err);
int et_cmd_revoke(const char *id, struct et_err *err);
/* `revoke --user USER`: every grant of user. */
int et_cmd_revoke_user(const char *user, struct et_err *err);
/* `tie USER PID [--tty TTY]`: the session of process pid ends with user's live grant.
 * Reason "helper_failed" (exit ET_EXIT_NOT_FOUND: no live grant) and the spawn's. */
int et_cmd_tie(const char *user, pid_t pid, const char *tty, struct et_err *err);
/* `sweep --user USER --cause account`: an et_revoke_user_fn for et_grant_check. */
int et_cmd_revoke_user_at_account(const char *user, struct et_err *err);
/* The machine line of `grant` (contract.h): exactly one id and "\n". Reasons "no_grant_id",
 * "bad_grant_id". */
int et_grant_id_line_parse(const char *out, size_t len, char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err);
