/* SPDX-License-Identifier: Apache-2.0 */
/* JSON Web Key Set (RFC 7517/7518) into OpenSSL public keys.
 *
 * A key we cannot use safely is skipped, never fatal: an IdP publishes keys for other
 * purposes and other algorithms next to the ones that sign our tokens. What we keep is only
 * what a token can be verified with unambiguously by its kid. */
#include "jwks.h"
#include "b64url.h"
#include "json_strict.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#define RSA_MIN_BITS 2048
/* Nothing legitimate is bigger; a huge modulus would only make every verification slow. */
#define RSA_MAX_BITS 8192
#define P256_COORD_BYTES 32

static bool kid_ok(const char *kid)
{
	size_t n = 0;
	for (; kid[n]; n++)
		if ((unsigned char)kid[n] < 0x20 || (unsigned char)kid[n] > 0x7E)
			return false;
	return n > 0 && n <= ET_KID_MAX;
}

/* A member that must be a strict base64url string; NULL/0 when absent or not decodable. */
static unsigned char *b64_member(json_object *jwk, const char *name, size_t *ret_len)
{
	json_object *v;
	unsigned char *out;
	size_t n;
	if (!json_object_object_get_ex(jwk, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	if (et_b64url_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), &out, &n) < 0)
		return NULL;
	*ret_len = n;
	return out;
}

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	if (!params)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

static EVP_PKEY *rsa_key(json_object *jwk)
{
	unsigned char *n = NULL, *e = NULL;
	size_t n_len = 0, e_len = 0, i;
	uint64_t e_val = 0;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	int bits;

	n = b64_member(jwk, "n", &n_len);
	e = b64_member(jwk, "e", &e_len);
	if (!n || !e || n_len == 0 || e_len == 0 || n_len > RSA_MAX_BITS / 8 + 8)
		goto done;
	/* e: odd, 3 <= e <= 2^32 (leading zero octets carry no value). */
	for (i = 0; i < e_len && e[i] == 0; i++)
		;
	if (e_len - i > 5)
		goto done;
	for (; i < e_len; i++)
		e_val = e_val << 8 | e[i];
	if (e_val < 3 || e_val > UINT64_C(0x100000000) || !(e_val & 1))
		goto done;
	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	if (!bn_n || !bn_e)
		goto done;
	bits = BN_num_bits(bn_n);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS || !BN_is_odd(bn_n))
		goto done;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto done;
	pkey = pkey_from_params("RSA", bld);
done:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	free(n);
	free(e);
	return pkey;
}

static EVP_PKEY *ec_key(json_object *jwk)
{
	json_object *crv;
	unsigned char *x = NULL, *y = NULL, pub[1 + 2 * P256_COORD_BYTES];
	size_t x_len = 0, y_len = 0;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *check = NULL;

	if (!json_object_object_get_ex(jwk, "crv", &crv) || !json_object_is_type(crv, json_type_string) ||
	    strcmp(json_object_get_string(crv), "P-256") != 0)
		goto done;
	x = b64_member(jwk, "x", &x_len);
	y = b64_member(jwk, "y", &y_len);
	if (!x || !y || x_len != P256_COORD_BYTES || y_len != P256_COORD_BYTES)
		goto done;
	pub[0] = 0x04; /* uncompressed point */
	memcpy(pub + 1, x, P256_COORD_BYTES);
	memcpy(pub + 1 + P256_COORD_BYTES, y, P256_COORD_BYTES);
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)))
		goto done;
	pkey = pkey_from_params("EC", bld);
	if (!pkey)
		goto done;
	/* On the curve, in range, not the point at infinity. */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (!check || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
done:
	EVP_PKEY_CTX_free(check);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return pkey;
}

EVP_MD_CTX *et_jwk_verify_ctx_new(EVP_PKEY *pkey, enum et_alg alg)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	if (!md)
		return NULL;
	if (EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey) != 1 ||
	    (alg == ET_ALG_RS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
		EVP_MD_CTX_free(md);
		return NULL;
	}
	return md;
}

/* One entry of "keys" into out, or false when it is not a key we can use. */
static bool jwk_load(json_object *jwk, struct et_jwk *out)
{
	const char *kty, *use, *alg, *kid;
	json_object *v;
	enum et_alg key_alg;

	if (!json_object_is_type(jwk, json_type_object))
		return false;
	kty = et_json_get_string(jwk, "kty");
	if (!kty)
		return false;
	if (strcmp(kty, "RSA") == 0)
		key_alg = ET_ALG_RS256;
	else if (strcmp(kty, "EC") == 0)
		key_alg = ET_ALG_ES256;
	else
		return false;
	/* "use" and "alg" are optional, but when present they must say this key signs with the
	 * one algorithm we would use it for. */
	if (json_object_object_get_ex(jwk, "use", &v)) {
		use = et_json_get_string(jwk, "use");
		if (!use || strcmp(use, "sig") != 0)
			return false;
	}
	if (json_object_object_get_ex(jwk, "alg", &v)) {
		alg = et_json_get_string(jwk, "alg");
		if (!alg || strcmp(alg, key_alg == ET_ALG_RS256 ? "RS256" : "ES256") != 0)
			return false;
	}
	kid = et_json_get_string(jwk, "kid");
	if (!kid || !kid_ok(kid))
		return false;
	/* x5c/x5t are ignored on purpose: the key is n/e or x/y, never a certificate chain. */
	out->pkey = key_alg == ET_ALG_RS256 ? rsa_key(jwk) : ec_key(jwk);
	if (!out->pkey)
		return false;
	out->alg = key_alg;
	memcpy(out->kid, kid, strlen(kid) + 1);
	/* Optional: without it each verification sets up its own context. */
	out->verify_ctx = et_jwk_verify_ctx_new(out->pkey, key_alg);
	return true;
}

int et_jwks_parse(const char *json, size_t len, struct et_jwks *ret, struct et_err *err)
{
	json_object *doc = NULL, *keys;
	struct et_jwks set = { NULL, 0, 0 };
	size_t total, considered, i, j, kept;
	bool *ambiguous = NULL;
	int r = -1;

	if (!ret)
		return et_err_set(err, ET_E_BAD_JWKS, "No place to store the key set.");
	if (et_json_parse(json, len, ET_JSON_MAX_DEPTH, &doc, err) < 0)
		return -1;
	if (!json_object_is_type(doc, json_type_object) || !json_object_object_get_ex(doc, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		et_err_set(err, ET_E_BAD_JWKS, "The key set is not a JSON object with a \"keys\" array.");
		goto done;
	}
	total = json_object_array_length(keys);
	considered = total < ET_JWKS_MAX_KEYS ? total : ET_JWKS_MAX_KEYS;
	set.skipped = total - considered;
	if (considered) {
		set.keys = calloc(considered, sizeof(*set.keys));
		ambiguous = calloc(considered, sizeof(*ambiguous));
		if (!set.keys || !ambiguous) {
			et_err_set(err, ET_E_NO_MEMORY, "Out of memory reading the key set.");
			goto done;
		}
	}
	for (i = 0; i < considered; i++) {
		if (jwk_load(json_object_array_get_idx(keys, i), &set.keys[set.n]))
			set.n++;
		else
			set.skipped++;
	}
	/* A kid on two usable keys could select either: trust neither. */
	for (i = 0; i < set.n; i++)
		for (j = i + 1; j < set.n; j++)
			if (strcmp(set.keys[i].kid, set.keys[j].kid) == 0)
				ambiguous[i] = ambiguous[j] = true;
	for (i = 0, kept = 0; i < set.n; i++) {
		if (ambiguous[i]) {
			EVP_MD_CTX_free(set.keys[i].verify_ctx);
			EVP_PKEY_free(set.keys[i].pkey);
			set.skipped++;
			continue;
		}
		set.keys[kept++] = set.keys[i];
	}
	set.n = kept;
	*ret = set;
	memset(&set, 0, sizeof(set));
	r = 0;
done:
	/* Failed key imports leave OpenSSL errors behind; they are not ours to report. */
	ERR_clear_error();
	free(ambiguous);
	et_jwks_free(&set);
	json_object_put(doc);
	return r;
}

const struct et_jwk *et_jwks_find(const struct et_jwks *set, const char *kid)
{
	if (!set || !kid)
		return NULL;
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->keys[i].kid, kid) == 0)
			return &set->keys[i];
	return NULL;
}

void et_jwks_free(struct et_jwks *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		EVP_MD_CTX_free(set->keys[i].verify_ctx);
		EVP_PKEY_free(set->keys[i].pkey);
	}
	free(set->keys);
	set->keys = NULL;
	set->n = 0;
	set->skipped = 0;
}
