/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the parsers of Microsoft Graph's answers (graph.h; see
 * fuzz/README.md). The first byte picks the parser, the rest is the answer:
 *   0  a checkMemberGroups answer, for two asked ids
 *   1  a page of PIM for Groups assignment schedule instances
 *   2  an ISO 8601 time
 * Besides crashes and sanitizer reports it checks the parsers' promises: a checkMemberGroups
 * count matches the ids marked and never exceeds what was asked; a PIM instance that was
 * taken is of an eligible group, current at `now`, permanent only with pim_permanent =
 * allow; a next link is on graph_url; every rejection names a reason. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conf.h"
#include "graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GROUP_A "5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90"
#define GROUP_B "0d5e7a1c-2b3f-4c6d-8e9f-a0b1c2d3e4f5"
#define GRAPH "https://graph.microsoft.com"
#define NOW ((time_t)1796220000) /* 2026-12-02T14:00:00Z */

static struct et_config cfg_deny, cfg_allow;

static void setup(struct et_config *c, const char *permanent)
{
	struct et_err err;
	if (et_config_init(c) < 0 || et_config_set(c, "eligible_groups", GROUP_A, "fuzz", &err) < 0 ||
	    et_config_set(c, "graph_url", GRAPH, "fuzz", &err) < 0 ||
	    et_config_set(c, "pim_permanent", permanent, "fuzz", &err) < 0)
		abort();
}

static void check_pim(const struct et_config *c, const char *text, size_t len)
{
	struct et_pim_instance acc;
	struct et_err err;
	char *next = NULL;

	memset(&acc, 0, sizeof(acc));
	if (et_graph_parse_pim_page(c, text, len, NOW, &acc, &next, &err) < 0) {
		if (!err.reason[0] || !err.message[0] || next)
			abort();
		return;
	}
	if (next && (strncmp(next, GRAPH "/", strlen(GRAPH) + 1) != 0 || strlen(next) > ET_GRAPH_NEXT_LINK_MAX))
		abort();
	if (acc.found) {
		if (strcasecmp(acc.group_id, GROUP_A) != 0 || acc.start > NOW)
			abort();
		if (acc.permanent ? (!c->pim_permanent || acc.end != 0) : acc.end <= NOW)
			abort();
	}
	free(next);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *text = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	struct et_err err;

	if (!ready) {
		setup(&cfg_deny, "deny");
		setup(&cfg_allow, "allow");
		ready = 1;
	}
	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0: {
		const char *asked[] = { GROUP_A, GROUP_B };
		bool matched[2] = { false, false };
		int n = et_graph_parse_member_groups(text, len, asked, 2, matched, &err);
		if (n < 0) {
			if (!err.reason[0] || !err.message[0])
				abort();
		} else if (n > 2 || n != (int)matched[0] + (int)matched[1]) {
			abort();
		}
		break;
	}
	case 1:
		check_pim(&cfg_deny, text, len);
		check_pim(&cfg_allow, text, len);
		break;
	default: {
		/* the time parser takes a C string */
		char buf[64];
		time_t t;
		if (len >= sizeof(buf))
			break;
		memcpy(buf, text, len);
		buf[len] = '\0';
		if (et_graph_parse_time(buf, &t) == 0 && t < 0)
			abort();
		break;
	}
	}
	return 0;
}
