/* SPDX-License-Identifier: Apache-2.0 */
/* pam_entra_tap.so through real libpam: every method and every return code against the mock
 * Entra ID, asserting the code, the prompts shown (count and text) and that no secret
 * reaches a message. Run by tests/pam/test_pam.sh (a private /etc, the real setuid helper,
 * a fresh mock). Service files live in a private directory (pam_start_confdir). */
#include "contract.h"
#include "grant_store.h"
#include "mockutil.h"
#include "tap.h"
#include "testutil.h"
#include "voucher.h"
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utmpx.h>
#include <sys/random.h>
#include <security/pam_appl.h>

#define ELIGIBLE "5f2b1c1e-4f41-4a84-9d6a-1f0c2b7d3e90"
#define MAX_MSGS 16
#define MAX_REPLIES 4

static const char *module, *group, *confdir, *state_dir;

/* ---- a scripted conversation that records what was shown ---- */

struct msg {
	int style;
	char *text;
};

struct script {
	const char *replies[MAX_REPLIES]; /* answers to prompts, in order; NULL: conversation error */
	size_t n_replies;
	/* device code: approve / decline / expire the code shown, before answering */
	const char *device_action; /* "approve", "decline", "expire", "thread", NULL */
	const char *approve_upn;
	bool local; /* no PAM_RHOST: a sign-in at a local terminal */
	int thread_delay_ms;
	void (*before_enter)(void); /* runs before the device prompt is answered */
	/* recorded */
	struct msg msgs[MAX_MSGS];
	size_t n_msgs, n_prompts, next_reply;
	char user_code[32];
	pthread_t thread;
	bool thread_started;
};

static void script_reset(struct script *s)
{
	for (size_t i = 0; i < s->n_msgs; i++)
		free(s->msgs[i].text);
	memset(s, 0, sizeof(*s));
}

struct approve_job {
	char code[32];
	char upn[64];
	int delay_ms;
};

static void *approve_later(void *arg)
{
	struct approve_job *j = arg;
	struct timespec ts = { j->delay_ms / 1000, (long)(j->delay_ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	mu_ctlf("device/approve", "{\"user_code\":\"%s\",\"upn\":\"%s\"}", j->code, j->upn);
	free(j);
	return NULL;
}

static void take_code(struct script *s, const char *text)
{
	const char *p = strstr(text, "enter the code ");
	size_t n = 0;
	if (!p)
		return;
	p += strlen("enter the code ");
	while (p[n] && p[n] != '\n' && n + 1 < sizeof(s->user_code))
		n++;
	memcpy(s->user_code, p, n);
	s->user_code[n] = '\0';
}

static int answer(const struct pam_message *m, char **reply, void *data)
{
	struct script *s = data;
	if (s->n_msgs < MAX_MSGS) {
		s->msgs[s->n_msgs].style = m->msg_style;
		s->msgs[s->n_msgs].text = strdup(m->msg ? m->msg : "");
		s->n_msgs++;
	}
	if (m->msg_style != PAM_PROMPT_ECHO_OFF && m->msg_style != PAM_PROMPT_ECHO_ON)
		return PAM_SUCCESS;
	s->n_prompts++;
	if (m->msg_style == PAM_PROMPT_ECHO_ON && strstr(m->msg, "enter the code ")) {
		take_code(s, m->msg);
		if (s->device_action && strcmp(s->device_action, "thread") == 0) {
			struct approve_job *j = calloc(1, sizeof(*j));
			snprintf(j->code, sizeof(j->code), "%s", s->user_code);
			snprintf(j->upn, sizeof(j->upn), "%s", s->approve_upn ? s->approve_upn : "alice@contoso.com");
			j->delay_ms = s->thread_delay_ms;
			if (pthread_create(&s->thread, NULL, approve_later, j) == 0)
				s->thread_started = true;
		} else if (s->device_action && strcmp(s->device_action, "approve") == 0) {
			mu_ctlf("device/approve", "{\"user_code\":\"%s\",\"upn\":\"%s\"}", s->user_code,
				s->approve_upn ? s->approve_upn : "alice@contoso.com");
		} else if (s->device_action) {
			mu_ctlf(s->device_action[0] == 'd' ? "device/decline" : "device/expire",
				"{\"user_code\":\"%s\"}", s->user_code);
		}
		if (s->before_enter)
			s->before_enter();
	}
	if (s->next_reply >= s->n_replies || !s->replies[s->next_reply])
		return PAM_CONV_ERR;
	*reply = strdup(s->replies[s->next_reply++]);
	return PAM_SUCCESS;
}

static int conv(int n, const struct pam_message **msgs, struct pam_response **ret, void *data)
{
	return mu_pam_conv(n, msgs, ret, answer, data);
}

static void script_join(struct script *s)
{
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	s->thread_started = false;
}

static const char *prompt_text(const struct script *s, size_t k)
{
	size_t seen = 0;
	for (size_t i = 0; i < s->n_msgs; i++)
		if (s->msgs[i].style == PAM_PROMPT_ECHO_OFF || s->msgs[i].style == PAM_PROMPT_ECHO_ON)
			if (seen++ == k)
				return s->msgs[i].text;
	return "";
}

static int prompt_style(const struct script *s, size_t k)
{
	size_t seen = 0;
	for (size_t i = 0; i < s->n_msgs; i++)
		if (s->msgs[i].style == PAM_PROMPT_ECHO_OFF || s->msgs[i].style == PAM_PROMPT_ECHO_ON)
			if (seen++ == k)
				return s->msgs[i].style;
	return -1;
}

/* All messages of one style, joined. */
static const char *shown(const struct script *s, int style)
{
	static char buf[8192];
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < s->n_msgs; i++)
		if (s->msgs[i].style == style)
			n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, "%s|", s->msgs[i].text);
	return buf;
}

static bool any_message_contains(const struct script *s, const char *needle)
{
	for (size_t i = 0; i < s->n_msgs; i++)
		if (strstr(s->msgs[i].text, needle))
			return true;
	return false;
}

/* ---- service files and runs ---- */

static void service(const char *name, const char *auth_args, const char *acct_args)
{
	char path[512], text[2048];
	snprintf(path, sizeof(path), "%s/%s", confdir, name);
	snprintf(text, sizeof(text),
		 "auth required %s %s\n"
		 "account required %s %s\n"
		 "session required %s %s\n"
		 "password required pam_deny.so\n",
		 module, auth_args, module, acct_args ? acct_args : "", module, acct_args ? acct_args : "");
	free(tu_write_file(confdir, name, text, 0644));
}

struct run {
	int auth, acct, setcred, open, close;
	double seconds;
};

enum { DO_ACCT = 1, DO_SETCRED = 2, DO_SESSION = 4, END_FAIL = 8 };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct run run_pam(const char *svc, const char *user, struct script *s, int what, const char *env)
{
	struct pam_conv c = { conv, s };
	pam_handle_t *pamh = NULL;
	struct run r = { -1, -1, -1, -1, -1, 0 };
	double t0;
	int last;
	if (pam_start_confdir(svc, user, &c, confdir, &pamh) != PAM_SUCCESS) {
		printf("Bail out! pam_start_confdir failed\n");
		exit(1);
	}
	pam_set_item(pamh, PAM_TTY, "pts/7");
	if (!s->local)
		pam_set_item(pamh, PAM_RHOST, "192.0.2.10");
	if (env)
		pam_putenv(pamh, env);
	t0 = now_s();
	last = r.auth = pam_authenticate(pamh, 0);
	r.seconds = now_s() - t0;
	script_join(s);
	if ((what & DO_ACCT) && last == PAM_SUCCESS)
		last = r.acct = pam_acct_mgmt(pamh, 0);
	if ((what & DO_SETCRED) && last == PAM_SUCCESS)
		last = r.setcred = pam_setcred(pamh, PAM_ESTABLISH_CRED);
	if ((what & DO_SESSION) && last == PAM_SUCCESS) {
		last = r.open = pam_open_session(pamh, 0);
		if (last == PAM_SUCCESS)
			last = r.close = pam_close_session(pamh, 0);
	}
	pam_end(pamh, (what & END_FAIL) ? PAM_AUTH_ERR : last);
	return r;
}

/* Sign in with one reply (a pass or a token; NULL: the conversation fails), then the steps
 * in what. */
static struct run sign_in(const char *svc, const char *user, struct script *s, const char *reply, int what,
			  const char *env)
{
	s->replies[0] = reply;
	s->n_replies = 1;
	return run_pam(svc, user, s, what, env);
}

/* Press Enter for a device code, let action ("approve", "decline", "expire", "thread" or NULL)
 * happen to it, then answer the code prompt with at_code ("" to wait, "n" to cancel, NULL: the
 * conversation fails). */
static struct run sign_in_code(const char *svc, const char *user, struct script *s, const char *action,
			       const char *at_code)
{
	s->replies[0] = "";
	s->replies[1] = at_code;
	s->n_replies = 2;
	s->device_action = action;
	return run_pam(svc, user, s, 0, NULL);
}

/* An error message shown contains phrase. */
static void told(const struct script *s, const char *phrase, const char *name)
{
	ok(strstr(shown(s, PAM_ERROR_MSG), phrase) != NULL, "%s", name);
}

/* The module's own account code: libpam turns a stack whose only module says PAM_IGNORE
 * into PAM_PERM_DENIED, so the entry point is called directly on a real handle, with the
 * arguments of the service's account line. */
static int run_acct(const char *svc, const char *user, struct script *s)
{
	typedef int (*acct_fn)(pam_handle_t *, int, int, const char **);
	struct pam_conv c = { conv, s };
	pam_handle_t *pamh = NULL;
	static void *so;
	acct_fn fn;
	char line[2048], *save = NULL;
	const char *argv[16];
	int argc = 0, r;
	FILE *f;
	if (!so)
		so = dlopen(module, RTLD_NOW);
	fn = so ? (acct_fn)(uintptr_t)dlsym(so, "pam_sm_acct_mgmt") : NULL;
	f = fopen(mu_str_of("%s/%s", confdir, svc), "re");
	if (!fn || !f) {
		printf("Bail out! cannot load the module or read service %s\n", svc);
		exit(1);
	}
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "account ", 8) == 0)
			break;
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	strtok_r(line, " ", &save); /* account */
	strtok_r(NULL, " ", &save); /* required */
	strtok_r(NULL, " ", &save); /* module path */
	for (char *a = strtok_r(NULL, " ", &save); a && argc < 16; a = strtok_r(NULL, " ", &save))
		argv[argc++] = a;
	if (pam_start_confdir(svc, user, &c, confdir, &pamh) != PAM_SUCCESS)
		exit(1);
	r = fn(pamh, 0, argc, argv);
	pam_end(pamh, r);
	return r;
}

static int run_setcred(const char *svc, const char *user)
{
	struct script s = { 0 };
	struct pam_conv c = { conv, &s };
	pam_handle_t *pamh = NULL;
	int r;
	if (pam_start_confdir(svc, user, &c, confdir, &pamh) != PAM_SUCCESS)
		exit(1);
	r = pam_setcred(pamh, PAM_ESTABLISH_CRED);
	pam_end(pamh, r);
	script_reset(&s);
	return r;
}

/* ---- fixtures ---- */

static char *new_tap(const char *upn, const char *extra)
{
	char *tap = mu_mock_field("tap", mu_str_of("{\"upn\":\"%s\"%s%s}", upn, extra ? "," : "", extra ? extra : ""),
				  "tap");
	if (!tap) {
		printf("Bail out! cannot make a pass for %s\n", upn);
		exit(1);
	}
	return tap;
}

static char *mint(const char *json)
{
	char *tok = mu_mock_field("mint", json, "id_token");
	if (!tok) {
		printf("Bail out! cannot mint a token\n");
		exit(1);
	}
	return tok;
}

static bool in_group(const char *user)
{
	char line[4096];
	bool found = false;
	FILE *f = fopen("/etc/group", "re");
	size_t glen = strlen(group);
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *members, *save = NULL;
		if (strncmp(line, group, glen) != 0 || line[glen] != ':')
			continue;
		members = strrchr(line, ':') + 1;
		members[strcspn(members, "\n")] = '\0';
		for (char *m = strtok_r(members, ",", &save); m; m = strtok_r(NULL, ",", &save))
			if (strcmp(m, user) == 0)
				found = true;
	}
	fclose(f);
	return found;
}

static size_t grants_of(const char *user, struct et_grant *ret_last)
{
	struct et_config cfg;
	struct et_grant_list l = { 0 };
	struct et_err err;
	size_t n = 0;
	mu_cfg_load(&cfg);
	free(cfg.state_dir);
	cfg.state_dir = strdup(state_dir);
	if (et_grant_store_list(&cfg, user, &l, &err) == 0) {
		n = l.n;
		if (n && ret_last)
			*ret_last = l.items[n - 1];
	}
	et_grant_list_free(&l);
	et_config_free(&cfg);
	return n;
}

static void grantctl(const char *args)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s >/dev/null 2>&1", ET_GRANTCTL_PATH, args);
	if (system(cmd) != 0)
		tap_diag("grantctl %s failed", args);
}

static bool file_contains(const char *path, const char *needle)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;
	FILE *f = fopen(path, "re");
	bool found;
	if (!f)
		return false;
	for (;;) {
		size_t got;
		if (len + 4097 > cap) {
			cap = cap * 2 + 8192;
			buf = realloc(buf, cap);
		}
		got = fread(buf + len, 1, 4096, f);
		if (got == 0)
			break;
		len += got;
	}
	fclose(f);
	buf[len] = '\0';
	found = strstr(buf, needle) != NULL;
	free(buf);
	return found;
}

/* ---- the tests ---- */

#define TAP_ARGS "methods=tap,device_code tap_password_grant=yes"
#define TAP_PROMPT "Temporary Access Pass for alice@contoso.com (checked as a password; Enter to sign in with a code): "

/* The main configuration file with one "key = value" line set (or none: extra ""), in a
 * private file (for config=). */
static char *config_with(const char *extra)
{
	char *dir = tu_tmpdir(), *path, *text;
	FILE *f = fopen("/etc/security/pam_entra_tap.conf", "re");
	char buf[16384], line[1024];
	size_t n = 0, klen = strcspn(extra, " =");
	while (f && fgets(line, sizeof(line), f)) {
		/* the key being set is left out of the copy: a key may appear once */
		if (klen && strncmp(line, extra, klen) == 0 && strchr(" =", line[klen]))
			continue;
		n += (size_t)snprintf(buf + n, n < sizeof(buf) ? sizeof(buf) - n : 0, "%s", line);
	}
	if (f)
		fclose(f);
	if (n >= sizeof(buf))
		abort();
	if (asprintf(&text, "%s\n%s\n", buf, extra) < 0)
		abort();
	path = tu_write_file(dir, "pam_entra_tap.conf", text, 0600);
	free(text);
	return path;
}

/* Is there any file or directory under state_dir whose name contains needle? */
static bool state_names(const char *needle)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "find '%s' -name '*%s*' 2>/dev/null | grep -q .", state_dir, needle);
	return system(cmd) == 0;
}

static char *pending_seen;
static void capture_pending(void)
{
	pending_seen = mu_mockctl("device/pending", NULL);
}

static void test_tap(void)
{
	struct script s = { 0 };
	struct run r;
	char *tap = new_tap("alice@contoso.com", "\"one_time\":false");
	char *mock_log = NULL;

	service("tap", TAP_ARGS, NULL);
	r = sign_in("tap", "alice", &s, tap, DO_ACCT, NULL);
	is_int(r.auth, PAM_SUCCESS, "tap: a valid pass signs in");
	is_int(s.n_prompts, 1, "tap: exactly one prompt");
	is_str(prompt_text(&s, 0), TAP_PROMPT, "tap: the prompt names the Entra account and offers the code");
	is_int(prompt_style(&s, 0), PAM_PROMPT_ECHO_OFF, "tap: the pass is asked with echo off");
	is_int(r.acct, PAM_PERM_DENIED, "account: libpam denies a stack whose only module ignores the user");
	ok(!any_message_contains(&s, tap), "tap: the pass appears in no message");
	if (asprintf(&mock_log, "%s/mock.log", getenv("ET_MOCK_DIR")) > 0)
		ok(!file_contains(mock_log, tap), "tap: the pass is not in the identity provider's log");
	free(mock_log);
	script_reset(&s);

	/* wrong pass */
	r = sign_in("tap", "alice", &s, "WrongPass99", 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "tap: a wrong pass -> PAM_AUTH_ERR");
	told(&s, "Sign-in refused", "tap: wrong pass: the person is told");
	ok(!any_message_contains(&s, "WrongPass99"), "tap: the wrong pass appears in no message");
	script_reset(&s);

	/* expired pass */
	mu_ctl("tap/expire", "{\"upn\":\"alice@contoso.com\"}");
	r = sign_in("tap", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "tap: an expired pass -> PAM_AUTH_ERR");
	told(&s, "expired", "tap: expired: the sentence says so");
	free(tap);
	script_reset(&s);

	/* the password grant takes the account's password as well: nothing proves a pass was
	 * used unless the IdP's amr says so (tap_require_amr) */
	mu_ctl("users", "{\"upn\":\"alice@contoso.com\",\"password\":\"Correct-Horse-9\"}");
	r = sign_in("tap", "alice", &s, "Correct-Horse-9", 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "tap: the account's password at the pass prompt signs in (password grant)");
	script_reset(&s);
	service("tapamr", TAP_ARGS " tap_require_amr=mfa", NULL);
	r = sign_in("tapamr", "alice", &s, "Correct-Horse-9", 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "tap_require_amr: the password (amr pwd) is refused -> PAM_AUTH_ERR");
	told(&s, "a password is not a Temporary Access Pass", "tap_require_amr: ... saying a password is not a pass");
	script_reset(&s);
	tap = new_tap("alice@contoso.com", "\"one_time\":false");
	r = sign_in("tapamr", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "tap_require_amr: a pass the IdP reports with that amr signs in");
	free(tap);
	script_reset(&s);

	/* one-time pass used twice */
	tap = new_tap("alice@contoso.com", "\"one_time\":true");
	r = sign_in("tap", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "tap: a one-time pass works once");
	script_reset(&s);
	r = sign_in("tap", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "tap: ... and a second time -> PAM_AUTH_ERR");
	told(&s, "used", "tap: used up: the sentence says so");
	free(tap);
	script_reset(&s);

	/* fresh passes that are refused: not valid yet, MFA required, not eligible */
	mu_ctl("users", "{\"upn\":\"dave@contoso.com\",\"groups\":[\"" ELIGIBLE "\"],\"mfa_required\":true}");
	{
		static const struct {
			const char *upn, *opts, *user, *name;
			const char *phrase, *phrase_name; /* a phrase of the error shown, or NULL */
		} refused[] = {
			{ "alice@contoso.com", "\"start_in_seconds\":3600", "alice",
			  "tap: a pass that is not valid yet -> PAM_AUTH_ERR", "not yet valid",
			  "tap: not yet valid: the sentence says so" },
			{ "dave@contoso.com", NULL, "dave", "tap: MFA required -> PAM_AUTH_ERR", "sign in with a code",
			  "tap: MFA required: the person is pointed at the code sign-in" },
			{ "bob@contoso.com", NULL, "bob",
			  "tap: a valid pass of a user outside the eligible groups -> PAM_AUTH_ERR", NULL, NULL },
		};
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			tap = new_tap(refused[i].upn, refused[i].opts);
			r = sign_in("tap", refused[i].user, &s, tap, 0, NULL);
			is_int(r.auth, PAM_AUTH_ERR, refused[i].name);
			if (refused[i].phrase)
				told(&s, refused[i].phrase, refused[i].phrase_name);
			free(tap);
			script_reset(&s);
		}
	}

	/* a pass too long to be one */
	{
		char longpass[400];
		memset(longpass, 'x', sizeof(longpass) - 1);
		longpass[sizeof(longpass) - 1] = '\0';
		r = sign_in("tap", "bob", &s, longpass, 0, NULL);
		is_int(r.auth, PAM_AUTH_ERR, "tap: a 399-character reply -> PAM_AUTH_ERR without a request");
		script_reset(&s);
	}

	/* tap_password_grant = no: the pass cannot be typed here */
	service("tapoff", "methods=tap,device_code", NULL);
	r = sign_in("tapoff", "alice", &s, "n", 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "tap without tap_password_grant: cancelled device sign-in -> PAM_AUTH_ERR");
	is_int(s.n_prompts, 1, "tap without tap_password_grant: no pass prompt");
	ok(strstr(prompt_text(&s, 0), "enter the code") != NULL,
	   "tap without tap_password_grant: the first prompt is the device sign-in");
	script_reset(&s);
}

static void test_lockout(void)
{
	struct script s = { 0 };
	struct run r;
	char *tap;
	mu_ctl("users", "{\"upn\":\"carol@contoso.com\",\"groups\":[\"" ELIGIBLE "\"]}");
	tap = new_tap("carol@contoso.com", "\"one_time\":false");
	service("lock", TAP_ARGS " tap_max_failures=3 tap_lockout=1h", NULL);
	for (int i = 1; i <= 3; i++) {
		r = sign_in("lock", "carol", &s, "NotThePass1", 0, NULL);
		is_int(r.auth, PAM_AUTH_ERR, mu_str_of("lockout: wrong pass %d -> PAM_AUTH_ERR", i));
		script_reset(&s);
	}
	r = sign_in("lock", "carol", &s, tap, 0, NULL);
	is_int(r.auth, PAM_MAXTRIES, "lockout: after 3 wrong passes even the right one -> PAM_MAXTRIES");
	told(&s, "Too many wrong passes", "lockout: the person is told");
	{
		struct stat st;
		char *path = mu_str_of("%s/faillock/carol.h3139322e302e322e3130", state_dir);
		ok(stat(path, &st) == 0 && st.st_uid == 0 && (st.st_mode & 0777) == 0600,
		   "lockout: the state is a root-only file");
		ok(file_contains(path, "until "), "lockout: the state records the end of the lockout");
	}
	script_reset(&s);
	/* the wrong passes came from 192.0.2.10: carol at her own terminal is not locked out */
	s.local = true;
	r = sign_in("lock", "carol", &s, tap, 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "lockout: wrong passes from a remote address do not lock carol out at a local terminal");
	script_reset(&s);
	/* a success resets the count: two wrong, one right, two wrong: not locked */
	free(tap);
	mu_ctl("users", "{\"upn\":\"erin@contoso.com\",\"groups\":[\"" ELIGIBLE "\"]}");
	tap = new_tap("erin@contoso.com", "\"one_time\":false");
	{
		const char *seq[] = { "Wrong0001", "Wrong0002", tap, "Wrong0003", "Wrong0004", tap };
		int want[] = { PAM_AUTH_ERR, PAM_AUTH_ERR, PAM_SUCCESS, PAM_AUTH_ERR, PAM_AUTH_ERR, PAM_SUCCESS };
		bool all = true;
		for (size_t i = 0; i < 6; i++) {
			r = sign_in("lock", "erin", &s, seq[i], 0, NULL);
			if (r.auth != want[i])
				all = false;
			script_reset(&s);
		}
		ok(all, "lockout: a success resets the count of wrong passes");
	}
	free(tap);
}

#define DEVICE_ARGS "methods=tap,device_code tap_password_grant=yes"

static void test_device_code(void)
{
	struct script s = { 0 };
	struct run r;
	char host[256] = "";
	const char *p0;
	gethostname(host, sizeof(host) - 1);

	service("dev", DEVICE_ARGS, NULL);
	r = sign_in_code("dev", "alice", &s, "approve", "");
	is_int(r.auth, PAM_SUCCESS, "device code: approved -> PAM_SUCCESS");
	is_int(s.n_prompts, 2, "device code: two prompts (Enter, then the code)");
	p0 = prompt_text(&s, 1);
	is_int(prompt_style(&s, 1), PAM_PROMPT_ECHO_ON, "device code: the code is shown in an echo-on prompt");
	ok(strstr(p0, mu_str_of("%s/devicelogin", getenv("ET_MOCK_BASE"))) != NULL, "device code: prompt has the URL");
	ok(s.user_code[0] && strstr(p0, s.user_code), "device code: prompt has the user code");
	ok(strstr(p0, mu_str_of("Sign in to %s as alice@contoso.com", host)) != NULL,
	   "device code: prompt names the host and the account");
	ok(strstr(p0, "service dev") && strstr(p0, "tty pts/7") && strstr(p0, "from 192.0.2.10"),
	   "device code: prompt names service, tty and remote address");
	ok(strstr(p0, "request ") != NULL, "device code: prompt carries a request id");
	ok(strstr(p0, mu_str_of("Only continue if you started this on %s just now.", host)) != NULL,
	   "device code: the phishing warning names the host");
	ok(strstr(p0, "Temporary Access Pass") != NULL, "device code: the hint about the Temporary Access Pass");
	ok(strstr(p0, "Press Enter") != NULL, "device code: ... then press Enter");
	{
		/* qr = yes (the default): a QR code of the address, in half blocks, within 80 columns */
		const char *q = strstr(p0, "\xe2\x96\x88"), *line = p0;
		size_t widest = 0;
		ok(q != NULL && q > strstr(p0, "enter the code") && q < strstr(p0, "Press Enter"),
		   "device code: a QR code of the address between the code and the question");
		for (const char *nl; (nl = strchr(line, '\n')); line = nl + 1) {
			size_t cols = 0;
			for (const char *c = line; c < nl; c++)
				cols += ((unsigned char)*c & 0xc0) != 0x80; /* count characters, not bytes */
			if (strstr(line, "\xe2\x96") && strstr(line, "\xe2\x96") < nl && cols > widest)
				widest = cols;
		}
		ok(widest > 0 && widest <= 80, "device code: the QR code is at most 80 columns wide (%zu)", widest);
	}
	script_reset(&s);

	service("devnoqr", DEVICE_ARGS " qr=no", NULL);
	r = sign_in_code("devnoqr", "alice", &s, "approve", "");
	is_int(r.auth, PAM_SUCCESS, "device code, qr=no: approved -> PAM_SUCCESS");
	ok(prompt_text(&s, 1) && !strstr(prompt_text(&s, 1), "\xe2\x96"), "device code, qr=no: no QR code in the prompt");
	script_reset(&s);

	/* approved from another thread while polling; interval 1 s */
	mu_ctl("config", "{\"interval\":1}");
	mu_ctl("stats/reset", NULL);
	s.thread_delay_ms = 2500;
	r = sign_in_code("dev", "alice", &s, "thread", "");
	is_int(r.auth, PAM_SUCCESS, "device code: approved during polling -> PAM_SUCCESS");
	ok(r.seconds >= 2.0 && r.seconds < 8.0, "device code: it waited for the approval (%.1f s)", r.seconds);
	{
		int polls = mu_mock_stat("token");
		ok(polls >= 2 && polls <= 5, "device code: polled at the 1 s interval, not faster (%d polls in %.1f s)", polls,
		   r.seconds);
	}
	script_reset(&s);

	/* declined */
	r = sign_in_code("dev", "alice", &s, "decline", "");
	is_int(r.auth, PAM_AUTH_ERR, "device code: declined -> PAM_AUTH_ERR");
	ok(r.seconds < 5.0, "device code: declined ends at once (%.1f s)", r.seconds);
	script_reset(&s);

	/* expired */
	r = sign_in_code("dev", "alice", &s, "expire", "");
	is_int(r.auth, PAM_AUTH_ERR, "device code: expired -> PAM_AUTH_ERR");
	script_reset(&s);

	/* cancelled at the prompt */
	r = sign_in_code("dev", "alice", &s, NULL, "n");
	is_int(r.auth, PAM_AUTH_ERR, "device code: 'n' at the prompt cancels -> PAM_AUTH_ERR");
	script_reset(&s);

	/* conversation failure at the device prompt */
	r = sign_in_code("dev", "alice", &s, NULL, NULL);
	is_int(r.auth, PAM_CONV_ERR, "device code: the conversation fails -> PAM_CONV_ERR");
	script_reset(&s);

	/* approved for another user: the token is for bob, the PAM user is alice */
	s.approve_upn = "bob@contoso.com";
	r = sign_in_code("dev", "alice", &s, "approve", "");
	is_int(r.auth, PAM_AUTH_ERR, "device code: approved by another user -> PAM_AUTH_ERR");
	told(&s, "not \"alice\"", "device code: another user: the sentence says so");
	script_reset(&s);

	/* the local deadline */
	service("devshort", DEVICE_ARGS " device_code_timeout=10s", NULL);
	r = sign_in_code("devshort", "alice", &s, NULL, "");
	is_int(r.auth, PAM_AUTH_ERR, "device code: nobody approves -> PAM_AUTH_ERR at device_code_timeout");
	ok(r.seconds >= 9.0 && r.seconds < 13.0, "device code: ended at the 10 s deadline (%.1f s)", r.seconds);
	told(&s, "within 10 seconds", "device code: deadline: the sentence says so");
	script_reset(&s);
	mu_ctl("config", "{\"interval\":5}");
}

static void rotate_before_enter(void)
{
	mu_ctl("rotate", "{\"retire_old\":true}");
}

/* The key cache's refresh stamp, as if the last fetch was long ago. */
static void age_refresh_stamp(void)
{
	char *path = mu_str_of("%s/cache/refresh.stamp", getenv("ET_MOCK_DIR"));
	FILE *f = fopen(path, "we");
	if (f) {
		fprintf(f, "%lld\n", (long long)time(NULL) - 600);
		fclose(f);
	}
}

static void rotate_and_age_before_enter(void)
{
	rotate_before_enter();
	age_refresh_stamp();
}

static void test_faults(void)
{
	struct script s = { 0 };
	struct run r;
	char *tap = new_tap("alice@contoso.com", "\"one_time\":false");

	/* 5xx on the token endpoint */
	mu_ctl("fail", "{\"status\":503,\"count\":-1,\"endpoints\":[\"token\"]}");
	r = sign_in("tap", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "faults: token endpoint 503 -> PAM_AUTHINFO_UNAVAIL");
	told(&s, "cannot be reached", "faults: 503: the person is told");
	script_reset(&s);
	mu_ctl("config", "{\"interval\":1}");
	r = sign_in_code("dev", "alice", &s, NULL, "");
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "faults: device code polls answered 503 again and again -> PAM_AUTHINFO_UNAVAIL");
	mu_ctl("config", "{\"interval\":5}");
	script_reset(&s);
	mu_mock_reset();

	/* not JSON with a 200-type body on the token endpoint */
	mu_ctl("fail", "{\"status\":400,\"count\":-1,\"endpoints\":[\"token\"],\"body\":\"<html>oops</html>\","
		       "\"content_type\":\"text/html\"}");
	r = sign_in("tap", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "faults: a non-JSON answer -> PAM_AUTHINFO_UNAVAIL");
	script_reset(&s);
	mu_mock_reset();

	/* down: connections reset */
	mu_ctl("down", "{\"mode\":\"reset\"}");
	r = sign_in("tap", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "faults: the IdP is down -> PAM_AUTHINFO_UNAVAIL");
	ok(r.seconds < 6.0, "faults: down: answered within http_timeout (%.1f s)", r.seconds);
	script_reset(&s);
	r = sign_in_code("dev", "alice", &s, NULL, "");
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "faults: down: a device sign-in -> PAM_AUTHINFO_UNAVAIL");
	is_int(s.n_prompts, 1, "faults: down: no device prompt is shown");
	script_reset(&s);
	mu_mock_reset();

	/* latency beyond http_timeout */
	service("slow", TAP_ARGS " http_timeout=2s", NULL);
	mu_ctl("latency", "{\"seconds\":8,\"endpoints\":[\"token\"]}");
	r = sign_in("slow", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "faults: the IdP answers after 8 s -> PAM_AUTHINFO_UNAVAIL");
	ok(r.seconds >= 1.5 && r.seconds < 4.0, "faults: latency: cut at http_timeout = 2 s (%.1f s)", r.seconds);
	script_reset(&s);
	mu_mock_reset();

	/* latency below http_timeout: still fine */
	mu_ctl("latency", "{\"seconds\":1,\"endpoints\":[\"token\"]}");
	r = sign_in("slow", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "faults: 1 s of latency below http_timeout -> PAM_SUCCESS");
	script_reset(&s);
	mu_mock_reset();

	/* key rotation in the middle of a device sign-in (old key retired) */
	s.before_enter = rotate_and_age_before_enter;
	r = sign_in_code("dev", "alice", &s, "approve", "");
	is_int(r.auth, PAM_SUCCESS, "faults: keys rotated mid-flow -> the new key is fetched, PAM_SUCCESS");
	script_reset(&s);
	/* rotated again within the key cache's refresh rate limit: refused, not hung */
	s.before_enter = rotate_before_enter;
	r = sign_in_code("dev", "alice", &s, "approve", "");
	is_int(r.auth, PAM_AUTH_ERR, "faults: a second rotation within a minute -> unknown key, PAM_AUTH_ERR");
	ok(r.seconds < 5.0, "faults: ... at once (%.1f s)", r.seconds);
	script_reset(&s);
	age_refresh_stamp();

	/* the configuration names an unusable state directory (in a config= file: state_dir is no
	 * module argument) */
	{
		char *conf = config_with("state_dir = /proc/entra-tap-nowhere");
		service("badstate", mu_str_of(TAP_ARGS " config=%s", conf), NULL);
		free(conf);
	}
	r = sign_in("badstate", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_SYSTEM_ERR, "faults: an unusable state directory -> PAM_SYSTEM_ERR");
	ok(!any_message_contains(&s, tap), "faults: state: the pass appears in no message");
	script_reset(&s);
	free(tap);
}

static void test_tokens(void)
{
	struct script s = { 0 };
	struct run r;
	char *tok, *whole;
	char trunc[1024];

	service("tok", "methods=token,device_code", NULL);
	tok = mint("{\"upn\":\"alice@contoso.com\",\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}");
	r = sign_in("tok", "alice", &s, tok, 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "token: a valid pasted token -> PAM_SUCCESS");
	is_str(prompt_text(&s, 0), "Entra ID token for alice@contoso.com (Enter to sign in with a code): ",
	       "token: the prompt");
	ok(!any_message_contains(&s, tok), "token: the token appears in no message");
	script_reset(&s);
	/* RFC 8725: a pasted token is accepted once (the replay cache, keyed by its uti) */
	r = sign_in("tok", "alice", &s, tok, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "token: the same token pasted again -> PAM_AUTH_ERR");
	ok(any_message_contains(&s, "presented before"), "token: ... saying it was presented before");
	free(tok);
	script_reset(&s);

	struct {
		const char *json, *name;
	} bad[] = {
		{ "{\"upn\":\"alice@contoso.com\",\"claims\":{\"tid\":\"00000000-0000-0000-0000-000000000001\","
		  "\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: another tenant -> PAM_AUTH_ERR" },
		{ "{\"upn\":\"alice@contoso.com\",\"client\":\"00000000-0000-0000-0000-000000000002\","
		  "\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: another app -> PAM_AUTH_ERR" },
		{ "{\"upn\":\"bob@contoso.com\",\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: another user -> PAM_AUTH_ERR" },
		{ "{\"upn\":\"alice@contoso.com\",\"lifetime\":-600,\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: expired -> PAM_AUTH_ERR" },
		{ "{\"upn\":\"alice@contoso.com\",\"signature\":\"corrupt\",\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: bad signature -> PAM_AUTH_ERR" },
		{ "{\"upn\":\"alice@contoso.com\",\"lifetime\":3153600000,\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: a hundred-year lifetime -> PAM_AUTH_ERR" },
		{ "{\"upn\":\"alice@contoso.com\",\"claims\":{\"azp\":\"00000000-0000-0000-0000-000000000002\","
		  "\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: issued to another client (azp) -> PAM_AUTH_ERR" },
		{ "{\"upn\":\"alice@contoso.com\",\"claims\":{\"idtyp\":\"app\",\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: an app-only token -> PAM_AUTH_ERR" },
		{ "{\"upn\":\"alice@contoso.com\",\"remove\":[\"uti\"],\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}",
		  "token: no uti or jti (no replay check possible) -> PAM_AUTH_ERR" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *minted = mu_mock_field("mint", bad[i].json, "id_token");
		if (minted) {
			r = sign_in("tok", "alice", &s, minted, 0, NULL);
			is_int(r.auth, PAM_AUTH_ERR, bad[i].name);
		} else {
			ok(0, "%s (the mock could not mint it)", bad[i].name);
		}
		free(minted);
		script_reset(&s);
	}

	/* refused with a sentence that says why: cut at 1023 characters (as sudo does), a token
	 * with its last segment cut off, a token where tokens are not enabled */
	memcpy(trunc, "eyJ", 3);
	memset(trunc + 3, 'A', sizeof(trunc) - 4);
	trunc[100] = '.';
	trunc[1023] = '\0';
	tok = mint("{\"upn\":\"alice@contoso.com\",\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}");
	*strrchr(tok, '.') = '\0';
	whole = mint("{\"upn\":\"alice@contoso.com\",\"claims\":{\"groups\":[\"" ELIGIBLE "\"]}}");
	{
		const struct {
			const char *svc, *reply, *name, *phrase, *phrase_name;
		} refused[] = {
			{ "tok", trunc, "token: a reply cut at 1023 characters -> PAM_AUTH_ERR", "did not fit through this prompt",
			  "token: truncated: the sentence says why" },
			{ "tok", tok, "token: a token missing its signature segment -> PAM_AUTH_ERR", "did not fit",
			  "token: incomplete: the sentence says why" },
			{ "tap", whole, "token: pasted where tokens are not enabled -> PAM_AUTH_ERR", "not enabled",
			  "token: not enabled: the sentence says so" },
		};
		for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
			r = sign_in(refused[i].svc, "alice", &s, refused[i].reply, 0, NULL);
			is_int(r.auth, PAM_AUTH_ERR, refused[i].name);
			told(&s, refused[i].phrase, refused[i].phrase_name);
			script_reset(&s);
		}
	}
	free(tok);
	free(whole);
}

static void test_users_and_options(void)
{
	struct script s = { 0 };
	struct run r;
	char *tap = new_tap("alice@contoso.com", "\"one_time\":false");

	/* unknown user, typed pass: same prompt, the same request to the IdP (which refuses the
	 * name), then PAM_USER_UNKNOWN; no state file is named after the user */
	mu_ctl("stats/reset", NULL);
	r = sign_in("tap", "nosuchuser", &s, "SomePass1", 0, NULL);
	is_int(r.auth, PAM_USER_UNKNOWN, "users: an unknown local user -> PAM_USER_UNKNOWN");
	is_str(prompt_text(&s, 0), "Temporary Access Pass for nosuchuser@contoso.com (checked as a password; Enter to sign in with a code): ",
	       "users: an unknown user sees the same prompt as a known one");
	is_int(mu_mock_stat("token"), 1, "users: unknown user: the pass goes to the token endpoint as for a known user");
	ok(shown(&s, PAM_ERROR_MSG) && strncmp(shown(&s, PAM_ERROR_MSG), "Sign-in refused: ", 17) == 0,
	   "users: unknown user: the refusal reads like a known user's (%s)", shown(&s, PAM_ERROR_MSG));
	ok(!any_message_contains(&s, "SomePass1"), "users: unknown user: the pass appears in no message");
	script_reset(&s);

	/* unknown user, Enter: a real device code in the same prompt; whoever approves it,
	 * PAM_USER_UNKNOWN and no grant */
	{
		size_t before = grants_of("alice", NULL);
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		service("devgrant", TAP_ARGS " grant", NULL);
		pending_seen = NULL;
		s.thread_delay_ms = 300;
		s.before_enter = capture_pending;
		r = sign_in_code("devgrant", "nosuchuser", &s, "thread", "");
		script_join(&s);
		is_int(r.auth, PAM_USER_UNKNOWN, "users: unknown user, code approved by alice -> PAM_USER_UNKNOWN");
		is_int(s.n_prompts, 2, "users: unknown user, code: two prompts as for a known user");
		ok(prompt_text(&s, 1) &&
			   strstr(prompt_text(&s, 1), mu_str_of("Sign in to %s as nosuchuser@contoso.com", host)) != NULL,
		   "users: unknown user, code: the prompt has the known-user shape");
		ok(s.user_code[0] && pending_seen && strstr(pending_seen, s.user_code) != NULL,
		   "users: unknown user, code: the code shown is pending at the identity provider");
		is_int((int)grants_of("alice", NULL), (int)before, "users: unknown user, code: no grant for alice");
		is_int((int)grants_of("nosuchuser", NULL), 0, "users: unknown user, code: no grant for the name");
		ok(!state_names("nosuchuser"), "users: unknown user: no file under state_dir is named after it");
		free(pending_seen);
		pending_seen = NULL;
		script_reset(&s);
	}

	/* unmappable: a user map file without the user */
	{
		char *dir = tu_tmpdir();
		char *map = tu_write_file(dir, "map", "frank@contoso.com frank\n", 0644);
		service("mapped", mu_str_of(TAP_ARGS " user_map=file:%s", map), NULL);
		r = sign_in("mapped", "alice", &s, tap, 0, NULL);
		is_int(r.auth, PAM_USER_UNKNOWN, "users: no Entra name for the local user -> PAM_USER_UNKNOWN");
		is_str(prompt_text(&s, 0), "Temporary Access Pass for alice (checked as a password; Enter to sign in with a code): ",
		       "users: unmappable: the prompt names the local user");
		free(map);
		script_reset(&s);
	}

	/* an unsafe user map (group- and world-writable): the host's configuration cannot be used,
	 * which is not the person's fault and names no local path at the prompt */
	{
		char *dir = tu_tmpdir();
		char *map = tu_write_file(dir, "map", "alice@contoso.com alice\n", 0666);
		service("unsafemap", mu_str_of(TAP_ARGS " user_map=file:%s", map), NULL);
		r = sign_in("unsafemap", "alice", &s, tap, 0, NULL);
		ok(r.auth == PAM_SYSTEM_ERR || r.auth == PAM_SERVICE_ERR,
		   "users: an unsafe user map -> a system error, not a refusal (%d)", r.auth);
		ok(!any_message_contains(&s, dir), "users: unsafe map: no message names the file");
		ok(!any_message_contains(&s, tap), "users: unsafe map: the pass appears in no message");
		free(map);
		script_reset(&s);
	}

	/* module arguments: the code and, where checked, how many prompts were shown */
	{
		static const struct {
			const char *svc, *args, *env;
			bool pass; /* the pass is the reply; otherwise there is none */
			int want;
			const char *name;
			int prompts; /* -1: not checked */
			const char *prompts_name;
		} cases[] = {
			{ "fmt", "upn_format=%u@contoso.com", NULL, true, PAM_SUCCESS,
			  "options: upn_format names the Entra account", -1, NULL },
			{ "badarg", "frobnicate", NULL, true, PAM_SERVICE_ERR,
			  "options: an unknown module argument -> PAM_SERVICE_ERR", 0, "options: unknown argument: no prompt" },
			{ "badkey", "tap_max_failures=0", NULL, false, PAM_SERVICE_ERR,
			  "options: a bad configuration value -> PAM_SERVICE_ERR", -1, NULL },
			{ "badcfg", "config=/nonexistent/pam_entra_tap.conf", NULL, false, PAM_SERVICE_ERR,
			  "options: a missing config= file -> PAM_SERVICE_ERR", -1, NULL },
			{ "cfgarg", "config=/etc/security/pam_entra_tap.conf", NULL, true, PAM_SUCCESS,
			  "options: config= names the file", -1, NULL },
			{ "pk", "require_prior_publickey", NULL, true, PAM_AUTH_ERR,
			  "options: require_prior_publickey without SSH_AUTH_INFO_0 -> PAM_AUTH_ERR", 0,
			  "options: require_prior_publickey: no prompt before the key" },
			{ "pk", "require_prior_publickey", "SSH_AUTH_INFO_0=password\n", true, PAM_AUTH_ERR,
			  "options: require_prior_publickey with only a password before -> PAM_AUTH_ERR", -1, NULL },
			{ "pk", "require_prior_publickey", "SSH_AUTH_INFO_0=publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE\n",
			  true, PAM_SUCCESS, "options: require_prior_publickey after a publickey -> PAM_SUCCESS", -1, NULL },
			/* use_first_pass / try_first_pass: the pass from an earlier module */
			{ "usefirst", "use_first_pass", NULL, false, PAM_AUTH_ERR,
			  "options: use_first_pass without an earlier pass -> PAM_AUTH_ERR", 0,
			  "options: use_first_pass: no prompt of its own" },
			{ "tryfirst", "try_first_pass", NULL, true, PAM_SUCCESS,
			  "options: try_first_pass without an earlier pass prompts and signs in", 1,
			  "options: try_first_pass: one prompt" },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			service(cases[i].svc, mu_str_of(TAP_ARGS " %s", cases[i].args), NULL);
			if (cases[i].pass)
				r = sign_in(cases[i].svc, "alice", &s, tap, 0, cases[i].env);
			else
				r = run_pam(cases[i].svc, "alice", &s, 0, cases[i].env);
			is_int(r.auth, cases[i].want, cases[i].name);
			if (cases[i].prompts >= 0)
				is_int(s.n_prompts, cases[i].prompts, cases[i].prompts_name);
			script_reset(&s);
		}
	}
	/* grant settings as module arguments never reach the helper: refused */
	{
		static const char *const keys[] = { "elevated_group=wheel", "duration_default=30m", "duration_min=1m",
						    "duration_max=2h", "permanent_members=alice",
						    "state_dir=/var/lib/elsewhere" };
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			service("grantkey", mu_str_of(TAP_ARGS " %s", keys[i]), NULL);
			r = sign_in("grantkey", "alice", &s, tap, 0, NULL);
			ok(r.auth == PAM_SERVICE_ERR, "options: module argument %s -> PAM_SERVICE_ERR (%d)", keys[i],
			   r.auth);
			ok(s.n_prompts == 0, "options: %s: no prompt", keys[i]);
			script_reset(&s);
		}
	}
	/* grant with another configuration file: the helper would read a different one */
	{
		char *conf = config_with("");
		service("grantcfg", mu_str_of(TAP_ARGS " grant config=%s", conf), NULL);
		r = sign_in("grantcfg", "alice", &s, tap, 0, NULL);
		is_int(r.auth, PAM_SERVICE_ERR, "options: grant with config= another file -> PAM_SERVICE_ERR");
		is_int(s.n_prompts, 0, "options: grant with another config=: no prompt");
		script_reset(&s);
		service("nograntcfg", mu_str_of(TAP_ARGS " config=%s", conf), NULL);
		r = sign_in("nograntcfg", "alice", &s, tap, 0, NULL);
		is_int(r.auth, PAM_SUCCESS, "options: config= another file without grant signs in");
		script_reset(&s);
		free(conf);
	}
	/* conversation failure at the first prompt */
	r = sign_in("tap", "alice", &s, NULL, 0, NULL);
	is_int(r.auth, PAM_CONV_ERR, "options: the conversation fails -> PAM_CONV_ERR");
	script_reset(&s);

	free(tap);
}

static void test_device_limits(void)
{
	struct script s = { 0 };
	struct run r;
	char *path;

	/* one outstanding flow per user (and origin: budgets are kept per remote address, and
	 * apart for a local terminal; the file name is the address in hex): a live marker of
	 * another process */
	path = mu_str_of("%s/device-flow", state_dir);
	mkdir(path, 0700);
	path = mu_str_of("%s/device-flow/erin.h3139322e302e322e3130", state_dir);
	{
		FILE *f = fopen(path, "we");
		fprintf(f, "pid %ld\nexpires %lld\n", (long)getppid(), (long long)time(NULL) + 60);
		fclose(f);
		chmod(path, 0600);
	}
	service("dev", DEVICE_ARGS, NULL);
	r = sign_in_code("dev", "erin", &s, NULL, "");
	is_int(r.auth, PAM_AUTH_ERR, "limits: another device sign-in in progress -> PAM_AUTH_ERR");
	told(&s, "in progress", "limits: in progress: the sentence says so");
	is_int(s.n_prompts, 1, "limits: in progress: no code is shown");
	script_reset(&s);
	/* a stale marker (dead pid) is ignored */
	{
		FILE *f = fopen(path, "we");
		fprintf(f, "pid %d\nexpires %lld\n", 999999, (long long)time(NULL) + 60);
		fclose(f);
	}
	s.approve_upn = "erin@contoso.com";
	r = sign_in_code("dev", "erin", &s, "approve", "");
	is_int(r.auth, PAM_SUCCESS, "limits: a stale marker of a dead process is ignored");
	script_reset(&s);

	/* rate limit per user */
	service("rate", DEVICE_ARGS " device_code_max_per_user=2", NULL);
	for (int i = 0; i < 3; i++) {
		r = sign_in_code("rate", "carol", &s, NULL, "n");
		if (i < 2)
			is_int(r.auth, PAM_AUTH_ERR, mu_str_of("limits: device sign-in %d of 2 for carol is started", i + 1));
		script_reset(&s);
	}
	r = sign_in_code("rate", "carol", &s, NULL, "");
	is_int(r.auth, PAM_MAXTRIES, "limits: beyond device_code_max_per_user -> PAM_MAXTRIES");
	told(&s, "Too many sign-ins with a code for carol", "limits: per user: the sentence says so");
	script_reset(&s);
	/* what was spent from 192.0.2.10 does not block carol at her own terminal */
	s.local = true;
	s.approve_upn = "carol@contoso.com";
	r = sign_in_code("rate", "carol", &s, "approve", "");
	is_int(r.auth, PAM_SUCCESS, "limits: carol's budget spent from a remote address: at a local terminal she still signs in");
	script_reset(&s);
	/* and a device sign-in someone left open for her name over the network does not either */
	{
		const char *remote = mu_str_of("%s/device-flow/carol.h3139322e302e322e3130", state_dir);
		FILE *f = fopen(remote, "we");
		fprintf(f, "pid %ld\nexpires %lld\n", (long)getppid(), (long long)time(NULL) + 60);
		fclose(f);
		chmod(remote, 0600);
		s.local = true;
		s.approve_upn = "carol@contoso.com";
		service("dev2", DEVICE_ARGS, NULL);
		r = sign_in_code("dev2", "carol", &s, "approve", "");
		is_int(r.auth, PAM_SUCCESS, "limits: a device sign-in in progress for carol from elsewhere does not block her local one");
		unlink(remote);
		script_reset(&s);
	}

	/* rate limit per remote address, across users */
	service("ratehost", DEVICE_ARGS " device_code_max_per_rhost=1 device_code_max_per_user=100", NULL);
	(void)sign_in_code("ratehost", "bob", &s, NULL, "n");
	script_reset(&s);
	r = sign_in_code("ratehost", "dave", &s, NULL, "");
	is_int(r.auth, PAM_MAXTRIES, "limits: beyond device_code_max_per_rhost -> PAM_MAXTRIES");
	told(&s, "from 192.0.2.10", "limits: per address: the sentence names it");
	script_reset(&s);
}

/* ---- sshd's shape: the connection process owns the handle and runs pam_end; sign-in and
 * sshd's own account check run in a child that exits without pam_end and passes the PAM
 * environment back only when both succeeded ---- */

enum { SHAPE_ACCT_IN_PARENT = 1, SHAPE_SESSION = 2, SHAPE_END_FAIL = 4, SHAPE_SETCRED = 8 };

static bool pending_empty(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s/pending' 2>/dev/null)\"", state_dir);
	return system(cmd) == 0;
}

/* Wait up to 10 s for a revocation by the guard to finish completely — the grant file goes
 * first, then the membership, then the marker — so the checks after it see a settled state
 * even on a loaded machine. Returns how many grants of user are left. */
static size_t grants_gone(const char *user)
{
	size_t n = grants_of(user, NULL);
	for (int i = 0; (n || in_group(user) || !pending_empty()) && i < 100; i++) {
		usleep(100 * 1000);
		n = grants_of(user, NULL);
	}
	return n;
}

/* Exit status of the connection process: 0 when every step asked for succeeded, 1-4 for the
 * step that did not (1 sign-in or child account, 2 account here, 3 session), 5 when
 * SHAPE_END_FAIL left a grant behind after pam_end. ret_id gets the id handed back. */
static int sshd_shape(const char *svc, const char *tap, int what, char ret_id[ET_GRANT_ID_HEX + 1])
{
	int idpipe[2], status = -1;
	pid_t conn;
	ret_id[0] = '\0';
	unlink(mu_str_of("%s/shape-id", confdir));
	if (pipe(idpipe) < 0)
		return -1;
	conn = fork();
	if (conn == 0) {
		struct script s = { 0 };
		struct pam_conv c = { conv, &s };
		pam_handle_t *pamh = NULL;
		char id[ET_GRANT_ID_HEX + 1] = "";
		int r = PAM_SUCCESS, st = -1;
		pid_t child;
		ssize_t n;
		s.replies[0] = tap;
		s.n_replies = 1;
		if (pam_start_confdir(svc, "alice", &c, confdir, &pamh) != PAM_SUCCESS)
			_exit(9);
		pam_set_item(pamh, PAM_RHOST, "192.0.2.10");
		child = fork();
		if (child == 0) {
			const char *e;
			int a = pam_authenticate(pamh, 0);
			if (a == PAM_SUCCESS)
				a = pam_acct_mgmt(pamh, 0);
			e = pam_getenv(pamh, "ENTRA_TAP_GRANT_ID");
			if (a == PAM_SUCCESS && e)
				(void)!write(idpipe[1], e, strlen(e));
			_exit(a == PAM_SUCCESS ? 0 : 1); /* no pam_end: sshd's child does not call it */
		}
		close(idpipe[1]);
		n = read(idpipe[0], id, sizeof(id) - 1);
		id[n > 0 ? n : 0] = '\0';
		waitpid(child, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			r = PAM_AUTH_ERR;
		if (r == PAM_SUCCESS && id[0])
			pam_putenv(pamh, mu_str_of("ENTRA_TAP_GRANT_ID=%s", id));
		if (r == PAM_SUCCESS && (what & SHAPE_ACCT_IN_PARENT) && pam_acct_mgmt(pamh, 0) != PAM_SUCCESS)
			r = -2;
		if (r == PAM_SUCCESS && (what & SHAPE_SETCRED) && pam_setcred(pamh, PAM_ESTABLISH_CRED) != PAM_SUCCESS)
			r = -4;
		if (r == PAM_SUCCESS && (what & SHAPE_SESSION) && pam_open_session(pamh, 0) != PAM_SUCCESS)
			r = -3;
		pam_end(pamh, (what & SHAPE_END_FAIL) ? PAM_PERM_DENIED : (r == PAM_SUCCESS ? PAM_SUCCESS : PAM_AUTH_ERR));
		if ((what & SHAPE_END_FAIL) && id[0] && grants_of("alice", NULL) != 0)
			_exit(5);
		{
			/* hand the id to the test through a file next to the service files */
			free(tu_write_file(confdir, "shape-id", id, 0600));
		}
		_exit(r == PAM_SUCCESS ? 0 : r == PAM_AUTH_ERR ? 1 : -r);
	}
	close(idpipe[0]);
	close(idpipe[1]);
	if (conn < 0 || waitpid(conn, &status, 0) != conn)
		return -1;
	{
		FILE *f = fopen(mu_str_of("%s/shape-id", confdir), "re");
		if (f) {
			if (!fgets(ret_id, ET_GRANT_ID_HEX + 1, f))
				ret_id[0] = '\0';
			fclose(f);
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_pending(void)
{
	char *tap = new_tap("alice@contoso.com", "\"one_time\":false");
	char id[ET_GRANT_ID_HEX + 1];
	struct et_grant g = { 0 };
	int rc;

	grantctl("revoke --user alice");
	/* another account module refuses in the child, before or after this module, with
	 * `required` (the module still runs) or `requisite` (it does not) */
	free(tu_write_file(confdir, "shape-req",
			   mu_str_of("auth required %s " TAP_ARGS " grant\naccount required pam_deny.so\n"
				     "account required %s no_grant=success\nsession required %s\n",
				     module, module, module),
			   0644));
	free(tu_write_file(confdir, "shape-requisite",
			   mu_str_of("auth required %s " TAP_ARGS " grant\naccount requisite pam_deny.so\n"
				     "account required %s no_grant=success\nsession required %s\n",
				     module, module, module),
			   0644));
	free(tu_write_file(confdir, "shape-after",
			   mu_str_of("auth required %s " TAP_ARGS " grant\naccount required %s no_grant=success\n"
				     "account required pam_deny.so\nsession required %s\n",
				     module, module, module),
			   0644));
	{
		const char *svcs[] = { "shape-req", "shape-requisite", "shape-after" };
		for (size_t i = 0; i < 3; i++) {
			rc = sshd_shape(svcs[i], tap, 0, id);
			ok(rc == 1, "pending (%s): the child signs in, its account stack refuses (%d)", svcs[i], rc);
			ok(grants_gone("alice") == 0,
			   "pending (%s): the grant made in the child is revoked once the connection process ends", svcs[i]);
			ok(!in_group("alice"), "pending (%s): ... and the membership is gone", svcs[i]);
			ok(pending_empty(), "pending (%s): ... and so is its marker", svcs[i]);
			grantctl("revoke --user alice");
		}
	}

	/* the id comes back through the environment; the account phase of the connection process
	 * adopts it, so that its pam_end(failure) revokes the grant at once */
	service("shape", TAP_ARGS " grant", "no_grant=success");
	rc = sshd_shape("shape", tap, SHAPE_ACCT_IN_PARENT | SHAPE_END_FAIL, id);
	is_int(rc, 0, "pending: the account phase adopts the grant from ENTRA_TAP_GRANT_ID; pam_end(failure) in the "
		      "connection process revokes it before that process ends");
	ok(et_grant_id_ok(id), "pending: ... (the child handed back grant %s)", id);
	is_int((int)grants_of("alice", NULL), 0, "pending: ... no grant is left");
	ok(pending_empty(), "pending: ... nor a marker");

	/* a pam_end(failure) without the account phase there: the guard revokes it */
	rc = sshd_shape("shape", tap, SHAPE_END_FAIL, id);
	is_int(rc, 5, "pending: without the account phase in the connection process, pam_end(failure) has nothing "
		      "to revoke (exit 5: the grant is still there right after pam_end)");
	is_int((int)grants_gone("alice"), 0, "pending: ... the guard revokes it when the connection process ends");
	ok(pending_empty(), "pending: ... and removes the marker");

	/* success: the session is opened in the connection process; the grant stays */
	rc = sshd_shape("shape", tap, SHAPE_SESSION, id);
	is_int(rc, 0, "pending: a login that succeeds (session opened in the connection process)");
	ok(pending_empty(), "pending: ... opening the session settled the grant (no marker)");
	usleep(1500 * 1000);
	is_int((int)grants_of("alice", &g), 1, "pending: ... and the grant outlives the connection process");
	is_str(g.id, id, "pending: ... the very grant the child made");
	grantctl("revoke --user alice");

	/* success in a stack without this module's session line: establishing credentials
	 * (through the auth line) settles the grant */
	free(tu_write_file(confdir, "shape-nosession",
			   mu_str_of("auth required %s " TAP_ARGS " grant\naccount required %s no_grant=success\n"
				     "session required pam_permit.so\n",
				     module, module),
			   0644));
	rc = sshd_shape("shape-nosession", tap, SHAPE_SETCRED | SHAPE_SESSION, id);
	is_int(rc, 0, "pending: a login that succeeds in a stack without the module's session line");
	ok(pending_empty(), "pending: ... pam_setcred settled the grant (no marker)");
	usleep(1500 * 1000);
	ok(grants_of("alice", &g) == 1 && strcmp(g.id, id) == 0,
	   "pending: ... and the grant outlives the connection process");
	grantctl("revoke --user alice");
	/* control: neither credentials nor a session: nothing settles it, the guard revokes */
	rc = sshd_shape("shape-nosession", tap, 0, id);
	is_int(rc, 0, "pending: control: signed in, then neither setcred nor a session, pam_end(success)");
	ok(grants_gone("alice") == 0, "pending: control: ... the guard revokes the unsettled grant");

	/* a grant id in the environment that is not this user's is never revoked */
	grantctl("grant bob --duration 1h");
	{
		struct script s = { 0 };
		struct pam_conv c = { conv, &s };
		pam_handle_t *pamh = NULL;
		struct et_grant bg;
		int r;
		ok(grants_of("bob", &bg) == 1, "pending: bob has a grant (set up)");
		pam_start_confdir("shape", "alice", &c, confdir, &pamh);
		pam_putenv(pamh, mu_str_of("ENTRA_TAP_GRANT_ID=%s", bg.id));
		r = pam_acct_mgmt(pamh, 0);
		pam_end(pamh, PAM_PERM_DENIED);
		is_int(r, PAM_SUCCESS, "pending: alice's account phase with bob's grant id in the environment");
		is_int((int)grants_of("bob", NULL), 1, "pending: ... a failed transaction of alice does not revoke bob's grant");
		pam_start_confdir("shape", "alice", &c, confdir, &pamh);
		pam_putenv(pamh, "ENTRA_TAP_GRANT_ID=../../../etc/passwd");
		r = pam_acct_mgmt(pamh, 0);
		pam_end(pamh, PAM_PERM_DENIED);
		is_int(r, PAM_SUCCESS, "pending: a malformed grant id in the environment is ignored");
		script_reset(&s);
	}
	grantctl("revoke --user bob");
	free(tap);
}

static void test_grants(void)
{
	struct script s = { 0 };
	struct run r;
	struct et_grant g = { 0 };
	char *tap = new_tap("alice@contoso.com", "\"one_time\":false");
	time_t t0 = time(NULL);

	grantctl("revoke --user alice");
	service("grant", TAP_ARGS " grant", "no_grant=success");
	r = sign_in("grant", "alice", &s, tap, DO_ACCT | DO_SESSION, NULL);
	is_int(r.auth, PAM_SUCCESS, "grant: sign-in with the grant option -> PAM_SUCCESS");
	is_int(r.acct, PAM_SUCCESS, "grant: the account phase sees the live grant");
	is_int(grants_of("alice", &g), 1, "grant: one grant in the store");
	ok(in_group("alice"), "grant: alice is in the elevated group");
	is_str(g.service, "grant", "grant: the grant records the service");
	is_str(g.rhost, "192.0.2.10", "grant: ... and the remote address");
	is_str(g.upn, "alice@contoso.com", "grant: ... and the Entra name");
	ok(g.oid[0] != '\0' && g.tid[0] != '\0', "grant: ... and oid and tid");
	/* a typed secret accepted by the password grant proves no pass: recorded as such */
	is_str(et_grant_method_name(g.method), "password", "grant: ... and the method password");
	ok(g.expires >= t0 + 3600 - 5 && g.expires <= t0 + 3600 + 30, "grant: the default duration (1h)");
	ok(strstr(shown(&s, PAM_TEXT_INFO), mu_str_of("alice is now in group %s until ", group)) &&
		   strstr(shown(&s, PAM_TEXT_INFO), g.id),
	   "grant: the person is told group, expiry and grant id");
	ok(pending_empty(), "grant: the session settled the grant (no pending marker)");
	script_reset(&s);

	/* a login that fails after the sign-in leaves no grant */
	grantctl("revoke --user alice");
	r = sign_in("grant", "alice", &s, tap, END_FAIL, NULL);
	is_int(r.auth, PAM_SUCCESS, "grant: signed in, then the transaction fails");
	is_int(grants_of("alice", NULL), 0, "grant: ... and the grant is gone");
	ok(!in_group("alice"), "grant: ... and so is the membership");
	script_reset(&s);

	/* duration from entra-tap-helper elevate, only for the entra-tap service */
	service("entra-tap", TAP_ARGS " grant", "no_grant=success");
	t0 = time(NULL);
	r = sign_in("entra-tap", "alice", &s, tap, DO_ACCT, "ENTRA_TAP_DURATION=2h");
	is_int(r.auth, PAM_SUCCESS, "grant: entra-tap service with a duration");
	ok(grants_of("alice", &g) == 1 && g.expires >= t0 + 7200 - 5 && g.expires <= t0 + 7200 + 30,
	   "grant: the asked duration (2h) is used");
	grantctl("revoke --user alice");
	script_reset(&s);
	t0 = time(NULL);
	r = sign_in("entra-tap", "alice", &s, tap, DO_ACCT, "ENTRA_TAP_DURATION=30d");
	ok(r.auth == PAM_SUCCESS && grants_of("alice", &g) == 1 && g.expires <= t0 + 8 * 3600 + 30,
	   "grant: a duration beyond duration_max is clamped (8h)");
	grantctl("revoke --user alice");
	script_reset(&s);
	t0 = time(NULL);
	r = sign_in("grant", "alice", &s, tap, DO_ACCT, "ENTRA_TAP_DURATION=2h");
	ok(r.auth == PAM_SUCCESS && grants_of("alice", &g) == 1 && g.expires <= t0 + 3600 + 30,
	   "grant: another service cannot choose the duration");
	grantctl("revoke --user alice");
	script_reset(&s);

	/* revoke_on_close */
	service("roc", TAP_ARGS " grant revoke_on_close", "no_grant=success revoke_on_close");
	r = sign_in("roc", "alice", &s, tap, DO_ACCT | DO_SESSION, NULL);
	ok(r.auth == PAM_SUCCESS && r.open == PAM_SUCCESS && r.close == PAM_SUCCESS,
	   "grant: revoke_on_close: sign-in and session");
	is_int(grants_of("alice", NULL), 0, "grant: revoke_on_close: the grant ended with the session");
	script_reset(&s);

	/* the account phase */
	service("acct", TAP_ARGS, NULL);
	service("acctok", TAP_ARGS, "no_grant=success");
	is_int(run_acct("acct", "alice", &s), PAM_IGNORE, "account: no grant -> PAM_IGNORE (no_grant=ignore default)");
	is_int(run_acct("acctok", "alice", &s), PAM_SUCCESS, "account: no grant with no_grant=success -> PAM_SUCCESS");
	grantctl("grant alice --duration 1s");
	sleep(2);
	ok(in_group("alice"), "account: an expired grant whose membership is still there");
	script_reset(&s);
	is_int(run_acct("acct", "alice", &s), PAM_PERM_DENIED, "account: an expired grant -> PAM_PERM_DENIED");
	told(&s, "expired", "account: expired: the person is told");
	ok(!in_group("alice") && grants_of("alice", NULL) == 0, "account: expired: revoked on the spot");
	script_reset(&s);
	/* a member without a grant */
	grantctl("grant alice --duration 1h");
	{
		struct et_grant_list l = { 0 };
		struct et_config cfg;
		struct et_err err;
		/* remove the grant file behind the group's back: a stale member */
		mu_cfg_load(&cfg);
		free(cfg.state_dir);
		cfg.state_dir = strdup(state_dir);
		if (et_grant_store_list(&cfg, "alice", &l, &err) == 0 && l.n == 1)
			et_grant_store_remove(&cfg, l.items[0].id, &err);
		et_grant_list_free(&l);
		et_config_free(&cfg);
	}
	ok(in_group("alice") && grants_of("alice", NULL) == 0, "account: a member without a grant (set up)");
	is_int(run_acct("acct", "alice", &s), PAM_PERM_DENIED, "account: a member without a grant -> PAM_PERM_DENIED");
	ok(!in_group("alice"), "account: stale member: removed on the spot");
	script_reset(&s);
	is_int(run_acct("acct", "nosuchuser", &s), PAM_USER_UNKNOWN, "account: an unknown user -> PAM_USER_UNKNOWN");
	script_reset(&s);

	/* setcred drops a stale elevated gid from the process */
	{
		gid_t gid = (gid_t)atol(getenv("ET_PAM_GID")), mine[2] = { gid, 0 }, now[64];
		int n;
		bool has = false;
		if (setgroups(1, mine) < 0)
			tap_diag("setgroups: %s", strerror(errno));
		is_int(run_setcred("acct", "alice"), PAM_SUCCESS, "setcred: no live grant -> PAM_SUCCESS");
		n = getgroups(64, now);
		for (int i = 0; i < n; i++)
			if (now[i] == gid)
				has = true;
		ok(!has, "setcred: the elevated gid was dropped from the process");
		setgroups(1, mine);
		grantctl("grant alice --duration 1h");
		is_int(run_setcred("acct", "alice"), PAM_SUCCESS, "setcred: with a live grant -> PAM_SUCCESS");
		n = getgroups(64, now);
		has = false;
		for (int i = 0; i < n; i++)
			if (now[i] == gid)
				has = true;
		ok(has, "setcred: with a live grant the gid stays");
		grantctl("revoke --user alice");
		setgroups(0, NULL);
	}
	free(tap);
}

/* Every file under dir (recursively) that contains needle: 0 when none. */
static int files_containing(const char *dir, const char *needle)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "grep -rlF -- '%s' '%s' 2>/dev/null | grep -q .", needle, dir);
	return system(cmd) == 0;
}

/* Group overage and PIM for Groups through Microsoft Graph (the mock's), end to end through
 * the module: eligibility, refusals with their PAM codes, the grant capped at the PIM
 * activation's end, and the access token nowhere it must not be. */
static void test_graph(void)
{
	struct script s = { 0 };
	struct run r;
	struct et_grant g;
	char *tap = new_tap("alice@contoso.com", "\"one_time\":false");
	time_t t0;

	/* discovery and keys are cached: a pass sign-in costs one request to the provider */
	service("onereq", TAP_ARGS, NULL);
	(void)sign_in("onereq", "alice", &s, tap, 0, NULL);
	script_reset(&s);
	mu_mock_reset();
	for (int i = 0; i < 3; i++) {
		r = sign_in("onereq", "alice", &s, tap, 0, NULL);
		script_reset(&s);
		if (r.auth != PAM_SUCCESS)
			tap_diag("sign-in %d: %d", i, r.auth);
	}
	ok(mu_mock_stat("token") == 3 && mu_mock_stat("discovery") == 0 && mu_mock_stat("keys") == 0,
	   "discovery cached: three pass sign-ins cost three requests (token %d, discovery %d, keys %d)",
	   mu_mock_stat("token"), mu_mock_stat("discovery"), mu_mock_stat("keys"));
	grantctl("revoke --user alice");
	mu_ctl("config", "{\"overage_limit\":0}");
	service("ovg", TAP_ARGS, NULL);
	mu_mock_reset();
	r = sign_in("ovg", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "graph: an overage token whose user is in the eligible group -> PAM_SUCCESS");
	is_int(mu_mock_stat("graph_check"), 1, "graph: ... after one checkMemberGroups request");
	script_reset(&s);

	mu_ctlf("users", "{\"upn\":\"alice@contoso.com\",\"groups\":[\"0d5e7a1c-2b3f-4c6d-8e9f-a0b1c2d3e4f5\"]}");
	r = sign_in("ovg", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "graph: overage, in none of the eligible groups -> PAM_AUTH_ERR");
	told(&s, "none of the eligible groups", "graph: ... and told so");
	script_reset(&s);
	mu_ctlf("users", "{\"upn\":\"alice@contoso.com\",\"groups\":[\"" ELIGIBLE "\"]}");

	mu_ctl("down", "{\"mode\":\"reset\",\"endpoints\":[\"graph_check\"]}");
	r = sign_in("ovg", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "graph: Graph down -> PAM_AUTHINFO_UNAVAIL");
	script_reset(&s);
	mu_mock_reset();
	service("ovgslow", TAP_ARGS " http_timeout=2s", NULL);
	mu_ctl("latency", "{\"seconds\":10,\"endpoints\":[\"graph_check\"]}");
	r = sign_in("ovgslow", "alice", &s, tap, 0, NULL);
	ok(r.auth == PAM_AUTHINFO_UNAVAIL && r.seconds < 4.5,
	   "graph: Graph slow -> PAM_AUTHINFO_UNAVAIL within http_timeout (2 s; took %.1f s)", r.seconds);
	script_reset(&s);
	mu_mock_reset();

	service("ovgdeny", TAP_ARGS " overage=deny", NULL);
	r = sign_in("ovgdeny", "alice", &s, tap, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "graph: overage = deny refuses an overage token");
	is_int(mu_mock_stat("graph_check"), 0, "graph: ... without asking Graph");
	script_reset(&s);
	mu_ctl("config", "{\"overage_limit\":200}");

	/* PIM for Groups: the grant ends with the activation */
	service("pim", TAP_ARGS " pim=yes grant", "no_grant=success");
	mu_ctlf("pim", "{\"upn\":\"alice@contoso.com\",\"instances\":[{\"group\":\"" ELIGIBLE
		"\",\"type\":\"activated\",\"start_in\":-300,\"end_in\":900}]}");
	t0 = time(NULL);
	r = sign_in("pim", "alice", &s, tap, DO_ACCT | DO_SESSION, NULL);
	is_int(r.auth, PAM_SUCCESS, "pim: an activated membership -> PAM_SUCCESS");
	ok(grants_of("alice", &g) == 1 && g.expires >= t0 + 899 && g.expires <= t0 + 902 && g.pim_until == g.expires,
	   "pim: the grant ends when the activation ends (15 minutes, not the default hour), recorded as pim_until");
	ok(strstr(shown(&s, PAM_TEXT_INFO), "(when the PIM activation ends)") != NULL,
	   "pim: the person is told the grant ends with the activation");
	grantctl("revoke --user alice");
	script_reset(&s);

	mu_ctlf("pim", "{\"upn\":\"alice@contoso.com\",\"instances\":[{\"group\":\"" ELIGIBLE
		"\",\"type\":\"activated\",\"start_in\":-3600,\"end_in\":-5}]}");
	r = sign_in("pim", "alice", &s, tap, DO_ACCT, NULL);
	ok(r.auth == PAM_AUTH_ERR && grants_of("alice", NULL) == 0, "pim: an activation that has ended -> PAM_AUTH_ERR, no grant");
	told(&s, "PIM", "pim: ... and told why");
	script_reset(&s);

	mu_ctlf("pim", "{\"upn\":\"alice@contoso.com\",\"instances\":[{\"group\":\"" ELIGIBLE
		"\",\"type\":\"assigned\",\"end_in\":null}]}");
	r = sign_in("pim", "alice", &s, tap, DO_ACCT, NULL);
	ok(r.auth == PAM_AUTH_ERR && grants_of("alice", NULL) == 0, "pim: a permanent assignment with pim_permanent = deny -> PAM_AUTH_ERR");
	script_reset(&s);
	service("pimperm", TAP_ARGS " pim=yes pim_permanent=allow grant", "no_grant=success");
	t0 = time(NULL);
	r = sign_in("pimperm", "alice", &s, tap, DO_ACCT | DO_SESSION, NULL);
	ok(r.auth == PAM_SUCCESS && grants_of("alice", &g) == 1 && g.pim_until == 0 && g.expires >= t0 + 3600 - 5,
	   "pim: a permanent assignment with pim_permanent = allow -> the default duration, no PIM cap");
	grantctl("revoke --user alice");
	script_reset(&s);
	mu_ctl("pim", "{\"upn\":\"alice@contoso.com\",\"instances\":[]}");

	/* the access tokens Graph saw are nowhere on this host */
	{
		char *list = mu_mockctl("access_tokens", NULL);
		json_object *o = list ? json_tokener_parse(list) : NULL, *arr = NULL;
		size_t n = 0, found = 0;
		if (o && json_object_object_get_ex(o, "access_tokens", &arr))
			n = json_object_array_length(arr);
		for (size_t i = 0; i < n; i++) {
			const char *t = json_object_get_string(json_object_array_get_idx(arr, i));
			if (files_containing(state_dir, t + 8) || files_containing(getenv("ET_MOCK_DIR"), t + 8) ||
			    files_containing("/etc/security", t + 8))
				found++;
		}
		ok(n >= 5 && found == 0, "graph: none of the %zu access tokens is in a state, cache, log or configuration file",
		   n);
		json_object_put(o);
		free(list);
	}
	free(tap);
}

/* ---- break-glass vouchers ---- */

static char *bg_pem, *bg_pub;
static size_t bg_pem_len;

/* A voucher of the test key for user on hosts ("*" when NULL), redeemable now. */
static char *bg_voucher(const char *user, const char *host, long long dur, long long exp_in)
{
	struct et_voucher v = { 0 };
	struct et_err err;
	unsigned char rnd[16];
	char *out = NULL;
	time_t now = time(NULL);
	snprintf(v.sub, sizeof(v.sub), "%s", user);
	et_strlist_add(&v.hosts, host ? host : "*");
	v.iat = now - 10;
	v.exp = now + exp_in;
	v.dur = dur;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		abort();
	for (int i = 0; i < 16; i++)
		snprintf(v.jti + 2 * i, 3, "%02x", rnd[i]);
	snprintf(v.reason, sizeof(v.reason), "test outage");
	if (et_voucher_sign(bg_pem, bg_pem_len, &v, &out, &err) < 0) {
		printf("Bail out! cannot mint a voucher: %s\n", err.message);
		exit(1);
	}
	et_voucher_free(&v);
	return out;
}

/* The jti of a voucher (for the record file), read back by the reader itself. */
static const char *bg_jti(const char *voucher)
{
	static char jti[33];
	struct et_voucher v;
	unsigned char sig[64];
	size_t n;
	struct et_err err;
	jti[0] = '\0';
	if (et_voucher_parse(voucher, strlen(voucher), &v, sig, &n, &err) == 0)
		snprintf(jti, sizeof(jti), "%s", v.jti);
	et_voucher_free(&v);
	return jti;
}

/* A logged-in terminal: a pty whose slave is in this sandbox's utmp (/run is private here). */
static int bg_terminal(char *ret_line, size_t size)
{
	struct utmpx u = { 0 };
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	const char *slave;
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(slave = ptsname(master)))
		return -1;
	snprintf(ret_line, size, "%s", slave + 5); /* "pts/N" */
	u.ut_type = USER_PROCESS;
	u.ut_pid = getpid();
	snprintf(u.ut_line, sizeof(u.ut_line), "%s", ret_line);
	snprintf(u.ut_id, sizeof(u.ut_id), "bg");
	snprintf(u.ut_user, sizeof(u.ut_user), "carol");
	{
		/* the sandbox's /run starts empty */
		int fd = open(_PATH_UTMPX, O_WRONLY | O_CREAT | O_CLOEXEC, 0664);
		if (fd < 0)
			return -1;
		close(fd);
	}
	setutxent();
	if (!pututxline(&u)) {
		endutxent();
		return -1;
	}
	endutxent();
	/* keep the slave open so that writes to it are kept for the master to read */
	if (open(slave, O_RDWR | O_NOCTTY) < 0)
		return -1;
	return master;
}

static void bg_read_terminal(int master, char *buf, size_t size)
{
	size_t n = 0;
	int fl = fcntl(master, F_GETFL);
	fcntl(master, F_SETFL, fl | O_NONBLOCK);
	for (int i = 0; i < 40 && n + 1 < size; i++) {
		ssize_t r = read(master, buf + n, size - 1 - n);
		if (r > 0)
			n += (size_t)r;
		else if (n)
			break;
		else
			usleep(25000);
	}
	buf[n] = '\0';
}

static bool bg_record_exists(const char *jti, mode_t *ret_mode)
{
	struct stat st;
	if (stat(mu_str_of("%s/breakglass/%s", state_dir, jti), &st) < 0)
		return false;
	*ret_mode = st.st_mode & 07777;
	return true;
}

static void test_breakglass(void)
{
	struct script s = { 0 };
	struct run r;
	struct et_grant g;
	unsigned char pub[32];
	struct et_err err;
	char *v, *v_bob, tty[64] = "", screen[4096];
	mode_t mode = 0;
	time_t t0;
	int master;

	if (et_bg_keygen(&bg_pem, &bg_pem_len, pub, &err) < 0 || !(bg_pub = et_bg_key_format(pub))) {
		printf("Bail out! no break-glass key\n");
		exit(1);
	}
	master = bg_terminal(tty, sizeof(tty));
	ok(master >= 0, "breakglass: a logged-in terminal for the wall line (%s)", tty);
	grantctl("revoke --user alice");
	service("bg", mu_str_of("grant breakglass_keys=%s", bg_pub), "no_grant=success");
	service("bgtoken", mu_str_of("methods=device_code,token grant breakglass_keys=%s", bg_pub), "no_grant=success");
	service("bgnone", "methods=device_code,token grant", "no_grant=success");

	/* Entra ID down: the device sign-in cannot start, the voucher is asked for and accepted */
	mu_ctl("down", "{\"mode\":\"reset\"}");
	v = bg_voucher("alice", NULL, 86400, 3600);
	s.replies[0] = v;
	s.n_replies = 1;
	t0 = time(NULL);
	r = run_pam("bg", "alice", &s, DO_ACCT | DO_SESSION, NULL);
	is_int(r.auth, PAM_SUCCESS, "breakglass: Entra ID down, a voucher -> PAM_SUCCESS");
	is_int(s.n_prompts, 1, "breakglass: one prompt: the voucher");
	ok(strstr(prompt_text(&s, 0), "Entra ID cannot be reached") && strstr(prompt_text(&s, 0), "break-glass voucher"),
	   "breakglass: the prompt says Entra ID is unreachable and asks for a voucher");
	is_int(prompt_style(&s, 0), PAM_PROMPT_ECHO_OFF, "breakglass: the voucher is not echoed");
	is_int(r.acct, PAM_SUCCESS, "breakglass: the account phase sees the grant");
	ok(grants_of("alice", &g) == 1, "breakglass: one grant in the store");
	is_str(et_grant_method_name(g.method), "breakglass", "breakglass: the grant's method is breakglass");
	ok(g.expires >= t0 + 3600 - 5 && g.expires <= t0 + 3600 + 30,
	   "breakglass: the grant lasts breakglass_duration_max (1h), not the voucher's 1d");
	ok(strstr(g.reason, bg_jti(v)) && strstr(g.reason, "test outage"),
	   "breakglass: the grant's reason names the voucher and its reason");
	ok(in_group("alice"), "breakglass: alice is in the elevated group");
	ok(bg_record_exists(bg_jti(v), &mode) && mode == 0600, "breakglass: the redemption record is kept (0600)");
	ok(!any_message_contains(&s, v), "breakglass: the voucher appears in no message");
	if (master >= 0) {
		bg_read_terminal(master, screen, sizeof(screen));
		ok(strstr(screen, "BREAK-GLASS on ") && strstr(screen, "alice is in group") &&
			   strstr(screen, bg_jti(v)),
		   "breakglass: the logged-in terminal got the wall line");
		if (!strstr(screen, "BREAK-GLASS"))
			tap_diag("terminal: '%s'", screen);
	}
	script_reset(&s);

	/* the same voucher again: replayed */
	grantctl("revoke --user alice");
	s.replies[0] = v;
	s.n_replies = 1;
	r = run_pam("bg", "alice", &s, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "breakglass: the same voucher again -> PAM_AUTH_ERR");
	told(&s, "redeemed on this host already", "breakglass: replayed: the person is told");
	is_int(grants_of("alice", NULL), 0, "breakglass: replayed: no grant");
	script_reset(&s);

	/* a voucher for bob used by alice */
	v_bob = bg_voucher("bob", NULL, 600, 3600);
	s.replies[0] = v_bob;
	s.n_replies = 1;
	r = run_pam("bg", "alice", &s, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "breakglass: another user's voucher -> PAM_AUTH_ERR");
	told(&s, "is for user bob", "breakglass: other user: the person is told");
	script_reset(&s);
	/* another host */
	free(v);
	v = bg_voucher("alice", "no-such-host-*", 600, 3600);
	s.replies[0] = v;
	s.n_replies = 1;
	r = run_pam("bg", "alice", &s, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "breakglass: a voucher for other hosts -> PAM_AUTH_ERR");
	told(&s, "no host pattern", "breakglass: other host: the person is told");
	ok(!bg_record_exists(bg_jti(v), &mode), "breakglass: a refused voucher leaves no record");
	script_reset(&s);
	/* Enter at the voucher prompt: the original failure */
	s.replies[0] = "";
	s.n_replies = 1;
	r = run_pam("bg", "alice", &s, 0, NULL);
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "breakglass: Enter at the voucher prompt -> PAM_AUTHINFO_UNAVAIL");
	script_reset(&s);
	/* pasted at the token prompt while Entra ID is down: accepted there too */
	free(v);
	v = bg_voucher("alice", NULL, 120, 3600);
	grantctl("revoke --user alice");
	s.replies[0] = v;
	s.n_replies = 1;
	t0 = time(NULL);
	r = run_pam("bgtoken", "alice", &s, 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "breakglass: a voucher at the first prompt while Entra ID is down -> PAM_SUCCESS");
	ok(grants_of("alice", &g) == 1 && g.expires <= t0 + 120 + 30,
	   "breakglass: the grant lasts the voucher's dur when shorter (2m)");
	is_int(s.n_prompts, 1, "breakglass: ... with no second prompt");
	script_reset(&s);
	grantctl("revoke --user alice");
	/* without breakglass_keys: not offered, no voucher prompt */
	r = sign_in("bgnone", "alice", &s, "", 0, NULL);
	is_int(r.auth, PAM_AUTHINFO_UNAVAIL, "breakglass: not configured, Entra ID down -> PAM_AUTHINFO_UNAVAIL");
	is_int(s.n_prompts, 1, "breakglass: not configured: no voucher prompt");
	script_reset(&s);
	mu_mock_reset();

	/* Entra ID up: the method is not offered */
	free(v);
	v = bg_voucher("alice", NULL, 600, 3600);
	r = sign_in("bgtoken", "alice", &s, v, 0, NULL);
	is_int(r.auth, PAM_AUTH_ERR, "breakglass: Entra ID reachable, a voucher -> PAM_AUTH_ERR");
	told(&s, "Entra ID can be reached", "breakglass: reachable: the person is told the method is not offered");
	is_int(grants_of("alice", NULL), 0, "breakglass: reachable: no grant");
	ok(!bg_record_exists(bg_jti(v), &mode), "breakglass: reachable: the voucher is not spent");
	script_reset(&s);
	s.device_action = "decline";
	r = sign_in_code("bg", "alice", &s, "decline", "");
	is_int(r.auth, PAM_AUTH_ERR, "breakglass: reachable, a declined device sign-in -> PAM_AUTH_ERR");
	ok(!strstr(shown(&s, PAM_PROMPT_ECHO_OFF), "voucher"), "breakglass: reachable: no voucher prompt after it");
	script_reset(&s);
	/* breakglass_when = always: offered with the others, even with Entra ID up */
	service("bgalways", mu_str_of("grant breakglass_when=always breakglass_keys=%s", bg_pub), "no_grant=success");
	r = sign_in("bgalways", "alice", &s, v, 0, NULL);
	is_int(r.auth, PAM_SUCCESS, "breakglass: breakglass_when = always, Entra ID up -> PAM_SUCCESS");
	ok(strstr(prompt_text(&s, 0), "Break-glass voucher for "), "breakglass: always: the first prompt asks for it");
	grantctl("revoke --user alice");
	script_reset(&s);

	/* attempts count against the per-user limit (erin's earlier device sign-ins forgotten) */
	unlink(mu_str_of("%s/ratelimit/user-erin.h3139322e302e322e3130", state_dir));
	service("bglimit", mu_str_of("methods=token device_code_max_per_user=2 breakglass_when=always breakglass_keys=%s",
				     bg_pub),
		"no_grant=success");
	for (int i = 0; i < 2; i++) {
		r = sign_in("bglimit", "erin", &s, "EBG1.AAAA.AAAA", 0, NULL);
		is_int(r.auth, PAM_AUTH_ERR, "breakglass: a malformed voucher -> PAM_AUTH_ERR");
		script_reset(&s);
	}
	free(v);
	v = bg_voucher("erin", NULL, 600, 3600);
	r = sign_in("bglimit", "erin", &s, v, 0, NULL);
	is_int(r.auth, PAM_MAXTRIES, "breakglass: a third attempt within the window -> PAM_MAXTRIES");
	ok(!bg_record_exists(bg_jti(v), &mode), "breakglass: rate-limited: the voucher is not spent");
	script_reset(&s);

	if (master >= 0)
		close(master);
	free(v);
	free(v_bob);
}

int main(void)
{
	tap_require_root();
	module = getenv("ET_PAM_MODULE");
	group = getenv("ET_PAM_GROUP");
	if (!module || !group || !getenv("ET_MOCK_DIR") || !getenv("ET_PAM_GID")) {
		printf("Bail out! run through tests/pam/test_pam.sh\n");
		return 1;
	}
	state_dir = strdup(mu_str_of("%s/state", getenv("ET_MOCK_DIR")));
	confdir = tu_tmpdir();
	test_tap();
	test_lockout();
	test_device_code();
	test_faults();
	test_tokens();
	test_users_and_options();
	test_device_limits();
	test_grants();
	test_pending();
	test_graph();
	test_breakglass();
	return tap_done();
}
