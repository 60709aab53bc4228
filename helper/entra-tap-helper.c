/* entra-tap-helper: the setuid-root front end of grants. A thin layer over the core (grant.h):
 * it hardens its own process, works out who called it, and runs one verb.
 *
 *   user verbs (for the real uid):  status | drop [ID] | elevate [--duration D] [--reason TEXT]
 *   root verbs (real uid 0):        grant USER [options] | revoke ID | revoke --user USER |
 *                                   list [--json] | sweep [--user USER] [--cause sweep|account] |
 *                                   guard ID PID [PID]
 *
 * It takes no path, no configuration and no environment from its caller: the configuration
 * is ET_DEFAULT_CONFIG, the state directory comes from it, the environment is replaced. */
#include "audit.h"
#include "config.h"
#include "grant.h"
#include "groupfile.h"
#include "identity.h"
#include "clock.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <security/pam_misc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define PROG "entra-tap-helper"
#define ARGC_MAX 24
#define ARG_MAX_BYTES 1024
#define SAFE_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

struct caller {
	uid_t uid;
	char name[ET_GRANT_NAME_MAX + 1];
	bool have_name;
};

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...)
{
	va_list ap;
	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void log_stderr(void *data, int level, const char *msg)
{
	(void)data;
	(void)level;
	say("%s", msg);
}

static void usage(FILE *out)
{
	fputs("usage: " PROG " VERB [ARGS]\n"
	      "  status                      your grants and the time left\n"
	      "  drop [ID]                   end your grant ID now, or all of your grants\n"
	      "  elevate [--duration D] [--reason TEXT]\n"
	      "                              sign in with Entra ID (PAM service entra-tap) for a\n"
	      "                              grant of the elevated group\n"
	      "root only:\n"
	      "  grant USER [--duration D] [--reason TEXT] [--method M]\n"
	      "             [--oid OID] [--upn UPN] [--tid TID] [--service NAME] [--rhost HOST]\n"
	      "  revoke ID | revoke --user USER\n"
	      "  list [--json]\n"
	      "  sweep [--user USER] [--cause sweep|account]\n"
	      "  guard ID PID [PID]          (started by the PAM module) revoke grant ID when the\n"
	      "                              processes end and its login never succeeded\n",
	      out);
}

/* fds 0-2 closed by the caller would otherwise be reused by our own opens, and a message
 * meant for stderr could end up in /etc/group. For a setuid start glibc has already put
 * placeholders there, opened so that writing fails (stdout and stderr read-only): those are
 * replaced by /dev/null as well, so that a finished operation is not reported as failed just
 * because its output had nowhere to go. */
static int fix_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int flags = fcntl(fd, F_GETFL), n;
		if (flags < 0 && errno != EBADF)
			return -1;
		if (flags >= 0 && (fd == 0 || (flags & O_ACCMODE) != O_RDONLY))
			continue;
		n = open("/dev/null", O_RDWR | O_NOCTTY);
		if (n < 0)
			return -1;
		if (n != fd) {
			if (dup2(n, fd) < 0) {
				close(n);
				return -1;
			}
			close(n);
		}
	}
	return 0;
}

static int harden(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -1;
	umask(077);
	if (clearenv() != 0 || setenv("PATH", SAFE_PATH, 1) < 0)
		return -1;
	/* The caller's terminal must not interrupt or stop an edit half way: a kill is survivable
	 * (see groupfile.c), but a stopped process holding the locks would block everyone. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* After the caller is known: root in full, so that the caller can no longer signal or trace
 * this process. */
static int become_root(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -1;
	return 0;
}

/* The exit status of a failure class: the one place it is decided. */
static int exit_for(const struct et_err *e)
{
	switch (et_err_class(e)) {
	case ET_CLASS_NONE:
		return ET_EXIT_OK;
	case ET_CLASS_DENIED:
	case ET_CLASS_RATE_LIMITED:
		return ET_EXIT_DENIED;
	case ET_CLASS_USER_UNKNOWN:
	case ET_CLASS_NOT_FOUND:
		return ET_EXIT_NOT_FOUND;
	case ET_CLASS_UNAVAILABLE:
		return ET_EXIT_IDP_UNAVAILABLE;
	case ET_CLASS_CONFIG:
		return ET_EXIT_CONFIG;
	case ET_CLASS_NO_GROUP:
		return ET_EXIT_NO_GROUP;
	case ET_CLASS_BUSY:
		return ET_EXIT_BUSY;
	case ET_CLASS_USAGE:
		return ET_EXIT_USAGE;
	case ET_CLASS_NO_MEMORY:
	case ET_CLASS_INTERNAL:
		return ET_EXIT_FAILED;
	}
	return ET_EXIT_FAILED;
}

static int fail(const struct et_err *e)
{
	say("%s", e->message);
	return exit_for(e);
}

static void format_utc(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

static void format_left(time_t expires, time_t now, char *buf, size_t size)
{
	long long left = (long long)expires - (long long)now;
	if (left <= 0)
		snprintf(buf, size, "expired");
	else if (left >= 3600)
		snprintf(buf, size, "%lldh %02lldm left", left / 3600, (left % 3600) / 60);
	else if (left >= 60)
		snprintf(buf, size, "%lldm %02llds left", left / 60, left % 60);
	else
		snprintf(buf, size, "%llds left", left);
}

static void refuse(const struct caller *who, const char *verb, const char *why)
{
	struct et_audit a = { .user = who->have_name ? who->name : NULL, .reason = why };
	(void)et_audit(ET_AUDIT_REFUSED, LOG_WARNING, &a, "%s refused for uid %lu: %s", verb, (unsigned long)who->uid,
		       why);
}

/* ---- user verbs ---- */

static int verb_status(const struct et_config *cfg, const struct caller *who, int argc, char **argv)
{
	struct et_grant_list l = { 0 };
	struct et_strlist members = { 0 };
	struct et_err err;
	time_t now = time(NULL);
	size_t shown = 0;

	if (argc != 0) {
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	if (!who->have_name) {
		say("your uid %lu has no user name", (unsigned long)who->uid);
		return ET_EXIT_NOT_FOUND;
	}
	if (et_grant_store_list(cfg, who->name, &l, &err) < 0)
		return fail(&err);
	for (size_t i = 0; i < l.n; i++) {
		char until[64], left[64];
		if (l.items[i].uid != who->uid)
			continue;
		format_utc(l.items[i].expires, until, sizeof(until));
		format_left(l.items[i].expires, now, left, sizeof(left));
		printf("grant %s: group %s until %s (%s)\n", l.items[i].id, l.items[i].group, until, left);
		shown++;
	}
	if (!shown)
		printf("no grants for %s\n", who->name);
	if (et_group_read(cfg->elevated_group, &members, NULL, &err) == 0)
		printf("%s %s a member of %s\n", who->name, et_strlist_contains(&members, who->name) ? "is" : "is not",
		       cfg->elevated_group);
	et_strlist_free(&members);
	et_grant_list_free(&l);
	return ET_EXIT_OK;
}

static int verb_drop(const struct et_config *cfg, const struct caller *who, int argc, char **argv)
{
	struct et_grant_list l = { 0 };
	struct et_grant g;
	struct et_err err;
	time_t now = time(NULL);
	unsigned n = 0;

	if (argc > 1) {
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	if (argc == 1) {
		if (et_grant_revoke(cfg, argv[0], ET_REVOKE_DROP, who->uid, now, &g, &err) < 0) {
			if (err.code == ET_E_NOT_OWNER)
				refuse(who, "drop", "not the owner of the grant");
			return fail(&err);
		}
		printf("grant %s ended\n", g.id);
		return ET_EXIT_OK;
	}
	if (!who->have_name) {
		say("your uid %lu has no user name", (unsigned long)who->uid);
		return ET_EXIT_NOT_FOUND;
	}
	/* every grant recorded for this uid; the name alone could be shared */
	if (et_grant_store_list(cfg, who->name, &l, &err) < 0)
		return fail(&err);
	for (size_t i = 0; i < l.n; i++) {
		if (l.items[i].uid != who->uid)
			continue;
		if (et_grant_revoke(cfg, l.items[i].id, ET_REVOKE_DROP, who->uid, now, &g, &err) < 0 &&
		    err.code != ET_E_NOT_FOUND) {
			et_grant_list_free(&l);
			return fail(&err);
		}
		printf("grant %s ended\n", l.items[i].id);
		n++;
	}
	et_grant_list_free(&l);
	if (!n) {
		say("%s has no grant to drop", who->name);
		return ET_EXIT_NOT_FOUND;
	}
	return ET_EXIT_OK;
}

/* ---- root verbs ---- */

struct opt {
	const char *name;
	const char **value;
};

/* --name VALUE pairs, each at most once. */
static int parse_opts(int argc, char **argv, struct opt *opts, size_t n_opts)
{
	for (int i = 0; i < argc; i++) {
		size_t k;
		for (k = 0; k < n_opts; k++)
			if (strcmp(argv[i], opts[k].name) == 0)
				break;
		if (k == n_opts) {
			say("unknown argument '%.64s'", argv[i]);
			return -1;
		}
		if (i + 1 >= argc) {
			say("%s needs a value", opts[k].name);
			return -1;
		}
		if (*opts[k].value) {
			say("%s is given twice", opts[k].name);
			return -1;
		}
		*opts[k].value = argv[++i];
	}
	return 0;
}

static int verb_grant(const struct et_config *cfg, int argc, char **argv)
{
	const char *duration = NULL, *method = NULL;
	struct et_grant_request req = { .method = ET_GRANT_METHOD_ADMIN };
	struct opt opts[] = {
		{ "--duration", &duration }, { "--reason", &req.reason },   { "--method", &method },
		{ "--oid", &req.oid },       { "--upn", &req.upn },         { "--tid", &req.tid },
		{ "--service", &req.service }, { "--rhost", &req.rhost },
	};
	struct et_grant g;
	struct et_err err;
	char until[64];
	long clamped;

	if (argc < 1 || argv[0][0] == '-') {
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	req.user = argv[0];
	if (parse_opts(argc - 1, argv + 1, opts, sizeof(opts) / sizeof(opts[0])) < 0)
		return ET_EXIT_USAGE;
	if (duration && et_duration_parse(duration, &req.duration) < 0) {
		say("'%.64s' is not a duration (like 90s, 10m, 8h or 1d)", duration);
		return ET_EXIT_USAGE;
	}
	if (method && et_grant_method_parse(method, &req.method) < 0) {
		say("'%.64s' is not a method (tap, device_code, token, breakglass, admin)", method);
		return ET_EXIT_USAGE;
	}
	if (req.reason && strlen(req.reason) > ET_GRANT_TEXT_MAX) {
		say("the reason is longer than %d bytes", ET_GRANT_TEXT_MAX);
		return ET_EXIT_USAGE;
	}
	clamped = et_grant_clamp_duration(cfg, req.duration);
	if (req.duration && clamped != req.duration)
		say("duration %lds is outside %lds..%lds: using %lds", req.duration, cfg->duration_min,
		    cfg->duration_max, clamped);
	if (et_grant_create(cfg, &req, time(NULL), &g, &err) < 0)
		return fail(&err);
	format_utc(g.expires, until, sizeof(until));
	printf("%s\n", g.id);
	say("%s is in group %s until %s (grant %s)", g.user, g.group, until, g.id);
	return ET_EXIT_OK;
}

static int verb_revoke(const struct et_config *cfg, int argc, char **argv)
{
	struct et_grant g;
	struct et_err err;
	unsigned n = 0;
	if (argc == 2 && strcmp(argv[0], "--user") == 0) {
		if (et_grant_revoke_user(cfg, argv[1], ET_REVOKE_ADMIN, time(NULL), &n, &err) < 0)
			return fail(&err);
		printf("%u grant(s) of %s ended\n", n, argv[1]);
		return ET_EXIT_OK;
	}
	if (argc != 1 || argv[0][0] == '-') {
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	/* The per-grant timer runs this at expiry; before expiry it is an administrator's revoke. */
	if (et_grant_revoke(cfg, argv[0], ET_REVOKE_EXPIRY, (uid_t)-1, time(NULL), &g, &err) < 0)
		return fail(&err);
	printf("grant %s ended\n", g.id);
	return ET_EXIT_OK;
}

static json_object *grant_json(const struct et_grant *g, time_t now)
{
	json_object *o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_string(g->id));
	json_object_object_add(o, "user", json_object_new_string(g->user));
	json_object_object_add(o, "uid", json_object_new_int64((int64_t)g->uid));
	json_object_object_add(o, "group", json_object_new_string(g->group));
	json_object_object_add(o, "created", json_object_new_int64((int64_t)g->created));
	json_object_object_add(o, "expires", json_object_new_int64((int64_t)g->expires));
	json_object_object_add(o, "live", json_object_new_boolean(g->expires > now));
	json_object_object_add(o, "method", json_object_new_string(et_grant_method_name(g->method)));
	json_object_object_add(o, "oid", json_object_new_string(g->oid));
	json_object_object_add(o, "upn", json_object_new_string(g->upn));
	json_object_object_add(o, "tid", json_object_new_string(g->tid));
	json_object_object_add(o, "reason", json_object_new_string(g->reason));
	json_object_object_add(o, "service", json_object_new_string(g->service));
	json_object_object_add(o, "rhost", json_object_new_string(g->rhost));
	json_object_object_add(o, "added_membership", json_object_new_boolean(g->added_membership));
	return o;
}

static int verb_list(const struct et_config *cfg, int argc, char **argv)
{
	struct et_grant_list l = { 0 };
	struct et_err err;
	time_t now = time(NULL);
	bool json = argc == 1 && strcmp(argv[0], "--json") == 0;

	if (argc > 1 || (argc == 1 && !json)) {
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	if (et_grant_store_list(cfg, NULL, &l, &err) < 0)
		return fail(&err);
	if (json) {
		json_object *arr = json_object_new_array();
		for (size_t i = 0; arr && i < l.n; i++)
			json_object_array_add(arr, grant_json(&l.items[i], now));
		if (!arr) {
			et_grant_list_free(&l);
			say("out of memory");
			return ET_EXIT_FAILED;
		}
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
		json_object_put(arr);
	} else {
		if (l.n)
			printf("%-32s  %-16s  %-16s  %-23s  %-14s  %s\n", "ID", "USER", "GROUP", "EXPIRES", "LEFT", "METHOD");
		for (size_t i = 0; i < l.n; i++) {
			char until[64], left[64];
			format_utc(l.items[i].expires, until, sizeof(until));
			format_left(l.items[i].expires, now, left, sizeof(left));
			printf("%-32s  %-16s  %-16s  %-23s  %-14s  %s\n", l.items[i].id, l.items[i].user, l.items[i].group,
			       until, left, et_grant_method_name(l.items[i].method));
		}
		if (!l.n)
			printf("no grants\n");
	}
	if (l.n_corrupt)
		say("%zu grant file(s) could not be read (see above); `" PROG " sweep` moves them aside", l.n_corrupt);
	et_grant_list_free(&l);
	return ET_EXIT_OK;
}

static int verb_sweep(const struct et_config *cfg, int argc, char **argv)
{
	const char *user = NULL, *cause_name = NULL;
	struct opt opts[] = { { "--user", &user }, { "--cause", &cause_name } };
	enum et_revoke_cause cause = ET_REVOKE_SWEEP;
	struct et_sweep_result res;
	struct et_err err;

	if (parse_opts(argc, argv, opts, sizeof(opts) / sizeof(opts[0])) < 0)
		return ET_EXIT_USAGE;
	if (cause_name) {
		if (strcmp(cause_name, "account") == 0)
			cause = ET_REVOKE_ACCOUNT;
		else if (strcmp(cause_name, "sweep") != 0) {
			say("--cause is 'sweep' or 'account'");
			return ET_EXIT_USAGE;
		}
	}
	if (et_grant_sweep(cfg, user, cause, time(NULL), &res, &err) < 0)
		return fail(&err);
	printf("sweep: %u expired grant(s) ended, %u member(s) removed, %u member(s) restored, %u corrupt file(s) "
	       "moved aside\n",
	       res.expired, res.members_removed, res.members_added, res.quarantined);
	return ET_EXIT_OK;
}

/* ---- guard: the watch over a pending grant (see ET_GUARD_WAIT_S in grant.h) ---- */

#define GUARD_PIDS_MAX 2

/* A process id as the module writes it: decimal digits, no sign, no leading zero, above 1
 * (init never ends) and within pid_t. */
static bool pid_parse(const char *s, pid_t *ret)
{
	long long v = 0;
	if (!s[0] || s[0] == '0' || strlen(s) > 10)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (*p - '0');
	}
	if (v < 2 || v > INT_MAX)
		return false;
	*ret = (pid_t)v;
	return true;
}

static bool marker_present(const char *path)
{
	struct stat st;
	/* anything but a clear "not there" keeps the grant under watch */
	return lstat(path, &st) == 0 || errno != ENOENT;
}

static int verb_guard(const struct et_config *cfg, int argc, char **argv)
{
	struct pollfd fds[GUARD_PIDS_MAX + 1];
	pid_t pids[GUARD_PIDS_MAX];
	char marker[PATH_MAX], dir[PATH_MAX];
	const char *id;
	long long deadline;
	size_t n_fds = 0, n_alive = 0;
	bool unwatched = false;
	int ino = -1, rc = ET_EXIT_OK;
	struct et_grant g;
	struct et_err err;

	if (argc < 2 || argc > 1 + GUARD_PIDS_MAX) {
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	id = argv[0];
	if (!et_grant_id_ok(id)) {
		say("'%.64s' is not a grant id (32 hexadecimal digits)", id);
		return ET_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (!pid_parse(argv[i], &pids[i - 1])) {
			say("'%.64s' is not a process id", argv[i]);
			return ET_EXIT_USAGE;
		}
	}
	if (et_pending_marker_path(cfg, id, marker, sizeof(marker)) < 0 ||
	    (size_t)snprintf(dir, sizeof(dir), "%s/pending", cfg->state_dir) >= sizeof(dir)) {
		say("the state directory path is too long");
		return ET_EXIT_CONFIG;
	}
	deadline = et_mono_ms() + ET_GUARD_WAIT_S * 1000LL;
	for (int i = 0; i < argc - 1; i++) {
		int fd = (int)syscall(SYS_pidfd_open, pids[i], 0);
		if (fd >= 0) {
			fds[n_fds++] = (struct pollfd){ .fd = fd, .events = POLLIN };
			n_alive++;
		} else if (errno != ESRCH) { /* ESRCH: already gone */
			/* without a pidfd (Linux < 5.3) the wait is the whole limit */
			say("cannot watch process %ld: %s: waiting %d s", (long)pids[i], strerror(errno), ET_GUARD_WAIT_S);
			unwatched = true;
		}
	}
	/* the marker going away (the login succeeded) ends the watch early */
	ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (ino >= 0 && inotify_add_watch(ino, dir, IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF) < 0) {
		close(ino);
		ino = -1;
	}
	for (;;) {
		long long left;
		int pr;
		if (!marker_present(marker))
			goto quiet;
		if (n_alive == 0 && !unwatched)
			break;
		left = deadline - et_mono_ms();
		if (left <= 0)
			break;
		fds[n_fds] = (struct pollfd){ .fd = ino, .events = POLLIN }; /* poll skips a negative fd */
		pr = poll(fds, n_fds + 1, (int)left);
		if (pr < 0 && errno != EINTR)
			break;
		for (size_t i = 0; pr > 0 && i < n_fds; i++) {
			if (fds[i].fd >= 0 && fds[i].revents) {
				close(fds[i].fd);
				fds[i].fd = -1;
				n_alive--;
			}
		}
		if (pr > 0 && ino >= 0 && fds[n_fds].revents) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			if (fds[n_fds].revents & (POLLERR | POLLHUP | POLLNVAL)) {
				close(ino);
				ino = -1;
			} else {
				while (read(ino, buf, sizeof(buf)) > 0)
					;
			}
		}
	}
	if (!marker_present(marker))
		goto quiet;
	/* nobody settled the transaction: the login did not succeed */
	if (et_grant_revoke(cfg, id, ET_REVOKE_LOGIN_FAILED, (uid_t)-1, time(NULL), &g, &err) < 0) {
		if (err.code != ET_E_NOT_FOUND) {
			rc = fail(&err);
			goto done; /* the marker stays: the sweep tries again */
		}
	} else {
		printf("grant %s ended: its login never succeeded\n", g.id);
	}
	(void)unlink(marker);
	goto done;
quiet:
	rc = ET_EXIT_OK;
done:
	for (size_t i = 0; i < n_fds; i++)
		if (fds[i].fd >= 0)
			close(fds[i].fd);
	if (ino >= 0)
		close(ino);
	return rc;
}

/* ---- elevate: a sign-in through PAM, for the real uid, like su ---- */

/* The PAM service, and the PAM environment through which the module learns what was asked. */
#define ELEVATE_SERVICE "entra-tap"
#define ELEVATE_ENV_DURATION "ENTRA_TAP_DURATION"
#define ELEVATE_ENV_REASON "ENTRA_TAP_REASON"
#define ELEVATE_ENV_GRANT_ID "ENTRA_TAP_GRANT_ID"

/* One sentence and one exit status per class of PAM failure. A refusal by the account phase
 * (pam_deny answers PAM_AUTH_ERR there) is a matter of permission, not of the sign-in. */
static int elevate_failed(int pam_rc, bool account_phase, const char *user)
{
	if (account_phase && (pam_rc == PAM_AUTH_ERR || pam_rc == PAM_CRED_INSUFFICIENT || pam_rc == PAM_USER_UNKNOWN))
		pam_rc = PAM_PERM_DENIED;
	switch (pam_rc) {
	case PAM_AUTH_ERR:
	case PAM_CRED_INSUFFICIENT:
		say("elevate: the sign-in failed: no grant was made");
		return ET_EXIT_DENIED;
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
		say("elevate: %s is not allowed an elevation: no grant was made", user);
		return ET_EXIT_DENIED;
	case PAM_MAXTRIES:
		say("elevate: too many failed sign-ins for %s; try again later: no grant was made", user);
		return ET_EXIT_DENIED;
	case PAM_USER_UNKNOWN:
		say("elevate: no Entra ID account is known for %s: no grant was made", user);
		return ET_EXIT_NOT_FOUND;
	case PAM_AUTHINFO_UNAVAIL:
		say("elevate: the identity provider could not be reached: no grant was made");
		return ET_EXIT_IDP_UNAVAILABLE;
	case PAM_CONV_ERR:
	case PAM_ABORT:
		say("elevate: the sign-in was cancelled: no grant was made");
		return ET_EXIT_FAILED;
	default:
		say("elevate: the sign-in did not complete (%s): no grant was made", pam_strerror(NULL, pam_rc));
		return ET_EXIT_FAILED;
	}
}

static bool text_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* The caller's grant made by this sign-in: the one the module named in the PAM environment,
 * or else the caller's newest live grant created since `since`. */
static int elevate_find_grant(const struct et_config *cfg, const struct caller *who, const char *named,
			      time_t since, time_t now, struct et_grant *ret)
{
	struct et_grant_list l = { 0 };
	struct et_grant g;
	struct et_err err;
	const struct et_grant *best = NULL;

	if (named[0] && et_grant_store_read(cfg, named, &g, &err) == 0 && g.uid == who->uid && g.expires > now) {
		*ret = g;
		return 0;
	}
	if (et_grant_store_list(cfg, who->name, &l, &err) < 0) {
		say("%s", err.message);
		return -1;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct et_grant *c = &l.items[i];
		if (c->uid != who->uid || c->expires <= now || c->created < since)
			continue;
		if (!best || c->created > best->created || (c->created == best->created && c->expires > best->expires))
			best = c;
	}
	if (best)
		*ret = *best;
	et_grant_list_free(&l);
	return best ? 0 : -1;
}

static int verb_elevate(const struct et_config *cfg, const struct caller *who, int argc, char **argv)
{
	const char *duration = NULL, *reason = NULL, *item = NULL;
	struct opt opts[] = { { "--duration", &duration }, { "--reason", &reason } };
	struct pam_conv conv = { misc_conv, NULL };
	pam_handle_t *pamh = NULL;
	char env[sizeof(ELEVATE_ENV_REASON "=") + ET_GRANT_TEXT_MAX], named[ET_GRANT_ID_HEX + 1] = "";
	char tty[256], until[64], left[64];
	struct et_grant g;
	long asked = 0, clamped;
	time_t since = time(NULL), now;
	bool account_phase = false;
	int rc;

	if (parse_opts(argc, argv, opts, sizeof(opts) / sizeof(opts[0])) < 0)
		return ET_EXIT_USAGE;
	if (duration && et_duration_parse(duration, &asked) < 0) {
		say("'%.64s' is not a duration (like 90s, 10m, 8h or 1d)", duration);
		return ET_EXIT_USAGE;
	}
	if (reason && strlen(reason) > ET_GRANT_TEXT_MAX) {
		say("the reason is longer than %d bytes", ET_GRANT_TEXT_MAX);
		return ET_EXIT_USAGE;
	}
	if (reason && !text_printable(reason)) {
		say("the reason must be one line of printable text");
		return ET_EXIT_USAGE;
	}
	if (!who->have_name) {
		say("your uid %lu has no user name", (unsigned long)who->uid);
		return ET_EXIT_NOT_FOUND;
	}
	clamped = et_grant_clamp_duration(cfg, asked);
	if (asked && clamped != asked)
		say("duration %lds is outside the allowed %lds..%lds: asking for %lds", asked, cfg->duration_min,
		    cfg->duration_max, clamped);

	/* This process edits nothing itself (the module runs the root verb in a process of its
	 * own), so the person at the terminal may interrupt a sign-in, as with su. */
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);

	rc = pam_start(ELEVATE_SERVICE, who->name, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		say("cannot start the PAM service " ELEVATE_SERVICE ": %s", pam_strerror(pamh, rc));
		return ET_EXIT_FAILED;
	}
	rc = pam_set_item(pamh, PAM_RUSER, who->name);
	if (rc == PAM_SUCCESS && isatty(STDIN_FILENO) && ttyname_r(STDIN_FILENO, tty, sizeof(tty)) == 0)
		rc = pam_set_item(pamh, PAM_TTY, tty);
	if (rc == PAM_SUCCESS) {
		snprintf(env, sizeof(env), ELEVATE_ENV_DURATION "=%ld", clamped);
		rc = pam_putenv(pamh, env);
	}
	if (rc == PAM_SUCCESS && reason) {
		snprintf(env, sizeof(env), ELEVATE_ENV_REASON "=%s", reason);
		rc = pam_putenv(pamh, env);
	}
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(pamh, 0);
	if (rc == PAM_SUCCESS) {
		account_phase = true;
		rc = pam_acct_mgmt(pamh, 0);
	}
	/* a module must not turn this into somebody else's sign-in */
	if (rc == PAM_SUCCESS &&
	    (pam_get_item(pamh, PAM_USER, (const void **)&item) != PAM_SUCCESS || !item || strcmp(item, who->name) != 0)) {
		say("elevate: the PAM stack changed the user name: refused");
		rc = PAM_PERM_DENIED;
	}
	if (rc == PAM_SUCCESS) {
		const char *id = pam_getenv(pamh, ELEVATE_ENV_GRANT_ID);
		if (id && et_grant_id_ok(id))
			snprintf(named, sizeof(named), "%s", id);
	}
	/* the status tells the module whether the transaction succeeded: a grant made during a
	 * failed one is ended by the module's cleanup */
	pam_end(pamh, rc);
	if (rc != PAM_SUCCESS)
		return elevate_failed(rc, account_phase, who->name);

	now = time(NULL);
	if (elevate_find_grant(cfg, who, named, since, now, &g) < 0) {
		say("elevate: you signed in, but no grant was made: the PAM service " ELEVATE_SERVICE
		    " must use pam_entra_tap.so with the grant option");
		return ET_EXIT_FAILED;
	}
	{
		struct tm tm;
		if (!localtime_r(&g.expires, &tm) || !strftime(until, sizeof(until), "%Y-%m-%d %H:%M:%S %Z", &tm))
			snprintf(until, sizeof(until), "%lld", (long long)g.expires);
	}
	format_left(g.expires, now, left, sizeof(left));
	printf("group %s until %s (%s), grant %s\n", g.group, until, left, g.id);
	return ET_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const char *const root_verbs[] = { "grant", "revoke", "list", "sweep", "guard" };
	struct et_config cfg;
	struct caller who = { 0 };
	struct et_err err;
	const char *verb;
	bool root_verb = false, cfg_ready = false;
	int rc = ET_EXIT_FAILED;

	if (fix_std_fds() < 0)
		return ET_EXIT_UNSAFE;
	/* Linux 5.18 and later replace an empty argv by { "" }: refuse that as well. */
	if (argc < 1 || !argv || !argv[0] || !argv[0][0]) {
		say("refusing to run without argv[0]");
		return ET_EXIT_UNSAFE;
	}
	if (harden() < 0) {
		say("cannot sanitise the process: %s", strerror(errno));
		return ET_EXIT_UNSAFE;
	}
	if (geteuid() != 0) {
		say("must be installed setuid root");
		return ET_EXIT_UNSAFE;
	}
	if (argc > ARGC_MAX) {
		say("too many arguments (at most %d)", ARGC_MAX - 1);
		return ET_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (strnlen(argv[i], ARG_MAX_BYTES + 1) > ARG_MAX_BYTES) {
			say("argument %d is longer than %d bytes", i, ARG_MAX_BYTES);
			return ET_EXIT_USAGE;
		}
	}

	who.uid = getuid();
	{
		struct passwd pw, *found = NULL;
		char buf[4096];
		if (getpwuid_r(who.uid, &pw, buf, sizeof(buf), &found) == 0 && found && et_local_name_ok(pw.pw_name) &&
		    strlen(pw.pw_name) <= ET_GRANT_NAME_MAX) {
			snprintf(who.name, sizeof(who.name), "%s", pw.pw_name);
			who.have_name = true;
		}
	}
	if (become_root() < 0) {
		say("cannot switch to root: %s", strerror(errno));
		return ET_EXIT_UNSAFE;
	}

	if (argc < 2) {
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	verb = argv[1];
	if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0) {
		usage(stdout);
		return ET_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(root_verbs) / sizeof(root_verbs[0]); i++)
		if (strcmp(verb, root_verbs[i]) == 0)
			root_verb = true;
	if (!root_verb && strcmp(verb, "status") != 0 && strcmp(verb, "drop") != 0 && strcmp(verb, "elevate") != 0) {
		say("unknown verb '%.64s'", verb);
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	if (root_verb && who.uid != 0) {
		refuse(&who, verb, "a root-only verb from a non-root caller");
		say("%s is for root only", verb);
		return ET_EXIT_DENIED;
	}
	if (et_config_init(&cfg) < 0) {
		say("out of memory");
		return ET_EXIT_FAILED;
	}
	cfg_ready = true;
	cfg.log.fn = log_stderr;
	if (et_config_load(&cfg, ET_DEFAULT_CONFIG, &err) < 0 || et_config_finish(&cfg, &err) < 0) {
		struct et_audit a = { .user = who.have_name ? who.name : NULL, .reason = err.reason };
		(void)et_audit(ET_AUDIT_ERROR, LOG_ERR, &a, "%s: the configuration cannot be used: %s", verb, err.message);
		say("%s", err.message);
		rc = ET_EXIT_CONFIG;
		goto done;
	}

	if (strcmp(verb, "status") == 0)
		rc = verb_status(&cfg, &who, argc - 2, argv + 2);
	else if (strcmp(verb, "drop") == 0)
		rc = verb_drop(&cfg, &who, argc - 2, argv + 2);
	else if (strcmp(verb, "elevate") == 0)
		rc = verb_elevate(&cfg, &who, argc - 2, argv + 2);
	else if (strcmp(verb, "grant") == 0)
		rc = verb_grant(&cfg, argc - 2, argv + 2);
	else if (strcmp(verb, "revoke") == 0)
		rc = verb_revoke(&cfg, argc - 2, argv + 2);
	else if (strcmp(verb, "list") == 0)
		rc = verb_list(&cfg, argc - 2, argv + 2);
	else if (strcmp(verb, "guard") == 0)
		rc = verb_guard(&cfg, argc - 2, argv + 2);
	else
		rc = verb_sweep(&cfg, argc - 2, argv + 2);
done:
	if (cfg_ready)
		et_config_free(&cfg);
	if (fflush(stdout) != 0 && rc == ET_EXIT_OK)
		rc = ET_EXIT_FAILED;
	return rc;
}
