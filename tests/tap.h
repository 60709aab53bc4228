/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal TAP producer for the C tests: every check is a numbered "ok"/"not ok" line. */
#pragma once
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3))) static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		tap_failed++;
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is_str(got, want, name)                                                                          \
	do {                                                                                             \
		const char *g_ = (got), *w_ = (want);                                                    \
		if (!ok(g_ && w_ && strcmp(g_, w_) == 0, "%s", name))                                    \
			printf("#   got: '%s'\n#  want: '%s'\n", g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)
#define is_int(got, want, name)                                                                   \
	do {                                                                                      \
		long long g_ = (long long)(got), w_ = (long long)(want);                          \
		if (!ok(g_ == w_, "%s", name))                                                    \
			printf("#   got: %lld\n#  want: %lld\n", g_, w_);                              \
	} while (0)

static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline void tap_skip_all(const char *why)
{
	printf("1..0 # SKIP %s\n", why);
	exit(0);
}

/* Tests that need root: skip when not root, but under CI=true they must run: fail instead. */
static inline void tap_require_root(void)
{
	if (geteuid() == 0)
		return;
	if (getenv("CI") && strcmp(getenv("CI"), "true") == 0) {
		printf("1..1\nnot ok 1 - this test needs root and CI=true forbids skipping\n");
		exit(1);
	}
	tap_skip_all("needs root");
}

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	/* a sanitizer's exit-time report ends the process without flushing stdio */
	fflush(stdout);
	return tap_failed ? 1 : 0;
}
