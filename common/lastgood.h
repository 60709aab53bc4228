/* SPDX-License-Identifier: Apache-2.0 */
/* The end of a grant never depends on the configuration being usable now.
 *
 * Every root program that loads the configuration successfully keeps a byte copy of it,
 * ET_LAST_GOOD_CONFIG (root, 0600, replaced atomically and only when it differs). When the
 * configuration cannot be used later (missing, unreadable, not owned by root, group- or
 * world-writable, a syntax error, an unknown key), what ends grants — the timer's revoke, the
 * sweep, the boot reconcile, drop, the account phase — runs from that copy, or, without one,
 * from the built-in defaults (the default state_dir, no elevated_group): each grant record
 * names its user, uid, group and expiry, which is all its end needs. Such a configuration
 * (cfg->fallback) is never used to sign anyone in or to make or extend a grant. */
#pragma once
#include <stdbool.h>
#include "conf.h"
#include "err.h"

#define ET_LAST_GOOD_CONFIG ET_DEFAULT_STATE_DIR "/last-good.conf"
/* Every state_dir that has held a grant, one absolute path a line (at most ET_STORES_MAX):
 * a grant made before state_dir was changed still ends, from the store it lives in. */
#define ET_STORES_FILE ET_DEFAULT_STATE_DIR "/stores"
#define ET_STORES_MAX 16

enum et_config_source {
	ET_CONFIG_SOURCE_FILE,      /* the configured file: usable */
	ET_CONFIG_SOURCE_LAST_GOOD, /* unusable: the last good copy */
	ET_CONFIG_SOURCE_DEFAULTS,  /* unusable and no usable copy: the built-in defaults */
};
const char *et_config_source_name(enum et_config_source s);

/* et_config_load, and when path loads and keep_path is not NULL, keep_path made a copy of
 * the very bytes that loaded (written only when it differs). A copy that cannot be written is
 * logged through cfg->log, never a failure of the load. */
int et_config_load_keep(struct et_config *cfg, const char *path, const char *keep_path, struct et_err *err);

/* Add cfg->state_dir to stores_path when it is not there yet (root, 0600, atomic). */
int et_stores_register(const struct et_config *cfg, const char *stores_path, struct et_err *err);
/* The registered stores other than cfg->state_dir, into ret (appended). A missing file is
 * none; lines that are not absolute paths are passed over. */
int et_stores_others(const struct et_config *cfg, const char *stores_path, struct et_strlist *ret,
		     struct et_err *err);

/* cfg (initialised by the caller) from path when it can be used (then, with keep, kept as
 * copy_path: et_config_load_keep); otherwise from copy_path or the defaults, with
 * cfg->fallback set and ret_why holding why path cannot be used ("file:line: reason").
 * ret_why->code is ET_E_NONE when path was used. -1 only when out of memory. */
int et_config_load_for_ending(struct et_config *cfg, const char *path, const char *copy_path, bool keep,
			      enum et_config_source *ret_source, struct et_err *ret_why);
