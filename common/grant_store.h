/* SPDX-License-Identifier: Apache-2.0 */
/* The grant store (grant_store.c): the record of one grant, its file format, and the store
 * itself, one file per grant in {state_dir}/grants/ (root, 0700) with the store lock
 * {state_dir}/lock. How it fits with the group files: grant.h. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "conf.h"
#include "err.h"
#include "grant.h"
#include "text.h" /* et_text_sanitize, for the text fields of a grant */

#define ET_GRANT_FILE_MAX 4096   /* one grant file */
#define ET_GRANTS_MAX 4096       /* grant files in the store */
#define ET_GRANT_LOCK_WAIT_MS 30000
#define ET_GRANT_FORMAT_VERSION 2 /* written; version 1 files (no pim_until) still parse */

struct et_grant {
	char id[ET_GRANT_ID_HEX + 1];
	char user[ET_GRANT_NAME_MAX + 1];
	uid_t uid;
	char group[ET_GRANT_NAME_MAX + 1];
	time_t created, expires; /* seconds since the epoch, UTC */
	enum et_grant_method method;
	char oid[ET_GRANT_SHORT_MAX + 1];
	char upn[ET_GRANT_TEXT_MAX + 1];
	char tid[ET_GRANT_SHORT_MAX + 1];
	char reason[ET_GRANT_TEXT_MAX + 1];
	char service[ET_GRANT_SHORT_MAX + 1];
	char rhost[ET_GRANT_TEXT_MAX + 1];
	bool added_membership; /* the user was not a member before this grant */
	/* the end of the PIM for Groups activation that capped the expiry (expires == pim_until);
	 * 0: not capped by PIM (and in every version 1 record) */
	time_t pim_until;
};

struct et_grant_list {
	struct et_grant *items;
	size_t n;
	size_t n_corrupt; /* files that could not be read; reported through cfg->log */
};
void et_grant_list_free(struct et_grant_list *l);
/* The live grant (expires > now) of l that ends last, of group (NULL: of any group); NULL
 * when there is none. */
const struct et_grant *et_grant_latest_live(const struct et_grant_list *l, const char *group, time_t now);

/* ---- the store (grant_store.c) ---- */

/* A new id: 32 lowercase hex digits from getrandom(). */
int et_grant_id_new(char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err);
bool et_grant_id_ok(const char *id);

/* The file format, exposed for tests and fuzzing: "entra-tap-grant 2" then one key=value per
 * line, every key exactly once, then "end". Version 1 (written before pim_until existed) has
 * every key but pim_until and still parses; version 2 must have it. Unknown keys, missing keys, bad values, a missing
 * "end" (truncation) are errors with reason "corrupt_grant". */
int et_grant_format(const struct et_grant *g, char *buf, size_t size, size_t *ret_len, struct et_err *err);
int et_grant_parse(const char *text, size_t len, struct et_grant *ret, struct et_err *err);

/* Create {state_dir} and {state_dir}/grants when missing (root, 0700); refuse unsafe ones. */
int et_grant_store_prepare(const struct et_config *cfg, struct et_err *err);
/* The store lock; waits at most timeout_ms. Reason "store_locked" on timeout. */
int et_grant_store_lock(const struct et_config *cfg, int timeout_ms, int *ret_fd, struct et_err *err);
void et_grant_store_unlock(int fd);
/* Atomic and durable: temp file, fsync, rename, fsync the directory. */
int et_grant_store_write(const struct et_config *cfg, const struct et_grant *g, struct et_err *err);
/* Reasons: "bad_id", "not_found", "corrupt_grant", "read_failed". */
int et_grant_store_read(const struct et_config *cfg, const char *id, struct et_grant *ret, struct et_err *err);
/* Delete durably (unlink, fsync the directory). Reason "not_found" when absent. */
int et_grant_store_remove(const struct et_config *cfg, const char *id, struct et_err *err);
/* Every readable grant (of user, when not NULL), ordered by expiry. A corrupt file is logged,
 * counted and skipped: it never hides the other grants. */
int et_grant_store_list(const struct et_config *cfg, const char *user, struct et_grant_list *ret,
			struct et_err *err);
/* How many grant files there are (without reading them). */
int et_grant_store_count(const struct et_config *cfg, size_t *ret_count, struct et_err *err);
/* Under the store lock: remove temp files left by a killed writer and move corrupt grant
 * files aside ("<id>.grant.corrupt") so they are reported once. ret_quarantined (optional)
 * counts the latter. */
int et_grant_store_tidy(const struct et_config *cfg, unsigned *ret_quarantined, struct et_err *err);
