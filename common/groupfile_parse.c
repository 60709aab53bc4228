/* SPDX-License-Identifier: Apache-2.0 */
/* Reading /etc/group and /etc/gshadow: a group's line in a group-format buffer, its member
 * list split into names, a whole file read with its owner, mode and security label, and the
 * members and gid of one group without a lock. */
#include "groupfile_private.h"
#include "fsutil.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- pure parts: find a line, split a member list ---- */

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

/* ---- files ---- */

void loaded_free(struct loaded *f)
{
	free(f->buf);
	free(f->new_members);
	memset(f, 0, sizeof(*f));
}

/* Read dir/name whole. Reason "not_found" when it does not exist. */
int load_file(int dfd, const char *name, struct loaded *f, struct et_err *err)
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
