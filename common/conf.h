/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration: one struct, one parser for the file and for module arguments. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include "err.h"
#include "strlist.h"

#define ET_DEFAULT_CONFIG "/etc/security/pam_entra_tap.conf"
#define ET_DEFAULT_AUTHORITY "https://login.microsoftonline.com"
#define ET_DEFAULT_STATE_DIR "/var/lib/entra-tap"
#define ET_DEFAULT_JWKS_CACHE_DIR "/var/cache/entra-tap"
#define ET_CONFIG_MAX_BYTES (64 * 1024)

enum et_method { ET_METHOD_TAP = 1u << 0, ET_METHOD_DEVICE_CODE = 1u << 1, ET_METHOD_TOKEN = 1u << 2 };
enum et_identity_claim { ET_CLAIM_PREFERRED_USERNAME = 0, ET_CLAIM_UPN = 1 };
enum et_user_map { ET_MAP_STRIP_DOMAIN = 0, ET_MAP_FILE = 1 };
enum et_overage { ET_OVERAGE_GRAPH = 0, ET_OVERAGE_DENY = 1 };
#define ET_DEFAULT_GRAPH_URL "https://graph.microsoft.com"
enum et_breakglass_when { ET_BREAKGLASS_UNREACHABLE = 0, ET_BREAKGLASS_ALWAYS = 1 };
enum et_on_expiry { ET_ON_EXPIRY_TERMINATE = 0, ET_ON_EXPIRY_KEEP = 1 };

struct et_config {
	char *path; /* the file this came from, or NULL */

	char *tenant_id;
	char *client_id;
	char *authority;     /* no trailing slash */
	char *discovery_url; /* derived from authority + tenant when not set */
	char *ca_file;
	char *proxy;
	long http_timeout; /* seconds */

	char *jwks_file; /* pinned keys: never fetch keys over the network */
	char *jwks_cache_dir;
	long jwks_cache_ttl; /* seconds */
	long clock_skew;     /* seconds, <= 600 */
	long token_max_lifetime; /* seconds: exp - iat at most */
	long token_max_age;      /* seconds: now - iat at most (plus clock_skew) */

	unsigned methods; /* enum et_method bits */
	enum et_identity_claim identity_claim;
	enum et_user_map user_map;
	char *user_map_file; /* with ET_MAP_FILE */
	struct et_strlist allowed_domains;
	struct et_strlist eligible_groups;
	struct et_strlist eligible_roles;
	char *elevated_group;
	long duration_default, duration_min, duration_max; /* seconds */
	struct et_strlist permanent_members;
	struct et_strlist allow_system_accounts; /* local accounts below UID_MIN or without a login shell that Entra names may reach */
	bool accept_v1_issuer;
	char *state_dir; /* root-only state: identity pins, grants */

	/* The PAM module's sign-in policy. */
	long device_code_timeout;       /* seconds: local deadline of a device sign-in */
	bool tap_password_grant;        /* redeem a pass typed at the prompt (password grant) */
	bool qr;                        /* a QR code of the verification address at the code prompt */
	char *tap_require_amr;          /* an amr value the password grant's token must carry */
	long tap_max_failures;          /* consecutive wrong passes before the lockout */
	long tap_lockout;               /* seconds a user stays locked out */
	long device_code_max_per_user;  /* device sign-ins started per window, per user */
	long device_code_max_per_rhost; /* ... and per remote address */
	long device_code_rate_window;   /* seconds */
	char *upn_format;               /* "%u@contoso.com": the Entra name shown for a local user */

	/* Microsoft Graph: group overage and PIM for Groups. */
	char *graph_url;          /* no trailing slash */
	enum et_overage overage;  /* a token in group overage: ask Graph, or deny */
	bool pim;                 /* eligible only with a current PIM for Groups instance */
	bool pim_permanent;       /* a PIM instance without endDateTime counts (allow) */
	/* Break-glass (voucher.h): keys that sign vouchers, when the method is offered, and the
	 * longest grant a voucher gives. */
	struct et_strlist breakglass_keys; /* "ed25519:..." */
	enum et_breakglass_when breakglass_when;
	long breakglass_duration_max; /* seconds */
	/* The end of a grant: its tied sessions and the processes that still carry the elevated
	 * group are ended (SIGTERM, SIGKILL after terminate_grace) or kept and named; a line on
	 * the tied terminals expiry_warning before the end (0: none). */
	enum et_on_expiry on_expiry;
	long terminate_grace; /* seconds, 0..30 */
	long expiry_warning;  /* seconds, 0: off */

	/* Runtime, not parsed. */
	struct et_logger log;
	bool discovery_url_derived; /* set by et_config_finish; re-derived when finish runs again */
	/* the configured file could not be used: this came from the last good copy or the
	 * defaults, and may only end grants (lastgood.h) */
	bool fallback;
};

/* Initialise with defaults (no allocation failure possible beyond strdup; -1 on ENOMEM). */
int et_config_init(struct et_config *cfg);
/* Load and validate a file. The file must be a regular root-owned file that is not group-
 * or world-writable (checked on the open descriptor, opened with O_NOFOLLOW). On error, err
 * holds "file:line: reason" and the return is -1. Ends with et_config_finish, so the file
 * alone must be complete; module arguments set afterwards need another et_config_finish. */
int et_config_load(struct et_config *cfg, const char *path, struct et_err *err);
/* The same from text in memory (len bytes, at most ET_CONFIG_MAX_BYTES, need not end in NUL),
 * without the file checks; `name` stands for the file in messages and in cfg->path. */
int et_config_parse(struct et_config *cfg, const char *text, size_t len, const char *name, struct et_err *err);
/* Set one key (module arguments, tests). `where` prefixes error messages ("file:12"). */
int et_config_set(struct et_config *cfg, const char *key, const char *value, const char *where,
		  struct et_err *err);
/* Check required keys and cross-key rules; fills derived values (discovery_url). May run
 * again after more et_config_set calls: derived values follow the new settings. */
int et_config_finish(struct et_config *cfg, struct et_err *err);
void et_config_free(struct et_config *cfg);
/* Print the effective configuration as `key = value` lines. */
void et_config_print(const struct et_config *cfg, FILE *out);

/* "90s", "10m", "8h", "1d" or a bare number of seconds; strictly parsed, > 0, bounded. */
int et_duration_parse(const char *text, long *ret_seconds);
/* Expected v2 issuer: {authority}/{tenant_id}/v2.0 (malloc'd). */
char *et_config_issuer_v2(const struct et_config *cfg);
/* v1 issuer: https://sts.windows.net/{tenant_id}/ (malloc'd). */
char *et_config_issuer_v1(const struct et_config *cfg);
