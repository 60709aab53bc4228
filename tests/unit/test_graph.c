/* SPDX-License-Identifier: Apache-2.0 */
/* Microsoft Graph (graph.h): the answer parsers on crafted input, then checkMemberGroups and
 * the PIM for Groups instances against the mock Entra ID's Graph, with access tokens it issued
 * through the password flow: overage eligible / not eligible, 25 eligible groups in two
 * requests, Graph down or slow (refused within http_timeout), 401 and 403, PIM activated,
 * ended, permanent with pim_permanent deny / allow, pages followed through @odata.nextLink,
 * and the access token in no error sentence or log line. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"
#include "conf.h"
#include "graph.h"
#include "mockutil.h"
#include "testutil.h"
#include "oauth.h"
#include "oidc.h"
#include "tap.h"

#define GROUP "5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90" /* with-mock.sh's eligible group */
#define OTHER "0d5e7a1c-2b3f-4c6d-8e9f-a0b1c2d3e4f5"
#define PASSWORD "Gina-pw-1"

static struct et_config cfg;
static struct et_oidc oidc;
static char logbuf[64 * 1024], msgbuf[64 * 1024];
static size_t loglen, msglen;

/* every log line and error sentence, searched for the access token afterwards */
static void log_sink(__attribute__((unused)) void *data, __attribute__((unused)) int level, const char *msg)
{
	tu_append_line(logbuf, sizeof(logbuf), &loglen, msg);
}

static void keep_msg(const struct et_err *e)
{
	tu_append_line(msgbuf, sizeof(msgbuf), &msglen, e->message);
}

/* ---- parsers ---- */

static void test_time(void)
{
	static const struct {
		const char *in;
		long long want; /* -1: refused */
	} rows[] = {
		{ "2026-12-02T14:05:00Z", 1796220300LL },
		{ "2026-12-02T14:05:00.1234567Z", 1796220300LL },
		{ "2026-12-02T14:05:00+00:00", 1796220300LL },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-12-02T14:05:00", -1 },
		{ "2026-12-02T14:05:00+01:00", -1 },
		{ "2026-12-02 14:05:00Z", -1 },
		{ "2026-02-31T00:00:00Z", -1 },
		{ "2026-13-01T00:00:00Z", -1 },
		{ "2026-12-02T24:00:00Z", -1 },
		{ "2026-12-02T14:05:00.Z", -1 },
		{ "2026-12-02T14:05:00.1234567890Z", -1 },
		{ "+2026-12-02T14:05:00Z", -1 },
		{ "", -1 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		time_t t = 0;
		int r = et_graph_parse_time(rows[i].in, &t);
		if (rows[i].want < 0)
			ok(r < 0, "time: '%s' is refused", rows[i].in);
		else
			ok(r == 0 && (long long)t == rows[i].want, "time: '%s' is %lld", rows[i].in, rows[i].want);
	}
}

static void test_parse_member_groups(void)
{
	const char *asked[] = { GROUP, OTHER };
	static const struct {
		const char *body;
		int want; /* -1: graph_error */
		const char *name;
	} rows[] = {
		{ "{\"@odata.context\":\"x\",\"value\":[\"" GROUP "\"]}", 1, "one of two" },
		{ "{\"value\":[\"5F2B1C1E-4F41-4A84-9D6A-1F0C2B7D3E90\",\"" OTHER "\"]}", 2, "both, case-insensitive" },
		{ "{\"value\":[]}", 0, "none" },
		{ "{\"value\":[\"" GROUP "\",\"" GROUP "\"]}", 1, "a repeated id counts once" },
		{ "{\"value\":[\"11111111-1111-1111-1111-111111111111\"]}", -1, "an id not asked about" },
		{ "{\"value\":[\"" GROUP "\",\"" OTHER "\",\"" GROUP "\"]}", -1, "more ids than asked" },
		{ "{\"value\":[\"not-a-guid\"]}", -1, "not a GUID" },
		{ "{\"value\":[42]}", -1, "not a string" },
		{ "{\"value\":\"" GROUP "\"}", -1, "value not an array" },
		{ "{}", -1, "no value" },
		{ "[]", -1, "not an object" },
		{ "{\"value\":[],\"value\":[]}", -1, "duplicate member" },
		{ "not json", -1, "not JSON" },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		bool matched[2] = { false, false };
		struct et_err err = { 0 };
		int r = et_graph_parse_member_groups(rows[i].body, strlen(rows[i].body), asked, 2, matched, &err);
		if (rows[i].want < 0)
			ok(r < 0 && strcmp(err.reason, "graph_error") == 0, "checkMemberGroups answer: %s is graph_error",
			   rows[i].name);
		else
			is_int(r, rows[i].want, mu_str_of("checkMemberGroups answer: %s", rows[i].name));
	}
}

/* One instance as Graph writes it. */
static const char *inst(const char *group, const char *access, const char *type, const char *start, const char *end)
{
	return mu_str_of("{\"id\":\"i\",\"accessId\":\"%s\",\"principalId\":\"p\",\"memberType\":\"direct\","
			 "\"startDateTime\":\"%s\",\"endDateTime\":%s%s%s,\"groupId\":\"%s\","
			 "\"assignmentScheduleId\":\"i\",\"assignmentType\":\"%s\"}",
			 access, start, end ? "\"" : "", end ? end : "null", end ? "\"" : "", group, type);
}

static int parse_page(const char *body, time_t now, struct et_pim_instance *acc, char **next, struct et_err *err)
{
	return et_graph_parse_pim_page(&cfg, body, strlen(body), now, acc, next, err);
}

static void test_parse_pim(void)
{
	const time_t now = 1796220000; /* 2026-12-02T14:00:00Z */
	struct et_pim_instance acc;
	struct et_err err = { 0 };
	char *next = NULL;
	const char *body;

	memset(&acc, 0, sizeof(acc));
	body = mu_str_of("{\"value\":[%s,%s,%s,%s]}", inst(GROUP, "member", "activated", "2026-12-02T13:00:00Z", "2026-12-02T14:05:00Z"),
			 inst(OTHER, "member", "activated", "2026-12-02T13:00:00Z", "2026-12-02T18:00:00Z"),
			 inst(GROUP, "owner", "activated", "2026-12-02T13:00:00Z", "2026-12-02T18:00:00Z"),
			 inst(GROUP, "member", "assigned", "2026-12-02T13:00:00Z", "2026-12-02T14:03:00Z"));
	ok(parse_page(body, now, &acc, &next, &err) == 0 && acc.found && acc.activated && !acc.permanent &&
		   acc.end == 1796220300 && next == NULL && acc.instances == 4,
	   "PIM page: the member instance of an eligible group that ends last decides; owner and other groups do not");
	memset(&acc, 0, sizeof(acc));
	body = mu_str_of("{\"value\":[%s,%s]}", inst(GROUP, "member", "activated", "2026-12-02T12:00:00Z", "2026-12-02T13:59:59Z"),
			 inst(GROUP, "member", "activated", "2026-12-02T14:01:00Z", "2026-12-02T15:00:00Z"));
	ok(parse_page(body, now, &acc, &next, &err) == 0 && !acc.found && acc.expired_seen,
	   "PIM page: ended and not yet started instances do not count");
	memset(&acc, 0, sizeof(acc));
	body = mu_str_of("{\"value\":[%s]}", inst(GROUP, "member", "assigned", "2026-01-01T00:00:00Z", NULL));
	ok(parse_page(body, now, &acc, &next, &err) == 0 && !acc.found && acc.permanent_refused,
	   "PIM page: a permanent assignment is refused with pim_permanent = deny");
	mu_cfg_set(&cfg, "pim_permanent", "allow");
	memset(&acc, 0, sizeof(acc));
	ok(parse_page(body, now, &acc, &next, &err) == 0 && acc.found && acc.permanent && !acc.activated && acc.end == 0,
	   "PIM page: ... and taken with pim_permanent = allow");
	mu_cfg_set(&cfg, "pim_permanent", "deny");

	memset(&acc, 0, sizeof(acc));
	body = mu_str_of("{\"value\":[],\"@odata.nextLink\":\"%s/v1.0/x?$skiptoken=2\"}", cfg.graph_url);
	ok(parse_page(body, now, &acc, &next, &err) == 0 && next && strstr(next, "$skiptoken=2"),
	   "PIM page: @odata.nextLink on graph_url is followed");
	free(next);
	next = NULL;
	{
		static const struct {
			const char *body;
			const char *name;
		} bad[] = {
			{ "{\"value\":[],\"@odata.nextLink\":\"https://evil.example/v1.0/x\"}", "a nextLink off Graph" },
			{ "{\"value\":[],\"@odata.nextLink\":\"http://127.0.0.1/graph/v1.0/x\"}", "a plain http nextLink" },
			{ "{\"value\":[],\"@odata.nextLink\":7}", "a nextLink that is not a string" },
			{ "{\"value\":{}}", "value not an array" },
			{ "{\"value\":[1]}", "an instance that is not an object" },
			{ "{\"value\":[{\"accessId\":\"member\",\"startDateTime\":\"2026-12-02T13:00:00Z\"}]}", "no groupId" },
			{ "{\"value\":[{\"groupId\":\"" GROUP "\",\"startDateTime\":\"2026-12-02T13:00:00Z\"}]}", "no accessId" },
			{ "{\"value\":[{\"groupId\":\"" GROUP "\",\"accessId\":\"member\"}]}", "no startDateTime" },
			{ "{\"value\":[{\"groupId\":\"" GROUP "\",\"accessId\":\"member\",\"startDateTime\":\"2026-12-02T13:00:00Z\","
			  "\"endDateTime\":\"2026-12-02T12:00:00Z\"}]}",
			  "an end before the start" },
			{ "{\"value\":[{\"groupId\":\"" GROUP "\",\"accessId\":\"member\",\"startDateTime\":\"yesterday\"}]}",
			  "a time that is not ISO 8601" },
			{ "{\"value\":[{\"groupId\":\"" GROUP "\",\"accessId\":\"member\",\"startDateTime\":\"2026-12-02T13:00:00Z\","
			  "\"assignmentType\":3}]}",
			  "an assignmentType that is not a string" },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&acc, 0, sizeof(acc));
			ok(parse_page(bad[i].body, now, &acc, &next, &err) < 0 && strcmp(err.reason, "graph_error") == 0 &&
				   next == NULL,
			   "PIM page: %s is graph_error", bad[i].name);
		}
	}
}

static void test_scope(void)
{
	struct et_config c;
	struct et_err err = { 0 };
	char *s = NULL;

	mu_cfg_load(&c);
	mu_cfg_set(&c, "graph_url", "https://graph.microsoft.com");
	ok(et_graph_scope(&c, &s, &err) == 0 && s && strcmp(s, "https://graph.microsoft.com/User.Read") == 0,
	   "scope: overage = graph asks for User.Read on Graph");
	free(s);
	mu_cfg_set(&c, "pim", "yes");
	ok(et_graph_scope(&c, &s, &err) == 0 && s &&
		   strcmp(s, "https://graph.microsoft.com/User.Read "
			     "https://graph.microsoft.com/PrivilegedAssignmentSchedule.Read.AzureADGroup") == 0,
	   "scope: pim = yes adds PrivilegedAssignmentSchedule.Read.AzureADGroup");
	free(s);
	mu_cfg_set(&c, "pim", "no");
	mu_cfg_set(&c, "overage", "deny");
	ok(et_graph_scope(&c, &s, &err) == 0 && s == NULL, "scope: overage = deny and pim = no ask Graph for nothing");
	et_config_free(&c);
}

/* ---- against the mock ---- */

/* An access token for Gina from the password flow, with the scope for cfg. */
static char *access_token(const char *scope)
{
	struct et_err err = { 0 };
	char *id = NULL, *at = NULL;
	if (et_password_flow_tokens(&cfg, &oidc, "gina@contoso.com", PASSWORD, scope, &id, &at, &err) < 0) {
		tap_diag("password flow: %s: %s", err.reason, err.message);
		return NULL;
	}
	et_oauth_secret_free(id);
	return at;
}

static char *graph_token(void)
{
	char *scope = NULL, *at;
	struct et_err err = { 0 };
	if (et_graph_scope(&cfg, &scope, &err) < 0)
		return NULL;
	at = access_token(scope);
	free(scope);
	return at;
}

static char *tokens_seen[16];
static size_t n_tokens;

static char *remember(char *t)
{
	if (t && n_tokens < sizeof(tokens_seen) / sizeof(tokens_seen[0]))
		tokens_seen[n_tokens++] = strdup(t);
	return t;
}

static void test_check_member_groups(void)
{
	struct et_graph_groups g;
	struct et_err err = { 0 };
	char *at;
	char groups[26 * 40] = "", json[26 * 40 + 64];
	int r;

	mu_ctlf("users", "{\"upn\":\"gina@contoso.com\",\"password\":\"" PASSWORD "\",\"groups\":[\"" GROUP "\"]}");
	at = remember(graph_token());
	ok(at != NULL && strncmp(at, "mock-at.", 8) == 0, "the password flow hands back the access token");
	mu_mock_reset();
	r = et_graph_check_member_groups(&cfg, at, &g, &err);
	ok(r == 0 && g.checked == 1 && g.matched == 1 && g.requests == 1,
	   "overage: a member of the eligible group is eligible through Graph (1 of 1, 1 request)");
	is_int(mu_mock_stat("graph_check"), 1, "overage: one checkMemberGroups request");

	mu_ctlf("users", "{\"upn\":\"gina@contoso.com\",\"groups\":[\"" OTHER "\"]}");
	r = et_graph_check_member_groups(&cfg, at, &g, &err);
	ok(r == 0 && g.checked == 1 && g.matched == 0, "overage: not a member of an eligible group: 0 of 1");

	/* 25 eligible groups, Gina in the 22nd: two requests (20 + 5) */
	for (int i = 0; i < 25; i++) {
		size_t n = strlen(groups);
		snprintf(groups + n, sizeof(groups) - n, "%s%08x-0000-4000-8000-%012x", i ? "," : "", i, i);
	}
	mu_cfg_set(&cfg, "eligible_groups", groups);
	snprintf(json, sizeof(json), "{\"upn\":\"gina@contoso.com\",\"groups\":[\"%08x-0000-4000-8000-%012x\"]}", 21,
		 21);
	mu_ctl("users", json);
	mu_mock_reset();
	r = et_graph_check_member_groups(&cfg, at, &g, &err);
	ok(r == 0 && g.checked == 25 && g.matched == 1 && g.requests == 2,
	   "25 eligible groups: checked in 2 requests, the match in the second found");
	is_int(mu_mock_stat("graph_check"), 2, "25 eligible groups: the mock saw two checkMemberGroups requests");
	mu_cfg_set(&cfg, "eligible_groups", GROUP);
	mu_ctlf("users", "{\"upn\":\"gina@contoso.com\",\"groups\":[\"" GROUP "\"]}");

	/* Graph down, slow, failing */
	mu_ctl("down", "{\"mode\":\"reset\",\"endpoints\":[\"graph_check\"]}");
	r = et_graph_check_member_groups(&cfg, at, &g, &err);
	keep_msg(&err);
	ok(r < 0 && strcmp(err.reason, "graph_unavailable") == 0, "Graph down: graph_unavailable (%s)", err.reason);
	mu_mock_reset();
	mu_cfg_set(&cfg, "http_timeout", "2s");
	mu_ctl("latency", "{\"seconds\":8,\"endpoints\":[\"graph_check\",\"graph_pim\"]}");
	{
		long long t0 = et_mono_ms(), took;
		r = et_graph_check_member_groups(&cfg, at, &g, &err);
		took = et_mono_ms() - t0;
		keep_msg(&err);
		ok(r < 0 && strcmp(err.reason, "graph_unavailable") == 0 && took < 3000,
		   "Graph slow: refused within http_timeout (2 s; took %lld ms)", took);
	}
	mu_mock_reset();
	mu_cfg_set(&cfg, "http_timeout", "5s");
	mu_ctl("fail", "{\"status\":503,\"count\":1,\"endpoints\":[\"graph_check\"]}");
	r = et_graph_check_member_groups(&cfg, at, &g, &err);
	keep_msg(&err);
	ok(r < 0 && strcmp(err.reason, "graph_unavailable") == 0, "Graph 503: graph_unavailable");
	mu_mock_reset();

	/* refused tokens */
	r = et_graph_check_member_groups(&cfg, "mock-at.forged", &g, &err);
	keep_msg(&err);
	ok(r < 0 && strcmp(err.reason, "graph_refused") == 0 && strstr(err.message, "401") &&
		   strstr(err.message, "InvalidAuthenticationToken"),
	   "a token Graph does not know: graph_refused (401)");
	{
		char *plain = remember(access_token(NULL));
		r = et_graph_check_member_groups(&cfg, plain, &g, &err);
		keep_msg(&err);
		ok(r < 0 && strcmp(err.reason, "graph_refused") == 0,
		   "a token issued without the Graph scope: graph_refused");
		et_oauth_secret_free(plain);
	}
	r = et_graph_check_member_groups(&cfg, NULL, &g, &err);
	ok(r < 0 && strcmp(err.reason, "graph_refused") == 0, "no access token: graph_refused, nothing sent");
	r = et_graph_check_member_groups(&cfg, "bad token\r\nX-Injected: 1", &g, &err);
	ok(r < 0 && strcmp(err.reason, "graph_unavailable") == 0, "a token that is no bearer token is never sent");
	et_oauth_secret_free(at);
}

/* PIM for Groups instances for Gina: JSON members of the pim control action. */
static void set_pim(const char *instances)
{
	mu_ctlf("pim", "{\"upn\":\"gina@contoso.com\",\"instances\":[%s]}", instances);
}

static void test_pim(void)
{
	struct et_pim_instance pi;
	struct et_err err = { 0 };
	time_t now;
	char *at, *user_read_only;

	mu_cfg_set(&cfg, "pim", "yes");
	at = remember(graph_token());
	ok(at != NULL, "PIM: an access token with both Graph scopes");

	set_pim("{\"group\":\"" GROUP "\",\"type\":\"activated\",\"start_in\":-600,\"end_in\":1800}");
	now = time(NULL);
	ok(et_graph_pim_check(&cfg, at, now, &pi, &err) == 0 && pi.found && pi.activated && !pi.permanent &&
		   pi.end >= now + 1798 && pi.end <= now + 1801 && strcmp(pi.group_id, GROUP) == 0 && pi.pages == 1,
	   "PIM activated: found, assignmentType activated, endDateTime in 30 minutes");

	set_pim("{\"group\":\"" GROUP "\",\"type\":\"activated\",\"start_in\":-3600,\"end_in\":-10}");
	ok(et_graph_pim_check(&cfg, at, time(NULL), &pi, &err) < 0 && strcmp(err.reason, "pim_not_active") == 0 &&
		   pi.expired_seen,
	   "PIM activation expired: pim_not_active");
	keep_msg(&err);

	set_pim("{\"group\":\"" OTHER "\",\"type\":\"activated\",\"end_in\":1800},"
		"{\"group\":\"" GROUP "\",\"access\":\"owner\",\"type\":\"activated\",\"end_in\":1800}");
	ok(et_graph_pim_check(&cfg, at, time(NULL), &pi, &err) < 0 && strcmp(err.reason, "pim_not_active") == 0,
	   "PIM: an activation of another group or of ownership does not count");

	set_pim("{\"group\":\"" GROUP "\",\"type\":\"assigned\",\"end_in\":null}");
	ok(et_graph_pim_check(&cfg, at, time(NULL), &pi, &err) < 0 && strcmp(err.reason, "pim_permanent") == 0,
	   "PIM permanent assignment with pim_permanent = deny: pim_permanent");
	keep_msg(&err);
	mu_cfg_set(&cfg, "pim_permanent", "allow");
	ok(et_graph_pim_check(&cfg, at, time(NULL), &pi, &err) == 0 && pi.found && pi.permanent && !pi.activated,
	   "PIM permanent assignment with pim_permanent = allow: found, no end");
	mu_cfg_set(&cfg, "pim_permanent", "deny");

	/* pages: the instance that counts is on the third page of two */
	mu_ctl("config", "{\"graph_page_size\":2}");
	mu_mock_reset();
	set_pim("{\"group\":\"" OTHER "\",\"end_in\":60},{\"group\":\"" OTHER "\",\"end_in\":60},"
		"{\"group\":\"" GROUP "\",\"access\":\"owner\",\"end_in\":60},{\"group\":\"" OTHER "\",\"end_in\":60},"
		"{\"group\":\"" GROUP "\",\"type\":\"activated\",\"end_in\":900}");
	ok(et_graph_pim_check(&cfg, at, time(NULL), &pi, &err) == 0 && pi.found && pi.pages == 3 && pi.instances == 5,
	   "PIM: pages followed through @odata.nextLink (3 pages, 5 instances)");
	is_int(mu_mock_stat("graph_pim"), 3, "PIM: the mock saw 3 page requests");
	mu_ctl("config", "{\"graph_page_size\":100}");

	/* refused and unreachable */
	mu_cfg_set(&cfg, "pim", "no");
	user_read_only = remember(graph_token());
	mu_cfg_set(&cfg, "pim", "yes");
	ok(et_graph_pim_check(&cfg, user_read_only, time(NULL), &pi, &err) < 0 &&
		   strcmp(err.reason, "graph_refused") == 0 && strstr(err.message, "403"),
	   "PIM without the consented scope: graph_refused (403)");
	keep_msg(&err);
	et_oauth_secret_free(user_read_only);
	mu_cfg_set(&cfg, "http_timeout", "2s");
	mu_ctl("latency", "{\"seconds\":8,\"endpoints\":[\"graph_pim\"]}");
	{
		long long t0 = et_mono_ms(), took;
		int r = et_graph_pim_check(&cfg, at, time(NULL), &pi, &err);
		took = et_mono_ms() - t0;
		keep_msg(&err);
		ok(r < 0 && strcmp(err.reason, "graph_unavailable") == 0 && took < 3000,
		   "PIM with Graph slow: refused within http_timeout (took %lld ms)", took);
	}
	mu_mock_reset();
	mu_cfg_set(&cfg, "http_timeout", "5s");
	set_pim("");
	mu_cfg_set(&cfg, "pim", "no");
	et_oauth_secret_free(at);
}

static void test_no_token_leaked(void)
{
	bool leaked = false;
	for (size_t i = 0; i < n_tokens; i++) {
		/* the random part is enough: "mock-at." alone is no secret */
		if (strstr(logbuf, tokens_seen[i] + 8) || strstr(msgbuf, tokens_seen[i] + 8))
			leaked = true;
		free(tokens_seen[i]);
	}
	ok(n_tokens >= 3 && !leaked, "no access token in any log line or error sentence (%zu tokens checked)", n_tokens);
}

int main(void)
{
	struct et_err err = { 0 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	test_time();
	test_parse_member_groups();
	if (!ok(getenv("ET_MOCK_CONFIG") && getenv("ET_MOCKCTL"), "the mock Entra ID is running"))
		return tap_done();
	mu_cfg_load(&cfg);
	cfg.log = (struct et_logger){ .fn = log_sink, .data = NULL, .debug = 1 };
	mu_cfg_set(&cfg, "tap_password_grant", "yes");
	test_parse_pim();
	test_scope();
	if (!ok(et_oidc_discover(&cfg, &oidc, &err) == 0, "discovery")) {
		tap_diag("%s: %s", err.reason, err.message);
		return tap_done();
	}
	test_check_member_groups();
	test_pim();
	test_no_token_leaked();
	et_oidc_free(&oidc);
	et_config_free(&cfg);
	return tap_done();
}
