/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for compact JWS parsing and verification (see fuzz/README.md).
 * The input is the token. Keys are made once at start-up; the key set includes the kids the
 * seed corpus uses ("r1", "e1"), so parsed tokens reach the signature code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "jws.h"
#include "testutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct et_jwks keys;

static void load_keys(void)
{
	EVP_PKEY *k[2] = { tu_rsa_key(2048), tu_ec_key() };
	const char *kids[2] = { "r1", "e1" };
	char *doc = tu_jwks_json(k, kids, 2);
	struct et_err err;
	if (et_jwks_parse(doc, strlen(doc), &keys, &err) < 0 || keys.n != 2)
		abort();
	free(doc);
	EVP_PKEY_free(k[1]); /* the RSA key stays in the fixture cache */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct et_jws jws;
	struct et_err err;
	const struct et_jwk *key;

	if (!keys.n)
		load_keys();
	if (et_jws_parse((const char *)data, size, &jws, &err) < 0) {
		if (!err.reason[0])
			abort();
		return 0;
	}
	/* invariants of a parsed token */
	if (size > ET_JWS_MAX_BYTES || !jws.kid || !jws.sig || !jws.sig_len || jws.signing_input != (const char *)data ||
	    jws.signing_input_len >= size || !json_object_is_type(jws.payload, json_type_object))
		abort();
	key = et_jwks_find(&keys, jws.kid);
	if (key)
		(void)et_jws_verify(&jws, key, &err);
	/* and with the other key type, which must be refused before any crypto */
	key = &keys.keys[jws.alg == ET_ALG_RS256 ? 1 : 0];
	if (et_jws_verify(&jws, key, &err) == 0 || strcmp(err.reason, "key_alg_mismatch") != 0)
		abort();
	et_jws_free(&jws);
	return 0;
}
