/* SPDX-License-Identifier: Apache-2.0 */
/* The key store against the mock Entra ID: the on-disk cache, TTL, the unknown-kid refresh and
 * its rate limit (within one process and across processes), key rotation, the stale cache
 * when the provider is down, corrupt caches, and pinned keys that never touch the network.
 * Run through test_jwks_cache.sh (with-mock.sh). */
#include "conf.h"
#include "jwks_cache.h"
#include "mockutil.h"
#include "tap.h"
#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

static const char *mock_base, *mock_tenant;
static time_t T0;

/* ---- the mock ---- */

/* The kid the mock signs with now (malloc'd). */
static char *mock_current_kid(void)
{
	char *r = mu_mockctl("state/dump", NULL), *kid = NULL;
	json_object *o = r ? json_tokener_parse(r) : NULL, *keys = NULL;
	if (o && json_object_object_get_ex(o, "keys", &keys) && json_object_is_type(keys, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(keys); i++) {
			json_object *k = json_object_array_get_idx(keys, i), *cur = NULL, *id = NULL;
			if (json_object_object_get_ex(k, "current", &cur) && json_object_get_boolean(cur) &&
			    json_object_object_get_ex(k, "kid", &id))
				kid = strdup(json_object_get_string(id));
		}
	}
	json_object_put(o);
	free(r);
	if (!kid) {
		printf("Bail out! cannot find the mock's current kid\n");
		exit(1);
	}
	return kid;
}

/* ---- configuration and log capture ---- */

static char logbuf[16384];

static void log_capture(void *data, int level, const char *msg)
{
	size_t len = strlen(logbuf);
	(void)data;
	snprintf(logbuf + len, sizeof(logbuf) - len, "<%d>%s\n", level, msg);
}

/* The mock's configuration with a fresh, not yet existing cache directory. Returns the dir. */
static char *cfg_fresh(struct et_config *cfg)
{
	char *dir;
	mu_cfg_load(cfg);
	if (asprintf(&dir, "%s/cache", tu_tmpdir()) < 0)
		abort();
	mu_cfg_set(cfg, "jwks_cache_dir", dir);
	cfg->log.fn = log_capture;
	cfg->log.data = NULL;
	logbuf[0] = '\0';
	return dir;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (st.st_mode & 07777) : (mode_t)-1;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	if (!f)
		return NULL;
	buf = calloc(1, 1 << 20);
	if (!buf)
		abort();
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f;
	unlink(path);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || chmod(path, mode) < 0)
		abort();
}

/* Fetch a key, expecting success; returns the keystore's refresh count delta. */
static int get_ok(struct et_keystore *ks, const char *kid, time_t now, const char *name)
{
	const struct et_jwk *k = NULL;
	struct et_err err = { 0 };
	unsigned before = ks->refreshes;
	int r = et_keystore_get(ks, kid, now, &k, &err);
	if (!ok(r == 0 && k && strcmp(k->kid, kid) == 0, "%s", name))
		tap_diag("%s: %s", err.reason, err.message);
	return (int)(ks->refreshes - before);
}

static void get_fails(struct et_keystore *ks, const char *kid, time_t now, const char *reason, const char *needle,
		      const char *name)
{
	static const struct et_jwk sentinel;
	const struct et_jwk *k = &sentinel;
	struct et_err err = { 0 };
	int r = et_keystore_get(ks, kid, now, &k, &err);
	if (!ok(r < 0 && strcmp(err.reason, reason) == 0 && k == &sentinel, "%s: %s", name, reason))
		tap_diag("got %d %s: %s", r, err.reason, err.message);
	else if (needle && !ok(strstr(err.message, needle) != NULL, "%s: the sentence says '%s'", name, needle))
		tap_diag("message: %s", err.message);
}

/* get_ok and get_fails on a key store of their own over cfg. */
static int fresh_get_ok(const struct et_config *cfg, const char *kid, time_t now, const char *name)
{
	struct et_keystore ks;
	int fetches;
	et_keystore_init(&ks, cfg);
	fetches = get_ok(&ks, kid, now, name);
	et_keystore_free(&ks);
	return fetches;
}

static void fresh_get_fails(const struct et_config *cfg, const char *kid, time_t now, const char *reason,
			    const char *needle, const char *name)
{
	struct et_keystore ks;
	et_keystore_init(&ks, cfg);
	get_fails(&ks, kid, now, reason, needle, name);
	et_keystore_free(&ks);
}

/* ---- tests ---- */

static void test_first_fetch_and_cache(const char *kid)
{
	struct et_config cfg;
	struct et_keystore ks, ks2, ks3;
	char *dir = cfg_fresh(&cfg);
	char *cache = tu_path_in(dir, "jwks.json"), *stamp = tu_path_in(dir, "refresh.stamp");
	char *lock = tu_path_in(dir, "lock");
	char *text, *want_uri;
	json_object *doc, *v;
	long long ttl = cfg.jwks_cache_ttl;

	mu_mock_reset();
	et_keystore_init(&ks, &cfg);
	is_int(get_ok(&ks, kid, T0, "first use: the mock's current key is found"), 1, "one network fetch");
	is_int(mu_mock_stat("discovery"), 1, "the mock saw one discovery request");
	is_int(mu_mock_stat("keys"), 1, "and one key set request");
	is_int(ks.fetched_at, T0, "fetched_at is now");
	is_int(mode_of(dir), 0700, "the cache directory was created 0700");
	is_int(mode_of(cache), 0600, "jwks.json is 0600");
	is_int(mode_of(stamp), 0600, "refresh.stamp is 0600");
	is_int(mode_of(lock), 0600, "lock is 0600");
	text = read_text(stamp);
	ok(text && atoll(text) == (long long)T0, "refresh.stamp holds the attempt time");
	free(text);

	text = read_text(cache);
	doc = text ? json_tokener_parse(text) : NULL;
	ok(doc && json_object_is_type(doc, json_type_object), "jwks.json is a JSON object");
	ok(doc && json_object_object_get_ex(doc, "fetched_at", &v) && json_object_get_int64(v) == (int64_t)T0,
	   "with fetched_at");
	if (asprintf(&want_uri, "%s/%s/discovery/v2.0/keys", mock_base, mock_tenant) < 0)
		abort();
	ok(doc && json_object_object_get_ex(doc, "jwks_uri", &v) && strcmp(json_object_get_string(v), want_uri) == 0,
	   "with the jwks_uri from discovery");
	ok(doc && json_object_object_get_ex(doc, "jwks", &v) && json_object_is_type(v, json_type_object) &&
		   strstr(json_object_to_json_string(v), kid),
	   "with the key set holding the kid");
	json_object_put(doc);
	free(text);
	free(want_uri);

	/* Another keystore (another process, in real life) uses the cache: no network. */
	et_keystore_init(&ks2, &cfg);
	is_int(get_ok(&ks2, kid, T0 + 10, "a second keystore finds the key"), 0, "from the cache, without fetching");
	is_int(mu_mock_stat("keys"), 1, "the mock saw no new request");
	is_int(ks2.fetched_at, T0, "the cached set keeps its fetch time");

	/* Past the TTL: fetched again. */
	et_keystore_init(&ks3, &cfg);
	is_int(get_ok(&ks3, kid, T0 + ttl + 1, "after the TTL the key is still found"), 1, "after a refetch");
	is_int(mu_mock_stat("keys"), 2, "the mock saw the second key set request");
	is_int(ks3.fetched_at, T0 + ttl + 1, "the new set's fetch time");

	/* ks2's set in memory is stale now, but the one on disk is fresh: it is adopted. */
	is_int(get_ok(&ks2, kid, T0 + ttl + 2, "a keystore with a stale set in memory"), 0,
	       "adopts the fresh cache another keystore wrote, without fetching");
	is_int(ks2.fetched_at, T0 + ttl + 1, "the adopted set's fetch time");
	is_int(mu_mock_stat("keys"), 2, "no request");

	/* et_keystore_refresh fetches even when fresh. */
	{
		struct et_err err = { 0 };
		ok(et_keystore_refresh(&ks2, T0 + ttl + 3, &err) == 0, "et_keystore_refresh works (%s)", err.message);
		is_int(ks2.refreshes, 1, "and counts a fetch");
		is_int(mu_mock_stat("keys"), 3, "the mock saw it");
	}

	et_keystore_free(&ks);
	et_keystore_free(&ks2);
	et_keystore_free(&ks3);
	et_keystore_free(&ks3); /* twice is harmless */
	free(cache);
	free(stamp);
	free(lock);
	free(dir);
	et_config_free(&cfg);
}

static void test_unknown_kid(const char *kid)
{
	struct et_config cfg;
	struct et_keystore ks;
	char *dir = cfg_fresh(&cfg);
	int flood_refreshes = 0;
	char name[64];

	mu_mock_reset();
	et_keystore_init(&ks, &cfg);
	get_fails(&ks, "no-such-kid", T0, "unknown_kid", "no-such-kid", "an unknown kid with no cache");
	is_int(ks.refreshes, 1, "caused one fetch");
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "made-up-kid-%d", i);
		struct et_err err = { 0 };
		const struct et_jwk *k = NULL;
		if (et_keystore_get(&ks, name, T0 + 1 + i, &k, &err) == 0 || strcmp(err.reason, "unknown_kid") != 0)
			flood_refreshes += 1000;
	}
	is_int(flood_refreshes, 0, "30 more unknown kids within the minute: each refused with unknown_kid");
	is_int(ks.refreshes, 1, "and none of them fetched");
	is_int(mu_mock_stat("keys"), 1, "the mock saw one key set request in all");
	get_fails(&ks, "still-unknown", T0 + 59, "unknown_kid", "one a minute", "59 s later");
	get_ok(&ks, kid, T0 + 59, "a known kid is still served meanwhile");

	/* A new keystore (a new process) is bound by the same stamp. */
	{
		struct et_keystore ks2;
		et_keystore_init(&ks2, &cfg);
		get_fails(&ks2, "another-unknown", T0 + 30, "unknown_kid", NULL, "a second keystore within the minute");
		is_int(ks2.refreshes, 0, "does not fetch either (the stamp is on disk)");
		et_keystore_free(&ks2);
	}

	/* A minute later one more refresh is allowed. */
	get_fails(&ks, "unknown-after-a-minute", T0 + 60, "unknown_kid", "just refreshed", "60 s later");
	is_int(ks.refreshes, 2, "one more fetch");
	is_int(mu_mock_stat("keys"), 2, "the mock saw it");

	/* The same limit across processes, and only one of several racing processes fetches. */
	mu_mock_reset();
	fflush(stdout);
	{
		enum { N = 6 };
		pid_t pids[N];
		int total = 0, bad = 0;
		for (int i = 0; i < N; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				struct et_keystore kc;
				char k2[64];
				int wrong = 0;
				et_keystore_init(&kc, &cfg);
				for (int j = 0; j < 5; j++) {
					struct et_err err = { 0 };
					const struct et_jwk *k = NULL;
					snprintf(k2, sizeof(k2), "child-%d-%d", i, j);
					if (et_keystore_get(&kc, k2, T0 + 125, &k, &err) == 0 ||
					    strcmp(err.reason, "unknown_kid") != 0)
						wrong = 1;
				}
				/* _exit: the parent's atexit handlers own the temp dirs. */
				_exit(wrong ? 100 : (int)kc.refreshes);
			}
		}
		for (int i = 0; i < N; i++) {
			int st = 0;
			waitpid(pids[i], &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st) >= 100)
				bad++;
			else
				total += WEXITSTATUS(st);
		}
		is_int(bad, 0, "6 processes x 5 unknown kids: every answer is unknown_kid");
		is_int(total, 1, "exactly one process fetched");
		is_int(mu_mock_stat("keys"), 1, "the mock saw one key set request");
	}

	/* A refresh stamp from the future (the clock was stepped back) does not block refreshes. */
	{
		char *stamp = tu_path_in(dir, "refresh.stamp"), buf[64];
		struct et_keystore ks3;
		snprintf(buf, sizeof(buf), "%lld\n", (long long)(T0 + 100000));
		write_text(stamp, buf, 0600);
		mu_mock_reset();
		et_keystore_init(&ks3, &cfg);
		get_fails(&ks3, "unknown-after-clock-step", T0 + 126, "unknown_kid", NULL, "a stamp in the future");
		is_int(ks3.refreshes, 1, "does not stop a refresh");
		et_keystore_free(&ks3);
		free(stamp);
	}

	/* Kids that cannot be a kid: refused without any look. */
	mu_mock_reset();
	{
		char longkid[ET_KID_MAX + 2];
		memset(longkid, 'k', sizeof(longkid) - 1);
		longkid[sizeof(longkid) - 1] = '\0';
		get_fails(&ks, "", T0 + 500, "unknown_kid", NULL, "an empty kid");
		get_fails(&ks, NULL, T0 + 500, "unknown_kid", NULL, "a NULL kid");
		get_fails(&ks, longkid, T0 + 500, "unknown_kid", NULL, "a kid longer than ET_KID_MAX");
		is_int(mu_mock_stat("discovery"), 0, "none of them reached the network");
	}
	et_keystore_free(&ks);
	free(dir);
	et_config_free(&cfg);
}

static void test_rotation(void)
{
	struct et_config cfg;
	struct et_keystore ks;
	char *dir = cfg_fresh(&cfg);
	char *kid1, *kid2, *kid3;

	mu_mock_reset();
	kid1 = mock_current_kid();
	et_keystore_init(&ks, &cfg);
	get_ok(&ks, kid1, T0, "before rotation: the current key");
	mu_ctl("rotate", NULL);
	kid2 = mock_current_kid();
	ok(strcmp(kid1, kid2) != 0, "the mock rotated to a new kid");
	is_int(get_ok(&ks, kid2, T0 + 61, "a token signed with the new key: its key is found"), 1,
	       "after exactly one refresh");
	is_int(get_ok(&ks, kid1, T0 + 62, "the old key (still published) is found too"), 0, "without a refresh");

	/* Rotating again within the minute: the new key is not found until the limit allows. */
	mu_ctl("rotate", NULL);
	kid3 = mock_current_kid();
	get_fails(&ks, kid3, T0 + 62, "unknown_kid", NULL, "a second rotation within the minute");
	is_int(get_ok(&ks, kid3, T0 + 121, "a minute after the last refresh"), 1, "the newest key after one refresh");
	is_int(mu_mock_stat("keys"), 3, "three key set requests in all");

	/* Retired keys disappear on the next refresh. */
	mu_ctl("rotate", "{\"retire_old\": true}");
	{
		struct et_err err = { 0 };
		ok(et_keystore_refresh(&ks, T0 + 200, &err) == 0, "refresh after the old keys were retired");
	}
	get_fails(&ks, kid1, T0 + 201, "unknown_kid", NULL, "a retired key");
	et_keystore_free(&ks);
	free(kid1);
	free(kid2);
	free(kid3);
	free(dir);
	et_config_free(&cfg);
}

static void test_idp_down(const char *kid)
{
	struct et_config cfg;
	struct et_keystore ks, ks2, ks3;
	char *dir = cfg_fresh(&cfg);
	long long ttl = cfg.jwks_cache_ttl;
	int before;

	/* No cache and the provider down: nothing to verify with. */
	mu_mock_reset();
	mu_ctl("down", "{\"mode\": \"reset\"}");
	et_keystore_init(&ks, &cfg);
	get_fails(&ks, kid, T0, "idp_unavailable", "http_", "no cache, the mock dropping connections");
	ok(strstr(logbuf, "using cached keys") == NULL, "no claim of cached keys in the log");
	et_keystore_free(&ks);

	mu_mock_reset();
	mu_ctl("fail", "{\"status\": 500, \"count\": -1, \"endpoints\": [\"keys\"]}");
	fresh_get_fails(&cfg, kid, T0 + 1, "idp_unavailable", "HTTP 500", "no cache, the key set answering 500");

	/* Fill the cache, then let the provider go down and the cache go stale. */
	mu_mock_reset();
	fresh_get_ok(&cfg, kid, T0 + 2, "the provider is up: keys fetched");
	mu_ctl("down", "{\"mode\": \"reset\"}");
	logbuf[0] = '\0';
	et_keystore_init(&ks2, &cfg);
	is_int(get_ok(&ks2, kid, T0 + 2 + ttl + 1, "stale cache, provider down: the cached key is used"), 1,
	       "after one attempt to refresh");
	ok(strstr(logbuf, "<4>identity provider unreachable (") && strstr(logbuf, "using cached keys fetched at "),
	   "a warning says the provider is unreachable and cached keys are used");
	{
		struct tm tm;
		char when[32];
		time_t t = T0 + 2;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		ok(strstr(logbuf, when) != NULL, "naming when they were fetched (%s)", when);
	}

	/* Right after a failed attempt, other processes do not wait on the provider again. */
	before = mu_mock_stat("discovery");
	logbuf[0] = '\0';
	et_keystore_init(&ks3, &cfg);
	is_int(get_ok(&ks3, kid, T0 + 2 + ttl + 5, "a second process, seconds later"), 0,
	       "uses the stale cache without trying the network");
	is_int(mu_mock_stat("discovery"), before, "the mock saw nothing");
	ok(strstr(logbuf, "<4>key refresh skipped (the last attempt, 4 s ago, failed); using cached keys"),
	   "and says so in the log");
	/* An unknown kid while down, with keys in hand: the provider is what is missing. */
	get_fails(&ks3, "rotated-while-down", T0 + 2 + ttl + 70, "idp_unavailable", "cached set",
		  "an unknown kid while the provider is down");
	et_keystore_free(&ks2);
	et_keystore_free(&ks3);

	/* Back up: a later attempt refreshes. */
	mu_mock_reset();
	et_keystore_init(&ks, &cfg);
	is_int(get_ok(&ks, kid, T0 + 2 + ttl + 200, "the provider is back"), 1, "and the stale cache is refreshed");
	is_int(ks.fetched_at, T0 + 2 + ttl + 200, "with a new fetch time");
	et_keystore_free(&ks);
	free(dir);
	et_config_free(&cfg);
}

static void test_corrupt_cache(const char *kid)
{
	struct et_config cfg;
	char *dir = cfg_fresh(&cfg);
	char *cache = tu_path_in(dir, "jwks.json");
	struct et_keystore ks;
	struct et_err err = { 0 };
	char *good, *other, *target;
	struct {
		const char *what, *content;
	} bad[] = {
		{ "garbage", "\x01\x02 this is not JSON" },
		{ "truncated JSON", "{\"fetched_at\": 1, \"jwks_uri\": \"https://x\", \"jwks\": {\"keys\": [" },
		{ "a JSON array", "[]" },
		{ "no fetched_at", "{\"jwks_uri\": \"https://x/keys\", \"jwks\": {\"keys\": []}}" },
		{ "a key set with no usable key",
		  "{\"fetched_at\": 1, \"jwks_uri\": \"https://x/keys\", \"jwks\": {\"keys\": []}}" },
		{ "duplicate members",
		  "{\"fetched_at\": 1, \"fetched_at\": 2, \"jwks_uri\": \"https://x/keys\", \"jwks\": {}}" },
		{ "an empty file", "" },
	};

	/* A good cache to start from. */
	mu_mock_reset();
	fresh_get_ok(&cfg, kid, T0, "a good cache is written");
	good = read_text(cache);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char name[128];
		write_text(cache, bad[i].content, 0600);
		logbuf[0] = '\0';
		et_keystore_init(&ks, &cfg);
		snprintf(name, sizeof(name), "a cache of %s: the key is found", bad[i].what);
		is_int(get_ok(&ks, kid, T0 + 10, name), 1, "by fetching again");
		{
			const char *first = strstr(logbuf, "<4>ignoring the key cache");
			ok(first != NULL, "and the bad cache is logged");
			if (!ok(first && !strstr(first + 4, "ignoring the key cache"), "once"))
				tap_diag("log: %s", logbuf);
		}
		et_keystore_free(&ks);
	}
	{
		char *now_text = read_text(cache);
		ok(now_text && now_text[0] == '{' && strstr(now_text, kid), "the cache was rewritten whole");
		free(now_text);
	}

	/* A cache written for another configuration (another discovery URL) is not used. */
	other = strdup(good);
	{
		char *p = strstr(other, "openid-configuration");
		if (p)
			memcpy(p, "openid-configuratiom", 20);
	}
	write_text(cache, other, 0600);
	is_int(fresh_get_ok(&cfg, kid, T0 + 20, "a cache fetched for another discovery URL"), 1,
	       "is ignored and refetched");

	/* Not root's, or writable by others: not trusted, replaced. */
	write_text(cache, good, 0600);
	if (chown(cache, 65534, 65534) < 0)
		abort();
	is_int(fresh_get_ok(&cfg, kid, T0 + 30, "a cache file owned by another user"), 1, "is not trusted: refetched");
	write_text(cache, good, 0666);
	et_keystore_init(&ks, &cfg);
	is_int(get_ok(&ks, kid, T0 + 40, "a world-writable cache file"), 1, "is not trusted: refetched");
	is_int(mode_of(cache), 0600, "and the new one is 0600");
	et_keystore_free(&ks);

	/* A symlink planted as the cache: not followed for reading, and replaced (not written
	 * through) by the refresh. */
	target = tu_path_in(tu_tmpdir(), "target");
	write_text(target, good, 0600);
	unlink(cache);
	if (symlink(target, cache) < 0)
		abort();
	et_keystore_init(&ks, &cfg);
	is_int(get_ok(&ks, kid, T0 + 50, "a symlink as the cache file"), 1, "is not followed: refetched");
	{
		struct stat st;
		char *t = read_text(target);
		ok(lstat(cache, &st) == 0 && S_ISREG(st.st_mode), "the symlink was replaced by a file");
		ok(t && strcmp(t, good) == 0, "and its target is untouched");
		free(t);
	}
	et_keystore_free(&ks);

	/* An unsafe cache directory is refused outright. */
	{
		struct et_config cfg2;
		char *d2 = cfg_fresh(&cfg2);
		if (mkdir(d2, 0777) < 0 || chmod(d2, 0777) < 0)
			abort();
		et_keystore_init(&ks, &cfg2);
		mu_mock_reset();
		{
			const struct et_jwk *k = NULL;
			ok(et_keystore_get(&ks, kid, T0, &k, &err) < 0 && strstr(err.message, "writable"),
			   "a world-writable cache directory is refused (%s)", err.message);
		}
		is_int(mu_mock_stat("discovery"), 0, "before any network use");
		et_keystore_free(&ks);
		free(d2);
		et_config_free(&cfg2);
	}
	free(good);
	free(other);
	free(target);
	free(cache);
	free(dir);
	et_config_free(&cfg);
}

static void test_pinned(void)
{
	struct et_config cfg;
	struct et_keystore ks;
	struct et_err err = { 0 };
	char *dir = cfg_fresh(&cfg), *kdir = tu_tmpdir(), *file, *authority;
	EVP_PKEY *keys[2] = { tu_rsa_key(2048), tu_ec_key() };
	const char *kids[2] = { "pinned-rsa", "pinned-ec" };
	char *jwks = tu_jwks_json(keys, kids, 2);

	/* The authority is a dead port: any network use would fail. */
	if (asprintf(&authority, "https://127.0.0.1:%d", mu_closed_port()) < 0)
		abort();
	mu_cfg_set(&cfg, "authority", authority);
	file = tu_write_file(kdir, "keys.json", jwks, 0600);
	mu_cfg_set(&cfg, "jwks_file", file);
	mu_mock_reset();
	et_keystore_init(&ks, &cfg);
	is_int(get_ok(&ks, "pinned-rsa", T0, "pinned keys: the RSA key is found"), 0, "without a fetch");
	get_ok(&ks, "pinned-ec", T0 + 1000000, "the EC key too, at any time (no TTL)");
	is_int(ks.fetched_at, 0, "fetched_at is 0 for pinned keys");
	get_fails(&ks, "not-pinned", T0, "unknown_kid", "pinned", "a kid not in the pinned file");
	get_fails(&ks, "not-pinned-2", T0 + 3600, "unknown_kid", NULL, "and again an hour later");
	ok(et_keystore_refresh(&ks, T0, &err) == 0, "et_keystore_refresh re-reads the file (%s)", err.message);
	is_int(ks.refreshes, 0, "no network fetch was ever made");
	is_int(mu_mock_stat("discovery") + mu_mock_stat("keys"), 0, "the mock saw nothing");
	ok(access(dir, F_OK) != 0, "no cache directory was created");
	et_keystore_free(&ks);

	/* The file is trusted only when root-only. */
	free(tu_write_file(kdir, "keys.json", jwks, 0666));
	fresh_get_fails(&cfg, "pinned-rsa", T0, "unsafe_file", "writable", "a world-writable pinned file");
	free(tu_write_file(kdir, "keys.json", "{\"keys\": []}", 0600));
	fresh_get_fails(&cfg, "pinned-rsa", T0, "bad_jwks", "no usable", "a pinned file with no usable key");
	free(tu_write_file(kdir, "keys.json", "not json", 0600));
	et_keystore_init(&ks, &cfg);
	get_fails(&ks, "pinned-rsa", T0, "bad_jwks", NULL, "a pinned file that is not JSON");
	ok(et_keystore_refresh(&ks, T0, &err) < 0 && strcmp(err.reason, "bad_jwks") == 0,
	   "et_keystore_refresh reports the bad file");
	et_keystore_free(&ks);
	unlink(file);
	fresh_get_fails(&cfg, "pinned-rsa", T0, "not_found", NULL, "a missing pinned file");

	EVP_PKEY_free(keys[1]); /* the EC key is ours; the RSA key is testutil's cached one */
	free(jwks);
	free(file);
	free(authority);
	free(dir);
	et_config_free(&cfg);
}

static void test_bad_key_sets(const char *kid, struct mu_docserver *d)
{
	struct et_config cfg;
	struct et_keystore ks;
	char *dir = cfg_fresh(&cfg), *iss = et_config_issuer_v2(&cfg), *disc, *body, *file;
	long long ttl = cfg.jwks_cache_ttl;

	/* Discovery served by the document server, pointing at its own key set files. */
	struct {
		const char *name, *content, *needle;
	} sets[] = {
		{ "empty.json", "{\"keys\": []}", "no usable" },
		{ "small.json",
		  "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"small\", \"use\": \"sig\", \"n\": \"AQAB\", \"e\": "
		  "\"AQAB\"}]}",
		  "no usable" },
		{ "notjson.json", "<html>", NULL },
		{ "array.json", "[]", NULL },
	};
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		char name[128];
		free(tu_write_file(d->dir, sets[i].name, sets[i].content, 0644));
		if (asprintf(&body,
			     "{\"issuer\": \"%s\", \"jwks_uri\": \"https://127.0.0.1:%d/%s\", "
			     "\"token_endpoint\": \"https://127.0.0.1:%d/token\"}",
			     iss, d->port, sets[i].name, d->port) < 0)
			abort();
		file = tu_write_file(d->dir, "disc.json", body, 0644);
		if (asprintf(&disc, "https://127.0.0.1:%d/disc.json", d->port) < 0)
			abort();
		mu_cfg_set(&cfg, "discovery_url", disc);
		et_keystore_init(&ks, &cfg);
		snprintf(name, sizeof(name), "the provider's key set is %s", sets[i].name);
		get_fails(&ks, "anything", T0 + (time_t)i * 1000, "idp_unavailable",
			  sets[i].needle ? sets[i].needle : "bad_jwks", name);
		et_keystore_free(&ks);
		free(body);
		free(file);
		free(disc);
	}

	/* With a stale cache that has the key, a bad answer does not lock anyone out. */
	mu_cfg_set(&cfg, "discovery_url", "");
	mu_mock_reset();
	fresh_get_ok(&cfg, kid, T0 + 10000, "the mock's keys are cached");
	{
		/* The cache records the discovery URL; keep it so the cache stays ours. */
		mu_ctl("fail", "{\"status\": 500, \"count\": -1, \"endpoints\": [\"keys\"]}");
		logbuf[0] = '\0';
		et_keystore_init(&ks, &cfg);
		get_ok(&ks, kid, T0 + 10000 + ttl + 1, "stale cache, key set answering 500: cached key used");
		ok(strstr(logbuf, "HTTP 500") && strstr(logbuf, "using cached keys"), "and logged with the cause");
		et_keystore_free(&ks);
	}
	/* The provider answers, but with a document for another issuer. */
	mu_mock_reset();
	mu_ctl("config", "{\"issuer_override\": \"https://login.example.com/evil/v2.0\"}");
	logbuf[0] = '\0';
	et_keystore_init(&ks, &cfg);
	get_ok(&ks, kid, T0 + 20000 + 2 * ttl, "stale cache, discovery naming another issuer: cached key used");
	ok(strstr(logbuf, "<4>identity provider answered unusably (") && strstr(logbuf, "login.example.com/evil"),
	   "and the warning says the answer was unusable, and why");
	get_fails(&ks, "new-kid", T0 + 20100 + 2 * ttl, "idp_unavailable", "bad_issuer",
		  "an unknown kid while discovery names another issuer");
	et_keystore_free(&ks);
	mu_ctl("config", "{\"issuer_override\": null}");
	mu_mock_reset();
	free(iss);
	free(dir);
	et_config_free(&cfg);
}

static void test_lock_held(const char *kid)
{
	struct et_config cfg;
	struct et_keystore ks;
	char *dir = cfg_fresh(&cfg), *lock;
	long long ttl = cfg.jwks_cache_ttl;
	int fd;
	struct timespec a, b;
	double el;

	mu_cfg_set(&cfg, "http_timeout", "1s");
	mu_mock_reset();
	fresh_get_ok(&cfg, kid, T0, "cache filled");

	/* Someone holds the lock and never lets go: bounded wait, then the stale cache. */
	lock = tu_path_in(dir, "lock");
	fd = open(lock, O_RDWR | O_CLOEXEC);
	ok(fd >= 0 && flock(fd, LOCK_EX) == 0, "the test holds the cache lock");
	logbuf[0] = '\0';
	et_keystore_init(&ks, &cfg);
	clock_gettime(CLOCK_MONOTONIC, &a);
	is_int(get_ok(&ks, kid, T0 + ttl + 1, "stale cache, lock held elsewhere: the cached key is used"), 0,
	       "without fetching");
	clock_gettime(CLOCK_MONOTONIC, &b);
	el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ok(el < 6.0, "after a bounded wait (%.1f s for http_timeout 1 s)", el);
	ok(strstr(logbuf, "<4>key cache busy (") && strstr(logbuf, "stayed locked"), "the log says why");
	et_keystore_free(&ks);

	/* A fresh set answers without the lock. */
	et_keystore_init(&ks, &cfg);
	clock_gettime(CLOCK_MONOTONIC, &a);
	get_ok(&ks, kid, T0 + 5, "a fresh cache is read without waiting for the lock");
	clock_gettime(CLOCK_MONOTONIC, &b);
	el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ok(el < 1.0, "at once (%.2f s)", el);
	et_keystore_free(&ks);
	close(fd);
	free(lock);
	free(dir);
	et_config_free(&cfg);
}

/* A process that fetches keys (inside sudo, say) and is stopped there by its user must not
 * hold the host-wide cache lock: the fetch runs outside it, and the others go on. */
static void test_fetch_outside_lock(const char *kid)
{
	struct et_config cfg;
	struct et_keystore ks;
	char *dir = cfg_fresh(&cfg), *lock;
	long long ttl;
	struct timespec a, b;
	double el;
	pid_t pid;
	int fd, st = 0;

	mu_cfg_set(&cfg, "http_timeout", "2s");
	ttl = cfg.jwks_cache_ttl;
	mu_mock_reset();
	fresh_get_ok(&cfg, kid, T0, "cache filled");
	mu_ctl("latency", "{\"seconds\":1.5}");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct et_keystore kc;
		struct et_err err = { 0 };
		et_keystore_init(&kc, &cfg);
		_exit(et_keystore_refresh(&kc, T0 + ttl + 1, &err) == 0 ? 0 : 1);
	}
	usleep(500 * 1000); /* inside the slow fetch by now */
	ok(pid > 0 && kill(pid, SIGSTOP) == 0, "a process fetching keys is stopped half way");
	lock = tu_path_in(dir, "lock");
	fd = open(lock, O_RDWR | O_CLOEXEC);
	ok(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "the cache lock is free while it is stopped in its fetch");
	if (fd >= 0)
		close(fd);
	et_keystore_init(&ks, &cfg);
	clock_gettime(CLOCK_MONOTONIC, &a);
	is_int(get_ok(&ks, kid, T0 + ttl + 2, "another login with the stale cache: the cached key"), 0,
	       "another login is answered");
	clock_gettime(CLOCK_MONOTONIC, &b);
	el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ok(el < 1.0, "... at once (%.2f s)", el);
	is_int(ks.refreshes, 0, "... without a fetch of its own");
	et_keystore_free(&ks);
	/* a kid nobody has: wait for the fetch under way, at most as long as a fetch may take */
	et_keystore_init(&ks, &cfg);
	clock_gettime(CLOCK_MONOTONIC, &a);
	get_fails(&ks, "no-such-kid", T0 + ttl + 2, "idp_unavailable", "did not finish",
		  "an unknown kid while the fetcher is stopped");
	clock_gettime(CLOCK_MONOTONIC, &b);
	el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ok(el < 7.0, "... after at most the time one fetch may take (%.1f s for http_timeout 2 s)", el);
	is_int(ks.refreshes, 0, "... and no second fetch beside the first");
	et_keystore_free(&ks);
	kill(pid, SIGCONT);
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st), "the stopped process, continued, ends (its fetch ran out of time while stopped)");
	free(lock);
	free(dir);
	et_config_free(&cfg);
}

int main(void)
{
	struct mu_docserver d = { 0 };
	char *kid;

	mock_base = getenv("ET_MOCK_BASE");
	mock_tenant = getenv("ET_MOCK_TENANT");
	if (!mock_base || !mock_tenant || !getenv("ET_MOCKCTL") || !getenv("ET_MOCK_CONFIG") || !getenv("ET_MOCK_DIR"))
		tap_skip_all("needs the mock Entra ID: run through test_jwks_cache.sh");
	tap_require_root(); /* the cache must be root-owned */
	T0 = time(NULL);
	kid = mock_current_kid();

	test_first_fetch_and_cache(kid);
	test_unknown_kid(kid);
	test_idp_down(kid);
	test_corrupt_cache(kid);
	test_pinned();
	mu_docserver_start(&d);
	test_bad_key_sets(kid, &d);
	mu_docserver_stop(&d);
	test_lock_held(kid);
	test_fetch_outside_lock(kid);
	free(kid);
	kid = NULL;
	test_rotation(); /* last: it changes the mock's keys */
	return tap_done();
}
