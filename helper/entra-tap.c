/* SPDX-License-Identifier: Apache-2.0 */
/* entra-tap: the administrator's command line — check the configuration, look at the
 * identity provider, judge a token the way the PAM module would, reset an identity pin; and
 * the grant verbs of entra-tap-grantctl (grant, revoke, list, sweep, adopt), which it runs. */
#include "conf.h"
#include "contract.h"
#include "doctor.h"
#include "fsutil.h"
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "identity.h"
#include "jwks_cache.h"
#include "jws.h"
#include "oidc.h"
#include "verify.h"
#include "breakglass_cli.h"

#define EXIT_REJECTED 1
#define EXIT_USAGE 2

static void log_to_stderr(void *data, int level, const char *msg)
{
	(void)data;
	fprintf(stderr, "entra-tap: %s%s\n", level <= ET_LOG_ERR ? "error: " : level == ET_LOG_WARNING ? "warning: " : "",
		msg);
}

static const char usage_main[] =
	"Usage: entra-tap COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  check-config     parse and validate the configuration, print the effective values\n"
	"  discover         fetch the OpenID discovery document and the signing keys\n"
	"  verify-token     judge one token read on standard input, print a JSON verdict\n"
	"  reset-identity   forget the Entra object id pinned to a local user\n"
	"  doctor           check the wiring around the configuration (PAM, sudo, sshd, timers)\n"
	"  breakglass       keygen, issue and verify break-glass vouchers (entra-tap breakglass --help)\n"
	"  grant, revoke, list, sweep, adopt\n"
	"                   grants (root): run " ET_GRANTCTL_NAME ", see entra-tap-grantctl(8)\n"
	"\n"
	"Common options:\n"
	"  -c, --config FILE  configuration file (default " ET_DEFAULT_CONFIG ")\n"
	"  -d, --debug        log debug messages to standard error\n"
	"  -h, --help         show help for a command\n"
	"  --version          show the version (alone, instead of a command)\n"
	"\n"
	"Exit status: 0 success or token accepted, 1 token rejected or operation failed,\n"
	"2 usage or configuration error.\n";

static const char usage_check[] =
	"Usage: entra-tap check-config [--config FILE]\n"
	"Parse and validate the configuration file and print every key with its effective value,\n"
	"then what would keep a valid file from working (placeholder ids, a pass at the prompt\n"
	"without the password grant, a missing elevated group), one line each with its fix.\n"
	"Exit 0 when valid and usable, 1 when valid but unusable; on error print FILE:LINE: reason\n"
	"and exit 2.\n";
static const char usage_doctor[] =
	"Usage: entra-tap doctor [--config FILE] [--online]\n"
	"Check the host's wiring around the configuration, one line per finding with its fix:\n"
	"what check-config finds, sudo's and sshd's PAM stacks, sudo.conf's group_source, a sudoers\n"
	"rule for the elevated group (visudo -c), sshd's effective settings (sshd -T), the sweep\n"
	"timer, the clock; with --online also discovery and the signing keys.\n"
	"Exit 0 when nothing was found, 1 when something was, 2 on a usage or configuration error.\n";
static const char usage_discover[] =
	"Usage: entra-tap discover [--config FILE]\n"
	"Fetch the tenant's OpenID discovery document and its signing keys (or read the pinned\n"
	"jwks_file) and print the issuer, the endpoints and the key ids. Refreshes the key cache.\n";
static const char usage_verify[] =
	"Usage: entra-tap verify-token [--config FILE] [--at EPOCH] < token\n"
	"Read one token (compact JWS) on standard input and judge it as the PAM module would:\n"
	"signature, issuer, audience, tenant, time claims, identity mapping, identity pin and\n"
	"eligibility. Prints one JSON object:\n"
	"  {\"accept\": bool, \"reason\": \"...\", \"message\": \"...\", \"user\": \"...\",\n"
	"   \"eligible\": bool, \"claims\": {...}}\n"
	"--at EPOCH judges the time claims at that instant instead of now. The identity pin is\n"
	"reported but never recorded. Exit 0 accepted, 1 rejected, 2 usage or configuration error.\n";
static const char usage_reset[] =
	"Usage: entra-tap reset-identity [--config FILE] USER\n"
	"Forget the Entra tenant and object id pinned to local USER, so the next sign-in pins\n"
	"the identity it presents. Use it after verifying that the account really changed.\n";

struct cli {
	const char *config_path;
	int debug;
	long long at;
	int have_at;
	int online;
};

static int load_config(const struct cli *cli, struct et_config *cfg)
{
	struct et_err err;
	et_err_clear(&err);
	if (et_config_init(cfg) < 0) {
		fprintf(stderr, "entra-tap: out of memory\n");
		return -1;
	}
	cfg->log.fn = log_to_stderr;
	cfg->log.debug = cli->debug;
	if (et_config_load(cfg, cli->config_path, &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		et_config_free(cfg);
		return -1;
	}
	return 0;
}

static int parse_epoch(const char *s, long long *ret)
{
	char *end;
	long long v;
	if (!*s || !(*s >= '0' && *s <= '9'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v > (long long)INT32_MAX * 1024)
		return -1;
	*ret = v;
	return 0;
}

static int cmd_check_config(const struct cli *cli, const char *arg)
{
	(void)arg; /* takes no argument */
	struct et_config cfg;
	if (load_config(cli, &cfg) < 0)
		return EXIT_USAGE;
	unsigned found;
	printf("# %s: valid\n", cli->config_path);
	et_config_print(&cfg, stdout);
	found = et_doctor_config(&cfg, stdout);
	if (found)
		printf("# %s: valid, but %u finding%s above keep%s it from working\n", cli->config_path, found,
		       found == 1 ? "" : "s", found == 1 ? "s" : "");
	et_config_free(&cfg);
	return found ? EXIT_REJECTED : 0;
}

static int cmd_doctor(const struct cli *cli, const char *arg)
{
	(void)arg; /* takes no argument */
	struct et_config cfg;
	unsigned found;
	if (load_config(cli, &cfg) < 0)
		return EXIT_USAGE;
	found = et_doctor_host(&cfg, cli->online, stdout);
	printf("%u finding%s\n", found, found == 1 ? "" : "s");
	et_config_free(&cfg);
	return found ? EXIT_REJECTED : 0;
}

static void print_kids(const struct et_jwks *set)
{
	for (size_t i = 0; i < set->n; i++)
		printf("key: %s (%s)\n", set->keys[i].kid, set->keys[i].alg == ET_ALG_ES256 ? "ES256" : "RS256");
	if (set->skipped)
		printf("keys ignored: %zu (too small, unsupported or ambiguous)\n", set->skipped);
}

static int cmd_discover(const struct cli *cli, const char *arg)
{
	(void)arg; /* takes no argument */
	struct et_config cfg;
	struct et_oidc oidc;
	struct et_keystore ks;
	struct et_err err;
	int rc = 0;

	if (load_config(cli, &cfg) < 0)
		return EXIT_USAGE;
	memset(&oidc, 0, sizeof(oidc));
	et_err_clear(&err);
	if (et_oidc_discover(&cfg, &oidc, &err) < 0) {
		fprintf(stderr, "entra-tap: discovery failed (%s): %s\n", err.reason, err.message);
		rc = EXIT_REJECTED;
	} else {
		printf("issuer: %s\n", oidc.issuer);
		printf("jwks_uri: %s\n", oidc.jwks_uri);
		printf("token_endpoint: %s\n", oidc.token_endpoint);
		printf("device_authorization_endpoint: %s\n", oidc.device_authorization_endpoint);
	}
	et_keystore_init(&ks, &cfg);
	if (cfg.jwks_file)
		printf("keys: pinned in %s (never fetched)\n", cfg.jwks_file);
	if (et_keystore_refresh(&ks, time(NULL), &err) < 0) {
		fprintf(stderr, "entra-tap: signing keys unavailable (%s): %s\n", err.reason, err.message);
		rc = EXIT_REJECTED;
	} else {
		print_kids(&ks.jwks);
	}
	et_keystore_free(&ks);
	et_oidc_free(&oidc);
	et_config_free(&cfg);
	return rc;
}

/* Read stdin up to one byte past the JWS cap, so an oversized token is seen as such. */
static char *read_token(size_t *ret_len)
{
	size_t cap = ET_JWS_MAX_BYTES + 2;
	char *buf = malloc(cap + 1);
	if (!buf)
		return NULL;
	/* one trailing newline (from echo or a terminal) is not part of the token */
	*ret_len = et_read_pasted(stdin, buf, cap);
	return buf;
}

static int cmd_verify_token(const struct cli *cli, const char *arg)
{
	(void)arg; /* takes no argument */
	struct et_config cfg;
	struct et_keystore ks;
	struct et_verdict v;
	struct et_verify_opts opts;
	json_object *out;
	char *token;
	size_t len;
	int rc;

	if (load_config(cli, &cfg) < 0)
		return EXIT_USAGE;
	token = read_token(&len);
	if (!token) {
		fprintf(stderr, "entra-tap: out of memory\n");
		et_config_free(&cfg);
		return EXIT_USAGE;
	}
	memset(&opts, 0, sizeof(opts));
	opts.now = cli->have_at ? (time_t)cli->at : time(NULL);
	opts.record_pin = false;
	et_keystore_init(&ks, &cfg);
	et_token_verify(&ks, token, len, &opts, &v);
	explicit_bzero(token, len);
	free(token);

	out = json_object_new_object();
	json_object_object_add(out, "accept", json_object_new_boolean(v.accept));
	json_object_object_add(out, "reason", json_object_new_string(v.accept ? "accepted" : v.why.reason));
	json_object_object_add(out, "message",
			       json_object_new_string(v.accept ? "The token is valid and the account is eligible."
							       : v.why.message));
	json_object_object_add(out, "user", v.user ? json_object_new_string(v.user) : NULL);
	json_object_object_add(out, "eligible", json_object_new_boolean(v.eligible));
	json_object_object_add(out, "claims", v.claims ? json_object_get(v.claims) : NULL);
	printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(out);
	rc = v.accept ? 0 : EXIT_REJECTED;
	et_verdict_free(&v);
	et_keystore_free(&ks);
	et_config_free(&cfg);
	return rc;
}

static int cmd_reset_identity(const struct cli *cli, const char *user)
{
	struct et_config cfg;
	struct et_err err;
	int rc = 0;
	if (!et_local_name_ok(user)) {
		fprintf(stderr, "entra-tap: \"%s\" is not a valid local user name\n", user);
		return EXIT_USAGE;
	}
	if (load_config(cli, &cfg) < 0)
		return EXIT_USAGE;
	et_err_clear(&err);
	if (et_identity_pin_reset(&cfg, user, &err) < 0) {
		fprintf(stderr, "entra-tap: %s\n", err.message);
		rc = EXIT_REJECTED;
	} else {
		printf("identity pin for %s removed; the next sign-in pins the identity it presents\n", user);
	}
	et_config_free(&cfg);
	return rc;
}

/* breakglass takes its own words and options (breakglass_cli.c prints its help) */
static const char usage_breakglass[] = "Usage: entra-tap breakglass keygen|issue|verify ... (see entra-tap breakglass --help)\n";

/* The commands: one row each; a name not in the table is an error, never a default. */
enum cmd_args { ARGS_NONE, ARGS_USER, ARGS_SUBCOMMAND };
static const struct command {
	const char *name;
	const char *help;
	enum cmd_args args;
	bool at; /* takes --at */
	int (*run)(const struct cli *cli, const char *arg);
	int (*run_sub)(int argc, char **argv); /* ARGS_SUBCOMMAND: its own words and options */
} commands[] = {
	{ "check-config", usage_check, ARGS_NONE, false, cmd_check_config, NULL },
	{ "discover", usage_discover, ARGS_NONE, false, cmd_discover, NULL },
	{ "verify-token", usage_verify, ARGS_NONE, true, cmd_verify_token, NULL },
	{ "reset-identity", usage_reset, ARGS_USER, false, cmd_reset_identity, NULL },
	{ "breakglass", usage_breakglass, ARGS_SUBCOMMAND, false, NULL, et_cli_breakglass },
	{ "doctor", usage_doctor, ARGS_NONE, false, cmd_doctor, NULL },
};

/* An administrator's grant verb: entra-tap-grantctl does it, with the same arguments (it
 * reads only the default configuration and refuses anyone but root). */
static int run_grantctl(int argc, char **argv)
{
	static char name[] = ET_GRANTCTL_NAME;
	char *args[ET_ARGC_MAX + 1];
	if (argc > ET_ARGC_MAX) {
		fprintf(stderr, "entra-tap: too many arguments\n");
		return EXIT_USAGE;
	}
	args[0] = name;
	for (int i = 1; i < argc; i++)
		args[i] = argv[i];
	args[argc] = NULL;
	execv(ET_GRANTCTL_PATH, args);
	fprintf(stderr, "entra-tap: cannot run %s: %s\n", ET_GRANTCTL_PATH, strerror(errno));
	return EXIT_REJECTED;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "debug", no_argument, NULL, 'd' },
		{ "at", required_argument, NULL, 'a' },
		{ "online", no_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .config_path = ET_DEFAULT_CONFIG };
	const struct command *cmd = NULL;
	int c, want_help = 0, verb;

	if (argc < 2) {
		fputs(usage_main, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage_main, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("entra-tap (pam_entra_tap) %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd) {
		for (verb = 0; verb < ET_VERB__COUNT; verb++)
			if (et_verbs[verb].admin && strcmp(argv[1], et_verbs[verb].name) == 0)
				return run_grantctl(argc, argv);
		fprintf(stderr, "entra-tap: unknown command \"%s\" (try entra-tap --help)\n", argv[1]);
		return EXIT_USAGE;
	}

	if (cmd->args == ARGS_SUBCOMMAND)
		return cmd->run_sub(argc - 1, argv + 1);
	optind = 2;
	while ((c = getopt_long(argc, argv, "+c:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cli.config_path = optarg;
			break;
		case 'd':
			cli.debug = 1;
			break;
		case 'a':
			if (!cmd->at) {
				fprintf(stderr, "entra-tap: --at applies to verify-token only\n");
				return EXIT_USAGE;
			}
			if (parse_epoch(optarg, &cli.at) < 0) {
				fprintf(stderr, "entra-tap: --at wants seconds since the epoch, not \"%s\"\n", optarg);
				return EXIT_USAGE;
			}
			cli.have_at = 1;
			break;
		case 'o':
			if (cmd->run != cmd_doctor) {
				fprintf(stderr, "entra-tap: --online applies to doctor only\n");
				return EXIT_USAGE;
			}
			cli.online = 1;
			break;
		case 'h':
			want_help = 1;
			break;
		default:
			fputs(cmd->help, stderr);
			return EXIT_USAGE;
		}
	}
	if (want_help) {
		fputs(cmd->help, stdout);
		return 0;
	}
	if (cmd->args == ARGS_USER) {
		if (argc - optind != 1) {
			fputs(cmd->help, stderr);
			return EXIT_USAGE;
		}
		return cmd->run(&cli, argv[optind]);
	}
	if (optind != argc) {
		fprintf(stderr, "entra-tap: unexpected argument \"%s\"\n", argv[optind]);
		fputs(cmd->help, stderr);
		return EXIT_USAGE;
	}
	return cmd->run(&cli, NULL);
}
