/* SPDX-License-Identifier: Apache-2.0 */
/* Fixtures for the grant, group-file and helper tests: a private mount namespace in which /etc
 * is a copy of the host's (bound over the directory) and /run and /var/lib are empty tmpfs
 * (the programs keep state there), so the code
 * under test edits the real paths without touching the host. Children forked by a test must
 * leave with _exit(): exit() would run the temp-dir cleanup of the parent. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "conf.h"

#define GTE_GROUP "entra-elevated"

/* Needs root (call tap_require_root() first). Unshares the mount namespace, copies /etc
 * into a temp dir, adds `group` (empty) to group and gshadow, binds it over /etc and mounts
 * a tmpfs on /run. Returns the gid given to the group; aborts the test on failure. */
gid_t gte_enter(const char *group);
/* Append a user (no home, no groups) to the private /etc/passwd; returns its uid. */
uid_t gte_useradd(const char *name);
/* Replace the whole line of `group` in /etc/<file> ("group" or "gshadow") by `line`
 * (NULL: delete it). */
void gte_set_group_line(const char *file, const char *group, const char *line);
/* The member field of group in /etc/<file>, malloc'd ("" when empty), NULL when absent. */
char *gte_members(const char *file, const char *group);
/* A fresh root-owned 0700 state directory (malloc'd path). */
char *gte_state_dir(void);
/* et_config_init plus the keys the grant code needs (and the ones et_config_finish wants). */
void gte_config(struct et_config *cfg, const char *group, const char *state_dir);
/* Copy the built root program ($top_builddir/entra-tap-grantctl) to its compiled-in path
 * inside the namespace (an overlay over LIBEXECDIR's deepest existing ancestor), and write
 * cfg-equivalent configuration to /etc/security/pam_entra_tap.conf. false when there is no
 * built program. */
bool gte_install_grantctl(const char *group, const char *state_dir, const char *extra_config);
/* Read a whole file (malloc'd, NUL-terminated) or NULL. */
char *gte_slurp(const char *path);
