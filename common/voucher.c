/* SPDX-License-Identifier: Apache-2.0 */
/* Break-glass vouchers (voucher.h): the format's one reader, the minter, and the records that
 * make each voucher usable once per host.
 *
 * The payload is parsed before the signature is checked, because the key is chosen by its
 * kid; the parse is the strict one of tokens (json_strict.c: depth, duplicates, UTF-8) on at
 * most 2048 characters, and nothing from an unverified payload is acted on. */
#include "voucher.h"
#include "b64url.h"
#include "fsutil.h"
#include "identity.h"
#include "json_strict.h"
#include "text.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#define RECORD_DIR "breakglass"
#define RECORD_MAX 512
#define RECORD_TMP_PREFIX ".tmp-"
#define RECORD_TMP_STALE_S 60

/* ---- keys ---- */

void et_bg_kid(const unsigned char raw[ET_BG_RAW_KEY], char out[ET_VOUCHER_KID_HEX + 1])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256(raw, ET_BG_RAW_KEY, d);
	for (size_t i = 0; i < ET_VOUCHER_KID_HEX / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

int et_bg_key_parse(const char *text, struct et_bg_key *ret)
{
	size_t plen = strlen(ET_BG_KEY_PREFIX);
	unsigned char *raw = NULL;
	size_t len = 0;
	if (!text || strncmp(text, ET_BG_KEY_PREFIX, plen) != 0)
		return -1;
	if (et_b64url_decode(text + plen, strlen(text + plen), &raw, &len) < 0)
		return -1;
	if (len != ET_BG_RAW_KEY) {
		free(raw);
		return -1;
	}
	memcpy(ret->raw, raw, ET_BG_RAW_KEY);
	free(raw);
	et_bg_kid(ret->raw, ret->kid);
	return 0;
}

char *et_bg_key_format(const unsigned char raw[ET_BG_RAW_KEY])
{
	char *b = et_b64url_encode(raw, ET_BG_RAW_KEY), *s = NULL;
	if (b && asprintf(&s, "%s%s", ET_BG_KEY_PREFIX, b) < 0)
		s = NULL;
	free(b);
	return s;
}

/* ---- the payload ---- */

void et_voucher_free(struct et_voucher *v)
{
	if (!v)
		return;
	et_strlist_free(&v->hosts);
	memset(v, 0, sizeof(*v));
}

char *et_voucher_hosts_joined(const struct et_voucher *v)
{
	size_t n = 1;
	char *s;
	for (size_t i = 0; i < v->hosts.n; i++)
		n += strlen(v->hosts.items[i]) + 1;
	s = malloc(n);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < v->hosts.n; i++) {
		if (i)
			strcat(s, ",");
		strcat(s, v->hosts.items[i]);
	}
	return s;
}

static bool lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* letters, digits, '-', '.', '*', '?': a host name with wildcards */
static bool host_pattern_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > ET_VOUCHER_HOST_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!isascii((unsigned char)*p) ||
		    !(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '*' || *p == '?'))
			return false;
	return true;
}

/* The number of characters of a well-formed UTF-8 string, or -1. */
static long utf8_chars(const char *s, size_t len)
{
	long n = 0;
	for (size_t i = 0; i < len;) {
		size_t step = et_utf8_step((const unsigned char *)s + i, len - i, NULL);
		if (step == 0)
			return -1;
		i += step;
		n++;
	}
	return n;
}

static const char *const members[] = { "kid", "sub", "hosts", "iat", "exp", "nbf", "dur", "jti", "reason" };

static int time_member(json_object *obj, const char *key, bool required, long long *ret, bool *ret_present,
		       struct et_err *err)
{
	json_object *v;
	if (!json_object_object_get_ex(obj, key, &v)) {
		if (ret_present)
			*ret_present = false;
		if (required)
			return et_err_set(err, ET_E_VOUCHER_MALFORMED, "the voucher has no \"%s\"", key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"%s\" is not an integer", key);
	*ret = json_object_get_int64(v);
	if (ret_present)
		*ret_present = true;
	return 0;
}

static int string_member(json_object *obj, const char *key, const char **ret, struct et_err *err)
{
	json_object *v;
	if (!json_object_object_get_ex(obj, key, &v))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "the voucher has no \"%s\"", key);
	if (!json_object_is_type(v, json_type_string))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"%s\" is not a string", key);
	*ret = json_object_get_string(v);
	return 0;
}

static int payload_read(json_object *obj, struct et_voucher *v, struct et_err *err)
{
	const char *kid, *sub, *jti, *reason;
	json_object *hosts;
	long chars;

	if (!json_object_is_type(obj, json_type_object))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "the payload is not a JSON object");
	json_object_object_foreach(obj, key, val)
	{
		bool known = false;
		(void)val;
		for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
			known = known || strcmp(key, members[i]) == 0;
		if (!known) {
			char k[40];
			et_text_sanitize(key, k, sizeof(k));
			return et_err_set(err, ET_E_VOUCHER_MALFORMED, "unknown member \"%s\"", k);
		}
	}
	if (string_member(obj, "kid", &kid, err) < 0)
		return -1;
	if (!lower_hex(kid, ET_VOUCHER_KID_HEX))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"kid\" is not 16 lowercase hex characters");
	snprintf(v->kid, sizeof(v->kid), "%s", kid);

	if (string_member(obj, "sub", &sub, err) < 0)
		return -1;
	if (!et_local_name_ok(sub) || strlen(sub) > ET_VOUCHER_SUB_MAX)
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"sub\" is not a local user name");
	snprintf(v->sub, sizeof(v->sub), "%s", sub);

	if (!json_object_object_get_ex(obj, "hosts", &hosts))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "the voucher has no \"hosts\"");
	if (!json_object_is_type(hosts, json_type_array) || json_object_array_length(hosts) == 0)
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"hosts\" is not a non-empty array");
	for (size_t i = 0; i < json_object_array_length(hosts); i++) {
		json_object *h = json_object_array_get_idx(hosts, i);
		if (!json_object_is_type(h, json_type_string) || !host_pattern_ok(json_object_get_string(h)))
			return et_err_set(err, ET_E_VOUCHER_MALFORMED,
					  "\"hosts\" item %zu is not a host name pattern (letters, digits, '-', '.', "
					  "'*', '?')",
					  i + 1);
		if (et_strlist_add(&v->hosts, json_object_get_string(h)) < 0)
			return et_err_set(err, ET_E_NO_MEMORY, "out of memory");
	}

	if (time_member(obj, "iat", true, &v->iat, NULL, err) < 0 ||
	    time_member(obj, "exp", true, &v->exp, NULL, err) < 0 ||
	    time_member(obj, "nbf", false, &v->nbf, &v->has_nbf, err) < 0 ||
	    time_member(obj, "dur", true, &v->dur, NULL, err) < 0)
		return -1;
	if (v->iat < 0 || v->iat > ET_VOUCHER_TIME_MAX || v->exp < 0 || v->exp > ET_VOUCHER_TIME_MAX ||
	    (v->has_nbf && (v->nbf < 0 || v->nbf > ET_VOUCHER_TIME_MAX)))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "a time is outside 0 to %lld", ET_VOUCHER_TIME_MAX);
	if (v->exp < v->iat || v->exp - v->iat > ET_VOUCHER_VALID_MAX)
		return et_err_set(err, ET_E_VOUCHER_MALFORMED,
				  "exp - iat is %lld s: it must be between 0 and 7 days (%ld s)", v->exp - v->iat,
				  ET_VOUCHER_VALID_MAX);
	if (v->dur <= 0)
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"dur\" must be more than 0 seconds");

	if (string_member(obj, "jti", &jti, err) < 0)
		return -1;
	if (!lower_hex(jti, ET_VOUCHER_JTI_HEX))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"jti\" is not 32 lowercase hex characters");
	snprintf(v->jti, sizeof(v->jti), "%s", jti);

	if (string_member(obj, "reason", &reason, err) < 0)
		return -1;
	if (strlen(reason) != (size_t)json_object_get_string_len(json_object_object_get(obj, "reason")))
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"reason\" holds a NUL character");
	chars = utf8_chars(reason, strlen(reason));
	if (chars < 0 || chars > ET_VOUCHER_REASON_MAX)
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "\"reason\" is longer than %d characters",
				  ET_VOUCHER_REASON_MAX);
	snprintf(v->reason, sizeof(v->reason), "%s", reason);
	return 0;
}

static bool b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int et_voucher_parse(const char *text, size_t len, struct et_voucher *ret, unsigned char sig[ET_BG_SIG],
		     size_t *ret_signed_len, struct et_err *err)
{
	size_t plen = strlen(ET_VOUCHER_PREFIX), dot;
	unsigned char *payload = NULL, *s = NULL;
	size_t payload_len = 0, s_len = 0;
	json_object *obj = NULL;
	struct et_err jerr;
	int ret_code = -1;

	memset(ret, 0, sizeof(*ret));
	if (len > ET_VOUCHER_MAX)
		return et_err_set(err, ET_E_VOUCHER_TOO_LONG, "the voucher is %zu characters long (at most %d)", len,
				  ET_VOUCHER_MAX);
	if (len < plen || memcmp(text, ET_VOUCHER_PREFIX, plen) != 0)
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "a voucher starts with " ET_VOUCHER_PREFIX);
	for (size_t i = plen; i < len; i++)
		if (text[i] != '.' && !b64url_char(text[i]))
			return et_err_set(err, ET_E_VOUCHER_MALFORMED,
					  "the voucher holds a character outside base64url at position %zu", i + 1);
	dot = plen;
	while (dot < len && text[dot] != '.')
		dot++;
	if (dot == len || dot == plen || memchr(text + dot + 1, '.', len - dot - 1) || dot + 1 == len)
		return et_err_set(err, ET_E_VOUCHER_MALFORMED, "a voucher is EBG1.<payload>.<signature>");
	if (et_b64url_decode(text + plen, dot - plen, &payload, &payload_len) < 0) {
		et_err_set(err, ET_E_VOUCHER_MALFORMED, "the payload is not strict base64url");
		goto done;
	}
	if (et_b64url_decode(text + dot + 1, len - dot - 1, &s, &s_len) < 0 || s_len != ET_BG_SIG) {
		et_err_set(err, ET_E_VOUCHER_MALFORMED, "the signature is not 64 bytes of strict base64url");
		goto done;
	}
	if (et_json_parse((const char *)payload, payload_len, ET_JSON_MAX_DEPTH, &obj, &jerr) < 0) {
		et_err_set(err, ET_E_VOUCHER_MALFORMED, "the payload is not strict JSON: %s", jerr.message);
		goto done;
	}
	if (payload_read(obj, ret, err) < 0)
		goto done;
	memcpy(sig, s, ET_BG_SIG);
	*ret_signed_len = dot;
	ret_code = 0;
done:
	json_object_put(obj);
	free(payload);
	free(s);
	return ret_code;
}

/* ---- judging ---- */

bool et_host_pattern_match(const char *pattern, const char *name)
{
	const char *star = NULL, *resume = NULL;
	while (*name) {
		if (*pattern == '*') {
			star = pattern++;
			resume = name;
		} else if (*pattern == '?' ||
			   (*pattern && tolower((unsigned char)*pattern) == tolower((unsigned char)*name))) {
			pattern++;
			name++;
		} else if (star) {
			pattern = star + 1;
			name = ++resume;
		} else {
			return false;
		}
	}
	while (*pattern == '*')
		pattern++;
	return *pattern == '\0';
}

/* The canonical name /etc/hosts gives node: the first name of a line that lists node. */
static void hosts_file_canonical(const char *node, char *out, size_t size)
{
	char line[1024];
	FILE *f = fopen("/etc/hosts", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *save = NULL, *first, *name;
		line[strcspn(line, "#\n")] = '\0';
		if (!strtok_r(line, " \t", &save) || !(first = strtok_r(NULL, " \t", &save)))
			continue;
		for (name = first; name; name = strtok_r(NULL, " \t", &save))
			if (strcasecmp(name, node) == 0)
				break;
		if (name && strchr(first, '.')) {
			snprintf(out, size, "%s", first);
			break;
		}
	}
	fclose(f);
}

void et_host_names(char *short_name, size_t short_size, char *fqdn, size_t fqdn_size)
{
	struct utsname u;
	char node[256] = "";
	if (uname(&u) == 0)
		snprintf(node, sizeof(node), "%s", u.nodename);
	snprintf(fqdn, fqdn_size, "%s", node);
	/* no resolver: break-glass is for when the network is down, and a DNS query would
	 * hang the prompt */
	if (node[0] && !strchr(node, '.'))
		hosts_file_canonical(node, fqdn, fqdn_size);
	snprintf(short_name, short_size, "%.*s", (int)strcspn(node, "."), node);
}

static int signature_ok(const unsigned char raw[ET_BG_RAW_KEY], const char *msg, size_t len,
			const unsigned char sig[ET_BG_SIG])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, ET_BG_RAW_KEY);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = 0;
	if (pkey && md && EVP_DigestVerifyInit(md, NULL, NULL, NULL, pkey) == 1 &&
	    EVP_DigestVerify(md, sig, ET_BG_SIG, (const unsigned char *)msg, len) == 1)
		ok = 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return ok;
}

int et_voucher_verify(const char *text, size_t len, const struct et_voucher_ctx *ctx, struct et_voucher *ret,
		      struct et_err *err)
{
	unsigned char sig[ET_BG_SIG];
	size_t signed_len = 0;
	struct et_bg_key key;
	bool found = false, host_ok = false;

	if (et_voucher_parse(text, len, ret, sig, &signed_len, err) < 0)
		return -1;
	for (size_t i = 0; ctx->keys && i < ctx->keys->n && !found; i++)
		if (et_bg_key_parse(ctx->keys->items[i], &key) == 0 && strcmp(key.kid, ret->kid) == 0)
			found = true;
	if (!found)
		return et_err_set(err, ET_E_VOUCHER_UNKNOWN_KEY, "no key in breakglass_keys has the id %s", ret->kid);
	if (!signature_ok(key.raw, text, signed_len, sig))
		return et_err_set(err, ET_E_VOUCHER_BAD_SIGNATURE, "the signature does not verify with key %s",
				  ret->kid);
	if (ctx->user && strcmp(ctx->user, ret->sub) != 0)
		return et_err_set(err, ET_E_VOUCHER_WRONG_USER, "the voucher is for user %s", ret->sub);
	if (ctx->host_short || ctx->host_fqdn) {
		for (size_t i = 0; i < ret->hosts.n && !host_ok; i++)
			host_ok = (ctx->host_short && et_host_pattern_match(ret->hosts.items[i], ctx->host_short)) ||
				  (ctx->host_fqdn && et_host_pattern_match(ret->hosts.items[i], ctx->host_fqdn));
		if (!host_ok)
			return et_err_set(err, ET_E_VOUCHER_WRONG_HOST, "no host pattern of the voucher matches %s (%s)",
					  ctx->host_short ? ctx->host_short : "-", ctx->host_fqdn ? ctx->host_fqdn : "-");
	}
	if (ret->has_nbf && (long long)ctx->now < ret->nbf - ctx->skew)
		return et_err_set(err, ET_E_VOUCHER_NOT_YET_VALID, "the voucher is valid from %lld (now %lld)", ret->nbf,
				  (long long)ctx->now);
	if ((long long)ctx->now > ret->exp + ctx->skew)
		return et_err_set(err, ET_E_VOUCHER_EXPIRED, "the voucher expired at %lld (now %lld)", ret->exp,
				  (long long)ctx->now);
	return 0;
}

/* ---- minting ---- */

int et_bg_keygen(char **ret_pem, size_t *ret_pem_len, unsigned char ret_pub[ET_BG_RAW_KEY], struct et_err *err)
{
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	size_t publen = ET_BG_RAW_KEY;
	char *data = NULL, *pem = NULL;
	long n;
	int ret = -1;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!pkey) {
		et_err_set(err, ET_E_NO_RANDOM, "cannot generate an Ed25519 key");
		goto done;
	}
	bio = BIO_new(BIO_s_secmem());
	if (!bio || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    EVP_PKEY_get_raw_public_key(pkey, ret_pub, &publen) != 1 || publen != ET_BG_RAW_KEY) {
		et_err_set(err, ET_E_WRITE_FAILED, "cannot write the key");
		goto done;
	}
	n = BIO_get_mem_data(bio, &data);
	pem = malloc((size_t)n + 1);
	if (!pem) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	memcpy(pem, data, (size_t)n);
	pem[n] = '\0';
	*ret_pem = pem;
	*ret_pem_len = (size_t)n;
	ret = 0;
done:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return ret;
}

int et_voucher_sign(const char *key_pem, size_t key_len, const struct et_voucher *v, char **ret, struct et_err *err)
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	BIO *bio = NULL;
	json_object *obj = NULL, *hosts;
	unsigned char raw[ET_BG_RAW_KEY], sig[ET_BG_SIG];
	size_t rawlen = sizeof(raw), siglen = sizeof(sig);
	char kid[ET_VOUCHER_KID_HEX + 1], *payload = NULL, *sig64 = NULL, *out = NULL;
	const char *json;
	int r = -1;

	bio = BIO_new_mem_buf(key_pem, (int)key_len);
	pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
	if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1) {
		et_err_set(err, ET_E_BAD_ARGUMENT, "the key is not an Ed25519 private key (PKCS#8 PEM)");
		goto done;
	}
	et_bg_kid(raw, kid);
	obj = json_object_new_object();
	hosts = json_object_new_array();
	if (!obj || !hosts) {
		json_object_put(hosts);
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	json_object_object_add(obj, "kid", json_object_new_string(kid));
	json_object_object_add(obj, "sub", json_object_new_string(v->sub));
	for (size_t i = 0; i < v->hosts.n; i++)
		json_object_array_add(hosts, json_object_new_string(v->hosts.items[i]));
	json_object_object_add(obj, "hosts", hosts);
	json_object_object_add(obj, "iat", json_object_new_int64(v->iat));
	json_object_object_add(obj, "exp", json_object_new_int64(v->exp));
	if (v->has_nbf)
		json_object_object_add(obj, "nbf", json_object_new_int64(v->nbf));
	json_object_object_add(obj, "dur", json_object_new_int64(v->dur));
	json_object_object_add(obj, "jti", json_object_new_string(v->jti));
	json_object_object_add(obj, "reason", json_object_new_string(v->reason));
	json = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	payload = json ? et_b64url_encode((const unsigned char *)json, strlen(json)) : NULL;
	if (!payload || asprintf(&out, "%s%s", ET_VOUCHER_PREFIX, payload) < 0) {
		out = NULL;
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, pkey) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)out, strlen(out)) != 1 || siglen != ET_BG_SIG) {
		et_err_set(err, ET_E_BAD_ARGUMENT, "cannot sign the voucher");
		goto done;
	}
	sig64 = et_b64url_encode(sig, siglen);
	if (!sig64) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	free(payload);
	payload = out;
	if (asprintf(&out, "%s.%s", payload, sig64) < 0) {
		out = NULL;
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	if (strlen(out) > ET_VOUCHER_MAX) {
		et_err_set(err, ET_E_VOUCHER_TOO_LONG, "the voucher would be %zu characters long (at most %d)",
			   strlen(out), ET_VOUCHER_MAX);
		goto done;
	}
	*ret = out;
	out = NULL;
	r = 0;
done:
	free(out);
	free(payload);
	free(sig64);
	json_object_put(obj);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return r;
}

/* ---- redemption records ---- */

static int record_dir(const struct et_config *cfg, char *buf, size_t size, struct et_err *err)
{
	if ((size_t)snprintf(buf, size, "%s/%s", cfg->state_dir, RECORD_DIR) >= size)
		return et_err_set(err, ET_E_PATH_TOO_LONG, "the state directory path is too long");
	return 0;
}

int et_voucher_record(const struct et_config *cfg, const struct et_voucher *v, time_t now, struct et_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX], tmpl[PATH_MAX], text[RECORD_MAX];
	int n, r;

	if (!lower_hex(v->jti, ET_VOUCHER_JTI_HEX))
		return et_err_set(err, ET_E_BAD_ARGUMENT, "no jti");
	if (record_dir(cfg, dir, sizeof(dir), err) < 0)
		return -1;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, v->jti) >= sizeof(path) ||
	    (size_t)snprintf(tmpl, sizeof(tmpl), "%s/" RECORD_TMP_PREFIX "XXXXXX", dir) >= sizeof(tmpl))
		return et_err_set(err, ET_E_PATH_TOO_LONG, "the state directory path is too long");
	if (et_dir_ensure_private(cfg->state_dir, 0700, err) < 0 || et_dir_ensure_private(dir, 0700, err) < 0)
		return -1;
	n = snprintf(text, sizeof(text), "kid %s\nsub %s\nexp %lld\nredeemed %lld\n", v->kid, v->sub, v->exp,
		     (long long)now);
	if (n < 0 || (size_t)n >= sizeof(text))
		return et_err_set(err, ET_E_BAD_ARGUMENT, "record too long");
	r = et_file_create_exclusive(path, tmpl, text, (size_t)n, 0600, err);
	if (r < 0)
		return -1;
	if (r == 0)
		return et_err_set(err, ET_E_VOUCHER_REPLAYED, "voucher %s was redeemed on this host already", v->jti);
	return 0;
}

/* The "exp N" line of a record, or -1. */
static long long record_exp(const char *text)
{
	const char *p = strstr(text, "\nexp ");
	long long e = 0;
	if (!p)
		return -1;
	p += 5;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		e = e * 10 + (*p - '0');
		if (e > ET_VOUCHER_TIME_MAX)
			return -1;
	}
	return *p == '\n' ? e : -1;
}

int et_voucher_records_sweep(const struct et_config *cfg, time_t now, unsigned *ret_removed, struct et_err *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned removed = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	if (ret_removed)
		*ret_removed = 0;
	if (record_dir(cfg, dir, sizeof(dir), err) < 0)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return et_err_set(err, ET_E_READ_FAILED, "cannot open %s: %s", dir, strerror(errno));
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return et_err_set(err, ET_E_READ_FAILED, "cannot read %s: %s", dir, strerror(errno));
	}
	while ((de = readdir(d))) {
		struct stat st;
		char *buf = NULL;
		size_t len = 0;
		long long exp;
		struct et_err rerr;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
			continue;
		if (strncmp(de->d_name, RECORD_TMP_PREFIX, strlen(RECORD_TMP_PREFIX)) == 0) {
			/* a write interrupted before its link(2): the record itself was never made */
			if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    (long long)st.st_mtime + RECORD_TMP_STALE_S < (long long)now)
				(void)unlinkat(fd, de->d_name, 0);
			continue;
		}
		if (!lower_hex(de->d_name, ET_VOUCHER_JTI_HEX))
			continue;
		if (et_file_read(path, RECORD_MAX, 1, &buf, &len, &rerr) < 0)
			continue; /* kept: a record that cannot be read still blocks a replay */
		exp = record_exp(buf);
		free(buf);
		if (exp >= 0 && exp + cfg->clock_skew < (long long)now && unlinkat(fd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	if (removed)
		(void)et_dir_sync(dir);
	if (ret_removed)
		*ret_removed = removed;
	return 0;
}
