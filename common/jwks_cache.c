/* SPDX-License-Identifier: Apache-2.0 */
/* The key store: the signing keys a token is checked against.
 *
 * Two modes. With jwks_file the keys are pinned by the administrator and the network is never
 * used. Otherwise keys come from discovery + jwks_uri and are cached on disk, root-only, in
 * jwks_cache_dir:
 *   jwks.json      {"fetched_at": epoch, "jwks_uri": "...", "discovery_url": "...", "jwks": {...}}
 *   refresh.stamp  the wall-clock time of the last network attempt (decimal seconds), followed
 *                  by " fetching" while that attempt is under way
 *   lock           flock()ed around the decision to fetch (reading and writing the stamp),
 *                  never across the network: the module runs inside sudo, which a user may
 *                  stop (SIGSTOP), and a host-wide lock held by a stopped process would stall
 *                  every key refresh. The fetch runs outside the lock and installs the new
 *                  set atomically (rename); a process that finds a fetch under way waits for
 *                  it, at most as long as a fetch may take, without holding anything.
 * Every PAM call is a fresh process, so the rate limit and the cache must live on disk. An
 * unknown kid on a fresh set triggers at most one fetch per ET_JWKS_REFRESH_MIN_INTERVAL
 * across all processes: otherwise anyone able to present tokens with made-up kids could make
 * every login hammer the identity provider. When the provider is unreachable a stale cache
 * is used (and said so in the log) rather than locking everybody out. */
#include "conf.h"
#include "jwks_cache.h"
#include "fsutil.h"
#include "http.h"
#include "json_strict.h"
#include "oidc.h"
#include "clock.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define CACHE_FILE_NAME "jwks.json"
#define STAMP_FILE_NAME "refresh.stamp"
#define LOCK_FILE_NAME "lock"
/* The cached set plus its small wrapper. */
#define CACHE_MAX_BYTES (ET_HTTP_MAX_BODY + 8192)
#define PINNED_MAX_BYTES ET_HTTP_MAX_BODY
#define STAMP_MAX_BYTES 64
#define LOCK_POLL_MS 20L

struct cache_paths {
	char cache[PATH_MAX];
	char stamp[PATH_MAX];
	char lock[PATH_MAX];
};

/* A set read from the cache file or fetched from the network. */
struct key_set {
	struct et_jwks jwks;
	time_t fetched_at;
};

void et_keystore_init(struct et_keystore *ks, const struct et_config *cfg)
{
	memset(ks, 0, sizeof(*ks));
	ks->cfg = cfg;
}

void et_keystore_free(struct et_keystore *ks)
{
	if (!ks)
		return;
	if (ks->loaded)
		et_jwks_free(&ks->jwks);
	memset(&ks->jwks, 0, sizeof(ks->jwks));
	ks->loaded = false;
	ks->fetched_at = 0;
}

/* Replace the keystore's set (taking ownership of s). Pointers from earlier et_keystore_get
 * calls die here. */
static void keystore_adopt(struct et_keystore *ks, struct key_set *s)
{
	if (ks->loaded)
		et_jwks_free(&ks->jwks);
	ks->jwks = s->jwks;
	ks->fetched_at = s->fetched_at;
	ks->loaded = true;
	memset(s, 0, sizeof(*s));
}

static void key_set_free(struct key_set *s)
{
	if (s->jwks.keys || s->jwks.n)
		et_jwks_free(&s->jwks);
	memset(s, 0, sizeof(*s));
}

static const char *fmt_time(time_t t, char *buf, size_t sz)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, sz, "@%lld", (long long)t);
	return buf;
}

static bool set_is_fresh(const struct et_keystore *ks, time_t now)
{
	long long age = (long long)now - (long long)ks->fetched_at;
	/* A set stamped a little in the future (the clock stepped back) still counts as fresh;
	 * one from far in the future does not. */
	return ks->loaded && age >= -(long long)ET_JWKS_REFRESH_MIN_INTERVAL && age < ks->cfg->jwks_cache_ttl;
}

static bool within_rate_limit(time_t stamp, time_t now)
{
	long long since = (long long)now - (long long)stamp;
	return stamp > 0 && since >= 0 && since < ET_JWKS_REFRESH_MIN_INTERVAL;
}

static int cache_paths_init(const struct et_config *cfg, struct cache_paths *p, struct et_err *err)
{
	const char *dir = cfg->jwks_cache_dir;
	if (!dir || !*dir)
		return et_err_set(err, ET_E_CONFIG, "no jwks_cache_dir is configured");
	if (snprintf(p->cache, sizeof(p->cache), "%s/%s", dir, CACHE_FILE_NAME) >= (int)sizeof(p->cache) ||
	    snprintf(p->stamp, sizeof(p->stamp), "%s/%s", dir, STAMP_FILE_NAME) >= (int)sizeof(p->stamp) ||
	    snprintf(p->lock, sizeof(p->lock), "%s/%s", dir, LOCK_FILE_NAME) >= (int)sizeof(p->lock))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "jwks_cache_dir is too long: %s", dir);
	return et_dir_ensure_private(dir, 0700, err);
}

/* ---- pinned keys ---- */

static int load_pinned(struct et_keystore *ks, struct et_err *err)
{
	struct key_set s = { 0 };
	struct et_err perr = { 0 };
	char *buf = NULL;
	size_t len = 0;

	if (et_file_read(ks->cfg->jwks_file, PINNED_MAX_BYTES, 1, &buf, &len, err) < 0)
		return -1;
	if (et_jwks_parse(buf, len, &s.jwks, &perr) < 0) {
		free(buf);
		return et_err_set(err, ET_E_BAD_JWKS, "the pinned key file %s is not usable: %s", ks->cfg->jwks_file,
				  perr.message);
	}
	free(buf);
	if (s.jwks.n == 0) {
		key_set_free(&s);
		return et_err_set(err, ET_E_BAD_JWKS, "the pinned key file %s has no usable signing key",
				  ks->cfg->jwks_file);
	}
	s.fetched_at = 0;
	keystore_adopt(ks, &s);
	return 0;
}

/* ---- the cache file ---- */

/* Read and check the cache. A missing file gives reason "not_found"; anything else wrong
 * with it gives "corrupt" (callers log that and treat the cache as absent). */
static int cache_read(const struct et_keystore *ks, const char *path, struct key_set *ret, struct et_err *err)
{
	struct key_set s = { 0 };
	struct et_err e = { 0 };
	json_object *doc = NULL, *jwks = NULL;
	const char *jwks_text, *disc;
	long long fetched_at;
	char *buf = NULL;
	size_t len = 0;
	int r = -1;

	if (et_file_read(path, CACHE_MAX_BYTES, 1, &buf, &len, &e) < 0) {
		if (e.code == ET_E_NOT_FOUND)
			return et_err_set(err, ET_E_NOT_FOUND, "%s", e.message);
		return et_err_set(err, ET_E_CORRUPT, "%s", e.message);
	}
	if (et_json_parse(buf, len, ET_JSON_MAX_DEPTH, &doc, &e) < 0) {
		et_err_set(err, ET_E_CORRUPT, "%s is not valid JSON: %s", path, e.message);
		goto done;
	}
	if (!json_object_is_type(doc, json_type_object) || et_json_get_int64(doc, "fetched_at", &fetched_at) < 0 ||
	    fetched_at <= 0 || !et_json_get_string(doc, "jwks_uri") || !json_object_object_get_ex(doc, "jwks", &jwks) ||
	    !json_object_is_type(jwks, json_type_object)) {
		et_err_set(err, ET_E_CORRUPT, "%s lacks fetched_at, jwks_uri or jwks", path);
		goto done;
	}
	/* A cache written for another authority or tenant is not ours to use. */
	disc = et_json_get_string(doc, "discovery_url");
	if (disc && ks->cfg->discovery_url && strcmp(disc, ks->cfg->discovery_url) != 0) {
		et_err_set(err, ET_E_CORRUPT, "%s was fetched for %s, not the configured %s", path, disc,
			   ks->cfg->discovery_url);
		goto done;
	}
	jwks_text = json_object_to_json_string_ext(jwks, JSON_C_TO_STRING_PLAIN);
	if (!jwks_text || et_jwks_parse(jwks_text, strlen(jwks_text), &s.jwks, &e) < 0) {
		et_err_set(err, ET_E_CORRUPT, "%s holds an unusable key set: %s", path, jwks_text ? e.message : "?");
		goto done;
	}
	if (s.jwks.n == 0) {
		et_err_set(err, ET_E_CORRUPT, "%s holds no usable signing key", path);
		goto done;
	}
	s.fetched_at = (time_t)fetched_at;
	*ret = s;
	memset(&s, 0, sizeof(s));
	r = 0;
done:
	key_set_free(&s);
	if (doc)
		json_object_put(doc);
	free(buf);
	return r;
}

static int cache_write(const struct et_keystore *ks, const char *path, json_object *jwks, const char *jwks_uri,
		       time_t fetched_at, struct et_err *err)
{
	json_object *doc = json_object_new_object();
	const char *text;
	int r = -1;

	if (!doc)
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	if (json_object_object_add(doc, "fetched_at", json_object_new_int64((int64_t)fetched_at)) < 0 ||
	    json_object_object_add(doc, "jwks_uri", json_object_new_string(jwks_uri)) < 0 ||
	    json_object_object_add(doc, "discovery_url",
				   json_object_new_string(ks->cfg->discovery_url ? ks->cfg->discovery_url : "")) < 0 ||
	    json_object_object_add(doc, "jwks", json_object_get(jwks)) < 0) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	r = et_file_write_atomic(path, text, strlen(text), 0600, err);
done:
	json_object_put(doc);
	return r;
}

/* ---- the refresh stamp ---- */

#define STAMP_BUSY " fetching"

/* The time of the last attempt; *ret_busy: that attempt said it was under way. */
static time_t stamp_read_busy(const char *path, bool *ret_busy)
{
	struct et_err e = { 0 };
	char *buf = NULL, *end = NULL;
	long long v;

	*ret_busy = false;
	if (et_file_read(path, STAMP_MAX_BYTES, 1, &buf, NULL, &e) < 0)
		return 0;
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (!errno && end != buf && strncmp(end, STAMP_BUSY, strlen(STAMP_BUSY)) == 0) {
		*ret_busy = true;
		end += strlen(STAMP_BUSY);
	}
	if (errno || end == buf || (*end != '\0' && *end != '\n') || (*end == '\n' && end[1] != '\0') || v <= 0) {
		v = 0; /* unreadable: as if no attempt was made */
		*ret_busy = false;
	}
	free(buf);
	return (time_t)v;
}

static int stamp_write(const char *path, time_t now, bool busy, struct et_err *err)
{
	char buf[48];
	int n = snprintf(buf, sizeof(buf), "%lld%s\n", (long long)now, busy ? STAMP_BUSY : "");
	return et_file_write_atomic(path, buf, (size_t)n, 0600, err);
}

/* ---- the lock ---- */

/* flock with a deadline: a holder is itself bounded (two HTTP calls), but a stopped or stuck
 * process must not hang every login behind it. No signals (we live inside sshd and sudo). */
static int lock_acquire(const struct et_keystore *ks, const char *path, int *ret_fd, struct et_err *err)
{
	long waited = 0, limit = (2 * ks->cfg->http_timeout + 2) * 1000L;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);

	if (fd < 0)
		return et_err_set(err, ET_E_CACHE_LOCK, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int e = errno;
			close(fd);
			return et_err_set(err, ET_E_CACHE_LOCK, "cannot lock %s: %s", path, strerror(e));
		}
		if (waited >= limit) {
			close(fd);
			return et_err_set(err, ET_E_CACHE_LOCK, "%s stayed locked for %ld s: another process is stuck",
					  path, limit / 1000);
		}
		et_sleep_ms(LOCK_POLL_MS);
		waited += LOCK_POLL_MS;
	}
	*ret_fd = fd;
	return 0;
}

static void lock_release(int fd)
{
	if (fd >= 0)
		close(fd); /* closing the only descriptor drops the flock */
}

/* How long one fetch may take (discovery and key set, each within http_timeout). */
static long fetch_limit_ms(const struct et_keystore *ks)
{
	return (2 * ks->cfg->http_timeout + 2) * 1000L;
}

/* Another process claimed a fetch at `stamp`: wait, without any lock, until its stamp says it
 * is done (or another attempt replaced it), at most the time a fetch may take. */
static void refresh_wait(const struct et_keystore *ks, const char *path, time_t stamp)
{
	for (long waited = 0; waited < fetch_limit_ms(ks); waited += LOCK_POLL_MS) {
		bool busy;
		if (stamp_read_busy(path, &busy) != stamp || !busy)
			return;
		et_sleep_ms(LOCK_POLL_MS);
	}
}

/* Our fetch (claimed at `stamp`) is over: say so, unless another attempt took over since. */
static void refresh_done(const struct et_keystore *ks, const char *lock, const char *path, time_t stamp)
{
	struct et_err e = { 0 };
	bool busy;
	int fd = -1;
	if (lock_acquire(ks, lock, &fd, &e) < 0)
		return; /* the stamp ages out of "under way" by itself */
	if (stamp_read_busy(path, &busy) == stamp && busy && stamp_write(path, stamp, false, &e) < 0)
		et_log(&ks->cfg->log, ET_LOG_WARNING, "cannot record the end of the key refresh: %s", e.message);
	lock_release(fd);
}

/* ---- the network ---- */

/* How a failed refresh is described in the log and in errors: the provider could not be
 * reached or would not answer, as opposed to answering with something unusable. */
static const char *refresh_failure_phrase(enum et_reason code)
{
	switch (code) {
	case ET_E_DISCOVERY_FAILED:
	case ET_E_JWKS_FETCH_FAILED:
	case ET_E_HTTP_CONNECT:
	case ET_E_HTTP_ERROR:
	case ET_E_HTTP_SCHEME:
	case ET_E_HTTP_TIMEOUT:
	case ET_E_HTTP_TLS:
	case ET_E_HTTP_TOO_LARGE:
		return "identity provider unreachable";
	case ET_E_CACHE_LOCK:
		return "key cache busy";
	case ET_E_REFRESH_BACKOFF:
		return "key refresh skipped";
	case ET_E_WRITE_FAILED:
	case ET_E_PATH_TOO_LONG:
		return "key cache not writable";
	case ET_E_BAD_ISSUER: /* discovery naming another issuer */
	case ET_E_BAD_JSON:
		return "identity provider answered unusably";
	default:
		return et_reason_class(code) == ET_CLASS_UNAVAILABLE ? "identity provider answered unusably"
								      : "key refresh failed";
	}
}

/* Discovery, GET jwks_uri, parse; on success write the cache (a write failure is logged, the
 * keys are still good for this process). */
static int fetch_keys(struct et_keystore *ks, const struct cache_paths *p, time_t now, struct key_set *ret,
		      struct et_err *err)
{
	const struct et_config *cfg = ks->cfg;
	struct et_oidc o = { 0 };
	struct et_http_resp resp = { 0 };
	struct et_err e = { 0 };
	struct key_set s = { 0 };
	json_object *jwks = NULL;
	int r = -1;

	ks->refreshes++;
	if (et_oidc_discover(cfg, &o, err) < 0)
		goto done;
	if (et_http_get(cfg, o.jwks_uri, &resp, &e) < 0) {
		et_err_set(err, e.code, "fetching the signing keys failed: %s", e.message);
		goto done;
	}
	if (resp.status != 200) {
		et_err_set(err, ET_E_JWKS_FETCH_FAILED, "fetching the signing keys from %s failed: HTTP %ld", o.jwks_uri,
			   resp.status);
		goto done;
	}
	if (et_json_parse(resp.body, resp.len, ET_JSON_MAX_DEPTH, &jwks, &e) < 0 ||
	    !json_object_is_type(jwks, json_type_object)) {
		et_err_set(err, ET_E_BAD_JWKS, "the key set at %s is not a JSON object%s%s", o.jwks_uri,
			   e.message[0] ? ": " : "", e.message);
		goto done;
	}
	if (et_jwks_parse(resp.body, resp.len, &s.jwks, &e) < 0) {
		et_err_set(err, ET_E_BAD_JWKS, "the key set at %s is not usable: %s", o.jwks_uri, e.message);
		goto done;
	}
	if (s.jwks.n == 0) {
		et_err_set(err, ET_E_BAD_JWKS, "the key set at %s has no usable signing key (%zu skipped)", o.jwks_uri,
			   s.jwks.skipped);
		goto done;
	}
	s.fetched_at = now;
	if (cache_write(ks, p->cache, jwks, o.jwks_uri, now, &e) < 0)
		et_log(&cfg->log, ET_LOG_WARNING, "cannot write the key cache: %s", e.message);
	et_log(&cfg->log, ET_LOG_INFO, "fetched %zu signing key(s) from %s", s.jwks.n, o.jwks_uri);
	*ret = s;
	memset(&s, 0, sizeof(s));
	r = 0;
done:
	key_set_free(&s);
	if (jwks)
		json_object_put(jwks);
	et_http_resp_free(&resp);
	et_oidc_free(&o);
	return r;
}

/* Load the on-disk cache into ks when it holds a different set than ks has. A bad cache is
 * logged once per call of et_keystore_get (*warned). */
static void adopt_cache(struct et_keystore *ks, const struct cache_paths *p, bool *warned)
{
	struct key_set s = { 0 };
	struct et_err e = { 0 };

	if (cache_read(ks, p->cache, &s, &e) < 0) {
		if (e.code != ET_E_NOT_FOUND && !*warned) {
			et_log(&ks->cfg->log, ET_LOG_WARNING, "ignoring the key cache: %s", e.message);
			*warned = true;
		}
		return;
	}
	if (ks->loaded && s.fetched_at == ks->fetched_at) {
		key_set_free(&s);
		return;
	}
	keystore_adopt(ks, &s);
}

static int unknown_kid(const struct et_keystore *ks, const char *kid, const char *why, struct et_err *err)
{
	char when[32];
	return et_err_set(err, ET_E_UNKNOWN_KID, "no signing key with kid \"%.64s\" in the key set fetched at %s%s", kid,
			  fmt_time(ks->fetched_at, when, sizeof(when)), why);
}

/* No new set could be had: fall back to what we have, if it holds the kid. Otherwise the
 * answer is "idp_unavailable" whatever the cause (network, a bad document, a busy lock): to
 * the caller it means the same, no key to verify with; the cause is in the sentence. */
static int fetch_failed(struct et_keystore *ks, const char *kid, const struct et_err *ferr, const struct et_jwk **ret,
			struct et_err *err)
{
	char when[32];
	const struct et_jwk *k = ks->loaded ? et_jwks_find(&ks->jwks, kid) : NULL;
	const char *phrase = refresh_failure_phrase(ferr->code);

	if (k) {
		et_log(&ks->cfg->log, ET_LOG_WARNING, "%s (%s); using cached keys fetched at %s", phrase, ferr->message,
		       fmt_time(ks->fetched_at, when, sizeof(when)));
		*ret = k;
		return 0;
	}
	if (ks->loaded)
		return et_err_set(err, ET_E_IDP_UNAVAILABLE,
				  "no signing key with kid \"%.64s\" in the cached set, and %s (%s): %s", kid, phrase,
				  ferr->reason, ferr->message);
	return et_err_set(err, ET_E_IDP_UNAVAILABLE, "no cached signing keys, and %s (%s): %s", phrase, ferr->reason,
			  ferr->message);
}

int et_keystore_get(struct et_keystore *ks, const char *kid, time_t now, const struct et_jwk **ret, struct et_err *err)
{
	const struct et_config *cfg = ks->cfg;
	struct cache_paths p;
	struct key_set s = { 0 };
	struct et_err ferr = { 0 };
	const struct et_jwk *k;
	bool stale, warned = false;
	time_t stamp;
	int lock_fd = -1, r = -1;

	if (!kid || !*kid || strlen(kid) > ET_KID_MAX)
		return et_err_set(err, ET_E_UNKNOWN_KID, "the token names no usable key id");

	if (cfg->jwks_file && *cfg->jwks_file) {
		if (!ks->loaded && load_pinned(ks, err) < 0)
			return -1;
		k = et_jwks_find(&ks->jwks, kid);
		if (!k)
			return et_err_set(err, ET_E_UNKNOWN_KID,
					  "no signing key with kid \"%.64s\" in the pinned key file %s", kid,
					  cfg->jwks_file);
		*ret = k;
		return 0;
	}

	if (cache_paths_init(cfg, &p, err) < 0)
		return -1;
	if (!ks->loaded)
		adopt_cache(ks, &p, &warned);
	if (set_is_fresh(ks, now)) {
		k = et_jwks_find(&ks->jwks, kid);
		if (k) {
			*ret = k;
			return 0;
		}
	}

	/* Slow path: decide, fetch and write under the lock, starting from what is on disk now
	 * (another process may have refreshed while we waited). */
	if (lock_acquire(ks, p.lock, &lock_fd, &ferr) < 0) {
		r = fetch_failed(ks, kid, &ferr, ret, err);
		goto done;
	}
	adopt_cache(ks, &p, &warned);
	stale = !set_is_fresh(ks, now);
	if (ks->loaded) {
		k = et_jwks_find(&ks->jwks, kid);
		if (k && !stale) {
			*ret = k;
			r = 0;
			goto done;
		}
	}
	{
		bool busy;
		stamp = stamp_read_busy(p.stamp, &busy);
		if (busy && (long long)now - (long long)stamp >= 0 &&
		    ((long long)now - (long long)stamp) * 1000 < fetch_limit_ms(ks)) {
			/* another process is fetching: a key we hold already is used at once (as
			 * when the provider is unreachable); otherwise wait for that fetch outside
			 * the lock, then use what it installed */
			lock_release(lock_fd);
			lock_fd = -1;
			k = ks->loaded ? et_jwks_find(&ks->jwks, kid) : NULL;
			if (k) {
				*ret = k;
				r = 0;
				goto done;
			}
			refresh_wait(ks, p.stamp, stamp);
			adopt_cache(ks, &p, &warned);
			k = ks->loaded ? et_jwks_find(&ks->jwks, kid) : NULL;
			if (k && set_is_fresh(ks, now)) {
				*ret = k;
				r = 0;
			} else if (ks->loaded && set_is_fresh(ks, now)) {
				r = unknown_kid(ks, kid, " (key refresh is limited to one a minute)", err);
			} else {
				et_err_set(&ferr, ET_E_REFRESH_BACKOFF, "a key refresh begun %lld s ago by another process did not finish",
					   (long long)now - (long long)stamp);
				r = fetch_failed(ks, kid, &ferr, ret, err);
			}
			goto done;
		}
	}
	if (!stale && within_rate_limit(stamp, now)) {
		/* A fresh set without the kid, and someone looked at most a minute ago. */
		r = unknown_kid(ks, kid, " (key refresh is limited to one a minute)", err);
		goto done;
	}
	if (stale && ks->loaded && stamp > ks->fetched_at && within_rate_limit(stamp, now)) {
		/* The last attempt came after this set was fetched, so it failed, and recently:
		 * do not make every login wait for an unreachable provider. */
		et_err_set(&ferr, ET_E_REFRESH_BACKOFF, "the last attempt, %lld s ago, failed",
			   (long long)now - (long long)stamp);
		r = fetch_failed(ks, kid, &ferr, ret, err);
		goto done;
	}

	if (stamp_write(p.stamp, now, true, &ferr) < 0) {
		/* Without a stamp the rate limit cannot hold: refuse to fetch rather than risk a
		 * fetch per login. */
		et_log(&cfg->log, ET_LOG_ERR, "cannot record the key refresh time: %s", ferr.message);
		r = fetch_failed(ks, kid, &ferr, ret, err);
		goto done;
	}
	/* the fetch is ours (the stamp says so): the lock goes before the network */
	lock_release(lock_fd);
	lock_fd = -1;
	if (fetch_keys(ks, &p, now, &s, &ferr) < 0) {
		refresh_done(ks, p.lock, p.stamp, now);
		r = fetch_failed(ks, kid, &ferr, ret, err);
		goto done;
	}
	refresh_done(ks, p.lock, p.stamp, now);
	keystore_adopt(ks, &s);
	k = et_jwks_find(&ks->jwks, kid);
	if (!k) {
		r = unknown_kid(ks, kid, ", just refreshed", err);
		goto done;
	}
	*ret = k;
	r = 0;
done:
	key_set_free(&s);
	lock_release(lock_fd);
	return r;
}

int et_keystore_refresh(struct et_keystore *ks, time_t now, struct et_err *err)
{
	const struct et_config *cfg = ks->cfg;
	struct cache_paths p;
	struct key_set s = { 0 };
	int lock_fd = -1, r = -1;

	if (cfg->jwks_file && *cfg->jwks_file) {
		/* Pinned keys: re-read the file, never the network. */
		struct et_keystore fresh;
		et_keystore_init(&fresh, cfg);
		if (load_pinned(&fresh, err) < 0)
			return -1;
		et_keystore_free(ks);
		ks->jwks = fresh.jwks;
		ks->fetched_at = 0;
		ks->loaded = true;
		return 0;
	}
	if (cache_paths_init(cfg, &p, err) < 0)
		return -1;
	if (lock_acquire(ks, p.lock, &lock_fd, err) < 0)
		return -1;
	if (stamp_write(p.stamp, now, true, err) < 0)
		goto done;
	lock_release(lock_fd); /* never across the network */
	lock_fd = -1;
	r = fetch_keys(ks, &p, now, &s, err);
	refresh_done(ks, p.lock, p.stamp, now);
	if (r < 0)
		goto done;
	keystore_adopt(ks, &s);
	r = 0;
done:
	key_set_free(&s);
	lock_release(lock_fd);
	return r;
}
