/* SPDX-License-Identifier: Apache-2.0 */
/* The replay cache of pasted tokens (RFC 8725 and Microsoft's guidance: a token is presented
 * once). Keyed by the token's unique id (uti, else jti), kept until its exp (plus clock_skew),
 * in {state_dir}/replay/ (root, 0700): one file per token, named by the SHA-256 of its id,
 * holding its exp. */
#pragma once
#include <time.h>
#include <json-c/json.h>
#include "conf.h"
#include "err.h"

#define ET_REPLAY_MAX 8192 /* entries looked at when expired ones are swept */

/* Record the verified token's id; refuse one that was seen before and has not expired.
 * Reasons "token_replayed", "missing_claim" (no uti or jti), "state_write", "state_dir". */
int et_replay_record(const struct et_config *cfg, json_object *claims, time_t now, struct et_err *err);
