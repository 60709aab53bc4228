/* SPDX-License-Identifier: Apache-2.0 */
/* Strict JSON (RFC 8259) into json-c objects: rejects duplicate member names (json-c would
 * keep the last silently), trailing garbage, nesting deeper than max_depth, invalid UTF-8 and
 * lone surrogates, leading zeros, NaN/Infinity, comments. Integers that fit int64 become
 * json_type_int; others become doubles. */
#pragma once
#include <stddef.h>
#include <json-c/json.h>
#include "err.h"

#define ET_JSON_MAX_DEPTH 16

int et_json_parse(const char *text, size_t len, int max_depth, json_object **ret, struct et_err *err);

/* Typed getters: return the member only when present with the right type, else NULL / -1. */
const char *et_json_get_string(json_object *obj, const char *key);
int et_json_get_int64(json_object *obj, const char *key, long long *ret); /* json_type_int only */
