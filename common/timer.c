/* SPDX-License-Identifier: Apache-2.0 */
/* Per-grant transient systemd units. Two timers, each one StartTransientUnit call that creates
 *   entra-tap-revoke-<id>.timer   OnCalendar=<absolute UTC expiry>, AccuracySec=1us,
 *                                 RemainAfterElapse=no
 *   entra-tap-revoke-<id>.service Type=oneshot, ExecStart=<helper> revoke <id>
 * and likewise entra-tap-warn-<id>.timer / .service (<program> warn <id>, AccuracySec=1s),
 * and the scope entra-tap-grant-<id>.scope that holds the grant's elevated sessions.
 * The calendar spec is a wall-clock instant: unlike a monotonic OnActiveSec= it also fires
 * when the machine slept through the expiry (it elapses right after resume).
 *
 * As root we talk to systemd's private socket first (as systemctl does): it works before
 * dbus-daemon runs and in minimal containers. Otherwise the system bus. No systemd at all
 * is not an error: the caller is told (return 1) and relies on the sweep and the account
 * check. Every bus call is bounded by ET_TIMER_BUS_TIMEOUT_USEC. */
#include "timer.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>

#define ET_TIMER_BUS_TIMEOUT_USEC (5ULL * 1000000ULL)
/* How late systemd may fire a timer. It wakes anywhere in [instant, instant + accuracy], at a
 * spot within the window derived from the boot id (so that timers of the whole machine
 * coalesce): with 1 s, a grant outlived its expiry by up to a second, the same fraction on
 * every grant of a boot. 1 us makes the revocation exact. */
#define ET_TIMER_ACCURACY_USEC 1ULL
/* A warning may come a little late; let systemd coalesce its wake-up. */
#define ET_WARN_ACCURACY_USEC (1ULL * 1000000ULL)
/* The revoke service is a short file edit; anything longer is stuck. */
#define ET_TIMER_SERVICE_TIMEOUT_USEC (120ULL * 1000000ULL)
#define ET_TIMER_ID_LEN 32
/* Replacing an existing timer of the same grant: how long to wait for systemd to unload the
 * old units after stopping them (polls of 50 ms). The same bound for a scope that is being
 * unloaded while a new session attaches to it. */
#define ET_TIMER_REPLACE_TRIES 40
/* After the move, how long to wait for /proc/<pid>/cgroup to show the scope (polls). */
#define ET_SCOPE_WAIT_POLLS 200
#define ET_SCOPE_WAIT_POLL_USEC (10 * 1000)

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_IFACE "org.freedesktop.systemd1.Manager"
#define SD_PRIVATE_ADDRESS "unix:path=/run/systemd/private"

/* The grant id is 128 random bits as 32 lowercase hex digits; nothing else reaches a unit
 * name or a command line. */
static bool grant_id_ok(const char *id)
{
	size_t i;
	if (!id)
		return false;
	for (i = 0; id[i]; i++) {
		if (i >= ET_TIMER_ID_LEN)
			return false;
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	return i == ET_TIMER_ID_LEN;
}

static bool helper_path_ok(const char *p)
{
	size_t i;
	if (!p || p[0] != '/')
		return false;
	for (i = 0; p[i]; i++) {
		unsigned char c = (unsigned char)p[i];
		if (i >= PATH_MAX || c < 0x20 || c == 0x7f || c == '\\' || c == '%' || c == '$' || c == ' ')
			return false;
		/* no "." or ".." components, no "//": systemd wants a normalised path */
		if (c == '/' && (p[i + 1] == '/' ||
				 (p[i + 1] == '.' && (p[i + 2] == '/' || p[i + 2] == '\0' ||
						      (p[i + 2] == '.' && (p[i + 3] == '/' || p[i + 3] == '\0'))))))
			return false;
	}
	return p[i - 1] != '/';
}

/* What differs between a grant's two timers; everything else is shared. */
struct timer_kind {
	const char *prefix;	  /* of both unit names */
	const char *verb;	  /* the service runs `<program> <verb> <id>` */
	const char *timer_what;	  /* "<timer_what> Entra TAP elevation grant <id>" */
	const char *service_what; /* likewise for the service */
	uint64_t accuracy_usec;
};

static const struct timer_kind revoke_kind = {
	ET_TIMER_UNIT_PREFIX, "revoke", "Expiry of", "Revoke", ET_TIMER_ACCURACY_USEC,
};
static const struct timer_kind warn_kind = {
	ET_WARN_UNIT_PREFIX, "warn", "Expiry warning of", "Warn of the expiry of", ET_WARN_ACCURACY_USEC,
};

static void unit_names(const struct timer_kind *k, const char *id, char timer[static 64], char service[static 64])
{
	snprintf(timer, 64, "%s%s.timer", k->prefix, id);
	snprintf(service, 64, "%s%s.service", k->prefix, id);
}

void et_scope_unit_name(const char *grant_id, char buf[64])
{
	snprintf(buf, 64, "%s%s.scope", ET_SCOPE_UNIT_PREFIX, grant_id ? grant_id : "");
}

/* 1: systemd is not there (not booted with systemd, or nobody answers on any bus). */
static int bus_connect(sd_bus **ret_bus)
{
	sd_bus *bus = NULL;
	int r;

	if (sd_booted() <= 0)
		return 1;
	if (geteuid() == 0) {
		struct stat st;
		if (stat("/run/systemd/private", &st) == 0 && S_ISSOCK(st.st_mode) && sd_bus_new(&bus) >= 0) {
			if (sd_bus_set_address(bus, SD_PRIVATE_ADDRESS) >= 0 && sd_bus_start(bus) >= 0)
				goto connected;
			bus = sd_bus_flush_close_unref(bus);
		}
	}
	r = sd_bus_open_system(&bus);
	if (r < 0)
		return 1;
connected:
	(void)sd_bus_set_method_call_timeout(bus, ET_TIMER_BUS_TIMEOUT_USEC);
	*ret_bus = bus;
	return 0;
}

/* The bus is there but the manager is not on it (a container with dbus but no systemd).
 * dbus-daemon then tries to activate it: systemd ships an activation file whose Exec= is
 * /bin/false, so that fails with one of the Spawn errors. */
static bool error_is_no_manager(const sd_bus_error *e)
{
	static const char spawn[] = "org.freedesktop.DBus.Error.Spawn.";
	if (sd_bus_error_has_names(e, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
				   SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_METHOD))
		return true;
	return e && e->name && strncmp(e->name, spawn, sizeof(spawn) - 1) == 0;
}

static int stop_unit(sd_bus *bus, const char *name, sd_bus_error *e)
{
	sd_bus_message *reply = NULL;
	int r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_IFACE, "StopUnit", e, &reply, "ss", name, "replace");
	sd_bus_message_unref(reply);
	if (r < 0 && sd_bus_error_has_names(e, "org.freedesktop.systemd1.NoSuchUnit",
					    "org.freedesktop.systemd1.LoadFailed")) {
		sd_bus_error_free(e);
		return 0;
	}
	return r;
}

static int build_start_call(sd_bus *bus, const struct timer_kind *k, const char *id, const char *timer,
			    const char *service, const char *calendar, const char *program, sd_bus_message **ret_m)
{
	sd_bus_message *m = NULL;
	char desc_timer[128], desc_service[128];
	int r;

	snprintf(desc_timer, sizeof(desc_timer), "%s Entra TAP elevation grant %s", k->timer_what, id);
	snprintf(desc_service, sizeof(desc_service), "%s Entra TAP elevation grant %s", k->service_what, id);

	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_IFACE, "StartTransientUnit");
	if (r < 0)
		goto fail;
	r = sd_bus_message_append(m, "ss", timer, "fail");
	if (r < 0)
		goto fail;

	/* the timer */
	r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "Description", "s", desc_timer);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "TimersCalendar", "a(ss)", 1, "OnCalendar", calendar);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "AccuracyUSec", "t", k->accuracy_usec);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "RemainAfterElapse", "b", 0);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r < 0)
		goto fail;

	/* its service, as the one auxiliary unit */
	r = sd_bus_message_open_container(m, 'a', "(sa(sv))");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'r', "sa(sv)");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", service);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "Description", "s", desc_service);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "Type", "s", "oneshot");
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "ExecStart", "a(sasb)", 1, program, 3, program, k->verb, id, 0);
	/* The grant may already be gone when the timer fires (dropped, or ended by the sweep at
	 * the same instant): the program then says "not found", which is not a failure here. */
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "SuccessExitStatus", "(aiai)", 1, (int32_t)ET_TIMER_REVOKE_GONE_STATUS, 0);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "TimeoutStartUSec", "t",
					  (uint64_t)ET_TIMER_SERVICE_TIMEOUT_USEC);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
	if (r >= 0)
		r = sd_bus_message_close_container(m); /* a(sv) */
	if (r >= 0)
		r = sd_bus_message_close_container(m); /* r */
	if (r >= 0)
		r = sd_bus_message_close_container(m); /* a */
	if (r < 0)
		goto fail;
	*ret_m = m;
	return 0;
fail:
	sd_bus_message_unref(m);
	return r;
}

/* Send the StartTransientUnit request m for unit (r: how building m went). Returns 0 when
 * systemd took it, 1 when there is no systemd, 2 when the unit exists and this was not the
 * last try (the caller makes room or attaches, and tries again), -1 on errors (err set;
 * UnitExists on the last try is ET_E_UNIT_EXISTS). */
static int start_transient(sd_bus *bus, int r, sd_bus_message *m, const char *unit, bool last_try,
			   struct et_err *err)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int ret;

	if (r < 0)
		return et_err_set(err, ET_E_BUS_MESSAGE, "Cannot build the systemd request for %s: %s.", unit,
				  strerror(-r));
	r = sd_bus_call(bus, m, 0, &e, NULL);
	if (r >= 0)
		ret = 0;
	else if (error_is_no_manager(&e))
		ret = 1;
	else if (sd_bus_error_has_name(&e, "org.freedesktop.systemd1.UnitExists") && !last_try)
		ret = 2;
	else
		ret = et_err_set(err, sd_bus_error_has_name(&e, "org.freedesktop.systemd1.UnitExists") ?
					      ET_E_UNIT_EXISTS : ET_E_BUS_CALL,
				 "systemd refused to start %s: %s.", unit, e.message ? e.message : strerror(-r));
	sd_bus_error_free(&e);
	return ret;
}

/* et_timer_schedule and et_timer_schedule_warning: one timer kind at the instant `at`. */
static int schedule(const struct timer_kind *k, const char *grant_id, time_t at, const char *program,
		    struct et_err *err)
{
	sd_bus *bus = NULL;
	sd_bus_message *m = NULL;
	char timer[64], service[64], calendar[64];
	struct tm tm;
	int r, tries;

	if (!grant_id_ok(grant_id))
		return et_err_set(err, ET_E_BAD_GRANT_ID, "A grant id must be 32 lowercase hexadecimal digits.");
	if (!helper_path_ok(program))
		return et_err_set(err, ET_E_BAD_HELPER_PATH,
				  "The %s command must be a normalised absolute path without spaces or specials.",
				  k->verb);
	/* OnCalendar= has one-second resolution; an instant in the current second or earlier
	 * would never elapse, so the caller acts now (or skips the warning) instead. */
	if (at <= time(NULL))
		return et_err_set(err, ET_E_EXPIRED, "The %s instant of grant %s has passed: no timer to set.",
				  k->verb, grant_id);
	if (!gmtime_r(&at, &tm) || tm.tm_year + 1900 > 9999 ||
	    strftime(calendar, sizeof(calendar), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		return et_err_set(err, ET_E_BAD_EXPIRY, "The %s instant of grant %s is out of range.", k->verb,
				  grant_id);
	unit_names(k, grant_id, timer, service);

	if (bus_connect(&bus) > 0)
		return 1;

	for (tries = 0;; tries++) {
		/* A message is sealed by the call that sent it; every attempt needs a fresh one. */
		m = sd_bus_message_unref(m);
		r = build_start_call(bus, k, grant_id, timer, service, calendar, program, &m);
		r = start_transient(bus, r, m, timer, tries >= ET_TIMER_REPLACE_TRIES, err);
		if (r != 2)
			break;
		/* A timer of this kind exists for the grant (a new instant for the same grant): stop
		 * it, wait for systemd to unload it, and start the new one. The service is left
		 * alone: if it is running it is acting on this grant right now. */
		if (tries == 0) {
			sd_bus_error se = SD_BUS_ERROR_NULL;
			if (stop_unit(bus, timer, &se) < 0) {
				r = et_err_set(err, ET_E_BUS_CALL, "Cannot stop the old %s: %s.", timer,
					       se.message ? se.message : "unknown error");
				sd_bus_error_free(&se);
				break;
			}
		}
		usleep(50 * 1000);
	}
	sd_bus_message_unref(m);
	sd_bus_flush_close_unref(bus);
	return r;
}

int et_timer_schedule(const char *grant_id, time_t expires, const char *helper_path, struct et_err *err)
{
	return schedule(&revoke_kind, grant_id, expires, helper_path, err);
}

int et_timer_schedule_warning(const char *grant_id, time_t at, const char *program_path, struct et_err *err)
{
	return schedule(&warn_kind, grant_id, at, program_path, err);
}

/* StopUnit of each of the n units: a missing unit, and no systemd, are success. Every unit is
 * tried; the first failure is reported. */
static int stop_units(const char *const *units, size_t n, struct et_err *err)
{
	sd_bus *bus = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	size_t i;
	int r, ret = 0;

	if (bus_connect(&bus) > 0)
		return 0;
	for (i = 0; i < n; i++) {
		r = stop_unit(bus, units[i], &e);
		if (r < 0 && error_is_no_manager(&e))
			break;
		if (r < 0 && ret == 0)
			ret = et_err_set(err, ET_E_BUS_CALL, "Cannot stop %s: %s.", units[i],
					 e.message ? e.message : strerror(-r));
		sd_bus_error_free(&e);
	}
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return ret;
}

int et_timer_cancel(const char *grant_id, struct et_err *err)
{
	char timer[64], service[64], warn_timer[64], warn_service[64];
	const char *units[] = { timer, warn_timer };

	if (!grant_id_ok(grant_id))
		return et_err_set(err, ET_E_BAD_GRANT_ID, "A grant id must be 32 lowercase hexadecimal digits.");
	unit_names(&revoke_kind, grant_id, timer, service);
	unit_names(&warn_kind, grant_id, warn_timer, warn_service);
	/* Only the timers: a service runs only at its instant, and then it may be the very
	 * process that calls us (revoke from the timer), which stopping would kill mid-edit. An
	 * unreferenced inactive service is unloaded by systemd with its timer. */
	return stop_units(units, sizeof(units) / sizeof(units[0]), err);
}

/* ---- the grant's scope ---- */

/* StartTransientUnit of the scope with pid in it. */
static int build_scope_call(sd_bus *bus, const char *id, const char *scope, pid_t pid, sd_bus_message **ret_m)
{
	sd_bus_message *m = NULL;
	char desc[128];
	int r;

	snprintf(desc, sizeof(desc), "Sessions elevated by Entra TAP grant %s", id);
	r = sd_bus_message_new_method_call(bus, &m, SD_DEST, SD_PATH, SD_IFACE, "StartTransientUnit");
	if (r >= 0)
		r = sd_bus_message_append(m, "ss", scope, "fail");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "(sv)");
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "Description", "s", desc);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "PIDs", "au", 1, (uint32_t)pid);
	/* AttachProcessesToUnit refuses units whose cgroup is not delegated; the next session
	 * of the grant joins this scope that way. */
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "Delegate", "b", 1);
	/* Stopping the scope sends SIGTERM, which an interactive shell ignores: SIGHUP after it
	 * ends the shells too, as logind's session scopes do. */
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "SendSIGHUP", "b", 1);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_append(m, "a(sa(sv))", 0);
	if (r < 0) {
		sd_bus_message_unref(m);
		return r;
	}
	*ret_m = m;
	return 0;
}

/* Whether `name` is a whole component of the cgroup path in one line of /proc/<pid>/cgroup
 * ("hierarchy:controllers:path"). */
static bool cgroup_line_has(const char *line, const char *name)
{
	const char *path = strchr(line, ':'), *p;
	size_t n = strlen(name);

	if (!path || !(path = strchr(path + 1, ':')))
		return false;
	for (p = path + 1; (p = strstr(p, name)); p++)
		if (p[-1] == '/' && (p[n] == '/' || p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* 0 when /proc/<pid>/cgroup shows the scope, 1 when not yet, -1 when the process is gone. */
static int in_scope(pid_t pid, const char *scope)
{
	char path[64], line[4096];
	FILE *f;
	bool found = false;

	snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = cgroup_line_has(line, scope);
	fclose(f);
	return found ? 0 : 1;
}

/* The move is done by systemd's job for the new scope, after StartTransientUnit has answered;
 * the caller forks the session's command next, and a child forked before the move stays in
 * the old cgroup. So: wait until the kernel shows the process in the scope. */
static int wait_in_scope(pid_t pid, const char *scope, struct et_err *err)
{
	int i, r = 1;

	for (i = 0; i <= ET_SCOPE_WAIT_POLLS; i++) {
		r = in_scope(pid, scope);
		if (r <= 0)
			break;
		usleep(ET_SCOPE_WAIT_POLL_USEC);
	}
	if (r < 0)
		return et_err_set(err, ET_E_PROCESS_GONE, "Process %ld ended before it reached %s.", (long)pid, scope);
	if (r > 0)
		return et_err_set(err, ET_E_TIMEOUT, "Process %ld did not reach %s in %d ms.", (long)pid, scope,
				  ET_SCOPE_WAIT_POLLS * ET_SCOPE_WAIT_POLL_USEC / 1000);
	return 0;
}

int et_scope_attach(const char *grant_id, pid_t pid, struct et_err *err)
{
	sd_bus *bus = NULL;
	sd_bus_message *m = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char scope[64];
	int r, tries;

	if (!grant_id_ok(grant_id))
		return et_err_set(err, ET_E_BAD_GRANT_ID, "A grant id must be 32 lowercase hexadecimal digits.");
	/* 0 would mean "the caller" to systemd, 1 is init */
	if (pid <= 1)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "Process %ld cannot be moved into a grant's scope.", (long)pid);
	et_scope_unit_name(grant_id, scope);

	if (bus_connect(&bus) > 0)
		return 1;

	for (tries = 0;; tries++) {
		sd_bus_error_free(&e);
		r = sd_bus_call_method(bus, SD_DEST, SD_PATH, SD_IFACE, "AttachProcessesToUnit", &e, NULL, "ssau",
				       scope, "", 1, (uint32_t)pid);
		if (r >= 0) {
			r = 0;
			break;
		}
		if (error_is_no_manager(&e)) {
			r = 1;
			break;
		}
		/* NoSuchUnit: the grant's first session makes the scope. InvalidArgs also comes
		 * for a scope that is loaded but no longer active (its last session just ended,
		 * or it is being stopped): starting one then says UnitExists until systemd has
		 * unloaded it, and the next round makes it anew. */
		if (!sd_bus_error_has_names(&e, "org.freedesktop.systemd1.NoSuchUnit", SD_BUS_ERROR_INVALID_ARGS) ||
		    (tries >= ET_TIMER_REPLACE_TRIES &&
		     !sd_bus_error_has_name(&e, "org.freedesktop.systemd1.NoSuchUnit"))) {
			r = et_err_set(err, ET_E_BUS_CALL, "systemd refused to attach process %ld to %s: %s.",
				       (long)pid, scope, e.message ? e.message : strerror(-r));
			break;
		}
		m = sd_bus_message_unref(m);
		r = build_scope_call(bus, grant_id, scope, pid, &m);
		/* UnitExists: another session of the grant made the scope since our attach (it is
		 * attached to next round), or the old one is still being unloaded (waited for). */
		r = start_transient(bus, r, m, scope, tries >= ET_TIMER_REPLACE_TRIES, err);
		if (r != 2)
			break;
		if (tries > 0)
			usleep(50 * 1000);
	}
	sd_bus_error_free(&e);
	sd_bus_message_unref(m);
	sd_bus_flush_close_unref(bus);
	return r == 0 ? wait_in_scope(pid, scope, err) : r;
}

int et_scope_stop(const char *grant_id, struct et_err *err)
{
	char scope[64];
	const char *units[] = { scope };

	if (!grant_id_ok(grant_id))
		return et_err_set(err, ET_E_BAD_GRANT_ID, "A grant id must be 32 lowercase hexadecimal digits.");
	et_scope_unit_name(grant_id, scope);
	return stop_units(units, 1, err);
}
