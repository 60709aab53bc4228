/* SPDX-License-Identifier: Apache-2.0 */
#include "clock.h"
#include <errno.h>

struct timespec et_mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts;
}

long long et_mono_ms(void)
{
	struct timespec ts = et_mono_now();
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void et_sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
