/* SPDX-License-Identifier: Apache-2.0 */
/* A small owned list of strings (config lists, claim arrays). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct et_strlist {
	char **items;
	size_t n;
};

int et_strlist_add(struct et_strlist *l, const char *s); /* copies s; -1 on ENOMEM */
bool et_strlist_contains(const struct et_strlist *l, const char *s);
/* Case-insensitive ASCII match (domains). */
bool et_strlist_contains_icase(const struct et_strlist *l, const char *s);
void et_strlist_free(struct et_strlist *l);
/* Split "a, b ,c" on commas and/or whitespace into l. Empty items are an error (-1). */
int et_strlist_parse(struct et_strlist *l, const char *text);
