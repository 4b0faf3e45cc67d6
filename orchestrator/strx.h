/* strx.h - bounded string copies that truncate on purpose (messages quoting agent or client
 * text, URLs copied between fixed-size fields), so -Wformat-truncation stays meaningful for
 * the snprintf calls that must not truncate. */
#ifndef SANDPIT_STRX_H
#define SANDPIT_STRX_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Copies src into dst (size > 0 bytes), cut to fit, always NUL-terminated. */
static inline void strx_copy(char *dst, size_t size, const char *src)
{
    size_t n = 0;

    /* A loop rather than strnlen: the bound may exceed a shorter source array. */
    while (n + 1 < size && src[n])
        n++;
    memmove(dst, src, n);
    dst[n] = '\0';
}

/* snprintf into dst (size > 0 bytes) where cutting the text is acceptable. */
static inline void strx_printf(char *dst, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void strx_printf(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

#endif
