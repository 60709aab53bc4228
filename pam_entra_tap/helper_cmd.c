/* SPDX-License-Identifier: Apache-2.0 */
/* Every command line the module gives a program of ours, built here and nowhere else, from
 * the contract (helper/contract.h). The module is root already (inside sshd, sudo or
 * `entra-tap-helper elevate`), so it runs only entra-tap-grantctl: with a fixed argv, an
 * empty environment and fds 0-2, reaping only its own child (spawn.h). The group files are
 * never edited inside the host process (lckpwdf's alarm() would clobber the host's own). */
#include "module.h"
#include "contract.h"
#include "spawn.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define ARGV_MAX 24

/* Run grantctl with argv; a non-zero exit is an error of the class its status stands for. */
static int run(const char *const argv[], char *out, size_t out_size, size_t *ret_len, struct et_err *err)
{
	int status = -1;
	int r = out ? et_spawn_capture(ET_GRANTCTL_PATH, argv, ET_GRANTCTL_TIMEOUT_MS, out, out_size, ret_len, &status,
				       err)
		    : et_spawn_wait(ET_GRANTCTL_PATH, argv, ET_GRANTCTL_TIMEOUT_MS, &status, err);
	if (r < 0)
		return -1;
	if (status != ET_EXIT_OK)
		return et_err_set(err, status == ET_EXIT_NO_GROUP ? ET_E_NO_GROUP : ET_E_HELPER_FAILED,
				  "%s %s exited with status %d", ET_GRANTCTL_PATH, argv[1], status);
	return 0;
}

int et_grant_id_line_parse(const char *out, size_t len, char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err)
{
	char id[ET_GRANT_ID_HEX + 1];
	if (len == 0)
		return et_err_set(err, ET_E_NO_GRANT_ID, "%s grant printed no grant id", ET_GRANTCTL_PATH);
	if (len != ET_GRANT_ID_HEX + 1 || out[ET_GRANT_ID_HEX] != '\n')
		return et_err_set(err, ET_E_BAD_GRANT_ID,
				  "%s grant printed %zu bytes, not one line of %d hexadecimal digits", ET_GRANTCTL_PATH,
				  len, ET_GRANT_ID_HEX);
	memcpy(id, out, ET_GRANT_ID_HEX);
	id[ET_GRANT_ID_HEX] = '\0';
	if (!et_grant_id_ok(id))
		return et_err_set(err, ET_E_BAD_GRANT_ID, "%s grant printed a line that is not a grant id",
				  ET_GRANTCTL_PATH);
	memcpy(ret_id, id, sizeof(id));
	return 0;
}

int et_cmd_grant(const struct et_cmd_grant_args *a, char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err)
{
	const char *argv[ARGV_MAX];
	char out[ET_GRANT_OUTPUT_MAX], watch[48];
	size_t len = 0;
	int n = 0;

	argv[n++] = ET_GRANTCTL_NAME;
	argv[n++] = ET_VERB_NAME(ET_VERB_GRANT);
	argv[n++] = a->user;
	argv[n++] = ET_OPT_METHOD;
	argv[n++] = a->method;
	argv[n++] = ET_OPT_REASON;
	argv[n++] = a->reason;
	/* optional values that do not fit the grant's fields are left out, not cut */
	if (a->duration) {
		argv[n++] = ET_OPT_DURATION;
		argv[n++] = a->duration;
	}
	if (a->oid && strlen(a->oid) <= ET_GRANT_SHORT_MAX) {
		argv[n++] = ET_OPT_OID;
		argv[n++] = a->oid;
	}
	if (a->tid && strlen(a->tid) <= ET_GRANT_SHORT_MAX) {
		argv[n++] = ET_OPT_TID;
		argv[n++] = a->tid;
	}
	if (a->upn && strlen(a->upn) <= ET_GRANT_TEXT_MAX) {
		argv[n++] = ET_OPT_UPN;
		argv[n++] = a->upn;
	}
	if (a->service && a->service[0] && strlen(a->service) <= ET_GRANT_SHORT_MAX) {
		argv[n++] = ET_OPT_SERVICE;
		argv[n++] = a->service;
	}
	if (a->rhost && a->rhost[0] && strlen(a->rhost) <= ET_GRANT_TEXT_MAX) {
		argv[n++] = ET_OPT_RHOST;
		argv[n++] = a->rhost;
	}
	if (a->pim_until && a->pim_until[0]) {
		argv[n++] = ET_OPT_PIM_UNTIL;
		argv[n++] = a->pim_until;
	}
	if (a->pending) {
		/* this process and its parent (sshd's connection process); init never ends */
		pid_t ppid = getppid();
		if (ppid > 1)
			snprintf(watch, sizeof(watch), "%ld,%ld", (long)getpid(), (long)ppid);
		else
			snprintf(watch, sizeof(watch), "%ld", (long)getpid());
		argv[n++] = ET_OPT_WATCH;
		argv[n++] = watch;
	}
	if (a->extend)
		argv[n++] = ET_OPT_EXTEND;
	argv[n] = NULL;
	if (run(argv, out, sizeof(out), &len, err) < 0)
		return -1;
	return et_grant_id_line_parse(out, len, ret_id, err);
}

int et_cmd_tie(const char *user, pid_t pid, const char *tty, struct et_err *err)
{
	char pid_text[24];
	const char *argv[] = { ET_GRANTCTL_NAME, ET_VERB_NAME(ET_VERB_TIE), user, pid_text, NULL, NULL, NULL };
	char out[ET_GRANT_OUTPUT_MAX];
	size_t len = 0;
	snprintf(pid_text, sizeof(pid_text), "%ld", (long)pid);
	if (tty) {
		argv[4] = ET_OPT_TTY;
		argv[5] = tty;
	}
	return run(argv, out, sizeof(out), &len, err);
}

int et_cmd_revoke(const char *id, struct et_err *err)
{
	const char *const argv[] = { ET_GRANTCTL_NAME, ET_VERB_NAME(ET_VERB_REVOKE), id, NULL };
	return run(argv, NULL, 0, NULL, err);
}

int et_cmd_revoke_user(const char *user, struct et_err *err)
{
	const char *const argv[] = { ET_GRANTCTL_NAME, ET_VERB_NAME(ET_VERB_REVOKE), ET_OPT_USER, user, NULL };
	return run(argv, NULL, 0, NULL, err);
}

int et_cmd_revoke_user_at_account(const char *user, struct et_err *err)
{
	const char *const argv[] = { ET_GRANTCTL_NAME, ET_VERB_NAME(ET_VERB_SWEEP), ET_OPT_USER, user,
				     ET_OPT_CAUSE,     ET_CAUSE_ACCOUNT,             NULL };
	return run(argv, NULL, 0, NULL, err);
}
