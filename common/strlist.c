/* SPDX-License-Identifier: Apache-2.0 */
#include "strlist.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int et_strlist_add(struct et_strlist *l, const char *s)
{
	char *copy = strdup(s);
	char **grown;
	if (!copy)
		return -1;
	grown = realloc(l->items, (l->n + 1) * sizeof(*grown));
	if (!grown) {
		free(copy);
		return -1;
	}
	l->items = grown;
	l->items[l->n++] = copy;
	return 0;
}

bool et_strlist_contains(const struct et_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

bool et_strlist_contains_icase(const struct et_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->items[i], s) == 0)
			return true;
	return false;
}

void et_strlist_free(struct et_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

int et_strlist_parse(struct et_strlist *l, const char *text)
{
	const char *p = text;
	while (*p) {
		const char *start, *end;
		char item[1024];
		size_t len;
		while (*p == ' ' || *p == '\t')
			p++;
		start = p;
		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		end = p;
		while (*p == ' ' || *p == '\t')
			p++;
		len = (size_t)(end - start);
		if (len == 0 || len >= sizeof(item))
			return -1;
		if (*p == ',') {
			p++;
			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p)
				return -1; /* trailing comma */
		}
		memcpy(item, start, len);
		item[len] = '\0';
		if (et_strlist_add(l, item) < 0)
			return -1;
	}
	return l->n ? 0 : -1;
}
