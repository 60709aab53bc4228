/* SPDX-License-Identifier: Apache-2.0 */
/* A library that must never be loaded into the setuid helper: when it is, its constructor
 * leaves a marker file (path from ET_PRELOAD_MARKER) that the hardening test looks for. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void helper_preload_marker(void)
{
	const char *path = getenv("ET_PRELOAD_MARKER");
	if (path) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			(void)!write(fd, "loaded\n", 7);
			close(fd);
		}
	}
}
