/* SPDX-License-Identifier: Apache-2.0 */
/* Break-glass vouchers (common/voucher.h): the format read to the letter, every refusal with
 * its own reason, the key format and id, the minter, the redemption records (replay, also
 * after a kill -9 between the record and the grant) and their sweep. Payloads are built by
 * hand here and signed with OpenSSL directly, so malformed vouchers carry valid signatures. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include "conf.h"
#include "b64url.h"
#include "qr.h"
#include "voucher.h"
#include "../testutil.h"
#include "../tap.h"

#define NOW 1800000000LL

static EVP_PKEY *key_a, *key_b; /* a is listed, b is not */
static char kid_a[17], kid_b[17], *pem_a;
static size_t pem_a_len;
static struct et_strlist listed;

static void raw_pub(EVP_PKEY *k, unsigned char out[32])
{
	size_t n = 32;
	EVP_PKEY_get_raw_public_key(k, out, &n);
}

/* "EBG1." + b64url(payload) + "." + b64url(Ed25519 signature by k) */
static char *mint(EVP_PKEY *k, const char *payload)
{
	char *p64 = et_b64url_encode((const unsigned char *)payload, strlen(payload)), *head = NULL, *out = NULL, *s64;
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (asprintf(&head, "EBG1.%s", p64) < 0)
		abort();
	if (EVP_DigestSignInit(md, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (unsigned char *)head, strlen(head)) != 1)
		abort();
	s64 = et_b64url_encode(sig, siglen);
	if (asprintf(&out, "%s.%s", head, s64) < 0)
		abort();
	EVP_MD_CTX_free(md);
	free(p64);
	free(head);
	free(s64);
	return out;
}

/* A payload from the usual members, with one replaced or removed: "" removes it. */
static char *payload_with(const char *kid, const char *member, const char *value)
{
	static const char *const names[] = { "kid", "sub", "hosts", "iat", "exp", "dur", "jti", "reason" };
	char defaults[8][96], *out = malloc(4096);
	size_t n = 0;
	bool first = true;
	snprintf(defaults[0], 96, "\"%s\"", kid);
	snprintf(defaults[1], 96, "\"alice\"");
	snprintf(defaults[2], 96, "[\"web-01\",\"db*.example.com\"]");
	snprintf(defaults[3], 96, "%lld", NOW - 60);
	snprintf(defaults[4], 96, "%lld", NOW + 3600);
	snprintf(defaults[5], 96, "1800");
	snprintf(defaults[6], 96, "\"0123456789abcdef0123456789abcdef\"");
	snprintf(defaults[7], 96, "\"outage INC-1\"");
	n += (size_t)snprintf(out + n, 4096 - n, "{");
	for (size_t i = 0; i < 8; i++) {
		const char *v = defaults[i];
		if (member && strcmp(member, names[i]) == 0) {
			if (!*value)
				continue;
			v = value;
		}
		n += (size_t)snprintf(out + n, 4096 - n, "%s\"%s\":%s", first ? "" : ",", names[i], v);
		first = false;
	}
	if (member) {
		bool known = false;
		for (size_t i = 0; i < 8; i++)
			known = known || strcmp(member, names[i]) == 0;
		if (!known)
			n += (size_t)snprintf(out + n, 4096 - n, ",\"%s\":%s", member, value);
	}
	snprintf(out + n, 4096 - n, "}");
	return out;
}

static int judge_at(const char *v, const char *user, const char *hs, const char *hf, long long now,
		    struct et_err *err)
{
	struct et_voucher_ctx ctx = { .keys = &listed, .user = user, .host_short = hs, .host_fqdn = hf,
				      .now = (time_t)now, .skew = 120 };
	struct et_voucher out;
	int r;
	et_err_clear(err);
	r = et_voucher_verify(v, strlen(v), &ctx, &out, err);
	et_voucher_free(&out);
	return r;
}

static int judge(const char *v, struct et_err *err)
{
	return judge_at(v, "alice", "web-01", "web-01.example.com", NOW, err);
}

/* The voucher of payload p, signed by k, is refused with reason want. */
static void refused(EVP_PKEY *k, const char *p, const char *want, const char *name)
{
	char *v = mint(k, p);
	struct et_err err;
	int r = judge(v, &err);
	if (!ok(r < 0 && strcmp(err.reason, want) == 0, "refused (%s): %s", want, name))
		tap_diag("got %d %s: %s", r, err.reason, err.message);
	free(v);
}

static void refused_member(const char *member, const char *value, const char *name)
{
	char *p = payload_with(kid_a, member, value);
	refused(key_a, p, "voucher_malformed", name);
	free(p);
}

static void refused_text(const char *text, const char *want, const char *name)
{
	struct et_err err;
	int r = judge(text, &err);
	if (!ok(r < 0 && strcmp(err.reason, want) == 0, "refused (%s): %s", want, name))
		tap_diag("got %d %s: %s", r, err.reason, err.message);
}

static void test_keys(void)
{
	unsigned char raw[32], d[32];
	char want[17], *line;
	struct et_bg_key k;

	raw_pub(key_a, raw);
	SHA256(raw, 32, d);
	for (int i = 0; i < 8; i++)
		snprintf(want + 2 * i, 3, "%02x", d[i]);
	is_str(kid_a, want, "kid: the first 8 bytes of SHA-256 of the raw key, 16 lowercase hex");
	line = et_bg_key_format(raw);
	ok(line && strncmp(line, "ed25519:", 8) == 0 && strlen(line) == 8 + 43, "key line: ed25519: + 43 characters");
	ok(et_bg_key_parse(line, &k) == 0 && memcmp(k.raw, raw, 32) == 0 && strcmp(k.kid, want) == 0,
	   "key line: parsed back, same key and id");
	{
		char bad[80];
		snprintf(bad, sizeof(bad), "%s=", line);
		ok(et_bg_key_parse(bad, &k) < 0, "key line: padding refused");
		snprintf(bad, sizeof(bad), "ED25519:%s", line + 8);
		ok(et_bg_key_parse(bad, &k) < 0, "key line: the prefix is case-sensitive");
		snprintf(bad, sizeof(bad), "%.*s", (int)strlen(line) - 1, line);
		ok(et_bg_key_parse(bad, &k) < 0, "key line: 31 bytes refused");
		ok(et_bg_key_parse("ed25519:AAAA", &k) < 0, "key line: 3 bytes refused");
	}
	free(line);
	/* the config key takes the lines and refuses anything else */
	{
		struct et_config cfg;
		struct et_err err;
		et_config_init(&cfg);
		ok(et_config_set(&cfg, "breakglass_keys", listed.items[0], NULL, &err) == 0 && cfg.breakglass_keys.n == 1,
		   "breakglass_keys takes an ed25519: key");
		ok(et_config_set(&cfg, "breakglass_keys", "rsa:AAAA", NULL, &err) < 0, "breakglass_keys refuses rsa:");
		ok(cfg.breakglass_when == ET_BREAKGLASS_UNREACHABLE, "breakglass_when defaults to unreachable");
		ok(et_config_set(&cfg, "breakglass_when", "always", NULL, &err) == 0 &&
			   cfg.breakglass_when == ET_BREAKGLASS_ALWAYS,
		   "breakglass_when = always");
		ok(et_config_set(&cfg, "breakglass_when", "sometimes", NULL, &err) < 0, "breakglass_when refuses others");
		is_int(cfg.breakglass_duration_max, 3600, "breakglass_duration_max defaults to 1h");
		ok(et_config_set(&cfg, "breakglass_duration_max", "2d", NULL, &err) < 0,
		   "breakglass_duration_max: at most 1d");
		ok(et_config_set(&cfg, "breakglass_duration_max", "59s", NULL, &err) < 0,
		   "breakglass_duration_max: at least 1m");
		et_config_free(&cfg);
	}
}

static void test_valid(void)
{
	char *p = payload_with(kid_a, NULL, NULL), *v = mint(key_a, p);
	struct et_voucher_ctx ctx = { .keys = &listed, .user = "alice", .host_short = "web-01", .now = NOW, .skew = 120 };
	struct et_voucher out;
	struct et_err err;
	char *hosts;

	ok(et_voucher_verify(v, strlen(v), &ctx, &out, &err) == 0, "a well-formed voucher is accepted");
	is_str(out.kid, kid_a, "kid read");
	is_str(out.sub, "alice", "sub read");
	hosts = et_voucher_hosts_joined(&out);
	is_str(hosts, "web-01,db*.example.com", "hosts read");
	free(hosts);
	is_int(out.iat, NOW - 60, "iat read");
	is_int(out.exp, NOW + 3600, "exp read");
	ok(!out.has_nbf, "no nbf");
	is_int(out.dur, 1800, "dur read");
	is_str(out.jti, "0123456789abcdef0123456789abcdef", "jti read");
	is_str(out.reason, "outage INC-1", "reason read");
	et_voucher_free(&out);
	free(v);
	free(p);

	/* the members in another order, nbf present, 200 characters of reason (multi-byte) */
	{
		char reason[1024] = "\"", *q;
		for (int i = 0; i < 200; i++)
			strcat(reason, "\xc3\xa9");
		strcat(reason, "\"");
		if (asprintf(&q,
			     "{\"reason\":%s,\"jti\":\"ffffffffffffffffffffffffffffffff\",\"nbf\":%lld,\"dur\":1,"
			     "\"exp\":%lld,\"iat\":%lld,\"hosts\":[\"WEB-0?\"],\"sub\":\"alice\",\"kid\":\"%s\"}",
			     reason, NOW, NOW + 7 * 86400 - 100, NOW - 100, kid_a) < 0)
			abort();
		v = mint(key_a, q);
		ok(judge(v, &err) == 0, "members in any order, nbf, 200 two-byte characters, exp - iat = 7 days");
		free(v);
		free(q);
	}
	/* the minter's vouchers read back */
	{
		struct et_voucher in = { 0 };
		char *m = NULL;
		snprintf(in.sub, sizeof(in.sub), "alice");
		et_strlist_add(&in.hosts, "web-*");
		in.iat = NOW - 10;
		in.exp = NOW + 600;
		in.dur = 900;
		in.has_nbf = true;
		in.nbf = NOW - 5;
		snprintf(in.jti, sizeof(in.jti), "00112233445566778899aabbccddeeff");
		snprintf(in.reason, sizeof(in.reason), "quotes \" and \\ and / survive");
		ok(et_voucher_sign(pem_a, pem_a_len, &in, &m, &err) == 0, "the minter signs");
		ok(m && strncmp(m, "EBG1.", 5) == 0 && judge(m, &err) == 0, "the minter's voucher is accepted");
		{
			struct et_voucher back;
			struct et_voucher_ctx c = { .keys = &listed, .now = NOW };
			ok(et_voucher_verify(m, strlen(m), &c, &back, &err) == 0 &&
				   strcmp(back.reason, in.reason) == 0 && back.has_nbf && back.nbf == NOW - 5 &&
				   strcmp(back.kid, kid_a) == 0,
			   "the minter's members read back unchanged");
			et_voucher_free(&back);
		}
		free(m);
		et_voucher_free(&in);
	}
}

static void test_shape(void)
{
	char *p = payload_with(kid_a, NULL, NULL), *v = mint(key_a, p), buf[4096];
	char *dot2 = strrchr(v, '.');
	size_t plen = (size_t)(dot2 - v);

	/* length */
	{
		char *big = malloc(ET_VOUCHER_MAX + 2);
		memset(big, 'A', ET_VOUCHER_MAX + 1);
		memcpy(big, "EBG1.", 5);
		big[ET_VOUCHER_MAX + 1] = '\0';
		refused_text(big, "voucher_too_long", "2049 characters");
		free(big);
	}
	refused_text("", "voucher_malformed", "empty");
	snprintf(buf, sizeof(buf), "ebg1.%s", v + 5);
	refused_text(buf, "voucher_malformed", "lowercase prefix");
	snprintf(buf, sizeof(buf), "EBG2.%s", v + 5);
	refused_text(buf, "voucher_malformed", "another version");
	snprintf(buf, sizeof(buf), "%.*s", (int)plen, v);
	refused_text(buf, "voucher_malformed", "no signature");
	snprintf(buf, sizeof(buf), "%.*s.", (int)plen, v);
	refused_text(buf, "voucher_malformed", "empty signature");
	snprintf(buf, sizeof(buf), "EBG1.%s", dot2);
	refused_text(buf, "voucher_malformed", "empty payload");
	snprintf(buf, sizeof(buf), "%s.AA", v);
	refused_text(buf, "voucher_malformed", "a third dot");
	snprintf(buf, sizeof(buf), "%s=", v);
	refused_text(buf, "voucher_malformed", "padding");
	snprintf(buf, sizeof(buf), "%s\n", v);
	refused_text(buf, "voucher_malformed", "a trailing newline");
	snprintf(buf, sizeof(buf), " %s", v);
	refused_text(buf, "voucher_malformed", "a leading space");
	snprintf(buf, sizeof(buf), "%.*s %s", 20, v, v + 20);
	refused_text(buf, "voucher_malformed", "a space inside");
	snprintf(buf, sizeof(buf), "%s", v);
	buf[10] = '+';
	refused_text(buf, "voucher_malformed", "'+' (standard base64)");
	snprintf(buf, sizeof(buf), "%s", v);
	{
		static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		char *last = buf + strlen(buf) - 1;
		*last = abc[(strchr(abc, *last) - abc) | 1]; /* same bits, one more below the used two */
	}
	/* 86 characters carry 516 bits: the last character's low 4 bits must be zero */
	refused_text(buf, "voucher_malformed", "non-canonical trailing bits in the signature");
	snprintf(buf, sizeof(buf), "%.*sAAAA", (int)strlen(v), v);
	refused_text(buf, "voucher_malformed", "a signature longer than 64 bytes");
	snprintf(buf, sizeof(buf), "%.*s", (int)strlen(v) - 3, v);
	refused_text(buf, "voucher_malformed", "a signature shorter than 64 bytes");
	free(v);
	free(p);
}

static void test_json(void)
{
	char *p;
	refused(key_a, "not json", "voucher_malformed", "payload is not JSON");
	refused(key_a, "[1,2]", "voucher_malformed", "payload is an array");
	refused(key_a, "\"x\"", "voucher_malformed", "payload is a string");
	p = payload_with(kid_a, NULL, NULL);
	{
		char *q;
		if (asprintf(&q, "%s x", p) < 0)
			abort();
		refused(key_a, q, "voucher_malformed", "trailing garbage");
		free(q);
		if (asprintf(&q, "%.*s,\"sub\":\"alice\"}", (int)strlen(p) - 1, p) < 0)
			abort();
		refused(key_a, q, "voucher_malformed", "duplicate member sub (same value)");
		free(q);
	}
	free(p);
	refused_member("extra", "1", "an unknown member");
	refused_member("kid", "", "no kid");
	refused_member("sub", "", "no sub");
	refused_member("hosts", "", "no hosts");
	refused_member("iat", "", "no iat");
	refused_member("exp", "", "no exp");
	refused_member("dur", "", "no dur");
	refused_member("jti", "", "no jti");
	refused_member("reason", "", "no reason");
	refused_member("kid", "1234", "kid a number");
	refused_member("sub", "[\"alice\"]", "sub an array");
	refused_member("sub", "\"\"", "sub empty");
	refused_member("sub", "\"al ice\"", "sub not a user name");
	refused_member("hosts", "\"web-01\"", "hosts a string");
	refused_member("hosts", "[]", "hosts empty");
	refused_member("hosts", "[1]", "hosts item a number");
	refused_member("hosts", "[\"web/01\"]", "hosts item with '/'");
	refused_member("hosts", "[\"[web]\"]", "hosts item with a bracket class");
	refused_member("hosts", "[\"\"]", "hosts item empty");
	refused_member("hosts", "[[\"web-01\"]]", "hosts item an array");
	refused_member("iat", "\"1800000000\"", "iat a string");
	refused_member("iat", "1800000000.0", "iat a float");
	refused_member("iat", "1.8e9", "iat in exponent form");
	refused_member("exp", "true", "exp a boolean");
	refused_member("exp", "null", "exp null");
	refused_member("exp", "-1", "exp negative");
	refused_member("exp", "99999999999999999999", "exp beyond int64");
	refused_member("nbf", "\"soon\"", "nbf a string");
	refused_member("dur", "0", "dur 0");
	refused_member("dur", "-60", "dur negative");
	refused_member("dur", "60.5", "dur a float");
	refused_member("jti", "\"0123456789ABCDEF0123456789ABCDEF\"", "jti uppercase");
	refused_member("jti", "\"0123456789abcdef0123456789abcde\"", "jti 31 characters");
	refused_member("jti", "\"0123456789abcdef0123456789abcdefa\"", "jti 33 characters");
	refused_member("kid", "\"0123456789ABCDEF\"", "kid uppercase");
	refused_member("kid", "\"0123456789abcde\"", "kid 15 characters");
	refused_member("reason", "1", "reason a number");
	refused_member("reason", "\"a\\u0000b\"", "reason with a NUL");
	{
		char reason[512] = "\"";
		for (int i = 0; i < 201; i++)
			strcat(reason, "x");
		strcat(reason, "\"");
		refused_member("reason", reason, "reason of 201 characters");
	}
	{
		char v[32];
		snprintf(v, sizeof(v), "%lld", NOW - 60 + 7 * 86400 + 1);
		refused_member("exp", v, "exp - iat one second over 7 days");
		snprintf(v, sizeof(v), "%lld", NOW - 61);
		refused_member("exp", v, "exp before iat");
	}
	refused(key_a, "{\"kid\":\"\xff\"}", "voucher_malformed", "invalid UTF-8");
}

static void test_refusals(void)
{
	char *p = payload_with(kid_a, NULL, NULL), *v;
	struct et_err err;
	char buf[4096];

	/* unknown key: signed by key b, which is not listed */
	{
		char *pb = payload_with(kid_b, NULL, NULL);
		refused(key_b, pb, "voucher_unknown_key", "a key not in breakglass_keys");
		free(pb);
	}
	/* the kid of a listed key on a voucher signed by another */
	refused(key_b, p, "voucher_bad_signature", "listed kid, signed by another key");
	/* the payload changed after signing */
	v = mint(key_a, p);
	{
		char *p2 = payload_with(kid_a, "dur", "86400"), *v2 = mint(key_a, p2);
		snprintf(buf, sizeof(buf), "%.*s%s", (int)(strrchr(v2, '.') - v2), v2, strrchr(v, '.'));
		refused_text(buf, "voucher_bad_signature", "payload swapped under another signature");
		free(p2);
		free(v2);
	}
	ok(judge_at(v, "bob", "web-01", NULL, NOW, &err) < 0 && strcmp(err.reason, "voucher_wrong_user") == 0,
	   "refused (voucher_wrong_user): another user");
	ok(judge_at(v, "Alice", "web-01", NULL, NOW, &err) < 0 && strcmp(err.reason, "voucher_wrong_user") == 0,
	   "refused (voucher_wrong_user): user names are case-sensitive");
	ok(judge_at(v, "alice", "web-02", "web-02.example.com", NOW, &err) < 0 &&
		   strcmp(err.reason, "voucher_wrong_host") == 0,
	   "refused (voucher_wrong_host): another host");
	ok(judge_at(v, "alice", "db1", "db1.example.org", NOW, &err) < 0 && strcmp(err.reason, "voucher_wrong_host") == 0,
	   "refused (voucher_wrong_host): the pattern's domain differs");
	ok(judge_at(v, "alice", "db1", "DB1.EXAMPLE.COM", NOW, &err) == 0, "host patterns are case-insensitive (fqdn)");
	ok(judge_at(v, "alice", "WEB-01", NULL, NOW, &err) == 0, "host patterns are case-insensitive (short)");
	/* time: exp + skew is the last second, nbf - skew the first */
	ok(judge_at(v, "alice", "web-01", NULL, NOW + 3600 + 120, &err) == 0, "redeemable at exp + clock_skew");
	ok(judge_at(v, "alice", "web-01", NULL, NOW + 3600 + 121, &err) < 0 && strcmp(err.reason, "voucher_expired") == 0,
	   "refused (voucher_expired): one second after exp + clock_skew");
	free(v);
	{
		char nbf[32], *pn;
		snprintf(nbf, sizeof(nbf), "%lld", NOW + 600);
		pn = payload_with(kid_a, "nbf", nbf);
		v = mint(key_a, pn);
		ok(judge_at(v, "alice", "web-01", NULL, NOW + 480, &err) == 0, "redeemable at nbf - clock_skew");
		ok(judge_at(v, "alice", "web-01", NULL, NOW + 479, &err) < 0 &&
			   strcmp(err.reason, "voucher_not_yet_valid") == 0,
		   "refused (voucher_not_yet_valid): one second before nbf - clock_skew");
		free(v);
		free(pn);
	}
	/* the order of the checks: a bad signature is reported before the user */
	{
		char *pb = payload_with(kid_a, "sub", "\"bob\"");
		refused(key_b, pb, "voucher_bad_signature", "the signature is checked before the user");
		free(pb);
	}
	/* no keys listed: every voucher is from an unknown key */
	{
		struct et_strlist none = { 0 };
		struct et_voucher_ctx ctx = { .keys = &none, .user = "alice", .now = NOW };
		struct et_voucher out;
		v = mint(key_a, p);
		ok(et_voucher_verify(v, strlen(v), &ctx, &out, &err) < 0 && strcmp(err.reason, "voucher_unknown_key") == 0,
		   "refused (voucher_unknown_key): no key listed");
		ok(strcmp(out.jti, "0123456789abcdef0123456789abcdef") == 0,
		   "a refused voucher's members are still read for the audit trail");
		et_voucher_free(&out);
		free(v);
	}
	free(p);
	/* every refusal has its own reason of class denied */
	{
		static const enum et_reason rs[] = { ET_E_VOUCHER_MALFORMED,	 ET_E_VOUCHER_TOO_LONG,
						     ET_E_VOUCHER_UNKNOWN_KEY,	 ET_E_VOUCHER_BAD_SIGNATURE,
						     ET_E_VOUCHER_WRONG_USER,	 ET_E_VOUCHER_WRONG_HOST,
						     ET_E_VOUCHER_NOT_YET_VALID, ET_E_VOUCHER_EXPIRED,
						     ET_E_VOUCHER_REPLAYED,	 ET_E_VOUCHER_NOT_OFFERED };
		for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++) {
			ok(et_reason_class(rs[i]) == ET_CLASS_DENIED, "%s is of class denied", et_reason_name(rs[i]));
			for (size_t j = 0; j < i; j++)
				if (strcmp(et_reason_name(rs[i]), et_reason_name(rs[j])) == 0)
					ok(0, "%s is distinct", et_reason_name(rs[i]));
		}
	}
}

static void test_patterns(void)
{
	static const struct {
		const char *pat, *name;
		bool match;
	} t[] = {
		{ "web-01", "web-01", true },  { "web-0?", "web-07", true },   { "web-0?", "web-1", false },
		{ "*", "anything", true },     { "*.example.com", "a.example.com", true },
		{ "*.example.com", "example.com", false }, { "db*", "db", true }, { "db*", "xdb", false },
		{ "a*b*c", "aXXbYYc", true },  { "a*b*c", "aXXbYY", false },  { "?", "", false },
		{ "WEB", "web", true },        { "w*-0?", "web-01", true },   { "web", "web-01", false },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(et_host_pattern_match(t[i].pat, t[i].name) == t[i].match, "pattern '%s' %s '%s'", t[i].pat,
		   t[i].match ? "matches" : "does not match", t[i].name);
}

static void test_host_names(void)
{
	char s[256], f[256];
	struct utsname u;
	uname(&u);
	et_host_names(s, sizeof(s), f, sizeof(f));
	ok(strncmp(s, u.nodename, strlen(s)) == 0 && (u.nodename[strlen(s)] == '\0' || u.nodename[strlen(s)] == '.'),
	   "host names: the short name is the node name up to its first dot (%s)", s);
	ok(strchr(u.nodename, '.') ? strcmp(f, u.nodename) == 0 : (strcmp(f, u.nodename) == 0 || strchr(f, '.') != NULL),
	   "host names: the full name is the node name or a dotted name from /etc/hosts (%s)", f);
}

static void test_records(void)
{
	char *dir = tu_tmpdir(), path[4096];
	struct et_config cfg;
	struct et_voucher v = { 0 };
	struct et_err err;
	struct stat st;
	unsigned removed = 0;
	pid_t pid;
	int status;

	et_config_init(&cfg);
	free(cfg.state_dir);
	cfg.state_dir = strdup(dir);
	cfg.clock_skew = 120;
	snprintf(v.kid, sizeof(v.kid), "%s", kid_a);
	snprintf(v.sub, sizeof(v.sub), "alice");
	snprintf(v.jti, sizeof(v.jti), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	v.exp = NOW + 100;

	ok(et_voucher_record(&cfg, &v, NOW, &err) == 0, "record: the first redemption is recorded");
	snprintf(path, sizeof(path), "%s/breakglass/%s", dir, v.jti);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_uid == 0, "record: a root-only file (0600)");
	snprintf(path, sizeof(path), "%s/breakglass", dir);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0700, "record: in a root-only directory (0700)");
	ok(et_voucher_record(&cfg, &v, NOW + 1, &err) < 0 && strcmp(err.reason, "voucher_replayed") == 0,
	   "record: a second redemption is refused (voucher_replayed)");

	/* kill -9 right after the record, before any grant: the voucher stays used */
	snprintf(v.jti, sizeof(v.jti), "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	pid = fork();
	if (pid == 0) {
		struct et_err e;
		if (et_voucher_record(&cfg, &v, NOW, &e) == 0)
			raise(SIGKILL);
		_exit(3);
	}
	ok(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	   "record: a redeemer killed with SIGKILL between the record and the grant");
	ok(et_voucher_record(&cfg, &v, NOW + 2, &err) < 0 && strcmp(err.reason, "voucher_replayed") == 0,
	   "record: after the kill the voucher is still refused as replayed");

	/* racing redeemers: exactly one wins */
	{
		int wins = 0;
		snprintf(v.jti, sizeof(v.jti), "cccccccccccccccccccccccccccccccc");
		for (int i = 0; i < 8; i++) {
			pid = fork();
			if (pid == 0) {
				struct et_err e;
				_exit(et_voucher_record(&cfg, &v, NOW, &e) == 0 ? 0 : 1);
			}
		}
		while ((pid = wait(&status)) > 0)
			wins += WIFEXITED(status) && WEXITSTATUS(status) == 0;
		is_int(wins, 1, "record: of 8 racing redeemers exactly one records");
	}

	/* the sweep: records go after exp + clock_skew, not before */
	ok(et_voucher_records_sweep(&cfg, NOW + 100 + 120, &removed, &err) == 0 && removed == 0,
	   "sweep: nothing goes at exp + clock_skew");
	snprintf(path, sizeof(path), "%s/breakglass/.tmp-stale1", dir);
	{
		FILE *f = fopen(path, "w");
		fclose(f);
	}
	ok(et_voucher_records_sweep(&cfg, NOW + 100 + 121, &removed, &err) == 0 && removed == 3,
	   "sweep: all three go one second later");
	ok(access(path, F_OK) != 0, "sweep: a stale temporary file of an interrupted write goes too");
	snprintf(v.jti, sizeof(v.jti), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	snprintf(path, sizeof(path), "%s/breakglass/%s", dir, v.jti);
	ok(access(path, F_OK) != 0, "sweep: the record is gone (its voucher is refused by its time from then on)");
	et_config_free(&cfg);
}

static void test_qr(void)
{
	char *p = payload_with(kid_a, NULL, NULL), *v = mint(key_a, p), *q;
	struct et_err err;
	size_t lines = 0, widest = 0;
	q = et_qr_render(v, 80, &err);
	ok(q != NULL, "qr: a voucher of %zu characters is drawn", strlen(v));
	for (char *l = q, *nl; l && (nl = strchr(l, '\n')); l = nl + 1) {
		size_t cols = 0;
		for (char *c = l; c < nl; c++)
			cols += ((unsigned char)*c & 0xc0) != 0x80; /* one column per character */
		if (cols > widest)
			widest = cols;
		lines++;
	}
	ok(widest > 20 && widest <= 80, "qr: at most 80 columns (%zu)", widest);
	ok(lines == (widest + 1) / 2, "qr: two module rows per line (%zu lines)", lines);
	free(q);
	{
		char big[2100];
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		q = et_qr_render(big, 80, &err);
		ok(!q && strcmp(err.reason, "too_large") == 0, "qr: a code wider than 80 columns is refused");
		free(q);
	}
	free(v);
	free(p);
}

int main(void)
{
	unsigned char raw[32];
	char *line;
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;

	key_a = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	key_b = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	raw_pub(key_a, raw);
	et_bg_kid(raw, kid_a);
	line = et_bg_key_format(raw);
	et_strlist_add(&listed, line);
	free(line);
	raw_pub(key_b, raw);
	et_bg_kid(raw, kid_b);
	PEM_write_bio_PrivateKey(bio, key_a, NULL, NULL, 0, NULL, NULL);
	pem_a_len = (size_t)BIO_get_mem_data(bio, &data);
	pem_a = strndup(data, pem_a_len);
	BIO_free(bio);

	tap_require_root(); /* the records live in a root-only directory */
	test_keys();
	test_valid();
	test_shape();
	test_json();
	test_refusals();
	test_patterns();
	test_qr();
	test_host_names();
	test_records();
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	free(pem_a);
	et_strlist_free(&listed);
	return tap_done();
}
