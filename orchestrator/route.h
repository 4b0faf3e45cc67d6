/* route.h - the orchestrator's URL space: its endpoint table over common/route_table; pure. */
#ifndef SANDPIT_ROUTE_H
#define SANDPIT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "route_table.h"

enum route_id {
    ROUTE_NONE,         /* no endpoint has this path */
    ROUTE_ROOT,         /* GET / */
    ROUTE_EXECUTE,      /* POST /execute (NVIDIA tool-call contract) */
    ROUTE_HEALTH,       /* GET /health */
    ROUTE_HEALTH_LIVE,  /* GET /health/live */
    ROUTE_HEALTH_READY, /* GET /health/ready */
    ROUTE_LANGUAGES,    /* GET /languages */
    ROUTE_METRICS,      /* GET /metrics */
    ROUTE_JOB_RUN,      /* POST /api/run */
    ROUTE_JOB_LIST,     /* GET /api/jobs */
    ROUTE_JOB_LOGS,     /* GET /api/logs/{id} */
    ROUTE_JOB_STATUS,   /* GET /api/status/{id} */
    ROUTE_JOB_CANCEL,   /* POST /api/cancel/{id} */
    ROUTE_V1_EXECUTE,   /* POST /api/v1/execute (Nadoo dialect) */
    ROUTE_V1_ASYNC,     /* POST /api/v1/execute/async */
    ROUTE_V1_STATUS,    /* GET /api/v1/status/{id}, GET /api/v1/execute/status/{id} */
    ROUTE_V1_BATCH,     /* POST /api/v1/batch */
    ROUTE_V1_LANGS,     /* GET /api/v1/languages */
    ROUTE_V1_LANG,      /* GET /api/v1/language/{name}/info */
    ROUTE_V1_HEALTH,    /* GET /api/v1/health */
};

/* Matches method and path (len bytes, query removed) against the orchestrator's endpoints;
 * returns and fills m as route_table_match does. */
int route_parse(const char *method, const char *path, size_t len, struct route_match *m);
/* True for every path under /api/v1 (Nadoo dialect: X-API-Key applies), known or not. */
bool route_is_v1(const char *path, size_t len);
/* Short static name of an endpoint for logs and metrics ("execute", "job_run", ...). */
const char *route_name(enum route_id id);

#endif
