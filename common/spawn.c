/* SPDX-License-Identifier: Apache-2.0 */
/* fork + execve with an empty environment, bounded wait on a pidfd, own child only; optionally
 * the program's standard output through a pipe, capped. */
#include "spawn.h"
#include "clock.h"
#include "fsutil.h"
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

void et_signals_default(void)
{
	struct sigaction dfl;
	sigset_t none;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child, between fork and exec: only async-signal-safe calls. On failure the errno is
 * written to errfd (close-on-exec, so the parent reads EOF when exec succeeded). detached: the
 * program keeps no directory of the host busy (working directory "/"). */
__attribute__((noreturn)) static void child_exec(const char *path, const char *const argv[], int outfd, int errfd,
						 bool detached)
{
	static char *const empty_env[] = { NULL };
	/* execve's prototype predates const; it does not write to argv. */
	union {
		const char *const *in;
		char *const *out;
	} args = { .in = argv };
	int e, fd;

	et_signals_default();

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	for (int i = 0; i <= 2; i++)
		if (dup2(fd, i) < 0) /* dup2 clears close-on-exec on the copy */
			goto fail;
	if (fd > 2)
		close(fd);
	/* outfd and errfd are above 2 (move_above_stdio), so the dup2 calls above left them alone */
	if (outfd >= 0 && dup2(outfd, 1) < 0)
		goto fail;
	/* Nothing of the host process leaks into the program; errfd is close-on-exec already. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int i = 3; i < 1024; i++)
			if (i != errfd)
				(void)fcntl(i, F_SETFD, FD_CLOEXEC);
	}
	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
			goto fail;
		/* a session of its own: a Ctrl-C at the caller's terminal reaches the caller's whole
		 * foreground process group, and must not cut a root step short (the caller still
		 * ends it at its deadline). detached: the middle process made the session. */
		if (!detached)
			(void)setsid();
	}
	if (detached && chdir("/") < 0)
		goto fail;
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

/* A host process may run with fds 0-2 closed; a pipe end that landed there would be replaced
 * by /dev/null in the child. Move it to 3 or above (close-on-exec). */
static int move_above_stdio(int *fd)
{
	int n;
	if (*fd > 2)
		return 0;
	n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (n < 0)
		return -1;
	close(*fd);
	*fd = n;
	return 0;
}

struct capture {
	char *buf;
	size_t size; /* buf's size: at most size - 1 bytes are kept, then a NUL */
	size_t len;
	bool overflow;
	bool eof;
};

/* Read what is there now; the descriptor is non-blocking. Bytes beyond the cap are read and
 * dropped, so that a talkative program never blocks on a full pipe. */
static void capture_read(struct capture *c, int fd)
{
	char scratch[512];
	for (;;) {
		size_t room = c->size - 1 - c->len;
		char *dst = room ? c->buf + c->len : scratch;
		size_t want = room ? room : sizeof(scratch);
		ssize_t n = read(fd, dst, want);
		if (n > 0) {
			if (room)
				c->len += (size_t)n;
			else
				c->overflow = true;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			c->eof = true;
		return;
	}
}

/* Wait for the child to end (and, when capturing, for its output) until the deadline. Returns
 * true when the deadline passed. Without a pidfd (old kernels) the wait for the exit itself
 * is left to reap(). */
static bool wait_child(pid_t pid, int timeout_ms, struct capture *cap, int outfd)
{
	long long deadline = timeout_ms > 0 ? et_mono_ms() + timeout_ms : 0;
	bool exited = false, timed_out = false;
	int pidfd = -1;

	if (timeout_ms <= 0 && !cap)
		return false;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	for (;;) {
		struct pollfd p[2];
		nfds_t n = 0;
		int wait_ms = -1, pr;
		if (cap && !cap->eof)
			p[n++] = (struct pollfd){ .fd = outfd, .events = POLLIN };
		if (pidfd >= 0 && !exited)
			p[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (n == 0 || (pidfd < 0 && !cap) || (exited && (!cap || cap->eof)))
			break;
		if (deadline) {
			long long left = deadline - et_mono_ms();
			if (left <= 0) {
				timed_out = true;
				break;
			}
			wait_ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		pr = poll(p, n, wait_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			break; /* fall back to a plain wait */
		for (nfds_t i = 0; i < n; i++) {
			if (!p[i].revents)
				continue;
			if (cap && p[i].fd == outfd)
				capture_read(cap, outfd);
			else if (p[i].fd == pidfd)
				exited = true;
		}
		if (exited && cap && !cap->eof) {
			/* Everything the program wrote is in the pipe now (it could not have exited while
			 * blocked on a full one). A descendant may hold the write end open: take what is
			 * there and stop reading. */
			capture_read(cap, outfd);
			cap->eof = true;
		}
	}
	if (timed_out)
		(void)kill(pid, SIGKILL);
	if (pidfd >= 0)
		close(pidfd);
	return timed_out;
}

/* What every start begins with: SIGCHLD at its default while we wait (a host handler must
 * not reap our child first; old_chld restores it) and the close-on-exec pipe on which the
 * child reports a failed exec. On failure nothing is left changed. */
static int spawn_begin(struct sigaction *old_chld, int pipefd[2], struct et_err *err)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, old_chld) < 0)
		return et_err_set(err, ET_E_SPAWN_FAILED, "cannot set SIGCHLD: %s", strerror(errno));
	if (pipe2(pipefd, O_CLOEXEC) < 0 || move_above_stdio(&pipefd[0]) < 0 || move_above_stdio(&pipefd[1]) < 0) {
		int e = errno;
		for (int i = 0; i < 2; i++)
			if (pipefd[i] >= 0) {
				close(pipefd[i]);
				pipefd[i] = -1;
			}
		(void)sigaction(SIGCHLD, old_chld, NULL);
		return et_err_set(err, ET_E_SPAWN_FAILED, "cannot create a pipe: %s", strerror(e));
	}
	return 0;
}

static int spawn_run(const char *path, const char *const argv[], int timeout_ms, struct capture *cap,
		     int *ret_status, struct et_err *err)
{
	struct sigaction old_chld;
	int pipefd[2] = { -1, -1 }, outpipe[2] = { -1, -1 };
	int status = 0, child_errno = 0, r = -1;
	bool timed_out;
	ssize_t n;
	pid_t pid;

	if (!path || path[0] != '/' || !argv || !argv[0])
		return et_err_set(err, ET_E_SPAWN_FAILED, "a program to run needs an absolute path and argv[0]");
	if (cap && (!cap->buf || cap->size == 0))
		return et_err_set(err, ET_E_SPAWN_FAILED, "an output buffer needs room for at least the final NUL");
	if (spawn_begin(&old_chld, pipefd, err) < 0)
		return -1;
	if (cap && (pipe2(outpipe, O_CLOEXEC) < 0 || move_above_stdio(&outpipe[0]) < 0 ||
		    move_above_stdio(&outpipe[1]) < 0 || fcntl(outpipe[0], F_SETFL, O_NONBLOCK) < 0)) {
		et_err_set(err, ET_E_SPAWN_FAILED, "cannot create a pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		et_err_set(err, ET_E_SPAWN_FAILED, "cannot fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		close(pipefd[0]);
		if (outpipe[0] >= 0)
			close(outpipe[0]);
		child_exec(path, argv, outpipe[1], pipefd[1], false);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	if (outpipe[1] >= 0) {
		close(outpipe[1]); /* the child's copy is the only write end: EOF when it is done */
		outpipe[1] = -1;
	}

	n = et_read_all(pipefd[0], &child_errno, sizeof(child_errno));
	if (n == (ssize_t)sizeof(child_errno)) {
		(void)reap(pid, &status);
		et_err_set(err, ET_E_EXEC_FAILED, "cannot run %s: %s", path, strerror(child_errno));
		goto out;
	}

	if (cap) {
		cap->len = 0;
		cap->overflow = false;
		cap->eof = false;
	}
	timed_out = wait_child(pid, timeout_ms, cap, outpipe[0]);
	if (reap(pid, &status) < 0) {
		et_err_set(err, ET_E_SPAWN_FAILED, "cannot wait for %s: %s", path, strerror(errno));
		goto out;
	}
	if (cap)
		cap->buf[cap->len] = '\0';
	if (timed_out) {
		et_err_set(err, ET_E_TIMEOUT, "%s did not finish within %d ms and was killed", path, timeout_ms);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		et_err_set(err, ET_E_KILLED, "%s was ended by signal %d", path, WTERMSIG(status));
		goto out;
	}
	if (cap && cap->overflow) {
		et_err_set(err, ET_E_OUTPUT_TOO_LONG, "%s wrote more than %zu bytes to its standard output", path,
			   cap->size - 1);
		goto out;
	}
	*ret_status = WEXITSTATUS(status);
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (pipefd[i] >= 0)
			close(pipefd[i]);
		if (outpipe[i] >= 0)
			close(outpipe[i]);
	}
	(void)sigaction(SIGCHLD, &old_chld, NULL);
	return r;
}

int et_spawn_wait(const char *path, const char *const argv[], int timeout_ms, int *ret_status,
		  struct et_err *err)
{
	return spawn_run(path, argv, timeout_ms, NULL, ret_status, err);
}

int et_spawn_capture(const char *path, const char *const argv[], int timeout_ms, char *out, size_t out_size,
		     size_t *ret_len, int *ret_status, struct et_err *err)
{
	struct capture cap = { .buf = out, .size = out_size };
	int status = -1;
	if (spawn_run(path, argv, timeout_ms, &cap, &status, err) < 0)
		return -1;
	if (ret_len)
		*ret_len = cap.len;
	*ret_status = status;
	return 0;
}

int et_spawn_detached(const char *path, const char *const argv[], struct et_err *err)
{
	struct sigaction old_chld;
	int pipefd[2] = { -1, -1 };
	int status = 0, child_errno = 0, r = -1;
	ssize_t n;
	pid_t pid;

	if (!path || path[0] != '/' || !argv || !argv[0])
		return et_err_set(err, ET_E_SPAWN_FAILED, "a program to run needs an absolute path and argv[0]");
	if (spawn_begin(&old_chld, pipefd, err) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		et_err_set(err, ET_E_SPAWN_FAILED, "cannot fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* the middle process: a session of its own, one more fork, and gone at once, so the
		 * program is nobody's child here and outlives the caller */
		pid_t g;
		close(pipefd[0]);
		(void)setsid();
		g = fork();
		if (g == 0)
			child_exec(path, argv, -1, pipefd[1], true);
		if (g < 0) {
			int e = errno;
			(void)!write(pipefd[1], &e, sizeof(e));
			_exit(1);
		}
		_exit(0);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	if (reap(pid, &status) < 0) {
		et_err_set(err, ET_E_SPAWN_FAILED, "cannot wait for the intermediate process: %s", strerror(errno));
		goto out;
	}
	/* EOF once the program is running (the pipe is close-on-exec), an errno when it is not */
	n = et_read_all(pipefd[0], &child_errno, sizeof(child_errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		et_err_set(err, ET_E_SPAWN_FAILED, "cannot start %s: %s", path,
			   n == (ssize_t)sizeof(child_errno) ? strerror(child_errno) : "the intermediate process failed");
		goto out;
	}
	if (n == (ssize_t)sizeof(child_errno)) {
		et_err_set(err, ET_E_EXEC_FAILED, "cannot run %s: %s", path, strerror(child_errno));
		goto out;
	}
	r = 0;
out:
	for (int i = 0; i < 2; i++)
		if (pipefd[i] >= 0)
			close(pipefd[i]);
	(void)sigaction(SIGCHLD, &old_chld, NULL);
	return r;
}
