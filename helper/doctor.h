/* SPDX-License-Identifier: Apache-2.0 */
/* Checks of a host's set-up for `entra-tap check-config` and `entra-tap doctor`: each finding
 * is one line on out, "WHERE: what is wrong — fix: what to do"; the return value counts them. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include "conf.h"

/* A configuration that parses but cannot work: the shipped placeholder ids, a pass at the
 * prompt without the password grant, an elevated group that does not exist. */
unsigned et_doctor_config(const struct et_config *cfg, FILE *out);
/* The wiring around the configuration (the configuration's own findings first): sudo's and
 * sshd's PAM stacks, sudo.conf's group_source, a sudoers rule for the group that parses,
 * sshd's effective settings, the sweep timer, the clock; with online, discovery and keys. */
unsigned et_doctor_host(const struct et_config *cfg, bool online, FILE *out);
