/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for C tests that run next to the mock Entra ID (tests/mock-entra/with-mock.sh). */
#pragma once
#include <sys/types.h>
#include "conf.h"

/* ---- the mock's control API, through $ET_MOCKCTL ---- */

/* Run `$ET_MOCKCTL action ['json']` and return what it printed (malloc'd), or NULL (with a
 * diagnostic) when it could not be run or exited non-zero. json may be NULL. */
char *mu_mockctl(const char *action, const char *json);
/* One string member of the answer to `$ET_MOCKCTL action 'json'` (malloc'd), e.g. the
 * "tap" of a tap call or the "id_token" of a mint; NULL when the call or the member failed. */
char *mu_mock_field(const char *action, const char *json, const char *field);
/* The same, answer discarded: 0 when the mock accepted the call, -1 otherwise. */
int mu_try_ctl(const char *action, const char *json);
/* The same, and the test bails out when the call fails. */
void mu_ctl(const char *action, const char *json);
/* mu_ctl with the JSON argument built from a printf format. */
void mu_ctlf(const char *action, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* How many requests the mock counted for one endpoint ("token", "jwks", ...); -1 if unknown. */
int mu_mock_stat(const char *endpoint);
/* The mock up again (no outage, failure or latency) and its request counters at zero. */
void mu_mock_reset(void);

/* ---- configuration ---- */

/* Initialise cfg and load $ET_MOCK_CONFIG into it; bails out on failure. */
void mu_cfg_load(struct et_config *cfg);
/* Set one key and finish the configuration again; bails out on failure. */
void mu_cfg_set(struct et_config *cfg, const char *key, const char *value);

/* ---- small things ---- */

/* printf into one of eight rotating static buffers (2 KiB each): for URLs and JSON texts
 * that are used at once. */
char *mu_str_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A loopback TCP port nothing listens on: bound, noted, closed. */
int mu_closed_port(void);

/* ---- static documents over TLS ---- */

/* `openssl s_server -WWW` with the mock's server certificate (so clients that trust
 * $ET_MOCK_CA trust it too), serving the files of a fresh temp directory, dir, at
 * https://127.0.0.1:port/NAME. */
struct mu_docserver {
	pid_t pid;
	int port;
	char *dir;
};

/* Start it; bails out when it does not come up. */
void mu_docserver_start(struct mu_docserver *d);
void mu_docserver_stop(struct mu_docserver *d);

/* ---- PAM conversations ---- */

struct pam_message;
struct pam_response;

/* One message of a conversation: *reply gets a malloc'd answer (or stays NULL for none);
 * anything but PAM_SUCCESS ends the conversation with that code. */
typedef int (*mu_pam_answer)(const struct pam_message *m, char **reply, void *data);
/* A PAM conversation function's body: the responses for n messages, each from answer. */
int mu_pam_conv(int n, const struct pam_message **msgs, struct pam_response **ret, mu_pam_answer answer,
		void *data);
