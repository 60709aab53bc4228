/* SPDX-License-Identifier: Apache-2.0 */
/* Identity: local name rules, claim → user mapping (strip_domain, map file), the tid+oid pin. */
#include "conf.h"
#include "identity.h"
#include "tap.h"
#include "testutil.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TID "72f988bf-86f1-41af-91ab-2d7cd011db47"
#define TID2 "11111111-86f1-41af-91ab-2d7cd011db47"
#define OID_A "aaaaaaaa-0000-4000-8000-000000000001"
#define OID_B "bbbbbbbb-0000-4000-8000-000000000002"

static char *dir;

static void config_with(struct et_config *cfg, const char *state_dir)
{
	struct et_err err;
	if (et_config_init(cfg) < 0)
		abort();
	et_err_clear(&err);
	if (et_config_set(cfg, "allowed_domains", "contoso.com, Fabrikam.org", "test", &err) < 0 ||
	    (state_dir && et_config_set(cfg, "state_dir", state_dir, "test", &err) < 0)) {
		tap_diag("%s", err.message);
		abort();
	}
}

/* Replace a fixture file whose path the test already knows. */
static void rewrite(const char *in, const char *name, const char *text, mode_t mode)
{
	free(tu_write_file(in, name, text, mode));
}

static json_object *claims_of(const char *json)
{
	json_object *o = json_tokener_parse(json);
	if (!o)
		abort();
	return o;
}

/* ---- et_local_name_ok ---- */

static void test_local_names(void)
{
	static const struct {
		const char *name;
		int valid;
		const char *test;
	} cases[] = {
		{ "alice", 1, "name: alice" },
		{ "a.b_c-d", 1, "name: dots, underscores, dashes" },
		{ "svc1", 1, "name: letters then digits" },
		{ "1abc", 1, "name: starting with a digit but not all digits" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, "name: 32 characters" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "name: 33 characters refused" },
		{ NULL, 0, "name: NULL refused" },
		{ "", 0, "name: empty refused" },
		{ "-rf", 0, "name: leading '-' refused" },
		{ "12345", 0, "name: all digits refused (would read as a uid)" },
		{ "0", 0, "name: a single digit refused" },
		{ "a/b", 0, "name: '/' refused" },
		{ "../etc", 0, "name: path traversal refused" },
		{ "a:b", 0, "name: ':' refused (group file separator)" },
		{ "a b", 0, "name: space refused" },
		{ "a\tb", 0, "name: tab refused" },
		{ "a\nb", 0, "name: newline refused" },
		{ "a\x1b[0m", 0, "name: escape sequence refused" },
		{ "a\x7f", 0, "name: DEL refused" },
		{ "\xc3\xa5lice", 0, "name: non-ASCII refused" },
		{ "a,b", 0, "name: ',' refused" },
		{ "a@b", 0, "name: '@' refused" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(et_local_name_ok(cases[i].name) == cases[i].valid, "%s", cases[i].test);
}

/* ---- strip_domain ---- */

static void map_ok(const struct et_config *cfg, const char *json, const char *want, const char *name)
{
	json_object *c = claims_of(json);
	struct et_err err;
	char *user = NULL;
	et_err_clear(&err);
	if (!ok(et_identity_map(cfg, c, &user, &err) == 0, "%s", name))
		tap_diag("%s: %s", err.reason, err.message);
	is_str(user, want, name);
	free(user);
	json_object_put(c);
}

static void map_fails(const struct et_config *cfg, const char *json, const char *reason, const char *name)
{
	json_object *c = claims_of(json);
	struct et_err err;
	static char untouched[] = "untouched";
	char *user = untouched;
	et_err_clear(&err);
	ok(et_identity_map(cfg, c, &user, &err) < 0 && user == untouched, "%s: refused", name);
	is_str(err.reason, reason, name);
	json_object_put(c);
}

/* Claims (JSON) and what they map to: the local name, or the reason of the refusal. */
struct mapping {
	const char *claims, *want, *name;
};

static void test_strip_domain(void)
{
	struct et_config cfg;
	struct et_err err;
	config_with(&cfg, NULL);

	{
		static const struct mapping mapped[] = {
			{ "{\"preferred_username\":\"alice@contoso.com\"}",
			  "alice", "strip: alice@contoso.com" },
			{ "{\"preferred_username\":\"Alice.Smith@CONTOSO.com\"}",
			  "alice.smith", "strip: local part lower-cased, domain case-insensitive" },
			{ "{\"preferred_username\":\"bob@fabrikam.ORG\"}",
			  "bob", "strip: second allowed domain" },
			{ "{\"preferred_username\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@contoso.com\"}",
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "strip: 32-character local part" },
			{ "{\"preferred_username\":\"carol@contoso.com\",\"upn\":\"mallory@contoso.com\"}",
			  "carol", "strip: preferred_username is the configured claim, upn is ignored" },
		};
		static const struct mapping refused[] = {
			{ "{\"preferred_username\":\"alice@evil.example\"}",
			  "domain_not_allowed", "strip: other domain" },
			{ "{\"preferred_username\":\"alice@contoso.com.evil.example\"}",
			  "domain_not_allowed", "strip: allowed domain as a prefix of another" },
			{ "{\"preferred_username\":\"alice@sub.contoso.com\"}",
			  "domain_not_allowed", "strip: subdomain is not the domain" },
			{ "{\"preferred_username\":\"alice@\"}",
			  "domain_not_allowed", "strip: empty domain" },
			{ "{\"preferred_username\":\"alice\"}",
			  "domain_not_allowed", "strip: no domain at all" },
			{ "{\"preferred_username\":\"a@b@contoso.com\"}",
			  "bad_user_name", "strip: two '@'" },
			{ "{\"preferred_username\":\"alice@contoso.com@contoso.com\"}",
			  "bad_user_name", "strip: two '@', allowed domain at the end" },
			{ "{\"preferred_username\":\"@contoso.com\"}",
			  "bad_user_name", "strip: empty local part" },
			{ "{\"preferred_username\":\"-rf@contoso.com\"}",
			  "bad_user_name", "strip: leading '-'" },
			{ "{\"preferred_username\":\"1000@contoso.com\"}",
			  "bad_user_name", "strip: digits only" },
			{ "{\"preferred_username\":\"..\\/root@contoso.com\"}",
			  "bad_user_name", "strip: '/'" },
			{ "{\"preferred_username\":\"a:b@contoso.com\"}",
			  "bad_user_name", "strip: ':'" },
			{ "{\"preferred_username\":\"a b@contoso.com\"}",
			  "bad_user_name", "strip: space" },
			{ "{\"preferred_username\":\"a\\nroot@contoso.com\"}",
			  "bad_user_name", "strip: newline" },
			{ "{\"preferred_username\":\"a\\u001b[31m@contoso.com\"}",
			  "bad_user_name", "strip: escape character" },
			{ "{\"preferred_username\":\"\\u00e5sa@contoso.com\"}",
			  "bad_user_name", "strip: non-ASCII" },
			{ "{\"preferred_username\":\"root\\u0000x@contoso.com\"}",
			  "bad_user_name", "strip: embedded NUL (would truncate to root)" },
			{ "{\"preferred_username\":\"alice@contoso.com\\u0000@evil.example\"}",
			  "bad_user_name", "strip: embedded NUL before another domain" },
			{ "{\"preferred_username\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@contoso.com\"}",
			  "bad_user_name", "strip: 33-character local part" },
			{ "{\"upn\":\"alice@contoso.com\"}",
			  "missing_claim", "strip: configured claim missing" },
			{ "{\"preferred_username\":42}",
			  "missing_claim", "strip: claim is a number" },
			{ "{\"preferred_username\":[\"alice@contoso.com\"]}",
			  "missing_claim", "strip: claim is an array" },
			{ "{\"preferred_username\":null}",
			  "missing_claim", "strip: claim is null" },
			{ "[\"alice@contoso.com\"]",
			  "missing_claim", "strip: claims are not an object" },
		};
		for (size_t i = 0; i < sizeof(mapped) / sizeof(mapped[0]); i++)
			map_ok(&cfg, mapped[i].claims, mapped[i].want, mapped[i].name);
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
			map_fails(&cfg, refused[i].claims, refused[i].want, refused[i].name);
	}

	et_err_clear(&err);
	if (et_config_set(&cfg, "identity_claim", "upn", "test", &err) < 0)
		abort();
	map_ok(&cfg, "{\"preferred_username\":\"mallory@contoso.com\",\"upn\":\"dave@contoso.com\"}", "dave",
	       "strip: identity_claim = upn reads upn");
	map_fails(&cfg, "{\"preferred_username\":\"dave@contoso.com\"}", "missing_claim",
		  "strip: identity_claim = upn, no upn");
	et_config_free(&cfg);
}

/* ---- map file ---- */

static void test_map_file(void)
{
	struct et_config cfg;
	struct et_err err;
	char *map, *setting, *link;
	static const char map_text[] =
		"# Entra identity -> local user\n"
		"AAAAAAAA-0000-4000-8000-000000000001  carol\n"
		"\n"
		"   # indented comment\n"
		"Dave@Contoso.com\tdave\n"
		"erin@contoso.com erin\r\n"
		"eve@contoso.com -bad\n"
		"cccccccc-0000-4000-8000-000000000003 1000\n";

	map = tu_write_file(dir, "users.map", map_text, 0644);
	config_with(&cfg, NULL);
	if (asprintf(&setting, "file:%s", map) < 0)
		abort();
	et_err_clear(&err);
	if (et_config_set(&cfg, "user_map", setting, "test", &err) < 0 ||
	    et_config_set(&cfg, "identity_claim", "upn", "test", &err) < 0)
		abort();

	map_ok(&cfg, "{\"oid\":\"" OID_A "\",\"upn\":\"dave@contoso.com\"}", "carol",
	       "map: oid first (case-insensitive), even when the upn maps elsewhere");
	map_ok(&cfg, "{\"oid\":\"" OID_B "\",\"upn\":\"DAVE@contoso.COM\"}", "dave", "map: by upn, case-insensitive");
	map_ok(&cfg, "{\"upn\":\"erin@contoso.com\"}", "erin", "map: no oid, by upn; CRLF line");
	map_ok(&cfg, "{\"oid\":\"" OID_A "\"}", "carol", "map: oid without a upn claim");
	map_fails(&cfg, "{\"oid\":\"" OID_B "\",\"upn\":\"frank@contoso.com\"}", "unmapped", "map: unknown identity");
	map_fails(&cfg, "{\"oid\":\"" OID_B "\",\"upn\":\"aaaaaaaa-0000-4000-8000-000000000001\"}", "unmapped",
		  "map: a upn that looks like a mapped oid does not match the oid entry");
	map_fails(&cfg, "{\"oid\":\"" OID_B "\",\"upn\":\"eve@contoso.com\"}", "bad_user_name",
		  "map: mapped user with a leading '-'");
	map_fails(&cfg, "{\"oid\":\"cccccccc-0000-4000-8000-000000000003\"}", "bad_user_name",
		  "map: mapped user all digits");
	map_fails(&cfg, "{\"foo\":1}", "missing_claim", "map: neither oid nor upn");
	map_fails(&cfg, "{\"oid\":\"" OID_B "\",\"upn\":\"dave\\u0000@contoso.com\"}", "bad_user_name",
		  "map: upn with an embedded NUL");

	/* Malformed or ambiguous files are refused whole. */
	rewrite(dir, "users.map", "AAAAAAAA-0000-4000-8000-000000000001 carol extra\n", 0644);
	map_fails(&cfg, "{\"oid\":\"" OID_B "\",\"upn\":\"x@contoso.com\"}", "bad_map_file", "map: three fields");
	rewrite(dir, "users.map", "# c\nlonely\n", 0644);
	et_err_clear(&err);
	{
		json_object *c = claims_of("{\"oid\":\"" OID_A "\"}");
		char *user = NULL, *want;
		ok(et_identity_map(&cfg, c, &user, &err) < 0, "map: one field refused");
		if (asprintf(&want, "%s:2: expected 'KEY USER'.", map) < 0)
			abort();
		is_str(err.message, want, "map: error names file and line");
		free(want);
		json_object_put(c);
	}
	rewrite(dir, "users.map", "alice carol\n", 0644);
	map_fails(&cfg, "{\"oid\":\"" OID_A "\"}", "bad_map_file", "map: key neither an oid nor a UPN");
	rewrite(dir, "users.map",
		      "aaaaaaaa-0000-4000-8000-000000000001 carol\nAAAAAAAA-0000-4000-8000-000000000001 root1\n", 0644);
	map_fails(&cfg, "{\"oid\":\"" OID_A "\"}", "bad_map_file", "map: the same oid mapped twice");
	rewrite(dir, "users.map", "d@contoso.com dave\nD@CONTOSO.COM dave2\n", 0644);
	map_fails(&cfg, "{\"upn\":\"d@contoso.com\"}", "bad_map_file", "map: the same upn mapped twice");
	{
		int fd = open(map, O_WRONLY | O_TRUNC | O_CLOEXEC);
		static const char data[] = "x@contoso.com x\0y\n";
		if (fd < 0 || write(fd, data, sizeof(data) - 1) != (ssize_t)(sizeof(data) - 1) || close(fd) < 0)
			abort();
		map_fails(&cfg, "{\"upn\":\"x@contoso.com\"}", "bad_map_file", "map: NUL byte in the file");
	}

	/* Unsafe map files. */
	rewrite(dir, "users.map", map_text, 0666);
	map_fails(&cfg, "{\"oid\":\"" OID_A "\"}", "unsafe_file", "map: world-writable map file");
	rewrite(dir, "users.map", map_text, 0644);
	if (chown(map, 65534, 65534) < 0)
		abort();
	map_fails(&cfg, "{\"oid\":\"" OID_A "\"}", "unsafe_file", "map: map file not owned by root");
	if (chown(map, 0, 0) < 0)
		abort();
	free(setting);
	if (asprintf(&setting, "file:%s.link", map) < 0)
		abort();
	if (asprintf(&link, "%s.link", map) < 0 || symlink(map, link) < 0)
		abort();
	if (et_config_set(&cfg, "user_map", setting, "test", &err) < 0)
		abort();
	map_fails(&cfg, "{\"oid\":\"" OID_A "\"}", "unsafe_file", "map: symlinked map file");
	unlink(link);
	map_fails(&cfg, "{\"oid\":\"" OID_A "\"}", "not_found", "map: missing map file");

	free(link);
	free(setting);
	free(map);
	et_config_free(&cfg);
}

/* ---- the pin ---- */

static char *read_all(const char *path)
{
	char *buf = calloc(1, 512);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (!buf)
		abort();
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	if (read(fd, buf, 511) < 0)
		abort();
	close(fd);
	return buf;
}

static void test_pin(void)
{
	struct et_config cfg;
	struct et_err err;
	char *state, *pin, *content, *ids, *path;
	struct stat st;

	state = strdup(tu_tmpdir());
	if (!state)
		abort();
	if (asprintf(&ids, "%s/state", state) < 0)
		abort();
	config_with(&cfg, ids);
	free(ids);
	if (asprintf(&ids, "%s/state/identities", state) < 0 || asprintf(&pin, "%s/alice", ids) < 0)
		abort();

	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "alice", TID, OID_A, false, &err) == 0,
	   "pin: no pin and record=false passes");
	ok(stat(cfg.state_dir, &st) < 0, "pin: record=false creates nothing");
	et_err_clear(&err);
	ok(et_identity_pin_reset(&cfg, "alice", &err) < 0 && strcmp(err.reason, "not_found") == 0,
	   "reset: before any state exists, there is no pin");
	ok(stat(cfg.state_dir, &st) < 0, "reset: creates nothing");

	ok(et_identity_pin_check(&cfg, "alice", TID, OID_A, true, &err) == 0, "pin: first use records");
	content = read_all(pin);
	is_str(content, TID " " OID_A "\n", "pin: file holds 'tid oid\\n'");
	free(content);
	ok(stat(pin, &st) == 0 && (st.st_mode & 07777) == 0600 && st.st_uid == 0, "pin: file is 0600 root");
	ok(stat(cfg.state_dir, &st) == 0 && (st.st_mode & 07777) == 0700, "pin: state_dir created 0700");
	ok(stat(ids, &st) == 0 && (st.st_mode & 07777) == 0700, "pin: identities dir created 0700");
	is_int(tu_count_entries(ids), 1, "pin: no temporary file left behind");

	ok(et_identity_pin_check(&cfg, "alice", TID, OID_A, true, &err) == 0, "pin: same oid passes");
	ok(et_identity_pin_check(&cfg, "alice", TID, OID_A, false, &err) == 0, "pin: same oid passes without record");
	ok(et_identity_pin_check(&cfg, "alice", "72F988BF-86F1-41AF-91AB-2D7CD011DB47",
				 "AAAAAAAA-0000-4000-8000-000000000001", true, &err) == 0,
	   "pin: GUIDs compare case-insensitively");

	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "alice", TID, OID_B, true, &err) < 0, "pin: another oid is refused");
	is_str(err.reason, "oid_mismatch", "pin: mismatch reason");
	is_str(err.message,
	       "Local user alice is pinned to Entra object " OID_A ", but this sign-in presented object " OID_B
	       "; if the account really changed, run `entra-tap reset-identity alice`.",
	       "pin: mismatch names the user, both oids and the reset command");
	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "alice", TID, OID_B, false, &err) < 0 && strcmp(err.reason, "oid_mismatch") == 0,
	   "pin: another oid is refused without record too");
	content = read_all(pin);
	is_str(content, TID " " OID_A "\n", "pin: a refused sign-in leaves the pin as it was");
	free(content);

	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "alice", TID2, OID_A, true, &err) < 0, "pin: another tenant is refused");
	is_str(err.reason, "oid_mismatch", "pin: tenant mismatch reason");
	ok(strstr(err.message, TID) && strstr(err.message, TID2), "pin: tenant mismatch names both tenants");

	ok(et_identity_pin_check(&cfg, "bob", TID, OID_B, true, &err) == 0, "pin: another user pins separately");

	/* Reset. */
	et_err_clear(&err);
	ok(et_identity_pin_reset(&cfg, "alice", &err) == 0, "reset: removes the pin");
	ok(stat(pin, &st) < 0, "reset: file gone");
	et_err_clear(&err);
	ok(et_identity_pin_reset(&cfg, "alice", &err) < 0, "reset: again fails");
	is_str(err.message, "no pinned identity for alice", "reset: missing pin sentence");
	is_str(err.reason, "not_found", "reset: missing pin reason");
	ok(et_identity_pin_check(&cfg, "alice", TID, OID_B, true, &err) == 0, "reset: a new oid pins after reset");
	content = read_all(pin);
	is_str(content, TID " " OID_B "\n", "reset: new pin content");
	free(content);
	et_err_clear(&err);
	ok(et_identity_pin_reset(&cfg, "../alice", &err) < 0 && strcmp(err.reason, "bad_user_name") == 0,
	   "reset: a path in the user name is refused");

	/* Corrupt pins are reported, never replaced. */
	{
		static const char *const corrupt[] = { "garbage",
						       "",
						       TID " " OID_A,
						       TID OID_A "\n",
						       TID " " OID_A "\nextra\n",
						       TID "  " OID_A "\n",
						       TID " " OID_A " x\n",
						       TID " a\tb\n" };
		for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
			char name[32];
			rewrite(ids, "carol", corrupt[i], 0600);
			snprintf(name, sizeof(name), "pin: corrupt pin #%zu", i);
			et_err_clear(&err);
			ok(et_identity_pin_check(&cfg, "carol", TID, OID_A, true, &err) < 0, "%s refused", name);
			is_str(err.reason, "pin_corrupt", name);
			if (asprintf(&path, "%s/carol", ids) < 0)
				abort();
			content = read_all(path);
			is_str(content, corrupt[i], "  ... and left as it was");
			free(content);
			free(path);
		}
		ok(strstr(err.message, "entra-tap reset-identity carol") != NULL, "pin: corrupt sentence says how to reset");
	}
	{
		char *target, *lnk;
		target = tu_write_file(ids, "target", TID " " OID_A "\n", 0600);
		if (asprintf(&lnk, "%s/dave", ids) < 0 || symlink(target, lnk) < 0)
			abort();
		et_err_clear(&err);
		ok(et_identity_pin_check(&cfg, "dave", TID, OID_A, true, &err) < 0 &&
			   strcmp(err.reason, "unsafe_file") == 0,
		   "pin: a symlinked pin is refused");
		free(target);
		free(lnk);
	}
	rewrite(ids, "erin", TID " " OID_A "\n", 0644);
	{
		char *p;
		if (asprintf(&p, "%s/erin", ids) < 0 || chown(p, 65534, 65534) < 0)
			abort();
		et_err_clear(&err);
		ok(et_identity_pin_check(&cfg, "erin", TID, OID_A, true, &err) < 0 && strcmp(err.reason, "unsafe_file") == 0,
		   "pin: a pin not owned by root is refused");
		free(p);
	}

	/* Bad inputs. */
	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "../../etc/x", TID, OID_A, true, &err) < 0 &&
		   strcmp(err.reason, "bad_user_name") == 0,
	   "pin: user with a path refused");
	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "alice", NULL, OID_A, true, &err) < 0 && strcmp(err.reason, "missing_claim") == 0,
	   "pin: no tid refused");
	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "alice", TID, NULL, true, &err) < 0 && strcmp(err.reason, "missing_claim") == 0,
	   "pin: no oid refused");
	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "frank", TID, "a b\nc", true, &err) < 0 &&
		   strcmp(err.reason, "bad_claim_type") == 0,
	   "pin: an oid that would break the pin line is refused");
	{
		char *p;
		if (asprintf(&p, "%s/frank", ids) < 0)
			abort();
		ok(access(p, F_OK) < 0, "pin: nothing written for a refused oid");
		free(p);
	}

	/* Unsafe pin directories are not used, for reading an existing pin either: there a pin
	 * could be swapped. */
	if (chmod(cfg.state_dir, 0777) < 0)
		abort();
	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "gina", TID, OID_A, true, &err) < 0 && strcmp(err.reason, "state_dir") == 0,
	   "pin: world-writable state_dir refused");
	if (chmod(cfg.state_dir, 0700) < 0 || chmod(ids, 0777) < 0)
		abort();
	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "alice", TID, OID_B, false, &err) < 0 && strcmp(err.reason, "state_dir") == 0,
	   "pin: an existing pin in a world-writable identities dir is not trusted");
	et_err_clear(&err);
	ok(et_identity_pin_reset(&cfg, "alice", &err) < 0 && strcmp(err.reason, "state_dir") == 0,
	   "reset: refused in a world-writable identities dir");
	if (chmod(ids, 0700) < 0 || chown(ids, 65534, 65534) < 0)
		abort();
	et_err_clear(&err);
	ok(et_identity_pin_check(&cfg, "alice", TID, OID_B, true, &err) < 0 && strcmp(err.reason, "state_dir") == 0,
	   "pin: an identities dir not owned by root is refused");
	if (chown(ids, 0, 0) < 0)
		abort();
	ok(et_identity_pin_check(&cfg, "alice", TID, OID_B, false, &err) == 0, "pin: usable again once fixed");

	free(pin);
	free(ids);
	free(state);
	et_config_free(&cfg);
}

/* Racing first sign-ins from separate processes: exactly one pin wins; every process that
 * presented the winner's oid passes, every other one is refused with oid_mismatch. */
static void test_pin_race(void)
{
	enum { ROUNDS = 20, CHILDREN = 12 };
	struct et_config cfg;
	struct et_err err;
	char *state, *ids, *pin;
	int rounds_ok = 0, winners_a = 0, winners_b = 0, leftovers = 0;

	if (asprintf(&state, "%s/race-state", tu_tmpdir()) < 0)
		abort();
	config_with(&cfg, state);
	if (asprintf(&ids, "%s/identities", state) < 0 || asprintf(&pin, "%s/racer", ids) < 0)
		abort();

	for (int round = 0; round < ROUNDS; round++) {
		int gate[2], status[CHILDREN], pass_a = 0, pass_b = 0, refused_a = 0, refused_b = 0, other = 0;
		pid_t pids[CHILDREN];
		char *content;

		if (pipe(gate) < 0)
			abort();
		for (int i = 0; i < CHILDREN; i++) {
			pids[i] = fork();
			if (pids[i] < 0)
				abort();
			if (pids[i] == 0) {
				char c;
				struct et_err cerr;
				close(gate[1]);
				/* Wait until the parent opens the gate, so the children start together. */
				if (read(gate[0], &c, 1) < 0)
					_exit(9);
				et_err_clear(&cerr);
				if (et_identity_pin_check(&cfg, "racer", TID, (i % 2) ? OID_B : OID_A, true, &cerr) == 0)
					_exit(0);
				_exit(strcmp(cerr.reason, "oid_mismatch") == 0 ? 2 : 1);
			}
		}
		close(gate[0]);
		close(gate[1]); /* EOF releases every child at once */
		for (int i = 0; i < CHILDREN; i++) {
			if (waitpid(pids[i], &status[i], 0) < 0 || !WIFEXITED(status[i]))
				abort();
			switch (WEXITSTATUS(status[i])) {
			case 0:
				(i % 2) ? pass_b++ : pass_a++;
				break;
			case 2:
				(i % 2) ? refused_b++ : refused_a++;
				break;
			default:
				other++;
			}
		}
		content = read_all(pin);
		if (other == 0 && content) {
			if (strcmp(content, TID " " OID_A "\n") == 0 && pass_a == CHILDREN / 2 &&
			    refused_b == CHILDREN / 2) {
				rounds_ok++;
				winners_a++;
			} else if (strcmp(content, TID " " OID_B "\n") == 0 && pass_b == CHILDREN / 2 &&
				   refused_a == CHILDREN / 2) {
				rounds_ok++;
				winners_b++;
			}
		}
		if (tu_count_entries(ids) != 1)
			leftovers++;
		free(content);
		et_err_clear(&err);
		if (et_identity_pin_reset(&cfg, "racer", &err) < 0)
			abort();
	}
	is_int(rounds_ok, ROUNDS, "race: every round has one winner, its side passes, the other side is refused");
	tap_diag("race winners: %d rounds for the first oid, %d for the second", winners_a, winners_b);
	is_int(leftovers, 0, "race: no temporary files left behind");
	free(pin);
	free(ids);
	free(state);
	et_config_free(&cfg);
}

/* ---- et_identity_account_check: which local accounts a sign-in may reach ---- */

static void test_account_check(void)
{
	static const struct {
		const char *user, *allow, *login_defs, *want, *says;
	} cases[] = {
		{ "root", NULL, NULL, "system_account", "a root account" },
		{ "root", "root", NULL, "system_account", "a root account" },
		{ "daemon", NULL, NULL, "system_account", "below UID_MIN 1000" },
		{ "daemon", "daemon", NULL, NULL, NULL },
		{ "daemon", "nobody", NULL, "system_account", "below UID_MIN 1000" },
		{ "nobody", NULL, NULL, "system_account", "without a login shell (/usr/sbin/nologin)" },
		{ "nobody", NULL, "UID_MIN\t70000\n", "system_account", "below UID_MIN 70000" },
		{ "nobody", NULL, "# UID_MIN 70000\nUID_MIN_X 70000\n", "system_account", "without a login shell" },
		{ "nobody", "nobody", NULL, NULL, NULL },
		{ "no-such-user-here", NULL, NULL, "no_user", "no local account" },
	};
	char *shells = tu_write_file(dir, "shells", "# shells\n/bin/bash\n/usr/sbin/nologin\n", 0644);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct et_config cfg;
		struct et_err err;
		char *defs = tu_write_file(dir, "login.defs", cases[i].login_defs ? cases[i].login_defs : "UID_MIN 1000\n",
					   0644);
		int r;
		config_with(&cfg, NULL);
		if (cases[i].allow && et_config_set(&cfg, "allow_system_accounts", cases[i].allow, "test", &err) < 0)
			abort();
		et_err_clear(&err);
		r = et_identity_account_check(&cfg, cases[i].user, defs, shells, &err);
		if (!cases[i].want) {
			ok(r == 0, "account: %s with allow_system_accounts = %s is reachable", cases[i].user, cases[i].allow);
		} else {
			ok(r < 0 && strcmp(err.reason, cases[i].want) == 0, "account: %s (allow %s, %s) is refused as %s",
			   cases[i].user, cases[i].allow ? cases[i].allow : "none",
			   cases[i].login_defs ? "own UID_MIN" : "UID_MIN 1000", cases[i].want);
			ok(strstr(err.message, cases[i].says) != NULL, "account: ... saying '%s' (%s)", cases[i].says,
			   err.message);
		}
		free(defs);
		et_config_free(&cfg);
	}
	free(shells);
}

int main(void)
{
	tap_require_root();
	dir = tu_tmpdir();
	test_local_names();
	test_strip_domain();
	test_map_file();
	test_pin();
	test_pin_race();
	test_account_check();
	return tap_done();
}
