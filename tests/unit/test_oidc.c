/* SPDX-License-Identifier: Apache-2.0 */
/* OpenID discovery against the mock Entra ID, and against hand-made documents served over TLS
 * by `openssl s_server -WWW` with the mock's own server certificate (so the mock's CA, the
 * configured ca_file, trusts it). Run through test_oidc.sh (with-mock.sh). */
#include "conf.h"
#include "fsutil.h"
#include "http.h"
#include "mockutil.h"
#include "oidc.h"
#include "tap.h"
#include "testutil.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *mock_base, *mock_tenant;

/* ---- the mock's control API (through mockctl) ---- */

static void mock_reset(void)
{
	mu_ctl("up", NULL);
	mu_ctl("config", "{\"issuer_override\": null, \"omit_device_endpoint\": false}");
}

/* ---- strings ---- */

/* Like mu_str_of, but each result lives until pool_free(). */
static char *pool[64];
static size_t n_pool;
static char *dup_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_of(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0 || n_pool >= sizeof(pool) / sizeof(pool[0]))
		abort();
	va_end(ap);
	return pool[n_pool++] = s;
}

static void pool_free(void)
{
	while (n_pool > 0)
		free(pool[--n_pool]);
}

/* ---- static documents over TLS ---- */

/* Write a document and return its URL. */
static char *doc(struct mu_docserver *d, const char *name, const char *content)
{
	free(tu_write_file(d->dir, name, content, 0644));
	return mu_str_of("https://127.0.0.1:%d/%s", d->port, name);
}

/* ---- tests ---- */

static void expect_fail(struct et_config *cfg, const char *reason, const char *needle, const char *name)
{
	static char sentinel[] = "sentinel";
	struct et_oidc o = { .issuer = sentinel };
	struct et_err err = { 0 };
	int r = et_oidc_discover(cfg, &o, &err);
	if (!ok(r < 0 && strcmp(err.reason, reason) == 0, "%s: %s", name, reason))
		tap_diag("got %d %s: %s", r, err.reason, err.message);
	else if (needle && !ok(strstr(err.message, needle) != NULL, "%s: the sentence says '%s'", name, needle))
		tap_diag("message: %s", err.message);
	if (r == 0)
		et_oidc_free(&o);
	else
		ok(strcmp(o.issuer, "sentinel") == 0 && o.jwks_uri == NULL, "%s: the result is left untouched", name);
}

static void test_mock_discovery(void)
{
	struct et_config cfg;
	struct et_oidc o = { 0 };
	struct et_err err = { 0 };
	char *iss;

	mu_cfg_load(&cfg);
	mock_reset();
	ok(et_oidc_discover(&cfg, &o, &err) == 0, "discovery against the mock (%s)", err.message);
	iss = et_config_issuer_v2(&cfg);
	is_str(o.issuer, iss, "issuer is {authority}/{tenant}/v2.0");
	is_str(o.jwks_uri, mu_str_of("%s/%s/discovery/v2.0/keys", mock_base, mock_tenant), "jwks_uri");
	is_str(o.token_endpoint, mu_str_of("%s/%s/oauth2/v2.0/token", mock_base, mock_tenant), "token_endpoint");
	is_str(o.device_authorization_endpoint, mu_str_of("%s/%s/oauth2/v2.0/devicecode", mock_base, mock_tenant),
	       "device_authorization_endpoint");
	et_oidc_free(&o);
	ok(o.issuer == NULL && o.jwks_uri == NULL, "et_oidc_free clears");
	et_oidc_free(&o);
	et_oidc_free(NULL);

	/* The mock leaves the device endpoint out: the fixed Entra shape is used. */
	mu_ctl("config", "{\"omit_device_endpoint\": true}");
	ok(et_oidc_discover(&cfg, &o, &err) == 0, "discovery without device_authorization_endpoint");
	is_str(o.device_authorization_endpoint, mu_str_of("%s/%s/oauth2/v2.0/devicecode", cfg.authority, cfg.tenant_id),
	       "falls back to {authority}/{tenant}/oauth2/v2.0/devicecode");
	et_oidc_free(&o);

	/* Another issuer in the document. */
	mock_reset();
	mu_ctl("config", "{\"issuer_override\": \"https://login.example.com/other-tenant/v2.0\"}");
	expect_fail(&cfg, "bad_issuer", "https://login.example.com/other-tenant/v2.0", "a foreign issuer");
	expect_fail(&cfg, "bad_issuer", iss, "a foreign issuer (expected named)");
	mu_ctl("config", mu_str_of("{\"issuer_override\": \"%s/\"}", iss));
	expect_fail(&cfg, "bad_issuer", NULL, "the right issuer with a trailing slash");
	free(iss);

	/* HTTP-level failures. */
	mock_reset();
	mu_ctl("fail", "{\"status\": 500, \"count\": -1, \"endpoints\": [\"discovery\"], \"body\": \"<html>oops\"}");
	expect_fail(&cfg, "discovery_failed", "HTTP 500", "discovery answering 500 with HTML");
	mock_reset();
	mu_ctl("fail", "{\"status\": 503, \"count\": -1, \"endpoints\": [\"discovery\"]}");
	expect_fail(&cfg, "discovery_failed", "HTTP 503", "discovery answering 503");
	mock_reset();
	mu_ctl("down", "{\"mode\": \"reset\", \"endpoints\": [\"discovery\"]}");
	expect_fail(&cfg, "discovery_failed", "(http_", "the mock dropping connections");
	mock_reset();
	et_config_free(&cfg);

	/* Documents that are not discovery documents. */
	mu_cfg_load(&cfg);
	mu_cfg_set(&cfg, "discovery_url", mu_str_of("%s/devicelogin", mock_base));
	expect_fail(&cfg, "bad_discovery", "not valid JSON", "an HTML page");
	mu_cfg_set(&cfg, "discovery_url", mu_str_of("%s/%s/discovery/v2.0/keys", mock_base, mock_tenant));
	expect_fail(&cfg, "bad_discovery", "issuer", "a JSON object without issuer (the key set)");
	mu_cfg_set(&cfg, "discovery_url",
		mu_str_of("%s/00000000-0000-0000-0000-000000000000/v2.0/.well-known/openid-configuration", mock_base));
	expect_fail(&cfg, "discovery_failed", "HTTP 400", "another tenant's discovery URL (AADSTS90002)");
	et_config_free(&cfg);

	/* A discovery URL that is not https (the configuration refuses one; the code does too). */
	mu_cfg_load(&cfg);
	free(cfg.discovery_url);
	cfg.discovery_url =
		strdup(mu_str_of("http://127.0.0.1:1/%s/v2.0/.well-known/openid-configuration", mock_tenant));
	expect_fail(&cfg, "discovery_failed", "http_scheme", "an http:// discovery URL");
	free(cfg.discovery_url);
	cfg.discovery_url = NULL;
	expect_fail(&cfg, "bad_discovery", NULL, "no discovery URL");
	et_config_free(&cfg);
}

static void test_documents(struct mu_docserver *d)
{
	struct et_config cfg;
	struct et_oidc o = { 0 };
	struct et_err err = { 0 };
	char *iss, *good_jwks, *good_token;

	mu_cfg_load(&cfg);
	iss = et_config_issuer_v2(&cfg);
	good_jwks = strdup(mu_str_of("%s/%s/discovery/v2.0/keys", mock_base, mock_tenant));
	good_token = strdup(mu_str_of("%s/%s/oauth2/v2.0/token", mock_base, mock_tenant));

	/* A minimal valid document, no device endpoint. */
	mu_cfg_set(&cfg, "discovery_url",
		doc(d, "minimal.json",
		    mu_str_of("{\"issuer\":\"%s\",\"jwks_uri\":\"%s\",\"token_endpoint\":\"%s\"}", iss, good_jwks,
			      good_token)));
	ok(et_oidc_discover(&cfg, &o, &err) == 0, "a minimal document from another server (%s)", err.message);
	is_str(o.jwks_uri, good_jwks, "its jwks_uri");
	is_str(o.device_authorization_endpoint, mu_str_of("%s/%s/oauth2/v2.0/devicecode", cfg.authority, cfg.tenant_id),
	       "device endpoint derived from the configured authority, not the document's server");
	et_oidc_free(&o);

	mu_cfg_set(&cfg, "discovery_url",
		doc(d, "dev-null.json",
		    mu_str_of("{\"issuer\":\"%s\",\"jwks_uri\":\"%s\",\"token_endpoint\":\"%s\","
			      "\"device_authorization_endpoint\":null}",
			      iss, good_jwks, good_token)));
	ok(et_oidc_discover(&cfg, &o, &err) == 0 && o.device_authorization_endpoint &&
		   strstr(o.device_authorization_endpoint, "/oauth2/v2.0/devicecode"),
	   "a null device endpoint counts as absent");
	et_oidc_free(&o);

	struct {
		const char *name, *content, *reason, *needle;
	} bad[] = {
		{ "no-jwks.json", dup_of("{\"issuer\":\"%s\",\"token_endpoint\":\"%s\"}", iss, good_token),
		  "bad_discovery", "jwks_uri" },
		{ "no-token.json", dup_of("{\"issuer\":\"%s\",\"jwks_uri\":\"%s\"}", iss, good_jwks), "bad_discovery",
		  "token_endpoint" },
		{ "http-jwks.json",
		  dup_of("{\"issuer\":\"%s\",\"jwks_uri\":\"http://127.0.0.1/keys\",\"token_endpoint\":\"%s\"}", iss,
			 good_token),
		  "bad_discovery", "jwks_uri" },
		{ "http-token.json",
		  dup_of("{\"issuer\":\"%s\",\"jwks_uri\":\"%s\",\"token_endpoint\":\"http://127.0.0.1/token\"}", iss,
			 good_jwks),
		  "bad_discovery", "token_endpoint" },
		{ "http-device.json",
		  dup_of("{\"issuer\":\"%s\",\"jwks_uri\":\"%s\",\"token_endpoint\":\"%s\","
			 "\"device_authorization_endpoint\":\"http://127.0.0.1/devicecode\"}",
			 iss, good_jwks, good_token),
		  "bad_discovery", "device_authorization_endpoint" },
		{ "hostless-jwks.json",
		  dup_of("{\"issuer\":\"%s\",\"jwks_uri\":\"https:///keys\",\"token_endpoint\":\"%s\"}", iss,
			 good_token),
		  "bad_discovery", "jwks_uri" },
		{ "space-jwks.json",
		  dup_of("{\"issuer\":\"%s\",\"jwks_uri\":\"https://a b/keys\",\"token_endpoint\":\"%s\"}", iss,
			 good_token),
		  "bad_discovery", "jwks_uri" },
		{ "number-jwks.json",
		  dup_of("{\"issuer\":\"%s\",\"jwks_uri\":7,\"token_endpoint\":\"%s\"}", iss, good_token),
		  "bad_discovery", "jwks_uri" },
		{ "number-issuer.json",
		  dup_of("{\"issuer\":1,\"jwks_uri\":\"%s\",\"token_endpoint\":\"%s\"}", good_jwks, good_token),
		  "bad_discovery", "issuer" },
		{ "no-issuer.json", dup_of("{\"jwks_uri\":\"%s\",\"token_endpoint\":\"%s\"}", good_jwks, good_token),
		  "bad_discovery", "issuer" },
		/* json-c alone would keep the last of two equal names: strict parsing refuses. */
		{ "dup-issuer.json",
		  dup_of("{\"issuer\":\"https://evil.example/v2.0\",\"issuer\":\"%s\",\"jwks_uri\":\"%s\","
			 "\"token_endpoint\":\"%s\"}",
			 iss, good_jwks, good_token),
		  "bad_discovery", "not valid JSON" },
		{ "trailing.json",
		  dup_of("{\"issuer\":\"%s\",\"jwks_uri\":\"%s\",\"token_endpoint\":\"%s\"} {}", iss, good_jwks,
			 good_token),
		  "bad_discovery", "not valid JSON" },
		{ "array.json", "[1,2,3]", "bad_discovery", "not a JSON object" },
		{ "empty.json", "", "bad_discovery", "not valid JSON" },
		{ "upper-issuer.json",
		  dup_of("{\"issuer\":\"%s\",\"jwks_uri\":\"%s\",\"token_endpoint\":\"%s\"}",
			 dup_of("%s/%s/v2.0", mock_base, "8EAEF023-2B34-4DA1-9BAA-8BC8C9D6A490"), good_jwks,
			 good_token),
		  "bad_issuer", "expected" },
		{ "v1-issuer.json",
		  dup_of("{\"issuer\":\"https://sts.windows.net/%s/\",\"jwks_uri\":\"%s\",\"token_endpoint\":\"%s\"}",
			 mock_tenant, good_jwks, good_token),
		  "bad_issuer", "sts.windows.net" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[128];
		snprintf(name, sizeof(name), "document %s", bad[i].name);
		mu_cfg_set(&cfg, "discovery_url", doc(d, bad[i].name, bad[i].content));
		expect_fail(&cfg, bad[i].reason, bad[i].needle, name);
	}
	pool_free();
	free(iss);
	free(good_jwks);
	free(good_token);
	et_config_free(&cfg);
}

/* The discovery cache (et_oidc_discover_cached): one request across sign-ins while fresh, a
 * stale copy when the provider is down, a refetch when it is old, forgotten or refused. */
static void test_cache(void)
{
	struct et_config cfg;
	struct et_oidc o = { 0 };
	struct et_err err = { 0 };
	char *path;
	time_t now = time(NULL);
	int n_ok = 0;
	struct stat st;

	mu_cfg_load(&cfg);
	mock_reset();
	path = strdup(mu_str_of("%s/%s", cfg.jwks_cache_dir, ET_OIDC_CACHE_FILE));
	unlink(path);
	mu_ctl("stats/reset", NULL);
	for (int i = 0; i < 5; i++) {
		if (et_oidc_discover_cached(&cfg, now + i, &o, &err) == 0 && o.token_endpoint)
			n_ok++;
		et_oidc_free(&o);
	}
	is_int(n_ok, 5, "cache: five sign-ins have the endpoints");
	is_int(mu_mock_stat("discovery"), 1, "cache: the discovery document is fetched once across five sign-ins");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_uid == 0,
	   "cache: discovery.json is root's, mode 0600");

	/* old copy: refreshed */
	mu_ctl("stats/reset", NULL);
	ok(et_oidc_discover_cached(&cfg, now + cfg.jwks_cache_ttl + 1, &o, &err) == 0,
	   "cache: an old copy is refreshed");
	et_oidc_free(&o);
	is_int(mu_mock_stat("discovery"), 1, "cache: ... with one request");

	/* provider down: the stale copy serves; fresh copies need nothing */
	mu_ctl("down", "{\"mode\": \"reset\", \"endpoints\": [\"discovery\"]}");
	ok(et_oidc_discover_cached(&cfg, now + 10, &o, &err) == 0 && o.token_endpoint,
	   "cache: with the provider down, a fresh copy is used");
	et_oidc_free(&o);
	ok(et_oidc_discover_cached(&cfg, now + 3 * cfg.jwks_cache_ttl, &o, &err) == 0 && o.token_endpoint,
	   "cache: with the provider down, the stale copy is used");
	et_oidc_free(&o);
	mock_reset();

	/* a refused document is never papered over by the stale copy */
	mu_ctl("config", "{\"issuer_override\": \"https://login.example.com/other-tenant/v2.0\"}");
	ok(et_oidc_discover_cached(&cfg, now + 3 * cfg.jwks_cache_ttl, &o, &err) < 0 &&
		   strcmp(err.reason, "bad_issuer") == 0,
	   "cache: an old copy is not used when the provider answers a document we refuse");
	mock_reset();

	/* an endpoint failed: the copy is forgotten and fetched again */
	et_oidc_cache_forget(&cfg);
	ok(access(path, F_OK) < 0, "cache: forget removes the copy");
	mu_ctl("stats/reset", NULL);
	ok(et_oidc_discover_cached(&cfg, now, &o, &err) == 0, "cache: after forget, discovery works");
	et_oidc_free(&o);
	is_int(mu_mock_stat("discovery"), 1, "cache: ... fetched again");

	/* a copy for another discovery URL, or a tampered one, is not used */
	mu_cfg_set(&cfg, "discovery_url",
		   mu_str_of("%s/%s/v2.0/.well-known/openid-configuration/", mock_base, mock_tenant));
	mu_ctl("stats/reset", NULL);
	ok(et_oidc_discover_cached(&cfg, now, &o, &err) == 0, "cache: another discovery_url is fetched");
	et_oidc_free(&o);
	is_int(mu_mock_stat("discovery"), 1, "cache: ... not taken from the other URL's copy");
	{
		char *text = NULL;
		size_t len;
		struct et_err e = { 0 };
		if (et_file_read(path, 1 << 20, 1, &text, &len, &e) == 0) {
			/* json-c writes "https:\/\/...": the issuer no longer matches the tenant's */
			char *p = strstr(text, "\"issuer\":\"https");
			ok(p != NULL, "cache: the copy names its issuer");
			if (p)
				p[10] = 'x';
			et_file_write_atomic(path, text, len, 0600, &e);
			free(text);
		}
		mu_ctl("stats/reset", NULL);
		ok(et_oidc_discover_cached(&cfg, now, &o, &err) == 0 && strncmp(o.issuer, "https://", 8) == 0,
		   "cache: a copy that fails the document checks (its issuer) is fetched again");
		et_oidc_free(&o);
		is_int(mu_mock_stat("discovery"), 1, "cache: ... with one request");
	}
	unlink(path);
	free(path);
	et_config_free(&cfg);
}

int main(void)
{
	struct mu_docserver d = { 0 };

	mock_base = getenv("ET_MOCK_BASE");
	mock_tenant = getenv("ET_MOCK_TENANT");
	if (!mock_base || !mock_tenant || !getenv("ET_MOCKCTL") || !getenv("ET_MOCK_CONFIG") || !getenv("ET_MOCK_DIR"))
		tap_skip_all("needs the mock Entra ID: run through test_oidc.sh");

	test_mock_discovery();
	test_cache();
	mu_docserver_start(&d);
	test_documents(&d);
	mu_docserver_stop(&d);
	return tap_done();
}
