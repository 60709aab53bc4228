/* SPDX-License-Identifier: Apache-2.0 */
/* entra-tap-helper: the setuid-root program of ordinary users (contract.h). It carries only
 * what they need, always for their real uid, as unix_chkpwd does for pam_unix:
 *
 *   status                               your grants and the time left
 *   drop [ID]                            end your grant ID now, or all of your grants
 *   elevate [--duration D] [--reason T]  sign in (PAM service entra-tap) for a grant
 *
 * It takes no path, no configuration and no environment from its caller: the configuration
 * is ET_DEFAULT_CONFIG, the state directory comes from it, the environment is replaced.
 * Everything else (grant, revoke, list, sweep, guard) is entra-tap-grantctl's, which is not
 * setuid: an ordinary user gains nothing from those verbs, so the setuid bit does not carry
 * them. */
#include "audit.h"
#include "conf.h"
#include "grant_ops.h"
#include "grant_store.h"
#include "groupfile.h"
#include "args.h"
#include "progutil.h"
#include "strlist.h"
#include <errno.h>
#include <json-c/json.h>
#include <grp.h>
#include <security/pam_appl.h>
#include <security/pam_misc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fputs("usage: " ET_HELPER_NAME " VERB [ARGS]\n"
	      "  status                      your grants and the time left\n"
	      "  drop [ID]                   end your grant ID now, or all of your grants\n"
	      "  elevate [--duration D] [--reason TEXT]\n"
	      "                              sign in with Entra ID (PAM service " ET_PAM_SERVICE ") for a\n"
	      "                              grant of the elevated group\n"
	      "The administrator's verbs (grant, revoke, list, sweep) are `entra-tap VERB`.\n",
	      out);
}

/* After the caller is known: root in full, so that the caller can no longer signal or trace
 * this process. */
static int become_root(void)
{
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -1;
	return 0;
}

/* ---- user verbs ---- */

/* The caller's grants: those in the store under their name (each still checked against the
 * uid by the caller: the name alone could be shared). */
static int list_own(const struct et_config *cfg, const struct et_caller *who, struct et_grant_list *ret)
{
	struct et_err err;
	if (!who->have_name) {
		et_say("your uid %lu has no user name", (unsigned long)who->uid);
		return ET_EXIT_NOT_FOUND;
	}
	if (et_grant_store_list(cfg, who->name, ret, &err) < 0)
		return et_fail(&err);
	return ET_EXIT_OK;
}

/* status --json: {"user", "group", "member", "grants": [the caller's grants as in list --json]} */
static int status_json(const struct et_config *cfg, const struct et_caller *who, const struct et_grant_list *l,
		       time_t now)
{
	struct et_strlist members = { 0 };
	struct et_err err;
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	int rc = ET_EXIT_FAILED;

	if (!o || !arr) {
		et_say("out of memory");
		goto done;
	}
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].uid == who->uid)
			json_object_array_add(arr, et_grant_json(&l->items[i], now));
	/* without any configuration (lastgood.h) there is no elevated group to look at */
	if (cfg->elevated_group && et_group_read(cfg->elevated_group, &members, NULL, &err) < 0) {
		rc = et_fail(&err);
		goto done;
	}
	json_object_object_add(o, "user", json_object_new_string(who->name));
	json_object_object_add(o, "group", cfg->elevated_group ? json_object_new_string(cfg->elevated_group) : NULL);
	json_object_object_add(o, "member", json_object_new_boolean(et_strlist_contains(&members, who->name)));
	json_object_object_add(o, "grants", arr);
	arr = NULL;
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	rc = ET_EXIT_OK;
done:
	json_object_put(arr);
	json_object_put(o);
	et_strlist_free(&members);
	return rc;
}

static int verb_status(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	struct et_grant_list l = { 0 };
	struct et_strlist members = { 0 };
	struct et_err err;
	time_t now = time(NULL);
	size_t shown = 0;

	int rc;

	rc = list_own(cfg, who, &l);
	if (rc != ET_EXIT_OK)
		return rc;
	if (a->json) {
		rc = status_json(cfg, who, &l, now);
		et_grant_list_free(&l);
		return rc;
	}
	for (size_t i = 0; i < l.n; i++) {
		char until[64], left[64];
		if (l.items[i].uid != who->uid)
			continue;
		et_format_utc(l.items[i].expires, until, sizeof(until));
		et_format_left(l.items[i].expires, now, left, sizeof(left));
		if (l.items[i].pim_until) {
			/* the PIM for Groups activation capped it: say so, in the person's own clock */
			char hhmm[16];
			et_format_hhmm(l.items[i].expires, hhmm, sizeof(hhmm));
			printf("grant %s: group %s until %s (when the PIM activation ends), %s (%s)\n", l.items[i].id,
			       l.items[i].group, hhmm, until, left);
		} else {
			printf("grant %s: group %s until %s (%s)\n", l.items[i].id, l.items[i].group, until, left);
		}
		shown++;
	}
	if (!shown)
		printf("no grants for %s\n", who->name);
	if (cfg->elevated_group && et_group_read(cfg->elevated_group, &members, NULL, &err) == 0)
		printf("%s %s a member of %s\n", who->name, et_strlist_contains(&members, who->name) ? "is" : "is not",
		       cfg->elevated_group);
	et_strlist_free(&members);
	et_grant_list_free(&l);
	return ET_EXIT_OK;
}

static int verb_drop(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	struct et_grant_list l = { 0 };
	struct et_grant g;
	struct et_err err;
	time_t now = time(NULL);
	unsigned n = 0;
	int rc;

	if (a->id) {
		if (et_grant_revoke(cfg, a->id, ET_REVOKE_DROP, who->uid, now, &g, &err) < 0) {
			if (err.code == ET_E_NOT_OWNER)
				et_refuse(who, "drop", "not the owner of the grant");
			return et_fail(&err);
		}
		printf("grant %s ended\n", g.id);
		return ET_EXIT_OK;
	}
	rc = list_own(cfg, who, &l);
	if (rc != ET_EXIT_OK)
		return rc;
	for (size_t i = 0; i < l.n; i++) {
		if (l.items[i].uid != who->uid)
			continue;
		if (et_grant_revoke(cfg, l.items[i].id, ET_REVOKE_DROP, who->uid, now, &g, &err) < 0 &&
		    err.code != ET_E_NOT_FOUND) {
			et_grant_list_free(&l);
			return et_fail(&err);
		}
		printf("grant %s ended\n", l.items[i].id);
		n++;
	}
	et_grant_list_free(&l);
	if (!n) {
		et_say("%s has no grant to drop", who->name);
		return ET_EXIT_NOT_FOUND;
	}
	return ET_EXIT_OK;
}

/* ---- elevate: a sign-in through PAM, for the real uid, like su ---- */

/* One sentence and one exit status per class of PAM failure. A refusal by the account phase
 * (pam_deny answers PAM_AUTH_ERR there) is a matter of permission, not of the sign-in. */
static int elevate_failed(int pam_rc, bool account_phase, const char *user)
{
	if (account_phase && (pam_rc == PAM_AUTH_ERR || pam_rc == PAM_CRED_INSUFFICIENT || pam_rc == PAM_USER_UNKNOWN))
		pam_rc = PAM_PERM_DENIED;
	switch (pam_rc) {
	case PAM_AUTH_ERR:
	case PAM_CRED_INSUFFICIENT:
		et_say("elevate: the sign-in failed: no grant was made");
		return ET_EXIT_DENIED;
	case PAM_PERM_DENIED:
	case PAM_ACCT_EXPIRED:
	case PAM_NEW_AUTHTOK_REQD:
		et_say("elevate: %s is not allowed an elevation: no grant was made", user);
		return ET_EXIT_DENIED;
	case PAM_MAXTRIES:
		et_say("elevate: too many failed sign-ins for %s; try again later: no grant was made", user);
		return ET_EXIT_DENIED;
	case PAM_USER_UNKNOWN:
		et_say("elevate: no Entra ID account is known for %s: no grant was made", user);
		return ET_EXIT_NOT_FOUND;
	case PAM_AUTHINFO_UNAVAIL:
		et_say("elevate: the identity provider could not be reached: no grant was made");
		return ET_EXIT_IDP_UNAVAILABLE;
	case PAM_CONV_ERR:
	case PAM_ABORT:
		et_say("elevate: the sign-in was cancelled: no grant was made");
		return ET_EXIT_FAILED;
	default:
		et_say("elevate: the sign-in did not complete (%s): no grant was made", pam_strerror(NULL, pam_rc));
		return ET_EXIT_FAILED;
	}
}

/* The caller's grant made by this sign-in: the one the module named in the PAM environment,
 * or else the caller's newest live grant created since `since`. */
static int elevate_find_grant(const struct et_config *cfg, const struct et_caller *who, const char *named,
			      time_t since, time_t now, struct et_grant *ret)
{
	struct et_grant_list l = { 0 };
	struct et_grant g;
	struct et_err err;
	const struct et_grant *best = NULL;

	if (named[0] && et_grant_store_read(cfg, named, &g, &err) == 0 && g.uid == who->uid && g.expires > now) {
		*ret = g;
		return 0;
	}
	if (et_grant_store_list(cfg, who->name, &l, &err) < 0) {
		et_say("%s", err.message);
		return -1;
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct et_grant *c = &l.items[i];
		if (c->uid != who->uid || c->expires <= now || c->created < since)
			continue;
		if (!best || c->created > best->created || (c->created == best->created && c->expires > best->expires))
			best = c;
	}
	if (best)
		*ret = *best;
	et_grant_list_free(&l);
	return best ? 0 : -1;
}

static int verb_elevate(const struct et_config *cfg, const struct et_caller *who, const struct et_args *a)
{
	const char *reason = a->reason, *item = NULL;
	struct pam_conv conv = { misc_conv, NULL };
	pam_handle_t *pamh = NULL;
	char env[sizeof(ET_PAM_ENV_REASON "=") + ET_GRANT_TEXT_MAX], named[ET_GRANT_ID_HEX + 1] = "";
	char tty[256], until[64], left[64];
	struct et_grant g;
	long asked = a->duration, clamped;
	time_t since = time(NULL), now;
	bool account_phase = false;
	int rc;

	if (!who->have_name) {
		et_say("your uid %lu has no user name", (unsigned long)who->uid);
		return ET_EXIT_NOT_FOUND;
	}
	clamped = et_grant_clamp_duration(cfg, asked);
	if (asked && clamped != asked)
		et_say("duration %lds is outside the allowed %lds..%lds: asking for %lds", asked, cfg->duration_min,
		    cfg->duration_max, clamped);

	/* This process edits nothing itself (the module runs the root verb in a process of its
	 * own), so the person at the terminal may interrupt a sign-in, as with su. */
	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);

	rc = pam_start(ET_PAM_SERVICE, who->name, &conv, &pamh);
	if (rc != PAM_SUCCESS) {
		et_say("cannot start the PAM service " ET_PAM_SERVICE ": %s", pam_strerror(pamh, rc));
		return ET_EXIT_FAILED;
	}
	rc = pam_set_item(pamh, PAM_RUSER, who->name);
	if (rc == PAM_SUCCESS && isatty(STDIN_FILENO) && ttyname_r(STDIN_FILENO, tty, sizeof(tty)) == 0)
		rc = pam_set_item(pamh, PAM_TTY, tty);
	if (rc == PAM_SUCCESS) {
		snprintf(env, sizeof(env), ET_PAM_ENV_DURATION "=%ld", clamped);
		rc = pam_putenv(pamh, env);
	}
	if (rc == PAM_SUCCESS && reason) {
		snprintf(env, sizeof(env), ET_PAM_ENV_REASON "=%s", reason);
		rc = pam_putenv(pamh, env);
	}
	if (rc == PAM_SUCCESS)
		rc = pam_authenticate(pamh, 0);
	if (rc == PAM_SUCCESS) {
		account_phase = true;
		rc = pam_acct_mgmt(pamh, 0);
	}
	/* a module must not turn this into somebody else's sign-in */
	if (rc == PAM_SUCCESS &&
	    (pam_get_item(pamh, PAM_USER, (const void **)&item) != PAM_SUCCESS || !item || strcmp(item, who->name) != 0)) {
		et_say("elevate: the PAM stack changed the user name: refused");
		rc = PAM_PERM_DENIED;
	}
	if (rc == PAM_SUCCESS) {
		const char *id = pam_getenv(pamh, ET_PAM_ENV_GRANT_ID);
		if (id && et_grant_id_ok(id))
			snprintf(named, sizeof(named), "%s", id);
	}
	/* the status tells the module whether the transaction succeeded: a grant made during a
	 * failed one is ended by the module's cleanup */
	pam_end(pamh, rc);
	if (rc != PAM_SUCCESS)
		return elevate_failed(rc, account_phase, who->name);

	now = time(NULL);
	if (elevate_find_grant(cfg, who, named, since, now, &g) < 0) {
		et_say("elevate: you signed in, but no grant was made: the PAM service " ET_PAM_SERVICE
		    " must use pam_entra_tap.so with the grant option");
		return ET_EXIT_FAILED;
	}
	et_format_local(g.expires, until, sizeof(until));
	et_format_left(g.expires, now, left, sizeof(left));
	if (g.pim_until) {
		char hhmm[16];
		et_format_hhmm(g.expires, hhmm, sizeof(hhmm));
		printf("group %s until %s (when the PIM activation ends), %s (%s), grant %s\n", g.group, hhmm, until,
		       left, g.id);
	} else {
		printf("group %s until %s (%s), grant %s\n", g.group, until, left, g.id);
	}
	return ET_EXIT_OK;
}

static const et_verb_fn verbs[ET_VERB__COUNT] = {
	[ET_VERB_STATUS] = verb_status,
	[ET_VERB_DROP] = verb_drop,
	[ET_VERB_ELEVATE] = verb_elevate,
};

int main(int argc, char **argv)
{
	struct et_caller who;
	int rc = et_prog_start(ET_HELPER_NAME, argc, argv);

	if (rc != ET_EXIT_OK)
		return rc;
	if (geteuid() != 0) {
		et_say("must be installed setuid root");
		return ET_EXIT_UNSAFE;
	}
	et_caller_of(getuid(), &who);
	if (become_root() < 0) {
		et_say("cannot switch to root: %s", strerror(errno));
		return ET_EXIT_UNSAFE;
	}
	return et_prog_run(ET_PROG_HELPER, argc, argv, &who, usage, verbs);
}
