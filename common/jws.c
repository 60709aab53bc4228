/* SPDX-License-Identifier: Apache-2.0 */
/* Compact JWS (RFC 7515) with a closed algorithm list: RS256 and ES256, keys only from our
 * JWKS by kid. Everything a token could use to choose its own algorithm or key is refused
 * before any cryptography runs. */
#include "jws.h"
#include "b64url.h"
#include "json_strict.h"
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#define ES256_SIG_BYTES 64
#define ES256_HALF 32

/* Attacker-chosen text in an error message: printable ASCII only, shortened. */
static const char *shown(char *buf, size_t size, const char *s)
{
	size_t i;
	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7F && s[i] != '"' ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static bool has_member(json_object *obj, const char *name)
{
	return json_object_object_get_ex(obj, name, NULL);
}

static int decode_failed(struct et_err *err, const char *what)
{
	if (errno == ENOMEM)
		return et_err_set(err, ET_E_NO_MEMORY, "Out of memory decoding the token's %s.", what);
	return et_err_set(err, ET_E_BAD_BASE64, "The token's %s is not strict base64url.", what);
}

/* Decode one segment and parse it as JSON; what names the segment in messages. */
static int segment_json(const char *seg, size_t len, const char *what, json_object **ret, struct et_err *err)
{
	unsigned char *buf = NULL;
	size_t n = 0;
	struct et_err perr;
	int r;

	if (et_b64url_decode(seg, len, &buf, &n) < 0)
		return decode_failed(err, what);
	r = et_json_parse((const char *)buf, n, ET_JSON_MAX_DEPTH, ret, &perr);
	explicit_bzero(buf, n);
	free(buf);
	if (r < 0)
		return et_err_set(err, perr.code, "The token's %s: %s", what, perr.message);
	return 0;
}

static int check_header(json_object *h, enum et_alg *ret_alg, const char **ret_kid, struct et_err *err)
{
	static const char *const embedded[] = { "jwk", "jku", "x5u", "x5c" };
	json_object *v;
	const char *alg, *kid, *typ;
	char buf[40];
	enum et_alg a;
	size_t i;

	alg = et_json_get_string(h, "alg");
	if (!alg)
		return et_err_set(err, ET_E_ALG_UNSUPPORTED, "The token header has no \"alg\" string.");
	if (strcasecmp(alg, "none") == 0)
		return et_err_set(err, ET_E_ALG_NONE, "The token is unsigned (alg \"%s\").", shown(buf, sizeof(buf), alg));
	if (strcasecmp(alg, "HS256") == 0 || strcasecmp(alg, "HS384") == 0 || strcasecmp(alg, "HS512") == 0)
		return et_err_set(err, ET_E_ALG_HMAC, "The token uses a shared-secret algorithm (%s), which is refused.",
				  shown(buf, sizeof(buf), alg));
	if (strcmp(alg, "RS256") == 0)
		a = ET_ALG_RS256;
	else if (strcmp(alg, "ES256") == 0)
		a = ET_ALG_ES256;
	else
		return et_err_set(err, ET_E_ALG_UNSUPPORTED, "The token algorithm \"%s\" is not supported (RS256, ES256).",
				  shown(buf, sizeof(buf), alg));
	/* We implement no extensions, so any "crit" list names one we do not understand. */
	if (has_member(h, "crit"))
		return et_err_set(err, ET_E_CRIT, "The token header has \"crit\" extensions, which are not supported.");
	for (i = 0; i < sizeof(embedded) / sizeof(embedded[0]); i++)
		if (has_member(h, embedded[i]))
			return et_err_set(err, ET_E_EMBEDDED_KEY,
					  "The token header names its own key (\"%s\"); keys come only from "
					  "the key set.",
					  embedded[i]);
	if (has_member(h, "zip"))
		return et_err_set(err, ET_E_ZIP, "The token header asks for compression (\"zip\"), which is refused.");
	if (json_object_object_get_ex(h, "typ", &v)) {
		typ = et_json_get_string(h, "typ");
		if (!typ || strcasecmp(typ, "JWT") != 0)
			return et_err_set(err, ET_E_BAD_TYP, "The token type is not \"JWT\".");
	}
	kid = et_json_get_string(h, "kid");
	if (!kid)
		return et_err_set(err, ET_E_NO_KID, "The token header has no \"kid\" string.");
	for (i = 0; kid[i]; i++)
		if ((unsigned char)kid[i] < 0x20 || (unsigned char)kid[i] > 0x7E)
			return et_err_set(err, ET_E_NO_KID, "The token's \"kid\" is not printable ASCII.");
	if (i == 0 || i > ET_KID_MAX)
		return et_err_set(err, ET_E_NO_KID, "The token's \"kid\" is empty or longer than %d characters.",
				  ET_KID_MAX);
	*ret_alg = a;
	*ret_kid = kid;
	return 0;
}

int et_jws_parse(const char *token, size_t len, struct et_jws *ret, struct et_err *err)
{
	struct et_jws j;
	const char *end, *dot1, *dot2, *sig64;
	size_t sig64_len;

	memset(&j, 0, sizeof(j));
	if (!token || !ret)
		return et_err_set(err, ET_E_MALFORMED, "No token.");
	/* Before anything else: nothing below runs on an oversized input. */
	if (len > ET_JWS_MAX_BYTES)
		return et_err_set(err, ET_E_TOO_LARGE, "The token is %zu bytes; the limit is %d.", len, ET_JWS_MAX_BYTES);
	end = token + len;
	dot1 = memchr(token, '.', len);
	dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
		return et_err_set(err, ET_E_MALFORMED, "The token is not three dot-separated segments.");
	sig64 = dot2 + 1;
	sig64_len = (size_t)(end - sig64);
	if (dot1 == token || dot2 == dot1 + 1 || sig64_len == 0)
		return et_err_set(err, ET_E_MALFORMED, "The token has an empty segment.");

	if (segment_json(token, (size_t)(dot1 - token), "header", &j.header, err) < 0)
		goto fail;
	if (!json_object_is_type(j.header, json_type_object)) {
		et_err_set(err, ET_E_MALFORMED, "The token header is not a JSON object.");
		goto fail;
	}
	if (check_header(j.header, &j.alg, &j.kid, err) < 0)
		goto fail;
	if (segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1), "payload", &j.payload, err) < 0)
		goto fail;
	if (!json_object_is_type(j.payload, json_type_object)) {
		et_err_set(err, ET_E_PAYLOAD_NOT_OBJECT, "The token payload is not a JSON object.");
		goto fail;
	}
	if (et_b64url_decode(sig64, sig64_len, &j.sig, &j.sig_len) < 0) {
		decode_failed(err, "signature");
		goto fail;
	}
	/* Refused here, before a key lookup could trigger a key set refresh. */
	if (j.alg == ET_ALG_ES256 && j.sig_len != ES256_SIG_BYTES) {
		et_err_set(err, ET_E_BAD_SIGNATURE, "An ES256 signature must be %d bytes, not %zu.", ES256_SIG_BYTES,
			   j.sig_len);
		goto fail;
	}
	j.signing_input = token;
	j.signing_input_len = (size_t)(dot2 - token);
	*ret = j;
	return 0;
fail:
	et_jws_free(&j);
	return -1;
}

/* One unsigned big-endian integer as a DER INTEGER: minimal, with a 0x00 when the top bit
 * is set. */
static size_t der_uint(unsigned char *out, const unsigned char *v, size_t n)
{
	size_t i = 0, len;
	bool pad;
	while (i + 1 < n && v[i] == 0)
		i++;
	pad = (v[i] & 0x80) != 0;
	len = n - i + (pad ? 1 : 0);
	out[0] = 0x02;
	out[1] = (unsigned char)len;
	out[2] = 0x00;
	memcpy(out + 2 + (pad ? 1 : 0), v + i, n - i);
	return 2 + len;
}

/* JWS carries ECDSA as raw r||s; OpenSSL wants an ECDSA-Sig-Value SEQUENCE. At most
 * 2 + 2 * (2 + 33) = 72 bytes, so the short length form always applies. */
static size_t es256_der(const unsigned char *raw, unsigned char out[72])
{
	size_t n = 2;
	n += der_uint(out + n, raw, ES256_HALF);
	n += der_uint(out + n, raw + ES256_HALF, ES256_HALF);
	out[0] = 0x30;
	out[1] = (unsigned char)(n - 2);
	return n;
}

int et_jws_verify(const struct et_jws *jws, const struct et_jwk *key, struct et_err *err)
{
	EVP_MD_CTX *md = NULL;
	unsigned char der[72];
	const unsigned char *sig;
	size_t sig_len;
	int r = -1;

	if (!jws || !jws->sig || !jws->signing_input)
		return et_err_set(err, ET_E_BAD_SIGNATURE, "There is no parsed token to verify.");
	if (!key || !key->pkey)
		return et_err_set(err, ET_E_BAD_SIGNATURE, "There is no key to verify the token with.");
	if (key->alg != jws->alg ||
	    EVP_PKEY_get_base_id(key->pkey) != (jws->alg == ET_ALG_RS256 ? EVP_PKEY_RSA : EVP_PKEY_EC))
		return et_err_set(err, ET_E_KEY_ALG_MISMATCH, "The token's algorithm does not match the key \"%s\".",
				  key->kid);

	if (jws->alg == ET_ALG_RS256) {
		/* PKCS#1 v1.5 signatures are exactly the modulus size. */
		if (jws->sig_len != (size_t)EVP_PKEY_get_size(key->pkey))
			return et_err_set(err, ET_E_BAD_SIGNATURE, "The RS256 signature is %zu bytes; the key needs %d.",
					  jws->sig_len, EVP_PKEY_get_size(key->pkey));
		sig = jws->sig;
		sig_len = jws->sig_len;
	} else {
		if (jws->sig_len != ES256_SIG_BYTES)
			return et_err_set(err, ET_E_BAD_SIGNATURE, "An ES256 signature must be %d bytes, not %zu.",
					  ES256_SIG_BYTES, jws->sig_len);
		sig_len = es256_der(jws->sig, der);
		sig = der;
	}

	/* Copying the context prepared at key load skips the per-call algorithm fetches, the
	 * larger part of OpenSSL 3's set-up cost; it carries the same digest and padding. */
	if (key->verify_ctx) {
		md = EVP_MD_CTX_new();
		if (md && EVP_MD_CTX_copy_ex(md, key->verify_ctx) != 1) {
			EVP_MD_CTX_free(md);
			md = NULL;
		}
	}
	if (!md)
		md = et_jwk_verify_ctx_new(key->pkey, jws->alg);
	if (!md) {
		/* Only an allocation can fail here: the algorithms are built into OpenSSL. */
		et_err_set(err, ET_E_NO_MEMORY, "Out of memory setting up the signature check for key \"%s\".", key->kid);
		goto done;
	}
	if (EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)jws->signing_input,
			     jws->signing_input_len) != 1) {
		et_err_set(err, ET_E_BAD_SIGNATURE, "The token's signature does not verify with key \"%s\".", key->kid);
		goto done;
	}
	r = 0;
done:
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return r;
}

void et_jws_free(struct et_jws *jws)
{
	if (!jws)
		return;
	json_object_put(jws->header);
	json_object_put(jws->payload);
	/* With the signing input, the signature re-makes the bearer token. */
	if (jws->sig)
		explicit_bzero(jws->sig, jws->sig_len);
	free(jws->sig);
	memset(jws, 0, sizeof(*jws));
}
