/* SPDX-License-Identifier: Apache-2.0 */
#include "grant_testenv.h"
#include "testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contract.h"

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	va_list ap;
	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	_exit(99);
}

static void run(const char *cmd)
{
	int r = system(cmd);
	if (r != 0)
		die("'%s' failed (%d)", cmd, r);
}

char *gte_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	if (!f)
		return NULL;
	for (;;) {
		size_t n;
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void append_line(const char *path, const char *line)
{
	FILE *f = fopen(path, "ae");
	if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0)
		die("cannot append to %s", path);
}

void gte_set_group_line(const char *file, const char *group, const char *line)
{
	char path[256], tmp[300];
	char *text;
	FILE *out;
	size_t glen = strlen(group);
	bool replaced = false;
	snprintf(path, sizeof(path), "/etc/%s", file);
	snprintf(tmp, sizeof(tmp), "/etc/%s.gte", file);
	text = gte_slurp(path);
	if (!text)
		die("cannot read %s", path);
	out = fopen(tmp, "we");
	if (!out)
		die("cannot write %s", tmp);
	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (strncmp(p, group, glen) == 0 && p[glen] == ':') {
			if (line && !replaced)
				fprintf(out, "%s\n", line);
			replaced = true;
		} else {
			fwrite(p, 1, n, out);
		}
		p += n;
	}
	if (!replaced && line)
		fprintf(out, "%s\n", line);
	free(text);
	if (fclose(out) != 0)
		die("cannot write %s", tmp);
	{
		struct stat st;
		if (stat(path, &st) == 0) {
			if (chown(tmp, st.st_uid, st.st_gid) < 0 || chmod(tmp, st.st_mode & 07777) < 0)
				die("cannot set the mode of %s", tmp);
		}
	}
	if (rename(tmp, path) < 0)
		die("cannot rename %s", tmp);
}

char *gte_members(const char *file, const char *group)
{
	char path[256];
	char *text, *res = NULL;
	size_t glen = strlen(group);
	snprintf(path, sizeof(path), "/etc/%s", file);
	text = gte_slurp(path);
	if (!text)
		return NULL;
	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (strncmp(p, group, glen) == 0 && p[glen] == ':') {
			char *line = strndup(p, n), *c = line;
			for (int i = 0; i < 3 && c; i++) {
				c = strchr(c, ':');
				if (c)
					c++;
			}
			res = strdup(c ? c : "");
			free(line);
			break;
		}
		p += nl ? n + 1 : n;
	}
	free(text);
	return res;
}

gid_t gte_enter(const char *group)
{
	char *dir, cmd[1024], line[256], etc[600];
	/* a gid of its own: tests that share the host's PID namespace run side by side, and the
	 * end of a grant ends every process carrying the group's gid number (sessions.h) */
	gid_t gid = 20000 + (gid_t)(getpid() % 40000);
	struct stat st;

	if (unshare(CLONE_NEWNS) < 0)
		die("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("cannot make / private: %s", strerror(errno));
	dir = tu_tmpdir();
	snprintf(etc, sizeof(etc), "%s/etc", dir);
	snprintf(cmd, sizeof(cmd), "cp -a /etc '%s'", etc);
	run(cmd);
	if (mount(etc, "/etc", NULL, MS_BIND, NULL) < 0)
		die("cannot bind %s over /etc: %s", etc, strerror(errno));
	if (mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
		die("cannot mount a tmpfs on /run: %s", strerror(errno));
	/* the programs keep the last good configuration under /var/lib/entra-tap (lastgood.h) */
	if (mount("tmpfs", "/var/lib", "tmpfs", 0, "mode=0755") < 0)
		die("cannot mount a tmpfs on /var/lib: %s", strerror(errno));
	/* the copy is in place: from here on every edit is private */
	if (stat("/etc/.gte-private", &st) == 0)
		die("stale marker in the copied /etc");
	append_line("/etc/.gte-private", "private");
	snprintf(line, sizeof(line), "%s/etc/.gte-private", dir);
	if (stat(line, &st) < 0)
		die("the private /etc is not the copy");
	for (;;) {
		char *text = gte_slurp("/etc/group"), pat[32];
		bool used;
		snprintf(pat, sizeof(pat), ":%u:", (unsigned)gid);
		used = text && strstr(text, pat);
		free(text);
		if (!used)
			break;
		gid++;
	}
	snprintf(line, sizeof(line), "%s:x:%u:", group, (unsigned)gid);
	gte_set_group_line("group", group, line);
	if (access("/etc/gshadow", F_OK) == 0) {
		snprintf(line, sizeof(line), "%s:!::", group);
		gte_set_group_line("gshadow", group, line);
	}
	return gid;
}

uid_t gte_useradd(const char *name)
{
	static uid_t next = 30000;
	char line[256];
	snprintf(line, sizeof(line), "%s:x:%u:%u::/nonexistent:/usr/sbin/nologin", name, (unsigned)next,
		 (unsigned)next);
	append_line("/etc/passwd", line);
	return next++;
}

char *gte_state_dir(void)
{
	char *dir = tu_tmpdir(), *state = malloc(strlen(dir) + 16);
	if (!state)
		abort();
	sprintf(state, "%s/state", dir);
	if (mkdir(state, 0700) < 0)
		die("mkdir %s: %s", state, strerror(errno));
	return state;
}

void gte_config(struct et_config *cfg, const char *group, const char *state_dir)
{
	static const char *const kv[][2] = {
		{ "tenant_id", "11111111-2222-3333-4444-555555555555" },
		{ "client_id", "66666666-7777-8888-9999-000000000000" },
		{ "eligible_groups", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" },
		{ "allowed_domains", "example.com" },
		{ "duration_min", "1m" },
		{ "duration_default", "1h" },
		{ "duration_max", "8h" },
	};
	struct et_err err;
	if (et_config_init(cfg) < 0)
		die("et_config_init failed");
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
		if (et_config_set(cfg, kv[i][0], kv[i][1], "test", &err) < 0)
			die("config %s: %s", kv[i][0], err.message);
	if (et_config_set(cfg, "elevated_group", group, "test", &err) < 0 ||
	    et_config_set(cfg, "state_dir", state_dir, "test", &err) < 0 || et_config_finish(cfg, &err) < 0)
		die("config: %s", err.message);
}

static char *helper_mount;
static char overlay_on[1024];

static void helper_unmount(void)
{
	if (overlay_on[0])
		umount(overlay_on);
	if (helper_mount)
		umount(helper_mount);
}

bool gte_install_grantctl(const char *group, const char *state_dir, const char *extra_config)
{
	static const char *const refused[] = { "/", "/usr", "/etc", "/var", "/proc", "/sys", "/dev", "/run", "/tmp" };
	const char *top = getenv("top_builddir");
	char helper[1024], *dir, cmd[4096], conf[2048], anc[1024];
	int fd;
	snprintf(helper, sizeof(helper), "%s/" ET_GRANTCTL_NAME, top && *top ? top : ".");
	if (access(helper, X_OK) < 0)
		return false;
	/* an overlay on the install directory (or, when it does not exist, on its deepest
	 * existing ancestor, and the rest made inside): host files below, a tmpfs on top */
	snprintf(anc, sizeof(anc), "%s", LIBEXECDIR);
	while (access(anc, F_OK) < 0 && strrchr(anc, '/') && strrchr(anc, '/') != anc)
		*strrchr(anc, '/') = '\0';
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strcmp(anc, refused[i]) == 0 || access(anc, F_OK) < 0)
			die("will not overlay %s to make %s: configure another prefix", anc, LIBEXECDIR);
	dir = tu_tmpdir();
	if (mount("tmpfs", dir, "tmpfs", 0, "mode=0755") < 0)
		die("cannot mount a tmpfs on %s: %s", dir, strerror(errno));
	helper_mount = dir;
	atexit(helper_unmount); /* runs before the temp dirs are removed */
	snprintf(cmd, sizeof(cmd), "%s/upper", dir);
	mkdir(cmd, 0755);
	snprintf(cmd, sizeof(cmd), "%s/work", dir);
	mkdir(cmd, 0755);
	snprintf(cmd, sizeof(cmd), "lowerdir=%s,upperdir=%s/upper,workdir=%s/work", anc, dir, dir);
	if (mount("overlay", anc, "overlay", 0, cmd) < 0)
		die("cannot overlay %s: %s", anc, strerror(errno));
	snprintf(overlay_on, sizeof(overlay_on), "%s", anc);
	snprintf(cmd, sizeof(cmd), "install -D -o root -g root -m 0755 '%s' '" ET_GRANTCTL_PATH "'", helper);
	run(cmd);
	mkdir("/etc/security", 0755);
	snprintf(conf, sizeof(conf),
		 "tenant_id = 11111111-2222-3333-4444-555555555555\n"
		 "client_id = 66666666-7777-8888-9999-000000000000\n"
		 "eligible_groups = aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
		 "allowed_domains = example.com\n"
		 "duration_min = 1m\nduration_default = 1h\nduration_max = 8h\n"
		 "elevated_group = %s\nstate_dir = %s\n%s",
		 group, state_dir, extra_config ? extra_config : "");
	fd = open("/etc/security/pam_entra_tap.conf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, conf, strlen(conf)) != (ssize_t)strlen(conf) || close(fd) < 0)
		die("cannot write the helper configuration");
	return true;
}
