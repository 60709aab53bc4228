/* SPDX-License-Identifier: Apache-2.0 */
/* What the groupfile_*.c files share; not part of the interface (that is groupfile.h).
 *
 *   groupfile_parse.c  find a group's line, split a member list, read a file, et_group_read
 *   groupfile_edit.c   apply an edit to a member list, et_group_edit (the locked edit)
 *   groupfile_lock.c   the group.lock / gshadow.lock files, stale locks, a killed editor's litter
 *   groupfile_write.c  write name+, sync it, keep name- and rename name+ into place
 *   groupfile_flush.c  the nscd / sssd cache flush */
#pragma once
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "err.h"
#include "groupfile.h"

#define ETC_DIR "/etc"
#define GROUP_NAME "group"
#define GSHADOW_NAME "gshadow"
#define SELINUX_XATTR "security.selinux"

/* One of the two files read whole, the line of the group in it, and the member list to write
 * in its place. */
struct loaded {
	char *buf;
	size_t len;
	struct stat st;
	char label[256]; /* the SELinux context of the file, when it has one */
	ssize_t label_len;
	struct et_group_line line;
	char *new_members; /* NULL: unchanged */
};

/* ---- groupfile_parse.c ---- */
void loaded_free(struct loaded *f);
/* Read dir/name whole. Reason "not_found" when it does not exist. */
int load_file(int dfd, const char *name, struct loaded *f, struct et_err *err);

/* ---- groupfile_lock.c ---- */
/* Take base.lock (base: "group" or "gshadow", in dfd), waiting up to ET_GROUP_LOCK_WAIT_MS.
 * Reason "group_locked". */
int lock_file_take(int dfd, const char *base, struct et_err *err);
void lock_file_release(int dfd, const char *base);
/* Under the locks: remove what a killed editor left behind. */
void remove_litter(int dfd);

/* ---- groupfile_write.c ---- */
/* Write name+ (not yet synced); *ret_fd is its descriptor, for sync_plus. */
int write_plus(int dfd, const char *name, const struct loaded *f, int *ret_fd, struct et_err *err);
/* fsync and close name+; on failure it is removed. */
int sync_plus(int dfd, const char *name, int fd, struct et_err *err);
/* Keep name as name-, then rename name+ to name. */
int backup_and_replace(int dfd, const char *name, struct et_err *err);
