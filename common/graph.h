/* SPDX-License-Identifier: Apache-2.0 */
/* Microsoft Graph, for the two questions a token alone cannot answer:
 *
 *   group overage   a user in more than 200 groups gets _claim_names / _claim_sources instead
 *                   of "groups": POST {graph_url}/v1.0/me/checkMemberGroups with
 *                   {"groupIds": [...]} (at most ET_GRAPH_CHECK_BATCH ids per request) says
 *                   which of the eligible groups the signed-in user is a member of.
 *                   Delegated permission: User.Read (least privileged for the signed-in
 *                   user's own memberships).
 *   PIM for Groups  GET {graph_url}/v1.0/identityGovernance/privilegedAccess/group/
 *                   assignmentScheduleInstances/filterByCurrentUser(on='principal'), pages
 *                   followed through @odata.nextLink, says which group memberships are
 *                   assigned or activated right now and until when. Delegated permission:
 *                   PrivilegedAssignmentSchedule.Read.AzureADGroup.
 *
 * The access token is the token endpoint's access_token for Graph: opaque here (never parsed
 * or verified: Graph does that), sent only to {graph_url} over verified TLS, never logged or
 * stored, and wiped by the caller once Graph has answered. A @odata.nextLink that leaves
 * {graph_url} is refused, so the token never goes anywhere else.
 *
 * Every request is bounded by http_timeout (http.h) and every answer by ET_HTTP_MAX_BODY;
 * every failure fails closed. Reasons: "graph_unavailable" (network, TLS, timeout, 5xx, 429),
 * "graph_refused" (401: the token was refused; 403: a permission has no consent),
 * "graph_error" (anything else Graph answered that we cannot use), "pim_not_active",
 * "pim_permanent", "no_memory", "bad_argument". */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "conf.h"
#include "err.h"
#include "strlist.h"

#define ET_GRAPH_CHECK_BATCH 20 /* checkMemberGroups takes at most 20 ids per request */
#define ET_GRAPH_PIM_PAGES_MAX 50 /* @odata.nextLink followed at most this many times */
#define ET_GRAPH_NEXT_LINK_MAX 4096
#define ET_GRAPH_GUID_LEN 36

/* The scopes asked for at sign-in: {graph_url}/User.Read, and with pim also
 * {graph_url}/PrivilegedAssignmentSchedule.Read.AzureADGroup. NULL (nothing extra) when
 * neither overage = graph nor pim is configured. Returns 0, or -1 (no_memory). */
int et_graph_scope(const struct et_config *cfg, char **ret_scope, struct et_err *err);

/* Counts for the audit. */
struct et_graph_groups {
	size_t checked;  /* eligible group ids sent */
	size_t matched;  /* of them, the ones Graph says the user is a member of */
	size_t requests; /* checkMemberGroups requests made */
};

/* Ask Graph which of cfg->eligible_groups the signed-in user is a member of, in batches of
 * ET_GRAPH_CHECK_BATCH. Returns 0 with *ret filled (matched may be 0: not eligible), or -1. */
int et_graph_check_member_groups(const struct et_config *cfg, const char *access_token, struct et_graph_groups *ret,
				 struct et_err *err);

/* The PIM instance that decides: the one among the caller's current member instances of an
 * eligible group that ends last (a permanent one, allowed, ends never). */
struct et_pim_instance {
	bool found;
	bool permanent;  /* no endDateTime */
	bool activated;  /* assignmentType "activated" (else "assigned") */
	time_t start;
	time_t end;      /* 0 when permanent */
	char group_id[ET_GRAPH_GUID_LEN + 1];
	/* counts for the audit */
	unsigned pages;
	unsigned instances;        /* instances seen, every kind */
	bool permanent_refused;    /* a permanent one was seen and pim_permanent = deny */
	bool expired_seen;         /* a member instance of an eligible group outside its window */
};

/* Fetch the instances (every page) and pick the one that decides. Returns 0 with ret->found,
 * or -1: "pim_not_active" (no current instance; ret still holds the counts), "pim_permanent"
 * (only a permanent one, refused), or a Graph failure. */
int et_graph_pim_check(const struct et_config *cfg, const char *access_token, time_t now, struct et_pim_instance *ret,
		       struct et_err *err);

/* ---- the parsers of Graph's answers, exposed for the fuzz harnesses and the unit tests ---- */

/* An answer of checkMemberGroups (HTTP 200 body): {"value": ["id", ...]} (other members
 * ignored). Every id must be a GUID that was asked for (asked[0..n_asked)); marks them in
 * matched[] (n_asked entries) and returns how many distinct ones, or -1 ("graph_error"). */
int et_graph_parse_member_groups(const char *body, size_t len, const char *const *asked, size_t n_asked,
				 bool *matched, struct et_err *err);

/* One page of assignmentScheduleInstances (HTTP 200 body): {"value": [instance...],
 * "@odata.nextLink": "..."}. Folds the page's instances into *acc (see et_pim_instance) for
 * cfg's eligible_groups and pim_permanent at now; *ret_next_link is the next page's URL
 * (malloc'd) or NULL. Returns 0, or -1 ("graph_error", "no_memory"). */
int et_graph_parse_pim_page(const struct et_config *cfg, const char *body, size_t len, time_t now,
			    struct et_pim_instance *acc, char **ret_next_link, struct et_err *err);

/* ISO 8601 as Graph writes it: YYYY-MM-DDTHH:MM:SS, optional fraction (1..9 digits), then Z
 * (or +00:00). Returns 0 with *ret (UTC seconds), or -1. */
int et_graph_parse_time(const char *s, time_t *ret);
