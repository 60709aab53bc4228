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

void et_pam_info(struct et_pam *m, const char *fmt, ...)
{
	va_list ap;
	if (m->flags & PAM_SILENT)
		return;
	va_start(ap, fmt);
	(void)pam_vprompt(m->pamh, PAM_TEXT_INFO, NULL, fmt, ap);
	va_end(ap);
}

void et_pam_error(struct et_pam *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	(void)pam_vprompt(m->pamh, PAM_ERROR_MSG, NULL, fmt, ap);
	va_end(ap);
}

void et_pam_reply_free(char *reply)
{
	if (!reply)
		return;
	explicit_bzero(reply, strlen(reply));
	free(reply);
}
