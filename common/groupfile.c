/* Editing the member list of one group in /etc/group and /etc/gshadow.
 *
 * Crash safety: the live files are only ever replaced by rename(2) of a complete, fsync'ed
 * copy, so a kill at any instant leaves each file either old or new, never half written. The
 * two renames are not one atomic step: a kill between them leaves group new and gshadow old.
 * The grant store is the source of truth and the sweep re-applies the wanted member list to
 * both files, which repairs that. Stale lock files of a killed process are recognised by
 * their dead PID, as shadow-utils does. */
#include "groupfile.h"
#include "spawn.h"
#include "clock.h"
#include "fsutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <shadow.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define ETC_DIR "/etc"
#define GROUP_NAME "group"
#define GSHADOW_NAME "gshadow"
#define CACHE_FLUSH_TIMEOUT_MS 10000

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

/* ---- pure parts: find a line, apply an edit ---- */

int et_groupfile_find(const char *buf, size_t len, const char *name, bool gshadow_format,
		      struct et_group_line *ret, struct et_err *err)
{
	const char *what = gshadow_format ? GSHADOW_NAME : GROUP_NAME;
	size_t nlen = strlen(name), pos = 0;
	struct et_group_line found = { 0 };
	bool have = false;

	if (nlen == 0 || memchr(name, ':', nlen) || memchr(name, '\n', nlen))
		return et_err_set(err, ET_E_BAD_GROUP_NAME, "'%s' is not a usable group name", name);
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		if (end - pos > nlen && memcmp(buf + pos, name, nlen) == 0 && buf[pos + nlen] == ':') {
			size_t colon[3], ncolon = 0;
			if (have)
				return et_err_set(err, ET_E_DUPLICATE_GROUP,
						  "group '%s' appears more than once in /etc/%s: fix the file (grpck) first",
						  name, what);
			for (size_t i = pos; i < end; i++) {
				if (buf[i] == '\0')
					return et_err_set(err, ET_E_MALFORMED_GROUP,
							  "the line of group '%s' in /etc/%s contains a NUL byte", name,
							  what);
				if (buf[i] == ':') {
					if (ncolon == 3)
						return et_err_set(err, ET_E_MALFORMED_GROUP,
								  "the line of group '%s' in /etc/%s has more than 4 fields",
								  name, what);
					colon[ncolon++] = i;
				}
			}
			if (ncolon != 3)
				return et_err_set(err, ET_E_MALFORMED_GROUP,
						  "the line of group '%s' in /etc/%s has fewer than 4 fields", name, what);
			found.line_start = pos;
			found.line_end = end;
			found.members_start = colon[2] + 1;
			found.members_end = end;
			found.gid = -1;
			if (!gshadow_format) {
				long gid = 0;
				size_t i = colon[1] + 1;
				if (i == colon[2])
					return et_err_set(err, ET_E_MALFORMED_GROUP, "group '%s' in /etc/group has no gid",
							  name);
				for (; i < colon[2]; i++) {
					if (buf[i] < '0' || buf[i] > '9' || gid > (long)UINT32_MAX / 10)
						return et_err_set(err, ET_E_MALFORMED_GROUP,
								  "group '%s' in /etc/group has a bad gid", name);
					gid = gid * 10 + (buf[i] - '0');
				}
				if (gid >= (long)UINT32_MAX)
					return et_err_set(err, ET_E_MALFORMED_GROUP, "group '%s' in /etc/group has a bad gid",
							  name);
				found.gid = gid;
			}
			have = true;
		}
		pos = end + 1;
	}
	if (!have)
		return et_err_set(err, ET_E_NO_GROUP, "group '%s' does not exist in /etc/%s", name, what);
	*ret = found;
	return 0;
}

int et_members_split(const char *list, size_t len, struct et_strlist *ret, struct et_err *err)
{
	struct et_strlist out = { 0 };
	size_t pos = 0;
	while (pos < len) {
		const char *comma = memchr(list + pos, ',', len - pos);
		size_t end = comma ? (size_t)(comma - list) : len;
		if (end > pos) {
			char *item = strndup(list + pos, end - pos);
			if (out.n >= ET_GROUP_MEMBERS_MAX) {
				free(item);
				et_strlist_free(&out);
				return et_err_set(err, ET_E_TOO_LARGE, "more than %u group members", ET_GROUP_MEMBERS_MAX);
			}
			if (!item || et_strlist_add(&out, item) < 0) {
				free(item);
				et_strlist_free(&out);
				return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
			}
			free(item);
		}
		pos = end + 1;
	}
	*ret = out;
	return 0;
}

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

/* ---- files ---- */

#define SELINUX_XATTR "security.selinux"

struct loaded {
	char *buf;
	size_t len;
	struct stat st;
	char label[256]; /* the SELinux context of the file, when it has one */
	ssize_t label_len;
	struct et_group_line line;
	char *new_members; /* NULL: unchanged */
};

static void loaded_free(struct loaded *f)
{
	free(f->buf);
	free(f->new_members);
	memset(f, 0, sizeof(*f));
}

/* Read dir/name whole. Reason "not_found" when it does not exist. */
static int load_file(int dfd, const char *name, struct loaded *f, struct et_err *err)
{
	size_t cap, len = 0;
	char *buf = NULL;
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return et_err_set(err, ET_E_NOT_FOUND, "/etc/%s does not exist", name);
		return et_err_set(err, ET_E_READ_FAILED, "cannot open /etc/%s: %s", name, strerror(errno));
	}
	if (fstat(fd, &f->st) < 0) {
		et_err_set(err, ET_E_READ_FAILED, "cannot stat /etc/%s: %s", name, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(f->st.st_mode)) {
		et_err_set(err, ET_E_READ_FAILED, "/etc/%s is not a regular file", name);
		goto fail;
	}
	f->label_len = fgetxattr(fd, SELINUX_XATTR, f->label, sizeof(f->label));
	if (f->label_len < 0 && errno != ENODATA && errno != ENOTSUP && errno != EOPNOTSUPP) {
		et_err_set(err, ET_E_READ_FAILED, "cannot read the security label of /etc/%s: %s", name, strerror(errno));
		goto fail;
	}
	if ((uintmax_t)f->st.st_size > ET_GROUP_FILE_MAX) {
		et_err_set(err, ET_E_TOO_LARGE, "/etc/%s is larger than %u bytes", name, ET_GROUP_FILE_MAX);
		goto fail;
	}
	cap = (size_t)f->st.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory reading /etc/%s", name);
		goto fail;
	}
	for (;;) {
		ssize_t r = et_read_all(fd, buf + len, cap - len);
		char *grown;
		if (r < 0) {
			et_err_set(err, ET_E_READ_FAILED, "cannot read /etc/%s: %s", name, strerror(errno));
			goto fail;
		}
		len += (size_t)r;
		if (len < cap)
			break;
		/* the file grew while we read it */
		if (cap >= ET_GROUP_FILE_MAX) {
			et_err_set(err, ET_E_TOO_LARGE, "/etc/%s is larger than %u bytes", name, ET_GROUP_FILE_MAX);
			goto fail;
		}
		cap = cap * 2 > ET_GROUP_FILE_MAX ? ET_GROUP_FILE_MAX : cap * 2;
		grown = realloc(buf, cap + 1);
		if (!grown) {
			et_err_set(err, ET_E_NO_MEMORY, "out of memory reading /etc/%s", name);
			goto fail;
		}
		buf = grown;
	}
	close(fd);
	buf[len] = '\0';
	f->buf = buf;
	f->len = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

int et_group_read(const char *group, struct et_strlist *ret_members, gid_t *ret_gid, struct et_err *err)
{
	struct loaded f = { 0 };
	struct et_strlist members = { 0 };
	int dfd, r = -1;

	dfd = open(ETC_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return et_err_set(err, ET_E_READ_FAILED, "cannot open %s: %s", ETC_DIR, strerror(errno));
	if (load_file(dfd, GROUP_NAME, &f, err) < 0)
		goto done;
	if (et_groupfile_find(f.buf, f.len, group, false, &f.line, err) < 0)
		goto done;
	if (ret_members &&
	    et_members_split(f.buf + f.line.members_start, f.line.members_end - f.line.members_start, &members, err) < 0)
		goto done;
	if (ret_members)
		*ret_members = members;
	if (ret_gid)
		*ret_gid = (gid_t)f.line.gid;
	r = 0;
done:
	loaded_free(&f);
	close(dfd);
	return r;
}

/* The PID in a shadow-utils lock file, or -1 when it holds none. */
static long lock_holder(int dfd, const char *lock, time_t *ret_mtime)
{
	char text[32];
	struct stat st;
	ssize_t n;
	long pid = 0;
	int fd = openat(dfd, lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return -2; /* gone in the meantime */
	n = -1;
	if (fstat(fd, &st) == 0) {
		*ret_mtime = st.st_mtime;
		n = read(fd, text, sizeof(text) - 1);
	}
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	for (ssize_t i = 0; i < n; i++) {
		if (text[i] == '\n' && i == n - 1)
			break;
		if (text[i] < '0' || text[i] > '9' || pid > INT32_MAX / 10)
			return -1;
		pid = pid * 10 + (text[i] - '0');
	}
	return pid > 0 ? pid : -1;
}

/* When process pid started, in seconds since the epoch, or -1. A lock file older than its
 * holder's start names a PID that has been reused since its writer died. */
static long long process_start(long pid)
{
	char path[64], buf[1024];
	long long btime = -1, ticks = -1;
	long hz = sysconf(_SC_CLK_TCK);
	const char *p;
	ssize_t n;
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0 || hz <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p)
		return -1;
	/* step to the space before field 22 (starttime); the ")" ends field 2 */
	for (int field = 3; field <= 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%lld", &ticks) != 1)
		return -1;
	f = fopen("/proc/stat", "re");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f))
		if (sscanf(buf, "btime %lld", &btime) == 1)
			break;
	fclose(f);
	return btime < 0 ? -1 : btime + ticks / hz;
}

/* shadow-utils' link-based lock: write our PID to base.PID, hard-link it to base.lock. A lock
 * whose holder is dead, is us, or started after the lock was written (its PID was reused
 * after a kill) is stale and removed. */
static int lock_file_take(int dfd, const char *base, struct et_err *err)
{
	char tmp[64], lock[64], text[24];
	long long deadline = et_mono_ms() + ET_GROUP_LOCK_WAIT_MS;
	long wait = 1;
	int fd, len, r = -1;

	snprintf(tmp, sizeof(tmp), "%s.%ld", base, (long)getpid());
	snprintf(lock, sizeof(lock), "%s.lock", base);
	len = snprintf(text, sizeof(text), "%ld", (long)getpid());
	(void)unlinkat(dfd, tmp, 0);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return et_err_set(err, ET_E_GROUP_LOCKED, "cannot create /etc/%s: %s", tmp, strerror(errno));
	if (et_write_all(fd, text, (size_t)len) < 0) {
		et_err_set(err, ET_E_GROUP_LOCKED, "cannot write /etc/%s: %s", tmp, strerror(errno));
		close(fd);
		goto done;
	}
	close(fd);
	for (;;) {
		time_t mtime = 0;
		long holder;
		if (linkat(dfd, tmp, dfd, lock, 0) == 0) {
			struct stat st;
			if (fstatat(dfd, tmp, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink == 2) {
				r = 0;
				break;
			}
			(void)unlinkat(dfd, lock, 0);
			et_err_set(err, ET_E_GROUP_LOCKED, "/etc/%s did not link as expected", lock);
			break;
		}
		if (errno != EEXIST) {
			et_err_set(err, ET_E_GROUP_LOCKED, "cannot create /etc/%s: %s", lock, strerror(errno));
			break;
		}
		holder = lock_holder(dfd, lock, &mtime);
		if (et_mono_ms() >= deadline) {
			et_err_set(err, ET_E_GROUP_LOCKED, "/etc/%s is held by process %ld", lock, holder);
			break;
		}
		if (holder == -2)
			continue;
		if ((holder > 0 && (holder == (long)getpid() || (kill((pid_t)holder, 0) < 0 && errno == ESRCH))) ||
		    (holder > 0 && process_start(holder) > (long long)mtime + 1) ||
		    (holder == -1 && time(NULL) - mtime > 10)) {
			char stale_tmp[64];
			(void)unlinkat(dfd, lock, 0);
			if (holder > 0) {
				snprintf(stale_tmp, sizeof(stale_tmp), "%s.%ld", base, holder);
				if (holder != (long)getpid())
					(void)unlinkat(dfd, stale_tmp, 0);
			}
			continue;
		}
		et_sleep_ms(wait);
		if (wait < 50)
			wait *= 2;
	}
done:
	(void)unlinkat(dfd, tmp, 0);
	return r;
}

static void lock_file_release(int dfd, const char *base)
{
	char lock[64];
	snprintf(lock, sizeof(lock), "%s.lock", base);
	(void)unlinkat(dfd, lock, 0);
}

/* Open name+ for writing. The inode of the previous backup (name-) is recycled when it is a
 * plain file with no other link and nobody has it open: it is about to be replaced by the
 * current file anyway, and overwriting it in place spares freeing and reallocating its
 * blocks, which (with online discard) made up most of an edit's cost. "Nobody has it open"
 * matters: a reader that opened /etc/group two versions ago (a slow getgrent() walk) must
 * keep reading a consistent old file. A write lease is granted only when no other open file
 * description exists, so taking one (and dropping it at once; the file's only name is now
 * private to the lock holder) proves it. Otherwise a new file is created. A kill in the
 * middle leaves at worst no name- and a stale name+ (removed by the next edit). */
static int open_plus(int dfd, const char *name, struct et_err *err)
{
	char plus[64], minus[64];
	struct stat st;
	int fd;
	snprintf(plus, sizeof(plus), "%s+", name);
	snprintf(minus, sizeof(minus), "%s-", name);
	(void)unlinkat(dfd, plus, 0);
	if (renameat(dfd, minus, dfd, plus) == 0) {
		fd = openat(dfd, plus, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
		    fcntl(fd, F_SETLEASE, F_WRLCK) == 0) {
			if (fcntl(fd, F_SETLEASE, F_UNLCK) == 0 && fcntl(fd, F_SETFL, 0) == 0)
				return fd;
		}
		if (fd >= 0)
			close(fd);
		(void)unlinkat(dfd, plus, 0);
	}
	fd = openat(dfd, plus, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot create /etc/%s: %s", plus, strerror(errno));
	return fd;
}

/* Write dir/name+ : the original bytes with the member field replaced, owner and mode of the
 * original. Not yet synced: the caller writes both files first and then syncs both, so that
 * one journal commit covers the two (the second fsync finds its data already on disk). */
static int write_plus(int dfd, const char *name, const struct loaded *f, int *ret_fd, struct et_err *err)
{
	char plus[64];
	struct iovec iov[3];
	int iovcnt = 3, fd;
	size_t total, done_bytes = 0;

	snprintf(plus, sizeof(plus), "%s+", name);
	fd = open_plus(dfd, name, err);
	if (fd < 0)
		return -1;
	if (fchown(fd, f->st.st_uid, f->st.st_gid) < 0 || fchmod(fd, f->st.st_mode & 07777) < 0) {
		et_err_set(err, ET_E_WRITE_FAILED, "cannot set owner and mode of /etc/%s: %s", plus, strerror(errno));
		goto fail;
	}
	/* keep the SELinux context, as shadow-utils does: a new file would get its directory's */
	if (f->label_len > 0 && fsetxattr(fd, SELINUX_XATTR, f->label, (size_t)f->label_len, 0) < 0) {
		et_err_set(err, ET_E_WRITE_FAILED, "cannot set the security label of /etc/%s: %s", plus, strerror(errno));
		goto fail;
	}
	iov[0].iov_base = f->buf;
	iov[0].iov_len = f->line.members_start;
	iov[1].iov_base = f->new_members;
	iov[1].iov_len = strlen(f->new_members);
	iov[2].iov_base = f->buf + f->line.members_end;
	iov[2].iov_len = f->len - f->line.members_end;
	total = iov[0].iov_len + iov[1].iov_len + iov[2].iov_len;
	while (done_bytes < total) {
		struct iovec *v = iov;
		int cnt = iovcnt;
		size_t skip = done_bytes;
		ssize_t w;
		while (cnt > 0 && skip >= v->iov_len) {
			skip -= v->iov_len;
			v++;
			cnt--;
		}
		{
			struct iovec first = *v, saved = *v;
			first.iov_base = (char *)first.iov_base + skip;
			first.iov_len -= skip;
			*v = first;
			w = writev(fd, v, cnt);
			*v = saved;
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			et_err_set(err, ET_E_WRITE_FAILED, "cannot write /etc/%s: %s", plus, strerror(errno));
			goto fail;
		}
		done_bytes += (size_t)w;
	}
	if (ftruncate(fd, (off_t)total) < 0) { /* a recycled inode may have been longer */
		et_err_set(err, ET_E_WRITE_FAILED, "cannot write /etc/%s: %s", plus, strerror(errno));
		goto fail;
	}
	/* start the write-back now, so that both files are on their way before the first fsync */
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	*ret_fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	(void)unlinkat(dfd, plus, 0);
	return -1;
}

/* fsync and close a file from write_plus; on failure it is removed. */
static int sync_plus(int dfd, const char *name, int fd, struct et_err *err)
{
	char plus[64];
	int e = 0;
	snprintf(plus, sizeof(plus), "%s+", name);
	if (fsync(fd) < 0)
		e = errno;
	if (close(fd) < 0 && !e)
		e = errno;
	if (!e)
		return 0;
	(void)unlinkat(dfd, plus, 0);
	return et_err_set(err, ET_E_WRITE_FAILED, "cannot write /etc/%s: %s", plus, strerror(e));
}

/* name- becomes the current file (a hard link: the old inode keeps its owner and mode), then
 * name+ replaces name. */
static int backup_and_replace(int dfd, const char *name, struct et_err *err)
{
	char plus[64], minus[64], minus_tmp[64];
	snprintf(plus, sizeof(plus), "%s+", name);
	snprintf(minus, sizeof(minus), "%s-", name);
	snprintf(minus_tmp, sizeof(minus_tmp), "%s-+", name);
	(void)unlinkat(dfd, minus_tmp, 0);
	if (linkat(dfd, name, dfd, minus_tmp, 0) < 0 || renameat(dfd, minus_tmp, dfd, minus) < 0) {
		et_err_set(err, ET_E_WRITE_FAILED, "cannot keep /etc/%s as a backup: %s", minus, strerror(errno));
		(void)unlinkat(dfd, minus_tmp, 0);
		return -1;
	}
	if (renameat(dfd, plus, dfd, name) < 0)
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot rename /etc/%s into place: %s", plus, strerror(errno));
	return 0;
}

/* Under the locks: what a killed editor (ours or shadow-utils') can leave behind. "name+" and
 * "name-+" are only ever written under the lock we hold; "name.PID" is a lock-in-progress whose
 * process is dead, holding nothing but its own PID. */
static void remove_litter(int dfd)
{
	static const char *const ours[] = { GROUP_NAME "+", GSHADOW_NAME "+", GROUP_NAME "-+", GSHADOW_NAME "-+" };
	struct dirent *de;
	DIR *d;
	int fd;

	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		(void)unlinkat(dfd, ours[i], 0);
	fd = dup(dfd);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d))) {
		const char *dot = strchr(de->d_name, '.'), *p;
		char text[24];
		long pid = 0;
		ssize_t n;
		int f;
		if (!dot || !((dot - de->d_name == 5 && strncmp(de->d_name, GROUP_NAME, 5) == 0) ||
			      (dot - de->d_name == 7 && strncmp(de->d_name, GSHADOW_NAME, 7) == 0)))
			continue;
		for (p = dot + 1; *p >= '0' && *p <= '9' && pid <= INT32_MAX / 10; p++)
			pid = pid * 10 + (*p - '0');
		if (*p || p == dot + 1 || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		f = openat(dfd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
		if (f < 0)
			continue;
		n = read(f, text, sizeof(text) - 1);
		close(f);
		if (n < 0)
			continue;
		text[n] = '\0';
		if (n > 0 && strtol(text, NULL, 10) != pid)
			continue; /* not a lock-in-progress: not ours to remove */
		(void)unlinkat(dfd, de->d_name, 0);
	}
	closedir(d);
}

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

/* ---- caches ---- */

const struct et_cache_paths et_cache_paths_default = {
	.nscd_socket = "/run/nscd/socket",
	.nscd = "/usr/sbin/nscd",
	.sssd_pidfile = "/run/sssd.pid",
	.sss_cache = "/usr/sbin/sss_cache",
};

static bool socket_accepts(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool ok;
	int fd;
	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static bool pidfile_alive(const char *path)
{
	char text[32];
	long pid = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = '\0';
	for (char *p = text; *p && *p != '\n'; p++) {
		if (*p < '0' || *p > '9' || pid > INT32_MAX / 10)
			return false;
		pid = pid * 10 + (*p - '0');
	}
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* 1 when the program ran and succeeded, 0 when it is not installed, -1 on failure. */
static int run_flush(const char *prog, const char *const argv[], struct et_err *err)
{
	int status;
	if (access(prog, X_OK) < 0)
		return 0;
	if (et_spawn_wait(prog, argv, CACHE_FLUSH_TIMEOUT_MS, &status, err) < 0)
		return -1;
	if (status != 0)
		return et_err_set(err, ET_E_CACHE_FLUSH_FAILED, "%s %s exited with status %d", prog, argv[1], status);
	return 1;
}

int et_group_cache_flush(const struct et_cache_paths *paths, unsigned *ret_flushed, struct et_err *err)
{
	unsigned flushed = 0;
	int r = 0, ran;
	if (paths->nscd_socket && paths->nscd && socket_accepts(paths->nscd_socket)) {
		const char *const argv[] = { "nscd", "-i", "group", NULL };
		ran = run_flush(paths->nscd, argv, err);
		if (ran < 0)
			r = -1;
		else if (ran > 0)
			flushed |= 1u;
	}
	if (paths->sssd_pidfile && paths->sss_cache && pidfile_alive(paths->sssd_pidfile)) {
		const char *const argv[] = { "sss_cache", "-G", NULL };
		ran = run_flush(paths->sss_cache, argv, err);
		if (ran < 0)
			r = -1;
		else if (ran > 0)
			flushed |= 2u;
	}
	if (ret_flushed)
		*ret_flushed = flushed;
	return r;
}
