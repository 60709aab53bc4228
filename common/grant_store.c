/* SPDX-License-Identifier: Apache-2.0 */
/* The grant store: {state_dir}/grants/<id>.grant, one small strictly parsed text file per
 * grant, written atomically, plus the store lock {state_dir}/lock. */
#include "grant_store.h"
#include "fsutil.h"
#include "identity.h"
#include "clock.h"
#include "text.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GRANTS_SUBDIR "grants"
#define GRANT_SUFFIX ".grant"
#define CORRUPT_SUFFIX ".corrupt"
#define MAGIC "entra-tap-grant"
/* Far beyond any real grant, small enough that time arithmetic never overflows. */
#define TIME_MAX_ACCEPTED ((long long)1 << 40)

static const char *const method_names[] = {
	[ET_GRANT_METHOD_TAP] = "tap",
	[ET_GRANT_METHOD_DEVICE_CODE] = "device_code",
	[ET_GRANT_METHOD_TOKEN] = "token",
	[ET_GRANT_METHOD_BREAKGLASS] = "breakglass",
	[ET_GRANT_METHOD_ADMIN] = "admin",
	[ET_GRANT_METHOD_PASSWORD] = "password",
};

static const char *const cause_names[] = {
	[ET_REVOKE_EXPIRY] = "expiry",   [ET_REVOKE_DROP] = "drop",       [ET_REVOKE_ADMIN] = "admin",
	[ET_REVOKE_SWEEP] = "sweep",     [ET_REVOKE_ACCOUNT] = "account",
	[ET_REVOKE_LOGIN_FAILED] = "login_failed",
};

const char *et_grant_method_name(enum et_grant_method m)
{
	if ((unsigned)m >= sizeof(method_names) / sizeof(method_names[0]))
		return NULL;
	return method_names[m];
}

int et_grant_method_parse(const char *s, enum et_grant_method *ret)
{
	for (unsigned i = 0; s && i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		if (strcmp(s, method_names[i]) == 0) {
			*ret = (enum et_grant_method)i;
			return 0;
		}
	}
	return -1;
}

const char *et_revoke_cause_name(enum et_revoke_cause c)
{
	if ((unsigned)c >= sizeof(cause_names) / sizeof(cause_names[0]))
		return "unknown";
	return cause_names[c];
}

void et_grant_list_free(struct et_grant_list *l)
{
	if (!l)
		return;
	free(l->items);
	memset(l, 0, sizeof(*l));
}

const struct et_grant *et_grant_latest_live(const struct et_grant_list *l, const char *group, time_t now)
{
	const struct et_grant *best = NULL;
	for (size_t i = 0; i < l->n; i++) {
		const struct et_grant *g = &l->items[i];
		if (g->expires > now && (!group || strcmp(g->group, group) == 0) && (!best || g->expires > best->expires))
			best = g;
	}
	return best;
}

/* ---- ids and text ---- */

int et_grant_id_new(char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[ET_GRANT_ID_HEX / 2];
	size_t got = 0;
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return et_err_set(err, ET_E_NO_RANDOM, "cannot get random bytes: %s", strerror(errno));
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		ret_id[2 * i] = hex[raw[i] >> 4];
		ret_id[2 * i + 1] = hex[raw[i] & 15];
	}
	ret_id[ET_GRANT_ID_HEX] = '\0';
	return 0;
}

bool et_grant_id_ok(const char *id)
{
	size_t i;
	if (!id)
		return false;
	for (i = 0; id[i]; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return i == ET_GRANT_ID_HEX;
}

/* ---- the file format ---- */

int et_grant_format(const struct et_grant *g, char *buf, size_t size, size_t *ret_len, struct et_err *err)
{
	const char *method = et_grant_method_name(g->method);
	int n;
	if (!et_grant_id_ok(g->id) || !et_local_name_ok(g->user) || !et_local_name_ok(g->group) || !method ||
	    g->created < 0 || g->expires < g->created || (long long)g->expires >= TIME_MAX_ACCEPTED ||
	    !et_text_clean(g->oid) || !et_text_clean(g->upn) || !et_text_clean(g->tid) ||
	    !et_text_clean(g->reason) || !et_text_clean(g->service) || !et_text_clean(g->rhost) || g->pim_until < 0 ||
	    (g->pim_until && g->pim_until != g->expires))
		return et_err_set(err, ET_E_BAD_GRANT, "the grant has an invalid field and was not written");
	n = snprintf(buf, size,
		     MAGIC " %d\n"
		     "id=%s\nuser=%s\nuid=%lu\ngroup=%s\ncreated=%lld\nexpires=%lld\nmethod=%s\n"
		     "oid=%s\nupn=%s\ntid=%s\nreason=%s\nservice=%s\nrhost=%s\nadded_membership=%d\npim_until=%lld\n"
		     "end\n",
		     ET_GRANT_FORMAT_VERSION, g->id, g->user, (unsigned long)g->uid, g->group, (long long)g->created,
		     (long long)g->expires, method, g->oid, g->upn, g->tid, g->reason, g->service, g->rhost,
		     g->added_membership ? 1 : 0, (long long)g->pim_until);
	if (n < 0 || (size_t)n >= size)
		return et_err_set(err, ET_E_BAD_GRANT, "the grant does not fit in %zu bytes", size);
	*ret_len = (size_t)n;
	return 0;
}

static int parse_number(const char *v, long long max, long long *ret)
{
	long long n = 0;
	if (!*v || (v[0] == '0' && v[1]))
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > (max - (*v - '0')) / 10)
			return -1;
		n = n * 10 + (*v - '0');
	}
	*ret = n;
	return 0;
}

enum grant_key { K_ID, K_USER, K_UID, K_GROUP, K_CREATED, K_EXPIRES, K_METHOD, K_OID, K_UPN, K_TID,
		 K_REASON, K_SERVICE, K_RHOST, K_ADDED, K_PIM_UNTIL, K_COUNT };
static const char *const key_names[K_COUNT] = {
	"id", "user", "uid", "group", "created", "expires", "method", "oid", "upn", "tid",
	"reason", "service", "rhost", "added_membership", "pim_until",
};
/* The first version that has each key (every key of a version is required in it). */
static const int key_since[K_COUNT] = { [K_PIM_UNTIL] = 2 };

static int bad_value(struct et_err *err, int key)
{
	return et_err_set(err, ET_E_CORRUPT_GRANT, "bad value for '%s' in the grant file", key_names[key]);
}

/* Copy a text value into a field of size `size`; too long, invalid UTF-8 or a control
 * character is corrupt. A bidirectional mark or a line separator, which writers before the
 * rule of text.h let through, is read back as '?'. */
/* The free-text field of key k and its size (with the NUL). */
static char *text_field(struct et_grant *g, enum grant_key k, size_t *ret_size)
{
	switch (k) {
	case K_OID:
		*ret_size = sizeof(g->oid);
		return g->oid;
	case K_TID:
		*ret_size = sizeof(g->tid);
		return g->tid;
	case K_SERVICE:
		*ret_size = sizeof(g->service);
		return g->service;
	case K_UPN:
		*ret_size = sizeof(g->upn);
		return g->upn;
	case K_REASON:
		*ret_size = sizeof(g->reason);
		return g->reason;
	default:
		*ret_size = sizeof(g->rhost);
		return g->rhost;
	}
}

static int take_text(char *field, size_t size, const char *v)
{
	size_t n = strlen(v);
	unsigned flags;
	if (n >= size)
		return -1;
	et_text_sanitize_n(v, n, field, size, &flags);
	return flags & ~ET_TEXT_MARK ? -1 : 0;
}

int et_grant_parse(const char *text, size_t len, struct et_grant *ret, struct et_err *err)
{
	struct et_grant g;
	bool seen[K_COUNT] = { false };
	char line[ET_GRANT_FILE_MAX];
	size_t pos = 0;
	bool header = false, ended = false;
	int version = 0;

	memset(&g, 0, sizeof(g));
	if (len > ET_GRANT_FILE_MAX)
		return et_err_set(err, ET_E_CORRUPT_GRANT, "the grant file is larger than %d bytes", ET_GRANT_FILE_MAX);
	if (memchr(text, '\0', len))
		return et_err_set(err, ET_E_CORRUPT_GRANT, "the grant file contains a NUL byte");
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen;
		char *eq, *v;
		long long num;
		int k;
		if (!nl)
			return et_err_set(err, ET_E_CORRUPT_GRANT, "the grant file is truncated (no final newline)");
		llen = (size_t)(nl - (text + pos));
		memcpy(line, text + pos, llen);
		line[llen] = '\0';
		pos += llen + 1;
		if (ended)
			return et_err_set(err, ET_E_CORRUPT_GRANT, "the grant file has data after its end line");
		if (!header) {
			char expect[32];
			if (strncmp(line, MAGIC " ", strlen(MAGIC) + 1) != 0)
				return et_err_set(err, ET_E_CORRUPT_GRANT, "not a grant file (bad first line)");
			for (int ver = 1; ver <= ET_GRANT_FORMAT_VERSION && !version; ver++) {
				snprintf(expect, sizeof(expect), MAGIC " %d", ver);
				if (strcmp(line, expect) == 0)
					version = ver;
			}
			if (!version)
				return et_err_set(err, ET_E_CORRUPT_GRANT, "unsupported grant file version '%.16s'",
						  line + strlen(MAGIC) + 1);
			header = true;
			continue;
		}
		if (strcmp(line, "end") == 0) {
			ended = true;
			continue;
		}
		eq = strchr(line, '=');
		if (!eq)
			return et_err_set(err, ET_E_CORRUPT_GRANT, "a line of the grant file has no '='");
		*eq = '\0';
		v = eq + 1;
		for (k = 0; k < K_COUNT; k++)
			if (strcmp(line, key_names[k]) == 0)
				break;
		if (k == K_COUNT || key_since[k] > version)
			return et_err_set(err, ET_E_CORRUPT_GRANT, "unknown key '%.40s' in the grant file", line);
		if (seen[k])
			return et_err_set(err, ET_E_CORRUPT_GRANT, "key '%s' appears twice in the grant file", key_names[k]);
		seen[k] = true;
		switch (k) {
		case K_ID:
			if (!et_grant_id_ok(v))
				return bad_value(err, k);
			memcpy(g.id, v, ET_GRANT_ID_HEX + 1);
			break;
		case K_USER:
		case K_GROUP:
			if (!et_local_name_ok(v) || take_text(k == K_USER ? g.user : g.group, ET_GRANT_NAME_MAX + 1, v) < 0)
				return bad_value(err, k);
			break;
		case K_UID:
			if (parse_number(v, (long long)UINT32_MAX - 1, &num) < 0)
				return bad_value(err, k);
			g.uid = (uid_t)num;
			break;
		case K_CREATED:
		case K_EXPIRES:
			if (parse_number(v, TIME_MAX_ACCEPTED - 1, &num) < 0)
				return bad_value(err, k);
			if (k == K_CREATED)
				g.created = (time_t)num;
			else
				g.expires = (time_t)num;
			break;
		case K_METHOD:
			if (et_grant_method_parse(v, &g.method) < 0)
				return bad_value(err, k);
			break;
		case K_OID:
		case K_TID:
		case K_SERVICE:
		case K_UPN:
		case K_REASON:
		case K_RHOST: {
			size_t size;
			char *field = text_field(&g, k, &size);
			if (take_text(field, size, v) < 0)
				return bad_value(err, k);
			break;
		}
		case K_ADDED:
			if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
				return bad_value(err, k);
			g.added_membership = v[0] == '1';
			break;
		case K_PIM_UNTIL:
			if (parse_number(v, TIME_MAX_ACCEPTED - 1, &num) < 0)
				return bad_value(err, k);
			g.pim_until = (time_t)num;
			break;
		}
	}
	if (!header)
		return et_err_set(err, ET_E_CORRUPT_GRANT, "the grant file is empty");
	if (!ended)
		return et_err_set(err, ET_E_CORRUPT_GRANT, "the grant file is truncated (no end line)");
	for (int k = 0; k < K_COUNT; k++)
		if (!seen[k] && key_since[k] <= version)
			return et_err_set(err, ET_E_CORRUPT_GRANT, "key '%s' is missing from the grant file", key_names[k]);
	if (g.expires < g.created)
		return et_err_set(err, ET_E_CORRUPT_GRANT, "the grant expires before it was created");
	if (g.pim_until && g.pim_until != g.expires)
		return et_err_set(err, ET_E_CORRUPT_GRANT, "the grant's pim_until is not its expiry");
	*ret = g;
	return 0;
}

/* ---- the store on disk ---- */

static int grants_dir(const struct et_config *cfg, char *buf, size_t size, struct et_err *err)
{
	if (!cfg->state_dir || cfg->state_dir[0] != '/')
		return et_err_set(err, ET_E_CONFIG, "state_dir is not an absolute path");
	if (snprintf(buf, size, "%s/" GRANTS_SUBDIR, cfg->state_dir) >= (int)size)
		return et_err_set(err, ET_E_PATH_TOO_LONG, "state_dir is too long");
	return 0;
}

static int grant_path(const struct et_config *cfg, const char *id, char *buf, size_t size, struct et_err *err)
{
	if (!et_grant_id_ok(id))
		return et_err_set(err, ET_E_BAD_ID, "'%.64s' is not a grant id (32 hexadecimal digits)", id ? id : "");
	if (!cfg->state_dir || snprintf(buf, size, "%s/" GRANTS_SUBDIR "/%s" GRANT_SUFFIX, cfg->state_dir, id) >= (int)size)
		return et_err_set(err, ET_E_PATH_TOO_LONG, "state_dir is too long");
	return 0;
}

int et_grant_store_prepare(const struct et_config *cfg, struct et_err *err)
{
	char dir[PATH_MAX];
	if (grants_dir(cfg, dir, sizeof(dir), err) < 0)
		return -1;
	if (et_dir_ensure_private(cfg->state_dir, 0700, err) < 0)
		return -1;
	return et_dir_ensure_private(dir, 0700, err);
}

int et_grant_store_lock(const struct et_config *cfg, int timeout_ms, int *ret_fd, struct et_err *err)
{
	char path[PATH_MAX];
	long long deadline = et_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	long wait_us = 200;
	int fd;

	if (!cfg->state_dir || snprintf(path, sizeof(path), "%s/lock", cfg->state_dir) >= (int)sizeof(path))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "state_dir is too long");
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return et_err_set(err, ET_E_STORE_LOCKED, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		struct timespec ts;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			et_err_set(err, ET_E_STORE_LOCKED, "cannot lock %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (et_mono_ms() >= deadline) {
			et_err_set(err, ET_E_STORE_LOCKED, "the grant store %s stayed locked for %d ms", path, timeout_ms);
			close(fd);
			return -1;
		}
		/* flock has no timeout and a signal-based one would disturb the process: poll,
		 * backing off from 0.2 ms to 10 ms. */
		ts.tv_sec = 0;
		ts.tv_nsec = wait_us * 1000;
		nanosleep(&ts, NULL);
		if (wait_us < 10000)
			wait_us *= 2;
	}
	*ret_fd = fd;
	return 0;
}

void et_grant_store_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

int et_grant_store_write(const struct et_config *cfg, const struct et_grant *g, struct et_err *err)
{
	char path[PATH_MAX], text[ET_GRANT_FILE_MAX];
	size_t len;
	if (grant_path(cfg, g->id, path, sizeof(path), err) < 0)
		return -1;
	if (et_grant_format(g, text, sizeof(text), &len, err) < 0)
		return -1;
	return et_file_write_atomic(path, text, len, 0600, err);
}

int et_grant_store_read(const struct et_config *cfg, const char *id, struct et_grant *ret, struct et_err *err)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	struct et_grant g;
	int r;
	if (grant_path(cfg, id, path, sizeof(path), err) < 0)
		return -1;
	if (et_file_read(path, ET_GRANT_FILE_MAX, 1, &text, &len, err) < 0) {
		if (err && err->code == ET_E_NOT_FOUND)
			return et_err_set(err, ET_E_NOT_FOUND, "there is no grant %s", id);
		if (err && err->code == ET_E_TOO_LARGE)
			return et_err_set(err, ET_E_CORRUPT_GRANT, "grant %s: the file is larger than %d bytes", id,
					  ET_GRANT_FILE_MAX);
		return -1;
	}
	r = et_grant_parse(text, len, &g, err);
	free(text);
	if (r < 0) {
		if (err) {
			char msg[sizeof(err->message)];
			snprintf(msg, sizeof(msg), "%s", err->message);
			et_err_set(err, ET_E_CORRUPT_GRANT, "grant %s: %s", id, msg);
		}
		return -1;
	}
	if (strcmp(g.id, id) != 0)
		return et_err_set(err, ET_E_CORRUPT_GRANT, "grant file %s holds another id (%s)", id, g.id);
	*ret = g;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int r, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int et_grant_store_remove(const struct et_config *cfg, const char *id, struct et_err *err)
{
	char path[PATH_MAX], dir[PATH_MAX];
	if (grant_path(cfg, id, path, sizeof(path), err) < 0 || grants_dir(cfg, dir, sizeof(dir), err) < 0)
		return -1;
	if (unlink(path) < 0) {
		if (errno == ENOENT)
			return et_err_set(err, ET_E_NOT_FOUND, "there is no grant %s", id);
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot delete %s: %s", path, strerror(errno));
	}
	if (fsync_dir(dir) < 0)
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot sync %s: %s", dir, strerror(errno));
	return 0;
}

/* "<32 hex>.grant" → copies the id. */
static bool grant_file_name(const char *name, char id[ET_GRANT_ID_HEX + 1])
{
	size_t n = strlen(name);
	if (n != ET_GRANT_ID_HEX + strlen(GRANT_SUFFIX) || strcmp(name + ET_GRANT_ID_HEX, GRANT_SUFFIX) != 0)
		return false;
	memcpy(id, name, ET_GRANT_ID_HEX);
	id[ET_GRANT_ID_HEX] = '\0';
	return et_grant_id_ok(id);
}

static int cmp_expiry(const void *a, const void *b)
{
	const struct et_grant *x = a, *y = b;
	if (x->expires != y->expires)
		return x->expires < y->expires ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* Open the grants directory. NULL with *ret_absent set when it does not exist (nothing was
 * ever granted), NULL with err on any other failure. */
static DIR *grants_open(const struct et_config *cfg, char *dirpath, size_t size, bool *ret_absent, struct et_err *err)
{
	DIR *d;
	*ret_absent = false;
	if (grants_dir(cfg, dirpath, size, err) < 0)
		return NULL;
	d = opendir(dirpath);
	if (!d) {
		if (errno == ENOENT)
			*ret_absent = true;
		else
			et_err_set(err, ET_E_READ_FAILED, "cannot open %s: %s", dirpath, strerror(errno));
	}
	return d;
}

int et_grant_store_list(const struct et_config *cfg, const char *user, struct et_grant_list *ret,
			struct et_err *err)
{
	struct et_grant_list l = { 0 };
	char dirpath[PATH_MAX];
	size_t cap = 0, files = 0;
	struct dirent *de;
	bool absent;
	DIR *d = grants_open(cfg, dirpath, sizeof(dirpath), &absent, err);

	if (!d) {
		if (!absent)
			return -1;
		*ret = l;
		return 0;
	}
	while ((errno = 0, de = readdir(d))) {
		char id[ET_GRANT_ID_HEX + 1];
		struct et_grant g;
		struct et_err e;
		if (!grant_file_name(de->d_name, id))
			continue;
		if (++files > ET_GRANTS_MAX) {
			l.n_corrupt++;
			if (files == ET_GRANTS_MAX + 1)
				et_log(&cfg->log, ET_LOG_ERR, "more than %d grant files in %s: the rest are ignored",
				       ET_GRANTS_MAX, dirpath);
			continue;
		}
		if (et_grant_store_read(cfg, id, &g, &e) < 0) {
			if (e.code != ET_E_NOT_FOUND) { /* not removed in the meantime */
				l.n_corrupt++;
				et_log(&cfg->log, ET_LOG_ERR, "%s", e.message);
			}
			continue;
		}
		if (user && strcmp(g.user, user) != 0)
			continue;
		if (l.n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct et_grant *grown = realloc(l.items, ncap * sizeof(*grown));
			if (!grown) {
				closedir(d);
				et_grant_list_free(&l);
				return et_err_set(err, ET_E_NO_MEMORY, "out of memory listing grants");
			}
			l.items = grown;
			cap = ncap;
		}
		l.items[l.n++] = g;
	}
	if (errno) {
		int e = errno;
		closedir(d);
		et_grant_list_free(&l);
		return et_err_set(err, ET_E_READ_FAILED, "cannot read %s: %s", dirpath, strerror(e));
	}
	closedir(d);
	if (l.n > 1)
		qsort(l.items, l.n, sizeof(*l.items), cmp_expiry);
	*ret = l;
	return 0;
}

int et_grant_store_tidy(const struct et_config *cfg, unsigned *ret_quarantined, struct et_err *err)
{
	char dirpath[PATH_MAX];
	unsigned quarantined = 0;
	struct dirent *de;
	bool changed = false;
	int dfd;
	DIR *d;

	if (grants_dir(cfg, dirpath, sizeof(dirpath), err) < 0)
		return -1;
	dfd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		if (errno == ENOENT) {
			if (ret_quarantined)
				*ret_quarantined = 0;
			return 0;
		}
		return et_err_set(err, ET_E_READ_FAILED, "cannot open %s: %s", dirpath, strerror(errno));
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return et_err_set(err, ET_E_READ_FAILED, "cannot read %s: %s", dirpath, strerror(errno));
	}
	while ((de = readdir(d))) {
		char id[ET_GRANT_ID_HEX + 1], aside[64];
		struct et_grant g;
		struct et_err e;
		if (strstr(de->d_name, GRANT_SUFFIX ".tmp.")) {
			/* a writer was killed before its rename; we hold the lock, so no writer is active */
			if (unlinkat(dfd, de->d_name, 0) == 0)
				changed = true;
			continue;
		}
		if (!grant_file_name(de->d_name, id))
			continue;
		if (et_grant_store_read(cfg, id, &g, &e) == 0 || e.code == ET_E_NOT_FOUND)
			continue;
		snprintf(aside, sizeof(aside), "%s" GRANT_SUFFIX CORRUPT_SUFFIX, id);
		if (renameat(dfd, de->d_name, dfd, aside) < 0) {
			et_log(&cfg->log, ET_LOG_ERR, "%s (and it cannot be moved aside: %s)", e.message, strerror(errno));
			continue;
		}
		et_log(&cfg->log, ET_LOG_ERR, "%s: moved aside as %s/%s", e.message, dirpath, aside);
		quarantined++;
		changed = true;
	}
	if (changed && fsync(dfd) < 0) {
		closedir(d);
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot sync %s: %s", dirpath, strerror(errno));
	}
	closedir(d);
	if (ret_quarantined)
		*ret_quarantined = quarantined;
	return 0;
}

int et_grant_store_count(const struct et_config *cfg, size_t *ret_count, struct et_err *err)
{
	char dirpath[PATH_MAX], id[ET_GRANT_ID_HEX + 1];
	size_t n = 0;
	bool absent;
	DIR *d = grants_open(cfg, dirpath, sizeof(dirpath), &absent, err);

	if (!d && !absent)
		return -1;
	for (struct dirent *de; d && (de = readdir(d));) /* no directory: nothing was ever granted */
		n += grant_file_name(de->d_name, id);
	if (d)
		closedir(d);
	*ret_count = n;
	return 0;
}
