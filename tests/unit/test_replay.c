/* SPDX-License-Identifier: Apache-2.0 */
/* The replay cache of pasted tokens: a token id (uti, else jti) is accepted once until the
 * token's exp (plus clock_skew); expired entries are swept; a token without an id is refused. */
#include "conf.h"
#include "replay.h"
#include "tap.h"
#include "testutil.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1800000000LL

static struct et_config cfg;
static char state[1024];

static int record(const char *json, long long now, const char *want, const char *name)
{
	struct et_err err;
	json_object *c = json_tokener_parse(json);
	int r;
	if (!c)
		abort();
	et_err_clear(&err);
	r = et_replay_record(&cfg, c, (time_t)now, &err);
	json_object_put(c);
	if (!want)
		return ok(r == 0, "%s: accepted", name) ? 0 : (tap_diag("%s", err.message), -1);
	return ok(r < 0 && strcmp(err.reason, want) == 0, "%s: refused as %s (%s)", name, want, err.reason);
}

static size_t entries(void)
{
	char dir[1100];
	snprintf(dir, sizeof(dir), "%s/replay", state);
	return tu_count_prefixed(dir, "");
}

int main(void)
{
	struct et_err err;
	struct stat st;
	char dir[1100];

	tap_require_root();
	snprintf(state, sizeof(state), "%s/state", tu_tmpdir());
	if (et_config_init(&cfg) < 0 || et_config_set(&cfg, "state_dir", state, "t", &err) < 0)
		return 1;

	record("{\"uti\":\"AAAA\",\"exp\":1800003600}", NOW, NULL, "a first token (uti)");
	record("{\"uti\":\"AAAA\",\"exp\":1800003600}", NOW + 10, "token_replayed", "the same token again");
	record("{\"uti\":\"AAAA\",\"jti\":\"other\",\"exp\":1800003600}", NOW + 20, "token_replayed",
	       "the same uti with another jti");
	record("{\"uti\":\"BBBB\",\"exp\":1800003600}", NOW, NULL, "another token");
	record("{\"jti\":\"CCCC\",\"exp\":1800003600}", NOW, NULL, "a token with jti only");
	record("{\"jti\":\"CCCC\",\"exp\":1800003600}", NOW, "token_replayed", "... twice");
	record("{\"uti\":\"\",\"jti\":\"DDDD\",\"exp\":1800003600}", NOW, NULL, "an empty uti falls back to jti");
	record("{\"exp\":1800003600}", NOW, "missing_claim", "a token without uti or jti");
	record("{\"uti\":\"EEEE\"}", NOW, "missing_claim", "a token without exp");
	is_int((long long)entries(), 4, "four entries, named by hash");
	snprintf(dir, sizeof(dir), "%s/replay", state);
	ok(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700 && st.st_uid == 0, "the cache is root's, mode 0700");

	/* kept until exp plus the skew (120 s), then swept and usable again */
	record("{\"uti\":\"AAAA\",\"exp\":1800003600}", 1800003600LL + 120, "token_replayed",
	       "at exp plus the skew it is still remembered");
	record("{\"uti\":\"FFFF\",\"exp\":1800009000}", 1800003600LL + 121, NULL, "a later token, after the others expired");
	is_int((long long)entries(), 1, "the expired entries were swept");
	record("{\"uti\":\"AAAA\",\"exp\":1800003600}", 1800003600LL + 121, NULL,
	       "an expired token's id is forgotten (its exp refuses it anyway)");
	et_config_free(&cfg);
	return tap_done();
}
