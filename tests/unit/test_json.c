/* SPDX-License-Identifier: Apache-2.0 */
/* Strict JSON parser: every rejection with its reason, and the values it builds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_strict.h"
#include "../tap.h"

/* Parse text (len explicit, so embedded NULs can be tested) and expect a rejection with
 * reason and a message containing msg_part. */
static void bad_n(const char *text, size_t len, int depth, const char *reason, const char *msg_part, const char *name)
{
	json_object *o = (json_object *)(uintptr_t)1;
	struct et_err err = { 0 };
	int r = et_json_parse(text, len, depth, &o, &err);
	int good = r == -1 && strcmp(err.reason, reason) == 0 && (!msg_part || strstr(err.message, msg_part)) &&
		   o == (json_object *)(uintptr_t)1;
	if (!ok(good, "rejects %s (%s)", name, reason))
		tap_diag("r=%d reason='%s' message='%s'", r, err.reason, err.message);
}

static void bad_r(const char *text, const char *reason, const char *msg_part, const char *name)
{
	bad_n(text, strlen(text), ET_JSON_MAX_DEPTH, reason, msg_part, name);
}

static void bad(const char *text, const char *msg_part, const char *name)
{
	bad_n(text, strlen(text), ET_JSON_MAX_DEPTH, "bad_json", msg_part, name);
}

/* An input refused as bad_json with a message containing msg_part; len 0: strlen(text). */
struct rejection {
	const char *text;
	size_t len;
	const char *msg_part, *name;
};

static json_object *good_n(const char *text, size_t len, int depth, const char *name)
{
	json_object *o = NULL;
	struct et_err err = { 0 };
	int r = et_json_parse(text, len, depth, &o, &err);
	if (!ok(r == 0, "accepts %s", name))
		tap_diag("reason='%s' message='%s'", err.reason, err.message);
	return o;
}

static json_object *good(const char *text, const char *name)
{
	return good_n(text, strlen(text), ET_JSON_MAX_DEPTH, name);
}

/* The single string member "s" of {"s":...} must decode to want (want_len bytes). */
static void string_is(const char *text, const char *want, size_t want_len, const char *name)
{
	json_object *o = good(text, name), *v = NULL;
	int same = o && json_object_object_get_ex(o, "s", &v) && json_object_is_type(v, json_type_string) &&
		   (size_t)json_object_get_string_len(v) == want_len &&
		   memcmp(json_object_get_string(v), want, want_len) == 0;
	ok(same, "%s decodes to the expected bytes", name);
	json_object_put(o);
}

static char *nested(int levels, const char *open, const char *inner, const char *close)
{
	size_t n = (size_t)levels * (strlen(open) + strlen(close)) + strlen(inner) + 1, off = 0;
	char *s = malloc(n);
	if (!s)
		abort();
	for (int i = 0; i < levels; i++)
		off += (size_t)sprintf(s + off, "%s", open);
	off += (size_t)sprintf(s + off, "%s", inner);
	for (int i = 0; i < levels; i++)
		off += (size_t)sprintf(s + off, "%s", close);
	return s;
}

static void test_values(void)
{
	json_object *o, *v;
	long long ll = 0;

	o = good(" \t\r\n{\"s\":\"x\",\"i\":42,\"n\":-7,\"d\":1.5,\"e\":1e3,\"t\":true,\"f\":false,\"z\":null,"
		 "\"a\":[1,\"two\",[],{}],\"o\":{\"k\":\"v\"}} \n",
		 "an object of every type");
	is_str(et_json_get_string(o, "s"), "x", "string member");
	ok(et_json_get_int64(o, "i", &ll) == 0 && ll == 42, "int member");
	ok(et_json_get_int64(o, "n", &ll) == 0 && ll == -7, "negative int member");
	ok(json_object_object_get_ex(o, "d", &v) && json_object_is_type(v, json_type_double) &&
		   json_object_get_double(v) == 1.5,
	   "fraction becomes a double");
	ok(json_object_object_get_ex(o, "e", &v) && json_object_is_type(v, json_type_double) &&
		   json_object_get_double(v) == 1000.0,
	   "exponent becomes a double");
	ok(json_object_object_get_ex(o, "t", &v) && json_object_is_type(v, json_type_boolean) &&
		   json_object_get_boolean(v),
	   "true");
	ok(json_object_object_get_ex(o, "f", &v) && json_object_is_type(v, json_type_boolean) &&
		   !json_object_get_boolean(v),
	   "false");
	ok(json_object_object_get_ex(o, "z", &v) && v == NULL, "null member is present and NULL");
	ok(json_object_object_get_ex(o, "a", &v) && json_object_is_type(v, json_type_array) &&
		   json_object_array_length(v) == 4,
	   "array of four");
	ok(json_object_object_get_ex(o, "o", &v) && et_json_get_string(v, "k") &&
		   strcmp(et_json_get_string(v, "k"), "v") == 0,
	   "nested object");

	/* typed getters refuse the wrong type */
	ok(et_json_get_string(o, "i") == NULL, "get_string on an int is NULL");
	ok(et_json_get_string(o, "missing") == NULL, "get_string on a missing member is NULL");
	ok(et_json_get_string(o, "z") == NULL, "get_string on null is NULL");
	ll = 99;
	ok(et_json_get_int64(o, "s", &ll) == -1 && ll == 99, "get_int64 on a string fails, output untouched");
	ok(et_json_get_int64(o, "d", &ll) == -1 && ll == 99, "get_int64 on a double fails");
	ok(et_json_get_int64(o, "missing", &ll) == -1, "get_int64 on a missing member fails");
	ok(json_object_object_get_ex(o, "a", &v) && et_json_get_string(v, "s") == NULL, "get_string on an array is NULL");
	ok(et_json_get_string(NULL, "s") == NULL && et_json_get_int64(NULL, "i", &ll) == -1, "getters are NULL-safe");
	json_object_put(o);

	o = good("\"top\"", "a top-level string");
	ok(o && json_object_is_type(o, json_type_string) && strcmp(json_object_get_string(o), "top") == 0,
	   "top-level string value");
	json_object_put(o);
	o = good("  7 ", "a top-level number");
	ok(o && json_object_is_type(o, json_type_int) && json_object_get_int64(o) == 7, "top-level int value");
	json_object_put(o);
	o = (json_object *)(uintptr_t)1;
	{
		struct et_err err;
		ok(et_json_parse("null", 4, 16, &o, &err) == 0 && o == NULL, "top-level null gives NULL");
	}
	o = good("{}", "an empty object");
	ok(o && json_object_is_type(o, json_type_object) && json_object_object_length(o) == 0, "empty object");
	json_object_put(o);
	o = good("[ ]", "an empty array");
	ok(o && json_object_is_type(o, json_type_array) && json_object_array_length(o) == 0, "empty array");
	json_object_put(o);
	/* the length is honoured: bytes after len are not read */
	o = good_n("{\"a\":1}garbage", 7, 16, "a prefix given by length");
	json_object_put(o);
}

static void test_numbers(void)
{
	json_object *o;
	long long ll;

	o = good("{\"i\":9223372036854775807}", "INT64_MAX");
	ok(et_json_get_int64(o, "i", &ll) == 0 && ll == INT64_MAX, "INT64_MAX exact");
	json_object_put(o);
	o = good("{\"i\":-9223372036854775808}", "INT64_MIN");
	ok(et_json_get_int64(o, "i", &ll) == 0 && ll == INT64_MIN, "INT64_MIN exact");
	json_object_put(o);
	o = good("{\"i\":-0}", "minus zero integer");
	ok(et_json_get_int64(o, "i", &ll) == 0 && ll == 0, "-0 is integer 0");
	json_object_put(o);
	o = good("{\"i\":1700000000}", "a timestamp");
	ok(et_json_get_int64(o, "i", &ll) == 0 && ll == 1700000000, "timestamp exact");
	json_object_put(o);
	o = good("[0, -0.0, 0.5, -1.25e-3, 1E+2, 2e-0, 123456789012345678901234567890.0]", "assorted doubles");
	ok(o && json_object_get_double(json_object_array_get_idx(o, 3)) == -1.25e-3, "-1.25e-3 value");
	ok(o && json_object_get_double(json_object_array_get_idx(o, 4)) == 100.0, "1E+2 value");
	ok(o && json_object_is_type(json_object_array_get_idx(o, 6), json_type_double), "huge fraction is a double");
	json_object_put(o);
	o = good("1e-400", "an underflowing exponent");
	json_object_put(o);

	{
		char big[200];
		memset(big, '1', sizeof(big));
		big[1] = '.';
		bad_n(big, sizeof(big), 16, "bad_json", "number too long", "a 200-character fraction");
	}
}

static void test_strings(void)
{
	string_is("{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"}", "\"\\/\b\f\n\r\t", 8, "every short escape");
	string_is("{\"s\":\"\\u0041\\u00e9\\u20AC\"}", "A\xC3\xA9\xE2\x82\xAC", 6, "\\u escapes of 1-3 bytes");
	string_is("{\"s\":\"\\ud83d\\ude00\"}", "\xF0\x9F\x98\x80", 4, "a surrogate pair");
	string_is("{\"s\":\"\\uDBFF\\uDFFF\"}", "\xF4\x8F\xBF\xBF", 4, "the highest pair (U+10FFFF)");
	string_is("{\"s\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"}", "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9,
		  "raw 2-, 3- and 4-byte UTF-8");
	string_is("{\"s\":\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF\"}",
		  "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF", 16, "UTF-8 boundary code points");
	string_is("{\"s\":\"\xF0\x90\x80\x80\xF4\x8F\xBF\xBF\"}", "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF", 8,
		  "U+10000 and U+10FFFF raw");
	string_is("{\"s\":\"a\x7F" "b\"}", "a\x7F" "b", 3, "DEL is not a control character in JSON");
	string_is("{\"s\":\"\"}", "", 0, "an empty string");
	string_is("{\"s\":\"x\\n\xC3\xA9\\u0041y\"}", "x\n\xC3\xA9" "Ay", 6, "escapes mixed with raw UTF-8");
	bad("{\"\xC0\xAF\":1}", "invalid UTF-8 at byte 2", "overlong UTF-8 in a member name");
	bad("\xEF\xBB\xBF{}", "unexpected character at byte 0", "a byte order mark");
}

static void test_structure(void)
{
	struct et_err err;
	json_object *o = NULL;
	ok(et_json_parse(NULL, 3, 16, &o, &err) == -1 && strcmp(err.reason, "bad_json") == 0, "NULL text");
	ok(et_json_parse("{}", 2, 16, &o, NULL) == 0 && o, "a NULL err pointer is accepted");
	json_object_put(o);
	ok(et_json_parse("{", 1, 16, &o, NULL) == -1, "a failure with a NULL err pointer");
}

/* Inputs refused as bad_json, with a part of the message. */
static const struct rejection rejected[] = {
	/* numbers */
	{ "{\"i\":9223372036854775808}", 0, "number out of range at byte 5", "INT64_MAX + 1" },
	{ "{\"i\":-9223372036854775809}", 0, "number out of range", "INT64_MIN - 1" },
	{ "18446744073709551616", 0, "number out of range", "2^64" },
	{ "[99999999999999999999999999999999]", 0, "number out of range", "a very big integer" },
	{ "1e400", 0, "number out of range", "an exponent overflowing a double" },
	{ "-1e400", 0, "number out of range", "a negative exponent overflowing a double" },
	{ "01", 0, "leading zero at byte 0", "leading zero" },
	{ "[-01]", 0, "leading zero", "negative leading zero" },
	{ "00", 0, "leading zero", "double zero" },
	{ "+1", 0, "unexpected character at byte 0", "a plus sign" },
	{ ".5", 0, "unexpected character", "a bare fraction" },
	{ "1.", 0, "expected a digit after the decimal point at byte 2", "a trailing decimal point" },
	{ "1.e3", 0, "decimal point", "decimal point then exponent" },
	{ "1e", 0, "exponent", "empty exponent" },
	{ "1e+", 0, "exponent", "signed empty exponent" },
	{ "-", 0, "expected a digit", "a lone minus" },
	{ "- 1", 0, "expected a digit", "minus then space" },
	{ "NaN", 0, "unexpected character", "NaN" },
	{ "Infinity", 0, "unexpected character", "Infinity" },
	{ "-Infinity", 0, "expected a digit", "-Infinity" },
	{ "0x10", 0, "trailing characters", "hex" },

	/* strings */
	{ "\"abc", 0, "unterminated string at byte 0", "an unterminated string" },
	{ "\"abc\\", 0, "unterminated string", "a string ending in a backslash" },
	{ "{\"s\":\"a\nb\"}", 0, "control character in string at byte 7", "a raw newline in a string" },
	{ "{\"s\":\"a\tb\"}", 0, "control character in string", "a raw tab in a string" },
	{ "{\"s\":\"\x1F\"}", 0, "control character in string", "a raw 0x1F in a string" },
	{ "{\"s\":\"a\0b\"}", 11, "control character in string", "a raw NUL byte in a string" },
	{ "{\"s\":\"\\x41\"}", 0, "invalid escape at byte 6", "\\x escape" },
	{ "{\"s\":\"\\'\"}", 0, "invalid escape", "\\' escape" },
	{ "{\"s\":\"\\U0041\"}", 0, "invalid escape", "\\U escape" },
	{ "{\"s\":\"\\a\"}", 0, "invalid escape", "\\a escape" },
	{ "{\"s\":\"\\u12\"}", 0, "invalid \\u escape", "a short \\u escape" },
	{ "{\"s\":\"\\u12G4\"}", 0, "invalid \\u escape", "a non-hex \\u escape" },
	{ "\"\\u00", 0, "invalid \\u escape", "a \\u escape cut by the end" },
	{ "{\"s\":\"\\u0000\"}", 0, "NUL character", "\\u0000 in a value" },
	{ "{\"a\\u0000b\":1}", 0, "NUL character", "\\u0000 in a member name" },
	{ "{\"a\0\":1}", 8, "control character", "a raw NUL in a member name" },
	{ "{\"s\":\"\\ud800\"}", 0, "unpaired high surrogate at byte 6", "a lone high surrogate" },
	{ "{\"s\":\"\\ud800x\"}", 0, "unpaired high surrogate", "a high surrogate then a letter" },
	{ "{\"s\":\"\\ud800\\u0041\"}", 0, "unpaired high surrogate", "a high surrogate then a BMP escape" },
	{ "{\"s\":\"\\ud800\\ud800\"}", 0, "unpaired high surrogate", "two high surrogates" },
	{ "{\"s\":\"\\udc00\"}", 0, "unpaired low surrogate", "a lone low surrogate" },
	{ "{\"s\":\"\\udc00\\ud800\"}", 0, "unpaired low surrogate", "mis-ordered surrogates" },
	{ "{\"s\":\"\\ud800\\n\"}", 0, "unpaired high surrogate", "a high surrogate then another escape" },
	{ "'x'", 0, "unexpected character", "single-quoted string" },
	{ "{'a':1}", 0, "expected a member name at byte 1", "single-quoted name" },
	{ "{a:1}", 0, "expected a member name", "unquoted name" },

	/* invalid UTF-8 in a string */
	{ "{\"s\":\"\x80\"}", 0, "invalid UTF-8 at byte 6", "a lone continuation byte" },
	{ "{\"s\":\"\xBF\"}", 0, "invalid UTF-8 at byte 6", "a lone 0xBF" },
	{ "{\"s\":\"\xC0\x80\"}", 0, "invalid UTF-8 at byte 6", "overlong NUL (C0 80)" },
	{ "{\"s\":\"\xC1\xBF\"}", 0, "invalid UTF-8 at byte 6", "overlong 2-byte (C1 BF)" },
	{ "{\"s\":\"\xC2\"}", 0, "invalid UTF-8 at byte 6", "a truncated 2-byte sequence" },
	{ "{\"s\":\"\xC2\x41\"}", 0, "invalid UTF-8 at byte 6", "a 2-byte lead then ASCII" },
	{ "{\"s\":\"\xE0\x80\x80\"}", 0, "invalid UTF-8 at byte 6", "overlong 3-byte (E0 80 80)" },
	{ "{\"s\":\"\xE0\x9F\xBF\"}", 0, "invalid UTF-8 at byte 6", "overlong 3-byte (E0 9F BF)" },
	{ "{\"s\":\"\xED\xA0\x80\"}", 0, "invalid UTF-8 at byte 6", "UTF-8-encoded high surrogate (ED A0 80)" },
	{ "{\"s\":\"\xED\xBF\xBF\"}", 0, "invalid UTF-8 at byte 6", "UTF-8-encoded low surrogate (ED BF BF)" },
	{ "{\"s\":\"\xE2\x82\"}", 0, "invalid UTF-8 at byte 6", "a truncated 3-byte sequence" },
	{ "{\"s\":\"\xF0\x80\x80\x80\"}", 0, "invalid UTF-8 at byte 6", "overlong 4-byte (F0 80 80 80)" },
	{ "{\"s\":\"\xF0\x8F\xBF\xBF\"}", 0, "invalid UTF-8 at byte 6", "overlong 4-byte (F0 8F BF BF)" },
	{ "{\"s\":\"\xF4\x90\x80\x80\"}", 0, "invalid UTF-8 at byte 6", "above U+10FFFF (F4 90 80 80)" },
	{ "{\"s\":\"\xF5\x80\x80\x80\"}", 0, "invalid UTF-8 at byte 6", "lead byte F5" },
	{ "{\"s\":\"\xF8\x88\x80\x80\x80\"}", 0, "invalid UTF-8 at byte 6", "5-byte form" },
	{ "{\"s\":\"\xFE\"}", 0, "invalid UTF-8 at byte 6", "byte FE" },
	{ "{\"s\":\"\xFF\"}", 0, "invalid UTF-8 at byte 6", "byte FF" },
	{ "{\"s\":\"\xF0\x9F\x98\"}", 0, "invalid UTF-8 at byte 6", "a truncated 4-byte sequence" },

	/* structure */
	{ "", 0, "unexpected end of input at byte 0", "empty input" },
	{ "  \n ", 0, "unexpected end of input", "whitespace only" },
	{ "{} x", 0, "trailing characters after the value at byte 3", "trailing garbage" },
	{ "{}{}", 0, "trailing characters", "two values" },
	{ "[1] ,", 0, "trailing characters", "a trailing comma after the value" },
	{ "/* c */ {}", 0, "unexpected character at byte 0", "a block comment" },
	{ "{} // c", 0, "trailing characters", "a line comment" },
	{ "{\"a\":1 /* c */}", 0, "expected ',' or '}' in an object", "a comment inside an object" },
	{ "[1,]", 0, "unexpected character at byte 3", "a trailing comma in an array" },
	{ "{\"a\":1,}", 0, "expected a member name at byte 7", "a trailing comma in an object" },
	{ "[1 2]", 0, "expected ',' or ']' in an array at byte 3", "a missing comma in an array" },
	{ "{\"a\" 1}", 0, "expected ':' after a member name at byte 5", "a missing colon" },
	{ "{\"a\":}", 0, "unexpected character at byte 5", "a missing value" },
	{ "{\"a\":1", 0, "expected ',' or '}'", "an unterminated object" },
	{ "[1", 0, "expected ',' or ']'", "an unterminated array" },
	{ "[", 0, "unexpected end of input", "a lone bracket" },
	{ "{", 0, "expected a member name", "a lone brace" },
	{ "tru", 0, "unexpected character", "a truncated true" },
	{ "True", 0, "unexpected character", "a capitalised True" },
	{ "nul", 0, "unexpected character", "a truncated null" },
	{ "nulll", 0, "trailing characters", "null plus a letter" },
	{ "[\f1]", 0, "unexpected character at byte 1", "form feed as whitespace" },
	{ "\xC2\xA0{}", 0, "unexpected character", "a no-break space as whitespace" },
	{ "{}\0", 3, "trailing characters", "a NUL after the value" },
};

static void test_rejections(void)
{
	for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++)
		bad_n(rejected[i].text, rejected[i].len ? rejected[i].len : strlen(rejected[i].text), ET_JSON_MAX_DEPTH,
		      "bad_json", rejected[i].msg_part, rejected[i].name);
}

static void test_depth(void)
{
	char *s;
	json_object *o;

	s = nested(16, "[", "1", "]");
	o = good(s, "16 nested arrays at the default cap");
	json_object_put(o);
	free(s);
	s = nested(17, "[", "1", "]");
	bad_n(s, strlen(s), ET_JSON_MAX_DEPTH, "too_deep", "nesting deeper than 16 at byte 16", "17 nested arrays");
	free(s);
	s = nested(16, "{\"a\":", "{}", "}");
	bad_n(s, strlen(s), ET_JSON_MAX_DEPTH, "too_deep", "deeper than 16", "17 nested objects");
	free(s);
	s = nested(15, "{\"a\":", "[]", "}");
	o = good(s, "15 objects around an empty array (16 levels)");
	json_object_put(o);
	free(s);
	s = nested(4, "[", "1", "]");
	o = good_n(s, strlen(s), 4, "depth 4 with cap 4");
	json_object_put(o);
	bad_n(s, strlen(s), 3, "too_deep", "deeper than 3", "depth 4 with cap 3");
	free(s);
	o = good_n("7", 1, 1, "a scalar has depth 0");
	json_object_put(o);
	bad_n("[[]]", 4, 1, "too_deep", NULL, "depth 2 with cap 1");
	/* scalars do not count, only containers */
	s = nested(16, "[", "\"x\"", "]");
	o = good(s, "a string inside 16 arrays");
	json_object_put(o);
	free(s);
	/* 0 means the default cap; absurd caps are clamped, so recursion stays bounded */
	s = nested(17, "[", "1", "]");
	bad_n(s, strlen(s), 0, "too_deep", "deeper than 16", "cap 0 means the default");
	free(s);
	s = nested(100000, "[", "", "]");
	bad_n(s, strlen(s), 1 << 30, "too_deep", "deeper than 256", "a huge cap is clamped");
	free(s);
}

static void test_duplicates(void)
{
	char *s, *inner;
	json_object *o;

	bad_r("{\"a\":1,\"a\":2}", "duplicate_member", "duplicate member name \"a\" at byte 7", "a duplicate name");
	bad_r("{\"a\":1,\"b\":2,\"a\":1}", "duplicate_member", NULL, "a duplicate with the same value");
	bad_r("{\"a\":1,\"\\u0061\":2}", "duplicate_member", "\"a\"", "an escaped duplicate");
	bad_r("{\"\\u00e9\":1,\"\xC3\xA9\":2}", "duplicate_member", "\"??\"", "escaped vs raw UTF-8 duplicate");
	bad_r("{\"a\\/b\":1,\"a/b\":2}", "duplicate_member", NULL, "escaped solidus duplicate");
	bad_r("{\"x\":[{\"k\":1,\"k\":1}]}", "duplicate_member", NULL, "a duplicate inside an array");
	bad_r("{\"\":1,\"\":2}", "duplicate_member", NULL, "a duplicate empty name");
	bad_r("{\"a\\n\":1,\"a\\n\":2}", "duplicate_member", "\"a?\"", "a control char in a name is not echoed");
	inner = nested(14, "{\"a\":", "{\"oid\":\"x\",\"oid\":\"y\"}", "}");
	bad_n(inner, strlen(inner), 16, "duplicate_member", "\"oid\"", "a duplicate at depth 15");
	free(inner);
	o = good("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}", "the same name in different objects");
	json_object_put(o);
	o = good("{\"a\":1,\"A\":2,\"a \":3}", "names differing in case or space");
	ok(json_object_object_length(o) == 3, "three members kept");
	json_object_put(o);

	/* Large inputs decode on the heap rather than the stack: same rules. */
	{
		size_t n = 40000, off = 0;
		s = malloc(n + 64);
		off += (size_t)sprintf(s, "{");
		for (int i = 0; off < n - 64; i++)
			off += (size_t)sprintf(s + off, "\"k\\u00%02x%d\":\"\\n\\u00e9\",", 0x61 + i % 26, i);
		sprintf(s + off, "\"ka0\":1}");
		bad_n(s, strlen(s), 16, "duplicate_member", NULL, "a duplicate in a 40 KB object");
		/* the same with a distinct last name is fine */
		sprintf(s + off, "\"end\":1}");
		o = good(s, "a 40 KB object of escaped names");
		is_str(et_json_get_string(o, "ka0"), "\n\xC3\xA9", "an escaped name and value in a large object");
		json_object_put(o);
		free(s);
	}
}

int main(void)
{
	test_values();
	test_numbers();
	test_strings();
	test_structure();
	test_rejections();
	test_depth();
	test_duplicates();
	return tap_done();
}
