/* api.c - the orchestrator's HTTP API: routing, keys, health, metrics, and the synchronous run
 * every dialect uses.
 *
 * No handler ever blocks: a request that needs an agent hands a call to the dispatcher (the
 * upstream loop thread) and suspends; the call's completion stores the reply and wakes it. */
#include "api_int.h"
#include "kernel_route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent_client.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "route.h"
#include "sessions_route.h"
#include "strx.h"
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

static const char *const api_run_labels[] = {"language", "process_status"};
static const double api_run_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                   1,     2.5,  5,     10,   30,  60,   300};

void api_count_run(struct api *a, const char *lang, const char *ps, double seconds)
{
    const char *values[2] = {lang, ps};

    (void)prom_hist_vec_observe(&a->run_hist, values, seconds);
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
        if (reply) {
            const char *ps =
                toolcall_process_status(json_string_value(json_object_get(res, "status")));

            json_t *et = json_object_get(res, "execution_time");

            api_count_run(run->a, dc->lang, ps,
                          json_is_number(et) ? json_number_value(et) : ms / 1000);
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
            "{s:s, s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]}", "service",
            "sandpit-orchestrator", "version", API_VERSION, "endpoints",
            "POST /execute {generated_code, timeout, language, scenario}", "GET /health",
            "GET /languages", "GET /metrics", "POST /api/run {language, code, scenario}",
            "GET /api/status/{jobId}", "GET /api/logs/{jobId}",
            "GET /api/jobs?status=&limit=", "POST /api/cancel/{jobId}",
            "POST /api/v1/execute {code, language, timeout, stdin, env, scenario}",
            "POST /api/v1/execute/async", "GET /api/v1/status/{execution_id}",
            "POST /api/v1/batch {executions: [...]}", "GET /api/v1/languages",
            "GET /api/v1/language/{name}/info", "GET /api/v1/health",
            "POST /api/v1/sessions {idle_timeout_s, memory_mb, pids, env, policy, checkpoint}",
            "GET /api/v1/sessions", "GET|DELETE /api/v1/sessions/{id}",
            "POST /api/v1/sessions/{id}/execute {code, timeout, language, ...}",
            "POST /api/v1/sessions/{id}/fork", "POST /api/v1/sessions/{id}/interrupt",
            "PUT|GET|DELETE /api/v1/sessions/{id}/files/{path}, GET .../files?path=dir", "GET /"));
}

/* The agents' families of /metrics. */
static int api_metrics_agents(struct api *a, struct buf *b)
{
    static const char *const labels[] = {"agent", "url"};
    static const char *const names[] = {"sandpit_orch_agent_up", "sandpit_orch_agent_in_flight",
                                        "sandpit_orch_agent_failures_total"};
    static const char *const types[] = {"gauge", "gauge", "counter"};
    static const char *const helps[] = {"1 when the agent passed its last health check, else 0.",
                                        "Calls the orchestrator has in flight on the agent.",
                                        "Failed calls and health checks of the agent."};
    json_t *agents = registry_agents_json(a->reg, clock_mono_ns());
    int rc = agents ? 0 : -ENOMEM;
    size_t i;
    json_t *v;

    for (int f = 0; rc == 0 && f < 3; f++) {
        rc = prom_family(b, names[f], types[f], helps[f]);
        json_array_foreach(agents, i, v)
        {
            const char *st = json_string_value(json_object_get(v, "state"));
            char idx[24];
            const char *values[2] = {idx, json_string_value(json_object_get(v, "url"))};
            double val = f == 0   ? (st && !strcmp(st, "up"))
                         : f == 1 ? (double)json_integer_value(json_object_get(v, "in_flight"))
                                  : (double)json_integer_value(json_object_get(v, "failures"));

            snprintf(idx, sizeof(idx), "%zu", i);
            if (rc == 0)
                rc = prom_sample(b, names[f], 2, labels, values, val);
        }
    }
    json_decref(agents);
    return rc;
}

static const struct prom_field api_job_fields[] = {
    {"kept", "sandpit_orch_jobs_kept", "gauge", "Jobs in the store (--max-jobs)."},
    {"evicted", "sandpit_orch_jobs_evicted_total", "counter",
     "Finished jobs dropped from the store."},
};

/* The job API's families of /metrics. */
static int api_metrics_jobs(struct api *a, struct buf *b)
{
    static const char *const states[] = {"queued", "running"};
    static const char *const outcomes[] = {"completed", "failed", "cancelled", "rejected"};
    json_t *jobs = jobs_stats_json(a->jobs);
    int rc = jobs ? 0 : -ENOMEM;

    if (rc == 0)
        rc = prom_by_key(b, "sandpit_orch_jobs_active", "gauge", "Jobs queued or running now.",
                         "state", jobs, states, 2);
    if (rc == 0)
        rc = prom_by_key(b, "sandpit_orch_jobs_total", "counter",
                         "Jobs finished, or refused for a full queue, by outcome.", "outcome", jobs,
                         outcomes, 4);
    if (rc == 0)
        rc = prom_fields(b, jobs, api_job_fields, 2);
    json_decref(jobs);
    return rc;
}

/* GET /metrics: Prometheus text (docs/operations.md "Metrics"). */
static enum MHD_Result api_metrics(struct api *a, struct http_req *r)
{
    struct buf b;
    size_t len;
    char *data;
    int rc;

    buf_init(&b, 0);
    rc = http_srv_metrics(a->http, &b);
    if (rc == 0)
        rc = prom_hist_vec_write(&a->run_hist, &b, "sandpit_orch_execution_duration_seconds",
                                 "Synchronous runs (NVIDIA /execute, /api/v1/execute): the "
                                 "agent's execution_time, by language and process_status.");
    if (rc == 0)
        rc = dispatch_metrics(a->d, &b);
    if (rc == 0)
        rc = api_metrics_agents(a, &b);
    if (rc == 0)
        rc = api_metrics_jobs(a, &b);
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
/* The request's API key: X-API-Key, or on the kernel routes as Kernel Gateway clients send a
 * token ("Authorization: token K", "?token=K"). Borrowed, or NULL. */
static const char *api_key_of(struct http_req *r)
{
    const char *key = http_req_header(r, "X-API-Key"), *url = http_req_url(r), *auth;

    if (key || !kernel_route_is(url, strlen(url)))
        return key;
    auth = http_req_header(r, "Authorization");
    if (auth && !strncasecmp(auth, "token ", 6))
        return auth + 6;
    return http_req_query(r, "token");
}

static bool api_key_ok(struct api *a, struct http_req *r, int route, enum MHD_Result *res)
{
    const char *url = http_req_url(r), *key = api_key_of(r);

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
    return nadoo_keys_which(a->keys, api_key_of(r)) + 1;
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
    if (kernel_route_is(url, strlen(url)))
        return api_kernels(a, r);
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
    prom_hist_vec_init(&a->run_hist, 2, api_run_labels, sizeof(api_run_s) / sizeof(double),
                       api_run_s);
    a->sessions = sessions_new();
    a->kernels = kernels_new();
    if (!a->sessions || !a->kernels) {
        err_set(e, ERR_BUSY, "", "out of memory");
        goto fail;
    }
    if (!(a->wsp = ws_proxy_new(e)))
        goto fail;
    a->http = http_srv_start(&o, e);
    if (!a->http)
        goto fail;
    return a;
fail:
    ws_proxy_free(a->wsp);
    kernels_free(a->kernels);
    sessions_free(a->sessions);
    prom_hist_vec_done(&a->run_hist);
    free(a);
    return NULL;
}

struct http_srv *api_http(const struct api *a)
{
    return a->http;
}

void api_free(struct api *a)
{
    if (!a)
        return;
    ws_proxy_free(a->wsp); /* its WebSockets closed before the server that upgraded them */
    http_srv_free(a->http);
    kernels_free(a->kernels);
    sessions_free(a->sessions);
    prom_hist_vec_done(&a->run_hist);
    free(a);
}
