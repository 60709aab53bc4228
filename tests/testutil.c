/* SPDX-License-Identifier: Apache-2.0 */
#include "testutil.h"
#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

static char *tmpdirs[64];
static size_t n_tmpdirs;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tmpdirs(void)
{
	for (size_t i = 0; i < n_tmpdirs; i++)
		nftw(tmpdirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p)
		abort();
	return p;
}

char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path = xmalloc(4096);
	snprintf(path, 4096, "%s/et-test.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(path) || n_tmpdirs >= sizeof(tmpdirs) / sizeof(tmpdirs[0]))
		abort();
	if (n_tmpdirs == 0)
		atexit(rm_tmpdirs);
	tmpdirs[n_tmpdirs++] = path;
	return path;
}

char *tu_write_file(const char *dir, const char *name, const char *content, mode_t mode)
{
	char *path = xmalloc(4096);
	FILE *f;
	snprintf(path, 4096, "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	if (!f || fputs(content, f) < 0 || fclose(f) != 0)
		abort();
	if (chmod(path, mode) < 0)
		abort();
	return path;
}

char *tu_path_in(const char *dir, const char *name)
{
	char *p;
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		abort();
	return p;
}

int tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

size_t tu_count_prefixed(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

pid_t tu_fork_piped(int pfd[2])
{
	pid_t pid;
	if (pipe(pfd) < 0)
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	return pid;
}

EVP_PKEY *tu_rsa_key(int bits)
{
	static struct {
		int bits;
		EVP_PKEY *key;
	} cache[8];
	for (size_t i = 0; i < 8; i++) {
		if (cache[i].key && cache[i].bits == bits)
			return cache[i].key;
		if (!cache[i].key) {
			cache[i].bits = bits;
			cache[i].key = EVP_RSA_gen((unsigned)bits);
			if (!cache[i].key)
				abort();
			return cache[i].key;
		}
	}
	{
		EVP_PKEY *k = EVP_RSA_gen((unsigned)bits);
		if (!k)
			abort();
		return k;
	}
}

EVP_PKEY *tu_ec_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	if (!k)
		abort();
	return k;
}

char *tu_b64url(const void *data, size_t len)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *in = data;
	char *out = xmalloc(len * 4 / 3 + 4), *o = out;
	unsigned acc = 0;
	int bits = 0;
	/* a bit stream read six bits at a time; the last character is filled up with zero bits */
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8 | in[i]) & 0xFFFu;
		for (bits += 8; bits >= 6; bits -= 6)
			*o++ = tbl[acc >> (bits - 6) & 63];
	}
	if (bits > 0)
		*o++ = tbl[acc << (6 - bits) & 63];
	*o = '\0';
	return out;
}

char *tu_bn_param_b64(EVP_PKEY *key, const char *name, int pad_to)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;
	char *s;
	if (!EVP_PKEY_get_bn_param(key, name, &bn))
		abort();
	n = pad_to ? BN_bn2binpad(bn, buf, pad_to) : BN_bn2bin(bn, buf);
	if (n <= 0)
		abort();
	s = tu_b64url(buf, (size_t)n);
	BN_free(bn);
	return s;
}

char *tu_jwk_json(EVP_PKEY *key, const char *kid)
{
	char *out = xmalloc(4096);
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
		char *n = tu_bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N, 0);
		char *e = tu_bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
		snprintf(out, 4096, "{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}", kid, n, e);
		free(n);
		free(e);
	} else {
		char *x = tu_bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
		char *y = tu_bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
		snprintf(out, 4096,
			 "{\"kty\":\"EC\",\"use\":\"sig\",\"crv\":\"P-256\",\"kid\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kid,
			 x, y);
		free(x);
		free(y);
	}
	return out;
}

char *tu_jwks_json(EVP_PKEY **keys, const char **kids, size_t n)
{
	size_t cap = 64 + n * 4096, off;
	char *out = xmalloc(cap);
	off = (size_t)snprintf(out, cap, "{\"keys\":[");
	for (size_t i = 0; i < n; i++) {
		char *k = tu_jwk_json(keys[i], kids[i]);
		off += (size_t)snprintf(out + off, cap - off, "%s%s", i ? "," : "", k);
		free(k);
	}
	snprintf(out + off, cap - off, "]}");
	return out;
}

char *tu_sign_segments(EVP_PKEY *key, const char *b64_header, const char *b64_payload)
{
	size_t in_len = strlen(b64_header) + 1 + strlen(b64_payload);
	char *input = xmalloc(in_len + 1);
	unsigned char sig[1024];
	size_t sig_len = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char *sig64, *out;
	snprintf(input, in_len + 1, "%s.%s", b64_header, b64_payload);
	if (!md || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, sig, &sig_len, (unsigned char *)input, in_len) != 1)
		abort();
	EVP_MD_CTX_free(md);
	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
		/* JWS wants raw r||s, OpenSSL gives DER. */
		const unsigned char *p = sig;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
		const BIGNUM *r, *s;
		if (!es)
			abort();
		ECDSA_SIG_get0(es, &r, &s);
		BN_bn2binpad(r, sig, 32);
		BN_bn2binpad(s, sig + 32, 32);
		sig_len = 64;
		ECDSA_SIG_free(es);
	}
	sig64 = tu_b64url(sig, sig_len);
	out = xmalloc(in_len + strlen(sig64) + 2);
	sprintf(out, "%s.%s", input, sig64);
	free(input);
	free(sig64);
	return out;
}

char *tu_sign_jws(EVP_PKEY *key, const char *header_json, const char *payload_json)
{
	char *h = tu_b64url(header_json, strlen(header_json));
	char *p = tu_b64url(payload_json, strlen(payload_json));
	char *out = tu_sign_segments(key, h, p);
	free(h);
	free(p);
	return out;
}

void tu_append_line(char *buf, size_t size, size_t *len, const char *text)
{
	int n = snprintf(buf + *len, size - *len, "%s\n", text);
	if (n > 0 && (size_t)n < size - *len)
		*len += (size_t)n;
}
