/* SPDX-License-Identifier: Apache-2.0 */
/* The processes a grant gave (procs.h): strict parsers for the text of /proc, a scan of a
 * proc tree that ties processes to a grant, and their end through pidfds. */
#include "procs.h"
#include "clock.h"
#include "fsutil.h"
#include "text.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PROC_CMDLINE_READ 512  /* bytes of a command line read: more than cmd[] shows */
#define PROC_TICK_MS 50	       /* between two scans while processes are ending */
#define PROC_KILL_WAIT_MS 1000 /* after SIGKILL */

/* ---- the parsers ---- */

/* One number in its one written form at t[*pos] (of len bytes): '-' for a negative one,
 * then "0" or digits without a leading zero, within 64 bits ("-0" and values below
 * INT64_MIN refused). *pos moves past it. */
static int parse_num(const char *t, size_t len, size_t *pos, bool *ret_neg, unsigned long long *ret_val)
{
	size_t i = *pos, first;
	unsigned long long v = 0;
	bool neg = false;

	if (i < len && t[i] == '-') {
		neg = true;
		i++;
	}
	first = i;
	for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
		unsigned d = (unsigned)(t[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (i == first || (t[first] == '0' && i - first > 1) ||
	    (neg && (v == 0 || v > (unsigned long long)INT64_MAX + 1)))
		return -1;
	*pos = i;
	*ret_neg = neg;
	*ret_val = v;
	return 0;
}

/* A pid, ppid, pgrp or session field: 0 to INT_MAX. */
static bool pid_value_ok(bool neg, unsigned long long v)
{
	return !neg && v <= INT_MAX;
}

int et_proc_stat_parse(const char *text, size_t len, struct et_proc_stat *ret, struct et_err *err)
{
	struct et_proc_stat st;
	const char *open, *close;
	unsigned long long v;
	size_t pos = 0, comm_len;
	unsigned field;
	bool neg;

	memset(ret, 0, sizeof(*ret));
	memset(&st, 0, sizeof(st));
	if (len == 0 || text[len - 1] != '\n')
		return et_err_set(err, ET_E_PROC_SCAN, "stat: not one line ending in a newline");
	if (memchr(text, '\0', len))
		return et_err_set(err, ET_E_PROC_SCAN, "stat: a NUL byte");
	if (parse_num(text, len, &pos, &neg, &v) < 0 || !pid_value_ok(neg, v) || v == 0)
		return et_err_set(err, ET_E_PROC_SCAN, "stat: no process id");
	st.pid = (pid_t)v;
	if (len - pos < 2 || text[pos] != ' ' || text[pos + 1] != '(')
		return et_err_set(err, ET_E_PROC_SCAN, "stat: no '(' after the process id");
	/* The command name is the process's own choice, parentheses, spaces and newlines
	 * included; the fields after it hold none of ")", so the last one ends it. */
	open = text + pos + 1;
	close = memrchr(text, ')', len);
	if (!close || close < open)
		return et_err_set(err, ET_E_PROC_SCAN, "stat: no ')' after the command name");
	comm_len = (size_t)(close - open - 1);
	if (comm_len > ET_PROC_COMM_MAX)
		return et_err_set(err, ET_E_PROC_SCAN, "stat: a command name of more than %d bytes", ET_PROC_COMM_MAX);
	memcpy(st.comm, open + 1, comm_len);
	st.comm[comm_len] = '\0';
	pos = (size_t)(close - text) + 1;
	if (len - pos < 3 || text[pos] != ' ' ||
	    !((text[pos + 1] >= 'A' && text[pos + 1] <= 'Z') || (text[pos + 1] >= 'a' && text[pos + 1] <= 'z')))
		return et_err_set(err, ET_E_PROC_SCAN, "stat: no state after the command name");
	st.state = text[pos + 1];
	pos += 2;
	for (field = 4; text[pos] == ' '; field++) {
		pos++;
		if (field > 128 || parse_num(text, len, &pos, &neg, &v) < 0)
			return et_err_set(err, ET_E_PROC_SCAN, "stat: field %u is not a number", field);
		switch (field) {
		case 4:
		case 5:
		case 6:
			if (!pid_value_ok(neg, v))
				return et_err_set(err, ET_E_PROC_SCAN, "stat: field %u is out of range", field);
			if (field == 4)
				st.ppid = (pid_t)v;
			else if (field == 5)
				st.pgrp = (pid_t)v;
			else
				st.sid = (pid_t)v;
			break;
		case 7:
			/* written as an int: a number with the top bit set reads as negative */
			if (neg ? v > (unsigned long long)INT_MAX + 1 : v > INT_MAX)
				return et_err_set(err, ET_E_PROC_SCAN, "stat: field 7 is out of range");
			st.tty_nr = neg ? (unsigned)(0u - (unsigned)v) : (unsigned)v;
			break;
		case 9:
			if (neg || v > UINT_MAX)
				return et_err_set(err, ET_E_PROC_SCAN, "stat: field 9 is out of range");
			st.flags = (unsigned)v;
			break;
		case 22:
			if (neg)
				return et_err_set(err, ET_E_PROC_SCAN, "stat: field 22 is out of range");
			st.start = v;
			break;
		default:
			break;
		}
	}
	if (pos != len - 1)
		return et_err_set(err, ET_E_PROC_SCAN, "stat: field %u is malformed", field);
	if (field <= 22)
		return et_err_set(err, ET_E_PROC_SCAN, "stat: %u fields, fewer than 22", field - 1);
	*ret = st;
	return 0;
}

/* A uid or gid: a number below (uid_t)-1, which names no one. */
static int parse_id(const char *t, size_t len, size_t *pos, unsigned *ret)
{
	unsigned long long v;
	bool neg;
	if (parse_num(t, len, pos, &neg, &v) < 0 || neg || v >= UINT32_MAX)
		return -1;
	*ret = (unsigned)v;
	return 0;
}

static bool id_sep(char c)
{
	return c == ' ' || c == '\t';
}

/* "\t0\t0\t0\t0" after "Uid:" or "Gid:" (t[0..len) without the newline). */
static int parse_four(const char *t, size_t len, unsigned ids[4])
{
	size_t pos = 0;
	for (int i = 0; i < 4; i++) {
		if (pos >= len || !id_sep(t[pos]))
			return -1;
		while (pos < len && id_sep(t[pos]))
			pos++;
		if (parse_id(t, len, &pos, &ids[i]) < 0)
			return -1;
	}
	while (pos < len && id_sep(t[pos]))
		pos++;
	return pos == len ? 0 : -1;
}

/* "\t4 24 27 " after "Groups:": each id after a tab or a space. */
static int parse_groups(const char *t, size_t len, struct et_proc_status *s, struct et_err *err)
{
	size_t pos = 0, cap = 0;

	while (pos < len) {
		unsigned id;
		if (!id_sep(t[pos]))
			return et_err_set(err, ET_E_PROC_SCAN, "status: the Groups line is malformed");
		while (pos < len && id_sep(t[pos]))
			pos++;
		if (pos == len)
			break;
		if (parse_id(t, len, &pos, &id) < 0)
			return et_err_set(err, ET_E_PROC_SCAN, "status: the Groups line holds a malformed id");
		if (s->n_groups == ET_PROC_GROUPS_MAX)
			return et_err_set(err, ET_E_PROC_SCAN, "status: more than %d groups", ET_PROC_GROUPS_MAX);
		if (s->n_groups == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			gid_t *g = realloc(s->groups, ncap * sizeof(*g));
			if (!g)
				return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
			s->groups = g;
			cap = ncap;
		}
		s->groups[s->n_groups++] = (gid_t)id;
	}
	return 0;
}

int et_proc_status_parse(const char *text, size_t len, struct et_proc_status *ret, struct et_err *err)
{
	static const char uid_key[] = "Uid:", gid_key[] = "Gid:", groups_key[] = "Groups:";
	struct et_proc_status s;
	bool have_uid = false, have_gid = false, have_groups = false;
	size_t pos = 0;

	memset(ret, 0, sizeof(*ret));
	memset(&s, 0, sizeof(s));
	if (len == 0 || text[len - 1] != '\n')
		return et_err_set(err, ET_E_PROC_SCAN, "status: the last line does not end in a newline");
	if (memchr(text, '\0', len))
		return et_err_set(err, ET_E_PROC_SCAN, "status: a NUL byte");
	while (pos < len) {
		const char *line = text + pos;
		size_t llen = (size_t)((const char *)memchr(line, '\n', len - pos) - line);
		unsigned ids[4];
		bool *have = NULL;
		const char *key = NULL;

		if (llen >= sizeof(uid_key) - 1 && memcmp(line, uid_key, sizeof(uid_key) - 1) == 0)
			have = &have_uid, key = uid_key;
		else if (llen >= sizeof(gid_key) - 1 && memcmp(line, gid_key, sizeof(gid_key) - 1) == 0)
			have = &have_gid, key = gid_key;
		else if (llen >= sizeof(groups_key) - 1 && memcmp(line, groups_key, sizeof(groups_key) - 1) == 0)
			have = &have_groups, key = groups_key;
		if (have && *have) {
			free(s.groups);
			return et_err_set(err, ET_E_PROC_SCAN, "status: a second %s line", key);
		}
		if (have == &have_groups) {
			if (parse_groups(line + sizeof(groups_key) - 1, llen - (sizeof(groups_key) - 1), &s, err) < 0) {
				free(s.groups);
				return -1;
			}
		} else if (have) {
			size_t klen = strlen(key);
			if (parse_four(line + klen, llen - klen, ids) < 0) {
				free(s.groups);
				return et_err_set(err, ET_E_PROC_SCAN, "status: the %s line is not four ids", key);
			}
			for (int i = 0; i < 4; i++) {
				if (have == &have_uid)
					s.uid[i] = (uid_t)ids[i];
				else
					s.gid[i] = (gid_t)ids[i];
			}
		}
		if (have)
			*have = true;
		pos += llen + 1;
	}
	if (!have_uid || !have_gid || !have_groups) {
		const char *missing = groups_key;
		free(s.groups);
		if (!have_uid)
			missing = uid_key;
		else if (!have_gid)
			missing = gid_key;
		return et_err_set(err, ET_E_PROC_SCAN, "status: no %s line", missing);
	}
	*ret = s;
	return 0;
}

void et_proc_status_free(struct et_proc_status *s)
{
	if (!s)
		return;
	free(s->groups);
	s->groups = NULL;
	s->n_groups = 0;
}

/* Whether the comma-separated list c[0..len) holds the item "name=systemd". */
static bool has_systemd_name(const char *c, size_t len)
{
	static const char want[] = "name=systemd";
	size_t pos = 0;
	while (pos <= len) {
		const char *comma = memchr(c + pos, ',', len - pos);
		size_t end = comma ? (size_t)(comma - c) : len;
		if (end - pos == sizeof(want) - 1 && memcmp(c + pos, want, sizeof(want) - 1) == 0)
			return true;
		pos = end + 1;
	}
	return false;
}

int et_proc_cgroup_parse(const char *text, size_t len, char *buf, size_t size, struct et_err *err)
{
	const char *v2 = NULL, *v1 = NULL, *path;
	size_t v2_len = 0, v1_len = 0, pos = 0, path_len;

	if (!buf || size == 0)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "cgroup: no room for the path");
	buf[0] = '\0';
	if (len > 0 && text[len - 1] != '\n')
		return et_err_set(err, ET_E_PROC_SCAN, "cgroup: the last line does not end in a newline");
	if (memchr(text, '\0', len))
		return et_err_set(err, ET_E_PROC_SCAN, "cgroup: a NUL byte");
	while (pos < len) {
		const char *line = text + pos, *c1, *c2;
		size_t llen = (size_t)((const char *)memchr(line, '\n', len - pos) - line), i = 0;
		unsigned long long id;
		bool neg;

		if (parse_num(line, llen, &i, &neg, &id) < 0 || neg || id > INT_MAX || i >= llen || line[i] != ':')
			return et_err_set(err, ET_E_PROC_SCAN, "cgroup: a line without a hierarchy number");
		c1 = line + i;
		c2 = memchr(c1 + 1, ':', llen - i - 1);
		if (!c2 || c2 + 1 == line + llen || c2[1] != '/')
			return et_err_set(err, ET_E_PROC_SCAN, "cgroup: a line without a path");
		path = c2 + 1;
		path_len = llen - (size_t)(path - line);
		if (id == 0) {
			if (c2 != c1 + 1)
				return et_err_set(err, ET_E_PROC_SCAN, "cgroup: controllers on hierarchy 0");
			if (v2)
				return et_err_set(err, ET_E_PROC_SCAN, "cgroup: a second line for hierarchy 0");
			v2 = path, v2_len = path_len;
		} else if (has_systemd_name(c1 + 1, (size_t)(c2 - c1 - 1))) {
			if (v1)
				return et_err_set(err, ET_E_PROC_SCAN, "cgroup: a second name=systemd line");
			v1 = path, v1_len = path_len;
		}
		pos += llen + 1;
	}
	if (!v2)
		v2 = v1, v2_len = v1_len;
	if (!v2)
		return 0;
	if (v2_len >= size)
		return et_err_set(err, ET_E_PROC_SCAN, "cgroup: a path of %zu bytes", v2_len);
	memcpy(buf, v2, v2_len);
	buf[v2_len] = '\0';
	return 0;
}

bool et_proc_path_has_component(const char *path, const char *name)
{
	size_t nlen = name ? strlen(name) : 0;
	const char *p = path;

	if (!path || nlen == 0)
		return false;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);
		if (clen == nlen && memcmp(p, name, nlen) == 0)
			return true;
		if (!slash)
			break;
		p = slash + 1;
	}
	return false;
}

/* ---- reading one process ---- */

static bool gone_errno(int e)
{
	return e == ENOENT || e == ESRCH;
}

/* Read at most max bytes of the file name in the process directory dfd into buf (max + 1
 * bytes), NUL-terminated. Returns 1 (*ret_len set), 0 when the process has gone (or the
 * file is empty: a process that is being reaped), -1 with errno (EFBIG: longer than max). */
static int read_proc_file(int dfd, const char *name, char *buf, size_t max, size_t *ret_len)
{
	ssize_t n;
	int fd, e;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return gone_errno(errno) ? 0 : -1;
	n = et_read_all(fd, buf, max + 1);
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return gone_errno(e) ? 0 : -1;
	}
	if ((size_t)n > max) {
		errno = EFBIG;
		return -1;
	}
	buf[n] = '\0';
	*ret_len = (size_t)n;
	return n > 0;
}

/* One process directory of the tree, opened once so that every file read from it is of the
 * same process even when its number is used anew meanwhile. */
struct proc_dir {
	int fd;
	char name[24]; /* the pid, for messages */
};

/* 1 open, 0 gone, -1 with err */
static int proc_dir_open(int root_fd, const char *proc_root, pid_t pid, struct proc_dir *d, struct et_err *err)
{
	snprintf(d->name, sizeof(d->name), "%ld", (long)pid);
	d->fd = openat(root_fd, d->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (d->fd >= 0)
		return 1;
	if (gone_errno(errno))
		return 0;
	return et_err_set(err, ET_E_PROC_SCAN, "cannot open %s/%s: %s", proc_root, d->name, strerror(errno));
}

/* The stat of the process of d: 1, 0 when it has gone, -1 with err. */
static int read_stat(const struct proc_dir *d, const char *proc_root, struct et_proc_stat *st, struct et_err *err)
{
	char buf[ET_PROC_STAT_MAX + 1];
	struct et_err perr;
	size_t len = 0;
	int r = read_proc_file(d->fd, "stat", buf, ET_PROC_STAT_MAX, &len);

	if (r < 0)
		return et_err_set(err, ET_E_PROC_SCAN, "cannot read %s/%s/stat: %s", proc_root, d->name,
				  strerror(errno));
	if (r == 0)
		return 0;
	if (et_proc_stat_parse(buf, len, st, &perr) < 0)
		return et_err_set(err, perr.code, "%s/%s/%s", proc_root, d->name, perr.message);
	return 1;
}

int et_proc_stat_read(const char *proc_root, pid_t pid, struct et_proc_stat *ret, struct et_err *err)
{
	struct proc_dir d;
	int root_fd, r;

	memset(ret, 0, sizeof(*ret));
	if (!proc_root || pid <= 0)
		return et_err_set(err, ET_E_BAD_ARGUMENT, "no process to read");
	root_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return et_err_set(err, ET_E_PROC_SCAN, "cannot open %s: %s", proc_root, strerror(errno));
	r = proc_dir_open(root_fd, proc_root, pid, &d, err);
	close(root_fd);
	if (r > 0) {
		r = read_stat(&d, proc_root, ret, err);
		close(d.fd);
	}
	if (r == 0)
		return et_err_set(err, ET_E_PROCESS_GONE, "there is no process %ld", (long)pid);
	return r < 0 ? -1 : 0;
}

/* The command line of d's process as struct et_proc shows it, into out (size bytes). */
static void read_cmd(const struct proc_dir *d, const char *comm, char *out, size_t size)
{
	char raw[PROC_CMDLINE_READ + 1], bracketed[ET_PROC_COMM_MAX + 3];
	size_t len = 0;
	int fd = openat(d->fd, "cmdline", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

	if (fd >= 0) {
		ssize_t n = et_read_all(fd, raw, PROC_CMDLINE_READ);
		len = n > 0 ? (size_t)n : 0;
		close(fd);
	}
	for (size_t i = 0; i < len; i++)
		if (raw[i] == '\0')
			raw[i] = ' ';
	while (len > 0 && raw[len - 1] == ' ')
		len--;
	if (len > 0) {
		et_text_sanitize_n(raw, len, out, size, NULL);
		return;
	}
	snprintf(bracketed, sizeof(bracketed), "[%s]", comm);
	et_text_sanitize(bracketed, out, size);
}

/* Whether d's process is a kernel thread with PF_KTHREAD: no command line at all. */
static bool kthread_flagged(const struct proc_dir *d, const struct et_proc_stat *st)
{
	char c;
	ssize_t n;
	int fd;

	if (!(st->flags & ET_PROC_KTHREAD))
		return false;
	fd = openat(d->fd, "cmdline", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return true;
	n = read(fd, &c, 1);
	close(fd);
	return n <= 0;
}

/* ---- the scan ---- */

/* What a scan keeps of a process: small, as a tree may hold a great many. */
struct cand {
	pid_t pid, ppid, sid;
	uid_t ruid, euid;
	unsigned long long start;
	unsigned tty_nr;
	unsigned char seed, carrier, state, listed;
};

enum { TIE_UNKNOWN, TIE_VISITING, TIE_TIED, TIE_FREE };

struct scan {
	const struct et_proc_match *m;
	struct et_proc_root *roots; /* m's and the caller's extra ones, by pid */
	size_t n_roots;
	pid_t *sids; /* sessions tied already (et_procs_end), by value */
	size_t n_sids;
	int root_fd;
	pid_t self;
	/* the caller's PID namespace: a process of another one (a container, another machine's
	 * sandbox) is never ours to list, whatever gid numbers it carries */
	bool have_ns;
	dev_t ns_dev;
	ino_t ns_ino;
	char *status_buf; /* ET_PROC_STATUS_MAX + 1 */
	struct cand *c;
	size_t n, cap;
};

static int cmp_root(const void *a, const void *b)
{
	const struct et_proc_root *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_cand(const void *a, const void *b)
{
	return cmp_pid(&((const struct cand *)a)->pid, &((const struct cand *)b)->pid);
}

static bool is_root(const struct scan *sc, pid_t pid, unsigned long long start)
{
	struct et_proc_root key = { .pid = pid, .start = start };
	return sc->n_roots && bsearch(&key, sc->roots, sc->n_roots, sizeof(key), cmp_root);
}

static bool carries(const struct et_proc_status *s, gid_t gid)
{
	for (int i = 0; i < 4; i++)
		if (s->gid[i] == gid)
			return true;
	for (size_t i = 0; i < s->n_groups; i++)
		if (s->groups[i] == gid)
			return true;
	return false;
}

/* Whether name is a process number in its one written form. */
static bool pid_name(const char *name, pid_t *ret)
{
	unsigned long long v;
	size_t pos = 0, len = strlen(name);
	bool neg;
	if (parse_num(name, len, &pos, &neg, &v) < 0 || pos != len || neg || v == 0 || v > INT_MAX)
		return false;
	*ret = (pid_t)v;
	return true;
}

/* Read the process pid into the candidates. 0 when it is passed over (gone, pid 1, this
 * process, a kernel thread, a zombie), 1 when kept, -1 with err. */
static int scan_one(struct scan *sc, pid_t pid, struct et_err *err)
{
	const char *proc_root = sc->m->proc_root;
	struct et_proc_stat st;
	struct et_proc_status ss;
	struct et_err perr;
	struct proc_dir d;
	struct cand *c;
	size_t len = 0;
	bool in_unit = false;
	int r;

	if (pid == 1 || pid == sc->self)
		return 0;
	r = proc_dir_open(sc->root_fd, proc_root, pid, &d, err);
	if (r <= 0)
		return r;
	if (sc->have_ns) {
		struct stat ns;
		/* a process that cannot be told apart is passed over: gone, or not ours to judge */
		if (fstatat(d.fd, "ns/pid", &ns, 0) < 0 || ns.st_dev != sc->ns_dev || ns.st_ino != sc->ns_ino) {
			r = 0;
			goto out;
		}
	}
	r = read_stat(&d, proc_root, &st, err);
	if (r <= 0)
		goto out;
	r = 0;
	if (st.pid != pid || st.pid == 2 || st.ppid == 2 || st.state == 'Z' || st.state == 'X' ||
	    kthread_flagged(&d, &st))
		goto out;
	if (sc->m->unit) {
		/* Below a delegated cgroup the names are the user's own, and so the file's length
		 * and shape: a process whose file cannot be read as a path is not in the unit, but
		 * the scan goes on, or anyone could stop the end of every grant. */
		char cg[ET_PROC_CGROUP_MAX + 1], path[ET_PROC_CGROUP_MAX + 1];
		if (read_proc_file(d.fd, "cgroup", cg, ET_PROC_CGROUP_MAX, &len) > 0 &&
		    et_proc_cgroup_parse(cg, len, path, sizeof(path), NULL) == 0)
			in_unit = et_proc_path_has_component(path, sc->m->unit);
	}
	r = read_proc_file(d.fd, "status", sc->status_buf, ET_PROC_STATUS_MAX, &len);
	if (r < 0) {
		r = et_err_set(err, ET_E_PROC_SCAN, "cannot read %s/%s/status: %s", proc_root, d.name, strerror(errno));
		goto out;
	}
	if (r == 0)
		goto out;
	if (et_proc_status_parse(sc->status_buf, len, &ss, &perr) < 0) {
		r = et_err_set(err, perr.code, "%s/%s/%s", proc_root, d.name, perr.message);
		goto out;
	}
	if (sc->n == sc->cap) {
		size_t ncap = sc->cap ? sc->cap * 2 : 256;
		struct cand *nc = realloc(sc->c, ncap * sizeof(*nc));
		if (!nc) {
			et_proc_status_free(&ss);
			r = et_err_set(err, ET_E_NO_MEMORY, "out of memory");
			goto out;
		}
		sc->c = nc;
		sc->cap = ncap;
	}
	c = &sc->c[sc->n++];
	*c = (struct cand){
		.pid = st.pid,
		.ppid = st.ppid,
		.sid = st.sid,
		.ruid = ss.uid[0],
		.euid = ss.uid[1],
		.start = st.start,
		.tty_nr = st.tty_nr,
		.seed = in_unit || is_root(sc, st.pid, st.start),
		/* a saved or file system gid can be made the effective one again: it carries the
		 * group as well as the real and the effective */
		.carrier = sc->m->have_gid && carries(&ss, sc->m->gid),
	};
	et_proc_status_free(&ss);
	r = 1;
out:
	close(d.fd);
	return r;
}

static ssize_t cand_index(const struct scan *sc, pid_t pid)
{
	struct cand key = { .pid = pid };
	const struct cand *c = bsearch(&key, sc->c, sc->n, sizeof(key), cmp_cand);
	return c ? c - sc->c : -1;
}

/* Tie by ppid: a candidate is tied when a seed is among its ancestors (itself included).
 * Each chain is walked once; a loop of parents (only a made-up tree has one) ties none. */
static void tie_by_parent(struct scan *sc, size_t *stack)
{
	for (size_t i = 0; i < sc->n; i++) {
		size_t k = 0, j = i;
		unsigned char res = TIE_FREE;
		for (;;) {
			ssize_t p;
			if (sc->c[j].state != TIE_UNKNOWN) {
				res = sc->c[j].state == TIE_TIED ? TIE_TIED : TIE_FREE;
				break;
			}
			if (sc->c[j].seed) {
				res = TIE_TIED;
				break;
			}
			sc->c[j].state = TIE_VISITING;
			stack[k++] = j;
			p = sc->c[j].ppid > 0 ? cand_index(sc, sc->c[j].ppid) : -1;
			if (p < 0)
				break;
			j = (size_t)p;
		}
		if (sc->c[j].seed)
			sc->c[j].state = TIE_TIED;
		while (k > 0)
			sc->c[stack[--k]].state = res;
	}
}

/* The tied set: seeds, their descendants, the members of tied sessions, theirs, and so on
 * until nothing is added. */
static int tie(struct scan *sc, struct et_err *err)
{
	size_t *stack = malloc((sc->n ? sc->n : 1) * sizeof(*stack));
	pid_t *leaders = malloc((sc->n + sc->n_sids + 1) * sizeof(*leaders));
	bool more = true;

	if (!stack || !leaders) {
		free(stack);
		free(leaders);
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	}
	while (more) {
		size_t n_leaders = 0;
		more = false;
		for (size_t i = 0; i < sc->n; i++)
			sc->c[i].state = TIE_UNKNOWN;
		tie_by_parent(sc, stack);
		for (size_t i = 0; i < sc->n; i++)
			if (sc->c[i].state == TIE_TIED && sc->c[i].pid == sc->c[i].sid)
				leaders[n_leaders++] = sc->c[i].pid;
		for (size_t i = 0; i < sc->n_sids; i++)
			leaders[n_leaders++] = sc->sids[i];
		qsort(leaders, n_leaders, sizeof(*leaders), cmp_pid);
		for (size_t i = 0; i < sc->n; i++) {
			struct cand *c = &sc->c[i];
			if (!c->seed && c->sid > 0 && n_leaders &&
			    bsearch(&c->sid, leaders, n_leaders, sizeof(*leaders), cmp_pid)) {
				c->seed = 1;
				more = more || c->state != TIE_TIED;
			}
		}
	}
	free(stack);
	free(leaders);
	return 0;
}

/* Scan with m, plus extra roots and tied sessions (et_procs_end's own). */
static int scan(const struct et_proc_match *m, const struct et_proc_root *extra, size_t n_extra, const pid_t *sids,
		size_t n_sids, struct et_proc_list *ret, struct et_err *err)
{
	struct scan sc = { .m = m, .root_fd = -1, .self = getpid() };
	struct dirent *de;
	size_t n_entries = 0, n_list = 0;
	DIR *dir = NULL;
	int r = -1;

	ret->items = NULL;
	ret->n = 0;
	if (!m || !m->proc_root || (m->n_roots && !m->roots))
		return et_err_set(err, ET_E_BAD_ARGUMENT, "no proc tree to scan");
	sc.roots = malloc((m->n_roots + n_extra + 1) * sizeof(*sc.roots));
	sc.sids = malloc((n_sids + 1) * sizeof(*sc.sids));
	sc.status_buf = malloc(ET_PROC_STATUS_MAX + 1);
	if (!sc.roots || !sc.sids || !sc.status_buf) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	if (m->n_roots)
		memcpy(sc.roots, m->roots, m->n_roots * sizeof(*sc.roots));
	if (n_extra)
		memcpy(sc.roots + m->n_roots, extra, n_extra * sizeof(*sc.roots));
	sc.n_roots = m->n_roots + n_extra;
	qsort(sc.roots, sc.n_roots, sizeof(*sc.roots), cmp_root);
	if (n_sids)
		memcpy(sc.sids, sids, n_sids * sizeof(*sc.sids));
	sc.n_sids = n_sids;

	sc.root_fd = open(m->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sc.root_fd < 0 || !(dir = fdopendir(dup(sc.root_fd)))) {
		et_err_set(err, ET_E_PROC_SCAN, "cannot open %s: %s", m->proc_root, strerror(errno));
		goto done;
	}
	{
		/* a tree without namespace files (a test's) is judged without them */
		struct stat ns;
		if (fstatat(sc.root_fd, "self/ns/pid", &ns, 0) == 0) {
			sc.have_ns = true;
			sc.ns_dev = ns.st_dev;
			sc.ns_ino = ns.st_ino;
		}
	}
	for (;;) {
		pid_t pid;
		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno) {
				et_err_set(err, ET_E_PROC_SCAN, "cannot read %s: %s", m->proc_root, strerror(errno));
				goto done;
			}
			break;
		}
		if (++n_entries > ET_PROC_SCAN_MAX) {
			et_err_set(err, ET_E_PROC_SCAN, "%s has more than %d entries", m->proc_root, ET_PROC_SCAN_MAX);
			goto done;
		}
		if (pid_name(de->d_name, &pid) && scan_one(&sc, pid, err) < 0)
			goto done;
	}
	if (sc.n > 1)
		qsort(sc.c, sc.n, sizeof(*sc.c), cmp_cand);
	if (tie(&sc, err) < 0)
		goto done;
	for (size_t i = 0; i < sc.n; i++) {
		struct cand *c = &sc.c[i];
		bool spared = false;
		for (size_t k = 0; k < m->n_spared && !spared; k++)
			spared = m->spared[k] == c->pid;
		c->listed = c->state == TIE_TIED ||
			    (c->carrier && !spared && !(m->exempt && m->exempt(c->ruid, m->data)));
		n_list += c->listed;
	}
	ret->items = n_list ? calloc(n_list, sizeof(*ret->items)) : NULL;
	if (n_list && !ret->items) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	/* The command line is read only for what is listed, again from the process's
	 * directory: one that has gone or whose number names another process now is left out. */
	for (size_t i = 0; i < sc.n; i++) {
		const struct cand *c = &sc.c[i];
		struct et_proc *p = &ret->items[ret->n];
		struct et_proc_stat st;
		struct proc_dir d;
		int k;

		if (!c->listed)
			continue;
		k = proc_dir_open(sc.root_fd, m->proc_root, c->pid, &d, err);
		if (k < 0)
			goto done;
		if (k == 0)
			continue;
		k = read_stat(&d, m->proc_root, &st, err);
		if (k > 0 && st.start == c->start && st.state != 'Z' && st.state != 'X') {
			*p = (struct et_proc){
				.pid = c->pid,
				.ppid = c->ppid,
				.sid = c->sid,
				.ruid = c->ruid,
				.euid = c->euid,
				.start = c->start,
				.tty = (dev_t)c->tty_nr,
				.tied = c->state == TIE_TIED,
			};
			read_cmd(&d, st.comm, p->cmd, sizeof(p->cmd));
			ret->n++;
		}
		close(d.fd);
		if (k < 0)
			goto done;
	}
	r = 0;
done:
	if (r < 0)
		et_proc_list_free(ret);
	if (dir)
		closedir(dir);
	if (sc.root_fd >= 0)
		close(sc.root_fd);
	free(sc.c);
	free(sc.roots);
	free(sc.sids);
	free(sc.status_buf);
	return r;
}

int et_procs_find(const struct et_proc_match *m, struct et_proc_list *ret, struct et_err *err)
{
	return scan(m, NULL, 0, NULL, 0, ret, err);
}

void et_proc_list_free(struct et_proc_list *l)
{
	if (!l)
		return;
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* ---- the end ---- */

/* A process being ended: named by pid and start time, never by pid alone. */
struct ending {
	struct et_proc p;
	bool alive;
};

struct ender {
	const struct et_proc_match *m;
	int root_fd;
	struct ending *e;
	size_t n, cap;
	struct et_proc_root *roots; /* the tied ones among e, for the next scan */
	pid_t *sids;		    /* the sessions they lead */
	struct et_err scan_err;	    /* the first scan that failed */
	bool scan_failed;
};

/* Whether the process p still lives: its number names a process with its start time that is
 * not a zombie. 1 (*ret_state: stat's state), 0, or -1 when it cannot be told. */
static int proc_state(const struct ender *en, const struct et_proc *p, char *ret_state)
{
	struct et_proc_stat st;
	struct proc_dir d;
	int r = proc_dir_open(en->root_fd, en->m->proc_root, p->pid, &d, NULL);

	if (r <= 0)
		return r;
	r = read_stat(&d, en->m->proc_root, &st, NULL);
	close(d.fd);
	if (r <= 0)
		return r;
	if (ret_state)
		*ret_state = st.state;
	return st.start == p->start && st.state != 'Z' && st.state != 'X';
}

/* Send sig to p, and SIGCONT after a SIGTERM (a stopped process acts on nothing else). The
 * pidfd is opened before the start time is checked again: when the check passes, the pidfd
 * is of that very process, whatever its number names a moment later. Without pidfds (Linux
 * before 5.3) the signal goes by number right after the check. Returns 1 when sent, 0 when
 * the process has gone, -1 when it could not be signalled. */
static int send_sig(const struct ender *en, const struct et_proc *p, int sig)
{
	int fd = (int)syscall(SYS_pidfd_open, p->pid, 0), alive, r = 1;

	if (fd < 0 && errno == ESRCH)
		return 0;
	if (fd < 0 && errno != ENOSYS)
		return -1;
	alive = proc_state(en, p, NULL);
	if (alive <= 0) {
		if (fd >= 0)
			close(fd);
		return alive;
	}
	if (fd >= 0) {
		if (syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 ||
		    (sig == SIGTERM && syscall(SYS_pidfd_send_signal, fd, SIGCONT, NULL, 0) < 0))
			r = errno == ESRCH ? 0 : -1;
		close(fd);
	} else if (kill(p->pid, sig) < 0 || (sig == SIGTERM && kill(p->pid, SIGCONT) < 0)) {
		r = errno == ESRCH ? 0 : -1;
	}
	return r;
}

/* sig to every process being ended that lives. */
static void signal_all(struct ender *en, int sig)
{
	for (size_t i = 0; i < en->n; i++)
		if (en->e[i].alive)
			en->e[i].alive = send_sig(en, &en->e[i].p, sig) != 0;
}

/* Take p among the processes being ended (when it is not already) and send it sig. */
static int take(struct ender *en, const struct et_proc *p, int sig, struct et_err *err)
{
	struct ending *e;

	for (size_t i = 0; i < en->n; i++)
		if (en->e[i].p.pid == p->pid && en->e[i].p.start == p->start)
			return 0;
	if (en->n == en->cap) {
		size_t ncap = en->cap ? en->cap * 2 : 64;
		struct ending *ne = realloc(en->e, ncap * sizeof(*ne));
		struct et_proc_root *nr = ne ? realloc(en->roots, ncap * sizeof(*nr)) : NULL;
		pid_t *ns = nr ? realloc(en->sids, ncap * sizeof(*ns)) : NULL;
		if (ne)
			en->e = ne;
		if (nr)
			en->roots = nr;
		if (!ns)
			return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		en->sids = ns;
		en->cap = ncap;
	}
	e = &en->e[en->n++];
	e->p = *p;
	e->alive = send_sig(en, p, sig) != 0;
	return 0;
}

/* Scan again and take what is new. The tied processes taken so far are roots of the scan
 * and their sessions tied: a process they forked is found through them even after they
 * ended. A scan that fails is remembered and the end goes on with what it has. */
static int rescan(struct ender *en, int sig, struct et_err *err)
{
	struct et_proc_list found;
	size_t n_roots = 0, n_sids = 0;
	struct et_err serr;

	for (size_t i = 0; i < en->n; i++) {
		const struct et_proc *p = &en->e[i].p;
		if (!p->tied)
			continue;
		en->roots[n_roots++] = (struct et_proc_root){ .pid = p->pid, .start = p->start };
		/* a session outlives its leader, and its number is not used anew while it has
		 * members */
		if (p->pid == p->sid)
			en->sids[n_sids++] = p->sid;
	}
	if (scan(en->m, en->roots, n_roots, en->sids, n_sids, &found, &serr) < 0) {
		if (serr.code == ET_E_NO_MEMORY)
			return et_err_set(err, serr.code, "%s", serr.message);
		if (!en->scan_failed)
			en->scan_err = serr;
		en->scan_failed = true;
		return 0;
	}
	for (size_t i = 0; i < found.n; i++)
		if (take(en, &found.items[i], sig, err) < 0) {
			et_proc_list_free(&found);
			return -1;
		}
	et_proc_list_free(&found);
	return 0;
}

/* Look again at every process being ended; how many still live. */
static size_t count_alive(struct ender *en)
{
	size_t n = 0;
	for (size_t i = 0; i < en->n; i++) {
		if (en->e[i].alive)
			en->e[i].alive = proc_state(en, &en->e[i].p, NULL) != 0;
		n += en->e[i].alive;
	}
	return n;
}

/* Before SIGKILL: stop every process being ended, wait (a little) until each is stopped,
 * scan, and again while a scan finds new ones. A stopped process forks no more, and what it
 * forked a moment before is found through it; killed at once, such a child would be
 * re-parented away from the tree before the next scan. */
static int freeze(struct ender *en, long long deadline, struct et_err *err)
{
	for (;;) {
		size_t before = en->n;
		long long until = et_mono_ms() + PROC_TICK_MS * 4;

		signal_all(en, SIGSTOP);
		for (bool all = false; !all && et_mono_ms() < until && et_mono_ms() < deadline;) {
			all = true;
			for (size_t i = 0; i < en->n && all; i++) {
				char state = 0;
				if (en->e[i].alive && proc_state(en, &en->e[i].p, &state) > 0)
					all = state == 'T' || state == 't';
			}
			if (!all)
				et_sleep_ms(2);
		}
		if (rescan(en, SIGSTOP, err) < 0)
			return -1;
		if (en->n == before || et_mono_ms() >= deadline)
			return 0;
	}
}

static int cmp_proc(const void *a, const void *b)
{
	return cmp_pid(&((const struct et_proc *)a)->pid, &((const struct et_proc *)b)->pid);
}

int et_procs_end(const struct et_proc_match *m, const struct et_proc_list *l, long grace_ms,
		 struct et_proc_list *ret_survivors, struct et_err *err)
{
	struct ender en = { .m = m, .root_fd = -1 };
	struct et_proc_list first = { 0 };
	long long deadline;
	int sig = SIGTERM, r = -1;

	if (ret_survivors) {
		ret_survivors->items = NULL;
		ret_survivors->n = 0;
	}
	if (!l) {
		if (et_procs_find(m, &first, err) < 0)
			return -1;
		l = &first;
	} else if (!m || !m->proc_root) {
		return et_err_set(err, ET_E_BAD_ARGUMENT, "no proc tree to scan");
	}
	en.root_fd = open(m->proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (en.root_fd < 0) {
		et_err_set(err, ET_E_PROC_SCAN, "cannot open %s: %s", m->proc_root, strerror(errno));
		goto done;
	}
	for (size_t i = 0; i < l->n; i++)
		if (take(&en, &l->items[i], SIGTERM, err) < 0)
			goto done;
	deadline = et_mono_ms() + (grace_ms > 0 ? grace_ms : 0);
	/* Every tick, what was forked meanwhile gets the signal of the phase; done early when
	 * nothing lives and nothing new came. At the end of the grace, SIGKILL to all that
	 * lives, and a last wait. */
	for (;;) {
		size_t before = en.n;
		long long now = et_mono_ms(), left;

		if (sig == SIGTERM && now >= deadline) {
			sig = SIGKILL;
			deadline = now + PROC_KILL_WAIT_MS;
			if (freeze(&en, deadline, err) < 0)
				goto done;
			signal_all(&en, SIGKILL);
		}
		if (rescan(&en, sig, err) < 0)
			goto done;
		if (count_alive(&en) == 0 && en.n == before)
			break;
		left = deadline - et_mono_ms();
		if (sig == SIGKILL && left <= 0)
			break;
		et_sleep_ms(left < PROC_TICK_MS ? (long)(left > 0 ? left : 0) : PROC_TICK_MS);
	}
	if (ret_survivors) {
		size_t n = count_alive(&en), k = 0;
		ret_survivors->items = n ? calloc(n, sizeof(*ret_survivors->items)) : NULL;
		if (n && !ret_survivors->items) {
			et_err_set(err, ET_E_NO_MEMORY, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < en.n; i++)
			if (en.e[i].alive)
				ret_survivors->items[k++] = en.e[i].p;
		ret_survivors->n = k;
		if (k > 1)
			qsort(ret_survivors->items, k, sizeof(*ret_survivors->items), cmp_proc);
	}
	if (en.scan_failed) {
		et_err_set(err, en.scan_err.code, "%s", en.scan_err.message);
		goto done;
	}
	r = 0;
done:
	if (en.root_fd >= 0)
		close(en.root_fd);
	free(en.e);
	free(en.roots);
	free(en.sids);
	et_proc_list_free(&first);
	return r;
}
