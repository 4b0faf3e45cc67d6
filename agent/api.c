/* api.c - the agent's HTTP API (DESIGN "Agent API") on the shared server core.
 *
 * No handler ever blocks. A synchronous /execute suspends its request and the
 * execution manager wakes it when the result is ready, so one thread serves
 * thousands of waiting clients and /health always answers. */
#include "api.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_files.h"
#include "api_route.h"
#include "api_sessions.h"
#include "kernel_mgr.h"
#include "kernel_route.h"
#include "sess_route.h"
#include "buf.h"
#include "clock.h"
#include "exec_req.h"
#include "exec_sse.h"
#include "http_srv.h"
#include "http_stream.h"
#include "json_util.h"
#include "log.h"
#include "prom.h"
#include "ws_name.h"

#define API_MAX_BODY (10u << 20)
#define API_VERSION  "0.1.0"
/* Bytes of items a listing page encodes before it ends early (next_offset goes on): a page of
 * full results (?output=1) could otherwise be thousands of outputs in one reply. */
#define API_LIST_BUDGET (16u << 20)

struct api {
    const struct agent_cfg *cfg;
    struct exec_mgr *mgr;
    struct zyg_client *zc;
    struct outbox *ob;
    struct runtimes *rts; /* borrowed */
    char available[512];  /* the runtimes' names, for error messages */
    struct http_srv *http;
    struct exec_limits lim; /* how /execute and a session's cell read a request */
    struct api_sess sess;   /* /sessions */
    struct ws_mgr *ws;      /* /workspaces (borrowed) */
    struct kernel_mgr *km;  /* /api/kernels (docs/kernels.md) */
};

/* What a request that waits keeps (http_req_set_data). */
struct api_req {
    struct api *api;
    struct exec *ex;  /* the execution this request waits for (a reference), or NULL */
    char adj_id[40];  /* POST /adjust-processor: the item, once stored */
    json_t *adj_item; /* its state after the first attempt (owned; written before the wake) */
};

/* The request is over: no more wakes from the manager, then the reference goes.
 */
static void api_req_free(struct http_req *r, void *data)
{
    struct api_req *q = data;

    if (q->ex) {
        exec_mgr_clear_waiter(q->api->mgr, q->ex, r);
        exec_unref(q->ex);
    }
    json_decref(q->adj_item);
    free(q);
}

/* Attaches a new api_req to r: borrowed pointer, or NULL on OOM. */
static struct api_req *api_req_attach(struct api *a, struct http_req *r)
{
    struct api_req *q = calloc(1, sizeof(*q));

    if (q) {
        q->api = a;
        http_req_set_data(r, q, api_req_free);
    }
    return q;
}

/* Called by the execution manager (its lock held) when the awaited execution
 * finishes. */
static void api_on_exec_done(void *arg)
{
    http_req_wake(arg);
}

/* "Execution not found" with the Brain_Net field next to ours. */
static enum MHD_Result api_not_found(struct http_req *r)
{
    json_t *o = http_req_error_body(r, ERR_NOT_FOUND, NULL, "Execution not found");

    if (o)
        json_object_set_new(o, "detail", json_string("Execution not found"));
    return http_req_json_take(r, err_http_status(ERR_NOT_FOUND), o);
}

/* An unknown id: 404, saying so when its result was evicted from the history. */
static enum MHD_Result api_missing(struct api *a, struct http_req *r, const char *id)
{
    char msg[256];
    json_t *o;

    if (!exec_mgr_evicted(a->mgr, id))
        return api_not_found(r);
    snprintf(msg, sizeof(msg),
             "Execution not found: its result was evicted (this agent keeps the newest %ld "
             "results within %ld bytes: --history, --history-bytes)",
             a->cfg->history, a->cfg->history_bytes);
    o = http_req_error_body(r, ERR_NOT_FOUND, NULL, msg);
    if (o) {
        json_object_set_new(o, "detail", json_string("Execution not found"));
        json_object_set_new(o, "evicted", json_true());
    }
    return http_req_json_take(r, err_http_status(ERR_NOT_FOUND), o);
}

/* The execution's full result, encoded for this reply only (NULL text: 503); a long-poll's
 * answer: the state at wake-up, finished or not. */
static enum MHD_Result api_reply_exec(struct http_req *r)
{
    struct api_req *q = http_req_data(r);
    size_t len = 0;
    char *text = exec_result_text(q->api->mgr, q->ex, true, &len);

    return http_req_bytes_take(r, MHD_HTTP_OK, text, len, "application/json");
}

/* Replies with a finished execution: the result, or 503 if the zygote died
 * under it. */
static enum MHD_Result api_reply_result(struct http_req *r)
{
    struct api_req *q = http_req_data(r);
    json_t *o;

    if (!exec_lost_zygote(q->ex))
        return api_reply_exec(r);
    o = http_req_error_body(r, ERR_ZYGOTE_DIED, NULL,
                            "the Python zygote died during this execution; it is "
                            "being restarted, retry");
    if (o)
        json_object_set_new(o, "execution_id", json_string(exec_id(q->ex)));
    return http_req_json_take(r, err_http_status(ERR_ZYGOTE_DIED), o);
}

/* DELETE's answer: the message and the execution's status now. */
static enum MHD_Result api_reply_cancel_msg(struct http_req *r, const char *msg)
{
    struct api_req *q = http_req_data(r);
    json_t *res = exec_result(q->api->mgr, q->ex), *o = NULL;

    if (res)
        o = json_pack("{s:s, s:s, s:O}", "message", msg, "execution_id", exec_id(q->ex), "status",
                      json_object_get(res, "status"));
    json_decref(res);
    return http_req_json_take(r, MHD_HTTP_OK, o);
}

static enum MHD_Result api_reply_cancelled(struct http_req *r)
{
    return api_reply_cancel_msg(r, "Execution cancelled");
}

/* Suspends r until q->ex finishes or the monotonic deadline (0 = none) passes;
 * resume then builds the reply. */
static enum MHD_Result api_wait(struct http_req *r, struct api_req *q, int64_t deadline_ns,
                                http_req_resume_fn resume)
{
    if (exec_mgr_set_waiter(q->api->mgr, q->ex, api_on_exec_done, r, deadline_ns))
        return resume(r);
    return http_req_suspend(r, resume);
}

/* exec_limits.language: the canonical name of an available runtime. */
static const char *api_language(void *ctx, const char *name)
{
    const struct runtime_def *rd = runtimes_find(ctx, name);

    return rd ? runtime_name(rd) : NULL;
}

static enum MHD_Result api_execute(struct api *a, struct http_req *r)
{
    struct exec_req req;
    struct api_req *q;
    struct err e = {0};
    const char *body;
    long keepalive_ms;
    size_t len;
    bool async;
    int sse;

    if (!(body = http_req_body(r, &len)))
        return http_req_too_large(r);
    if ((sse = http_stream_wanted(r, &keepalive_ms, &e)) < 0 ||
        exec_req_parse(body, len, &a->lim, &req, &e) < 0)
        return http_req_err(r, &e);
    async = req.async;
    q = api_req_attach(a, r);
    if (!q) {
        exec_req_done(&req);
        return http_req_json_take(r, 0, NULL);
    }
    if (exec_mgr_submit_take(a->mgr, &req, &q->ex, &e) < 0)
        return http_req_err(r, &e);
    if (async)
        return http_req_json_take(
            r, MHD_HTTP_ACCEPTED,
            json_pack("{s:s, s:s}", "execution_id", exec_id(q->ex), "status", "pending"));
    if (sse)
        return exec_sse_start(a->mgr, r, q->ex, NULL, keepalive_ms);
    return api_wait(r, q, 0, api_reply_result);
}

/* With Accept: text/event-stream, GET /execution/{id} streams the execution from its first
 * byte (a client that lost its POST stream reconnects this way). A bad ?keepalive= is ignored
 * here (the default applies). */
static int api_execution_sse(struct http_req *r, long *keepalive_ms)
{
    struct err e = {0};

    return http_stream_wanted(r, keepalive_ms, &e) != 0;
}

/* GET /execution/{id}?wait=: the result now, or at the end (or the wait's end).
 */
static enum MHD_Result api_execution_get(struct api *a, struct http_req *r, const char *id)
{
    const char *w = http_req_query(r, "wait");
    struct api_req *q;
    long keepalive_ms;
    double secs = 0;
    char *end;

    if (w) {
        secs = strtod(w, &end);
        if (*w == '\0' || *end || !(secs >= 0 && secs <= 3600))
            return http_req_error(r, ERR_INVALID, "wait",
                                  "query 'wait' must be seconds in [0, 3600]");
    }
    q = api_req_attach(a, r);
    if (!q)
        return http_req_json_take(r, 0, NULL);
    q->ex = exec_mgr_find(a->mgr, id);
    if (!q->ex)
        return api_missing(a, r, id);
    if (api_execution_sse(r, &keepalive_ms) > 0)
        return exec_sse_start(a->mgr, r, q->ex, NULL, keepalive_ms);
    if (secs <= 0)
        return api_reply_exec(r);
    return api_wait(r, q, clock_mono_ns() + (int64_t)(secs * 1e9), api_reply_exec);
}

/* DELETE /execution/{id}: really stops it, answers once it has stopped. */
static enum MHD_Result api_execution_delete(struct api *a, struct http_req *r, const char *id)
{
    struct api_req *q = api_req_attach(a, r);

    if (!q)
        return http_req_json_take(r, 0, NULL);
    q->ex = exec_mgr_find(a->mgr, id);
    if (!q->ex)
        return api_missing(a, r, id);
    if (exec_mgr_cancel(a->mgr, q->ex) == 1)
        return api_reply_cancel_msg(r, "Execution already finished");
    return api_wait(r, q, 0, api_reply_cancelled);
}

static enum MHD_Result api_debug(struct api *a, struct http_req *r, const char *id)
{
    struct exec *ex = exec_mgr_find(a->mgr, id);
    enum MHD_Result res;
    json_t *d;

    if (!ex)
        return api_missing(a, r, id);
    d = exec_debug_info(a->mgr, ex);
    res =
        http_req_json_take(r, MHD_HTTP_OK,
                           json_pack("{s:s, s:O?, s:O?}", "execution_id", exec_id(ex), "debug_info",
                                     d, "detailed_trace", d ? json_object_get(d, "trace") : NULL));
    json_decref(d);
    exec_unref(ex);
    return res;
}

/* Outbox callback after an adjustment's first delivery attempt (outbox thread,
 * its lock held): item is ours. */
static void api_on_adjust_first(void *arg, json_t *item)
{
    struct http_req *r = arg;
    struct api_req *q = http_req_data(r);

    q->adj_item = item;
    http_req_wake(r);
}

/* The first attempt's outcome: 200 delivered; 422 when the backend refused the item for good
 * (it is never resent); else 202 queued, saying why it waits (no backend, the backend's
 * answer or the transport error). */
static enum MHD_Result api_reply_adjust(struct http_req *r)
{
    struct api_req *q = http_req_data(r);
    const char *state = json_string_value(json_object_get(q->adj_item, "state"));
    json_t *code = json_object_get(q->adj_item, "http_status");
    json_t *why = json_object_get(q->adj_item, "last_error"), *o;
    unsigned status = MHD_HTTP_ACCEPTED;

    if (state && !strcmp(state, "delivered")) {
        status = MHD_HTTP_OK;
        o = json_pack("{s:s, s:s}", "status", "delivered", "id", q->adj_id);
    } else if (state && !strcmp(state, "rejected")) {
        char msg[160];

        status = MHD_HTTP_UNPROCESSABLE_CONTENT;
        snprintf(msg, sizeof(msg),
                 "the backend rejected the adjustment (HTTP %lld); it will not be resent",
                 (long long)json_integer_value(code));
        o = http_req_error_body(r, ERR_INVALID, "adjustments", msg);
        if (o)
            json_object_set_new(o, "status", json_string("rejected"));
    } else {
        o = json_pack("{s:s, s:s}", "status", "queued", "id", q->adj_id);
    }
    if (o && status != MHD_HTTP_OK) {
        json_object_set_new(o, "id", json_string(q->adj_id));
        json_object_set(o, "http_status", code ? code : json_null());
        json_object_set(o, "last_error", why ? why : json_null());
    }
    return http_req_json_take(r, status, o);
}

/* POST /adjust-processor: stored on disk first, then the first delivery attempt
 * is awaited (suspended, never blocking a thread) to tell "delivered" from
 * "queued". */
static enum MHD_Result api_adjust(struct api *a, struct http_req *r)
{
    struct err e = {0};
    struct api_req *q;
    const char *text;
    json_t *body;
    size_t len;
    int rc;

    if (!(text = http_req_body(r, &len)))
        return http_req_too_large(r);
    body = json_util_parse_object(text, len, &e);
    if (!body)
        return http_req_err(r, &e);
    q = api_req_attach(a, r);
    rc = q ? outbox_add(a->ob, body, q->adj_id, api_on_adjust_first, r, &e)
           : err_set(&e, ENOMEM, "", "out of memory, retry");
    json_decref(body);
    if (rc < 0)
        return http_req_err(r, &e);
    return http_req_suspend(r, api_reply_adjust);
}

static enum MHD_Result api_adjustments(struct api *a, struct http_req *r)
{
    json_t *arr = outbox_list(a->ob, http_req_query(r, "processor_id"));

    return http_req_json_take(r, MHD_HTTP_OK,
                              json_pack("{s:o, s:I}", "adjustments", arr ? arr : json_array(),
                                        "total", (json_int_t)json_array_size(arr)));
}

/* ?output=: 1 or true lists full results, 0 or false (the default) their summaries. */
static int api_list_output(struct http_req *r, bool *full, struct err *e)
{
    const char *v = http_req_query(r, "output");

    *full = v && (!strcmp(v, "1") || !strcmp(v, "true"));
    if (v && !*full && strcmp(v, "0") != 0 && strcmp(v, "false") != 0)
        return err_set(e, ERR_INVALID, "output", "query 'output' must be 1 or 0 (true or false)");
    return 0;
}

/* Encodes the page's results one at a time into b (each reply's own, nothing kept), up to
 * API_LIST_BUDGET bytes (always one). Returns how many went in, or -ENOMEM. */
static long api_list_items(struct api *a, struct exec **page, size_t n, bool full, struct buf *b)
{
    size_t shown = 0;

    for (; shown < n && (shown == 0 || b->len < API_LIST_BUDGET); shown++) {
        size_t len = 0;
        char *text = exec_result_text(a->mgr, page[shown], full, &len);
        int rc;

        if (!text)
            return -ENOMEM;
        rc = shown ? buf_append(b, ",", 1) : 0;
        if (rc == 0)
            rc = buf_append(b, text, len);
        free(text);
        if (rc < 0)
            return rc;
    }
    return (long)shown;
}

/* GET /executions: summaries newest first (stdout, stderr, result and debug_info only with
 * ?output=1); next_offset continues a page that ended early or at its limit, null at the end. */
static enum MHD_Result api_list(struct api *a, struct http_req *r)
{
    long limit, offset, shown = -ENOMEM;
    size_t total = 0, n = 0;
    struct exec **page;
    struct err e = {0};
    char next[32];
    struct buf b;
    char *data;
    size_t len;
    bool full;

    if (http_req_query_long(r, "limit", 1, 1000, 50, &limit, &e) < 0 ||
        http_req_query_long(r, "offset", 0, LONG_MAX, 0, &offset, &e) < 0 ||
        api_list_output(r, &full, &e) < 0)
        return http_req_err(r, &e);
    buf_init(&b, 0);
    page = calloc((size_t)limit, sizeof(*page));
    if (page) {
        n = exec_mgr_page(a->mgr, (size_t)limit, (size_t)offset, http_req_query(r, "processor_id"),
                          page, &total);
        if (buf_append(&b, "{\"executions\":[", 15) == 0)
            shown = api_list_items(a, page, n, full, &b);
    }
    for (size_t i = 0; i < n; i++)
        exec_unref(page[i]);
    free(page);
    if ((size_t)offset + (size_t)(shown > 0 ? shown : 0) < total)
        snprintf(next, sizeof(next), "%zu", (size_t)offset + (size_t)shown);
    else
        snprintf(next, sizeof(next), "null");
    if (shown < 0 || buf_printf(&b,
                                "],\"total\":%zu,\"limit\":%ld,\"offset\":%ld,"
                                "\"next_offset\":%s,\"output\":%s}",
                                total, limit, offset, next, full ? "true" : "false") < 0) {
        buf_done(&b);
        return http_req_json_take(r, 0, NULL); /* out of memory: 503 */
    }
    data = buf_steal(&b, &len);
    return http_req_bytes_take(r, MHD_HTTP_OK, data, len, "application/json");
}

/* DELETE /workspaces/{name}: 200 once its files are gone; 404, 409 while an execution uses it. */
static enum MHD_Result api_workspace_delete(struct api *a, struct http_req *r, const char *name)
{
    struct err e = {0};

    if (!ws_name_ok(name))
        return http_req_error(r, ERR_INVALID, "workspace",
                              "a workspace's name matches [a-z0-9][a-z0-9_.-]{0,62}");
    if (ws_mgr_delete(a->ws, name, &e) < 0)
        return http_req_err(r, &e);
    return http_req_json_take(r, MHD_HTTP_OK,
                              json_pack("{s:s, s:b}", "workspace", name, "deleted", true));
}

/* Is the agent usable? Not while the zygote is down, nor when a layer refuses every
 * execution (a root agent that cannot drop to the sandbox user, see isolate.c). */
static bool api_ready(struct api *a)
{
    struct isolate_state iso;

    return zyg_client_is_ready(a->zc) && zyg_client_isolation(a->zc, &iso) == 0 && iso.refuses == 0;
}

/* GET /health/ready: 200 while the agent takes executions (zygote up, every isolation layer
 * in force, not draining), else 503 saying why; /health/live answers 200 while the process
 * serves HTTP at all. */
static enum MHD_Result api_health_ready(struct api *a, struct http_req *r)
{
    const char *why = http_srv_draining(a->http)    ? "draining: the agent is shutting down"
                      : !zyg_client_is_ready(a->zc) ? "the Python zygote is not ready"
                      : !api_ready(a) ? "an isolation layer this agent requires is not in force"
                                      : NULL;

    if (why)
        return http_req_json_take(r, MHD_HTTP_SERVICE_UNAVAILABLE,
                                  json_pack("{s:s, s:s}", "status", "not_ready", "reason", why));
    return http_req_json_take(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "ready"));
}

static enum MHD_Result api_health(struct api *a, struct http_req *r)
{
    json_t *z = zyg_client_health(a->zc), *vers = runtimes_versions(a->rts), *names = json_array();
    const struct agent_cfg *cfg = a->cfg;
    const char *k;
    json_t *o, *v;

    o = json_pack("{s:s, s:s, s:s, s:f}", "status",
                  http_srv_draining(a->http) ? "draining"
                  : api_ready(a)             ? "ok"
                                             : "degraded",
                  "service", "sandpit-agent", "version", API_VERSION, "uptime_s",
                  http_srv_uptime_s(a->http));
    json_object_foreach(vers, k, v)
    {
        json_array_append_new(names, json_string(k));
    }
    if (o) {
        json_object_set_new(o, "languages", names ? names : json_array());
        json_object_set_new(o, "runtimes", vers ? vers : json_object());
        names = vers = NULL;
        /* The isolation layers in force, at the top level where operators look
         * first. */
        if (z && json_object_get(z, "isolation"))
            json_object_set(o, "isolation", json_object_get(z, "isolation"));
        /* The zygote's last report on its warm pool, else just the configured size.
         */
        if (z && json_object_get(z, "warm_pool"))
            json_object_set(o, "warm_pool", json_object_get(z, "warm_pool"));
        else
            json_object_set_new(o, "warm_pool",
                                json_pack("{s:I}", "size", (json_int_t)cfg->warm_pool));
        json_object_set_new(o, "zygote", z ? z : json_null());
        z = NULL;
        json_object_set_new(o, "executions", exec_mgr_health(a->mgr));
        json_object_set_new(o, "adjustments", outbox_health(a->ob));
        json_object_set_new(o, "sessions", sess_mgr_health(a->sess.sm));
        json_object_set_new(o, "kernels", kernel_mgr_health(a->km));
        json_object_set_new(o, "workspaces", ws_mgr_health(a->ws));
        json_object_set_new(
            o, "limits",
            json_pack("{s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:s}", "default_timeout_s",
                      cfg->default_timeout, "max_timeout_s", cfg->max_timeout, "max_output_bytes",
                      (json_int_t)cfg->max_output_bytes, "max_body_bytes", (json_int_t)API_MAX_BODY,
                      "memory_mb", (json_int_t)cfg->memory_mb, "pids", (json_int_t)cfg->pids_limit,
                      "disk_mb", (json_int_t)cfg->disk_mb, "policy", cfg->policy));
        json_object_set_new(o, "errors", http_srv_errors_json(a->http));
        /* /health is the one route open without the token: it says whether one is needed. */
        json_object_set_new(o, "auth",
                            json_string(cfg->agent_token && *cfg->agent_token ? "token" : "none"));
    }
    json_decref(z);
    json_decref(vers);
    json_decref(names);
    return http_req_json_take(r, MHD_HTTP_OK, o);
}

/* GET /: every endpoint of the table (api_route.c), so the list is what is served. */
static enum MHD_Result api_root(struct http_req *r)
{
    json_t *list = json_array(), *o;
    char ep[128];

    for (size_t i = 0; list && api_route_endpoint(i, ep, sizeof(ep)); i++) {
        if (json_array_append_new(list, json_string(ep)) < 0) {
            json_decref(list);
            list = NULL;
        }
    }
    for (size_t i = 0; list && sess_route_endpoint(i, ep, sizeof(ep)); i++)
        json_array_append_new(list, json_string(ep));
    for (size_t i = 0; list && kernel_route_endpoint(i, ep, sizeof(ep)); i++)
        json_array_append_new(list, json_string(ep));
    if (list)
        json_array_append_new(list, json_string(API_FILES_ENDPOINT));
    o = list ? json_pack("{s:s, s:s, s:o}", "service", "sandpit-agent", "version", API_VERSION,
                         "endpoints", list)
             : NULL;
    return http_req_json_take(r, MHD_HTTP_OK, o);
}

/* The sessions' single-series families, each a field of sess_mgr_health. */
static const struct prom_field api_session_fields[] = {
    {"max", "sandpit_sessions_max", "gauge", "Sessions allowed (--max-sessions)."},
    {"created", "sandpit_sessions_created_total", "counter", "Sessions created."},
    {"ended", "sandpit_sessions_ended_total", "counter",
     "Sessions ended (deleted, idle, killed or dead)."},
    {"memory_bytes", "sandpit_sessions_memory_bytes", "gauge",
     "Memory the live sessions' processes use (their cgroups)."},
};

/* The CPU the zygote and its children used (zygote_cpu.c, /health zygote.cpu). */
static int api_metrics_cpu(struct buf *b, json_t *cpu)
{
    static const char *const parts[] = {"zygote", "children"}, *const fields[] = {"zygote_s",
                                                                                  "children_s"};
    static const char *const part_label[] = {"part"};
    int r = prom_family(b, "sandpit_zygote_cpu_seconds_total", "counter",
                        "CPU seconds of the zygote and of its children (executions, sessions) "
                        "since it became ready.");

    for (int i = 0; r == 0 && i < 2; i++)
        r = prom_sample(b, "sandpit_zygote_cpu_seconds_total", 1, part_label, &parts[i],
                        json_number_value(json_object_get(cpu, fields[i])));
    if (r == 0)
        r = prom_single(b, "sandpit_zygote_executions_total", "counter",
                        "Executions the zygote finished since it became ready (the CPU's divisor).",
                        (double)json_integer_value(json_object_get(cpu, "executions")));
    return r;
}

/* The zygote's and the sessions' families of /metrics. */
static int api_metrics_sandbox(struct api *a, struct buf *b)
{
    json_t *z = zyg_client_health(a->zc), *s = sess_mgr_health(a->sess.sm), *cpu;
    static const char *const states[] = {"live", "busy"};
    int r = z && s ? 0 : -ENOMEM;

    if (r == 0)
        r = prom_single(b, "sandpit_zygote_restarts_total", "counter",
                        "Times the zygote was restarted after it died.",
                        (double)json_integer_value(json_object_get(z, "restarts")));
    if (r == 0)
        r = prom_single(b, "sandpit_zygote_ready", "gauge",
                        "1 when the zygote is up and answers, else 0.", zyg_client_is_ready(a->zc));
    if (r == 0 && (cpu = json_object_get(z, "cpu")))
        r = api_metrics_cpu(b, cpu);
    if (r == 0)
        r = prom_by_key(b, "sandpit_sessions", "gauge",
                        "Sessions now: live (all), busy (running a cell).", "state", s, states, 2);
    if (r == 0)
        r = prom_fields(b, s, api_session_fields,
                        sizeof(api_session_fields) / sizeof(*api_session_fields));
    json_decref(z);
    json_decref(s);
    return r;
}

/* GET /metrics: Prometheus text (docs/operations.md "Metrics"). */
static enum MHD_Result api_metrics(struct api *a, struct http_req *r)
{
    struct buf b;
    char *data;
    size_t len;
    int rc;

    buf_init(&b, 0);
    rc = http_srv_metrics(a->http, &b);
    if (rc == 0)
        rc = exec_mgr_metrics(a->mgr, &b);
    if (rc == 0)
        rc = api_metrics_sandbox(a, &b);
    data = buf_steal(&b, &len);
    if (rc < 0) {
        free(data);
        data = NULL;
    }
    return http_req_bytes_take(r, MHD_HTTP_OK, data, len, "text/plain; version=0.0.4");
}

static enum MHD_Result api_route(void *app, struct http_req *r)
{
    struct api *a = app;
    const char *url = http_req_url(r);
    struct route_match m;
    enum MHD_Result res;
    int rc;

    if (sess_route_is(url, strlen(url)))
        return api_sess_route(&a->sess, r);
    if (kernel_route_is(url, strlen(url)))
        return kernel_mgr_route(a->km, r);
    if (api_files_route(a->mgr, r, &res))
        return res;
    rc = api_route_parse(http_req_method(r), url, strlen(url), &m);

    /* A wrong method is a 405 before a bad id is a 404, as the agent always answered. */
    if (rc == -EINVAL && !m.method_ok)
        return http_req_unrouted(r, -EPERM, &m);
    if (rc == -EINVAL)
        return api_not_found(r);
    if (rc < 0)
        return http_req_unrouted(r, rc, &m);
    switch ((enum api_route_id)m.id) {
    case API_ROOT:
        return api_root(r);
    case API_EXECUTE:
        return api_execute(a, r);
    case API_HEALTH:
        return api_health(a, r);
    case API_HEALTH_LIVE:
        return http_req_json_take(r, MHD_HTTP_OK, json_pack("{s:s}", "status", "live"));
    case API_HEALTH_READY:
        return api_health_ready(a, r);
    case API_METRICS:
        return api_metrics(a, r);
    case API_LANGUAGES:
        return http_req_json_take(r, MHD_HTTP_OK, runtimes_describe(a->rts));
    case API_ADJUST:
        return api_adjust(a, r);
    case API_ADJUSTMENTS:
        return api_adjustments(a, r);
    case API_EXECUTIONS:
        return api_list(a, r);
    case API_EXECUTION_GET:
        return api_execution_get(a, r, m.arg);
    case API_EXECUTION_DELETE:
        return api_execution_delete(a, r, m.arg);
    case API_DEBUG:
        return api_debug(a, r, m.arg);
    case API_WORKSPACES:
        return http_req_json_take(r, MHD_HTTP_OK, ws_mgr_list(a->ws));
    case API_WORKSPACE_DELETE:
        return api_workspace_delete(a, r, m.arg);
    case API_NONE:
        break;
    }
    return http_req_unrouted(r, -ENOENT, &m);
}

struct api *api_new(const struct agent_cfg *cfg, struct exec_mgr *mgr, struct sess_mgr *sm,
                    struct ws_mgr *ws, struct zyg_client *zc, struct outbox *ob,
                    struct runtimes *rts, struct err *e)
{
    struct api *a = calloc(1, sizeof(*a));
    struct http_srv_opts o = {.host = cfg->host,
                              .port = cfg->port,
                              .threads = (unsigned)cfg->threads,
                              .max_body = API_MAX_BODY,
                              .metrics_ns = "sandpit",
                              .route = api_route,
                              .app = a,
                              .token = cfg->agent_token,
                              .token_open = "/health",
                              .token_kg = KERNEL_ROUTE_PREFIX};

    if (!a) {
        err_set(e, ERR_BUSY, "", "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->mgr = mgr;
    a->ws = ws;
    a->zc = zc;
    a->ob = ob;
    a->rts = rts;
    runtimes_list(rts, a->available, sizeof(a->available));
    a->lim = (struct exec_limits){.default_timeout = cfg->default_timeout,
                                  .max_timeout = cfg->max_timeout,
                                  .max_output_bytes = cfg->max_output_bytes,
                                  .memory_mb = cfg->memory_mb,
                                  .pids = cfg->pids_limit,
                                  .disk_mb = cfg->disk_mb,
                                  .policy = cfg->policy,
                                  .allow_override = cfg->allow_override,
                                  .restricted_imports = cfg->restricted_imports,
                                  .language = api_language,
                                  .language_ctx = rts,
                                  .available = a->available};
    a->sess = (struct api_sess){.cfg = cfg, .mgr = mgr, .sm = sm, .lim = &a->lim};
    a->km = kernel_mgr_new(cfg, mgr, sm, &a->lim, e);
    a->http = a->km ? http_srv_start(&o, e) : NULL;
    if (!a->http) {
        kernel_mgr_free(a->km);
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
    kernel_mgr_free(a->km); /* its WebSockets closed before the server that upgraded them */
    http_srv_free(a->http);
    free(a);
}
