/* SPDX-License-Identifier: Apache-2.0 */
/* The sessions a grant elevated and what its end does to them (sessions.h). */
#include "sessions.h"
#include "audit.h"
#include "fsutil.h"
#include "grant_ops.h"
#include "identity.h"
#include "procs.h"
#include "text.h"
#include "timer.h"
#include "wall.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define MAGIC "entra-tap-sessions 1"
#define SESSIONS_SUBDIR "sessions"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define NAMES_MAX 2000
#define CGROUP_SCOPES "/sys/fs/cgroup/system.slice"

/* ---- the file ---- */

static bool boot_id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return true;
}

static bool tty_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ET_TIE_TTY_MAX || strncmp(s, "/dev/", 5) != 0 || strstr(s, "/.."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '/' || s[i] == '.' || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

int et_ties_format(const struct et_ties *t, char *buf, size_t size, size_t *ret_len, struct et_err *err)
{
	size_t used = 0;
	int n;
	if (t->n > ET_TIES_MAX || !boot_id_ok(t->boot_id))
		return et_err_set(err, ET_E_CORRUPT_TIES, "the ties of a grant cannot be written: bad values");
	n = snprintf(buf, size, MAGIC "\nboot %s\n", t->boot_id);
	if (n < 0 || (size_t)n >= size)
		goto full;
	used = (size_t)n;
	for (size_t i = 0; i < t->n; i++) {
		const struct et_tie *e = &t->items[i];
		if (e->pid < 2 || (e->tty[0] && !tty_ok(e->tty)))
			return et_err_set(err, ET_E_CORRUPT_TIES, "the ties of a grant cannot be written: bad values");
		n = snprintf(buf + used, size - used, "tie %ld %llu %d %s\n", (long)e->pid, e->start, e->scope ? 1 : 0,
			     e->tty[0] ? e->tty : "-");
		if (n < 0 || (size_t)n >= size - used)
			goto full;
		used += (size_t)n;
	}
	n = snprintf(buf + used, size - used, "end\n");
	if (n < 0 || (size_t)n >= size - used)
		goto full;
	*ret_len = used + (size_t)n;
	return 0;
full:
	return et_err_set(err, ET_E_CORRUPT_TIES, "the ties of a grant do not fit %zu bytes", size);
}

/* an unsigned decimal without sign or leading zero, at most max */
static bool number(const char *s, unsigned long long max, unsigned long long *ret)
{
	unsigned long long v = 0;
	if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 20)
		return false;
	for (; *s; s++) {
		unsigned long long d = (unsigned long long)(*s - '0');
		if (*s < '0' || *s > '9' || d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	*ret = v;
	return true;
}

static int tie_line(char *line, struct et_tie *ret)
{
	char *f[5], *rest = line, *tok;
	unsigned long long pid, start, scope;
	size_t n = 0;
	/* exactly one space between fields: strsep gives an empty field for two */
	while ((tok = strsep(&rest, " ")) != NULL) {
		if (n == 5 || !*tok)
			return -1;
		f[n++] = tok;
	}
	if (n != 5 || strcmp(f[0], "tie") != 0 || !number(f[1], INT_MAX, &pid) || pid < 2 ||
	    !number(f[2], ULLONG_MAX, &start) || !number(f[3], 1, &scope))
		return -1;
	memset(ret, 0, sizeof(*ret));
	ret->pid = (pid_t)pid;
	ret->start = start;
	ret->scope = scope == 1;
	if (strcmp(f[4], "-") != 0) {
		if (!tty_ok(f[4]))
			return -1;
		snprintf(ret->tty, sizeof(ret->tty), "%s", f[4]);
	}
	return 0;
}

int et_ties_parse(const char *text, size_t len, struct et_ties *ret, struct et_err *err)
{
	struct et_ties t;
	size_t pos = 0, line_no = 0;
	bool ended = false;

	memset(&t, 0, sizeof(t));
	if (len > ET_TIES_FILE_MAX)
		return et_err_set(err, ET_E_CORRUPT_TIES, "the ties file is larger than %d bytes", ET_TIES_FILE_MAX);
	while (pos < len) {
		char line[160];
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t l;
		if (!nl)
			return et_err_set(err, ET_E_CORRUPT_TIES, "line %zu does not end", line_no + 1);
		l = (size_t)(nl - (text + pos));
		if (l >= sizeof(line) || memchr(text + pos, '\0', l) || ended)
			return et_err_set(err, ET_E_CORRUPT_TIES, "line %zu is not a line of the ties file", line_no + 1);
		memcpy(line, text + pos, l);
		line[l] = '\0';
		pos += l + 1;
		line_no++;
		if (line_no == 1) {
			if (strcmp(line, MAGIC) != 0)
				return et_err_set(err, ET_E_CORRUPT_TIES, "not a ties file (line 1)");
		} else if (line_no == 2) {
			if (strncmp(line, "boot ", 5) != 0 || !boot_id_ok(line + 5))
				return et_err_set(err, ET_E_CORRUPT_TIES, "line 2 is not a boot id");
			memcpy(t.boot_id, line + 5, 37);
		} else if (strcmp(line, "end") == 0) {
			ended = true;
		} else {
			if (t.n >= ET_TIES_MAX)
				return et_err_set(err, ET_E_CORRUPT_TIES, "more than %d ties", ET_TIES_MAX);
			if (tie_line(line, &t.items[t.n]) < 0)
				return et_err_set(err, ET_E_CORRUPT_TIES, "line %zu is not a tie", line_no);
			t.n++;
		}
	}
	if (!ended)
		return et_err_set(err, ET_E_CORRUPT_TIES, "the ties file is cut short (no end line)");
	*ret = t;
	return 0;
}

static int ties_path(const struct et_config *cfg, const char *id, char *buf, size_t size, struct et_err *err)
{
	if (!et_grant_id_ok(id) || !cfg->state_dir ||
	    (size_t)snprintf(buf, size, "%s/" SESSIONS_SUBDIR "/%s", cfg->state_dir, id) >= size)
		return et_err_set(err, ET_E_PATH_TOO_LONG, "state_dir is too long");
	return 0;
}

static int boot_id(char buf[40])
{
	char raw[64];
	int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	if (fd < 0)
		return -1;
	n = et_read_all(fd, raw, sizeof(raw) - 1);
	close(fd);
	if (n < 36)
		return -1;
	raw[36] = '\0';
	if (!boot_id_ok(raw))
		return -1;
	memcpy(buf, raw, 37);
	return 0;
}

/* The ties of grant id; none (n = 0) when there is no file. */
static int ties_read(const struct et_config *cfg, const char *id, struct et_ties *ret, struct et_err *err)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int r;
	memset(ret, 0, sizeof(*ret));
	if (ties_path(cfg, id, path, sizeof(path), err) < 0)
		return -1;
	if (et_file_read(path, ET_TIES_FILE_MAX, 1, &text, &len, err) < 0)
		return err && err->code == ET_E_NOT_FOUND ? 0 : -1;
	r = et_ties_parse(text, len, ret, err);
	free(text);
	return r;
}

/* ---- tie ---- */


int et_session_tie(const struct et_config *cfg, const char *user, pid_t pid, const char *tty,
		   char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err)
{
	struct et_grant_list l = { 0 };
	const struct et_grant *g = NULL;
	struct et_proc_stat st;
	struct et_ties t;
	struct et_tie tie = { .pid = pid };
	struct et_err serr;
	char dir[PATH_MAX], path[PATH_MAX], buf[ET_TIES_FILE_MAX];
	size_t len;
	time_t now = time(NULL);
	int lock = -1, r = -1, s;

	if (tty && !tty_ok(tty))
		return et_err_set(err, ET_E_BAD_ARGUMENT, "'%.64s' is not a terminal under /dev", tty);
	if (et_proc_stat_read("/proc", pid, &st, err) < 0)
		return -1;
	tie.start = st.start;
	if (tty)
		snprintf(tie.tty, sizeof(tie.tty), "%s", tty);
	else if (st.tty_nr && et_tty_path((dev_t)st.tty_nr, tie.tty, sizeof(tie.tty)) < 0)
		tie.tty[0] = '\0';
	if (et_grant_store_prepare(cfg, err) < 0 || et_grant_store_lock(cfg, ET_GRANT_LOCK_WAIT_MS, &lock, err) < 0)
		goto done;
	if (et_grant_store_list(cfg, user, &l, err) < 0)
		goto done;
	g = et_grant_latest_live(&l, NULL, now);
	if (!g) {
		et_err_set(err, ET_E_NOT_FOUND, "%s holds no live grant", user);
		goto done;
	}
	if (ties_read(cfg, g->id, &t, err) < 0)
		goto done;
	if (boot_id(t.boot_id) < 0) {
		et_err_set(err, ET_E_READ_FAILED, "cannot read %s", BOOT_ID_PATH);
		goto done;
	}
	if (t.n >= ET_TIES_MAX) {
		/* the scope still holds the session: only its terminal goes unwarned */
		memmove(&t.items[0], &t.items[1], (t.n - 1) * sizeof(t.items[0]));
		t.n--;
	}
	s = et_scope_attach(g->id, pid, &serr);
	if (s < 0)
		et_log(&cfg->log, ET_LOG_ERR, "session of process %ld: %s (recorded by its process id instead)", (long)pid,
		       serr.message);
	tie.scope = s == 0;
	t.items[t.n++] = tie;
	if (et_ties_format(&t, buf, sizeof(buf), &len, err) < 0 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/" SESSIONS_SUBDIR, cfg->state_dir) >= sizeof(dir) ||
	    ties_path(cfg, g->id, path, sizeof(path), err) < 0 || et_dir_ensure_private(dir, 0700, err) < 0 ||
	    et_file_write_atomic(path, buf, len, 0600, err) < 0)
		goto done;
	snprintf(ret_id, ET_GRANT_ID_HEX + 1, "%s", g->id);
	r = 0;
done:
	et_grant_store_unlock(lock);
	et_grant_list_free(&l);
	return r;
}

/* ---- the end ---- */

struct entitled {
	uid_t *uids;
	size_t n;
};

static bool exempt(uid_t uid, void *data)
{
	const struct entitled *e = data;
	if (uid == 0)
		return true;
	for (size_t i = 0; i < e->n; i++)
		if (e->uids[i] == uid)
			return true;
	return false;
}

static void entitled_add(struct entitled *e, uid_t uid, size_t cap)
{
	if (e->n < cap)
		e->uids[e->n++] = uid;
}

static void entitled_add_name(struct entitled *e, const char *name, size_t cap)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &found) == 0 && found)
		entitled_add(e, pw.pw_uid, cap);
}

/* Who may still carry g's group once g has ended: its members as /etc/group lists them now
 * (the end removed g's user unless something else keeps it: a group that is not managed
 * keeps the members nobody granted), permanent members and holders of another live grant
 * of it. members: the group's member list (gr_mem), or NULL. */
static void entitled_build(const struct et_config *cfg, const struct et_grant *g, char *const *members,
			   struct entitled *e)
{
	struct et_grant_list l = { 0 };
	struct et_err err;
	size_t cap, n_members = 0;
	time_t now = time(NULL);
	e->n = 0;
	if (et_grant_store_list(cfg, NULL, &l, &err) < 0)
		l.n = 0;
	while (members && members[n_members])
		n_members++;
	cap = l.n + cfg->permanent_members.n + n_members + 1;
	e->uids = calloc(cap, sizeof(uid_t));
	if (!e->uids) {
		et_grant_list_free(&l);
		return;
	}
	for (size_t i = 0; i < l.n; i++)
		if (l.items[i].expires > now && strcmp(l.items[i].group, g->group) == 0 && strcmp(l.items[i].id, g->id) != 0)
			entitled_add(e, l.items[i].uid, cap);
	for (size_t i = 0; i < cfg->permanent_members.n; i++)
		entitled_add_name(e, cfg->permanent_members.items[i], cap);
	for (size_t i = 0; i < n_members; i++)
		entitled_add_name(e, members[i], cap);
	et_grant_list_free(&l);
}

static bool is_permanent(const struct et_config *cfg, const char *user)
{
	return et_strlist_contains(&cfg->permanent_members, user);
}

/* "pid uid command; ..." within size, "... (N more)" when cut */
static void names_of(const struct et_proc_list *l, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		int n = snprintf(buf + used, size - used, "%s%ld %lu %s", i ? "; " : "", (long)l->items[i].pid,
				 (unsigned long)l->items[i].ruid, l->items[i].cmd);
		if (n < 0 || (size_t)n >= size - used - 24) {
			snprintf(buf + used, size - used, "%s... (%zu more)", i ? "; " : "", l->n - i);
			return;
		}
		used += (size_t)n;
	}
}

/* One line per terminal: the tied sessions' terminals, then those of the other processes. */
static unsigned lines_to_terminals(const struct et_ties *t, const struct et_proc_list *l, const char *line)
{
	char seen[ET_TIES_MAX + 32][ET_TIE_TTY_MAX + 1];
	size_t n_seen = 0;
	unsigned sent = 0;
	for (size_t i = 0; i < t->n + l->n && n_seen < sizeof(seen) / sizeof(seen[0]); i++) {
		char tty[ET_TIE_TTY_MAX + 1];
		bool dup = false;
		if (i < t->n) {
			snprintf(tty, sizeof(tty), "%s", t->items[i].tty);
		} else {
			const struct et_proc *p = &l->items[i - t->n];
			if (p->tied || !p->tty || et_tty_path(p->tty, tty, sizeof(tty)) < 0)
				continue;
		}
		if (!tty[0])
			continue;
		for (size_t j = 0; j < n_seen && !dup; j++)
			dup = strcmp(seen[j], tty) == 0;
		if (dup)
			continue;
		memcpy(seen[n_seen++], tty, sizeof(tty));
		if (et_tty_line(tty, line) == 0)
			sent++;
	}
	return sent;
}

static void end_with(const struct et_config *cfg, const struct et_grant *g, const char *cause, bool emit_revoke)
{
	struct et_proc_root roots[ET_TIES_MAX];
	pid_t spared;
	struct et_proc_list l = { 0 }, survivors = { 0 };
	struct et_proc_match m = { .proc_root = "/proc" };
	struct entitled ent = { 0 };
	struct et_ties t;
	struct et_audit a;
	struct et_err err;
	char unit[64], names[NAMES_MAX + 1], path[PATH_MAX], boot[40];
	bool keep = cfg->on_expiry == ET_ON_EXPIRY_KEEP || is_permanent(cfg, g->user);
	size_t n_tied = 0;
	int fd = -1;

	names[0] = '\0';
	path[0] = '\0';
	/* the ender holds the ties file: the sweep leaves a file someone is working on */
	if (ties_path(cfg, g->id, path, sizeof(path), NULL) == 0) {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			fd = -1;
			if (!emit_revoke)
				return;
		}
	} else {
		path[0] = '\0';
	}
	if (ties_read(cfg, g->id, &t, &err) < 0) {
		et_log(&cfg->log, ET_LOG_ERR, "grant %s: %s", g->id, err.message);
		memset(&t, 0, sizeof(t));
	}
	/* a pid recorded in another boot names nobody now */
	if (t.n && (boot_id(boot) < 0 || strcmp(boot, t.boot_id) != 0))
		t.n = 0;
	for (size_t i = 0; i < t.n; i++)
		if (!t.items[i].scope)
			roots[m.n_roots++] = (struct et_proc_root){ t.items[i].pid, t.items[i].start };
	m.roots = roots;
	et_scope_unit_name(g->id, unit);
	m.unit = unit;
	{
		struct group gr, *found = NULL;
		char buf[65536];
		if (getgrnam_r(g->group, &gr, buf, sizeof(buf), &found) == 0 && found) {
			m.have_gid = true;
			m.gid = gr.gr_gid;
		}
		entitled_build(cfg, g, found ? gr.gr_mem : NULL, &ent);
		/* without the list of who may keep the group nobody can be told apart: no
		 * carrier is ended */
		if (!ent.uids)
			m.have_gid = false;
	}
	m.exempt = exempt;
	m.data = &ent;
	/* the account phase's own host (sudo, sshd, su: the module runs us from it) asked: it
	 * is refused, not killed; the login it runs in is ended as any other */
	if (strcmp(cause, "account") == 0) {
		spared = getppid();
		m.spared = &spared;
		m.n_spared = 1;
	}
	if (et_procs_find(&m, &l, &err) < 0)
		et_log(&cfg->log, ET_LOG_ERR, "grant %s: the processes it gave cannot be listed: %s", g->id, err.message);
	for (size_t i = 0; i < l.n; i++)
		n_tied += l.items[i].tied;
	names_of(&l, names, sizeof(names));

	et_grant_audit_fill(&a, g, cause);
	a.on_expiry = keep ? "keep" : "terminate";
	a.processes = l.n ? names : NULL;
	if (emit_revoke)
		et_grant_audit_note(cfg, et_audit(ET_AUDIT_REVOKE, LOG_NOTICE, &a,
						  "grant %s of %s to group %s ended (%s)%s%s", g->id, g->user, g->group,
						  cause, l.n ? (keep ? ": processes it gave are kept: " : ": ending ") : "",
						  l.n ? names : ""));
	if (l.n && keep) {
		et_grant_audit_note(cfg, et_audit(ET_AUDIT_SESSIONS_ENDED, LOG_WARNING, &a,
						  "grant %s of %s ended; on_expiry = keep: %zu process(es) outlive it "
						  "(%zu in its sessions): %s",
						  g->id, g->user, l.n, n_tied, names));
	} else if (l.n) {
		unsigned sent = lines_to_terminals(&t, &l, ET_ENDED_LINE);
		if (et_procs_end(&m, &l, cfg->terminate_grace * 1000L, &survivors, &err) < 0)
			et_log(&cfg->log, ET_LOG_ERR, "grant %s: %s", g->id, err.message);
		if (survivors.n) {
			names_of(&survivors, names, sizeof(names));
			a.processes = names;
			et_grant_audit_note(cfg, et_audit(ET_AUDIT_SESSIONS_ENDED, LOG_CRIT, &a,
							  "grant %s of %s ended, but %zu process(es) it gave could not be "
							  "ended: %s",
							  g->id, g->user, survivors.n, names));
		} else {
			et_grant_audit_note(cfg, et_audit(ET_AUDIT_SESSIONS_ENDED, LOG_NOTICE, &a,
							  "grant %s of %s ended: %zu process(es) ended (%zu in its "
							  "sessions), %u terminal(s) told",
							  g->id, g->user, l.n, n_tied, sent));
		}
	}
	if (!keep && et_scope_stop(g->id, &err) < 0)
		et_log(&cfg->log, ET_LOG_ERR, "grant %s: %s", g->id, err.message);
	/* the to-do goes last: an end cut short is finished by the sweep */
	if (path[0])
		(void)unlink(path);
	if (fd >= 0)
		close(fd);
	free(ent.uids);
	et_proc_list_free(&l);
	et_proc_list_free(&survivors);
}

void et_sessions_end(const struct et_config *cfg, const struct et_grant *g, const char *cause)
{
	end_with(cfg, g, cause, true);
}

/* ---- the warning ---- */

int et_sessions_warn(const struct et_config *cfg, const char *id, const char *hint, time_t now, unsigned *ret_sent,
		     struct et_err *err)
{
	struct et_proc_list none = { 0 };
	struct et_grant g;
	struct et_ties t;
	char at[16], line[200];
	struct tm tm;
	long mins;

	if (et_grant_store_read(cfg, id, &g, err) < 0)
		return -1;
	if (g.expires <= now)
		return et_err_set(err, ET_E_NOT_FOUND, "grant %s has ended", id);
	if (ties_read(cfg, id, &t, err) < 0)
		return -1;
	if (!localtime_r(&g.expires, &tm) || !strftime(at, sizeof(at), "%H:%M", &tm))
		snprintf(at, sizeof(at), "?");
	mins = ((long)(g.expires - now) + 30) / 60;
	if (mins < 1)
		mins = 1;
	snprintf(line, sizeof(line), "elevation ends at %s (in %ld min); %s", at, mins, hint);
	*ret_sent = lines_to_terminals(&t, &none, line);
	return 0;
}

/* ---- the sweep's part ---- */

static bool record_exists(const struct et_config *cfg, const char *id)
{
	struct et_grant g;
	struct et_err err;
	return et_grant_store_read(cfg, id, &g, &err) == 0 || err.code != ET_E_NOT_FOUND;
}

/* "entra-tap-grant-<id>.scope" → id */
static bool scope_id(const char *name, char id[ET_GRANT_ID_HEX + 1])
{
	size_t p = strlen(ET_SCOPE_UNIT_PREFIX), n = strlen(name);
	if (n != p + ET_GRANT_ID_HEX + 6 || strncmp(name, ET_SCOPE_UNIT_PREFIX, p) != 0 ||
	    strcmp(name + p + ET_GRANT_ID_HEX, ".scope") != 0)
		return false;
	memcpy(id, name + p, ET_GRANT_ID_HEX);
	id[ET_GRANT_ID_HEX] = '\0';
	return et_grant_id_ok(id);
}

static void sweep_dir(const struct et_config *cfg, const char *dir, bool scopes, unsigned *ended)
{
	struct dirent *de;
	unsigned seen = 0;
	DIR *d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) && seen++ < ET_GRANTS_MAX) {
		struct et_grant g;
		char id[ET_GRANT_ID_HEX + 1];
		if (scopes ? !scope_id(de->d_name, id) : !et_grant_id_ok(de->d_name))
			continue;
		if (!scopes)
			snprintf(id, sizeof(id), "%.32s", de->d_name);
		if (record_exists(cfg, id))
			continue;
		/* the grant is gone: what is left of it is ended as its end would have */
		memset(&g, 0, sizeof(g));
		snprintf(g.id, sizeof(g.id), "%s", id);
		snprintf(g.user, sizeof(g.user), "?");
		snprintf(g.group, sizeof(g.group), "%s", cfg->elevated_group ? cfg->elevated_group : "?");
		end_with(cfg, &g, "sweep", false);
		(*ended)++;
	}
	closedir(d);
}

void et_sessions_sweep(const struct et_config *cfg, unsigned *ret_ended)
{
	char dir[PATH_MAX];
	unsigned ended = 0;
	if (cfg->state_dir && (size_t)snprintf(dir, sizeof(dir), "%s/" SESSIONS_SUBDIR, cfg->state_dir) < sizeof(dir))
		sweep_dir(cfg, dir, false, &ended);
	if (cfg->on_expiry == ET_ON_EXPIRY_TERMINATE) {
		/* the grants' scopes sit beside the sweep's own service (system.slice), wherever
		 * the system's cgroup tree is rooted */
		char text[ET_PROC_CGROUP_MAX], cg[PATH_MAX], scopes[PATH_MAX];
		struct et_err err;
		int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? et_read_all(fd, text, sizeof(text)) : -1;
		char *slash;
		if (fd >= 0)
			close(fd);
		if (n > 0 && et_proc_cgroup_parse(text, (size_t)n, cg, sizeof(cg), &err) == 0 &&
		    (slash = strrchr(cg, '/')) != NULL && slash != cg) {
			*slash = '\0';
			if ((size_t)snprintf(scopes, sizeof(scopes), "/sys/fs/cgroup%s", cg) < sizeof(scopes) &&
			    strcmp(scopes, CGROUP_SCOPES) != 0)
				sweep_dir(cfg, scopes, true, &ended);
		}
		sweep_dir(cfg, CGROUP_SCOPES, true, &ended);
	}
	if (ret_ended)
		*ret_ended = ended;
}
