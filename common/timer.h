/* SPDX-License-Identifier: Apache-2.0 */
/* Per-grant revocation timers: transient systemd units over sd-bus. */
#pragma once
#include <time.h>
#include "err.h"

/* Unit names derive from the grant id: entra-tap-revoke-<id>.timer / .service. */
#define ET_TIMER_UNIT_PREFIX "entra-tap-revoke-"
#define ET_TIMER_REVOKE_GONE_STATUS 4

/* One StartTransientUnit call: a .timer with OnCalendar= at the absolute UTC instant
 * `expires` (TimersCalendar), AccuracySec=1s, RemainAfterElapse=no, plus its auxiliary
 * .service running `helper_path revoke <id>`, whose exit status ET_TIMER_REVOKE_GONE_STATUS
 * ("no such grant": dropped, or ended by the sweep at the same instant) counts as success.
 * Returns 0 when scheduled, 1 when there is no
 * systemd on the system bus (the caller logs that no timer was set and relies on the sweep
 * and the account check), -1 on other errors (err set). */
int et_timer_schedule(const char *grant_id, time_t expires, const char *helper_path, struct et_err *err);
/* Stop the grant's timer (and service) if present. Missing units and no systemd are success. */
int et_timer_cancel(const char *grant_id, struct et_err *err);
