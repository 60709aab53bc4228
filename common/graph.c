/* SPDX-License-Identifier: Apache-2.0 */
/* Microsoft Graph: checkMemberGroups for group overage, PIM for Groups instances.
 * See graph.h for the contract; the shapes follow Microsoft's Graph API reference
 * (user-checkmembergroups, privilegedaccessgroupassignmentscheduleinstance-filterbycurrentuser). */
#include "conf.h"
#include "graph.h"
#include "http.h"
#include "json_strict.h"
#include "text.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define GRAPH_PATH_CHECK "/v1.0/me/checkMemberGroups"
#define GRAPH_PATH_PIM                                                                                                 \
	"/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/filterByCurrentUser(on='principal')"
#define GRAPH_SCOPE_USER_READ "User.Read"
#define GRAPH_SCOPE_PIM "PrivilegedAssignmentSchedule.Read.AzureADGroup"
/* Graph's error code kept in a sentence. */
#define GRAPH_CODE_MAX 64

int et_graph_scope(const struct et_config *cfg, char **ret_scope, struct et_err *err)
{
	char *s = NULL;
	int n;

	*ret_scope = NULL;
	if (cfg->overage != ET_OVERAGE_GRAPH && !cfg->pim)
		return 0;
	if (cfg->pim)
		n = asprintf(&s, "%s/%s %s/%s", cfg->graph_url, GRAPH_SCOPE_USER_READ, cfg->graph_url, GRAPH_SCOPE_PIM);
	else
		n = asprintf(&s, "%s/%s", cfg->graph_url, GRAPH_SCOPE_USER_READ);
	if (n < 0)
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	*ret_scope = s;
	return 0;
}

static bool guid_ok(const char *s)
{
	static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		char c = s[i];
		if (shape[i] == '-') {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return s[sizeof(shape) - 1] == '\0';
}

/* Parse a 200 body into an object with a "value" array. */
static int value_array(const char *body, size_t len, const char *what, json_object **ret_doc, json_object **ret_value,
		       struct et_err *err)
{
	struct et_err jerr = { 0 };
	json_object *doc = NULL, *value = NULL;

	if (!body || et_json_parse(body, len, ET_JSON_MAX_DEPTH, &doc, &jerr) < 0)
		return et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered %s with a body that is not JSON.", what);
	if (!json_object_is_type(doc, json_type_object) || !json_object_object_get_ex(doc, "value", &value) ||
	    !json_object_is_type(value, json_type_array)) {
		json_object_put(doc);
		return et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered %s without a \"value\" array.", what);
	}
	*ret_doc = doc;
	*ret_value = value;
	return 0;
}

int et_graph_parse_member_groups(const char *body, size_t len, const char *const *asked, size_t n_asked,
				 bool *matched, struct et_err *err)
{
	json_object *doc = NULL, *value = NULL;
	size_t n, count = 0;
	int r = -1;

	if (value_array(body, len, "checkMemberGroups", &doc, &value, err) < 0)
		return -1;
	n = json_object_array_length(value);
	if (n > n_asked) {
		et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered more groups (%zu) than were asked (%zu).", n,
			   n_asked);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(value, i);
		const char *id;
		size_t j;
		if (!json_object_is_type(v, json_type_string) || !guid_ok(id = json_object_get_string(v))) {
			et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered a group that is not an object ID.");
			goto done;
		}
		for (j = 0; j < n_asked; j++)
			if (strcasecmp(asked[j], id) == 0)
				break;
		if (j == n_asked) {
			et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered a group that was not asked about.");
			goto done;
		}
		if (!matched[j]) {
			matched[j] = true;
			count++;
		}
	}
	r = (int)count;
done:
	json_object_put(doc);
	return r;
}

int et_graph_parse_time(const char *s, time_t *ret)
{
	struct tm tm = { 0 };
	int v[6];
	static const int width[6] = { 4, 2, 2, 2, 2, 2 };
	static const char after[6] = { '-', '-', 'T', ':', ':', 0 };
	const char *p = s;
	time_t t;

	if (!s)
		return -1;
	for (int f = 0; f < 6; f++) {
		v[f] = 0;
		for (int i = 0; i < width[f]; i++, p++) {
			if (*p < '0' || *p > '9')
				return -1;
			v[f] = v[f] * 10 + (*p - '0');
		}
		if (after[f] && *p++ != after[f])
			return -1;
	}
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
		if (digits < 1 || digits > 9)
			return -1;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0)
		return -1;
	if (v[0] < 1970 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 || v[5] > 60)
		return -1;
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	t = timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != v[2])
		return -1; /* 31 February */
	*ret = t;
	return 0;
}

/* A string member, or NULL (absent or null: *present false; wrong type: *bad). */
static const char *string_member(json_object *o, const char *key, bool *present, bool *bad)
{
	json_object *m = NULL;
	*present = false;
	*bad = false;
	if (!json_object_object_get_ex(o, key, &m) || json_object_is_type(m, json_type_null))
		return NULL;
	*present = true;
	if (!json_object_is_type(m, json_type_string)) {
		*bad = true;
		return NULL;
	}
	return json_object_get_string(m);
}

/* Fold one instance into acc. Instances of other groups or of ownership are ignored; a
 * malformed instance of any kind refuses the whole answer. */
static int fold_instance(const struct et_config *cfg, json_object *inst, time_t now, struct et_pim_instance *acc,
			 struct et_err *err)
{
	const char *group, *access, *type, *start_s, *end_s;
	bool present, bad, end_present, activated;
	time_t start, end = 0;

	if (!json_object_is_type(inst, json_type_object))
		return et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered a PIM instance that is not an object.");
	acc->instances++;
	group = string_member(inst, "groupId", &present, &bad);
	if (!group || !guid_ok(group))
		return et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered a PIM instance without a groupId.");
	access = string_member(inst, "accessId", &present, &bad);
	if (!access)
		return et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered a PIM instance without an accessId.");
	type = string_member(inst, "assignmentType", &present, &bad);
	if (bad)
		return et_err_set(err, ET_E_GRAPH_ERROR,
				  "Microsoft Graph answered a PIM instance with a bad assignmentType.");
	start_s = string_member(inst, "startDateTime", &present, &bad);
	if (!start_s || et_graph_parse_time(start_s, &start) < 0)
		return et_err_set(err, ET_E_GRAPH_ERROR,
				  "Microsoft Graph answered a PIM instance with a bad startDateTime.");
	end_s = string_member(inst, "endDateTime", &end_present, &bad);
	if (bad || (end_s && (et_graph_parse_time(end_s, &end) < 0 || end <= start)))
		return et_err_set(err, ET_E_GRAPH_ERROR,
				  "Microsoft Graph answered a PIM instance with a bad endDateTime.");

	if (strcmp(access, "member") != 0 || !et_strlist_contains_icase(&cfg->eligible_groups, group))
		return 0;
	activated = type && strcmp(type, "activated") == 0;
	if (now < start || (end_s && now >= end)) {
		acc->expired_seen = true;
		return 0;
	}
	if (!end_s && !cfg->pim_permanent) {
		acc->permanent_refused = true;
		return 0;
	}
	/* the one that ends last decides; a permanent one ends never */
	if (acc->found && (acc->permanent || (end_s && end <= acc->end)))
		return 0;
	acc->found = true;
	acc->permanent = !end_s;
	acc->activated = activated;
	acc->start = start;
	acc->end = end_s ? end : 0;
	snprintf(acc->group_id, sizeof(acc->group_id), "%s", group);
	for (char *c = acc->group_id; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	return 0;
}

/* The next page must stay on Graph: the access token goes with it. */
static bool next_link_ok(const struct et_config *cfg, const char *link)
{
	size_t n = strlen(cfg->graph_url);
	return strlen(link) <= ET_GRAPH_NEXT_LINK_MAX && et_https_url_ok(link, ET_GRAPH_NEXT_LINK_MAX) &&
	       strncmp(link, cfg->graph_url, n) == 0 && link[n] == '/';
}

int et_graph_parse_pim_page(const struct et_config *cfg, const char *body, size_t len, time_t now,
			    struct et_pim_instance *acc, char **ret_next_link, struct et_err *err)
{
	json_object *doc = NULL, *value = NULL;
	const char *next;
	bool present, bad;
	size_t n;
	int r = -1;

	*ret_next_link = NULL;
	if (value_array(body, len, "the PIM instances", &doc, &value, err) < 0)
		return -1;
	n = json_object_array_length(value);
	for (size_t i = 0; i < n; i++)
		if (fold_instance(cfg, json_object_array_get_idx(value, i), now, acc, err) < 0)
			goto done;
	next = string_member(doc, "@odata.nextLink", &present, &bad);
	if (bad || (next && !next_link_ok(cfg, next))) {
		et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered an @odata.nextLink outside %s.",
			   cfg->graph_url);
		goto done;
	}
	if (next) {
		*ret_next_link = strdup(next);
		if (!*ret_next_link) {
			et_err_set(err, ET_E_NO_MEMORY, "out of memory");
			goto done;
		}
	}
	r = 0;
done:
	json_object_put(doc);
	return r;
}

/* A non-200 answer: Graph's error body is {"error": {"code": "...", "message": "..."}}; only
 * the code (sanitised, short) reaches the sentence. */
static int graph_status_error(const struct et_http_resp *resp, const char *what, struct et_err *err)
{
	struct et_err jerr = { 0 };
	json_object *doc = NULL, *e = NULL;
	const char *code = NULL;
	char clean[GRAPH_CODE_MAX + 1] = "";

	if (resp->body && et_json_parse(resp->body, resp->len, ET_JSON_MAX_DEPTH, &doc, &jerr) == 0 &&
	    json_object_is_type(doc, json_type_object) && json_object_object_get_ex(doc, "error", &e) &&
	    json_object_is_type(e, json_type_object))
		code = et_json_get_string(e, "code");
	if (code)
		et_text_sanitize(code, clean, sizeof(clean));
	json_object_put(doc);
	if (resp->status == 401)
		return et_err_set(err, ET_E_GRAPH_REFUSED,
				  "Microsoft Graph refused the access token for %s (HTTP 401%s%s).", what,
				  clean[0] ? ", " : "", clean);
	if (resp->status == 403)
		return et_err_set(err, ET_E_GRAPH_REFUSED,
				  "Microsoft Graph refused %s (HTTP 403%s%s): the permission has no consent in this "
				  "tenant.",
				  what, clean[0] ? ", " : "", clean);
	if (resp->status >= 500 || resp->status == 429)
		return et_err_set(err, ET_E_GRAPH_UNAVAILABLE, "Microsoft Graph is unavailable for %s (HTTP %ld).", what,
				  resp->status);
	return et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered %s with HTTP %ld%s%s.", what, resp->status,
			  clean[0] ? ", " : "", clean);
}

static int http_failed(const struct et_err *herr, const char *what, struct et_err *err)
{
	return et_err_set(err, ET_E_GRAPH_UNAVAILABLE, "Microsoft Graph could not be asked for %s (%s): %s", what,
			  herr->reason, herr->message);
}

/* {"groupIds":["id",...]}: the ids are GUIDs (checked by the configuration), nothing to escape. */
static int check_batch(const struct et_config *cfg, const char *url, const char *access_token,
		       const char *const *ids, size_t n, size_t *ret_matched, struct et_err *err)
{
	struct et_http_resp resp = { 0 };
	struct et_err herr = { 0 };
	bool matched[ET_GRAPH_CHECK_BATCH] = { false };
	char body[32 + ET_GRAPH_CHECK_BATCH * (ET_GRAPH_GUID_LEN + 3)];
	size_t len;
	int r = -1, m;

	len = (size_t)snprintf(body, sizeof(body), "{\"groupIds\":[");
	for (size_t i = 0; i < n; i++) {
		if (!guid_ok(ids[i]))
			return et_err_set(err, ET_E_BAD_ARGUMENT, "an eligible group is not an object ID");
		len += (size_t)snprintf(body + len, sizeof(body) - len, "%s\"%s\"", i ? "," : "", ids[i]);
	}
	snprintf(body + len, sizeof(body) - len, "]}");
	if (et_http_post_json_bearer(cfg, url, access_token, body, &resp, &herr) < 0) {
		http_failed(&herr, "the group memberships", err);
		goto done;
	}
	if (resp.status != 200) {
		graph_status_error(&resp, "the group memberships", err);
		goto done;
	}
	m = et_graph_parse_member_groups(resp.body, resp.len, ids, n, matched, err);
	if (m < 0)
		goto done;
	*ret_matched = (size_t)m;
	r = 0;
done:
	et_http_resp_free(&resp);
	return r;
}

/* What both Graph calls need before their first request: the sign-in's access token and the
 * full address of PATH on graph_url (the caller frees *url). */
static int graph_request_url(const struct et_config *cfg, const char *access_token, const char *path, char **url,
			     struct et_err *err)
{
	if (!access_token)
		return et_err_set(err, ET_E_GRAPH_REFUSED, "The sign-in brought no access token for Microsoft "
							     "Graph (was the Graph scope granted?).");
	if (asprintf(url, "%s%s", cfg->graph_url, path) < 0) {
		*url = NULL;
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	}
	return 0;
}

int et_graph_check_member_groups(const struct et_config *cfg, const char *access_token, struct et_graph_groups *ret,
				 struct et_err *err)
{
	const struct et_strlist *g = &cfg->eligible_groups;
	char *url = NULL;
	int r = -1;

	memset(ret, 0, sizeof(*ret));
	if (graph_request_url(cfg, access_token, GRAPH_PATH_CHECK, &url, err) < 0)
		return -1;
	for (size_t off = 0; off < g->n; off += ET_GRAPH_CHECK_BATCH) {
		size_t n = g->n - off < ET_GRAPH_CHECK_BATCH ? g->n - off : ET_GRAPH_CHECK_BATCH, m = 0;
		ret->requests++;
		if (check_batch(cfg, url, access_token, (const char *const *)g->items + off, n, &m, err) < 0)
			goto done;
		ret->checked += n;
		ret->matched += m;
	}
	r = 0;
done:
	free(url);
	return r;
}

int et_graph_pim_check(const struct et_config *cfg, const char *access_token, time_t now, struct et_pim_instance *ret,
		       struct et_err *err)
{
	struct et_http_resp resp = { 0 };
	struct et_err herr = { 0 };
	char *url = NULL, *next = NULL;
	int r = -1;

	memset(ret, 0, sizeof(*ret));
	if (graph_request_url(cfg, access_token, GRAPH_PATH_PIM, &url, err) < 0)
		return -1;
	while (url) {
		if (ret->pages >= ET_GRAPH_PIM_PAGES_MAX) {
			et_err_set(err, ET_E_GRAPH_ERROR, "Microsoft Graph answered more than %d pages of PIM instances.",
				   ET_GRAPH_PIM_PAGES_MAX);
			goto done;
		}
		ret->pages++;
		if (et_http_get_bearer(cfg, url, access_token, &resp, &herr) < 0) {
			http_failed(&herr, "the PIM instances", err);
			goto done;
		}
		if (resp.status != 200) {
			graph_status_error(&resp, "the PIM instances", err);
			goto done;
		}
		if (et_graph_parse_pim_page(cfg, resp.body, resp.len, now, ret, &next, err) < 0)
			goto done;
		et_http_resp_free(&resp);
		free(url);
		url = next;
		next = NULL;
	}
	if (!ret->found) {
		if (ret->permanent_refused)
			et_err_set(err, ET_E_PIM_PERMANENT,
				   "The eligible group membership is a permanent PIM assignment, and this host accepts "
				   "only activations (pim_permanent = deny).");
		else
			et_err_set(err, ET_E_PIM_NOT_ACTIVE,
				   "No PIM for Groups activation of an eligible group is active for this account%s.",
				   ret->expired_seen ? " (the last one has ended)" : "");
		goto done;
	}
	r = 0;
done:
	et_http_resp_free(&resp);
	free(url);
	free(next);
	return r;
}
