/* SPDX-License-Identifier: Apache-2.0 */
/* Module arguments, the configuration file and the PAM items: one place that builds the
 * per-call state. Unknown arguments are errors: a typo must not weaken a stack silently. */
#include "module.h"
#include "grant_store.h"
#include "lastgood.h"
#include "identity.h"
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>
#include <security/pam_ext.h>

static void log_to_syslog(void *data, int level, const char *msg)
{
	pam_syslog((pam_handle_t *)data, level, "%s", msg);
}

static const char *item_or_empty(pam_handle_t *pamh, int item)
{
	const void *v = NULL;
	if (pam_get_item(pamh, item, &v) != PAM_SUCCESS || !v)
		return "";
	return v;
}

/* Printable text for messages: a remote address or tty we did not choose. */
static bool printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return strlen(s) < 256;
}

/* The user map read backwards: the first UPN mapped to user. The file is read whole through
 * the one parser and its safety checks; err is set only when the map cannot be used. */
static int upn_from_map_file(const struct et_config *cfg, const char *user, char *out, size_t size,
			     struct et_err *err)
{
	struct et_map_file map;
	struct et_map_entry e;
	int r, found = -1;

	if (et_map_file_open(&map, cfg->user_map_file, err) < 0)
		return -1;
	while ((r = et_map_file_next(&map, &e, err)) > 0) {
		if (found < 0 && !e.key_is_oid && strcmp(e.user, user) == 0 && strlen(e.key) < size) {
			snprintf(out, size, "%s", e.key);
			found = 0;
		}
	}
	et_map_file_close(&map);
	return r < 0 ? -1 : found;
}

int et_pam_upn_for(const struct et_config *cfg, const char *user, char *out, size_t size, struct et_err *err)
{
	if (!user || !*user || size == 0)
		return -1;
	if (cfg->upn_format) {
		const char *u = strstr(cfg->upn_format, "%u");
		int n;
		if (!u)
			return -1;
		n = snprintf(out, size, "%.*s%s%s", (int)(u - cfg->upn_format), cfg->upn_format, user, u + 2);
		return n < 0 || (size_t)n >= size ? -1 : 0;
	}
	if (cfg->user_map == ET_MAP_FILE)
		return upn_from_map_file(cfg, user, out, size, err);
	if (cfg->allowed_domains.n == 0)
		return -1;
	{
		int n = snprintf(out, size, "%s@%s", user, cfg->allowed_domains.items[0]);
		return n < 0 || (size_t)n >= size ? -1 : 0;
	}
}

/* Keys the helper reads from the main configuration file only: as module arguments they would
 * make the module and the helper disagree about a grant. */
static bool grant_key(const char *key)
{
	static const char *const keys[] = { "elevated_group", "duration_default", "duration_min",
					    "duration_max",   "permanent_members", "state_dir" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

static int parse_no_grant(const char *v, enum et_no_grant *ret)
{
	if (strcmp(v, "ignore") == 0)
		*ret = ET_NO_GRANT_IGNORE;
	else if (strcmp(v, "success") == 0)
		*ret = ET_NO_GRANT_SUCCESS;
	else
		return -1;
	return 0;
}

/* The configuration cannot be used: said, and remembered for et_pam_broken_config. */
static int config_broken(struct et_pam *m, const struct et_err *err)
{
	pam_syslog(m->pamh, LOG_ERR, "the configuration cannot be used: %s", err->message);
	if (err->code == ET_E_NO_MEMORY)
		return PAM_BUF_ERR;
	m->config_broken = true;
	m->config_why = *err;
	return PAM_SERVICE_ERR;
}

int et_pam_setup(struct et_pam *m, pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	const char *config_path = ET_DEFAULT_CONFIG;
	struct et_err err;
	int r;

	memset(m, 0, sizeof(*m));
	m->pamh = pamh;
	m->flags = flags;
	m->user = m->service = m->tty = m->rhost = "";

	/* flags first: debug must be known before anything is logged */
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "debug") == 0)
			m->debug = true;
		else if (strncmp(argv[i], "config=", 7) == 0)
			config_path = argv[i] + 7;
	}
	if (config_path[0] != '/') {
		pam_syslog(pamh, LOG_ERR, "config= needs an absolute path");
		return PAM_SERVICE_ERR;
	}
	if (et_config_init(&m->cfg) < 0) {
		pam_syslog(pamh, LOG_CRIT, "out of memory");
		return PAM_BUF_ERR;
	}
	m->cfg_ready = true;
	m->cfg.log.fn = log_to_syslog;
	m->cfg.log.data = pamh;
	m->cfg.log.debug = m->debug;
	snprintf(m->config_path, sizeof(m->config_path), "%s", config_path);
	if (et_config_load(&m->cfg, config_path, &err) < 0)
		return config_broken(m, &err);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		if (strcmp(a, "debug") == 0 || strncmp(a, "config=", 7) == 0)
			continue;
		if (strcmp(a, "grant") == 0)
			m->grant = true;
		else if (strcmp(a, "use_first_pass") == 0)
			m->use_first_pass = true;
		else if (strcmp(a, "try_first_pass") == 0)
			m->try_first_pass = true;
		else if (strcmp(a, "require_prior_publickey") == 0)
			m->require_prior_publickey = true;
		else if (strcmp(a, "revoke_on_close") == 0)
			m->revoke_on_close = true;
		else if (strncmp(a, "no_grant=", 9) == 0) {
			if (parse_no_grant(a + 9, &m->no_grant) < 0) {
				pam_syslog(pamh, LOG_ERR, "module argument no_grant: must be ignore or success");
				return PAM_SERVICE_ERR;
			}
		} else if ((eq = strchr(a, '=')) != NULL && eq != a && (size_t)(eq - a) < 64) {
			/* any configuration key, e.g. methods=tap,device_code */
			char key[64];
			snprintf(key, sizeof(key), "%.*s", (int)(eq - a), a);
			if (grant_key(key)) {
				pam_syslog(pamh, LOG_ERR,
					   "module argument %s: grant settings are read by the helper from %s only; "
					   "set it there",
					   key, ET_DEFAULT_CONFIG);
				return PAM_SERVICE_ERR;
			}
			if (et_config_set(&m->cfg, key, eq + 1, "module argument", &err) < 0)
				return config_broken(m, &err);
		} else {
			pam_syslog(pamh, LOG_ERR, "unknown module argument '%.64s'", a);
			return PAM_SERVICE_ERR;
		}
	}
	if (m->grant && strcmp(config_path, ET_DEFAULT_CONFIG) != 0) {
		pam_syslog(pamh, LOG_ERR,
			   "module argument grant with config=%.200s: the helper that makes grants reads %s "
			   "only; drop config= from this line",
			   config_path, ET_DEFAULT_CONFIG);
		return PAM_SERVICE_ERR;
	}
	if (m->use_first_pass && m->try_first_pass) {
		pam_syslog(pamh, LOG_ERR, "use_first_pass and try_first_pass exclude each other");
		return PAM_SERVICE_ERR;
	}
	if (et_config_finish(&m->cfg, &err) < 0)
		return config_broken(m, &err);

	m->service = item_or_empty(pamh, PAM_SERVICE);
	m->tty = item_or_empty(pamh, PAM_TTY);
	m->rhost = item_or_empty(pamh, PAM_RHOST);
	if (!printable(m->service))
		m->service = "?";
	if (!printable(m->tty))
		m->tty = "?";
	if (!printable(m->rhost))
		m->rhost = "?";
	if (gethostname(m->host, sizeof(m->host) - 1) < 0 || !printable(m->host))
		snprintf(m->host, sizeof(m->host), "this host");

	/* the user: every phase needs one */
	{
		const char *user = NULL;
		r = pam_get_user(pamh, &user, NULL);
		if (r != PAM_SUCCESS || !user || !*user) {
			pam_syslog(pamh, LOG_NOTICE, "cannot determine the user name");
			return r == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_USER_UNKNOWN;
		}
		m->user = user;
		if (et_local_name_ok(user) && strlen(user) <= ET_USER_NAME_MAX) {
			struct passwd pw, *found = NULL;
			char buf[4096];
			m->user_known = getpwnam_r(user, &pw, buf, sizeof(buf), &found) == 0 && found;
			/* derived for unknown users as well, so that their prompt looks the same */
			if (et_pam_upn_for(&m->cfg, user, m->upn, sizeof(m->upn), &m->upn_err) < 0)
				m->upn[0] = '\0';
		}
	}
	return PAM_SUCCESS;
}

int et_pam_broken_config(struct et_pam *m, int refused_code)
{
	struct et_grant_list l = { 0 };
	enum et_config_source src;
	struct et_err err;
	const char *user = NULL;
	int r;

	r = pam_get_user(m->pamh, &user, NULL);
	if (r != PAM_SUCCESS || !user || !et_local_name_ok(user) || strlen(user) > ET_USER_NAME_MAX)
		return PAM_IGNORE; /* nobody this module could have elevated */
	/* only root reads the store; a process that is not root holds nothing of ours to end */
	if (geteuid() != 0)
		return PAM_IGNORE;
	if (m->cfg_ready)
		et_config_free(&m->cfg);
	m->cfg_ready = false;
	if (et_config_init(&m->cfg) < 0)
		return PAM_BUF_ERR;
	m->cfg_ready = true;
	m->cfg.log.fn = log_to_syslog;
	m->cfg.log.data = m->pamh;
	if (et_config_load_for_ending(&m->cfg, m->config_path, ET_LAST_GOOD_CONFIG, false, &src, &err) < 0)
		return PAM_BUF_ERR;
	if (et_grant_store_list(&m->cfg, user, &l, &err) < 0 || l.n == 0) {
		et_grant_list_free(&l);
		pam_syslog(m->pamh, LOG_NOTICE, "%s holds no grant: ignored while the configuration cannot be used", user);
		return PAM_IGNORE;
	}
	et_grant_list_free(&l);
	pam_syslog(m->pamh, LOG_CRIT,
		   "%s holds a grant, and the configuration cannot be used (%s): refused, and the grant is revoked", user,
		   m->config_why.message);
	if (et_cmd_revoke_user(user, &err) < 0)
		pam_syslog(m->pamh, LOG_CRIT, "%s: the grant could not be revoked here: %s (the sweep and its timer will)",
			   user, err.message);
	m->user = user;
	et_pam_error(m, "Access denied: the elevation settings of this host cannot be used; the elevation of %s was "
			"ended.",
		     user);
	return refused_code;
}

void et_pam_teardown(struct et_pam *m)
{
	if (m->cfg_ready)
		et_config_free(&m->cfg);
	m->cfg_ready = false;
}
