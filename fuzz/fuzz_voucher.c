/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for break-glass vouchers (see fuzz/README.md). The input is the voucher
 * text. The listed key is fixed (its private half is the 32 bytes of SEED), so the seed corpus
 * in fuzz/corpus/voucher/, signed with it, verifies and reaches the user, host and time
 * checks; the judge's clock and host are fixed too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "voucher.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SEED "voucher-fuzz-key-0123456789abcde"
#define NOW 1800000000

static struct et_strlist keys;
static char *pem;
static size_t pem_len;

static void load_key(void)
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, (const unsigned char *)SEED, 32);
	unsigned char raw[ET_BG_RAW_KEY];
	size_t n = sizeof(raw);
	BIO *bio = BIO_new(BIO_s_mem());
	char *line, *p;
	if (!k || !bio || EVP_PKEY_get_raw_public_key(k, raw, &n) != 1 ||
	    PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1)
		abort();
	line = et_bg_key_format(raw);
	if (!line || et_strlist_add(&keys, line) < 0)
		abort();
	free(line);
	pem_len = (size_t)BIO_get_mem_data(bio, &p);
	pem = malloc(pem_len + 1);
	if (!pem)
		abort();
	memcpy(pem, p, pem_len);
	pem[pem_len] = '\0';
	BIO_free(bio);
	EVP_PKEY_free(k);
}

static int lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct et_voucher_ctx ctx = { .user = "alice", .host_short = "web-01", .host_fqdn = "web-01.example.com",
				      .now = NOW, .skew = 120 };
	struct et_voucher v, back;
	struct et_err err;
	char *again = NULL;

	if (!keys.n)
		load_key();
	ctx.keys = &keys;
	if (et_voucher_verify((const char *)data, size, &ctx, &v, &err) < 0) {
		/* every refusal is one of the voucher's own reasons */
		if (strncmp(err.reason, "voucher_", 8) != 0 && strcmp(err.reason, "no_memory") != 0)
			abort();
		if (size > ET_VOUCHER_MAX && strcmp(err.reason, "voucher_too_long") != 0)
			abort();
		et_voucher_free(&v);
		return 0;
	}
	/* invariants of an accepted voucher */
	if (size > ET_VOUCHER_MAX || memcmp(data, ET_VOUCHER_PREFIX, 5) != 0 || !lower_hex(v.kid, 16) ||
	    !lower_hex(v.jti, 32) || strcmp(v.sub, "alice") != 0 || v.hosts.n == 0 || v.dur <= 0 || v.exp < v.iat ||
	    v.exp - v.iat > ET_VOUCHER_VALID_MAX || NOW > v.exp + 120 || (v.has_nbf && NOW < v.nbf - 120))
		abort();
	/* the members survive the minter and the reader unchanged */
	if (et_voucher_sign(pem, pem_len, &v, &again, &err) == 0) {
		unsigned char sig[ET_BG_SIG];
		size_t slen;
		if (et_voucher_parse(again, strlen(again), &back, sig, &slen, &err) < 0 || strcmp(back.kid, v.kid) ||
		    strcmp(back.sub, v.sub) || strcmp(back.jti, v.jti) || strcmp(back.reason, v.reason) ||
		    back.iat != v.iat || back.exp != v.exp || back.dur != v.dur || back.has_nbf != v.has_nbf ||
		    back.hosts.n != v.hosts.n)
			abort();
		for (size_t i = 0; i < v.hosts.n; i++)
			if (strcmp(back.hosts.items[i], v.hosts.items[i]) != 0)
				abort();
		et_voucher_free(&back);
		free(again);
	} else if (strcmp(err.reason, "voucher_too_long") != 0) {
		abort(); /* re-encoding may only grow past the cap (escapes written differently) */
	}
	et_voucher_free(&v);
	return 0;
}
