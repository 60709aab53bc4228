/* SPDX-License-Identifier: Apache-2.0 */
/* The configuration parser: syntax, every key's bad values, file safety, cross-key rules,
 * module arguments, the printed form and durations. */
#include "conf.h"
#include "tap.h"
#include "testutil.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TENANT "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define CLIENT "0c1a2b3c-4d5e-4f60-8172-839405a6b7c8"
#define GROUP "6f2c0f9e-7d3b-4e1a-9c5d-2b8a1e0f3c4d"

/* A complete, valid file: lines 1..8 (error line numbers below count on it). */
static const char good_text[] = "# pam_entra_tap\n"			   /* 1 */
				"tenant_id = " TENANT "\n"		   /* 2 */
				"client_id = " CLIENT "\n"		   /* 3 */
				"\n"					   /* 4 */
				"   # indented comment\n"		   /* 5 */
				"allowed_domains = contoso.com\n"	   /* 6 */
				"eligible_groups = " GROUP "\n"	   /* 7 */
				"elevated_group = entra-admins\n";	   /* 8 */

static char *dir;

static char *write_conf(const char *text)
{
	return tu_write_file(dir, "pam_entra_tap.conf", text, 0644);
}

static char *join(const char *a, const char *b)
{
	char *s;
	if (asprintf(&s, "%s%s", a, b) < 0)
		abort();
	return s;
}

/* Load the file at path into a fresh cfg; leaves cfg initialised for inspection. */
static int load_path(const char *path, struct et_config *cfg, struct et_err *err)
{
	if (et_config_init(cfg) < 0)
		abort();
	et_err_clear(err);
	return et_config_load(cfg, path, err);
}

/* The message is exactly "PATH<suffix>". */
static void is_message(const struct et_err *err, const char *path, const char *suffix, const char *name)
{
	char *want = join(path, suffix);
	is_str(err->message, want, name);
	free(want);
}

/* Load text as a file; returns the load result and leaves cfg initialised for inspection. */
static int load_text(const char *text, struct et_config *cfg, struct et_err *err, char **ret_path)
{
	char *path = write_conf(text);
	int r = load_path(path, cfg, err);
	if (ret_path)
		*ret_path = path;
	else
		free(path);
	return r;
}

/* Expect the file to be refused with reason and exactly the message "PATH<suffix>". */
static void file_fails(const char *text, const char *reason, const char *suffix, const char *name)
{
	struct et_config cfg;
	struct et_err err;
	char *path;
	int r = load_text(text, &cfg, &err, &path);
	ok(r < 0, "%s: refused", name);
	is_str(err.reason, reason, name);
	is_message(&err, path, suffix, name);
	free(path);
	et_config_free(&cfg);
}

/* good_text plus extra lines (line 9 onward). */
static void extra_fails(const char *extra, const char *reason, const char *suffix, const char *name)
{
	char *text = join(good_text, extra);
	file_fails(text, reason, suffix, name);
	free(text);
}

static int extra_loads(const char *extra, struct et_config *cfg)
{
	char *text = join(good_text, extra);
	struct et_err err;
	int r = load_text(text, cfg, &err, NULL);
	if (r < 0)
		tap_diag("unexpected: %s", err.message);
	free(text);
	return r;
}

static char *print_to_string(const struct et_config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		abort();
	et_config_print(cfg, f);
	fclose(f);
	return buf;
}

/* ---- the good file, defaults, printing ---- */

static void test_good_file(void)
{
	struct et_config cfg;
	struct et_err err;
	char *path, *printed, *again, *path2;
	char *v2, *v1;
	static const char expect_print[] =
		"tenant_id = " TENANT "\n"
		"client_id = " CLIENT "\n"
		"authority = https://login.microsoftonline.com\n"
		"discovery_url = https://login.microsoftonline.com/" TENANT "/v2.0/.well-known/openid-configuration\n"
		"ca_file =\n"
		"proxy =\n"
		"http_timeout = 10s\n"
		"jwks_file =\n"
		"jwks_cache_dir = /var/cache/entra-tap\n"
		"jwks_cache_ttl = 1d\n"
		"clock_skew = 2m\n"
		"token_max_lifetime = 90m\n"
		"token_max_age = 15m\n"
		"methods = device_code\n"
		"identity_claim = preferred_username\n"
		"user_map = strip_domain\n"
		"allowed_domains = contoso.com\n"
		"eligible_groups = " GROUP "\n"
		"eligible_roles =\n"
		"elevated_group = entra-admins\n"
		"duration_default = 1h\n"
		"duration_min = 1m\n"
		"duration_max = 8h\n"
		"permanent_members =\n"
		"allow_system_accounts =\n"
		"accept_v1_issuer = no\n"
		"state_dir = /var/lib/entra-tap\n"
		"device_code_timeout = 90s\n"
		"tap_password_grant = no\n"
		"qr = yes\n"
		"tap_require_amr =\n"
		"tap_max_failures = 5\n"
		"tap_lockout = 15m\n"
		"device_code_max_per_user = 5\n"
		"device_code_max_per_rhost = 20\n"
		"device_code_rate_window = 10m\n"
		"upn_format =\n"
		"graph_url = https://graph.microsoft.com\n"
		"overage = graph\n"
		"pim = no\n"
		"pim_permanent = deny\n"
		"breakglass_keys =\n"
		"breakglass_when = unreachable\n"
		"breakglass_duration_max = 1h\n"
		"on_expiry = terminate\n"
		"terminate_grace = 10s\n"
		"expiry_warning = 5m\n";

	ok(load_text(good_text, &cfg, &err, &path) == 0, "good file loads");
	is_str(cfg.path, path, "path recorded");
	is_str(cfg.tenant_id, TENANT, "tenant_id");
	is_str(cfg.client_id, CLIENT, "client_id");
	is_str(cfg.authority, ET_DEFAULT_AUTHORITY, "authority default");
	is_str(cfg.discovery_url,
	       "https://login.microsoftonline.com/" TENANT "/v2.0/.well-known/openid-configuration",
	       "discovery_url derived from authority and tenant");
	ok(cfg.ca_file == NULL && cfg.proxy == NULL && cfg.jwks_file == NULL, "ca_file, proxy, jwks_file unset");
	is_int(cfg.http_timeout, 10, "http_timeout default 10s");
	is_str(cfg.jwks_cache_dir, ET_DEFAULT_JWKS_CACHE_DIR, "jwks_cache_dir default");
	is_int(cfg.jwks_cache_ttl, 86400, "jwks_cache_ttl default 1d");
	is_int(cfg.clock_skew, 120, "clock_skew default 120s");
	is_int(cfg.methods, ET_METHOD_DEVICE_CODE, "methods default device_code");
	is_int(cfg.identity_claim, ET_CLAIM_PREFERRED_USERNAME, "identity_claim default");
	is_int(cfg.user_map, ET_MAP_STRIP_DOMAIN, "user_map default");
	ok(cfg.allowed_domains.n == 1 && strcmp(cfg.allowed_domains.items[0], "contoso.com") == 0, "allowed_domains");
	ok(cfg.eligible_groups.n == 1 && strcmp(cfg.eligible_groups.items[0], GROUP) == 0, "eligible_groups");
	is_int(cfg.eligible_roles.n, 0, "eligible_roles empty");
	is_str(cfg.elevated_group, "entra-admins", "elevated_group");
	is_int(cfg.duration_default, 3600, "duration_default 1h");
	is_int(cfg.duration_min, 60, "duration_min 1m");
	is_int(cfg.duration_max, 8 * 3600, "duration_max 8h");
	is_int(cfg.permanent_members.n, 0, "permanent_members empty");
	ok(!cfg.accept_v1_issuer, "accept_v1_issuer default no");
	is_str(cfg.state_dir, ET_DEFAULT_STATE_DIR, "state_dir default");

	v2 = et_config_issuer_v2(&cfg);
	v1 = et_config_issuer_v1(&cfg);
	is_str(v2, "https://login.microsoftonline.com/" TENANT "/v2.0", "issuer v2");
	is_str(v1, "https://sts.windows.net/" TENANT "/", "issuer v1");
	free(v2);
	free(v1);

	printed = print_to_string(&cfg);
	is_str(printed, expect_print, "print: every key in table order with effective values");

	/* What print writes loads back to the same configuration. */
	path2 = tu_write_file(dir, "printed.conf", printed, 0600);
	et_config_free(&cfg);
	ok(load_path(path2, &cfg, &err) == 0, "print: the printed form loads");
	again = print_to_string(&cfg);
	is_str(again, printed, "print: loading the printed form prints the same");
	free(again);
	free(printed);
	free(path2);
	free(path);
	et_config_free(&cfg);
	et_config_free(&cfg);
	ok(cfg.tenant_id == NULL && cfg.path == NULL, "free twice is harmless and leaves the struct empty");
}

static void test_every_key_set(void)
{
	struct et_config cfg;
	char *printed;
	static const char text[] =
		"tenant_id = contoso.onmicrosoft.com\n"
		"client_id = app.client_1\n"
		"authority = https://login.microsoftonline.us//\n"
		"discovery_url = https://127.0.0.1:8443/t/v2.0/.well-known/openid-configuration\n"
		"ca_file = /etc/ssl/test ca.pem\n"
		"proxy = socks5h://user:pa55@[::1]:1080\n"
		"http_timeout = 2m\n"
		"jwks_file = /etc/security/keys.json\n"
		"jwks_cache_dir = /run/et-cache\n"
		"jwks_cache_ttl = 7d\n"
		"clock_skew = 0\n"
		"token_max_lifetime = 2h\n"
		"token_max_age = 60\n"
		"methods = token tap,device_code\n"
		"identity_claim = upn\n"
		"user_map = file:/etc/security/entra-users\n"
		"allowed_domains = Contoso.COM, fabrikam.example\n"
		"eligible_groups = 6F2C0F9E-7D3B-4E1A-9C5D-2B8A1E0F3C4D\n"
		"eligible_roles = Host.Elevate, tenant:admin_role-1\n"
		"elevated_group = wheel_tmp\n"
		"duration_default = 90\n"
		"duration_min = 1s\n"
		"duration_max = 30d\n"
		"permanent_members = root, ops.bob\n"
		"allow_system_accounts = backup, svc.deploy\n"
		"accept_v1_issuer = true\n"
		"state_dir = /srv/entra state\n"
		"device_code_timeout = 120\n"
		"tap_password_grant = true\n"
		"tap_require_amr = tap\n"
		"tap_max_failures = 3\n"
		"tap_lockout = 3600\n"
		"device_code_max_per_user = 2\n"
		"device_code_max_per_rhost = 40\n"
		"device_code_rate_window = 30m\n"
		"upn_format = %u@corp.contoso.com\n"
		"graph_url = https://graph.microsoft.us/\n"
		"overage = deny\n"
		"pim = yes\n"
		"pim_permanent = allow\n"
		"breakglass_keys = ed25519:2mXLjxMrmKH7psFP3cBdQ_13BwrXeln104Cn19jSkas ed25519:i18L-VcrQjjrsRvnUL6Z-QcWADw4FFEbG1ufQZK2rd4\n"
		"breakglass_when = always\n"
		"breakglass_duration_max = 1440m\n"
		"on_expiry = keep\n"
		"terminate_grace = 0s\n"
		"expiry_warning = 0\n";
	static const char expect[] =
		"tenant_id = contoso.onmicrosoft.com\n"
		"client_id = app.client_1\n"
		"authority = https://login.microsoftonline.us\n"
		"discovery_url = https://127.0.0.1:8443/t/v2.0/.well-known/openid-configuration\n"
		"ca_file = /etc/ssl/test ca.pem\n"
		"proxy = socks5h://user:***@[::1]:1080\n"
		"http_timeout = 2m\n"
		"jwks_file = /etc/security/keys.json\n"
		"jwks_cache_dir = /run/et-cache\n"
		"jwks_cache_ttl = 7d\n"
		"clock_skew = 0\n"
		"token_max_lifetime = 2h\n"
		"token_max_age = 1m\n"
		"methods = tap, device_code, token\n"
		"identity_claim = upn\n"
		"user_map = file:/etc/security/entra-users\n"
		"allowed_domains = contoso.com, fabrikam.example\n"
		"eligible_groups = 6f2c0f9e-7d3b-4e1a-9c5d-2b8a1e0f3c4d\n"
		"eligible_roles = Host.Elevate, tenant:admin_role-1\n"
		"elevated_group = wheel_tmp\n"
		"duration_default = 90s\n"
		"duration_min = 1s\n"
		"duration_max = 30d\n"
		"permanent_members = root, ops.bob\n"
		"allow_system_accounts = backup, svc.deploy\n"
		"accept_v1_issuer = yes\n"
		"state_dir = /srv/entra state\n"
		"device_code_timeout = 2m\n"
		"tap_password_grant = yes\n"
		"qr = yes\n"
		"tap_require_amr = tap\n"
		"tap_max_failures = 3\n"
		"tap_lockout = 1h\n"
		"device_code_max_per_user = 2\n"
		"device_code_max_per_rhost = 40\n"
		"device_code_rate_window = 30m\n"
		"upn_format = %u@corp.contoso.com\n"
		"graph_url = https://graph.microsoft.us\n"
		"overage = deny\n"
		"pim = yes\n"
		"pim_permanent = allow\n"
		"breakglass_keys = ed25519:2mXLjxMrmKH7psFP3cBdQ_13BwrXeln104Cn19jSkas, ed25519:i18L-VcrQjjrsRvnUL6Z-QcWADw4FFEbG1ufQZK2rd4\n"
		"breakglass_when = always\n"
		"breakglass_duration_max = 1d\n"
		"on_expiry = keep\n"
		"terminate_grace = 0\n"
		"expiry_warning = 0\n";
	struct et_err err;
	ok(load_text(text, &cfg, &err, NULL) == 0, "every key set: loads");
	if (cfg.tenant_id == NULL)
		tap_diag("%s", err.message);
	is_str(cfg.proxy, "socks5h://user:pa55@[::1]:1080", "proxy kept verbatim (with its password) for libcurl");
	is_int(cfg.methods, ET_METHOD_TAP | ET_METHOD_DEVICE_CODE | ET_METHOD_TOKEN, "methods: all three bits");
	is_int(cfg.user_map, ET_MAP_FILE, "user_map: file");
	is_str(cfg.user_map_file, "/etc/security/entra-users", "user_map: file path");
	ok(cfg.accept_v1_issuer, "accept_v1_issuer true");
	is_int(cfg.overage, ET_OVERAGE_DENY, "overage: deny");
	ok(cfg.pim && cfg.pim_permanent, "pim yes, pim_permanent allow");
	is_int(cfg.clock_skew, 0, "clock_skew 0 allowed");
	is_int(cfg.on_expiry, ET_ON_EXPIRY_KEEP, "on_expiry: keep");
	is_int(cfg.terminate_grace, 0, "terminate_grace 0 allowed (SIGKILL at once)");
	is_int(cfg.expiry_warning, 0, "expiry_warning 0: off");
	printed = print_to_string(&cfg);
	is_str(printed, expect, "every key set: printed form (lists joined with \", \", password masked)");
	free(printed);
	et_config_free(&cfg);

	/* user_map = file: does not need allowed_domains. */
	ok(load_text("tenant_id = t\nclient_id = c\neligible_roles = r\nelevated_group = g\n"
		     "user_map = file:/etc/map\n",
		     &cfg, &err, NULL) == 0,
	   "user_map = file: needs no allowed_domains; eligible_roles alone is enough");
	et_config_free(&cfg);
}

/* ---- syntax ---- */

static void test_syntax(void)
{
	struct et_config cfg;
	char *text, line[5000];
	struct et_err err;

	extra_fails("tenant_id " TENANT "\n", "config_syntax", ":9: expected 'key = value'", "line without '='");
	extra_fails("  = value\n", "config_syntax", ":9: no key before '='", "line without a key");
	extra_fails("colour = blue\n", "config_unknown_key", ":9: colour: unknown key", "unknown key");
	extra_fails("Client_ID = x\n", "config_unknown_key", ":9: Client_ID: unknown key",
		    "keys are case-sensitive");
	extra_fails("\n\nclient_id = other\n", "config_duplicate_key", ":11: client_id: key is set twice",
		    "duplicate key names the second line");
	extra_fails("bad\x1b[31mkey = 1\n", "config_unknown_key", ":9: bad?[31mkey: unknown key",
		    "control characters in a key are not echoed");
	extra_fails("elevated_group = admins # who may elevate\n", "config_duplicate_key",
		    ":9: elevated_group: key is set twice", "duplicate check comes before the value");

	/* A '#' after a value is part of the value: validation names it. */
	file_fails("# x\nclient_id = " CLIENT " # the app\n", "config_bad_value",
		   ":2: client_id: may contain only letters, digits, '.', '_' and '-'",
		   "trailing comment is a bad value");

	/* Whitespace around key and value, CRLF line ends, '=' inside a value. */
	ok(load_text("\t tenant_id\t=\t" TENANT "  \r\n"
		     "client_id=" CLIENT "\r\n"
		     "allowed_domains =contoso.com\n"
		     "eligible_groups= " GROUP "\n"
		     "elevated_group = entra-admins", /* no final newline */
		     &cfg, &err, NULL) == 0,
	   "whitespace, tabs, CRLF, no spaces around '=' and no final newline");
	is_str(cfg.tenant_id, TENANT, "trimmed value");
	is_str(cfg.elevated_group, "entra-admins", "last line without newline is read");
	et_config_free(&cfg);
	extra_fails("proxy = http://p:1/?a=b\n", "config_bad_value",
		    ":9: proxy: must not contain a query or a fragment", "only the first '=' splits");

	/* Empty file: every required key missing; the first one is named. */
	file_fails("", "config_missing_key", ": tenant_id: required key is missing", "empty file");
	file_fails("# only comments\n\n   \n", "config_missing_key", ": tenant_id: required key is missing",
		   "comments and blank lines only");

	/* NUL byte: reported on its line. */
	{
		char *path = tu_write_file(dir, "nul.conf", "", 0644);
		int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		static const char data[] = "tenant_id = t\nclient_id = c\0x\nelevated_group = g\n";
		if (fd < 0 || write(fd, data, sizeof(data) - 1) != (ssize_t)(sizeof(data) - 1) || close(fd) < 0)
			abort();
		ok(load_path(path, &cfg, &err) < 0, "NUL byte: refused");
		is_str(err.reason, "config_syntax", "NUL byte: reason");
		is_message(&err, path, ":2: line contains a NUL byte", "NUL byte: names the line");
		free(path);
		et_config_free(&cfg);
	}

	/* Long lines: 4096 bytes is fine, 4097 is not. */
	memset(line, 'x', sizeof(line));
	line[0] = '#';
	line[4096] = '\n';
	line[4097] = '\0';
	text = join(line, good_text);
	ok(load_text(text, &cfg, &err, NULL) == 0, "a 4096-byte line is accepted");
	et_config_free(&cfg);
	free(text);
	line[4096] = 'x';
	line[4097] = '\n';
	line[4098] = '\0';
	text = join(line, good_text);
	file_fails(text, "config_syntax", ":1: line is longer than 4096 bytes", "a 4097-byte line is refused");
	free(text);
	{
		/* ... also when it is the last line and has no newline. */
		char *t2;
		line[4097] = '\0';
		t2 = join(good_text, line);
		file_fails(t2, "config_syntax", ":9: line is longer than 4096 bytes", "long last line without newline");
		free(t2);
	}
}

/* ---- file safety ---- */

static void test_file_safety(void)
{
	struct et_config cfg;
	struct et_err err;
	char *path, *link, *sub, *big;
	size_t n;

	path = write_conf(good_text);
	if (chown(path, 65534, 65534) < 0)
		abort();
	ok(load_path(path, &cfg, &err) < 0, "file owned by uid 65534: refused");
	is_str(err.reason, "unsafe_file", "not root-owned: reason");
	is_message(&err, path, " is not owned by root: refusing to use it", "not root-owned: the file's own sentence");
	et_config_free(&cfg);

	if (chown(path, 0, 0) < 0 || chmod(path, 0664) < 0)
		abort();
	ok(load_path(path, &cfg, &err) < 0, "group-writable file (g+w): refused");
	is_message(&err, path, " is group- or world-writable: refusing to use it", "group-writable: sentence");
	et_config_free(&cfg);

	if (chmod(path, 0646) < 0)
		abort();
	ok(load_path(path, &cfg, &err) < 0 && strcmp(err.reason, "unsafe_file") == 0,
	   "world-writable file (o+w): refused");
	et_config_free(&cfg);

	if (chmod(path, 0600) < 0)
		abort();
	link = join(dir, "/link.conf");
	if (symlink(path, link) < 0)
		abort();
	ok(load_path(link, &cfg, &err) < 0, "symlink to a good file: refused");
	is_message(&err, link, " is a symbolic link: refusing to read it", "symlink: sentence");
	is_str(err.reason, "unsafe_file", "symlink: reason");
	et_config_free(&cfg);
	free(link);

	sub = join(dir, "/conf.d");
	if (mkdir(sub, 0700) < 0)
		abort();
	ok(load_path(sub, &cfg, &err) < 0 && strcmp(err.reason, "unsafe_file") == 0, "directory: refused");
	et_config_free(&cfg);
	free(sub);

	sub = join(dir, "/absent.conf");
	ok(load_path(sub, &cfg, &err) < 0, "missing file: refused");
	is_str(err.reason, "not_found", "missing file: reason");
	et_config_free(&cfg);
	free(sub);
	free(path);

	/* Size cap: exactly ET_CONFIG_MAX_BYTES loads; one more byte does not. */
	big = malloc(ET_CONFIG_MAX_BYTES + 2);
	n = strlen(good_text);
	memcpy(big, good_text, n);
	while (n < ET_CONFIG_MAX_BYTES) {
		size_t chunk = ET_CONFIG_MAX_BYTES - n > 4000 ? 4000 : ET_CONFIG_MAX_BYTES - n;
		memset(big + n, '#', chunk);
		big[n + chunk - 1] = '\n';
		n += chunk;
	}
	big[n] = '\0';
	ok(strlen(big) == ET_CONFIG_MAX_BYTES && load_text(big, &cfg, &err, NULL) == 0,
	   "a file of exactly 64 KiB loads");
	et_config_free(&cfg);
	big[n] = '\n';
	big[n + 1] = '\0';
	ok(load_text(big, &cfg, &err, NULL) < 0, "a file of 64 KiB + 1 is refused");
	is_str(err.reason, "too_large", "size cap: reason");
	et_config_free(&cfg);
	free(big);
}

/* ---- values ---- */

/* A value shown in a test name: one line, printable. */
static const char *shown(const char *v)
{
	static char buf[96];
	size_t i = 0;
	for (; *v && i + 5 < sizeof(buf); v++) {
		unsigned char c = (unsigned char)*v;
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[i++] = (char)c;
		else
			i += (size_t)snprintf(buf + i, sizeof(buf) - i, "\\x%02x", c);
	}
	buf[i] = '\0';
	return buf;
}

/* et_config_set with a bad value: reason, exact "module argument: KEY: why", old value kept. */
static void bad(const char *key, const char *value, const char *why)
{
	struct et_config cfg;
	struct et_err err;
	char *want, *before, *after;
	if (et_config_init(&cfg) < 0)
		abort();
	before = print_to_string(&cfg);
	et_err_clear(&err);
	if (asprintf(&want, "module argument: %s: %s", key, why) < 0)
		abort();
	ok(et_config_set(&cfg, key, value, "module argument", &err) < 0 &&
		   strcmp(err.reason, "config_bad_value") == 0,
	   "%s = '%s' refused", key, shown(value));
	is_str(err.message, want, "  ... with the reason");
	after = print_to_string(&cfg);
	ok(strcmp(before, after) == 0, "  ... and the configuration is unchanged");
	free(before);
	free(after);
	free(want);
	et_config_free(&cfg);
}

static void good(const char *key, const char *value)
{
	struct et_config cfg;
	struct et_err err;
	if (et_config_init(&cfg) < 0)
		abort();
	et_err_clear(&err);
	if (!ok(et_config_set(&cfg, key, value, "module argument", &err) == 0, "%s = '%s' accepted", key,
		shown(value)))
		tap_diag("%s", err.message);
	et_config_free(&cfg);
}

/* A value et_config_set refuses: why is the end of the expected message. */
struct refused_case {
	const char *key, *value, *why;
};

static const struct refused_case refused_cases[] = {
	/* tenant_id */
	{ "tenant_id", "",
	  "must not be empty" },
	{ "tenant_id", "common",
	  "'common' is a multi-tenant alias, not a tenant: tokens from any tenant would match; use your tenant's ID" },
	{ "tenant_id", "Organizations",
	  "'organizations' is a multi-tenant alias, not a tenant: tokens from any tenant would match; use your tenant's ID" },
	{ "tenant_id", "consumers",
	  "'consumers' is a multi-tenant alias, not a tenant: tokens from any tenant would match; use your tenant's ID" },
	{ "tenant_id", "ten/ant",
	  "may contain only letters, digits, '.', '_' and '-'" },
	{ "tenant_id", "ten ant",
	  "may contain only letters, digits, '.', '_' and '-'" },

	/* client_id */
	{ "client_id", "api://x",
	  "may contain only letters, digits, '.', '_' and '-'" },

	/* authority */
	{ "authority", "",
	  "must not be empty" },
	{ "authority", "http://login.microsoftonline.com",
	  "must be an https:// URL" },
	{ "authority", "HTTPS://login.microsoftonline.com",
	  "must be an https:// URL" },
	{ "authority", "login.microsoftonline.com",
	  "must be an https:// URL" },
	{ "authority", "https://",
	  "has no host" },
	{ "authority", "https:///path",
	  "has no host" },
	{ "authority", "https://user@login.example",
	  "must not contain user information (user@)" },
	{ "authority", "https://login.example/?x=1",
	  "must not contain a query or a fragment" },
	{ "authority", "https://login.example/#top",
	  "must not contain a query or a fragment" },
	{ "authority", "https://login example",
	  "must not contain whitespace, control or non-ASCII characters" },
	{ "authority", "https://login.example/\x01",
	  "must not contain whitespace, control or non-ASCII characters" },
	{ "authority", "https://l\xc3\xb6gin.example",
	  "must not contain whitespace, control or non-ASCII characters" },
	{ "authority", "https://login.example:0",
	  "has an invalid port" },
	{ "authority", "https://login.example:65536",
	  "has an invalid port" },
	{ "authority", "https://login.example:",
	  "has an invalid port" },
	{ "authority", "https://login.example:80a",
	  "has an invalid port" },
	{ "authority", "https://log_in.example",
	  "has an invalid host name" },
	{ "authority", "https://[zz::1]",
	  "has a malformed IPv6 address" },
	{ "authority", "https://[::1",
	  "has a malformed IPv6 address" },

	/* discovery_url */
	{ "discovery_url", "http://idp.example/.well-known/openid-configuration",
	  "must be an https:// URL" },
	{ "discovery_url", "https://idp.example/x?y",
	  "must not contain a query or a fragment" },

	/* ca_file, jwks_file, jwks_cache_dir, state_dir: absolute paths */
	{ "ca_file", "certs/ca.pem",
	  "must be an absolute path" },
	{ "ca_file", "/etc/ca\n.pem",
	  "must not contain control characters" },
	{ "jwks_file", "keys.json",
	  "must be an absolute path" },
	{ "jwks_cache_dir", "cache",
	  "must be an absolute path" },
	{ "jwks_cache_dir", "",
	  "must not be empty" },
	{ "state_dir", "./state",
	  "must be an absolute path" },
	{ "state_dir", "",
	  "must not be empty" },

	/* proxy */
	{ "proxy", "ftp://proxy:21",
	  "must be a URL with scheme http, https, socks4, socks4a, socks5 or socks5h" },
	{ "proxy", "proxy.example:3128",
	  "must be a URL with scheme http, https, socks4, socks4a, socks5 or socks5h" },
	{ "proxy", "://proxy",
	  "must be a URL with scheme http, https, socks4, socks4a, socks5 or socks5h" },
	{ "proxy", "http://",
	  "has no host" },
	{ "proxy", "http://user:pw@",
	  "has no host" },
	{ "proxy", "http://proxy:3128/path",
	  "must not contain a path" },
	{ "proxy", "http://proxy:99999",
	  "has an invalid port" },
	{ "proxy", "http://pro xy",
	  "must not contain whitespace, control or non-ASCII characters" },

	/* durations with bounds */
	{ "http_timeout", "0",
	  "'0' is not a duration between 1s and 2m (like 90s, 10m, 8h or 1d)" },
	{ "http_timeout", "121",
	  "'121' is not a duration between 1s and 2m (like 90s, 10m, 8h or 1d)" },
	{ "http_timeout", "3m",
	  "'3m' is not a duration between 1s and 2m (like 90s, 10m, 8h or 1d)" },
	{ "http_timeout", "-5",
	  "'-5' is not a duration between 1s and 2m (like 90s, 10m, 8h or 1d)" },
	{ "http_timeout", "1.5s",
	  "'1.5s' is not a duration between 1s and 2m (like 90s, 10m, 8h or 1d)" },
	{ "http_timeout", "",
	  "'' is not a duration between 1s and 2m (like 90s, 10m, 8h or 1d)" },
	{ "jwks_cache_ttl", "59s",
	  "'59s' is not a duration between 1m and 7d (like 90s, 10m, 8h or 1d)" },
	{ "jwks_cache_ttl", "8d",
	  "'8d' is not a duration between 1m and 7d (like 90s, 10m, 8h or 1d)" },
	{ "jwks_cache_ttl", "0",
	  "'0' is not a duration between 1m and 7d (like 90s, 10m, 8h or 1d)" },
	{ "token_max_lifetime", "59",
	  "'59' is not a duration between 1m and 1d (like 90s, 10m, 8h or 1d)" },
	{ "token_max_age", "2d",
	  "'2d' is not a duration between 1m and 1d (like 90s, 10m, 8h or 1d)" },
	{ "clock_skew", "601",
	  "'601' is not a duration between 0 and 10m (like 90s, 10m, 8h or 1d)" },
	{ "clock_skew", "11m",
	  "'11m' is not a duration between 0 and 10m (like 90s, 10m, 8h or 1d)" },
	{ "clock_skew", "-0",
	  "'-0' is not a duration between 0 and 10m (like 90s, 10m, 8h or 1d)" },
	{ "clock_skew", "0x",
	  "'0x' is not a duration between 0 and 10m (like 90s, 10m, 8h or 1d)" },
	{ "duration_default", "0",
	  "'0' is not a duration between 1s and 30d (like 90s, 10m, 8h or 1d)" },
	{ "duration_max", "31d",
	  "'31d' is not a duration between 1s and 30d (like 90s, 10m, 8h or 1d)" },
	{ "duration_max", "2592001",
	  "'2592001' is not a duration between 1s and 30d (like 90s, 10m, 8h or 1d)" },
	{ "duration_min", "1w",
	  "'1w' is not a duration between 1s and 30d (like 90s, 10m, 8h or 1d)" },

	/* methods */
	{ "methods", "",
	  "must be a list of tap, device_code and token" },
	{ "methods", "tap,,token",
	  "must be a list of tap, device_code and token" },
	{ "methods", "password",
	  "'password' is not a method (tap, device_code, token)" },
	{ "methods", "TAP",
	  "'TAP' is not a method (tap, device_code, token)" },
	{ "methods", "tap, token, tap",
	  "'tap' is listed twice" },

	/* identity_claim */
	{ "identity_claim", "email",
	  "must be preferred_username or upn" },
	{ "identity_claim", "UPN",
	  "must be preferred_username or upn" },
	{ "identity_claim", "",
	  "must be preferred_username or upn" },

	/* user_map */
	{ "user_map", "file:etc/map",
	  "file: must be followed by an absolute path" },
	{ "user_map", "file:",
	  "file: must be followed by an absolute path" },
	{ "user_map", "map",
	  "must be strip_domain or file:/absolute/path" },
	{ "user_map", "",
	  "must be strip_domain or file:/absolute/path" },

	/* allowed_domains */
	{ "allowed_domains", "-contoso.com",
	  "'-contoso.com' is not a valid domain name" },
	{ "allowed_domains", "contoso-.com",
	  "'contoso-.com' is not a valid domain name" },
	{ "allowed_domains", "contoso..com",
	  "'contoso..com' is not a valid domain name" },
	{ "allowed_domains", "contoso.com.",
	  "'contoso.com.' is not a valid domain name" },
	{ "allowed_domains", "con_toso.com",
	  "'con_toso.com' is not a valid domain name" },
	{ "allowed_domains", "contoso.com, *.fabrikam.com",
	  "'*.fabrikam.com' is not a valid domain name" },
	{ "allowed_domains", "contoso.com,CONTOSO.com",
	  "'contoso.com' is listed twice" },
	{ "allowed_domains", "a.com,",
	  "must be a list of domain names separated by commas or spaces, without empty items" },

	/* eligible_groups */
	{ "eligible_groups", "admins",
	  "'admins' is not a group object ID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" },
	{ "eligible_groups", "6f2c0f9e-7d3b-4e1a-9c5d-2b8a1e0f3c4d0",
	  "'6f2c0f9e-7d3b-4e1a-9c5d-2b8a1e0f3c4d0' is not a group object ID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" },
	{ "eligible_groups", "6f2c0f9e7d3b-4e1a-9c5d-2b8a1e0f3c4d-",
	  "'6f2c0f9e7d3b-4e1a-9c5d-2b8a1e0f3c4d-' is not a group object ID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" },
	{ "eligible_groups", "gf2c0f9e-7d3b-4e1a-9c5d-2b8a1e0f3c4d",
	  "'gf2c0f9e-7d3b-4e1a-9c5d-2b8a1e0f3c4d' is not a group object ID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)" },
	{ "eligible_groups", "6f2c0f9e-7d3b-4e1a-9c5d-2b8a1e0f3c4d, 6F2C0F9E-7D3B-4E1A-9C5D-2B8A1E0F3C4D",
	  "'6f2c0f9e-7d3b-4e1a-9c5d-2b8a1e0f3c4d' is listed twice" },

	/* eligible_roles */
	{ "eligible_roles", "Host/Elevate",
	  "'Host/Elevate' is not a role name (letters, digits, '.', '_', ':' and '-')" },
	{ "eligible_roles", "R\xc3\xb4le",
	  "'R\xc3\xb4le' is not a role name (letters, digits, '.', '_', ':' and '-')" },
	{ "eligible_roles", "a, a",
	  "'a' is listed twice" },

	/* elevated_group and permanent_members: local names */
	{ "elevated_group", "",
	  "must not be empty" },
	{ "elevated_group", "-wheel",
	  "'-wheel' is not a valid local user or group name" },
	{ "elevated_group", "1234",
	  "'1234' is not a valid local user or group name" },
	{ "elevated_group", "a/b",
	  "'a/b' is not a valid local user or group name" },
	{ "elevated_group", "ad min",
	  "'ad min' is not a valid local user or group name" },
	{ "elevated_group", "adm:x",
	  "'adm:x' is not a valid local user or group name" },
	{ "permanent_members", "root, root",
	  "'root' is listed twice" },
	{ "permanent_members", "root, -x",
	  "'-x' is not a valid local user or group name" },
	{ "allow_system_accounts", "backup, backup",
	  "'backup' is listed twice" },
	{ "allow_system_accounts", "backup, a/b",
	  "'a/b' is not a valid local user or group name" },

	/* accept_v1_issuer */
	{ "accept_v1_issuer", "maybe",
	  "must be yes or no" },
	{ "accept_v1_issuer", "YES",
	  "must be yes or no" },
	{ "accept_v1_issuer", "",
	  "must be yes or no" },

	/* The PAM module's sign-in policy */
	{ "device_code_timeout", "5s",
	  "'5s' is not a duration between 10s and 15m (like 90s, 10m, 8h or 1d)" },
	{ "device_code_timeout", "16m",
	  "'16m' is not a duration between 10s and 15m (like 90s, 10m, 8h or 1d)" },
	{ "tap_password_grant", "on",
	  "must be yes or no" },
	{ "tap_require_amr", "t a p",
	  "must be letters, digits, '_' or '-' (an amr value such as tap or otp)" },
	{ "tap_max_failures", "0",
	  "'0' is not a whole number between 1 and 100" },
	{ "tap_max_failures", "101",
	  "'101' is not a whole number between 1 and 100" },
	{ "tap_max_failures", "5x",
	  "'5x' is not a whole number between 1 and 100" },
	{ "tap_max_failures", "-1",
	  "'-1' is not a whole number between 1 and 100" },
	{ "tap_max_failures", "",
	  "'' is not a whole number between 1 and 100" },
	{ "tap_max_failures", "99999999999999999999",
	  "'99999999999999999999' is not a whole number between 1 and 100" },
	{ "tap_lockout", "2d",
	  "'2d' is not a duration between 1s and 1d (like 90s, 10m, 8h or 1d)" },
	{ "device_code_max_per_user", "1001",
	  "'1001' is not a whole number between 1 and 1000" },
	{ "device_code_max_per_rhost", "0",
	  "'0' is not a whole number between 1 and 10000" },
	{ "device_code_rate_window", "5s",
	  "'5s' is not a duration between 10s and 1d (like 90s, 10m, 8h or 1d)" },
	{ "upn_format", "contoso.com",
	  "must contain %u exactly once and no other '%'" },
	{ "upn_format", "%u@%u.com",
	  "must contain %u exactly once and no other '%'" },
	{ "upn_format", "%u@100%.com",
	  "must contain %u exactly once and no other '%'" },
	{ "upn_format", "%s%u@x.com",
	  "must contain %u exactly once and no other '%'" },
	{ "upn_format", "%u @x.com",
	  "must be printable ASCII without spaces, '/' or '\\'" },
	{ "upn_format", "%u@x.com/y",
	  "must be printable ASCII without spaces, '/' or '\\'" },
};

/* A value et_config_set accepts. */
struct accepted_case {
	const char *key, *value;
};

static const struct accepted_case accepted_cases[] = {
	{ "tenant_id", "contoso.onmicrosoft.com" },

	{ "authority", "https://login.microsoftonline.us/" },
	{ "authority", "https://127.0.0.1:8443" },
	{ "authority", "https://[::1]:8443/tenant-prefix" },

	{ "discovery_url", "https://idp.example/t/v2.0/.well-known/openid-configuration" },
	{ "discovery_url", "" },

	{ "ca_file", "" },

	{ "proxy", "" },
	{ "proxy", "http://proxy.example:3128/" },
	{ "proxy", "HTTPS://proxy.example" },
	{ "proxy", "socks4a://10.0.0.1:1080" },

	{ "http_timeout", "120" },
	{ "http_timeout", "1s" },
	{ "jwks_cache_ttl", "1m" },
	{ "jwks_cache_ttl", "168h" },
	{ "clock_skew", "0" },
	{ "clock_skew", "0s" },
	{ "clock_skew", "10m" },
	{ "duration_max", "30d" },

	{ "methods", "tap" },
	{ "methods", "token, device_code" },

	{ "identity_claim", "upn" },

	{ "user_map", "file:/etc/security/map" },

	{ "allowed_domains", "" },
	{ "allowed_domains", "localhost" },

	{ "eligible_groups", "6F2C0F9E-7D3B-4E1A-9C5D-2B8A1E0F3C4D, 00000000-0000-0000-0000-000000000000" },

	{ "eligible_roles", "Host.Elevate tenant:admin_role-1" },

	{ "permanent_members", "root, ops.bob" },
	{ "allow_system_accounts", "backup, svc.deploy" },

	{ "accept_v1_issuer", "1" },
	{ "accept_v1_issuer", "false" },

	{ "device_code_timeout", "10m" },
	{ "tap_password_grant", "yes" },
	{ "tap_max_failures", "1" },
	{ "tap_max_failures", "100" },
	{ "tap_lockout", "30s" },
	{ "upn_format", "%u@contoso.com" },
	{ "upn_format", "" },
};

static void test_values(void)
{
	char s65[66], s129[130], s33[34];

	memset(s65, 'a', 65);
	s65[65] = '\0';
	memset(s129, 'b', 129);
	s129[129] = '\0';
	memset(s33, 'c', 33);
	s33[33] = '\0';

	for (size_t i = 0; i < sizeof(refused_cases) / sizeof(refused_cases[0]); i++)
		bad(refused_cases[i].key, refused_cases[i].value, refused_cases[i].why);
	for (size_t i = 0; i < sizeof(accepted_cases) / sizeof(accepted_cases[0]); i++)
		good(accepted_cases[i].key, accepted_cases[i].value);

	/* Lengths: one character over the limit, then at it. */
	bad("tenant_id", s65, "must be 1 to 64 characters long");
	good("tenant_id", s65 + 1);
	bad("client_id", s129, "must be 1 to 128 characters long");
	good("client_id", s129 + 1);
	bad("elevated_group", s33, "'ccccccccccccccccccccccccccccccccc' is not a valid local user or group name");
	good("elevated_group", s33 + 1);
	{
		char label[80], *v;
		memset(label, 'x', 64);
		label[64] = '\0';
		if (asprintf(&v, "%s.com", label) < 0)
			abort();
		/* The quoted value is capped at 64 characters in messages. */
		bad("allowed_domains", v, "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' is not a "
					  "valid domain name");
		free(v);
		label[63] = '\0';
		if (asprintf(&v, "%s.com", label) < 0)
			abort();
		good("allowed_domains", v);
		free(v);
	}
	{
		struct et_config cfg;
		if (et_config_init(&cfg) < 0)
			abort();
		is_int(cfg.device_code_timeout, 90, "device_code_timeout defaults to 90s (below sshd's LoginGraceTime)");
		ok(!cfg.tap_password_grant, "tap_password_grant defaults to no");
		is_int(cfg.tap_max_failures, 5, "tap_max_failures defaults to 5");
		is_int(cfg.tap_lockout, 900, "tap_lockout defaults to 15m");
		is_int(cfg.device_code_max_per_user, 5, "device_code_max_per_user defaults to 5");
		is_int(cfg.device_code_max_per_rhost, 20, "device_code_max_per_rhost defaults to 20");
		is_int(cfg.device_code_rate_window, 600, "device_code_rate_window defaults to 10m");
		ok(cfg.upn_format == NULL, "upn_format is unset by default");
		et_config_free(&cfg);
	}

	/* A module argument longer than a file line could be. */
	{
		char *v = malloc(5000);
		memset(v, 'a', 4999);
		v[4999] = '\0';
		bad("client_id", v, "value is longer than 4096 bytes");
		free(v);
	}
}

/* ---- values in a file report FILE:LINE ---- */

static void test_file_values(void)
{
	extra_fails("authority = http://login.example\n", "config_bad_value",
		    ":9: authority: must be an https:// URL", "bad value names file, line and key");
	extra_fails("http_timeout = 10 s\n", "config_bad_value",
		    ":9: http_timeout: '10 s' is not a duration between 1s and 2m (like 90s, 10m, 8h or 1d)",
		    "duration with a space inside");
	file_fails("tenant_id = common\n", "config_bad_value",
		   ":1: tenant_id: 'common' is a multi-tenant alias, not a tenant: tokens from any tenant would match; "
		   "use your tenant's ID",
		   "multi-tenant alias in a file");
}

/* ---- required keys and cross-key rules ---- */

static void test_required(void)
{
	struct et_config cfg;
	file_fails("client_id = c\nallowed_domains = a.com\neligible_groups = " GROUP "\nelevated_group = g\n",
		   "config_missing_key", ": tenant_id: required key is missing", "missing tenant_id");
	file_fails("tenant_id = t\nallowed_domains = a.com\neligible_groups = " GROUP "\nelevated_group = g\n",
		   "config_missing_key", ": client_id: required key is missing", "missing client_id");
	file_fails("tenant_id = t\nclient_id = c\nallowed_domains = a.com\neligible_groups = " GROUP "\n",
		   "config_missing_key", ": elevated_group: required key is missing", "missing elevated_group");
	file_fails("tenant_id = t\nclient_id = c\nallowed_domains = a.com\nelevated_group = g\n",
		   "config_missing_key",
		   ": eligible_groups: required key is missing (set eligible_groups, eligible_roles or both)",
		   "neither eligible_groups nor eligible_roles");
	file_fails("tenant_id = t\nclient_id = c\nallowed_domains = a.com\nelevated_group = g\neligible_groups =\n",
		   "config_missing_key",
		   ": eligible_groups: required key is missing (set eligible_groups, eligible_roles or both)",
		   "an empty eligible_groups counts as missing");
	file_fails("tenant_id = t\nclient_id = c\neligible_roles = r\nelevated_group = g\n", "config_missing_key",
		   ": allowed_domains: required key is missing (user_map = strip_domain needs it, otherwise any domain "
		   "would map)",
		   "strip_domain without allowed_domains");

	extra_fails("duration_min = 2h\nduration_max = 1h\n", "config_conflict",
		    ": duration_min: 2h is longer than duration_max (1h)", "duration_min > duration_max");
	extra_fails("duration_min = 2h\n", "config_conflict",
		    ": duration_default: 1h is not between duration_min (2h) and duration_max (8h)",
		    "duration_default below duration_min");
	extra_fails("duration_max = 30m\nduration_min = 1m\n", "config_conflict",
		    ": duration_default: 1h is not between duration_min (1m) and duration_max (30m)",
		    "duration_default above duration_max");
	ok(extra_loads("duration_min = 1h\nduration_max = 1h\n", &cfg) == 0, "min = default = max is fine");
	et_config_free(&cfg);
}

/* ---- module arguments over a loaded file ---- */

static void test_module_arguments(void)
{
	struct et_config cfg;
	struct et_err err;

	ok(extra_loads("", &cfg) == 0, "args: base file loads");
	et_err_clear(&err);
	ok(et_config_set(&cfg, "client_id", "override", "module argument", &err) == 0, "args: override client_id");
	is_str(cfg.client_id, "override", "args: arguments win over the file");
	ok(et_config_set(&cfg, "eligible_groups", "00000000-0000-0000-0000-000000000001", "module argument", &err) == 0 &&
		   cfg.eligible_groups.n == 1 &&
		   strcmp(cfg.eligible_groups.items[0], "00000000-0000-0000-0000-000000000001") == 0,
	   "args: a list is replaced, not appended to");
	ok(et_config_set(&cfg, "authority", "https://login.microsoftonline.us", "module argument", &err) == 0,
	   "args: override authority");
	ok(et_config_finish(&cfg, &err) == 0, "args: finish again");
	is_str(cfg.discovery_url,
	       "https://login.microsoftonline.us/" TENANT "/v2.0/.well-known/openid-configuration",
	       "args: the derived discovery_url follows the new authority");
	ok(et_config_set(&cfg, "discovery_url", "https://idp.example/d", "module argument", &err) == 0 &&
		   et_config_set(&cfg, "tenant_id", "other", "module argument", &err) == 0 &&
		   et_config_finish(&cfg, &err) == 0,
	   "args: explicit discovery_url, then another tenant");
	is_str(cfg.discovery_url, "https://idp.example/d", "args: an explicit discovery_url is kept");

	et_err_clear(&err);
	ok(et_config_set(&cfg, "colour", "blue", "module argument", &err) < 0, "args: unknown key refused");
	is_str(err.reason, "config_unknown_key", "args: unknown key reason");
	is_str(err.message, "module argument: colour: unknown key", "args: unknown key message");
	et_err_clear(&err);
	ok(et_config_set(&cfg, "tenant_id", "common", "module argument", &err) < 0, "args: bad value refused");
	is_str(cfg.tenant_id, "other", "args: a refused value leaves the old one");
	et_err_clear(&err);
	ok(et_config_set(&cfg, "tenant_id", "common", NULL, &err) < 0 &&
		   strncmp(err.message, "tenant_id: 'common'", 19) == 0,
	   "args: without `where` the message starts with the key");

	et_err_clear(&err);
	ok(et_config_set(&cfg, "tenant_id", NULL, "module argument", &err) < 0 &&
		   strcmp(err.message, "module argument: tenant_id: no key or no value") == 0,
	   "args: a NULL value is refused");
	et_err_clear(&err);
	ok(et_config_set(&cfg, NULL, "x", "module argument", &err) < 0 &&
		   strcmp(err.message, "module argument: no key or no value") == 0,
	   "args: a NULL key is refused");
	ok(et_config_set(&cfg, "duration_min", "10h", "module argument", &err) == 0, "args: duration_min 10h");
	et_err_clear(&err);
	ok(et_config_finish(&cfg, &err) < 0 && strcmp(err.reason, "config_conflict") == 0,
	   "args: finish re-checks cross-key rules");
	et_config_free(&cfg);

	/* A configuration built from arguments alone. */
	if (et_config_init(&cfg) < 0)
		abort();
	et_err_clear(&err);
	ok(et_config_finish(&cfg, &err) < 0, "args only: nothing set, finish fails");
	is_str(err.message, "tenant_id: required key is missing", "args only: no file prefix without a file");
	ok(et_config_set(&cfg, "tenant_id", TENANT, "arg", &err) == 0 &&
		   et_config_set(&cfg, "client_id", "c", "arg", &err) == 0 &&
		   et_config_set(&cfg, "eligible_roles", "Host.Elevate", "arg", &err) == 0 &&
		   et_config_set(&cfg, "allowed_domains", "contoso.com", "arg", &err) == 0 &&
		   et_config_set(&cfg, "elevated_group", "g", "arg", &err) == 0 && et_config_finish(&cfg, &err) == 0,
	   "args only: a complete set finishes");
	et_config_free(&cfg);
}

/* ---- durations ---- */

static void dur_ok(const char *text, long want)
{
	long got = -1;
	ok(et_duration_parse(text, &got) == 0 && got == want, "duration '%s' = %ld", text, want);
}

static void dur_bad(const char *text)
{
	long got = 12345;
	ok(et_duration_parse(text, &got) < 0 && got == 12345, "duration '%s' refused, output untouched", text);
}

static void test_durations(void)
{
	dur_ok("1", 1);
	dur_ok("90s", 90);
	dur_ok("10m", 600);
	dur_ok("8h", 28800);
	dur_ok("1d", 86400);
	dur_ok("007", 7);
	dur_ok("30d", 2592000);
	dur_ok("720h", 2592000);
	dur_ok("43200m", 2592000);
	dur_ok("2592000", 2592000);
	dur_bad("2592001");
	dur_bad("31d");
	dur_bad("721h");
	dur_bad("43201m");
	dur_bad("0");
	dur_bad("0s");
	dur_bad("");
	dur_bad("s");
	dur_bad("+5");
	dur_bad("-5");
	dur_bad(" 5");
	dur_bad("5 ");
	dur_bad("5 s");
	dur_bad("5sm");
	dur_bad("5ss");
	dur_bad("5x");
	dur_bad("5S");
	dur_bad("10M");
	dur_bad("1.5h");
	dur_bad("1e3");
	dur_bad("0x10");
	dur_bad("99999999999999999999");
	dur_bad("9223372036854775807s");
	dur_bad("18446744073709551617");
	{
		long got = 1;
		ok(et_duration_parse(NULL, &got) < 0, "duration NULL refused");
	}
}

static void test_init(void)
{
	struct et_config cfg;
	ok(et_config_init(&cfg) == 0, "init");
	ok(cfg.path == NULL && cfg.tenant_id == NULL && cfg.discovery_url == NULL, "init: no file, no tenant");
	is_str(cfg.authority, "https://login.microsoftonline.com", "init: default authority");
	ok(et_config_issuer_v2(&cfg) == NULL, "issuer v2 without a tenant is NULL");
	ok(et_config_issuer_v1(&cfg) == NULL, "issuer v1 without a tenant is NULL");
	et_config_free(&cfg);
}

int main(void)
{
	tap_require_root();
	dir = tu_tmpdir();
	test_init();
	test_good_file();
	test_every_key_set();
	test_syntax();
	test_file_safety();
	test_values();
	test_file_values();
	test_required();
	test_module_arguments();
	test_durations();
	return tap_done();
}
