/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64url: RFC 4648 vectors, the alphabet byte by byte, canonical trailing bits. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "b64url.h"
#include "../testutil.h"
#include "../tap.h"

static int decodes(const char *in, size_t len, const void *want, size_t want_len)
{
	unsigned char *out = NULL;
	size_t n = 0;
	int r = et_b64url_decode(in, len, &out, &n);
	int same = r == 0 && n == want_len && memcmp(out, want, n) == 0 && out[n] == '\0';
	free(out);
	return same;
}

/* Rejected with EINVAL, outputs untouched. */
static int rejects(const char *in, size_t len)
{
	unsigned char *out = (unsigned char *)(uintptr_t)1;
	size_t n = 12345;
	int r;
	errno = 0;
	r = et_b64url_decode(in, len, &out, &n);
	return r == -1 && errno == EINVAL && out == (unsigned char *)(uintptr_t)1 && n == 12345;
}

static void bad(const char *in, const char *name)
{
	ok(rejects(in, strlen(in)), "rejects %s", name);
}

static void test_vectors(void)
{
	static const struct {
		const char *plain, *enc;
	} v[] = {
		{ "", "" },           { "f", "Zg" },         { "fo", "Zm8" },         { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *e = et_b64url_encode((const unsigned char *)v[i].plain, strlen(v[i].plain));
		is_str(e, v[i].enc, "RFC 4648 vector encodes");
		free(e);
		ok(decodes(v[i].enc, strlen(v[i].enc), v[i].plain, strlen(v[i].plain)), "RFC 4648 vector '%s' decodes",
		   v[i].enc);
	}
	{
		static const unsigned char hi[] = { 0xfb, 0xff, 0xbf };
		char *e = et_b64url_encode(hi, sizeof(hi));
		is_str(e, "-_-_", "the URL alphabet is used for 62 and 63");
		free(e);
		ok(decodes("-_-_", 4, hi, sizeof(hi)), "'-' and '_' decode");
	}
	{
		unsigned char *out = NULL;
		size_t n = 99;
		ok(et_b64url_decode(NULL, 0, &out, &n) == 0 && n == 0 && out && out[0] == '\0',
		   "NULL with length 0 decodes to an empty buffer");
		free(out);
		char *e = et_b64url_encode(NULL, 0);
		is_str(e, "", "encoding nothing gives an empty string");
		free(e);
		ok(et_b64url_encode(NULL, 3) == NULL, "encoding NULL with a length fails");
		ok(rejects(NULL, 4), "decoding NULL with a length fails");
		ok(et_b64url_decode("Zg", 2, NULL, &n) == -1 && errno == EINVAL, "NULL output pointer rejected");
	}
}

static void test_rejections(void)
{
	bad("Zg==", "'==' padding");
	bad("Zg=", "'=' padding");
	bad("Zm8=", "one '=' pad on a 3-char tail");
	bad("Zm9v====", "a padding-only quantum");
	bad("Z", "length 1");
	bad("Zm9vY", "length 5 (1 mod 4)");
	bad("Zm9vYmFyZ", "length 9 (1 mod 4)");
	bad("Zm+v", "'+' from the standard alphabet");
	bad("Zm/v", "'/' from the standard alphabet");
	bad("Zm9v Zg", "a space");
	bad("Zm9v\nZg", "a newline");
	bad("Zm9v\r\nZg", "CRLF");
	bad("Zm\t9v", "a tab");
	bad(" Zm9v", "leading whitespace");
	bad("Zm9v ", "trailing whitespace");
	bad("Zm9v.Zg", "a dot");
	bad("Zm9v\x80", "an 8-bit byte");
	bad("Zm9\xff", "0xff");
	ok(rejects("Zm\0v", 4), "rejects an embedded NUL");
	ok(rejects("Zm9vYg\0\0", 8), "rejects trailing NULs inside the length");
	/* non-canonical: bits below the last whole byte must be zero */
	bad("Zh", "non-canonical 2-char tail (Zh vs Zg)");
	bad("Zv", "non-canonical 2-char tail (Zv)");
	bad("Zm9", "non-canonical 3-char tail (Zm9 vs Zm8)");
	bad("Zm_", "non-canonical 3-char tail (Zm_)");
	bad("AB", "'AB' (low bits of B set)");
	bad("AAB", "'AAB' (low bits of B set)");
	ok(decodes("AA", 2, "\0", 1) && decodes("AAA", 3, "\0\0", 2), "zero tails decode");
}


/* A 2- or 3-character tail: 1 when it is not accepted exactly when canonical, or does not
 * re-encode to itself. */
static int tail_wrong(const char *in, int canonical)
{
	unsigned char *out = NULL;
	size_t n;
	int got = et_b64url_decode(in, strlen(in), &out, &n) == 0;
	char *back = got ? et_b64url_encode(out, n) : NULL;
	int wrong = got != canonical || (got && strcmp(back, in) != 0);
	free(out);
	free(back);
	return wrong;
}
static void test_exhaustive(void)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int wrong = 0;

	/* every byte value in every position of a quantum */
	for (int pos = 0; pos < 4; pos++) {
		for (int c = 0; c < 256; c++) {
			char in[4] = { 'Q', 'U', 'J', 'D' };
			unsigned char *out = NULL;
			size_t n;
			int want = c != 0 && memchr(alphabet, c, 64) != NULL;
			in[pos] = (char)c;
			int got = et_b64url_decode(in, 4, &out, &n) == 0;
			if (got != want)
				wrong++;
			free(out);
		}
	}
	is_int(wrong, 0, "each of 256 byte values is accepted in every position exactly when in the alphabet");

	/* every 2- and 3-char tail: accepted exactly when it re-encodes to itself */
	wrong = 0;
	for (int a = 0; a < 64; a++)
		for (int b = 0; b < 64; b++) {
			char in[3] = { alphabet[a], alphabet[b], 0 };
			wrong += tail_wrong(in, (b & 15) == 0);
		}
	is_int(wrong, 0, "all 4096 two-char tails: canonical ones decode and round-trip, the rest are refused");
	wrong = 0;
	for (int a = 0; a < 64; a++)
		for (int b = 0; b < 64; b++)
			for (int c = 0; c < 64; c++) {
				char in[4] = { alphabet[a], alphabet[b], alphabet[c], 0 };
				wrong += tail_wrong(in, (c & 3) == 0);
			}
	is_int(wrong, 0, "all 262144 three-char tails: canonical ones decode and round-trip, the rest are refused");
}

static void test_roundtrip(void)
{
	unsigned char buf[1031];
	int wrong = 0;
	srand(4242);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)rand();
	for (size_t len = 0; len <= sizeof(buf); len++) {
		char *mine = et_b64url_encode(buf, len);
		char *ref = tu_b64url(buf, len);
		if (!mine || strcmp(mine, ref) != 0 || !decodes(mine, strlen(mine), buf, len))
			wrong++;
		free(mine);
		free(ref);
	}
	is_int(wrong, 0, "random data of every length 0..1031 matches the reference encoder and round-trips");
}

int main(void)
{
	test_vectors();
	test_rejections();
	test_exhaustive();
	test_roundtrip();
	return tap_done();
}
