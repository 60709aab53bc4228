/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the grant store's record parser, et_grant_parse (see fuzz/README.md).
 * The input is the text of one grant file. Besides crashes and sanitizer reports it checks:
 *   - a refusal is "corrupt_grant" with a message;
 *   - an accepted record meets the format's rules, and et_grant_format writes the same lines
 *     for it as the input (in any order); the formatted text parses back to the same record
 *     and formats to the same bytes;
 *   - the input, as text, put through et_text_sanitize into a free-text field, is accepted by
 *     et_grant_format and survives the round trip unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "grant_store.h"
#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_grant: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void same(const struct et_grant *a, const struct et_grant *b)
{
	if (strcmp(a->id, b->id) != 0 || strcmp(a->user, b->user) != 0 || a->uid != b->uid ||
	    strcmp(a->group, b->group) != 0 || a->created != b->created || a->expires != b->expires ||
	    a->method != b->method || strcmp(a->oid, b->oid) != 0 || strcmp(a->upn, b->upn) != 0 ||
	    strcmp(a->tid, b->tid) != 0 || strcmp(a->reason, b->reason) != 0 || strcmp(a->service, b->service) != 0 ||
	    strcmp(a->rhost, b->rhost) != 0 || a->added_membership != b->added_membership || a->pim_until != b->pim_until)
		fail("the record changed in a round trip", a->id);
}

/* Every value the parser accepts is in its one written form (no leading zeros, exact names),
 * so the accepted text and what et_grant_format writes hold the same lines, in any order. A
 * version-1 record (before pim_until) is written as the current version: its header differs
 * and the written record has one line more, pim_until=0. */
static void same_lines(const char *in, size_t in_len, const struct et_grant *g)
{
	char text[ET_GRANT_FILE_MAX + 1];
	struct et_err err;
	size_t len = 0, pos = 0, in_lines = 0, out_lines = 0;
	static const char v1[] = "entra-tap-grant 1\n";
	bool old = in_len >= sizeof(v1) - 1 && memcmp(in, v1, sizeof(v1) - 1) == 0;

	if (old && g->pim_until != 0)
		fail("a version-1 record has a pim_until", NULL);
	if (et_grant_format(g, text, sizeof(text), &len, &err) < 0)
		fail("a valid record is refused by et_grant_format", err.message);
	for (size_t i = 0; i < len; i++)
		out_lines += text[i] == '\n';
	if (old)
		out_lines--; /* the pim_until line a version-1 record lacks */
	while (pos < in_len) {
		const char *nl = memchr(in + pos, '\n', in_len - pos);
		size_t llen = (size_t)(nl - (in + pos));
		bool found = old && pos == 0; /* the old header */
		for (const char *t = text; t < text + len && !found; t = strchr(t, '\n') + 1)
			found = strncmp(t, in + pos, llen) == 0 && t[llen] == '\n';
		if (!found)
			fail("an accepted line is not what et_grant_format writes", NULL);
		in_lines++;
		pos += llen + 1;
	}
	if (in_lines != out_lines)
		fail("the accepted text and the formatted record have different lines", NULL);
}

/* format, parse, compare; format again, compare bytes */
static void round_trip(const struct et_grant *g)
{
	char text[ET_GRANT_FILE_MAX + 1], text2[ET_GRANT_FILE_MAX + 1];
	struct et_grant back;
	struct et_err err;
	size_t len = 0, len2 = 0;

	if (et_grant_format(g, text, sizeof(text), &len, &err) < 0)
		fail("a valid record is refused by et_grant_format", err.message);
	if (len != strlen(text) || len > ET_GRANT_FILE_MAX)
		fail("bad formatted length", NULL);
	memset(&back, 0x5a, sizeof(back));
	if (et_grant_parse(text, len, &back, &err) < 0) {
		fprintf(stderr, "%s", text);
		fail("formatted text is refused by et_grant_parse", err.message);
	}
	same(g, &back);
	if (et_grant_format(&back, text2, sizeof(text2), &len2, &err) < 0 || len != len2 || memcmp(text, text2, len) != 0)
		fail("formatting the parsed record gives other bytes", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct et_grant base = {
		.id = "0123456789abcdef0123456789abcdef", .user = "alice", .uid = 1001, .group = "entra-admins",
		.created = 1700000000, .expires = 1700003600, .method = ET_GRANT_METHOD_DEVICE_CODE,
	};
	struct et_grant g, s;
	struct et_err err;
	char *text;

	memset(&err, 0, sizeof(err));
	memset(&g, 0, sizeof(g));
	if (et_grant_parse((const char *)data, size, &g, &err) < 0) {
		if (strcmp(err.reason, "corrupt_grant") != 0 || !err.message[0])
			fail("a refusal that is not corrupt_grant with a message", err.reason);
	} else {
		/* the rules of the format */
		if (!et_grant_id_ok(g.id) || !et_local_name_ok(g.user) || !et_local_name_ok(g.group) ||
		    !et_grant_method_name(g.method) || g.created < 0 || g.expires < g.created ||
		    g.uid == (uid_t)-1 || size > ET_GRANT_FILE_MAX || size == 0 || data[size - 1] != '\n' ||
		    memchr(data, '\0', size))
			fail("an accepted record breaks the format's rules", g.id);
		same_lines((const char *)data, size, &g);
		round_trip(&g);
	}

	/* any bytes, sanitised, are a valid free-text field */
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	s = base;
	et_text_sanitize(text, s.reason, sizeof(s.reason));
	et_text_sanitize(text, s.upn, sizeof(s.upn));
	et_text_sanitize(text, s.rhost, sizeof(s.rhost));
	et_text_sanitize(text, s.oid, sizeof(s.oid));
	et_text_sanitize(text, s.tid, sizeof(s.tid));
	et_text_sanitize(text, s.service, sizeof(s.service));
	if (strlen(s.reason) >= sizeof(s.reason) || strlen(s.oid) >= sizeof(s.oid) || strchr(s.reason, '\n'))
		fail("et_text_sanitize overran or kept a newline", NULL);
	/* sanitising clean text changes nothing */
	{
		char again[sizeof(s.reason)];
		et_text_sanitize(s.reason, again, sizeof(again));
		if (strcmp(again, s.reason) != 0)
			fail("et_text_sanitize is not idempotent", s.reason);
	}
	round_trip(&s);
	free(text);
	return 0;
}
