/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration file and module arguments: one table, one parser.
 *
 * File syntax: `key = value` lines; blank lines and lines whose first non-blank character
 * is '#' are ignored. A '#' anywhere else is part of the value: there are no trailing
 * comments. Every value is validated, so a stray trailing comment shows up as a clear
 * "bad value" error rather than being silently dropped.
 *
 * To add a key: add a field to struct et_config and one row to `keys` below.
 */
#include "conf.h"
#include "fsutil.h"
#include "identity.h"
#include "b64url.h"
#include "voucher.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_BYTES 4096
#define DURATION_CAP (30L * 86400L)
#define WHY_MAX 224

struct et_key;
/* Parse value into cfg. 0 on success; PARSE_BAD with `why` filled; PARSE_NOMEM. */
typedef int (*key_parse_fn)(const struct et_key *k, struct et_config *cfg, const char *value, char *why);
typedef void (*key_print_fn)(const struct et_key *k, const struct et_config *cfg, FILE *out);
/* Validate one string or one list item; fill `why` on failure. */
typedef int (*value_check_fn)(const char *value, char *why);

enum { PARSE_OK = 0, PARSE_BAD = -1, PARSE_NOMEM = -2 };

enum field_kind { FIELD_OTHER = 0, FIELD_STRING, FIELD_LIST }; /* what et_config_free releases */

struct et_key {
	const char *name;
	enum field_kind kind;
	key_parse_fn parse;
	key_print_fn print;
	size_t offset;		   /* the field, for the generic parsers */
	const char *default_value; /* parsed by et_config_init; NULL: unset */
	value_check_fn check;	   /* strings and list items */
	long min, max;		   /* durations */
	bool required;		   /* a string that must be set by et_config_finish */
	bool empty_unsets;	   /* an empty value means "not set" */
	bool lowercase;		   /* store (list items) in lower case */
	const char *what;	   /* for list errors: "a list of ..." */
};

#define FIELD(cfg, k, type) ((type *)(void *)((char *)(cfg) + (k)->offset))
#define CFIELD(cfg, k, type) ((type const *)(const void *)((const char *)(cfg) + (k)->offset))

__attribute__((format(printf, 2, 3))) static int why_set(char *why, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, WHY_MAX, fmt, ap);
	va_end(ap);
	return PARSE_BAD;
}

/* ---- value checks ---- */

static bool is_name_char(int c)
{
	return isascii(c) && (isalnum(c) || c == '.' || c == '_' || c == '-');
}

static int check_id_chars(const char *v, size_t max, char *why)
{
	size_t n = strlen(v);
	if (n == 0 || n > max)
		return why_set(why, "must be 1 to %zu characters long", max);
	for (const char *p = v; *p; p++)
		if (!is_name_char((unsigned char)*p))
			return why_set(why, "may contain only letters, digits, '.', '_' and '-'");
	return 0;
}

static int check_tenant_id(const char *v, char *why)
{
	static const char *const aliases[] = { "common", "organizations", "consumers" };
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcasecmp(v, aliases[i]) == 0)
			return why_set(why,
				       "'%s' is a multi-tenant alias, not a tenant: tokens from any tenant would match; "
				       "use your tenant's ID",
				       aliases[i]);
	/* FACTS.md: the tenant that holds personal Microsoft accounts */
	if (strcasecmp(v, "9188040d-6c67-4c5b-b112-36a304b66dad") == 0)
		return why_set(why, "is the tenant of personal Microsoft accounts, not an organisation's: use your "
				    "tenant's ID");
	return check_id_chars(v, 64, why);
}

static int check_client_id(const char *v, char *why)
{
	return check_id_chars(v, 128, why);
}

/* host, host:port or [v6]:port between p and end. */
static int check_host_port(const char *p, const char *end, char *why)
{
	const char *host_end;
	if (p == end)
		return why_set(why, "has no host");
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close || close == p + 1)
			return why_set(why, "has a malformed IPv6 address");
		for (const char *q = p + 1; q < close; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
				return why_set(why, "has a malformed IPv6 address");
		host_end = close + 1;
		if (host_end != end && *host_end != ':')
			return why_set(why, "has a malformed IPv6 address");
	} else {
		host_end = p;
		while (host_end < end && *host_end != ':') {
			unsigned char c = (unsigned char)*host_end;
			if (!isascii(c) || (!isalnum(c) && c != '.' && c != '-'))
				return why_set(why, "has an invalid host name");
			host_end++;
		}
		if (host_end == p)
			return why_set(why, "has no host");
	}
	if (host_end < end) { /* ":port" */
		long port = 0;
		const char *q = host_end + 1;
		if (q == end || end - q > 5)
			return why_set(why, "has an invalid port");
		for (; q < end; q++) {
			if (!isdigit((unsigned char)*q))
				return why_set(why, "has an invalid port");
			port = port * 10 + (*q - '0');
		}
		if (port < 1 || port > 65535)
			return why_set(why, "has an invalid port");
	}
	return 0;
}

static int check_url_chars(const char *v, char *why)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f)
			return why_set(why, "must not contain whitespace, control or non-ASCII characters");
		if (*p == '?' || *p == '#')
			return why_set(why, "must not contain a query or a fragment");
	}
	return 0;
}

/* https://host[:port][/path], without user information, query or fragment. */
static int check_https_url(const char *v, char *why)
{
	const char *host, *host_end;
	if (strncmp(v, "https://", 8) != 0)
		return why_set(why, "must be an https:// URL");
	if (check_url_chars(v, why) < 0)
		return PARSE_BAD;
	host = v + 8;
	host_end = host + strcspn(host, "/");
	if (memchr(host, '@', (size_t)(host_end - host)))
		return why_set(why, "must not contain user information (user@)");
	return check_host_port(host, host_end, why);
}

static const char *const proxy_schemes[] = { "http", "https", "socks4", "socks4a", "socks5", "socks5h" };

static int check_proxy_url(const char *v, char *why)
{
	const char *sep = strstr(v, "://"), *auth, *auth_end, *at = NULL;
	bool scheme_ok = false;
	if (sep) {
		for (size_t i = 0; i < sizeof(proxy_schemes) / sizeof(proxy_schemes[0]); i++)
			if (strlen(proxy_schemes[i]) == (size_t)(sep - v) &&
			    strncasecmp(v, proxy_schemes[i], (size_t)(sep - v)) == 0)
				scheme_ok = true;
	}
	if (!scheme_ok)
		return why_set(why, "must be a URL with scheme http, https, socks4, socks4a, socks5 or socks5h");
	if (check_url_chars(v, why) < 0)
		return PARSE_BAD;
	auth = sep + 3;
	auth_end = auth + strcspn(auth, "/");
	if (*auth_end == '/' && auth_end[1] != '\0')
		return why_set(why, "must not contain a path");
	for (const char *q = auth; q < auth_end; q++)
		if (*q == '@')
			at = q;
	return check_host_port(at ? at + 1 : auth, auth_end, why);
}

static int check_abs_path(const char *v, char *why)
{
	if (v[0] != '/')
		return why_set(why, "must be an absolute path");
	if (strlen(v) >= PATH_MAX)
		return why_set(why, "is too long");
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return why_set(why, "must not contain control characters");
	return 0;
}

static int check_dns_name(const char *v, char *why)
{
	size_t n = strlen(v), label = 0;
	if (n == 0 || n > 253)
		return why_set(why, "'%.64s' is not a valid domain name", v);
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || v[i - 1] == '-' || v[i - label] == '-')
				return why_set(why, "'%.64s' is not a valid domain name", v);
			label = 0;
			continue;
		}
		if (!isascii(c) || (!isalnum(c) && c != '-'))
			return why_set(why, "'%.64s' is not a valid domain name", v);
		label++;
	}
	return 0;
}

static int check_guid(const char *v, char *why)
{
	bool good = strlen(v) == 36;
	for (size_t i = 0; good && i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			good = v[i] == '-';
		else
			good = isxdigit((unsigned char)v[i]) != 0;
	}
	if (!good)
		return why_set(why, "'%.64s' is not a group object ID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", v);
	return 0;
}

static int check_role(const char *v, char *why)
{
	size_t n = strlen(v);
	bool good = n >= 1 && n <= 256;
	for (const char *p = v; good && *p; p++)
		good = is_name_char((unsigned char)*p) || *p == ':';
	if (!good)
		return why_set(why, "'%.64s' is not a role name (letters, digits, '.', '_', ':' and '-')", v);
	return 0;
}

static int check_local_name(const char *v, char *why)
{
	if (!et_local_name_ok(v))
		return why_set(why, "'%.64s' is not a valid local user or group name", v);
	return 0;
}

/* ---- durations ---- */

int et_duration_parse(const char *text, long *ret_seconds)
{
	long n = 0, unit = 1;
	const char *p = text;
	if (!text || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (*p - '0');
		if (n > DURATION_CAP)
			return -1;
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return -1;
	}
	if (*p && p[1] != '\0')
		return -1;
	if (n == 0 || n > DURATION_CAP / unit)
		return -1;
	*ret_seconds = n * unit;
	return 0;
}

static void format_duration(long s, char *buf, size_t len)
{
	if (s == 0)
		snprintf(buf, len, "0");
	else if (s % 86400 == 0)
		snprintf(buf, len, "%ldd", s / 86400);
	else if (s % 3600 == 0)
		snprintf(buf, len, "%ldh", s / 3600);
	else if (s % 60 == 0)
		snprintf(buf, len, "%ldm", s / 60);
	else
		snprintf(buf, len, "%lds", s);
}

/* "0", "00", "0s", "0m"...: zero in any unit. */
static bool is_zero_duration(const char *v)
{
	const char *p = v;
	if (*p != '0')
		return false;
	while (*p == '0')
		p++;
	if (*p == 's' || *p == 'm' || *p == 'h' || *p == 'd')
		p++;
	return *p == '\0';
}

/* ---- generic parsers and printers ---- */

static int parse_string(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	char **field = FIELD(cfg, k, char *);
	char *copy = NULL;
	if (*value == '\0' && !k->empty_unsets)
		return why_set(why, "must not be empty");
	if (*value != '\0') {
		if (k->check && k->check(value, why) < 0)
			return PARSE_BAD;
		copy = strdup(value);
		if (!copy)
			return PARSE_NOMEM;
	}
	free(*field);
	*field = copy;
	return PARSE_OK;
}

static int parse_authority(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	char **field = FIELD(cfg, k, char *);
	char *copy;
	size_t n;
	if (*value == '\0')
		return why_set(why, "must not be empty");
	if (check_https_url(value, why) < 0)
		return PARSE_BAD;
	copy = strdup(value);
	if (!copy)
		return PARSE_NOMEM;
	n = strlen(copy);
	while (n > 8 && copy[n - 1] == '/')
		copy[--n] = '\0';
	free(*field);
	*field = copy;
	return PARSE_OK;
}

static int parse_discovery_url(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	int r = parse_string(k, cfg, value, why);
	if (r == PARSE_OK)
		cfg->discovery_url_derived = false;
	return r;
}

static void print_string(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	const char *v = *CFIELD(cfg, k, char *);
	if (v)
		fprintf(out, "%s = %s\n", k->name, v);
	else
		fprintf(out, "%s =\n", k->name);
}

/* Never print a proxy password: "scheme://user:***@host". */
static void print_proxy(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	const char *v = cfg->proxy, *auth, *auth_end, *at = NULL, *colon;
	if (!v) {
		fprintf(out, "%s =\n", k->name);
		return;
	}
	auth = strstr(v, "://");
	auth = auth ? auth + 3 : v;
	auth_end = auth + strcspn(auth, "/");
	for (const char *q = auth; q < auth_end; q++)
		if (*q == '@')
			at = q;
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (colon)
		fprintf(out, "%s = %.*s:***%s\n", k->name, (int)(colon - v), v, at);
	else
		fprintf(out, "%s = %s\n", k->name, v);
}

static int parse_duration(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	long s = 0;
	char lo[32], hi[32];
	format_duration(k->min, lo, sizeof(lo));
	format_duration(k->max, hi, sizeof(hi));
	if (k->min == 0 && is_zero_duration(value))
		s = 0;
	else if (et_duration_parse(value, &s) < 0 || s < k->min || s > k->max)
		return why_set(why, "'%.32s' is not a duration between %s and %s (like 90s, 10m, 8h or 1d)", value, lo,
			       hi);
	*FIELD(cfg, k, long) = s;
	return PARSE_OK;
}

static void print_duration(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	char buf[32];
	format_duration(*CFIELD(cfg, k, long), buf, sizeof(buf));
	fprintf(out, "%s = %s\n", k->name, buf);
}

static int parse_list(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	struct et_strlist *field = FIELD(cfg, k, struct et_strlist);
	struct et_strlist tmp = { 0 };
	if (*value == '\0' && k->empty_unsets) {
		et_strlist_free(field);
		return PARSE_OK;
	}
	if (et_strlist_parse(&tmp, value) < 0) {
		et_strlist_free(&tmp);
		return why_set(why, "must be %s separated by commas or spaces, without empty items", k->what);
	}
	for (size_t i = 0; i < tmp.n; i++) {
		if (k->check(tmp.items[i], why) < 0)
			goto bad;
		if (k->lowercase)
			for (char *p = tmp.items[i]; *p; p++)
				*p = (char)tolower((unsigned char)*p);
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(tmp.items[i], tmp.items[j]) == 0) {
				why_set(why, "'%.64s' is listed twice", tmp.items[i]);
				goto bad;
			}
	}
	et_strlist_free(field);
	*field = tmp;
	return PARSE_OK;
bad:
	et_strlist_free(&tmp);
	return PARSE_BAD;
}

static void print_list(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	const struct et_strlist *l = CFIELD(cfg, k, struct et_strlist);
	fprintf(out, "%s =", k->name);
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, "%s%s", i ? ", " : " ", l->items[i]);
	fputc('\n', out);
}

/* ---- special keys ---- */

static const struct {
	const char *name;
	unsigned bit;
} method_names[] = {
	{ "tap", ET_METHOD_TAP },
	{ "device_code", ET_METHOD_DEVICE_CODE },
	{ "token", ET_METHOD_TOKEN },
};

static int parse_methods(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	struct et_strlist tmp = { 0 };
	unsigned bits = 0;
	int r = PARSE_OK;
	if (et_strlist_parse(&tmp, value) < 0) {
		et_strlist_free(&tmp);
		return why_set(why, "must be a list of tap, device_code and token");
	}
	for (size_t i = 0; i < tmp.n && r == PARSE_OK; i++) {
		unsigned bit = 0;
		for (size_t j = 0; j < sizeof(method_names) / sizeof(method_names[0]); j++)
			if (strcmp(tmp.items[i], method_names[j].name) == 0)
				bit = method_names[j].bit;
		if (!bit)
			r = why_set(why, "'%.32s' is not a method (tap, device_code, token)", tmp.items[i]);
		else if (bits & bit)
			r = why_set(why, "'%s' is listed twice", tmp.items[i]);
		bits |= bit;
	}
	et_strlist_free(&tmp);
	if (r == PARSE_OK)
		cfg->methods = bits;
	return r;
}

static void print_methods(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	bool first = true;
	fprintf(out, "%s =", k->name);
	for (size_t j = 0; j < sizeof(method_names) / sizeof(method_names[0]); j++)
		if (cfg->methods & method_names[j].bit) {
			fprintf(out, "%s%s", first ? " " : ", ", method_names[j].name);
			first = false;
		}
	fputc('\n', out);
}

static int parse_identity_claim(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	if (strcmp(value, "preferred_username") == 0)
		cfg->identity_claim = ET_CLAIM_PREFERRED_USERNAME;
	else if (strcmp(value, "upn") == 0)
		cfg->identity_claim = ET_CLAIM_UPN;
	else
		return why_set(why, "must be preferred_username or upn");
	return PARSE_OK;
}

static void print_identity_claim(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	fprintf(out, "%s = %s\n", k->name, cfg->identity_claim == ET_CLAIM_UPN ? "upn" : "preferred_username");
}

static int parse_user_map(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	char *path = NULL;
	if (strcmp(value, "strip_domain") == 0) {
		cfg->user_map = ET_MAP_STRIP_DOMAIN;
	} else if (strncmp(value, "file:", 5) == 0) {
		if (check_abs_path(value + 5, why) < 0)
			return why_set(why, "file: must be followed by an absolute path");
		path = strdup(value + 5);
		if (!path)
			return PARSE_NOMEM;
		cfg->user_map = ET_MAP_FILE;
	} else {
		return why_set(why, "must be strip_domain or file:/absolute/path");
	}
	free(cfg->user_map_file);
	cfg->user_map_file = path;
	return PARSE_OK;
}

static void print_user_map(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	if (cfg->user_map == ET_MAP_FILE)
		fprintf(out, "%s = file:%s\n", k->name, cfg->user_map_file ? cfg->user_map_file : "");
	else
		fprintf(out, "%s = strip_domain\n", k->name);
}

static int parse_bool(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	bool *field = FIELD(cfg, k, bool);
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
		*field = true;
	else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
		*field = false;
	else
		return why_set(why, "must be yes or no");
	return PARSE_OK;
}

static void print_bool(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	fprintf(out, "%s = %s\n", k->name, *CFIELD(cfg, k, bool) ? "yes" : "no");
}

/* A whole number between k->min and k->max, strictly parsed. */
static int parse_count(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	long n = 0;
	const char *p = value;
	if (!isdigit((unsigned char)*p))
		goto bad;
	for (; isdigit((unsigned char)*p); p++) {
		n = n * 10 + (*p - '0');
		if (n > k->max)
			goto bad;
	}
	if (*p != '\0' || n < k->min)
		goto bad;
	*FIELD(cfg, k, long) = n;
	return PARSE_OK;
bad:
	return why_set(why, "'%.32s' is not a whole number between %ld and %ld", value, k->min, k->max);
}

static void print_count(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	fprintf(out, "%s = %ld\n", k->name, *CFIELD(cfg, k, long));
}

/* "%u@contoso.com": exactly one %u (the local user name), no other '%', no '/' or space. */
static int check_upn_format(const char *v, char *why)
{
	const char *u = strstr(v, "%u");
	if (strlen(v) > 200)
		return why_set(why, "is longer than 200 bytes");
	if (!u || strstr(u + 2, "%u") || strchr(u + 2, '%') || memchr(v, '%', (size_t)(u - v)))
		return why_set(why, "must contain %%u exactly once and no other '%%'");
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '/' || *p == '\\')
			return why_set(why, "must be printable ASCII without spaces, '/' or '\\'");
	return 0;
}

static int parse_overage(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	if (strcmp(value, "graph") == 0)
		cfg->overage = ET_OVERAGE_GRAPH;
	else if (strcmp(value, "deny") == 0)
		cfg->overage = ET_OVERAGE_DENY;
	else
		return why_set(why, "must be graph or deny");
	return PARSE_OK;
}

static void print_overage(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	fprintf(out, "%s = %s\n", k->name, cfg->overage == ET_OVERAGE_DENY ? "deny" : "graph");
}

/* pim_permanent = allow | deny: a bool spelt as the issue names it. */
static int parse_allow_deny(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	bool *field = FIELD(cfg, k, bool);
	if (strcmp(value, "allow") == 0)
		*field = true;
	else if (strcmp(value, "deny") == 0)
		*field = false;
	else
		return why_set(why, "must be allow or deny");
	return PARSE_OK;
}

static void print_allow_deny(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	fprintf(out, "%s = %s\n", k->name, *CFIELD(cfg, k, bool) ? "allow" : "deny");
}

/* "ed25519:<base64url of 32 bytes>": a break-glass public key (voucher.h) */
/* Only the key's shape: the configuration does no cryptography, so that the programs that
 * read it (the setuid helper above all) need no crypto library; voucher.c checks the key
 * itself when a voucher is redeemed. */
static int check_breakglass_key(const char *v, char *why)
{
	size_t plen = strlen(ET_BG_KEY_PREFIX), len = 0;
	unsigned char *raw = NULL;
	bool ok = strncmp(v, ET_BG_KEY_PREFIX, plen) == 0 &&
		  et_b64url_decode(v + plen, strlen(v + plen), &raw, &len) == 0 && len == ET_BG_RAW_KEY;
	free(raw);
	if (!ok)
		return why_set(why, "'%.64s' is not a key (ed25519: and the base64url of the 32-byte public key)", v);
	return 0;
}

static int parse_breakglass_when(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	if (strcmp(value, "unreachable") == 0)
		cfg->breakglass_when = ET_BREAKGLASS_UNREACHABLE;
	else if (strcmp(value, "always") == 0)
		cfg->breakglass_when = ET_BREAKGLASS_ALWAYS;
	else
		return why_set(why, "must be unreachable or always");
	return PARSE_OK;
}

static void print_breakglass_when(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	fprintf(out, "%s = %s\n", k->name, cfg->breakglass_when == ET_BREAKGLASS_ALWAYS ? "always" : "unreachable");
}

static int parse_on_expiry(const struct et_key *k, struct et_config *cfg, const char *value, char *why)
{
	if (strcmp(value, "terminate") == 0)
		cfg->on_expiry = ET_ON_EXPIRY_TERMINATE;
	else if (strcmp(value, "keep") == 0)
		cfg->on_expiry = ET_ON_EXPIRY_KEEP;
	else
		return why_set(why, "must be terminate or keep");
	return PARSE_OK;
}

static void print_on_expiry(const struct et_key *k, const struct et_config *cfg, FILE *out)
{
	fprintf(out, "%s = %s\n", k->name, cfg->on_expiry == ET_ON_EXPIRY_KEEP ? "keep" : "terminate");
}

/* An amr value (RFC 8176 names, Entra's own): a short token of letters, digits, '_' and '-'. */
static int check_amr(const char *v, char *why)
{
	size_t n = strlen(v);
	if (n == 0 || n > 32)
		return why_set(why, "must be 1 to 32 characters");
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-'))
			return why_set(why, "must be letters, digits, '_' or '-' (an amr value such as tap or otp)");
	return 0;
}

/* ---- the table ---- */

#define OFF(f) offsetof(struct et_config, f)
#define STR(key, chk, def, ...) \
	{ .name = #key, .kind = FIELD_STRING, .parse = parse_string, .print = print_string, .offset = OFF(key), \
	  .default_value = def, .check = chk, __VA_ARGS__ }
#define DUR(key, def, lo, hi) \
	{ .name = #key, .parse = parse_duration, .print = print_duration, .offset = OFF(key), \
	  .default_value = def, .min = lo, .max = hi }
#define COUNT(key, def, lo, hi) \
	{ .name = #key, .parse = parse_count, .print = print_count, .offset = OFF(key), \
	  .default_value = def, .min = lo, .max = hi }
#define LIST(key, chk, desc, ...) \
	{ .name = #key, .kind = FIELD_LIST, .parse = parse_list, .print = print_list, .offset = OFF(key), \
	  .check = chk, .empty_unsets = true, .what = desc, __VA_ARGS__ }

static const struct et_key keys[] = {
	STR(tenant_id, check_tenant_id, NULL, .required = true),
	STR(client_id, check_client_id, NULL, .required = true),
	{ .name = "authority", .kind = FIELD_STRING, .parse = parse_authority, .print = print_string,
	  .offset = OFF(authority), .default_value = ET_DEFAULT_AUTHORITY },
	{ .name = "discovery_url", .kind = FIELD_STRING, .parse = parse_discovery_url, .print = print_string,
	  .offset = OFF(discovery_url), .check = check_https_url, .empty_unsets = true },
	STR(ca_file, check_abs_path, NULL, .empty_unsets = true),
	{ .name = "proxy", .kind = FIELD_STRING, .parse = parse_string, .print = print_proxy, .offset = OFF(proxy),
	  .check = check_proxy_url, .empty_unsets = true },
	DUR(http_timeout, "10s", 1, 120),
	STR(jwks_file, check_abs_path, NULL, .empty_unsets = true),
	STR(jwks_cache_dir, check_abs_path, ET_DEFAULT_JWKS_CACHE_DIR),
	DUR(jwks_cache_ttl, "1d", 60, 7 * 86400),
	DUR(clock_skew, "120s", 0, 600),
	/* Entra ID tokens live one hour, and Entra backdates iat and nbf by five minutes (exp - iat
	 * = 3900 s in Microsoft's own examples); access tokens 60 to 90 minutes. A fresh token is
	 * thus five minutes old already: the age leaves ten more for pasting it. */
	DUR(token_max_lifetime, "90m", 60, 86400),
	DUR(token_max_age, "15m", 60, 86400),
	{ .name = "methods", .parse = parse_methods, .print = print_methods, .default_value = "device_code" },
	{ .name = "identity_claim", .parse = parse_identity_claim, .print = print_identity_claim,
	  .default_value = "preferred_username" },
	{ .name = "user_map", .parse = parse_user_map, .print = print_user_map, .default_value = "strip_domain" },
	LIST(allowed_domains, check_dns_name, "a list of domain names", .lowercase = true),
	LIST(eligible_groups, check_guid, "a list of group object IDs", .lowercase = true),
	LIST(eligible_roles, check_role, "a list of app role names"),
	STR(elevated_group, check_local_name, NULL, .required = true),
	DUR(duration_default, "1h", 1, DURATION_CAP),
	DUR(duration_min, "1m", 1, DURATION_CAP),
	DUR(duration_max, "8h", 1, DURATION_CAP),
	LIST(permanent_members, check_local_name, "a list of local user names"),
	LIST(allow_system_accounts, check_local_name, "a list of local user names"),
	{ .name = "accept_v1_issuer", .parse = parse_bool, .print = print_bool, .offset = OFF(accept_v1_issuer),
	  .default_value = "no" },
	STR(state_dir, check_abs_path, ET_DEFAULT_STATE_DIR),
	/* below sshd's LoginGraceTime (120 s by default); Entra's codes live 900 s */
	DUR(device_code_timeout, "90s", 10, 900),
	{ .name = "tap_password_grant", .parse = parse_bool, .print = print_bool, .offset = OFF(tap_password_grant),
	  .default_value = "no" },
	/* a QR code of the verification address in the device-code prompt */
	{ .name = "qr", .parse = parse_bool, .print = print_bool, .offset = OFF(qr), .default_value = "yes" },
	STR(tap_require_amr, check_amr, NULL, .empty_unsets = true),
	COUNT(tap_max_failures, "5", 1, 100),
	DUR(tap_lockout, "15m", 1, 86400),
	COUNT(device_code_max_per_user, "5", 1, 1000),
	COUNT(device_code_max_per_rhost, "20", 1, 10000),
	DUR(device_code_rate_window, "10m", 10, 86400),
	STR(upn_format, check_upn_format, NULL, .empty_unsets = true),
	{ .name = "graph_url", .kind = FIELD_STRING, .parse = parse_authority, .print = print_string,
	  .offset = OFF(graph_url), .default_value = ET_DEFAULT_GRAPH_URL },
	{ .name = "overage", .parse = parse_overage, .print = print_overage, .default_value = "graph" },
	{ .name = "pim", .parse = parse_bool, .print = print_bool, .offset = OFF(pim), .default_value = "no" },
	{ .name = "pim_permanent", .parse = parse_allow_deny, .print = print_allow_deny, .offset = OFF(pim_permanent),
	  .default_value = "deny" },
	LIST(breakglass_keys, check_breakglass_key, "a list of ed25519: keys"),
	{ .name = "breakglass_when", .parse = parse_breakglass_when, .print = print_breakglass_when,
	  .default_value = "unreachable" },
	DUR(breakglass_duration_max, "1h", 60, 86400),
	/* what the end of a grant does to the sessions it elevated (procs.h) */
	{ .name = "on_expiry", .parse = parse_on_expiry, .print = print_on_expiry, .default_value = "terminate" },
	/* the end runs inside the revoke service, the sweep (stopped by systemd after 2 min) or
	 * the account phase (which waits a minute for the root program) */
	DUR(terminate_grace, "10s", 0, 30),
	DUR(expiry_warning, "5m", 0, 86400),
};
#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const struct et_key *key_find(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* A key echoed back in a message: printable ASCII only, bounded. */
static void safe_copy(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < len; i++)
		dst[i] = (src[i] > 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[i] = '\0';
}

__attribute__((format(printf, 5, 6))) static int config_err(struct et_err *err, enum et_reason code,
							     const char *where, const char *key, const char *fmt, ...)
{
	char msg[WHY_MAX + 16], k[65] = "";
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key)
		safe_copy(k, sizeof(k), key);
	if (where && key)
		return et_err_set(err, code, "%s: %s: %s", where, k, msg);
	if (where)
		return et_err_set(err, code, "%s: %s", where, msg);
	if (key)
		return et_err_set(err, code, "%s: %s", k, msg);
	return et_err_set(err, code, "%s", msg);
}

/* ---- public ---- */

int et_config_init(struct et_config *cfg)
{
	char why[WHY_MAX];
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!keys[i].default_value)
			continue;
		if (keys[i].parse(&keys[i], cfg, keys[i].default_value, why) != PARSE_OK) {
			et_config_free(cfg);
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

int et_config_set(struct et_config *cfg, const char *key, const char *value, const char *where,
		  struct et_err *err)
{
	const struct et_key *k;
	char why[WHY_MAX] = "";
	int r;
	if (!key || !value)
		return config_err(err, ET_E_CONFIG_BAD_VALUE, where, key, "no key or no value");
	k = key_find(key);
	if (!k)
		return config_err(err, ET_E_CONFIG_UNKNOWN_KEY, where, key, "unknown key");
	if (strlen(value) > LINE_MAX_BYTES)
		return config_err(err, ET_E_CONFIG_BAD_VALUE, where, key, "value is longer than %d bytes",
				  LINE_MAX_BYTES);
	r = k->parse(k, cfg, value, why);
	if (r == PARSE_NOMEM)
		return config_err(err, ET_E_NO_MEMORY, where, key, "out of memory");
	if (r != PARSE_OK)
		return config_err(err, ET_E_CONFIG_BAD_VALUE, where, key, "%s", why);
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The lines of buf (len bytes, buf[len] writable), then et_config_finish; messages name
 * cfg->path. buf is cut up in place. */
static int parse_text(struct et_config *cfg, char *buf, size_t len, struct et_err *err)
{
	bool seen[N_KEYS] = { false };
	char where[PATH_MAX + 32];
	const char *path = cfg->path;
	char *line;
	size_t lineno = 0;
	int ret = -1;

	line = buf;
	while (line < buf + len) {
		char *nl = memchr(line, '\n', (size_t)(buf + len - line));
		char *end = nl ? nl : buf + len;
		char *key, *key_end, *eq, *value, *value_end;
		const struct et_key *k;

		lineno++;
		snprintf(where, sizeof(where), "%s:%zu", path, lineno);
		if ((size_t)(end - line) > LINE_MAX_BYTES) {
			config_err(err, ET_E_CONFIG_SYNTAX, where, NULL, "line is longer than %d bytes", LINE_MAX_BYTES);
			goto done;
		}
		if (memchr(line, '\0', (size_t)(end - line))) {
			config_err(err, ET_E_CONFIG_SYNTAX, where, NULL, "line contains a NUL byte");
			goto done;
		}
		*end = '\0';

		key = line;
		line = nl ? nl + 1 : buf + len;
		while (is_blank(*key))
			key++;
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			config_err(err, ET_E_CONFIG_SYNTAX, where, NULL, "expected 'key = value'");
			goto done;
		}
		key_end = eq;
		while (key_end > key && is_blank(key_end[-1]))
			key_end--;
		*key_end = '\0';
		if (*key == '\0') {
			config_err(err, ET_E_CONFIG_SYNTAX, where, NULL, "no key before '='");
			goto done;
		}
		value = eq + 1;
		while (is_blank(*value))
			value++;
		value_end = value + strlen(value);
		while (value_end > value && is_blank(value_end[-1]))
			value_end--;
		*value_end = '\0';

		k = key_find(key);
		if (k && seen[k - keys]) {
			config_err(err, ET_E_CONFIG_DUPLICATE_KEY, where, key, "key is set twice");
			goto done;
		}
		if (et_config_set(cfg, key, value, where, err) < 0)
			goto done;
		if (k)
			seen[k - keys] = true;
	}
	ret = et_config_finish(cfg, err);
done:
	return ret;
}

static int set_path(struct et_config *cfg, const char *path, struct et_err *err)
{
	char *copy = strdup(path);
	if (!copy)
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	free(cfg->path);
	cfg->path = copy;
	return 0;
}

int et_config_load(struct et_config *cfg, const char *path, struct et_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (set_path(cfg, path, err) < 0)
		return -1;
	if (et_file_read(path, ET_CONFIG_MAX_BYTES, 1, &buf, &len, err) < 0)
		return -1;
	ret = parse_text(cfg, buf, len, err);
	free(buf);
	return ret;
}

int et_config_parse(struct et_config *cfg, const char *text, size_t len, const char *name, struct et_err *err)
{
	char *buf;
	int ret;

	if (set_path(cfg, name, err) < 0)
		return -1;
	if (len > ET_CONFIG_MAX_BYTES)
		return et_err_set(err, ET_E_TOO_LARGE, "%s is larger than %d bytes", name, ET_CONFIG_MAX_BYTES);
	buf = malloc(len + 1);
	if (!buf)
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	memcpy(buf, text, len);
	buf[len] = '\0';
	ret = parse_text(cfg, buf, len, err);
	free(buf);
	return ret;
}

int et_config_finish(struct et_config *cfg, struct et_err *err)
{
	const char *where = cfg->path;
	char a[32], b[32], c[32];

	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].required && !*CFIELD(cfg, &keys[i], char *))
			return config_err(err, ET_E_CONFIG_MISSING_KEY, where, keys[i].name, "required key is missing");
	if (cfg->eligible_groups.n == 0 && cfg->eligible_roles.n == 0)
		return config_err(err, ET_E_CONFIG_MISSING_KEY, where, "eligible_groups",
				  "required key is missing (set eligible_groups, eligible_roles or both)");
	if (cfg->user_map == ET_MAP_STRIP_DOMAIN && cfg->allowed_domains.n == 0)
		return config_err(err, ET_E_CONFIG_MISSING_KEY, where, "allowed_domains",
				  "required key is missing (user_map = strip_domain needs it, "
				  "otherwise any domain would map)");
	if (cfg->user_map == ET_MAP_FILE && !cfg->user_map_file)
		return config_err(err, ET_E_CONFIG_MISSING_KEY, where, "user_map", "no map file");

	format_duration(cfg->duration_min, a, sizeof(a));
	format_duration(cfg->duration_default, b, sizeof(b));
	format_duration(cfg->duration_max, c, sizeof(c));
	if (cfg->duration_min > cfg->duration_max)
		return config_err(err, ET_E_CONFIG_CONFLICT, where, "duration_min",
				  "%s is longer than duration_max (%s)", a, c);
	if (cfg->duration_default < cfg->duration_min || cfg->duration_default > cfg->duration_max)
		return config_err(err, ET_E_CONFIG_CONFLICT, where, "duration_default",
				  "%s is not between duration_min (%s) and duration_max (%s)", b, a, c);

	if (!cfg->discovery_url || cfg->discovery_url_derived) {
		char *url;
		if (asprintf(&url, "%s/%s/v2.0/.well-known/openid-configuration", cfg->authority, cfg->tenant_id) < 0)
			return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		free(cfg->discovery_url);
		cfg->discovery_url = url;
		cfg->discovery_url_derived = true;
	}
	return 0;
}

void et_config_free(struct et_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < N_KEYS; i++) {
		const struct et_key *k = &keys[i];
		if (k->kind == FIELD_STRING) {
			char **field = FIELD(cfg, k, char *);
			if (*field)
				explicit_bzero(*field, strlen(*field)); /* the proxy may carry a password */
			free(*field);
			*field = NULL;
		} else if (k->kind == FIELD_LIST) {
			et_strlist_free(FIELD(cfg, k, struct et_strlist));
		}
	}
	free(cfg->user_map_file);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

void et_config_print(const struct et_config *cfg, FILE *out)
{
	for (size_t i = 0; i < N_KEYS; i++)
		keys[i].print(&keys[i], cfg, out);
}

char *et_config_issuer_v2(const struct et_config *cfg)
{
	char *s;
	if (!cfg->authority || !cfg->tenant_id)
		return NULL;
	if (asprintf(&s, "%s/%s/v2.0", cfg->authority, cfg->tenant_id) < 0)
		return NULL;
	return s;
}

char *et_config_issuer_v1(const struct et_config *cfg)
{
	char *s;
	if (!cfg->tenant_id)
		return NULL;
	if (asprintf(&s, "https://sts.windows.net/%s/", cfg->tenant_id) < 0)
		return NULL;
	return s;
}
