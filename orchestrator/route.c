/* route.c - path routing as a table walk over (method, path); no MHD, so it fuzzes alone. */
#include "route.h"

#include <errno.h>
#include <string.h>

#include "ids.h"

struct route_row {
    enum route_id id;
    const char *prefix; /* whole path, or the part before {id} when has_arg */
    bool has_arg;       /* path is prefix + one non-empty segment */
    const char *method; /* "GET" or "POST" */
    const char *name;   /* for logs and metrics */
};

static const struct route_row route_rows[] = {
    {ROUTE_ROOT, "/", false, "GET", "root"},
    {ROUTE_EXECUTE, "/execute", false, "POST", "execute"},
    {ROUTE_HEALTH, "/health", false, "GET", "health"},
    {ROUTE_LANGUAGES, "/languages", false, "GET", "languages"},
    {ROUTE_METRICS, "/metrics", false, "GET", "metrics"},
    {ROUTE_JOB_RUN, "/api/run", false, "POST", "job_run"},
    {ROUTE_JOB_LIST, "/api/jobs", false, "GET", "job_list"},
    {ROUTE_JOB_LOGS, "/api/logs/", true, "GET", "job_logs"},
    {ROUTE_JOB_STATUS, "/api/status/", true, "GET", "job_status"},
    {ROUTE_JOB_CANCEL, "/api/cancel/", true, "POST", "job_cancel"},
};

const char *route_name(enum route_id id)
{
    for (size_t i = 0; i < sizeof(route_rows) / sizeof(route_rows[0]); i++) {
        if (route_rows[i].id == id)
            return route_rows[i].name;
    }
    return "unknown";
}

int route_parse(const char *method, const char *path, size_t len, struct route_match *m)
{
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");

    memset(m, 0, sizeof(*m));
    if (len > 1 && path[len - 1] == '/')
        len--;
    /* Paths never hold NUL; one that does matches nothing. */
    if (memchr(path, '\0', len))
        return -ENOENT;
    for (size_t i = 0; i < sizeof(route_rows) / sizeof(route_rows[0]); i++) {
        const struct route_row *r = &route_rows[i];
        size_t plen = strlen(r->prefix);

        if (!r->has_arg) {
            if (len != plen || memcmp(path, r->prefix, plen) != 0)
                continue;
        } else {
            const char *seg = path + plen;
            size_t slen = len - plen;

            if (len <= plen || memcmp(path, r->prefix, plen) != 0 || memchr(seg, '/', slen))
                continue;
            m->id = r->id;
            m->allow = r->method;
            if (slen >= ROUTE_ARG_MAX || !ids_is_uuid(seg, slen)) {
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
