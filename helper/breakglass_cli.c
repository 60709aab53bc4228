/* SPDX-License-Identifier: Apache-2.0 */
/* `entra-tap breakglass keygen|issue|verify`: the key holder's and the responder's side of
 * break-glass vouchers (common/voucher.h). keygen and issue run on the key holder's offline
 * machine and need no configuration; verify judges a voucher against this host's
 * configuration and never redeems it. */
#include "breakglass_cli.h"
#include "conf.h"
#include "fsutil.h"
#include "identity.h"
#include "qr.h"
#include "text.h"
#include "voucher.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXIT_REJECTED 1
#define EXIT_USAGE 2
#define KEY_FILE_MAX (16 * 1024)

const char et_cli_breakglass_usage[] =
	"Usage: entra-tap breakglass keygen --out FILE\n"
	"       entra-tap breakglass issue --key FILE --user USER --host PATTERN [--host PATTERN]...\n"
	"                                  --duration D --valid V --reason TEXT [--not-before EPOCH]\n"
	"       entra-tap breakglass verify [--config FILE] [--at EPOCH] < voucher\n"
	"\n"
	"keygen  write a new Ed25519 private key to FILE (PKCS#8 PEM, mode 0600, never\n"
	"        overwrites) and print its public key as one line ed25519:... for breakglass_keys\n"
	"issue   print a one-time voucher for USER on the hosts matching PATTERN ('*', '?'),\n"
	"        giving a grant of D (like 30m, 1h), redeemable for V from now (at most 7d);\n"
	"        on a terminal a QR code of it follows\n"
	"verify  read a voucher on standard input and explain it: valid or not and why, key id,\n"
	"        user, hosts, times; it never redeems. --at EPOCH judges it at that instant\n"
	"\n"
	"Exit status: 0 success or voucher valid, 1 voucher refused or operation failed,\n"
	"2 usage or configuration error.\n";

/* A private key's PEM text: wiped, then freed. */
static void secret_free(char *pem, size_t len)
{
	if (pem)
		explicit_bzero(pem, len);
	free(pem);
}

static void log_to_stderr(void *data, int level, const char *msg)
{
	(void)data;
	fprintf(stderr, "entra-tap: %s%s\n", level <= ET_LOG_ERR ? "error: " : "", msg);
}

ET_ATTR_PRINTF(1, 2) static int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "entra-tap: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	fputs(et_cli_breakglass_usage, stderr);
	return EXIT_USAGE;
}

static int parse_epoch(const char *s, long long *ret)
{
	long long v = 0;
	if (!*s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
		if (v > ET_VOUCHER_TIME_MAX)
			return -1;
	}
	*ret = v;
	return 0;
}

/* ---- keygen ---- */

static int bg_keygen(int argc, char **argv)
{
	static const struct option opts[] = { { "out", required_argument, NULL, 'o' }, { NULL, 0, NULL, 0 } };
	const char *out = NULL;
	unsigned char pub[ET_BG_RAW_KEY];
	char kid[ET_VOUCHER_KID_HEX + 1], *pem = NULL, *line = NULL;
	size_t pem_len = 0;
	struct et_err err;
	int c, fd, rc = EXIT_REJECTED;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'o')
			return usage_error("keygen: unknown option");
		out = optarg;
	}
	if (!out || optind != argc)
		return usage_error("keygen needs --out FILE and nothing else");
	if (et_bg_keygen(&pem, &pem_len, pub, &err) < 0) {
		fprintf(stderr, "entra-tap: %s\n", err.message);
		return EXIT_REJECTED;
	}
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "entra-tap: cannot create %s: %s%s\n", out, strerror(errno),
			errno == EEXIST ? " (an existing key is never overwritten)" : "");
		goto done;
	}
	if (fchmod(fd, 0600) < 0 || et_write_all(fd, pem, pem_len) < 0 || fsync(fd) < 0) {
		fprintf(stderr, "entra-tap: cannot write %s: %s\n", out, strerror(errno));
		close(fd);
		unlink(out);
		goto done;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "entra-tap: cannot write %s: %s\n", out, strerror(errno));
		unlink(out);
		goto done;
	}
	line = et_bg_key_format(pub);
	if (!line) {
		fprintf(stderr, "entra-tap: out of memory\n");
		goto done;
	}
	et_bg_kid(pub, kid);
	printf("%s\n", line);
	fprintf(stderr, "entra-tap: private key written to %s (key id %s); keep it off the hosts\n", out, kid);
	rc = 0;
done:
	secret_free(pem, pem_len);
	free(line);
	return rc;
}

/* ---- issue ---- */

static int bg_issue(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },      { "user", required_argument, NULL, 'u' },
		{ "host", required_argument, NULL, 'H' },     { "duration", required_argument, NULL, 'd' },
		{ "valid", required_argument, NULL, 'v' },    { "reason", required_argument, NULL, 'r' },
		{ "not-before", required_argument, NULL, 'n' }, { NULL, 0, NULL, 0 },
	};
	struct et_voucher v = { 0 };
	const char *key_path = NULL, *reason = NULL;
	char *pem = NULL, *voucher = NULL, *qr = NULL;
	size_t pem_len = 0;
	long dur = 0, valid = 0;
	unsigned char rnd[ET_VOUCHER_JTI_HEX / 2];
	struct et_err err;
	int c, rc = EXIT_USAGE;
	time_t now = time(NULL);

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key_path = optarg;
			break;
		case 'u':
			if (!et_local_name_ok(optarg) || strlen(optarg) > ET_VOUCHER_SUB_MAX) {
				rc = usage_error("\"%s\" is not a local user name", optarg);
				goto done;
			}
			snprintf(v.sub, sizeof(v.sub), "%s", optarg);
			break;
		case 'H':
			if (!*optarg || strlen(optarg) > ET_VOUCHER_HOST_MAX || strspn(optarg,
				"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.*?") != strlen(optarg)) {
				rc = usage_error("\"%s\" is not a host pattern (letters, digits, '-', '.', '*', '?')",
						 optarg);
				goto done;
			}
			if (et_strlist_add(&v.hosts, optarg) < 0) {
				rc = EXIT_REJECTED;
				goto done;
			}
			break;
		case 'd':
			if (et_duration_parse(optarg, &dur) < 0) {
				rc = usage_error("--duration wants a duration like 30m or 1h, not \"%s\"", optarg);
				goto done;
			}
			break;
		case 'v':
			if (et_duration_parse(optarg, &valid) < 0 || valid > ET_VOUCHER_VALID_MAX) {
				rc = usage_error("--valid wants a duration up to 7d, not \"%s\"", optarg);
				goto done;
			}
			break;
		case 'r':
			reason = optarg;
			break;
		case 'n':
			if (parse_epoch(optarg, &v.nbf) < 0) {
				rc = usage_error("--not-before wants seconds since the epoch, not \"%s\"", optarg);
				goto done;
			}
			v.has_nbf = true;
			break;
		default:
			rc = usage_error("issue: unknown option");
			goto done;
		}
	}
	if (optind != argc || !key_path || !v.sub[0] || v.hosts.n == 0 || !dur || !valid || !reason) {
		rc = usage_error("issue needs --key, --user, --host, --duration, --valid and --reason");
		goto done;
	}
	if (strlen(reason) >= sizeof(v.reason)) {
		rc = usage_error("the reason is longer than 200 characters");
		goto done;
	}
	snprintf(v.reason, sizeof(v.reason), "%s", reason);
	v.iat = (long long)now;
	v.exp = (long long)now + valid;
	v.dur = dur;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		fprintf(stderr, "entra-tap: no random bytes for the voucher id\n");
		rc = EXIT_REJECTED;
		goto done;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(v.jti + 2 * i, 3, "%02x", rnd[i]);
	rc = EXIT_REJECTED;
	if (et_file_read(key_path, KEY_FILE_MAX, 0, &pem, &pem_len, &err) < 0) {
		fprintf(stderr, "entra-tap: %s\n", err.message);
		goto done;
	}
	if (et_voucher_sign(pem, pem_len, &v, &voucher, &err) < 0) {
		fprintf(stderr, "entra-tap: %s\n", err.message);
		goto done;
	}
	/* the one reader checks what was written: a voucher it would refuse is never printed */
	{
		struct et_voucher back;
		unsigned char sig[ET_BG_SIG];
		size_t slen;
		if (et_voucher_parse(voucher, strlen(voucher), &back, sig, &slen, &err) < 0) {
			fprintf(stderr, "entra-tap: the voucher would be refused: %s\n", err.message);
			et_voucher_free(&back);
			goto done;
		}
		et_voucher_free(&back);
	}
	printf("%s\n", voucher);
	if (isatty(STDOUT_FILENO)) {
		qr = et_qr_render(voucher, ET_QR_COLUMNS_DEFAULT, &err);
		if (qr)
			printf("\n%s", qr);
		else
			fprintf(stderr, "entra-tap: no QR code: %s\n", err.message);
	}
	fprintf(stderr, "entra-tap: voucher %s for %s, valid until %lld, grant of %ld s\n", v.jti, v.sub, v.exp, dur);
	rc = 0;
done:
	secret_free(pem, pem_len);
	free(voucher);
	free(qr);
	et_voucher_free(&v);
	return rc;
}

/* ---- verify ---- */

static void print_time(const char *name, long long t)
{
	char buf[64] = "";
	time_t tt = (time_t)t;
	struct tm tm;
	if (gmtime_r(&tt, &tm))
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s: %lld (%s)\n", name, t, buf);
}

static int bg_verify(int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "at", required_argument, NULL, 'a' },
					      { NULL, 0, NULL, 0 } };
	const char *config_path = ET_DEFAULT_CONFIG;
	long long at = 0;
	int have_at = 0, c, rc = EXIT_USAGE;
	struct et_config cfg;
	struct et_voucher v;
	struct et_err err;
	struct et_voucher_ctx ctx = { 0 };
	char host_short[256], host_fqdn[256], buf[ET_VOUCHER_MAX + 3], safe[ET_VOUCHER_REASON_MAX * 4 + 1];
	size_t len = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:", opts, NULL)) != -1) {
		if (c == 'c') {
			config_path = optarg;
		} else if (c == 'a') {
			if (parse_epoch(optarg, &at) < 0)
				return usage_error("--at wants seconds since the epoch, not \"%s\"", optarg);
			have_at = 1;
		} else {
			return usage_error("verify: unknown option");
		}
	}
	if (optind != argc)
		return usage_error("verify takes no argument: the voucher is read on standard input");
	if (et_config_init(&cfg) < 0)
		return EXIT_USAGE;
	cfg.log.fn = log_to_stderr;
	if (et_config_load(&cfg, config_path, &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		et_config_free(&cfg);
		return EXIT_USAGE;
	}
	/* one trailing newline (echo, a terminal) is not part of the voucher */
	len = et_read_pasted(stdin, buf, sizeof(buf) - 1);
	et_host_names(host_short, sizeof(host_short), host_fqdn, sizeof(host_fqdn));
	ctx.keys = &cfg.breakglass_keys;
	ctx.host_short = host_short;
	ctx.host_fqdn = host_fqdn;
	ctx.now = have_at ? (time_t)at : time(NULL);
	ctx.skew = cfg.clock_skew;
	if (et_voucher_verify(buf, len, &ctx, &v, &err) == 0) {
		printf("valid: yes\n");
		rc = 0;
	} else {
		printf("valid: no\nreason: %s\nmessage: %s\n", err.reason, err.message);
		rc = EXIT_REJECTED;
	}
	if (v.kid[0]) {
		char *hosts = et_voucher_hosts_joined(&v);
		printf("kid: %s\nsub: %s\nhosts: %s\n", v.kid, v.sub, hosts ? hosts : "");
		free(hosts);
		printf("this host: %s (%s)\n", host_short, host_fqdn);
		print_time("iat", v.iat);
		if (v.has_nbf)
			print_time("nbf", v.nbf);
		print_time("exp", v.exp);
		printf("dur: %lld s (grant of at most %ld s here: breakglass_duration_max)\n", v.dur,
		       cfg.breakglass_duration_max);
		printf("jti: %s\n", v.jti);
		et_text_sanitize(v.reason, safe, sizeof(safe));
		printf("reason: %s\n", safe);
	}
	explicit_bzero(buf, sizeof(buf));
	et_voucher_free(&v);
	et_config_free(&cfg);
	return rc;
}

int et_cli_breakglass(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(et_cli_breakglass_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return bg_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "issue") == 0)
		return bg_issue(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return bg_verify(argc - 1, argv + 1);
	return usage_error("breakglass: unknown command \"%s\" (keygen, issue, verify)", argv[1]);
}
