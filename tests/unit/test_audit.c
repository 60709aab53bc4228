/* SPDX-License-Identifier: Apache-2.0 */
/* The audit trail: event ids against the catalog, argument checks, and the exact datagram
 * sent to the journal. The journal socket is faked: a child enters a private mount
 * namespace, covers /run with a tmpfs and binds its own datagram socket at
 * /run/systemd/journal/socket, so what et_audit() sends is read back byte for byte. */
#include "audit.h"
#include "../tap.h"
#include "../testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>

#define N_EVENTS 14
#define JSOCK "/run/systemd/journal/socket"

struct field {
	char name[64];
	char value[2048];
};

struct capture {
	int ret;
	size_t n;
	struct field f[40];
};

/* Parse the native journal protocol: NAME=value\n, or NAME\n<le64 length><data>\n. */
static size_t parse_datagram(const char *buf, size_t len, struct field *out, size_t max)
{
	size_t i = 0, n = 0;
	while (i < len && n < max) {
		const char *nl = memchr(buf + i, '\n', len - i), *eq;
		if (!nl)
			break;
		eq = memchr(buf + i, '=', (size_t)(nl - (buf + i)));
		if (eq) {
			snprintf(out[n].name, sizeof(out[n].name), "%.*s", (int)(eq - (buf + i)), buf + i);
			snprintf(out[n].value, sizeof(out[n].value), "%.*s", (int)(nl - eq - 1), eq + 1);
			i = (size_t)(nl - buf) + 1;
		} else {
			uint64_t l = 0;
			int k;
			snprintf(out[n].name, sizeof(out[n].name), "%.*s", (int)(nl - (buf + i)), buf + i);
			i = (size_t)(nl - buf) + 1;
			if (i + 8 > len)
				break;
			for (k = 7; k >= 0; k--)
				l = (l << 8) | (unsigned char)buf[i + (size_t)k];
			i += 8;
			if (i + l + 1 > len)
				break;
			snprintf(out[n].value, sizeof(out[n].value), "%.*s", (int)l, buf + i);
			i += l + 1;
		}
		n++;
	}
	return n;
}

static const char *field_get(const struct capture *c, const char *name)
{
	size_t i;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->f[i].name, name) == 0)
			return c->f[i].value;
	return NULL;
}

static int field_count(const struct capture *c, const char *name)
{
	size_t i;
	int k = 0;
	for (i = 0; i < c->n; i++)
		k += strcmp(c->f[i].name, name) == 0;
	return k;
}

/* A field of a captured entry and the value it must have. */
struct field_want {
	const char *field, *want, *name;
};

enum sock_kind { SOCK_REAL, SOCK_MISSING, SOCK_REGULAR_FILE };

/* In a child with a private /run: set up the socket as asked, send one entry, report back. */
static void capture_one(enum sock_kind kind, enum et_audit_event ev, int prio, const struct et_audit *a,
			const char *msg, struct capture *ret)
{
	int pfd[2];
	pid_t pid;

	memset(ret, 0, sizeof(*ret));
	ret->ret = 12345;
	pid = tu_fork_piped(pfd);
	if (pid == 0) {
		struct capture c;
		char buf[65536];
		int s = -1;
		ssize_t got;
		memset(&c, 0, sizeof(c));
		close(pfd[0]);
		if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0 || mkdir("/run/systemd", 0755) < 0 ||
		    mkdir("/run/systemd/journal", 0755) < 0)
			_exit(90);
		if (kind == SOCK_REAL) {
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			strcpy(sa.sun_path, JSOCK);
			s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0)
				_exit(91);
		} else if (kind == SOCK_REGULAR_FILE) {
			int fd = open(JSOCK, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0)
				_exit(92);
			close(fd);
		}
		if (msg)
			c.ret = et_audit(ev, prio, a, "%s", msg);
		else
			c.ret = et_audit(ev, prio, a, NULL);
		if (kind == SOCK_REAL && c.ret == 0) {
			got = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
			if (got > 0)
				c.n = parse_datagram(buf, (size_t)got, c.f, sizeof(c.f) / sizeof(c.f[0]));
		}
		if (write(pfd[1], &c, sizeof(c)) != (ssize_t)sizeof(c))
			_exit(93);
		_exit(0);
	}
	close(pfd[1]);
	{
		size_t off = 0;
		ssize_t r;
		while (off < sizeof(*ret) && (r = read(pfd[0], (char *)ret + off, sizeof(*ret) - off)) > 0)
			off += (size_t)r;
	}
	close(pfd[0]);
	waitpid(pid, NULL, 0);
}

static bool is_hex32(const char *s)
{
	size_t i;
	if (!s || strlen(s) != 32)
		return false;
	for (i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void test_ids_and_catalog(void)
{
	const char *srcdir = getenv("top_srcdir");
	char path[4096], line[512];
	int i, j, in_catalog[N_EVENTS] = { 0 }, entries = 0, unknown = 0;
	bool distinct = true, hex = true;
	FILE *f;

	for (i = 0; i < N_EVENTS; i++) {
		hex &= is_hex32(et_audit_message_id((enum et_audit_event)i));
		for (j = 0; j < i; j++)
			distinct &= strcmp(et_audit_message_id((enum et_audit_event)i),
					   et_audit_message_id((enum et_audit_event)j)) != 0;
	}
	ok(hex, "every event has a 128-bit MESSAGE_ID as 32 lowercase hex digits");
	ok(distinct, "the MESSAGE_IDs are distinct");
	ok(et_audit_message_id((enum et_audit_event)N_EVENTS) == NULL, "an unknown event has no id");
	ok(et_audit_message_id((enum et_audit_event)-1) == NULL, "a negative event has no id");

	snprintf(path, sizeof(path), "%s/data/entra-tap.catalog", srcdir ? srcdir : ".");
	f = fopen(path, "re");
	if (!ok(f != NULL, "the catalog %s is readable", path))
		return;
	while (fgets(line, sizeof(line), f)) {
		char id[64];
		if (strncmp(line, "-- ", 3) != 0)
			continue;
		entries++;
		if (sscanf(line + 3, "%63s", id) != 1)
			continue;
		for (i = 0; i < N_EVENTS; i++)
			if (strcmp(id, et_audit_message_id((enum et_audit_event)i)) == 0)
				break;
		if (i == N_EVENTS)
			unknown++;
		else
			in_catalog[i]++;
	}
	fclose(f);
	for (i = 0; i < N_EVENTS; i++)
		if (!ok(in_catalog[i] == 1, "event %d has exactly one catalog entry", i))
			tap_diag("found %d", in_catalog[i]);
	is_int(entries, N_EVENTS, "the catalog has one entry per event and no other");
	is_int(unknown, 0, "no catalog entry has an id the code does not send");
}

static void test_rejections(void)
{
	struct capture c;
	struct et_audit a = { .user = "alice" };

	capture_one(SOCK_REAL, (enum et_audit_event)N_EVENTS, LOG_INFO, &a, "x", &c);
	is_int(c.ret, -EINVAL, "an unknown event is refused with -EINVAL");
	capture_one(SOCK_REAL, (enum et_audit_event)-1, LOG_INFO, &a, "x", &c);
	is_int(c.ret, -EINVAL, "a negative event is refused with -EINVAL");
	capture_one(SOCK_REAL, ET_AUDIT_GRANT, 8, &a, "x", &c);
	is_int(c.ret, -EINVAL, "priority 8 is refused with -EINVAL");
	capture_one(SOCK_REAL, ET_AUDIT_GRANT, -1, &a, "x", &c);
	is_int(c.ret, -EINVAL, "priority -1 is refused with -EINVAL");
	capture_one(SOCK_MISSING, ET_AUDIT_GRANT, LOG_INFO, &a, "x", &c);
	is_int(c.ret, -ENOENT, "no journal socket: -ENOENT, not a silent success");
	capture_one(SOCK_REGULAR_FILE, ET_AUDIT_GRANT, LOG_INFO, &a, "x", &c);
	is_int(c.ret, -ENOTSOCK, "a regular file where the journal socket should be: -ENOTSOCK");
}

static void test_fields(void)
{
	static const char *const names[N_EVENTS] = { "auth_ok", "auth_denied", "grant", "revoke",
						     "refused", "member_removed", "error", "breakglass",
						     "voucher_accepted", "voucher_refused", "extend", "cut",
						     "sessions_ended", "config_unusable" };
	struct capture c;
	struct et_audit a = {
		.grant_id = "00112233445566778899aabbccddeeff",
		.user = "alice",
		.group = "entra-elevated",
		.expires = 1767225600, /* 2026-01-01T00:00:00Z */
		.method = "device_code",
		.upn = "alice@example.com",
		.oid = "8b2e1f0c-1111-4c2d-9a3b-0123456789ab",
		.reason = "maintenance window",
		.service = "sshd",
		.rhost = "192.0.2.7",
	};
	struct et_audit none;
	int i;

	capture_one(SOCK_REAL, ET_AUDIT_GRANT, LOG_NOTICE, &a, "granted alice", &c);
	is_int(c.ret, 0, "a grant entry is sent");
	{
		const struct field_want fields[] = {
			{ "MESSAGE_ID", et_audit_message_id(ET_AUDIT_GRANT),
			  "MESSAGE_ID is the grant id" },
			{ "ENTRA_TAP_GRANT_ID", a.grant_id,
			  "ENTRA_TAP_GRANT_ID" },
			{ "ENTRA_TAP_OID", a.oid,
			  "ENTRA_TAP_OID" },
			{ "PRIORITY", "5",
			  "PRIORITY is the one given" },
			{ "MESSAGE", "granted alice",
			  "MESSAGE is the formatted text" },
			{ "SYSLOG_IDENTIFIER", "entra-tap",
			  "SYSLOG_IDENTIFIER=entra-tap" },
			{ "ENTRA_TAP_EVENT", "grant",
			  "ENTRA_TAP_EVENT names the event" },
			{ "ENTRA_TAP_USER", "alice",
			  "ENTRA_TAP_USER" },
			{ "ENTRA_TAP_GROUP", "entra-elevated",
			  "ENTRA_TAP_GROUP" },
			{ "ENTRA_TAP_EXPIRES", "2026-01-01T00:00:00Z",
			  "ENTRA_TAP_EXPIRES is ISO 8601 UTC" },
			{ "ENTRA_TAP_EXPIRES_UNIX", "1767225600",
			  "ENTRA_TAP_EXPIRES_UNIX is epoch seconds" },
			{ "ENTRA_TAP_METHOD", "device_code",
			  "ENTRA_TAP_METHOD" },
			{ "ENTRA_TAP_UPN", "alice@example.com",
			  "ENTRA_TAP_UPN" },
			{ "ENTRA_TAP_REASON", "maintenance window",
			  "ENTRA_TAP_REASON" },
			{ "ENTRA_TAP_SERVICE", "sshd",
			  "ENTRA_TAP_SERVICE" },
			{ "ENTRA_TAP_RHOST", "192.0.2.7",
			  "ENTRA_TAP_RHOST" },
		};
		for (i = 0; i < (int)(sizeof(fields) / sizeof(fields[0])); i++)
			is_str(field_get(&c, fields[i].field), fields[i].want, fields[i].name);
	}
	is_int(field_count(&c, "MESSAGE_ID"), 1, "each field is sent once");

	for (i = 0; i < N_EVENTS; i++) {
		capture_one(SOCK_REAL, (enum et_audit_event)i, LOG_INFO, &a, "m", &c);
		ok(c.ret == 0 && field_get(&c, "MESSAGE_ID") &&
			   strcmp(field_get(&c, "MESSAGE_ID"), et_audit_message_id((enum et_audit_event)i)) == 0 &&
			   field_get(&c, "ENTRA_TAP_EVENT") && strcmp(field_get(&c, "ENTRA_TAP_EVENT"), names[i]) == 0,
		   "event %s is sent with its own MESSAGE_ID", names[i]);
	}

	/* the end of a grant: what it did to the processes, and an expiry that moved */
	a.on_expiry = "terminate";
	a.processes = "4242 1000 sudo -i; 4250 0 -bash";
	a.previous_expires = 1767222000;
	capture_one(SOCK_REAL, ET_AUDIT_SESSIONS_ENDED, LOG_NOTICE, &a, "ended", &c);
	is_str(field_get(&c, "ENTRA_TAP_ON_EXPIRY"), "terminate", "ENTRA_TAP_ON_EXPIRY");
	is_str(field_get(&c, "ENTRA_TAP_PROCESSES"), "4242 1000 sudo -i; 4250 0 -bash", "ENTRA_TAP_PROCESSES");
	is_str(field_get(&c, "ENTRA_TAP_PREVIOUS_EXPIRES_UNIX"), "1767222000", "ENTRA_TAP_PREVIOUS_EXPIRES_UNIX");
	a.on_expiry = NULL;
	a.processes = NULL;
	a.previous_expires = 0;

	/* unset fields are not sent at all; a NULL format gives a default message */
	memset(&none, 0, sizeof(none));
	none.user = "bob";
	capture_one(SOCK_REAL, ET_AUDIT_ERROR, LOG_ERR, &none, NULL, &c);
	is_int(c.ret, 0, "an entry with only a user is sent");
	is_str(field_get(&c, "ENTRA_TAP_USER"), "bob", "its user is there");
	ok(!field_get(&c, "ENTRA_TAP_GRANT_ID") && !field_get(&c, "ENTRA_TAP_EXPIRES") &&
		   !field_get(&c, "ENTRA_TAP_EXPIRES_UNIX") && !field_get(&c, "ENTRA_TAP_UPN") &&
		   !field_get(&c, "ENTRA_TAP_REASON") && !field_get(&c, "ENTRA_TAP_RHOST"),
	   "unset fields and a zero expiry are not sent");
	is_str(field_get(&c, "MESSAGE"), "entra-tap error", "a NULL format gives the default message");
	capture_one(SOCK_REAL, ET_AUDIT_ERROR, LOG_ERR, NULL, "no fields", &c);
	ok(c.ret == 0 && field_get(&c, "MESSAGE_ID") && !field_get(&c, "ENTRA_TAP_USER"),
	   "a NULL field set sends only the fixed fields");
}

static void test_sanitising(void)
{
	struct capture c;
	struct et_audit a;
	char longr[2000], longv[600], expect[600];
	size_t i;

	memset(&a, 0, sizeof(a));
	/* injected lines must not forge fields */
	a.reason = "fine\nMESSAGE_ID=00000000000000000000000000000000\nPRIORITY=0";
	a.user = "eve\r\x1b[31m";
	a.upn = "caf\xc3\xa9 \xff\xfe \xc0\xaf \xed\xa0\x80 ok";
	capture_one(SOCK_REAL, ET_AUDIT_REFUSED, LOG_WARNING, &a, "line one\nline two\ttab", &c);
	is_int(c.ret, 0, "hostile values are still sent");
	is_int(field_count(&c, "MESSAGE_ID"), 1, "a newline in a value cannot add a MESSAGE_ID");
	is_int(field_count(&c, "PRIORITY"), 1, "a newline in a value cannot add a PRIORITY");
	is_str(field_get(&c, "MESSAGE_ID"), et_audit_message_id(ET_AUDIT_REFUSED), "the real MESSAGE_ID stays");
	is_str(field_get(&c, "ENTRA_TAP_REASON"), "fine?MESSAGE_ID=00000000000000000000000000000000?PRIORITY=0",
	       "newlines in the reason become '?'");
	is_str(field_get(&c, "ENTRA_TAP_USER"), "eve??[31m", "CR and ESC become '?'");
	is_str(field_get(&c, "ENTRA_TAP_UPN"), "caf\xc3\xa9 ?? ?? ??? ok",
	       "valid UTF-8 stays; stray, overlong and surrogate bytes become '?'");
	is_str(field_get(&c, "MESSAGE"), "line one?line two?tab", "the message is one line");

	/* caps: reason 512 bytes, other values 256, never half a character */
	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	memset(&a, 0, sizeof(a));
	a.reason = longr;
	for (i = 0; i + 2 < sizeof(longv); i += 2) {
		longv[i] = '\xc3';
		longv[i + 1] = '\xa9';
	}
	longv[i] = '\0';
	a.user = longv;
	capture_one(SOCK_REAL, ET_AUDIT_REFUSED, LOG_WARNING, &a, longr, &c);
	is_int(c.ret, 0, "oversized values are sent");
	is_int(strlen(field_get(&c, "ENTRA_TAP_REASON") ? field_get(&c, "ENTRA_TAP_REASON") : ""), 512,
	       "the reason is capped at 512 bytes");
	is_int(strlen(field_get(&c, "MESSAGE") ? field_get(&c, "MESSAGE") : ""), 1024,
	       "the message is capped at 1024 bytes");
	memcpy(expect, longv, 256);
	expect[256] = '\0';
	is_str(field_get(&c, "ENTRA_TAP_USER"), expect, "a 2-byte character sequence is cut at 256 bytes, whole");
	longv[0] = 'x';
	for (i = 1; i < 255; i++)
		longv[i] = 'u';
	longv[255] = '\xc3';
	longv[256] = '\xa9';
	longv[257] = '\0';
	a.user = longv;
	capture_one(SOCK_REAL, ET_AUDIT_REFUSED, LOG_WARNING, &a, "m", &c);
	memcpy(expect, longv, 255);
	expect[255] = '\0';
	is_str(field_get(&c, "ENTRA_TAP_USER"), expect, "a character straddling the cap is dropped whole");
}

int main(void)
{
	tap_require_root();
	test_ids_and_catalog();
	test_rejections();
	test_fields();
	test_sanitising();
	return tap_done();
}
