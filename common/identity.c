/* SPDX-License-Identifier: Apache-2.0 */
/* From a verified token to a local user name, and the per-user tid+oid pin.
 *
 * Names in tokens (upn, preferred_username) are mutable in Entra ID and may be reassigned,
 * so they only *select* a local user; the first object ID (oid) that signs in as that user is
 * pinned, and a different oid is refused until an administrator resets the pin.
 */
#include "conf.h"
#include "identity.h"
#include "fsutil.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAP_FILE_MAX (1024 * 1024)
#define PIN_FILE_MAX 256
#define OBJECT_ID_MAX 64

int et_local_name_ok(const char *name)
{
	size_t n;
	int all_digits = 1;
	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n > ET_USER_NAME_MAX || name[0] == '-')
		return 0;
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!isascii(c) || !(isalnum(c) || c == '.' || c == '_' || c == '-'))
			return 0;
		if (!isdigit(c))
			all_digits = 0;
	}
	return !all_digits;
}

/* A claim value quoted in a message: printable ASCII, bounded. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i = 0;
	for (; s[i] && i + 1 < len; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

/* The string value of a claim, refusing embedded NULs that would silently shorten it. */
static int claim_string(json_object *claims, const char *name, const char **ret, struct et_err *err)
{
	json_object *v;
	const char *s;
	if (!json_object_object_get_ex(claims, name, &v) || !json_object_is_type(v, json_type_string))
		return et_err_set(err, ET_E_MISSING_CLAIM, "The token has no %s claim of type string.", name);
	s = json_object_get_string(v);
	if (!s || (size_t)json_object_get_string_len(v) != strlen(s))
		return et_err_set(err, ET_E_BAD_USER_NAME, "The token's %s claim contains a NUL byte.", name);
	*ret = s;
	return 0;
}

/* tid and oid are GUIDs in Entra ID; anything that could break the pin file's one-line
 * format (whitespace, control characters) or be absurdly long is refused. */
static int object_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > OBJECT_ID_MAX)
		return 0;
	for (; *s; s++)
		if (!isascii((unsigned char)*s) || !(isalnum((unsigned char)*s) || *s == '-'))
			return 0;
	return 1;
}

static int map_strip_domain(const struct et_config *cfg, const char *claim, const char *value, char **ret_user,
			    struct et_err *err)
{
	const char *at = strchr(value, '@');
	char shown[80], *user;
	size_t local_len;

	if (!at)
		return et_err_set(err, ET_E_DOMAIN_NOT_ALLOWED, "The token's %s \"%s\" has no domain part.", claim,
				  printable(value, shown, sizeof(shown)));
	if (strchr(at + 1, '@'))
		return et_err_set(err, ET_E_BAD_USER_NAME, "The token's %s \"%s\" contains more than one '@'.", claim,
				  printable(value, shown, sizeof(shown)));
	if (!et_strlist_contains_icase(&cfg->allowed_domains, at + 1))
		return et_err_set(err, ET_E_DOMAIN_NOT_ALLOWED, "The domain of %s \"%s\" is not in allowed_domains.", claim,
				  printable(value, shown, sizeof(shown)));
	local_len = (size_t)(at - value);
	if (local_len == 0 || local_len > ET_USER_NAME_MAX)
		return et_err_set(err, ET_E_BAD_USER_NAME, "The token's %s \"%s\" does not give a valid local user name.",
				  claim, printable(value, shown, sizeof(shown)));
	user = strndup(value, local_len);
	if (!user)
		return et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
	for (char *p = user; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!et_local_name_ok(user)) {
		free(user);
		return et_err_set(err, ET_E_BAD_USER_NAME, "The token's %s \"%s\" does not give a valid local user name.",
				  claim, printable(value, shown, sizeof(shown)));
	}
	*ret_user = user;
	return 0;
}

static bool is_guid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

int et_map_file_open(struct et_map_file *m, const char *path, struct et_err *err)
{
	size_t len = 0;

	memset(m, 0, sizeof(*m));
	if (!path)
		return et_err_set(err, ET_E_BAD_MAP_FILE, "user_map = file: needs a path.");
	if (et_file_read(path, MAP_FILE_MAX, 1, &m->buf, &len, err) < 0) {
		/* the host's configuration, not the person's doing (too_large is a refusal's class) */
		if (err && err->code == ET_E_TOO_LARGE)
			et_err_set(err, ET_E_BAD_MAP_FILE, "%s is larger than %d bytes.", path, MAP_FILE_MAX);
		return -1;
	}
	if (strlen(m->buf) != len) {
		et_err_set(err, ET_E_BAD_MAP_FILE, "%s contains a NUL byte.", path);
		et_map_file_close(m);
		return -1;
	}
	m->path = path;
	m->next = m->buf;
	return 0;
}

int et_map_file_next(struct et_map_file *m, struct et_map_entry *ret, struct et_err *err)
{
	char shown[80];

	while (m->next && *m->next) {
		char *line = m->next, *end = strchr(line, '\n'), *key, *name, *save = NULL;
		m->next = end ? end + 1 : NULL;
		if (end)
			*end = '\0';
		m->lineno++;
		key = strtok_r(line, " \t\r", &save);
		if (!key || key[0] == '#')
			continue;
		name = strtok_r(NULL, " \t\r", &save);
		if (!name || strtok_r(NULL, " \t\r", &save))
			return et_err_set(err, ET_E_BAD_MAP_FILE, "%s:%zu: expected 'KEY USER'.", m->path, m->lineno);
		ret->key_is_oid = is_guid(key);
		if (!ret->key_is_oid && !strchr(key, '@'))
			return et_err_set(err, ET_E_BAD_MAP_FILE, "%s:%zu: \"%s\" is neither an object ID nor a UPN.",
					  m->path, m->lineno, printable(key, shown, sizeof(shown)));
		ret->key = key;
		ret->user = name;
		ret->lineno = m->lineno;
		return 1;
	}
	return 0;
}

void et_map_file_close(struct et_map_file *m)
{
	free(m->buf);
	memset(m, 0, sizeof(*m));
}

/* The whole file is read, so that a malformed line anywhere refuses it; the entry for this
 * identity must be unambiguous. */
static int map_file(const struct et_config *cfg, json_object *claims, const char *claim, char **ret_user,
		    struct et_err *err)
{
	const char *path = cfg->user_map_file, *oid = NULL, *value = NULL, *by_oid = NULL, *by_name = NULL, *found;
	struct et_map_file map;
	struct et_map_entry e;
	struct et_err cerr;
	char shown[80], shown_oid[80], *user;
	int r, ret = -1;

	if (!path)
		return et_err_set(err, ET_E_BAD_MAP_FILE, "user_map = file: needs a path.");
	/* Either claim may be absent: the other may still map. */
	if (claim_string(claims, "oid", &oid, NULL) < 0)
		oid = NULL;
	if (claim_string(claims, claim, &value, &cerr) < 0) {
		if (cerr.code != ET_E_MISSING_CLAIM) {
			if (err)
				*err = cerr;
			return -1;
		}
		value = NULL;
	}
	if (!oid && !value)
		return et_err_set(err, ET_E_MISSING_CLAIM, "The token has neither an oid nor a %s claim.", claim);
	if (et_map_file_open(&map, path, err) < 0)
		return -1;
	while ((r = et_map_file_next(&map, &e, err)) > 0) {
		if (e.key_is_oid ? !(oid && strcasecmp(e.key, oid) == 0) : !(value && strcasecmp(e.key, value) == 0))
			continue;
		if (e.key_is_oid ? by_oid != NULL : by_name != NULL) {
			et_err_set(err, ET_E_BAD_MAP_FILE, "%s:%zu: \"%s\" is mapped twice.", path, e.lineno,
				   printable(e.key, shown, sizeof(shown)));
			goto done;
		}
		if (e.key_is_oid)
			by_oid = e.user;
		else
			by_name = e.user;
	}
	if (r < 0)
		goto done;
	found = by_oid ? by_oid : by_name;
	if (!found) {
		et_err_set(err, ET_E_UNMAPPED, "The user map has no entry for object ID %s or %s \"%s\".",
			   oid ? printable(oid, shown_oid, sizeof(shown_oid)) : "(none)", claim,
			   value ? printable(value, shown, sizeof(shown)) : "(none)");
		goto done;
	}
	if (!et_local_name_ok(found)) {
		et_err_set(err, ET_E_BAD_USER_NAME, "%s maps this identity to \"%s\", which is not a valid local user name.",
			   path, printable(found, shown, sizeof(shown)));
		goto done;
	}
	user = strdup(found);
	if (!user) {
		et_err_set(err, ET_E_NO_MEMORY, "Out of memory.");
		goto done;
	}
	*ret_user = user;
	ret = 0;
done:
	et_map_file_close(&map);
	return ret;
}

int et_identity_map(const struct et_config *cfg, json_object *claims, char **ret_user, struct et_err *err)
{
	const char *claim = cfg->identity_claim == ET_CLAIM_UPN ? "upn" : "preferred_username";
	const char *value;

	if (!claims || !json_object_is_type(claims, json_type_object))
		return et_err_set(err, ET_E_MISSING_CLAIM, "The token has no claims.");
	if (cfg->user_map == ET_MAP_FILE)
		return map_file(cfg, claims, claim, ret_user, err);
	if (claim_string(claims, claim, &value, err) < 0)
		return -1;
	return map_strip_domain(cfg, claim, value, ret_user, err);
}

/* ---- which local accounts a sign-in may reach ---- */

/* UID_MIN from login.defs ("UID_MIN <number>"), or the default when absent or unreadable. */
static unsigned long uid_min(const char *path)
{
	char line[256];
	unsigned long v = ET_UID_MIN_DEFAULT;
	FILE *f = fopen(path, "re");
	unsigned n = 0;
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f) && n++ < 10000) {
		char *p = line, *end;
		unsigned long x;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "UID_MIN", 7) != 0 || (p[7] != ' ' && p[7] != '\t'))
			continue;
		p += 7;
		while (*p == ' ' || *p == '\t')
			p++;
		errno = 0;
		x = strtoul(p, &end, 10);
		if (errno == 0 && end != p && (*end == '\0' || isspace((unsigned char)*end)) && x > 0)
			v = x;
	}
	fclose(f);
	return v;
}

/* A login shell: listed in the shells file, and not one that refuses logins. */
static bool login_shell(const char *shell, const char *path)
{
	char line[PATH_MAX];
	const char *base;
	bool found = false;
	FILE *f;
	unsigned n = 0;
	if (!shell || shell[0] != '/')
		return false;
	base = strrchr(shell, '/') + 1;
	if (strcmp(base, "nologin") == 0 || strcmp(base, "false") == 0)
		return false;
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f) && n++ < 10000) {
		line[strcspn(line, "\n")] = '\0';
		found = line[0] == '/' && strcmp(line, shell) == 0;
	}
	fclose(f);
	return found;
}

int et_identity_account_check(const struct et_config *cfg, const char *user, const char *login_defs,
			      const char *shells, struct et_err *err)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	unsigned long min;
	int r = getpwnam_r(user, &pw, buf, sizeof(buf), &found);
	if (r != 0 || !found)
		return et_err_set(err, ET_E_NO_USER, "There is no local account \"%s\".", user);
	if (pw.pw_uid == 0)
		return et_err_set(err, ET_E_SYSTEM_ACCOUNT,
				  "The token maps to \"%s\", a root account, which a sign-in never reaches.", user);
	if (et_strlist_contains(&cfg->allow_system_accounts, user))
		return 0;
	min = uid_min(login_defs ? login_defs : ET_LOGIN_DEFS);
	if ((unsigned long)pw.pw_uid < min)
		return et_err_set(err, ET_E_SYSTEM_ACCOUNT,
				  "The token maps to \"%s\", a system account (uid %lu, below UID_MIN %lu) that is not in "
				  "allow_system_accounts.",
				  user, (unsigned long)pw.pw_uid, min);
	if (!login_shell(pw.pw_shell, shells ? shells : ET_SHELLS))
		return et_err_set(err, ET_E_SYSTEM_ACCOUNT,
				  "The token maps to \"%s\", an account without a login shell (%s) that is not in "
				  "allow_system_accounts.",
				  user, pw.pw_shell && pw.pw_shell[0] ? pw.pw_shell : "none");
	return 0;
}

/* ---- the pin store ---- */

static int pin_path(const struct et_config *cfg, const char *user, char *dir, char *path, struct et_err *err)
{
	if (!et_local_name_ok(user) || !et_path_component_ok(user))
		return et_err_set(err, ET_E_BAD_USER_NAME, "\"%s\" is not a valid local user name.", user);
	if (!cfg->state_dir)
		return et_err_set(err, ET_E_STATE_DIR, "No state_dir is configured.");
	if (snprintf(dir, PATH_MAX, "%s/identities", cfg->state_dir) >= PATH_MAX ||
	    snprintf(path, PATH_MAX, "%s/%s", dir, user) >= PATH_MAX)
		return et_err_set(err, ET_E_PATH_TOO_LONG, "state_dir is too long.");
	return 0;
}

/* The pin directories are checked on every use, not only when created: in a directory others
 * can write to, a pin could be removed and replaced by whoever signs in next. Returns 1 when
 * nothing was ever pinned (and create is false), 0 when the directories are safe, -1. */
static int pin_dirs(const struct et_config *cfg, const char *dir, bool create, struct et_err *err)
{
	struct stat st;
	if (!create && lstat(dir, &st) < 0 && errno == ENOENT)
		return 1;
	if (et_dir_ensure_private(cfg->state_dir, 0700, err) < 0 || et_dir_ensure_private(dir, 0700, err) < 0)
		return -1;
	return 0;
}

/* Read "tid oid\n". Anything else is corruption: reported, never silently replaced. */
static int pin_read(const char *path, const char *user, char *tid, char *oid, struct et_err *err)
{
	char *buf = NULL, *sp, *nl;
	size_t len = 0;
	int ret = -1;
	if (et_file_read(path, PIN_FILE_MAX, 1, &buf, &len, err) < 0)
		return -1;
	sp = strchr(buf, ' ');
	nl = strchr(buf, '\n');
	if (strlen(buf) != len || !sp || !nl || nl < sp || nl[1] != '\0' || (size_t)(sp - buf) > OBJECT_ID_MAX ||
	    (size_t)(nl - sp - 1) > OBJECT_ID_MAX)
		goto corrupt;
	memcpy(tid, buf, (size_t)(sp - buf));
	tid[sp - buf] = '\0';
	memcpy(oid, sp + 1, (size_t)(nl - sp - 1));
	oid[nl - sp - 1] = '\0';
	if (!object_id_ok(tid) || !object_id_ok(oid))
		goto corrupt;
	ret = 0;
	goto done;
corrupt:
	et_err_set(err, ET_E_PIN_CORRUPT,
		   "The identity pin %s is corrupt: refusing to use it; inspect it, then run "
		   "`entra-tap reset-identity %s`.",
		   path, user);
done:
	free(buf);
	return ret;
}

/* Create the pin if none exists, atomically: a complete temp file is linked into place, so
 * of racing first sign-ins exactly one wins and the others compare against it. Returns 1
 * when created, 0 when one already existed, -1 on error. */
static int pin_create(const char *dir, const char *path, const char *tid, const char *oid, struct et_err *err)
{
	char tmpl[PATH_MAX], content[2 * OBJECT_ID_MAX + 3];
	struct et_err werr;
	int len, r;

	len = snprintf(content, sizeof(content), "%s %s\n", tid, oid);
	/* '~' never occurs in a user name, so a leftover temp file is never taken for a pin. */
	if (snprintf(tmpl, sizeof(tmpl), "%s/.pin~XXXXXX", dir) >= (int)sizeof(tmpl))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "state_dir is too long.");
	r = et_file_create_exclusive(path, tmpl, content, (size_t)len, 0600, &werr);
	if (r < 0)
		return et_err_set(err, ET_E_STATE_WRITE, "Cannot write the identity pin %s: %s.", path, werr.message);
	return r;
}

int et_identity_pin_check(const struct et_config *cfg, const char *user, const char *tid, const char *oid,
			  bool record, struct et_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX], pinned_tid[OBJECT_ID_MAX + 1], pinned_oid[OBJECT_ID_MAX + 1];
	struct et_err rerr;
	char shown[80];
	int r;

	if (!tid || !oid)
		return et_err_set(err, ET_E_MISSING_CLAIM, "The token lacks a tid or oid claim.");
	if (!object_id_ok(tid) || !object_id_ok(oid))
		return et_err_set(err, ET_E_BAD_CLAIM_TYPE, "The token's tid or oid \"%s\" is not an object ID.",
				  printable(object_id_ok(tid) ? oid : tid, shown, sizeof(shown)));
	if (pin_path(cfg, user, dir, path, err) < 0)
		return -1;
	r = pin_dirs(cfg, dir, record, err);
	if (r != 0)
		return r < 0 ? -1 : 0; /* nothing pinned yet, and this caller only looks */

	et_err_clear(&rerr);
	if (pin_read(path, user, pinned_tid, pinned_oid, &rerr) < 0) {
		if (rerr.code != ET_E_NOT_FOUND) {
			if (err)
				*err = rerr;
			return -1;
		}
		if (!record)
			return 0;
		r = pin_create(dir, path, tid, oid, err);
		if (r < 0)
			return -1;
		if (r == 1)
			return 0;
		/* Lost a race with another first sign-in: judge against the winner's pin. */
		if (pin_read(path, user, pinned_tid, pinned_oid, err) < 0)
			return -1;
	}
	if (strcasecmp(pinned_oid, oid) == 0 && strcasecmp(pinned_tid, tid) == 0)
		return 0;
	if (strcasecmp(pinned_tid, tid) != 0)
		return et_err_set(err, ET_E_OID_MISMATCH,
				  "Local user %s is pinned to Entra object %s in tenant %s, but this sign-in presented "
				  "object %s in tenant %s; if that is right, run `entra-tap reset-identity %s`.",
				  user, pinned_oid, pinned_tid, oid, tid, user);
	return et_err_set(err, ET_E_OID_MISMATCH,
			  "Local user %s is pinned to Entra object %s, but this sign-in presented object %s; if the "
			  "account really changed, run `entra-tap reset-identity %s`.",
			  user, pinned_oid, oid, user);
}

int et_identity_pin_reset(const struct et_config *cfg, const char *user, struct et_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int r;
	if (pin_path(cfg, user, dir, path, err) < 0)
		return -1;
	r = pin_dirs(cfg, dir, false, err);
	if (r < 0)
		return -1;
	if (r == 1 || lstat(path, &st) < 0) {
		if (r == 1 || errno == ENOENT)
			return et_err_set(err, ET_E_NOT_FOUND, "no pinned identity for %s", user);
		return et_err_set(err, ET_E_STATE_WRITE, "Cannot inspect %s: %s.", path, strerror(errno));
	}
	if (unlink(path) < 0)
		return et_err_set(err, ET_E_STATE_WRITE, "Cannot remove %s: %s.", path, strerror(errno));
	if (et_dir_sync(dir) < 0)
		return et_err_set(err, ET_E_STATE_WRITE, "Cannot sync %s: %s.", dir, strerror(errno));
	return 0;
}
