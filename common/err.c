/* SPDX-License-Identifier: Apache-2.0 */
#include "err.h"
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	enum et_class cls;
} reasons[ET_E__COUNT] = {
	[ET_E_NONE] = { "", ET_CLASS_NONE },
#define ET_REASON_ROW(id, name, cls) [ET_E_##id] = { name, ET_CLASS_##cls },
	ET_REASONS(ET_REASON_ROW)
#undef ET_REASON_ROW
};

const char *et_reason_name(enum et_reason r)
{
	return (unsigned)r < ET_E__COUNT ? reasons[r].name : "";
}

enum et_class et_reason_class(enum et_reason r)
{
	return (unsigned)r < ET_E__COUNT ? reasons[r].cls : ET_CLASS_INTERNAL;
}

const char *et_class_name(enum et_class c)
{
	switch (c) {
	case ET_CLASS_NONE:
		return "none";
	case ET_CLASS_DENIED:
		return "denied";
	case ET_CLASS_RATE_LIMITED:
		return "rate_limited";
	case ET_CLASS_USER_UNKNOWN:
		return "user_unknown";
	case ET_CLASS_UNAVAILABLE:
		return "unavailable";
	case ET_CLASS_CONFIG:
		return "config";
	case ET_CLASS_NO_GROUP:
		return "no_group";
	case ET_CLASS_BUSY:
		return "busy";
	case ET_CLASS_NOT_FOUND:
		return "not_found";
	case ET_CLASS_USAGE:
		return "usage";
	case ET_CLASS_NO_MEMORY:
		return "no_memory";
	case ET_CLASS_INTERNAL:
		return "internal";
	}
	return "internal";
}

enum et_class et_err_class(const struct et_err *err)
{
	return err ? et_reason_class(err->code) : ET_CLASS_NONE;
}

int et_err_setv(struct et_err *err, enum et_reason code, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	err->code = code;
	snprintf(err->reason, sizeof(err->reason), "%s", et_reason_name(code));
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	return -1;
}

int et_err_set(struct et_err *err, enum et_reason code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	et_err_setv(err, code, fmt, ap);
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
