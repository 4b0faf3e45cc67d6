/* api_route.c - the agent's endpoint table; matching is common/route_table.c.
 */
#include "api_route.h"

#include <stdio.h>

static const struct route_row api_route_rows[] = {
    {API_ROOT, "GET", "/", ROUTE_ARG_NONE, "", "root"},
    {API_EXECUTE, "POST", "/execute", ROUTE_ARG_NONE, "", "execute"},
    {API_HEALTH, "GET", "/health", ROUTE_ARG_NONE, "", "health"},
    {API_HEALTH_LIVE, "GET", "/health/live", ROUTE_ARG_NONE, "", "health_live"},
    {API_HEALTH_READY, "GET", "/health/ready", ROUTE_ARG_NONE, "", "health_ready"},
    {API_METRICS, "GET", "/metrics", ROUTE_ARG_NONE, "", "metrics"},
    {API_LANGUAGES, "GET", "/languages", ROUTE_ARG_NONE, "", "languages"},
    {API_ADJUST, "POST", "/adjust-processor", ROUTE_ARG_NONE, "", "adjust"},
    {API_ADJUSTMENTS, "GET", "/adjustments", ROUTE_ARG_NONE, "", "adjustments"},
    {API_EXECUTIONS, "GET", "/executions", ROUTE_ARG_NONE, "", "executions"},
    {API_EXECUTION_GET, "GET", "/execution/", ROUTE_ARG_UUID, "", "execution"},
    {API_EXECUTION_DELETE, "DELETE", "/execution/", ROUTE_ARG_UUID, "", "execution_delete"},
    {API_DEBUG, "GET", "/debug/", ROUTE_ARG_UUID, "", "debug"},
    {API_WORKSPACES, "GET", "/workspaces", ROUTE_ARG_NONE, "", "workspaces"},
    {API_WORKSPACE_DELETE, "DELETE", "/workspaces/", ROUTE_ARG_NAME, "", "workspace_delete"},
};

int api_route_parse(const char *method, const char *path, size_t len, struct route_match *m)
{
    return route_table_match(api_route_rows, sizeof(api_route_rows) / sizeof(api_route_rows[0]),
                             method, path, len, m);
}

int api_route_endpoint(size_t i, char *out, size_t size)
{
    return route_table_endpoint(api_route_rows, sizeof(api_route_rows) / sizeof(api_route_rows[0]),
                                i, out, size);
}
