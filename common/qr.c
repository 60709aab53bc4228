/* SPDX-License-Identifier: Apache-2.0 */
/* QR codes as text (qr.h), drawn with libqrencode's module matrix. */
#include "qr.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <qrencode.h>

#define QR_QUIET_MAX 4
#define BLOCK_FULL "\xe2\x96\x88"  /* U+2588 */
#define BLOCK_UPPER "\xe2\x96\x80" /* U+2580 */
#define BLOCK_LOWER "\xe2\x96\x84" /* U+2584 */

static QRcode *encode(const char *text)
{
	if (!text || !*text)
		return NULL;
	return QRcode_encodeString8bit(text, 0, QR_ECLEVEL_L);
}

size_t et_qr_width(const char *text, size_t quiet)
{
	QRcode *q = encode(text);
	size_t w = q ? (size_t)q->width + 2 * quiet : 0;
	QRcode_free(q);
	return w;
}

/* Dark at (x, y) of the code with its quiet zone around it (outside: light). */
static bool dark(const QRcode *q, long x, long y, long quiet)
{
	x -= quiet;
	y -= quiet;
	if (x < 0 || y < 0 || x >= q->width || y >= q->width)
		return false;
	return q->data[y * q->width + x] & 1;
}

char *et_qr_render(const char *text, size_t max_cols, struct et_err *err)
{
	QRcode *q;
	long quiet, size, lines;
	char *out = NULL, *p;

	if (!text || !*text) {
		et_err_set(err, ET_E_BAD_ARGUMENT, "nothing to encode");
		return NULL;
	}
	q = encode(text);
	if (!q) {
		et_err_set(err, ET_E_TOO_LARGE, "the text cannot be encoded as a QR code");
		return NULL;
	}
	quiet = QR_QUIET_MAX;
	while (quiet > 1 && (size_t)(q->width + 2 * quiet) > max_cols)
		quiet--;
	size = q->width + 2 * quiet;
	if ((size_t)size > max_cols) {
		et_err_set(err, ET_E_TOO_LARGE, "the QR code is %ld columns wide (at most %zu)", size, max_cols);
		goto done;
	}
	lines = (size + 1) / 2;
	/* each column at most 3 bytes, and a newline per line */
	out = malloc((size_t)lines * ((size_t)size * 3 + 1) + 1);
	if (!out) {
		et_err_set(err, ET_E_NO_MEMORY, "out of memory");
		goto done;
	}
	p = out;
	for (long row = 0; row < lines; row++) {
		for (long x = 0; x < size; x++) {
			bool top = !dark(q, x, 2 * row, quiet);
			bool bottom = 2 * row + 1 < size && !dark(q, x, 2 * row + 1, quiet);
			const char *c = top && bottom ? BLOCK_FULL : top ? BLOCK_UPPER : bottom ? BLOCK_LOWER : " ";
			size_t n = strlen(c);
			memcpy(p, c, n);
			p += n;
		}
		*p++ = '\n';
	}
	*p = '\0';
done:
	QRcode_free(q);
	return out;
}
