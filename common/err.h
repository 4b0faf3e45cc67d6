/* err.h - the one error vocabulary of both daemons (STYLE §4): project codes past errno's
 * range, client-facing detail in struct err (filled by the function that decides, never
 * allocated, NULL allowed everywhere), and the single mapping from a code to an HTTP status and
 * a stable code string. Pure: no MHD, no logging. */
#ifndef SANDPIT_ERR_H
#define SANDPIT_ERR_H

#include <stdarg.h>
#include <stdbool.h>

/* Project error codes, returned negated like -errno. The HTTP status and the wire name of each
 * live in one table (err.c); err_code_of folds errno values into these. */
enum err_code {
    ERR_INVALID = 4096, /* the client's request is wrong: 400 invalid_request */
    ERR_UNAUTHORIZED,   /* no or a wrong credential: 401 unauthorized */
    ERR_NOT_FOUND,      /* no such endpoint or object: 404 not_found */
    ERR_METHOD,         /* the endpoint exists, not for this method: 405 method_not_allowed */
    ERR_CONFLICT,       /* the object's state forbids it: 409 conflict */
    ERR_GONE,           /* the object existed and is gone for good: 410 gone */
    ERR_TOO_LARGE,      /* a client-controlled size exceeds its cap: 413 too_large */
    ERR_URI_TOO_LONG,   /* the URL exceeds its cap: 414 uri_too_long */
    ERR_RATE_LIMITED,   /* a per-key limit is reached: 429 rate_limited, Retry-After */
    ERR_BUSY,           /* no capacity now (or out of memory): 503 busy, Retry-After */
    ERR_UNAVAILABLE,    /* a component we depend on is down: 503 unavailable */
    ERR_ZYGOTE_DIED,    /* the Python zygote died under the execution: 503 zygote_died */
    ERR_NO_AGENT,       /* no healthy agent serves the language: 503 no_healthy_agent */
    ERR_SHUTTING_DOWN,  /* the daemon is stopping: 503 shutting_down */
    ERR_AGENT_FAILED,   /* an agent failed or answered what we cannot read: 502 agent_failed */
    ERR_AGENT_TIMEOUT,  /* an agent did not answer in time: 504 agent_timeout */
    ERR_PROTO,          /* a peer spoke our internal protocol wrong: 500 protocol_error */
    ERR_INTERNAL,       /* a bug or an unexpected failure: 500 internal */
    ERR_END             /* not a code: one past the last */
};

#define ERR_COUNT (ERR_END - ERR_INVALID)

struct err {
    int code;       /* one of enum err_code, 0 when unset */
    char field[48]; /* the request field at fault, "" when none */
    char msg[320];  /* human-readable, names the problem; room for a quoted agent message */
};

/* Fills e (when not NULL) and returns -code, so callers can `return err_set(...)`. */
int err_set(struct err *e, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The project code for a return value r < 0: -r itself when it is one, else the errno's
 * meaning to a client (ENOMEM/EAGAIN busy, ESHUTDOWN shutting down, ETIMEDOUT agent timeout,
 * anything else internal: a client error is never inferred from an errno). */
int err_code_of(int r);
/* The HTTP status of a code (err_code_of applied first, so -errno works too). */
unsigned err_http_status(int code);
/* The stable wire name of a code ("invalid_request", ...): static. */
const char *err_name(int code);
/* The index of a code in [0, ERR_COUNT), for per-code counters. */
int err_index(int code);

#endif
