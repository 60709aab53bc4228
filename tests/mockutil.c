/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for C tests that run next to the mock Entra ID: its control API, the test
 * configuration, and a static TLS document server. Failures of the scaffolding bail out of
 * the test: they are never a test result. */
#include "mockutil.h"
#include "tap.h"
#include "testutil.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <json-c/json.h>
#include <security/pam_appl.h>

/* ---- the mock's control API ---- */

char *mu_mockctl(const char *action, const char *json)
{
	const char *mockctl = getenv("ET_MOCKCTL");
	char cmd[8192], *out = NULL;
	size_t len = 0, cap = 0;
	FILE *p;
	int c, n;

	if (!mockctl) {
		printf("Bail out! ET_MOCKCTL is not set: run through the test's .sh\n");
		exit(1);
	}
	n = snprintf(cmd, sizeof(cmd), "%s %s%s%s%s", mockctl, action, json ? " '" : "", json ? json : "",
		     json ? "'" : "");
	if (n < 0 || (size_t)n >= sizeof(cmd)) {
		printf("Bail out! mock control %s: the command is too long\n", action);
		exit(1);
	}
	fflush(stdout);
	p = popen(cmd, "r");
	if (!p) {
		tap_diag("mockctl %s: cannot run it", action);
		return NULL;
	}
	while ((c = fgetc(p)) != EOF) {
		if (len + 2 > cap) {
			cap = cap ? cap * 2 : 1024;
			out = realloc(out, cap);
			if (!out)
				abort();
		}
		out[len++] = (char)c;
	}
	if (out)
		out[len] = '\0';
	if (pclose(p) != 0) {
		tap_diag("mockctl %s failed", action);
		free(out);
		return NULL;
	}
	return out ? out : strdup("");
}

char *mu_mock_field(const char *action, const char *json, const char *field)
{
	char *out = mu_mockctl(action, json), *ret = NULL;
	json_object *o = out ? json_tokener_parse(out) : NULL, *v;
	if (o && json_object_object_get_ex(o, field, &v) && json_object_is_type(v, json_type_string))
		ret = strdup(json_object_get_string(v));
	json_object_put(o);
	free(out);
	return ret;
}

int mu_try_ctl(const char *action, const char *json)
{
	char *r = mu_mockctl(action, json);
	free(r);
	return r ? 0 : -1;
}

void mu_ctl(const char *action, const char *json)
{
	if (mu_try_ctl(action, json) < 0) {
		printf("Bail out! mock control %s failed\n", action);
		exit(1);
	}
}

void mu_ctlf(const char *action, const char *fmt, ...)
{
	char json[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(json, sizeof(json), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(json)) {
		printf("Bail out! mock control %s: the argument is too long\n", action);
		exit(1);
	}
	mu_ctl(action, json);
}

int mu_mock_stat(const char *endpoint)
{
	char *r = mu_mockctl("stats", NULL);
	json_object *o = r ? json_tokener_parse(r) : NULL, *req = NULL, *n = NULL;
	int v = -1;
	if (o && json_object_object_get_ex(o, "requests", &req) && json_object_object_get_ex(req, endpoint, &n))
		v = json_object_get_int(n);
	json_object_put(o);
	free(r);
	return v;
}

void mu_mock_reset(void)
{
	mu_ctl("up", NULL);
	mu_ctl("stats/reset", NULL);
}

/* ---- configuration ---- */

void mu_cfg_load(struct et_config *cfg)
{
	struct et_err err = { 0 };
	if (et_config_init(cfg) < 0 || et_config_load(cfg, getenv("ET_MOCK_CONFIG"), &err) < 0) {
		printf("Bail out! cannot load %s: %s\n", getenv("ET_MOCK_CONFIG"), err.message);
		exit(1);
	}
}

void mu_cfg_set(struct et_config *cfg, const char *key, const char *value)
{
	struct et_err err = { 0 };
	if (et_config_set(cfg, key, value, "test", &err) < 0 || et_config_finish(cfg, &err) < 0) {
		printf("Bail out! cannot set %s = %s: %s\n", key, value, err.message);
		exit(1);
	}
}

/* ---- small things ---- */

char *mu_str_of(const char *fmt, ...)
{
	static char buf[8][2048];
	static int next;
	char *b = buf[next++ % 8];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(buf[0]), fmt, ap);
	va_end(ap);
	return b;
}

int mu_closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		printf("Bail out! cannot find a free loopback port\n");
		exit(1);
	}
	close(fd);
	return ntohs(sa.sin_port);
}

/* ---- static documents over TLS ---- */

void mu_docserver_start(struct mu_docserver *d)
{
	const char *mdir = getenv("ET_MOCK_DIR");
	char cert[1024], key[1024], out[1024], line[256];
	FILE *f = NULL;

	if (!mdir) {
		printf("Bail out! ET_MOCK_DIR is not set: run through the test's .sh\n");
		exit(1);
	}
	d->dir = tu_tmpdir();
	snprintf(cert, sizeof(cert), "%s/server.pem", mdir);
	snprintf(key, sizeof(key), "%s/server-key.pem", mdir);
	snprintf(out, sizeof(out), "%s/s_server.out", d->dir);
	if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
		printf("Bail out! the mock's server certificate is not in %s\n", mdir);
		exit(1);
	}
	fflush(stdout);
	d->pid = fork();
	if (d->pid < 0) {
		printf("Bail out! fork: %s\n", strerror(errno));
		exit(1);
	}
	if (d->pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || chdir(d->dir) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execlp("openssl", "openssl", "s_server", "-WWW", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key,
		       (char *)NULL);
		_exit(127);
	}
	d->port = 0;
	for (int i = 0; i < 400 && d->port == 0; i++) {
		usleep(25000);
		if (!f)
			f = fopen(out, "re");
		if (!f)
			continue;
		clearerr(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "ACCEPT 127.0.0.1:%d", &d->port) == 1)
				break;
	}
	if (f)
		fclose(f);
	if (d->port == 0) {
		mu_docserver_stop(d);
		printf("Bail out! openssl s_server did not start\n");
		exit(1);
	}
}

void mu_docserver_stop(struct mu_docserver *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
	}
	d->pid = 0;
}

/* ---- PAM conversations ---- */

int mu_pam_conv(int n, const struct pam_message **msgs, struct pam_response **ret, mu_pam_answer answer,
		void *data)
{
	struct pam_response *resp = calloc((size_t)n, sizeof(*resp));
	if (!resp)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		int r = answer(msgs[i], &resp[i].resp, data);
		if (r != PAM_SUCCESS) {
			for (int j = 0; j <= i; j++)
				free(resp[j].resp);
			free(resp);
			return r;
		}
	}
	*ret = resp;
	return PAM_SUCCESS;
}
