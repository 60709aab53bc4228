/* SPDX-License-Identifier: Apache-2.0 */
/* One line to every terminal logged in on this host, as wall(1) does: the loud part of a
 * break-glass grant; and one line to one terminal: the word to a session a grant's end
 * closes. */
#pragma once
#include <stddef.h>
#include <sys/types.h>
#include "err.h"

/* Write line (made one printable line by et_text_sanitize, at most 512 bytes) between
 * "\r\n"s to each terminal of a USER_PROCESS entry in utmp_path (NULL: the system's utmp),
 * each terminal once. A terminal that cannot be opened or written without blocking is
 * skipped. ret_sent (optional): how many terminals got it. Returns 0, or -1 when the utmp
 * file cannot be read. */
int et_wall(const char *utmp_path, const char *line, unsigned *ret_sent, struct et_err *err);

/* Write line (made one printable line by et_text_sanitize, at most 512 bytes) between
 * "\r\n"s to the terminal dev_path: a path under /dev/ of printable ASCII without "..",
 * opened O_WRONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW, that must be a character device.
 * Returns 0, or -1 when the path is refused or the terminal cannot be opened or written
 * without blocking. */
int et_tty_line(const char *dev_path, const char *line);

/* The path of the terminal numbered tty (struct et_proc's tty, procs.h) into buf (size
 * bytes): a pty slave (majors 136 to 143) /dev/pts/N, a virtual console (4, minor below 64)
 * /dev/ttyN, a serial line (4, minor 64 and above) /dev/ttyS(N-64). Only the number is
 * looked at, not the file system. Returns 0, or -1 for 0, for /dev/tty and /dev/console
 * (5:0, 5:1, which stand for another terminal), for any other number and when buf is too
 * small (buf then ""). */
int et_tty_path(dev_t tty, char *buf, size_t size);
