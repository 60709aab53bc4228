/* SPDX-License-Identifier: Apache-2.0 */
/* The locks of a group-file edit, taken after lckpwdf(): shadow-utils' link-based
 * group.lock / gshadow.lock, with stale locks of dead (or reused) PIDs recognised and removed,
 * and the litter a killed editor can leave behind. */
#include "groupfile_private.h"
#include "clock.h"
#include "fsutil.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
int lock_file_take(int dfd, const char *base, struct et_err *err)
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

void lock_file_release(int dfd, const char *base)
{
	char lock[64];
	snprintf(lock, sizeof(lock), "%s.lock", base);
	(void)unlinkat(dfd, lock, 0);
}

/* Under the locks: what a killed editor (ours or shadow-utils') can leave behind. "name+" and
 * "name-+" are only ever written under the lock we hold; "name.PID" is a lock-in-progress whose
 * process is dead, holding nothing but its own PID. */
void remove_litter(int dfd)
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
