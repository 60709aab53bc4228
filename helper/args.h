/* SPDX-License-Identifier: Apache-2.0 */
/* The command lines of both programs, parsed before anything runs: one strict parser for
 * every verb's arguments (contract.h spells the shapes), pure (no I/O, no configuration),
 * so that it can be fuzzed (fuzz/fuzz_args.c). A verb runs only with arguments that passed
 * here; what depends on the configuration (clamping a duration) happens later. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "contract.h"
#include "grant.h"

struct et_args {
	enum et_verb verb;
	bool help;    /* `help` or `--help`: nothing else was parsed */
	bool version; /* `--version`: nothing else was parsed */
	/* grant, elevate */
	const char *user;      /* grant USER, revoke --user USER, sweep --user USER */
	const char *reason;    /* at most ET_GRANT_TEXT_MAX bytes */
	long duration;         /* seconds; 0: not given */
	bool have_method;
	enum et_grant_method method;
	const char *oid, *upn, *tid, *service, *rhost;
	time_t pim_until;      /* grant --pim-until EPOCH; 0: not given */
	/* revoke ID, drop ID, guard ID */
	const char *id;
	/* list, status */
	bool json;
	/* grant --extend */
	bool extend;
	/* tie USER PID [--tty TTY] */
	pid_t tie_pid;
	const char *tty;
	/* sweep */
	bool cause_account; /* --cause account (else sweep) */
	/* guard */
	pid_t pids[ET_GUARD_PIDS_MAX];
	size_t n_pids;
};

/* Parse argv[1..argc-1] (argv[1] is the verb) for `program`. Returns 0, or -1 with one
 * sentence in why (the verb is unknown, misplaced or its arguments are not its shape). */
int et_args_parse(enum et_program program, int argc, char *const argv[], struct et_args *ret, char *why,
		  size_t why_size);
