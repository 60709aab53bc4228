/* SPDX-License-Identifier: Apache-2.0 */
/* Editing the member list of one group in /etc/group and /etc/gshadow: what an edit does to
 * a member list, and the locked edit of both files.
 *
 * Crash safety: the live files are only ever replaced by rename(2) of a complete, fsync'ed
 * copy, so a kill at any instant leaves each file either old or new, never half written. The
 * two renames are not one atomic step: a kill between them leaves group new and gshadow old.
 * The grant store is the source of truth and the sweep re-applies the wanted member list to
 * both files, which repairs that. Stale lock files of a killed process are recognised by
 * their dead PID, as shadow-utils does (groupfile_lock.c). */
#include "groupfile_private.h"
#include <errno.h>
#include <fcntl.h>
#include <shadow.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void et_member_change_free(struct et_member_change *c)
{
	if (!c)
		return;
	et_strlist_free(&c->added);
	et_strlist_free(&c->removed);
}

/* ---- a small set of names (pointer + length, not owned) ---- */

struct name_ref {
	const char *s;
	size_t len;
};

struct nameset {
	struct name_ref *slots;
	size_t cap; /* power of two, at least twice the entries */
	size_t n;
};

static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int nameset_init(struct nameset *set, size_t expected)
{
	size_t cap = 16;
	while (cap < expected * 2 + 2)
		cap <<= 1;
	set->slots = calloc(cap, sizeof(*set->slots));
	set->cap = cap;
	set->n = 0;
	return set->slots ? 0 : -1;
}

static void nameset_free(struct nameset *set)
{
	free(set->slots);
	set->slots = NULL;
	set->cap = set->n = 0;
}

static struct name_ref *nameset_slot(const struct nameset *set, const char *s, size_t len)
{
	size_t i = (size_t)name_hash(s, len) & (set->cap - 1);
	for (;;) {
		struct name_ref *slot = &set->slots[i];
		if (!slot->s || (slot->len == len && memcmp(slot->s, s, len) == 0))
			return slot;
		i = (i + 1) & (set->cap - 1);
	}
}

static bool nameset_has(const struct nameset *set, const char *s, size_t len)
{
	return set->slots && nameset_slot(set, s, len)->s != NULL;
}

/* Returns 1 when inserted, 0 when already present. The caller sized the set. */
static int nameset_put(struct nameset *set, const char *s, size_t len)
{
	struct name_ref *slot = nameset_slot(set, s, len);
	if (slot->s)
		return 0;
	slot->s = s;
	slot->len = len;
	set->n++;
	return 1;
}

static int nameset_from_list(struct nameset *set, const struct et_strlist *l)
{
	if (nameset_init(set, l ? l->n : 0) < 0)
		return -1;
	for (size_t i = 0; l && i < l->n; i++)
		nameset_put(set, l->items[i], strlen(l->items[i]));
	return 0;
}

/* ---- pure part: apply an edit ---- */

int et_members_apply(const char *list, size_t len, const struct et_member_edit *e, char **ret_list,
		     struct et_member_change *changes, struct et_err *err)
{
	struct nameset add = { 0 }, remove = { 0 }, keep = { 0 }, emitted = { 0 }, dropped = { 0 };
	size_t n_items = 1, pos = 0, out_len = 0, cap = len + 1;
	char *out = NULL;
	int r = -1;

	for (size_t i = 0; i < len; i++)
		if (list[i] == ',')
			n_items++;
	if (n_items > ET_GROUP_MEMBERS_MAX)
		return et_err_set(err, ET_E_TOO_LARGE, "more than %u group members", ET_GROUP_MEMBERS_MAX);
	for (size_t i = 0; e->add && i < e->add->n; i++)
		cap += strlen(e->add->items[i]) + 1;
	if (nameset_from_list(&add, e->add) < 0 || nameset_from_list(&remove, e->remove) < 0 ||
	    (e->keep && nameset_from_list(&keep, e->keep) < 0) ||
	    nameset_init(&emitted, n_items + (e->add ? e->add->n : 0)) < 0 || nameset_init(&dropped, n_items) < 0 ||
	    !(out = malloc(cap))) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}

	while (pos <= len) {
		const char *comma = pos < len ? memchr(list + pos, ',', len - pos) : NULL;
		size_t end = comma ? (size_t)(comma - list) : len, ilen = end - pos;
		const char *item = list + pos;
		pos = end + 1;
		if (ilen == 0)
			continue;
		if (nameset_has(&remove, item, ilen) ||
		    (e->keep && !nameset_has(&keep, item, ilen) && !nameset_has(&add, item, ilen))) {
			if (nameset_put(&dropped, item, ilen) && changes) {
				char *name = strndup(item, ilen);
				if (!name || et_strlist_add(&changes->removed, name) < 0) {
					free(name);
					et_err_set(err, ET_E_NO_MEMORY, "out of memory");
					goto done;
				}
				free(name);
			}
			continue;
		}
		if (!nameset_put(&emitted, item, ilen))
			continue; /* a repeated name */
		if (out_len)
			out[out_len++] = ',';
		memcpy(out + out_len, item, ilen);
		out_len += ilen;
	}
	for (size_t i = 0; e->add && i < e->add->n; i++) {
		const char *name = e->add->items[i];
		size_t nlen = strlen(name);
		if (nameset_has(&remove, name, nlen) || !nameset_put(&emitted, name, nlen))
			continue;
		if (out_len)
			out[out_len++] = ',';
		memcpy(out + out_len, name, nlen);
		out_len += nlen;
		if (changes && et_strlist_add(&changes->added, name) < 0) {
			et_err_set(err, ET_E_NO_MEMORY, "out of memory");
			goto done;
		}
	}
	out[out_len] = '\0';
	*ret_list = out;
	out = NULL;
	r = 0;
done:
	free(out);
	nameset_free(&add);
	nameset_free(&remove);
	nameset_free(&keep);
	nameset_free(&emitted);
	nameset_free(&dropped);
	return r;
}

/* ---- the locked edit ---- */

int et_group_edit(const char *group, const struct et_member_edit *e, struct et_member_change *ret,
		  struct et_err *err)
{
	struct et_member_change chg = { 0 };
	struct loaded g = { 0 }, gs = { 0 };
	bool pw_locked = false, g_locked = false, gs_locked = false, have_gshadow = false;
	struct et_err sub;
	int dfd, r = -1, g_fd = -1, gs_fd = -1;

	if (ret)
		memset(ret, 0, sizeof(*ret));
	dfd = open(ETC_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return et_err_set(err, ET_E_READ_FAILED, "cannot open %s: %s", ETC_DIR, strerror(errno));
	if (lckpwdf() < 0) {
		et_err_set(err, ET_E_GROUP_LOCKED, "cannot take the password-file lock (lckpwdf): %s", strerror(errno));
		goto done;
	}
	pw_locked = true;
	if (lock_file_take(dfd, GROUP_NAME, err) < 0)
		goto done;
	g_locked = true;
	if (faccessat(dfd, GSHADOW_NAME, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		if (lock_file_take(dfd, GSHADOW_NAME, err) < 0)
			goto done;
		gs_locked = true;
	}
	remove_litter(dfd);

	/* Read under the lock: what we change is what is there now. */
	if (load_file(dfd, GROUP_NAME, &g, err) < 0)
		goto done;
	if (et_groupfile_find(g.buf, g.len, group, false, &g.line, err) < 0)
		goto done;
	if (et_members_apply(g.buf + g.line.members_start, g.line.members_end - g.line.members_start, e,
			     &g.new_members, &chg, err) < 0)
		goto done;
	if (strlen(g.new_members) == g.line.members_end - g.line.members_start &&
	    memcmp(g.new_members, g.buf + g.line.members_start, strlen(g.new_members)) == 0) {
		free(g.new_members);
		g.new_members = NULL;
	}

	if (gs_locked) {
		if (load_file(dfd, GSHADOW_NAME, &gs, &sub) < 0) {
			if (sub.code != ET_E_NOT_FOUND) {
				if (err)
					*err = sub;
				goto done;
			}
		} else if (et_groupfile_find(gs.buf, gs.len, group, true, &gs.line, &sub) < 0) {
			if (sub.code != ET_E_NO_GROUP) {
				if (err)
					*err = sub;
				goto done;
			}
		} else {
			have_gshadow = true;
			if (et_members_apply(gs.buf + gs.line.members_start, gs.line.members_end - gs.line.members_start,
					     e, &gs.new_members, NULL, err) < 0)
				goto done;
			if (strlen(gs.new_members) == gs.line.members_end - gs.line.members_start &&
			    memcmp(gs.new_members, gs.buf + gs.line.members_start, strlen(gs.new_members)) == 0) {
				free(gs.new_members);
				gs.new_members = NULL;
			}
		}
	}
	chg.gshadow_missing = !have_gshadow;

	if (g.new_members && write_plus(dfd, GROUP_NAME, &g, &g_fd, err) < 0)
		goto done;
	if (gs.new_members && write_plus(dfd, GSHADOW_NAME, &gs, &gs_fd, err) < 0)
		goto done;
	if (g_fd >= 0) {
		int fd = g_fd;
		g_fd = -1;
		if (sync_plus(dfd, GROUP_NAME, fd, err) < 0)
			goto done;
	}
	if (gs_fd >= 0) {
		int fd = gs_fd;
		gs_fd = -1;
		if (sync_plus(dfd, GSHADOW_NAME, fd, err) < 0)
			goto done;
	}
	if (g.new_members && backup_and_replace(dfd, GROUP_NAME, err) < 0) {
		if (gs.new_members)
			(void)unlinkat(dfd, GSHADOW_NAME "+", 0);
		goto done;
	}
	if (gs.new_members && backup_and_replace(dfd, GSHADOW_NAME, err) < 0)
		goto done;
	if (g.new_members || gs.new_members) {
		chg.written = true;
		if (fsync(dfd) < 0) {
			et_err_set(err, ET_E_WRITE_FAILED, "cannot sync %s: %s", ETC_DIR, strerror(errno));
			goto done;
		}
	}
	r = 0;
done:
	if (r < 0) { /* a failed edit leaves no half-made + file behind */
		if (g_fd >= 0)
			close(g_fd);
		if (gs_fd >= 0)
			close(gs_fd);
		if (g.new_members)
			(void)unlinkat(dfd, GROUP_NAME "+", 0);
		if (gs.new_members)
			(void)unlinkat(dfd, GSHADOW_NAME "+", 0);
	}
	if (gs_locked)
		lock_file_release(dfd, GSHADOW_NAME);
	if (g_locked)
		lock_file_release(dfd, GROUP_NAME);
	if (pw_locked)
		(void)ulckpwdf();
	close(dfd);
	loaded_free(&g);
	loaded_free(&gs);
	/* After the locks are gone: a slow daemon must not hold up other edits. A flush that fails
	 * does not undo a committed edit; the caches expire on their own. */
	if (r == 0 && chg.written)
		(void)et_group_cache_flush(&et_cache_paths_default, NULL, NULL);
	if (r == 0 && ret)
		*ret = chg;
	else
		et_member_change_free(&chg);
	return r;
}
