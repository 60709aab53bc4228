/* SPDX-License-Identifier: Apache-2.0 */
/* One strict parser for the programs' command lines (args.h). */
#include "args.h"
#include "conf.h"
#include "grant_store.h"
#include "identity.h"
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4))) static int refuse(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return -1;
}

/* One line of printable text: no control character (C0 or DEL). */
static bool text_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

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

struct opt {
	const char *name;
	const char **value;
	bool *flag; /* instead of value: an option without a value */
};

/* --name VALUE pairs and --flag options, each at most once. */
static int parse_opts(int argc, char *const argv[], struct opt *opts, size_t n_opts, char *why, size_t size)
{
	for (int i = 0; i < argc; i++) {
		size_t k;
		for (k = 0; k < n_opts; k++)
			if (strcmp(argv[i], opts[k].name) == 0)
				break;
		if (k == n_opts)
			return refuse(why, size, "unknown argument '%.64s'", argv[i]);
		if (opts[k].flag) {
			if (*opts[k].flag)
				return refuse(why, size, "%s is given twice", opts[k].name);
			*opts[k].flag = true;
			continue;
		}
		if (i + 1 >= argc)
			return refuse(why, size, "%s needs a value", opts[k].name);
		if (*opts[k].value)
			return refuse(why, size, "%s is given twice", opts[k].name);
		*opts[k].value = argv[++i];
	}
	return 0;
}

static int duration_arg(const char *s, struct et_args *a, char *why, size_t size)
{
	if (s && (et_duration_parse(s, &a->duration) < 0 || a->duration < 0))
		return refuse(why, size, "'%.64s' is not a duration (like 90s, 10m, 8h or 1d)", s);
	return 0;
}

/* Seconds since the epoch: digits only, no leading zero, > 0, before the year 10000. */
static int epoch_arg(const char *s, time_t *ret, char *why, size_t size)
{
	long long n = 0;
	if (!s)
		return 0;
	if (!*s || s[0] == '0')
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || n > 253402300799LL / 10)
			goto bad;
		n = n * 10 + (*p - '0');
	}
	if (n > 253402300799LL)
		goto bad;
	*ret = (time_t)n;
	return 0;
bad:
	return refuse(why, size, "'%.64s' is not a time in seconds since the epoch", s);
}

/* A reason: within its cap; from a user (elevate), also one printable line. grant's reason
 * comes from root or the module and is sanitised into the record (et_text_sanitize). */
static int reason_arg(const char *s, bool from_user, char *why, size_t size)
{
	if (s && strlen(s) > ET_GRANT_TEXT_MAX)
		return refuse(why, size, "the reason is longer than %d bytes", ET_GRANT_TEXT_MAX);
	if (s && from_user && !text_printable(s))
		return refuse(why, size, "the reason must be one line of printable text");
	return 0;
}

static int user_arg(const char *s, char *why, size_t size)
{
	if (!et_local_name_ok(s) || strlen(s) > ET_GRANT_NAME_MAX)
		return refuse(why, size, "'%.64s' is not a valid local user name", s);
	return 0;
}

static int id_arg(const char *s, char *why, size_t size)
{
	if (!et_grant_id_ok(s))
		return refuse(why, size, "'%.64s' is not a grant id (32 hexadecimal digits)", s);
	return 0;
}

/* --watch PID[,PID]: the processes whose end, before the login settles, revokes the grant */
static int watch_arg(const char *s, struct et_args *a, char *why, size_t size)
{
	char buf[32];
	char *save = NULL, *tok;
	if (strlen(s) >= sizeof(buf))
		return refuse(why, size, "--watch takes one or %d process ids", ET_GUARD_PIDS_MAX);
	memcpy(buf, s, strlen(s) + 1);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (a->n_pids >= ET_GUARD_PIDS_MAX || !pid_parse(tok, &a->pids[a->n_pids]))
			return refuse(why, size, "--watch takes one or %d process ids, not '%.64s'", ET_GUARD_PIDS_MAX, s);
		a->n_pids++;
	}
	if (a->n_pids == 0 || s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		return refuse(why, size, "--watch takes one or %d process ids, not '%.64s'", ET_GUARD_PIDS_MAX, s);
	return 0;
}

static int verb_args(struct et_args *a, int argc, char *const argv[], char *why, size_t size)
{
	const char *duration = NULL, *method = NULL, *cause = NULL, *pim_until = NULL, *watch = NULL;

	switch (a->verb) {
	case ET_VERB_STATUS:
		if (argc == 1 && strcmp(argv[0], ET_OPT_JSON) == 0) {
			a->json = true;
			return 0;
		}
		return argc == 0 ? 0 : refuse(why, size, "status takes only --json");
	case ET_VERB_DROP:
		if (argc > 1)
			return refuse(why, size, "drop takes at most one grant id");
		if (argc == 1) {
			a->id = argv[0];
			return id_arg(a->id, why, size);
		}
		return 0;
	case ET_VERB_ELEVATE: {
		struct opt o[] = { { ET_OPT_DURATION, &duration, NULL }, { ET_OPT_REASON, &a->reason, NULL } };
		if (parse_opts(argc, argv, o, sizeof(o) / sizeof(o[0]), why, size) < 0 ||
		    duration_arg(duration, a, why, size) < 0)
			return -1;
		return reason_arg(a->reason, true, why, size);
	}
	case ET_VERB_GRANT: {
		struct opt o[] = {
			{ ET_OPT_DURATION, &duration, NULL }, { ET_OPT_REASON, &a->reason, NULL },   { ET_OPT_METHOD, &method, NULL },
			{ ET_OPT_OID, &a->oid, NULL },        { ET_OPT_UPN, &a->upn, NULL },         { ET_OPT_TID, &a->tid, NULL },
			{ ET_OPT_SERVICE, &a->service, NULL }, { ET_OPT_RHOST, &a->rhost, NULL },   { ET_OPT_PIM_UNTIL, &pim_until, NULL },
			{ ET_OPT_WATCH, &watch, NULL },       { ET_OPT_EXTEND, NULL, &a->extend },
		};
		if (argc < 1 || argv[0][0] == '-')
			return refuse(why, size, "grant needs a user name first");
		a->user = argv[0];
		if (user_arg(a->user, why, size) < 0 ||
		    parse_opts(argc - 1, argv + 1, o, sizeof(o) / sizeof(o[0]), why, size) < 0 ||
		    duration_arg(duration, a, why, size) < 0 || epoch_arg(pim_until, &a->pim_until, why, size) < 0)
			return -1;
		if (method) {
			if (et_grant_method_parse(method, &a->method) < 0)
				return refuse(why, size, "'%.64s' is not a method (tap, device_code, token, breakglass, admin, password)",
					      method);
			a->have_method = true;
		}
		if (watch && watch_arg(watch, a, why, size) < 0)
			return -1;
		return reason_arg(a->reason, false, why, size);
	}
	case ET_VERB_REVOKE:
		if (argc == 2 && strcmp(argv[0], ET_OPT_USER) == 0) {
			a->user = argv[1];
			return user_arg(a->user, why, size);
		}
		if (argc != 1)
			return refuse(why, size, "revoke takes one grant id, or --user USER");
		a->id = argv[0];
		return id_arg(a->id, why, size);
	case ET_VERB_LIST:
		if (argc == 0)
			return 0;
		if (argc == 1 && strcmp(argv[0], ET_OPT_JSON) == 0) {
			a->json = true;
			return 0;
		}
		return refuse(why, size, "list takes only --json");
	case ET_VERB_SWEEP: {
		struct opt o[] = { { ET_OPT_USER, &a->user, NULL }, { ET_OPT_CAUSE, &cause, NULL } };
		if (parse_opts(argc, argv, o, sizeof(o) / sizeof(o[0]), why, size) < 0)
			return -1;
		if (a->user && user_arg(a->user, why, size) < 0)
			return -1;
		if (cause && strcmp(cause, ET_CAUSE_ACCOUNT) == 0)
			a->cause_account = true;
		else if (cause && strcmp(cause, ET_CAUSE_SWEEP) != 0)
			return refuse(why, size, "--cause is '" ET_CAUSE_SWEEP "' or '" ET_CAUSE_ACCOUNT "'");
		return 0;
	}
	case ET_VERB_GUARD:
		if (argc < 2 || argc > 1 + ET_GUARD_PIDS_MAX)
			return refuse(why, size, "guard takes a grant id and one or %d process ids", ET_GUARD_PIDS_MAX);
		a->id = argv[0];
		if (id_arg(a->id, why, size) < 0)
			return -1;
		for (int i = 1; i < argc; i++)
			if (!pid_parse(argv[i], &a->pids[a->n_pids++]))
				return refuse(why, size, "'%.64s' is not a process id", argv[i]);
		return 0;
	case ET_VERB_ADOPT:
		return argc == 0 ? 0 : refuse(why, size, "adopt takes no arguments");
	case ET_VERB_TIE: {
		struct opt o[] = { { ET_OPT_TTY, &a->tty, NULL } };
		if (argc < 2)
			return refuse(why, size, "tie takes a user name and a process id");
		a->user = argv[0];
		if (user_arg(a->user, why, size) < 0)
			return -1;
		if (!pid_parse(argv[1], &a->tie_pid))
			return refuse(why, size, "'%.64s' is not a process id", argv[1]);
		if (parse_opts(argc - 2, argv + 2, o, sizeof(o) / sizeof(o[0]), why, size) < 0)
			return -1;
		if (a->tty && (strncmp(a->tty, "/dev/", 5) != 0 || strlen(a->tty) > 64 || strstr(a->tty, "/../") ||
			       !text_printable(a->tty) || strchr(a->tty, ' ')))
			return refuse(why, size, "--tty takes a terminal under /dev/");
		return 0;
	}
	case ET_VERB_WARN:
		if (argc != 1)
			return refuse(why, size, "warn takes one grant id");
		a->id = argv[0];
		return id_arg(a->id, why, size);
	case ET_VERB__COUNT:
		break;
	}
	return refuse(why, size, "no such verb");
}

int et_args_parse(enum et_program program, int argc, char *const argv[], struct et_args *ret, char *why,
		  size_t why_size)
{
	struct et_args a;
	int v;

	memset(&a, 0, sizeof(a));
	memset(ret, 0, sizeof(*ret));
	why[0] = '\0';
	if (argc < 2 || !argv[1])
		return refuse(why, why_size, "no verb");
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "--version") == 0) {
		if (argc != 2)
			return refuse(why, why_size, "%s takes no arguments", argv[1]);
		if (strcmp(argv[1], "--version") == 0)
			ret->version = true;
		else
			ret->help = true;
		return 0;
	}
	for (v = 0; v < ET_VERB__COUNT; v++)
		if (strcmp(argv[1], et_verbs[v].name) == 0)
			break;
	if (v == ET_VERB__COUNT)
		return refuse(why, why_size, "unknown verb '%.64s'", argv[1]);
	if (et_verbs[v].program != program)
		return refuse(why, why_size, "%s is not a verb of this program%s", et_verbs[v].name,
			      et_verbs[v].admin ? ": run `entra-tap` as root" : "");
	a.verb = (enum et_verb)v;
	if (verb_args(&a, argc - 2, argv + 2, why, why_size) < 0)
		return -1;
	*ret = a;
	return 0;
}
