/* SPDX-License-Identifier: Apache-2.0 */
/* pam_once SERVICE USER PASSFILE: one PAM transaction as a login program runs it:
 * pam_authenticate, then pam_acct_mgmt when that succeeded, then pam_end with the result.
 * Every prompt is answered with the first line of PASSFILE (the pass stays out of argv and
 * the environment). Exit 0 when the login succeeded, 1 when it was refused, 2 on a usage or
 * system error. Used to kill a sign-in at random instants (tests/integration/pam_kill.sh). */
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char pass[512];

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r = calloc((size_t)n, sizeof(*r));
	(void)data;
	if (!r)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			r[i].resp = strdup(pass);
			if (!r[i].resp) {
				for (int j = 0; j < i; j++)
					free(r[j].resp);
				free(r);
				return PAM_BUF_ERR;
			}
		}
	}
	*resp = r;
	return PAM_SUCCESS;
}

int main(int argc, char **argv)
{
	struct pam_conv c = { conv, NULL };
	pam_handle_t *pamh = NULL;
	FILE *f;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: pam_once SERVICE USER PASSFILE\n");
		return 2;
	}
	f = fopen(argv[3], "re");
	if (!f || !fgets(pass, sizeof(pass), f)) {
		fprintf(stderr, "pam_once: cannot read %s\n", argv[3]);
		return 2;
	}
	fclose(f);
	pass[strcspn(pass, "\n")] = '\0';
	if (pam_start(argv[1], argv[2], &c, &pamh) != PAM_SUCCESS)
		return 2;
	r = pam_authenticate(pamh, 0);
	if (r == PAM_SUCCESS)
		r = pam_acct_mgmt(pamh, 0);
	pam_end(pamh, r);
	return r == PAM_SUCCESS ? 0 : 1;
}
