/* SPDX-License-Identifier: Apache-2.0 */
/* Break-glass vouchers: offline-signed, one-time, scoped to a user and hosts.
 *
 *   EBG1.<payload>.<signature>
 *   payload    base64url without padding of a UTF-8 JSON object
 *   signature  base64url without padding of the 64-byte Ed25519 signature over the ASCII
 *              bytes "EBG1.<payload>" (everything before the second dot)
 *
 * Payload members, no others, no duplicates, each with exactly this JSON type:
 *   kid     string, 16 lowercase hex: the signing key's id (et_bg_kid)
 *   sub     string, the local user name it is for
 *   hosts   non-empty array of strings: host name patterns ('*' and '?' only,
 *           case-insensitive), matched against the short and the fully qualified name
 *   iat     integer seconds since the epoch
 *   exp     integer seconds; redeemable until exp; 0 <= exp - iat <= 7 days
 *   nbf     integer seconds, optional
 *   dur     integer seconds > 0: the grant's length
 *   jti     string, 32 lowercase hex (128 random bits)
 *   reason  string, at most 200 characters
 * The whole text is at most 2048 characters. Vouchers are also minted by tools that are not
 * ours: this file is the format's one reader, and it reads it to the letter.
 *
 * Keys: "ed25519:<base64url, no padding, of the 32-byte raw public key>"; a key's id is the
 * first 8 bytes of SHA-256 over the 32 raw bytes, as 16 lowercase hex characters. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "conf.h"
#include "err.h"
#include "strlist.h"

#define ET_VOUCHER_PREFIX "EBG1."
#define ET_VOUCHER_MAX 2048
#define ET_VOUCHER_KID_HEX 16
#define ET_VOUCHER_JTI_HEX 32
#define ET_VOUCHER_SUB_MAX 256
#define ET_VOUCHER_REASON_MAX 200 /* characters (code points) */
#define ET_VOUCHER_HOST_MAX 253
#define ET_VOUCHER_VALID_MAX (7L * 86400L)
/* times outside 0..this (9999-12-31T23:59:59Z) are malformed: no arithmetic can overflow */
#define ET_VOUCHER_TIME_MAX 253402300799LL
#define ET_BG_KEY_PREFIX "ed25519:"
#define ET_BG_RAW_KEY 32
#define ET_BG_SIG 64

struct et_bg_key {
	unsigned char raw[ET_BG_RAW_KEY];
	char kid[ET_VOUCHER_KID_HEX + 1];
};

/* The key id of a raw public key: first 8 bytes of SHA-256, 16 lowercase hex. */
void et_bg_kid(const unsigned char raw[ET_BG_RAW_KEY], char out[ET_VOUCHER_KID_HEX + 1]);
/* "ed25519:<43 base64url chars>" (strict) into ret. 0 or -1. */
int et_bg_key_parse(const char *text, struct et_bg_key *ret);
/* "ed25519:..." for a raw key (malloc'd). */
char *et_bg_key_format(const unsigned char raw[ET_BG_RAW_KEY]);

struct et_voucher {
	char kid[ET_VOUCHER_KID_HEX + 1];
	char sub[ET_VOUCHER_SUB_MAX + 1];
	struct et_strlist hosts;
	long long iat, exp, nbf, dur;
	bool has_nbf;
	char jti[ET_VOUCHER_JTI_HEX + 1];
	char reason[ET_VOUCHER_REASON_MAX * 4 + 1];
};
void et_voucher_free(struct et_voucher *v);
/* "a.example.com,b*" for logs and the audit trail (malloc'd; NULL on ENOMEM). */
char *et_voucher_hosts_joined(const struct et_voucher *v);

/* Where and when a voucher is judged. */
struct et_voucher_ctx {
	const struct et_strlist *keys; /* breakglass_keys: "ed25519:..." */
	const char *user;              /* the PAM user; NULL: any (verify command) */
	const char *host_short, *host_fqdn; /* NULL: no host check */
	time_t now;
	long skew;
};

/* Check the text's shape and decode the payload: reasons voucher_too_long and
 * voucher_malformed. On success ret is filled (free it with et_voucher_free), even when the
 * signature has not been checked yet: *ret_signed_len is the length of "EBG1.<payload>". */
int et_voucher_parse(const char *text, size_t len, struct et_voucher *ret, unsigned char sig[ET_BG_SIG],
		     size_t *ret_signed_len, struct et_err *err);

/* Judge a voucher: shape, key, signature, user, host, time, in that order (the first
 * failure is the reason: voucher_too_long, voucher_malformed, voucher_unknown_key,
 * voucher_bad_signature, voucher_wrong_user, voucher_wrong_host, voucher_not_yet_valid,
 * voucher_expired). ret is filled as far as the payload could be read (for the audit trail),
 * also on failure; free it with et_voucher_free. Replay is the redemption record's business. */
int et_voucher_verify(const char *text, size_t len, const struct et_voucher_ctx *ctx, struct et_voucher *ret,
		      struct et_err *err);

/* A host pattern ('*', '?', case-insensitive) matches name. */
bool et_host_pattern_match(const char *pattern, const char *name);

/* This host's short and fully qualified names: the node name (uname) up to its first dot,
 * and the node name itself when it has a dot, else the canonical name /etc/hosts gives it
 * (else the node name). No DNS query is made. */
void et_host_names(char *short_name, size_t short_size, char *fqdn, size_t fqdn_size);

/* Mint a voucher (the `entra-tap breakglass issue` command and the tests): sign v's members
 * with the PEM private key in key_pem. *ret is malloc'd. */
int et_voucher_sign(const char *key_pem, size_t key_len, const struct et_voucher *v, char **ret, struct et_err *err);
/* A new Ed25519 key: the PKCS#8 PEM private key (malloc'd, wipe it) and the raw public key. */
int et_bg_keygen(char **ret_pem, size_t *ret_pem_len, unsigned char ret_pub[ET_BG_RAW_KEY], struct et_err *err);

/* ---- the redemption records: {state_dir}/breakglass/JTI, root-only ---- */
/* Record that v is redeemed on this host, durably (the record is complete and fsync'd, and
 * so is its directory, before this returns 0). A second record of the same jti fails with
 * reason voucher_replayed, also after a crash at any point after the first returned. */
int et_voucher_record(const struct et_config *cfg, const struct et_voucher *v, time_t now, struct et_err *err);
/* Remove the records whose voucher can no longer be redeemed (exp + clock_skew passed) and
 * leftovers of interrupted writes. ret_removed (optional): how many records went. */
int et_voucher_records_sweep(const struct et_config *cfg, time_t now, unsigned *ret_removed, struct et_err *err);
