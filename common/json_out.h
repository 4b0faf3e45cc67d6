/* json_out.h - the one JSON writer of both daemons' replies and forwarded bodies: compact, each
 * real in its shortest round-trip form (Python's repr: 0.1, 0.3333333333333333, 1e+300), every
 * string escaped (NUL as \u0000, invalid UTF-8 as U+FFFD). jansson's json_dumps prints reals
 * with %.17g (0.2 -> 0.20000000000000001), or with one global precision that cuts them. */
#ifndef SANDPIT_JSON_OUT_H
#define SANDPIT_JSON_OUT_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

#define JSON_OUT_SORT_KEYS 0x1 /* objects' keys in byte order (else insertion order) */
#define JSON_OUT_REAL_MAX  32  /* bytes json_out_real writes at most, NUL included */

/* Serialises v (borrowed) compactly. New NUL-terminated text (free with free()), its length in
 * *len when len is set; NULL when v is NULL or on out of memory. */
char *json_out_dumps(const json_t *v, unsigned flags, size_t *len);

/* Appends v's text (as json_out_dumps writes it) to b. 0 or -ENOMEM. */
int json_out_append(struct buf *b, const json_t *v, unsigned flags);
/* Appends n bytes of s (any bytes) escaped as the inside of a JSON string, without the quotes:
 * so a caller can write one string from several pieces. 0 or -ENOMEM. */
int json_out_append_chars(struct buf *b, const char *s, size_t n);

/* Writes d in the shortest form strtod reads back to d, keeping a '.0' or an exponent so it
 * stays a real; NaN and infinities (which jansson refuses to hold) as "null". Returns the
 * length written into out (JSON_OUT_REAL_MAX bytes). */
size_t json_out_real(double d, char out[JSON_OUT_REAL_MAX]);

#endif
