/* SPDX-License-Identifier: Apache-2.0 */
/* OpenID Connect discovery for the tenant. */
#pragma once
#include <time.h>
#include "conf.h"
#include "err.h"

struct et_oidc {
	char *issuer;
	char *jwks_uri;
	char *token_endpoint;
	char *device_authorization_endpoint; /* falls back to {authority}/{tenant}/oauth2/v2.0/devicecode */
};

/* Fetch cfg->discovery_url; require issuer == the expected v2 issuer; require https
 * endpoints. */
int et_oidc_discover(const struct et_config *cfg, struct et_oidc *ret, struct et_err *err);

/* The same through a cache, like the keys' (jwks_cache.h): {jwks_cache_dir}/discovery.json,
 * root-only, written atomically, for this discovery_url only, checked again whenever read.
 * A copy younger than jwks_cache_ttl is used without a request; an older one is refreshed,
 * and used (logged) when the provider cannot be reached ("discovery_failed"), never when it
 * answers a document we refuse. A cache that cannot be read or written only costs the
 * request. */
#define ET_OIDC_CACHE_FILE "discovery.json"
#define ET_OIDC_CACHE_SKEW 60 /* seconds a copy may seem to come from the future */
int et_oidc_discover_cached(const struct et_config *cfg, time_t now, struct et_oidc *ret, struct et_err *err);
/* An endpoint the cached document names failed: drop the copy, so the next sign-in fetches
 * the document again. */
void et_oidc_cache_forget(const struct et_config *cfg);
void et_oidc_free(struct et_oidc *o);
