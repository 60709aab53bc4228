/* SPDX-License-Identifier: Apache-2.0 */
/* helper_killer [-g] DELAY_US PROGRAM ARGS...: start PROGRAM (empty environment, output to
 * /dev/null), SIGKILL it after DELAY_US microseconds, and print "killed" when the kill landed
 * or "exited N" when PROGRAM had finished first. With -g, PROGRAM leads a process group of
 * its own and the whole group is killed, as a Ctrl-C at a terminal reaches every process of
 * the foreground group. Used to cut grants, revokes and sign-ins short at random instants. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char *const env[] = { NULL };
	struct timespec ts;
	long delay;
	int status, group = 0;
	pid_t pid;

	if (argc > 1 && strcmp(argv[1], "-g") == 0) {
		group = 1;
		argc--;
		argv++;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: helper_killer [-g] DELAY_US PROGRAM ARGS...\n");
		return 2;
	}
	delay = strtol(argv[1], NULL, 10);
	pid = fork();
	if (pid < 0)
		return 125;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);
		if (group)
			(void)setpgid(0, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execve(argv[2], argv + 2, env);
		_exit(126);
	}
	ts.tv_sec = delay / 1000000;
	ts.tv_nsec = (delay % 1000000) * 1000;
	nanosleep(&ts, NULL);
	if (group) {
		(void)setpgid(pid, pid); /* the child may not have run yet */
		kill(-pid, SIGKILL);
	} else {
		kill(pid, SIGKILL);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 125;
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		printf("killed\n");
	else
		printf("exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
