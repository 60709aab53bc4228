/* SPDX-License-Identifier: Apache-2.0 */
/* The conversation: prompts, information and error sentences for the person. */
#include "module.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <security/pam_ext.h>

int et_pam_ask(struct et_pam *m, int style, char **ret_reply, const char *fmt, ...)
{
	va_list ap;
	char *reply = NULL;
	int r;

	va_start(ap, fmt);
	r = pam_vprompt(m->pamh, style, &reply, fmt, ap);
	va_end(ap);
	if (r != PAM_SUCCESS) {
		et_pam_reply_free(reply);
		return r == PAM_BUF_ERR ? PAM_BUF_ERR : PAM_CONV_ERR;
	}
	if (!reply)
		return PAM_CONV_ERR;
	*ret_reply = reply;
	return PAM_SUCCESS;
}

void et_pam_error(struct et_pam *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)pam_vprompt(m->pamh, PAM_ERROR_MSG, NULL, fmt, ap);
	va_end(ap);
}

/* The PAM return code of a failure class: the one place it is decided. */
int et_pam_code(enum et_class cls)
{
	switch (cls) {
	case ET_CLASS_NONE:
		return PAM_SUCCESS;
	case ET_CLASS_DENIED:
		return PAM_AUTH_ERR;
	case ET_CLASS_RATE_LIMITED:
		return PAM_MAXTRIES;
	case ET_CLASS_USER_UNKNOWN:
		return PAM_USER_UNKNOWN;
	case ET_CLASS_UNAVAILABLE:
		return PAM_AUTHINFO_UNAVAIL;
	case ET_CLASS_NO_MEMORY:
		return PAM_BUF_ERR;
	case ET_CLASS_CONFIG:
	case ET_CLASS_NO_GROUP:
	case ET_CLASS_BUSY:
	case ET_CLASS_NOT_FOUND:
	case ET_CLASS_USAGE:
	case ET_CLASS_INTERNAL:
		return PAM_SYSTEM_ERR;
	}
	return PAM_SYSTEM_ERR;
}

/* What a person at a prompt is told for a failure that is not a refusal: never a path, a
 * file name or an internal detail (those go to the log). */
const char *et_pam_class_sentence(enum et_class cls)
{
	switch (cls) {
	case ET_CLASS_UNAVAILABLE:
		return "Microsoft Entra ID cannot be reached or answered something unusable; try again later.";
	case ET_CLASS_RATE_LIMITED:
		return "too many attempts; try again later.";
	case ET_CLASS_CONFIG:
	case ET_CLASS_NO_GROUP:
		return "sign-in is not set up correctly on this host; the administrator can find the reason in the system log.";
	case ET_CLASS_BUSY:
		return "this host is busy; try again in a moment.";
	case ET_CLASS_NONE:
	case ET_CLASS_DENIED:
	case ET_CLASS_USER_UNKNOWN:
	case ET_CLASS_NOT_FOUND:
	case ET_CLASS_USAGE:
	case ET_CLASS_NO_MEMORY:
	case ET_CLASS_INTERNAL:
		break;
	}
	return "an internal error occurred; the administrator can find it in the system log.";
}

void et_pam_reply_free(char *reply)
{
	if (!reply)
		return;
	explicit_bzero(reply, strlen(reply));
	free(reply);
}
