/* SPDX-License-Identifier: Apache-2.0 */
/* Strict RFC 8259 parser that builds json-c objects directly.
 *
 * json-c's own tokener accepts things a security boundary must not: it keeps the last of two
 * members with the same name, so a token could carry one "oid" for us and another for a
 * different consumer. This parser is small, recursive descent, and refuses anything outside
 * the grammar, with the byte offset of the first problem. */
#include "json_strict.h"
#include "text.h"
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Recursion bound whatever the caller asks for: each level costs one C stack frame pair. */
#define JSON_HARD_MAX_DEPTH 256
/* Longest number text accepted for a fraction/exponent (strtod needs a NUL-terminated copy). */
#define JSON_MAX_NUMBER_CHARS 128
/* Decoding scratch below this size lives on the stack (headers and most payloads). */
#define JSON_STACK_SCRATCH 4096

struct parser {
	const unsigned char *start, *p, *end;
	int max_depth;
	/* Decoded strings go here: member names stay on it (stack discipline) until their value
	 * is parsed, so its size never needs to exceed the input length + 1. */
	char *scratch;
	size_t scratch_top, scratch_high;
	struct et_err *err;
};

static size_t offset_of(const struct parser *ps, const unsigned char *at)
{
	return (size_t)(at - ps->start);
}

static int fail_at(struct parser *ps, const unsigned char *at, const char *what)
{
	return et_err_set(ps->err, ET_E_BAD_JSON, "Invalid JSON: %s at byte %zu.", what, offset_of(ps, at));
}

static int fail_oom(struct parser *ps)
{
	return et_err_set(ps->err, ET_E_NO_MEMORY, "Out of memory while parsing JSON.");
}

static void skip_ws(struct parser *ps)
{
	const unsigned char *p = ps->p;
	while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	ps->p = p;
}

/* C locale for strtod: inside sudo the caller's LC_NUMERIC may use ',' as decimal point.
 * Created once and kept for the life of the process. */
static locale_t c_numeric_locale(void)
{
	static locale_t cached;
	locale_t loc = __atomic_load_n(&cached, __ATOMIC_ACQUIRE), expected = (locale_t)0;
	if (loc)
		return loc;
	loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (!loc)
		return (locale_t)0;
	if (!__atomic_compare_exchange_n(&cached, &expected, loc, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		freelocale(loc);
		return expected;
	}
	return loc;
}

static int parse_number(struct parser *ps, json_object **ret)
{
	const unsigned char *p = ps->p, *begin = ps->p, *end = ps->end;
	bool neg = false, is_int = true;
	uint64_t mag = 0;
	bool overflow = false;

	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return fail_at(ps, p, "expected a digit");
	if (*p == '0') {
		p++;
		if (p < end && *p >= '0' && *p <= '9')
			return fail_at(ps, p - 1, "number with a leading zero");
	} else {
		while (p < end && *p >= '0' && *p <= '9') {
			unsigned d = (unsigned)(*p - '0');
			if (mag > (UINT64_MAX - d) / 10)
				overflow = true;
			else
				mag = mag * 10 + d;
			p++;
		}
	}
	if (p < end && *p == '.') {
		is_int = false;
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail_at(ps, p, "expected a digit after the decimal point");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		is_int = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return fail_at(ps, p, "expected a digit in the exponent");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}

	if (is_int) {
		int64_t v;
		/* Claims such as exp must be exact: no silent rounding through a double. */
		if (overflow || (!neg && mag > (uint64_t)INT64_MAX) || (neg && mag > (uint64_t)INT64_MAX + 1))
			return fail_at(ps, begin, "number out of range");
		if (neg)
			v = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
		else
			v = (int64_t)mag;
		*ret = json_object_new_int64(v);
	} else {
		char buf[JSON_MAX_NUMBER_CHARS + 1];
		size_t n = (size_t)(p - begin);
		char *tail;
		double d;
		locale_t loc;
		if (n > JSON_MAX_NUMBER_CHARS)
			return fail_at(ps, begin, "number too long");
		loc = c_numeric_locale();
		if (!loc)
			return fail_oom(ps);
		memcpy(buf, begin, n);
		buf[n] = '\0';
		errno = 0;
		d = strtod_l(buf, &tail, loc);
		if (tail != buf + n)
			return fail_at(ps, begin, "unparsable number");
		if (errno == ERANGE && isinf(d))
			return fail_at(ps, begin, "number out of range");
		*ret = json_object_new_double(d);
	}
	if (!*ret)
		return fail_oom(ps);
	ps->p = p;
	return 0;
}

static int hex4(const unsigned char *p, unsigned *ret)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*ret = v;
	return 0;
}

static size_t utf8_put(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Parse the string at ps->p (which is '"'). Without escapes the result points into the
 * input (*ret_copied = false); with escapes it is decoded onto the scratch stack at
 * scratch_top (not NUL-terminated, not yet reserved). */
static int parse_string_raw(struct parser *ps, const char **ret_s, size_t *ret_len, bool *ret_copied)
{
	const unsigned char *p = ps->p + 1, *end = ps->end, *run = p;
	char *out = NULL;
	size_t n = 0;

	for (;;) {
		unsigned c;
		/* Fast path: plain printable ASCII. */
		while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
			p++;
		if (p >= end)
			return fail_at(ps, ps->p, "unterminated string");
		c = *p;
		if (c == '"')
			break;
		if (c < 0x20)
			return fail_at(ps, p, "control character in string");
		if (c >= 0x80) {
			size_t k = et_utf8_step(p, (size_t)(end - p), NULL);
			if (!k)
				return fail_at(ps, p, "invalid UTF-8");
			p += k;
			continue;
		}
		/* c == '\\': switch to (or continue) decoding onto the scratch stack. */
		if (!out)
			out = ps->scratch + ps->scratch_top;
		memcpy(out + n, run, (size_t)(p - run));
		n += (size_t)(p - run);
		if (p + 1 >= end)
			return fail_at(ps, ps->p, "unterminated string");
		switch (p[1]) {
		case '"': out[n++] = '"'; break;
		case '\\': out[n++] = '\\'; break;
		case '/': out[n++] = '/'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u': {
			unsigned cp, lo;
			if (end - p < 6 || hex4(p + 2, &cp) < 0)
				return fail_at(ps, p, "invalid \\u escape");
			if (cp == 0)
				return fail_at(ps, p, "NUL character (\\u0000) in string");
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return fail_at(ps, p, "unpaired low surrogate");
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) < 0 ||
				    lo < 0xDC00 || lo > 0xDFFF)
					return fail_at(ps, p, "unpaired high surrogate");
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			/* Never longer than the escape text it replaces, so scratch cannot overflow. */
			n += utf8_put(out + n, cp);
			p += 4;
			break;
		}
		default:
			return fail_at(ps, p, "invalid escape");
		}
		p += 2;
		run = p;
	}

	if (out) {
		memcpy(out + n, run, (size_t)(p - run));
		n += (size_t)(p - run);
		*ret_s = out;
		*ret_len = n;
		if (ps->scratch_top + n > ps->scratch_high)
			ps->scratch_high = ps->scratch_top + n;
	} else {
		*ret_s = (const char *)run;
		*ret_len = (size_t)(p - run);
	}
	*ret_copied = out != NULL;
	ps->p = p + 1;
	return 0;
}

static int parse_string(struct parser *ps, json_object **ret)
{
	const char *s;
	size_t n;
	bool copied;
	if (parse_string_raw(ps, &s, &n, &copied) < 0)
		return -1;
	if (n > INT_MAX)
		return fail_at(ps, ps->p, "string too long");
	*ret = json_object_new_string_len(s, (int)n);
	return *ret ? 0 : fail_oom(ps);
}

static int parse_value(struct parser *ps, int depth, json_object **ret);

static void name_for_message(char *buf, size_t size, const char *name)
{
	size_t i;
	for (i = 0; name[i] && i + 1 < size; i++)
		buf[i] = name[i] >= 0x20 && name[i] < 0x7F ? name[i] : '?';
	buf[i] = '\0';
}

static int parse_object(struct parser *ps, int depth, json_object **ret)
{
	json_object *obj;
	if (depth > ps->max_depth)
		return et_err_set(ps->err, ET_E_TOO_DEEP, "Invalid JSON: nesting deeper than %d at byte %zu.",
				  ps->max_depth, offset_of(ps, ps->p));
	obj = json_object_new_object();
	if (!obj)
		return fail_oom(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		*ret = obj;
		return 0;
	}
	for (;;) {
		const unsigned char *name_at;
		const char *s;
		size_t n, saved_top = ps->scratch_top;
		bool copied;
		char *key;
		json_object *val = NULL;

		skip_ws(ps);
		name_at = ps->p;
		if (ps->p >= ps->end || *ps->p != '"') {
			fail_at(ps, ps->p, "expected a member name");
			goto fail;
		}
		if (parse_string_raw(ps, &s, &n, &copied) < 0)
			goto fail;
		/* The name must be a C string for json-c: keep it on the scratch stack. */
		key = ps->scratch + ps->scratch_top;
		if (!copied)
			memcpy(key, s, n);
		if (memchr(key, '\0', n)) { /* cannot happen: \u0000 and raw NUL are refused */
			fail_at(ps, name_at, "NUL character in member name");
			goto fail;
		}
		key[n] = '\0';
		ps->scratch_top += n + 1;
		if (ps->scratch_top > ps->scratch_high)
			ps->scratch_high = ps->scratch_top;
		if (json_object_object_get_ex(obj, key, NULL)) {
			char shown[40];
			name_for_message(shown, sizeof(shown), key);
			et_err_set(ps->err, ET_E_DUPLICATE_MEMBER,
				   "Invalid JSON: duplicate member name \"%s\" at byte %zu.", shown,
				   offset_of(ps, name_at));
			goto fail;
		}
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			fail_at(ps, ps->p, "expected ':' after a member name");
			goto fail;
		}
		ps->p++;
		skip_ws(ps);
		if (parse_value(ps, depth, &val) < 0)
			goto fail;
		if (json_object_object_add_ex(obj, key, val, JSON_C_OBJECT_ADD_KEY_IS_NEW) < 0) {
			json_object_put(val);
			fail_oom(ps);
			goto fail;
		}
		ps->scratch_top = saved_top;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			*ret = obj;
			return 0;
		}
		fail_at(ps, ps->p, "expected ',' or '}' in an object");
	fail:
		ps->scratch_top = saved_top;
		json_object_put(obj);
		return -1;
	}
}

static int parse_array(struct parser *ps, int depth, json_object **ret)
{
	json_object *arr;
	if (depth > ps->max_depth)
		return et_err_set(ps->err, ET_E_TOO_DEEP, "Invalid JSON: nesting deeper than %d at byte %zu.",
				  ps->max_depth, offset_of(ps, ps->p));
	arr = json_object_new_array();
	if (!arr)
		return fail_oom(ps);
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		*ret = arr;
		return 0;
	}
	for (;;) {
		json_object *val = NULL;
		skip_ws(ps);
		if (parse_value(ps, depth, &val) < 0)
			break;
		if (json_object_array_add(arr, val) < 0) {
			json_object_put(val);
			fail_oom(ps);
			break;
		}
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			*ret = arr;
			return 0;
		}
		fail_at(ps, ps->p, "expected ',' or ']' in an array");
		break;
	}
	json_object_put(arr);
	return -1;
}

static int parse_literal(struct parser *ps, const char *word, size_t n)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail_at(ps, ps->p, "unexpected character");
	ps->p += n;
	return 0;
}

/* depth: containers already open around this value. */
static int parse_value(struct parser *ps, int depth, json_object **ret)
{
	if (ps->p >= ps->end)
		return fail_at(ps, ps->p, "unexpected end of input");
	switch (*ps->p) {
	case '{':
		return parse_object(ps, depth + 1, ret);
	case '[':
		return parse_array(ps, depth + 1, ret);
	case '"':
		return parse_string(ps, ret);
	case 't':
		if (parse_literal(ps, "true", 4) < 0)
			return -1;
		*ret = json_object_new_boolean(1);
		return *ret ? 0 : fail_oom(ps);
	case 'f':
		if (parse_literal(ps, "false", 5) < 0)
			return -1;
		*ret = json_object_new_boolean(0);
		return *ret ? 0 : fail_oom(ps);
	case 'n':
		if (parse_literal(ps, "null", 4) < 0)
			return -1;
		*ret = NULL; /* json-c's null */
		return 0;
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return parse_number(ps, ret);
	default:
		return fail_at(ps, ps->p, "unexpected character");
	}
}

int et_json_parse(const char *text, size_t len, int max_depth, json_object **ret, struct et_err *err)
{
	char stack_scratch[JSON_STACK_SCRATCH];
	struct parser ps = {
		.start = (const unsigned char *)text,
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.max_depth = max_depth <= 0 ? ET_JSON_MAX_DEPTH : max_depth,
		.err = err,
	};
	json_object *root = NULL;
	int r = -1;

	if (!text || !ret)
		return et_err_set(err, ET_E_BAD_JSON, "Invalid JSON: no input.");
	if (ps.max_depth > JSON_HARD_MAX_DEPTH)
		ps.max_depth = JSON_HARD_MAX_DEPTH;
	if (len < sizeof(stack_scratch)) {
		ps.scratch = stack_scratch;
	} else {
		if (len == SIZE_MAX)
			return et_err_set(err, ET_E_BAD_JSON, "Invalid JSON: input too large.");
		ps.scratch = malloc(len + 1);
		if (!ps.scratch)
			return fail_oom(&ps);
	}

	skip_ws(&ps);
	if (parse_value(&ps, 0, &root) < 0)
		goto done;
	skip_ws(&ps);
	if (ps.p != ps.end) {
		fail_at(&ps, ps.p, "trailing characters after the value");
		json_object_put(root);
		goto done;
	}
	*ret = root;
	r = 0;
done:
	/* Decoded strings may be credentials (token responses): do not leave them behind. */
	explicit_bzero(ps.scratch, ps.scratch_high);
	if (ps.scratch != stack_scratch)
		free(ps.scratch);
	return r;
}

const char *et_json_get_string(json_object *obj, const char *key)
{
	json_object *v;
	if (!obj || !key || !json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int et_json_get_int64(json_object *obj, const char *key, long long *ret)
{
	json_object *v;
	if (!obj || !key || !ret || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	*ret = (long long)json_object_get_int64(v);
	return 0;
}
