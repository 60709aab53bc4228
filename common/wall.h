/* SPDX-License-Identifier: Apache-2.0 */
/* One line to every terminal logged in on this host, as wall(1) does: the loud part of a
 * break-glass grant. */
#pragma once
#include "err.h"

/* Write line (made one printable line by et_text_sanitize, at most 512 bytes) between
 * "\r\n"s to each terminal of a USER_PROCESS entry in utmp_path (NULL: the system's utmp),
 * each terminal once. A terminal that cannot be opened or written without blocking is
 * skipped. ret_sent (optional): how many terminals got it. Returns 0, or -1 when the utmp
 * file cannot be read. */
int et_wall(const char *utmp_path, const char *line, unsigned *ret_sent, struct et_err *err);
