/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer harness for the strict JSON parser (see fuzz/README.md).
 * Besides crashes and sanitizer reports it checks one property: whatever the parser
 * accepts, json-c serialises into text that the parser accepts again, giving an equal value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *o = NULL, *again = NULL;
	struct et_err err;
	const char *text;
	long long ll;

	if (et_json_parse((const char *)data, size, ET_JSON_MAX_DEPTH, &o, &err) < 0) {
		/* every failure names a reason */
		if (!err.reason[0] || !err.message[0])
			abort();
		return 0;
	}
	if (json_object_is_type(o, json_type_object)) {
		(void)et_json_get_string(o, "a");
		(void)et_json_get_int64(o, "a", &ll);
	}
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	if (et_json_parse(text, strlen(text), ET_JSON_MAX_DEPTH, &again, &err) < 0) {
		fprintf(stderr, "re-parse of json-c output failed: %s: %s\n%s\n", err.reason, err.message, text);
		abort();
	}
	if (!json_object_equal(o, again)) {
		fprintf(stderr, "round trip changed the value:\n%s\n", text);
		abort();
	}
	json_object_put(again);
	json_object_put(o);
	return 0;
}
