/* From a verified token to a local user, and the tid+oid pin per local user. */
#pragma once
#include <stdbool.h>
#include <json-c/json.h>
#include "conf.h"
#include "err.h"

#define ET_USER_NAME_MAX 32

/* Reject control characters, NUL, '/', ':', whitespace, leading '-', over-long names. */
int et_local_name_ok(const char *name);
/* Map the identity_claim (or, for file maps, the oid first) to a local user name (malloc'd).
 * Reasons: "missing_claim", "domain_not_allowed", "unmapped", "bad_user_name". */
int et_identity_map(const struct et_config *cfg, json_object *claims, char **ret_user, struct et_err *err);
/* Compare tid+oid with the pin stored for user in {state_dir}/identities. With record, store
 * the pin when none exists. Reason "oid_mismatch" names both oids. */
int et_identity_pin_check(const struct et_config *cfg, const char *user, const char *tid, const char *oid,
			  bool record, struct et_err *err);
int et_identity_pin_reset(const struct et_config *cfg, const char *user, struct et_err *err);
