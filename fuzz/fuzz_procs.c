/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the parsers of /proc text (procs.h) and the terminal names of
 * wall.h (see fuzz/README.md). The first byte picks the parser, the rest is its input:
 *   0: /proc/PID/stat (et_proc_stat_parse): an accepted line is one line whose fields
 *      after the command name are written as the kernel writes them, the command name is
 *      what lies between the first '(' and the last ')', and a terminal number maps to a
 *      path under /dev or to none;
 *   1: /proc/PID/status (et_proc_status_parse): the groups read are the ids of the one
 *      Groups: line, as a plain split counts them, none of them (uid_t)-1;
 *   2: /proc/PID/cgroup (et_proc_cgroup_parse): the path is "" or an absolute path found
 *      in the input; et_proc_path_has_component agrees with a plain split of the path;
 *   3: 8 bytes as a device number (et_tty_path).
 * A refusal is "proc_scan" (or "no_memory") with a message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procs.h"
#include "text.h"
#include "wall.h"

#define UNIT "entra-tap-grant-0123456789abcdef0123456789abcdef.scope"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_procs: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void refusal(const struct et_err *err)
{
	if ((strcmp(err->reason, "proc_scan") != 0 && strcmp(err->reason, "no_memory") != 0) || !err->message[0])
		fail("a refusal that is not proc_scan with a message", err->reason);
}

static void tty_path_ok(dev_t tty)
{
	char buf[64];
	if (et_tty_path(tty, buf, sizeof(buf)) == 0) {
		if (strncmp(buf, "/dev/tty", 8) != 0 && strncmp(buf, "/dev/pts/", 9) != 0)
			fail("a terminal path outside /dev/tty* and /dev/pts/", buf);
		if (!et_text_clean(buf) || strstr(buf, ".."))
			fail("a terminal path that is not plain", buf);
	} else if (buf[0]) {
		fail("a refused terminal number left a path", buf);
	}
	if (et_tty_path(tty, buf, 4) == 0)
		fail("a terminal path fits in 4 bytes", buf);
}

static void check_stat(const char *in, size_t len)
{
	struct et_proc_stat st;
	struct et_err err;
	const char *open, *close;
	char head[128], comm[ET_PROC_COMM_MAX * 3 + 1];
	int n;

	memset(&err, 0, sizeof(err));
	if (et_proc_stat_parse(in, len, &st, &err) < 0) {
		refusal(&err);
		return;
	}
	if (len == 0 || in[len - 1] != '\n' || memchr(in, '\0', len))
		fail("an accepted stat is not a text ending in a newline", NULL);
	if (st.pid <= 0 || st.ppid < 0 || st.pgrp < 0 || st.sid < 0)
		fail("a process id out of range", NULL);
	open = memchr(in, '(', len);
	close = memrchr(in, ')', len);
	if (!open || !close || close <= open || (size_t)(close - open - 1) != strlen(st.comm) ||
	    memcmp(open + 1, st.comm, strlen(st.comm)) != 0)
		fail("the command name is not what lies between the first '(' and the last ')'", st.comm);
	n = snprintf(head, sizeof(head), "%ld (", (long)st.pid);
	if ((size_t)n > len || memcmp(in, head, (size_t)n) != 0 || open != in + n - 1)
		fail("the process id is not in its one written form", head);
	n = snprintf(head, sizeof(head), ") %c %ld %ld %ld %d ", st.state, (long)st.ppid, (long)st.pgrp, (long)st.sid,
		     (int)st.tty_nr);
	if ((size_t)n > (size_t)(in + len - close) || memcmp(close, head, (size_t)n) != 0)
		fail("fields 3 to 7 are not in their one written form", head);
	if (memchr(close, '\n', (size_t)(in + len - close) - 1))
		fail("more than one line after the command name", NULL);
	et_text_sanitize(st.comm, comm, sizeof(comm));
	if (!et_text_clean(comm))
		fail("a sanitised command name is not clean", comm);
	tty_path_ok((dev_t)st.tty_nr);
}

/* The ids of the Groups: line by a plain split; -1 when there is not exactly one. */
static long count_groups(const char *in, size_t len)
{
	long count = -1;
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(in + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - in) : len;
		if (end - pos >= 7 && memcmp(in + pos, "Groups:", 7) == 0) {
			if (count >= 0)
				return -1;
			count = 0;
			for (size_t i = pos + 7; i < end; i++)
				count += (in[i] != ' ' && in[i] != '\t') && (in[i - 1] == ' ' || in[i - 1] == '\t');
		}
		pos = end + 1;
	}
	return count;
}

static void check_status(const char *in, size_t len)
{
	struct et_proc_status s;
	struct et_err err;

	memset(&err, 0, sizeof(err));
	if (et_proc_status_parse(in, len, &s, &err) < 0) {
		refusal(&err);
		if (s.groups || s.n_groups)
			fail("a refused status left groups", NULL);
		return;
	}
	if ((s.groups == NULL) != (s.n_groups == 0) || s.n_groups > ET_PROC_GROUPS_MAX)
		fail("groups and their count disagree", NULL);
	if (count_groups(in, len) != (long)s.n_groups)
		fail("the groups read are not the ids of the Groups line", NULL);
	for (int i = 0; i < 4; i++)
		if (s.uid[i] == (uid_t)-1 || s.gid[i] == (gid_t)-1)
			fail("an id of (uid_t)-1", NULL);
	for (size_t i = 0; i < s.n_groups; i++)
		if (s.groups[i] == (gid_t)-1)
			fail("a group of (gid_t)-1", NULL);
	et_proc_status_free(&s);
	if (s.groups || s.n_groups)
		fail("et_proc_status_free left groups", NULL);
}

/* Whether name is a whole '/'-separated component of path, by strtok on a copy (which
 * passes over empty components, as the rule does). */
static bool reference_component(const char *path, const char *name)
{
	char *copy, *save = NULL;
	bool found = false;
	if (!name[0] || strchr(name, '/'))
		return false;
	copy = strdup(path);
	if (!copy)
		abort();
	for (char *c = strtok_r(copy, "/", &save); c && !found; c = strtok_r(NULL, "/", &save))
		found = strcmp(c, name) == 0;
	free(copy);
	return found;
}

static void check_cgroup(const char *in, size_t len)
{
	char path[ET_PROC_CGROUP_MAX + 1], name[ET_PROC_CGROUP_MAX + 2];
	struct et_err err;
	const char *p;

	memset(&err, 0, sizeof(err));
	if (et_proc_cgroup_parse(in, len, path, sizeof(path), &err) < 0) {
		refusal(&err);
		if (path[0])
			fail("a refused cgroup file left a path", path);
		return;
	}
	if (path[0] && (path[0] != '/' || strchr(path, '\n') || !memmem(in, len, path, strlen(path))))
		fail("the path is not an absolute path of the input", path);
	if (path[0] && !memmem(in, len, "0::", 3) && !memmem(in, len, "name=systemd", 12))
		fail("a path without a unified or a name=systemd line", path);
	if (et_proc_path_has_component(path, UNIT) != reference_component(path, UNIT))
		fail("the component match disagrees on the unit name", path);
	/* each component is one, and no longer name that starts with it */
	for (p = path; *p;) {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);
		memcpy(name, p, clen);
		name[clen] = '\0';
		if (et_proc_path_has_component(path, name) != reference_component(path, name))
			fail("the component match disagrees on a component", name);
		name[clen] = 'x';
		name[clen + 1] = '\0';
		if (et_proc_path_has_component(path, name) != reference_component(path, name))
			fail("the component match disagrees on a longer name", name);
		if (!slash)
			break;
		p = slash + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data + 1;
	size_t len = size ? size - 1 : 0;
	char *copy;

	if (size == 0)
		return 0;
	/* a copy of exactly len bytes, so that a read past the end is an error */
	copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, in, len);
	switch (data[0] % 4) {
	case 0:
		check_stat(copy, len);
		break;
	case 1:
		check_status(copy, len);
		break;
	case 2:
		check_cgroup(copy, len);
		break;
	default: {
		uint64_t v = 0;
		memcpy(&v, copy, len < sizeof(v) ? len : sizeof(v));
		tty_path_ok((dev_t)v);
		break;
	}
	}
	free(copy);
	return 0;
}
