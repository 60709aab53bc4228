/* SPDX-License-Identifier: Apache-2.0 */
/* What entra-tap-helper (setuid) and entra-tap-grantctl (root only) share: a clean process,
 * one sentence per failure on stderr, the exit status of a failure class, option parsing,
 * times for people. Nothing here is a verb. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>
#include "conf.h"
#include "contract.h"
#include "err.h"
#include "grant.h"
#include "grant_store.h"

/* The program's name, for its sentences ("entra-tap-helper: ..."). */
extern const char *et_prog_name;

void et_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A log sink (struct et_logger) that writes to stderr through et_say. */
void et_log_stderr(void *data, int level, const char *msg);

/* Start-up of every program, before anything else: its name for its sentences, fds 0-2 open (on /dev/null where the
 * caller closed them, so that our own opens never land there), argv[0] present, no core
 * dumps, umask 077, an empty environment but a fixed PATH, the terminal's signals ignored (a
 * stopped or interrupted process holding the group-file locks would block everyone), and
 * argc/argv within ET_ARGC_MAX/ET_ARG_MAX_BYTES. Returns ET_EXIT_OK or the status to exit
 * with (having said why). */
int et_prog_start(const char *name, int argc, char **argv);

/* The exit status of a failure's class: the one place it is decided. */
int et_exit_for(const struct et_err *e);
/* Say e's sentence and return its exit status. */
int et_fail(const struct et_err *e);

/* The caller, by real uid. */
struct et_caller {
	uid_t uid;
	char name[ET_GRANT_NAME_MAX + 1];
	bool have_name;
};
void et_caller_of(uid_t uid, struct et_caller *ret);
/* Audit a refused request of the caller's. */
void et_refuse(const struct et_caller *who, const char *verb, const char *why);

struct et_args;
/* A verb of a program, run with the loaded configuration. */
typedef int (*et_verb_fn)(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a);
/* The rest of a program's main once the process is safe and the caller known: parse the
 * arguments (help and usage errors answered here), load the configuration, run the verb's
 * function from verbs[] and return its exit status. */
int et_prog_run(enum et_program program, int argc, char **argv, const struct et_caller *who,
		void (*usage)(FILE *out), const et_verb_fn verbs[ET_VERB__COUNT]);

/* Load the one configuration (ET_DEFAULT_CONFIG); on failure audit and say why. */
int et_prog_config(struct et_config *cfg, const struct et_caller *who, const char *verb);

/* The verb named argv[1] among those of `program` (contract.h); -1 when there is none. */
int et_verb_find(enum et_program program, const char *name);

/* One grant as the JSON object of `list --json` and `status --json`. */
struct json_object;
struct json_object *et_grant_json(const struct et_grant *g, time_t now);

void et_format_utc(time_t t, char *buf, size_t size);
void et_format_local(time_t t, char *buf, size_t size);
/* HH:MM in local time (the "until 14:05" of a grant capped by a PIM activation). */
void et_format_hhmm(time_t t, char *buf, size_t size);
void et_format_left(time_t expires, time_t now, char *buf, size_t size);
