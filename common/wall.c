/* SPDX-License-Identifier: Apache-2.0 */
/* wall-like broadcast and one line to one terminal (wall.h). Terminals are opened
 * non-blocking and without becoming a controlling terminal, by a name that must stay under
 * /dev: taken from utmp, or made from a process's terminal number. */
#include "wall.h"
#include "text.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <utmpx.h>

#define WALL_LINE_MAX 512
#define WALL_TTYS_MAX 256

static int tty_line_ok(const char *line)
{
	if (!line[0] || line[0] == '/' || strstr(line, ".."))
		return 0;
	for (const char *p = line; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return 0;
	return 1;
}

int et_tty_line(const char *dev_path, const char *line)
{
	char text[WALL_LINE_MAX + 1], msg[WALL_LINE_MAX + 8];
	struct stat st;
	size_t len;
	int fd, r = -1;

	if (!dev_path || strncmp(dev_path, "/dev/", 5) != 0 || !tty_line_ok(dev_path + 5))
		return -1;
	et_text_sanitize(line, text, sizeof(text));
	len = (size_t)snprintf(msg, sizeof(msg), "\r\n%s\r\n", text);
	fd = open(dev_path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && write(fd, msg, len) == (ssize_t)len)
		r = 0;
	close(fd);
	return r;
}

int et_tty_path(dev_t tty, char *buf, size_t size)
{
	unsigned maj = major(tty), min = minor(tty);
	int n;

	if (!buf || size == 0)
		return -1;
	buf[0] = '\0';
	/* Unix98 pty slaves: major 136 holds them all on Linux today (the minor is the number);
	 * 137 to 143 are the older split of 256 each */
	if (maj == 136)
		n = snprintf(buf, size, "/dev/pts/%u", min);
	else if (maj > 136 && maj <= 143 && min < 256)
		n = snprintf(buf, size, "/dev/pts/%u", (maj - 136) * 256 + min);
	else if (maj == 4 && min < 64)
		n = snprintf(buf, size, "/dev/tty%u", min);
	else if (maj == 4 && min < 256)
		n = snprintf(buf, size, "/dev/ttyS%u", min - 64);
	else /* 5:0 (/dev/tty) and 5:1 (/dev/console) stand for another terminal; nothing else is known */
		return -1;
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

int et_wall(const char *utmp_path, const char *line, unsigned *ret_sent, struct et_err *err)
{
	char seen[WALL_TTYS_MAX][sizeof(((struct utmpx *)0)->ut_line) + 1];
	size_t n_seen = 0;
	unsigned sent = 0;
	struct utmpx *u;

	if (ret_sent)
		*ret_sent = 0;
	if (utmp_path) {
		if (access(utmp_path, R_OK) < 0)
			return et_err_set(err, ET_E_READ_FAILED, "cannot read %s: %s", utmp_path, strerror(errno));
		if (utmpxname(utmp_path) < 0)
			return et_err_set(err, ET_E_READ_FAILED, "cannot use %s", utmp_path);
	}
	setutxent();
	while ((u = getutxent()) && n_seen < WALL_TTYS_MAX) {
		char name[sizeof(u->ut_line) + 1], path[PATH_MAX];
		int dup = 0;

		if (u->ut_type != USER_PROCESS)
			continue;
		memcpy(name, u->ut_line, sizeof(u->ut_line));
		name[sizeof(u->ut_line)] = '\0';
		if (!tty_line_ok(name))
			continue;
		for (size_t i = 0; i < n_seen && !dup; i++)
			dup = strcmp(seen[i], name) == 0;
		if (dup)
			continue;
		memcpy(seen[n_seen++], name, sizeof(name));
		snprintf(path, sizeof(path), "/dev/%s", name);
		if (et_tty_line(path, line) == 0)
			sent++;
	}
	endutxent();
	if (utmp_path)
		(void)utmpxname(_PATH_UTMPX);
	if (ret_sent)
		*ret_sent = sent;
	return 0;
}
