/* SPDX-License-Identifier: Apache-2.0 */
/* Claim policy: issuer, audience, tenant, time claims; then eligibility. */
#pragma once
#include <time.h>
#include <json-c/json.h>
#include "conf.h"
#include "err.h"

/* iss exact (v2; v1 only with accept_v1_issuer), aud == client_id (a string, or an array
 * of that one audience), tid == tenant_id, oid present (string), azp/appid == client_id
 * when present, not an app-only token (idtyp app, sub == oid), exp/nbf/iat integers checked
 * against now with clock_skew, exp - iat <= token_max_lifetime, now - iat <=
 * token_max_age + clock_skew. Reasons: "bad_issuer", "bad_audience", "bad_tenant",
 * "bad_authorized_party", "app_only_token", "expired", "not_yet_valid",
 * "issued_in_future", "token_lifetime", "token_too_old", "missing_claim", "bad_claim_type". */
int et_claims_check(const struct et_config *cfg, json_object *claims, time_t now, struct et_err *err);
/* groups ∩ eligible_groups or roles ∩ eligible_roles. Group overage (_claim_names.groups
 * without groups) is "group_overage". Not eligible: "not_eligible". */
int et_claims_eligible(const struct et_config *cfg, json_object *claims, struct et_err *err);
