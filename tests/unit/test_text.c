/* SPDX-License-Identifier: Apache-2.0 */
/* Untrusted text (text.h): the UTF-8 decoder against Table 3-7 and a decode-then-check
 * reference, the rule of the sanitiser (C0, DEL, C1, bidirectional marks and separators,
 * invalid UTF-8, overlong forms, surrogates, cuts at a character boundary), the https URL
 * check, and the grant reader's use of the rule. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "grant_store.h"
#include "text.h"
#include "../testutil.h"
#include "../tap.h"

/* ---- the decoder ---- */

static size_t step(const char *s, size_t n, uint32_t *cp)
{
	return et_utf8_step((const unsigned char *)s, n, cp);
}

static size_t encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decode by structure, then refuse overlong forms, surrogates and values above U+10FFFF. */
static size_t reference_step(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	size_t len;
	uint32_t cp, min;
	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		len = 1, cp = s[0], min = 0;
	else if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f, min = 0x80;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f, min = 0x800;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*ret_cp = cp;
	return len;
}

static void test_decoder(void)
{
	static const struct {
		const char *s;
		size_t len;
		uint32_t cp;
		const char *name;
	} good[] = {
		{ "A", 1, 0x41, "ASCII" },
		{ "\0", 1, 0, "NUL is one character (the rule refuses it, not the decoder)" },
		{ "\x7f", 1, 0x7f, "DEL" },
		{ "\xc2\x80", 2, 0x80, "U+0080, the first 2-byte form" },
		{ "\xc3\xa9", 2, 0xe9, "U+00E9" },
		{ "\xdf\xbf", 2, 0x7ff, "U+07FF, the last 2-byte form" },
		{ "\xe0\xa0\x80", 3, 0x800, "U+0800, the first 3-byte form" },
		{ "\xe2\x82\xac", 3, 0x20ac, "U+20AC" },
		{ "\xed\x9f\xbf", 3, 0xd7ff, "U+D7FF, just below the surrogates" },
		{ "\xee\x80\x80", 3, 0xe000, "U+E000, just above the surrogates" },
		{ "\xef\xbf\xbf", 3, 0xffff, "U+FFFF, the last 3-byte form" },
		{ "\xf0\x90\x80\x80", 4, 0x10000, "U+10000, the first 4-byte form" },
		{ "\xf0\x9f\x98\x80", 4, 0x1f600, "U+1F600" },
		{ "\xf4\x8f\xbf\xbf", 4, 0x10ffff, "U+10FFFF, the last code point" },
	};
	static const struct {
		const char *s;
		size_t n;
		const char *name;
	} bad[] = {
		{ "\xc0\x80", 2, "overlong NUL (C0 80)" },
		{ "\xc1\xbf", 2, "overlong 2-byte form (C1 BF)" },
		{ "\xe0\x80\x80", 3, "overlong 3-byte NUL" },
		{ "\xe0\x9f\xbf", 3, "overlong 3-byte U+07FF" },
		{ "\xf0\x80\x80\x80", 4, "overlong 4-byte NUL" },
		{ "\xf0\x8f\xbf\xbf", 4, "overlong 4-byte U+FFFF" },
		{ "\xed\xa0\x80", 3, "surrogate U+D800" },
		{ "\xed\xbf\xbf", 3, "surrogate U+DFFF" },
		{ "\xf4\x90\x80\x80", 4, "U+110000, beyond U+10FFFF" },
		{ "\xf5\x80\x80\x80", 4, "lead byte F5" },
		{ "\xff", 1, "byte FF" },
		{ "\x80", 1, "a lone continuation byte" },
		{ "\xbf", 1, "a lone continuation byte BF" },
		{ "\xc3\x28", 2, "2-byte form with a bad continuation" },
		{ "\xe2\x28\xa1", 3, "3-byte form with a bad second byte" },
		{ "\xe2\x82\x28", 3, "3-byte form with a bad third byte" },
		{ "\xf0\x9f\x98\x28", 4, "4-byte form with a bad fourth byte" },
		{ "\xc3\xa9", 1, "2-byte form cut by the end of the input" },
		{ "\xe2\x82\xac", 2, "3-byte form cut by the end of the input" },
		{ "\xf0\x9f\x98\x80", 3, "4-byte form cut by the end of the input" },
		{ "A", 0, "no input at all" },
	};
	uint32_t cp;
	size_t wrong = 0, checked = 0;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cp = 0xffffffff;
		ok(step(good[i].s, good[i].len, &cp) == good[i].len && cp == good[i].cp, "step: %s", good[i].name);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(step(bad[i].s, bad[i].n, &cp) == 0, "step: refuses %s", bad[i].name);
	is_int(step("\xe2\x82\xac", 3, NULL), 3, "step: the code point is optional");

	/* every scalar value round-trips; every surrogate's encoding is refused */
	for (uint32_t c = 0; c <= 0x10ffff; c++) {
		unsigned char b[4];
		size_t n = encode(c, b), got = et_utf8_step(b, n, &cp);
		bool scalar = c < 0xd800 || c > 0xdfff;
		if (scalar ? got != n || cp != c : got != 0)
			wrong++;
		if (got == n && n > 1 && et_utf8_step(b, n - 1, &cp) != 0)
			wrong++; /* one byte short is never a character */
	}
	is_int(wrong, 0, "step: all of U+0000-U+10FFFF round-trips, surrogates refused, cut sequences refused");

	/* Table 3-7 agrees with decode-then-check for every 1-, 2- and 3-byte input and for
	 * every 4-byte lead and second byte */
	wrong = 0;
	for (uint32_t v = 0; v < 0x1000000; v++) {
		unsigned char b[4] = { (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v, 0x80 };
		uint32_t c1 = 0, c2 = 0;
		size_t a = et_utf8_step(b, 3, &c1), r = reference_step(b, 3, &c2);
		if (a != r || (a && c1 != c2))
			wrong++;
		checked++;
	}
	for (unsigned lead = 0xf0; lead <= 0xff; lead++)
		for (unsigned second = 0; second <= 0xff; second++) {
			unsigned char b[4] = { (unsigned char)lead, (unsigned char)second, 0xbf, 0x80 };
			uint32_t c1 = 0, c2 = 0;
			size_t a = et_utf8_step(b, 4, &c1), r = reference_step(b, 4, &c2);
			if (a != r || (a && c1 != c2))
				wrong++;
			checked++;
		}
	ok(wrong == 0 && checked > 0x1000000, "step: agrees with a decode-then-check reference on %zu inputs", checked);
}

/* ---- the sanitiser ---- */

static char out[64];

static const char *san(const char *in)
{
	et_text_sanitize(in, out, sizeof(out));
	return out;
}

static void test_rule(void)
{
	static const uint32_t marks[] = { 0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b,
					  0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069 };
	static const uint32_t kept[] = { 0x20, 0x7e, 0xa0, 0xe9, 0x061b, 0x061d, 0x200c, 0x200d, 0x2027,
					 0x202f, 0x2065, 0x206a, 0xfeff, 0x1f600, 0x10ffff };
	size_t wrong = 0;
	char in[16];

	/* every C0 control, TAB, CR, LF and ESC among them, and DEL */
	for (unsigned c = 1; c < 0x20; c++) {
		snprintf(in, sizeof(in), "a%cb", (char)c);
		if (strcmp(san(in), "a?b") != 0)
			wrong++;
	}
	is_int(wrong, 0, "sanitize: each C0 control becomes one '?'");
	is_str(san("tab\there"), "tab?here", "sanitize: TAB becomes '?'");
	is_str(san("cr\rlf\nend"), "cr?lf?end", "sanitize: CR and LF become '?'");
	is_str(san("\x1b[31mred"), "?[31mred", "sanitize: ESC becomes '?'");
	is_str(san("x\x7fy"), "x?y", "sanitize: DEL becomes '?'");

	/* every C1 control, one '?' per character (not per byte) */
	wrong = 0;
	for (uint32_t c = 0x80; c <= 0x9f; c++) {
		unsigned char b[4];
		size_t n = encode(c, b);
		snprintf(in, sizeof(in), "a%.*sb", (int)n, (const char *)b);
		if (strcmp(san(in), "a?b") != 0 || et_text_char_ok(c))
			wrong++;
	}
	is_int(wrong, 0, "sanitize: each C1 control (U+0080-U+009F) becomes one '?'");
	is_str(san("x\xc2\x85y"), "x?y", "sanitize: NEL (U+0085) becomes '?'");
	is_str(san("x\xc2\x9b" "31m"), "x?31m", "sanitize: CSI (U+009B) becomes '?'");

	/* bidirectional marks, embeddings, overrides, isolates; line and paragraph separators */
	wrong = 0;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		unsigned char b[4];
		size_t n = encode(marks[i], b);
		snprintf(in, sizeof(in), "a%.*sb", (int)n, (const char *)b);
		if (strcmp(san(in), "a?b") != 0 || et_text_char_ok(marks[i])) {
			wrong++;
			tap_diag("U+%04X gives '%s'", (unsigned)marks[i], out);
		}
	}
	is_int(wrong, 0, "sanitize: U+061C, U+200E, U+200F, U+2028-U+202E and U+2066-U+2069 become '?'");
	is_str(san("invoice_\xe2\x80\xaegpj.exe"), "invoice_?gpj.exe", "sanitize: a right-to-left override (U+202E)");
	is_str(san("a\xe2\x81\xa6" "b\xe2\x81\xa9"), "a?b?", "sanitize: isolates (U+2066, U+2069)");
	is_str(san("one\xe2\x80\xa8two"), "one?two", "sanitize: a line separator (U+2028)");

	/* neighbours of the refused ranges stay */
	wrong = 0;
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		unsigned char b[4];
		size_t n = encode(kept[i], b);
		snprintf(in, sizeof(in), "a%.*sb", (int)n, (const char *)b);
		if (strncmp(san(in), in, sizeof(in)) != 0 || !et_text_char_ok(kept[i])) {
			wrong++;
			tap_diag("U+%04X was changed", (unsigned)kept[i]);
		}
	}
	is_int(wrong, 0, "sanitize: space, '~', NBSP, ZWNJ, ZWJ, U+2027, U+202F, U+206A, BOM, U+1F600, U+10FFFF stay");
	is_str(san("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"), "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80",
	       "sanitize: valid UTF-8 text is copied unchanged");

	/* invalid UTF-8: one '?' per byte that starts no character */
	is_str(san("x\xff\xfey"), "x??y", "sanitize: invalid bytes become '?'");
	is_str(san("\x80\xbf"), "??", "sanitize: lone continuation bytes become '?'");
	is_str(san("\xc3\x28"), "?(", "sanitize: a lead byte without its continuation");
	is_str(san("ab\xe2\x82"), "ab??", "sanitize: a sequence cut by the end of the text");
	is_str(san("\xc0\xaf"), "??", "sanitize: an overlong '/' (C0 AF) is refused");
	is_str(san("\xc0\x80"), "??", "sanitize: an overlong NUL (C0 80) is refused");
	is_str(san("\xe0\x80\xaf"), "???", "sanitize: a 3-byte overlong '/' is refused");
	is_str(san("\xf0\x80\x80\xaf"), "????", "sanitize: a 4-byte overlong '/' is refused");
	is_str(san("\xed\xa0\x80"), "???", "sanitize: an encoded surrogate (U+D800) is refused");
	is_str(san("\xed\xbf\xbf"), "???", "sanitize: an encoded surrogate (U+DFFF) is refused");
	is_str(san("\xf4\x90\x80\x80"), "????", "sanitize: U+110000 is refused");
	is_str(san(NULL), "", "sanitize: NULL gives an empty string");
	{
		char o[8];
		size_t n = et_text_sanitize_n("a\0b", 3, o, sizeof(o), NULL);
		ok(n == 3 && strcmp(o, "a?b") == 0, "sanitize_n: a NUL byte inside the length becomes '?'");
	}
}

static void test_cuts(void)
{
	char o[16];
	unsigned flags;
	size_t n;

	n = et_text_sanitize_n("abc\xe2\x82\xac", 6, o, 6, &flags);
	ok(n == 3 && strcmp(o, "abc") == 0 && flags == ET_TEXT_CUT,
	   "cut: a 3-byte character that does not fit whole is left out whole");
	n = et_text_sanitize_n("abc\xe2\x82\xac", 6, o, 7, &flags);
	ok(n == 6 && strcmp(o, "abc\xe2\x82\xac") == 0 && flags == 0, "cut: it fits with one more byte");
	n = et_text_sanitize_n("\xc3\xa9\xc3\xa9\xc3\xa9", 6, o, 6, &flags);
	ok(n == 4 && strcmp(o, "\xc3\xa9\xc3\xa9") == 0 && (flags & ET_TEXT_CUT), "cut: never inside a 2-byte character");
	n = et_text_sanitize_n("\xf0\x9f\x98\x80z", 5, o, 4, &flags);
	ok(n == 0 && o[0] == '\0' && (flags & ET_TEXT_CUT), "cut: a 4-byte character in 3 bytes of room leaves \"\"");
	n = et_text_sanitize_n("ab\x1b", 3, o, 3, &flags);
	ok(n == 2 && strcmp(o, "ab") == 0 && flags == ET_TEXT_CUT, "cut: a '?' that does not fit is left out");
	n = et_text_sanitize_n("ab\x1b", 3, o, 4, &flags);
	ok(n == 3 && strcmp(o, "ab?") == 0 && flags == ET_TEXT_CONTROL, "cut: a '?' that fits is written");
	n = et_text_sanitize_n("abc", 3, o, 1, &flags);
	ok(n == 0 && o[0] == '\0' && flags == ET_TEXT_CUT, "cut: size 1 gives \"\"");
	o[0] = 'x';
	n = et_text_sanitize_n("abc", 3, o, 0, &flags);
	ok(n == 0 && o[0] == 'x' && flags == ET_TEXT_CUT, "cut: size 0 writes nothing");
	is_int(et_text_sanitize("0123456789", o, 8), 7, "sanitize: returns the bytes written");

	et_text_strip("hun\x07ter\xe2\x80\xae" "2\xff\xc2\x85XY\xc3\xa9", o, sizeof(o));
	is_str(o, "hunter2XY\xc3\xa9", "strip: controls, marks and invalid bytes are left out, the rest kept");
	is_int(et_text_strip("a\x1b\x1b\x1b\x1b" "bcdef", o, 4), 3, "strip: a removal takes no room");
	is_str(o, "abc", "strip: cut when out is full");
	et_text_strip(NULL, o, sizeof(o));
	is_str(o, "", "strip: NULL gives an empty string");

	et_text_sanitize_n("a\xff", 2, o, sizeof(o), &flags);
	is_int(flags, ET_TEXT_INVALID, "flags: invalid UTF-8");
	et_text_sanitize_n("a\xc2\x85", 3, o, sizeof(o), &flags);
	is_int(flags, ET_TEXT_CONTROL, "flags: a C1 control");
	et_text_sanitize_n("a\xe2\x80\x8f", 4, o, sizeof(o), &flags);
	is_int(flags, ET_TEXT_MARK, "flags: a bidirectional mark");
	et_text_sanitize_n("a\xe2\x80\xa9", 4, o, sizeof(o), &flags);
	is_int(flags, ET_TEXT_MARK, "flags: a paragraph separator");
	et_text_sanitize_n("plain \xc3\xa9", 8, o, sizeof(o), &flags);
	is_int(flags, 0, "flags: none for clean text");
}

static void test_clean(void)
{
	static const char *const samples[] = {
		"", "plain", "caf\xc3\xa9", "a\tb", "a\x7f", "a\xc2\x85", "a\xe2\x80\xae", "a\xd8\x9c" /* U+061C */,
		"\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "\xe2\x81\xa9" "x",
	};
	unsigned long long seed = 42;
	size_t wrong = 0;

	ok(et_text_clean("h\xc3\xa9llo \xe2\x82\xac") && !et_text_clean("a\tb") && !et_text_clean("a\xc2\x85") &&
		   !et_text_clean("a\xe2\x80\xae") && !et_text_clean("\xc0\xaf") && !et_text_clean("\xed\xa0\x80"),
	   "clean: valid text yes; TAB, C1, RLO, overlong, surrogate no");
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char o[32];
		et_text_sanitize(samples[i], o, sizeof(o));
		if (et_text_clean(samples[i]) != (strcmp(o, samples[i]) == 0))
			wrong++;
	}
	is_int(wrong, 0, "clean: true exactly when sanitising changes nothing");

	/* random bytes: the output is always clean, NUL-terminated within size, and as long as
	 * the returned count */
	wrong = 0;
	for (int round = 0; round < 20000; round++) {
		unsigned char in[25];
		char o[17];
		size_t len, n, size;
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		len = (size_t)(seed >> 59) % (sizeof(in) - 1);
		size = 1 + (size_t)(seed >> 40) % sizeof(o);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			/* bias towards the interesting bytes */
			in[i] = (unsigned char)((seed >> 33) & 1 ? 0x80 | (seed >> 40) : (seed >> 40));
		}
		n = et_text_sanitize_n((const char *)in, len, o, size, NULL);
		if (n >= size || strlen(o) != n || !et_text_clean(o))
			wrong++;
		in[len] = '\0';
		n = et_text_strip((const char *)in, o, size);
		if (n >= size || strlen(o) != n || !et_text_clean(o))
			wrong++;
	}
	is_int(wrong, 0, "sanitize and strip: 20000 random inputs give clean, bounded output");
}

/* ---- https URLs ---- */

static void test_https_url(void)
{
	static const char *const good[] = {
		"https://login.microsoftonline.com/common/oauth2/deviceauth",
		"HTTPS://microsoft.com/devicelogin",
		"https://127.0.0.1:8443/tenant/v2.0/.well-known/openid-configuration",
		"https://example.com/path?query=1#fragment",
		"https://example.com/a@b",
		"https://a",
	};
	static const struct {
		const char *url, *name;
	} bad[] = {
		{ "", "empty" },
		{ "https://", "no host" },
		{ "http://example.com/", "http" },
		{ "ftp://example.com/", "another scheme" },
		{ "https:/example.com/", "one slash" },
		{ "https:///path", "a path without a host" },
		{ "https://?q=1", "a query without a host" },
		{ "https://#f", "a fragment without a host" },
		{ "https://:443/", "a port without a host" },
		{ "https://@example.com/", "empty user information" },
		{ "https://user@example.com/", "user information" },
		{ "https://login.microsoftonline.com@evil.example/", "a host dressed up as user information" },
		{ "https://example.com:443@evil.example", "user information after a port" },
		{ "https://exa mple.com/", "a space" },
		{ "https://example.com/\tx", "a TAB" },
		{ "https://example.com/a\nb", "a newline" },
		{ "https://example.com/\x7f", "DEL" },
		{ "https://exampl\xc3\xa9.com/", "non-ASCII bytes" },
		{ "https://example.com/\xe2\x80\xae", "a right-to-left override" },
		{ " https://example.com/", "a leading space" },
	};
	char max[64];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ok(et_https_url_ok(good[i], 2048), "https url: accepts %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(!et_https_url_ok(bad[i].url, 2048), "https url: refuses %s", bad[i].name);
	ok(!et_https_url_ok(NULL, 2048), "https url: refuses NULL");
	memset(max, 'a', sizeof(max) - 1);
	memcpy(max, "https://", 8);
	max[sizeof(max) - 1] = '\0';
	ok(et_https_url_ok(max, sizeof(max) - 1), "https url: exactly max bytes is accepted");
	ok(!et_https_url_ok(max, sizeof(max) - 2), "https url: one byte over max is refused");
}

/* ---- the grant file reader ---- */

static const char *grant_text(const char *reason)
{
	static char text[1024];
	snprintf(text, sizeof(text),
		 "entra-tap-grant 1\nid=0123456789abcdef0123456789abcdef\nuser=alice\nuid=1001\n"
		 "group=entra-elevated\ncreated=1700000000\nexpires=1700003600\nmethod=tap\n"
		 "oid=o\nupn=alice@contoso.com\ntid=t\nreason=%s\nservice=sudo\nrhost=\n"
		 "added_membership=1\nend\n",
		 reason);
	return text;
}

static void test_grant_reader(void)
{
	struct et_grant g;
	struct et_err err;
	const char *t;
	char buf[2048];
	size_t len;

	t = grant_text("ticket 42");
	ok(et_grant_parse(t, strlen(t), &g, &err) == 0 && strcmp(g.reason, "ticket 42") == 0,
	   "grant reader: a clean reason is read");
	t = grant_text("deploy \xe2\x80\xae" "fix \xe2\x80\x8f" "now");
	ok(et_grant_parse(t, strlen(t), &g, &err) == 0 && strcmp(g.reason, "deploy ?fix ?now") == 0,
	   "grant reader: bidirectional marks from an older writer are read back as '?'");
	t = grant_text("a\xc2\x85" "b");
	ok(et_grant_parse(t, strlen(t), &g, &err) < 0 && err.code == ET_E_CORRUPT_GRANT,
	   "grant reader: a C1 control is corrupt");
	t = grant_text("a\tb");
	ok(et_grant_parse(t, strlen(t), &g, &err) < 0 && err.code == ET_E_CORRUPT_GRANT,
	   "grant reader: a TAB is corrupt");
	t = grant_text("a\xc0\xaf");
	ok(et_grant_parse(t, strlen(t), &g, &err) < 0 && err.code == ET_E_CORRUPT_GRANT,
	   "grant reader: an overlong form is corrupt");

	t = grant_text("ticket 42");
	if (et_grant_parse(t, strlen(t), &g, &err) < 0)
		abort();
	memcpy(g.reason, "x\xe2\x80\xaey", 6);
	ok(et_grant_format(&g, buf, sizeof(buf), &len, &err) < 0 && err.code == ET_E_BAD_GRANT,
	   "grant writer: a reason with a bidirectional override is not written");
	et_text_sanitize("x\xe2\x80\xaey", g.reason, sizeof(g.reason));
	ok(et_grant_format(&g, buf, sizeof(buf), &len, &err) == 0 && strstr(buf, "\nreason=x?y\n"),
	   "grant writer: the sanitised reason is written");
}

int main(void)
{
	test_decoder();
	test_rule();
	test_cuts();
	test_clean();
	test_https_url();
	test_grant_reader();
	return tap_done();
}
