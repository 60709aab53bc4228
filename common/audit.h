/* SPDX-License-Identifier: Apache-2.0 */
/* Audit trail: one structured journal entry per event, with a fixed MESSAGE_ID per event
 * type (catalog in data/entra-tap.catalog). Never a secret. */
#pragma once
#include <time.h>

enum et_audit_event {
	ET_AUDIT_AUTH_OK,       /* a sign-in was verified */
	ET_AUDIT_AUTH_DENIED,   /* a sign-in was refused (reason) */
	ET_AUDIT_GRANT,         /* a grant was created */
	ET_AUDIT_REVOKE,        /* a grant ended (cause: expiry, drop, admin, sweep, account, login_failed) */
	ET_AUDIT_REFUSED,       /* a request was refused (not root, policy, expired grant at account check) */
	ET_AUDIT_MEMBER_REMOVED,/* sweep removed a member without a live grant */
	ET_AUDIT_ERROR,         /* an operational error */
	ET_AUDIT_BREAKGLASS,    /* break-glass access used */
	ET_AUDIT_VOUCHER_ACCEPTED, /* a break-glass voucher was accepted and recorded as redeemed */
	ET_AUDIT_VOUCHER_REFUSED,  /* a break-glass voucher was refused (reason) */
	ET_AUDIT_EXTEND,           /* a live grant got a later expiry after a fresh sign-in */
	ET_AUDIT_CUT,              /* a live grant got an earlier expiry (duration_max was lowered) */
	ET_AUDIT_SESSIONS_ENDED,   /* what the end of a grant did to its sessions and processes */
	ET_AUDIT_CONFIG_UNUSABLE,  /* grants were ended from the last good copy or the defaults */
};

/* Any field may be NULL / 0 (then it is not sent). */
struct et_audit {
	const char *grant_id;
	const char *user;
	const char *group;
	time_t expires;
	const char *method;
	const char *upn;
	const char *oid;
	const char *reason; /* the grant's reason, or the refusal / revoke cause */
	const char *error_class; /* a refusal's or error's class: et_class_name() */
	const char *service;
	const char *rhost;
	/* Microsoft Graph (group overage, PIM for Groups) at sign-in */
	long graph_checked, graph_matched; /* eligible groups sent to checkMemberGroups / matched (0: not asked) */
	const char *pim_assignment;        /* the PIM instance's assignmentType: assigned / activated */
	time_t pim_end;                    /* its endDateTime; 0: none (or permanent) */
	/* a break-glass voucher: never the voucher itself */
	const char *voucher_kid, *voucher_jti, *voucher_sub, *voucher_hosts, *voucher_reason;
	/* the end of a grant: "terminate" or "keep", and the processes concerned as
	 * "pid uid command" items separated by "; " */
	const char *on_expiry;
	const char *processes;
	time_t previous_expires; /* extend, cut: the expiry before */
};

/* Send one entry: MESSAGE_ID of ev, PRIORITY (LOG_*), MESSAGE (formatted, human), and the
 * ENTRA_TAP_* fields of a. Returns 0, or a negative errno when the journal is unreachable
 * (callers do not fail an operation because audit failed, but they log it elsewhere). */
int et_audit(enum et_audit_event ev, int priority, const struct et_audit *a, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The 128-bit id as 32 hex chars, for tests. */
const char *et_audit_message_id(enum et_audit_event ev);
