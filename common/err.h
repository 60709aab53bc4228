/* SPDX-License-Identifier: Apache-2.0 */
/* Errors as values: a reason from the one list (reasons.h) and one sentence with the detail.
 *
 * The sentence is for the log and the journal: it may name local paths and values. What a
 * person at a prompt is shown is chosen by the reason's class (see reasons.h). */
#pragma once
#include <stdarg.h>
#include "reasons.h"

#define ET_ATTR_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct et_err {
	enum et_reason code; /* what to branch on */
	char reason[48];     /* et_reason_name(code), e.g. "bad_signature": logs, audit, tests */
	char message[320];   /* one sentence with the detail, for the log */
};

/* Fill err (NULL-safe) and return -1, so callers can `return et_err_set(...)`. */
int et_err_set(struct et_err *err, enum et_reason code, const char *fmt, ...) ET_ATTR_PRINTF(3, 4);
int et_err_setv(struct et_err *err, enum et_reason code, const char *fmt, va_list ap) ET_ATTR_PRINTF(3, 0);
void et_err_clear(struct et_err *err);
/* The class of err's reason (ET_CLASS_NONE for a cleared err or NULL). */
enum et_class et_err_class(const struct et_err *err);

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
