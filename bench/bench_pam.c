/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark of pam_entra_tap.so through real libpam against the loopback mock Entra ID:
 *
 * 1. Sign-in with a Temporary Access Pass: a full pam_authenticate (p50/p99), and in the
 *    same run the identity provider's part of it measured on its own (the discovery fetch
 *    and the password flow, over the same HTTPS), so that the module's own overhead is the
 *    difference: prompt, configuration, state files, key cache, signature and claim checks,
 *    identity pin.
 * 2. Device-code polling: the time from Enter to the first poll, and the gaps between polls
 *    against the interval (the mock logs each answer with a millisecond time stamp).
 *
 * Runs as root, inside the grant sandbox of the tests (a private /etc: the PAM user
 * "benchuser", a person with a login shell, exists only there; root is never mapped to), with
 * the mock: bench/bench_pam.sh, run by
 *     make bench-pam */
#include "conf.h"
#include "mockutil.h"
#include "oauth.h"
#include "oidc.h"
#include "tap.h"
#include "testutil.h"
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <security/pam_appl.h>

#define BENCH_USER "benchuser" /* made by bench/bench_pam.sh in the sandbox */
#define BENCH_UPN BENCH_USER "@contoso.com"

#define ELIGIBLE "5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90"
#define RUNS 200

struct conv_state {
	const char *pass;
	double enter_wall; /* when the device prompt was answered (wall clock, seconds) */
	char code[32];
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void *approve_later(void *arg)
{
	struct conv_state *c = arg;
	sleep(3);
	mu_ctlf("device/approve", "{\"user_code\":\"%s\",\"upn\":\"" BENCH_UPN "\"}", c->code);
	return NULL;
}

static int answer(const struct pam_message *m, char **reply, void *data)
{
	struct conv_state *c = data;
	const char *code = strstr(m->msg, "enter the code ");
	if (m->msg_style == PAM_PROMPT_ECHO_OFF) {
		*reply = strdup(c->pass);
	} else if (m->msg_style == PAM_PROMPT_ECHO_ON) {
		if (code) {
			pthread_t t;
			sscanf(code + 15, "%31s", c->code);
			if (pthread_create(&t, NULL, approve_later, c) == 0)
				pthread_detach(t);
		}
		c->enter_wall = wall();
		*reply = strdup("");
	}
	return PAM_SUCCESS;
}

static int conv(int n, const struct pam_message **msgs, struct pam_response **ret, void *data)
{
	return mu_pam_conv(n, msgs, ret, answer, data);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
	size_t k = (size_t)(p * (double)(n - 1) + 0.5);
	return v[k];
}

static char *new_tap(void)
{
	char *tap = mu_mock_field("tap", "{\"upn\":\"" BENCH_UPN "\",\"one_time\":false,\"lifetime_minutes\":60}",
				  "tap");
	if (!tap) {
		printf("Bail out! no pass\n");
		exit(1);
	}
	return tap;
}

/* token answers in mock.log after `since` (wall clock), as seconds since midnight */
static size_t token_answers(double since, double *out, size_t max)
{
	char line[1024];
	size_t n = 0;
	struct tm tm;
	time_t t = (time_t)since;
	double midnight;
	FILE *f = fopen(mu_str_of("%s/mock.log", getenv("ET_MOCK_DIR")), "re");
	localtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	midnight = (double)mktime(&tm);
	if (!f)
		return 0;
	while (n < max && fgets(line, sizeof(line), f)) {
		int h, m;
		double s;
		if (!strstr(line, "/oauth2/v2.0/token") || sscanf(line, "%d:%d:%lf", &h, &m, &s) != 3)
			continue;
		s += h * 3600.0 + m * 60.0;
		if (midnight + s >= since)
			out[n++] = midnight + s;
	}
	fclose(f);
	return n;
}

int main(void)
{
	const char *module = getenv("ET_PAM_MODULE"), *cfgpath = getenv("ET_MOCK_CONFIG");
	char *confdir, *tap;
	double full[RUNS], idp[RUNS], load[RUNS], d_full, d_idp;
	struct et_config cfg;
	struct conv_state cs = { 0 };
	struct pam_conv pc = { conv, &cs };

	tap_require_root();
	if (!module || !cfgpath) {
		printf("Bail out! run through make bench-pam\n");
		return 1;
	}
	mu_ctl("users", "{\"upn\":\"" BENCH_UPN "\",\"groups\":[\"" ELIGIBLE "\"]}");
	tap = new_tap();
	cs.pass = tap;
	confdir = tu_tmpdir();
	free(tu_write_file(confdir, "bench",
			   mu_str_of("auth required %s config=%s methods=tap,device_code tap_password_grant=yes "
				     "device_code_max_per_user=1000\n",
				     module, cfgpath),
			   0644));
	mu_cfg_load(&cfg);

	/* warm up: key cache, identity pin */
	for (int i = 0; i < 5; i++) {
		pam_handle_t *pamh;
		pam_start_confdir("bench", BENCH_USER, &pc, confdir, &pamh);
		if (pam_authenticate(pamh, 0) != PAM_SUCCESS) {
			printf("Bail out! the warm-up sign-in failed\n");
			return 1;
		}
		pam_end(pamh, PAM_SUCCESS);
	}
	/* interleaved, so that both see the same machine load */
	for (int i = 0; i < RUNS; i++) {
		pam_handle_t *pamh;
		struct et_oidc oidc = { 0 };
		struct et_err err;
		char *tok = NULL;
		double t0 = mono();
		int r;
		pam_start_confdir("bench", BENCH_USER, &pc, confdir, &pamh);
		r = pam_authenticate(pamh, 0);
		pam_end(pamh, r);
		full[i] = mono() - t0;
		if (r != PAM_SUCCESS) {
			printf("Bail out! sign-in %d failed: %s\n", i, pam_strerror(NULL, r));
			return 1;
		}
		/* the module reads the discovery document from its on-disk cache, so the
		 * baseline fetches it outside the clock too: only the token call is timed */
		if (et_oidc_discover(&cfg, &oidc, &err) < 0) {
			printf("Bail out! discovery: %s\n", err.message);
			return 1;
		}
		t0 = mono();
		if (et_password_flow(&cfg, &oidc, BENCH_UPN, tap, NULL, &tok, &err) < 0) {
			printf("Bail out! direct token call: %s\n", err.message);
			return 1;
		}
		idp[i] = mono() - t0;
		et_oauth_secret_free(tok);
		et_oidc_free(&oidc);
	}
	/* what libpam itself costs per transaction: reading the service file, loading and
	 * unloading the module (sshd and sudo pay it too) */
	for (int i = 0; i < RUNS; i++) {
		pam_handle_t *pamh;
		double t0 = mono();
		pam_start_confdir("bench", BENCH_USER, &pc, confdir, &pamh);
		pam_end(pamh, PAM_SUCCESS);
		load[i] = mono() - t0;
	}
	qsort(load, RUNS, sizeof(double), cmp_double);
	qsort(full, RUNS, sizeof(double), cmp_double);
	qsort(idp, RUNS, sizeof(double), cmp_double);
	d_full = pct(full, RUNS, 0.5);
	d_idp = pct(idp, RUNS, 0.5);
	printf("# TAP sign-in, %d runs, pam_authenticate through libpam against the loopback mock\n", RUNS);
	printf("#   full pam_authenticate:         p50 %7.2f ms  p99 %7.2f ms\n", d_full * 1e3, pct(full, RUNS, 0.99) * 1e3);
	printf("#   IdP part alone (token call,\n");
	printf("#     same HTTPS, cached discovery):  p50 %7.2f ms  p99 %7.2f ms\n", d_idp * 1e3, pct(idp, RUNS, 0.99) * 1e3);
	printf("#   module overhead (p50 difference): %.2f ms (goal <= 2 ms)\n", (d_full - d_idp) * 1e3);
	printf("#   of which libpam's pam_start + pam_end (service file, module load): p50 %.2f ms\n",
	       pct(load, RUNS, 0.5) * 1e3);

	/* device-code polling: interval 2 s, approved 3 s after Enter */
	mu_ctl("config", "{\"interval\":2}");
	cs.pass = "";
	{
		pam_handle_t *pamh;
		double answers[64];
		size_t n;
		int r;
		pam_start_confdir("bench", BENCH_USER, &pc, confdir, &pamh);
		r = pam_authenticate(pamh, 0);
		pam_end(pamh, r);
		n = token_answers(cs.enter_wall, answers, 64);
		printf("# device code, interval 2 s, approved 3 s after Enter: %s, %zu poll(s)\n",
		       r == PAM_SUCCESS ? "signed in" : pam_strerror(NULL, r), n);
		if (n) {
			double min_gap = 1e9;
			printf("#   first poll answered %.0f ms after Enter\n", (answers[0] - cs.enter_wall) * 1e3);
			for (size_t i = 1; i < n; i++) {
				double gap = answers[i] - answers[i - 1];
				printf("#   poll %zu: %.3f s after the previous answer\n", i + 1, gap);
				if (gap < min_gap)
					min_gap = gap;
			}
			if (n > 1)
				printf("#   smallest gap %.3f s (interval 2 s: never earlier)\n", min_gap);
		}
	}
	et_config_free(&cfg);
	free(tap);
	printf("1..0 # benchmark figures above\n");
	return 0;
}
