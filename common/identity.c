/* From a verified token to a local user name, and the per-user tid+oid pin. */
#include "identity.h"
#include <ctype.h>
#include <string.h>

int et_local_name_ok(const char *name)
{
	size_t n;
	int all_digits = 1;
	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n > ET_USER_NAME_MAX || name[0] == '-')
		return 0;
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!isascii(c) || !(isalnum(c) || c == '.' || c == '_' || c == '-'))
			return 0;
		if (!isdigit(c))
			all_digits = 0;
	}
	return !all_digits;
}
