/* SPDX-License-Identifier: Apache-2.0 */
/* Untrusted text: the UTF-8 decoder, the rule for printable characters, the sanitiser and the
 * https URL check. */
#include "text.h"
#include <string.h>
#include <strings.h>

size_t et_utf8_step(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	unsigned c, lo = 0x80, hi = 0xbf;
	size_t len;
	uint32_t cp;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		len = 1;
		cp = c;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* beyond U+10FFFF */
	} else {
		return 0; /* a continuation byte, an overlong lead (C0, C1) or F5-FF */
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if (i == 1 ? s[i] < lo || s[i] > hi : (s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (ret_cp)
		*ret_cp = cp;
	return len;
}

static bool is_control(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f);
}

static bool is_mark(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

bool et_text_char_ok(uint32_t cp)
{
	return !is_control(cp) && !is_mark(cp);
}

/* The one loop of both: a refused character or byte becomes "?" (replace) or nothing. */
static size_t filter(const char *in, size_t len, char *out, size_t size, bool replace, unsigned *ret_flags)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;
	unsigned flags = 0;

	if (size == 0) {
		flags |= len ? ET_TEXT_CUT : 0;
		goto done;
	}
	while (i < len) {
		uint32_t cp = 0;
		size_t n = et_utf8_step(s + i, len - i, &cp);
		const void *src = s + i;
		size_t w = n;
		unsigned why = 0;
		if (n == 0 || !et_text_char_ok(cp)) {
			why = n == 0 ? ET_TEXT_INVALID : is_control(cp) ? ET_TEXT_CONTROL : ET_TEXT_MARK;
			src = "?";
			w = replace ? 1 : 0;
			if (n == 0)
				n = 1; /* one '?' per byte that starts nothing */
		}
		if (o + w >= size) {
			flags |= ET_TEXT_CUT;
			break;
		}
		flags |= why;
		memcpy(out + o, src, w);
		o += w;
		i += n;
	}
	out[o] = '\0';
done:
	if (ret_flags)
		*ret_flags = flags;
	return o;
}

size_t et_text_sanitize_n(const char *in, size_t len, char *out, size_t size, unsigned *ret_flags)
{
	return filter(in, len, out, size, true, ret_flags);
}

size_t et_text_sanitize(const char *in, char *out, size_t size)
{
	if (!in)
		in = "";
	return et_text_sanitize_n(in, strlen(in), out, size, NULL);
}

size_t et_text_strip(const char *in, char *out, size_t size)
{
	if (!in)
		in = "";
	return filter(in, strlen(in), out, size, false, NULL);
}

bool et_text_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s);

	while (left > 0) {
		uint32_t cp = 0;
		size_t n = et_utf8_step(p, left, &cp);
		if (n == 0 || !et_text_char_ok(cp))
			return false;
		p += n;
		left -= n;
	}
	return true;
}

bool et_https_url_ok(const char *url, size_t max)
{
	size_t len, host_len;

	if (!url)
		return false;
	len = strlen(url);
	if (len <= 8 || len > max || strncasecmp(url, "https://", 8) != 0)
		return false;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return false;
	/* the authority: a host first (not a port, not user information), and no user@ in it */
	host_len = strcspn(url + 8, "/?#");
	if (host_len == 0 || url[8] == ':' || memchr(url + 8, '@', host_len))
		return false;
	return true;
}
