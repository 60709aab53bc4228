/* SPDX-License-Identifier: Apache-2.0 */
/* Claim policy: issuer, audience, tenant, object id, time claims, eligibility. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "claims.h"
#include "conf.h"
#include "tap.h"

#define TENANT "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
#define CLIENT "2c4b8e5f-0d6a-4c1e-9f3b-7a1d2e3f4a5b"
#define GROUP "5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90"
#define NOW 1800000000LL

static void set(struct et_config *cfg, const char *k, const char *v)
{
	struct et_err err;
	if (et_config_set(cfg, k, v, "test", &err) < 0) {
		printf("# config %s: %s\n", k, err.message);
		exit(1);
	}
}

static void make_config(struct et_config *cfg, const char *groups, const char *roles)
{
	struct et_err err;
	if (et_config_init(cfg) < 0)
		exit(1);
	set(cfg, "tenant_id", TENANT);
	set(cfg, "client_id", CLIENT);
	set(cfg, "elevated_group", "entra-admins");
	set(cfg, "allowed_domains", "contoso.com");
	if (groups)
		set(cfg, "eligible_groups", groups);
	if (roles)
		set(cfg, "eligible_roles", roles);
	if (et_config_finish(cfg, &err) < 0) {
		printf("# finish: %s\n", err.message);
		exit(1);
	}
}

/* Build claims from a base good payload with one member replaced (value NULL: removed). */
static json_object *claims_with(const char *key, const char *value_json)
{
	char buf[2048];
	json_object *c, *v;
	snprintf(buf, sizeof(buf),
		 "{\"ver\":\"2.0\",\"iss\":\"https://login.microsoftonline.com/" TENANT "/v2.0\","
		 "\"aud\":\"" CLIENT "\",\"tid\":\"" TENANT "\",\"oid\":\"0c6a3a52-7e44-4b8e-8a6f-3f3e9a1b2c3d\","
		 "\"preferred_username\":\"alice@contoso.com\",\"iat\":%lld,\"nbf\":%lld,\"exp\":%lld,"
		 "\"groups\":[\"" GROUP "\"]}",
		 NOW - 60, NOW - 60, NOW + 3600);
	c = json_tokener_parse(buf);
	if (!c)
		exit(1);
	if (key) {
		json_object_object_del(c, key);
		if (value_json && strcmp(value_json, "null") == 0) {
			json_object_object_add(c, key, NULL); /* a JSON null member */
		} else if (value_json) {
			v = json_tokener_parse(value_json);
			if (!v)
				exit(1);
			json_object_object_add(c, key, v);
		}
	}
	return c;
}

static void expect(const struct et_config *cfg, const char *key, const char *value, long long now, const char *want,
		   const char *name)
{
	struct et_err err;
	json_object *c = claims_with(key, value);
	int r;
	et_err_clear(&err);
	r = et_claims_check(cfg, c, (time_t)now, &err);
	if (!want) {
		if (!ok(r == 0, "%s: accepted", name))
			printf("#   rejected: %s: %s\n", err.reason, err.message);
	} else {
		if (!ok(r < 0 && strcmp(err.reason, want) == 0, "%s: rejected as %s", name, want))
			printf("#   got r=%d reason='%s' (%s)\n", r, err.reason, err.message);
		else
			ok(err.message[0] != '\0', "%s: has a sentence", name);
	}
	json_object_put(c);
}

static void expect_elig(const struct et_config *cfg, const char *key, const char *value, const char *want,
			const char *name)
{
	struct et_err err;
	json_object *c = claims_with(key, value);
	int r;
	et_err_clear(&err);
	r = et_claims_eligible(cfg, c, &err);
	if (!want) {
		if (!ok(r == 0, "%s: eligible", name))
			printf("#   %s: %s\n", err.reason, err.message);
	} else if (!ok(r < 0 && strcmp(err.reason, want) == 0, "%s: %s", name, want)) {
		printf("#   got r=%d reason='%s'\n", r, err.reason);
	}
	json_object_put(c);
}

int main(void)
{
	struct et_config cfg, v1, roles_only, both;

	make_config(&cfg, GROUP, NULL);
	expect(&cfg, NULL, NULL, NOW, NULL, "good claims");

	/* issuer */
	expect(&cfg, "iss", NULL, NOW, "missing_claim", "no iss");
	expect(&cfg, "iss", "42", NOW, "bad_claim_type", "numeric iss");
	expect(&cfg, "iss", "\"https://login.microsoftonline.com/" TENANT "/v2.0/\"", NOW, "bad_issuer", "iss with trailing slash");
	expect(&cfg, "iss", "\"https://login.microsoftonline.com/11111111-2b34-4da1-9baa-8bc8c9d6a490/v2.0\"", NOW,
	       "bad_issuer", "iss of another tenant");
	expect(&cfg, "iss", "\"https://sts.windows.net/" TENANT "/\"", NOW, "bad_issuer", "v1 issuer refused by default");
	expect(&cfg, "iss", "\"HTTPS://LOGIN.MICROSOFTONLINE.COM/" TENANT "/v2.0\"", NOW, "bad_issuer", "iss case differs");
	make_config(&v1, GROUP, NULL);
	set(&v1, "accept_v1_issuer", "yes");
	expect(&v1, "iss", "\"https://sts.windows.net/" TENANT "/\"", NOW, NULL, "v1 issuer with accept_v1_issuer");
	expect(&v1, NULL, NULL, NOW, NULL, "v2 issuer still fine with accept_v1_issuer");
	expect(&v1, "iss", "\"https://sts.windows.net/" TENANT "\"", NOW, "bad_issuer", "v1 issuer without slash");

	/* audience */
	expect(&cfg, "aud", NULL, NOW, "missing_claim", "no aud");
	expect(&cfg, "aud", "\"00000003-0000-0000-c000-000000000000\"", NOW, "bad_audience", "aud of another app");
	/* a multi-audience token is refused (RFC 8725 3.9): this check accepted it before */
	expect(&cfg, "aud", "[\"x\",\"" CLIENT "\"]", NOW, "bad_audience", "aud array containing client and another");
	expect(&cfg, "aud", "[\"" CLIENT "\"]", NOW, NULL, "aud array of this client alone");
	expect(&cfg, "aud", "[\"" CLIENT "\",\"" CLIENT "\"]", NOW, "bad_audience", "aud array naming the client twice");
	expect(&cfg, "aud", "[\"x\",\"y\"]", NOW, "bad_audience", "aud array without client");
	expect(&cfg, "aud", "[]", NOW, "bad_audience", "empty aud array");
	expect(&cfg, "aud", "[1,\"" CLIENT "\"]", NOW, "bad_claim_type", "aud array with a number");
	expect(&cfg, "aud", "{\"a\":\"" CLIENT "\"}", NOW, "bad_claim_type", "aud object");
	expect(&cfg, "aud", "\"" CLIENT " \"", NOW, "bad_audience", "aud with trailing space");

	/* tenant, object id */
	expect(&cfg, "tid", NULL, NOW, "missing_claim", "no tid");
	expect(&cfg, "tid", "\"11111111-2b34-4da1-9baa-8bc8c9d6a490\"", NOW, "bad_tenant", "other tid");
	expect(&cfg, "tid", "null", NOW, "bad_claim_type", "null tid");
	expect(&cfg, "oid", NULL, NOW, "missing_claim", "no oid");
	expect(&cfg, "oid", "\"\"", NOW, "bad_claim_type", "empty oid");
	expect(&cfg, "oid", "[\"x\"]", NOW, "bad_claim_type", "array oid");

	/* time claims (skew 120 s by default); the expiry boundaries below lie an hour after
	 * issue, past token_max_age, which is checked on its own further down */
	set(&cfg, "token_max_age", "1d");
	expect(&cfg, "exp", NULL, NOW, "missing_claim", "no exp");
	expect(&cfg, "exp", "\"1900000000\"", NOW, "bad_claim_type", "string exp");
	expect(&cfg, "exp", "1900000000.5", NOW, "bad_claim_type", "fractional exp");
	expect(&cfg, "exp", "true", NOW, "bad_claim_type", "boolean exp");
	expect(&cfg, NULL, NULL, NOW + 3600 + 119, NULL, "exp + skew - 1 still valid");
	expect(&cfg, NULL, NULL, NOW + 3600 + 120, "expired", "exp + skew is expired");
	expect(&cfg, NULL, NULL, NOW + 86400, "expired", "long expired");
	expect(&cfg, "nbf", NULL, NOW, NULL, "nbf is optional");
	expect(&cfg, "nbf", "1800000120", NOW, NULL, "nbf within skew");
	expect(&cfg, "nbf", "1800000121", NOW, "not_yet_valid", "nbf beyond skew");
	expect(&cfg, "nbf", "\"1\"", NOW, "bad_claim_type", "string nbf");
	expect(&cfg, "iat", NULL, NOW, "missing_claim", "no iat");
	expect(&cfg, "iat", "1800000121", NOW, "issued_in_future", "iat beyond skew");
	expect(&cfg, "iat", "1.0", NOW, "bad_claim_type", "float iat");
	set(&cfg, "clock_skew", "0");
	expect(&cfg, NULL, NULL, NOW + 3600, "expired", "skew 0: exp == now is expired");
	expect(&cfg, NULL, NULL, NOW + 3599, NULL, "skew 0: one second before exp is valid");
	expect(&cfg, "nbf", "1800000001", NOW, "not_yet_valid", "skew 0: nbf one second ahead");
	set(&cfg, "clock_skew", "120s");
	set(&cfg, "token_max_age", "15m");

	/* lifetime and age (token_max_lifetime 90m, token_max_age 15m by default) */
	{
		char v[64];
		snprintf(v, sizeof(v), "%lld", (long long)NOW - 60 + 5400);
		expect(&cfg, "exp", v, NOW, NULL, "lifetime: exactly token_max_lifetime");
		snprintf(v, sizeof(v), "%lld", (long long)NOW - 60 + 5401);
		expect(&cfg, "exp", v, NOW, "token_lifetime", "lifetime: one second over token_max_lifetime");
		expect(&cfg, "exp", "9223372036854775807", NOW, "token_lifetime", "lifetime: exp at 2^63-1");
		snprintf(v, sizeof(v), "%lld", (long long)NOW - 60 + 100LL * 365 * 86400);
		expect(&cfg, "exp", v, NOW, "token_lifetime", "lifetime: a hundred years");
		snprintf(v, sizeof(v), "%lld", (long long)NOW - 10LL * 365 * 86400);
		expect(&cfg, "iat", v, NOW, "token_lifetime", "age: a ten-year-old iat (exp in an hour)");
		expect(&cfg, NULL, NULL, NOW - 60 + 900 + 120, NULL, "age: token_max_age plus the skew");
		expect(&cfg, NULL, NULL, NOW - 60 + 900 + 121, "token_too_old", "age: one second more is too old");
		set(&cfg, "token_max_age", "1h");
		expect(&cfg, NULL, NULL, NOW - 60 + 900 + 121, NULL, "age: token_max_age raised to 1h accepts it");
		set(&cfg, "token_max_lifetime", "2h");
		snprintf(v, sizeof(v), "%lld", (long long)NOW - 60 + 5401);
		expect(&cfg, "exp", v, NOW, NULL, "lifetime: token_max_lifetime raised to 2h accepts 90m + 1s");
		set(&cfg, "token_max_age", "15m");
		set(&cfg, "token_max_lifetime", "90m");
	}

	/* the authorised party and app-only tokens */
	expect(&cfg, "azp", "\"" CLIENT "\"", NOW, NULL, "azp: this client");
	expect(&cfg, "azp", "\"00000003-0000-0000-c000-000000000000\"", NOW, "bad_authorized_party", "azp: another client");
	expect(&cfg, "azp", "42", NOW, "bad_claim_type", "azp: a number");
	expect(&cfg, "appid", "\"" CLIENT "\"", NOW, NULL, "appid: this client");
	expect(&cfg, "appid", "\"00000003-0000-0000-c000-000000000000\"", NOW, "bad_authorized_party",
	       "appid: another client");
	expect(&cfg, "idtyp", "\"app\"", NOW, "app_only_token", "idtyp app: an app-only token");
	expect(&cfg, "idtyp", "\"user\"", NOW, NULL, "idtyp user");
	expect(&cfg, "idtyp", "7", NOW, "app_only_token", "idtyp not a string");
	expect(&cfg, "sub", "\"0c6a3a52-7e44-4b8e-8a6f-3f3e9a1b2c3d\"", NOW, "app_only_token", "sub equal to oid: app-only");
	expect(&cfg, "sub", "\"AAAbbbCCC\"", NOW, NULL, "sub: a pairwise subject");

	/* eligibility */
	expect_elig(&cfg, NULL, NULL, NULL, "eligible by group");
	expect_elig(&cfg, "groups", "[\"5F2B1C1E-4F41-4A84-9D6A-1F0C2B7D3E90\"]", NULL, "group id in upper case");
	expect_elig(&cfg, "groups", "[\"aaaaaaaa-4f41-4a84-9d6a-1f0c2b7d3e90\"]", "not_eligible", "other group");
	expect_elig(&cfg, "groups", NULL, "not_eligible", "no groups claim");
	expect_elig(&cfg, "groups", "[]", "not_eligible", "empty groups");
	expect_elig(&cfg, "groups", "\"" GROUP "\"", "bad_claim_type", "groups as a string");
	expect_elig(&cfg, "groups", "[1]", "bad_claim_type", "groups with a number");
	expect_elig(&cfg, "groups", "[\"" GROUP " \"]", "not_eligible", "group id with a space");
	expect_elig(&cfg, "_claim_names", "{\"groups\":\"src1\"}", NULL,
		    "overage marker ignored when groups is present");
	{
		struct et_err err;
		json_object *c = claims_with("groups", NULL);
		json_object_object_add(c, "_claim_names", json_tokener_parse("{\"groups\":\"src1\"}"));
		json_object_object_add(c, "_claim_sources",
				       json_tokener_parse("{\"src1\":{\"endpoint\":\"https://graph.microsoft.com/v1.0/x\"}}"));
		et_err_clear(&err);
		ok(et_claims_eligible(&cfg, c, &err) < 0 && strcmp(err.reason, "group_overage") == 0,
		   "group overage denied with its own reason");
		is_str(err.message, "group overage: membership must be resolved via Microsoft Graph",
		       "group overage sentence");
		make_config(&both, GROUP, "Elevate.Admin");
		json_object_object_add(c, "roles", json_tokener_parse("[\"Elevate.Admin\"]"));
		ok(et_claims_eligible(&both, c, &err) == 0, "overage but an eligible role: eligible by role");
		json_object_put(c);
	}
	make_config(&roles_only, NULL, "Elevate.Admin, Ops.Root");
	expect_elig(&roles_only, "roles", "[\"Ops.Root\"]", NULL, "eligible by role");
	expect_elig(&roles_only, "roles", "[\"ops.root\"]", "not_eligible", "role values are case-sensitive");
	expect_elig(&roles_only, NULL, NULL, "not_eligible", "groups do not count when only roles are configured");
	expect_elig(&roles_only, "roles", "{}", "bad_claim_type", "roles as an object");

	et_config_free(&cfg);
	et_config_free(&v1);
	et_config_free(&roles_only);
	et_config_free(&both);
	return tap_done();
}
