/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the parsers of what the identity provider answers (oauth.h): the
 * device authorization answer and the token endpoint's answer, for both flows. The first byte
 * picks the parser and, for the token endpoint, the flow and the HTTP status; the rest is the
 * body. Besides crashes and sanitizer reports it checks the parsers' promises:
 *   - a device answer that is accepted has a printable user code within its cap (no space at
 *     either end), an https
 *     verification address without spaces or controls, an expiry within its bounds and an
 *     interval of at least 1 s; a refusal names a reason;
 *   - a token answer classified ET_POLL_OK carries an id_token; pending and slow_down happen
 *     only in the device flow; a failure names a reason, and no sentence of it contains the
 *     secret given to the parser (the pass or device code), whatever the body says. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "Fz7-secret-pass"

static void check_device(const char *body, size_t len)
{
	struct et_device d = { 0 };
	struct et_err err = { 0 };
	if (et_device_parse_response(body, len, &d, &err) < 0) {
		if (!err.reason[0] || !err.message[0])
			abort();
		et_device_free(&d);
		return;
	}
	if (!d.device_code || !d.user_code || !d.verification_uri)
		abort();
	if (strlen(d.user_code) == 0 || strlen(d.user_code) > ET_USER_CODE_MAX)
		abort();
	/* printable ASCII; spaces inside only (some providers group the code) */
	for (const unsigned char *p = (const unsigned char *)d.user_code; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			abort();
	if (d.user_code[0] == ' ' || d.user_code[strlen(d.user_code) - 1] == ' ')
		abort();
	if (strncasecmp(d.verification_uri, "https://", 8) != 0)
		abort();
	for (const unsigned char *p = (const unsigned char *)d.verification_uri; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			abort();
	if (d.expires_in < 1 || d.expires_in > ET_DEVICE_EXPIRES_MAX || d.interval < 1)
		abort();
	et_device_free(&d);
}

static void check_token(enum et_flow_kind kind, long status, const char *body, size_t len)
{
	char *id = NULL, *access = NULL;
	struct et_err err = { 0 };
	enum et_poll_result r =
		et_token_response_parse_tokens(kind, status, body, len, SECRET, &id, &access, &err);
	switch (r) {
	case ET_POLL_OK:
		if (!id || !id[0])
			abort();
		break;
	case ET_POLL_PENDING:
	case ET_POLL_SLOW_DOWN:
		if (kind != ET_FLOW_DEVICE_CODE)
			abort();
		break;
	case ET_POLL_FAILED:
		if (!err.reason[0] || !err.message[0] || strstr(err.message, SECRET))
			abort();
		break;
	default:
		break;
	}
	et_oauth_secret_free(id);
	et_oauth_secret_free(access);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 400, 401, 403, 429, 500, 502, 503 };
	char *body;
	if (size < 1)
		return 0;
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	if (data[0] & 1)
		check_token(data[0] & 2 ? ET_FLOW_PASSWORD : ET_FLOW_DEVICE_CODE, statuses[(data[0] >> 2) & 7], body,
			    size - 1);
	else
		check_device(body, size - 1);
	free(body);
	return 0;
}
