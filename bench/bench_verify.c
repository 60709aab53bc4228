/* SPDX-License-Identifier: Apache-2.0 */
/* Verifications per second of one valid RS256 token through the whole verifier (split,
 * decode, parse, key lookup, signature, claims, identity, eligibility) against raw OpenSSL
 * RSA-2048 verifies of the same signature, in the same process and run. Rounds alternate
 * between the two so both see the same machine conditions; the median of each is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "conf.h"
#include "testutil.h"
#include "verify.h"

#define TENANT "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
#define CLIENT "2c4b8e5f-0d6a-4c1e-9f3b-7a1d2e3f4a5b"
#define GROUP "5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90"
#define ROUNDS 9
#define PER_ROUND 2000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static unsigned char *b64url_decode_simple(const char *s, size_t len, size_t *out_len)
{
	/* Baseline's own decoder (plain table), so the baseline does not depend on the code
	 * being measured; the signature is decoded once, outside the timed loop. */
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char *out = malloc(len);
	unsigned acc = 0;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(tbl, s[i]);
		if (!p)
			abort();
		acc = (acc << 6) | (unsigned)(p - tbl);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	*out_len = n;
	return out;
}

int main(void)
{
	const char *dir = tu_tmpdir();
	EVP_PKEY *key = tu_rsa_key(2048);
	EVP_PKEY *keys[1] = { key };
	const char *kids[1] = { "bench-key" };
	char *jwks = tu_jwks_json(keys, kids, 1), *jwks_path, *tok, payload[1024], state[4096];
	const char *hdr = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"bench-key\",\"x5t\":\"bench-key\"}";
	struct et_config cfg;
	struct et_keystore ks;
	struct et_err err;
	struct et_verify_opts o;
	double full[ROUNDS], raw[ROUNDS], rawcopy[ROUNDS];
	EVP_MD_CTX *prepared;
	const char *last_dot;
	unsigned char *sig;
	size_t sig_len, tok_len, input_len;
	time_t t = time(NULL);

	jwks_path = tu_write_file(dir, "keys.json", jwks, 0644);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(payload, sizeof(payload),
		 "{\"aud\":\"" CLIENT "\",\"iss\":\"https://login.microsoftonline.com/" TENANT "/v2.0\",\"iat\":%lld,"
		 "\"nbf\":%lld,\"exp\":%lld,\"aio\":\"AWQAm/8TAAAAbench\",\"groups\":[\"" GROUP "\"],\"name\":\"Alice Example\","
		 "\"oid\":\"0c6a3a52-7e44-4b8e-8a6f-3f3e9a1b2c3d\",\"preferred_username\":\"alice@contoso.com\","
		 "\"rh\":\"0.AAAA\",\"sub\":\"bench-subject\",\"tid\":\"" TENANT "\",\"uti\":\"bench\",\"ver\":\"2.0\"}",
		 (long long)t - 10, (long long)t - 10, (long long)t + 3600);
	tok = tu_sign_jws(key, hdr, payload);
	tok_len = strlen(tok);

	if (et_config_init(&cfg) < 0 || et_config_set(&cfg, "tenant_id", TENANT, "b", &err) ||
	    et_config_set(&cfg, "client_id", CLIENT, "b", &err) ||
	    et_config_set(&cfg, "elevated_group", "entra-admins", "b", &err) ||
	    et_config_set(&cfg, "allowed_domains", "contoso.com", "b", &err) ||
	    et_config_set(&cfg, "eligible_groups", GROUP, "b", &err) || et_config_set(&cfg, "jwks_file", jwks_path, "b", &err) ||
	    et_config_set(&cfg, "state_dir", state, "b", &err) || et_config_finish(&cfg, &err)) {
		fprintf(stderr, "bench: config: %s\n", err.message);
		return 1;
	}
	et_keystore_init(&ks, &cfg);
	memset(&o, 0, sizeof(o));
	o.now = t;

	last_dot = strrchr(tok, '.');
	input_len = (size_t)(last_dot - tok);
	sig = b64url_decode_simple(last_dot + 1, strlen(last_dot + 1), &sig_len);

	/* A second baseline: the fastest raw form, a verify context prepared once and copied per
	 * call (what the verifier itself does), so the overhead is not flattered. */
	prepared = EVP_MD_CTX_new();
	if (!prepared || EVP_DigestVerifyInit(prepared, NULL, EVP_sha256(), NULL, key) != 1)
		return 1;

	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_s();
		for (int i = 0; i < PER_ROUND; i++) {
			struct et_verdict v;
			et_token_verify(&ks, tok, tok_len, &o, &v);
			if (!v.accept) {
				fprintf(stderr, "bench: token rejected: %s: %s\n", v.why.reason, v.why.message);
				return 1;
			}
			et_verdict_free(&v);
		}
		full[r] = PER_ROUND / (now_s() - t0);

		t0 = now_s();
		for (int i = 0; i < PER_ROUND; i++) {
			EVP_MD_CTX *md = EVP_MD_CTX_new();
			if (!md || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
			    EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)tok, input_len) != 1) {
				fprintf(stderr, "bench: raw verify failed\n");
				return 1;
			}
			EVP_MD_CTX_free(md);
		}
		raw[r] = PER_ROUND / (now_s() - t0);

		t0 = now_s();
		for (int i = 0; i < PER_ROUND; i++) {
			EVP_MD_CTX *md = EVP_MD_CTX_new();
			if (!md || EVP_MD_CTX_copy_ex(md, prepared) != 1 ||
			    EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)tok, input_len) != 1) {
				fprintf(stderr, "bench: raw verify (prepared context) failed\n");
				return 1;
			}
			EVP_MD_CTX_free(md);
		}
		rawcopy[r] = PER_ROUND / (now_s() - t0);
	}
	qsort(full, ROUNDS, sizeof(double), cmp_double);
	qsort(raw, ROUNDS, sizeof(double), cmp_double);
	qsort(rawcopy, ROUNDS, sizeof(double), cmp_double);
	printf("token: %zu bytes, RSA-2048, %d rounds x %d verifications each\n", tok_len, ROUNDS, PER_ROUND);
	printf("full verifier:                %10.0f verifications/s (median)\n", full[ROUNDS / 2]);
	printf("raw OpenSSL RSA:              %10.0f verifications/s (median)\n", raw[ROUNDS / 2]);
	printf("raw, prepared context copied: %10.0f verifications/s (median)\n", rawcopy[ROUNDS / 2]);
	printf("ratio full/raw:               %10.3f (goal >= 0.8)\n", full[ROUNDS / 2] / raw[ROUNDS / 2]);
	printf("ratio full/raw, prepared ctx: %10.3f\n", full[ROUNDS / 2] / rawcopy[ROUNDS / 2]);
	EVP_MD_CTX_free(prepared);
	free(sig);
	free(tok);
	free(jwks);
	et_keystore_free(&ks);
	et_config_free(&cfg);
	return 0;
}
