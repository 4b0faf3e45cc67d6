/* server.c - the agent's HTTP API on libmicrohttpd (DESIGN "Agent API").
 *
 * MHD runs its own epoll threads; no handler ever blocks. A synchronous /execute suspends its
 * connection and the execution manager resumes it when the result is ready, so one thread
 * serves thousands of waiting clients and /health always answers. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "exec_req.h"
#include "http_reply.h"
#include "json_util.h"
#include "log.h"

#define SERVER_MAX_BODY (10u << 20)
#define SERVER_VERSION  "0.1.0"

enum server_err {
    SERR_INVALID,
    SERR_NOT_FOUND,
    SERR_METHOD,
    SERR_TOO_LARGE,
    SERR_BUSY,
    SERR_UNAVAILABLE,
    SERR_INTERNAL,
    SERR_COUNT
};
static const char *const server_err_codes[SERR_COUNT] = {
    "invalid_request", "not_found", "method_not_allowed", "too_large", "busy",
    "unavailable",     "internal"};
static const unsigned server_err_status[SERR_COUNT] = {400, 404, 405, 413, 503, 503, 500};

struct server {
    const struct agent_cfg *cfg;
    struct exec_mgr *mgr;
    struct zyg_client *zc;
    struct outbox *ob;
    struct runtimes *rts; /* borrowed */
    char available[512];  /* the runtimes' names, for error messages */
    struct MHD_Daemon *daemon;
    int listen_fd; /* after server_quiesce: closed after MHD_stop_daemon; else -1 */
    uint16_t port;
    int64_t started_ns;
    atomic_ulong err_counts[SERR_COUNT];
    atomic_ulong requests;
    atomic_long in_flight; /* requests not yet completed (idle keep-alive connections excluded) */
};

/* Per-request state, created on the first handler call, freed in server_on_completed. */
struct req_ctx {
    struct server *srv;
    struct MHD_Connection *conn;
    struct buf body;      /* the upload, capped at SERVER_MAX_BODY */
    bool too_large;       /* the upload went past the cap (rest discarded) */
    struct exec *ex;      /* the execution this request waits for, or NULL */
    bool cancel;          /* DELETE: reply with the cancel message */
    bool poll;            /* GET ?wait=: reply with the state at wake-up */
    pthread_mutex_t lock; /* guards suspended/done against the exec manager's callback */
    bool suspended;
    bool done;
    char adj_id[40];    /* POST /adjust-processor: the item, once stored */
    bool adj_delivered; /* its first attempt reached the backend */
};

static enum MHD_Result server_error(struct server *s, struct MHD_Connection *conn,
                                    enum server_err which, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result server_error(struct server *s, struct MHD_Connection *conn,
                                    enum server_err which, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    atomic_fetch_add(&s->err_counts[which], 1);
    return http_reply_json_take(conn, server_err_status[which],
                                http_reply_error_body(server_err_codes[which], field, NULL, msg));
}

/* Called by the execution manager (its lock held) when the awaited execution finishes. */
static void server_on_exec_done(void *arg)
{
    struct req_ctx *c = arg;

    pthread_mutex_lock(&c->lock);
    c->done = true;
    if (c->suspended) {
        c->suspended = false;
        MHD_resume_connection(c->conn);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Suspends the connection unless what it waits for already happened (c->done, set under
 * c->lock by the waker, which resumes only a suspended connection). Returns true if done. */
static bool server_suspend_unless_done(struct req_ctx *c)
{
    bool done;

    pthread_mutex_lock(&c->lock);
    done = c->done;
    if (!done) {
        c->suspended = true;
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&c->lock);
    return done;
}

/* Suspends the connection until c->ex finishes or the monotonic deadline (0 = none) passes.
 * Returns true when it already has finished. */
static bool server_wait(struct req_ctx *c, int64_t deadline_ns)
{
    if (exec_mgr_set_waiter(c->srv->mgr, c->ex, server_on_exec_done, c, deadline_ns))
        return true;
    return server_suspend_unless_done(c);
}

/* Replies with a finished execution: the result, or 503 if the zygote died under it. */
static enum MHD_Result server_reply_done(struct req_ctx *c)
{
    struct server *s = c->srv;
    json_t *res = exec_result(s->mgr, c->ex);

    if (!res)
        return server_error(s, c->conn, SERR_INTERNAL, NULL, "out of memory");
    if (c->cancel) {
        json_t *o = json_pack("{s:s, s:s, s:O}", "message", "Execution cancelled", "execution_id",
                              exec_id(c->ex), "status", json_object_get(res, "status"));
        json_decref(res);
        return http_reply_json_take(c->conn, MHD_HTTP_OK, o);
    }
    if (c->poll) {
        /* A long-poll answers with the state at wake-up, finished or not. */
        return http_reply_json_take(c->conn, MHD_HTTP_OK, res);
    }
    if (exec_lost_zygote(c->ex)) {
        json_t *err = http_reply_error_body(
            "zygote_died", NULL, NULL,
            "the Python zygote died during this execution; it is being restarted, retry");

        json_decref(res);
        atomic_fetch_add(&s->err_counts[SERR_UNAVAILABLE], 1);
        if (err)
            json_object_set_new(err, "execution_id", json_string(exec_id(c->ex)));
        return http_reply_json_take(c->conn, MHD_HTTP_SERVICE_UNAVAILABLE, err);
    }
    return http_reply_json_take(c->conn, MHD_HTTP_OK, res);
}

/* exec_limits.language: the canonical name of an available runtime. */
static const char *server_language(void *ctx, const char *name)
{
    const struct runtime_def *rd = runtimes_find(ctx, name);

    return rd ? runtime_name(rd) : NULL;
}

static enum MHD_Result server_execute(struct req_ctx *c)
{
    struct server *s = c->srv;
    struct exec_limits lim = {.default_timeout = s->cfg->default_timeout,
                              .max_timeout = s->cfg->max_timeout,
                              .max_output_bytes = s->cfg->max_output_bytes,
                              .policy = s->cfg->policy,
                              .allow_override = s->cfg->allow_override,
                              .restricted_imports = s->cfg->restricted_imports,
                              .language = server_language,
                              .language_ctx = s->rts,
                              .available = s->available};
    struct exec_req req;
    struct err e = {0};
    bool async;
    int r;

    if (c->too_large)
        return server_error(s, c->conn, SERR_TOO_LARGE, "body", "request body exceeds %u bytes",
                            SERVER_MAX_BODY);
    if (exec_req_parse(c->body.data ? c->body.data : "", c->body.len, &lim, &req, &e) < 0)
        return server_error(s, c->conn, SERR_INVALID, e.field, "%s", e.msg);
    async = req.async;
    r = exec_mgr_submit_take(s->mgr, &req, &c->ex, &e);
    if (r < 0)
        return server_error(s, c->conn, r == -ERR_BUSY ? SERR_BUSY : SERR_UNAVAILABLE, NULL, "%s",
                            e.msg);
    if (async)
        return http_reply_json_take(
            c->conn, MHD_HTTP_ACCEPTED,
            json_pack("{s:s, s:s}", "execution_id", exec_id(c->ex), "status", "pending"));
    if (server_wait(c, 0))
        return server_reply_done(c);
    return MHD_YES;
}

/* Outbox callback after an adjustment's first delivery attempt (outbox thread, its lock held). */
static void server_on_adjust_first(void *arg, bool delivered)
{
    struct req_ctx *c = arg;

    pthread_mutex_lock(&c->lock);
    c->adj_delivered = delivered;
    c->done = true;
    if (c->suspended) {
        c->suspended = false;
        MHD_resume_connection(c->conn);
    }
    pthread_mutex_unlock(&c->lock);
}

static enum MHD_Result server_reply_adjust(struct req_ctx *c)
{
    return http_reply_json_take(c->conn, c->adj_delivered ? MHD_HTTP_OK : MHD_HTTP_ACCEPTED,
                                json_pack("{s:s, s:s}", "status",
                                          c->adj_delivered ? "delivered" : "queued", "id",
                                          c->adj_id));
}

/* POST /adjust-processor: stored on disk first, then the first delivery attempt is awaited
 * (suspended, never blocking a thread) to tell "delivered" from "queued". */
static enum MHD_Result server_adjust(struct req_ctx *c)
{
    struct server *s = c->srv;
    struct err e = {0};
    json_t *body;
    int r;

    if (c->too_large)
        return server_error(s, c->conn, SERR_TOO_LARGE, "body", "request body exceeds %u bytes",
                            SERVER_MAX_BODY);
    body = json_util_parse_object(c->body.data ? c->body.data : "", c->body.len, &e);
    if (!body)
        return server_error(s, c->conn, SERR_INVALID, e.field, "%s", e.msg);
    r = outbox_add(s->ob, body, c->adj_id, server_on_adjust_first, c, &e);
    json_decref(body);
    if (r < 0)
        return server_error(s, c->conn,
                            r == -ERR_INVALID ? SERR_INVALID
                            : r == -ERR_BUSY  ? SERR_BUSY
                                              : SERR_INTERNAL,
                            e.field, "%s", e.msg);
    return server_suspend_unless_done(c) ? server_reply_adjust(c) : MHD_YES;
}

static enum MHD_Result server_adjustments(struct req_ctx *c)
{
    const char *pid = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "processor_id");
    json_t *arr = outbox_list(c->srv->ob, pid);

    return http_reply_json_take(c->conn, MHD_HTTP_OK,
                                json_pack("{s:o, s:I}", "adjustments", arr ? arr : json_array(),
                                          "total", (json_int_t)json_array_size(arr)));
}

static enum MHD_Result server_health(struct req_ctx *c)
{
    struct server *s = c->srv;
    json_t *z = zyg_client_health(s->zc), *errs = json_object(), *o;
    bool ready = zyg_client_is_ready(s->zc);

    for (int i = 0; i < SERR_COUNT; i++)
        json_object_set_new(errs, server_err_codes[i],
                            json_integer((json_int_t)atomic_load(&s->err_counts[i])));
    /* A layer that makes every execution fail (see isolate_report) leaves the agent unusable. */
    if (ready && z) {
        const char *k;
        json_t *v;

        json_object_foreach(json_object_get(z, "isolation"), k, v)
        {
            if (json_is_true(json_object_get(v, "refuses_executions")))
                ready = false;
        }
    }
    o = json_pack("{s:s, s:s, s:s, s:f}", "status", ready ? "ok" : "degraded", "service",
                  "sandpit-agent", "version", SERVER_VERSION, "uptime_s",
                  (double)(clock_mono_ns() - s->started_ns) / 1e9);
    if (!o) {
        json_decref(z);
        json_decref(errs);
        return server_error(s, c->conn, SERR_INTERNAL, NULL, "out of memory");
    }
    {
        json_t *vers = runtimes_versions(s->rts), *names = json_array();
        const char *k;
        json_t *v;

        json_object_foreach(vers, k, v)
        {
            json_array_append_new(names, json_string(k));
        }
        json_object_set_new(o, "languages", names ? names : json_array());
        json_object_set_new(o, "runtimes", vers ? vers : json_object());
    }
    /* The isolation layers in force, at the top level where operators look first. */
    if (z && json_object_get(z, "isolation"))
        json_object_set(o, "isolation", json_object_get(z, "isolation"));
    json_object_set_new(o, "zygote", z ? z : json_null());
    /* The zygote's last report on its warm pool, else just the configured size. */
    if (z && json_object_get(z, "warm_pool"))
        json_object_set(o, "warm_pool", json_object_get(z, "warm_pool"));
    else
        json_object_set_new(o, "warm_pool",
                            json_pack("{s:I}", "size", (json_int_t)s->cfg->warm_pool));
    json_object_set_new(o, "executions", exec_mgr_health(s->mgr));
    json_object_set_new(o, "adjustments", outbox_health(s->ob));
    json_object_set_new(o, "limits",
                        json_pack("{s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:s}", "default_timeout_s",
                                  s->cfg->default_timeout, "max_timeout_s", s->cfg->max_timeout,
                                  "max_output_bytes", (json_int_t)s->cfg->max_output_bytes,
                                  "max_body_bytes", (json_int_t)SERVER_MAX_BODY, "memory_mb",
                                  (json_int_t)s->cfg->memory_mb, "pids",
                                  (json_int_t)s->cfg->pids_limit, "disk_mb",
                                  (json_int_t)s->cfg->disk_mb, "policy", s->cfg->policy));
    json_object_set_new(o, "errors", errs ? errs : json_null());
    return http_reply_json_take(c->conn, MHD_HTTP_OK, o);
}

static enum MHD_Result server_root(struct req_ctx *c)
{
    return http_reply_json_take(
        c->conn, MHD_HTTP_OK,
        json_pack("{s:s, s:s, s:[s,s,s,s,s,s,s,s]}", "service", "sandpit-agent", "version",
                  SERVER_VERSION, "endpoints", "POST /execute", "GET /execution/{id}",
                  "DELETE /execution/{id}", "GET /executions?limit=&offset=&processor_id=",
                  "GET /debug/{id}", "GET /languages", "GET /health", "GET /metrics"));
}

static enum MHD_Result server_metrics(struct req_ctx *c)
{
    struct server *s = c->srv;
    json_t *ex = exec_mgr_health(s->mgr), *z = zyg_client_health(s->zc);
    struct buf b;
    const char *k;
    json_t *v;

    buf_init(&b, 0);
    buf_printf(&b, "# TYPE sandpit_requests_total counter\nsandpit_requests_total %lu\n",
               atomic_load(&s->requests));
    json_object_foreach(ex, k, v)
    {
        buf_printf(&b, "sandpit_executions{kind=\"%s\"} %lld\n", k,
                   (long long)json_integer_value(v));
    }
    buf_printf(&b, "sandpit_zygote_restarts_total %lld\nsandpit_zygote_ready %d\n",
               (long long)json_integer_value(json_object_get(z, "restarts")),
               zyg_client_is_ready(s->zc));
    for (int i = 0; i < SERR_COUNT; i++)
        buf_printf(&b, "sandpit_http_errors_total{code=\"%s\"} %lu\n", server_err_codes[i],
                   atomic_load(&s->err_counts[i]));
    json_decref(ex);
    json_decref(z);
    {
        size_t len;
        char *data = buf_steal(&b, &len);

        return http_reply_bytes_take(c->conn, MHD_HTTP_OK, data ? data : strdup(""), len,
                                     "text/plain; version=0.0.4");
    }
}

static enum MHD_Result server_list(struct req_ctx *c)
{
    struct server *s = c->srv;
    const char *ls = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
    const char *os = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "offset");
    const char *pid = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "processor_id");
    long limit = 50, offset = 0;
    size_t total = 0;
    char *end;
    json_t *arr;

    if (ls) {
        limit = strtol(ls, &end, 10);
        if (*ls == '\0' || *end || limit < 1 || limit > 1000)
            return server_error(s, c->conn, SERR_INVALID, "limit",
                                "query 'limit' must be an integer in [1, 1000]");
    }
    if (os) {
        offset = strtol(os, &end, 10);
        if (*os == '\0' || *end || offset < 0)
            return server_error(s, c->conn, SERR_INVALID, "offset",
                                "query 'offset' must be a non-negative integer");
    }
    arr = exec_mgr_list(s->mgr, (size_t)limit, (size_t)offset, pid, &total);
    return http_reply_json_take(c->conn, MHD_HTTP_OK,
                                json_pack("{s:o, s:I, s:i, s:i}", "executions",
                                          arr ? arr : json_array(), "total", (json_int_t)total,
                                          "limit", (int)limit, "offset", (int)offset));
}

/* /execution/{id}, /debug/{id}: looks the id up or replies 404. */
static struct exec *server_lookup(struct req_ctx *c, const char *id, enum MHD_Result *reply)
{
    struct exec *ex = exec_mgr_find(c->srv->mgr, id);

    if (!ex) {
        atomic_fetch_add(&c->srv->err_counts[SERR_NOT_FOUND], 1);
        *reply = http_reply_json_take(c->conn, MHD_HTTP_NOT_FOUND,
                                      json_pack("{s:s, s:{s:s, s:s}}", "detail",
                                                "Execution not found", "error", "code", "not_found",
                                                "message", "Execution not found"));
    }
    return ex;
}

static enum MHD_Result server_route(struct req_ctx *c, const char *method, const char *url)
{
    struct server *s = c->srv;
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bool post = !strcmp(method, "POST");
    enum MHD_Result reply = MHD_NO;
    const char *allow = NULL;

    if (!strcmp(url, "/execute")) {
        if (post)
            return server_execute(c);
        allow = "POST";
    } else if (!strcmp(url, "/health")) {
        if (get)
            return server_health(c);
        allow = "GET";
    } else if (!strcmp(url, "/")) {
        if (get)
            return server_root(c);
        allow = "GET";
    } else if (!strcmp(url, "/metrics")) {
        if (get)
            return server_metrics(c);
        allow = "GET";
    } else if (!strcmp(url, "/languages")) {
        if (get)
            return http_reply_json_take(c->conn, MHD_HTTP_OK, runtimes_describe(c->srv->rts));
        allow = "GET";
    } else if (!strcmp(url, "/adjust-processor")) {
        if (post)
            return server_adjust(c);
        allow = "POST";
    } else if (!strcmp(url, "/adjustments")) {
        if (get)
            return server_adjustments(c);
        allow = "GET";
    } else if (!strcmp(url, "/executions")) {
        if (get)
            return server_list(c);
        allow = "GET";
    } else if (!strncmp(url, "/execution/", 11) && url[11] && !strchr(url + 11, '/')) {
        if (get) {
            const char *w = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "wait");
            double secs = 0;
            char *end;

            if (w) {
                secs = strtod(w, &end);
                if (*w == '\0' || *end || !(secs >= 0 && secs <= 3600))
                    return server_error(s, c->conn, SERR_INVALID, "wait",
                                        "query 'wait' must be seconds in [0, 3600]");
            }
            c->ex = server_lookup(c, url + 11, &reply);
            if (!c->ex)
                return reply;
            c->poll = true;
            if (secs <= 0 || server_wait(c, clock_mono_ns() + (int64_t)(secs * 1e9)))
                return server_reply_done(c);
            return MHD_YES;
        }
        if (!strcmp(method, "DELETE")) {
            c->ex = server_lookup(c, url + 11, &reply);
            if (!c->ex)
                return reply;
            if (exec_mgr_cancel(s->mgr, c->ex) == 1) {
                json_t *res = exec_result(s->mgr, c->ex);
                json_t *o = json_pack("{s:s, s:s, s:O}", "message", "Execution already finished",
                                      "execution_id", exec_id(c->ex), "status",
                                      json_object_get(res, "status"));
                json_decref(res);
                return http_reply_json_take(c->conn, MHD_HTTP_OK, o);
            }
            c->cancel = true;
            if (server_wait(c, 0))
                return server_reply_done(c);
            return MHD_YES;
        }
        allow = "GET, DELETE";
    } else if (!strncmp(url, "/debug/", 7) && url[7] && !strchr(url + 7, '/')) {
        if (get) {
            struct exec *ex = server_lookup(c, url + 7, &reply);
            json_t *d;
            if (!ex)
                return reply;
            d = exec_debug_info(s->mgr, ex);
            reply = http_reply_json_take(c->conn, MHD_HTTP_OK,
                                         json_pack("{s:s, s:O?, s:O?}", "execution_id", exec_id(ex),
                                                   "debug_info", d, "detailed_trace",
                                                   d ? json_object_get(d, "trace") : NULL));
            json_decref(d);
            exec_unref(ex);
            return reply;
        }
        allow = "GET";
    }
    if (allow) {
        struct MHD_Response *resp;
        json_t *body = http_reply_error_body("method_not_allowed", NULL, NULL, "");
        char msg[128], *text;

        snprintf(msg, sizeof(msg), "method %s is not allowed on %s; allowed: %s", method, url,
                 allow);
        json_object_set_new(json_object_get(body, "error"), "message", json_string(msg));
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (!text)
            return MHD_NO;
        atomic_fetch_add(&s->err_counts[SERR_METHOD], 1);
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
            free(text);
            return MHD_NO;
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
        reply = MHD_queue_response(c->conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
        MHD_destroy_response(resp);
        return reply;
    }
    return server_error(s, c->conn, SERR_NOT_FOUND, NULL, "no such endpoint: %s %s", method, url);
}

static enum MHD_Result server_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    struct server *s = cls;
    struct req_ctx *c = *con_cls;

    (void)version;
    if (!c) {
        c = calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        c->srv = s;
        c->conn = conn;
        buf_init(&c->body, SERVER_MAX_BODY);
        pthread_mutex_init(&c->lock, NULL);
        *con_cls = c;
        atomic_fetch_add(&s->requests, 1);
        atomic_fetch_add(&s->in_flight, 1);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!c->too_large && buf_append(&c->body, upload_data, *upload_data_size) < 0)
            c->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    /* Called again after a resume: what we waited for has happened. */
    if (c->adj_id[0] && c->done)
        return server_reply_adjust(c);
    if (c->ex && (c->cancel || c->poll || c->done))
        return server_reply_done(c);
    return server_route(c, method, url);
}

static void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
    struct server *s = cls;
    struct req_ctx *c = *con_cls;

    (void)conn;
    (void)toe;
    if (!c)
        return;
    if (c->ex) {
        exec_mgr_clear_waiter(s->mgr, c->ex, c);
        exec_unref(c->ex);
    }
    /* The manager's callback may still be inside c->lock: wait for it before freeing. */
    pthread_mutex_lock(&c->lock);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_destroy(&c->lock);
    buf_done(&c->body);
    free(c);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

struct server *server_new(const struct agent_cfg *cfg, struct exec_mgr *mgr, struct zyg_client *zc,
                          struct outbox *ob, struct runtimes *rts, struct err *e)
{
    struct server *s = calloc(1, sizeof(*s));

    if (!s) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    s->listen_fd = -1;
    s->cfg = cfg;
    s->mgr = mgr;
    s->zc = zc;
    s->ob = ob;
    s->rts = rts;
    runtimes_list(rts, s->available, sizeof(s->available));
    s->started_ns = clock_mono_ns();
    s->daemon = http_reply_daemon_start(cfg->host, cfg->port, (unsigned)cfg->threads,
                                        server_handler, s, server_on_completed, s, &s->port, e);
    if (!s->daemon) {
        free(s);
        return NULL;
    }
    return s;
}

uint16_t server_port(const struct server *s)
{
    return s->port;
}

void server_quiesce(struct server *s)
{
    if (s && s->listen_fd < 0)
        s->listen_fd = http_reply_daemon_quiesce(s->daemon);
}

void server_drain(struct server *s, int timeout_ms)
{
    const struct timespec tick = {.tv_nsec = 5 * 1000000};

    for (int waited = 0; s && atomic_load(&s->in_flight) > 0 && waited < timeout_ms; waited += 5)
        nanosleep(&tick, NULL);
}

void server_free(struct server *s)
{
    if (!s)
        return;
    http_reply_daemon_stop(s->daemon, s->listen_fd);
    free(s);
}
