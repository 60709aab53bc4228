/* SPDX-License-Identifier: Apache-2.0 */
/* Group-membership edit latency, with /etc/group (and /etc/gshadow) of 100, 1 000 and 10 000
 * lines, in a private mount namespace whose /etc copy sits on the same file system as /tmp:
 *
 *   own      et_group_edit add + remove (lckpwdf, lock files, group+/gshadow+, fsync, rename)
 *   gpasswd  gpasswd -a + gpasswd -d under our store lock (the alternative design)
 *   grant    et_grant_create + et_grant_revoke: the whole operation (store writes included)
 *   memory   locating the line and rewriting the member list in memory (the linear part)
 *
 * The two edit methods alternate within one run so that they see the same disk. Prints p50
 * and p99 per size and the gpasswd/own ratio. Needs root. Usage: bench_group [ITERATIONS].
 * The copy of /etc goes to $TMPDIR (default /tmp): TMPDIR=/dev/shm measures without the disk. */
#include "grant_ops.h"
#include "grant_store.h"
#include "groupfile.h"
#include "spawn.h"
#include "grant_testenv.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define USER "benchuser"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[i];
}

/* Rewrite /etc/group and /etc/gshadow to exactly `lines` lines: the copied host lines, then
 * filler groups with a few members, then the elevated group. */
static void make_files(int lines, gid_t gid)
{
	char *g = gte_slurp("/etc/group"), *gs = gte_slurp("/etc/gshadow");
	FILE *fg = fopen("/etc/group.bench", "we"), *fgs = fopen("/etc/gshadow.bench", "we");
	int have = 0, n = 0;
	struct stat st;
	if (!g || !gs || !fg || !fgs) {
		fprintf(stderr, "bench_group: cannot prepare the group files\n");
		exit(1);
	}
	for (char *p = g; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (strncmp(p, GTE_GROUP ":", strlen(GTE_GROUP) + 1) == 0 || strncmp(p, "bench", 5) == 0)
			continue;
		if (have < lines / 2) {
			fprintf(fg, "%.*s\n", (int)len, p);
			have++;
		}
	}
	for (char *p = gs; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (strncmp(p, GTE_GROUP ":", strlen(GTE_GROUP) + 1) == 0 || strncmp(p, "bench", 5) == 0)
			continue;
		if (n < have) {
			fprintf(fgs, "%.*s\n", (int)len, p);
			n++;
		}
	}
	for (int i = have; i < lines - 1; i++) {
		fprintf(fg, "bench%05d:x:%d:u%da,u%db,u%dc\n", i, 200000 + i, i, i, i);
		fprintf(fgs, "bench%05d:!::u%da,u%db,u%dc\n", i, i, i, i);
	}
	fprintf(fg, "%s:x:%u:root\n", GTE_GROUP, (unsigned)gid);
	fprintf(fgs, "%s:!::root\n", GTE_GROUP);
	fclose(fg);
	fclose(fgs);
	if (stat("/etc/group", &st) == 0) {
		(void)!chown("/etc/group.bench", st.st_uid, st.st_gid);
		chmod("/etc/group.bench", st.st_mode & 07777);
	}
	if (stat("/etc/gshadow", &st) == 0) {
		(void)!chown("/etc/gshadow.bench", st.st_uid, st.st_gid);
		chmod("/etc/gshadow.bench", st.st_mode & 07777);
	}
	rename("/etc/group.bench", "/etc/group");
	rename("/etc/gshadow.bench", "/etc/gshadow");
	free(g);
	free(gs);
}

static int own_pair(void)
{
	struct et_strlist u = { 0 };
	struct et_member_edit add = { .add = &u }, rm = { .remove = &u };
	struct et_err err;
	int r;
	et_strlist_add(&u, USER);
	r = et_group_edit(GTE_GROUP, &add, NULL, &err) < 0 || et_group_edit(GTE_GROUP, &rm, NULL, &err) < 0 ? -1 : 0;
	if (r < 0)
		fprintf(stderr, "bench_group: own edit: %s\n", err.message);
	et_strlist_free(&u);
	return r;
}

static int gpasswd_pair(const struct et_config *cfg)
{
	const char *a[] = { "gpasswd", "-a", USER, GTE_GROUP, NULL }, *d[] = { "gpasswd", "-d", USER, GTE_GROUP, NULL };
	struct et_err err;
	int lock, s1 = -1, s2 = -1;
	if (et_grant_store_lock(cfg, 10000, &lock, &err) < 0)
		return -1;
	if (et_spawn_wait("/usr/sbin/gpasswd", a, 10000, &s1, &err) < 0 &&
	    et_spawn_wait("/usr/bin/gpasswd", a, 10000, &s1, &err) < 0)
		s1 = -1;
	if (s1 == 0 && et_spawn_wait("/usr/sbin/gpasswd", d, 10000, &s2, &err) < 0 &&
	    et_spawn_wait("/usr/bin/gpasswd", d, 10000, &s2, &err) < 0)
		s2 = -1;
	et_grant_store_unlock(lock);
	if (s1 != 0 || s2 != 0) {
		fprintf(stderr, "bench_group: gpasswd failed (%d, %d)\n", s1, s2);
		return -1;
	}
	return 0;
}

static int grant_pair(const struct et_config *cfg)
{
	struct et_grant_request req = { .user = USER, .duration = 600, .method = ET_GRANT_METHOD_ADMIN };
	struct et_grant g;
	struct et_err err;
	if (et_grant_create(cfg, &req, time(NULL), &g, &err) < 0 ||
	    et_grant_revoke(cfg, g.id, ET_REVOKE_ADMIN, (uid_t)-1, time(NULL), NULL, &err) < 0) {
		fprintf(stderr, "bench_group: grant+revoke: %s\n", err.message);
		return -1;
	}
	return 0;
}

static double memory_pass(void)
{
	char *buf = gte_slurp("/etc/group");
	struct et_strlist u = { 0 };
	struct et_member_edit add = { .add = &u };
	struct et_group_line ln;
	struct et_err err;
	double t0, best = 1e9;
	et_strlist_add(&u, USER);
	for (int i = 0; i < 50; i++) {
		char *out = NULL;
		t0 = now_ms();
		if (et_groupfile_find(buf, strlen(buf), GTE_GROUP, false, &ln, &err) == 0)
			et_members_apply(buf + ln.members_start, ln.members_end - ln.members_start, &add, &out, NULL, &err);
		t0 = now_ms() - t0;
		free(out);
		if (t0 < best)
			best = t0;
	}
	free(buf);
	et_strlist_free(&u);
	return best;
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 100, 1000, 10000 };
	int iters = argc > 1 ? atoi(argv[1]) : 200;
	double own_p50[3], mem[3];
	struct et_config cfg;
	char *state;
	gid_t gid;
	bool ok = true;

	if (geteuid() != 0) {
		fprintf(stderr, "bench_group: needs root (private mount namespace)\n");
		return 77;
	}
	if (iters < 10)
		iters = 10;
	gid = gte_enter(GTE_GROUP);
	gte_useradd(USER);
	state = gte_state_dir();
	gte_config(&cfg, GTE_GROUP, state);
	{
		struct stat st;
		if (stat("/usr/sbin/gpasswd", &st) < 0 && stat("/usr/bin/gpasswd", &st) < 0) {
			fprintf(stderr, "bench_group: gpasswd is not installed\n");
			return 77;
		}
	}
	{
		struct statfs sf;
		const char *fs = "unknown";
		if (statfs("/etc", &sf) == 0)
			fs = sf.f_type == TMPFS_MAGIC ? "tmpfs: no disk, CPU and page cache only"
			     : sf.f_type == EXT4_SUPER_MAGIC ? "ext4" : sf.f_type == XFS_SUPER_MAGIC ? "xfs" : "other";
		printf("group-edit latency, %d add+remove pairs per size (ms); the private /etc is on %s\n", iters, fs);
		printf("(set TMPDIR to choose where the copy of /etc goes; load average now: ");
		{
			char *la = gte_slurp("/proc/loadavg");
			printf("%.14s)\n", la ? la : "?");
			free(la);
		}
	}
	printf("%7s | %17s | %17s | %13s | %17s | %s\n", "lines", "own p50 / p99", "gpasswd p50 / p99",
	       "gpasswd/own", "grant+revoke", "in-memory edit");
	for (int s = 0; s < 3; s++) {
		double *own = calloc((size_t)iters, sizeof(double)), *gp = calloc((size_t)iters, sizeof(double)),
		       *gr = calloc((size_t)iters, sizeof(double));
		double o50, o99, g50, g99, r50, r99;
		struct stat st;
		make_files(sizes[s], gid);
		for (int w = 0; w < 5; w++) /* warm the caches */
			if (own_pair() < 0 || gpasswd_pair(&cfg) < 0 || grant_pair(&cfg) < 0)
				return 1;
		for (int i = 0; i < iters; i++) {
			double t0 = now_ms();
			if (own_pair() < 0)
				return 1;
			own[i] = now_ms() - t0;
			t0 = now_ms();
			if (gpasswd_pair(&cfg) < 0)
				return 1;
			gp[i] = now_ms() - t0;
			t0 = now_ms();
			if (grant_pair(&cfg) < 0)
				return 1;
			gr[i] = now_ms() - t0;
		}
		o50 = pct(own, iters, 0.5);
		o99 = pct(own, iters, 0.99);
		g50 = pct(gp, iters, 0.5);
		g99 = pct(gp, iters, 0.99);
		r50 = pct(gr, iters, 0.5);
		r99 = pct(gr, iters, 0.99);
		mem[s] = memory_pass();
		own_p50[s] = o50;
		stat("/etc/group", &st);
		printf("%7d | %7.2f / %7.2f | %7.2f / %7.2f | %12.1fx | %7.2f / %7.2f | %.3f ms (%lld KiB)\n", sizes[s], o50,
		       o99, g50, g99, g50 / o50, r50, r99, mem[s], (long long)st.st_size / 1024);
		fflush(stdout);
		if (sizes[s] == 10000 && o50 > 5.0)
			ok = false;
		free(own);
		free(gp);
		free(gr);
	}
	printf("in-memory cost 10 000 vs 1 000 lines: %.1fx (linear: ~10x); own p50 10 000 vs 100 lines: %.2fx\n",
	       mem[2] / (mem[1] > 0 ? mem[1] : 1e-9), own_p50[2] / own_p50[0]);
	printf("goal p50 <= 5 ms at 10 000 lines: %s\n", ok ? "met" : "NOT met");
	et_config_free(&cfg);
	return ok ? 0 : 1;
}
