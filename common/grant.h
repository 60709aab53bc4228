/* SPDX-License-Identifier: Apache-2.0 */
/* Grants: membership of a local user in the elevated group for a bounded time.
 *
 * The store, one file per grant in {state_dir}/grants/ (root, 0700), is the source of truth;
 * the group files follow it. Every mutation (create, revoke, sweep) runs under the store lock
 * ({state_dir}/lock, flock) and then the group-file locks (see groupfile.h), in that order,
 * and only in a process of its own (a program of the caller's, never inside sshd or sudo,
 * whose alarm() lckpwdf would clobber). The PAM module reads the store and the group file
 * itself but changes them only through such a program.
 *
 * Ordering, so that a kill at any instant fails closed and the sweep repairs the rest:
 *   create: add the member, then write the grant (a member without a grant is removed by the
 *           sweep; a grant never exists whose membership was not made);
 *   revoke: delete the grant, then remove the member (a left-over member has no grant and is
 *           removed by the sweep).
 * The sweep reconciles both ways: members without a live grant go (unless listed in
 * permanent_members), users with a live grant are members.
 *
 * The headers: grant_store.h, the record of one grant, its file format and the store
 * (grant_store.c); grant_ops.h, what the programs and the PAM module do: create, revoke,
 * sweep, the pending markers, the account check and setcred (grant_ops.c); this one, what
 * both share: the bounds on ids and names, the methods and the revocation causes. */
#pragma once

#define ET_GRANT_ID_HEX 32       /* 128 random bits */
#define ET_GRANT_NAME_MAX 32     /* user and group names */
#define ET_GRANT_TEXT_MAX 256    /* reason, upn, rhost: bytes, after sanitising */
#define ET_GRANT_SHORT_MAX 64    /* oid, tid, service */

enum et_grant_method {
	ET_GRANT_METHOD_TAP,
	ET_GRANT_METHOD_DEVICE_CODE,
	ET_GRANT_METHOD_TOKEN,
	ET_GRANT_METHOD_BREAKGLASS,
	ET_GRANT_METHOD_ADMIN,
	/* a secret typed at the prompt and accepted by the IdP's password grant: a pass or the
	 * account's password, nobody can tell which (records before this say "tap") */
	ET_GRANT_METHOD_PASSWORD,
};

enum et_revoke_cause {
	ET_REVOKE_EXPIRY,  /* the grant's own timer, at expiry */
	ET_REVOKE_DROP,    /* the user ended it */
	ET_REVOKE_ADMIN,   /* root ended it before expiry */
	ET_REVOKE_SWEEP,   /* the periodic or boot sweep found it expired */
	ET_REVOKE_ACCOUNT, /* the PAM account check found it expired */
	ET_REVOKE_LOGIN_FAILED, /* made during a sign-in whose login never succeeded (guard, sweep) */
};

/* (grant_store.c) */
const char *et_grant_method_name(enum et_grant_method m);
int et_grant_method_parse(const char *s, enum et_grant_method *ret);
const char *et_revoke_cause_name(enum et_revoke_cause c);
