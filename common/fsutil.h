/* SPDX-License-Identifier: Apache-2.0 */
/* File-system discipline shared by every piece of root-only state. */
#pragma once
#include <stdio.h>
#include <stddef.h>
#include <sys/types.h>
#include "err.h"

/* Create dir (mode, owned by root) if missing; refuse an existing one that is a symlink, not
 * a directory, not owned by root, or group/world-writable. */
int et_dir_ensure_private(const char *dir, mode_t mode, struct et_err *err);
/* Atomically and durably replace path with data: temp file in the same dir (mode), write,
 * fsync, rename, fsync the dir. */
int et_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct et_err *err);
/* Create path with data only if it does not exist, atomically and durably: a complete
 * temporary file (named from tmpl, which ends in XXXXXX and lies in path's directory) is
 * linked into place. Returns 1 when created, 0 when path already existed, -1 on error. */
int et_file_create_exclusive(const char *path, const char *tmpl, const void *data, size_t len, mode_t mode,
			     struct et_err *err);
/* Read a whole regular file (O_NOFOLLOW) of at most max bytes into a NUL-terminated buffer.
 * With require_root, the file must be root-owned and not group/world-writable.
 * Returns 0, or -1 with err ("not_found" reason when it does not exist). */
int et_file_read(const char *path, size_t max, int require_root, char **ret_buf, size_t *ret_len,
		 struct et_err *err);
/* Read from fd until size bytes are in buf or the end of the file, resuming after a signal.
 * Returns the bytes read (fewer than size only at the end of the file), or -1 with errno. */
ssize_t et_read_all(int fd, void *buf, size_t size);
/* Write all len bytes of data to fd, resuming after a signal and a short write. Returns 0, or
 * -1 with errno (EIO when write(2) makes no progress). */
int et_write_all(int fd, const void *data, size_t len);
/* fsync a directory (after a rename, link or unlink in it); -1 with errno on failure. */
int et_dir_sync(const char *dir);
/* A name usable as one path component we create (no '/', not "." or "..", no control chars). */
int et_path_component_ok(const char *name);

/* Read f to its end or until cap bytes (buf holds cap + 1), NUL-terminate, and drop one
 * trailing newline ("\n" or "\r\n": what echo or a terminal adds to a pasted text).
 * Returns the length kept; a caller that reads one byte more than it accepts sees an
 * oversized input as such. */
size_t et_read_pasted(FILE *f, char *buf, size_t cap);
