/* SPDX-License-Identifier: Apache-2.0 */
/* The OAuth client flows: the answer parsers on crafted input first (every rejection with its
 * reason), then the device code and password flows against the mock Entra ID, driven
 * through its control API: approve, decline, expire, bad code, slow_down, deadline, cancel,
 * 5xx, non-JSON, connection resets, timeouts; a Temporary Access Pass that works, is wrong,
 * expired, used up, not yet valid; MFA required; the grant disabled. Secrets (passes, device
 * codes) must appear in no error sentence and no log line. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "conf.h"
#include "json_strict.h"
#include "jws.h"
#include "mockutil.h"
#include "testutil.h"
#include "oauth.h"
#include "oidc.h"
#include "tap.h"
#include "verify.h"

#define TENANT "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
#define ID_TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

/* ---- shared state ---- */

static struct et_config cfg;
static struct et_oidc oidc;
static char logbuf[256 * 1024];
static size_t loglen;
static char msgbuf[64 * 1024]; /* every error sentence the code produced */
static size_t msglen;
static char *secrets[64];
static bool secret_in_username[64]; /* deliberately part of a user name, which may be logged */
static size_t nsecrets;

static void log_sink(void *data, int level, const char *msg)
{
	(void)data;
	(void)level;
	tu_append_line(logbuf, sizeof(logbuf), &loglen, msg);
}

static void keep_msg(const struct et_err *e)
{
	tu_append_line(msgbuf, sizeof(msgbuf), &msglen, e->message);
}

static void keep_secret(const char *s)
{
	if (s && nsecrets < sizeof(secrets) / sizeof(secrets[0]))
		secrets[nsecrets++] = strdup(s);
}

static long long ms_between(const struct timespec *later, const struct timespec *earlier)
{
	return (long long)(later->tv_sec - earlier->tv_sec) * 1000LL + (later->tv_nsec - earlier->tv_nsec) / 1000000L;
}

static struct timespec mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t;
}

/* ---- offline: parsers ---- */

static void test_sanitize(void)
{
	char out[32], tiny[8];
	static const struct {
		const char *in;
		int tiny; /* into an 8-byte buffer, otherwise 32 */
		const char *want, *name;
	} cases[] = {
		{ "plain text", 0, "plain text", "sanitize: plain text kept" },
		{ "AADSTS50126: bad\r\nTrace ID: 1", 0, "AADSTS50126: bad", "sanitize: only the first line" },
		{ "a\x1b[31mb\tc\x7f"
		  "d",
		  0, "a?[31mb?c?d", "sanitize: C0 controls and DEL become '?'" },
		{ "x\xc2\x9by\xe2\x80\xaez\xe2\x81\xa6w", 0, "x?y?z?w", "sanitize: C1, bidi override and isolate become '?'" },
		{ "a\xff\xc3"
		  "b\xc3\xa9",
		  0, "a??b\xc3\xa9", "sanitize: stray bytes become '?', valid UTF-8 kept" },
		{ "0123456", 1, "0123456", "sanitize: exact fit, no ellipsis" },
		{ "01234567", 1, "0123...", "sanitize: cut with ellipsis" },
		{ "ab\xc3\xa9\xc3\xa9\xc3\xa9", 1, "ab\xc3\xa9...", "sanitize: cut on a character boundary" },
		{ NULL, 0, "", "sanitize: NULL is empty" },
		{ "\r\nsecond", 0, "", "sanitize: empty first line" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].tiny)
			is_str(et_oauth_sanitize_text(cases[i].in, tiny, sizeof(tiny)), cases[i].want, cases[i].name);
		else
			is_str(et_oauth_sanitize_text(cases[i].in, out, sizeof(out)), cases[i].want, cases[i].name);
	}
}

static void test_scope(void)
{
	struct et_err err = {0};
	char *s = NULL, big[ET_OAUTH_SCOPE_MAX + 16];

	ok(et_oauth_scope(NULL, &s, &err) == 0 && s && strcmp(s, "openid profile") == 0, "scope: default");
	free(s);
	s = NULL;
	ok(et_oauth_scope("offline_access", &s, &err) == 0 && s && strcmp(s, "openid profile offline_access") == 0,
	   "scope: extra appended");
	free(s);
	s = NULL;
	ok(et_oauth_scope("  openid User.Read profile User.Read ", &s, &err) == 0 && s &&
		   strcmp(s, "openid profile User.Read") == 0,
	   "scope: duplicates and blanks dropped");
	free(s);
	s = NULL;
	ok(et_oauth_scope("a\"b", &s, &err) < 0 && strcmp(err.reason, "bad_argument") == 0 && !s,
	   "scope: a quote is refused");
	ok(et_oauth_scope("a\tb", &s, &err) < 0 && strcmp(err.reason, "bad_argument") == 0, "scope: a tab is refused");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(et_oauth_scope(big, &s, &err) < 0 && strcmp(err.reason, "bad_argument") == 0, "scope: too long refused");
	memset(big, 'x', ET_OAUTH_SCOPE_MAX - 10);
	big[ET_OAUTH_SCOPE_MAX - 10] = '\0';
	ok(et_oauth_scope(big, &s, &err) < 0 && strcmp(err.reason, "bad_argument") == 0,
	   "scope: too long once the base scope is added");
}

#define DEV_OK_FIELDS                                                                                                  \
	"\"device_code\":\"DCx-_y.z\",\"user_code\":\"ABCD-1234\",\"verification_uri\":"                               \
	"\"https://microsoft.com/devicelogin\",\"expires_in\":900"

static void device_parse_bad(const char *json, const char *name)
{
	struct et_device d;
	struct et_err err = {0};
	memset(&d, 0, sizeof(d));
	if (!ok(et_device_parse_response(json, strlen(json), &d, &err) < 0 && strcmp(err.reason, "idp_error") == 0,
		"device answer refused: %s", name))
		printf("#   reason '%s': %s\n", err.reason, err.message);
	ok(d.device_code == NULL, "device answer refused: %s: nothing returned", name);
}

static void test_device_parse(void)
{
	struct et_device d;
	struct et_err err = {0};
	char buf[12000], longs[ET_DEVICE_CODE_MAX + 2];
	const char *j;

	j = "{" DEV_OK_FIELDS ",\"interval\":7,\"message\":\"To sign in, open it.\\r\\nSecond line\","
	    "\"verification_uri_complete\":\"https://microsoft.com/devicelogin?code=ABCD\",\"extra\":[1]}";
	memset(&d, 0, sizeof(d));
	ok(et_device_parse_response(j, strlen(j), &d, &err) == 0, "device answer: accepted");
	is_str(d.device_code, "DCx-_y.z", "device answer: device_code");
	is_str(d.user_code, "ABCD-1234", "device answer: user_code");
	is_str(d.verification_uri, "https://microsoft.com/devicelogin", "device answer: verification_uri");
	is_str(d.verification_uri_complete, "https://microsoft.com/devicelogin?code=ABCD",
	       "device answer: verification_uri_complete");
	is_str(d.message, "To sign in, open it.", "device answer: message, first line only");
	is_int(d.expires_in, 900, "device answer: expires_in");
	is_int(d.interval, 7, "device answer: interval");
	et_device_free(&d);
	ok(d.device_code == NULL && d.user_code == NULL, "device free: zeroed");

	j = "{" DEV_OK_FIELDS "}";
	ok(et_device_parse_response(j, strlen(j), &d, &err) == 0 && d.interval == 5 && !d.message &&
		   !d.verification_uri_complete,
	   "device answer: no interval means 5 s, optional fields NULL");
	et_device_free(&d);
	j = "{" DEV_OK_FIELDS ",\"interval\":0,\"message\":null}";
	ok(et_device_parse_response(j, strlen(j), &d, &err) == 0 && d.interval == 1 && !d.message,
	   "device answer: interval 0 becomes 1 s; null message is absent");
	et_device_free(&d);
	j = "{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_url\":\"https://example.com/device\","
	    "\"expires_in\":\"900\"}";
	device_parse_bad(j, "expires_in as a string");
	j = "{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_url\":\"https://example.com/device\","
	    "\"expires_in\":60}";
	ok(et_device_parse_response(j, strlen(j), &d, &err) == 0 &&
		   strcmp(d.verification_uri, "https://example.com/device") == 0,
	   "device answer: verification_url accepted as the URI");
	et_device_free(&d);
	j = "{" DEV_OK_FIELDS ",\"message\":\"code is DCx-_y.z here\"}";
	ok(et_device_parse_response(j, strlen(j), &d, &err) == 0 && d.message == NULL,
	   "device answer: a message repeating the device code is dropped");
	et_device_free(&d);

	device_parse_bad("not json", "not JSON");
	device_parse_bad("[1]", "an array");
	device_parse_bad("{" DEV_OK_FIELDS ",\"interval\":5,\"interval\":6}", "duplicate member");
	device_parse_bad("{\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\",\"expires_in\":9}",
			 "no device_code");
	device_parse_bad("{\"device_code\":7,\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\","
			 "\"expires_in\":9}",
			 "device_code a number");
	device_parse_bad("{\"device_code\":\"\",\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\","
			 "\"expires_in\":9}",
			 "device_code empty");
	device_parse_bad("{\"device_code\":\"a b\",\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\","
			 "\"expires_in\":9}",
			 "device_code with a space");
	device_parse_bad("{\"device_code\":\"a\\u0000b\",\"user_code\":\"U\",\"verification_uri\":"
			 "\"https://a.example/\",\"expires_in\":9}",
			 "device_code with a NUL");
	memset(longs, 'D', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	snprintf(buf, sizeof(buf),
		 "{\"device_code\":\"%s\",\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\","
		 "\"expires_in\":9}",
		 longs);
	device_parse_bad(buf, "device_code too long");
	device_parse_bad("{\"device_code\":\"D\",\"verification_uri\":\"https://a.example/\",\"expires_in\":9}",
			 "no user_code");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\","
			 "\"verification_uri\":\"https://a.example/\",\"expires_in\":9}",
			 "user_code of 33 characters");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"AB\\nCD\",\"verification_uri\":\"https://a.example/\","
			 "\"expires_in\":9}",
			 "user_code with a newline");
	device_parse_bad(
		"{\"device_code\":\"D\",\"user_code\":\"AB\xc3\xa9\",\"verification_uri\":\"https://a.example/\","
		"\"expires_in\":9}",
		"user_code not ASCII");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\" AB\",\"verification_uri\":\"https://a.example/\","
			 "\"expires_in\":9}",
			 "user_code with a leading space");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"expires_in\":9}", "no verification_uri");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"http://a.example/\","
			 "\"expires_in\":9}",
			 "verification_uri over http");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"https://a.example/x y\","
			 "\"expires_in\":9}",
			 "verification_uri with a space");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"https:///path\","
			 "\"expires_in\":9}",
			 "verification_uri without a host");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":[\"https://a.example/\"],"
			 "\"expires_in\":9}",
			 "verification_uri an array");
	memset(longs, 'a', ET_VERIFICATION_URI_MAX);
	longs[ET_VERIFICATION_URI_MAX] = '\0';
	snprintf(buf, sizeof(buf),
		 "{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"https://%s\",\"expires_in\":9}",
		 longs);
	device_parse_bad(buf, "verification_uri too long");
	device_parse_bad("{" DEV_OK_FIELDS ",\"verification_uri_complete\":\"http://a.example/?c=1\"}",
			 "verification_uri_complete over http");
	device_parse_bad("{" DEV_OK_FIELDS ",\"verification_uri_complete\":5}", "verification_uri_complete a number");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\"}",
			 "no expires_in");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\","
			 "\"expires_in\":0}",
			 "expires_in 0");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\","
			 "\"expires_in\":86401}",
			 "expires_in over a day");
	device_parse_bad("{\"device_code\":\"D\",\"user_code\":\"U\",\"verification_uri\":\"https://a.example/\","
			 "\"expires_in\":900.5}",
			 "expires_in a fraction");
	device_parse_bad("{" DEV_OK_FIELDS ",\"interval\":-1}", "interval negative");
	device_parse_bad("{" DEV_OK_FIELDS ",\"interval\":301}", "interval over 300 s");
	device_parse_bad("{" DEV_OK_FIELDS ",\"interval\":\"5\"}", "interval a string");
	device_parse_bad("{" DEV_OK_FIELDS ",\"message\":{}}", "message an object");
}

static void token_case(enum et_flow_kind kind, long status, const char *body, const char *secret,
		       enum et_poll_result want, const char *want_reason, const char *name)
{
	struct et_err err = {0};
	char *tok = NULL;
	enum et_poll_result r =
		et_token_response_parse(kind, status, body, body ? strlen(body) : 0, secret, &tok, &err);
	if (want_reason) {
		if (!ok(r == ET_POLL_FAILED && strcmp(err.reason, want_reason) == 0 && !tok, "token answer: %s → %s",
			name, want_reason))
			printf("#   got %d reason '%s': %s\n", r, err.reason, err.message);
		keep_msg(&err);
	} else if (!ok(r == want && (want != ET_POLL_OK || (tok && strcmp(tok, ID_TOKEN) == 0)), "token answer: %s",
		       name)) {
		printf("#   got %d reason '%s': %s\n", r, err.reason, err.message);
	}
	et_oauth_secret_free(tok);
}

static void token_message(long status, const char *body, const char *secret, const char *want_in, const char *not_in,
			  const char *name)
{
	struct et_err err = {0};
	char *tok = NULL;
	et_token_response_parse(ET_FLOW_PASSWORD, status, body, strlen(body), secret, &tok, &err);
	if (!ok((!want_in || strstr(err.message, want_in)) && (!not_in || !strstr(err.message, not_in)),
		"token answer message: %s", name))
		printf("#   message: %s\n", err.message);
	et_oauth_secret_free(tok);
}

static void test_token_parse(void)
{
	const enum et_flow_kind D = ET_FLOW_DEVICE_CODE, P = ET_FLOW_PASSWORD;
	char big[ET_JWS_MAX_BYTES + 200];

	token_case(P, 200, "{\"token_type\":\"Bearer\",\"id_token\":\"" ID_TOKEN "\",\"access_token\":\"x\"}", NULL,
		   ET_POLL_OK, NULL, "200 with an id_token");
	token_case(D, 200, "{\"id_token\":\"" ID_TOKEN "\"}", NULL, ET_POLL_OK, NULL, "200 without token_type");
	token_case(D, 400, "{\"error\":\"authorization_pending\"}", NULL, ET_POLL_PENDING, NULL, "pending");
	token_case(D, 400, "{\"error\":\"slow_down\"}", NULL, ET_POLL_SLOW_DOWN, NULL, "slow_down");

	token_case(P, 200, "{\"token_type\":\"Bearer\",\"access_token\":\"x\"}", NULL, 0, "idp_error",
		   "200 without an id_token");
	token_case(P, 200, "{\"id_token\":42}", NULL, 0, "idp_error", "200 with a numeric id_token");
	token_case(P, 200, "{\"id_token\":\"a.b\"}", NULL, 0, "idp_error", "id_token with two segments");
	token_case(P, 200, "{\"id_token\":\"a.b.c.d\"}", NULL, 0, "idp_error", "id_token with four segments");
	token_case(P, 200, "{\"id_token\":\"a+b.c.d\"}", NULL, 0, "idp_error", "id_token not base64url");
	token_case(P, 200, "{\"id_token\":\".b.c\"}", NULL, 0, "idp_error", "id_token with an empty header");
	memset(big, 'A', sizeof(big));
	memcpy(big, "{\"id_token\":\"a.b.", 17);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	token_case(P, 200, big, NULL, 0, "idp_error", "id_token over 16 KiB");
	token_case(P, 200, "{\"token_type\":\"MAC\",\"id_token\":\"" ID_TOKEN "\"}", NULL, 0, "idp_error",
		   "token_type MAC");
	token_case(P, 200, "<html>ok</html>", NULL, 0, "idp_error", "200 not JSON");
	token_case(P, 200, "[]", NULL, 0, "idp_error", "200 an array");
	token_case(P, 201, "{\"id_token\":\"" ID_TOKEN "\"}", NULL, 0, "idp_error", "201");
	token_case(P, 302, "{}", NULL, 0, "idp_error", "302");
	token_case(P, 503, "{\"error\":\"invalid_grant\"}", NULL, 0, "idp_unavailable", "503 whatever the body");
	token_case(D, 502, "<html>bad gateway</html>", NULL, 0, "idp_unavailable", "502 HTML");
	token_case(P, 429, "", NULL, 0, "idp_unavailable", "429");
	token_case(D, 400, "<html>no</html>", NULL, 0, "idp_error", "400 not JSON");
	token_case(D, 400, "{\"error_description\":\"x\"}", NULL, 0, "idp_error", "400 without error");
	token_case(D, 400, "{\"error\":7}", NULL, 0, "idp_error", "error not a string");
	token_case(D, 400, "{\"error\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		   NULL, 0, "idp_error", "error code too long");
	token_case(D, 400, "{\"error\":\"bad\\u001bcode\"}", NULL, 0, "idp_error", "error code with a control");
	token_case(P, 400, "{\"error\":\"authorization_pending\"}", NULL, 0, "idp_error",
		   "pending means nothing to the password grant");
	token_case(P, 400, "{\"error\":\"slow_down\"}", NULL, 0, "idp_error",
		   "slow_down means nothing to the password grant");
	token_case(D, 400, "{\"error\":\"authorization_declined\"}", NULL, 0, "declined", "authorization_declined");
	token_case(D, 400, "{\"error\":\"access_denied\"}", NULL, 0, "declined", "access_denied");
	token_case(D, 400, "{\"error\":\"expired_token\"}", NULL, 0, "code_expired", "expired_token");
	token_case(D, 400, "{\"error\":\"bad_verification_code\"}", NULL, 0, "bad_verification_code",
		   "bad_verification_code");
	token_case(D, 400, "{\"error\":\"invalid_grant\"}", NULL, 0, "auth_failed", "invalid_grant (device)");
	token_case(P, 400, "{\"error\":\"invalid_grant\",\"error_codes\":[50126]}", NULL, 0, "auth_failed",
		   "invalid_grant (password)");
	token_case(P, 400, "{\"error\":\"interaction_required\",\"error_codes\":[50076]}", NULL, 0, "mfa_required",
		   "interaction_required");
	token_case(P, 400, "{\"error\":\"invalid_grant\",\"error_codes\":[50079]}", NULL, 0, "mfa_required",
		   "invalid_grant with AADSTS50079");
	token_case(P, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50076: MFA\"}", NULL, 0,
		   "mfa_required", "invalid_grant with AADSTS50076 in the description");
	token_case(P, 401, "{\"error\":\"invalid_client\",\"error_codes\":[7000218]}", NULL, 0, "client_not_allowed",
		   "invalid_client");
	token_case(D, 400, "{\"error\":\"unauthorized_client\"}", NULL, 0, "client_not_allowed", "unauthorized_client");
	token_case(P, 400, "{\"error\":\"temporarily_unavailable\"}", NULL, 0, "idp_unavailable",
		   "temporarily_unavailable");
	token_case(P, 400, "{\"error\":\"server_error\"}", NULL, 0, "idp_unavailable", "server_error");
	token_case(P, 400, "{\"error\":\"invalid_scope\"}", NULL, 0, "idp_error", "invalid_scope");
	token_case(P, 400, "{\"error\":\"invalid_grant\",\"error_description\":5}", NULL, 0, "auth_failed",
		   "numeric description ignored");

	token_message(400,
		      "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS50126: Error validating "
		      "credentials.\\r\\nTrace ID: 1234\\r\\nTimestamp: now\"}",
		      NULL, "AADSTS50126: Error validating credentials.", "Trace ID", "first line of the description");
	token_message(400, "{\"error\":\"invalid_grant\",\"error_description\":\"bad\\u001b[2Jthing\\u0007\"}", NULL,
		      "bad?[2Jthing?", "\x1b", "control characters become '?'");
	token_message(400, "{\"error\":\"invalid_grant\",\"error_description\":\"the pass hunter2XY is wrong\"}",
		      "hunter2XY", "withheld", "hunter2XY", "a description repeating the pass is withheld");
	token_message(400, "{\"error\":\"invalid_grant\",\"error_description\":\"hunter\\u00072XY\"}", "hunter2XY",
		      "withheld", "hunter2XY", "a pass split by a control character is still withheld");
	{
		static const char head[] = "{\"error\":\"invalid_grant\",\"error_description\":\"";
		memset(big, 'w', 2000);
		memcpy(big, head, sizeof(head) - 1);
		memcpy(big + 1990, "\"}", 3);
	}
	{
		struct et_err err = {0};
		char *tok = NULL;
		et_token_response_parse(P, 400, big, strlen(big), NULL, &tok, &err);
		ok(strlen(err.message) < 250 && strstr(err.message, "..."),
		   "token answer message: long description bounded");
	}
}

/* ---- the mock ---- */

/* A string member of a JSON answer (copied into a static buffer). */
static const char *json_str(const char *text, const char *key)
{
	static char val[4096];
	json_object *doc = NULL;
	struct et_err err = {0};
	const char *v;

	val[0] = '\0';
	if (et_json_parse(text, strlen(text), 8, &doc, &err) < 0)
		return NULL;
	v = et_json_get_string(doc, key);
	if (v)
		snprintf(val, sizeof(val), "%s", v);
	json_object_put(doc);
	return v ? val : NULL;
}

static void mock_up(void)
{
	mu_ctl("up", "{}");
}

/* Verify an ID token with the core verifier, for the configured test user. */
static bool token_verifies(const char *tok, const char *user)
{
	struct et_keystore ks;
	struct et_verify_opts o = {.now = time(NULL), .expect_user = user, .record_pin = false};
	struct et_verdict v;
	bool good;

	et_keystore_init(&ks, &cfg);
	memset(&v, 0, sizeof(v));
	et_token_verify(&ks, tok, strlen(tok), &o, &v);
	good = v.accept;
	if (!good)
		printf("#   verifier: %s: %s\n", v.why.reason, v.why.message);
	et_verdict_free(&v);
	et_keystore_free(&ks);
	return good;
}

static bool start_device(struct et_device *d, const char *name)
{
	struct et_err err = {0};
	memset(d, 0, sizeof(*d));
	if (!ok(et_device_start(&cfg, &oidc, NULL, d, &err) == 0, "%s: device sign-in starts", name)) {
		printf("#   %s: %s\n", err.reason, err.message);
		return false;
	}
	keep_secret(d->device_code);
	return true;
}

static bool is_reason(int r, const struct et_err *err, const char *want, const char *name)
{
	keep_msg(err);
	if (!ok(r < 0 && strcmp(err->reason, want) == 0, "%s: %s", name, want)) {
		printf("#   got %d reason '%s': %s\n", r, err->reason, err->message);
		return false;
	}
	tap_diag("  %s", err->message);
	return true;
}

/* Every poll after the first went out no sooner than the interval in force after the previous
 * answer. */
static bool spacing_ok(const struct et_device *d, unsigned from, long long *min_slack_ms)
{
	bool good = true;
	long long slack = 1LL << 40;
	for (unsigned k = from + 1; k < d->polls && k < ET_DEVICE_POLL_RECORDS; k++) {
		long long gap = ms_between(&d->poll_log[k].sent, &d->poll_log[k - 1].answered);
		long long s = gap - d->poll_log[k - 1].interval_after * 1000LL;
		if (s < slack)
			slack = s;
		if (s < 0)
			good = false;
	}
	if (min_slack_ms)
		*min_slack_ms = slack;
	return good;
}

/* et_device_wait with a deadline secs seconds away; t0 and t1 (when not NULL) get the
 * times just before and just after. */
static int wait_device(struct et_device *d, int secs, char **tok, struct et_err *err, struct timespec *t0,
		       struct timespec *t1)
{
	struct et_device_wait_opts w = {.deadline = et_deadline_in(secs)};
	struct timespec before = mono();
	int r = et_device_wait(&cfg, &oidc, d, &w, tok, err);
	if (t0)
		*t0 = before;
	if (t1)
		*t1 = mono();
	return r;
}

/* A fault set with `mockctl action json`, then wait_device; the mock is up again after it. */
static int wait_device_after(const char *action, const char *json, struct et_device *d, int secs, char **tok,
			     struct et_err *err, struct timespec *t0, struct timespec *t1)
{
	int r;
	mu_ctl(action, json);
	r = wait_device(d, secs, tok, err, t0, t1);
	mock_up();
	return r;
}

static void signed_in(int r, const char *tok, const struct et_err *err, const char *name)
{
	if (!ok(r == 0 && tok, "%s", name))
		printf("#   %s: %s\n", err->reason, err->message);
}

struct cancel_state {
	const struct et_device *d;
	int calls;
};

/* Stop 300 ms after the first poll's answer: the loop is asleep then (interval 1 s). */
static bool cancel_while_sleeping(void *data)
{
	struct cancel_state *cs = data;
	struct timespec now = mono();
	cs->calls++;
	return cs->d->polls >= 1 && ms_between(&now, &cs->d->last_answered) >= 300;
}

struct approver {
	char user_code[64];
	const char *action; /* device/approve or device/decline */
	long delay_ms;
};

static void *approve_later(void *arg)
{
	struct approver *a = arg;
	struct timespec ts = {.tv_sec = a->delay_ms / 1000, .tv_nsec = (a->delay_ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	if (strcmp(a->action, "device/approve") == 0)
		mu_ctlf(a->action, "{\"user_code\":\"%s\",\"upn\":\"alice@contoso.com\"}", a->user_code);
	else
		mu_ctlf(a->action, "{\"user_code\":\"%s\"}", a->user_code);
	return NULL;
}

/* A thread that does action (device/approve or device/decline) to d's code after delay_ms. */
static void act_later(pthread_t *th, struct approver *ap, const struct et_device *d, const char *action,
		      long delay_ms)
{
	snprintf(ap->user_code, sizeof(ap->user_code), "%s", d->user_code);
	ap->action = action;
	ap->delay_ms = delay_ms;
	pthread_create(th, NULL, approve_later, ap);
}

static void test_device_flow(void)
{
	struct et_device d;
	struct et_device_wait_opts w;
	struct et_err err = {0};
	struct timespec t0, t1;
	char *tok = NULL;
	pthread_t th;
	struct approver ap;
	long long slack = 0, before;
	int r;

	ok(mu_try_ctl("config", "{\"interval\":1}") == 0, "mock: poll interval 1 s");

	/* approve while the loop polls */
	if (start_device(&d, "approve")) {
		ok(strlen(d.user_code) == 9, "approve: Entra-shaped user code");
		ok(strncmp(d.verification_uri, getenv("ET_MOCK_BASE"), strlen(getenv("ET_MOCK_BASE"))) == 0 &&
			   strstr(d.verification_uri, "/devicelogin"),
		   "approve: verification URI");
		ok(d.message && strstr(d.message, d.user_code), "approve: message names the user code");
		is_int(d.interval, 1, "approve: interval from the answer");
		is_int(d.expires_in, 900, "approve: expires_in from the answer");
		mu_ctl("stats/reset", "{}");
		act_later(&th, &ap, &d, "device/approve", 1500);
		r = wait_device(&d, 20, &tok, &err, &t0, &t1);
		pthread_join(th, NULL);
		signed_in(r, tok, &err, "approve: signed in");
		ok(tok && token_verifies(tok, "alice"), "approve: the ID token passes the verifier for alice");
		ok(d.polls >= 2 && d.polls <= 4, "approve: %u polls over %lld ms", d.polls, ms_between(&t1, &t0));
		ok(ms_between(&d.poll_log[0].sent, &t0) < 50, "approve: first poll right away (%lld ms after the call)",
		   ms_between(&d.poll_log[0].sent, &t0));
		ok(spacing_ok(&d, 0, &slack), "approve: no poll earlier than the interval allows (min slack %lld ms)",
		   slack);
		ok(slack < 200, "approve: and no later than needed (min slack %lld ms)", slack);
		is_int(mu_mock_stat("token"), d.polls, "approve: the mock saw exactly the polls counted");
		et_oauth_secret_free(tok);
		tok = NULL;

		/* the code was consumed */
		r = et_device_poll(&cfg, &oidc, &d, &tok, &err) == ET_POLL_FAILED ? -1 : 0;
		is_reason(r, &err, "bad_verification_code", "redeemed code polled again");
		et_device_free(&d);
	}

	/* declined while the loop polls */
	if (start_device(&d, "decline")) {
		act_later(&th, &ap, &d, "device/decline", 1200);
		r = wait_device(&d, 20, &tok, &err, &t0, &t1);
		pthread_join(th, NULL);
		is_reason(r, &err, "declined", "decline");
		ok(!tok, "decline: no token");
		ok(ms_between(&t1, &t0) < 3000, "decline: ends at the next poll (%lld ms)", ms_between(&t1, &t0));
		et_device_free(&d);
	}

	/* expired at the IdP */
	if (start_device(&d, "expire")) {
		mu_ctlf("device/expire", "{\"user_code\":\"%s\"}", d.user_code);
		r = wait_device(&d, 20, &tok, &err, NULL, NULL);
		is_reason(r, &err, "code_expired", "expired code");
		is_int(d.polls, 1, "expired code: one poll");
		et_device_free(&d);
	}

	/* a code the IdP never issued */
	if (start_device(&d, "bad code")) {
		char *fake = strdup(d.device_code);
		fake[0] = fake[0] == 'A' ? 'B' : 'A';
		et_oauth_secret_free(d.device_code);
		d.device_code = fake;
		keep_secret(fake);
		r = wait_device(&d, 20, &tok, &err, NULL, NULL);
		is_reason(r, &err, "bad_verification_code", "unknown device code");
		et_device_free(&d);
	}

	/* slow_down from the real mock: polled too fast by hand, twice: +5 s each time */
	if (start_device(&d, "slow_down cumulative")) {
		enum et_poll_result p1 = et_device_poll(&cfg, &oidc, &d, &tok, &err);
		enum et_poll_result p2 = et_device_poll(&cfg, &oidc, &d, &tok, &err);
		long after2 = d.interval;
		enum et_poll_result p3 = et_device_poll(&cfg, &oidc, &d, &tok, &err);
		ok(p1 == ET_POLL_PENDING, "slow_down cumulative: first poll pending");
		ok(p2 == ET_POLL_SLOW_DOWN && after2 == 6, "slow_down cumulative: second poll slow_down, interval 1+5");
		ok(p3 == ET_POLL_SLOW_DOWN && d.interval == 11,
		   "slow_down cumulative: third poll slow_down, interval 1+5+5");
		is_int(d.poll_log[2].interval_after, 11, "slow_down cumulative: recorded per poll");
		et_device_free(&d);
	}

	/* slow_down honoured by the loop: after it, the next poll waits the grown interval, and
	 * the mock (which would answer slow_down again if it came early) hands out the token. */
	if (start_device(&d, "slow_down honoured")) {
		et_device_poll(&cfg, &oidc, &d, &tok, &err);
		ok(et_device_poll(&cfg, &oidc, &d, &tok, &err) == ET_POLL_SLOW_DOWN && d.interval == 6,
		   "slow_down honoured: provoked, interval now 6 s");
		mu_ctlf("device/approve", "{\"user_code\":\"%s\",\"upn\":\"alice@contoso.com\"}", d.user_code);
		r = wait_device(&d, 20, &tok, &err, NULL, NULL);
		signed_in(r, tok, &err, "slow_down honoured: signed in");
		is_int(d.polls, 3, "slow_down honoured: one poll after the slow_down, not answered slow_down");
		ok(d.polls >= 3 && ms_between(&d.poll_log[2].sent, &d.poll_log[1].answered) >= 6000,
		   "slow_down honoured: next poll %lld ms after the slow_down answer (>= 6000)",
		   d.polls >= 3 ? ms_between(&d.poll_log[2].sent, &d.poll_log[1].answered) : -1);
		et_oauth_secret_free(tok);
		tok = NULL;
		et_device_free(&d);
	}

	/* the local deadline */
	if (start_device(&d, "deadline")) {
		w = (struct et_device_wait_opts){.deadline = et_deadline_in(2)};
		w.deadline.tv_nsec += 500000000L;
		if (w.deadline.tv_nsec >= 1000000000L) {
			w.deadline.tv_sec++;
			w.deadline.tv_nsec -= 1000000000L;
		}
		t0 = mono();
		r = et_device_wait(&cfg, &oidc, &d, &w, &tok, &err);
		t1 = mono();
		is_reason(r, &err, "deadline", "deadline 2.5 s");
		ok(ms_between(&t1, &t0) <= 2600, "deadline: stopped in %lld ms (<= 2600)", ms_between(&t1, &t0));
		ok(d.polls >= 2 && d.polls <= 3, "deadline: %u polls at 1 s spacing", d.polls);
		ok(ms_between(&w.deadline, &d.last_answered) < 1000 + 100,
		   "deadline: ended when no further poll fitted before it");
		et_device_free(&d);
	}

	/* the deadline holds when the IdP hangs mid-request */
	if (start_device(&d, "deadline, slow IdP")) {
		r = wait_device_after("latency", "{\"seconds\":8,\"endpoints\":[\"token\"]}", &d, 2, &tok, &err, &t0,
				      &t1);
		is_reason(r, &err, "deadline", "deadline, slow IdP");
		ok(ms_between(&t1, &t0) <= 2700, "deadline, slow IdP: the request was cut off (%lld ms, <= 2700)",
		   ms_between(&t1, &t0));
		et_device_free(&d);
	}

	/* cancel */
	if (start_device(&d, "cancel")) {
		struct cancel_state cs = {&d, 0};
		w = (struct et_device_wait_opts){
			.deadline = et_deadline_in(20), .cancel = cancel_while_sleeping, .cancel_data = &cs};
		r = et_device_wait(&cfg, &oidc, &d, &w, &tok, &err);
		t1 = mono();
		is_reason(r, &err, "cancelled", "cancel callback");
		is_int(d.polls, 1, "cancel: after the first poll");
		ok(ms_between(&t1, &d.last_answered) >= 300 && ms_between(&t1, &d.last_answered) < 300 + 250,
		   "cancel: noticed while sleeping, within one check period (%lld ms after the poll)",
		   ms_between(&t1, &d.last_answered));
		ok(cs.calls >= 3, "cancel: the callback ran during the sleep (%d calls)", cs.calls);
		et_device_free(&d);
	}

	/* no deadline */
	if (start_device(&d, "no deadline")) {
		memset(&w, 0, sizeof(w));
		r = et_device_wait(&cfg, &oidc, &d, &w, &tok, &err);
		is_reason(r, &err, "bad_argument", "wait without a deadline");
		r = et_device_wait(&cfg, &oidc, &d, NULL, &tok, &err);
		is_reason(r, &err, "bad_argument", "wait without options");
		is_int(d.polls, 0, "no deadline: nothing polled");
		et_device_free(&d);
	}

	/* 5xx three times in a row */
	if (start_device(&d, "5xx")) {
		r = wait_device_after("fail", "{\"status\":503,\"count\":-1,\"endpoints\":[\"token\"]}", &d, 20, &tok,
				      &err, &t0, &t1);
		is_reason(r, &err, "idp_unavailable", "503 three times");
		is_int(d.polls, 3, "503: three polls, then stop");
		ok(spacing_ok(&d, 0, NULL), "503: failed polls keep the interval");
		ok(ms_between(&t1, &t0) < 3500, "503: ended in %lld ms", ms_between(&t1, &t0));
		et_device_free(&d);
	}

	/* two 5xx, then the IdP is back: only consecutive failures count */
	if (start_device(&d, "5xx twice")) {
		mu_ctlf("device/approve", "{\"user_code\":\"%s\",\"upn\":\"alice@contoso.com\"}", d.user_code);
		r = wait_device_after("fail", "{\"status\":502,\"count\":2,\"endpoints\":[\"token\"]}", &d, 20, &tok,
				      &err, NULL, NULL);
		signed_in(r, tok, &err, "502 twice, then signed in");
		is_int(d.polls, 3, "502 twice: third poll succeeds");
		et_oauth_secret_free(tok);
		tok = NULL;
		et_device_free(&d);
	}

	/* non-JSON */
	if (start_device(&d, "non-JSON")) {
		r = wait_device_after("fail",
				      "{\"status\":400,\"count\":1,\"endpoints\":[\"token\"],\"body\":\"<html>proxy says no</html>\","
				      "\"content_type\":\"text/html\"}",
				      &d, 20, &tok, &err, NULL, NULL);
		is_reason(r, &err, "idp_error", "non-JSON answer");
		is_int(d.polls, 1, "non-JSON: stops at once");
		et_device_free(&d);
	}

	/* connections reset */
	if (start_device(&d, "down")) {
		mu_ctl("down", "{\"mode\":\"reset\"}");
		r = wait_device(&d, 20, &tok, &err, &t0, &t1);
		is_reason(r, &err, "idp_unavailable", "IdP down while polling");
		is_int(d.polls, 3, "down: three polls");
		ok(ms_between(&t1, &t0) < 3500, "down: ended in %lld ms", ms_between(&t1, &t0));
		et_device_free(&d);
		memset(&d, 0, sizeof(d));
		t0 = mono();
		r = et_device_start(&cfg, &oidc, NULL, &d, &err);
		t1 = mono();
		is_reason(r, &err, "idp_unavailable", "IdP down at start");
		ok(ms_between(&t1, &t0) <= cfg.http_timeout * 1000, "down at start: within http_timeout (%lld ms)",
		   ms_between(&t1, &t0));
		ok(d.device_code == NULL, "down at start: nothing returned");
		mock_up();
	}

	/* the device authorization endpoint fails */
	mu_ctl("fail", "{\"status\":503,\"count\":1,\"endpoints\":[\"devicecode\"]}");
	memset(&d, 0, sizeof(d));
	r = et_device_start(&cfg, &oidc, NULL, &d, &err);
	is_reason(r, &err, "idp_unavailable", "devicecode answers 503");
	mu_ctl("fail",
		"{\"status\":400,\"count\":1,\"endpoints\":[\"devicecode\"],\"body\":\"oops\",\"content_type\":\"text/"
		"plain\"}");
	r = et_device_start(&cfg, &oidc, NULL, &d, &err);
	is_reason(r, &err, "idp_error", "devicecode answers non-JSON");
	mock_up();
	{
		static char other_client[] = "00000000-0000-0000-0000-00000000beef";
		struct et_config other = cfg;
		other.client_id = other_client;
		r = et_device_start(&other, &oidc, NULL, &d, &err);
		is_reason(r, &err, "client_not_allowed", "devicecode for an unknown client");
		ok(strstr(err.message, "unauthorized_client") != NULL, "unknown client: the OAuth error is named");
	}
	r = et_device_start(&cfg, &oidc, "bad\"scope", &d, &err);
	is_reason(r, &err, "bad_argument", "devicecode with a bad scope");

	/* a code that expires locally before the deadline */
	ok(mu_try_ctl("config", "{\"device_code_lifetime\":2}") == 0, "mock: device codes live 2 s");
	if (start_device(&d, "short-lived code")) {
		is_int(d.expires_in, 2, "short-lived code: expires_in 2");
		r = wait_device(&d, 20, &tok, &err, &t0, &t1);
		is_reason(r, &err, "code_expired", "short-lived code");
		ok(ms_between(&t1, &t0) < 2600, "short-lived code: ended in %lld ms", ms_between(&t1, &t0));
		et_device_free(&d);
	}
	mu_ctl("config", "{\"device_code_lifetime\":900}");

	/* nothing listening at all */
	if (start_device(&d, "refused")) {
		static char closed_port[] = "https://127.0.0.1:1/" TENANT "/oauth2/v2.0/token";
		struct et_oidc gone = oidc;
		gone.token_endpoint = closed_port;
		w = (struct et_device_wait_opts){.deadline = et_deadline_in(20)};
		r = et_device_wait(&cfg, &gone, &d, &w, &tok, &err);
		is_reason(r, &err, "idp_unavailable", "connection refused");
		et_device_free(&d);
	}
	before = mu_mock_stat("token");
	ok(before >= 0, "mock stats readable");
}

static const char *new_tap(const char *upn, const char *extra)
{
	static char tap[4096];
	char *out;
	const char *t;
	tap[0] = '\0';
	out = mu_mockctl("tap", mu_str_of("{\"upn\":\"%s\"%s}", upn, extra));
	if (!out)
		return NULL;
	t = json_str(out, "tap");
	free(out);
	if (!t)
		return NULL;
	snprintf(tap, sizeof(tap), "%s", t);
	keep_secret(tap);
	return tap;
}

static void password_case(const char *user, const char *pass, const char *want_reason, const char *want_text,
			  const char *name)
{
	struct et_err err = {0};
	char *tok = NULL;
	int r;

	if (!pass) {
		ok(0, "%s: no pass from the mock", name);
		return;
	}
	r = et_password_flow(&cfg, &oidc, user, pass, NULL, &tok, &err);
	if (!want_reason) {
		if (!ok(r == 0 && tok, "%s: signed in", name))
			printf("#   %s: %s\n", err.reason, err.message);
		ok(tok && token_verifies(tok, "alice"), "%s: the ID token passes the verifier", name);
		et_oauth_secret_free(tok);
		return;
	}
	is_reason(r, &err, want_reason, name);
	ok(!tok, "%s: no token", name);
	ok(!strstr(err.message, pass), "%s: the pass is not in the sentence", name);
	if (want_text && !ok(strstr(err.message, want_text) != NULL, "%s: the sentence says \"%s\"", name, want_text))
		printf("#   message: %s\n", err.message);
}

static void test_password_flow(void)
{
	struct et_err err = {0};
	struct timespec t0, t1;
	char *tok = NULL, longpass[ET_OAUTH_PASSWORD_MAX + 2];
	const char *tap;
	int r;

	tap = new_tap("alice@contoso.com", ",\"one_time\":false");
	password_case("alice@contoso.com", tap, NULL, NULL, "multi-use TAP");
	password_case("alice@contoso.com", tap, NULL, NULL, "multi-use TAP again");
	password_case("alice@contoso.com", "Wr0ngPass99", "auth_failed", "AADSTS50126", "wrong pass");
	keep_secret("Wr0ngPass99");

	tap = new_tap("alice@contoso.com", ",\"one_time\":true");
	password_case("alice@contoso.com", tap, NULL, NULL, "one-time TAP");
	password_case("alice@contoso.com", tap, "auth_failed", "used", "one-time TAP reused");

	tap = new_tap("alice@contoso.com", ",\"one_time\":false");
	ok(mu_try_ctl("tap/expire", "{\"upn\":\"alice@contoso.com\"}") == 0, "mock: alice's passes expired");
	password_case("alice@contoso.com", tap, "auth_failed", "expired", "expired TAP");

	tap = new_tap("alice@contoso.com", ",\"start_in_seconds\":600");
	password_case("alice@contoso.com", tap, "auth_failed", "not yet valid", "TAP not yet valid");

	ok(mu_try_ctl("users", "{\"upn\":\"carol@contoso.com\",\"mfa_required\":true}") == 0,
	   "mock: carol needs MFA");
	tap = new_tap("carol@contoso.com", "");
	password_case("carol@contoso.com", tap, "mfa_required", "AADSTS50076", "MFA required");

	password_case("nobody@contoso.com", "Whatever123", "auth_failed", "AADSTS50034", "unknown user");
	keep_secret("Whatever123");
	/* the mock repeats the user name in its answer: a pass inside it must not come through */
	password_case("Leak3dPass@contoso.com", "Leak3dPass", "auth_failed", "withheld", "IdP text repeating the pass");
	keep_secret("Leak3dPass");
	secret_in_username[nsecrets - 1] = true;

	tap = new_tap("alice@contoso.com", ",\"one_time\":false");
	ok(mu_try_ctl("config", "{\"password_grant\":false}") == 0, "mock: password grant disabled");
	password_case("alice@contoso.com", tap, "client_not_allowed", "AADSTS7000218", "password grant disabled");
	mu_ctl("config", "{\"password_grant\":true}");

	mu_ctl("fail", "{\"status\":500,\"count\":1,\"endpoints\":[\"token\"]}");
	password_case("alice@contoso.com", tap, "idp_unavailable", "500", "token endpoint 500");
	mu_ctl("fail",
		"{\"status\":400,\"count\":1,\"endpoints\":[\"token\"],\"body\":\"<h1>no</"
		"h1>\",\"content_type\":\"text/html\"}");
	password_case("alice@contoso.com", tap, "idp_error", "not JSON", "token endpoint non-JSON");
	mu_ctl("down", "{\"mode\":\"close\"}");
	password_case("alice@contoso.com", tap, "idp_unavailable", NULL, "IdP closes the connection");
	mock_up();

	/* a timeout: the IdP answers after http_timeout */
	mu_ctl("latency", "{\"seconds\":4,\"endpoints\":[\"token\"]}");
	{
		long saved = cfg.http_timeout;
		cfg.http_timeout = 1;
		t0 = mono();
		r = et_password_flow(&cfg, &oidc, "alice@contoso.com", tap, NULL, &tok, &err);
		t1 = mono();
		cfg.http_timeout = saved;
	}
	mock_up();
	is_reason(r, &err, "idp_unavailable", "IdP slower than http_timeout");
	ok(ms_between(&t1, &t0) < 1500, "timeout: gave up in %lld ms (http_timeout 1 s)", ms_between(&t1, &t0));

	password_case("alice@contoso.com", tap, NULL, NULL, "TAP works again after the faults");

	/* caller errors */
	r = et_password_flow(&cfg, &oidc, "alice@contoso.com", "", NULL, &tok, &err);
	is_reason(r, &err, "bad_argument", "empty pass");
	r = et_password_flow(&cfg, &oidc, "", "x", NULL, &tok, &err);
	is_reason(r, &err, "bad_argument", "empty user name");
	r = et_password_flow(&cfg, &oidc, "alice@contoso.com\nX", "x", NULL, &tok, &err);
	is_reason(r, &err, "bad_argument", "user name with a newline");
	memset(longpass, 'p', sizeof(longpass) - 1);
	longpass[sizeof(longpass) - 1] = '\0';
	r = et_password_flow(&cfg, &oidc, "alice@contoso.com", longpass, NULL, &tok, &err);
	is_reason(r, &err, "bad_argument", "pass over 256 bytes");
	ok(!strstr(err.message, "ppppppppp"), "long pass: not echoed");
	r = et_password_flow(&cfg, &oidc, "alice@contoso.com", "x", "a\\b", &tok, &err);
	is_reason(r, &err, "bad_argument", "bad scope");
	ok(tok == NULL, "caller errors: no token");
}

static void test_no_secret_leaked(void)
{
	size_t leaks_msg = 0, leaks_log = 0;
	for (size_t i = 0; i < nsecrets; i++) {
		if (!secrets[i] || !*secrets[i])
			continue;
		if (strstr(msgbuf, secrets[i]))
			leaks_msg++;
		if (!secret_in_username[i] && strstr(logbuf, secrets[i]))
			leaks_log++;
	}
	ok(nsecrets >= 10, "secrets tracked: %zu (passes and device codes)", nsecrets);
	ok(msglen > 1000, "error sentences collected: %zu bytes", msglen);
	ok(loglen > 100, "log lines collected: %zu bytes", loglen);
	is_int(leaks_msg, 0, "no pass or device code in any error sentence");
	is_int(leaks_log, 0, "no pass or device code in any log line");
	ok(!strstr(logbuf, "device_code=") && !strstr(logbuf, "password="), "no form body in the log");
	for (size_t i = 0; i < nsecrets; i++)
		free(secrets[i]);
}

int main(void)
{
	struct et_err err = {0};
	const char *conf = getenv("ET_MOCK_CONFIG");

	setvbuf(stdout, NULL, _IOLBF, 0);
	test_sanitize();
	test_scope();
	test_device_parse();
	test_token_parse();

	if (!ok(conf && getenv("ET_MOCKCTL"), "the mock Entra ID is running (ET_MOCK_CONFIG, ET_MOCKCTL)"))
		return tap_done();
	if (!ok(et_config_init(&cfg) == 0 && et_config_load(&cfg, conf, &err) == 0, "mock config loads"))
		printf("#   %s\n", err.message);
	cfg.log = (struct et_logger){.fn = log_sink, .data = NULL, .debug = 1};
	if (!ok(et_oidc_discover(&cfg, &oidc, &err) == 0, "discovery")) {
		printf("#   %s: %s\n", err.reason, err.message);
		return tap_done();
	}
	test_device_flow();
	test_password_flow();
	test_no_secret_leaked();
	et_oidc_free(&oidc);
	et_config_free(&cfg);
	return tap_done();
}
