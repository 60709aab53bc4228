/* SPDX-License-Identifier: Apache-2.0 */
/* Shared start-up and output of the two programs (progutil.h). */
#include "progutil.h"
#include "spawn.h"
#include "args.h"
#include "audit.h"
#include "conf.h"
#include "identity.h"
#include "lastgood.h"
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#define SAFE_PATH "/usr/sbin:/usr/bin:/sbin:/bin"

const char *et_prog_name = "entra-tap";

/* Root only keeps the copy the ends of grants fall back on (lastgood.h) */
static const char *keep_path(void)
{
	return geteuid() == 0 ? ET_LAST_GOOD_CONFIG : NULL;
}

void et_say(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", et_prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void et_log_stderr(void *data, int level, const char *msg)
{
	(void)data;
	(void)level;
	et_say("%s", msg);
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

/* The caller's resource limits and signal dispositions survive exec, setuid or not: a file
 * size limit below the size of /etc/group with SIGXFSZ ignored makes every write of it fail,
 * a handful of file descriptors makes the lock or the backup fail half way, a blocked
 * SIGALRM makes lckpwdf wait for ever. As shadow-utils' programs do, start from known limits
 * (root may raise a hard limit) and default dispositions with nothing blocked. */
static const struct {
	int resource;
	rlim_t floor;   /* RLIM_INFINITY: no limit at all */
	bool essential; /* below its floor the edit cannot be done whole: refuse to run */
} limits[] = {
	{ RLIMIT_FSIZE, RLIM_INFINITY, true }, { RLIMIT_NOFILE, 1024, true },       { RLIMIT_CPU, RLIM_INFINITY, false },
	{ RLIMIT_DATA, RLIM_INFINITY, false }, { RLIMIT_AS, RLIM_INFINITY, false }, { RLIMIT_STACK, 8u << 20, false },
	{ RLIMIT_NPROC, RLIM_INFINITY, false }, { RLIMIT_LOCKS, RLIM_INFINITY, false },
};

static bool below(rlim_t cur, rlim_t floor)
{
	return cur != RLIM_INFINITY && (floor == RLIM_INFINITY || cur < floor);
}

static int limits_reset(void)
{
	struct rlimit rl = { 0, 0 };
	/* no core file of a process that read the store and the group files */
	if (setrlimit(RLIMIT_CORE, &rl) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		struct rlimit want;
		if (getrlimit(limits[i].resource, &rl) < 0)
			return -1;
		if (!below(rl.rlim_cur, limits[i].floor))
			continue;
		want.rlim_cur = limits[i].floor;
		want.rlim_max = below(rl.rlim_max, limits[i].floor) ? limits[i].floor : rl.rlim_max;
		if (setrlimit(limits[i].resource, &want) == 0)
			continue;
		/* raising a hard limit takes CAP_SYS_RESOURCE; the soft one may always go up to it */
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(limits[i].resource, &rl);
		if (limits[i].essential && below(rl.rlim_cur, limits[i].floor)) {
			errno = EPERM;
			return -1;
		}
	}
	return 0;
}

static int harden(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -1;
	if (limits_reset() < 0)
		return -1;
	et_signals_default();
	umask(077);
	if (clearenv() != 0 || setenv("PATH", SAFE_PATH, 1) < 0)
		return -1;
	/* The caller's terminal must not interrupt or stop an edit half way: a kill is survivable
	 * (see groupfile_edit.c), but a stopped process holding the locks would block everyone. */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int et_prog_start(const char *name, int argc, char **argv)
{
	et_prog_name = name;
	if (fix_std_fds() < 0)
		return ET_EXIT_UNSAFE;
	/* Linux 5.18 and later replace an empty argv by { "" }: refuse that as well. */
	if (argc < 1 || !argv || !argv[0] || !argv[0][0]) {
		et_say("refusing to run without argv[0]");
		return ET_EXIT_UNSAFE;
	}
	if (harden() < 0) {
		et_say("cannot sanitise the process: %s", strerror(errno));
		return ET_EXIT_UNSAFE;
	}
	if (argc > ET_ARGC_MAX) {
		et_say("too many arguments (at most %d)", ET_ARGC_MAX - 1);
		return ET_EXIT_USAGE;
	}
	for (int i = 1; i < argc; i++) {
		if (strnlen(argv[i], ET_ARG_MAX_BYTES + 1) > ET_ARG_MAX_BYTES) {
			et_say("argument %d is longer than %d bytes", i, ET_ARG_MAX_BYTES);
			return ET_EXIT_USAGE;
		}
	}
	return ET_EXIT_OK;
}

int et_exit_for(const struct et_err *e)
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

int et_fail(const struct et_err *e)
{
	et_say("%s", e->message);
	return et_exit_for(e);
}

void et_caller_of(uid_t uid, struct et_caller *ret)
{
	struct passwd pw, *found = NULL;
	char buf[4096];
	memset(ret, 0, sizeof(*ret));
	ret->uid = uid;
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found && et_local_name_ok(pw.pw_name) &&
	    strlen(pw.pw_name) <= ET_GRANT_NAME_MAX) {
		snprintf(ret->name, sizeof(ret->name), "%s", pw.pw_name);
		ret->have_name = true;
	}
}

void et_refuse(const struct et_caller *who, const char *verb, const char *why)
{
	struct et_audit a = { .user = who->have_name ? who->name : NULL, .reason = why };
	(void)et_audit(ET_AUDIT_REFUSED, LOG_WARNING, &a, "%s refused for uid %lu: %s", verb, (unsigned long)who->uid,
		       why);
}

int et_prog_config(struct et_config *cfg, const struct et_caller *who, const char *verb)
{
	struct et_err err;
	cfg->log.fn = et_log_stderr;
	if (et_config_load_keep(cfg, ET_DEFAULT_CONFIG, keep_path(), &err) < 0) {
		struct et_audit a = { .user = who && who->have_name ? who->name : NULL,
				      .reason = err.reason,
				      .error_class = et_class_name(et_err_class(&err)) };
		(void)et_audit(ET_AUDIT_ERROR, LOG_ERR, &a, "%s: the configuration cannot be used: %s", verb, err.message);
		et_say("%s", err.message);
		return -1;
	}
	return 0;
}

/* A verb that ends grants runs whatever the configuration's state (lastgood.h): from the last
 * good copy or the defaults when it cannot be used, audited at crit on every run. */
static int prog_config_for_ending(struct et_config *cfg, const struct et_caller *who, const char *verb)
{
	enum et_config_source src;
	struct et_err why;
	cfg->log.fn = et_log_stderr;
	if (et_config_load_for_ending(cfg, ET_DEFAULT_CONFIG, keep_path(), true, &src, &why) < 0) {
		et_say("out of memory");
		return -1;
	}
	if (src == ET_CONFIG_SOURCE_FILE)
		return 0;
	{
		struct et_audit a = { .user = who && who->have_name ? who->name : NULL,
				      .reason = et_config_source_name(src),
				      .error_class = et_class_name(et_err_class(&why)) };
		(void)et_audit(ET_AUDIT_CONFIG_UNUSABLE, LOG_CRIT, &a,
			       "%s: the configuration cannot be used: %s; grants end from %s until it is fixed", verb,
			       why.message, et_config_source_name(src));
		et_say("%s", why.message);
		et_say("ending grants from %s; nothing else works until the configuration is fixed",
		       et_config_source_name(src));
	}
	return 0;
}

int et_prog_run(enum et_program program, int argc, char **argv, const struct et_caller *who,
		void (*usage)(FILE *out), const et_verb_fn verbs[ET_VERB__COUNT])
{
	struct et_config cfg;
	struct et_args args;
	char why[160];
	int rc;

	if (et_args_parse(program, argc, argv, &args, why, sizeof(why)) < 0) {
		et_say("%s", why);
		usage(stderr);
		return ET_EXIT_USAGE;
	}
	if (args.help) {
		usage(stdout);
		return ET_EXIT_OK;
	}
	if (args.version) {
		printf("%s (pam_entra_tap) %s\n", et_prog_name, PACKAGE_VERSION);
		return ET_EXIT_OK;
	}
	if (!verbs[args.verb]) /* a verb of the program's own table: never here */
		return ET_EXIT_USAGE;
	if (et_config_init(&cfg) < 0) {
		et_say("out of memory");
		return ET_EXIT_FAILED;
	}
	if ((et_verbs[args.verb].ends ? prog_config_for_ending(&cfg, who, argv[1]) : et_prog_config(&cfg, who, argv[1])) < 0)
		rc = ET_EXIT_CONFIG;
	else
		rc = verbs[args.verb](&cfg, who, &args);
	et_config_free(&cfg);
	return rc;
}

json_object *et_grant_json(const struct et_grant *g, time_t now)
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

int et_verb_find(enum et_program program, const char *name)
{
	for (int v = 0; v < ET_VERB__COUNT; v++)
		if (et_verbs[v].program == program && strcmp(et_verbs[v].name, name) == 0)
			return v;
	return -1;
}

void et_format_utc(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

void et_format_local(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

void et_format_hhmm(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (!localtime_r(&t, &tm) || !strftime(buf, size, "%H:%M", &tm))
		snprintf(buf, size, "%lld", (long long)t);
}

void et_format_left(time_t expires, time_t now, char *buf, size_t size)
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
