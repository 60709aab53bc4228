/* SPDX-License-Identifier: Apache-2.0 */
/* The whole verifier: JWS, key, signature, claims, identity, pin, eligibility. */
#pragma once
#include <stdbool.h>
#include <time.h>
#include <json-c/json.h>
#include "jwks_cache.h"
#include "err.h"

struct et_verdict {
	bool accept;   /* signature, claims and identity all good, and eligible */
	bool valid;    /* signature and claims good (identity may still fail) */
	bool eligible;
	struct et_err why;     /* reason + sentence when !accept */
	json_object *claims;   /* the payload, when it parsed (owned) */
	char *user;            /* mapped local user, when mapping succeeded */
};

struct et_verify_opts {
	time_t now;
	const char *expect_user; /* the PAM user: mapped user must equal it (NULL: no check) */
	bool record_pin;         /* PAM does; verify-token does not */
	bool check_account;      /* the mapped user must be an account sign-ins may reach (PAM) */
};

/* Always reaches a verdict (returns 0). v->why.reason tells failures apart for callers that
 * map them (PAM): "idp_unavailable" (no keys could be had), "no_memory", state read/write
 * failures, and the token rejections of jws.h, claims.h and identity.h. */
int et_token_verify(struct et_keystore *ks, const char *token, size_t len, const struct et_verify_opts *opts,
		    struct et_verdict *v);
void et_verdict_free(struct et_verdict *v);
