/* SPDX-License-Identifier: Apache-2.0 */
/* The replay cache of pasted tokens (replay.h). */
#include "replay.h"
#include "fsutil.h"
#include "json_strict.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRY_MAX 64

static int entry_name(const char *id, char out[2 * 32 + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_Digest(id, strlen(id), md, &n, EVP_sha256(), NULL) || n != 32)
		return -1;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* The exp an entry holds; -1 when it cannot be read (then it is treated as live). */
static long long entry_exp(int dfd, const char *name)
{
	char buf[ENTRY_MAX];
	long long v;
	char *end;
	ssize_t n;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = et_read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || end == buf || (*end != '\n' && *end != '\0'))
		return -1;
	return v;
}

/* Entries whose token has expired (beyond the skew) go: the cache stays as small as the
 * number of live pasted tokens. */
static void sweep(int dfd, long long cutoff)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	unsigned seen = 0;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) && seen++ < ET_REPLAY_MAX) {
		long long exp;
		if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64)
			continue;
		exp = entry_exp(dfd, de->d_name);
		if (exp >= 0 && exp < cutoff)
			(void)unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

int et_replay_record(const struct et_config *cfg, json_object *claims, time_t now, struct et_err *err)
{
	const char *id = et_json_get_string(claims, "uti");
	char dir[PATH_MAX], path[PATH_MAX], tmpl[PATH_MAX], name[65], text[32];
	json_object *v;
	long long exp, cutoff = (long long)now - cfg->clock_skew;
	int dfd = -1, r = -1, n;

	if (!id || !*id)
		id = et_json_get_string(claims, "jti");
	if (!id || !*id)
		return et_err_set(err, ET_E_MISSING_CLAIM,
				  "A pasted token needs a unique id (uti or jti) so that it is accepted only once.");
	if (!json_object_object_get_ex(claims, "exp", &v) || !json_object_is_type(v, json_type_int))
		return et_err_set(err, ET_E_MISSING_CLAIM, "The token has no \"exp\" claim.");
	exp = json_object_get_int64(v);
	if (!cfg->state_dir || (size_t)snprintf(dir, sizeof(dir), "%s/replay", cfg->state_dir) >= sizeof(dir))
		return et_err_set(err, ET_E_STATE_DIR, "No usable state_dir is configured.");
	if (entry_name(id, name) < 0)
		return et_err_set(err, ET_E_NO_MEMORY, "Cannot hash the token's id.");
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    (size_t)snprintf(tmpl, sizeof(tmpl), "%s/.%s.XXXXXX", dir, name) >= sizeof(tmpl))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "state_dir is too long.");
	if (et_dir_ensure_private(cfg->state_dir, 0700, err) < 0 || et_dir_ensure_private(dir, 0700, err) < 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return et_err_set(err, ET_E_STATE_DIR, "Cannot open %s: %s.", dir, strerror(errno));
	sweep(dfd, cutoff);
	n = snprintf(text, sizeof(text), "%lld\n", exp);
	for (int attempt = 0; attempt < 2; attempt++) {
		int c = et_file_create_exclusive(path, tmpl, text, (size_t)n, 0600, err);
		long long seen;
		if (c == 1) {
			r = 0;
			goto done;
		}
		if (c < 0)
			goto done;
		seen = entry_exp(dfd, name);
		if (seen < 0 || seen >= cutoff) {
			et_err_set(err, ET_E_TOKEN_REPLAYED,
				   "This token was presented before; a token is accepted once (paste a new one).");
			goto done;
		}
		/* an expired entry the sweep has not reached: replace it once */
		(void)unlinkat(dfd, name, 0);
	}
	et_err_set(err, ET_E_TOKEN_REPLAYED, "This token was presented before; a token is accepted once.");
done:
	close(dfd);
	return r;
}
