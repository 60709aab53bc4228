#include "config.h"
#include "err.h"
#include <stdio.h>
#include <string.h>

int et_err_setv(struct et_err *err, const char *reason, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	snprintf(err->reason, sizeof(err->reason), "%s", reason);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	return -1;
}

int et_err_set(struct et_err *err, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	et_err_setv(err, reason, fmt, ap);
	va_end(ap);
	return -1;
}

void et_err_clear(struct et_err *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

void et_log(const struct et_logger *lg, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	if (!lg || !lg->fn || (level >= ET_LOG_DEBUG && !lg->debug))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	lg->fn(lg->data, level, buf);
}
