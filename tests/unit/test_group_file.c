/* SPDX-License-Identifier: Apache-2.0 */
/* Group-file editing: the pure line and member-list logic, then the locked edit of the real
 * /etc/group and /etc/gshadow inside a private mount namespace. */
#include "groupfile.h"
#include "grant_testenv.h"
#include "tap.h"
#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <shadow.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *find_reason(const char *buf, const char *name, bool gshadow)
{
	static struct et_err err;
	struct et_group_line ln;
	if (et_groupfile_find(buf, strlen(buf), name, gshadow, &ln, &err) == 0)
		return "(found)";
	return err.reason;
}

static void test_find(void)
{
	const char *f = "root:x:0:\nentra:x:10:x\nentra-elevated:x:4790:alice,bob\nlast:x:11:z";
	struct et_group_line ln;
	struct et_err err;

	ok(et_groupfile_find(f, strlen(f), "entra-elevated", false, &ln, &err) == 0, "find: the group is found");
	ok(strncmp(f + ln.members_start, "alice,bob", ln.members_end - ln.members_start) == 0 &&
		   ln.members_end - ln.members_start == 9,
	   "find: the member field is located");
	is_int(ln.gid, 4790, "find: the gid is read");
	ok(et_groupfile_find(f, strlen(f), "entra", false, &ln, &err) == 0 && ln.gid == 10,
	   "find: a name that prefixes another is matched exactly");
	ok(et_groupfile_find(f, strlen(f), "last", false, &ln, &err) == 0 && ln.members_end == strlen(f),
	   "find: a last line without a newline");
	is_str(find_reason(f, "entra-elev", false), "no_group", "find: absent group (no_group)");
	is_str(find_reason("g:x:1:\ng:x:2:\n", "g", false), "duplicate_group", "find: two lines (duplicate_group)");
	is_str(find_reason("g:x:1:a:b\n", "g", false), "malformed_group", "find: five fields (malformed_group)");
	is_str(find_reason("g:x:1\n", "g", false), "malformed_group", "find: three fields (malformed_group)");
	is_str(find_reason("g:x::a\n", "g", false), "malformed_group", "find: empty gid (malformed_group)");
	is_str(find_reason("g:x:1a:a\n", "g", false), "malformed_group", "find: non-numeric gid (malformed_group)");
	is_str(find_reason("g:x:99999999999:a\n", "g", false), "malformed_group", "find: gid overflow (malformed_group)");
	is_str(find_reason("g:!:adm:a\n", "g", true), "(found)", "find: gshadow lines have no gid to check");
	{
		char buf[] = "g:x:1:a\0b\n";
		ok(et_groupfile_find(buf, sizeof(buf) - 1, "g", false, &ln, &err) < 0 &&
			   strcmp(err.reason, "malformed_group") == 0,
		   "find: a NUL in the line (malformed_group)");
	}
	is_str(find_reason(f, "", false), "bad_group_name", "find: an empty name is refused");
	is_str(find_reason(f, "a:b", false), "bad_group_name", "find: a name with ':' is refused");
}

static struct et_strlist list_of(const char *csv)
{
	struct et_strlist l = { 0 };
	if (csv && *csv && et_strlist_parse(&l, csv) < 0)
		abort();
	return l;
}

/* Apply and return the new list; changes summarised in *summary as "+a+b-c". */
static char *apply(const char *members, const char *add, const char *remove, const char *keep, char *summary,
		   size_t size)
{
	struct et_strlist a = list_of(add), r = list_of(remove), k = list_of(keep);
	struct et_member_edit e = { .add = add ? &a : NULL, .remove = remove ? &r : NULL, .keep = keep ? &k : NULL };
	struct et_member_change chg = { 0 };
	struct et_err err;
	char *out = NULL;
	size_t o = 0;
	if (et_members_apply(members, strlen(members), &e, &out, &chg, &err) < 0)
		out = strdup(err.reason);
	summary[0] = '\0';
	for (size_t i = 0; i < chg.added.n; i++)
		o += (size_t)snprintf(summary + o, size - o, "+%s", chg.added.items[i]);
	for (size_t i = 0; i < chg.removed.n; i++)
		o += (size_t)snprintf(summary + o, size - o, "-%s", chg.removed.items[i]);
	et_member_change_free(&chg);
	et_strlist_free(&a);
	et_strlist_free(&r);
	et_strlist_free(&k);
	return out;
}

static void test_apply(void)
{
	char s[256], *out;
#define APPLY(m, a, r, k, want, want_sum, name)                     \
	do {                                                        \
		out = apply(m, a, r, k, s, sizeof(s));              \
		is_str(out, want, name);                            \
		is_str(s, want_sum, name " (changes)");             \
		free(out);                                          \
	} while (0)
	APPLY("", "alice", NULL, NULL, "alice", "+alice", "apply: add to an empty list");
	APPLY("bob", "alice", NULL, NULL, "bob,alice", "+alice", "apply: add appends");
	APPLY("alice,bob", "alice", NULL, NULL, "alice,bob", "", "apply: adding a member is no change");
	APPLY("alice,bob,carol", NULL, "bob", NULL, "alice,carol", "-bob", "apply: remove");
	APPLY("alice", NULL, "bob", NULL, "alice", "", "apply: removing a non-member is no change");
	APPLY("alice,bob,alice", NULL, "alice", NULL, "bob", "-alice", "apply: remove takes every copy");
	APPLY("alice,,bob,", NULL, NULL, NULL, "alice,bob", "", "apply: empty items are dropped");
	APPLY("bob,bob,alice", NULL, NULL, NULL, "bob,alice", "", "apply: repeated names are folded");
	APPLY("alice,mallory,root", "bob", NULL, "alice,root", "alice,root,bob", "+bob-mallory",
	      "apply: exclusive keep removes the rest and adds");
	APPLY("alice", "alice", "alice", NULL, "", "-alice", "apply: remove wins over add");
	APPLY("al,alice", NULL, "al", NULL, "alice", "-al", "apply: names are compared whole");
#undef APPLY
	{
		/* too many members */
		size_t n = ET_GROUP_MEMBERS_MAX + 1;
		char *big = malloc(n * 2 + 1), *o = big;
		struct et_member_edit e = { 0 };
		struct et_err err;
		char *res = NULL;
		for (size_t i = 0; i < n; i++) {
			*o++ = 'a';
			*o++ = ',';
		}
		*o = '\0';
		ok(et_members_apply(big, strlen(big), &e, &res, NULL, &err) < 0 && strcmp(err.reason, "too_large") == 0,
		   "apply: more than %u members is too_large", ET_GROUP_MEMBERS_MAX);
		free(big);
	}
	{
		struct et_strlist l = { 0 };
		struct et_err err;
		ok(et_members_split("a,,b,", 5, &l, &err) == 0 && l.n == 2 && strcmp(l.items[1], "b") == 0,
		   "split skips empty items");
		et_strlist_free(&l);
	}
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static struct et_strlist one(const char *name)
{
	return list_of(name);
}

/* Add (add) or remove one user. */
static int edit_one(const char *group, const char *user, bool add, struct et_member_change *chg, struct et_err *err)
{
	struct et_strlist a = one(user);
	struct et_member_edit e = { 0 };
	int r;
	if (add)
		e.add = &a;
	else
		e.remove = &a;
	r = et_group_edit(group, &e, chg, err);
	et_strlist_free(&a);
	return r;
}

static int edit_add(const char *group, const char *user, struct et_member_change *chg, struct et_err *err)
{
	return edit_one(group, user, true, chg, err);
}

static int edit_remove(const char *group, const char *user, struct et_member_change *chg, struct et_err *err)
{
	return edit_one(group, user, false, chg, err);
}

/* The file with the member field of `group` replaced, for byte-exact comparisons. */
static char *expected_after(const char *before, const char *group, const char *members)
{
	size_t glen = strlen(group);
	char *out = malloc(strlen(before) + strlen(members) + 1), *o = out;
	for (const char *p = before; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (strncmp(p, group, glen) == 0 && p[glen] == ':') {
			const char *c = p;
			for (int i = 0; i < 3; i++)
				c = strchr(c, ':') + 1;
			memcpy(o, p, (size_t)(c - p));
			o += c - p;
			o += sprintf(o, "%s", members);
			if (nl)
				*o++ = '\n';
		} else {
			memcpy(o, p, n);
			o += n;
		}
		p += n;
	}
	*o = '\0';
	return out;
}

static void test_edit(gid_t gid)
{
	struct et_member_change chg = { 0 };
	struct et_err err;
	struct stat st_g, st_gs, st;
	char *before_g, *before_gs, *after, *want, *m;
	struct et_strlist members = { 0 };
	gid_t got_gid = 0;
	ino_t ino;

	before_g = gte_slurp("/etc/group");
	before_gs = gte_slurp("/etc/gshadow");
	stat("/etc/group", &st_g);
	stat("/etc/gshadow", &st_gs);

	ok(et_group_read(GTE_GROUP, &members, &got_gid, &err) == 0 && members.n == 0 && got_gid == gid,
	   "read: the empty group and its gid");
	et_strlist_free(&members);
	ok(et_group_read("no-such-group", &members, NULL, &err) < 0 && strcmp(err.reason, "no_group") == 0,
	   "read: a missing group is no_group");

	ok(edit_add(GTE_GROUP, "alice", &chg, &err) == 0, "edit: add alice");
	ok(chg.written && chg.added.n == 1 && strcmp(chg.added.items[0], "alice") == 0 && !chg.gshadow_missing,
	   "edit: reports alice added, both files written");
	et_member_change_free(&chg);
	after = gte_slurp("/etc/group");
	want = expected_after(before_g, GTE_GROUP, "alice");
	is_str(after, want, "edit: /etc/group differs only in the member list");
	free(after);
	free(want);
	after = gte_slurp("/etc/gshadow");
	want = expected_after(before_gs, GTE_GROUP, "alice");
	is_str(after, want, "edit: /etc/gshadow differs only in the member list");
	free(after);
	free(want);
	after = gte_slurp("/etc/group-");
	is_str(after, before_g, "edit: /etc/group- holds the previous file");
	free(after);
	after = gte_slurp("/etc/gshadow-");
	is_str(after, before_gs, "edit: /etc/gshadow- holds the previous file");
	free(after);
	ok(stat("/etc/group", &st) == 0 && st.st_uid == st_g.st_uid && st.st_gid == st_g.st_gid &&
		   st.st_mode == st_g.st_mode,
	   "edit: /etc/group keeps owner and mode (%o)", (unsigned)(st_g.st_mode & 07777));
	ok(stat("/etc/gshadow", &st) == 0 && st.st_uid == st_gs.st_uid && st.st_gid == st_gs.st_gid &&
		   st.st_mode == st_gs.st_mode,
	   "edit: /etc/gshadow keeps owner and mode (%o, gid %u)", (unsigned)(st_gs.st_mode & 07777),
	   (unsigned)st_gs.st_gid);
	ok(access("/etc/group.lock", F_OK) < 0 && access("/etc/gshadow.lock", F_OK) < 0 &&
		   access("/etc/group+", F_OK) < 0 && access("/etc/gshadow+", F_OK) < 0 && access("/etc/group-+", F_OK) < 0,
	   "edit: no lock, temp or backup-temp file is left");

	/* a security label (SELinux context) is carried over to the new file */
	{
		static const char label[] = "system_u:object_r:passwd_file_t:s0";
		char got[128] = "";
		ssize_t n;
		ok(setxattr("/etc/group", "security.selinux", label, sizeof(label), 0) == 0, "label /etc/group");
		ok(edit_add(GTE_GROUP, "carl", &chg, &err) == 0 && chg.written, "edit: add carl to the labelled file");
		et_member_change_free(&chg);
		n = getxattr("/etc/group", "security.selinux", got, sizeof(got) - 1);
		ok(n == (ssize_t)sizeof(label) && strcmp(got, label) == 0, "edit: the new /etc/group has the same label");
		ok(edit_remove(GTE_GROUP, "carl", &chg, &err) == 0, "edit: remove carl");
		et_member_change_free(&chg);
	}

	/* a reader that keeps an old /etc/group open sees a consistent file however many edits
	 * follow (the old inode is not recycled under it) */
	{
		int rfd = open("/etc/group", O_RDONLY | O_CLOEXEC);
		char *snapshot = gte_slurp("/etc/group"), *later;
		struct stat st_r;
		size_t n = 0;
		ok(edit_add(GTE_GROUP, "reader1", &chg, &err) == 0, "reader: edit 1 while a reader holds the file");
		et_member_change_free(&chg);
		ok(edit_add(GTE_GROUP, "reader2", &chg, &err) == 0, "reader: edit 2");
		et_member_change_free(&chg);
		ok(edit_add(GTE_GROUP, "reader3", &chg, &err) == 0, "reader: edit 3");
		et_member_change_free(&chg);
		fstat(rfd, &st_r);
		later = calloc(1, (size_t)st_r.st_size + 1);
		while (n < (size_t)st_r.st_size) {
			ssize_t r = pread(rfd, later + n, (size_t)st_r.st_size - n, (off_t)n);
			if (r <= 0)
				break;
			n += (size_t)r;
		}
		is_str(later, snapshot, "reader: its open file still holds the version it opened");
		free(later);
		free(snapshot);
		close(rfd);
		/* with no reader left, the old backup's inode is reused: no block is freed */
		ino = inode_of("/etc/group-");
		ok(edit_remove(GTE_GROUP, "reader1", &chg, &err) == 0, "recycle: edit 4");
		et_member_change_free(&chg);
		is_int(inode_of("/etc/group"), ino, "recycle: the old backup's inode is the live file now");
		ok(edit_remove(GTE_GROUP, "reader2", &chg, &err) == 0, "recycle: edit 5");
		et_member_change_free(&chg);
		ok(edit_remove(GTE_GROUP, "reader3", &chg, &err) == 0, "recycle: edit 6");
		et_member_change_free(&chg);
	}

	ino = inode_of("/etc/group");
	ok(edit_add(GTE_GROUP, "alice", &chg, &err) == 0 && !chg.written && chg.added.n == 0,
	   "edit: adding again changes nothing");
	is_int(inode_of("/etc/group"), ino, "edit: a no-op writes no file");
	et_member_change_free(&chg);

	ok(edit_add(GTE_GROUP, "bob", &chg, &err) == 0, "edit: add bob");
	et_member_change_free(&chg);
	m = gte_members("group", GTE_GROUP);
	is_str(m, "alice,bob", "edit: members alice,bob in group");
	free(m);
	ok(edit_remove(GTE_GROUP, "alice", &chg, &err) == 0 && chg.removed.n == 1, "edit: remove alice");
	et_member_change_free(&chg);
	m = gte_members("gshadow", GTE_GROUP);
	is_str(m, "bob", "edit: gshadow follows (bob)");
	free(m);

	/* bad input leaves the files untouched */
	ino = inode_of("/etc/group");
	ok(edit_add("no-such-group", "alice", &chg, &err) < 0 && strcmp(err.reason, "no_group") == 0,
	   "edit: a missing group is no_group");
	gte_set_group_line("group", "broken", "broken:x:77:a:b");
	ino = inode_of("/etc/group");
	ok(edit_add("broken", "alice", &chg, &err) < 0 && strcmp(err.reason, "malformed_group") == 0,
	   "edit: a malformed line is malformed_group");
	is_int(inode_of("/etc/group"), ino, "edit: after a refusal the file is untouched");
	ok(access("/etc/group.lock", F_OK) < 0, "edit: the lock is released after a refusal");
	gte_set_group_line("group", "broken", NULL);

	/* gshadow without the group line */
	gte_set_group_line("gshadow", GTE_GROUP, NULL);
	ok(edit_add(GTE_GROUP, "carol", &chg, &err) == 0 && chg.gshadow_missing && chg.written,
	   "edit: a group missing from gshadow is edited in group only (gshadow_missing)");
	et_member_change_free(&chg);
	gte_set_group_line("gshadow", GTE_GROUP, GTE_GROUP ":!::bob,carol");
	free(before_g);
	free(before_gs);
}

/* A child that waits, doing nothing, until release_child. */
static pid_t parked_child(int p[2])
{
	pid_t pid = tu_fork_piped(p);
	if (pid == 0) {
		char c;
		(void)!read(p[0], &c, 1);
		_exit(0);
	}
	return pid;
}

static void release_child(pid_t pid, int p[2])
{
	(void)!write(p[1], "x", 1);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
}

/* /etc/group.lock naming pid; text gets the pid as written. */
static void lock_held_by(pid_t pid, char *text, size_t size)
{
	int fd;
	snprintf(text, size, "%ld", (long)pid);
	fd = open("/etc/group.lock", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	(void)!write(fd, text, strlen(text));
	close(fd);
}

static long ms_between(const struct timespec *t0, const struct timespec *t1)
{
	return (t1->tv_sec - t0->tv_sec) * 1000 + (t1->tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_locks(void)
{
	struct et_member_change chg = { 0 };
	struct et_err err;
	pid_t pid;
	int fd, p[2];
	char c, text[32];
	struct timespec t0, t1;
	long ms;

	/* a stale lock of a dead process, and its litter */
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	snprintf(text, sizeof(text), "%ld", (long)pid);
	fd = open("/etc/group.lock", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	(void)!write(fd, text, strlen(text));
	close(fd);
	{
		char litter[64];
		snprintf(litter, sizeof(litter), "/etc/gshadow.%ld", (long)pid);
		fd = open(litter, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		(void)!write(fd, text, strlen(text));
		close(fd);
		fd = open("/etc/group+", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		(void)!write(fd, "half a file", 11);
		close(fd);
		ok(edit_add(GTE_GROUP, "dave", &chg, &err) == 0, "lock: a lock of a dead process is taken over");
		et_member_change_free(&chg);
		ok(access(litter, F_OK) < 0, "lock: a dead process's lock-in-progress file is removed");
		ok(access("/etc/group+", F_OK) < 0, "lock: a left-over group+ is removed");
	}

	/* a lock naming a live process that started after the lock was written: a reused PID */
	pid = parked_child(p);
	lock_held_by(pid, text, sizeof(text));
	{
		struct timespec old_times[2] = { { .tv_sec = time(NULL) - 600 }, { .tv_sec = time(NULL) - 600 } };
		utimensat(AT_FDCWD, "/etc/group.lock", old_times, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(edit_add(GTE_GROUP, "gail", &chg, &err) == 0, "lock: a lock older than its holder (a reused PID) is stale");
	et_member_change_free(&chg);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = ms_between(&t0, &t1);
	ok(ms < ET_GROUP_LOCK_WAIT_MS / 2, "lock: taken over without waiting out the timeout (%ld ms)", ms);
	release_child(pid, p);

	/* a live holder: bounded wait, then group_locked naming it */
	pid = parked_child(p);
	lock_held_by(pid, text, sizeof(text));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(edit_add(GTE_GROUP, "erin", &chg, &err) < 0 && strcmp(err.reason, "group_locked") == 0 &&
		   strstr(err.message, text),
	   "lock: a live holder makes the edit fail (group_locked, names the holder)");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = ms_between(&t0, &t1);
	ok(ms >= ET_GROUP_LOCK_WAIT_MS - 100 && ms < ET_GROUP_LOCK_WAIT_MS + 3000, "lock: after a bounded wait (%ld ms)",
	   ms);
	{
		char *m = gte_members("group", GTE_GROUP);
		ok(m && !strstr(m, "erin"), "lock: nothing was changed");
		free(m);
	}
	ok(access("/etc/group.lock", F_OK) == 0, "lock: another process's lock is not removed");
	release_child(pid, p);
	unlink("/etc/group.lock");

	/* lckpwdf is taken: the edit waits for another holder */
	pid = tu_fork_piped(p);
	if (pid == 0) {
		if (lckpwdf() < 0)
			_exit(1);
		(void)!write(p[1], "x", 1);
		usleep(400 * 1000);
		ulckpwdf();
		_exit(0);
	}
	(void)!read(p[0], &c, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(edit_add(GTE_GROUP, "frank", &chg, &err) == 0, "lckpwdf: the edit succeeds once the other holder lets go");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	et_member_change_free(&chg);
	ms = ms_between(&t0, &t1);
	ok(ms >= 300, "lckpwdf: the edit waited for it (%ld ms)", ms);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
}

static void test_big_file(void)
{
	struct et_member_change chg = { 0 };
	struct et_err err;
	char *before, *after, *want, line[128], *m;
	FILE *f = fopen("/etc/group", "ae");
	for (int i = 0; i < 10000; i++)
		fprintf(f, "bulk%05d:x:%d:u%d,v%d\n", i, 100000 + i, i, i);
	fclose(f);
	before = gte_slurp("/etc/group");
	m = gte_members("group", GTE_GROUP);
	ok(edit_add(GTE_GROUP, "zed", &chg, &err) == 0, "big file: edit in a 10 000-line /etc/group");
	et_member_change_free(&chg);
	snprintf(line, sizeof(line), "%s%szed", m, *m ? "," : "");
	after = gte_slurp("/etc/group");
	want = expected_after(before, GTE_GROUP, line);
	ok(after && want && strcmp(after, want) == 0, "big file: every other line is byte for byte the same");
	free(before);
	free(after);
	free(want);
	free(m);
}

static void test_cache_flush(void)
{
	const char *dir = tu_tmpdir();
	char sock[512], nscd[512], sss[512], pidfile[512], log[512], script[1024], *got, *written;
	struct et_cache_paths paths;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct et_err err;
	unsigned flushed = 99;
	int s;

	snprintf(sock, sizeof(sock), "%s/nscd.sock", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	snprintf(pidfile, sizeof(pidfile), "%s/sssd.pid", dir);
	snprintf(script, sizeof(script), "#!/bin/sh\necho \"nscd $*\" >>%s\n", log);
	written = tu_write_file(dir, "nscd", script, 0755);
	snprintf(nscd, sizeof(nscd), "%s", written);
	free(written);
	snprintf(script, sizeof(script), "#!/bin/sh\necho \"sss_cache $*\" >>%s\n", log);
	written = tu_write_file(dir, "sss_cache", script, 0755);
	snprintf(sss, sizeof(sss), "%s", written);
	free(written);
	paths = (struct et_cache_paths){ .nscd_socket = sock, .nscd = nscd, .sssd_pidfile = pidfile, .sss_cache = sss };

	ok(et_group_cache_flush(&paths, &flushed, &err) == 0 && flushed == 0, "flush: no daemon runs, nothing run");
	ok(access(log, F_OK) < 0, "flush: neither program was started");

	s = socket(AF_UNIX, SOCK_STREAM, 0);
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0)
		abort();
	snprintf(script, sizeof(script), "%ld\n", (long)getpid());
	free(tu_write_file(dir, "sssd.pid", script, 0644));
	ok(et_group_cache_flush(&paths, &flushed, &err) == 0 && flushed == 3, "flush: both daemons run, both flushed");
	got = gte_slurp(log);
	is_str(got, "nscd -i group\nsss_cache -G\n", "flush: with the right arguments");
	free(got);
	close(s);

	paths.nscd = "/nonexistent/nscd";
	paths.sssd_pidfile = "/nonexistent/pid";
	unlink(sock);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0)
		abort();
	ok(et_group_cache_flush(&paths, &flushed, &err) == 0 && flushed == 0,
	   "flush: nscd running but not installed is success");
	written = tu_write_file(dir, "nscd-bad", "#!/bin/sh\nexit 3\n", 0755);
	paths.nscd = written;
	ok(et_group_cache_flush(&paths, &flushed, &err) < 0 && strcmp(err.reason, "cache_flush_failed") == 0,
	   "flush: a failing nscd -i is reported (cache_flush_failed)");
	free(written);
	close(s);
}

int main(void)
{
	gid_t gid;
	test_find();
	test_apply();
	if (geteuid() != 0) {
		/* the pure tests above ran; the file tests need root (and must run in CI) */
		ok(!(getenv("CI") && strcmp(getenv("CI"), "true") == 0), "the file tests need root (CI=true: no skipping)");
		return tap_done();
	}
	gid = gte_enter(GTE_GROUP);
	test_edit(gid);
	test_locks();
	test_big_file();
	test_cache_flush();
	return tap_done();
}
