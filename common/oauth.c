/* SPDX-License-Identifier: Apache-2.0 */
/* OAuth 2.0 device authorization flow (RFC 8628) and password flow against Entra's token
 * endpoint.
 *
 * Everything the identity provider says is checked before it is used: answers are parsed
 * with the strict JSON parser, every field we keep is type-, size- and character-checked, and
 * its prose (error_description, message) is reduced to one bounded line without control
 * characters before it can reach a prompt, a log or an error sentence.
 *
 * The polling loop runs inside sshd and sudo: it sleeps with clock_nanosleep on the monotonic
 * clock, never with alarm() or signals, and never outlives the caller's deadline by more than
 * a second. */
#include "conf.h"
#include "oauth.h"
#include "http.h"
#include "jws.h"
#include "json_strict.h"
#include "clock.h"
#include "text.h"
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEVICE_GRANT_TYPE "urn:ietf:params:oauth:grant-type:device_code"
/* RFC 6749 error codes are short ASCII words; anything longer is not one. */
#define OAUTH_ERROR_CODE_MAX 64

/* ---- time ---- */

static struct timespec ts_add_ms(struct timespec t, long long ms)
{
	t.tv_sec += (time_t)(ms / 1000);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/* a - b in milliseconds (negative when a is earlier). */
static long long ts_diff_ms(const struct timespec *a, const struct timespec *b)
{
	return (long long)(a->tv_sec - b->tv_sec) * 1000LL + (a->tv_nsec - b->tv_nsec) / 1000000L;
}

struct timespec et_deadline_in(long seconds)
{
	return ts_add_ms(et_mono_now(), (long long)seconds * 1000LL);
}

/* ---- small helpers ---- */

void et_oauth_secret_free(char *secret)
{
	if (!secret)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

/* json-c keeps string values in its own buffers and frees them unwiped: clear the ones that
 * hold credentials before the object is released. */
static void json_wipe_member(json_object *obj, const char *key)
{
	json_object *m = NULL;
	if (obj && json_object_is_type(obj, json_type_object) && json_object_object_get_ex(obj, key, &m) &&
	    json_object_is_type(m, json_type_string)) {
		/* json-c hands out its own buffer as const; writing zeros into it before the
		 * object is freed is safe, and the only way to wipe it. */
		char *s = (char *)(uintptr_t)json_object_get_string(m);
		int n = json_object_get_string_len(m);
		if (s && n > 0)
			explicit_bzero(s, (size_t)n);
	}
}

static void json_put_wiped(json_object *obj)
{
	if (!obj)
		return;
	json_wipe_member(obj, "id_token");
	json_wipe_member(obj, "access_token");
	json_wipe_member(obj, "refresh_token");
	json_wipe_member(obj, "device_code");
	json_object_put(obj);
}

/* A string member: NULL when absent or null (*present false), else it must be a string
 * without embedded NULs (*present true, return NULL on a wrong type). */
static const char *json_string_member(json_object *obj, const char *key, bool *present, bool *bad)
{
	json_object *m = NULL;
	*present = false;
	*bad = false;
	if (!json_object_object_get_ex(obj, key, &m) || json_object_is_type(m, json_type_null))
		return NULL;
	*present = true;
	if (!json_object_is_type(m, json_type_string)) {
		*bad = true;
		return NULL;
	}
	{
		const char *s = json_object_get_string(m);
		int n = json_object_get_string_len(m);
		if (!s || n < 0 || strlen(s) != (size_t)n) {
			*bad = true;
			return NULL;
		}
		return s;
	}
}

static bool chars_in(const char *s, unsigned char lo, unsigned char hi)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < lo || *p > hi)
			return false;
	return true;
}

/* A compact JWS: three base64url segments, the first two non-empty. */
static bool compact_jws_ok(const char *t, size_t len)
{
	int dots = 0;
	size_t seg = 0;
	if (len < 5 || len > ET_JWS_MAX_BYTES)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c == '.') {
			if (seg == 0 || ++dots > 2)
				return false;
			seg = 0;
			continue;
		}
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_'))
			return false;
		seg++;
	}
	return dots == 2;
}

/* ---- untrusted text ---- */

char *et_oauth_sanitize_text(const char *in, char *out, size_t outsz)
{
	const char *s = in ? in : "";
	unsigned flags;
	size_t o;

	if (!out || outsz == 0)
		return out;
	/* the first line only; on it, the rule of et_text_sanitize */
	o = et_text_sanitize_n(s, strcspn(s, "\r\n"), out, outsz, &flags);
	if ((flags & ET_TEXT_CUT) && outsz >= 4) {
		/* Back off whole characters until "..." fits. */
		while (o > 0 && o + 3 > outsz - 1) {
			o--;
			while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80)
				o--;
		}
		memcpy(out + o, "...", 3);
		o += 3;
	}
	/* No trailing blanks: the sentence around it ends the line. */
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return out;
}

/* ---- scope ---- */

static bool scope_token_char(unsigned char c)
{
	/* RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E */
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* Is the token [tok, tok+len) already a space-separated word of s? */
static bool scope_has(const char *s, const char *tok, size_t len)
{
	const char *p = s;
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == len && memcmp(p, tok, len) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

int et_oauth_scope(const char *extra, char **ret_scope, struct et_err *err)
{
	char buf[ET_OAUTH_SCOPE_MAX + 1];
	size_t len;
	const char *p;
	char *copy;

	snprintf(buf, sizeof(buf), "%s", ET_OAUTH_BASE_SCOPE);
	len = strlen(buf);
	p = extra ? extra : "";
	if (strlen(p) > ET_OAUTH_SCOPE_MAX)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "The requested scope is longer than %d characters.",
				  ET_OAUTH_SCOPE_MAX);
	while (*p) {
		const char *tok;
		size_t n = 0;
		if (*p == ' ') {
			p++;
			continue;
		}
		tok = p;
		while (p[n] && p[n] != ' ') {
			if (!scope_token_char((unsigned char)p[n]))
				return et_err_set(
					err, ET_E_BAD_ARGUMENT,
					"The requested scope has a character outside RFC 6749's scope tokens.");
			n++;
		}
		p += n;
		if (scope_has(buf, tok, n))
			continue;
		if (len + 1 + n > ET_OAUTH_SCOPE_MAX)
			return et_err_set(err, ET_E_BAD_ARGUMENT, "The requested scope is longer than %d characters.",
					  ET_OAUTH_SCOPE_MAX);
		buf[len++] = ' ';
		memcpy(buf + len, tok, n);
		len += n;
		buf[len] = '\0';
	}
	copy = strdup(buf);
	if (!copy)
		return et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
	*ret_scope = copy;
	return 0;
}

/* ---- form bodies (may carry a credential: one allocation, wiped by the caller) ---- */

static bool form_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~';
}

struct form_field {
	const char *name;  /* unreserved characters only */
	const char *value; /* escaped here */
};

/* Build name=value&... into one exactly-sized buffer; *ret_size is what to wipe. */
static int form_build(const struct form_field *f, size_t n, char **ret_form, size_t *ret_size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t total = 1;
	char *buf, *o;

	for (size_t i = 0; i < n; i++) {
		total += strlen(f[i].name) + 2;
		for (const unsigned char *p = (const unsigned char *)f[i].value; *p; p++)
			total += form_unreserved(*p) ? 1 : 3;
	}
	buf = malloc(total);
	if (!buf)
		return -1;
	o = buf;
	for (size_t i = 0; i < n; i++) {
		size_t nl = strlen(f[i].name);
		if (i)
			*o++ = '&';
		memcpy(o, f[i].name, nl);
		o += nl;
		*o++ = '=';
		for (const unsigned char *p = (const unsigned char *)f[i].value; *p; p++) {
			if (form_unreserved(*p)) {
				*o++ = (char)*p;
			} else {
				*o++ = '%';
				*o++ = hex[*p >> 4];
				*o++ = hex[*p & 0xf];
			}
		}
	}
	*o = '\0';
	*ret_form = buf;
	*ret_size = total;
	return 0;
}

static void form_free(char *form, size_t size)
{
	if (form) {
		explicit_bzero(form, size);
		free(form);
	}
}

/* ---- answers ---- */

/* A failed HTTP exchange: only an oversized answer or a refused URL is the IdP's fault in a
 * way retrying cannot help; everything else (connect, TLS, timeout) is unavailability. */
static int http_failure(const struct et_err *herr, const char *what, struct et_err *err)
{
	enum et_reason code = ET_E_IDP_UNAVAILABLE;
	if (herr->code == ET_E_HTTP_TOO_LARGE || herr->code == ET_E_HTTP_SCHEME)
		code = ET_E_IDP_ERROR;
	return et_err_set(err, code, "%s: %s", what, herr->message);
}

static bool int_array_has(json_object *arr, long long v)
{
	size_t n;
	if (!arr || !json_object_is_type(arr, json_type_array))
		return false;
	n = json_object_array_length(arr);
	for (size_t i = 0; i < n && i < 64; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		if (e && json_object_is_type(e, json_type_int) && json_object_get_int64(e) == v)
			return true;
	}
	return false;
}

/* Entra's MFA demands: AADSTS50076 (MFA required by policy), AADSTS50079 (MFA registration
 * required). Either in error_codes or as the description's prefix. */
static bool entra_mfa_required(json_object *doc, const char *desc)
{
	json_object *codes = NULL;
	if (json_object_object_get_ex(doc, "error_codes", &codes) &&
	    (int_array_has(codes, 50076) || int_array_has(codes, 50079)))
		return true;
	return desc && (strncmp(desc, "AADSTS50076:", 12) == 0 || strncmp(desc, "AADSTS50079:", 12) == 0);
}

/* Turn an OAuth error answer into a poll result or a failure with its reason. */
static enum et_poll_result classify_oauth_error(enum et_flow_kind kind, long status, json_object *doc,
						const char *secret, struct et_err *err)
{
	char desc_clean[ET_OAUTH_IDP_TEXT_MAX], desc_bare[ET_OAUTH_IDP_TEXT_MAX];
	char code_clean[OAUTH_ERROR_CODE_MAX + 1];
	char detail[ET_OAUTH_IDP_TEXT_MAX + 8];
	const char *code, *desc;
	bool present, bad;

	code = json_string_member(doc, "error", &present, &bad);
	if (!code) {
		et_err_set(err, ET_E_IDP_ERROR,
			   "The identity provider answered HTTP %ld without an OAuth \"error\" string.", status);
		return ET_POLL_FAILED;
	}
	if (strlen(code) > OAUTH_ERROR_CODE_MAX || !chars_in(code, 0x20, 0x7e) || strchr(code, '"') ||
	    strchr(code, '\\')) {
		et_err_set(err, ET_E_IDP_ERROR,
			   "The identity provider answered HTTP %ld with a malformed OAuth error code.", status);
		return ET_POLL_FAILED;
	}
	snprintf(code_clean, sizeof(code_clean), "%s", code);

	if (kind == ET_FLOW_DEVICE_CODE) {
		if (strcmp(code, "authorization_pending") == 0)
			return ET_POLL_PENDING;
		if (strcmp(code, "slow_down") == 0)
			return ET_POLL_SLOW_DOWN;
	}

	/* The description, only when it cannot carry the credential we sent. */
	desc = json_string_member(doc, "error_description", &present, &bad);
	desc_clean[0] = '\0';
	if (desc) {
		et_oauth_sanitize_text(desc, desc_clean, sizeof(desc_clean));
		/* without the characters the display replaces: a pass split by one is still found */
		et_text_strip(desc, desc_bare, sizeof(desc_bare));
		if (secret && *secret && (strstr(desc, secret) || strstr(desc_clean, secret) || strstr(desc_bare, secret)))
			snprintf(desc_clean, sizeof(desc_clean), "(description withheld: it repeats the credential)");
	}
	if (secret && *secret && strstr(code_clean, secret))
		snprintf(code_clean, sizeof(code_clean), "(withheld)");
	if (desc_clean[0])
		snprintf(detail, sizeof(detail), ": %s", desc_clean);
	else
		snprintf(detail, sizeof(detail), ".");

	if (kind == ET_FLOW_DEVICE_CODE) {
		if (strcmp(code, "authorization_declined") == 0 || strcmp(code, "access_denied") == 0) {
			et_err_set(err, ET_E_DECLINED, "The sign-in was declined at the identity provider.");
			return ET_POLL_FAILED;
		}
		if (strcmp(code, "expired_token") == 0) {
			et_err_set(err, ET_E_CODE_EXPIRED, "The sign-in code expired before the sign-in was completed.");
			return ET_POLL_FAILED;
		}
		if (strcmp(code, "bad_verification_code") == 0) {
			et_err_set(err, ET_E_BAD_VERIFICATION_CODE,
				   "The identity provider does not know this sign-in code (bad_verification_code)%s",
				   detail);
			return ET_POLL_FAILED;
		}
	}
	if (strcmp(code, "interaction_required") == 0 || entra_mfa_required(doc, desc)) {
		et_err_set(err, ET_E_MFA_REQUIRED,
			   "The identity provider requires multi-factor authentication, which this sign-in cannot "
			   "provide (%s)%s",
			   code_clean, detail);
		return ET_POLL_FAILED;
	}
	if (strcmp(code, "invalid_grant") == 0) {
		et_err_set(err, ET_E_AUTH_FAILED, "The identity provider refused the sign-in (invalid_grant)%s", detail);
		return ET_POLL_FAILED;
	}
	if (strcmp(code, "invalid_client") == 0 || strcmp(code, "unauthorized_client") == 0) {
		et_err_set(err, ET_E_CLIENT_NOT_ALLOWED,
			   "The identity provider does not allow this application to sign in this way (%s)%s",
			   code_clean, detail);
		return ET_POLL_FAILED;
	}
	if (strcmp(code, "temporarily_unavailable") == 0 || strcmp(code, "server_error") == 0) {
		et_err_set(err, ET_E_IDP_UNAVAILABLE, "The identity provider is unavailable (%s)%s", code_clean, detail);
		return ET_POLL_FAILED;
	}
	et_err_set(err, ET_E_IDP_ERROR, "The identity provider answered with an unexpected error (%s)%s", code_clean,
		   detail);
	return ET_POLL_FAILED;
}

/* An access token is opaque to us (it is for Graph, not for this host): only its shape as a
 * bearer token68 and its size are checked, so it can go into an Authorization header. */
static bool access_token_ok(const char *t)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)t; *p; p++, n++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '.' || *p == '_' || *p == '~' || *p == '+' || *p == '/' || *p == '='))
			return false;
	return n > 0 && n <= ET_ACCESS_TOKEN_MAX;
}

static enum et_poll_result token_response_parse(enum et_flow_kind kind, long status, const char *body, size_t len,
						const char *secret, char **ret_id_token, char **ret_access_token,
						struct et_err *err);

enum et_poll_result et_token_response_parse(enum et_flow_kind kind, long status, const char *body, size_t len,
					    const char *secret, char **ret_id_token, struct et_err *err)
{
	return token_response_parse(kind, status, body, len, secret, ret_id_token, NULL, err);
}

enum et_poll_result et_token_response_parse_tokens(enum et_flow_kind kind, long status, const char *body, size_t len,
						   const char *secret, char **ret_id_token, char **ret_access_token,
						   struct et_err *err)
{
	return token_response_parse(kind, status, body, len, secret, ret_id_token, ret_access_token, err);
}

static enum et_poll_result token_response_parse(enum et_flow_kind kind, long status, const char *body, size_t len,
						const char *secret, char **ret_id_token, char **ret_access_token,
						struct et_err *err)
{
	struct et_err jerr = {0};
	json_object *doc = NULL;
	enum et_poll_result r = ET_POLL_FAILED;

	if (status >= 500 || status == 429) {
		et_err_set(err, ET_E_IDP_UNAVAILABLE, "The identity provider is unavailable: it answered HTTP %ld.",
			   status);
		return ET_POLL_FAILED;
	}
	if (!body || et_json_parse(body, len, ET_JSON_MAX_DEPTH, &doc, &jerr) < 0) {
		et_err_set(err, ET_E_IDP_ERROR, "The identity provider answered HTTP %ld with a body that is not JSON.",
			   status);
		goto done;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		et_err_set(err, ET_E_IDP_ERROR, "The identity provider answered HTTP %ld with JSON that is not an object.",
			   status);
		goto done;
	}
	if (status == 200) {
		const char *tok, *type;
		bool present, bad;
		char *copy;

		type = json_string_member(doc, "token_type", &present, &bad);
		if (bad || (type && strcasecmp(type, "Bearer") != 0)) {
			et_err_set(err, ET_E_IDP_ERROR, "The token endpoint answered a token_type other than Bearer.");
			goto done;
		}
		tok = json_string_member(doc, "id_token", &present, &bad);
		if (!tok) {
			et_err_set(err, ET_E_IDP_ERROR, "The token endpoint answered without %s id_token.",
				   present ? "a string" : "an");
			goto done;
		}
		if (!compact_jws_ok(tok, strlen(tok))) {
			et_err_set(err, ET_E_IDP_ERROR,
				   "The token endpoint answered an id_token that is not a compact JWS of at most %d "
				   "bytes.",
				   ET_JWS_MAX_BYTES);
			goto done;
		}
		if (ret_access_token) {
			/* optional: without it, nothing that needs Graph can be done (callers deny) */
			const char *at = json_string_member(doc, "access_token", &present, &bad);
			*ret_access_token = NULL;
			if (bad || (at && !access_token_ok(at))) {
				et_err_set(err, ET_E_IDP_ERROR,
					   "The token endpoint answered an access_token that is not a bearer token of at "
					   "most %d bytes.",
					   ET_ACCESS_TOKEN_MAX);
				goto done;
			}
			if (at) {
				*ret_access_token = strdup(at);
				if (!*ret_access_token) {
					et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
					goto done;
				}
			}
		}
		copy = strdup(tok);
		if (!copy) {
			if (ret_access_token) {
				et_oauth_secret_free(*ret_access_token);
				*ret_access_token = NULL;
			}
			et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
			goto done;
		}
		*ret_id_token = copy;
		r = ET_POLL_OK;
		goto done;
	}
	if (status < 400) {
		et_err_set(err, ET_E_IDP_ERROR, "The identity provider answered HTTP %ld.", status);
		goto done;
	}
	r = classify_oauth_error(kind, status, doc, secret, err);
done:
	json_put_wiped(doc);
	return r;
}

/* ---- device authorization ---- */

void et_device_free(struct et_device *dev)
{
	if (!dev)
		return;
	et_oauth_secret_free(dev->device_code);
	free(dev->user_code);
	free(dev->verification_uri);
	free(dev->verification_uri_complete);
	free(dev->message);
	explicit_bzero(dev, sizeof(*dev));
}

static int dup_into(char **dst, const char *s, struct et_err *err)
{
	*dst = strdup(s);
	if (!*dst)
		return et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
	return 0;
}

/* An integer member: absent/null → *present false; wrong type → -1. */
static int int_member(json_object *doc, const char *key, bool *present, long long *ret)
{
	json_object *m = NULL;
	*present = false;
	if (!json_object_object_get_ex(doc, key, &m) || json_object_is_type(m, json_type_null))
		return 0;
	*present = true;
	if (!json_object_is_type(m, json_type_int))
		return -1;
	*ret = json_object_get_int64(m);
	return 0;
}

int et_device_parse_response(const char *body, size_t len, struct et_device *ret, struct et_err *err)
{
	struct et_err jerr = {0};
	struct et_device d = {0};
	json_object *doc = NULL;
	const char *s, *uri_key = "verification_uri";
	bool present, bad;
	long long v;
	int r = -1;

	if (!body || et_json_parse(body, len, ET_JSON_MAX_DEPTH, &doc, &jerr) < 0) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer is not JSON.");
		goto done;
	}
	if (!json_object_is_type(doc, json_type_object)) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer is not a JSON object.");
		goto done;
	}

	s = json_string_member(doc, "device_code", &present, &bad);
	if (!s || !*s) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer has no device_code string.");
		goto done;
	}
	if (strlen(s) > ET_DEVICE_CODE_MAX || !chars_in(s, 0x21, 0x7e)) {
		et_err_set(
			err, ET_E_IDP_ERROR,
			"The device authorization answer has a device_code that is too long or not printable ASCII.");
		goto done;
	}
	if (dup_into(&d.device_code, s, err) < 0)
		goto done;

	s = json_string_member(doc, "user_code", &present, &bad);
	if (!s || !*s) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer has no user_code string.");
		goto done;
	}
	if (strlen(s) > ET_USER_CODE_MAX || !chars_in(s, 0x20, 0x7e) || s[0] == ' ' || s[strlen(s) - 1] == ' ') {
		et_err_set(err, ET_E_IDP_ERROR,
			   "The device authorization answer has a user_code that is longer than %d characters or not "
			   "printable ASCII.",
			   ET_USER_CODE_MAX);
		goto done;
	}
	if (dup_into(&d.user_code, s, err) < 0)
		goto done;

	/* RFC 8628 and Entra's v2 endpoint say verification_uri; older drafts (and Entra's v1
	 * endpoint) say verification_url. */
	s = json_string_member(doc, "verification_uri", &present, &bad);
	if (!present) {
		uri_key = "verification_url";
		s = json_string_member(doc, "verification_url", &present, &bad);
	}
	if (!s) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer has no verification_uri string.");
		goto done;
	}
	if (!et_https_url_ok(s, ET_VERIFICATION_URI_MAX)) {
		et_err_set(
			err, ET_E_IDP_ERROR,
			"The device authorization answer's %s is not an https URL of at most %d printable characters.",
			uri_key, ET_VERIFICATION_URI_MAX);
		goto done;
	}
	if (dup_into(&d.verification_uri, s, err) < 0)
		goto done;

	s = json_string_member(doc, "verification_uri_complete", &present, &bad);
	if (bad || (s && !et_https_url_ok(s, ET_VERIFICATION_URI_MAX))) {
		et_err_set(err, ET_E_IDP_ERROR,
			   "The device authorization answer's verification_uri_complete is not an https URL of at most "
			   "%d printable characters.",
			   ET_VERIFICATION_URI_MAX);
		goto done;
	}
	if (s && dup_into(&d.verification_uri_complete, s, err) < 0)
		goto done;

	if (int_member(doc, "expires_in", &present, &v) < 0 || !present) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer has no integer expires_in.");
		goto done;
	}
	if (v < 1 || v > ET_DEVICE_EXPIRES_MAX) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer's expires_in %lld is not within 1..%ld.",
			   v, ET_DEVICE_EXPIRES_MAX);
		goto done;
	}
	d.expires_in = (long)v;

	if (int_member(doc, "interval", &present, &v) < 0) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer's interval is not an integer.");
		goto done;
	}
	if (!present) {
		d.interval = ET_DEVICE_INTERVAL_DEFAULT;
	} else if (v < 0 || v > ET_DEVICE_INTERVAL_MAX) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer's interval %lld is not within 0..%ld.", v,
			   ET_DEVICE_INTERVAL_MAX);
		goto done;
	} else {
		d.interval = v < 1 ? 1 : (long)v; /* never faster than once a second */
	}

	s = json_string_member(doc, "message", &present, &bad);
	if (bad) {
		et_err_set(err, ET_E_IDP_ERROR, "The device authorization answer's message is not a string.");
		goto done;
	}
	if (s) {
		d.message = malloc(ET_DEVICE_MESSAGE_MAX);
		if (!d.message) {
			et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
			goto done;
		}
		et_oauth_sanitize_text(s, d.message, ET_DEVICE_MESSAGE_MAX);
		/* Never repeat the secret to the person or the log, whatever the IdP wrote. */
		if (strstr(s, d.device_code) || strstr(d.message, d.device_code) || !d.message[0]) {
			free(d.message);
			d.message = NULL;
		}
	}

	*ret = d;
	memset(&d, 0, sizeof(d));
	r = 0;
done:
	et_device_free(&d);
	json_put_wiped(doc);
	return r;
}

int et_device_start(const struct et_config *cfg, const struct et_oidc *oidc, const char *scope, struct et_device *ret,
		    struct et_err *err)
{
	struct et_http_resp resp = {0};
	struct et_err herr = {0};
	struct et_device d = {0};
	char *full_scope = NULL, *form = NULL;
	size_t form_size = 0;
	int r = -1;

	if (!cfg || !cfg->client_id || !oidc || !oidc->device_authorization_endpoint || !ret)
		return et_err_set(err, ET_E_BAD_ARGUMENT,
				  "Device sign-in needs a client id and a device authorization endpoint.");
	if (et_oauth_scope(scope, &full_scope, err) < 0)
		return -1;
	{
		const struct form_field f[] = {{"client_id", cfg->client_id}, {"scope", full_scope}};
		if (form_build(f, 2, &form, &form_size) < 0) {
			et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
			goto done;
		}
	}
	if (et_http_post_form(cfg, oidc->device_authorization_endpoint, form, &resp, &herr) < 0) {
		http_failure(&herr, "Device sign-in could not start", err);
		goto done;
	}
	if (resp.status == 200) {
		if (et_device_parse_response(resp.body, resp.len, &d, err) < 0)
			goto done;
	} else {
		char *unused = NULL;
		enum et_poll_result pr = et_token_response_parse(ET_FLOW_DEVICE_CODE, resp.status, resp.body, resp.len,
								 NULL, &unused, err);
		et_oauth_secret_free(unused);
		if (pr != ET_POLL_FAILED)
			et_err_set(err, ET_E_IDP_ERROR,
				   "The device authorization endpoint answered HTTP %ld with a polling error.",
				   resp.status);
		goto done;
	}
	d.issued = et_mono_now();
	d.expires_at = ts_add_ms(d.issued, (long long)d.expires_in * 1000LL);
	et_log(&cfg->log, ET_LOG_DEBUG, "device sign-in started: code valid %ld s, poll interval %ld s", d.expires_in,
	       d.interval);
	*ret = d;
	memset(&d, 0, sizeof(d));
	r = 0;
done:
	if (r < 0)
		et_log(&cfg->log, ET_LOG_DEBUG, "device sign-in did not start: %s", err ? err->reason : "?");
	et_device_free(&d);
	form_free(form, form_size);
	free(full_scope);
	et_http_resp_free(&resp);
	return r;
}

static const char *poll_result_name(enum et_poll_result r)
{
	switch (r) {
	case ET_POLL_OK:
		return "signed in";
	case ET_POLL_PENDING:
		return "pending";
	case ET_POLL_SLOW_DOWN:
		return "slow_down";
	default:
		return "failed";
	}
}

static enum et_poll_result device_poll(const struct et_config *cfg, const struct et_oidc *oidc, struct et_device *dev,
				       char **ret_id_token, char **ret_access_token, struct et_err *err)
{
	struct et_http_resp resp = {0};
	struct et_err herr = {0};
	struct et_device_poll_rec rec = {0};
	enum et_poll_result r = ET_POLL_FAILED;
	char *form = NULL, *tok = NULL, *access = NULL;
	size_t form_size = 0;

	if (!cfg || !cfg->client_id || !oidc || !oidc->token_endpoint || !dev || !dev->device_code || !ret_id_token) {
		et_err_set(err, ET_E_BAD_ARGUMENT,
			   "Polling needs a client id, a token endpoint and a started device sign-in.");
		return ET_POLL_FAILED;
	}
	{
		const struct form_field f[] = {{"grant_type", DEVICE_GRANT_TYPE},
					       {"client_id", cfg->client_id},
					       {"device_code", dev->device_code}};
		if (form_build(f, 3, &form, &form_size) < 0) {
			et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
			return ET_POLL_FAILED;
		}
	}
	rec.sent = et_mono_now();
	if (et_http_post_form(cfg, oidc->token_endpoint, form, &resp, &herr) < 0)
		http_failure(&herr, "Polling the token endpoint failed", err);
	else
		r = token_response_parse(ET_FLOW_DEVICE_CODE, resp.status, resp.body, resp.len, dev->device_code,
					 &tok, ret_access_token ? &access : NULL, err);
	rec.answered = et_mono_now();

	if (r == ET_POLL_SLOW_DOWN && dev->interval <= ET_DEVICE_EXPIRES_MAX)
		dev->interval += ET_DEVICE_SLOW_DOWN_STEP;
	rec.interval_after = dev->interval;
	if (dev->polls < ET_DEVICE_POLL_RECORDS)
		dev->poll_log[dev->polls] = rec;
	if (dev->polls < UINT_MAX)
		dev->polls++;
	dev->last_answered = rec.answered;

	et_log(&cfg->log, ET_LOG_DEBUG, "device sign-in poll %u: %s%s%s (%lld ms)", dev->polls, poll_result_name(r),
	       r == ET_POLL_FAILED ? ", " : "", r == ET_POLL_FAILED && err ? err->reason : "",
	       ts_diff_ms(&rec.answered, &rec.sent));
	if (r == ET_POLL_OK) {
		*ret_id_token = tok;
		if (ret_access_token)
			*ret_access_token = access;
	}
	form_free(form, form_size);
	et_http_resp_free(&resp);
	return r;
}

enum et_poll_result et_device_poll(const struct et_config *cfg, const struct et_oidc *oidc, struct et_device *dev,
				   char **ret_id_token, struct et_err *err)
{
	return device_poll(cfg, oidc, dev, ret_id_token, NULL, err);
}

static bool cancel_requested(const struct et_device_wait_opts *o)
{
	return o->cancel && o->cancel(o->cancel_data);
}

/* Sleep until `when`, waking every ET_DEVICE_CANCEL_CHECK_MS to ask the cancel callback.
 * Returns true when cancelled. */
static bool sleep_until(const struct timespec *when, const struct et_device_wait_opts *o)
{
	for (;;) {
		struct timespec now = et_mono_now(), wake = *when;
		int rc;

		if (ts_cmp(&now, when) >= 0)
			return false;
		if (o->cancel) {
			struct timespec check = ts_add_ms(now, ET_DEVICE_CANCEL_CHECK_MS);
			if (ts_cmp(&check, &wake) < 0)
				wake = check;
		}
		do
			rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL);
		while (rc == EINTR);
		if (cancel_requested(o))
			return true;
	}
}

static int device_wait(const struct et_config *cfg, const struct et_oidc *oidc, struct et_device *dev,
		       const struct et_device_wait_opts *opts, char **ret_id_token, char **ret_access_token,
		       struct et_err *err)
{
	struct et_err last = {0};
	int unavailable = 0;

	if (!opts || (opts->deadline.tv_sec == 0 && opts->deadline.tv_nsec == 0))
		return et_err_set(err, ET_E_BAD_ARGUMENT, "Waiting for a device sign-in needs a deadline.");
	if (!cfg || !dev || !dev->device_code || !ret_id_token)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "Waiting needs a started device sign-in.");

	for (;;) {
		struct timespec now, next;
		struct et_config bounded;
		enum et_poll_result r;
		long long left_ms;
		char *tok = NULL;

		if (cancel_requested(opts))
			return et_err_set(err, ET_E_CANCELLED, "The device sign-in was cancelled after %u poll%s.",
					  dev->polls, dev->polls == 1 ? "" : "s");
		now = et_mono_now();
		next = now;
		if (dev->polls > 0) {
			struct timespec due = ts_add_ms(dev->last_answered, (long long)dev->interval * 1000LL);
			if (ts_cmp(&due, &now) > 0)
				next = due;
		}
		/* No poll can happen in time: say so now rather than sleep to the deadline. */
		if (ts_cmp(&next, &opts->deadline) >= 0)
			return et_err_set(
				err, ET_E_DEADLINE,
				"The device sign-in was not completed in time (%u poll%s before the deadline).",
				dev->polls, dev->polls == 1 ? "" : "s");
		if ((dev->expires_at.tv_sec || dev->expires_at.tv_nsec) && ts_cmp(&next, &dev->expires_at) >= 0)
			return et_err_set(err, ET_E_CODE_EXPIRED,
					  "The sign-in code expired before the sign-in was completed.");
		if (sleep_until(&next, opts))
			return et_err_set(err, ET_E_CANCELLED, "The device sign-in was cancelled after %u poll%s.",
					  dev->polls, dev->polls == 1 ? "" : "s");

		/* The request may not outlive the deadline by more than the timeout's granularity. */
		now = et_mono_now();
		left_ms = ts_diff_ms(&opts->deadline, &now);
		if (left_ms <= 0)
			return et_err_set(
				err, ET_E_DEADLINE,
				"The device sign-in was not completed in time (%u poll%s before the deadline).",
				dev->polls, dev->polls == 1 ? "" : "s");
		bounded = *cfg;
		if (bounded.http_timeout <= 0 || (long long)bounded.http_timeout * 1000LL > left_ms)
			bounded.http_timeout = (long)((left_ms + 999) / 1000);

		r = device_poll(&bounded, oidc, dev, &tok, ret_access_token, &last);
		switch (r) {
		case ET_POLL_OK:
			*ret_id_token = tok;
			return 0;
		case ET_POLL_PENDING:
		case ET_POLL_SLOW_DOWN:
			unavailable = 0;
			continue;
		case ET_POLL_FAILED:
		default:
			if (last.code == ET_E_IDP_UNAVAILABLE && ++unavailable < ET_DEVICE_MAX_UNAVAILABLE)
				continue;
			if (unavailable >= ET_DEVICE_MAX_UNAVAILABLE)
				return et_err_set(err, ET_E_IDP_UNAVAILABLE, "%d polls in a row failed. The last: %s",
						  unavailable, last.message);
			if (err)
				*err = last;
			return -1;
		}
	}
}

int et_device_wait(const struct et_config *cfg, const struct et_oidc *oidc, struct et_device *dev,
		   const struct et_device_wait_opts *opts, char **ret_id_token, struct et_err *err)
{
	return device_wait(cfg, oidc, dev, opts, ret_id_token, NULL, err);
}

int et_device_wait_tokens(const struct et_config *cfg, const struct et_oidc *oidc, struct et_device *dev,
			  const struct et_device_wait_opts *opts, char **ret_id_token, char **ret_access_token,
			  struct et_err *err)
{
	if (!ret_access_token)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "Waiting for tokens needs a place for the access token.");
	*ret_access_token = NULL;
	return device_wait(cfg, oidc, dev, opts, ret_id_token, ret_access_token, err);
}

/* ---- password flow ---- */

static int password_flow(const struct et_config *cfg, const struct et_oidc *oidc, const char *username,
			 const char *password, const char *scope, char **ret_id_token, char **ret_access_token,
			 struct et_err *err)
{
	struct et_http_resp resp = {0};
	struct et_err herr = {0};
	char *full_scope = NULL, *form = NULL, *tok = NULL;
	size_t form_size = 0, ulen, plen;
	int r = -1;

	if (!cfg || !cfg->client_id || !oidc || !oidc->token_endpoint || !ret_id_token)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "The password flow needs a client id and a token endpoint.");
	ulen = username ? strnlen(username, ET_OAUTH_USERNAME_MAX + 1) : 0;
	if (ulen == 0 || ulen > ET_OAUTH_USERNAME_MAX)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "The user name is empty or longer than %d bytes.",
				  ET_OAUTH_USERNAME_MAX);
	for (size_t i = 0; i < ulen; i++)
		if ((unsigned char)username[i] < 0x20 || username[i] == 0x7f)
			return et_err_set(err, ET_E_BAD_ARGUMENT, "The user name has a control character.");
	plen = password ? strnlen(password, ET_OAUTH_PASSWORD_MAX + 1) : 0;
	if (plen == 0 || plen > ET_OAUTH_PASSWORD_MAX)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "The pass is empty or longer than %d bytes.",
				  ET_OAUTH_PASSWORD_MAX);
	if (et_oauth_scope(scope, &full_scope, err) < 0)
		return -1;
	{
		const struct form_field f[] = {{"grant_type", "password"},
					       {"client_id", cfg->client_id},
					       {"username", username},
					       {"password", password},
					       {"scope", full_scope}};
		if (form_build(f, 5, &form, &form_size) < 0) {
			et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
			goto done;
		}
	}
	if (et_http_post_form(cfg, oidc->token_endpoint, form, &resp, &herr) < 0) {
		http_failure(&herr, "The token endpoint could not be reached", err);
		goto done;
	}
	if (token_response_parse(ET_FLOW_PASSWORD, resp.status, resp.body, resp.len, password, &tok, ret_access_token,
				 err) != ET_POLL_OK)
		goto done;
	*ret_id_token = tok;
	tok = NULL;
	r = 0;
done:
	et_log(&cfg->log, ET_LOG_DEBUG, "password flow for %.*s: %s", (int)ulen, username,
	       r == 0 ? "signed in" : (err ? err->reason : "failed"));
	et_oauth_secret_free(tok);
	form_free(form, form_size);
	free(full_scope);
	et_http_resp_free(&resp);
	return r;
}

int et_password_flow(const struct et_config *cfg, const struct et_oidc *oidc, const char *username,
		     const char *password, const char *scope, char **ret_id_token, struct et_err *err)
{
	return password_flow(cfg, oidc, username, password, scope, ret_id_token, NULL, err);
}

int et_password_flow_tokens(const struct et_config *cfg, const struct et_oidc *oidc, const char *username,
			    const char *password, const char *scope, char **ret_id_token, char **ret_access_token,
			    struct et_err *err)
{
	if (!ret_access_token)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "The password flow for tokens needs a place for the access token.");
	*ret_access_token = NULL;
	return password_flow(cfg, oidc, username, password, scope, ret_id_token, ret_access_token, err);
}
