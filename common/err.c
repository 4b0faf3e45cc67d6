/* err.c - struct err and the one table from an error code to HTTP. */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
    unsigned status;
    const char *name;
} err_table[ERR_COUNT] = {
    [ERR_INVALID - ERR_INVALID] = {400, "invalid_request"},
    [ERR_UNAUTHORIZED - ERR_INVALID] = {401, "unauthorized"},
    [ERR_NOT_FOUND - ERR_INVALID] = {404, "not_found"},
    [ERR_METHOD - ERR_INVALID] = {405, "method_not_allowed"},
    [ERR_CONFLICT - ERR_INVALID] = {409, "conflict"},
    [ERR_GONE - ERR_INVALID] = {410, "gone"},
    [ERR_TOO_LARGE - ERR_INVALID] = {413, "too_large"},
    [ERR_URI_TOO_LONG - ERR_INVALID] = {414, "uri_too_long"},
    [ERR_RATE_LIMITED - ERR_INVALID] = {429, "rate_limited"},
    [ERR_BUSY - ERR_INVALID] = {503, "busy"},
    [ERR_UNAVAILABLE - ERR_INVALID] = {503, "unavailable"},
    [ERR_ZYGOTE_DIED - ERR_INVALID] = {503, "zygote_died"},
    [ERR_NO_AGENT - ERR_INVALID] = {503, "no_healthy_agent"},
    [ERR_SHUTTING_DOWN - ERR_INVALID] = {503, "shutting_down"},
    [ERR_AGENT_FAILED - ERR_INVALID] = {502, "agent_failed"},
    [ERR_AGENT_TIMEOUT - ERR_INVALID] = {504, "agent_timeout"},
    [ERR_PROTO - ERR_INVALID] = {500, "protocol_error"},
    [ERR_INTERNAL - ERR_INVALID] = {500, "internal"},
};

int err_set(struct err *e, int code, const char *field, const char *fmt, ...)
{
    va_list ap;

    if (e) {
        e->code = code;
        snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
    }
    return -code;
}

int err_code_of(int r)
{
    int c = r < 0 ? -r : r;

    if (c >= ERR_INVALID && c < ERR_END)
        return c;
    /* An errno says what failed inside, not what the client did wrong: a client error is
     * always named with its project code where it is decided. Only running out of something
     * and stopping have a meaning a client can act on. */
    switch (c) {
    case ENOMEM:
    case EAGAIN:
        return ERR_BUSY;
    case ESHUTDOWN:
        return ERR_SHUTTING_DOWN;
    case ETIMEDOUT:
        return ERR_AGENT_TIMEOUT;
    default:
        return ERR_INTERNAL;
    }
}

int err_index(int code)
{
    return err_code_of(code) - ERR_INVALID;
}

unsigned err_http_status(int code)
{
    return err_table[err_index(code)].status;
}

const char *err_name(int code)
{
    return err_table[err_index(code)].name;
}
