/* SPDX-License-Identifier: Apache-2.0 */
/* Writing a group file: name+ with the new member list, the owner, mode and SELinux context
 * of the original, synced; then name- kept as the backup and name+ renamed into place. */
#include "groupfile_private.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

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
int write_plus(int dfd, const char *name, const struct loaded *f, int *ret_fd, struct et_err *err)
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
int sync_plus(int dfd, const char *name, int fd, struct et_err *err)
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
int backup_and_replace(int dfd, const char *name, struct et_err *err)
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
