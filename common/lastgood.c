/* SPDX-License-Identifier: Apache-2.0 */
/* The last good configuration, and the configuration the end of a grant runs from
 * (lastgood.h). */
#include "lastgood.h"
#include "fsutil.h"
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *et_config_source_name(enum et_config_source s)
{
	switch (s) {
	case ET_CONFIG_SOURCE_FILE:
		return "the configuration";
	case ET_CONFIG_SOURCE_LAST_GOOD:
		return "the last good copy of the configuration";
	case ET_CONFIG_SOURCE_DEFAULTS:
		return "the built-in defaults";
	}
	return "?";
}

/* path written whole (root, 0600, atomic), its directory made private when missing */
static int write_private(const char *path, const char *text, size_t len, struct et_err *err)
{
	char dir[PATH_MAX];
	if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "%s: path too long", path);
	if (et_dir_ensure_private(dirname(dir), 0700, err) < 0)
		return -1;
	return et_file_write_atomic(path, text, len, 0600, err);
}

/* copy_path made the len bytes of text (a configuration that loaded) unless it holds them */
static int keep_copy(const char *text, size_t len, const char *copy_path, struct et_err *err)
{
	char *old = NULL;
	size_t old_len = 0;
	struct et_err rerr;
	bool same = et_file_read(copy_path, ET_CONFIG_MAX_BYTES, 1, &old, &old_len, &rerr) == 0 && old_len == len &&
		    memcmp(old, text, len) == 0;
	free(old);
	return same ? 0 : write_private(copy_path, text, len, err);
}

int et_config_load_keep(struct et_config *cfg, const char *path, const char *keep_path, struct et_err *err)
{
	char *text = NULL;
	size_t len = 0;
	struct et_err kerr;
	int r;

	/* what et_config_load does, with the bytes kept: the copy is exactly what loaded */
	if (et_file_read(path, ET_CONFIG_MAX_BYTES, 1, &text, &len, err) < 0)
		return -1;
	r = et_config_parse(cfg, text, len, path, err);
	if (r == 0 && keep_path && keep_copy(text, len, keep_path, &kerr) < 0)
		et_log(&cfg->log, ET_LOG_WARNING, "the last good copy of the configuration was not kept: %s",
		       kerr.message);
	free(text);
	return r;
}

/* cfg freed and initialised again: a failed load may have set some keys */
static int reset(struct et_config *cfg)
{
	struct et_logger log = cfg->log;
	et_config_free(cfg);
	if (et_config_init(cfg) < 0)
		return -1;
	cfg->log = log;
	return 0;
}

int et_config_load_for_ending(struct et_config *cfg, const char *path, const char *copy_path, bool keep,
			      enum et_config_source *ret_source, struct et_err *ret_why)
{
	struct et_err copy_err;

	et_err_clear(ret_why);
	*ret_source = ET_CONFIG_SOURCE_FILE;
	if (et_config_load_keep(cfg, path, keep ? copy_path : NULL, ret_why) == 0)
		return 0;
	if (ret_why->code == ET_E_NO_MEMORY)
		return -1;
	if (reset(cfg) < 0)
		return -1;
	cfg->fallback = true;
	if (copy_path && et_config_load(cfg, copy_path, &copy_err) == 0) {
		*ret_source = ET_CONFIG_SOURCE_LAST_GOOD;
		cfg->fallback = true;
		return 0;
	}
	if (reset(cfg) < 0)
		return -1;
	cfg->fallback = true;
	*ret_source = ET_CONFIG_SOURCE_DEFAULTS;
	return 0;
}

/* The registered stores (lines of absolute paths), into ret. */
static int stores_read(const char *stores_path, struct et_strlist *ret, struct et_err *err)
{
	char *text = NULL, *save = NULL;
	size_t len = 0;
	if (et_file_read(stores_path, 64 * 1024, 1, &text, &len, err) < 0)
		return err && err->code == ET_E_NOT_FOUND ? 0 : -1;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != '/' || strlen(line) >= PATH_MAX || et_strlist_contains(ret, line))
			continue;
		if (ret->n >= ET_STORES_MAX)
			break;
		if (et_strlist_add(ret, line) < 0) {
			free(text);
			return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		}
	}
	free(text);
	return 0;
}

int et_stores_register(const struct et_config *cfg, const char *stores_path, struct et_err *err)
{
	struct et_strlist l = { 0 };
	char *text = NULL;
	size_t len = 0;
	int r = -1;

	if (!cfg->state_dir || stores_read(stores_path, &l, err) < 0)
		goto done;
	if (et_strlist_contains(&l, cfg->state_dir)) {
		r = 0;
		goto done;
	}
	if (l.n >= ET_STORES_MAX) {
		et_err_set(err, ET_E_TOO_LARGE, "%s already names %d stores", stores_path, ET_STORES_MAX);
		goto done;
	}
	if (et_strlist_add(&l, cfg->state_dir) < 0) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < l.n; i++)
		len += strlen(l.items[i]) + 1;
	text = malloc(len + 1);
	if (!text) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	len = 0;
	for (size_t i = 0; i < l.n; i++)
		len += (size_t)sprintf(text + len, "%s\n", l.items[i]);
	r = write_private(stores_path, text, len, err);
done:
	free(text);
	et_strlist_free(&l);
	return r;
}

int et_stores_others(const struct et_config *cfg, const char *stores_path, struct et_strlist *ret,
		     struct et_err *err)
{
	struct et_strlist l = { 0 };
	if (stores_read(stores_path, &l, err) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++)
		if ((!cfg->state_dir || strcmp(l.items[i], cfg->state_dir) != 0) && et_strlist_add(ret, l.items[i]) < 0) {
			et_strlist_free(&l);
			return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		}
	et_strlist_free(&l);
	return 0;
}
