/* SPDX-License-Identifier: Apache-2.0 */
/* Compact JWS: every rejection reason, then signatures that must and must not verify. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include "b64url.h"
#include "jws.h"
#include "jwks.h"
#include "../testutil.h"
#include "../tap.h"

/* Fault injection: this program replaces malloc & co. (glibc supports that), so the Nth
 * allocation anywhere (ours, json-c's, OpenSSL's) can be made to fail, and live allocations
 * are counted to find leaks on error paths. Sanitizer builds bring their own allocator. */
#if !defined(__SANITIZE_ADDRESS__)
#define FAULT_INJECTION 1
#include <errno.h>
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
static long fi_countdown = -1; /* allocations left before one fails; -1: none fails */
static long fi_live, fi_failed;

static int fi_fail_now(void)
{
	if (fi_countdown < 0 || fi_countdown-- > 0)
		return 0;
	fi_failed++;
	errno = ENOMEM;
	return 1;
}

void *malloc(size_t n)
{
	void *p = fi_fail_now() ? NULL : __libc_malloc(n);
	fi_live += p != NULL;
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = fi_fail_now() ? NULL : __libc_calloc(n, size);
	fi_live += p != NULL;
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p;
	if (old && n == 0) {
		fi_live--;
		return __libc_realloc(old, 0);
	}
	p = fi_fail_now() ? NULL : __libc_realloc(old, n);
	fi_live += p != NULL && old == NULL;
	return p;
}

void free(void *p)
{
	fi_live -= p != NULL;
	__libc_free(p);
}
#endif

#define H_RS "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"JWT\"}"
#define H_ES "{\"alg\":\"ES256\",\"kid\":\"e1\",\"typ\":\"JWT\"}"
#define PAYLOAD "{\"iss\":\"https://login.microsoftonline.com/t/v2.0\",\"sub\":\"s\",\"exp\":1700000000}"

static EVP_PKEY *rsa, *ec, *rsa_other, *ec_other, *rsa3072;
static struct et_jwks jwks;

static void load_jwks(void)
{
	EVP_PKEY *keys[3] = { rsa, ec, rsa3072 };
	const char *kids[3] = { "r1", "e1", "r3" };
	char *doc = tu_jwks_json(keys, kids, 3);
	struct et_err err;
	if (et_jwks_parse(doc, strlen(doc), &jwks, &err) < 0 || jwks.n != 3)
		abort();
	free(doc);
}

/* Parse must fail with reason; the output must stay untouched. */
static void bad_token(const char *token, size_t len, const char *reason, const char *name)
{
	struct et_jws j;
	struct et_err err = { 0 };
	int r;
	memset(&j, 0x5A, sizeof(j));
	r = et_jws_parse(token, len, &j, &err);
	if (!ok(r == -1 && strcmp(err.reason, reason) == 0 && ((unsigned char *)&j)[0] == 0x5A,
		"rejects %s (%s)", name, reason))
		tap_diag("r=%d reason='%s' message='%s'", r, err.reason, err.message);
}

static void bad_signed(EVP_PKEY *key, const char *header, const char *payload, const char *reason, const char *name)
{
	char *t = tu_sign_jws(key, header, payload);
	bad_token(t, strlen(t), reason, name);
	free(t);
}

static void bad_segments(const char *h64, const char *p64, const char *reason, const char *name)
{
	char *t = tu_sign_segments(rsa, h64, p64);
	bad_token(t, strlen(t), reason, name);
	free(t);
}

/* {"sub":"s","d":[[...]]} with arrays levels of arrays (one more for the object), into buf. */
static void nested_payload(char *buf, int arrays)
{
	size_t off = (size_t)sprintf(buf, "{\"sub\":\"s\",\"d\":");
	for (int i = 0; i < arrays; i++)
		buf[off++] = '[';
	for (int i = 0; i < arrays; i++)
		buf[off++] = ']';
	strcpy(buf + off, "}");
}

struct signed_case {
	const char *header, *payload, *reason, *name;
};

static int parse_ok(const char *token, struct et_jws *j, const char *name)
{
	struct et_err err = { 0 };
	int r = et_jws_parse(token, strlen(token), j, &err);
	if (!ok(r == 0, "parses %s", name))
		tap_diag("reason='%s' message='%s'", err.reason, err.message);
	return r;
}

/* Parse and verify token with the key found by its kid (or key when given). */
static int verify(const char *token, const struct et_jwk *key, struct et_err *err)
{
	struct et_jws j;
	int r;
	memset(err, 0, sizeof(*err));
	if (et_jws_parse(token, strlen(token), &j, err) < 0)
		return -2;
	if (!key)
		key = et_jwks_find(&jwks, j.kid);
	r = et_jws_verify(&j, key, err);
	et_jws_free(&j);
	return r;
}

static void verify_fails(const char *token, const struct et_jwk *key, const char *reason, const char *name)
{
	struct et_err err;
	int r = verify(token, key, &err);
	if (!ok(r == -1 && strcmp(err.reason, reason) == 0, "%s fails to verify (%s)", name, reason))
		tap_diag("r=%d reason='%s' message='%s'", r, err.reason, err.message);
	ok(ERR_peek_error() == 0, "%s: no OpenSSL error left on the queue", name);
}

static void verify_ok(const char *token, const char *name)
{
	struct et_err err;
	int r = verify(token, NULL, &err);
	if (!ok(r == 0, "%s verifies", name))
		tap_diag("r=%d reason='%s' message='%s'", r, err.reason, err.message);
}

static size_t b64_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* A real RS256 token (2048-bit key) of exactly want bytes. */
static char *token_of_size(size_t want)
{
	char *h = malloc(256), *p = malloc(want + 64);
	for (size_t hp = 0; hp < 4; hp++) {
		snprintf(h, 256, "{\"alg\":\"RS256\",\"kid\":\"r1\",\"x\":\"%.*s\"}", (int)hp, "aaaa");
		for (size_t f = 0; f < want; f++) {
			size_t total;
			snprintf(p, want + 64, "{\"sub\":\"s\",\"pad\":\"%*s\"}", (int)f, "");
			total = b64_len(strlen(h)) + 1 + b64_len(strlen(p)) + 1 + b64_len(256);
			if (total == want) {
				char *t = tu_sign_jws(rsa, h, p);
				free(h);
				free(p);
				return t;
			}
			if (total > want)
				break;
		}
	}
	abort();
}

static void test_structure(void)
{
	char *t;
	struct et_jws j;
	struct et_err err;

	t = token_of_size(ET_JWS_MAX_BYTES);
	ok(strlen(t) == ET_JWS_MAX_BYTES, "built a token of exactly 16384 bytes");
	if (parse_ok(t, &j, "a token of exactly 16 KiB") == 0) {
		ok(et_jws_verify(&j, et_jwks_find(&jwks, "r1"), &err) == 0, "the 16 KiB token verifies");
		et_jws_free(&j);
	}
	free(t);
	t = token_of_size(ET_JWS_MAX_BYTES + 1);
	ok(strlen(t) == ET_JWS_MAX_BYTES + 1, "built a token of 16385 bytes");
	bad_token(t, strlen(t), "too_large", "a validly signed token of 16 KiB + 1");
	free(t);
	{
		/* the size check comes first: a huge buffer of garbage says too_large */
		size_t n = 1 << 20;
		char *big = malloc(n);
		memset(big, '.', n);
		bad_token(big, n, "too_large", "1 MiB of dots");
		free(big);
	}

	bad_token("abc", 3, "malformed", "no dots");
	bad_token("abc.def", 7, "malformed", "two segments");
	bad_token("eyJh.eyJh.c2ln.c2ln", 19, "malformed", "four segments");
	bad_token("a.b.c.", 6, "malformed", "a trailing dot");
	bad_token("..", 2, "malformed", "only dots");
	bad_token(".eyJh.c2ln", 10, "malformed", "an empty header");
	bad_token("eyJh..c2ln", 10, "malformed", "an empty payload");
	{
		char *good = tu_sign_jws(rsa, H_RS, PAYLOAD), *dot = strrchr(good, '.');
		dot[1] = '\0';
		bad_token(good, strlen(good), "malformed", "an empty signature (alg RS256)");
		free(good);
		char *h = tu_b64url("{\"alg\":\"none\",\"kid\":\"r1\"}", 25);
		char *p = tu_b64url(PAYLOAD, strlen(PAYLOAD));
		char *unsigned_token = malloc(strlen(h) + strlen(p) + 3);
		sprintf(unsigned_token, "%s.%s.", h, p);
		bad_token(unsigned_token, strlen(unsigned_token), "malformed", "an unsecured JWS (empty signature)");
		free(h);
		free(p);
		free(unsigned_token);
	}
	bad_token(NULL, 10, "malformed", "a NULL token");
	ok(et_jws_parse("a.b.c", 5, NULL, &err) == -1 && strcmp(err.reason, "malformed") == 0, "a NULL output");

	/* base64url */
	{
		char *good = tu_sign_jws(rsa, H_RS, PAYLOAD);
		size_t n = strlen(good);
		char *t2 = malloc(n + 4);
		char *h64 = tu_b64url(H_RS, strlen(H_RS)), *p64 = tu_b64url(PAYLOAD, strlen(PAYLOAD));
		char *padded;

		sprintf(t2, "%s\n", good);
		bad_token(t2, n + 1, "bad_base64", "a trailing newline");
		sprintf(t2, "%s=", good);
		bad_token(t2, n + 1, "bad_base64", "a padded signature");
		strcpy(t2, good);
		t2[n - 3] = '+';
		bad_token(t2, n, "bad_base64", "a '+' in the signature");
		strcpy(t2, good);
		/* 256 bytes end in a 2-char tail whose low 4 bits must be 0; 'B' and 'C' set them */
		t2[n - 1] = t2[n - 1] == 'B' ? 'C' : 'B';
		bad_token(t2, n, "bad_base64", "a non-canonical signature ending");
		free(t2);

		padded = malloc(strlen(h64) + 3);
		sprintf(padded, "%s==", h64);
		bad_segments(padded, p64, "bad_base64", "a padded header");
		free(padded);
		padded = malloc(strlen(p64) + 3);
		sprintf(padded, "%s=", p64);
		bad_segments(h64, padded, "bad_base64", "a padded payload");
		strcpy(padded, p64);
		padded[3] = '/';
		bad_segments(h64, padded, "bad_base64", "a '/' in the payload");
		strcpy(padded, p64);
		padded[3] = ' ';
		bad_segments(h64, padded, "bad_base64", "a space in the payload");
		free(padded);
		bad_segments("eyJhbGciOiJSUzI1NiJ9X", p64, "bad_base64", "a header of length 1 mod 4");
		free(h64);
		free(p64);
		free(good);
	}
}

static void test_json(void)
{
	char *deep, hdr[512];
	size_t off;

	{
		/* header and payload (JSON texts) that do not parse */
		static const struct signed_case refused[] = {
			{ "not json", PAYLOAD,
			  "bad_json", "a header that is not JSON" },
			{ "{\"alg\":\"RS256\",\"kid\":\"r1\",}", PAYLOAD,
			  "bad_json", "a trailing comma in the header" },
			{ "[\"RS256\"]", PAYLOAD,
			  "malformed", "a header that is an array" },
			{ "\"RS256\"", PAYLOAD,
			  "malformed", "a header that is a string" },
			{ "null", PAYLOAD,
			  "malformed", "a null header" },
			{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"alg\":\"none\"}", PAYLOAD,
			  "duplicate_member", "a duplicated alg in the header" },
			{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"\\u0061lg\":\"RS256\"}", PAYLOAD,
			  "duplicate_member", "an escaped duplicate alg" },
			{ H_RS, "{\"sub\":\"a\",\"sub\":\"b\"}",
			  "duplicate_member", "a duplicated claim" },
			{ H_RS, "{\"oid\":\"a\",\"o\\u0069d\":\"b\"}",
			  "duplicate_member", "an escaped duplicate claim" },
			{ H_RS, "{\"sub\":\"s\"",
			  "bad_json", "a truncated payload" },
			{ H_RS, "{\"exp\":99999999999999999999}",
			  "bad_json", "an out-of-range exp" },
			{ H_RS, "{\"sub\":\"\\ud800\"}",
			  "bad_json", "a lone surrogate in a claim" },
			{ H_RS, "{\"sub\":\"a\\u0000b\"}",
			  "bad_json", "a NUL in a claim" },
			{ H_RS, "{\"sub\":\"\xC0\xAF\"}",
			  "bad_json", "overlong UTF-8 in a claim" },
			{ H_RS, "{\"sub\":\"s\"} x",
			  "bad_json", "trailing garbage after the payload" },
			{ H_RS, "[1,2]",
			  "payload_not_object", "an array payload" },
			{ H_RS, "\"claims\"",
			  "payload_not_object", "a string payload" },
			{ H_RS, "42",
			  "payload_not_object", "a number payload" },
			{ H_RS, "null",
			  "payload_not_object", "a null payload" },
		};
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
			bad_signed(rsa, refused[i].header, refused[i].payload, refused[i].reason, refused[i].name);
	}

	/* depth: 16 levels in the payload pass, 17 do not; headers are capped too */
	deep = malloc(4096);
	nested_payload(deep, 15);
	{
		char *t = tu_sign_jws(rsa, H_RS, deep);
		struct et_jws j;
		if (parse_ok(t, &j, "a payload nested exactly 16 deep") == 0)
			et_jws_free(&j);
		free(t);
	}
	nested_payload(deep, 16);
	bad_signed(rsa, H_RS, deep, "too_deep", "a payload nested 17 deep");
	off = (size_t)sprintf(hdr, "{\"alg\":\"RS256\",\"kid\":\"r1\",\"x\":");
	for (int i = 0; i < 16; i++)
		off += (size_t)sprintf(hdr + off, "{\"a\":");
	off += (size_t)sprintf(hdr + off, "1");
	for (int i = 0; i < 17; i++)
		off += (size_t)sprintf(hdr + off, "}");
	bad_signed(rsa, hdr, PAYLOAD, "too_deep", "a header nested 17 deep");
	free(deep);
}

static void test_header(void)
{
	static const struct {
		const char *header, *reason, *name;
	} h[] = {
		{ "{\"alg\":\"none\",\"kid\":\"r1\"}", "alg_none", "alg none" },
		{ "{\"alg\":\"None\",\"kid\":\"r1\"}", "alg_none", "alg None" },
		{ "{\"alg\":\"NONE\",\"kid\":\"r1\"}", "alg_none", "alg NONE" },
		{ "{\"alg\":\"nOnE\",\"kid\":\"r1\"}", "alg_none", "alg nOnE" },
		{ "{\"alg\":\"HS256\",\"kid\":\"r1\"}", "alg_hmac", "alg HS256" },
		{ "{\"alg\":\"HS384\",\"kid\":\"r1\"}", "alg_hmac", "alg HS384" },
		{ "{\"alg\":\"HS512\",\"kid\":\"r1\"}", "alg_hmac", "alg HS512" },
		{ "{\"alg\":\"hs256\",\"kid\":\"r1\"}", "alg_hmac", "alg hs256" },
		{ "{\"alg\":\"RS384\",\"kid\":\"r1\"}", "alg_unsupported", "alg RS384" },
		{ "{\"alg\":\"RS512\",\"kid\":\"r1\"}", "alg_unsupported", "alg RS512" },
		{ "{\"alg\":\"PS256\",\"kid\":\"r1\"}", "alg_unsupported", "alg PS256" },
		{ "{\"alg\":\"ES384\",\"kid\":\"r1\"}", "alg_unsupported", "alg ES384" },
		{ "{\"alg\":\"ES256K\",\"kid\":\"r1\"}", "alg_unsupported", "alg ES256K" },
		{ "{\"alg\":\"EdDSA\",\"kid\":\"r1\"}", "alg_unsupported", "alg EdDSA" },
		{ "{\"alg\":\"rs256\",\"kid\":\"r1\"}", "alg_unsupported", "alg rs256 (case matters)" },
		{ "{\"alg\":\"RS256 \",\"kid\":\"r1\"}", "alg_unsupported", "alg with a trailing space" },
		{ "{\"alg\":\"\",\"kid\":\"r1\"}", "alg_unsupported", "an empty alg" },
		{ "{\"alg\":\"none\\u0000\",\"kid\":\"r1\"}", "bad_json", "alg none plus NUL" },
		{ "{\"kid\":\"r1\"}", "alg_unsupported", "no alg" },
		{ "{\"alg\":256,\"kid\":\"r1\"}", "alg_unsupported", "alg as a number" },
		{ "{\"alg\":null,\"kid\":\"r1\"}", "alg_unsupported", "alg null" },
		{ "{\"alg\":[\"RS256\"],\"kid\":\"r1\"}", "alg_unsupported", "alg as an array" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":[\"exp\"]}", "crit", "crit with a name" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":[]}", "crit", "an empty crit" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"crit\":[\"b64\"],\"b64\":false}", "crit", "crit b64 (RFC 7797)" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"jwk\":{\"kty\":\"RSA\"}}", "embedded_key", "an embedded jwk" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"jku\":\"https://evil.example/jwks\"}", "embedded_key", "a jku" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"x5u\":\"https://evil.example/cert\"}", "embedded_key", "an x5u" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"x5c\":[\"MIIB\"]}", "embedded_key", "an x5c" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"jwk\":null}", "embedded_key", "a null jwk (present is enough)" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"zip\":\"DEF\"}", "zip", "zip DEF" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"JOSE\"}", "bad_typ", "typ JOSE" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"at+jwt\"}", "bad_typ", "typ at+jwt" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"JWT \"}", "bad_typ", "typ with a space" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":1}", "bad_typ", "typ as a number" },
		{ "{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":null}", "bad_typ", "typ null" },
		{ "{\"alg\":\"RS256\"}", "no_kid", "no kid" },
		{ "{\"alg\":\"RS256\",\"kid\":5}", "no_kid", "kid as a number" },
		{ "{\"alg\":\"RS256\",\"kid\":null}", "no_kid", "kid null" },
		{ "{\"alg\":\"RS256\",\"kid\":\"\"}", "no_kid", "an empty kid" },
		{ "{\"alg\":\"RS256\",\"kid\":\"a\\nb\"}", "no_kid", "a kid with a newline" },
		{ "{\"alg\":\"RS256\",\"kid\":\"\\u00e9\"}", "no_kid", "a non-ASCII kid" },
	};
	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		bad_signed(rsa, h[i].header, PAYLOAD, h[i].reason, h[i].name);

	{
		char hdr[512], kid[ET_KID_MAX + 2];
		struct et_jws j;
		char *t;
		memset(kid, 'k', ET_KID_MAX + 1);
		kid[ET_KID_MAX + 1] = '\0';
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
		bad_signed(rsa, hdr, PAYLOAD, "no_kid", "a kid of 129 characters");
		kid[ET_KID_MAX] = '\0';
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", kid);
		t = tu_sign_jws(rsa, hdr, PAYLOAD);
		if (parse_ok(t, &j, "a kid of 128 characters") == 0) {
			is_str(j.kid, kid, "the long kid is exposed");
			et_jws_free(&j);
		}
		free(t);
	}
	/* order: the algorithm verdict comes before anything else in the header */
	bad_signed(rsa, "{\"alg\":\"none\",\"jwk\":{},\"crit\":[]}", PAYLOAD, "alg_none", "alg none with other faults");
	bad_signed(rsa, "{\"alg\":\"none\",\"kid\":\"r1\"}", "[]", "alg_none", "alg none with a bad payload");

	/* accepted variations */
	static const char *fine[] = {
		"{\"alg\":\"RS256\",\"kid\":\"r1\"}",
		"{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"jwt\"}",
		"{\"typ\":\"Jwt\",\"kid\":\"r1\",\"alg\":\"RS256\"}",
		"{\"alg\":\"RS256\",\"kid\":\"r1\",\"x5t\":\"abc\",\"nonce\":\"n\",\"cty\":\"x\"}",
		" { \"alg\" : \"RS256\" , \"kid\" : \"r1\" } ",
	};
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		char *t = tu_sign_jws(rsa, fine[i], PAYLOAD);
		verify_ok(t, fine[i]);
		free(t);
	}
}

static void test_good(void)
{
	char *t = tu_sign_jws(rsa, H_RS, PAYLOAD);
	struct et_jws j;
	struct et_err err;
	long long exp = 0;
	const char *dot2 = strrchr(t, '.');

	if (parse_ok(t, &j, "a good RS256 token") == 0) {
		ok(j.alg == ET_ALG_RS256, "alg is RS256");
		is_str(j.kid, "r1", "kid");
		ok(j.signing_input == t && j.signing_input_len == (size_t)(dot2 - t), "signing input points into the token");
		is_int(j.sig_len, 256, "256-byte signature");
		ok(json_object_is_type(j.header, json_type_object) && json_object_is_type(j.payload, json_type_object),
		   "header and payload are objects");
		ok(json_object_object_get_ex(j.payload, "exp", NULL) &&
			   json_object_get_int64(json_object_object_get(j.payload, "exp")) == 1700000000,
		   "claims are readable");
		(void)exp;
		ok(et_jws_verify(&j, et_jwks_find(&jwks, "r1"), &err) == 0, "the RS256 signature verifies");
		et_jws_free(&j);
		ok(j.header == NULL && j.payload == NULL && j.sig == NULL, "free resets the struct");
		et_jws_free(&j);
		et_jws_free(NULL);
	}
	free(t);

	t = tu_sign_jws(ec, H_ES, PAYLOAD);
	if (parse_ok(t, &j, "a good ES256 token") == 0) {
		ok(j.alg == ET_ALG_ES256 && j.sig_len == 64, "alg ES256 with a 64-byte signature");
		ok(et_jws_verify(&j, et_jwks_find(&jwks, "e1"), &err) == 0, "the ES256 signature verifies");
		et_jws_free(&j);
	}
	free(t);

	t = tu_sign_jws(rsa3072, "{\"alg\":\"RS256\",\"kid\":\"r3\"}", PAYLOAD);
	verify_ok(t, "an RS256 token from a 3072-bit key");
	free(t);

	/* The per-key prepared context is copied, never consumed: good, bad, good again; and a
	 * key without one (built by hand) sets up its own. */
	{
		char *good_rs = tu_sign_jws(rsa, H_RS, PAYLOAD), *good_es = tu_sign_jws(ec, H_ES, PAYLOAD);
		char *bad_rs = tu_sign_jws(rsa_other, H_RS, PAYLOAD), *bad_es = tu_sign_jws(ec_other, H_ES, PAYLOAD);
		struct et_jwk bare_rs = *et_jwks_find(&jwks, "r1"), bare_es = *et_jwks_find(&jwks, "e1");
		int seq = 0;
		ok(bare_rs.verify_ctx && bare_es.verify_ctx, "loaded keys carry a prepared verify context");
		for (int i = 0; i < 3; i++) {
			seq += verify(good_rs, NULL, &err) == 0;
			seq += verify(bad_rs, NULL, &err) == -1;
			seq += verify(good_es, NULL, &err) == 0;
			seq += verify(bad_es, NULL, &err) == -1;
		}
		is_int(seq, 12, "alternating good and bad tokens on the same keys give the right answers");
		bare_rs.verify_ctx = NULL;
		bare_es.verify_ctx = NULL;
		ok(verify(good_rs, &bare_rs, &err) == 0, "RS256 verifies with a key without a prepared context");
		ok(verify(bad_rs, &bare_rs, &err) == -1 && strcmp(err.reason, "bad_signature") == 0,
		   "RS256 from another key fails without a prepared context");
		ok(verify(good_es, &bare_es, &err) == 0, "ES256 verifies with a key without a prepared context");
		ok(verify(bad_es, &bare_es, &err) == -1 && strcmp(err.reason, "bad_signature") == 0,
		   "ES256 from another key fails without a prepared context");
		free(good_rs);
		free(good_es);
		free(bad_rs);
		free(bad_es);
	}

	/* ES256 r and s of every shape: high bit set (DER needs a 0x00) and leading zero bytes
	 * (DER must be minimal). Sign until both kinds have been seen. */
	{
		int high = 0, zero = 0, bad = 0, tries;
		for (tries = 0; tries < 4000 && !(high && zero); tries++) {
			char *tok = tu_sign_jws(ec, H_ES, PAYLOAD);
			unsigned char *sig;
			size_t n;
			const char *s64 = strrchr(tok, '.') + 1;
			if (et_b64url_decode(s64, strlen(s64), &sig, &n) < 0)
				abort();
			int is_high = (sig[0] & 0x80) || (sig[32] & 0x80), is_zero = sig[0] == 0 || sig[32] == 0;
			if (is_high || is_zero) {
				if (verify(tok, NULL, &err) != 0)
					bad++;
				high |= is_high;
				zero |= is_zero;
			}
			free(sig);
			free(tok);
		}
		ok(high && zero && bad == 0, "ES256 signatures with high-bit and leading-zero r/s verify (%d tries)", tries);
	}
}

/* Replace one segment of a token, keeping the others. */
static char *with_segment(const char *token, int which, const char *seg)
{
	const char *d1 = strchr(token, '.'), *d2 = strrchr(token, '.');
	char *out = malloc(strlen(token) + strlen(seg) + 4);
	if (which == 0)
		sprintf(out, "%s%s", seg, d1);
	else if (which == 1)
		sprintf(out, "%.*s.%s%s", (int)(d1 - token), token, seg, d2);
	else
		sprintf(out, "%.*s.%s", (int)(d2 - token), token, seg);
	return out;
}

static char *flip_sig_bit(const char *token, size_t byte, int bit)
{
	const char *s64 = strrchr(token, '.') + 1;
	unsigned char *sig;
	size_t n;
	char *enc, *out;
	if (et_b64url_decode(s64, strlen(s64), &sig, &n) < 0)
		abort();
	sig[byte] ^= (unsigned char)(1u << bit);
	enc = tu_b64url(sig, n);
	out = with_segment(token, 2, enc);
	free(sig);
	free(enc);
	return out;
}

/* The token with its signature bit flipped, or with a segment replaced by enc, does not
 * verify (bad_signature); replaced_unparsable: it is refused at parse time. */
static void flipped_fails(const char *token, size_t byte, int bit, const char *name)
{
	char *t = flip_sig_bit(token, byte, bit);
	verify_fails(t, NULL, "bad_signature", name);
	free(t);
}

static void replaced_fails(const char *token, int segment, const char *enc, const char *name)
{
	char *t = with_segment(token, segment, enc);
	verify_fails(t, NULL, "bad_signature", name);
	free(t);
}

static void replaced_unparsable(const char *token, int segment, const char *enc, const char *name)
{
	char *t = with_segment(token, segment, enc);
	bad_token(t, strlen(t), "bad_signature", name);
	free(t);
}

static void test_bad_signatures(void)
{
	char *t, *seg;
	struct et_err err;
	const struct et_jwk *rk = et_jwks_find(&jwks, "r1"), *ek = et_jwks_find(&jwks, "e1");

	/* another key, same kid */
	t = tu_sign_jws(rsa_other, H_RS, PAYLOAD);
	verify_fails(t, NULL, "bad_signature", "RS256 signed by another key with the same kid");
	free(t);
	t = tu_sign_jws(ec_other, H_ES, PAYLOAD);
	verify_fails(t, NULL, "bad_signature", "ES256 signed by another key with the same kid");
	free(t);

	/* bit flips */
	t = tu_sign_jws(rsa, H_RS, PAYLOAD);
	flipped_fails(t, 0, 0, "RS256 with the first signature bit flipped");
	flipped_fails(t, 255, 7, "RS256 with the last signature byte changed");
	/* tampering */
	seg = tu_b64url("{\"alg\":\"RS256\",\"kid\":\"r1\",\"typ\":\"jwt\"}", 38);
	replaced_fails(t, 0, seg, "RS256 with the header replaced");
	free(seg);
	seg = tu_b64url("{\"iss\":\"x\",\"sub\":\"admin\"}", 25);
	replaced_fails(t, 1, seg, "RS256 with the payload replaced");
	free(seg);
	/* wrong key type / alg */
	verify_fails(t, ek, "key_alg_mismatch", "an RS256 token checked with the EC key");
	{
		struct et_jwk forged = *rk;
		forged.pkey = ek->pkey; /* RS256 label on an EC key */
		verify_fails(t, &forged, "key_alg_mismatch", "an RS256 token with an RS256-labelled EC key");
	}
	verify_fails(t, et_jwks_find(&jwks, "r3"), "bad_signature", "a 2048-bit signature checked with a 3072-bit key");
	free(t);

	t = tu_sign_jws(rsa3072, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", PAYLOAD);
	verify_fails(t, NULL, "bad_signature", "a 384-byte signature checked with a 2048-bit key");
	free(t);
	{
		/* a 255-byte signature: parses, cannot verify */
		unsigned char sig[255];
		memset(sig, 0x42, sizeof(sig));
		char *s64 = tu_b64url(sig, sizeof(sig));
		t = tu_sign_jws(rsa, H_RS, PAYLOAD);
		replaced_fails(t, 2, s64, "a 255-byte RS256 signature");
		free(t);
		free(s64);
	}
	{
		/* PKCS#1 v1.5 only: an RSA-PSS signature over the same input is refused */
		char *h = tu_b64url(H_RS, strlen(H_RS)), *p = tu_b64url(PAYLOAD, strlen(PAYLOAD));
		char *input = malloc(strlen(h) + strlen(p) + 2), *s64;
		unsigned char sig[512];
		size_t sig_len = sizeof(sig);
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pctx = NULL;
		sprintf(input, "%s.%s", h, p);
		if (EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, rsa) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_DigestSign(md, sig, &sig_len, (unsigned char *)input, strlen(input)) != 1)
			abort();
		EVP_MD_CTX_free(md);
		s64 = tu_b64url(sig, sig_len);
		t = malloc(strlen(input) + strlen(s64) + 2);
		sprintf(t, "%s.%s", input, s64);
		verify_fails(t, NULL, "bad_signature", "an RSA-PSS signature labelled RS256");
		free(t);
		free(s64);
		free(input);
		free(h);
		free(p);
	}

	t = tu_sign_jws(ec, H_ES, PAYLOAD);
	flipped_fails(t, 10, 3, "ES256 with a bit flipped in r");
	flipped_fails(t, 63, 0, "ES256 with a bit flipped in s");
	{
		const char *s64 = strrchr(t, '.') + 1;
		unsigned char *sig, swapped[64];
		size_t n;
		char *enc;
		et_b64url_decode(s64, strlen(s64), &sig, &n);
		memcpy(swapped, sig + 32, 32);
		memcpy(swapped + 32, sig, 32);
		enc = tu_b64url(swapped, 64);
		replaced_fails(t, 2, enc, "ES256 with r and s swapped");
		free(enc);
		memset(swapped, 0, 64);
		enc = tu_b64url(swapped, 64);
		replaced_fails(t, 2, enc, "an all-zero ES256 signature");
		free(enc);
		/* DER instead of raw r||s */
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
		unsigned char der[80], *dp = der;
		int der_len;
		ECDSA_SIG_set0(es, r, s);
		der_len = i2d_ECDSA_SIG(es, &dp);
		ECDSA_SIG_free(es);
		enc = tu_b64url(der, (size_t)der_len);
		replaced_unparsable(t, 2, enc, "an ES256 signature in DER form");
		free(enc);
		enc = tu_b64url(sig, 63);
		replaced_unparsable(t, 2, enc, "a 63-byte ES256 signature");
		free(enc);
		free(sig);
	}
	verify_fails(t, rk, "key_alg_mismatch", "an ES256 token checked with an RSA key");
	seg = tu_b64url("{\"iss\":\"x\"}", 11);
	replaced_fails(t, 1, seg, "ES256 with the payload replaced");
	free(seg);
	{
		struct et_jws j;
		if (et_jws_parse(t, strlen(t), &j, &err) == 0) {
			ok(et_jws_verify(&j, NULL, &err) == -1 && strcmp(err.reason, "bad_signature") == 0, "a NULL key");
			ok(et_jws_verify(NULL, ek, &err) == -1 && strcmp(err.reason, "bad_signature") == 0, "a NULL token");
			et_jws_free(&j);
		}
	}
	free(t);
}

#ifdef FAULT_INJECTION
/* Run op with the 1st, 2nd, ... allocation failing until it gets through untouched. Each
 * run must succeed or fail with an allowed reason, and leave no allocation behind. */
static void fault_sweep(int (*op)(struct et_err *err), const char *allowed1, const char *allowed2, const char *name)
{
	int bad_reason = 0, leaks = 0, runs = 0, first_bad = -1;
	struct et_err err;
	op(&err); /* warm-up: one-time library initialisation is not a leak */
	for (long n = 0; n < 100000; n++, runs++) {
		long live, failed = fi_failed;
		int r;
		/* OpenSSL keeps a per-thread error buffer that grows with the errors it records;
		 * release it around each run so it is not mistaken for a leak. */
		OPENSSL_thread_stop();
		live = fi_live;
		memset(&err, 0, sizeof(err));
		fi_countdown = n;
		r = op(&err);
		fi_countdown = -1;
		ERR_clear_error();
		OPENSSL_thread_stop();
		if (r < 0 && strcmp(err.reason, allowed1) != 0 && (!allowed2 || strcmp(err.reason, allowed2) != 0)) {
			if (first_bad < 0)
				first_bad = (int)n;
			bad_reason++;
			tap_diag("allocation %ld failing gave reason '%s': %s", n, err.reason, err.message);
		}
		if (fi_live != live) {
			leaks++;
			tap_diag("allocation %ld failing leaked %ld allocation(s)", n, fi_live - live);
		}
		if (fi_failed == failed)
			break; /* nothing failed: every allocation of op has been tried */
	}
	ok(bad_reason == 0, "%s: each of %d failing allocations gives %s%s%s", name, runs, allowed1,
	   allowed2 ? " or " : "", allowed2 ? allowed2 : "");
	ok(leaks == 0, "%s: no leak after any failing allocation", name);
}

static const char *fi_token;

static int op_parse_verify(struct et_err *err)
{
	struct et_jws j;
	int r = et_jws_parse(fi_token, strlen(fi_token), &j, err);
	if (r < 0)
		return r;
	r = et_jws_verify(&j, et_jwks_find(&jwks, j.kid), err);
	et_jws_free(&j);
	/* the parse half must only ever fail for memory: tested separately below */
	return r;
}

static int op_parse(struct et_err *err)
{
	struct et_jws j;
	if (et_jws_parse(fi_token, strlen(fi_token), &j, err) < 0)
		return -1;
	et_jws_free(&j);
	return 0;
}

static char *fi_jwks_doc;

static int op_jwks(struct et_err *err)
{
	struct et_jwks set;
	int r = et_jwks_parse(fi_jwks_doc, strlen(fi_jwks_doc), &set, err);
	if (r == 0)
		et_jwks_free(&set);
	return r;
}

static void test_out_of_memory(void)
{
	char *t = tu_sign_jws(rsa, H_RS, PAYLOAD), *big;
	EVP_PKEY *keys[2] = { rsa, ec };
	const char *kids[2] = { "r1", "e1" };

	fi_token = t;
	fault_sweep(op_parse, "no_memory", NULL, "RS256 parse");
	/* OpenSSL does not tell a failed allocation from a bad signature */
	fault_sweep(op_parse_verify, "no_memory", "bad_signature", "RS256 parse and verify");
	free(t);
	t = tu_sign_jws(ec, H_ES, PAYLOAD);
	fi_token = t;
	fault_sweep(op_parse_verify, "no_memory", "bad_signature", "ES256 parse and verify");
	free(t);
	/* a payload past the on-stack scratch, with escapes, arrays and numbers */
	big = malloc(8192);
	strcpy(big, "{\"sub\":\"s\\u00e9\",\"n\":[1,2.5,-3e2,true,null,{}],\"pad\":\"");
	{
		size_t off = strlen(big);
		memset(big + off, 'x', 5000);
		strcpy(big + off + 5000, "\"}");
	}
	t = tu_sign_jws(rsa, H_RS, big);
	fi_token = t;
	fault_sweep(op_parse, "no_memory", NULL, "parse of a 5 KB payload");
	free(t);
	free(big);
	/* a key set: a failed key import only skips that key */
	fi_jwks_doc = tu_jwks_json(keys, kids, 2);
	fault_sweep(op_jwks, "no_memory", NULL, "key set parse");
	free(fi_jwks_doc);
}
#endif

int main(void)
{
	rsa = tu_rsa_key(2048);
	rsa3072 = tu_rsa_key(3072);
	rsa_other = EVP_RSA_gen(2048);
	ec = tu_ec_key();
	ec_other = tu_ec_key();
	load_jwks();

	test_structure();
	test_json();
	test_header();
	test_good();
	test_bad_signatures();
#ifdef FAULT_INJECTION
	test_out_of_memory();
#else
	ok(1, "allocation failures # SKIP the sanitizer's allocator is in charge");
#endif

	et_jwks_free(&jwks);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec_other);
	return tap_done();
}
