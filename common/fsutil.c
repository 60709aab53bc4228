/* SPDX-License-Identifier: Apache-2.0 */
#include "fsutil.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int et_dir_ensure_private(const char *dir, mode_t mode, struct et_err *err)
{
	struct stat st;
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		return et_err_set(err, ET_E_STATE_DIR, "cannot create %s: %s", dir, strerror(errno));
	if (lstat(dir, &st) < 0)
		return et_err_set(err, ET_E_STATE_DIR, "cannot stat %s: %s", dir, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return et_err_set(err, ET_E_STATE_DIR, "%s is a symbolic link: refusing to use it", dir);
	if (!S_ISDIR(st.st_mode))
		return et_err_set(err, ET_E_STATE_DIR, "%s is not a directory", dir);
	if (st.st_uid != 0)
		return et_err_set(err, ET_E_STATE_DIR, "%s is not owned by root: refusing to use it", dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return et_err_set(err, ET_E_STATE_DIR, "%s is group- or world-writable: refusing to use it", dir);
	return 0;
}

ssize_t et_read_all(int fd, void *buf, size_t size)
{
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, (char *)buf + got, size - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int et_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int et_dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r;
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

static int fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return -1;
	return et_dir_sync(dir);
}

/* Write data into a new temporary file named from `tmpl` (ending in XXXXXX, same directory
 * as the final name), with mode, fsync'ed and closed. On success tmpl holds the name. */
static int temp_write(char *tmpl, const char *path, const void *data, size_t len, mode_t mode, struct et_err *err)
{
	int fd, saved;

	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd < 0)
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot create a temporary file for %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) < 0 || et_write_all(fd, data, len) < 0)
		goto fail;
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmpl);
	return et_err_set(err, ET_E_WRITE_FAILED, "cannot write %s: %s", path, strerror(saved));
}

int et_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct et_err *err)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "path too long: %s", path);
	if (temp_write(tmp, path, data, len, mode, err) < 0)
		return -1;
	if (rename(tmp, path) < 0) {
		int saved = errno;
		unlink(tmp);
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot write %s: %s", path, strerror(saved));
	}
	if (fsync_parent(path) < 0)
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot sync the directory of %s: %s", path, strerror(errno));
	return 0;
}

int et_file_create_exclusive(const char *path, const char *tmpl, const void *data, size_t len, mode_t mode,
			     struct et_err *err)
{
	char tmp[PATH_MAX];
	int created;

	if (snprintf(tmp, sizeof(tmp), "%s", tmpl) >= (int)sizeof(tmp))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "path too long: %s", tmpl);
	if (temp_write(tmp, path, data, len, mode, err) < 0)
		return -1;
	/* link(2) fails with EEXIST instead of replacing: of racing creators exactly one wins,
	 * and the name only ever shows a complete file. */
	if (link(tmp, path) == 0) {
		created = 1;
	} else if (errno == EEXIST) {
		created = 0;
	} else {
		int saved = errno;
		unlink(tmp);
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot create %s: %s", path, strerror(saved));
	}
	unlink(tmp);
	if (created && fsync_parent(path) < 0)
		return et_err_set(err, ET_E_WRITE_FAILED, "cannot sync the directory of %s: %s", path, strerror(errno));
	return created;
}

int et_file_read(const char *path, size_t max, int require_root, char **ret_buf, size_t *ret_len,
		 struct et_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t got;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below anyway,
	 * and the flag means nothing for the regular files we accept. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return et_err_set(err, ET_E_NOT_FOUND, "%s does not exist", path);
		if (errno == ELOOP)
			return et_err_set(err, ET_E_UNSAFE_FILE, "%s is a symbolic link: refusing to read it", path);
		return et_err_set(err, ET_E_READ_FAILED, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		et_err_set(err, ET_E_READ_FAILED, "cannot stat %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		et_err_set(err, ET_E_UNSAFE_FILE, "%s is not a regular file", path);
		goto fail;
	}
	if (require_root && st.st_uid != 0) {
		et_err_set(err, ET_E_UNSAFE_FILE, "%s is not owned by root: refusing to use it", path);
		goto fail;
	}
	if (require_root && (st.st_mode & (S_IWGRP | S_IWOTH))) {
		et_err_set(err, ET_E_UNSAFE_FILE, "%s is group- or world-writable: refusing to use it", path);
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		et_err_set(err, ET_E_TOO_LARGE, "%s is larger than %zu bytes", path, max);
		goto fail;
	}
	buf = malloc(max + 1);
	if (!buf) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory reading %s", path);
		goto fail;
	}
	/* one byte more than allowed: a file that grew since the fstat is caught */
	got = et_read_all(fd, buf, max + 1);
	if (got < 0) {
		et_err_set(err, ET_E_READ_FAILED, "cannot read %s: %s", path, strerror(errno));
		goto fail;
	}
	len = (size_t)got;
	if (len > max) {
		et_err_set(err, ET_E_TOO_LARGE, "%s is larger than %zu bytes", path, max);
		goto fail;
	}
	close(fd);
	buf[len] = '\0';
	*ret_buf = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

int et_path_component_ok(const char *name)
{
	if (!name || !*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return strlen(name) <= 255;
}

size_t et_read_pasted(FILE *f, char *buf, size_t cap)
{
	size_t len = 0;
	while (len < cap) {
		size_t r = fread(buf + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return len;
}
