/* SPDX-License-Identifier: Apache-2.0 */
/* The member list of one group in /etc/group and /etc/gshadow, edited the shadow-utils way:
 * lckpwdf() and the link-based group.lock / gshadow.lock, read under the lock, change only the
 * member list of that one group, write group+ / gshadow+ with the original owner and mode,
 * fsync, keep group- / gshadow- as backups, rename into place, fsync the directory, then
 * flush the nscd / sssd caches when those daemons run.
 *
 * Editing takes lckpwdf(), which uses alarm(): call et_group_edit() only in a process of its
 * own (the helper), never inside sshd or sudo. Reading (et_group_read) takes no lock. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "err.h"
#include "strlist.h"

#define ET_GROUP_PATH "/etc/group"
#define ET_GSHADOW_PATH "/etc/gshadow"
/* Larger files are refused rather than read: 64 MiB is far beyond any real /etc/group. */
#define ET_GROUP_FILE_MAX (64u * 1024u * 1024u)
/* A bound on the member list we keep in memory for one group. */
#define ET_GROUP_MEMBERS_MAX 65536u
/* How long to wait for a group.lock held by another live process (lckpwdf has its own 15 s). */
#define ET_GROUP_LOCK_WAIT_MS 5000

/* What to do to the member list; applied to /etc/group and to /etc/gshadow alike. */
struct et_member_edit {
	const struct et_strlist *add;    /* ensure present (appended in this order when missing) */
	const struct et_strlist *remove; /* ensure absent */
	/* Exclusive management: when set, a member in neither keep nor add is removed too. */
	const struct et_strlist *keep;
};

/* What an edit did to /etc/group (gshadow follows the same rule; its own differences, for
 * instance after a crash between the two renames, are repaired silently). */
struct et_member_change {
	struct et_strlist added;
	struct et_strlist removed;
	bool written;          /* at least one file was rewritten */
	bool gshadow_missing;  /* no /etc/gshadow, or no line for the group in it */
};
void et_member_change_free(struct et_member_change *c);

/* One group line located in a group-format buffer (group: name:passwd:gid:members; gshadow:
 * name:passwd:admins:members). Offsets are into the buffer. */
struct et_group_line {
	size_t line_start, line_end; /* line_end is at the '\n' or at the end of the buffer */
	size_t members_start, members_end;
	long gid; /* group format only, else -1 */
};

/* Find the line of `name`. Reasons: "no_group" (absent), "duplicate_group" (more than one line
 * with that name), "malformed_group" (wrong field count, bad gid). Lines of other groups are
 * not judged: they are kept byte for byte. */
int et_groupfile_find(const char *buf, size_t len, const char *name, bool gshadow_format,
		      struct et_group_line *ret, struct et_err *err);
/* Apply an edit to a comma-separated member list (no NUL needed, len bytes). Empty items and
 * repeated names are dropped. Writes a malloc'd NUL-terminated list; changes (optional) gets
 * the names added and removed. */
int et_members_apply(const char *list, size_t len, const struct et_member_edit *e, char **ret_list,
		     struct et_member_change *changes, struct et_err *err);
/* Split a member list into names (empty items skipped). */
int et_members_split(const char *list, size_t len, struct et_strlist *ret, struct et_err *err);

/* Members of `group` in /etc/group (no lock) and its gid. Reasons: "no_group",
 * "duplicate_group", "malformed_group", "read_failed", "too_large". */
int et_group_read(const char *group, struct et_strlist *ret_members, gid_t *ret_gid, struct et_err *err);

/* The locked edit described at the top. ret (optional, zeroed by the call) reports what
 * changed; when nothing changes, nothing is written. Reasons: "group_locked" (lckpwdf or a
 * lock file could not be taken in time), "no_group", "duplicate_group", "malformed_group",
 * "write_failed", "read_failed". */
int et_group_edit(const char *group, const struct et_member_edit *e, struct et_member_change *ret,
		  struct et_err *err);

/* Cache flushing, split out so that tests can point it at fakes. */
struct et_cache_paths {
	const char *nscd_socket;  /* nscd runs when this socket accepts a connection */
	const char *nscd;         /* run as: nscd -i group */
	const char *sssd_pidfile; /* sssd runs when this names a live process */
	const char *sss_cache;    /* run as: sss_cache -G */
};
extern const struct et_cache_paths et_cache_paths_default;
/* Flush the group caches of the daemons that run. Not installed / not running is success.
 * ret_flushed (optional): bit 0 nscd was flushed, bit 1 sssd was flushed. */
int et_group_cache_flush(const struct et_cache_paths *paths, unsigned *ret_flushed, struct et_err *err);
