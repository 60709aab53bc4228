/* SPDX-License-Identifier: Apache-2.0 */
/* et_spawn_wait / et_helper_run_path: how the PAM module runs the helper from inside sshd or
 * sudo. Fixed path, fixed argv, empty environment, fds 0-2 on /dev/null and nothing else,
 * a real uid of 0 when the caller is setuid root, bounded wait, own child only, the host's
 * SIGCHLD disposition untouched; with capture, the program's standard output through a capped
 * pipe, and the grant verb's id line parsed strictly. */
#include "grant.h"
#include "spawn.h"
#include "grant_testenv.h"
#include "../../pam_entra_tap/module.h"
#include "tap.h"
#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *dir;

static char *out_path(const char *name)
{
	static char buf[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

/* Run `sh -c script` (script may use $OUT), return its exit status or -1 with err. */
static int sh(const char *script, const char *out, int timeout_ms, struct et_err *err)
{
	char cmd[2048];
	int status = -1;
	const char *argv[] = { "sh", "-c", cmd, NULL };
	snprintf(cmd, sizeof(cmd), "OUT='%s'; %s", out ? out : "/dev/null", script);
	if (et_spawn_wait("/bin/sh", argv, timeout_ms, &status, err) < 0)
		return -1;
	return status;
}

static char *slurp_trim(const char *path)
{
	char *s = gte_slurp(path);
	size_t n;
	if (!s)
		return strdup("(missing)");
	n = strlen(s);
	while (n && s[n - 1] == '\n')
		s[--n] = '\0';
	return s;
}

static volatile sig_atomic_t chld_calls;
static void on_chld(int sig)
{
	(void)sig;
	chld_calls++;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int main(void)
{
	struct et_err err;
	struct timespec t0;
	struct sigaction sa, cur;
	char *s;
	int fd, status;
	long ms;
	pid_t other, pid;

	dir = tu_tmpdir();

	is_int(sh("exit 7", NULL, 5000, &err), 7, "the exit status comes back");

	setenv("LD_PRELOAD", "/nonexistent/evil.so", 1);
	setenv("ET_TEST_MARKER", "leak", 1);
	setenv("IFS", "x", 1);
	is_int(sh("/usr/bin/env > \"$OUT\"", out_path("env"), 5000, &err), 0, "env runs");
	s = gte_slurp(out_path("env"));
	ok(s && !strstr(s, "ET_TEST_MARKER") && !strstr(s, "LD_PRELOAD") && !strstr(s, "IFS=") && !strstr(s, "PATH="),
	   "the environment is empty (no marker, LD_PRELOAD, IFS or PATH; sh adds only its own PWD)");
	free(s);
	unsetenv("LD_PRELOAD");

	fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC: a careless host fd */
	{
		char script[256];
		snprintf(script, sizeof(script),
			 "if [ -e /proc/$$/fd/%d ]; then echo leaked; else echo clean; fi > \"$OUT\"", fd);
		sh(script, out_path("fd"), 5000, &err);
	}
	s = slurp_trim(out_path("fd"));
	is_str(s, "clean", "no other descriptor of the host reaches the program");
	free(s);
	close(fd);
	sh("a=$(readlink /proc/$$/fd/0); b=$(readlink /proc/$$/fd/1); c=$(readlink /proc/$$/fd/2); "
	   "echo \"$a $b $c\" > \"$OUT\"",
	   out_path("std"), 5000, &err);
	s = slurp_trim(out_path("std"));
	is_str(s, "/dev/null /dev/null /dev/null", "fds 0-2 are /dev/null");
	free(s);

	{
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGTERM);
		sigprocmask(SIG_BLOCK, &block, &old);
		sh("grep SigBlk /proc/$$/status | tr -d ' \\t' > \"$OUT\"", out_path("mask"), 5000, &err);
		sigprocmask(SIG_SETMASK, &old, NULL);
		s = slurp_trim(out_path("mask"));
		is_str(s, "SigBlk:0000000000000000", "the host's signal mask is not inherited");
		free(s);
	}

	/* bad input and failures, each with its reason */
	{
		const char *argv[] = { "x", NULL };
		ok(et_spawn_wait("/nonexistent/helper", argv, 1000, &status, &err) < 0 &&
			   strcmp(err.reason, "exec_failed") == 0,
		   "a missing program is exec_failed");
		ok(et_spawn_wait("relative/helper", argv, 1000, &status, &err) < 0 &&
			   strcmp(err.reason, "spawn_failed") == 0,
		   "a relative path is refused (spawn_failed)");
		ok(et_spawn_wait("/bin/sh", NULL, 1000, &status, &err) < 0 && strcmp(err.reason, "spawn_failed") == 0,
		   "no argv is refused (spawn_failed)");
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(sh("exec sleep 20", NULL, 200, &err) < 0 && strcmp(err.reason, "timeout") == 0,
	   "a program that hangs is killed after the timeout (timeout)");
	ms = elapsed_ms(&t0);
	ok(ms >= 150 && ms < 3000, "and the wait was bounded (%ld ms)", ms);
	ok(sh("kill -9 $$", NULL, 5000, &err) < 0 && strcmp(err.reason, "killed") == 0,
	   "a program ended by a signal is reported (killed)");

	/* SIGCHLD: ignored by the host */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &sa, NULL);
	is_int(sh("exit 3", NULL, 5000, &err), 3, "with SIGCHLD ignored by the host, the status still comes back");
	sigaction(SIGCHLD, NULL, &cur);
	ok(cur.sa_handler == SIG_IGN, "and SIGCHLD is ignored again afterwards");
	/* SIGCHLD: a host handler that would reap */
	sa.sa_handler = on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	other = fork();
	if (other == 0)
		_exit(42);
	usleep(100 * 1000); /* the other child is a zombie now */
	chld_calls = 0;
	is_int(sh("exit 4", NULL, 5000, &err), 4, "with a SIGCHLD handler installed, the status comes back");
	is_int(chld_calls, 0, "the host's handler did not run for our child");
	sigaction(SIGCHLD, NULL, &cur);
	ok(cur.sa_handler == on_chld, "the host's handler is back");
	ok(waitpid(other, &status, WNOHANG) == other && WEXITSTATUS(status) == 42,
	   "the host's other child was not reaped by us");
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	/* ---- standard output captured (et_helper_run_path_capture) ---- */
	{
		char out[ET_GRANT_OUTPUT_MAX];
		size_t len = 99;
		const char *a1[] = { "sh", "-c", "echo to-stderr >&2; printf 'one\\ntwo\\n'; exit 3", NULL };
		ok(et_spawn_capture("/bin/sh", a1, 5000, out, sizeof(out), &len, &status, &err) == 0,
		   "capture: the program runs");
		is_str(out, "one\ntwo\n", "capture: standard output comes back, standard error does not");
		is_int((int)len, 8, "capture: its length");
		is_int(status, 3, "capture: and the exit status");

		const char *a2[] = { "sh", "-c", "a=$(readlink /proc/$$/fd/0); c=$(readlink /proc/$$/fd/2); "
						 "b=$(readlink /proc/$$/fd/1); echo \"$a $c ${b%%:*}\"", NULL };
		et_spawn_capture("/bin/sh", a2, 5000, out, sizeof(out), &len, &status, &err);
		is_str(out, "/dev/null /dev/null pipe\n", "capture: fd 1 is the pipe, fds 0 and 2 stay /dev/null");

		const char *a3[] = { "sh", "-c", "exit 0", NULL };
		len = 99;
		ok(et_spawn_capture("/bin/sh", a3, 5000, out, sizeof(out), &len, &status, &err) == 0 &&
			   len == 0 && out[0] == '\0',
		   "capture: no output is an empty, terminated string");

		/* the cap: 200 kB, three times a pipe's buffer, into 64 bytes */
		char small[64];
		const char *a4[] = { "sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a; exit 0", NULL };
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ok(et_spawn_capture("/bin/sh", a4, 10000, small, sizeof(small), &len, &status, &err) < 0 &&
			   strcmp(err.reason, "output_too_long") == 0,
		   "capture: more than the cap is output_too_long (%s)", err.message);
		ms = elapsed_ms(&t0);
		ok(ms < 5000, "capture: ... and the program was drained, not left blocked until the timeout (%ld ms)", ms);
		ok(strlen(small) == sizeof(small) - 1, "capture: ... the buffer is filled and terminated, no further");

		const char *a5[] = { "sh", "-c", "printf '%063d' 0", NULL };
		ok(et_spawn_capture("/bin/sh", a5, 5000, small, sizeof(small), &len, &status, &err) == 0 &&
			   len == 63,
		   "capture: exactly the cap (out_size - 1 bytes) fits");

		const char *a6[] = { "sh", "-c", "exec yes", NULL };
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ok(et_spawn_capture("/bin/sh", a6, 300, small, sizeof(small), &len, &status, &err) < 0 &&
			   strcmp(err.reason, "timeout") == 0,
		   "capture: a program that never stops writing is killed at the timeout (timeout)");
		ms = elapsed_ms(&t0);
		ok(ms >= 250 && ms < 3000, "capture: ... bounded (%ld ms)", ms);

		const char *a7[] = { "sh", "-c", "sleep 20 & echo done", NULL };
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ok(et_spawn_capture("/bin/sh", a7, 10000, out, sizeof(out), &len, &status, &err) == 0 &&
			   strcmp(out, "done\n") == 0,
		   "capture: a descendant that keeps the pipe open does not hold the caller");
		ms = elapsed_ms(&t0);
		ok(ms < 3000, "capture: ... it returns when the program exits (%ld ms)", ms);

		const char *a8[] = { "sh", "-c", "echo early; exec >&-; sleep 0.3; exit 6", NULL };
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ok(et_spawn_capture("/bin/sh", a8, 10000, out, sizeof(out), &len, &status, &err) == 0 &&
			   status == 6 && strcmp(out, "early\n") == 0,
		   "capture: a program that closes its output early is still waited for (status 6)");
		ok(elapsed_ms(&t0) >= 250, "capture: ... until it exits");

		const char *a9[] = { "x", NULL };
		ok(et_spawn_capture("/nonexistent/helper", a9, 1000, out, sizeof(out), &len, &status, &err) < 0 &&
			   strcmp(err.reason, "exec_failed") == 0,
		   "capture: a missing program is exec_failed");
		ok(et_spawn_capture("/bin/sh", a3, 1000, out, 0, &len, &status, &err) < 0 &&
			   strcmp(err.reason, "spawn_failed") == 0,
		   "capture: a zero-sized buffer is refused (spawn_failed)");
		ok(et_spawn_capture("/bin/sh", a3, 1000, NULL, 16, &len, &status, &err) < 0 &&
			   strcmp(err.reason, "spawn_failed") == 0,
		   "capture: no buffer is refused (spawn_failed)");

		/* a host process with fds 0-2 closed: the pipes must not land on them */
		pid = fork();
		if (pid == 0) {
			const char *a10[] = { "sh", "-c", "echo fine", NULL };
			char o[32];
			size_t l = 0;
			int st = -1;
			close(0);
			close(1);
			close(2);
			if (et_spawn_capture("/bin/sh", a10, 5000, o, sizeof(o), &l, &st, &err) < 0)
				_exit(10);
			_exit(strcmp(o, "fine\n") == 0 && st == 0 ? 0 : 11);
		}
		waitpid(pid, &status, 0);
		is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0,
		       "capture: a host with fds 0-2 closed still gets the output");

		/* SIGCHLD ignored by the host while capturing */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigaction(SIGCHLD, &sa, NULL);
		const char *a11[] = { "sh", "-c", "echo ign; exit 2", NULL };
		ok(et_spawn_capture("/bin/sh", a11, 5000, out, sizeof(out), &len, &status, &err) == 0 &&
			   status == 2 && strcmp(out, "ign\n") == 0,
		   "capture: with SIGCHLD ignored by the host, output and status come back");
		sa.sa_handler = SIG_DFL;
		sigaction(SIGCHLD, &sa, NULL);
	}

	/* ---- the grant verb's machine line (et_helper_grant_id_parse) ---- */
	{
		const char *good = "0123456789abcdef0123456789abcdef\n";
		char id[ET_GRANT_ID_HEX + 1] = "unchanged";
		char out[ET_GRANT_OUTPUT_MAX];
		size_t len = 0;
		ok(et_grant_id_line_parse(good, strlen(good), id, &err) == 0, "grant id: one id line parses");
		is_str(id, "0123456789abcdef0123456789abcdef", "grant id: ... into the id");
		strcpy(id, "unchanged");
		ok(et_grant_id_line_parse("", 0, id, &err) < 0 && strcmp(err.reason, "no_grant_id") == 0 &&
			   strstr(err.message, "printed no grant id"),
		   "grant id: nothing printed is no_grant_id, said plainly (%s)", err.message);
		is_str(id, "unchanged", "grant id: ... and the output parameter is untouched");
		ok(et_grant_id_line_parse(good, strlen(good) - 1, id, &err) < 0 && strcmp(err.reason, "bad_grant_id") == 0,
		   "grant id: no newline is bad_grant_id");
		{
			const char *two = "0123456789abcdef0123456789abcdef\n0123456789abcdef0123456789abcdef\n";
			ok(et_grant_id_line_parse(two, strlen(two), id, &err) < 0 && strcmp(err.reason, "bad_grant_id") == 0,
			   "grant id: two lines are bad_grant_id");
		}
		{
			const char *upper = "0123456789ABCDEF0123456789abcdef\n";
			ok(et_grant_id_line_parse(upper, strlen(upper), id, &err) < 0 &&
				   strcmp(err.reason, "bad_grant_id") == 0,
			   "grant id: upper-case hex is bad_grant_id");
		}
		{
			const char *sentence = "alice is in group x until y (grant 0123456789abcdef0123456789abcdef)\n";
			ok(et_grant_id_line_parse(sentence, strlen(sentence), id, &err) < 0 &&
				   strcmp(err.reason, "bad_grant_id") == 0,
			   "grant id: a sentence that contains an id is bad_grant_id");
		}
		{
			char nul[] = "0123456789abcdef\0" "123456789abcdef\n";
			ok(et_grant_id_line_parse(nul, 33, id, &err) < 0 && strcmp(err.reason, "bad_grant_id") == 0,
			   "grant id: a NUL byte inside is bad_grant_id");
		}
		{
			const char *shortid = "0123456789abcdef0123456789abcde\n";
			ok(et_grant_id_line_parse(shortid, strlen(shortid), id, &err) < 0 &&
				   strcmp(err.reason, "bad_grant_id") == 0,
			   "grant id: 31 digits is bad_grant_id");
		}
		/* end to end: a program in the helper's place that exits 0 and prints no id */
		const char *quiet[] = { "entra-tap-helper", "grant", "alice", NULL };
		ok(et_spawn_capture("/bin/true", quiet, 5000, out, sizeof(out), &len, &status, &err) == 0 &&
			   status == 0 && et_grant_id_line_parse(out, len, id, &err) < 0 &&
			   strcmp(err.reason, "no_grant_id") == 0,
		   "grant id: a helper that succeeds without printing an id gives no_grant_id, not a guess");
	}

	/* a setuid-root caller (sudo: real uid of the user, effective 0) hands over real uid 0 */
	if (geteuid() == 0) {
		pid = fork();
		if (pid == 0) {
			gid_t extra = 4321;
			if (setgroups(1, &extra) < 0 || setresgid(65534, 0, 0) < 0 || setresuid(65534, 0, 0) < 0)
				_exit(20);
			if (sh("echo $(id -ru) $(id -u) $(id -rg) $(id -G) > \"$OUT\"", out_path("ids"), 5000, &err) != 0)
				_exit(21);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		is_int(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0, "a setuid-root caller runs the program");
		s = slurp_trim(out_path("ids"));
		is_str(s, "0 0 0 0", "the program runs with real and effective uid 0 and no extra groups");
		free(s);
	} else {
		ok(!(getenv("CI") && strcmp(getenv("CI"), "true") == 0), "the setuid-caller test needs root");
	}
	/* et_spawn_detached: how the PAM module starts the guard of a pending grant */
	{
		const char *bad[] = { "x", NULL };
		char script[1024];
		const char *argv[] = { "sh", "-c", script, NULL };
		char *got = NULL;
		long mine = (long)getsid(0);
		ok(et_spawn_detached("/nonexistent/helper", bad, &err) < 0 && strcmp(err.reason, "exec_failed") == 0,
		   "detached: a missing program is exec_failed");
		ok(et_spawn_detached("relative/helper", bad, &err) < 0 && strcmp(err.reason, "spawn_failed") == 0,
		   "detached: a relative path is refused (spawn_failed)");
		ok(et_spawn_detached("/bin/sh", NULL, &err) < 0 && strcmp(err.reason, "spawn_failed") == 0,
		   "detached: no argv is refused (spawn_failed)");
		snprintf(script, sizeof(script),
			 "sleep 1; set -- $(cut -d')' -f2 /proc/$$/stat); "
			 "echo \"ppid=$2 sid=$4 cwd=$(pwd) env=$(/usr/bin/env | grep -cv '^PWD=') "
			 "fds=$(ls /proc/$$/fd | wc -l)\" > %s.tmp && mv %s.tmp %s",
			 out_path("detached"), out_path("detached"), out_path("detached"));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ok(et_spawn_detached("/bin/sh", argv, &err) == 0, "detached: the program starts");
		ms = elapsed_ms(&t0);
		ok(ms < 900, "detached: the call does not wait for the program (%ld ms)", ms);
		ok(waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD, "detached: no child is left for the caller to reap");
		for (int i = 0; i < 100 && access(out_path("detached"), F_OK) != 0; i++)
			usleep(50000);
		got = slurp_trim(out_path("detached"));
		{
			long ppid = -1, sid = -1, env = -1, fds = -1;
			char cwd[64] = "";
			int n = sscanf(got, "ppid=%ld sid=%ld cwd=%63s env=%ld fds=%ld", &ppid, &sid, cwd, &env, &fds);
			ok(n == 5, "detached: the program reported (%s)", got);
			ok(ppid != (long)getpid(), "detached: it is not a child of the caller (parent %ld)", ppid);
			ok(sid != mine && sid > 0, "detached: it runs in a session of its own (%ld, not %ld)", sid, mine);
			is_str(cwd, "/", "detached: its working directory is /");
			is_int((int)env, 0, "detached: its environment is empty");
			ok(fds <= 4, "detached: it holds only fds 0-2 (and ls's own): %ld", fds);
		}
		free(got);
	}

	return tap_done();
}
