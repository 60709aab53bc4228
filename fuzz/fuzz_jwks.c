/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for JWKS parsing (see fuzz/README.md): the key set comes from the network. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>
#include "jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct et_jwks set;
	struct et_err err;

	if (et_jwks_parse((const char *)data, size, &set, &err) < 0) {
		if (!err.reason[0])
			abort();
		return 0;
	}
	if (set.n > ET_JWKS_MAX_KEYS || ERR_peek_error() != 0)
		abort();
	for (size_t i = 0; i < set.n; i++) {
		const struct et_jwk *k = &set.keys[i];
		/* what is kept is usable, and unique by kid */
		if (!k->pkey || !k->kid[0] || strlen(k->kid) > ET_KID_MAX || et_jwks_find(&set, k->kid) != k ||
		    (k->alg == ET_ALG_RS256 && EVP_PKEY_get_bits(k->pkey) < 2048) ||
		    (k->alg != ET_ALG_RS256 && k->alg != ET_ALG_ES256))
			abort();
	}
	et_jwks_free(&set);
	return 0;
}
