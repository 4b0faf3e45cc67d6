/* api_route.h - the agent's URL space: its endpoint table over
 * common/route_table; pure. */
#ifndef SANDPIT_API_ROUTE_H
#define SANDPIT_API_ROUTE_H

#include <stddef.h>

#include "route_table.h"

enum api_route_id {
    API_NONE,             /* no endpoint has this path */
    API_ROOT,             /* GET / */
    API_EXECUTE,          /* POST /execute */
    API_HEALTH,           /* GET /health */
    API_HEALTH_LIVE,      /* GET /health/live */
    API_HEALTH_READY,     /* GET /health/ready */
    API_METRICS,          /* GET /metrics */
    API_LANGUAGES,        /* GET /languages */
    API_ADJUST,           /* POST /adjust-processor */
    API_ADJUSTMENTS,      /* GET /adjustments */
    API_EXECUTIONS,       /* GET /executions */
    API_EXECUTION_GET,    /* GET /execution/{id} */
    API_EXECUTION_DELETE, /* DELETE /execution/{id} */
    API_DEBUG,            /* GET /debug/{id} */
    API_WORKSPACES,       /* GET /workspaces */
    API_WORKSPACE_DELETE, /* DELETE /workspaces/{name} */
};

/* Matches method and path (len bytes, query removed) against the agent's
 * endpoints; returns and fills m as route_table_match does (-EINVAL: the {id}
 * is not an execution id). */
int api_route_parse(const char *method, const char *path, size_t len, struct route_match *m);
/* Endpoint i of the table as "METHOD /path" ({id} for an id segment) into out: 1, or 0 past
 * the last (GET / lists them all, so the list cannot drift from what is served). */
int api_route_endpoint(size_t i, char *out, size_t size);

#endif
