/* SPDX-License-Identifier: Apache-2.0 */
/* JWKS parsing: which keys are kept, which are skipped, and why the whole set is refused. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include "jwks.h"
#include "../testutil.h"
#include "../tap.h"

#define BUF 16384

static EVP_PKEY *rsa2048, *ec256;
static char *rsa2048_n, *ec_x, *ec_y;

/* Parse {"keys":[<keys_json>]} and expect n kept and skipped skipped. */
static struct et_jwks parse_keys(const char *keys_json, size_t want_n, size_t want_skipped, const char *name)
{
	char *doc = malloc(strlen(keys_json) + 32);
	struct et_jwks set = { NULL, 0, 0 };
	struct et_err err = { 0 };
	int r;
	sprintf(doc, "{\"keys\":[%s]}", keys_json);
	r = et_jwks_parse(doc, strlen(doc), &set, &err);
	if (!ok(r == 0 && set.n == want_n && set.skipped == want_skipped, "%s", name))
		tap_diag("r=%d n=%zu skipped=%zu reason='%s' %s", r, set.n, set.skipped, err.reason, err.message);
	ok(ERR_peek_error() == 0, "%s: no OpenSSL error left on the queue", name);
	free(doc);
	return set;
}

static void expect_skipped(const char *key_json, const char *name)
{
	struct et_jwks set = parse_keys(key_json, 0, 1, name);
	et_jwks_free(&set);
}

static void expect_kept(const char *key_json, const char *kid, enum et_alg alg, const char *name)
{
	struct et_jwks set = parse_keys(key_json, 1, 0, name);
	const struct et_jwk *k = et_jwks_find(&set, kid);
	ok(k && k->alg == alg && k->pkey, "%s: found by kid with the right alg", name);
	et_jwks_free(&set);
}

static char *rsa_jwk(const char *extra, const char *n, const char *e)
{
	char *s = malloc(BUF);
	snprintf(s, BUF, "{\"kty\":\"RSA\"%s,\"n\":\"%s\",\"e\":\"%s\"}", extra, n, e);
	return s;
}

static char *ec_jwk(const char *extra, const char *crv, const char *x, const char *y)
{
	char *s = malloc(BUF);
	snprintf(s, BUF, "{\"kty\":\"EC\"%s,\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", extra, crv, x, y);
	return s;
}

/* An RSA JWK with kid k1 and the given raw exponent bytes over the real 2048-bit modulus. */
static char *rsa_with_e(const unsigned char *e, size_t e_len)
{
	char *e64 = tu_b64url(e, e_len), *s = rsa_jwk(",\"kid\":\"k1\"", rsa2048_n, e64);
	free(e64);
	return s;
}

/* A key with kid k1 is kept with alg when keep, skipped otherwise. */
static void expect_k1(const char *key_json, int keep, enum et_alg alg, const char *name)
{
	if (keep)
		expect_kept(key_json, "k1", alg, name);
	else
		expect_skipped(key_json, name);
}

/* {"kty":"RSA","kid":"k1","n":n,"e":e} is kept as an RS256 key, or skipped. */
static void rsa_case(const char *n, const char *e, int keep, const char *name)
{
	char *s = rsa_jwk(",\"kid\":\"k1\"", n, e);
	expect_k1(s, keep, ET_ALG_RS256, name);
	free(s);
}

/* {"kty":"EC","kid":"k1","crv":crv,"x":x,"y":y} is skipped. */
static void ec_skipped(const char *crv, const char *x, const char *y, const char *name)
{
	char *s = ec_jwk(",\"kid\":\"k1\"", crv, x, y);
	expect_skipped(s, name);
	free(s);
}

/* An odd modulus of exactly bits bits (not a real key: import does not factor). */
static char *odd_modulus_b64(int bits, int leading_zero)
{
	unsigned char buf[1100];
	size_t len = (size_t)(bits + 7) / 8, off = leading_zero ? 1 : 0;
	memset(buf, 0xA5, sizeof(buf));
	buf[0] = 0;
	buf[off] = (unsigned char)(1u << ((bits - 1) % 8)); /* top bit */
	buf[off] |= (unsigned char)((1u << ((bits - 1) % 8)) - 1) & 0x55;
	buf[off + len - 1] |= 1;
	return tu_b64url(buf, len + off);
}

static void test_good(void)
{
	EVP_PKEY *keys[3] = { rsa2048, tu_rsa_key(3072), ec256 };
	const char *kids[3] = { "rsa-2048", "rsa-3072", "ec-1" };
	char *doc = tu_jwks_json(keys, kids, 3);
	struct et_jwks set = { NULL, 0, 0 };
	struct et_err err;
	const struct et_jwk *k;

	ok(et_jwks_parse(doc, strlen(doc), &set, &err) == 0, "a set of RSA 2048, RSA 3072 and EC P-256 parses");
	is_int(set.n, 3, "three keys kept");
	is_int(set.skipped, 0, "none skipped");
	k = et_jwks_find(&set, "rsa-2048");
	ok(k && k->alg == ET_ALG_RS256 && EVP_PKEY_eq(k->pkey, rsa2048) == 1, "RSA 2048 key equals the original");
	k = et_jwks_find(&set, "rsa-3072");
	ok(k && k->alg == ET_ALG_RS256 && EVP_PKEY_get_bits(k->pkey) == 3072, "RSA 3072 key kept");
	k = et_jwks_find(&set, "ec-1");
	ok(k && k->alg == ET_ALG_ES256 && EVP_PKEY_eq(k->pkey, ec256) == 1, "EC key equals the original");
	ok(et_jwks_find(&set, "nope") == NULL, "an unknown kid is not found");
	ok(et_jwks_find(&set, "rsa-204") == NULL && et_jwks_find(&set, "rsa-2048 ") == NULL, "kid match is exact");
	ok(et_jwks_find(NULL, "ec-1") == NULL && et_jwks_find(&set, NULL) == NULL, "find is NULL-safe");
	et_jwks_free(&set);
	ok(set.n == 0 && set.keys == NULL, "free resets the set");
	et_jwks_free(&set);
	et_jwks_free(NULL);
	ok(1, "free twice and free(NULL) are harmless");
	free(doc);

	{
		char *n = tu_bn_param_b64(rsa2048, OSSL_PKEY_PARAM_RSA_N, 0), *s;
		s = rsa_jwk(",\"kid\":\"a\",\"use\":\"sig\",\"alg\":\"RS256\",\"x5c\":[\"garbage\"],\"x5t\":\"zz\","
			    "\"key_ops\":[\"verify\"],\"ext\":true",
			    n, "AQAB");
		expect_kept(s, "a", ET_ALG_RS256, "RSA with use, alg, x5c and unknown members");
		free(s);
		s = ec_jwk(",\"kid\":\"e\",\"use\":\"sig\",\"alg\":\"ES256\"", "P-256", ec_x, ec_y);
		expect_kept(s, "e", ET_ALG_ES256, "EC with use and alg");
		free(s);
		s = rsa_jwk(",\"kid\":\"a b:c/d=e+f\"", n, "AQAB");
		expect_kept(s, "a b:c/d=e+f", ET_ALG_RS256, "a kid with spaces and punctuation");
		free(s);
		char kid[ET_KID_MAX + 16];
		memset(kid, 'k', ET_KID_MAX);
		kid[ET_KID_MAX] = '\0';
		char extra[ET_KID_MAX + 32];
		snprintf(extra, sizeof(extra), ",\"kid\":\"%s\"", kid);
		s = rsa_jwk(extra, n, "AQAB");
		expect_kept(s, kid, ET_ALG_RS256, "a kid of exactly 128 characters");
		free(s);
		strcat(kid, "k");
		snprintf(extra, sizeof(extra), ",\"kid\":\"%s\"", kid);
		s = rsa_jwk(extra, n, "AQAB");
		expect_skipped(s, "a kid of 129 characters");
		free(s);
		free(n);
	}
	{
		struct et_jwks empty = { NULL, 0, 0 };
		ok(et_jwks_parse("{\"keys\":[]}", 11, &empty, &err) == 0 && empty.n == 0 && empty.skipped == 0,
		   "an empty key array is a valid, empty set");
		et_jwks_free(&empty);
	}
}

static void test_rsa(void)
{
	char *s, *n;

	/* sizes */
	s = tu_jwk_json(tu_rsa_key(1023), "small");
	expect_skipped(s, "a 1023-bit RSA key");
	free(s);
	s = tu_jwk_json(tu_rsa_key(2047), "small");
	expect_skipped(s, "a 2047-bit RSA key");
	free(s);
	{
		static const struct {
			int bits, leading_zero, keep;
			const char *name;
		} moduli[] = {
			{ 2047, 0, 0, "a crafted 2047-bit modulus" },
			{ 2048, 0, 1, "a crafted 2048-bit modulus (the lower bound)" },
			{ 8192, 0, 1, "an 8192-bit modulus (the upper bound)" },
			{ 8193, 0, 0, "an 8193-bit modulus" },
			{ 2048, 1, 1, "a 2048-bit modulus with a leading zero octet (size is by value)" },
			{ 2047, 1, 0, "a 2047-bit modulus padded to 257 octets" },
		};
		for (size_t i = 0; i < sizeof(moduli) / sizeof(moduli[0]); i++) {
			n = odd_modulus_b64(moduli[i].bits, moduli[i].leading_zero);
			rsa_case(n, "AQAB", moduli[i].keep, moduli[i].name);
			free(n);
		}
	}
	{
		unsigned char even[256];
		memset(even, 0xC3, sizeof(even));
		even[255] = 0xC2;
		n = tu_b64url(even, sizeof(even));
		rsa_case(n, "AQAB", 0, "an even modulus");
		free(n);
	}

	/* exponents */
	static const struct {
		unsigned char e[10];
		size_t len;
		int keep;
		const char *name;
	} ex[] = {
		{ { 0x01, 0x00, 0x01 }, 3, 1, "e = 65537" },
		{ { 0x03 }, 1, 1, "e = 3" },
		{ { 0x00, 0x01, 0x00, 0x01 }, 4, 1, "e = 65537 with a leading zero octet" },
		{ { 0xFF, 0xFF, 0xFF, 0xFF }, 4, 1, "e = 2^32 - 1" },
		{ { 0x01 }, 1, 0, "e = 1" },
		{ { 0x02 }, 1, 0, "e = 2 (even)" },
		{ { 0x00 }, 1, 0, "e = 0" },
		{ { 0x01, 0x00, 0x00 }, 3, 0, "e = 65536 (even)" },
		{ { 0x01, 0x00, 0x00, 0x00, 0x00 }, 5, 0, "e = 2^32 (even)" },
		{ { 0x01, 0x00, 0x00, 0x00, 0x01 }, 5, 0, "e = 2^32 + 1 (too big)" },
		{ { 0x01, 0, 0, 0, 0, 0, 0, 0, 0x01 }, 9, 0, "a 9-octet exponent" },
	};
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		s = rsa_with_e(ex[i].e, ex[i].len);
		expect_k1(s, ex[i].keep, ET_ALG_RS256, ex[i].name);
		free(s);
	}

	/* encodings */
	n = malloc(strlen(rsa2048_n) + 4);
	sprintf(n, "%s==", rsa2048_n);
	rsa_case(n, "AQAB", 0, "n with '=' padding");
	rsa_case(rsa2048_n, "AQAB=", 0, "e with '=' padding");
	strcpy(n, rsa2048_n);
	n[10] = '+';
	rsa_case(n, "AQAB", 0, "n with '+' (standard alphabet)");
	strcpy(n, rsa2048_n);
	n[10] = ' ';
	rsa_case(n, "AQAB", 0, "n with a space");
	rsa_case(rsa2048_n, "AQAC", 0, "e non-canonical (AQAC has low bits set)");
	rsa_case("", "AQAB", 0, "an empty n");
	rsa_case(rsa2048_n, "", 0, "an empty e");
	free(n);
	expect_skipped("{\"kty\":\"RSA\",\"kid\":\"k1\",\"e\":\"AQAB\"}", "a missing n");
	s = malloc(BUF);
	snprintf(s, BUF, "{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"%s\"}", rsa2048_n);
	expect_skipped(s, "a missing e");
	snprintf(s, BUF, "{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":\"%s\",\"e\":65537}", rsa2048_n);
	expect_skipped(s, "e as a number");
	snprintf(s, BUF, "{\"kty\":\"RSA\",\"kid\":\"k1\",\"n\":[\"%s\"],\"e\":\"AQAB\"}", rsa2048_n);
	expect_skipped(s, "n as an array");
	free(s);
}

static void test_ec(void)
{
	char *s;
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	char *x384 = tu_bn_param_b64(p384, OSSL_PKEY_PARAM_EC_PUB_X, 48);
	char *y384 = tu_bn_param_b64(p384, OSSL_PKEY_PARAM_EC_PUB_Y, 48);
	unsigned char raw[32];

	ec_skipped("P-384", x384, y384, "an EC key on P-384 (wrong curve)");
	ec_skipped("P-256", x384, y384, "P-384 coordinates labelled P-256");
	ec_skipped("P-521", ec_x, ec_y, "crv P-521");
	ec_skipped("secp256k1", ec_x, ec_y, "crv secp256k1");
	ec_skipped("p-256", ec_x, ec_y, "crv in lower case");
	s = malloc(BUF);
	snprintf(s, BUF, "{\"kty\":\"EC\",\"kid\":\"k1\",\"x\":\"%s\",\"y\":\"%s\"}", ec_x, ec_y);
	expect_skipped(s, "a missing crv");
	snprintf(s, BUF, "{\"kty\":\"EC\",\"kid\":\"k1\",\"crv\":\"P-256\",\"x\":\"%s\"}", ec_x);
	expect_skipped(s, "a missing y");
	free(s);
	{
		/* a valid P-256 x with the y of another point: not on the curve */
		char *y = strdup(ec_y);
		y[5] = y[5] == 'A' ? 'B' : 'A';
		ec_skipped("P-256", ec_x, y, "a point not on the curve");
		free(y);
	}
	memset(raw, 0, sizeof(raw));
	{
		char *zero = tu_b64url(raw, 32);
		ec_skipped("P-256", zero, zero, "the point (0, 0)");
		free(zero);
	}
	memset(raw, 0xFF, sizeof(raw));
	{
		char *ff = tu_b64url(raw, 32);
		ec_skipped("P-256", ff, ec_y, "x >= p");
		free(ff);
	}
	{
		unsigned char b31[31], b33[33];
		memset(b31, 0x11, sizeof(b31));
		memset(b33, 0x00, sizeof(b33));
		char *s31 = tu_b64url(b31, 31);
		ec_skipped("P-256", s31, ec_y, "a 31-byte x");
		free(s31);
		/* x with a leading zero octet: 33 bytes; JWK wants exactly 32 */
		BIGNUM *bn = NULL;
		EVP_PKEY_get_bn_param(ec256, OSSL_PKEY_PARAM_EC_PUB_X, &bn);
		BN_bn2binpad(bn, b33 + 1, 32);
		BN_free(bn);
		char *s33 = tu_b64url(b33, 33);
		ec_skipped("P-256", s33, ec_y, "a 33-byte x (leading zero)");
		free(s33);
	}
	free(x384);
	free(y384);
	EVP_PKEY_free(p384);
}

static void test_members(void)
{
	char *s, extra[256];
	static const struct {
		const char *extra, *name;
		int rsa_keep, ec_keep;
	} m[] = {
		{ ",\"kid\":\"k1\",\"use\":\"enc\"", "use enc", 0, 0 },
		{ ",\"kid\":\"k1\",\"use\":\"SIG\"", "use SIG (case matters)", 0, 0 },
		{ ",\"kid\":\"k1\",\"use\":5", "use as a number", 0, 0 },
		{ ",\"kid\":\"k1\",\"use\":null", "use null", 0, 0 },
		{ ",\"kid\":\"k1\",\"alg\":\"RS256\"", "alg RS256", 1, 0 },
		{ ",\"kid\":\"k1\",\"alg\":\"ES256\"", "alg ES256", 0, 1 },
		{ ",\"kid\":\"k1\",\"alg\":\"RS384\"", "alg RS384", 0, 0 },
		{ ",\"kid\":\"k1\",\"alg\":\"PS256\"", "alg PS256", 0, 0 },
		{ ",\"kid\":\"k1\",\"alg\":\"HS256\"", "alg HS256", 0, 0 },
		{ ",\"kid\":\"k1\",\"alg\":\"none\"", "alg none", 0, 0 },
		{ ",\"kid\":\"k1\",\"alg\":\"rs256\"", "alg rs256 (case matters)", 0, 0 },
		{ ",\"kid\":\"k1\",\"alg\":[\"RS256\"]", "alg as an array", 0, 0 },
		{ "", "no kid", 0, 0 },
		{ ",\"kid\":\"\"", "an empty kid", 0, 0 },
		{ ",\"kid\":42", "kid as a number", 0, 0 },
		{ ",\"kid\":\"a\\nb\"", "a kid with a newline", 0, 0 },
		{ ",\"kid\":\"a\\u007fb\"", "a kid with DEL", 0, 0 },
		{ ",\"kid\":\"\\u00e9\"", "a non-ASCII kid", 0, 0 },
		{ ",\"kid\":\"k1\",\"use\":\"sig\"", "use sig", 1, 1 },
	};
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		char name[128];
		s = rsa_jwk(m[i].extra, rsa2048_n, "AQAB");
		snprintf(name, sizeof(name), "RSA with %s", m[i].name);
		expect_k1(s, m[i].rsa_keep, ET_ALG_RS256, name);
		free(s);
		s = ec_jwk(m[i].extra, "P-256", ec_x, ec_y);
		snprintf(name, sizeof(name), "EC with %s", m[i].name);
		expect_k1(s, m[i].ec_keep, ET_ALG_ES256, name);
		free(s);
	}
	/* kty */
	static const char *kty[] = { "\"oct\"", "\"OKP\"", "\"rsa\"", "\"ec\"", "1", "null" };
	for (size_t i = 0; i < sizeof(kty) / sizeof(kty[0]); i++) {
		s = malloc(BUF);
		snprintf(s, BUF, "{\"kty\":%s,\"kid\":\"k1\",\"n\":\"%s\",\"e\":\"AQAB\"}", kty[i], rsa2048_n);
		snprintf(extra, sizeof(extra), "kty %s", kty[i]);
		expect_skipped(s, extra);
		free(s);
	}
	s = malloc(BUF);
	snprintf(s, BUF, "{\"kid\":\"k1\",\"n\":\"%s\",\"e\":\"AQAB\"}", rsa2048_n);
	expect_skipped(s, "no kty");
	free(s);
	expect_skipped("{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}", "a symmetric key");
	/* entries that are not objects */
	{
		struct et_jwks set = parse_keys("1,\"x\",null,[],true", 0, 5, "non-object entries are skipped");
		et_jwks_free(&set);
	}
}

static void test_duplicates_and_cap(void)
{
	char *r1 = tu_jwk_json(rsa2048, "dup"), *e1 = tu_jwk_json(ec256, "dup"), *other = tu_jwk_json(ec256, "other");
	char *small = tu_jwk_json(tu_rsa_key(2047), "dup");
	char *s = malloc(4 * BUF);
	struct et_jwks set;

	snprintf(s, 4 * BUF, "%s,%s,%s", r1, e1, other);
	set = parse_keys(s, 1, 2, "two usable keys sharing a kid are both dropped");
	ok(et_jwks_find(&set, "dup") == NULL, "the ambiguous kid finds nothing");
	ok(et_jwks_find(&set, "other") != NULL, "the other key is kept");
	et_jwks_free(&set);
	snprintf(s, 4 * BUF, "%s,%s,%s", r1, other, r1);
	set = parse_keys(s, 1, 2, "the same key twice under one kid is dropped too");
	et_jwks_free(&set);
	snprintf(s, 4 * BUF, "%s,%s,%s", e1, e1, e1);
	set = parse_keys(s, 0, 3, "three keys with one kid: all dropped");
	et_jwks_free(&set);
	snprintf(s, 4 * BUF, "%s,%s", small, r1);
	set = parse_keys(s, 1, 1, "a kid shared with an unusable key stays unambiguous");
	ok(et_jwks_find(&set, "dup") && EVP_PKEY_eq(et_jwks_find(&set, "dup")->pkey, rsa2048) == 1,
	   "the usable key is the one found");
	et_jwks_free(&set);

	/* at most 64 entries are considered */
	{
		size_t cap = 80 * 512, off = 0;
		char *many = malloc(cap);
		for (int i = 0; i < 70; i++) {
			char kid[16], *j;
			snprintf(kid, sizeof(kid), "k%d", i);
			j = tu_jwk_json(ec256, kid);
			off += (size_t)snprintf(many + off, cap - off, "%s%s", i ? "," : "", j);
			free(j);
		}
		set = parse_keys(many, 64, 6, "70 keys: 64 considered, 6 counted as skipped");
		ok(et_jwks_find(&set, "k63") != NULL, "the 64th key is kept");
		ok(et_jwks_find(&set, "k64") == NULL, "the 65th key is not");
		et_jwks_free(&set);
		free(many);
	}
	free(r1);
	free(e1);
	free(other);
	free(small);
	free(s);
}

static void bad_set(const char *doc, const char *reason, const char *name)
{
	struct et_jwks set = { (struct et_jwk *)(uintptr_t)1, 7, 7 };
	struct et_err err = { 0 };
	int r = et_jwks_parse(doc, strlen(doc), &set, &err);
	if (!ok(r == -1 && strcmp(err.reason, reason) == 0 && set.n == 7 &&
			set.keys == (struct et_jwk *)(uintptr_t)1,
		"rejects %s (%s), output untouched", name, reason))
		tap_diag("r=%d reason='%s' %s", r, err.reason, err.message);
}

static void test_bad_sets(void)
{
	bad_set("[]", "bad_jwks", "a top-level array");
	bad_set("{}", "bad_jwks", "an object without keys");
	bad_set("{\"keys\":{}}", "bad_jwks", "keys as an object");
	bad_set("{\"keys\":null}", "bad_jwks", "keys null");
	bad_set("{\"Keys\":[]}", "bad_jwks", "Keys capitalised");
	bad_set("null", "bad_jwks", "null");
	bad_set("{\"keys\":[]", "bad_json", "truncated JSON");
	bad_set("{\"keys\":[],\"keys\":[]}", "duplicate_member", "a duplicated keys member");
	bad_set("{\"keys\":[]} x", "bad_json", "trailing garbage");
	bad_set("", "bad_json", "empty input");
	{
		struct et_err err;
		ok(et_jwks_parse("{\"keys\":[]}", 11, NULL, &err) == -1, "a NULL output is refused");
	}
}

int main(void)
{
	rsa2048 = tu_rsa_key(2048);
	ec256 = tu_ec_key();
	rsa2048_n = tu_bn_param_b64(rsa2048, OSSL_PKEY_PARAM_RSA_N, 0);
	ec_x = tu_bn_param_b64(ec256, OSSL_PKEY_PARAM_EC_PUB_X, 32);
	ec_y = tu_bn_param_b64(ec256, OSSL_PKEY_PARAM_EC_PUB_Y, 32);

	test_good();
	test_rsa();
	test_ec();
	test_members();
	test_duplicates_and_cap();
	test_bad_sets();

	free(rsa2048_n);
	free(ec_x);
	free(ec_y);
	EVP_PKEY_free(ec256);
	return tap_done();
}
