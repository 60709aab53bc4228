/* SPDX-License-Identifier: Apache-2.0 */
/* Revocation timers without a real systemd: argument checks first, then, in a private mount
 * namespace with a tmpfs over /run, every way systemd can be absent, and a fake manager on a
 * private dbus-daemon that records the exact StartTransientUnit / StopUnit requests and
 * answers with the errors systemd gives (UnitExists, NoSuchUnit, InvalidArgs, no answer).
 * The real thing is tested in tests/integration/systemd_timer.sh. */
#include "timer.h"
#include "../tap.h"
#include "../testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>

#define ID "0123456789abcdef0123456789abcdef"
#define HELPER "/usr/sbin/entra-tap-helper"
#define BUS_PATH "/run/test-system-bus"
#define RECORD "/run/fake-manager.log"

static void expect_fail(int r, const struct et_err *err, const char *reason, const char *name)
{
	if (!ok(r == -1 && strcmp(err->reason, reason) == 0, "%s: refused with %s", name, reason))
		tap_diag("got %d reason '%s'", r, err->reason);
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
	}
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, later, NULL, &err), &err, "bad_helper_path", "NULL helper path");

	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, time(NULL), HELPER, &err), &err, "expired", "expiry in this second");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, time(NULL) - 60, HELPER, &err), &err, "expired", "expiry in the past");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, 0, HELPER, &err), &err, "expired", "expiry 0");
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_schedule(ID, (time_t)253402300800LL, HELPER, &err), &err, "bad_expiry",
		    "expiry in the year 10000");
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
};

static enum fake_mode fake_mode;
static int fake_starts;

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
	return sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/job/42");
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

	if (mkdir("/run/systemd", 0755) < 0 || mkdir("/run/systemd/system", 0755) < 0)
		abort();
	setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/run/no-such-bus", 1);
	is_int(et_timer_schedule(ID, later, HELPER, &err), 1, "booted flag but no bus at all: 1");
	is_int(et_timer_cancel(ID, &err), 0, "booted flag but no bus at all: cancel 0");

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
	ok(strstr(rec, "STRING \"AccuracyUSec\";") && strstr(rec, "UINT64 1000000;"), "AccuracySec=1s");
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
	ok(count_of(rec, "STOP") == 1 && strstr(rec, "STRING \"entra-tap-revoke-" ID ".timer\";") &&
		   strstr(rec, "STRING \"replace\";"),
	   "cancel stops the timer (mode replace)");
	ok(!strstr(rec, ".service"), "cancel leaves the service alone (it may be the caller)");
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
	fake_stop(fake);

	fake = fake_start(FAKE_STOP_DENIED);
	memset(&err, 0, sizeof(err));
	expect_fail(et_timer_cancel(ID, &err), &err, "bus_call", "cancel refused by the manager");
	fake_stop(fake);

	fake = fake_start(FAKE_SILENT);
	memset(&err, 0, sizeof(err));
	t0 = time(NULL);
	expect_fail(et_timer_schedule(ID, later, HELPER, &err), &err, "bus_call", "a manager that never answers");
	ok(time(NULL) - t0 <= 7, "the call gives up after the bus timeout (%lds)", (long)(time(NULL) - t0));
	fake_stop(fake);

	kill(bus_pid, SIGTERM);
	waitpid(bus_pid, NULL, 0);
}

int main(void)
{
	tap_require_root();
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
