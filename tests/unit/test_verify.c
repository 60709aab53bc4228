/* SPDX-License-Identifier: Apache-2.0 */
/* The whole verifier with pinned keys: each stage's rejection comes through with its reason,
 * and only a token that passes every stage is accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "conf.h"
#include "tap.h"
#include "testutil.h"
#include "verify.h"

#define TENANT "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
#define CLIENT "2c4b8e5f-0d6a-4c1e-9f3b-7a1d2e3f4a5b"
#define GROUP "5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90"
#define OID_A "0c6a3a52-7e44-4b8e-8a6f-3f3e9a1b2c3d"
#define OID_B "9d1e2f3a-1111-4b8e-8a6f-3f3e9a1b2c3d"
#define NOW 1800000000LL

static EVP_PKEY *key1, *key2;
static struct et_config cfg;

static char *payload(const char *upn, const char *oid, const char *groups, long long exp)
{
	char *p = malloc(1024);
	snprintf(p, 1024,
		 "{\"ver\":\"2.0\",\"iss\":\"https://127.0.0.1:1/" TENANT "/v2.0\",\"aud\":\"" CLIENT
		 "\",\"tid\":\"" TENANT "\",\"oid\":\"%s\",\"sub\":\"s\",\"preferred_username\":\"%s\","
		 "\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,\"groups\":%s}",
		 oid, upn, NOW - 10, NOW - 10, exp, groups);
	return p;
}

static char *token(EVP_PKEY *k, const char *header, const char *upn, const char *oid, const char *groups)
{
	char *p = payload(upn, oid, groups, NOW + 3600);
	char *t = tu_sign_jws(k, header, p);
	free(p);
	return t;
}

static void run(const char *tok, const char *expect_user, int record, const char *want, const char *name,
		struct et_verdict *keep)
{
	struct et_keystore ks;
	struct et_verify_opts o = { .now = (time_t)NOW, .expect_user = expect_user, .record_pin = record };
	struct et_verdict v;
	et_keystore_init(&ks, &cfg);
	ok(et_token_verify(&ks, tok, strlen(tok), &o, &v) == 0, "%s: verdict reached", name);
	if (!want) {
		if (!ok(v.accept && v.valid && v.eligible, "%s: accepted", name))
			printf("#   %s: %s\n", v.why.reason, v.why.message);
	} else if (!ok(!v.accept && strcmp(v.why.reason, want) == 0, "%s: rejected as %s", name, want)) {
		printf("#   got accept=%d reason='%s' (%s)\n", v.accept, v.why.reason, v.why.message);
	}
	if (keep)
		*keep = v;
	else
		et_verdict_free(&v);
	et_keystore_free(&ks);
}

int main(void)
{
	const char *dir;
	EVP_PKEY *keys[1];
	const char *kids[1] = { "k1" };
	char *jwks, *jwks_path, *t;
	struct et_err err;
	struct et_verdict v;
	const char *hdr = "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"k1\"}";
	const char *grp = "[\"" GROUP "\"]";

	tap_require_root(); /* the pinned key file must be root-owned */
	dir = tu_tmpdir();
	key1 = tu_rsa_key(2048);
	key2 = tu_rsa_key(3072);
	keys[0] = key1;
	jwks = tu_jwks_json(keys, kids, 1);
	jwks_path = tu_write_file(dir, "keys.json", jwks, 0644);

	if (et_config_init(&cfg) < 0)
		return 1;
	{
		char state[4096];
		snprintf(state, sizeof(state), "%s/state", dir);
		if (et_config_set(&cfg, "tenant_id", TENANT, "t", &err) || et_config_set(&cfg, "client_id", CLIENT, "t", &err) ||
		    et_config_set(&cfg, "elevated_group", "entra-admins", "t", &err) ||
		    et_config_set(&cfg, "allowed_domains", "contoso.com", "t", &err) ||
		    et_config_set(&cfg, "eligible_groups", GROUP, "t", &err) ||
		    et_config_set(&cfg, "jwks_file", jwks_path, "t", &err) ||
		    et_config_set(&cfg, "authority", "https://127.0.0.1:1", "t", &err) ||
		    et_config_set(&cfg, "state_dir", state, "t", &err) || et_config_finish(&cfg, &err)) {
			printf("# config: %s\n", err.message);
			return 1;
		}
	}

	t = token(key1, hdr, "alice@contoso.com", OID_A, grp);
	run(t, NULL, 0, NULL, "good token", &v);
	is_str(v.user, "alice", "mapped to local user alice");
	ok(v.claims && json_object_object_get_ex(v.claims, "oid", NULL), "claims kept for the report");
	et_verdict_free(&v);
	run(t, "alice", 1, NULL, "good token for the expected user, pin recorded", NULL);
	run(t, "bob", 0, "wrong_user", "token for alice presented for bob", NULL);
	free(t);

	/* Entra names never reach root or a system account: refused before any pin is recorded */
	{
		static const char *const who[] = { "root", "daemon", "nobody" };
		for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
			struct et_keystore ks;
			struct et_verify_opts o = { .now = (time_t)NOW, .expect_user = who[i], .record_pin = 1,
						    .check_account = 1 };
			char upn[64], pin[1200];
			snprintf(upn, sizeof(upn), "%s@contoso.com", who[i]);
			t = token(key1, hdr, upn, OID_A, grp);
			et_keystore_init(&ks, &cfg);
			et_token_verify(&ks, t, strlen(t), &o, &v);
			ok(!v.accept && strcmp(v.why.reason, "system_account") == 0, "a token for %s is refused as system_account (%s)",
			   upn, v.why.reason);
			snprintf(pin, sizeof(pin), "%s/identities/%s", cfg.state_dir, who[i]);
			ok(access(pin, F_OK) < 0, "... and no identity is pinned for %s", who[i]);
			et_verdict_free(&v);
			et_keystore_free(&ks);
			free(t);
		}
	}

	/* the pin recorded above refuses another oid for alice */
	t = token(key1, hdr, "alice@contoso.com", OID_B, grp);
	run(t, "alice", 1, "oid_mismatch", "another oid for a pinned user", &v);
	ok(strstr(v.why.message, OID_A) && strstr(v.why.message, OID_B), "mismatch sentence names both oids");
	ok(v.valid, "mismatch: token itself was valid");
	et_verdict_free(&v);
	free(t);

	/* stages fail in order, each with its reason */
	t = token(key2, hdr, "alice@contoso.com", OID_A, grp);
	run(t, NULL, 0, "bad_signature", "signed by another key under kid k1", NULL);
	free(t);
	t = token(key1, "{\"typ\":\"JWT\",\"alg\":\"RS256\",\"kid\":\"nope\"}", "alice@contoso.com", OID_A, grp);
	run(t, NULL, 0, "unknown_kid", "kid not in the pinned set", NULL);
	free(t);
	t = token(key1, "{\"alg\":\"none\",\"kid\":\"k1\"}", "alice@contoso.com", OID_A, grp);
	run(t, NULL, 0, "alg_none", "alg none", NULL);
	free(t);
	t = token(key1, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", "alice@contoso.com", OID_A, grp);
	run(t, NULL, 0, "alg_hmac", "alg HS256", NULL);
	free(t);
	t = token(key1, hdr, "alice@fabrikam.com", OID_A, grp);
	run(t, NULL, 0, "domain_not_allowed", "domain not allowed", &v);
	ok(v.valid && !v.accept, "valid token, unmappable identity");
	ok(v.eligible, "eligibility still reported when mapping fails");
	et_verdict_free(&v);
	free(t);
	t = token(key1, hdr, "carol@contoso.com", OID_B, "[\"aaaaaaaa-4f41-4a84-9d6a-1f0c2b7d3e90\"]");
	run(t, NULL, 0, "not_eligible", "valid but not eligible", &v);
	ok(v.valid && !v.eligible && v.user && strcmp(v.user, "carol") == 0, "not eligible: user still reported");
	et_verdict_free(&v);
	free(t);
	{
		char *p = payload("alice@contoso.com", OID_A, grp, NOW - 1000);
		t = tu_sign_jws(key1, hdr, p);
		run(t, NULL, 0, "expired", "expired token", &v);
		ok(!v.valid, "expired: not valid");
		et_verdict_free(&v);
		free(p);
		free(t);
	}
	run("!!!!.e30.c2ln", NULL, 0, "bad_base64", "garbage", NULL);
	run("", NULL, 0, "malformed", "empty input", NULL);

	et_config_free(&cfg);
	free(jwks);
	free(jwks_path);
	return tap_done();
}
