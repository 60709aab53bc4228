/* SPDX-License-Identifier: Apache-2.0 */
/* Where keys come from: a pinned jwks_file (never the network), or discovery + jwks_uri
 * with an on-disk root-only cache in jwks_cache_dir: TTL, refresh on unknown kid at most once
 * a minute (the stamp lives on disk: every PAM call is a new process), stale cache used and
 * logged when the IdP is unreachable. */
#pragma once
#include <stdbool.h>
#include <time.h>
#include "conf.h"
#include "jwks.h"
#include "err.h"

#define ET_JWKS_REFRESH_MIN_INTERVAL 60

struct et_keystore {
	const struct et_config *cfg;
	struct et_jwks jwks;
	bool loaded;
	time_t fetched_at; /* when the current set was fetched (0: pinned file) */
	unsigned refreshes; /* network fetches done by this keystore (tests, bench) */
};

void et_keystore_init(struct et_keystore *ks, const struct et_config *cfg);
/* Find the key for kid, loading / refreshing as the rules above allow. now is the wall clock. */
int et_keystore_get(struct et_keystore *ks, const char *kid, time_t now, const struct et_jwk **ret,
		    struct et_err *err);
/* Fetch now regardless of TTL (entra-tap discover). */
int et_keystore_refresh(struct et_keystore *ks, time_t now, struct et_err *err);
void et_keystore_free(struct et_keystore *ks);
