/* SPDX-License-Identifier: Apache-2.0 */
/* A parsed JSON Web Key Set. Only signature keys we can use are kept: RSA >= 2048 bits
 * (RS256), EC P-256 (ES256). Others are skipped, not fatal. */
#pragma once
#include <stddef.h>
#include <openssl/evp.h>
#include "err.h"

#define ET_JWKS_MAX_KEYS 64
#define ET_KID_MAX 128

enum et_alg { ET_ALG_NONE = 0, ET_ALG_RS256 = 1, ET_ALG_ES256 = 2 };

struct et_jwk {
	char kid[ET_KID_MAX + 1];
	enum et_alg alg; /* what the key can verify (from kty/crv, and "alg" when present) */
	EVP_PKEY *pkey;
	/* DigestVerifyInit'd once at load (SHA-256, and PKCS#1 v1.5 for RSA); et_jws_verify
	 * copies it instead of fetching the algorithms on every token. NULL: init per call. */
	EVP_MD_CTX *verify_ctx;
};

struct et_jwks {
	struct et_jwk *keys;
	size_t n;
	size_t skipped; /* keys ignored (too small, unsupported, use != sig) */
};

int et_jwks_parse(const char *json, size_t len, struct et_jwks *ret, struct et_err *err);
const struct et_jwk *et_jwks_find(const struct et_jwks *set, const char *kid);
void et_jwks_free(struct et_jwks *set);
/* A digest-verify context for alg over pkey, ready for EVP_DigestVerify (or to be copied):
 * SHA-256, and PKCS#1 v1.5 padding set explicitly for RSA. NULL on failure. */
EVP_MD_CTX *et_jwk_verify_ctx_new(EVP_PKEY *pkey, enum et_alg alg);
