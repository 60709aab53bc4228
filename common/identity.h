/* SPDX-License-Identifier: Apache-2.0 */
/* From a verified token to a local user, and the tid+oid pin per local user. */
#pragma once
#include <stdbool.h>
#include <json-c/json.h>
#include "conf.h"
#include "err.h"

#define ET_USER_NAME_MAX 32

/* Reject control characters, NUL, '/', ':', whitespace, leading '-', over-long names. */
int et_local_name_ok(const char *name);
/* Map the identity_claim (or, for file maps, the oid first) to a local user name (malloc'd).
 * Reasons: "missing_claim", "domain_not_allowed", "unmapped", "bad_user_name". */
int et_identity_map(const struct et_config *cfg, json_object *claims, char **ret_user, struct et_err *err);
/* May a sign-in reach local account user at all? Never root (uid 0); an account below
 * UID_MIN (login_defs, normally /etc/login.defs; 1000 when unset) or without a login shell
 * (shells, normally /etc/shells; nologin and false never count) only when it is listed in
 * allow_system_accounts. Reasons "system_account", "no_user" (no such local account). */
int et_identity_account_check(const struct et_config *cfg, const char *user, const char *login_defs,
			      const char *shells, struct et_err *err);
#define ET_LOGIN_DEFS "/etc/login.defs"
#define ET_SHELLS "/etc/shells"
#define ET_UID_MIN_DEFAULT 1000

/* The user map file (user_map = file:PATH): "KEY USER" per line, KEY an object ID (GUID) or a
 * UPN, blank lines and lines whose first word starts with '#' ignored. Read through one
 * parser with the safety checks: a regular file (no symbolic link), owned by root, not
 * group- or world-writable, at most 1 MiB, no NUL byte; and a malformed line refuses the
 * file as a whole (a mapping is a security decision). */
struct et_map_file {
	const char *path;
	char *buf;
	char *next;
	size_t lineno;
};
struct et_map_entry {
	const char *key;  /* as written: compare case-insensitively */
	const char *user; /* as written: not checked with et_local_name_ok */
	bool key_is_oid;
	size_t lineno;
};
/* Read the file. Returns 0, or -1 with err (reasons of et_file_read, "bad_map_file"). */
int et_map_file_open(struct et_map_file *m, const char *path, struct et_err *err);
/* The next entry: 1 with *ret, 0 at the end, -1 with err ("bad_map_file", naming the file
 * and line) at a malformed line. The entry points into m until et_map_file_close. */
int et_map_file_next(struct et_map_file *m, struct et_map_entry *ret, struct et_err *err);
void et_map_file_close(struct et_map_file *m);
/* Compare tid+oid with the pin stored for user in {state_dir}/identities. With record, store
 * the pin when none exists. Reason "oid_mismatch" names both oids. */
int et_identity_pin_check(const struct et_config *cfg, const char *user, const char *tid, const char *oid,
			  bool record, struct et_err *err);
int et_identity_pin_reset(const struct et_config *cfg, const char *user, struct et_err *err);
