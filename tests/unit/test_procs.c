/* SPDX-License-Identifier: Apache-2.0 */
/* The processes a grant gave (procs.h) and one line to one terminal (wall.h): the parsers of
 * /proc/PID/stat, status and cgroup on real and broken text; the scanner on a made-up proc
 * tree (descendants, sessions, units, carriers of the group, exempt uids, what is never
 * listed); then real processes: a tree ended by SIGTERM and, for the one that ignores it,
 * SIGKILL; processes forked while the end runs; a carrier of the group (root only); a
 * terminal line read back from a pty. */
#include "procs.h"
#include "text.h"
#include "wall.h"
#include "../tap.h"
#include "../testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <utmpx.h>

#define UNIT "entra-tap-grant-0123456789abcdef0123456789abcdef.scope"

/* A stat line as the kernel writes it, 52 fields. */
#define STAT_TAIL                                                                                                      \
	"0 0 0 0 0 0 0 20 0 1 0 %llu 3133440 414 18446744073709551615 94528653795328 94528653815209 "                  \
	"140726416181776 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94528653831216 94528653832832 94529066717184 "               \
	"140726416190091 140726416190111 140726416190111 140726416191467 0\n"

/* a string literal and its length, NUL bytes in it included */
#define LIT(s) s, sizeof(s) - 1

static int stat_parse(const char *text, struct et_proc_stat *st, struct et_err *err)
{
	return et_proc_stat_parse(text, strlen(text), st, err);
}

static bool refused(int r, const struct et_err *err)
{
	return r == -1 && strcmp(err->reason, "proc_scan") == 0 && err->message[0];
}

/* One check: each of the n malformed texts is refused by refuses(). */
static void all_refused(const char *what, const char *const *texts, size_t n, bool (*refuses)(const char *))
{
	size_t bad = 0;
	for (size_t i = 0; i < n; i++)
		if (!refuses(texts[i])) {
			tap_diag("accepted: %s", texts[i]);
			bad++;
		}
	ok(bad == 0, "%s: %zu malformed texts are refused with proc_scan", what, n);
}

static bool stat_refuses(const char *text)
{
	struct et_proc_stat st;
	struct et_err err;
	return refused(stat_parse(text, &st, &err), &err);
}

/* and leaves nothing to free */
static bool status_refuses(const char *text)
{
	struct et_proc_status s;
	struct et_err err;
	memset(&s, 0x5a, sizeof(s));
	return refused(et_proc_status_parse(text, strlen(text), &s, &err), &err) && s.groups == NULL;
}

/* and leaves no path */
static bool cgroup_refuses(const char *text)
{
	char path[256];
	struct et_err err;
	return refused(et_proc_cgroup_parse(text, strlen(text), path, sizeof(path), &err), &err) && !path[0];
}

#define ALL_REFUSED(what, texts, refuses) all_refused(what, texts, sizeof(texts) / sizeof(texts[0]), refuses)

/* ---- stat ---- */

static void test_stat(void)
{
	struct et_proc_stat st;
	struct et_err err;
	char line[1024], trunc[1024];
	size_t len, bad = 0;
	int r;

	snprintf(line, sizeof(line), "10587 (cat) R 10582 10580 30707 34817 -1 4194304 100 " STAT_TAIL, 1127005ULL);
	memset(&err, 0, sizeof(err));
	r = stat_parse(line, &st, &err);
	ok(r == 0, "stat: a line as the kernel writes it is read (%s)", err.message);
	ok(st.pid == 10587 && st.ppid == 10582 && st.pgrp == 10580 && st.sid == 30707,
	   "stat: pid, ppid, pgrp and session are fields 1, 4, 5 and 6");
	ok(st.state == 'R' && st.tty_nr == 34817 && st.flags == 4194304 && st.start == 1127005,
	   "stat: state, tty_nr, flags and start time are fields 3, 7, 9 and 22");
	is_str(st.comm, "cat", "stat: the command name");
	ok(major((dev_t)st.tty_nr) == 136 && minor((dev_t)st.tty_nr) == 1, "stat: tty_nr 34817 is 136:1");

	snprintf(line, sizeof(line), "42 (a) (b c) S 7 42 42 0 -1 0 0 " STAT_TAIL, 99ULL);
	r = stat_parse(line, &st, &err);
	ok(r == 0 && strcmp(st.comm, "a) (b c") == 0 && st.ppid == 7 && st.start == 99,
	   "stat: a command name with \") (\" in it ends at the last ')'");
	snprintf(line, sizeof(line), "42 ()) S 7 42 42 0 -1 0 0 " STAT_TAIL, 99ULL);
	r = stat_parse(line, &st, &err);
	ok(r == 0 && strcmp(st.comm, ")") == 0, "stat: a command name that is one ')'");
	snprintf(line, sizeof(line), "42 (x\n1 (y) S 1) S 7 42 42 0 -1 0 0 " STAT_TAIL, 99ULL);
	r = stat_parse(line, &st, &err);
	ok(r == 0 && strcmp(st.comm, "x\n1 (y) S 1") == 0 && st.ppid == 7,
	   "stat: a command name with a newline and a made-up line in it");
	snprintf(line, sizeof(line), "42 () S 7 42 42 0 -1 0 0 " STAT_TAIL, 99ULL);
	ok(stat_parse(line, &st, &err) == 0 && st.comm[0] == '\0', "stat: an empty command name");
	snprintf(line, sizeof(line), "42 (%.127s) S 7 42 42 0 -1 0 0 " STAT_TAIL,
		 "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
		 "cccccccccccccccccccccccccccccccccccccccccccccc",
		 99ULL);
	ok(stat_parse(line, &st, &err) == 0 && strlen(st.comm) == 127, "stat: a command name of 127 bytes");
	snprintf(line, sizeof(line), "42 (%.128s) S 7 42 42 0 -1 0 0 " STAT_TAIL,
		 "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
		 "cccccccccccccccccccccccccccccccccccccccccccccc",
		 99ULL);
	ok(refused(stat_parse(line, &st, &err), &err), "stat: a command name of 128 bytes is refused");

	/* exactly 22 fields, and one fewer */
	ok(stat_parse("5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n", &st, &err) == 0 && st.start == 777,
	   "stat: 22 fields are enough");
	ok(refused(stat_parse("5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0\n", &st, &err), &err),
	   "stat: 21 fields are refused");

	/* every proper prefix of a good line is refused */
	snprintf(line, sizeof(line), "42 (a) (b) S 7 42 42 34817 -1 4194304 0 " STAT_TAIL, 1234ULL);
	len = strlen(line);
	for (size_t i = 0; i < len; i++) {
		memcpy(trunc, line, i);
		trunc[i] = '\0';
		memset(&st, 0x5a, sizeof(st));
		if (et_proc_stat_parse(trunc, i, &st, &err) == 0)
			bad++;
	}
	ok(bad == 0, "stat: each of the %zu truncations of a line is refused (%zu accepted)", len, bad);

	{
		static const char *const bad_lines[] = {
			"",
			"\n",
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777", /* no newline */
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n\n",
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 \n",
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0  777\n",
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -777\n", /* negative start */
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551616\n",
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0777\n",		/* leading zero */
			"5 (x) S -0 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",		/* "-0" */
			"5 (x) S 2147483648 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n", /* ppid */
			"5 (x) S 1 5 -5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",		/* session */
			"5 (x) S 1 5 5 4294967296 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n", /* tty_nr */
			"5 (x) S 1 5 5 0 -1 4294967296 0 0 0 0 0 0 0 0 20 0 1 0 777\n", /* flags */
			"5 (x) S 1 5 5 0 -99999999999999999999 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
			"99999999999 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
			"0 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
			"-5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
			"5 x S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
			"5 (x S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
			"5  (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
			"5 (x) 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n", /* no state */
			"5 (x) SS 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0x7\n",
			"5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 +7\n",
			"5 (x) S\t1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n",
		};
		ALL_REFUSED("stat", bad_lines, stat_refuses);
	}
	ok(refused(et_proc_stat_parse(LIT("5 (x\0) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777\n"), &st, &err), &err),
	   "stat: a NUL byte in the command name is refused");
	ok(stat_parse("5 (x) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551615\n", &st, &err) == 0 &&
	       st.start == 18446744073709551615ULL,
	   "stat: the largest 64-bit start time");
	ok(stat_parse("5 (x) S 2147483647 5 5 -2147483648 -1 4294967295 -9223372036854775808 0 0 0 0 0 0 0 20 0 1 0 "
		      "7\n",
		      &st, &err) == 0 &&
	       st.ppid == INT_MAX && st.tty_nr == 0x80000000u && st.flags == UINT_MAX,
	   "stat: the bounds of each named field, and INT64_MIN in another");
	ok(refused(stat_parse("5 (x) S 1 5 5 0 -1 0 -9223372036854775809 0 0 0 0 0 0 0 20 0 1 0 7\n", &st, &err), &err),
	   "stat: a number below INT64_MIN is refused");
}

/* ---- status ---- */

static void test_status(void)
{
	static const char good[] = "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t77\nPid:\t77\nPPid:\t1\n"
				   "Uid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\nFDSize:\t64\n"
				   "Groups:\t4 24 27 \nNStgid:\t77\n";
	struct et_proc_status s;
	struct et_err err;
	char *big;
	size_t pos;

	memset(&err, 0, sizeof(err));
	ok(et_proc_status_parse(good, strlen(good), &s, &err) == 0, "status: a file as the kernel writes it (%s)",
	   err.message);
	ok(s.uid[0] == 1000 && s.uid[1] == 1001 && s.uid[2] == 1002 && s.uid[3] == 1003,
	   "status: real, effective, saved and file system uid");
	ok(s.gid[0] == 2000 && s.gid[1] == 2001 && s.gid[2] == 2002 && s.gid[3] == 2003,
	   "status: real, effective, saved and file system gid");
	ok(s.n_groups == 3 && s.groups[0] == 4 && s.groups[1] == 24 && s.groups[2] == 27,
	   "status: the supplementary groups in order");
	et_proc_status_free(&s);
	ok(s.groups == NULL && s.n_groups == 0, "status: freed");

	ok(et_proc_status_parse(LIT("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t \n"), &s, &err) == 0 &&
	       s.n_groups == 0 && s.groups == NULL,
	   "status: an empty Groups line (one space) holds no group");
	et_proc_status_free(&s);
	ok(et_proc_status_parse(LIT("Groups:\n"), &s, &err) < 0, "status: Uid and Gid are required");
	ok(et_proc_status_parse(LIT("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\n"), &s, &err) == 0 && s.n_groups == 0,
	   "status: a Groups line with nothing after the colon holds no group");
	et_proc_status_free(&s);
	ok(et_proc_status_parse(LIT("Uid: 1 2 3 4\nGroups: 9\nGid:\t5 6\t7 8\n"), &s, &err) == 0 && s.uid[3] == 4 &&
	       s.gid[0] == 5 && s.gid[3] == 8 && s.n_groups == 1 && s.groups[0] == 9,
	   "status: spaces or tabs between ids, lines in any order");
	et_proc_status_free(&s);

	{
		static const char *const bad_files[] = {
			"",
			"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",			    /* no Groups */
			"Gid:\t0\t0\t0\t0\nGroups:\t\n",			    /* no Uid */
			"Uid:\t0\t0\t0\t0\nGroups:\t\n",			    /* no Gid */
			"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t1",	    /* no newline at the end */
			"Uid:\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n",		    /* three uids */
			"Uid:\t0\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n",	    /* five */
			"Uid:\t0\t0\t0\t4294967295\nGid:\t0\t0\t0\t0\nGroups:\t\n", /* (uid_t)-1 */
			"Uid:\t0\t0\t0\t99999999999\nGid:\t0\t0\t0\t0\nGroups:\t\n",
			"Uid:\t0\t0\t0\t-1\nGid:\t0\t0\t0\t0\nGroups:\t\n",
			"Uid:\t0\t0\t0\t01\nGid:\t0\t0\t0\t0\nGroups:\t\n",
			"Uid:0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n",
			"Uid:\t0\t0\t0\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n",
			"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\nGroups:\t\n",
			"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t1,2\n",
			"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t1 x\n",
			"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:1\n",
			"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t4294967295\n",
		};
		ALL_REFUSED("status", bad_files, status_refuses);
	}
	ok(refused(et_proc_status_parse(LIT("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\0\n"), &s, &err), &err),
	   "status: a NUL byte is refused");

	/* 65536 groups are read, one more is refused */
	big = malloc(ET_PROC_STATUS_MAX + 64);
	if (!big)
		abort();
	pos = (size_t)sprintf(big, "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t");
	for (unsigned i = 0; i < ET_PROC_GROUPS_MAX; i++)
		pos += (size_t)sprintf(big + pos, "%u ", 4000000000u + i);
	pos += (size_t)sprintf(big + pos, "\n");
	ok(pos <= ET_PROC_STATUS_MAX, "status: the longest Groups line fits in what is read (%zu bytes)", pos);
	memset(&err, 0, sizeof(err));
	ok(et_proc_status_parse(big, pos, &s, &err) == 0 && s.n_groups == ET_PROC_GROUPS_MAX &&
	       s.groups[ET_PROC_GROUPS_MAX - 1] == 4000000000u + ET_PROC_GROUPS_MAX - 1,
	   "status: %d groups are read (%s)", ET_PROC_GROUPS_MAX, err.message);
	et_proc_status_free(&s);
	pos--; /* over the newline */
	pos += (size_t)sprintf(big + pos, "7\n");
	ok(refused(et_proc_status_parse(big, pos, &s, &err), &err) && s.groups == NULL, "status: %d groups are refused",
	   ET_PROC_GROUPS_MAX + 1);
	free(big);
}

/* ---- cgroup ---- */

static void test_cgroup(void)
{
	char path[256];
	struct et_err err;

#define CG(text) et_proc_cgroup_parse(text, strlen(text), path, sizeof(path), &err)
	memset(&err, 0, sizeof(err));
	ok(CG("0::/system.slice/" UNIT "\n") == 0 && strcmp(path, "/system.slice/" UNIT) == 0,
	   "cgroup: the unified hierarchy's path");
	ok(CG("12:pids:/x\n1:name=systemd:/user.slice/" UNIT "/sub\n3:cpu,cpuacct:/y\n") == 0 &&
	       strcmp(path, "/user.slice/" UNIT "/sub") == 0,
	   "cgroup: without a unified line, systemd's v1 hierarchy");
	ok(CG("2:cpu,name=systemd:/a\n") == 0 && strcmp(path, "/a") == 0,
	   "cgroup: name=systemd as one of several names of a hierarchy");
	ok(CG("9:name=systemd:/v1\n0::/v2\n1:cpu:/c\n") == 0 && strcmp(path, "/v2") == 0,
	   "cgroup: the unified line wins over the v1 one (hybrid)");
	ok(CG("3:cpu:/a\n4:memory:/b\n") == 0 && path[0] == '\0', "cgroup: neither line gives \"\"");
	ok(CG("") == 0 && path[0] == '\0', "cgroup: an empty file gives \"\"");
	ok(CG("0::/a:b c\n") == 0 && strcmp(path, "/a:b c") == 0, "cgroup: the path is all after the second colon");
	ok(CG("1:name=systemdx:/a\n") == 0 && path[0] == '\0', "cgroup: name=systemdx is another hierarchy");
	{
		static const char *const bad_files[] = {
			"0::/a",	  /* no newline */
			"0::a\n",	  /* not absolute */
			"0::\n",	  /* no path */
			"0:/a\n",	  /* one colon */
			"0:cpu:/a\n",	  /* controllers on hierarchy 0 */
			"0::/a\n0::/b\n", /* two unified lines */
			"1:name=systemd:/a\n2:name=systemd:/b\n",
			"x::/a\n",
			"-1::/a\n",
			"00::/a\n",
			"::/a\n",
			"0::/a\n\n",
		};
		ALL_REFUSED("cgroup", bad_files, cgroup_refuses);
	}
	ok(refused(et_proc_cgroup_parse(LIT("0::/a\0\n"), path, sizeof(path), &err), &err),
	   "cgroup: a NUL byte is refused");
	ok(refused(et_proc_cgroup_parse(LIT("0::/abcdef\n"), path, 7, &err), &err) && path[0] == '\0',
	   "cgroup: a path longer than the buffer is refused");
	ok(et_proc_cgroup_parse(LIT("0::/abcde\n"), path, 7, &err) == 0 && strcmp(path, "/abcde") == 0,
	   "cgroup: a path that just fits");
#undef CG

	ok(et_proc_path_has_component("/system.slice/" UNIT, UNIT), "component: the last one");
	ok(et_proc_path_has_component("/user.slice/" UNIT "/init.scope", UNIT), "component: one in the middle");
	ok(et_proc_path_has_component(UNIT, UNIT), "component: a path of one component");
	ok(!et_proc_path_has_component("/system.slice/" UNIT "-x", UNIT), "component: not the start of a longer one");
	ok(!et_proc_path_has_component("/system.slice/x" UNIT, UNIT), "component: not the end of a longer one");
	ok(!et_proc_path_has_component("/system.slice", UNIT) && !et_proc_path_has_component("/", UNIT),
	   "component: not a parent directory");
	ok(!et_proc_path_has_component("/system.slice/entra-tap-grant-0123456789abcdef0123456789abcdef.scop", UNIT),
	   "component: not a prefix of the name");
	ok(et_proc_path_has_component("/a//b/", "b") && !et_proc_path_has_component("/a/b", "a/b"),
	   "component: empty components pass, a name with '/' is never one component");
	ok(!et_proc_path_has_component("/a/b", "") && !et_proc_path_has_component(NULL, "a") &&
	       !et_proc_path_has_component("/a", NULL),
	   "component: an empty or missing name or path");
}

/* ---- terminals ---- */

static void test_tty_path(void)
{
	char buf[32];

	ok(et_tty_path(makedev(136, 0), buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/pts/0") == 0, "tty: 136:0");
	ok(et_tty_path(makedev(136, 4000), buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/pts/4000") == 0,
	   "tty: 136:4000 (a minor above 255)");
	ok(et_tty_path(makedev(137, 5), buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/pts/261") == 0,
	   "tty: 137:5 is pts 261");
	ok(et_tty_path(makedev(143, 255), buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/pts/2047") == 0, "tty: 143:255");
	ok(et_tty_path(makedev(144, 0), buf, sizeof(buf)) == -1 && buf[0] == '\0', "tty: 144:0 is not known");
	ok(et_tty_path(makedev(4, 1), buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/tty1") == 0, "tty: 4:1");
	ok(et_tty_path(makedev(4, 63), buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/tty63") == 0, "tty: 4:63");
	ok(et_tty_path(makedev(4, 64), buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/ttyS0") == 0, "tty: 4:64 is ttyS0");
	ok(et_tty_path(makedev(4, 70), buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/ttyS6") == 0, "tty: 4:70 is ttyS6");
	ok(et_tty_path(makedev(5, 0), buf, sizeof(buf)) == -1 && et_tty_path(makedev(5, 1), buf, sizeof(buf)) == -1,
	   "tty: /dev/tty and /dev/console are passed over");
	ok(et_tty_path(0, buf, sizeof(buf)) == -1 && et_tty_path(makedev(8, 0), buf, sizeof(buf)) == -1,
	   "tty: no terminal, a disk");
	ok(et_tty_path(makedev(136, 12345), buf, 12) == -1 && buf[0] == '\0', "tty: a buffer too small");
	ok(et_tty_path((dev_t)34817u, buf, sizeof(buf)) == 0 && strcmp(buf, "/dev/pts/1") == 0,
	   "tty: stat's tty_nr as a dev_t");
}

/* Everything the master of a pty has to read within a moment, into buf. */
static size_t pty_read(int master, char *buf, size_t size)
{
	size_t len = 0;
	struct pollfd p = { .fd = master, .events = POLLIN };
	while (len + 1 < size && poll(&p, 1, 200) > 0) {
		ssize_t n = read(master, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

static void test_tty_line(void)
{
	struct termios tio;
	struct stat st;
	char buf[1024], path[64], *dir, *utmp;
	struct utmpx u = { 0 };
	const char *slave;
	unsigned sent = 0;
	struct et_err err;
	int master, sfd, r;

	ok(et_tty_line(NULL, "x") == -1, "tty line: no path");
	ok(et_tty_line("/tmp/x", "x") == -1, "tty line: a path outside /dev is refused");
	ok(et_tty_line("dev/null", "x") == -1, "tty line: a relative path is refused");
	ok(et_tty_line("/dev/../dev/null", "x") == -1, "tty line: \"..\" is refused");
	ok(et_tty_line("/dev//null", "x") == -1, "tty line: \"//\" is refused");
	ok(et_tty_line("/dev/", "x") == -1, "tty line: /dev/ alone is refused");
	ok(et_tty_line("/dev/null", "x") == 0, "tty line: a character device under /dev is written");
	ok(et_tty_line("/dev/nonexistent-et-test", "x") == -1, "tty line: a missing device");
	if (lstat("/dev/stdout", &st) == 0 && S_ISLNK(st.st_mode))
		ok(et_tty_line("/dev/stdout", "x") == -1, "tty line: a symbolic link is not followed");
	else
		ok(1, "tty line: a symbolic link is not followed # SKIP no /dev/stdout link here");
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) {
		snprintf(path, sizeof(path), "/dev/shm/et-test-procs.%ld", (long)getpid());
		sfd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		ok(sfd >= 0 && et_tty_line(path, "x") == -1, "tty line: a regular file under /dev is refused");
		if (sfd >= 0) {
			ok(fstat(sfd, &st) == 0 && st.st_size == 0, "tty line: and nothing was written to it");
			close(sfd);
		}
		unlink(path);
	} else {
		ok(1, "tty line: a regular file under /dev is refused # SKIP /dev/shm is not writable");
	}

	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(slave = ptsname(master))) {
		ok(1, "tty line: through a pty # SKIP no pty here");
		if (master >= 0)
			close(master);
		return;
	}
	snprintf(path, sizeof(path), "%s", slave);
	/* raw, so that what is read is what was written; kept open so that it is kept */
	sfd = open(path, O_RDWR | O_NOCTTY);
	if (sfd < 0 || tcgetattr(sfd, &tio) < 0)
		abort();
	cfmakeraw(&tio);
	tcsetattr(sfd, TCSANOW, &tio);
	ok(fstat(sfd, &st) == 0 && et_tty_path(st.st_rdev, buf, sizeof(buf)) == 0 && strcmp(buf, path) == 0,
	   "tty: the path of a pty's number is its name (%s)", path);
	ok(et_tty_line(path, "grant ended\x1b[2J\nnow") == 0, "tty line: written to a pty");
	pty_read(master, buf, sizeof(buf));
	is_str(buf, "\r\ngrant ended?[2J?now\r\n", "tty line: one sanitised line between CR LFs");

	/* et_wall goes through it: one line per terminal, however often utmp names it */
	dir = tu_tmpdir();
	utmp = tu_write_file(dir, "utmp", "", 0644);
	if (utmpxname(utmp) < 0)
		abort();
	u.ut_type = USER_PROCESS;
	u.ut_pid = getpid();
	if (strlen(path + 5) >= sizeof(u.ut_line))
		abort();
	memcpy(u.ut_line, path + 5, strlen(path + 5) + 1);
	snprintf(u.ut_id, sizeof(u.ut_id), "p1");
	snprintf(u.ut_user, sizeof(u.ut_user), "alice");
	setutxent();
	ok(pututxline(&u) != NULL, "wall: a utmp entry for the pty");
	snprintf(u.ut_id, sizeof(u.ut_id), "p2");
	(void)pututxline(&u);
	u.ut_type = DEAD_PROCESS;
	snprintf(u.ut_id, sizeof(u.ut_id), "p3");
	snprintf(u.ut_line, sizeof(u.ut_line), "null");
	(void)pututxline(&u);
	endutxent();
	(void)utmpxname(_PATH_UTMPX);
	memset(&err, 0, sizeof(err));
	r = et_wall(utmp, "break-glass\tgrant", &sent, &err);
	ok(r == 0 && sent == 1, "wall: one terminal written (%u, %s)", sent, err.message);
	pty_read(master, buf, sizeof(buf));
	is_str(buf, "\r\nbreak-glass?grant\r\n", "wall: the line reached the pty once");
	close(sfd);
	close(master);
	free(utmp);
}

/* ---- the scanner on a made-up tree ---- */

struct fake {
	pid_t pid, ppid, sid;
	unsigned long long start;
	char state;
	unsigned tty_nr, flags;
	unsigned uid, gid, egid;
	const char *groups; /* the Groups line after the tab */
	const char *cgroup; /* the whole file; NULL: "0::/user.slice\n" */
	const char *cmdline;
	size_t cmdline_len;
	const char *comm;
};

static void write_bytes(const char *dir, const char *name, const char *data, size_t len)
{
	char *path = tu_path_in(dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len) || close(fd) < 0)
		abort();
	free(path);
}

static void fake_proc(const char *root, const struct fake *f)
{
	char dir[4096], text[2048];
	int n;

	snprintf(dir, sizeof(dir), "%s/%ld", root, (long)f->pid);
	if (mkdir(dir, 0755) < 0)
		abort();
	n = snprintf(text, sizeof(text), "%ld (%s) %c %ld %ld %ld %u -1 %u 0 0 0 0 0 0 0 0 20 0 1 0 %llu 0 0\n",
		     (long)f->pid, f->comm ? f->comm : "x", f->state ? f->state : 'S', (long)f->ppid, (long)f->sid,
		     (long)f->sid, f->tty_nr, f->flags, f->start);
	write_bytes(dir, "stat", text, (size_t)n);
	n = snprintf(text, sizeof(text),
		     "Name:\tx\nState:\tS (sleeping)\nUid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\nGroups:\t%s\n",
		     f->uid, f->uid, f->uid, f->uid, f->gid, f->egid ? f->egid : f->gid, f->gid, f->gid,
		     f->groups ? f->groups : " ");
	write_bytes(dir, "status", text, (size_t)n);
	write_bytes(dir, "cgroup", f->cgroup ? f->cgroup : "0::/user.slice\n",
		    strlen(f->cgroup ? f->cgroup : "0::/user.slice\n"));
	write_bytes(dir, "cmdline", f->cmdline ? f->cmdline : "", f->cmdline ? f->cmdline_len : 0);
}

#define GID 4242

struct exempt_data {
	uid_t uid;
	unsigned calls;
};

static bool exempt_uid(uid_t ruid, void *data)
{
	struct exempt_data *d = data;
	d->calls++;
	return ruid == d->uid;
}

static const struct et_proc *listed(const struct et_proc_list *l, pid_t pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].pid == pid)
			return &l->items[i];
	return NULL;
}

/* 1 when pid is listed tied, 0 when listed outside, -1 when not listed */
static int tied_of(const struct et_proc_list *l, pid_t pid)
{
	const struct et_proc *p = listed(l, pid);
	return p ? p->tied : -1;
}

static void test_scan_fake(void)
{
	char *root = tu_tmpdir(), big_cgroup[ET_PROC_CGROUP_MAX + 64], dir[4096], *broken;
	pid_t self = getpid(), b = self > 50000 ? 1000 : 60000;
	struct exempt_data ex = { .uid = 1003 };
	struct et_proc_root roots[] = { { 1, 5 }, { self, 5 }, { b + 1, 1000 }, { b + 6, 999 }, { 2, 5 } };
	struct et_proc_match m = {
		.proc_root = root,
		.unit = UNIT,
		.roots = roots,
		.n_roots = sizeof(roots) / sizeof(roots[0]),
		.have_gid = true,
		.gid = GID,
		.exempt = exempt_uid,
		.data = &ex,
	};
	struct et_proc_list l = { 0 };
	struct et_err err;
	const struct et_proc *p;
	bool sorted = true;
	static const pid_t want[] = { 1, 2, 3, 4, 5, 8, 10, 11, 12, 14, 18, 20 };
	size_t n_want = sizeof(want) / sizeof(want[0]), missing = 0;

	memset(big_cgroup, 'a', sizeof(big_cgroup));
	memcpy(big_cgroup, "0::/", 4);
	big_cgroup[sizeof(big_cgroup) - 2] = '\n';
	big_cgroup[sizeof(big_cgroup) - 1] = '\0';
	{
		/* clang-format off */
		const struct fake tree[] = {
			{ .pid = 1, .start = 5, .comm = "init", .cmdline = "/sbin/init", .cmdline_len = 11 },
			{ .pid = self, .ppid = b + 1, .sid = b + 1, .start = 5, .groups = "4242 " },
			{ .pid = 2, .start = 5, .comm = "kthreadd", .cgroup = "0::/" UNIT "\n" },
			{ .pid = b + 100, .ppid = 2, .start = 6, .comm = "kworker", .flags = ET_PROC_KTHREAD, .groups = "4242 " },
			/* the recorded session: leader, child, grandchild */
			{ .pid = b + 1, .ppid = 1, .sid = b + 1, .start = 1000, .uid = 1001, .comm = "bash",
			  .cmdline = "-bash\0-l\0", .cmdline_len = 9 },
			{ .pid = b + 2, .ppid = b + 1, .sid = b + 1, .start = 1001, .uid = 1001, .tty_nr = 34817,
			  .cmdline = "vim\0/etc/x\033[2J\0", .cmdline_len = 16 },
			{ .pid = b + 3, .ppid = b + 2, .sid = b + 1, .start = 1002, .comm = "sh" },
			/* left its parent but not the session; its child left the session too */
			{ .pid = b + 4, .ppid = 1, .sid = b + 1, .start = 1003, .uid = 1001 },
			{ .pid = b + 5, .ppid = b + 4, .sid = b + 5, .start = 1004, .uid = 1001 },
			/* recorded, but its number names another process now */
			{ .pid = b + 6, .ppid = 1, .sid = b + 6, .start = 1000, .uid = 1001 },
			{ .pid = b + 7, .ppid = b + 6, .sid = b + 6, .start = 1006, .uid = 1001 },
			/* in the unit, by the unified and by the v1 hierarchy; beside it */
			{ .pid = b + 8, .ppid = 1, .sid = b + 8, .start = 1007, .cgroup = "0::/system.slice/" UNIT "\n" },
			{ .pid = b + 9, .ppid = 1, .sid = b + 9, .start = 1008, .cgroup = "0::/system.slice/" UNIT "-x\n" },
			{ .pid = b + 10, .ppid = 1, .sid = b + 10, .start = 1009,
			  .cgroup = "1:name=systemd:/x/" UNIT "/sub\n2:cpu:/\n" },
			/* carriers of the group: supplementary, effective; exempt; exempt but tied; not one */
			{ .pid = b + 11, .ppid = 1, .sid = b + 11, .start = 1010, .uid = 1002, .groups = "27 4242 " },
			{ .pid = b + 12, .ppid = 1, .sid = b + 12, .start = 1011, .uid = 1002, .gid = 1000, .egid = GID },
			{ .pid = b + 13, .ppid = 1, .sid = b + 13, .start = 1012, .uid = 1003, .groups = "4242 " },
			{ .pid = b + 14, .ppid = b + 1, .sid = b + 1, .start = 1013, .uid = 1003, .groups = "4242 " },
			{ .pid = b + 15, .ppid = 1, .sid = b + 15, .start = 1014, .uid = 1002, .groups = "27 42420 " },
			/* a zombie and a kernel thread in the session; an unreadable cgroup in it */
			{ .pid = b + 16, .ppid = b + 1, .sid = b + 1, .start = 1015, .state = 'Z' },
			{ .pid = b + 17, .ppid = 1, .sid = b + 1, .start = 1016, .flags = ET_PROC_KTHREAD,
			  .cgroup = "0::/" UNIT "\n" },
			{ .pid = b + 18, .ppid = b + 1, .sid = b + 1, .start = 1017, .cgroup = "garbage" },
			{ .pid = b + 19, .ppid = 1, .sid = b + 19, .start = 1018, .cgroup = big_cgroup },
			/* PF_KTHREAD with a command line is not a kernel thread */
			{ .pid = b + 20, .ppid = b + 1, .sid = b + 1, .start = 1019, .flags = ET_PROC_KTHREAD,
			  .cmdline = "x", .cmdline_len = 1 },
		};
		/* clang-format on */
		for (size_t i = 0; i < sizeof(tree) / sizeof(tree[0]); i++)
			fake_proc(root, &tree[i]);
	}
	/* not process directories */
	snprintf(dir, sizeof(dir), "%s/007", root);
	if (mkdir(dir, 0755) < 0)
		abort();
	write_bytes(dir, "stat", LIT("7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1\n"));
	snprintf(dir, sizeof(dir), "%s/self", root);
	if (mkdir(dir, 0755) < 0)
		abort();
	write_bytes(root, "stat", LIT("cpu 0\n"));

	memset(&err, 0, sizeof(err));
	ok(et_procs_find(&m, &l, &err) == 0, "scan: a made-up tree is read (%s)", err.message);
	for (size_t i = 0; i < n_want; i++)
		if (!listed(&l, b + want[i])) {
			tap_diag("not listed: %ld", (long)(b + want[i]));
			missing++;
		}
	ok(missing == 0 && l.n == n_want, "scan: exactly the %zu expected processes are listed (%zu)", n_want, l.n);
	for (size_t i = 1; i < l.n; i++)
		sorted = sorted && l.items[i - 1].pid < l.items[i].pid;
	ok(sorted, "scan: the list is by pid");
	ok(!listed(&l, 1) && !listed(&l, self) && !listed(&l, 2),
	   "scan: pid 1, this process and pid 2 are never listed, roots or not");
	ok(!listed(&l, b + 100) && !listed(&l, b + 17), "scan: kernel threads are not listed");
	ok(listed(&l, b + 20) != NULL, "scan: PF_KTHREAD with a command line is listed");
	ok(!listed(&l, b + 16), "scan: a zombie is not listed");
	p = listed(&l, b + 1);
	ok(p && p->tied && p->ppid == 1 && p->sid == b + 1 && p->start == 1000 && p->ruid == 1001,
	   "scan: the recorded process is tied, with its ppid, session, start and uid");
	ok(p && strcmp(p->cmd, "-bash -l") == 0, "scan: its command line with NULs as spaces");
	p = listed(&l, b + 2);
	ok(p && p->tied && p->tty == makedev(136, 1), "scan: its child is tied, on terminal 136:1");
	ok(p && strcmp(p->cmd, "vim /etc/x?[2J") == 0, "scan: a command line is made printable (%s)", p ? p->cmd : "");
	p = listed(&l, b + 3);
	ok(p && p->tied && strcmp(p->cmd, "[sh]") == 0, "scan: its grandchild, shown by its name when no command line");
	ok(tied_of(&l, b + 4) == 1, "scan: a member of a tied session, re-parented to init");
	ok(tied_of(&l, b + 5) == 1, "scan: the child of that member, in a session of its own");
	ok(!listed(&l, b + 6) && !listed(&l, b + 7), "scan: a start time that does not match ties nothing");
	ok(tied_of(&l, b + 8) == 1, "scan: in the unit (unified hierarchy)");
	ok(!listed(&l, b + 9), "scan: \"UNIT-x\" is not the unit");
	ok(tied_of(&l, b + 10) == 1, "scan: in the unit (systemd's v1 hierarchy)");
	ok(tied_of(&l, b + 11) == 0, "scan: a supplementary carrier of the gid, outside");
	ok(tied_of(&l, b + 12) == 0, "scan: an effective carrier of the gid, outside");
	ok(!listed(&l, b + 13), "scan: a carrier whose real uid is exempt is not listed");
	ok(tied_of(&l, b + 14) == 1, "scan: a tied process is listed even when its uid is exempt");
	ok(!listed(&l, b + 15), "scan: 42420 is not 4242");
	ok(tied_of(&l, b + 18) == 1, "scan: a malformed cgroup file leaves the other rules");
	ok(!listed(&l, b + 19), "scan: a cgroup file over its cap does not stop the scan");
	ok(ex.calls > 0, "scan: the exempt callback was asked (%u times)", ex.calls);
	et_proc_list_free(&l);
	ok(l.items == NULL && l.n == 0, "scan: the list is freed");

	/* without the gid, the unit or roots */
	m.have_gid = false;
	ok(et_procs_find(&m, &l, &err) == 0 && !listed(&l, b + 11) && !listed(&l, b + 12) && listed(&l, b + 1),
	   "scan: without the gid no carrier is listed");
	et_proc_list_free(&l);
	m.unit = NULL;
	ok(et_procs_find(&m, &l, &err) == 0 && !listed(&l, b + 8) && !listed(&l, b + 10) && listed(&l, b + 2),
	   "scan: without the unit nothing is tied by its cgroup");
	et_proc_list_free(&l);
	m.roots = NULL;
	m.n_roots = 0;
	ok(et_procs_find(&m, &l, &err) == 0 && l.n == 0, "scan: with nothing to match, nothing is listed");
	et_proc_list_free(&l);

	/* a malformed stat or status fails the scan; a missing tree too */
	broken = tu_tmpdir();
	fake_proc(broken, &(struct fake){ .pid = b + 1, .ppid = 1, .sid = b + 1, .start = 1 });
	snprintf(dir, sizeof(dir), "%s/%ld", broken, (long)(b + 1));
	write_bytes(dir, "status", LIT("Uid:\t1\n"));
	m.proc_root = broken;
	memset(&err, 0, sizeof(err));
	ok(et_procs_find(&m, &l, &err) == -1 && strcmp(err.reason, "proc_scan") == 0 && strstr(err.message, "status") &&
	       l.items == NULL && l.n == 0,
	   "scan: a malformed status file fails the scan (%s)", err.message);
	write_bytes(dir, "status", LIT("Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\nGroups:\t\n"));
	write_bytes(dir, "stat", LIT("1 (x) S\n"));
	memset(&err, 0, sizeof(err));
	ok(et_procs_find(&m, &l, &err) == -1 && strcmp(err.reason, "proc_scan") == 0 && strstr(err.message, "stat"),
	   "scan: a malformed stat file fails the scan (%s)", err.message);
	m.proc_root = "/nonexistent-et-test";
	ok(et_procs_find(&m, &l, &err) == -1 && strcmp(err.reason, "proc_scan") == 0, "scan: a missing tree");
	m.proc_root = NULL;
	ok(et_procs_find(&m, &l, &err) == -1 && strcmp(err.reason, "bad_argument") == 0, "scan: no tree");
}

/* ---- real processes ---- */

/* Whether pid is gone or a zombie. */
static bool gone(pid_t pid)
{
	struct et_proc_stat st;
	struct et_err err;
	if (et_proc_stat_read("/proc", pid, &st, &err) < 0) {
		if (strcmp(err.reason, "process_gone") != 0)
			abort();
		return true;
	}
	return st.state == 'Z' || st.state == 'X';
}

static unsigned long long start_of(pid_t pid)
{
	struct et_proc_stat st;
	if (et_proc_stat_read("/proc", pid, &st, NULL) < 0)
		abort();
	return st.start;
}

/* Reap pid, waiting at most 10 s (a bound against a hang, not a measure). Returns the
 * signal that ended it, 0 when it exited, -1 when it did not end. */
static int reap(pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	return -1;
}

/* One byte from fd, waiting at most 10 s. */
static bool wait_byte(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	return poll(&p, 1, 10000) == 1 && read(fd, &c, 1) == 1;
}

__attribute__((noreturn)) static void sleep_forever(void)
{
	for (;;)
		pause();
}

/* fork(); the child is killed when this process ends, so that a test that fails midway
 * leaves none behind (a grandchild has no such tie: its end is what is tested) */
static pid_t fork_child(void)
{
	pid_t parent = getpid(), pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
		_exit(1);
	return pid;
}

static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void test_end_tree(void)
{
	struct et_proc_root root;
	struct et_proc_match m = { .proc_root = "/proc", .roots = &root, .n_roots = 1 };
	struct et_proc_list l = { 0 }, surv = { 0 };
	struct et_err err;
	int pfd[2];
	pid_t child, grandchild = 0, sibling;
	const struct et_proc *p;

	if (pipe(pfd) < 0)
		abort();
	child = fork_child();
	if (child == 0) {
		int gfd[2];
		pid_t g;
		if (pipe(gfd) < 0)
			_exit(1);
		g = fork();
		if (g == 0) {
			signal(SIGTERM, SIG_IGN);
			if (write(gfd[1], "g", 1) != 1)
				_exit(1);
			sleep_forever();
		}
		/* the grandchild's pid once it ignores SIGTERM */
		if (g < 0 || !wait_byte(gfd[0]) || write(pfd[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		sleep_forever();
	}
	sibling = fork_child();
	if (sibling == 0)
		sleep_forever();
	close(pfd[1]);
	{
		struct pollfd pp = { .fd = pfd[0], .events = POLLIN };
		ok(poll(&pp, 1, 10000) == 1 && read(pfd[0], &grandchild, sizeof(grandchild)) == sizeof(grandchild) &&
		       grandchild > 0,
		   "end: a child and a grandchild that ignores SIGTERM");
	}
	close(pfd[0]);
	root = (struct et_proc_root){ .pid = child, .start = start_of(child) };

	memset(&err, 0, sizeof(err));
	ok(et_procs_find(&m, &l, &err) == 0, "end: /proc is read (%s)", err.message);
	p = listed(&l, child);
	ok(p && p->tied && p->ppid == getpid() && p->ruid == getuid(), "end: the child is listed, tied");
	p = listed(&l, grandchild);
	ok(p && p->tied && p->ppid == child, "end: the grandchild is listed, tied");
	ok(!listed(&l, sibling) && !listed(&l, getpid()), "end: neither the sibling nor this process is listed");
	ok(l.n == 2, "end: nothing else is listed (%zu)", l.n);

	memset(&err, 0, sizeof(err));
	ok(et_procs_end(&m, &l, 300, &surv, &err) == 0, "end: ended (%s)", err.message);
	ok(surv.n == 0 && surv.items == NULL, "end: no survivors (%zu)", surv.n);
	ok(gone(child) && gone(grandchild), "end: the child and the grandchild are gone");
	ok(reap(child) == SIGTERM, "end: the child ended by SIGTERM");
	ok(reap(grandchild) == SIGKILL, "end: the grandchild, ignoring SIGTERM, by SIGKILL after the grace");
	ok(!gone(sibling) && kill(sibling, 0) == 0 && waitpid(sibling, NULL, WNOHANG) == 0,
	   "end: the sibling is untouched");
	kill(sibling, SIGKILL);
	reap(sibling);
	et_proc_list_free(&l);
	et_proc_list_free(&surv);

	/* the child is gone: its recorded start names nobody, nothing is listed or signalled */
	ok(et_procs_find(&m, &l, &err) == 0 && l.n == 0, "end: a recorded root that has gone ties nothing");
	et_proc_list_free(&l);
	ok(et_procs_end(&m, NULL, 100, &surv, &err) == 0 && surv.n == 0, "end: nothing to end");
	et_proc_list_free(&surv);
}

/* A root that ignores SIGTERM and forks a child every 20 ms while it is being ended. */
static void test_end_forking(void)
{
	struct et_proc_root root;
	struct et_proc_match m = { .proc_root = "/proc", .roots = &root, .n_roots = 1 };
	struct et_proc_list surv = { 0 };
	struct et_err err;
	pid_t forker, kids[256];
	size_t n_kids = 0, left = 0;
	int pfd[2], fl;

	if (pipe(pfd) < 0)
		abort();
	forker = fork_child();
	if (forker == 0) {
		signal(SIGTERM, SIG_IGN);
		for (int i = 0; i < 200; i++) {
			pid_t k = fork();
			if (k == 0) {
				signal(SIGTERM, SIG_DFL);
				pid_t me = getpid();
				if (write(pfd[1], &me, sizeof(me)) != sizeof(me))
					_exit(1);
				sleep_forever();
			}
			usleep(20000);
		}
		sleep_forever();
	}
	close(pfd[1]);
	ok(read(pfd[0], &kids[n_kids], sizeof(pid_t)) == sizeof(pid_t), "forking: the first child was forked");
	n_kids++;
	root = (struct et_proc_root){ .pid = forker, .start = start_of(forker) };
	memset(&err, 0, sizeof(err));
	ok(et_procs_end(&m, NULL, 400, &surv, &err) == 0, "forking: ended (%s)", err.message);
	ok(surv.n == 0, "forking: no survivors (%zu)", surv.n);
	ok(gone(forker) && reap(forker) == SIGKILL, "forking: the forker, ignoring SIGTERM, ended by SIGKILL");
	fl = fcntl(pfd[0], F_GETFL);
	fcntl(pfd[0], F_SETFL, fl | O_NONBLOCK);
	while (n_kids < sizeof(kids) / sizeof(kids[0]) && read(pfd[0], &kids[n_kids], sizeof(pid_t)) == sizeof(pid_t))
		n_kids++;
	close(pfd[0]);
	for (size_t i = 0; i < n_kids; i++)
		left += !gone(kids[i]);
	ok(left == 0, "forking: each of the %zu children, forked before and during the end, is gone (%zu left)", n_kids,
	   left);
	for (size_t i = 0; i < n_kids; i++)
		kill(kids[i], SIGKILL);
	et_proc_list_free(&surv);
}

/* A session with a terminal: the scan gives its number, et_tty_path its name. */
static void test_end_terminal(void)
{
	struct et_proc_root root;
	struct et_proc_match m = { .proc_root = "/proc", .roots = &root, .n_roots = 1 };
	struct et_proc_list l = { 0 }, surv = { 0 };
	struct et_err err;
	struct stat st;
	char path[64], name[64];
	const char *slave;
	const struct et_proc *p;
	int master, pfd[2];
	pid_t leader;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(slave = ptsname(master)) ||
	    stat(slave, &st) < 0) {
		ok(1, "terminal: a session on a pty # SKIP no pty here");
		if (master >= 0)
			close(master);
		return;
	}
	snprintf(path, sizeof(path), "%s", slave);
	if (pipe(pfd) < 0)
		abort();
	leader = fork_child();
	if (leader == 0) {
		/* a session leader opening a terminal makes it its controlling one */
		if (setsid() < 0 || open(path, O_RDWR) < 0 || write(pfd[1], "r", 1) != 1)
			_exit(1);
		sleep_forever();
	}
	close(pfd[1]);
	ok(wait_byte(pfd[0]), "terminal: a session leader on %s", path);
	close(pfd[0]);
	root = (struct et_proc_root){ .pid = leader, .start = start_of(leader) };
	memset(&err, 0, sizeof(err));
	ok(et_procs_find(&m, &l, &err) == 0 && l.n == 1, "terminal: it is listed (%s)", err.message);
	p = listed(&l, leader);
	ok(p && p->tied && p->sid == leader && p->tty == st.st_rdev, "terminal: its terminal is the pty's number");
	ok(p && et_tty_path(p->tty, name, sizeof(name)) == 0 && strcmp(name, path) == 0,
	   "terminal: et_tty_path names the pty (%s)", p ? name : "");
	ok(et_procs_end(&m, &l, 300, &surv, &err) == 0 && surv.n == 0 && reap(leader) == SIGTERM,
	   "terminal: the session ends by SIGTERM");
	et_proc_list_free(&l);
	et_proc_list_free(&surv);
	close(master);
}

/* Carriers of a group on real processes: setgroups needs root. */
static void test_end_carrier(void)
{
	gid_t gid = (gid_t)(2000000000u + (unsigned)getpid() % 100000u);
	struct exempt_data ex = { .uid = 4243 };
	struct et_proc_match m = { .proc_root = "/proc", .have_gid = true, .gid = gid };
	struct et_proc_list l = { 0 }, surv = { 0 };
	const struct et_proc *p;
	struct et_err err;
	pid_t carrier = 0, other = 0, exempt = 0;
	int pfd[2];

	if (pipe(pfd) < 0)
		abort();
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork_child();
		if (pid == 0) {
			gid_t g = gid;
			uid_t u = (uid_t)(4242 + i);
			/* 0: carries the gid; 1: carries it, exempt; 2: does not (a change of
			 * credentials clears the parent-death signal: set again) */
			if (setgroups(i == 2 ? 0 : 1, &g) < 0 || setgid(65534) < 0 || setuid(u) < 0 ||
			    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || write(pfd[1], "r", 1) != 1)
				_exit(1);
			sleep_forever();
		}
		if (i == 0)
			carrier = pid;
		else if (i == 1)
			exempt = pid;
		else
			other = pid;
	}
	close(pfd[1]);
	ok(wait_byte(pfd[0]) && wait_byte(pfd[0]) && wait_byte(pfd[0]), "carrier: three processes of other users");
	close(pfd[0]);

	memset(&err, 0, sizeof(err));
	ok(et_procs_find(&m, &l, &err) == 0, "carrier: /proc is read (%s)", err.message);
	p = listed(&l, carrier);
	ok(p && !p->tied && p->ruid == 4242, "carrier: the process with gid %u among its groups is listed, outside",
	   (unsigned)gid);
	ok(listed(&l, exempt) && !listed(&l, other), "carrier: without an exempt callback the other carrier too; "
						     "not the process without the group");
	ok(l.n == 2, "carrier: nothing else carries it (%zu)", l.n);
	et_proc_list_free(&l);
	m.exempt = exempt_uid;
	m.data = &ex;
	ok(et_procs_find(&m, &l, &err) == 0 && listed(&l, carrier) && !listed(&l, exempt) && l.n == 1,
	   "carrier: an exempt real uid is not listed");
	et_proc_list_free(&l);
	ok(et_procs_end(&m, NULL, 300, &surv, &err) == 0 && surv.n == 0, "carrier: ended (%s)", err.message);
	ok(reap(carrier) == SIGTERM, "carrier: the carrier ended by SIGTERM");
	ok(!gone(exempt) && !gone(other), "carrier: the exempt one and the one without the group are untouched");
	kill(exempt, SIGKILL);
	kill(other, SIGKILL);
	reap(exempt);
	reap(other);
	et_proc_list_free(&surv);
}

int main(void)
{
	test_stat();
	test_status();
	test_cgroup();
	test_tty_path();
	test_tty_line();
	test_scan_fake();
	/* what is re-parented when its parent ends comes here, to be reaped */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		abort();
	test_end_tree();
	test_end_forking();
	test_end_terminal();
	if (geteuid() == 0)
		test_end_carrier();
	else if (getenv("CI") && strcmp(getenv("CI"), "true") == 0)
		ok(0, "the carrier tests need root and CI=true forbids skipping them");
	else
		ok(1, "carrier: processes of other users with the group # SKIP needs root");
	reap_all();
	return tap_done();
}
