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

int et_last_good_keep(const char *path, const char *copy_path, struct et_err *err)
{
	struct et_config scratch;
	char *text = NULL, *old = NULL, dir[PATH_MAX];
	size_t len = 0, old_len = 0;
	struct et_err rerr;
	int r = -1;

	if (et_config_init(&scratch) < 0)
		return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	if (et_file_read(path, ET_CONFIG_MAX_BYTES, 1, &text, &len, err) < 0)
		goto done;
	/* the copy is only ever what validates: the file may have changed since the caller
	 * loaded it */
	if (et_config_parse(&scratch, text, len, path, err) < 0)
		goto done;
	if (et_file_read(copy_path, ET_CONFIG_MAX_BYTES, 1, &old, &old_len, &rerr) == 0 && old_len == len &&
	    memcmp(old, text, len) == 0) {
		r = 0;
		goto done;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s", copy_path) >= sizeof(dir)) {
		et_err_set(err, ET_E_PATH_TOO_LONG, "%s: path too long", copy_path);
		goto done;
	}
	if (et_dir_ensure_private(dirname(dir), 0700, err) < 0 ||
	    et_file_write_atomic(copy_path, text, len, 0600, err) < 0)
		goto done;
	r = 0;
done:
	free(text);
	free(old);
	et_config_free(&scratch);
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

int et_config_load_for_ending(struct et_config *cfg, const char *path, const char *copy_path,
			      enum et_config_source *ret_source, struct et_err *ret_why)
{
	struct et_err copy_err;

	et_err_clear(ret_why);
	*ret_source = ET_CONFIG_SOURCE_FILE;
	if (et_config_load(cfg, path, ret_why) == 0)
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
