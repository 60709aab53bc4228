/* Errors as values: a short machine reason and one human sentence. */
#pragma once
#include <stdarg.h>

#define ET_ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct et_err {
	char reason[48];   /* machine reason, e.g. "bad_signature" */
	char message[320]; /* one sentence for a person */
};

/* Fill err (NULL-safe) and return -1, so callers can `return et_err_set(...)`. */
int et_err_set(struct et_err *err, const char *reason, const char *fmt, ...) ET_ATTR_PRINTF(3, 4);
int et_err_setv(struct et_err *err, const char *reason, const char *fmt, va_list ap) ET_ATTR_PRINTF(3, 0);
void et_err_clear(struct et_err *err);

/* Logging goes through a sink the front end installs (pam_syslog in the module, stderr in
 * the CLI, the journal in the helper). A sink is per configuration, never global. */
enum et_log_level { ET_LOG_ERR = 3, ET_LOG_WARNING = 4, ET_LOG_NOTICE = 5, ET_LOG_INFO = 6, ET_LOG_DEBUG = 7 };
typedef void (*et_log_fn)(void *data, int level, const char *msg);
struct et_logger {
	et_log_fn fn;
	void *data;
	int debug; /* pass ET_LOG_DEBUG messages through */
};
void et_log(const struct et_logger *lg, int level, const char *fmt, ...) ET_ATTR_PRINTF(3, 4);
