/* SPDX-License-Identifier: Apache-2.0 */
/* Test driver for the timer and audit parts of the core, run inside the systemd sandbox:
 *   timer_audit_ctl schedule ID EXPIRES_UNIX HELPER_PATH   exit 0 scheduled, 3 no systemd
 *   timer_audit_ctl warn-at ID AT_UNIX PROGRAM_PATH        the warning timer; exits as schedule
 *   timer_audit_ctl cancel ID                               exit 0 cancelled (or nothing to do)
 *   timer_audit_ctl scope-attach ID PID                     exit 0 attached, 3 no systemd
 *   timer_audit_ctl scope-stop ID                           exit 0 stopped (or nothing to do)
 *   timer_audit_ctl audit EVENT PRIORITY MESSAGE [FIELD=VALUE...]
 *       EVENT is grant, revoke, ...; FIELD is grant_id, user, group, expires (unix seconds),
 *       method, upn, oid, reason, service, rhost.
 *   timer_audit_ctl message-id EVENT
 * Failures print "error: <reason>: <message>" and exit 1; usage errors exit 2. */
#include "audit.h"
#include "timer.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

static const char *const event_names[] = {
	[ET_AUDIT_AUTH_OK] = "auth_ok",	  [ET_AUDIT_AUTH_DENIED] = "auth_denied",
	[ET_AUDIT_GRANT] = "grant",	  [ET_AUDIT_REVOKE] = "revoke",
	[ET_AUDIT_REFUSED] = "refused",	  [ET_AUDIT_MEMBER_REMOVED] = "member_removed",
	[ET_AUDIT_ERROR] = "error",	  [ET_AUDIT_BREAKGLASS] = "breakglass",
	[ET_AUDIT_VOUCHER_ACCEPTED] = "voucher_accepted", [ET_AUDIT_VOUCHER_REFUSED] = "voucher_refused",
};

static int event_parse(const char *s)
{
	size_t i;
	for (i = 0; i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (strcmp(s, event_names[i]) == 0)
			return (int)i;
	return -1;
}

static int usage(void)
{
	fprintf(stderr, "usage: timer_audit_ctl schedule ID EXPIRES HELPER | warn-at ID AT PROGRAM | cancel ID | "
			"scope-attach ID PID | scope-stop ID | "
			"audit EVENT PRIO MESSAGE [FIELD=VALUE...] | message-id EVENT\n");
	return 2;
}

/* A whole decimal number, or false. */
static bool number(const char *s, long long *v)
{
	char *end;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

/* The verbs that end in a 0 / 1 (no systemd) / -1 from the core: say which, exit 0 / 3 / 1. */
static int outcome(int r, const struct et_err *err, const char *done)
{
	if (r < 0) {
		printf("error: %s: %s\n", err->reason, err->message);
		return 1;
	}
	printf("%s\n", r == 0 ? done : "no-systemd");
	return r == 0 ? 0 : 3;
}

int main(int argc, char **argv)
{
	struct et_err err = { 0 };
	int r;

	if (argc < 2)
		return usage();
	if ((strcmp(argv[1], "schedule") == 0 || strcmp(argv[1], "warn-at") == 0) && argc == 5) {
		long long at;
		if (!number(argv[3], &at))
			return usage();
		if (argv[1][0] == 's')
			return outcome(et_timer_schedule(argv[2], (time_t)at, argv[4], &err), &err, "scheduled");
		return outcome(et_timer_schedule_warning(argv[2], (time_t)at, argv[4], &err), &err, "scheduled");
	}
	if (strcmp(argv[1], "cancel") == 0 && argc == 3)
		return outcome(et_timer_cancel(argv[2], &err), &err, "cancelled");
	if (strcmp(argv[1], "scope-attach") == 0 && argc == 4) {
		long long pid;
		if (!number(argv[3], &pid))
			return usage();
		return outcome(et_scope_attach(argv[2], (pid_t)pid, &err), &err, "attached");
	}
	if (strcmp(argv[1], "scope-stop") == 0 && argc == 3)
		return outcome(et_scope_stop(argv[2], &err), &err, "stopped");
	if (strcmp(argv[1], "message-id") == 0 && argc == 3) {
		int ev = event_parse(argv[2]);
		if (ev < 0)
			return usage();
		printf("%s\n", et_audit_message_id((enum et_audit_event)ev));
		return 0;
	}
	if (strcmp(argv[1], "audit") == 0 && argc >= 5) {
		struct et_audit a;
		int ev = event_parse(argv[2]), i;
		/* FIELD=VALUE arguments naming a string member of a (expires is a number) */
		const struct {
			const char *name;
			const char **value;
		} fields[] = {
			{ "grant_id", &a.grant_id }, { "user", &a.user }, { "group", &a.group },
			{ "method", &a.method }, { "upn", &a.upn }, { "oid", &a.oid },
			{ "reason", &a.reason }, { "service", &a.service }, { "rhost", &a.rhost },
			{ "pim_assignment", &a.pim_assignment },
		};
		memset(&a, 0, sizeof(a));
		if (ev < 0)
			return usage();
		for (i = 5; i < argc; i++) {
			char *eq = strchr(argv[i], '=');
			size_t k;
			if (!eq)
				return usage();
			*eq = '\0';
			if (strcmp(argv[i], "expires") == 0) {
				a.expires = (time_t)strtoll(eq + 1, NULL, 10);
				continue;
			}
			if (strcmp(argv[i], "pim_end") == 0) {
				a.pim_end = (time_t)strtoll(eq + 1, NULL, 10);
				continue;
			}
			if (strcmp(argv[i], "graph_checked") == 0 || strcmp(argv[i], "graph_matched") == 0) {
				*(argv[i][6] == 'c' ? &a.graph_checked : &a.graph_matched) = strtol(eq + 1, NULL, 10);
				continue;
			}
			for (k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
				if (strcmp(argv[i], fields[k].name) == 0)
					break;
			if (k == sizeof(fields) / sizeof(fields[0]))
				return usage();
			*fields[k].value = eq + 1;
		}
		r = et_audit((enum et_audit_event)ev, atoi(argv[3]), &a, "%s", argv[4]);
		if (r < 0) {
			printf("error: journal: %s\n", strerror(-r));
			return 1;
		}
		printf("sent\n");
		return 0;
	}
	return usage();
}
