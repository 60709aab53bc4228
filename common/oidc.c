/* OpenID Connect discovery: where the tenant's keys and endpoints are. The document comes
 * over verified TLS, but it is still checked: the issuer must be exactly the tenant's v2
 * issuer (so a document for another tenant or authority is refused), and every endpoint we
 * will send anything to must be https. */
#include "conf.h"
#include "oidc.h"
#include "http.h"
#include "json_strict.h"
#include "text.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest endpoint URL we accept from a discovery document. */
#define OIDC_URL_MAX 2048

/* Copy a required (or, with optional, possibly absent) https endpoint out of the document. */
static int take_endpoint(json_object *doc, const char *key, bool optional, const char *where, char **ret,
			 struct et_err *err)
{
	json_object *member = NULL;
	const char *v;
	char *copy;

	if (!json_object_object_get_ex(doc, key, &member) || json_object_is_type(member, json_type_null)) {
		if (optional) {
			*ret = NULL;
			return 0;
		}
		return et_err_set(err, ET_E_BAD_DISCOVERY, "the discovery document at %s has no \"%s\"", where, key);
	}
	v = et_json_get_string(doc, key);
	if (!v)
		return et_err_set(err, ET_E_BAD_DISCOVERY, "the discovery document at %s: \"%s\" is not a string", where,
				  key);
	if (!et_https_url_ok(v, OIDC_URL_MAX))
		return et_err_set(err, ET_E_BAD_DISCOVERY, "the discovery document at %s: \"%s\" is not an https URL",
				  where, key);
	copy = strdup(v);
	if (!copy)
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	*ret = copy;
	return 0;
}

int et_oidc_discover(const struct et_config *cfg, struct et_oidc *ret, struct et_err *err)
{
	struct et_http_resp resp = { 0 };
	struct et_err herr = { 0 };
	struct et_oidc o = { 0 };
	json_object *doc = NULL;
	char *expected = NULL;
	const char *issuer;
	const char *url = cfg->discovery_url;
	int r = -1;

	if (!url || !*url)
		return et_err_set(err, ET_E_BAD_DISCOVERY, "no discovery URL is configured");
	if (et_http_get(cfg, url, &resp, &herr) < 0) {
		et_err_set(err, ET_E_DISCOVERY_FAILED, "OpenID discovery failed (%s): %s", herr.reason, herr.message);
		goto done;
	}
	if (resp.status != 200) {
		et_err_set(err, ET_E_DISCOVERY_FAILED, "OpenID discovery failed: %s answered HTTP %ld", url, resp.status);
		goto done;
	}
	if (et_json_parse(resp.body, resp.len, ET_JSON_MAX_DEPTH, &doc, &herr) < 0) {
		et_err_set(err, ET_E_BAD_DISCOVERY, "the discovery document at %s is not valid JSON: %s", url,
			   herr.message);
		goto done;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		et_err_set(err, ET_E_BAD_DISCOVERY, "the discovery document at %s is not a JSON object", url);
		goto done;
	}

	expected = et_config_issuer_v2(cfg);
	if (!expected) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	issuer = et_json_get_string(doc, "issuer");
	if (!issuer) {
		et_err_set(err, ET_E_BAD_DISCOVERY, "the discovery document at %s has no string \"issuer\"", url);
		goto done;
	}
	if (strcmp(issuer, expected) != 0) {
		et_err_set(err, ET_E_BAD_ISSUER,
			   "the discovery document at %s names issuer \"%.100s\", expected \"%.100s\"", url, issuer,
			   expected);
		goto done;
	}
	o.issuer = strdup(issuer);
	if (!o.issuer) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	if (take_endpoint(doc, "jwks_uri", false, url, &o.jwks_uri, err) < 0 ||
	    take_endpoint(doc, "token_endpoint", false, url, &o.token_endpoint, err) < 0 ||
	    take_endpoint(doc, "device_authorization_endpoint", true, url, &o.device_authorization_endpoint, err) < 0)
		goto done;
	if (!o.device_authorization_endpoint) {
		/* Entra's v2 documents omit it in some clouds; the endpoint has a fixed shape. */
		if (asprintf(&o.device_authorization_endpoint, "%s/%s/oauth2/v2.0/devicecode", cfg->authority,
			     cfg->tenant_id) < 0) {
			o.device_authorization_endpoint = NULL;
			et_err_set(err, ET_E_NO_MEMORY, "out of memory");
			goto done;
		}
	}
	*ret = o;
	memset(&o, 0, sizeof(o));
	r = 0;
done:
	et_oidc_free(&o);
	if (doc)
		json_object_put(doc);
	free(expected);
	et_http_resp_free(&resp);
	return r;
}

void et_oidc_free(struct et_oidc *o)
{
	if (!o)
		return;
	free(o->issuer);
	free(o->jwks_uri);
	free(o->token_endpoint);
	free(o->device_authorization_endpoint);
	memset(o, 0, sizeof(*o));
}
