/* SPDX-License-Identifier: Apache-2.0 */
/* Audit trail in the journal. One entry per event:
 *   MESSAGE_ID        fixed per event type (explained in data/entra-tap.catalog)
 *   PRIORITY          syslog level given by the caller
 *   MESSAGE           one human line
 *   SYSLOG_IDENTIFIER entra-tap
 *   ENTRA_TAP_EVENT   auth_ok, auth_denied, grant, revoke, refused, member_removed, error,
 *                     breakglass, voucher_accepted, voucher_refused, extend, cut,
 *                     sessions_ended, config_unusable (stable names for filters that do not
 *                     know the ids)
 *   ENTRA_TAP_GRANT_ID, _USER, _GROUP, _METHOD, _UPN, _OID, _REASON, _SERVICE, _RHOST
 *   ENTRA_TAP_ERROR_CLASS   a refusal's or error's class (reasons.h): denied, unavailable, ...
 *   ENTRA_TAP_EXPIRES       the expiry as ISO 8601 UTC, "2025-01-31T12:00:00Z"
 *   ENTRA_TAP_EXPIRES_UNIX  the same instant in seconds since the epoch
 *   ENTRA_TAP_VOUCHER_KID, _JTI, _SUB, _HOSTS, _REASON   a break-glass voucher's key id, id,
 *                     user, host patterns (comma-separated) and reason; never the voucher
 *   ENTRA_TAP_ON_EXPIRY     terminate or keep: what the end of a grant did to its processes
 *   ENTRA_TAP_PROCESSES     those processes, "pid uid command" items joined by "; "
 *   ENTRA_TAP_PREVIOUS_EXPIRES_UNIX   extend, cut: the expiry before the change
 * Only the fields a caller sets are sent. Values come partly from outside (a reason typed by
 * a person, a name from a token), so each is made one printable line by et_text_sanitize
 * (text.h): control characters (C0, DEL, C1), bidirectional marks and line separators become
 * '?', invalid UTF-8 bytes become '?', and the length is capped without splitting a
 * character. The journal is the only sink here; no secret is ever passed in. */
#include "audit.h"
#include "text.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#define ET_AUDIT_VALUE_MAX 256
#define ET_AUDIT_REASON_MAX 512
#define ET_AUDIT_PROCESSES_MAX 2048
#define ET_AUDIT_MESSAGE_MAX 1024
#define ET_AUDIT_MAX_FIELDS 32
#define ET_AUDIT_JOURNAL_SOCKET "/run/systemd/journal/socket"

struct event_info {
	const char *id; /* MESSAGE_ID, generated once with systemd-id128 new */
	const char *name;
};

static const struct event_info events[] = {
	[ET_AUDIT_AUTH_OK] = { "2bc686d1058c42c2b4fbfb9283d7ecba", "auth_ok" },
	[ET_AUDIT_AUTH_DENIED] = { "0b3117621553489ea57fef62799b7a94", "auth_denied" },
	[ET_AUDIT_GRANT] = { "e910360f93c94595b7fdc1ce4b5e4c5d", "grant" },
	[ET_AUDIT_REVOKE] = { "5d1e80ce70b0461ab71bc60bf222f794", "revoke" },
	[ET_AUDIT_REFUSED] = { "1c01c3b03dae44749d33674aa24a55e9", "refused" },
	[ET_AUDIT_MEMBER_REMOVED] = { "184d09751b3d488fb8c63dde01589231", "member_removed" },
	[ET_AUDIT_ERROR] = { "07e08807229d4d98a9b07a48b10aa05c", "error" },
	[ET_AUDIT_BREAKGLASS] = { "cb49758aceb949eda10e9bcf91885058", "breakglass" },
	[ET_AUDIT_VOUCHER_ACCEPTED] = { "c0f27d581ec74309a90293f728bc6bf0", "voucher_accepted" },
	[ET_AUDIT_VOUCHER_REFUSED] = { "625797ee7d6b4422ae1b0c526b12eda5", "voucher_refused" },
	[ET_AUDIT_EXTEND] = { "2dc0125e7b5b46f194882852ef483526", "extend" },
	[ET_AUDIT_CUT] = { "8372ee4781e24da88aea577b5fef8d15", "cut" },
	[ET_AUDIT_SESSIONS_ENDED] = { "1ab98710454c4bd49ffc1df482f41bc5", "sessions_ended" },
	[ET_AUDIT_CONFIG_UNUSABLE] = { "31a2fd8a8e7141ed948f0b37a6058f6a", "config_unusable" },
};

#define N_EVENTS (sizeof(events) / sizeof(events[0]))

const char *et_audit_message_id(enum et_audit_event ev)
{
	if ((unsigned)ev >= N_EVENTS)
		return NULL;
	return events[ev].id;
}

struct fields {
	struct iovec iov[ET_AUDIT_MAX_FIELDS];
	size_t n;
	char arena[ET_AUDIT_MESSAGE_MAX + 3 * ET_AUDIT_REASON_MAX + ET_AUDIT_PROCESSES_MAX +
		   ET_AUDIT_MAX_FIELDS * (ET_AUDIT_VALUE_MAX + 32)];
	size_t used;
};

/* Append NAME=value (value sanitised, capped at max bytes). Silently drops a field only
 * when the fixed arena would overflow, which the sizes above rule out. */
static void field_add(struct fields *f, const char *name, const char *value, size_t max)
{
	size_t room = sizeof(f->arena) - f->used, nl = strlen(name), vl;
	char *p = f->arena + f->used;

	if (!value || f->n >= ET_AUDIT_MAX_FIELDS || room < nl + 2 + 1)
		return;
	memcpy(p, name, nl);
	p[nl] = '=';
	vl = et_text_sanitize(value, p + nl + 1, room - nl - 1 < max + 1 ? room - nl - 1 : max + 1);
	f->iov[f->n].iov_base = p;
	f->iov[f->n].iov_len = nl + 1 + vl;
	f->n++;
	f->used += nl + 1 + vl + 1;
}

/* NAME=the instant t as ISO 8601 UTC, "2025-01-31T12:00:00Z" (nothing when t cannot be shown) */
static void field_time(struct fields *f, const char *name, time_t t)
{
	char iso[32];
	struct tm tm;
	if (gmtime_r(&t, &tm) && strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		field_add(f, name, iso, ET_AUDIT_VALUE_MAX);
}

/* NAME=v in decimal */
static void field_num(struct fields *f, const char *name, long long v)
{
	char num[32];
	snprintf(num, sizeof(num), "%lld", v);
	field_add(f, name, num, ET_AUDIT_VALUE_MAX);
}

int et_audit(enum et_audit_event ev, int priority, const struct et_audit *a, const char *fmt, ...)
{
	struct fields f;
	char msg[ET_AUDIT_MESSAGE_MAX + 1];
	struct stat st;
	va_list ap;
	int r;

	if ((unsigned)ev >= N_EVENTS || priority < LOG_EMERG || priority > LOG_DEBUG)
		return -EINVAL;
	/* sd_journal_sendv() silently succeeds when journald is absent; callers want to know. */
	if (stat(ET_AUDIT_JOURNAL_SOCKET, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;

	f.n = 0;
	f.used = 0;
	field_add(&f, "MESSAGE_ID", events[ev].id, ET_AUDIT_VALUE_MAX);
	field_num(&f, "PRIORITY", priority);
	field_add(&f, "SYSLOG_IDENTIFIER", "entra-tap", ET_AUDIT_VALUE_MAX);
	field_add(&f, "ENTRA_TAP_EVENT", events[ev].name, ET_AUDIT_VALUE_MAX);

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	} else {
		snprintf(msg, sizeof(msg), "entra-tap %s", events[ev].name);
	}
	field_add(&f, "MESSAGE", msg, ET_AUDIT_MESSAGE_MAX);

	if (a) {
		field_add(&f, "ENTRA_TAP_GRANT_ID", a->grant_id, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_USER", a->user, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_GROUP", a->group, ET_AUDIT_VALUE_MAX);
		if (a->expires > 0) {
			field_time(&f, "ENTRA_TAP_EXPIRES", a->expires);
			field_num(&f, "ENTRA_TAP_EXPIRES_UNIX", (long long)a->expires);
		}
		field_add(&f, "ENTRA_TAP_METHOD", a->method, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_UPN", a->upn, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_OID", a->oid, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_REASON", a->reason, ET_AUDIT_REASON_MAX);
		field_add(&f, "ENTRA_TAP_ERROR_CLASS", a->error_class, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_SERVICE", a->service, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_RHOST", a->rhost, ET_AUDIT_VALUE_MAX);
		/* zero-initialised callers that never asked Graph leave these unset (0 and 0) */
		if (a->graph_checked > 0) {
			field_num(&f, "ENTRA_TAP_GRAPH_CHECKED", a->graph_checked);
			field_num(&f, "ENTRA_TAP_GRAPH_MATCHED", a->graph_matched);
		}
		field_add(&f, "ENTRA_TAP_PIM_ASSIGNMENT", a->pim_assignment, ET_AUDIT_VALUE_MAX);
		if (a->pim_end > 0)
			field_time(&f, "ENTRA_TAP_PIM_END", a->pim_end);
		field_add(&f, "ENTRA_TAP_VOUCHER_KID", a->voucher_kid, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_VOUCHER_JTI", a->voucher_jti, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_VOUCHER_SUB", a->voucher_sub, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_VOUCHER_HOSTS", a->voucher_hosts, ET_AUDIT_REASON_MAX);
		field_add(&f, "ENTRA_TAP_VOUCHER_REASON", a->voucher_reason, ET_AUDIT_REASON_MAX);
		field_add(&f, "ENTRA_TAP_ON_EXPIRY", a->on_expiry, ET_AUDIT_VALUE_MAX);
		field_add(&f, "ENTRA_TAP_PROCESSES", a->processes, ET_AUDIT_PROCESSES_MAX);
		if (a->previous_expires)
			field_num(&f, "ENTRA_TAP_PREVIOUS_EXPIRES_UNIX", (long long)a->previous_expires);
	}

	r = sd_journal_sendv(f.iov, (int)f.n);
	return r < 0 ? r : 0;
}
