/* SPDX-License-Identifier: Apache-2.0 */
/* A QR code for a terminal: UTF-8 half blocks, two module rows per text line, at most a given
 * number of columns. Used for break-glass vouchers; meant for any short text a person has to
 * carry from a terminal to a phone (a device-code URL too). */
#pragma once
#include <stddef.h>
#include "err.h"

/* Light modules are drawn (U+2588 full block, U+2580 upper half, U+2584 lower half) and dark
 * modules left blank, for light text on a dark background, like `qrencode -t UTF8`. The
 * quiet zone is 4 modules wide, narrowed (down to 1) only when that keeps the code within
 * max_cols columns. */
#define ET_QR_COLUMNS_DEFAULT 80

/* Encode text (8-bit mode, error correction level L: the smallest code) and draw it: a
 * malloc'd string of lines, each ending in "\n", no line wider than max_cols columns.
 * Reasons: "too_large" when the code does not fit in max_cols, "no_memory",
 * "bad_argument". */
char *et_qr_render(const char *text, size_t max_cols, struct et_err *err);
/* The width in columns of the code et_qr_render would draw (0 when text cannot be encoded). */
size_t et_qr_width(const char *text, size_t quiet);
