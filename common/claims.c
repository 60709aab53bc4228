/* SPDX-License-Identifier: Apache-2.0 */
#include "conf.h"
#include "claims.h"
#include "json_strict.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A time claim must be a JSON integer; a string or float "exp" is a forgery attempt or a
 * broken issuer, never something to coerce. */
static int time_claim(json_object *claims, const char *name, bool required, long long *ret, struct et_err *err)
{
	json_object *v;
	if (!json_object_object_get_ex(claims, name, &v)) {
		if (required)
			return et_err_set(err, ET_E_MISSING_CLAIM, "The token has no \"%s\" claim.", name);
		return 1;
	}
	if (!json_object_is_type(v, json_type_int))
		return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's \"%s\" claim is not an integer.", name);
	*ret = json_object_get_int64(v);
	return 0;
}

static int string_claim(json_object *claims, const char *name, const char **ret, struct et_err *err)
{
	json_object *v;
	if (!json_object_object_get_ex(claims, name, &v))
		return et_err_set(err, ET_E_MISSING_CLAIM, "The token has no \"%s\" claim.", name);
	if (!json_object_is_type(v, json_type_string))
		return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's \"%s\" claim is not a string.", name);
	*ret = json_object_get_string(v);
	return 0;
}

static int check_issuer(const struct et_config *cfg, const char *iss, struct et_err *err)
{
	char *v2 = et_config_issuer_v2(cfg), *v1 = NULL;
	int r = -1;
	if (!v2)
		return et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
	if (strcmp(iss, v2) == 0) {
		r = 0;
	} else if (cfg->accept_v1_issuer) {
		v1 = et_config_issuer_v1(cfg);
		if (!v1)
			et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
		else if (strcmp(iss, v1) == 0)
			r = 0;
		else
			et_err_set(err, ET_E_BAD_ISSUER, "The token was issued by \"%.80s\", expected \"%s\" or \"%s\".", iss, v2, v1);
	} else {
		et_err_set(err, ET_E_BAD_ISSUER, "The token was issued by \"%.80s\", expected \"%s\".", iss, v2);
	}
	free(v1);
	free(v2);
	return r;
}

static int check_audience(const struct et_config *cfg, json_object *claims, struct et_err *err)
{
	json_object *aud;
	if (!json_object_object_get_ex(claims, "aud", &aud))
		return et_err_set(err, ET_E_MISSING_CLAIM, "The token has no \"aud\" claim.");
	if (json_object_is_type(aud, json_type_string)) {
		if (strcmp(json_object_get_string(aud), cfg->client_id) == 0)
			return 0;
		return et_err_set(err, ET_E_BAD_AUDIENCE, "The token is for application \"%.80s\", not this one (%s).",
				  json_object_get_string(aud), cfg->client_id);
	}
	if (json_object_is_type(aud, json_type_array)) {
		size_t n = json_object_array_length(aud);
		bool ours = false;
		for (size_t i = 0; i < n; i++) {
			json_object *a = json_object_array_get_idx(aud, i);
			if (!json_object_is_type(a, json_type_string))
				return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's \"aud\" array holds a non-string.");
			if (strcmp(json_object_get_string(a), cfg->client_id) == 0)
				ours = true;
		}
		if (!ours)
			return et_err_set(err, ET_E_BAD_AUDIENCE,
					  "The token's audiences do not include this application (%s).", cfg->client_id);
		/* RFC 8725 3.9: a token meant for several relying parties can be replayed by any
		 * of them to the others */
		if (n > 1)
			return et_err_set(err, ET_E_BAD_AUDIENCE,
					  "The token is for %zu audiences; only a token for this application alone is accepted.",
					  n);
		return 0;
	}
	return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's \"aud\" claim is neither a string nor an array.");
}

/* azp (v2) and appid (v1) name the client the token was issued to: when present, it must be
 * this application, not another one that obtained a token naming us as audience. */
static int check_party(const struct et_config *cfg, json_object *claims, struct et_err *err)
{
	static const char *const names[] = { "azp", "appid" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_object *v;
		if (!json_object_object_get_ex(claims, names[i], &v))
			continue;
		if (!json_object_is_type(v, json_type_string))
			return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's \"%s\" claim is not a string.", names[i]);
		if (strcmp(json_object_get_string(v), cfg->client_id) != 0)
			return et_err_set(err, ET_E_BAD_AUTHORIZED_PARTY,
					  "The token was issued to application \"%.80s\" (%s), not this one (%s).",
					  json_object_get_string(v), names[i], cfg->client_id);
	}
	return 0;
}

/* An app-only token (client credentials) names no person: idtyp "app" (Microsoft's optional
 * claim), or a subject that is the object ID itself (the service principal). */
static int check_user_token(json_object *claims, const char *oid, struct et_err *err)
{
	json_object *v;
	if (json_object_object_get_ex(claims, "idtyp", &v) &&
	    (!json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "user") != 0))
		return et_err_set(err, ET_E_APP_ONLY_TOKEN, "The token is an application's (idtyp), not a person's.");
	if (json_object_object_get_ex(claims, "sub", &v) && json_object_is_type(v, json_type_string) &&
	    strcmp(json_object_get_string(v), oid) == 0)
		return et_err_set(err, ET_E_APP_ONLY_TOKEN, "The token is an application's (sub is its object ID), not a person's.");
	return 0;
}

int et_claims_check(const struct et_config *cfg, json_object *claims, time_t now, struct et_err *err)
{
	const char *iss, *tid, *oid;
	long long exp, nbf, iat;
	long long t = (long long)now, skew = cfg->clock_skew;
	int r;

	if (!json_object_is_type(claims, json_type_object))
		return et_err_set(err, ET_E_PAYLOAD_NOT_OBJECT, "The token's payload is not a JSON object.");
	if (string_claim(claims, "iss", &iss, err) < 0 || check_issuer(cfg, iss, err) < 0)
		return -1;
	if (check_audience(cfg, claims, err) < 0)
		return -1;
	if (string_claim(claims, "tid", &tid, err) < 0)
		return -1;
	if (strcmp(tid, cfg->tenant_id) != 0)
		return et_err_set(err, ET_E_BAD_TENANT, "The token is from tenant \"%.80s\", not %s.", tid, cfg->tenant_id);
	/* oid is the identity we authorise on; a token without it identifies nobody. */
	if (string_claim(claims, "oid", &oid, err) < 0)
		return -1;
	if (!*oid)
		return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's \"oid\" claim is empty.");
	if (check_party(cfg, claims, err) < 0 || check_user_token(claims, oid, err) < 0)
		return -1;

	if (time_claim(claims, "exp", true, &exp, err) < 0)
		return -1;
	if (t - skew >= exp)
		return et_err_set(err, ET_E_EXPIRED, "The token expired at %lld (now %lld, allowed skew %llds).", exp, t, skew);
	r = time_claim(claims, "nbf", false, &nbf, err);
	if (r < 0)
		return -1;
	if (r == 0 && t + skew < nbf)
		return et_err_set(err, ET_E_NOT_YET_VALID, "The token is not valid before %lld (now %lld, allowed skew %llds).",
				  nbf, t, skew);
	if (time_claim(claims, "iat", true, &iat, err) < 0)
		return -1;
	if (t + skew < iat)
		return et_err_set(err, ET_E_ISSUED_IN_FUTURE, "The token claims to be issued at %lld, in the future (now %lld).",
				  iat, t);
	/* RFC 8725 and Microsoft's guidance: bounded lifetime and age, whatever exp says */
	if (exp - iat > cfg->token_max_lifetime)
		return et_err_set(err, ET_E_TOKEN_LIFETIME,
				  "The token lives %llds (iat %lld to exp %lld), longer than token_max_lifetime (%lds).",
				  exp - iat, iat, exp, cfg->token_max_lifetime);
	if (t - iat > cfg->token_max_age + skew)
		return et_err_set(err, ET_E_TOKEN_TOO_OLD,
				  "The token was issued %llds ago, more than token_max_age (%lds) and the allowed skew.",
				  t - iat, cfg->token_max_age);
	return 0;
}

/* How many members of the claim array are in the allow list: -1 when the claim has the
 * wrong shape (that must deny loudly, not count as "no match"). */
static int intersects(json_object *claims, const char *name, const struct et_strlist *allowed, bool icase,
		      struct et_err *err)
{
	json_object *arr;
	size_t n;
	if (!json_object_object_get_ex(claims, name, &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's \"%s\" claim is not an array.", name);
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		const char *s;
		if (!json_object_is_type(v, json_type_string))
			return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's \"%s\" claim holds a non-string.", name);
		s = json_object_get_string(v);
		if (icase ? et_strlist_contains_icase(allowed, s) : et_strlist_contains(allowed, s))
			return 1;
	}
	return 0;
}

static bool has_group_overage(json_object *claims)
{
	json_object *names, *groups;
	if (json_object_object_get_ex(claims, "groups", &groups))
		return false;
	return json_object_object_get_ex(claims, "_claim_names", &names) &&
	       json_object_is_type(names, json_type_object) && json_object_object_get_ex(names, "groups", NULL);
}

int et_claims_eligible(const struct et_config *cfg, json_object *claims, struct et_err *err)
{
	int r;
	if (cfg->eligible_roles.n) {
		r = intersects(claims, "roles", &cfg->eligible_roles, false, err);
		if (r < 0)
			return -1;
		if (r > 0)
			return 0;
	}
	if (cfg->eligible_groups.n) {
		/* Group object IDs are GUIDs: compare without regard to hex letter case. */
		r = intersects(claims, "groups", &cfg->eligible_groups, true, err);
		if (r < 0)
			return -1;
		if (r > 0)
			return 0;
		if (has_group_overage(claims))
			return et_err_set(err, ET_E_GROUP_OVERAGE,
					  "group overage: membership must be resolved via Microsoft Graph");
	}
	return et_err_set(err, ET_E_NOT_ELIGIBLE,
			  "The account is in none of the eligible groups or roles configured for this host.");
}
