/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the programs' argument parser (helper/args.c), the first thing the
 * setuid entra-tap-helper does with what a user typed. The input is split at NUL bytes into
 * argv[1..] (at most ET_ARGC_MAX - 1 words, as et_prog_start allows). Besides crashes and
 * sanitizer reports it checks what a verb relies on: a verb is accepted only by its own
 * program, ids are grant ids, pids are above 1, user names are local names, a reason is
 * within its cap (and one printable line from a user), durations are not negative, and a refusal says why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "args.h"
#include "grant_store.h"
#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(enum et_program prog, int argc, char **argv)
{
	struct et_args a;
	char why[160];
	if (et_args_parse(prog, argc, argv, &a, why, sizeof(why)) < 0) {
		if (!why[0])
			abort();
		return;
	}
	if (a.help || a.version)
		return;
	if ((unsigned)a.verb >= ET_VERB__COUNT || et_verbs[a.verb].program != prog)
		abort();
	if (a.id && !et_grant_id_ok(a.id))
		abort();
	if (a.user && (!et_local_name_ok(a.user) || strlen(a.user) > ET_GRANT_NAME_MAX))
		abort();
	if (a.reason && strlen(a.reason) > ET_GRANT_TEXT_MAX)
		abort();
	if (a.reason && a.verb == ET_VERB_ELEVATE) {
		for (const unsigned char *p = (const unsigned char *)a.reason; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				abort();
	}
	if (a.duration < 0 || a.pim_until < 0 || a.n_pids > ET_GUARD_PIDS_MAX)
		abort();
	for (size_t i = 0; i < a.n_pids; i++)
		if (a.pids[i] < 2)
			abort();
	if (a.verb == ET_VERB_GUARD && (a.n_pids < 1 || !a.id))
		abort();
	if (a.verb == ET_VERB_REVOKE && !a.id == !a.user)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *argv[ET_ARGC_MAX + 1];
	int argc = 1;
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = (char *)"prog";
	for (size_t i = 0; i <= size && argc < ET_ARGC_MAX;) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	check(ET_PROG_HELPER, argc, argv);
	check(ET_PROG_GRANTCTL, argc, argv);
	free(buf);
	return 0;
}
