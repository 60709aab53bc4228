/* SPDX-License-Identifier: Apache-2.0 */
/* `entra-tap breakglass keygen|issue|verify` (breakglass_cli.c). */
#pragma once

extern const char et_cli_breakglass_usage[];
/* argv[0] is "breakglass"; returns the exit status. */
int et_cli_breakglass(int argc, char **argv);
