/* SPDX-License-Identifier: Apache-2.0 */
/* Untrusted text: one UTF-8 decoder and one rule for what may be shown at a prompt, written to
 * the journal or stored in a file, whoever wrote the text (a person, a token, the identity
 * provider). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The well-formed UTF-8 sequence at s, of which n bytes are available: its length (1 to 4)
 * with its code point in *ret_cp (may be NULL), or 0 when the bytes there do not form one
 * (Unicode Table 3-7: no overlong form, no surrogate, nothing above U+10FFFF, no sequence cut
 * short by the end of the input). */
size_t et_utf8_step(const unsigned char *s, size_t n, uint32_t *ret_cp);

/* Whether a decoded character may stand in the text as it is. Refused: the C0 controls
 * (U+0000-U+001F, so TAB, CR, LF and ESC as well), DEL, the C1 controls (U+0080-U+009F), the
 * bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
 * U+202A-U+202E, U+2066-U+2069) and the line and paragraph separators (U+2028, U+2029): a
 * terminal or a log viewer may act on them, or show a sentence other than the one stored. */
bool et_text_char_ok(uint32_t cp);

/* What et_text_sanitize_n did, for callers that treat some of it differently. */
#define ET_TEXT_INVALID 0x1u /* a byte that starts no well-formed sequence became '?' */
#define ET_TEXT_CONTROL 0x2u /* a C0 or C1 control or DEL became '?' */
#define ET_TEXT_MARK 0x4u    /* a bidirectional mark or a line or paragraph separator became '?' */
#define ET_TEXT_CUT 0x8u     /* the rest did not fit and was left out */

/* Copy len bytes of in into out (size bytes, always NUL-terminated when size > 0): each byte
 * that starts no well-formed sequence and each character et_text_char_ok refuses becomes one
 * '?', and when out is full the text is cut before a whole character, never inside one.
 * Returns the bytes written (without the NUL); *ret_flags (may be NULL) gets ET_TEXT_*. */
size_t et_text_sanitize_n(const char *in, size_t len, char *out, size_t size, unsigned *ret_flags);
/* The same for a NUL-terminated string; NULL gives "". */
size_t et_text_sanitize(const char *in, char *out, size_t size);
/* The same rule with each refused character and invalid byte left out instead of replaced:
 * for matching only (does the text repeat a secret, split by a control character?), never
 * for display, where a removal could join words into another meaning. */
size_t et_text_strip(const char *in, char *out, size_t size);
/* Whether et_text_sanitize would copy s unchanged: valid UTF-8 without a refused character. */
bool et_text_clean(const char *s);

/* An https URL that may be shown to a person or sent a request: at most max bytes,
 * "https://" (any case), then a host (not empty, no user information), and only printable
 * ASCII: no space, control or non-ASCII byte anywhere. */
bool et_https_url_ok(const char *url, size_t max);
