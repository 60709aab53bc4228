/* SPDX-License-Identifier: Apache-2.0 */
/* fsutil: atomic writes, guarded reads, private directories, path components; strlist. */
#include "fsutil.h"
#include "strlist.h"
#include "tap.h"
#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_bytes(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len || close(fd) < 0)
		abort();
	if (chmod(path, mode) < 0)
		abort();
}

static void test_write_atomic(void)
{
	char *dir = tu_tmpdir(), *p = tu_path_in(dir, "grant"), *buf = NULL;
	struct et_err err;
	struct stat st;
	size_t len = 0;
	ino_t first_ino;

	et_err_clear(&err);
	ok(et_file_write_atomic(p, "hello\n", 6, 0640, &err) == 0, "write_atomic: creates a file");
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640, "write_atomic: file has the requested mode 0640");
	ok(et_file_read(p, 100, 0, &buf, &len, &err) == 0 && len == 6 && strcmp(buf, "hello\n") == 0,
	   "write_atomic: content is what was written");
	free(buf);
	buf = NULL;
	is_int(tu_count_entries(dir), 1, "write_atomic: no temporary file left behind");
	first_ino = st.st_ino;

	ok(et_file_write_atomic(p, "second", 6, 0600, &err) == 0, "write_atomic: replaces an existing file");
	ok(stat(p, &st) == 0 && (st.st_mode & 07777) == 0600, "write_atomic: replacement has its own mode");
	ok(st.st_ino != first_ino, "write_atomic: replacement is a new inode (rename, not rewrite in place)");
	ok(et_file_read(p, 100, 0, &buf, &len, &err) == 0 && strcmp(buf, "second") == 0,
	   "write_atomic: replacement content");
	free(buf);
	buf = NULL;
	is_int(tu_count_entries(dir), 1, "write_atomic: still no temporary file after replacing");

	ok(et_file_write_atomic(p, "", 0, 0600, &err) == 0 && stat(p, &st) == 0 && st.st_size == 0,
	   "write_atomic: an empty write gives an empty file");
	free(p);

	p = tu_path_in(dir, "missing-dir/grant");
	et_err_clear(&err);
	ok(et_file_write_atomic(p, "x", 1, 0600, &err) < 0, "write_atomic: missing directory fails");
	is_str(err.reason, "write_failed", "write_atomic: missing directory reason");
	is_int(tu_count_entries(dir), 1, "write_atomic: failed write leaves nothing behind");
	free(p);

	{
		char longp[5000];
		memset(longp, 'a', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = '\0';
		et_err_clear(&err);
		ok(et_file_write_atomic(longp, "x", 1, 0600, &err) < 0, "write_atomic: over-long path fails");
		is_str(err.reason, "path_too_long", "write_atomic: over-long path reason");
	}
}

static void test_read(void)
{
	char *dir = tu_tmpdir(), *buf = NULL, *p, *link, *big;
	struct et_err err;
	size_t len = 99;

	p = tu_write_file(dir, "f", "abc", 0644);
	ok(et_file_read(p, 3, 1, &buf, &len, &err) == 0 && len == 3 && strcmp(buf, "abc") == 0,
	   "read: a file of exactly max bytes is read");
	free(buf);
	buf = NULL;
	et_err_clear(&err);
	ok(et_file_read(p, 2, 1, &buf, &len, &err) < 0 && buf == NULL, "read: one byte over max is refused");
	is_str(err.reason, "too_large", "read: over max reason");
	ok(et_file_read(p, 3, 1, &buf, NULL, &err) == 0, "read: ret_len may be NULL");
	free(buf);
	buf = NULL;

	free(p);
	p = tu_write_file(dir, "empty", "", 0600);
	ok(et_file_read(p, 10, 1, &buf, &len, &err) == 0 && len == 0 && buf && buf[0] == '\0',
	   "read: an empty file reads as an empty string");
	free(buf);
	buf = NULL;
	free(p);

	/* Embedded NUL: the length tells the caller, the buffer is still terminated. */
	p = tu_path_in(dir, "nul");
	write_bytes(p, "a\0b", 3, 0644);
	ok(et_file_read(p, 10, 1, &buf, &len, &err) == 0 && len == 3 && buf[3] == '\0',
	   "read: a NUL byte inside is reported through the length");
	free(buf);
	buf = NULL;
	free(p);

	p = tu_path_in(dir, "nope");
	et_err_clear(&err);
	ok(et_file_read(p, 10, 1, &buf, &len, &err) < 0, "read: a missing file fails");
	is_str(err.reason, "not_found", "read: missing file reason");
	ok(strstr(err.message, "does not exist") != NULL, "read: missing file sentence");
	free(p);

	p = tu_write_file(dir, "target", "secret", 0644);
	link = tu_path_in(dir, "link");
	if (symlink(p, link) < 0)
		abort();
	et_err_clear(&err);
	ok(et_file_read(link, 100, 0, &buf, &len, &err) < 0, "read: a symlink is refused even without require_root");
	is_str(err.reason, "unsafe_file", "read: symlink reason");
	ok(strstr(err.message, "symbolic link") != NULL, "read: symlink sentence says so");
	free(link);

	if (chown(p, 65534, 65534) < 0)
		abort();
	et_err_clear(&err);
	ok(et_file_read(p, 100, 1, &buf, &len, &err) < 0, "read: a file not owned by root is refused");
	is_str(err.reason, "unsafe_file", "read: not-root reason");
	ok(strstr(err.message, "not owned by root") != NULL, "read: not-root sentence says so");
	ok(et_file_read(p, 100, 0, &buf, &len, &err) == 0 && strcmp(buf, "secret") == 0,
	   "read: without require_root, ownership does not matter");
	free(buf);
	buf = NULL;
	if (chown(p, 0, 0) < 0 || chmod(p, 0664) < 0)
		abort();
	et_err_clear(&err);
	ok(et_file_read(p, 100, 1, &buf, &len, &err) < 0, "read: a group-writable file is refused");
	ok(strstr(err.message, "group- or world-writable") != NULL, "read: group-writable sentence");
	if (chmod(p, 0646) < 0)
		abort();
	et_err_clear(&err);
	ok(et_file_read(p, 100, 1, &buf, &len, &err) < 0, "read: a world-writable file is refused");
	is_str(err.reason, "unsafe_file", "read: world-writable reason");
	free(p);

	et_err_clear(&err);
	ok(et_file_read(dir, 100, 0, &buf, &len, &err) < 0, "read: a directory is refused");
	ok(strstr(err.message, "not a regular file") != NULL, "read: directory sentence");

	/* A FIFO must be refused, not block the reader waiting for a writer. */
	p = tu_path_in(dir, "fifo");
	if (mkfifo(p, 0600) < 0)
		abort();
	alarm(5);
	et_err_clear(&err);
	ok(et_file_read(p, 100, 0, &buf, &len, &err) < 0, "read: a FIFO is refused without blocking");
	alarm(0);
	is_str(err.reason, "unsafe_file", "read: FIFO reason");
	free(p);

	/* The cap is enforced by reading, not only by st_size. */
	big = malloc(70000);
	memset(big, 'x', 69999);
	big[69999] = '\0';
	p = tu_write_file(dir, "big", big, 0600);
	et_err_clear(&err);
	ok(et_file_read(p, 65536, 1, &buf, &len, &err) < 0, "read: a 70000-byte file over a 64 KiB cap is refused");
	is_str(err.reason, "too_large", "read: big file reason");
	free(big);
	free(p);
}

static void test_dir_private(void)
{
	char *dir = tu_tmpdir(), *d, *target, *link, *file;
	struct et_err err;
	struct stat st;
	mode_t old = umask(0);

	d = tu_path_in(dir, "state");
	ok(et_dir_ensure_private(d, 0700, &err) == 0, "dir: creates a missing directory");
	ok(stat(d, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700 && st.st_uid == 0,
	   "dir: created 0700, owned by root");
	ok(et_dir_ensure_private(d, 0700, &err) == 0, "dir: an existing private directory is accepted");
	if (chmod(d, 0755) < 0)
		abort();
	ok(et_dir_ensure_private(d, 0700, &err) == 0, "dir: an existing 0755 root directory is accepted");

	if (chmod(d, 0777) < 0)
		abort();
	et_err_clear(&err);
	ok(et_dir_ensure_private(d, 0700, &err) < 0, "dir: a world-writable directory is refused");
	ok(strstr(err.message, "group- or world-writable") != NULL, "dir: world-writable sentence");
	if (chmod(d, 0770) < 0)
		abort();
	et_err_clear(&err);
	ok(et_dir_ensure_private(d, 0700, &err) < 0, "dir: a group-writable directory is refused");
	if (chmod(d, 0700) < 0 || chown(d, 65534, 65534) < 0)
		abort();
	et_err_clear(&err);
	ok(et_dir_ensure_private(d, 0700, &err) < 0, "dir: a directory not owned by root is refused");
	ok(strstr(err.message, "not owned by root") != NULL, "dir: not-root sentence");
	is_str(err.reason, "state_dir", "dir: refusal reason");
	free(d);

	target = tu_path_in(dir, "real");
	link = tu_path_in(dir, "link");
	if (mkdir(target, 0700) < 0 || symlink(target, link) < 0)
		abort();
	et_err_clear(&err);
	ok(et_dir_ensure_private(link, 0700, &err) < 0, "dir: a symlink to a good directory is refused");
	ok(strstr(err.message, "symbolic link") != NULL, "dir: symlink sentence says so");

	file = tu_write_file(dir, "plain", "x", 0600);
	et_err_clear(&err);
	ok(et_dir_ensure_private(file, 0700, &err) < 0, "dir: a regular file is refused");
	ok(strstr(err.message, "not a directory") != NULL, "dir: regular file sentence");

	d = tu_path_in(dir, "no/such/parent");
	et_err_clear(&err);
	ok(et_dir_ensure_private(d, 0700, &err) < 0, "dir: a missing parent fails");
	ok(strstr(err.message, "cannot create") != NULL, "dir: missing parent sentence");
	free(d);
	free(target);
	free(link);
	free(file);
	umask(old);
}

static void test_path_component(void)
{
	char name[300];
	ok(et_path_component_ok("alice"), "component: plain name");
	ok(et_path_component_ok(".hidden"), "component: leading dot");
	ok(!et_path_component_ok(NULL), "component: NULL");
	ok(!et_path_component_ok(""), "component: empty");
	ok(!et_path_component_ok("."), "component: dot");
	ok(!et_path_component_ok(".."), "component: dot-dot");
	ok(!et_path_component_ok("a/b"), "component: slash");
	ok(!et_path_component_ok("/"), "component: only a slash");
	ok(!et_path_component_ok("a\nb"), "component: newline");
	ok(!et_path_component_ok("a\x7f"), "component: DEL");
	ok(!et_path_component_ok("\x1b[31m"), "component: escape sequence");
	memset(name, 'a', 255);
	name[255] = '\0';
	ok(et_path_component_ok(name), "component: 255 characters");
	name[255] = 'a';
	name[256] = '\0';
	ok(!et_path_component_ok(name), "component: 256 characters");
}

static void test_strlist(void)
{
	struct et_strlist l = { 0 };
	char item[1100];

	ok(et_strlist_parse(&l, "a, b ,c") == 0 && l.n == 3, "strlist: commas with spaces");
	ok(l.n == 3 && strcmp(l.items[0], "a") == 0 && strcmp(l.items[1], "b") == 0 && strcmp(l.items[2], "c") == 0,
	   "strlist: items trimmed");
	ok(et_strlist_contains(&l, "b") && !et_strlist_contains(&l, "B"), "strlist: contains is case-sensitive");
	ok(et_strlist_contains_icase(&l, "B") && !et_strlist_contains_icase(&l, "d"),
	   "strlist: contains_icase ignores case");
	et_strlist_free(&l);
	ok(l.n == 0 && l.items == NULL, "strlist: free empties the list");

	ok(et_strlist_parse(&l, "x y\tz") == 0 && l.n == 3, "strlist: whitespace separates too");
	et_strlist_free(&l);
	ok(et_strlist_parse(&l, "  one  ") == 0 && l.n == 1 && strcmp(l.items[0], "one") == 0,
	   "strlist: a single item with blanks around it");
	et_strlist_free(&l);

	{
		static const char *const refused[][2] = {
			{ "", "strlist: empty text is an error" },
			{ "   ", "strlist: blank text is an error" },
			{ "a,,b", "strlist: empty item between commas" },
			{ "a, ,b", "strlist: blank item between commas" },
			{ ",a", "strlist: leading comma" },
			{ "a,", "strlist: trailing comma" },
			{ "a, ", "strlist: trailing comma and blank" },
		};
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			ok(et_strlist_parse(&l, refused[i][0]) < 0, "%s", refused[i][1]);
			et_strlist_free(&l);
		}
	}

	memset(item, 'q', 1023);
	item[1023] = '\0';
	ok(et_strlist_parse(&l, item) == 0 && l.n == 1 && strlen(l.items[0]) == 1023, "strlist: a 1023-byte item");
	et_strlist_free(&l);
	item[1023] = 'q';
	item[1024] = '\0';
	ok(et_strlist_parse(&l, item) < 0, "strlist: a 1024-byte item is refused");
	et_strlist_free(&l);

	ok(et_strlist_add(&l, "kept") == 0 && l.n == 1 && strcmp(l.items[0], "kept") == 0, "strlist: add copies");
	et_strlist_free(&l);
}

static void test_create_exclusive(void)
{
	const char *dir = tu_tmpdir();
	char *path = tu_path_in(dir, "pin"), *tmpl = tu_path_in(dir, ".pin~XXXXXX"), *buf = NULL, *missing;
	struct et_err err;
	struct stat st;
	size_t len = 0;

	is_int(et_file_create_exclusive(path, tmpl, "first\n", 6, 0600, &err), 1, "create_exclusive: creates a missing file");
	ok(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600, "create_exclusive: mode 0600");
	is_int(et_file_create_exclusive(path, tmpl, "second\n", 7, 0600, &err), 0, "create_exclusive: existing file is kept");
	ok(et_file_read(path, 64, 1, &buf, &len, &err) == 0 && strcmp(buf, "first\n") == 0,
	   "create_exclusive: the first content stays");
	is_int(tu_count_entries(dir), 1, "create_exclusive: no temporary file left behind");
	missing = tu_path_in(dir, "nodir/pin");
	ok(et_file_create_exclusive(missing, "/nonexistent-dir/x~XXXXXX", "x", 1, 0600, &err) < 0 &&
		   strcmp(err.reason, "write_failed") == 0,
	   "create_exclusive: unwritable directory is an error");
	free(buf);
	free(path);
	free(tmpl);
	free(missing);
}

int main(void)
{
	tap_require_root();
	test_write_atomic();
	test_read();
	test_dir_private();
	test_path_component();
	test_strlist();
	test_create_exclusive();
	return tap_done();
}
