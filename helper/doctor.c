/* SPDX-License-Identifier: Apache-2.0 */
/* What `entra-tap check-config` and `entra-tap doctor` find wrong with a host's set-up
 * (doctor.h): one line per finding, "WHERE: what is wrong — fix: what to do". */
#include "doctor.h"
#include "grant_ops.h"
#include "strlist.h"
#include "jwks_cache.h"
#include "oidc.h"
#include "spawn.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 1024
#define TOOL_TIMEOUT_MS 10000
#define TOOL_OUTPUT_MAX 65536
#define INCLUDE_DEPTH_MAX 4
#define PAM_LINES_MAX 256

/* The ids data/pam_entra_tap.conf.example ships with: a configuration that still holds one
 * cannot sign anyone in. */
static const char *const placeholder_ids[] = {
	"00000000-0000-4000-8000-000000000000",
	"00000000-0000-4000-8000-000000000001",
	"00000000-0000-4000-8000-0000000000aa",
};

__attribute__((format(printf, 3, 4))) static void finding(FILE *out, unsigned *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	(*n)++;
}

static bool is_placeholder(const char *v)
{
	for (size_t i = 0; v && i < sizeof(placeholder_ids) / sizeof(placeholder_ids[0]); i++)
		if (strcasecmp(v, placeholder_ids[i]) == 0)
			return true;
	return false;
}

unsigned et_doctor_config(const struct et_config *cfg, FILE *out)
{
	unsigned n = 0;

	if (is_placeholder(cfg->tenant_id))
		finding(out, &n, "tenant_id: still the shipped placeholder — fix: set your tenant's ID (Entra admin "
				 "center, Overview, Tenant ID)");
	if (is_placeholder(cfg->client_id))
		finding(out, &n, "client_id: still the shipped placeholder — fix: set the Application (client) ID of "
				 "your app registration");
	for (size_t i = 0; i < cfg->eligible_groups.n; i++)
		if (is_placeholder(cfg->eligible_groups.items[i]))
			finding(out, &n, "eligible_groups: %s is the shipped placeholder — fix: list the object IDs of "
					 "the Entra groups whose members may elevate", cfg->eligible_groups.items[i]);
	if ((cfg->methods & ET_METHOD_TAP) && !cfg->tap_password_grant)
		finding(out, &n, "methods: tap asks for a pass at the prompt, which needs tap_password_grant = yes "
				 "— fix: use methods = device_code for Entra ID (the pass is typed in the browser), or "
				 "set tap_password_grant = yes for an identity provider that accepts a pass there");
	if (cfg->elevated_group && !getgrnam(cfg->elevated_group))
		finding(out, &n, "elevated_group: the group %s does not exist — fix: groupadd --system %s",
			cfg->elevated_group, cfg->elevated_group);
	else if (cfg->elevated_group && !et_group_managed(cfg, cfg->elevated_group)) {
		struct et_strlist others = { 0 };
		struct et_err err;
		if (et_group_unaccounted(cfg, cfg->elevated_group, &others, &err) == 0 && others.n) {
			char names[256] = "";
			size_t used = 0;
			for (size_t i = 0; i < others.n && used + 1 < sizeof(names); i++)
				used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
							 others.items[i]);
			finding(out, &n, "elevated_group: %s has members no grant accounts for (%s), so grants into it "
					 "are refused and the sweep leaves them — fix: a group of its own for elevation, or "
					 "`entra-tap adopt` when they are to be removed",
				cfg->elevated_group, names);
		}
		et_strlist_free(&others);
	}
	return n;
}

/* ---- PAM stacks ---- */

struct pam_line {
	char type[32];     /* auth, account, session, password */
	char control[128]; /* required, [success=1 default=ignore], ... */
	char module[256];  /* the module's file name */
	bool grant;        /* pam_entra_tap.so with the grant option */
};

/* Read /etc/pam.d/SERVICE into lines, following @include and include/substack. */
static int pam_read(const char *service, struct pam_line *lines, size_t *n, int depth)
{
	char path[256], buf[LINE_MAX_BYTES];
	FILE *f;

	if (depth > INCLUDE_DEPTH_MAX || strchr(service, '/') || !service[0])
		return -1;
	snprintf(path, sizeof(path), "/etc/pam.d/%s", service);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(buf, sizeof(buf), f) && *n < PAM_LINES_MAX) {
		char type[32], control[128], module[256], rest[LINE_MAX_BYTES] = "";
		char *p = buf, *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			continue;
		if (sscanf(p, "@include %255s", module) == 1) {
			(void)pam_read(module, lines, n, depth + 1);
			continue;
		}
		if (*p == '-')
			p++;
		{
			int off = 0;
			const char *q;
			if (sscanf(p, "%31s%n", type, &off) != 1)
				continue;
			q = p + off;
			while (isspace((unsigned char)*q))
				q++;
			/* a bracketed control may hold spaces */
			if (*q == '[' ? sscanf(q, "[%127[^]]] %255s %1023[^\n]", control, module, rest) < 2
				      : sscanf(q, "%127s %255s %1023[^\n]", control, module, rest) < 2)
				continue;
		}
		if (strcmp(control, "include") == 0 || strcmp(control, "substack") == 0) {
			(void)pam_read(module, lines, n, depth + 1);
			continue;
		}
		{
			struct pam_line *l = &lines[(*n)++];
			const char *base = strrchr(module, '/');
			snprintf(l->type, sizeof(l->type), "%s", type);
			snprintf(l->control, sizeof(l->control), "%s", control);
			snprintf(l->module, sizeof(l->module), "%s", base ? base + 1 : module);
			l->grant = strstr(rest, "grant") != NULL;
		}
	}
	fclose(f);
	return 0;
}

/* A control that ends the stack on success before later lines run. */
static bool ends_on_success(const char *control)
{
	return strcmp(control, "sufficient") == 0 || strstr(control, "success=done") || strstr(control, "success=end");
}

enum { STACK_AUTH = 1 << 0, STACK_ACCOUNT = 1 << 1, STACK_SESSION = 1 << 2, STACK_ALL = 7 };

/* which: the line types the service needs (STACK_*) */
static void check_pam_stack(const char *service, unsigned which, bool want_grant, FILE *out, unsigned *n)
{
	struct pam_line *lines = calloc(PAM_LINES_MAX, sizeof(*lines));
	static const char *const types[] = { "auth", "account", "session" };
	size_t count = 0;

	if (!lines) {
		finding(out, n, "%s: out of memory reading its PAM stack", service);
		return;
	}
	if (pam_read(service, lines, &count, 0) < 0) {
		finding(out, n, "/etc/pam.d/%s: cannot be read — fix: install %s or create its PAM service file",
			service, service);
		free(lines);
		return;
	}
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		bool seen = false, skipped = false, granted = false;
		if (!(which & (1u << t)))
			continue;
		for (size_t i = 0; i < count; i++) {
			if (strcmp(lines[i].type, types[t]) != 0)
				continue;
			if (strcmp(lines[i].module, "pam_entra_tap.so") == 0) {
				seen = true;
				granted = granted || lines[i].grant;
				break;
			}
			if (t == 0 && ends_on_success(lines[i].control))
				skipped = true; /* an earlier auth module can end the stack first */
		}
		if (!seen)
			finding(out, n, "/etc/pam.d/%s: no %s line runs pam_entra_tap.so — fix: add `%s %s pam_entra_tap.so%s` "
					"(README, \"Setting up %s\")",
				service, types[t], types[t], t == 0 ? "required" : t == 1 ? "required" : "optional",
				t == 0 && want_grant ? " grant" : t == 1 ? " no_grant=ignore" : "", service);
		else if (t == 0 && skipped)
			finding(out, n, "/etc/pam.d/%s: an auth module before pam_entra_tap.so can end the stack on success, "
					"so the Entra sign-in may never run — fix: put the module's auth line first",
				service);
		else if (t == 0 && want_grant && !granted)
			finding(out, n, "/etc/pam.d/%s: the module's auth line has no grant option, so a sign-in gives no "
					"elevation — fix: add `grant` to it",
				service);
	}
	free(lines);
}

/* ---- files and tools ---- */

static bool file_has_line(const char *path, const char *words)
{
	char buf[LINE_MAX_BYTES];
	bool found = false;
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(buf, sizeof(buf), f)) {
		char norm[LINE_MAX_BYTES];
		size_t j = 0;
		bool space = true;
		for (const char *p = buf; *p && *p != '#' && *p != '\n' && j + 1 < sizeof(norm); p++) {
			if (isspace((unsigned char)*p)) {
				if (!space)
					norm[j++] = ' ';
				space = true;
			} else {
				norm[j++] = *p;
				space = false;
			}
		}
		while (j && norm[j - 1] == ' ')
			j--;
		norm[j] = '\0';
		found = strcasecmp(norm, words) == 0;
	}
	fclose(f);
	return found;
}

/* Does a sudoers file (or one in /etc/sudoers.d) name %GROUP at the start of a rule? */
static bool sudoers_names_group(const char *group)
{
	char needle[128], path[512], buf[LINE_MAX_BYTES];
	const char *files[64];
	size_t nfiles = 0;
	DIR *d;
	struct dirent *e;
	bool found = false;
	char names[64][512];

	snprintf(needle, sizeof(needle), "%%%s", group);
	files[nfiles++] = "/etc/sudoers";
	d = opendir("/etc/sudoers.d");
	while (d && (e = readdir(d)) && nfiles < 64) {
		/* sudo skips names with a '.' or ending in '~' */
		if (e->d_name[0] == '.' || strchr(e->d_name, '.') || e->d_name[strlen(e->d_name) - 1] == '~')
			continue;
		snprintf(names[nfiles], sizeof(names[nfiles]), "/etc/sudoers.d/%s", e->d_name);
		files[nfiles] = names[nfiles];
		nfiles++;
	}
	if (d)
		closedir(d);
	for (size_t i = 0; !found && i < nfiles; i++) {
		FILE *f;
		snprintf(path, sizeof(path), "%s", files[i]);
		f = fopen(path, "re");
		while (f && !found && fgets(buf, sizeof(buf), f)) {
			const char *p = buf;
			while (isspace((unsigned char)*p))
				p++;
			found = strncmp(p, needle, strlen(needle)) == 0 && isspace((unsigned char)p[strlen(needle)]);
		}
		if (f)
			fclose(f);
	}
	return found;
}

/* Run a tool with a fixed path; its standard output in out. -1 when it could not run. */
static int tool(const char *path, const char *const argv[], char *out, size_t size, int *ret_status)
{
	struct et_err err;
	size_t len = 0;
	if (access(path, X_OK) < 0)
		return -1;
	if (et_spawn_capture(path, argv, TOOL_TIMEOUT_MS, out, size, &len, ret_status, &err) < 0)
		return -1;
	return 0;
}

/* The value of KEY in `sshd -T` output ("key value" lines, lower case). */
static const char *sshd_value(const char *text, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
			size_t j = 0;
			p += klen + 1;
			while (p[j] && p[j] != '\n' && j + 1 < size) {
				buf[j] = p[j];
				j++;
			}
			buf[j] = '\0';
			return buf;
		}
	}
	return NULL;
}

static void check_sshd(const struct et_config *cfg, FILE *out, unsigned *n)
{
	static const char *const argv[] = { "sshd", "-T", NULL };
	char *text = malloc(TOOL_OUTPUT_MAX), v[64];
	int status = -1;
	long grace;

	if (!text)
		return;
	if (tool("/usr/sbin/sshd", argv, text, TOOL_OUTPUT_MAX, &status) < 0 || status != 0) {
		finding(out, n, "sshd: `sshd -T` did not answer — fix: install openssh-server, or check `sshd -t`");
		free(text);
		return;
	}
	if (!sshd_value(text, "usepam", v, sizeof(v)) || strcmp(v, "yes") != 0)
		finding(out, n, "sshd: UsePAM is not yes — fix: copy data/sshd_config.d/entra-tap.conf to "
				"/etc/ssh/sshd_config.d/");
	if (!sshd_value(text, "kbdinteractiveauthentication", v, sizeof(v)) || strcmp(v, "yes") != 0)
		finding(out, n, "sshd: KbdInteractiveAuthentication is not yes, so the sign-in prompt never reaches "
				"people — fix: set it in /etc/ssh/sshd_config.d/entra-tap.conf");
	grace = sshd_value(text, "logingracetime", v, sizeof(v)) ? strtol(v, NULL, 10) : 0;
	if (grace != 0 && grace < cfg->device_code_timeout + 15)
		finding(out, n, "sshd: LoginGraceTime %ld s ends a login before a device-code sign-in can (device_code_timeout "
				"%ld s + 15 s) — fix: LoginGraceTime %ld",
			grace, cfg->device_code_timeout, cfg->device_code_timeout + 15);
	free(text);
}

static void check_systemd(FILE *out, unsigned *n)
{
	static const char *const enabled[] = { "systemctl", "is-enabled", "entra-tap-sweep.timer", NULL };
	static const char *const ntp[] = { "timedatectl", "show", "-p", "NTPSynchronized", "--value", NULL };
	char buf[256] = "";
	int status = -1;

	if (tool("/bin/systemctl", enabled, buf, sizeof(buf), &status) < 0 || strncmp(buf, "enabled", 7) != 0)
		finding(out, n, "systemd: entra-tap-sweep.timer is not enabled, so nothing ends grants whose own timer "
				"died — fix: systemctl enable --now entra-tap-sweep.timer");
	buf[0] = '\0';
	if (tool("/usr/bin/timedatectl", ntp, buf, sizeof(buf), &status) < 0 || status != 0)
		finding(out, n, "clock: cannot tell whether the clock is synchronised (timedatectl did not answer) — "
				"fix: run systemd-timesyncd or chrony; tokens and expiries depend on the time");
	else if (strncmp(buf, "yes", 3) != 0)
		finding(out, n, "clock: not synchronised — fix: enable systemd-timesyncd or chrony; tokens and "
				"expiries depend on the time");
}

static void check_online(const struct et_config *cfg, FILE *out, unsigned *n)
{
	struct et_oidc oidc = { 0 };
	struct et_keystore ks;
	struct et_err err;
	if (et_oidc_discover(cfg, &oidc, &err) < 0) {
		finding(out, n, "online: OpenID discovery failed: %s — fix: check tenant_id, authority, proxy and "
				"ca_file (entra-tap discover)", err.message);
		return;
	}
	et_oidc_free(&oidc);
	et_keystore_init(&ks, cfg);
	if (!cfg->jwks_file && et_keystore_refresh(&ks, time(NULL), &err) < 0)
		finding(out, n, "online: the signing keys cannot be fetched: %s — fix: entra-tap discover", err.message);
	et_keystore_free(&ks);
}

unsigned et_doctor_host(const struct et_config *cfg, bool online, FILE *out)
{
	unsigned n = et_doctor_config(cfg, out);
	static const char *const visudo[] = { "visudo", "-c", "-q", NULL };
	char buf[4096];
	int status = -1;

	check_pam_stack("sudo", STACK_ALL, true, out, &n);
	check_pam_stack("sshd", STACK_ALL, true, out, &n);
	/* `sudo -i` runs its own service; su's root shells (su -: su-l includes su) are
	 * sessions a grant must end as well (sessions.h) */
	check_pam_stack("sudo-i", STACK_ACCOUNT | STACK_SESSION, false, out, &n);
	check_pam_stack("su", STACK_SESSION, false, out, &n);
	if (!file_has_line("/etc/sudo.conf", "Set group_source dynamic"))
		finding(out, &n, "/etc/sudo.conf: no `Set group_source dynamic`, so sudo does not see a grant made in "
				 "the same shell — fix: add that line (data/sudo.conf.entra-tap)");
	if (cfg->elevated_group && !sudoers_names_group(cfg->elevated_group))
		finding(out, &n, "sudoers: no rule for %%%s — fix: install data/sudoers.d/entra-tap as "
				 "/etc/sudoers.d/entra-tap (visudo -f)", cfg->elevated_group);
	if (tool("/usr/sbin/visudo", visudo, buf, sizeof(buf), &status) < 0)
		finding(out, &n, "sudoers: visudo is not installed — fix: install sudo");
	else if (status != 0)
		finding(out, &n, "sudoers: `visudo -c` finds an error — fix: run visudo -c and correct the file it names");
	check_sshd(cfg, out, &n);
	check_systemd(out, &n);
	if (online)
		check_online(cfg, out, &n);
	return n;
}
