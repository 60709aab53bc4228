/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64url (RFC 4648 §5), unpadded, canonical only. Runs on every token, so decoding
 * is one table lookup per character with a single validity check per quantum. */
#include "b64url.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char enc_table[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0-63 for the alphabet, 0x40 for everything else ('=', whitespace, '+', '/', NUL, 8-bit). */
#define BAD 0x40
static const uint8_t dec_table[256] = {
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0x00 */
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0x10 */
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, 62,  BAD, BAD, /* 0x20: '-' */
	52,  53,  54,  55,  56,  57,  58,  59,  60,  61,  BAD, BAD, BAD, BAD, BAD, BAD, /* 0x30: 0-9 */
	BAD, 0,   1,   2,   3,   4,   5,   6,   7,   8,   9,   10,  11,  12,  13,  14,  /* 0x40: A-O */
	15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25,  BAD, BAD, BAD, BAD, 63,  /* 0x50: P-Z _ */
	BAD, 26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,  /* 0x60: a-o */
	41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51,  BAD, BAD, BAD, BAD, BAD, /* 0x70: p-z */
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, /* 0x80 */
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
	BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
};

int et_b64url_decode(const char *in, size_t len, unsigned char **ret_out, size_t *ret_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t full = len / 4, rem = len % 4, out_len, i;
	unsigned char *out, *o;
	unsigned bad = 0;

	if ((!in && len) || !ret_out || !ret_len || rem == 1) {
		errno = EINVAL;
		return -1;
	}
	out_len = full * 3 + (rem ? rem - 1 : 0);
	out = malloc(out_len + 1);
	if (!out) {
		errno = ENOMEM;
		return -1;
	}
	o = out;
	for (i = 0; i < full; i++, s += 4) {
		unsigned a = dec_table[s[0]], b = dec_table[s[1]], c = dec_table[s[2]], d = dec_table[s[3]];
		uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
		bad |= a | b | c | d;
		o[0] = (unsigned char)(v >> 16);
		o[1] = (unsigned char)(v >> 8);
		o[2] = (unsigned char)v;
		o += 3;
	}
	if (rem == 2) {
		unsigned a = dec_table[s[0]], b = dec_table[s[1]];
		bad |= a | b;
		/* 12 bits carry 8: the low 4 must be zero, or two strings would decode the same. */
		bad |= (b & 0x0F) ? BAD : 0;
		*o++ = (unsigned char)(a << 2 | b >> 4);
	} else if (rem == 3) {
		unsigned a = dec_table[s[0]], b = dec_table[s[1]], c = dec_table[s[2]];
		bad |= a | b | c;
		bad |= (c & 0x03) ? BAD : 0;
		*o++ = (unsigned char)(a << 2 | b >> 4);
		*o++ = (unsigned char)(b << 4 | c >> 2);
	}
	if (bad & BAD) {
		explicit_bzero(out, out_len);
		free(out);
		errno = EINVAL;
		return -1;
	}
	*o = '\0';
	*ret_out = out;
	*ret_len = out_len;
	return 0;
}

char *et_b64url_encode(const unsigned char *in, size_t len)
{
	size_t i, out_len;
	char *out, *o;

	if (!in && len)
		return NULL;
	if (len > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	out_len = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
	out = malloc(out_len + 1);
	if (!out)
		return NULL;
	o = out;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = enc_table[v >> 18];
		*o++ = enc_table[v >> 12 & 63];
		*o++ = enc_table[v >> 6 & 63];
		*o++ = enc_table[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*o++ = enc_table[v >> 18];
		*o++ = enc_table[v >> 12 & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*o++ = enc_table[v >> 18];
		*o++ = enc_table[v >> 12 & 63];
		*o++ = enc_table[v >> 6 & 63];
	}
	*o = '\0';
	return out;
}
