/* SPDX-License-Identifier: Apache-2.0 */
/* Compact JWS: parse strictly, then verify the signature with a key chosen by kid. */
#pragma once
#include <stddef.h>
#include <json-c/json.h>
#include "jwks.h"
#include "err.h"

#define ET_JWS_MAX_BYTES (16 * 1024)

struct et_jws {
	json_object *header;
	json_object *payload;
	enum et_alg alg;
	const char *kid;               /* points into header */
	const char *signing_input;     /* points into the caller's token: "b64(header).b64(payload)" */
	size_t signing_input_len;
	unsigned char *sig;
	size_t sig_len;
};

/* Reasons: "too_large", "malformed", "bad_base64", "bad_json", "alg_none", "alg_hmac",
 * "alg_unsupported", "crit", "embedded_key" (jwk/jku/x5u/x5c present), "no_kid",
 * "payload_not_object"; also "zip", "bad_typ", "bad_signature" (an ES256 signature that is
 * not 64 bytes), the JSON parser's "duplicate_member" and "too_deep", and "no_memory".
 * The token buffer must outlive jws. */
int et_jws_parse(const char *token, size_t len, struct et_jws *ret, struct et_err *err);
/* "bad_signature" or "key_alg_mismatch" on failure ("no_memory" if OpenSSL cannot set up). */
int et_jws_verify(const struct et_jws *jws, const struct et_jwk *key, struct et_err *err);
void et_jws_free(struct et_jws *jws);
