/* SPDX-License-Identifier: Apache-2.0 */
/* The processes a grant gave, and their end: when a grant ends, the sessions tied to it and
 * every other process that still carries the elevated group end too.
 *
 * Everything is read from a proc tree (/proc in production; the tests build one in a
 * directory), one process directory at a time, with bounded reads and strict parsers: the
 * text of /proc is the kernel's, but a command name, a command line and a cgroup path are
 * chosen by the process itself. A process that ends while it is read is passed over. A
 * signal goes through a pidfd opened before the process's start time is checked again, so a
 * process number used anew since the scan is never signalled. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "err.h"

#define ET_PROC_STAT_MAX 4096	   /* bytes of /proc/PID/stat read at the most */
#define ET_PROC_CGROUP_MAX 4096	   /* bytes of /proc/PID/cgroup read at the most */
#define ET_PROC_GROUPS_MAX 65536   /* supplementary groups of one process (NGROUPS_MAX) */
#define ET_PROC_SCAN_MAX (1 << 20) /* entries of the proc tree looked at in one scan */
/* bytes of /proc/PID/status read at the most: 8192 for its lines, and room for the longest
 * Groups line (65536 gids of up to 10 digits and a separator), so a member of many groups
 * is read whole instead of refused */
#define ET_PROC_STATUS_MAX (8192 + ET_PROC_GROUPS_MAX * 11)
#define ET_PROC_COMM_MAX 127	    /* bytes of a command name in stat (the kernel's are shorter) */
#define ET_PROC_KTHREAD 0x00200000u /* PF_KTHREAD in the flags of stat (field 9) */

/* ---- the parsers (public for the tests and the fuzzer) ---- */

/* /proc/PID/stat: "PID (COMM) S PPID PGRP SESSION TTY_NR TPGID FLAGS ... STARTTIME ...\n". */
struct et_proc_stat {
	pid_t pid;			 /* field 1, above 0 */
	char comm[ET_PROC_COMM_MAX + 1]; /* field 2: between the first '(' and the last ')' */
	char state;			 /* field 3: 'R', 'S', 'Z', ... */
	pid_t ppid, pgrp, sid;		 /* fields 4, 5, 6: 0 or above */
	/* field 7: the controlling terminal, 0 for none, in the kernel's encoding of a device
	 * number (minor bits 0-7 and 20-31, major 8-19), which is glibc's: (dev_t)tty_nr */
	unsigned tty_nr;
	unsigned flags;		  /* field 9: PF_* */
	unsigned long long start; /* field 22: clock ticks after boot */
};
/* Parse the len bytes of text (no NUL needed; a NUL byte is refused). One line of at least
 * 22 fields ending in "\n" and nothing after it; every field after the command name is
 * a number in its one written form (no sign but '-', no leading zero) within 64 bits, and
 * the named ones within their type. The command name holds 0 to ET_PROC_COMM_MAX bytes
 * other than NUL: spaces, parentheses and newlines included. Returns 0, or -1 with
 * err (proc_scan). */
int et_proc_stat_parse(const char *text, size_t len, struct et_proc_stat *ret, struct et_err *err);

/* Read and parse proc_root/PID/stat ("/proc" in production). Returns 0, or -1 with err:
 * process_gone when there is no such process (or it ended while read), proc_scan when the
 * file cannot be read or parsed. */
int et_proc_stat_read(const char *proc_root, pid_t pid, struct et_proc_stat *ret, struct et_err *err);

/* /proc/PID/status: the Uid:, Gid: and Groups: lines. */
struct et_proc_status {
	uid_t uid[4];  /* real, effective, saved, file system */
	gid_t gid[4];  /* the same order */
	gid_t *groups; /* the supplementary groups, in the file's order (malloc'd; NULL when none) */
	size_t n_groups;
};
/* Parse the len bytes of text: lines "Name:\tvalue" that each end in "\n"; exactly one
 * Uid: and one Gid: line of four ids separated by tabs or spaces, and exactly one Groups:
 * line of 0 to ET_PROC_GROUPS_MAX ids (the kernel writes a space after the list, and one
 * alone for none). An id is a decimal number below 4294967295 ((uid_t)-1). Other lines are
 * passed over. Returns 0 (free ret with et_proc_status_free), or -1 with err (proc_scan or
 * no_memory), ret then holding nothing to free. */
int et_proc_status_parse(const char *text, size_t len, struct et_proc_status *ret, struct et_err *err);
void et_proc_status_free(struct et_proc_status *s);

/* /proc/PID/cgroup: the path of the process in the unified hierarchy ("0::/path"), or when
 * there is no such line, in systemd's own v1 hierarchy ("N:name=systemd:/path"). Each line
 * is "ID:CONTROLLERS:/PATH\n"; a second unified or name=systemd line is refused. Writes the
 * path (NUL-terminated) to buf of size bytes, "" when neither line is there. Returns 0, or
 * -1 with err (proc_scan) when the text is malformed or the path does not fit. */
int et_proc_cgroup_parse(const char *text, size_t len, char *buf, size_t size, struct et_err *err);

/* Whether name is one whole '/'-separated component of path: "a.scope" is one of
 * "/system.slice/a.scope" and "/x/a.scope/sub", not of "/a.scope-x" nor "/x/a". An empty
 * name is never one. */
bool et_proc_path_has_component(const char *path, const char *name);

/* ---- the scanner ---- */

struct et_proc {
	pid_t pid, ppid, sid;
	uid_t ruid, euid;
	unsigned long long start; /* stat field 22: with pid, names the process */
	dev_t tty;		  /* the controlling terminal, 0 for none (et_tty_path, wall.h) */
	bool tied;		  /* tied to the grant (otherwise an outside carrier of the group) */
	/* /proc/PID/cmdline with NULs as spaces, made printable by et_text_sanitize, cut at a
	 * character boundary; the command name in brackets when the command line is empty */
	char cmd[128];
};

struct et_proc_list {
	struct et_proc *items; /* by pid, ascending */
	size_t n;
};

/* A process recorded when a grant was given without systemd (no scope to find it by). */
struct et_proc_root {
	pid_t pid;
	unsigned long long start; /* stat field 22 at the time */
};

struct et_proc_match {
	const char *proc_root; /* "/proc" in production; tests pass a tree of their own */
	/* tied: a process with this component in its cgroup path (NULL: none) */
	const char *unit;
	/* tied: these while their start time still matches, their descendants by ppid, and
	 * every process whose session is that of a tied session leader */
	const struct et_proc_root *roots;
	size_t n_roots;
	/* outside carrier: any other process with gid among its supplementary groups or as
	 * its real, effective, saved or file system gid */
	bool have_gid;
	gid_t gid;
	/* a process whose real uid is exempt (a permanent member, another live grant) is not
	 * listed as an outside carrier; a tied process is always listed (NULL: none exempt) */
	bool (*exempt)(uid_t ruid, void *data);
	/* never listed as outside carriers either (a tied one still is): the PAM host whose
	 * account phase asked for the end, which is refused rather than killed */
	const pid_t *spared;
	size_t n_spared;
	void *data;
};

/* Every process of the tree that m matches, by pid, into *ret (free it with
 * et_proc_list_free). Never listed: pid 1, the calling process, kernel threads (pid 2, a
 * child of pid 2, or PF_KTHREAD with an empty command line), zombies. A process whose
 * cgroup file is malformed or too long is not in the unit but still matched by the other
 * rules. Returns 0, or -1 with err (proc_scan: the tree cannot be read, a stat or status
 * file is malformed, more than ET_PROC_SCAN_MAX entries; no_memory), *ret then empty. */
int et_procs_find(const struct et_proc_match *m, struct et_proc_list *ret, struct et_err *err);
void et_proc_list_free(struct et_proc_list *l);

/* End the processes: SIGTERM (and SIGCONT, for a stopped one) to every process of l (NULL:
 * what et_procs_find lists now), then a scan every 50 ms for up to grace_ms: a matching
 * process that was not there before (forked meanwhile by one of them, or a member of the
 * session of a tied leader, even after the leader ended) gets them too. At grace_ms, every
 * process still living is stopped (SIGSTOP) and the tree scanned again until no new one
 * turns up, then SIGKILL to all of them, then up to 1000 ms more waiting, a newcomer
 * getting SIGKILL at once. Done early when everything has ended. ret_survivors (optional;
 * free with et_proc_list_free): what still lives at the end. A process that cannot be
 * signalled (EPERM) is a survivor, not an error. Without systemd a process whose parent
 * ended before a scan saw it, outside the sessions of tied leaders, is found only when it
 * carries the gid. Returns 0, or -1 with err when the first scan fails or a later one did
 * (et_procs_find's reasons; the end then went on with what it had). */
int et_procs_end(const struct et_proc_match *m, const struct et_proc_list *l, long grace_ms,
		 struct et_proc_list *ret_survivors, struct et_err *err);
