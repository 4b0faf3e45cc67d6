/* route.h - the orchestrator's URL space: method + path -> endpoint and {id}; pure. */
#ifndef SANDPIT_ROUTE_H
#define SANDPIT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_ARG_MAX 64 /* bytes of an {id} segment, NUL included */

enum route_id {
    ROUTE_NONE,       /* no endpoint has this path */
    ROUTE_ROOT,       /* GET / */
    ROUTE_EXECUTE,    /* POST /execute (NVIDIA tool-call contract) */
    ROUTE_HEALTH,     /* GET /health */
    ROUTE_LANGUAGES,  /* GET /languages */
    ROUTE_METRICS,    /* GET /metrics */
    ROUTE_JOB_RUN,    /* POST /api/run */
    ROUTE_JOB_LIST,   /* GET /api/jobs */
    ROUTE_JOB_LOGS,   /* GET /api/logs/{id} */
    ROUTE_JOB_STATUS, /* GET /api/status/{id} */
    ROUTE_JOB_CANCEL, /* POST /api/cancel/{id} */
    ROUTE_V1_EXECUTE, /* POST /api/v1/execute (Nadoo dialect) */
    ROUTE_V1_ASYNC,   /* POST /api/v1/execute/async */
    ROUTE_V1_STATUS,  /* GET /api/v1/status/{id}, GET /api/v1/execute/status/{id} */
    ROUTE_V1_BATCH,   /* POST /api/v1/batch */
    ROUTE_V1_LANGS,   /* GET /api/v1/languages */
    ROUTE_V1_LANG,    /* GET /api/v1/language/{name}/info */
    ROUTE_V1_HEALTH,  /* GET /api/v1/health */
};

struct route_match {
    enum route_id id;        /* the endpoint, ROUTE_NONE when the path is unknown */
    const char *allow;       /* static: methods the endpoint takes (for 405 Allow), or NULL */
    char arg[ROUTE_ARG_MAX]; /* the {id} segment, NUL-terminated; "" when none */
    bool v1;                 /* an /api/v1 endpoint (Nadoo dialect: X-API-Key applies) */
};

/* Matches method and path (len bytes, query string already removed; one trailing '/' is
 * ignored). Always fills m. Returns 0 on a match, -ENOENT when no endpoint has the path,
 * -EINVAL when the {id} segment is not a UUID, or a {name} segment not a language-like name
 * ([A-Za-z0-9+#._-]) (m->id names the endpoint), -EPERM when the endpoint exists but not for
 * this method (m->allow lists the methods). HEAD counts as GET. m->v1 is set for every path
 * under /api/v1, even an unknown one. */
int route_parse(const char *method, const char *path, size_t len, struct route_match *m);
/* Short static name of an endpoint for logs and metrics ("execute", "job_run", ...). */
const char *route_name(enum route_id id);

#endif
