/* buf.h - a growable byte buffer with a hard cap (STYLE §3: no s = f(s) APIs). */
#ifndef SANDPIT_BUF_H
#define SANDPIT_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* owned; NUL-terminated when len > 0 or after buf_cstr */
    size_t len; /* bytes in use */
    size_t cap; /* bytes allocated */
    size_t max; /* hard cap on len; 0 = unlimited */
};

/* Initialises an empty buffer that refuses to grow past max bytes (0 = no cap). */
void buf_init(struct buf *b, size_t max);
/* Frees the storage; b may be reused after buf_init. */
void buf_done(struct buf *b);
/* Appends n bytes; 0, -ENOMEM, or -E2BIG when max would be exceeded (nothing appended). */
int buf_append(struct buf *b, const void *p, size_t n);
/* Appends as much of p as fits under max; returns the number of bytes appended, or -ENOMEM. */
long buf_append_upto(struct buf *b, const void *p, size_t n);
/* printf-style append; same returns as buf_append. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the data as a NUL-terminated string (borrowed, valid until the next change). */
const char *buf_cstr(struct buf *b);
/* Hands the storage to the caller (new, free with free(); NULL when empty) and resets b. */
char *buf_steal(struct buf *b, size_t *len);

#endif
