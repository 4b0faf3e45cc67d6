/* route.c - the orchestrator's endpoint table; matching is common/route_table.c. */
#include "route.h"

#define ROUTE_V1 "/api/v1"

static const struct route_row route_rows[] = {
    {ROUTE_ROOT, "GET", "/", ROUTE_ARG_NONE, "", "root"},
    {ROUTE_EXECUTE, "POST", "/execute", ROUTE_ARG_NONE, "", "execute"},
    {ROUTE_HEALTH, "GET", "/health", ROUTE_ARG_NONE, "", "health"},
    {ROUTE_HEALTH_LIVE, "GET", "/health/live", ROUTE_ARG_NONE, "", "health_live"},
    {ROUTE_HEALTH_READY, "GET", "/health/ready", ROUTE_ARG_NONE, "", "health_ready"},
    {ROUTE_LANGUAGES, "GET", "/languages", ROUTE_ARG_NONE, "", "languages"},
    {ROUTE_METRICS, "GET", "/metrics", ROUTE_ARG_NONE, "", "metrics"},
    {ROUTE_JOB_RUN, "POST", "/api/run", ROUTE_ARG_NONE, "", "job_run"},
    {ROUTE_JOB_LIST, "GET", "/api/jobs", ROUTE_ARG_NONE, "", "job_list"},
    {ROUTE_JOB_LOGS, "GET", "/api/logs/", ROUTE_ARG_UUID, "", "job_logs"},
    {ROUTE_JOB_STATUS, "GET", "/api/status/", ROUTE_ARG_UUID, "", "job_status"},
    {ROUTE_JOB_CANCEL, "POST", "/api/cancel/", ROUTE_ARG_UUID, "", "job_cancel"},
    {ROUTE_V1_EXECUTE, "POST", ROUTE_V1 "/execute", ROUTE_ARG_NONE, "", "v1_execute"},
    {ROUTE_V1_ASYNC, "POST", ROUTE_V1 "/execute/async", ROUTE_ARG_NONE, "", "v1_async"},
    {ROUTE_V1_STATUS, "GET", ROUTE_V1 "/status/", ROUTE_ARG_UUID, "", "v1_status"},
    {ROUTE_V1_STATUS, "GET", ROUTE_V1 "/execute/status/", ROUTE_ARG_UUID, "", "v1_status"},
    {ROUTE_V1_BATCH, "POST", ROUTE_V1 "/batch", ROUTE_ARG_NONE, "", "v1_batch"},
    {ROUTE_V1_LANGS, "GET", ROUTE_V1 "/languages", ROUTE_ARG_NONE, "", "v1_languages"},
    {ROUTE_V1_LANG, "GET", ROUTE_V1 "/language/", ROUTE_ARG_NAME, "/info", "v1_language"},
    {ROUTE_V1_HEALTH, "GET", ROUTE_V1 "/health", ROUTE_ARG_NONE, "", "v1_health"},
};

#define ROUTE_N (sizeof(route_rows) / sizeof(route_rows[0]))

const char *route_name(enum route_id id)
{
    for (size_t i = 0; i < ROUTE_N; i++) {
        if (route_rows[i].id == (int)id)
            return route_rows[i].name;
    }
    return "unknown";
}

int route_parse(const char *method, const char *path, size_t len, struct route_match *m)
{
    return route_table_match(route_rows, ROUTE_N, method, path, len, m);
}

bool route_is_v1(const char *path, size_t len)
{
    return route_table_under(path, len, ROUTE_V1);
}
