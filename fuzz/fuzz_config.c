/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the configuration file parser (see fuzz/README.md). The input is the
 * text of the file, read through et_config_parse (what et_config_load runs after its file
 * checks). Besides crashes and sanitizer reports it checks:
 *   - a refusal names a reason and says where ("NAME:..." or "NAME: ...");
 *   - an accepted configuration keeps every value within the bounds pam_entra_tap.conf(5)
 *     documents, and meets the rules between keys;
 *   - what et_config_print writes for it is accepted again and prints the same, unless a
 *     printed line is longer than a file line may be (4096 bytes): "key = " and the derived
 *     discovery_url can make a value that fits in the file print longer than that. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "conf.h"
#include "identity.h"

#define NAME "fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_config: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static bool known_reason(const char *r)
{
	static const char *const reasons[] = { "config_syntax",	      "config_duplicate_key", "config_unknown_key",
					       "config_bad_value",    "config_missing_key",   "config_conflict",
					       "too_large",	      "no_memory" };
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(r, reasons[i]) == 0)
			return true;
	return false;
}

static bool name_chars(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isascii((unsigned char)*s) || !(isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static bool abs_path(const char *s)
{
	if (!s || s[0] != '/')
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool no_blank_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void check_range(const char *key, long v, long lo, long hi)
{
	if (v < lo || v > hi)
		fail("value out of its documented range", key);
}

/* No empty item, no item twice (ignoring case); lower case where the key stores it so. */
static void check_list(const char *key, const struct et_strlist *l, bool lower, bool (*item_ok)(const char *))
{
	for (size_t i = 0; i < l->n; i++) {
		if (!l->items[i] || !l->items[i][0] || !item_ok(l->items[i]))
			fail("bad list item", key);
		for (const char *p = l->items[i]; lower && *p; p++)
			if (isupper((unsigned char)*p))
				fail("list item not stored in lower case", key);
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(l->items[i], l->items[j]) == 0)
				fail("list item twice", key);
	}
}

static bool domain_ok(const char *s)
{
	return strlen(s) <= 253 && no_blank_or_control(s) && s[0] != '.' && s[0] != '-';
}

static bool guid_ok(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static bool role_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 256)
		return false;
	for (; *s; s++)
		if (!isascii((unsigned char)*s) ||
		    !(isalnum((unsigned char)*s) || *s == '.' || *s == '_' || *s == '-' || *s == ':'))
			return false;
	return true;
}

static bool local_name_ok(const char *s)
{
	return et_local_name_ok(s) != 0;
}

static void check_accepted(const struct et_config *c)
{
	size_t n;

	if (!c->path || strcmp(c->path, NAME) != 0)
		fail("path not kept", c->path);
	/* required keys and their value sets */
	if (!c->tenant_id || !name_chars(c->tenant_id, 64) || strcasecmp(c->tenant_id, "common") == 0 ||
	    strcasecmp(c->tenant_id, "organizations") == 0 || strcasecmp(c->tenant_id, "consumers") == 0)
		fail("bad tenant_id", c->tenant_id);
	if (!c->client_id || !name_chars(c->client_id, 128))
		fail("bad client_id", c->client_id);
	if (!c->elevated_group || !et_local_name_ok(c->elevated_group))
		fail("bad elevated_group", c->elevated_group);
	/* URLs: https, no trailing slash on the authority, no blanks or controls */
	if (!c->authority || strncmp(c->authority, "https://", 8) != 0 || !c->authority[8] ||
	    !no_blank_or_control(c->authority))
		fail("bad authority", c->authority);
	n = strlen(c->authority);
	if (c->authority[n - 1] == '/')
		fail("authority keeps a trailing slash", c->authority);
	if (!c->discovery_url || strncmp(c->discovery_url, "https://", 8) != 0 || !no_blank_or_control(c->discovery_url))
		fail("bad discovery_url", c->discovery_url);
	if (c->proxy && (!strstr(c->proxy, "://") || !no_blank_or_control(c->proxy)))
		fail("bad proxy", c->proxy);
	/* paths */
	if ((c->ca_file && !abs_path(c->ca_file)) || (c->jwks_file && !abs_path(c->jwks_file)) ||
	    !abs_path(c->jwks_cache_dir) || !abs_path(c->state_dir))
		fail("bad path", NULL);
	/* durations and counts, as documented */
	check_range("http_timeout", c->http_timeout, 1, 120);
	check_range("jwks_cache_ttl", c->jwks_cache_ttl, 60, 7 * 86400);
	check_range("clock_skew", c->clock_skew, 0, 600);
	check_range("duration_min", c->duration_min, 1, 30 * 86400);
	check_range("duration_max", c->duration_max, 1, 30 * 86400);
	check_range("duration_default", c->duration_default, c->duration_min, c->duration_max);
	check_range("device_code_timeout", c->device_code_timeout, 10, 900);
	check_range("tap_max_failures", c->tap_max_failures, 1, 100);
	check_range("tap_lockout", c->tap_lockout, 1, 86400);
	check_range("device_code_max_per_user", c->device_code_max_per_user, 1, 1000);
	check_range("device_code_max_per_rhost", c->device_code_max_per_rhost, 1, 10000);
	check_range("device_code_rate_window", c->device_code_rate_window, 10, 86400);
	/* enumerations */
	if (c->methods == 0 || (c->methods & ~(unsigned)(ET_METHOD_TAP | ET_METHOD_DEVICE_CODE | ET_METHOD_TOKEN)))
		fail("bad methods", NULL);
	if (c->identity_claim != ET_CLAIM_PREFERRED_USERNAME && c->identity_claim != ET_CLAIM_UPN)
		fail("bad identity_claim", NULL);
	if (c->user_map == ET_MAP_FILE) {
		if (!abs_path(c->user_map_file))
			fail("user_map = file: without an absolute path", c->user_map_file);
	} else if (c->user_map != ET_MAP_STRIP_DOMAIN) {
		fail("bad user_map", NULL);
	}
	/* lists */
	check_list("allowed_domains", &c->allowed_domains, true, domain_ok);
	check_list("eligible_groups", &c->eligible_groups, true, guid_ok);
	check_list("eligible_roles", &c->eligible_roles, false, role_ok);
	check_list("permanent_members", &c->permanent_members, false, local_name_ok);
	/* rules between keys */
	if (c->eligible_groups.n == 0 && c->eligible_roles.n == 0)
		fail("neither eligible_groups nor eligible_roles", NULL);
	if (c->user_map == ET_MAP_STRIP_DOMAIN && c->allowed_domains.n == 0)
		fail("strip_domain without allowed_domains", NULL);
	if (c->upn_format) {
		const char *f = c->upn_format, *u = strstr(f, "%u");
		if (strlen(f) > 200 || !u || strchr(u + 2, '%') || memchr(f, '%', (size_t)(u - f)) ||
		    !no_blank_or_control(f) || strchr(f, '/') || strchr(f, '\\'))
			fail("bad upn_format", f);
	}
}

#define FILE_LINE_MAX 4096 /* pam_entra_tap.conf(5) */

static bool lines_fit(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n > FILE_LINE_MAX)
			return false;
		p += n + 1;
	}
	return true;
}

/* et_config_print into a malloc'd string. */
static char *print(const struct et_config *c, size_t *ret_len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, ret_len);
	if (!f)
		abort();
	et_config_print(c, f);
	if (fclose(f) != 0)
		abort();
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct et_config cfg, again;
	struct et_err err;
	char *text = NULL, *text2 = NULL;
	size_t len = 0, len2 = 0;

	memset(&err, 0, sizeof(err));
	if (et_config_init(&cfg) < 0 || et_config_init(&again) < 0)
		abort();
	if (et_config_parse(&cfg, (const char *)data, size, NAME, &err) < 0) {
		if (!err.reason[0] || !err.message[0])
			fail("a refusal without a reason or a message", NULL);
		if (!known_reason(err.reason))
			fail("unexpected reason", err.reason);
		if (strcmp(err.reason, "no_memory") != 0 &&
		    (strncmp(err.message, NAME, strlen(NAME)) != 0 ||
		     (err.message[strlen(NAME)] != ':' && err.message[strlen(NAME)] != ' ')))
			fail("the message does not name the file", err.message);
		goto done;
	}
	check_accepted(&cfg);

	/* what check-config prints is a configuration that reads back the same */
	text = print(&cfg, &len);
	if (!lines_fit(text, len))
		goto done;
	if (et_config_parse(&again, text, len, NAME, &err) < 0) {
		fprintf(stderr, "%s\n", text);
		fail("the printed configuration is refused", err.message);
	}
	check_accepted(&again);
	text2 = print(&again, &len2);
	if (len != len2 || memcmp(text, text2, len) != 0) {
		fprintf(stderr, "first:\n%s\nsecond:\n%s\n", text, text2);
		fail("the printed configuration reads back differently", NULL);
	}
done:
	free(text2);
	free(text);
	et_config_free(&again);
	et_config_free(&cfg);
	return 0;
}
