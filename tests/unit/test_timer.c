/* SPDX-License-Identifier: Apache-2.0 */
/* Revocation and warning timers and the grant's scope without a real systemd: unit names and
 * argument checks first, then, in a private mount namespace with a tmpfs over /run, every way
 * systemd can be absent, and a fake manager on a private dbus-daemon that records the exact
 * StartTransientUnit / StopUnit / AttachProcessesToUnit requests and answers with the errors
 * systemd gives (UnitExists, NoSuchUnit, InvalidArgs, AccessDenied, no answer). For the scope
 * the fake moves the process into a cgroup named like the scope, below a cgroup2 directory of
 * the test's own, as systemd would. The real thing is tested in
 * tests/integration/systemd_timer.sh. */
#include "timer.h"
#include "../tap.h"
#include "../testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>

#define ID "0123456789abcdef0123456789abcdef"
#define HELPER "/usr/sbin/entra-tap-helper"
#define SCOPE "entra-tap-grant-" ID ".scope"
#define BUS_PATH "/run/test-system-bus"
#define RECORD "/run/fake-manager.log"

static void expect_fail(int r, const struct et_err *err, const char *reason, const char *name)
{
	if (!ok(r == -1 && strcmp(err->reason, reason) == 0, "%s: refused with %s", name, reason))
		tap_diag("got %d reason '%s'", r, err->reason);
}

static void test_names(void)
{
	char buf[64];

	ok(strcmp(ET_TIMER_UNIT_PREFIX, "entra-tap-revoke-") == 0 && strcmp(ET_WARN_UNIT_PREFIX, "entra-tap-warn-") == 0 &&
		   strcmp(ET_SCOPE_UNIT_PREFIX, "entra-tap-grant-") == 0,
	   "the unit name prefixes");
	memset(buf, 'x', sizeof(buf));
	et_scope_unit_name(ID, buf);
	is_str(buf, SCOPE, "the scope's name");
	ok(strlen(buf) < 64 && strlen(buf) == strlen(ET_SCOPE_UNIT_PREFIX) + 32 + strlen(".scope"),
	   "and it fits the buffer");
	et_scope_unit_name(NULL, buf);
	is_str(buf, "entra-tap-grant-.scope", "a NULL id makes no crash");
}

static void test_bad_input(void)
{
	static const char *const bad_ids[] = {
		"",
		"0123456789abcdef0123456789abcde",   /* 31 */
		"0123456789abcdef0123456789abcdef0", /* 33 */
		"0123456789ABCDEF0123456789abcdef",  /* upper case */
		"0123456789abcdef0123456789abcdeg",
		"../23456789abcdef0123456789abcdef",
		"0123456789abcdef/123456789abcdef",
		"0123456789abcdef 123456789abcdef",
		"0123456789abcdef\n123456789abcdef",
	};
	static const char *const bad_paths[] = {
		"",	       "entra-tap-helper", "./entra-tap-helper", "/usr/sbin/entra tap", "/usr/sbin/",
		"/",	       "/usr//sbin/x",	    "/usr/./sbin/x",	  "/usr/../sbin/x",	 "/usr/sbin/..",
		"/usr/sbin/.", "/usr/sbin/a\nb",    "/usr/sbin/$x",	  "/usr/sbin/%n",	 "/usr/sbin/a\\b",
	};
	struct et_err err;
	time_t later = time(NULL) + 3600;
	size_t i;

	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		char name[96];
		snprintf(name, sizeof(name), "schedule, grant id #%zu", i);
		memset(&err, 0, sizeof(err));
		expect_fail(et_timer_schedule(bad_ids[i], later, HELPER, &err), &err, "bad_grant_id", name);
		snprintf(name, sizeof(name), "cancel, grant id #%zu", i);
		memset(&err, 0, sizeof(err));
		expect_fail(et_timer_cancel(bad_ids[i], &err), &err, "bad_grant_id", name);
		snprintf(name, sizeof(name), "warning, grant id #%zu", i);
		memset(&err, 0, sizeof(err));
		expect_fail(et_timer_schedule_warning(bad_ids[i], later, HELPER, &err), &err, "bad_grant_id", name);
		snprintf(name, sizeof(name), "scope attach, grant id #%zu", i);
		memset(&err, 0, sizeof(err));
		expect_fail(et_scope_attach(bad_ids[i], getpid(), &err), &err, "bad_grant_id", name);
		snprintf(name, sizeof(name), "scope stop, grant id #%zu", i);
		memset(&err, 0, sizeof(err));
		expect_fail(et_scope_stop(bad_ids[i], &err), &err, "bad_grant_id", name);
	}
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule_warning(NULL, later, HELPER, &err), &err, "bad_grant_id", "warning, NULL id");
	memset(&err, 0, sizeof(err));
	expect_fail(et_scope_attach(NULL, getpid(), &err), &err, "bad_grant_id", "scope attach, NULL id");
	memset(&err, 0, sizeof(err));
	expect_fail(et_scope_stop(NULL, &err), &err, "bad_grant_id", "scope stop, NULL id");
	{
		static const pid_t bad_pids[] = { 0, 1, -1, -4242 };
		for (i = 0; i < sizeof(bad_pids) / sizeof(bad_pids[0]); i++) {
			char name[96];
			snprintf(name, sizeof(name), "scope attach, pid %ld", (long)bad_pids[i]);
			memset(&err, 0, sizeof(err));
			expect_fail(et_scope_attach(ID, bad_pids[i], &err), &err, "bad_argument", name);
		}
	}
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(NULL, later, HELPER, &err), &err, "bad_grant_id", "schedule, NULL id");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_cancel(NULL, &err), &err, "bad_grant_id", "cancel, NULL id");
	ok(et_timer_cancel(NULL, NULL) == -1, "a NULL err is allowed");

	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		char name[96];
		snprintf(name, sizeof(name), "helper path #%zu", i);
		memset(&err, 0, sizeof(err));
		expect_fail(et_timer_schedule(ID, later, bad_paths[i], &err), &err, "bad_helper_path", name);
		snprintf(name, sizeof(name), "warning program path #%zu", i);
		memset(&err, 0, sizeof(err));
		expect_fail(et_timer_schedule_warning(ID, later, bad_paths[i], &err), &err, "bad_helper_path", name);
	}
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, later, NULL, &err), &err, "bad_helper_path", "NULL helper path");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule_warning(ID, later, NULL, &err), &err, "bad_helper_path",
		    "NULL warning program path");

	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, time(NULL), HELPER, &err), &err, "expired", "expiry in this second");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, time(NULL) - 60, HELPER, &err), &err, "expired", "expiry in the past");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, 0, HELPER, &err), &err, "expired", "expiry 0");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, (time_t)253402300800LL, HELPER, &err), &err, "bad_expiry",
		    "expiry in the year 10000");

	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule_warning(ID, time(NULL), HELPER, &err), &err, "expired", "warning in this second");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule_warning(ID, time(NULL) - 60, HELPER, &err), &err, "expired",
		    "warning in the past");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule_warning(ID, (time_t)253402300800LL, HELPER, &err), &err, "bad_expiry",
		    "warning in the year 10000");
}

/* ---- a fake systemd manager ---- */

enum fake_mode {
	FAKE_OK,
	FAKE_EXISTS_ONCE,
	FAKE_EXISTS_ALWAYS,
	FAKE_INVALID,
	FAKE_STOP_DENIED,
	FAKE_STOP_NO_SUCH_UNIT,
	FAKE_SILENT,
	FAKE_NO_SCOPE,	     /* attach: NoSuchUnit; start: made, the process moved */
	FAKE_SCOPE_RACE,     /* attach: NoSuchUnit, start: UnitExists, attach again: moved */
	FAKE_NO_MOVE,	     /* attach: success, but the process never moves */
	FAKE_ATTACH_DENIED,  /* attach: AccessDenied */
	FAKE_SCOPE_UNLOADING, /* attach: InvalidArgs (not active), start: UnitExists, ever */
};

static enum fake_mode fake_mode;
static int fake_starts, fake_attaches;
/* The process the fake moves into the scope's cgroup (cgroup.procs below), as systemd would. */
static pid_t fake_scope_pid;
static char fake_scope_procs[PATH_MAX];

static void fake_move(void)
{
	FILE *f = fopen(fake_scope_procs, "we");
	if (!f)
		return;
	fprintf(f, "%ld\n", (long)fake_scope_pid);
	fclose(f);
}

static void record(const char *what, sd_bus_message *m)
{
	FILE *f = fopen(RECORD, "ae");
	if (!f)
		return;
	fprintf(f, "%s\n", what);
	if (m) {
		(void)sd_bus_message_rewind(m, 1);
		(void)sd_bus_message_dump(m, f, 0);
	}
	fclose(f);
}

static int on_start(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	record("START", m);
	fake_starts++;
	if (fake_mode == FAKE_SILENT) {
		sleep(30);
		return 0;
	}
	if (fake_mode == FAKE_EXISTS_ALWAYS || (fake_mode == FAKE_EXISTS_ONCE && fake_starts == 1))
		return sd_bus_error_set(e, "org.freedesktop.systemd1.UnitExists", "Unit already exists.");
	if (fake_mode == FAKE_INVALID)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "Unknown property or property not supported.");
	if (fake_mode == FAKE_SCOPE_RACE || fake_mode == FAKE_SCOPE_UNLOADING)
		return sd_bus_error_set(e, "org.freedesktop.systemd1.UnitExists", "Unit already exists.");
	if (fake_mode == FAKE_NO_SCOPE)
		fake_move();
	return sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/job/42");
}

static int on_attach(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	record("ATTACH", m);
	fake_attaches++;
	if (fake_mode == FAKE_NO_SCOPE || (fake_mode == FAKE_SCOPE_RACE && fake_attaches == 1))
		return sd_bus_error_set(e, "org.freedesktop.systemd1.NoSuchUnit", "Unit not loaded.");
	if (fake_mode == FAKE_ATTACH_DENIED)
		return sd_bus_error_set(e, SD_BUS_ERROR_ACCESS_DENIED, "Access denied.");
	if (fake_mode == FAKE_SCOPE_UNLOADING)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "Unit is not active, refusing.");
	if (fake_mode != FAKE_NO_MOVE)
		fake_move();
	return sd_bus_reply_method_return(m, "");
}

static int on_stop(sd_bus_message *m, void *ud, sd_bus_error *e)
{
	record("STOP", m);
	if (fake_mode == FAKE_STOP_DENIED)
		return sd_bus_error_set(e, SD_BUS_ERROR_ACCESS_DENIED, "Access denied.");
	if (fake_mode == FAKE_STOP_NO_SUCH_UNIT)
		return sd_bus_error_set(e, "org.freedesktop.systemd1.NoSuchUnit", "Unit not loaded.");
	return sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/job/43");
}

static const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o", on_start, 0),
	SD_BUS_METHOD("StopUnit", "ss", "o", on_stop, 0),
	SD_BUS_METHOD("AttachProcessesToUnit", "ssau", "", on_attach, 0),
	SD_BUS_VTABLE_END,
};

static pid_t fake_start(enum fake_mode mode)
{
	int pfd[2];
	pid_t pid;
	char c = 0;

	unlink(RECORD);
	pid = tu_fork_piped(pfd);
	if (pid == 0) {
		sd_bus *bus = NULL;
		close(pfd[0]);
		fake_mode = mode;
		if (sd_bus_open_system(&bus) < 0 ||
		    sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
					     manager_vtable, NULL) < 0 ||
		    sd_bus_request_name(bus, "org.freedesktop.systemd1", 0) < 0)
			_exit(1);
		if (write(pfd[1], "r", 1) != 1)
			_exit(1);
		close(pfd[1]);
		for (;;) {
			int r = sd_bus_process(bus, NULL);
			if (r < 0)
				_exit(1);
			if (r == 0 && sd_bus_wait(bus, (uint64_t)-1) < 0)
				_exit(1);
		}
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		c = 0;
	close(pfd[0]);
	if (c != 'r') {
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void fake_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static char *slurp(const char *path)
{
	static char buf[65536];
	size_t n = 0;
	FILE *f = fopen(path, "re");
	buf[0] = '\0';
	if (!f)
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int count_of(const char *hay, const char *needle)
{
	int k = 0;
	const char *p = hay;
	while ((p = strstr(p, needle))) {
		k++;
		p += strlen(needle);
	}
	return k;
}

static pid_t dbus_daemon_start(void)
{
	pid_t pid = fork();
	struct stat st;
	int i;
	if (pid < 0)
		abort();
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile",
		       "--address=unix:path=" BUS_PATH, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if (stat(BUS_PATH, &st) == 0 && S_ISSOCK(st.st_mode))
			return pid;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void test_without_systemd(void)
{
	struct et_err err;
	time_t later = time(NULL) + 3600;
	int r;

	memset(&err, 0, sizeof(err));
	r = et_timer_schedule(ID, later, HELPER, &err);
	is_int(r, 1, "not booted with systemd: schedule says no systemd (1)");
	is_int(et_timer_cancel(ID, &err), 0, "not booted with systemd: cancel has nothing to do (0)");
	is_int(et_timer_schedule_warning(ID, later, HELPER, &err), 1, "not booted with systemd: warning 1");
	is_int(et_scope_attach(ID, getpid(), &err), 1, "not booted with systemd: scope attach 1");
	is_int(et_scope_stop(ID, &err), 0, "not booted with systemd: scope stop 0");

	if (mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/system", 0755) < 0)
		abort();
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/no-such-bus", 1);
	is_int(et_timer_schedule(ID, later, HELPER, &err), 1, "booted flag but no bus at all: 1");
	is_int(et_timer_cancel(ID, &err), 0, "booted flag but no bus at all: cancel 0");
	is_int(et_scope_attach(ID, getpid(), &err), 1, "booted flag but no bus at all: scope attach 1");
	is_int(et_scope_stop(ID, &err), 0, "booted flag but no bus at all: scope stop 0");

	/* a private socket left over from a dead manager: nobody listens */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		strcpy(sa.sun_path, "/run/systemd/private");
		if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			abort();
		close(s);
	}
	is_int(et_timer_schedule(ID, later, HELPER, &err), 1, "a stale private socket and no bus: 1");
	unlink("/run/systemd/private");
}

/* ---- the grant's scope, against the fake manager ---- */

/* A cgroup2 directory of the test's own, holding one named like the grant's scope, where the
 * fake moves the process (fake_scope_procs). */
static char cg_top[128], cg_scope[256];

static bool cgroup_setup(void)
{
	static const char *const bases[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	struct statfs sf;
	size_t i;

	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		if (statfs(bases[i], &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
			continue;
		snprintf(cg_top, sizeof(cg_top), "%s/entra-tap-test-timer.%ld", bases[i], (long)getpid());
		snprintf(cg_scope, sizeof(cg_scope), "%s/" SCOPE, cg_top);
		snprintf(fake_scope_procs, sizeof(fake_scope_procs), "%s/cgroup.procs", cg_scope);
		return mkdir(cg_top, 0755) == 0 && mkdir(cg_scope, 0755) == 0;
	}
	return false;
}

static void cgroup_teardown(void)
{
	rmdir(cg_scope);
	rmdir(cg_top);
}

/* A process that waits to be killed; reaped by kid_end. */
static pid_t kid_start(void)
{
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static void kid_end(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static bool kid_in_scope(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	return strstr(slurp(path), "/" SCOPE "\n") != NULL;
}

/* One et_scope_attach of a new process against the fake in mode; the record is in RECORD. */
static int attach_with(enum fake_mode mode, pid_t *kid, struct et_err *err)
{
	pid_t fake;
	int r;

	*kid = kid_start();
	fake_scope_pid = *kid;
	fake = fake_start(mode);
	memset(err, 0, sizeof(*err));
	r = et_scope_attach(ID, *kid, err);
	fake_stop(fake);
	return r;
}

/* The same, expected to succeed (a test named name); returns the record. */
static const char *attached_with(enum fake_mode mode, pid_t *kid, const char *name)
{
	struct et_err err;
	int r = attach_with(mode, kid, &err);
	if (!ok(r == 0, "%s", name))
		tap_diag("%d %s: %s", r, err.reason, err.message);
	return slurp(RECORD);
}

static void test_fake_scope(void)
{
	struct et_err err;
	char want[64];
	const char *rec;
	pid_t kid, fake;

	if (!ok(cgroup_setup(), "a cgroup2 directory named like the scope"))
		return;

	rec = attached_with(FAKE_OK, &kid, "attached to the grant's existing scope");
	snprintf(want, sizeof(want), "UINT32 %ld;", (long)kid);
	ok(count_of(rec, "ATTACH") == 1 && !strstr(rec, "START") && strstr(rec, "STRING \"" SCOPE "\";") &&
		   strstr(rec, "STRING \"\";") && strstr(rec, want),
	   "one AttachProcessesToUnit(scope, \"\", [pid]) and nothing else");
	ok(kid_in_scope(kid), "the process is in the scope when the call returns");
	kid_end(kid);

	rec = attached_with(FAKE_NO_SCOPE, &kid, "attached to a scope made for it");
	snprintf(want, sizeof(want), "UINT32 %ld;", (long)kid);
	ok(strstr(rec, "ATTACH") && strstr(rec, "START") > strstr(rec, "ATTACH") && count_of(rec, "START") == 1,
	   "the attach found no scope: StartTransientUnit");
	ok(strstr(rec, "STRING \"" SCOPE "\";") && strstr(rec, "STRING \"fail\";"), "of the scope, job mode fail");
	ok(strstr(rec, "STRING \"PIDs\";") && count_of(rec, want) == 2, "with the process in PIDs");
	ok(strstr(rec, "STRING \"Sessions elevated by Entra TAP grant " ID "\";") != NULL, "its description");
	ok(strstr(strstr(rec, "START"), "STRING \"Delegate\";") &&
		   strstr(strstr(rec, "STRING \"Delegate\";"), "BOOLEAN true;"),
	   "Delegate=yes, so that later sessions can be attached");
	ok(strstr(rec, "STRING \"SendSIGHUP\";") && strstr(strstr(rec, "STRING \"SendSIGHUP\";"), "BOOLEAN true;"),
	   "SendSIGHUP=yes, for the shells that ignore SIGTERM");
	ok(strstr(rec, "STRING \"CollectMode\";") && strstr(rec, "STRING \"inactive-or-failed\";"),
	   "collected even when it failed");
	ok(!strstr(rec, ".service") && !strstr(rec, ".timer"), "no other unit");
	ok(kid_in_scope(kid), "the process is in the scope when the call returns");
	kid_end(kid);

	rec = attached_with(FAKE_SCOPE_RACE, &kid, "another session made the scope first: attached to theirs");
	ok(count_of(rec, "ATTACH") == 2 && count_of(rec, "START") == 1 && strstr(rec, "START") < strstr(rec + 6, "ATTACH"),
	   "attach, start (UnitExists), attach");
	kid_end(kid);

	expect_fail(attach_with(FAKE_NO_MOVE, &kid, &err), &err, "timeout", "a process that never reaches the scope");
	kid_end(kid);

	/* a process that ended before it reached the scope */
	kid = kid_start();
	kid_end(kid);
	fake_scope_pid = kid;
	fake = fake_start(FAKE_NO_MOVE);
	memset(&err, 0, sizeof(err));
	expect_fail(et_scope_attach(ID, kid, &err), &err, "process_gone", "a process that ended meanwhile");
	fake_stop(fake);

	expect_fail(attach_with(FAKE_ATTACH_DENIED, &kid, &err), &err, "bus_call", "an attach the manager refuses");
	ok(!strstr(slurp(RECORD), "START"), "is not followed by a start");
	kid_end(kid);

	expect_fail(attach_with(FAKE_SCOPE_UNLOADING, &kid, &err), &err, "bus_call",
		    "a scope that never leaves its inactive state");
	ok(strstr(err.message, "not active") != NULL, "the message carries systemd's words");
	kid_end(kid);

	fake = fake_start(FAKE_OK);
	memset(&err, 0, sizeof(err));
	is_int(et_scope_stop(ID, &err), 0, "scope stopped through the manager");
	rec = slurp(RECORD);
	ok(count_of(rec, "STOP") == 1 && strstr(rec, "STRING \"" SCOPE "\";") && strstr(rec, "STRING \"replace\";"),
	   "StopUnit(scope, \"replace\")");
	fake_stop(fake);

	cgroup_teardown();
}

static void test_fake_manager(void)
{
	struct et_err err;
	time_t later = time(NULL) + 3600, t0;
	char calendar[64], want[128];
	struct tm tm;
	pid_t bus_pid, fake;
	const char *rec;
	int r;

	bus_pid = dbus_daemon_start();
	if (!ok(bus_pid > 0, "a private dbus-daemon runs"))
		return;
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=" BUS_PATH, 1);

	memset(&err, 0, sizeof(err));
	r = et_timer_schedule(ID, later, HELPER, &err);
	if (!ok(r == 1, "a bus without systemd on it: schedule 1"))
		tap_diag("%d %s: %s", r, err.reason, err.message);
	is_int(et_timer_cancel(ID, &err), 0, "a bus without systemd on it: cancel 0");
	is_int(et_timer_schedule_warning(ID, later, HELPER, &err), 1, "a bus without systemd on it: warning 1");
	is_int(et_scope_attach(ID, getpid(), &err), 1, "a bus without systemd on it: scope attach 1");
	is_int(et_scope_stop(ID, &err), 0, "a bus without systemd on it: scope stop 0");

	/* the request, as systemd would receive it */
	fake = fake_start(FAKE_OK);
	ok(fake > 0, "the fake manager owns org.freedesktop.systemd1");
	memset(&err, 0, sizeof(err));
	r = et_timer_schedule(ID, later, HELPER, &err);
	if (!ok(r == 0, "scheduled through the manager"))
		tap_diag("%s: %s", err.reason, err.message);
	gmtime_r(&later, &tm);
	strftime(calendar, sizeof(calendar), "%Y-%m-%d %H:%M:%S UTC", &tm);
	rec = slurp(RECORD);
	is_int(count_of(rec, "START"), 1, "one StartTransientUnit call");
	ok(strstr(rec, "STRING \"entra-tap-revoke-" ID ".timer\";") != NULL, "the timer is named from the id");
	ok(strstr(rec, "STRING \"fail\";") != NULL, "job mode fail");
	ok(strstr(rec, "STRING \"TimersCalendar\";") && strstr(rec, "STRING \"OnCalendar\";"),
	   "the expiry is an OnCalendar= entry of TimersCalendar");
	snprintf(want, sizeof(want), "STRING \"%s\";", calendar);
	if (!ok(strstr(rec, want) != NULL, "OnCalendar is the absolute UTC expiry (%s)", calendar))
		tap_diag("%s", rec);
	ok(strstr(rec, "STRING \"AccuracyUSec\";") && strstr(rec, "UINT64 1;"), "AccuracySec=1us: exact");
	ok(strstr(rec, "STRING \"RemainAfterElapse\";") && strstr(rec, "BOOLEAN false;"), "RemainAfterElapse=no");
	ok(!strstr(rec, "OnActiveSec") && !strstr(rec, "TimersMonotonic"), "no monotonic timer");
	ok(strstr(rec, "STRING \"entra-tap-revoke-" ID ".service\";") != NULL, "the service is an auxiliary unit");
	ok(strstr(rec, "STRING \"Type\";") && strstr(rec, "STRING \"oneshot\";"), "the service is Type=oneshot");
	ok(strstr(rec, "STRING \"ExecStart\";") &&
		   strstr(rec, "STRING \"" HELPER "\";\n") && strstr(rec, "STRING \"revoke\";") &&
		   count_of(rec, "STRING \"" ID "\";") == 1,
	   "ExecStart runs '" HELPER " revoke <id>'");
	ok(count_of(rec, "STRING \"CollectMode\";") == 2, "both units are collected even when they failed");
	ok(strstr(rec, "STRING \"SuccessExitStatus\";") && strstr(rec, "INT32 4;"),
	   "the helper's 'not found' (the grant already ended) is a success for the service");

	unlink(RECORD);
	memset(&err, 0, sizeof(err));
	is_int(et_timer_cancel(ID, &err), 0, "cancel through the manager");
	rec = slurp(RECORD);
	ok(count_of(rec, "STOP") == 2 && strstr(rec, "STRING \"entra-tap-revoke-" ID ".timer\";") &&
		   strstr(rec, "STRING \"entra-tap-warn-" ID ".timer\";") && count_of(rec, "STRING \"replace\";") == 2,
	   "cancel stops the revocation and the warning timer (mode replace)");
	ok(!strstr(rec, ".service"), "cancel leaves the services alone (one may be the caller)");

	/* the warning timer: the same shape, its own names, verb and accuracy */
	unlink(RECORD);
	memset(&err, 0, sizeof(err));
	r = et_timer_schedule_warning(ID, later, "/usr/libexec/entra-tap-warn", &err);
	if (!ok(r == 0, "a warning scheduled through the manager"))
		tap_diag("%s: %s", err.reason, err.message);
	rec = slurp(RECORD);
	is_int(count_of(rec, "START"), 1, "one StartTransientUnit call");
	ok(strstr(rec, "STRING \"entra-tap-warn-" ID ".timer\";") && strstr(rec, "STRING \"entra-tap-warn-" ID ".service\";"),
	   "the warning's timer and service are named from the id");
	ok(strstr(rec, want) != NULL, "its OnCalendar is the absolute UTC instant");
	ok(strstr(rec, "STRING \"AccuracyUSec\";") && strstr(rec, "UINT64 1000000;"), "the warning has AccuracySec=1s");
	ok(strstr(rec, "STRING \"/usr/libexec/entra-tap-warn\";\n") && strstr(rec, "STRING \"warn\";") &&
		   !strstr(rec, "STRING \"revoke\";") && count_of(rec, "STRING \"" ID "\";") == 1,
	   "ExecStart runs '<program> warn <id>'");
	ok(strstr(rec, "STRING \"oneshot\";") && strstr(rec, "STRING \"RemainAfterElapse\";") &&
		   count_of(rec, "STRING \"CollectMode\";") == 2,
	   "a oneshot service; the timer does not remain; both are collected");
	ok(strstr(rec, "Expiry warning of Entra TAP elevation grant " ID) != NULL, "the warning timer's description");
	fake_stop(fake);

	/* the same grant again: the old timer is stopped, then the new one started */
	fake = fake_start(FAKE_EXISTS_ONCE);
	memset(&err, 0, sizeof(err));
	r = et_timer_schedule(ID, later, HELPER, &err);
	if (!ok(r == 0, "an existing timer of the grant is replaced"))
		tap_diag("%s: %s", err.reason, err.message);
	rec = slurp(RECORD);
	is_int(count_of(rec, "START"), 2, "two start attempts");
	ok(strstr(rec, "START") < strstr(rec, "STOP") && strstr(rec, "STOP") < strstr(strstr(rec, "START") + 5, "START"),
	   "start, stop the old timer, start again");
	fake_stop(fake);

	fake = fake_start(FAKE_EXISTS_ONCE);
	memset(&err, 0, sizeof(err));
	r = et_timer_schedule_warning(ID, later, HELPER, &err);
	if (!ok(r == 0, "an existing warning timer of the grant is replaced"))
		tap_diag("%s: %s", err.reason, err.message);
	rec = slurp(RECORD);
	ok(count_of(rec, "START") == 2 && count_of(rec, "STOP") == 1 &&
		   count_of(rec, "STRING \"entra-tap-warn-" ID ".timer\";") == 3,
	   "start, stop the old warning timer, start again");
	fake_stop(fake);

	fake = fake_start(FAKE_EXISTS_ALWAYS);
	memset(&err, 0, sizeof(err));
	t0 = time(NULL);
	r = et_timer_schedule(ID, later, HELPER, &err);
	expect_fail(r, &err, "unit_exists", "a unit that never goes away");
	ok(time(NULL) - t0 <= 4, "and the wait for it is bounded");
	fake_stop(fake);

	fake = fake_start(FAKE_INVALID);
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, later, HELPER, &err), &err, "bus_call", "systemd rejects the request");
	ok(strstr(err.message, "not supported") != NULL, "the message carries systemd's words");
	fake_stop(fake);

	fake = fake_start(FAKE_STOP_NO_SUCH_UNIT);
	memset(&err, 0, sizeof(err));
	is_int(et_timer_cancel(ID, &err), 0, "cancel of a timer that is gone: NoSuchUnit is success");
	is_int(et_scope_stop(ID, &err), 0, "stop of a scope that is gone: NoSuchUnit is success");
	fake_stop(fake);

	fake = fake_start(FAKE_STOP_DENIED);
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_cancel(ID, &err), &err, "bus_call", "cancel refused by the manager");
	is_int(count_of(slurp(RECORD), "STOP"), 2, "the warning timer is still asked to stop");
	memset(&err, 0, sizeof(err));
	expect_fail(et_scope_stop(ID, &err), &err, "bus_call", "scope stop refused by the manager");
	fake_stop(fake);

	fake = fake_start(FAKE_SILENT);
	memset(&err, 0, sizeof(err));
	t0 = time(NULL);
	expect_fail(et_timer_schedule(ID, later, HELPER, &err), &err, "bus_call", "a manager that never answers");
	ok(time(NULL) - t0 <= 7, "the call gives up after the bus timeout (%lds)", (long)(time(NULL) - t0));
	fake_stop(fake);

	test_fake_scope();
	kill(bus_pid, SIGTERM);
	waitpid(bus_pid, NULL, 0);
}

int main(void)
{
	tap_require_root();
	test_names();
	test_bad_input();

	/* everything below happens under a private /run */
	if (!ok(unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
			mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") == 0,
		"a private mount namespace with an empty /run"))
		return tap_done();
	test_without_systemd();
	test_fake_manager();
	return tap_done();
}
