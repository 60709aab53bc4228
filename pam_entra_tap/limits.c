/* SPDX-License-Identifier: Apache-2.0 */
/* Per-user state that outlives one PAM call (every sshd login is a new process): the TAP
 * lockout, the one-outstanding-device-flow marker and the device sign-in rate limits.
 *
 * A user's budgets are kept per origin (BUDGET below: "USER.local" for a sign-in without a
 * remote address — a local terminal, su, sudo, elevate — and "USER.hHEX" per remote address):
 * what others spend from elsewhere (failed passes, device sign-ins started for her name over
 * sshd) never locks a person out at her own terminal, and one address cannot block her from
 * another. Each address stays bounded on its own (device_code_max_per_rhost).
 *
 *   {state_dir}/faillock/BUDGET        "failures N\nuntil T\n"
 *   {state_dir}/device-flow/BUDGET     "pid P\nexpires T\n"
 *   {state_dir}/ratelimit/user-BUDGET  one start time per line (sliding window)
 *   {state_dir}/ratelimit/host-HEX     the same per remote address (hex of the text); a
 *                                      file whose window is empty is removed by the next
 *                                      sign-in that looks (any number of addresses leaves
 *                                      no more files than the window holds attempts)
 *
 * Every file is root-only (0600 in 0700 directories), opened with O_NOFOLLOW, read and
 * rewritten under flock, and bounded in size: a corrupt file is treated as empty. */
#include "module.h"
#include "fsutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_FILE_MAX 8192
#define RATE_MAX_ENTRIES 1024
#define RATE_SWEEP_MAX 4096 /* directory entries looked at per sweep */

/* Open (creating) {state_dir}/sub/name locked exclusively. */
static int state_open(const struct et_config *cfg, const char *sub, const char *name, int *ret_fd,
		      struct et_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct stat st;
	int fd;

	if (!et_path_component_ok(name))
		return et_err_set(err, ET_E_BAD_USER, "'%.64s' cannot name a state file", name);
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", cfg->state_dir, sub) >= sizeof(dir) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "the state path for %.64s is too long", name);
	if (et_dir_ensure_private(cfg->state_dir, 0700, err) < 0 || et_dir_ensure_private(dir, 0700, err) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return et_err_set(err, ET_E_STATE_WRITE, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
		close(fd);
		return et_err_set(err, ET_E_STATE_DIR, "%s is not a private regular file", path);
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return et_err_set(err, ET_E_STATE_WRITE, "cannot lock %s: %s", path, strerror(errno));
		}
	}
	*ret_fd = fd;
	return 0;
}

static ssize_t state_read(int fd, char *buf, size_t size)
{
	ssize_t got;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	got = et_read_all(fd, buf, size - 1);
	if (got < 0)
		return -1;
	buf[got] = '\0';
	return got;
}

static int state_rewrite(int fd, const char *text, struct et_err *err)
{
	size_t len = strlen(text);
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return et_err_set(err, ET_E_STATE_WRITE, "cannot rewrite a state file: %s", strerror(errno));
	if (et_write_all(fd, text, len) < 0)
		return et_err_set(err, ET_E_STATE_WRITE, "cannot write a state file: %s", strerror(errno));
	return 0;
}

static long long field(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);
	while (p && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ') {
			char *end;
			long long v;
			errno = 0;
			v = strtoll(p + n + 1, &end, 10);
			if (errno == 0 && (*end == '\n' || *end == '\0') && v >= 0)
				return v;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return 0;
}

/* The state file name of a user's budget from an origin (see the top of the file): the
 * address as hex, so that any rhost makes a safe name; a long one is cut. */
#define BUDGET_MAX (ET_GRANT_NAME_MAX + 3 + 2 * 64)
static void budget_name(const char *user, const char *rhost, char *name, size_t size)
{
	size_t n;
	if (!rhost || !*rhost) {
		snprintf(name, size, "%s.local", user);
		return;
	}
	n = (size_t)snprintf(name, size, "%s.h", user);
	for (const unsigned char *p = (const unsigned char *)rhost; *p && n + 3 < size; p++)
		n += (size_t)snprintf(name + n, size - n, "%02x", *p);
}

/* ---- TAP lockout ---- */

int et_lock_check(const struct et_config *cfg, const char *user, const char *rhost, time_t now, time_t *ret_until,
		  struct et_err *err)
{
	char buf[STATE_FILE_MAX], name[BUDGET_MAX + 1];
	long long until;
	int fd;
	budget_name(user, rhost, name, sizeof(name));
	if (state_open(cfg, "faillock", name, &fd, err) < 0)
		return -1;
	if (state_read(fd, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	close(fd);
	until = field(buf, "until");
	*ret_until = until > (long long)now ? (time_t)until : 0;
	return 0;
}

int et_lock_fail(const struct et_config *cfg, const char *user, const char *rhost, time_t now, unsigned *ret_failures,
		 time_t *ret_until, struct et_err *err)
{
	char buf[STATE_FILE_MAX], name[BUDGET_MAX + 1];
	long long failures, until;
	int fd, r;
	budget_name(user, rhost, name, sizeof(name));
	if (state_open(cfg, "faillock", name, &fd, err) < 0)
		return -1;
	if (state_read(fd, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	failures = field(buf, "failures");
	until = field(buf, "until");
	if (until && until <= (long long)now) /* a lockout that ended starts a new count */
		failures = 0;
	until = 0;
	if (failures < LONG_MAX)
		failures++;
	if (failures >= cfg->tap_max_failures) {
		until = (long long)now + cfg->tap_lockout;
		failures = 0;
	}
	snprintf(buf, sizeof(buf), "failures %lld\nuntil %lld\n", failures, until);
	r = state_rewrite(fd, buf, err);
	close(fd);
	if (r < 0)
		return -1;
	*ret_failures = (unsigned)failures;
	*ret_until = (time_t)until;
	return 0;
}

int et_lock_reset(const struct et_config *cfg, const char *user, const char *rhost, struct et_err *err)
{
	char buf[STATE_FILE_MAX], name[BUDGET_MAX + 1];
	int fd, r = 0;
	budget_name(user, rhost, name, sizeof(name));
	if (state_open(cfg, "faillock", name, &fd, err) < 0)
		return -1;
	/* most sign-ins follow no failure: leave a clean record alone */
	if (state_read(fd, buf, sizeof(buf)) < 0 || field(buf, "failures") != 0 || field(buf, "until") != 0)
		r = state_rewrite(fd, "failures 0\nuntil 0\n", err);
	close(fd);
	return r;
}

/* ---- one outstanding device flow per user ---- */

static bool pid_alive(long long pid)
{
	if (pid <= 0 || pid > INT_MAX)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int et_flow_begin(const struct et_config *cfg, const char *user, const char *rhost, time_t expires,
		  struct et_err *err)
{
	char buf[STATE_FILE_MAX], name[BUDGET_MAX + 1];
	long long pid, until;
	int fd, r;
	budget_name(user, rhost, name, sizeof(name));
	if (state_open(cfg, "device-flow", name, &fd, err) < 0)
		return -1;
	if (state_read(fd, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	pid = field(buf, "pid");
	until = field(buf, "expires");
	if (pid && pid != getpid() && pid_alive(pid) && until > (long long)time(NULL)) {
		close(fd);
		return et_err_set(err, ET_E_FLOW_BUSY, "Another sign-in with a code for %s is in progress; finish or cancel it first.",
				  user);
	}
	snprintf(buf, sizeof(buf), "pid %lld\nexpires %lld\n", (long long)getpid(), (long long)expires);
	r = state_rewrite(fd, buf, err);
	close(fd);
	return r;
}

void et_flow_end(const struct et_config *cfg, const char *user, const char *rhost)
{
	char buf[STATE_FILE_MAX], name[BUDGET_MAX + 1];
	struct et_err err;
	int fd;
	budget_name(user, rhost, name, sizeof(name));
	if (state_open(cfg, "device-flow", name, &fd, &err) < 0)
		return;
	if (state_read(fd, buf, sizeof(buf)) >= 0 && field(buf, "pid") == (long long)getpid())
		(void)state_rewrite(fd, "", &err);
	close(fd);
}

/* ---- rate limits ---- */

/* Keep the entries of the window, refuse when max are left, else add now (unless peek: then
 * nothing is spent). */
static int rate_window(const struct et_config *cfg, const char *name, long max, time_t now, bool peek, bool *ret_ok,
		       struct et_err *err)
{
	char buf[STATE_FILE_MAX], out[STATE_FILE_MAX];
	size_t used = 0;
	long kept = 0;
	int fd, r;
	char *save = NULL;

	if (state_open(cfg, "ratelimit", name, &fd, err) < 0)
		return -1;
	if (state_read(fd, buf, sizeof(buf)) < 0)
		buf[0] = '\0';
	out[0] = '\0';
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end;
		long long t;
		errno = 0;
		t = strtoll(line, &end, 10);
		if (errno || *end || t <= (long long)now - cfg->device_code_rate_window || t > (long long)now + 60)
			continue;
		if (kept >= RATE_MAX_ENTRIES || used + 24 >= sizeof(out))
			break;
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%lld\n", t);
		kept++;
	}
	*ret_ok = kept < max;
	if (*ret_ok && !peek && used + 24 < sizeof(out))
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%lld\n", (long long)now);
	r = state_rewrite(fd, out, err);
	close(fd);
	return r;
}

/* Remove the per-address files whose window holds nothing any more (each under its lock,
 * emptied first so that a sign-in holding it open meanwhile starts afresh). Bounded. */
static void rate_sweep(const struct et_config *cfg, time_t now)
{
	char dir[PATH_MAX];
	struct dirent *de;
	unsigned seen = 0;
	DIR *d;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/ratelimit", cfg->state_dir) >= sizeof(dir))
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) && seen++ < RATE_SWEEP_MAX) {
		char buf[STATE_FILE_MAX], path[PATH_MAX], *save = NULL;
		struct et_err err;
		bool live = false;
		int fd;
		if (strncmp(de->d_name, "host-", 5) != 0 ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path) ||
		    state_open(cfg, "ratelimit", de->d_name, &fd, &err) < 0)
			continue;
		if (state_read(fd, buf, sizeof(buf)) < 0)
			buf[0] = '\0';
		for (char *line = strtok_r(buf, "\n", &save); line && !live; line = strtok_r(NULL, "\n", &save)) {
			char *end;
			long long t;
			errno = 0;
			t = strtoll(line, &end, 10);
			live = !errno && !*end && t > (long long)now - cfg->device_code_rate_window &&
			       t <= (long long)now + 60;
		}
		if (!live)
			(void)unlink(path);
		close(fd);
	}
	closedir(d);
}

static void host_name(const char *rhost, char *name, size_t size)
{
	size_t n = (size_t)snprintf(name, size, "host-");
	/* hex of the address text: any rhost becomes a safe file name; long ones are cut */
	for (const unsigned char *p = (const unsigned char *)rhost; *p && n + 3 < size; p++)
		n += (size_t)snprintf(name + n, size - n, "%02x", *p);
}

int et_rate_take(const struct et_config *cfg, const char *user, const char *rhost, time_t now, struct et_err *err)
{
	char name[8 + BUDGET_MAX + 1], budget[BUDGET_MAX + 1], host[8 + 2 * 64 + 1];
	bool ok, have_host = rhost && *rhost;

	if (have_host) {
		rate_sweep(cfg, now);
		host_name(rhost, host, sizeof(host));
		/* the address first, without spending: an attempt its address may not make spends
		 * nothing of the user's budget */
		if (rate_window(cfg, host, cfg->device_code_max_per_rhost, now, true, &ok, err) < 0)
			return -1;
		if (!ok)
			return et_err_set(err, ET_E_RATE_LIMITED,
					  "Too many sign-ins with a code from %.64s recently (at most %ld in %ld minutes); try again later.",
					  rhost, cfg->device_code_max_per_rhost, cfg->device_code_rate_window / 60);
	}
	if (user) {
		budget_name(user, rhost, budget, sizeof(budget));
		snprintf(name, sizeof(name), "user-%s", budget);
		if (rate_window(cfg, name, cfg->device_code_max_per_user, now, false, &ok, err) < 0)
			return -1;
		if (!ok)
			return et_err_set(err, ET_E_RATE_LIMITED,
					  "Too many sign-ins with a code for %s recently (at most %ld in %ld minutes); try again later.",
					  user, cfg->device_code_max_per_user, cfg->device_code_rate_window / 60);
	}
	if (have_host) {
		if (rate_window(cfg, host, cfg->device_code_max_per_rhost, now, false, &ok, err) < 0)
			return -1;
		if (!ok)
			return et_err_set(err, ET_E_RATE_LIMITED,
					  "Too many sign-ins with a code from %.64s recently (at most %ld in %ld minutes); try again later.",
					  rhost, cfg->device_code_max_per_rhost, cfg->device_code_rate_window / 60);
	}
	return 0;
}
