/* SPDX-License-Identifier: Apache-2.0 */
/* Flushing the group caches of nscd and sssd after an edit, when those daemons run. */
#include "groupfile.h"
#include "spawn.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CACHE_FLUSH_TIMEOUT_MS 10000

const struct et_cache_paths et_cache_paths_default = {
	.nscd_socket = "/run/nscd/socket",
	.nscd = "/usr/sbin/nscd",
	.sssd_pidfile = "/run/sssd.pid",
	.sss_cache = "/usr/sbin/sss_cache",
};

static bool socket_accepts(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	bool ok;
	int fd;
	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static bool pidfile_alive(const char *path)
{
	char text[32];
	long pid = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return false;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return false;
	text[n] = '\0';
	for (char *p = text; *p && *p != '\n'; p++) {
		if (*p < '0' || *p > '9' || pid > INT32_MAX / 10)
			return false;
		pid = pid * 10 + (*p - '0');
	}
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* 1 when the program ran and succeeded, 0 when it is not installed, -1 on failure. */
static int run_flush(const char *prog, const char *const argv[], struct et_err *err)
{
	int status;
	if (access(prog, X_OK) < 0)
		return 0;
	if (et_spawn_wait(prog, argv, CACHE_FLUSH_TIMEOUT_MS, &status, err) < 0)
		return -1;
	if (status != 0)
		return et_err_set(err, ET_E_CACHE_FLUSH_FAILED, "%s %s exited with status %d", prog, argv[1], status);
	return 1;
}

int et_group_cache_flush(const struct et_cache_paths *paths, unsigned *ret_flushed, struct et_err *err)
{
	unsigned flushed = 0;
	int r = 0, ran;
	if (paths->nscd_socket && paths->nscd && socket_accepts(paths->nscd_socket)) {
		const char *const argv[] = { "nscd", "-i", "group", NULL };
		ran = run_flush(paths->nscd, argv, err);
		if (ran < 0)
			r = -1;
		else if (ran > 0)
			flushed |= 1u;
	}
	if (paths->sssd_pidfile && paths->sss_cache && pidfile_alive(paths->sssd_pidfile)) {
		const char *const argv[] = { "sss_cache", "-G", NULL };
		ran = run_flush(paths->sss_cache, argv, err);
		if (ran < 0)
			r = -1;
		else if (ran > 0)
			flushed |= 2u;
	}
	if (ret_flushed)
		*ret_flushed = flushed;
	return r;
}
