/* SPDX-License-Identifier: Apache-2.0 */
#include "conf.h"
#include "verify.h"
#include "claims.h"
#include "identity.h"
#include "json_strict.h"
#include "jws.h"
#include <stdlib.h>
#include <string.h>

/* Order matters: nothing in the payload is believed before the signature checks out, and
 * identity is derived only from a token that passed the claim policy. */
int et_token_verify(struct et_keystore *ks, const char *token, size_t len, const struct et_verify_opts *opts,
		    struct et_verdict *v)
{
	const struct et_config *cfg = ks->cfg;
	struct et_jws jws;
	const struct et_jwk *key;
	const char *tid, *oid;
	char *user = NULL;
	struct et_err elig;

	memset(v, 0, sizeof(*v));
	memset(&jws, 0, sizeof(jws));
	et_err_clear(&elig);

	if (et_jws_parse(token, len, &jws, &v->why) < 0)
		goto done;
	/* Key freshness runs on the wall clock; opts->now only moves the time-claim checks. */
	if (et_keystore_get(ks, jws.kid, time(NULL), &key, &v->why) < 0)
		goto done;
	if (et_jws_verify(&jws, key, &v->why) < 0)
		goto done;
	/* From here the payload is authentic; keep it for the report. */
	v->claims = json_object_get(jws.payload);
	if (et_claims_check(cfg, jws.payload, opts->now, &v->why) < 0)
		goto done;
	v->valid = true;
	/* Eligibility is judged (and reported) even when the identity step fails below, so
	 * `entra-tap verify-token` can answer both questions at once. */
	v->eligible = et_claims_eligible(cfg, jws.payload, &elig) == 0;

	if (et_identity_map(cfg, jws.payload, &user, &v->why) < 0)
		goto done;
	v->user = user;
	if (opts->expect_user && strcmp(opts->expect_user, user) != 0) {
		et_err_set(&v->why, ET_E_WRONG_USER, "The token is for local user \"%s\", not \"%s\".", user,
			   opts->expect_user);
		goto done;
	}
	/* before the pin: root or a system account is never pinned to an Entra identity */
	if (opts->check_account && et_identity_account_check(cfg, user, NULL, NULL, &v->why) < 0)
		goto done;
	tid = et_json_get_string(jws.payload, "tid");
	oid = et_json_get_string(jws.payload, "oid");
	if (et_identity_pin_check(cfg, user, tid, oid, opts->record_pin, &v->why) < 0)
		goto done;
	if (!v->eligible) {
		v->why = elig;
		goto done;
	}
	v->accept = true;
	et_err_clear(&v->why);
done:
	et_jws_free(&jws);
	return 0;
}

void et_verdict_free(struct et_verdict *v)
{
	if (!v)
		return;
	json_object_put(v->claims);
	free(v->user);
	memset(v, 0, sizeof(*v));
}
