/* route.c - path routing as a table walk over (method, path); no MHD, so it fuzzes alone. */
#include "route.h"

#include <errno.h>
#include <string.h>

#include "ids.h"

enum route_arg {
    ROUTE_ARG_NONE, /* the whole path is prefix */
    ROUTE_ARG_UUID, /* prefix + a UUID segment + suffix */
    ROUTE_ARG_NAME, /* prefix + a name segment ([A-Za-z0-9+#._-]) + suffix */
};

struct route_row {
    enum route_id id;
    const char *prefix; /* whole path, or the part before the segment */
    enum route_arg arg; /* what follows prefix */
    const char *suffix; /* after the segment ("" when none) */
    const char *method; /* "GET" or "POST" */
    const char *name;   /* for logs and metrics */
};

#define ROUTE_V1 "/api/v1"

static const struct route_row route_rows[] = {
    {ROUTE_ROOT, "/", ROUTE_ARG_NONE, "", "GET", "root"},
    {ROUTE_EXECUTE, "/execute", ROUTE_ARG_NONE, "", "POST", "execute"},
    {ROUTE_HEALTH, "/health", ROUTE_ARG_NONE, "", "GET", "health"},
    {ROUTE_LANGUAGES, "/languages", ROUTE_ARG_NONE, "", "GET", "languages"},
    {ROUTE_METRICS, "/metrics", ROUTE_ARG_NONE, "", "GET", "metrics"},
    {ROUTE_JOB_RUN, "/api/run", ROUTE_ARG_NONE, "", "POST", "job_run"},
    {ROUTE_JOB_LIST, "/api/jobs", ROUTE_ARG_NONE, "", "GET", "job_list"},
    {ROUTE_JOB_LOGS, "/api/logs/", ROUTE_ARG_UUID, "", "GET", "job_logs"},
    {ROUTE_JOB_STATUS, "/api/status/", ROUTE_ARG_UUID, "", "GET", "job_status"},
    {ROUTE_JOB_CANCEL, "/api/cancel/", ROUTE_ARG_UUID, "", "POST", "job_cancel"},
    {ROUTE_V1_EXECUTE, ROUTE_V1 "/execute", ROUTE_ARG_NONE, "", "POST", "v1_execute"},
    {ROUTE_V1_ASYNC, ROUTE_V1 "/execute/async", ROUTE_ARG_NONE, "", "POST", "v1_async"},
    {ROUTE_V1_STATUS, ROUTE_V1 "/status/", ROUTE_ARG_UUID, "", "GET", "v1_status"},
    {ROUTE_V1_STATUS, ROUTE_V1 "/execute/status/", ROUTE_ARG_UUID, "", "GET", "v1_status"},
    {ROUTE_V1_BATCH, ROUTE_V1 "/batch", ROUTE_ARG_NONE, "", "POST", "v1_batch"},
    {ROUTE_V1_LANGS, ROUTE_V1 "/languages", ROUTE_ARG_NONE, "", "GET", "v1_languages"},
    {ROUTE_V1_LANG, ROUTE_V1 "/language/", ROUTE_ARG_NAME, "/info", "GET", "v1_language"},
    {ROUTE_V1_HEALTH, ROUTE_V1 "/health", ROUTE_ARG_NONE, "", "GET", "v1_health"},
};

const char *route_name(enum route_id id)
{
    for (size_t i = 0; i < sizeof(route_rows) / sizeof(route_rows[0]); i++) {
        if (route_rows[i].id == id)
            return route_rows[i].name;
    }
    return "unknown";
}

static bool route_name_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '#' || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

int route_parse(const char *method, const char *path, size_t len, struct route_match *m)
{
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    size_t v1len = strlen(ROUTE_V1);

    memset(m, 0, sizeof(*m));
    if (len > 1 && path[len - 1] == '/')
        len--;
    /* Paths never hold NUL; one that does matches nothing. */
    if (memchr(path, '\0', len))
        return -ENOENT;
    m->v1 = len >= v1len && !memcmp(path, ROUTE_V1, v1len) && (len == v1len || path[v1len] == '/');
    for (size_t i = 0; i < sizeof(route_rows) / sizeof(route_rows[0]); i++) {
        const struct route_row *r = &route_rows[i];
        size_t plen = strlen(r->prefix), xlen = strlen(r->suffix);

        if (r->arg == ROUTE_ARG_NONE) {
            if (len != plen || memcmp(path, r->prefix, plen) != 0)
                continue;
        } else {
            const char *seg = path + plen;
            size_t slen;
            bool ok;

            if (len <= plen + xlen || memcmp(path, r->prefix, plen) != 0 ||
                memcmp(path + len - xlen, r->suffix, xlen) != 0)
                continue;
            slen = len - plen - xlen;
            if (memchr(seg, '/', slen))
                continue;
            m->id = r->id;
            m->allow = r->method;
            ok = slen < ROUTE_ARG_MAX &&
                 (r->arg == ROUTE_ARG_UUID ? ids_is_uuid(seg, slen) : route_name_ok(seg, slen));
            if (!ok) {
                /* Keep a printable prefix for the 404 message. */
                size_t keep = slen < ROUTE_ARG_MAX - 1 ? slen : ROUTE_ARG_MAX - 1;
                memcpy(m->arg, seg, keep);
                m->arg[keep] = '\0';
                return -EINVAL;
            }
            memcpy(m->arg, seg, slen);
            m->arg[slen] = '\0';
        }
        m->id = r->id;
        m->allow = r->method;
        if (!strcmp(r->method, "GET") ? get : !strcmp(method, r->method))
            return 0;
        return -EPERM;
    }
    return -ENOENT;
}
