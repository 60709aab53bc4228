/* SPDX-License-Identifier: Apache-2.0 */
/* The device sign-in rate limits (pam_entra_tap/limits.c): per-address files are swept once
 * their window is empty, and an attempt its address may not make spends nothing of the
 * user's budget. */
#include "conf.h"
#include "module.h"
#include "tap.h"
#include "testutil.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T 1800000000LL

static struct et_config cfg;
static char state[1024];

static size_t host_files(void)
{
	char dir[1100];
	snprintf(dir, sizeof(dir), "%s/ratelimit", state);
	return tu_count_prefixed(dir, "host-");
}

static int take(const char *user, const char *rhost, long long now, const char **ret_reason)
{
	static struct et_err err;
	int r;
	et_err_clear(&err);
	r = et_rate_take(&cfg, user, rhost, (time_t)now, &err);
	*ret_reason = err.reason;
	return r;
}

int main(void)
{
	struct et_err err;
	const char *why;
	char addr[64];
	int refused = 0;

	tap_require_root(); /* the state files must be root's */
	snprintf(state, sizeof(state), "%s/state", tu_tmpdir());
	if (et_config_init(&cfg) < 0 || et_config_set(&cfg, "state_dir", state, "t", &err) < 0 ||
	    et_config_set(&cfg, "device_code_max_per_rhost", "1", "t", &err) < 0 ||
	    et_config_set(&cfg, "device_code_max_per_user", "3", "t", &err) < 0 ||
	    et_config_set(&cfg, "device_code_rate_window", "10m", "t", &err) < 0)
		return 1;

	/* 400 addresses, one attempt each: 400 files, all swept once their window is empty */
	for (int i = 0; i < 400; i++) {
		snprintf(addr, sizeof(addr), "198.51.%d.%d", i / 250, i % 250);
		if (take(NULL, addr, T, &why) < 0)
			refused++;
	}
	is_int(refused, 0, "400 addresses: one attempt each is allowed");
	is_int((long long)host_files(), 400, "... and each has its file for the window");
	ok(take(NULL, "203.0.113.1", T + 300, &why) == 0, "an attempt within the window");
	is_int((long long)host_files(), 401, "... sweeps nothing that is still counting");
	ok(take(NULL, "203.0.113.2", T + 601, &why) == 0, "an attempt after the window");
	is_int((long long)host_files(), 2, "... leaves only the files whose window still counts (400 swept)");

	/* alice: 3 per window and origin (her budget is kept per remote address, and apart for a
	 * local terminal); each address 1 */
	ok(take("alice", "192.0.2.1", T + 1000, &why) == 0, "alice from 192.0.2.1: allowed");
	ok(take("alice", "192.0.2.1", T + 1001, &why) < 0 && strcmp(why, "rate_limited") == 0,
	   "alice again from 192.0.2.1: refused by the address's limit");
	ok(take("alice", "192.0.2.2", T + 1002, &why) == 0 && take("alice", "192.0.2.3", T + 1003, &why) == 0 &&
		   take("alice", "192.0.2.4", T + 1004, &why) == 0,
	   "alice from three more addresses: each allowed (what one address spent is not her budget elsewhere)");
	ok(take("bob", "192.0.2.4", T + 1005, &why) < 0 && strcmp(why, "rate_limited") == 0,
	   "bob from 192.0.2.4: refused by that address's limit (each address stays bounded)");
	for (int i = 0; i < 3; i++)
		ok(take("alice", "", T + 1010 + i, &why) == 0, "alice at a local terminal: allowed (%d of 3)", i + 1);
	ok(take("alice", "", T + 1020, &why) < 0 && strcmp(why, "rate_limited") == 0,
	   "alice at a local terminal, a fourth time: refused by her own (local) limit");
	ok(take("alice", "192.0.2.9", T + 1021, &why) == 0,
	   "... which does not stop her from another origin");
	et_config_free(&cfg);
	return tap_done();
}
