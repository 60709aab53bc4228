/* SPDX-License-Identifier: Apache-2.0 */
/* Every reason the core, the module and the programs can fail with, each with its class.
 *
 * A reason is what went wrong, for the log and the audit trail ("bad_signature"); its class
 * is what that means for the caller. The PAM return code (pam_entra_tap/), the programs' exit
 * statuses (helper/) and the sentence a person at a prompt is shown are derived from the
 * class by a switch, never from the reason: a reason added here is mapped the moment it is
 * given a class, and a misspelt reason does not compile (ET_E_<NAME> does not exist).
 *
 * X(NAME, "name", CLASS): NAME makes ET_E_NAME, "name" is the reason's spelling in logs,
 * journal fields (ENTRA_TAP_REASON) and tests. */
#pragma once

enum et_class {
	ET_CLASS_NONE = 0,     /* no error */
	ET_CLASS_DENIED,       /* the sign-in or the request was refused: the person's own doing */
	ET_CLASS_RATE_LIMITED, /* refused before trying: too many attempts */
	ET_CLASS_USER_UNKNOWN, /* no such local account */
	ET_CLASS_UNAVAILABLE,  /* the identity provider could not be reached or answered unusably */
	ET_CLASS_CONFIG,       /* this host's configuration cannot be used */
	ET_CLASS_NO_GROUP,     /* the elevated group does not exist */
	ET_CLASS_BUSY,         /* a lock could not be taken in time */
	ET_CLASS_NOT_FOUND,    /* no such grant or record */
	ET_CLASS_USAGE,        /* a malformed request (argument) */
	ET_CLASS_NO_MEMORY,    /* out of memory */
	ET_CLASS_INTERNAL,     /* anything else that failed on this host */
};

/* clang-format off */
#define ET_REASONS(X) \
	X(ALG_HMAC,              "alg_hmac",              DENIED) \
	X(ALG_NONE,              "alg_none",              DENIED) \
	X(ALG_UNSUPPORTED,       "alg_unsupported",       DENIED) \
	X(AMR_REQUIRED,          "amr_required",          DENIED) \
	X(APP_ONLY_TOKEN,        "app_only_token",        DENIED) \
	X(AUTH_FAILED,           "auth_failed",           DENIED) \
	X(BAD_ARGUMENT,          "bad_argument",          INTERNAL) \
	X(BAD_AUDIENCE,          "bad_audience",          DENIED) \
	X(BAD_AUTHORIZED_PARTY,  "bad_authorized_party",  DENIED) \
	X(BAD_BASE64,            "bad_base64",            DENIED) \
	X(BAD_CLAIM_TYPE,        "bad_claim_type",        DENIED) \
	X(BAD_DISCOVERY,         "bad_discovery",         UNAVAILABLE) \
	X(BAD_DURATION,          "bad_duration",          USAGE) \
	X(BAD_EXPIRY,            "bad_expiry",            INTERNAL) \
	X(BAD_GRANT,             "bad_grant",             INTERNAL) \
	X(BAD_GRANT_ID,          "bad_grant_id",          INTERNAL) \
	X(BAD_GROUP_NAME,        "bad_group_name",        CONFIG) \
	X(BAD_HELPER_PATH,       "bad_helper_path",       CONFIG) \
	X(BAD_ID,                "bad_id",                USAGE) \
	X(BAD_ISSUER,            "bad_issuer",            DENIED) \
	X(BAD_JSON,              "bad_json",              DENIED) \
	X(BAD_JWKS,              "bad_jwks",              UNAVAILABLE) \
	X(BAD_MAP_FILE,          "bad_map_file",          CONFIG) \
	X(BAD_METHOD,            "bad_method",            USAGE) \
	X(BAD_SIGNATURE,         "bad_signature",         DENIED) \
	X(BAD_TENANT,            "bad_tenant",            DENIED) \
	X(BAD_TYP,               "bad_typ",               DENIED) \
	X(BAD_USER,              "bad_user",              USAGE) \
	X(BAD_USER_NAME,         "bad_user_name",         DENIED) \
	X(BAD_VERIFICATION_CODE, "bad_verification_code", DENIED) \
	X(BUS_CALL,              "bus_call",              INTERNAL) \
	X(BUS_MESSAGE,           "bus_message",           INTERNAL) \
	X(CACHE_FLUSH_FAILED,    "cache_flush_failed",    INTERNAL) \
	X(CACHE_LOCK,            "cache_lock",            BUSY) \
	X(CANCELLED,             "cancelled",             DENIED) \
	X(CLIENT_NOT_ALLOWED,    "client_not_allowed",    UNAVAILABLE) \
	X(CODE_EXPIRED,          "code_expired",          DENIED) \
	X(CONFIG,                "config",                CONFIG) \
	X(CONFIG_BAD_VALUE,      "config_bad_value",      CONFIG) \
	X(CONFIG_CONFLICT,       "config_conflict",       CONFIG) \
	X(CONFIG_DUPLICATE_KEY,  "config_duplicate_key",  CONFIG) \
	X(CONFIG_MISSING_KEY,    "config_missing_key",    CONFIG) \
	X(CONFIG_SYNTAX,         "config_syntax",         CONFIG) \
	X(CONFIG_UNKNOWN_KEY,    "config_unknown_key",    CONFIG) \
	X(CONVERSATION,          "conversation",          DENIED) \
	X(CORRUPT,               "corrupt",               INTERNAL) \
	X(CORRUPT_GRANT,         "corrupt_grant",         INTERNAL) \
	X(CORRUPT_TIES,          "corrupt_ties",          INTERNAL) \
	X(CRIT,                  "crit",                  DENIED) \
	X(DEADLINE,              "deadline",              DENIED) \
	X(DECLINED,              "declined",              DENIED) \
	X(DISCOVERY_FAILED,      "discovery_failed",      UNAVAILABLE) \
	X(DOMAIN_NOT_ALLOWED,    "domain_not_allowed",    DENIED) \
	X(DUPLICATE_GROUP,       "duplicate_group",       INTERNAL) \
	X(DUPLICATE_MEMBER,      "duplicate_member",      INTERNAL) \
	X(EMBEDDED_KEY,          "embedded_key",          DENIED) \
	X(EXEC_FAILED,           "exec_failed",           INTERNAL) \
	X(EXPIRED,               "expired",               DENIED) \
	X(FLOW_BUSY,             "flow_busy",             DENIED) \
	X(GRANT_MISMATCH,        "grant_mismatch",        INTERNAL) \
	X(GRAPH_ERROR,           "graph_error",           UNAVAILABLE) \
	X(GRAPH_REFUSED,         "graph_refused",         UNAVAILABLE) \
	X(GRAPH_UNAVAILABLE,     "graph_unavailable",     UNAVAILABLE) \
	X(GROUP_EDIT_FAILED,     "group_edit_failed",     INTERNAL) \
	X(GROUP_LOCKED,          "group_locked",          BUSY) \
	X(GROUP_OVERAGE,         "group_overage",         DENIED) \
	X(GROUP_UNMANAGED,       "group_unmanaged",       CONFIG) \
	X(GUARD_FAILED,          "guard_failed",          INTERNAL) \
	X(HELPER_FAILED,         "helper_failed",         INTERNAL) \
	X(HTTP_CONNECT,          "http_connect",          UNAVAILABLE) \
	X(HTTP_ERROR,            "http_error",            UNAVAILABLE) \
	X(HTTP_SCHEME,           "http_scheme",           UNAVAILABLE) \
	X(HTTP_TIMEOUT,          "http_timeout",          UNAVAILABLE) \
	X(HTTP_TLS,              "http_tls",              UNAVAILABLE) \
	X(HTTP_TOO_LARGE,        "http_too_large",        UNAVAILABLE) \
	X(IDP_ERROR,             "idp_error",             UNAVAILABLE) \
	X(IDP_UNAVAILABLE,       "idp_unavailable",       UNAVAILABLE) \
	X(ISSUED_IN_FUTURE,      "issued_in_future",      DENIED) \
	X(JWKS_FETCH_FAILED,     "jwks_fetch_failed",     UNAVAILABLE) \
	X(KEY_ALG_MISMATCH,      "key_alg_mismatch",      DENIED) \
	X(KILLED,                "killed",                INTERNAL) \
	X(LOCKED_OUT,            "locked_out",            RATE_LIMITED) \
	X(MALFORMED,             "malformed",             DENIED) \
	X(MALFORMED_GROUP,       "malformed_group",       INTERNAL) \
	X(METHOD_DISABLED,       "method_disabled",       DENIED) \
	X(MFA_REQUIRED,          "mfa_required",          DENIED) \
	X(MISSING_CLAIM,         "missing_claim",         DENIED) \
	X(NOT_ELIGIBLE,          "not_eligible",          DENIED) \
	X(NOT_FOUND,             "not_found",             NOT_FOUND) \
	X(NOT_OWNER,             "not_owner",             DENIED) \
	X(NOT_YET_VALID,         "not_yet_valid",         DENIED) \
	X(NO_GRANT_ID,           "no_grant_id",           INTERNAL) \
	X(NO_GROUP,              "no_group",              NO_GROUP) \
	X(NO_KID,                "no_kid",                DENIED) \
	X(NO_MEMORY,             "no_memory",             NO_MEMORY) \
	X(NO_PRIOR_PUBLICKEY,    "no_prior_publickey",    DENIED) \
	X(NO_RANDOM,             "no_random",             INTERNAL) \
	X(NO_USER,               "no_user",               USER_UNKNOWN) \
	X(OID_MISMATCH,          "oid_mismatch",          DENIED) \
	X(OUTPUT_TOO_LONG,       "output_too_long",       INTERNAL) \
	X(PATH_TOO_LONG,         "path_too_long",         INTERNAL) \
	X(PAYLOAD_NOT_OBJECT,    "payload_not_object",    DENIED) \
	X(PIM_NOT_ACTIVE,        "pim_not_active",        DENIED) \
	X(PIM_PERMANENT,         "pim_permanent",         DENIED) \
	X(PIN_CORRUPT,           "pin_corrupt",           INTERNAL) \
	X(PROCESS_GONE,          "process_gone",          INTERNAL) \
	X(PROC_SCAN,             "proc_scan",             INTERNAL) \
	X(RATE_LIMITED,          "rate_limited",          RATE_LIMITED) \
	X(READ_FAILED,           "read_failed",           INTERNAL) \
	X(REFRESH_BACKOFF,       "refresh_backoff",       UNAVAILABLE) \
	X(REVOKE_FAILED,         "revoke_failed",         INTERNAL) \
	X(SETCRED_FAILED,        "setcred_failed",        INTERNAL) \
	X(SPAWN_FAILED,          "spawn_failed",          INTERNAL) \
	X(STATE_DIR,             "state_dir",             CONFIG) \
	X(STATE_WRITE,           "state_write",           INTERNAL) \
	X(STORE_LOCKED,          "store_locked",          BUSY) \
	X(SYSTEM_ACCOUNT,        "system_account",        DENIED) \
	X(TIMEOUT,               "timeout",               INTERNAL) \
	X(TOKEN_LIFETIME,        "token_lifetime",        DENIED) \
	X(TOKEN_REPLAYED,        "token_replayed",        DENIED) \
	X(TOKEN_TOO_OLD,         "token_too_old",         DENIED) \
	X(TOO_DEEP,              "too_deep",              DENIED) \
	X(TOO_LARGE,             "too_large",             DENIED) \
	X(TOO_MANY_GRANTS,       "too_many_grants",       INTERNAL) \
	X(TRUNCATED,             "truncated",             DENIED) \
	X(UNIT_EXISTS,           "unit_exists",           INTERNAL) \
	X(UNKNOWN_KID,           "unknown_kid",           DENIED) \
	X(UNMAPPED,              "unmapped",              DENIED) \
	X(UNSAFE_FILE,           "unsafe_file",           CONFIG) \
	X(VOUCHER_BAD_SIGNATURE, "voucher_bad_signature", DENIED) \
	X(VOUCHER_EXPIRED,       "voucher_expired",       DENIED) \
	X(VOUCHER_MALFORMED,     "voucher_malformed",     DENIED) \
	X(VOUCHER_NOT_OFFERED,   "voucher_not_offered",   DENIED) \
	X(VOUCHER_NOT_YET_VALID, "voucher_not_yet_valid", DENIED) \
	X(VOUCHER_REPLAYED,      "voucher_replayed",      DENIED) \
	X(VOUCHER_TOO_LONG,      "voucher_too_long",      DENIED) \
	X(VOUCHER_UNKNOWN_KEY,   "voucher_unknown_key",   DENIED) \
	X(VOUCHER_WRONG_HOST,    "voucher_wrong_host",    DENIED) \
	X(VOUCHER_WRONG_USER,    "voucher_wrong_user",    DENIED) \
	X(WRITE_FAILED,          "write_failed",          INTERNAL) \
	X(WRONG_USER,            "wrong_user",            DENIED) \
	X(ZIP,                   "zip",                   DENIED)

/* clang-format on */

enum et_reason {
	ET_E_NONE = 0,
#define ET_REASON_ENUM(id, name, cls) ET_E_##id,
	ET_REASONS(ET_REASON_ENUM)
#undef ET_REASON_ENUM
	ET_E__COUNT
};

/* "bad_signature"; "" for ET_E_NONE and for a value outside the list. */
const char *et_reason_name(enum et_reason r);
enum et_class et_reason_class(enum et_reason r);
/* "denied", "unavailable", ...: the ENTRA_TAP_ERROR_CLASS journal field. */
const char *et_class_name(enum et_class c);
