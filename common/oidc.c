/* SPDX-License-Identifier: Apache-2.0 */
/* OpenID Connect discovery: where the tenant's keys and endpoints are. The document comes
 * over verified TLS, but it is still checked: the issuer must be exactly the tenant's v2
 * issuer (so a document for another tenant or authority is refused), and every endpoint we
 * will send anything to must be https. */
#include "conf.h"
#include "oidc.h"
#include "fsutil.h"
#include "http.h"
#include "json_strict.h"
#include "text.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

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

/* Check a discovery document (the issuer, the endpoints) and take what we use from it; *doc
 * stays the caller's. */
static int oidc_from_doc(const struct et_config *cfg, const char *url, json_object *doc, struct et_oidc *ret,
			 struct et_err *err)
{
	struct et_oidc o = { 0 };
	char *expected = NULL;
	const char *issuer;
	int r = -1;

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
	free(expected);
	return r;
}

/* Fetch and check the document; *ret_doc (optional) gets it for the cache. */
static int discover_fetch(const struct et_config *cfg, struct et_oidc *ret, json_object **ret_doc, struct et_err *err)
{
	struct et_http_resp resp = { 0 };
	struct et_err herr = { 0 };
	json_object *doc = NULL;
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
	if (oidc_from_doc(cfg, url, doc, ret, err) < 0)
		goto done;
	if (ret_doc) {
		*ret_doc = doc;
		doc = NULL;
	}
	r = 0;
done:
	if (doc)
		json_object_put(doc);
	et_http_resp_free(&resp);
	return r;
}

int et_oidc_discover(const struct et_config *cfg, struct et_oidc *ret, struct et_err *err)
{
	return discover_fetch(cfg, ret, NULL, err);
}

/* ---- the cache: {jwks_cache_dir}/discovery.json, root-only, written atomically ----
 *   {"fetched_at": epoch, "discovery_url": "...", "document": {...}}
 * The document is checked again (issuer, https endpoints) every time it is read. */

static int cache_path(const struct et_config *cfg, char *buf, size_t size)
{
	if (!cfg->jwks_cache_dir || cfg->jwks_cache_dir[0] != '/')
		return -1;
	return snprintf(buf, size, "%s/%s", cfg->jwks_cache_dir, ET_OIDC_CACHE_FILE) < (int)size ? 0 : -1;
}

/* The cached document for this discovery_url, checked; ret_age: seconds since it was fetched. */
static int cache_read(const struct et_config *cfg, time_t now, struct et_oidc *ret, long long *ret_age)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len = 0;
	struct et_err e = { 0 };
	json_object *doc = NULL, *inner = NULL;
	const char *url;
	long long fetched;
	int r = -1;

	if (cache_path(cfg, path, sizeof(path)) < 0 || et_file_read(path, ET_HTTP_MAX_BODY + 4096, 1, &buf, &len, &e) < 0)
		return -1;
	if (et_json_parse(buf, len, ET_JSON_MAX_DEPTH, &doc, &e) < 0 || !json_object_is_type(doc, json_type_object) ||
	    et_json_get_int64(doc, "fetched_at", &fetched) < 0 || fetched <= 0 ||
	    !(url = et_json_get_string(doc, "discovery_url")) || strcmp(url, cfg->discovery_url) != 0 ||
	    !json_object_object_get_ex(doc, "document", &inner))
		goto done;
	if (oidc_from_doc(cfg, cfg->discovery_url, inner, ret, &e) < 0)
		goto done;
	*ret_age = (long long)now - fetched;
	r = 0;
done:
	if (doc)
		json_object_put(doc);
	free(buf);
	return r;
}

static void cache_write(const struct et_config *cfg, json_object *document, time_t now)
{
	char path[PATH_MAX];
	struct et_err e = { 0 };
	json_object *doc = json_object_new_object();
	const char *text;

	if (!doc || cache_path(cfg, path, sizeof(path)) < 0 ||
	    json_object_object_add(doc, "fetched_at", json_object_new_int64((int64_t)now)) < 0 ||
	    json_object_object_add(doc, "discovery_url", json_object_new_string(cfg->discovery_url)) < 0 ||
	    json_object_object_add(doc, "document", json_object_get(document)) < 0)
		goto done;
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
	if (!text || et_dir_ensure_private(cfg->jwks_cache_dir, 0700, &e) < 0 ||
	    et_file_write_atomic(path, text, strlen(text), 0600, &e) < 0)
		et_log(&cfg->log, ET_LOG_DEBUG, "the discovery document was not cached: %s",
		       e.message[0] ? e.message : "?");
done:
	if (doc)
		json_object_put(doc);
}

int et_oidc_discover_cached(const struct et_config *cfg, time_t now, struct et_oidc *ret, struct et_err *err)
{
	struct et_oidc cached = { 0 };
	json_object *doc = NULL;
	long long age = 0;
	bool have = cache_read(cfg, now, &cached, &age) == 0;

	/* fresh: no request at all (a clock stepped back a little still counts as fresh) */
	if (have && age >= -ET_OIDC_CACHE_SKEW && age < cfg->jwks_cache_ttl) {
		*ret = cached;
		return 0;
	}
	if (discover_fetch(cfg, ret, &doc, err) == 0) {
		cache_write(cfg, doc, now);
		json_object_put(doc);
		et_oidc_free(&cached);
		return 0;
	}
	/* the provider is down (not: it answered a document we refuse): the stale copy serves */
	if (have && err->code == ET_E_DISCOVERY_FAILED) {
		et_log(&cfg->log, ET_LOG_WARNING, "using the cached discovery document (%lld s old): %s", age,
		       err->message);
		*ret = cached;
		return 0;
	}
	et_oidc_free(&cached);
	return -1;
}

void et_oidc_cache_forget(const struct et_config *cfg)
{
	char path[PATH_MAX];
	if (cache_path(cfg, path, sizeof(path)) == 0)
		(void)unlink(path);
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
