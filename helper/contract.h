/* SPDX-License-Identifier: Apache-2.0 */
/* The contract between the PAM module and the programs: which program does what, its verbs
 * and their argument shapes, its exit statuses, the PAM environment names, and the machine
 * line of `grant`. This is the one place they are spelt; pam_entra_tap/helper_cmd.c is the
 * one place in the module that builds a command line from them. The core library (common/)
 * knows none of it: it neither names nor runs these programs.
 *
 * Two programs, split as pam_unix is split from unix_chkpwd:
 *
 *   entra-tap-helper   BINDIR, setuid root, on every user's PATH. Only what an ordinary
 *                      user needs, always for the real uid:
 *                        status
 *                        drop [ID]
 *                        elevate [--duration D] [--reason TEXT]
 *                      `elevate` runs the PAM service ET_PAM_SERVICE for the caller, as su
 *                      does; it edits nothing itself.
 *
 *   entra-tap-grantctl LIBEXECDIR/entra-tap, not setuid, root only (refuses anyone else).
 *                      What the module (inside sshd or sudo, already root), systemd's units
 *                      and the administrator run:
 *                        grant USER [--duration D] [--reason TEXT] [--method M] [--oid OID]
 *                                   [--upn UPN] [--tid TID] [--service NAME] [--rhost HOST]
 *                                   [--pim-until EPOCH]
 *                                   [--watch PID[,PID]] [--extend]
 *                        revoke ID | revoke --user USER
 *                        list [--json]
 *                        sweep [--user USER] [--cause sweep|account]
 *                        guard ID PID [PID]
 *                        adopt
 *                        tie USER PID [--tty TTY]
 *                        warn ID
 *                      The administrator's `entra-tap grant|revoke|list|sweep` runs it.
 *
 * Every program is started with a fixed argv (argv[0] is the program's name), an empty
 * environment and only fds 0-2; the exit status is one of enum et_exit. */
#pragma once
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include "grant.h"
#include "timer.h"

#ifndef BINDIR
#define BINDIR "/usr/bin"
#endif
#ifndef LIBEXECDIR
#define LIBEXECDIR "/usr/libexec"
#endif

#define ET_HELPER_NAME "entra-tap-helper"
#define ET_HELPER_PATH BINDIR "/" ET_HELPER_NAME
#define ET_GRANTCTL_NAME "entra-tap-grantctl"
#define ET_GRANTCTL_PATH LIBEXECDIR "/entra-tap/" ET_GRANTCTL_NAME

/* The verbs, with the program that carries each. `admin`: `entra-tap VERB ...` runs
 * `entra-tap-grantctl VERB ...` for the administrator. */
enum et_program { ET_PROG_HELPER, ET_PROG_GRANTCTL };
/* clang-format off */
#define ET_VERBS(X) \
	X(STATUS,  "status",  HELPER,   false, true)  \
	X(DROP,    "drop",    HELPER,   false, true)  \
	X(ELEVATE, "elevate", HELPER,   false, false) \
	X(GRANT,   "grant",   GRANTCTL, true,  false) \
	X(REVOKE,  "revoke",  GRANTCTL, true,  true)  \
	X(LIST,    "list",    GRANTCTL, true,  true)  \
	X(SWEEP,   "sweep",   GRANTCTL, true,  true)  \
	X(GUARD,   "guard",   GRANTCTL, false, true)  \
	X(ADOPT,   "adopt",   GRANTCTL, true,  false) \
	X(TIE,     "tie",     GRANTCTL, false, false) \
	X(WARN,    "warn",    GRANTCTL, false, true)
/* clang-format on */
enum et_verb {
#define ET_VERB_ENUM(id, name, prog, admin, ends) ET_VERB_##id,
	ET_VERBS(ET_VERB_ENUM)
#undef ET_VERB_ENUM
	ET_VERB__COUNT
};
struct et_verb_info {
	const char *name;
	enum et_program program;
	bool admin;
	/* it ends grants or only reads them: it runs from the last good configuration (or the
	 * defaults) when the configuration cannot be used (lastgood.h); the others refuse */
	bool ends;
};
static const struct et_verb_info et_verbs[ET_VERB__COUNT] = {
#define ET_VERB_ROW(id, name, prog, admin, ends) [ET_VERB_##id] = { name, ET_PROG_##prog, admin, ends },
	ET_VERBS(ET_VERB_ROW)
#undef ET_VERB_ROW
};
#define ET_VERB_NAME(v) (et_verbs[(v)].name)

/* Argument limits every program enforces before it looks at a verb. */
#define ET_ARGC_MAX 24
#define ET_ARG_MAX_BYTES 1024

/* Option names (grant, revoke, sweep, elevate). */
#define ET_OPT_DURATION "--duration"
#define ET_OPT_REASON "--reason"
#define ET_OPT_METHOD "--method"
#define ET_OPT_OID "--oid"
#define ET_OPT_UPN "--upn"
#define ET_OPT_TID "--tid"
#define ET_OPT_SERVICE "--service"
#define ET_OPT_RHOST "--rhost"
#define ET_OPT_PIM_UNTIL "--pim-until"
#define ET_OPT_WATCH "--watch"
#define ET_OPT_USER "--user"
#define ET_OPT_CAUSE "--cause"
#define ET_OPT_JSON "--json"
#define ET_OPT_TTY "--tty"
#define ET_OPT_EXTEND "--extend"
#define ET_CAUSE_SWEEP "sweep"
#define ET_CAUSE_ACCOUNT "account"

/* The exit statuses of both programs: one per class of outcome (see exit_for in
 * helper/progutil.c, derived from the failure's class). */
enum et_exit {
	ET_EXIT_OK = 0,
	ET_EXIT_FAILED = 1,           /* an operational error */
	ET_EXIT_USAGE = 2,            /* bad arguments */
	ET_EXIT_DENIED = 3,           /* not allowed for this caller */
	ET_EXIT_NOT_FOUND = 4,        /* no such grant / user */
	ET_EXIT_CONFIG = 5,           /* the configuration cannot be used */
	ET_EXIT_BUSY = 6,             /* a lock could not be taken in time */
	ET_EXIT_NO_GROUP = 7,         /* the elevated group does not exist */
	ET_EXIT_UNSAFE = 8,           /* refused to run: argc 0, not setuid root, bad environment */
	ET_EXIT_UNAVAILABLE = 9,      /* a reserved verb that is not available yet */
	ET_EXIT_IDP_UNAVAILABLE = 10, /* elevate: the identity provider could not be reached */
};
/* The revocation timer runs `entra-tap-grantctl revoke ID` and takes this status for "the
 * grant is already gone" (timer.h). */
static_assert(ET_EXIT_NOT_FOUND == ET_TIMER_REVOKE_GONE_STATUS, "the timer's 'already gone' status");

/* `elevate` and the module: the PAM service, and the PAM environment through which the
 * module learns what was asked (honoured for ET_PAM_SERVICE only) and names the grant it
 * made (for every service: the account phase adopts it, elevate reports it). */
#define ET_PAM_SERVICE "entra-tap"
#define ET_PAM_ENV_DURATION "ENTRA_TAP_DURATION"
#define ET_PAM_ENV_REASON "ENTRA_TAP_REASON"
#define ET_PAM_ENV_GRANT_ID "ENTRA_TAP_GRANT_ID"

/* `grant`'s standard output is exactly the new grant's id (ET_GRANT_ID_HEX lowercase hex
 * digits) and one "\n", nothing else; sentences for people go to standard error. The module
 * reads at most ET_GRANT_OUTPUT_MAX - 1 bytes of it. */
#define ET_GRANT_OUTPUT_MAX 256

/* How long the module waits for entra-tap-grantctl. */
#define ET_GRANTCTL_TIMEOUT_MS 60000

/* `grant USER ... --watch PID[,PID]`: the grant is pending (grant_ops.h, ET_GUARD_WAIT_S).
 * The module names itself and its parent. entra-tap-grantctl leaves the caller's session
 * first (a Ctrl-C or a kill of the caller's process group cannot cut it short), opens the
 * processes' pidfds before anything is made (a caller already gone gets no grant), writes
 * the pending marker under the store lock before the membership exists, and forks the guard
 * itself before it prints the id: from the instant the grant exists, the death of the caller
 * at any moment leads to its revocation.
 * `guard ID PID [PID]`: the same watch over an existing grant, run by hand: it waits for those
 * processes to end, then revokes the grant (cause login_failed) unless the pending marker
 * (et_pending_marker_path) is gone. */
#define ET_GUARD_PIDS_MAX 2

/* `grant USER ... --extend`: when USER holds a live grant of the elevated group, that grant
 * gets the new expiry (at most duration_max from now) and keeps its id and its sessions; the
 * sign-in of `elevate` asks for it. Without a live grant it is an ordinary grant.
 * `tie USER PID [--tty TTY]`: the module's session phase: the session of process PID (and
 * everything it starts) belongs to USER's live grant and ends with it (sessions.h); TTY is
 * the terminal its lines go to. Without a live grant: exit ET_EXIT_NOT_FOUND.
 * `warn ID`: the warning timer's: one line on the grant's tied terminals, ending in
 * ET_WARN_HINT. */
#define ET_WARN_HINT "run " ET_HELPER_NAME " elevate to extend"
