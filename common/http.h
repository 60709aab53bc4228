/* SPDX-License-Identifier: Apache-2.0 */
/* HTTPS client over libcurl: https only, TLS >= 1.2, verification always on, proxy and CA
 * only from config (never from the environment), bounded time and size. */
#pragma once
#include <stddef.h>
#include "conf.h"
#include "err.h"

#define ET_HTTP_MAX_BODY (256 * 1024)

struct et_http_resp {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
};

/* Reasons set on failure: "http_scheme" (not https), "http_timeout", "http_tls",
 * "http_connect", "http_too_large", "http_error" (anything else). A non-2xx status is NOT a
 * failure here: callers read status and body (Entra puts OAuth errors in 400 bodies). */
int et_http_get(const struct et_config *cfg, const char *url, struct et_http_resp *ret, struct et_err *err);
/* POST application/x-www-form-urlencoded; never retried. The body may contain secrets: it is
 * not logged, and the caller wipes it. */
int et_http_post_form(const struct et_config *cfg, const char *url, const char *form,
		      struct et_http_resp *ret, struct et_err *err);
/* With "Authorization: Bearer {bearer}" (Microsoft Graph). The token is only copied into the
 * header, never logged; the header copies are wiped. bearer must be a token68 of at most
 * ET_HTTP_BEARER_MAX characters (reason "http_error" otherwise). A GET is retried as above;
 * the JSON POST never is. */
#define ET_HTTP_BEARER_MAX 16384
int et_http_get_bearer(const struct et_config *cfg, const char *url, const char *bearer, struct et_http_resp *ret,
		       struct et_err *err);
int et_http_post_json_bearer(const struct et_config *cfg, const char *url, const char *bearer, const char *json,
			     struct et_http_resp *ret, struct et_err *err);
void et_http_resp_free(struct et_http_resp *resp);
/* Percent-encode for a form value (malloc'd). */
char *et_http_form_escape(const char *s);
