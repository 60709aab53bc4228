/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the /etc/group and /etc/gshadow line parser and the member-list edit
 * (common/groupfile.c; see fuzz/README.md).
 *
 * Input: one flag byte (bit 0: gshadow format, bit 1: exclusive edit with a keep list), then
 * four lines: the group name, the names to add, to remove and to keep (comma-separated; names
 * that are not valid local names are dropped, as the callers validate them), then the file.
 *
 * The file is edited as et_group_edit does it: the bytes before the member field, the new
 * member list, the bytes after it. Besides crashes and sanitizer reports it checks:
 *   - a refusal names one of the documented reasons, with a message, and agrees with the
 *     file (no line of the group, more than one, ...);
 *   - the line found is the one line of the file naming the group, whole, with 4 fields;
 *   - parse, serialise, parse is stable: the member list rewritten with no edit (empty items
 *     and repeats dropped) is found again at the same place with the same gid, and reads
 *     back unchanged;
 *   - an edit changes that one line only: every other line stays byte-identical; the result
 *     and the reported changes are what the edit asks for (checked against a plain model);
 *     applying the edit again changes nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "groupfile.h"
#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_group: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* The next line of the input (without its '\n'); NULL when there is none. */
static char *take_line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
	char *s;
	if (!nl)
		return NULL;
	s = strndup((const char *)*p, (size_t)(nl - *p));
	if (!s)
		abort();
	*p = nl + 1;
	return s;
}

static void names_from(const char *text, struct et_strlist *l)
{
	const char *p = text;
	while (*p) {
		size_t n = strcspn(p, ",");
		char *item = strndup(p, n);
		if (!item)
			abort();
		if (et_local_name_ok(item) && et_strlist_add(l, item) < 0)
			abort();
		free(item);
		p += n;
		if (*p)
			p++;
	}
}

static bool has(const struct et_strlist *l, const char *s)
{
	return l && et_strlist_contains(l, s);
}

static bool same_list(const struct et_strlist *a, const struct et_strlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

/* The list joined with commas (malloc'd). */
static char *join(const struct et_strlist *l)
{
	size_t len = 1;
	char *s;
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->items[i]) + 1;
	s = calloc(1, len);
	if (!s)
		abort();
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, l->items[i]);
	}
	return s;
}

/* buf with [start, end) replaced by mid (malloc'd, *ret_len bytes). */
static char *splice(const char *buf, size_t len, size_t start, size_t end, const char *mid, size_t *ret_len)
{
	size_t mlen = strlen(mid), out_len = start + mlen + (len - end);
	char *out = malloc(out_len + 1);
	if (!out)
		abort();
	memcpy(out, buf, start);
	memcpy(out + start, mid, mlen);
	memcpy(out + start + mlen, buf + end, len - end);
	out[out_len] = '\0';
	*ret_len = out_len;
	return out;
}

/* The next line of buf from *pos (its start and length); false at the end. A final '\n'
 * does not begin another line. */
static bool next_line(const char *buf, size_t len, size_t *pos, size_t *ret_start, size_t *ret_len)
{
	const char *nl;
	if (*pos > len || (*pos == len && *pos > 0))
		return false;
	nl = memchr(buf + *pos, '\n', len - *pos);
	*ret_start = *pos;
	*ret_len = nl ? (size_t)(nl - (buf + *pos)) : len - *pos;
	*pos += *ret_len + 1;
	return true;
}

/* Every line of a and b but line `skip` (0-based) is byte-identical, and there are as many. */
static void other_lines_identical(const char *a, size_t alen, const char *b, size_t blen, size_t skip)
{
	size_t apos = 0, bpos = 0, as, al, bs, bl;
	for (size_t i = 0;; i++) {
		bool more_a = next_line(a, alen, &apos, &as, &al), more_b = next_line(b, blen, &bpos, &bs, &bl);
		if (more_a != more_b)
			fail("the edit changed the number of lines", NULL);
		if (!more_a)
			break;
		if (i != skip && (al != bl || memcmp(a + as, b + bs, al) != 0))
			fail("the edit changed another line", NULL);
	}
	/* and the same final newline, or none */
	if ((alen && a[alen - 1] == '\n') != (blen && b[blen - 1] == '\n'))
		fail("the edit changed the end of the file", NULL);
}

static void check_line(const char *buf, size_t len, const char *name, bool gshadow, const struct et_group_line *l)
{
	size_t nlen = strlen(name), colons = 0;
	if (!(l->line_start <= l->members_start && l->members_start <= l->members_end && l->members_end == l->line_end &&
	      l->line_end <= len))
		fail("line offsets out of order", name);
	if ((l->line_start > 0 && buf[l->line_start - 1] != '\n') || (l->line_end < len && buf[l->line_end] != '\n'))
		fail("the line found is not a whole line", name);
	if (l->line_end - l->line_start <= nlen || memcmp(buf + l->line_start, name, nlen) != 0 ||
	    buf[l->line_start + nlen] != ':')
		fail("the line found does not name the group", name);
	for (size_t i = l->line_start; i < l->line_end; i++) {
		if (buf[i] == '\n' || buf[i] == '\0')
			fail("the line found holds a newline or a NUL", name);
		if (buf[i] == ':') {
			colons++;
			if (colons == 3 && i + 1 != l->members_start)
				fail("the member field does not follow the third ':'", name);
		}
	}
	if (colons != 3)
		fail("the line found does not have 4 fields", name);
	if (gshadow ? l->gid != -1 : (l->gid < 0 || l->gid >= (long)UINT32_MAX))
		fail("bad gid", name);
}

/* How many lines of buf begin with "name:". */
static size_t named_lines(const char *buf, size_t len, const char *name)
{
	size_t nlen = strlen(name), pos = 0, start, llen, n = 0;
	while (next_line(buf, len, &pos, &start, &llen))
		if (llen > nlen && memcmp(buf + start, name, nlen) == 0 && buf[start + nlen] == ':')
			n++;
	return n;
}

/* A refusal is one of the documented reasons, and agrees with the file. */
static void check_refusal(const char *buf, size_t len, const char *name, const struct et_err *err)
{
	size_t n = named_lines(buf, len, name);
	bool usable = name[0] && !strchr(name, ':'), fits = false;
	if (!err->message[0])
		fail("a refusal without a message", err->reason);
	if (strcmp(err->reason, "bad_group_name") == 0)
		fits = !usable;
	else if (strcmp(err->reason, "no_group") == 0)
		fits = usable && n == 0;
	else if (strcmp(err->reason, "duplicate_group") == 0)
		fits = usable && n >= 2;
	else if (strcmp(err->reason, "malformed_group") == 0)
		fits = usable && n >= 1;
	if (!fits)
		fail("a refusal that does not fit the file", err->reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + 1, *end = data + size;
	char *name = NULL, *add_text = NULL, *remove_text = NULL, *keep_text = NULL;
	struct et_strlist add = { 0 }, remove = { 0 }, keep = { 0 }, orig = { 0 }, members = { 0 };
	struct et_strlist want = { 0 }, want_added = { 0 }, want_removed = { 0 };
	struct et_member_edit none = { 0 }, edit = { 0 };
	struct et_member_change chg = { 0 }, chg2 = { 0 };
	struct et_group_line line, line2;
	struct et_err err;
	char *canon = NULL, *buf2 = NULL, *edited = NULL, *buf3 = NULL, *again = NULL, *want_text = NULL;
	const char *buf;
	size_t len, len2, len3, index = 0;
	bool gshadow, exclusive;

	if (size < 1)
		return 0;
	gshadow = data[0] & 1;
	exclusive = (data[0] & 2) != 0;
	if (!(name = take_line(&p, end)) || !(add_text = take_line(&p, end)) || !(remove_text = take_line(&p, end)) ||
	    !(keep_text = take_line(&p, end)))
		goto done;
	names_from(add_text, &add);
	names_from(remove_text, &remove);
	names_from(keep_text, &keep);
	edit.add = &add;
	edit.remove = &remove;
	edit.keep = exclusive ? &keep : NULL;
	buf = (const char *)p;
	len = (size_t)(end - p);

	memset(&err, 0, sizeof(err));
	if (et_groupfile_find(buf, len, name, gshadow, &line, &err) < 0) {
		check_refusal(buf, len, name, &err);
		goto done;
	}
	check_line(buf, len, name, gshadow, &line);
	if (named_lines(buf, len, name) != 1)
		fail("a group found although it has more than one line", name);
	for (size_t i = 0; i < line.line_start; i++)
		if (buf[i] == '\n')
			index++;
	if (et_members_split(buf + line.members_start, line.members_end - line.members_start, &orig, &err) < 0) {
		if (strcmp(err.reason, "too_large") != 0)
			fail("et_members_split failed", err.reason);
		goto done;
	}
	for (size_t i = 0; i < orig.n; i++)
		if (!orig.items[i][0] || strchr(orig.items[i], ','))
			fail("et_members_split gave an empty item or one with a comma", NULL);

	/* serialise without an edit: empty items and repeats go, nothing else changes */
	if (et_members_apply(buf + line.members_start, line.members_end - line.members_start, &none, &canon, NULL,
			     &err) < 0)
		fail("an empty edit failed", err.reason);
	for (size_t i = 0; i < orig.n; i++)
		if (!has(&want, orig.items[i]) && et_strlist_add(&want, orig.items[i]) < 0)
			abort();
	want_text = join(&want);
	if (strcmp(canon, want_text) != 0)
		fail("an empty edit did more than drop empty items and repeats", canon);
	free(want_text);
	want_text = NULL;
	et_strlist_free(&want);
	buf2 = splice(buf, len, line.members_start, line.members_end, canon, &len2);
	if (et_groupfile_find(buf2, len2, name, gshadow, &line2, &err) < 0)
		fail("the rewritten file is refused", err.message);
	check_line(buf2, len2, name, gshadow, &line2);
	if (line2.line_start != line.line_start || line2.members_start != line.members_start || line2.gid != line.gid ||
	    line2.members_end - line2.members_start != strlen(canon) ||
	    memcmp(buf2 + line2.members_start, canon, strlen(canon)) != 0)
		fail("the rewritten file reads back differently", NULL);
	other_lines_identical(buf, len, buf2, len2, index);
	if (et_members_apply(canon, strlen(canon), &none, &again, NULL, &err) < 0 || strcmp(again, canon) != 0)
		fail("an empty edit of the rewritten list is not stable", NULL);
	free(again);
	again = NULL;

	/* the edit, against a plain model of it */
	for (size_t i = 0; i < orig.n; i++) {
		const char *m = orig.items[i];
		if (has(&remove, m) || (exclusive && !has(&keep, m) && !has(&add, m))) {
			if (!has(&want_removed, m) && et_strlist_add(&want_removed, m) < 0)
				abort();
		} else if (!has(&want, m) && et_strlist_add(&want, m) < 0) {
			abort();
		}
	}
	for (size_t i = 0; i < add.n; i++) {
		if (has(&remove, add.items[i]) || has(&want, add.items[i]))
			continue;
		if (et_strlist_add(&want, add.items[i]) < 0 || et_strlist_add(&want_added, add.items[i]) < 0)
			abort();
	}
	want_text = join(&want);
	if (et_members_apply(buf + line.members_start, line.members_end - line.members_start, &edit, &edited, &chg,
			     &err) < 0)
		fail("the edit failed", err.reason);
	if (strcmp(edited, want_text) != 0) {
		fprintf(stderr, "got  '%s'\nwant '%s'\n", edited, want_text);
		fail("the edit did not give the expected member list", NULL);
	}
	if (!same_list(&chg.added, &want_added) || !same_list(&chg.removed, &want_removed))
		fail("the edit reported other changes than it made", NULL);
	buf3 = splice(buf, len, line.members_start, line.members_end, edited, &len3);
	if (et_groupfile_find(buf3, len3, name, gshadow, &line2, &err) < 0)
		fail("the edited file is refused", err.message);
	check_line(buf3, len3, name, gshadow, &line2);
	if (line2.line_start != line.line_start || line2.members_start != line.members_start || line2.gid != line.gid)
		fail("the edited line moved or changed its gid", NULL);
	other_lines_identical(buf, len, buf3, len3, index);
	if (et_members_split(buf3 + line2.members_start, line2.members_end - line2.members_start, &members, &err) < 0 ||
	    !same_list(&members, &want))
		fail("the edited file does not read back as the expected members", NULL);
	/* a second time: nothing more to do */
	if (et_members_apply(edited, strlen(edited), &edit, &again, &chg2, &err) < 0 || strcmp(again, edited) != 0 ||
	    chg2.added.n || chg2.removed.n)
		fail("the edit is not idempotent", NULL);

done:
	free(name);
	free(add_text);
	free(remove_text);
	free(keep_text);
	free(canon);
	free(buf2);
	free(edited);
	free(buf3);
	free(again);
	free(want_text);
	et_strlist_free(&add);
	et_strlist_free(&remove);
	et_strlist_free(&keep);
	et_strlist_free(&orig);
	et_strlist_free(&members);
	et_strlist_free(&want);
	et_strlist_free(&want_added);
	et_strlist_free(&want_removed);
	et_member_change_free(&chg);
	et_member_change_free(&chg2);
	return 0;
}
