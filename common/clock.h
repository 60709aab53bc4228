/* SPDX-License-Identifier: Apache-2.0 */
/* The monotonic clock, for deadlines and waits: never the wall clock, which may jump. */
#pragma once
#include <time.h>

/* CLOCK_MONOTONIC now. */
struct timespec et_mono_now(void);
/* CLOCK_MONOTONIC now, in milliseconds. */
long long et_mono_ms(void);
/* Sleep ms milliseconds, resuming after a signal. */
void et_sleep_ms(long ms);
