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
#include "api_sse.h"
#include "buf.h"
#include "clock.h"
#include "http_stream.h"
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
    int key; /* the caller's key, counted in flight (keys_begin), or -1 */
};

static void api_run_free(struct http_req *r, void *data)
{
    struct api_run *run = data;

    (void)r;
    keys_end(run->a->keys, run->key);
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
        api_files_note(run->a, dc, res, reply);
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
    struct api_run *run = NULL;
    struct dcall *dc = NULL;
    int key = api_owner(a, r) - 1;
    struct err e = {0};
    long keepalive_ms;
    int sse = http_stream_wanted(r, &keepalive_ms, &e);

    if (!ctx_free)
        ctx_free = free;
    timeout = api_key_cap_timeout(a, key, body, timeout);
    /* A streamed run counts as one in flight too, until the agent's stream ends. */
    if (sse >= 0 && keys_begin(a->keys, key) < 0) {
        ctx_free(ctx);
        return http_req_rate_limited(r, "X-API-Key", "concurrent", 1,
                                     "this API key has %ld executions running (its limit): wait "
                                     "for one to finish",
                                     a->keys->e[key].lim.concurrent);
    }
    if (sse != 0) {
        ctx_free(ctx); /* the stream carries the agent's own result */
        return sse < 0 ? http_req_err(r, &e)
                       : api_sse_run_take(a, r, lang, body, timeout, delay_s, sticky, keepalive_ms,
                                          key);
    }
    run = calloc(1, sizeof(*run));
    if (run) {
        run->a = a;
        run->r = r;
        run->key = key;
        run->reply = reply;
        run->ctx = ctx;
        run->ctx_free = ctx_free;
        ctx = NULL;
        http_req_set_data(r, run, api_run_free);
        dc = agent_client_execute(a->cfg, lang, body, timeout, delay_s, http_req_id(r),
                                  api_run_done, run);
        if (dc)
            dc->owner = key + 1;
    }
    ctx_free(ctx);
    if (!run)
        keys_end(a->keys, key);
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

/* GET /health/ready: 200 while some agent is up and the orchestrator is not draining, else 503
 * saying why (compose and load balancers probe it); /health/live: 200 while it serves. */
static enum MHD_Result api_health_ready(struct api *a, struct http_req *r)
{
    int up = 0, total = 0;

    (void)api_agents_state(a, "ok", "down", &up, &total);
    if (http_srv_draining(a->http) || up == 0)
        return http_req_json_take(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  json_pack("{s:s, s:s, s:i, s:i}", "status", "not_ready", "reason",
                                            http_srv_draining(a->http)
                                                ? "draining: the orchestrator is shutting down"
                                                : "no agent is up",
                                            "agents_up", up, "agents_total", total));
    return http_req_json_take(
        r, MHD_HTTP_OK,
        json_pack("{s:s, s:i, s:i}", "status", "ready", "agents_up", up, "agents_total", total));
}

/* While draining, new work (a POST but a cancel or an interrupt) gets 503 shutting_down. */
static bool api_drain_refuses(struct api *a, struct http_req *r, int route)
{
    const char *url = http_req_url(r);
    size_t n = strlen(url);

    return http_srv_draining(a->http) && !strcmp(http_req_method(r), "POST") &&
           route != ROUTE_JOB_CANCEL && !(n >= 10 && !strcmp(url + n - 10, "/interrupt"));
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
    if (rc == 0)
        rc = keys_metrics(a->keys, &b);
    data = buf_steal(&b, &len);
    if (rc < 0) {
        free(data);
        data = NULL;
    }
    return http_req_bytes_take(r, MHD_HTTP_OK, data, len, "text/plain; version=0.0.4");
}

/* The key a request carries: X-API-Key, or Authorization: Bearer <key>, or on the kernel routes
 * as Kernel Gateway clients send a token ("Authorization: token K", "?token=K"). Borrowed, or
 * NULL. */
static const char *api_key_given(struct http_req *r)
{
    const char *key = http_req_header(r, "X-API-Key"), *url = http_req_url(r), *auth;

    if (key)
        return key;
    auth = http_req_header(r, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7))
        return auth + 7;
    if (!kernel_route_is(url, strlen(url)))
        return NULL;
    if (auth && !strncasecmp(auth, "token ", 6))
        return auth + 6;
    return http_req_query(r, "token");
}

/* Paths served without a key: the probes, the endpoint list, and /metrics unless
 * --metrics-need-key. Unknown paths need one too, so they reveal nothing. */
static bool api_open_route(struct api *a, int route)
{
    return route == ROUTE_HEALTH || route == ROUTE_HEALTH_LIVE || route == ROUTE_HEALTH_READY ||
           route == ROUTE_V1_HEALTH || route == ROUTE_ROOT ||
           (route == ROUTE_METRICS && !a->cfg->metrics_need_key);
}

/* A POST asking for more than the key's max_timeout: 400 naming "timeout". */
static bool api_key_timeout_ok(struct api *a, struct http_req *r, int key, enum MHD_Result *res)
{
    double max = a->keys->e[key].lim.max_timeout, t;
    const char *body;
    char field[48];
    json_t *o, *v, *e;
    size_t len, i;

    if (max <= 0 || strcmp(http_req_method(r), "POST") != 0 || !(body = http_req_body(r, &len)))
        return true;
    o = json_loadb(body, len, JSON_ALLOW_NUL, NULL); /* as the body is parsed later */
    v = json_object_get(o, "timeout");
    t = json_is_number(v) ? json_number_value(v) : 0;
    snprintf(field, sizeof(field), "timeout");
    /* A batch's entries each ask for their own. */
    json_array_foreach(json_object_get(o, "executions"), i, e)
    {
        v = json_object_get(e, "timeout");
        if (json_is_number(v) && json_number_value(v) > t) {
            t = json_number_value(v);
            snprintf(field, sizeof(field), "executions[%zu].timeout", i);
        }
    }
    json_decref(o);
    if (t <= max)
        return true;
    keys_count_rejected(a->keys, key);
    *res = http_req_error(r, ERR_INVALID, field,
                          "this API key allows timeouts up to %g s (asked: %g s)", max, t);
    return false;
}

/* With keys configured, every door but api_open_route wants a valid one (docs/operations.md
 * "API keys"), then the key's request rate and largest timeout apply. Answers 401, 429 or 400
 * and returns false when the request may not go on. What a key creates is its own (api_owner). */
static bool api_key_ok(struct api *a, struct http_req *r, int route, enum MHD_Result *res)
{
    const char *url = http_req_url(r), *key = api_key_given(r);
    double retry = 0;
    int which;

    if (a->keys->n == 0 || api_open_route(a, route))
        return true;
    if ((which = keys_which(a->keys, key)) < 0) {
        log_msg(LOG_INFO, http_req_id(r), "%s API key on %.16s %.100s", key ? "wrong" : "no",
                http_req_method(r), url);
        *res = http_req_error(r, ERR_UNAUTHORIZED, "X-API-Key",
                              key ? "the X-API-Key header does not hold a valid key"
                                  : "missing X-API-Key header (or Authorization: Bearer): this "
                                    "server requires an API key");
        return false;
    }
    if (keys_take_token(a->keys, which, clock_mono_ns(), &retry) < 0) {
        *res = http_req_rate_limited(r, "X-API-Key", "rps", retry,
                                     "this API key may send %g requests per second (burst %g)",
                                     a->keys->e[which].lim.rps, a->keys->e[which].lim.burst);
        return false;
    }
    return api_key_timeout_ok(a, r, which, res);
}

bool api_key_session_ok(struct api *a, struct http_req *r, int owner, enum MHD_Result *res)
{
    struct sessions_entry *list;
    long max = owner > 0 ? a->keys->e[owner - 1].lim.sessions : 0;
    size_t n = 0, nk = 0;
    bool oom;

    if (max <= 0)
        return true;
    list = sessions_list(a->sessions, owner, &n, &oom);
    free(list);
    /* A kernel is a session on its agent: it counts against the same limit. */
    free(kernels_list(a->kernels, owner, &nk));
    if ((long)(n + nk) < max)
        return true;
    keys_count_rejected(a->keys, owner - 1);
    *res = http_req_rate_limited(r, "X-API-Key", "sessions", 1,
                                 "this API key has %zu live sessions and kernels (its limit): "
                                 "delete one",
                                 n + nk);
    return false;
}

int api_owner(struct api *a, struct http_req *r)
{
    return keys_which(a->keys, api_key_given(r)) + 1;
}

double api_key_cap_timeout(struct api *a, int key, json_t *body, double timeout)
{
    double max = key >= 0 ? a->keys->e[key].lim.max_timeout : 0;
    json_t *t = body ? json_object_get(body, "timeout") : NULL;
    double given = timeout > 0 ? timeout : json_is_number(t) ? json_number_value(t) : 0;

    /* A larger one was refused by api_key_ok; one left out would get the server's default. */
    if (max <= 0 || (given > 0 && given <= max))
        return timeout;
    if (body)
        json_object_set_new(body, "timeout", json_real(max));
    return max;
}

void api_job_owner(struct api *a, struct http_req *r, struct job_req *req)
{
    long room;

    req->owner = api_owner(a, r);
    req->timeout = api_key_cap_timeout(a, req->owner - 1, NULL, req->timeout);
    req->max_active = 0;
    if (req->owner > 0 && a->keys->e[req->owner - 1].lim.concurrent > 0) {
        room = keys_room(a->keys, req->owner - 1);
        req->max_active = room > 0 ? room : -1;
    }
}

enum MHD_Result api_job_refused(struct api *a, struct http_req *r, int owner, const struct err *e)
{
    if (e->code != ERR_RATE_LIMITED)
        return http_req_error(r, ERR_BUSY, NULL, "%s", e->msg);
    keys_count_rejected(a->keys, owner - 1);
    return http_req_rate_limited(r, e->field, "concurrent", 1, "%s", e->msg);
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
    if (api_drain_refuses(a, r, rc == 0 ? m.id : -1))
        return http_req_error(r, ERR_SHUTTING_DOWN, "",
                              "the orchestrator is shutting down: it takes no new work (retry on "
                              "another instance)");
    if (route_table_under(url, strlen(url), SESSIONS_ROUTE_PREFIX))
        return api_sessions(a, r);
    if (kernel_route_is(url, strlen(url)))
        return api_kernels(a, r);
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
    case ROUTE_HEALTH_LIVE:
        return http_req_json_take(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "live"));
    case ROUTE_HEALTH_READY:
        return api_health_ready(a, r);
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
                    struct jobs *jobs, struct keys *keys, struct err *e)
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
    a->files = files_map_new();
    if (!a->sessions || !a->kernels || !a->files) {
        err_set(e, ERR_BUSY, "", "out of memory");
        goto fail;
    }
    jobs_set_files_map(jobs, a->files);
    if (!(a->wsp = ws_proxy_new(e)))
        goto fail;
    a->http = http_srv_start(&o, e);
    if (!a->http)
        goto fail;
    return a;
fail:
    ws_proxy_free(a->wsp);
    kernels_free(a->kernels);
    files_map_free(a->files);
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
    files_map_free(a->files);
    free(a);
}
