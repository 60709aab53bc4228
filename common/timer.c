/* SPDX-License-Identifier: Apache-2.0 */
/* Per-grant revocation timers: one StartTransientUnit call per grant creates
 *   entra-tap-revoke-<id>.timer   OnCalendar=<absolute UTC expiry>, AccuracySec=1s,
 *                                 RemainAfterElapse=no
 *   entra-tap-revoke-<id>.service Type=oneshot, ExecStart=<helper> revoke <id>
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
#define ET_TIMER_ACCURACY_USEC (1ULL * 1000000ULL)
/* The revoke service is a short file edit; anything longer is stuck. */
#define ET_TIMER_SERVICE_TIMEOUT_USEC (120ULL * 1000000ULL)
#define ET_TIMER_ID_LEN 32
/* Replacing an existing timer of the same grant: how long to wait for systemd to unload the
 * old units after stopping them (polls of 50 ms). */
#define ET_TIMER_REPLACE_TRIES 40

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

static void unit_names(const char *id, char timer[static 64], char service[static 64])
{
	snprintf(timer, 64, "%s%s.timer", ET_TIMER_UNIT_PREFIX, id);
	snprintf(service, 64, "%s%s.service", ET_TIMER_UNIT_PREFIX, id);
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

static int build_start_call(sd_bus *bus, const char *id, const char *timer, const char *service,
			    const char *calendar, const char *helper_path, sd_bus_message **ret_m)
{
	sd_bus_message *m = NULL;
	char desc_timer[128], desc_service[128];
	int r;

	snprintf(desc_timer, sizeof(desc_timer), "Expiry of Entra TAP elevation grant %s", id);
	snprintf(desc_service, sizeof(desc_service), "Revoke Entra TAP elevation grant %s", id);

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
		r = sd_bus_message_append(m, "(sv)", "AccuracyUSec", "t", (uint64_t)ET_TIMER_ACCURACY_USEC);
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
		r = sd_bus_message_append(m, "(sv)", "ExecStart", "a(sasb)", 1, helper_path, 3, helper_path,
					  "revoke", id, 0);
	/* The grant may already be gone when the timer fires (dropped, or ended by the sweep at
	 * the same instant): the helper then says "not found", which is not a failure here. */
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

int et_timer_schedule(const char *grant_id, time_t expires, const char *helper_path, struct et_err *err)
{
	sd_bus *bus = NULL;
	sd_bus_message *m = NULL, *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char timer[64], service[64], calendar[64];
	struct tm tm;
	int r, ret = -1, tries;

	if (!grant_id_ok(grant_id))
		return et_err_set(err, ET_E_BAD_GRANT_ID, "A grant id must be 32 lowercase hexadecimal digits.");
	if (!helper_path_ok(helper_path))
		return et_err_set(err, ET_E_BAD_HELPER_PATH,
				  "The revoke command must be a normalised absolute path without spaces or specials.");
	/* OnCalendar= has one-second resolution; an instant in the current second or earlier
	 * would never elapse, so the caller revokes now instead. */
	if (expires <= time(NULL))
		return et_err_set(err, ET_E_EXPIRED, "Grant %s has already expired: no timer to set.", grant_id);
	if (!gmtime_r(&expires, &tm) || tm.tm_year + 1900 > 9999 ||
	    strftime(calendar, sizeof(calendar), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		return et_err_set(err, ET_E_BAD_EXPIRY, "The expiry time of grant %s is out of range.", grant_id);
	unit_names(grant_id, timer, service);

	r = bus_connect(&bus);
	if (r > 0)
		return 1;

	r = build_start_call(bus, grant_id, timer, service, calendar, helper_path, &m);
	if (r < 0) {
		et_err_set(err, ET_E_BUS_MESSAGE, "Cannot build the systemd request for %s: %s.", timer, strerror(-r));
		goto done;
	}

	for (tries = 0;; tries++) {
		sd_bus_error_free(&e);
		r = sd_bus_call(bus, m, 0, &e, &reply);
		if (r >= 0)
			break;
		if (error_is_no_manager(&e)) {
			ret = 1;
			goto done;
		}
		if (!sd_bus_error_has_name(&e, "org.freedesktop.systemd1.UnitExists") ||
		    tries >= ET_TIMER_REPLACE_TRIES) {
			et_err_set(err, sd_bus_error_has_name(&e, "org.freedesktop.systemd1.UnitExists") ?
						ET_E_UNIT_EXISTS : ET_E_BUS_CALL,
				   "systemd refused to start %s: %s.", timer,
				   e.message ? e.message : strerror(-r));
			goto done;
		}
		/* A timer of this grant exists (a new expiry for the same grant): stop it, wait
		 * for systemd to unload it, and start the new one. The service is left alone: if
		 * it is running it is revoking this grant right now. */
		if (tries == 0) {
			sd_bus_error se = SD_BUS_ERROR_NULL;
			if (stop_unit(bus, timer, &se) < 0) {
				et_err_set(err, ET_E_BUS_CALL, "Cannot stop the old %s: %s.", timer,
					   se.message ? se.message : "unknown error");
				sd_bus_error_free(&se);
				goto done;
			}
		}
		/* The message was sealed by the failed call; a resend needs a fresh one. */
		m = sd_bus_message_unref(m);
		r = build_start_call(bus, grant_id, timer, service, calendar, helper_path, &m);
		if (r < 0) {
			et_err_set(err, ET_E_BUS_MESSAGE, "Cannot build the systemd request for %s: %s.", timer,
				   strerror(-r));
			goto done;
		}
		usleep(50 * 1000);
	}
	ret = 0;
done:
	sd_bus_error_free(&e);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(m);
	sd_bus_flush_close_unref(bus);
	return ret;
}

int et_timer_cancel(const char *grant_id, struct et_err *err)
{
	sd_bus *bus = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char timer[64], service[64];
	int r, ret = -1;

	if (!grant_id_ok(grant_id))
		return et_err_set(err, ET_E_BAD_GRANT_ID, "A grant id must be 32 lowercase hexadecimal digits.");
	unit_names(grant_id, timer, service);

	r = bus_connect(&bus);
	if (r > 0)
		return 0;
	/* Only the timer: its service runs only at expiry, and then it may be the very process
	 * that calls us (revoke from the timer), which stopping would kill mid-edit. An
	 * unreferenced inactive service is unloaded by systemd with the timer. */
	r = stop_unit(bus, timer, &e);
	if (r < 0) {
		if (error_is_no_manager(&e)) {
			ret = 0;
			goto done;
		}
		et_err_set(err, ET_E_BUS_CALL, "Cannot stop %s: %s.", timer, e.message ? e.message : strerror(-r));
		goto done;
	}
	ret = 0;
done:
	sd_bus_error_free(&e);
	sd_bus_flush_close_unref(bus);
	return ret;
}
