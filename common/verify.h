/* The whole verifier: JWS, key, signature, claims, identity, pin, eligibility. */
#pragma once
#include <stdbool.h>
#include <time.h>
#include <json-c/json.h>
#include "config.h"
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
};

/* Returns 0 when a verdict was reached (accept or reject), -1 only for internal errors
 * (out of memory) with v->why set. */
int et_token_verify(struct et_keystore *ks, const char *token, size_t len, const struct et_verify_opts *opts,
		    struct et_verdict *v);
void et_verdict_free(struct et_verdict *v);
