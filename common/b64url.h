/* SPDX-License-Identifier: Apache-2.0 */
/* Strict base64url (RFC 4648 §5) without padding, as JWS compact serialisation uses it. */
#pragma once
#include <stddef.h>

/* Decode exactly len chars of in. Rejects '=', any char outside the alphabet, a length that
 * is 1 mod 4, and non-zero trailing bits (non-canonical encodings). Returns a malloc'd
 * buffer (NUL-terminated for convenience) and its length, or -1. */
int et_b64url_decode(const char *in, size_t len, unsigned char **ret_out, size_t *ret_len);
/* Encode (malloc'd, NUL-terminated) — used by tests and the key thumbprint code. */
char *et_b64url_encode(const unsigned char *in, size_t len);
