/* SPDX-License-Identifier: Apache-2.0 */
/* helper_argv0 PROGRAM: run PROGRAM with an empty argv (argc 0) and an empty environment, and
 * exit with its exit status (128+N when killed by signal N). Linux 5.18 and later turn an
 * empty argv into { "" }: the helper must refuse both. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *const empty[] = { NULL };
	int status;
	pid_t pid;
	if (argc != 2) {
		fprintf(stderr, "usage: helper_argv0 PROGRAM\n");
		return 2;
	}
	pid = fork();
	if (pid < 0)
		return 125;
	if (pid == 0) {
		execve(argv[1], empty, empty);
		perror("execve");
		_exit(126);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 125;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
