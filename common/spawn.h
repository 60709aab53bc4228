/* SPDX-License-Identifier: Apache-2.0 */
/* Running a fixed program from inside a host process (sshd, sudo) or from the helper, the way
 * pam_unix runs unix_chkpwd: fork, fixed path, fixed argv, empty environment, fds 0-2 on
 * /dev/null, no other fd inherited, and reaping only our own child. */
#pragma once
#include <stddef.h>
#include "err.h"

/* Run path with argv (argv[0] included, NULL-terminated) and an empty environment; wait at
 * most timeout_ms (<= 0: no limit), then SIGKILL it. When the caller's effective uid is 0 the
 * child becomes root in full (real, effective and saved ids, no supplementary groups) before
 * exec, so that a setuid-root caller (sudo) hands the program a real uid of 0. SIGCHLD is set
 * to its default while waiting and restored afterwards, so a host handler cannot reap the
 * child first. ret_status gets the exit status (0-255).
 * Reasons: "spawn_failed" (fork, pipe), "exec_failed" (the program could not be started),
 * "timeout" (killed after timeout_ms), "killed" (ended by a signal). */
int et_spawn_wait(const char *path, const char *const argv[], int timeout_ms, int *ret_status,
		  struct et_err *err);
/* The same, with the program's standard output captured through a pipe instead of /dev/null:
 * at most out_size - 1 bytes go to out, always NUL-terminated (out_size >= 1); ret_len
 * (optional) gets their count (the output may hold NUL bytes of its own). Output beyond the
 * cap is read and dropped, so the program never blocks on a full pipe, and the call fails
 * with reason "output_too_long" once the program has ended. The timeout covers the output as
 * well: a program that keeps writing is killed at the deadline ("timeout"). After the
 * program exits, what it wrote is read and the pipe is left, even if a descendant still
 * holds it open. Other reasons as et_spawn_wait. */
int et_spawn_capture(const char *path, const char *const argv[], int timeout_ms, char *out, size_t out_size,
		     size_t *ret_len, int *ret_status, struct et_err *err);
/* Start path detached and do not wait for it: fork, a session of its own (setsid), fork
 * again, and the first child ends at once (reaped here), so the program is nobody's child in
 * the caller and outlives it. The program is set up as above (root in full when the caller's
 * euid is 0, fds 0-2 on /dev/null, nothing else inherited, empty environment, default
 * signals) and runs in "/". Returns once the program has been exec'd. Reasons:
 * "spawn_failed" (fork, pipe, setsid), "exec_failed" (the program could not be started). */
int et_spawn_detached(const char *path, const char *const argv[], struct et_err *err);

/* Every signal to its default disposition (SIGKILL and SIGSTOP aside) and none blocked: what
 * a program started by us, or a program that starts under a caller's settings, begins with. */
void et_signals_default(void);
