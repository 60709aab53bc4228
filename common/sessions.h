/* SPDX-License-Identifier: Apache-2.0 */
/* The sessions a grant elevated, and what the grant's end does to them.
 *
 * Tie. A session opened while its user holds a live grant, through a PAM stack with the
 * module's session line, is *tied* to that grant (the root program's `tie`, run by the
 * module's open_session): the process that opens it — sudo, su, sshd's session process —
 * is moved into the grant's systemd scope, entra-tap-grant-<id>.scope
 * (timer.h), before it starts the session's command, so that every descendant, including
 * one that daemonises, is found by its cgroup. Without systemd on the bus the process's pid
 * and start time are recorded instead: its descendants (by parent pid) and the sessions they
 * lead are found, but a process that daemonised (re-parented to init) escapes unless it
 * still carries the group. The session's terminal is recorded for the lines below.
 * {state_dir}/sessions/<id> (root, 0600) holds the ties: "entra-tap-sessions 1", "boot
 * <boot id>", then one "tie <pid> <start time> <scope 0|1> <tty or ->" per session (at most
 * ET_TIES_MAX), then "end".
 *
 * End. When a grant ends (timer, drop, revoke, sweep, boot reconcile, the account phase),
 * after its membership is gone: the tied processes, and every other process that still
 * carries the group's gid (any of its gids; e.g. after newgrp, or an sshd login that
 * received the group) whose real uid is neither root, nor a member the group still lists,
 * nor a permanent member, nor the holder of another live grant of the group, are listed in
 * the revoke audit event. With
 * on_expiry = terminate each tied terminal gets "elevation ended: this session is being
 * closed", every listed process SIGTERM, and what is left SIGKILL after terminate_grace;
 * with keep nothing is signalled and the event names what outlives the grant. A grant of a
 * permanent member is kept. The ties file goes last; one left by an end that was cut short
 * (a kill, a reboot) is finished by the next sweep, as are processes left in the scope of a
 * grant that no longer exists. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "conf.h"
#include "err.h"
#include "grant_store.h"

#define ET_TIES_MAX 64
#define ET_TIES_FILE_MAX 8192
#define ET_TIE_TTY_MAX 64
#define ET_ENDED_LINE "elevation ended: this session is being closed"

struct et_tie {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat starttime: a reused pid is not the session */
	bool scope;               /* moved into the grant's scope */
	char tty[ET_TIE_TTY_MAX + 1]; /* "" when none */
};
struct et_ties {
	char boot_id[40];
	size_t n;
	struct et_tie items[ET_TIES_MAX];
};

/* The file format (exposed for tests and fuzzing); parse is strict: every line as above,
 * "end" last, no more than ET_TIES_MAX ties. Reason "corrupt_ties". */
int et_ties_format(const struct et_ties *t, char *buf, size_t size, size_t *ret_len, struct et_err *err);
int et_ties_parse(const char *text, size_t len, struct et_ties *ret, struct et_err *err);

/* Tie process pid's session to user's live grant (the one that ends last). Takes the store
 * lock. tty: the session's terminal (a /dev path) or NULL (then the process's controlling
 * terminal, if any). ret_id: the grant. Reasons: "not_found" (no live grant), "no_process". */
int et_session_tie(const struct et_config *cfg, const char *user, pid_t pid, const char *tty,
		   char ret_id[ET_GRANT_ID_HEX + 1], struct et_err *err);

/* The end of grant g (ended already: no longer in the store or marked ended), without the
 * store lock held: list, audit (the revoke event of cause, with the processes), then
 * terminate or keep as cfg->on_expiry says, then remove the ties file. Never fails the
 * revocation: problems are logged and audited. */
void et_sessions_end(const struct et_config *cfg, const struct et_grant *g, const char *cause);

/* The warning timer's: one line on each tied terminal of live grant id, "elevation ends at
 * HH:MM (in N min); HINT" (the program names the way to extend: contract.h). ret_sent:
 * terminals written. Reason "not_found" when the grant is gone or no longer live. */
int et_sessions_warn(const struct et_config *cfg, const char *id, const char *hint, time_t now, unsigned *ret_sent,
		     struct et_err *err);

/* The sweep's part: ties files whose grant is gone, and processes in the scope of a grant
 * that is not in the store, are ended as above (cause "sweep"). ret_ended: how many. */
void et_sessions_sweep(const struct et_config *cfg, unsigned *ret_ended);
