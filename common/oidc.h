/* OpenID Connect discovery for the tenant. */
#pragma once
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
void et_oidc_free(struct et_oidc *o);
