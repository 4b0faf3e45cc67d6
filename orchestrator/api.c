/* api.c - the orchestrator's HTTP API: routing, keys, health, metrics, and the synchronous run
 * every dialect uses.
 *
 * No handler ever blocks: a request that needs an agent hands a call to the dispatcher (the
 * upstream loop thread) and suspends; the call's completion stores the reply and wakes it. */
#include "api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "route.h"
#include "sessions_route.h"
#include "strx.h"
#include "files_map.h"
#include "toolcall.h"

/* One synchronous run in flight (attached to its request). */
struct api_run {
    struct api *a;
    struct http_req *r;
    api_run_reply_fn reply; /* the dialect's success body */
    void *ctx;              /* for reply; freed with the run */
    void (*ctx_free)(void *ctx);
};

static void api_run_free(struct http_req *r, void *data)
{
    struct api_run *run = data;

    (void)r;
    run->ctx_free(run->ctx);
    free(run);
}

bool api_lang_known(struct api *a, struct http_req *r, const char *lang, const char *field,
                    enum MHD_Result *res)
{
    enum registry_avail avail;
    char msg[400];
    json_t *langs, *v;
    size_t i, off;

    pthread_mutex_lock(&a->reg->lock);
    avail = registry_avail_locked(a->reg, lang);
    pthread_mutex_unlock(&a->reg->lock);
    if (avail != REGISTRY_LANG_UNKNOWN)
        return true;
    langs = registry_languages_json(a->reg);
    off = (size_t)snprintf(msg, sizeof(msg), "unknown language '%s'; available: ", lang);
    json_array_foreach(langs, i, v)
    {
        if (off < sizeof(msg))
            off += (size_t)snprintf(msg + off, sizeof(msg) - off, "%s%s", i ? ", " : "",
                                    json_string_value(v));
    }
    if (json_array_size(langs) == 0 && off < sizeof(msg))
        snprintf(msg + off, sizeof(msg) - off, "none (no agent is up)");
    json_decref(langs);
    *res = http_req_error(r, ERR_INVALID, field, "%s", msg);
    return false;
}

void api_count_status(struct api *a, const char *ps)
{
    atomic_fetch_add(&a->exec_status[!strcmp(ps, "completed") ? 0
                                     : !strcmp(ps, "error")   ? 1
                                                              : 2],
                     1);
}

/* A synchronous run is over (upstream loop thread). */
static void api_run_done(struct dcall *dc)
{
    struct api_run *run = dc->arg;
    struct http_req *r = run->r;
    double ms = (double)(clock_mono_ns() - http_req_start_ns(r)) / 1e6;
    struct err e = {0};
    json_t *res = NULL, *reply = NULL;
    unsigned status = 200;

    if (agent_client_result(dc, &res, &e) == 0) {
        reply = run->reply(dc, res, run->ctx);
        api_files_note(run->a, dc, res, reply);
        if (reply) {
            const char *ps =
                toolcall_process_status(json_string_value(json_object_get(res, "status")));

            api_count_status(run->a, ps);
            log_msg(LOG_DEBUG, http_req_id(r), "execute on %s: %s in %.1f ms", dc->agent_url, ps,
                    ms);
        } else {
            err_set(&e, ERR_AGENT_FAILED, "", "agent %s answered an ExecutionResult we cannot read",
                    dc->agent_url);
            log_msg(LOG_WARN, http_req_id(r), "%s", e.msg);
        }
        json_decref(res);
    } else if (dc->outcome != DCALL_OK) {
        log_msg(LOG_WARN, http_req_id(r), "execute failed after %.1f ms (%s): %s", ms,
                dcall_outcome_name(dc->outcome), dc->err);
    }
    if (!reply) {
        status = err_http_status(e.code);
        reply = http_req_error_body(r, e.code, e.field, e.msg);
    }
    dcall_free(dc);
    http_req_complete_take(r, status, reply);
}

enum MHD_Result api_run_take(struct api *a, struct http_req *r, const char *lang, json_t *body,
                             double timeout, double delay_s, const char *sticky,
                             api_run_reply_fn reply, void *ctx, void (*ctx_free)(void *ctx))
{
    struct api_run *run = calloc(1, sizeof(*run));
    struct dcall *dc = NULL;

    if (!ctx_free)
        ctx_free = free;
    if (run) {
        run->a = a;
        run->r = r;
        run->reply = reply;
        run->ctx = ctx;
        run->ctx_free = ctx_free;
        ctx = NULL;
        http_req_set_data(r, run, api_run_free);
        dc = agent_client_execute(a->cfg, lang, body, timeout, delay_s, http_req_id(r),
                                  api_run_done, run);
    }
    ctx_free(ctx);
    if (!dc)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    if (sticky)
        strx_copy(dc->sticky, sizeof(dc->sticky), sticky);
    atomic_fetch_add(&a->executions, 1);
    if (dispatch_submit(a->d, dc) < 0) {
        dcall_free(dc);
        return http_req_error(r, ERR_SHUTTING_DOWN, NULL, "the orchestrator is shutting down");
    }
    return http_req_suspend(r, NULL);
}

/* "ok" (or "healthy") when every agent is up, "degraded" when some are; with none up,
 * "starting" while one is starting or not checked yet (start-up, a restart), the third word
 * else. */
static const char *api_agents_state(struct api *a, const char *all, const char *none, int *up,
                                    int *total)
{
    registry_counts(a->reg, up, total);
    if (*up == 0)
        return registry_any_starting(a->reg) ? "starting" : none;
    return *up == *total ? all : "degraded";
}

static enum MHD_Result api_health(struct api *a, struct http_req *r)
{
    int64_t now = clock_mono_ns();
    json_t *agents = registry_agents_json(a->reg, now), *langs = registry_languages_json(a->reg);
    json_t *jobs = jobs_stats_json(a->jobs), *errs = http_srv_errors_json(a->http);
    json_t *sess = sessions_stats_json(a->sessions);
    int up = 0, total = 0;
    const char *state = api_agents_state(a, "ok", "down", &up, &total);

    return http_req_json_take(
        r, MHD_HTTP_OK,
        json_pack("{s:s, s:s, s:s, s:f, s:i, s:i, s:o, s:o, s:o, s:o, s:I, s:o}", "status", state,
                  "service", "sandpit-orchestrator", "version", API_VERSION, "uptime_s",
                  http_srv_uptime_s(a->http), "agents_up", up, "agents_total", total, "agents",
                  agents ? agents : json_array(), "languages", langs ? langs : json_array(), "jobs",
                  jobs ? jobs : json_object(), "sessions", sess ? sess : json_object(), "requests",
                  (json_int_t)http_srv_requests(a->http), "errors", errs ? errs : json_object()));
}

enum MHD_Result api_nadoo_health(struct api *a, struct http_req *r)
{
    json_t *langs = registry_languages_json(a->reg);
    int up = 0, total = 0;
    const char *state = api_agents_state(a, "healthy", "unhealthy", &up, &total);

    return http_req_json_take(
        r, MHD_HTTP_OK,
        json_pack("{s:s, s:s, s:s, s:f, s:i, s:i, s:o, s:b}", "status", state, "service",
                  "sandpit-orchestrator", "version", API_VERSION, "uptime_s",
                  http_srv_uptime_s(a->http), "agents_up", up, "agents_total", total, "languages",
                  langs ? langs : json_array(), "auth_required", a->keys->n > 0));
}

static enum MHD_Result api_languages(struct api *a, struct http_req *r)
{
    json_t *langs = registry_languages_json(a->reg);

    return http_req_json_take(r, MHD_HTTP_OK,
                              json_pack("{s:o}", "languages", langs ? langs : json_array()));
}

static enum MHD_Result api_root(struct http_req *r)
{
    return http_req_json_take(
        r, MHD_HTTP_OK,
        json_pack(
            "{s:s, s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]}", "service",
            "sandpit-orchestrator", "version", API_VERSION, "endpoints",
            "POST /execute {generated_code, timeout, language, scenario}", "GET /health",
            "GET /languages", "GET /metrics", "POST /api/run {language, code, scenario}",
            "GET /api/status/{jobId}", "GET /api/logs/{jobId}",
            "GET /api/jobs?status=&limit=", "POST /api/cancel/{jobId}",
            "POST /api/v1/execute {code, language, timeout, stdin, env, scenario}",
            "POST /api/v1/execute/async", "GET /api/v1/status/{execution_id}",
            "GET /api/v1/executions/{execution_id}/files/{path}",
            "POST /api/v1/batch {executions: [...]}", "GET /api/v1/languages",
            "GET /api/v1/language/{name}/info", "GET /api/v1/health",
            "POST /api/v1/sessions {idle_timeout_s, memory_mb, pids, env, policy, checkpoint}",
            "GET /api/v1/sessions", "GET|DELETE /api/v1/sessions/{id}",
            "POST /api/v1/sessions/{id}/execute {code, timeout, language, ...}",
            "POST /api/v1/sessions/{id}/fork", "POST /api/v1/sessions/{id}/interrupt",
            "PUT|GET|DELETE /api/v1/sessions/{id}/files/{path}, GET .../files?path=dir", "GET /"));
}

/* The agents' and the jobs' lines of /metrics. */
static int api_metrics_agents(struct api *a, struct buf *b)
{
    json_t *agents = registry_agents_json(a->reg, clock_mono_ns()),
           *jobs = jobs_stats_json(a->jobs);
    const char *k;
    size_t i;
    json_t *v;
    int rc = 0;

    json_array_foreach(agents, i, v)
    {
        const char *url = json_string_value(json_object_get(v, "url"));
        const char *st = json_string_value(json_object_get(v, "state"));

        if (rc == 0)
            rc = buf_printf(b,
                            "sandpit_orch_agent_up{agent=\"%zu\",url=\"%s\"} %d\n"
                            "sandpit_orch_agent_in_flight{agent=\"%zu\"} %lld\n"
                            "sandpit_orch_agent_failures_total{agent=\"%zu\"} %lld\n",
                            i, url ? url : "", st && !strcmp(st, "up"), i,
                            (long long)json_integer_value(json_object_get(v, "in_flight")), i,
                            (long long)json_integer_value(json_object_get(v, "failures")));
    }
    json_object_foreach(jobs, k, v)
    {
        if (rc == 0)
            rc = buf_printf(b, "sandpit_orch_jobs{kind=\"%s\"} %lld\n", k,
                            (long long)json_integer_value(v));
    }
    json_decref(agents);
    json_decref(jobs);
    return rc;
}

static enum MHD_Result api_metrics(struct api *a, struct http_req *r)
{
    static const char *const ps[3] = {"completed", "error", "timeout"};
    struct buf b;
    size_t len;
    char *data;
    int rc;

    buf_init(&b, 0);
    rc = http_srv_metrics(a->http, &b);
    for (int n = 0; rc == 0 && n < 3; n++)
        rc = buf_printf(&b, "sandpit_orch_executions_total{process_status=\"%s\"} %lu\n", ps[n],
                        atomic_load(&a->exec_status[n]));
    if (rc == 0)
        rc = api_metrics_agents(a, &b);
    data = buf_steal(&b, &len);
    if (rc < 0) {
        free(data);
        data = NULL;
    }
    return http_req_bytes_take(r, MHD_HTTP_OK, data, len, "text/plain; version=0.0.4");
}

/* Everything under /api (the job API and /api/v1, but /api/v1/health, for load balancers)
 * wants a key when keys are configured; unknown /api paths too, so they reveal nothing. Jobs
 * remember the key they were made under (api_owner). Answers 401 and returns false when the
 * key is missing or wrong. */
static bool api_key_ok(struct api *a, struct http_req *r, int route, enum MHD_Result *res)
{
    const char *url = http_req_url(r), *key = http_req_header(r, "X-API-Key");

    if (!route_table_under(url, strlen(url), "/api") || route == ROUTE_V1_HEALTH ||
        nadoo_keys_check(a->keys, key))
        return true;
    log_msg(LOG_INFO, http_req_id(r), "%s X-API-Key on %.16s %.100s", key ? "wrong" : "no",
            http_req_method(r), url);
    *res = http_req_error(r, ERR_UNAUTHORIZED, "X-API-Key",
                          key ? "the X-API-Key header does not hold a valid key"
                              : "missing X-API-Key header (this server requires an API key)");
    return false;
}

int api_owner(struct api *a, struct http_req *r)
{
    if (a->keys->n == 0)
        return 0;
    return nadoo_keys_which(a->keys, http_req_header(r, "X-API-Key")) + 1;
}

/* A path whose {id} or {name} segment cannot be one: 404 naming the field. */
static enum MHD_Result api_bad_segment(struct http_req *r, const struct route_match *m)
{
    if (m->id == ROUTE_V1_STATUS)
        return http_req_error(r, ERR_NOT_FOUND, "execution_id",
                              "no execution '%s' (execution ids are UUIDs)", m->arg);
    if (m->id == ROUTE_V1_LANG)
        return http_req_error(r, ERR_NOT_FOUND, "language", "unknown language '%s'", m->arg);
    return http_req_error(r, ERR_NOT_FOUND, "jobId", "no job '%s' (job ids are UUIDs)", m->arg);
}

static enum MHD_Result api_route(void *app, struct http_req *r)
{
    struct api *a = app;
    const char *url = http_req_url(r);
    struct route_match m;
    int rc = route_parse(http_req_method(r), url, strlen(url), &m);
    enum MHD_Result res;

    if (!api_key_ok(a, r, m.id, &res))
        return res;
    if (route_table_under(url, strlen(url), SESSIONS_ROUTE_PREFIX))
        return api_sessions(a, r);
    if (api_files_route(a, r, &res))
        return res;
    if (rc == -EINVAL)
        return api_bad_segment(r, &m);
    if (rc < 0)
        return http_req_unrouted(r, rc, &m);
    switch ((enum route_id)m.id) {
    case ROUTE_EXECUTE:
        return api_toolcall_execute(a, r);
    case ROUTE_HEALTH:
        return api_health(a, r);
    case ROUTE_LANGUAGES:
        return api_languages(a, r);
    case ROUTE_ROOT:
        return api_root(r);
    case ROUTE_METRICS:
        return api_metrics(a, r);
    case ROUTE_JOB_RUN:
        return api_jobs_run(a, r);
    case ROUTE_JOB_LIST:
        return api_jobs_list(a, r);
    case ROUTE_JOB_LOGS:
        return api_jobs_get(a, r, m.arg, JOBS_VIEW_LOGS);
    case ROUTE_JOB_STATUS:
        return api_jobs_get(a, r, m.arg, JOBS_VIEW_STATUS);
    case ROUTE_JOB_CANCEL:
        return api_jobs_cancel(a, r, m.arg);
    case ROUTE_V1_EXECUTE:
        return api_nadoo_execute(a, r);
    case ROUTE_V1_ASYNC:
        return api_nadoo_async(a, r);
    case ROUTE_V1_STATUS:
        return api_nadoo_status(a, r, m.arg);
    case ROUTE_V1_BATCH:
        return api_nadoo_batch(a, r);
    case ROUTE_V1_LANGS:
        return api_nadoo_languages(a, r);
    case ROUTE_V1_LANG:
        return api_nadoo_language(a, r, m.arg);
    case ROUTE_V1_HEALTH:
        return api_nadoo_health(a, r);
    case ROUTE_NONE:
        break;
    }
    return http_req_unrouted(r, -ENOENT, &m);
}

struct api *api_new(const struct orch_cfg *cfg, struct registry *reg, struct dispatch *d,
                    struct jobs *jobs, const struct nadoo_keys *keys, struct err *e)
{
    struct api *a = calloc(1, sizeof(*a));
    struct http_srv_opts o = {.host = cfg->host,
                              .port = cfg->port,
                              .threads = (unsigned)cfg->http_threads,
                              .max_body = API_MAX_BODY,
                              .metrics_ns = "sandpit_orch",
                              .route = api_route,
                              .app = a};

    if (!a) {
        err_set(e, ERR_BUSY, "", "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->reg = reg;
    a->d = d;
    a->jobs = jobs;
    a->keys = keys;
    a->sessions = sessions_new();
    a->files = files_map_new();
    if (!a->sessions || !a->files) {
        err_set(e, ERR_BUSY, "", "out of memory");
        sessions_free(a->sessions);
        files_map_free(a->files);
        free(a);
        return NULL;
    }
    jobs_set_files_map(jobs, a->files);
    a->http = http_srv_start(&o, e);
    if (!a->http) {
        sessions_free(a->sessions);
        files_map_free(a->files);
        free(a);
        return NULL;
    }
    return a;
}

struct http_srv *api_http(const struct api *a)
{
    return a->http;
}

void api_free(struct api *a)
{
    if (!a)
        return;
    http_srv_free(a->http);
    sessions_free(a->sessions);
    files_map_free(a->files);
    free(a);
}
