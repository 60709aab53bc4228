/* SPDX-License-Identifier: Apache-2.0 */
/* Per-grant transient systemd units over sd-bus: the revocation timer, the warning timer and
 * the scope that holds the grant's elevated sessions. */
#pragma once
#include <sys/types.h>
#include <time.h>
#include "err.h"

/* Unit names derive from the grant id: entra-tap-revoke-<id>.timer / .service. */
#define ET_TIMER_UNIT_PREFIX "entra-tap-revoke-"
/* entra-tap-warn-<id>.timer / .service */
#define ET_WARN_UNIT_PREFIX "entra-tap-warn-"
/* entra-tap-grant-<id>.scope */
#define ET_SCOPE_UNIT_PREFIX "entra-tap-grant-"
#define ET_TIMER_REVOKE_GONE_STATUS 4

/* One StartTransientUnit call: a .timer with OnCalendar= at the absolute UTC instant
 * `expires` (TimersCalendar), AccuracySec=1us (systemd would otherwise wake anywhere in the
 * accuracy window, at a spot derived from the boot id), RemainAfterElapse=no, plus its
 * auxiliary .service running `helper_path revoke <id>`, whose exit status
 * ET_TIMER_REVOKE_GONE_STATUS ("no such grant": dropped, or ended by the sweep at the same
 * instant) counts as success. A timer of the same grant is replaced.
 * Returns 0 when scheduled, 1 when there is no
 * systemd on the system bus (the caller logs that no timer was set and relies on the sweep
 * and the account check), -1 on other errors (err set). */
int et_timer_schedule(const char *grant_id, time_t expires, const char *helper_path, struct et_err *err);

/* The same for the grant's warning: entra-tap-warn-<id>.timer at the absolute UTC instant
 * `at`, AccuracySec=1s, and its .service (Type=oneshot) running `program_path warn <id>`
 * (ET_TIMER_REVOKE_GONE_STATUS counts as success there too: the grant ended first). A
 * warning timer of the same grant is replaced. `at` in the current second or earlier is
 * refused with ET_E_EXPIRED (the caller skips the warning). Returns as et_timer_schedule. */
int et_timer_schedule_warning(const char *grant_id, time_t at, const char *program_path, struct et_err *err);

/* Stop the grant's revocation and warning timers if present (not their services: see
 * timer.c). Missing units and no systemd are success. */
int et_timer_cancel(const char *grant_id, struct et_err *err);

/* "entra-tap-grant-<id>.scope" into buf (the id is not checked: pass a valid one). */
void et_scope_unit_name(const char *grant_id, char buf[64]);

/* Move process pid into the grant's scope: AttachProcessesToUnit when the scope exists,
 * otherwise StartTransientUnit of the scope with the pid (Delegate=yes, which attaching
 * later needs; CollectMode=inactive-or-failed), attaching instead when another session made
 * it first. Then waits (at most 2 s) until /proc/<pid>/cgroup shows the scope, so that what
 * pid forks afterwards starts inside it. pid must be > 1.
 * Returns 0 when attached, 1 when there is no systemd on the system bus (the caller records
 * the pid instead), -1 on errors (err set; ET_E_PROCESS_GONE when pid ended, ET_E_TIMEOUT
 * when it did not reach the scope in time). */
int et_scope_attach(const char *grant_id, pid_t pid, struct et_err *err);

/* Stop the grant's scope (its processes get SIGTERM), job mode replace. The caller may be
 * one of those processes: call it last. A missing scope and no systemd are success. */
int et_scope_stop(const char *grant_id, struct et_err *err);
