/* fork + execve with an empty environment, bounded wait on a pidfd, own child only. */
#include "spawn.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In the child, between fork and exec: only async-signal-safe calls. On failure the errno is
 * written to errfd (close-on-exec, so the parent reads EOF when exec succeeded). */
__attribute__((noreturn)) static void child_exec(const char *path, const char *const argv[], int errfd)
{
	static char *const empty_env[] = { NULL };
	/* execve's prototype predates const; it does not write to argv. */
	union {
		const char *const *in;
		char *const *out;
	} args = { .in = argv };
	struct sigaction dfl;
	sigset_t none;
	int e, fd;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	for (int i = 0; i <= 2; i++)
		if (dup2(fd, i) < 0) /* dup2 clears close-on-exec on the copy */
			goto fail;
	if (fd > 2)
		close(fd);
	/* Nothing of the host process leaks into the program; errfd is close-on-exec already. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int i = 3; i < 1024; i++)
			if (i != errfd)
				(void)fcntl(i, F_SETFD, FD_CLOEXEC);
	}
	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			goto fail;
	}
	execve(path, args.out, empty_env);
fail:
	e = errno;
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

static int reap(pid_t pid, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, 0);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int et_spawn_wait(const char *path, const char *const argv[], int timeout_ms, int *ret_status,
		  struct et_err *err)
{
	struct sigaction dfl, old_chld;
	int pipefd[2] = { -1, -1 };
	int pidfd = -1, status = 0, child_errno = 0, r = -1;
	bool timed_out = false;
	ssize_t n;
	pid_t pid;

	if (!path || path[0] != '/' || !argv || !argv[0])
		return et_err_set(err, "spawn_failed", "a program to run needs an absolute path and argv[0]");

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, &old_chld) < 0)
		return et_err_set(err, "spawn_failed", "cannot set SIGCHLD: %s", strerror(errno));
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		et_err_set(err, "spawn_failed", "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		et_err_set(err, "spawn_failed", "cannot fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(pipefd[0]);
		child_exec(path, argv, pipefd[1]);
	}
	close(pipefd[1]);
	pipefd[1] = -1;

	do
		n = read(pipefd[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(child_errno)) {
		(void)reap(pid, &status);
		et_err_set(err, "exec_failed", "cannot run %s: %s", path, strerror(child_errno));
		goto out;
	}

	if (timeout_ms > 0) {
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd >= 0) {
			long long deadline = monotonic_ms() + timeout_ms;
			for (;;) {
				struct pollfd p = { .fd = pidfd, .events = POLLIN };
				long long left = deadline - monotonic_ms();
				int pr;
				if (left <= 0) {
					timed_out = true;
					break;
				}
				pr = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
				if (pr > 0)
					break;
				if (pr < 0 && errno != EINTR)
					break; /* fall back to a plain wait */
			}
			if (timed_out)
				(void)kill(pid, SIGKILL);
		}
	}
	if (reap(pid, &status) < 0) {
		et_err_set(err, "spawn_failed", "cannot wait for %s: %s", path, strerror(errno));
		goto out;
	}
	if (timed_out) {
		et_err_set(err, "timeout", "%s did not finish within %d ms and was killed", path, timeout_ms);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		et_err_set(err, "killed", "%s was ended by signal %d", path, WTERMSIG(status));
		goto out;
	}
	*ret_status = WEXITSTATUS(status);
	r = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	(void)sigaction(SIGCHLD, &old_chld, NULL);
	return r;
}
