/* SPDX-License-Identifier: Apache-2.0 */
/* Shared test fixtures: temp dirs, files, keys, JWKS and signed tokens (built with OpenSSL
 * directly, independent of the code under test). */
#pragma once
#include <stddef.h>
#include <sys/types.h>
#include <openssl/evp.h>

/* A fresh directory, removed (recursively) at exit. */
char *tu_tmpdir(void);
/* Write dir/name with content and mode; returns the malloc'd path (aborts on failure). */
char *tu_write_file(const char *dir, const char *name, const char *content, mode_t mode);
/* dir/name (malloc'd). */
char *tu_path_in(const char *dir, const char *name);
/* How many entries dir has besides . and .. (hidden ones too); -1 when it cannot be opened. */
int tu_count_entries(const char *dir);
/* How many entries of dir are not hidden and start with prefix ("" for any); 0 when dir
 * cannot be opened. */
size_t tu_count_prefixed(const char *dir, const char *prefix);
/* pipe(pfd), then fork(); aborts when either fails. Returns the child's pid (0 in the child). */
pid_t tu_fork_piped(int pfd[2]);
EVP_PKEY *tu_rsa_key(int bits); /* cached per size: key generation is slow */
EVP_PKEY *tu_ec_key(void);
/* base64url without padding (malloc'd). */
char *tu_b64url(const void *data, size_t len);
/* base64url of a BIGNUM parameter of key (OSSL_PKEY_PARAM_*), left-padded to pad_to bytes when
 * pad_to > 0 (malloc'd). */
char *tu_bn_param_b64(EVP_PKEY *key, const char *name, int pad_to);
/* One JWK object (RSA: kty,n,e; EC: kty,crv,x,y) with kid and use=sig (malloc'd JSON). */
char *tu_jwk_json(EVP_PKEY *key, const char *kid);
/* {"keys":[...]} for n keys. */
char *tu_jwks_json(EVP_PKEY **keys, const char **kids, size_t n);
/* Compact JWS over the given header and payload JSON texts, signed with key (RS256 for RSA,
 * ES256 raw r||s for EC). */
char *tu_sign_jws(EVP_PKEY *key, const char *header_json, const char *payload_json);
/* The same, but the caller supplies the raw header/payload segments (already encoded). */
char *tu_sign_segments(EVP_PKEY *key, const char *b64_header, const char *b64_payload);

/* Append text and a newline to buf (size bytes, *len used), dropping what does not fit:
 * a bounded collector for log lines and error sentences that a test searches afterwards. */
void tu_append_line(char *buf, size_t size, size_t *len, const char *text);
