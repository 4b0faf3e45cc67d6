/* err.h - client-facing error detail (STYLE §4): filled by the function that decides, never
 * allocated, NULL allowed everywhere. */
#ifndef SANDPIT_ERR_H
#define SANDPIT_ERR_H

#include <stdarg.h>

/* Project error codes live past errno's range and are returned negated like -errno. */
enum err_code {
    ERR_INVALID = 4096, /* the client's request is wrong (HTTP 400) */
    ERR_TOO_LARGE,      /* a client-controlled size exceeds its cap (HTTP 413) */
    ERR_BUSY,           /* no capacity now (HTTP 503 + Retry-After) */
    ERR_UNAVAILABLE,    /* a component we depend on is down (HTTP 503) */
    ERR_PROTO,          /* a peer spoke our internal protocol wrong */
};

struct err {
    int code;       /* one of enum err_code, 0 when unset */
    char field[48]; /* the request field at fault, "" when none */
    char msg[160];  /* human-readable, names the problem */
};

/* Fills e (when not NULL) and returns -code, so callers can `return err_set(...)`. */
int err_set(struct err *e, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
