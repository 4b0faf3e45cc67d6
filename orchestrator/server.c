/* server.c - the orchestrator's HTTP API on libmicrohttpd.
 *
 * MHD runs its own epoll threads and no handler ever blocks: a request that needs an agent
 * hands a call to the dispatcher (the upstream loop thread), suspends its connection, and the
 * call's completion callback stores the reply and resumes it. The agent's pattern
 * (agent/server.c): a per-request lock orders "suspend" against "done". */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "clock.h"
#include "codefmt.h"
#include "http_reply.h"
#include "ids.h"
#include "json_util.h"
#include "log.h"
#include "reqid.h"
#include "route.h"
#include "toolcall.h"
#include "strx.h"

#define SERVER_MAX_BODY      (10u << 20)
#define SERVER_VERSION       "0.1.0"
#define SERVER_EXEC_MARGIN_S 30.0 /* agent answer time beyond the code's own timeout */
#define SERVER_LIST_DEFAULT  100
#define SERVER_LIST_MAX      1000

enum server_err {
    SERR_INVALID,
    SERR_NOT_FOUND,
    SERR_METHOD,
    SERR_CONFLICT,
    SERR_TOO_LARGE,
    SERR_BUSY,
    SERR_NO_AGENT,
    SERR_AGENT_FAILED,
    SERR_AGENT_TIMEOUT,
    SERR_SHUTTING_DOWN,
    SERR_INTERNAL,
    SERR_COUNT
};
static const char *const server_err_codes[SERR_COUNT] = {
    "invalid_request",  "not_found",    "method_not_allowed", "conflict",      "too_large", "busy",
    "no_healthy_agent", "agent_failed", "agent_timeout",      "shutting_down", "internal"};
static const unsigned server_err_status[SERR_COUNT] = {400, 404, 405, 409, 413, 503,
                                                       503, 502, 504, 503, 500};

struct server {
    const struct orch_cfg *cfg;
    struct registry *reg;
    struct dispatch *d;
    struct jobs *jobs;
    struct MHD_Daemon *daemon;
    uint16_t port;
    int64_t started_ns;
    atomic_ulong err_counts[SERR_COUNT];
    atomic_ulong requests;
    atomic_ulong executions;
    atomic_ulong exec_status[3]; /* completed, error, timeout */
};

/* Per-request state, created on the first handler call, freed in server_on_completed. */
struct req_ctx {
    struct server *srv;
    struct MHD_Connection *conn;
    struct buf body;            /* the upload, capped at SERVER_MAX_BODY */
    bool too_large;             /* the upload went past the cap (rest discarded) */
    char req_id[REQID_LEN + 1]; /* X-Request-Id */
    int64_t start_ns;           /* monotonic arrival time */
    long long max_chars;        /* /execute: max_output_characters, -1 = none */
    json_t *warnings;           /* /execute: scenario warnings (owned), or NULL */
    const char *code_format;    /* /execute: static name of the recognised format */
    pthread_mutex_t lock;       /* orders suspend against completion */
    bool waiting;               /* an asynchronous answer is pending */
    bool suspended;             /* guarded by lock */
    bool done;                  /* guarded by lock: reply is ready */
    unsigned reply_status;      /* guarded by lock */
    json_t *reply;              /* guarded by lock: owned reply body */
};

/* Serialises body (taken) and queues it with our headers. */
static enum MHD_Result server_send(struct req_ctx *c, unsigned status, json_t *body)
{
    struct MHD_Response *resp;
    enum MHD_Result r;
    char *text = NULL;

    if (body)
        text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(body);
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"code\":\"busy\",\"message\":\"out of memory, retry\"}}";
        status = MHD_HTTP_SERVICE_UNAVAILABLE;
        resp =
            MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (!resp)
            free(text);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, "X-Request-Id", c->req_id);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    r = MHD_queue_response(c->conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

/* {"error":{"code","message","field"?,"request_id"}}: new reference or NULL. The message may
 * quote client or agent text cut anywhere, so it goes in through json_util_set_text. */
static json_t *server_error_body(struct req_ctx *c, enum server_err which, const char *field,
                                 const char *msg)
{
    json_t *inner = json_object(), *o;

    if (!inner)
        return NULL;
    if (json_object_set_new(inner, "code", json_string(server_err_codes[which])) < 0 ||
        json_util_set_text(inner, "message", msg, strlen(msg)) < 0 ||
        (field && *field && json_util_set_text(inner, "field", field, strlen(field)) < 0) ||
        json_object_set_new(inner, "request_id", json_string(c->req_id)) < 0) {
        json_decref(inner);
        return NULL;
    }
    o = json_object();
    if (!o || json_object_set_new(o, "error", inner) < 0) {
        json_decref(o);
        return NULL;
    }
    atomic_fetch_add(&c->srv->err_counts[which], 1);
    return o;
}

static enum MHD_Result server_error(struct req_ctx *c, enum server_err which, const char *field,
                                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result server_error(struct req_ctx *c, enum server_err which, const char *field,
                                    const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return server_send(c, server_err_status[which], server_error_body(c, which, field, msg));
}

/* The NVIDIA dialect's error: the standard error object plus process_status "error",
 * stdout "" and stderr naming the problem. New reference or NULL. */
static json_t *server_exec_error_body(struct req_ctx *c, enum server_err which, const char *field,
                                      const char *msg)
{
    json_t *o = server_error_body(c, which, field, msg);

    if (o && (json_object_set_new(o, "process_status", json_string("error")) < 0 ||
              json_object_set_new(o, "stdout", json_string("")) < 0 ||
              json_util_set_text(o, "stderr", msg, strlen(msg)) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static enum MHD_Result server_exec_error(struct req_ctx *c, enum server_err which,
                                         const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum MHD_Result server_exec_error(struct req_ctx *c, enum server_err which,
                                         const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return server_send(c, server_err_status[which], server_exec_error_body(c, which, field, msg));
}

/* Stores an asynchronous answer and wakes the connection. Any thread but MHD's for c. */
static void server_complete(struct req_ctx *c, unsigned status, json_t *reply)
{
    pthread_mutex_lock(&c->lock);
    c->reply_status = status;
    c->reply = reply;
    c->done = true;
    if (c->suspended) {
        c->suspended = false;
        MHD_resume_connection(c->conn);
    }
    pthread_mutex_unlock(&c->lock);
}

/* After handing work off: suspends unless the answer is already there. */
static enum MHD_Result server_wait(struct req_ctx *c)
{
    json_t *reply = NULL;
    unsigned status = 0;
    bool done;

    c->waiting = true;
    pthread_mutex_lock(&c->lock);
    done = c->done;
    if (done) {
        reply = c->reply;
        status = c->reply_status;
        c->reply = NULL;
    } else {
        c->suspended = true;
        MHD_suspend_connection(c->conn);
    }
    pthread_mutex_unlock(&c->lock);
    return done ? server_send(c, status, reply) : MHD_YES;
}

/* Checks that some agent could serve lang; otherwise builds the 400 message. */
static bool server_lang_known(struct server *s, const char *lang, char *msg, size_t size)
{
    enum registry_avail a;
    json_t *langs;
    size_t i, off;
    json_t *v;

    pthread_mutex_lock(&s->reg->lock);
    a = registry_avail_locked(s->reg, lang);
    pthread_mutex_unlock(&s->reg->lock);
    if (a != REGISTRY_LANG_UNKNOWN)
        return true;
    langs = registry_languages_json(s->reg);
    off = (size_t)snprintf(msg, size, "unknown language '%s'; available: ", lang);
    json_array_foreach(langs, i, v)
    {
        if (off < size)
            off += (size_t)snprintf(msg + off, size - off, "%s%s", i ? ", " : "",
                                    json_string_value(v));
    }
    if (json_array_size(langs) == 0 && off < size)
        snprintf(msg + off, size - off, "none (no agent is up)");
    json_decref(langs);
    return false;
}

/* The agent's error object of a 4xx/5xx body: code, message and field copied out. */
static void server_agent_error(const struct dcall *dc, char *code, size_t csize, char *msg,
                               size_t msize, char *field, size_t fsize)
{
    json_t *o = dc->resp ? json_loadb(dc->resp, dc->resp_len, 0, NULL) : NULL;
    json_t *e = json_object_get(o, "error");
    const char *m = json_string_value(json_object_get(e, "message"));

    if (!m)
        m = json_string_value(json_object_get(o, "detail"));
    snprintf(code, csize, "%s", json_string_value(json_object_get(e, "code")) ?: "");
    snprintf(field, fsize, "%s", json_string_value(json_object_get(e, "field")) ?: "");
    snprintf(msg, msize, "%s", m ? m : "");
    json_decref(o);
}

/* POST /execute completion, on the upstream loop thread. */
static void server_exec_done(struct dcall *dc)
{
    struct req_ctx *c = dc->arg;
    struct server *s = c->srv;
    double ms = (double)(clock_mono_ns() - c->start_ns) / 1e6;
    char code[48], msg[400], field[48], text[560];
    unsigned status = 200;
    json_t *reply = NULL;

    if (dc->outcome == DCALL_OK && dc->status == 200) {
        json_t *res = json_loadb(dc->resp ? dc->resp : "", dc->resp_len, 0, NULL);

        reply = json_is_object(res) ? toolcall_reply(res, c->max_chars) : NULL;
        if (reply) {
            const char *ps = json_string_value(json_object_get(reply, "process_status"));

            json_object_set_new(reply, "agent", json_string(dc->agent_url));
            json_object_set_new(reply, "code_format", json_string(c->code_format));
            json_object_set_new(reply, "request_id", json_string(c->req_id));
            if (c->warnings && json_array_size(c->warnings))
                json_object_set(reply, "warnings", c->warnings);
            atomic_fetch_add(&s->exec_status[!strcmp(ps, "completed") ? 0
                                             : !strcmp(ps, "error")   ? 1
                                                                      : 2],
                             1);
            log_msg(LOG_DEBUG, c->req_id, "execute on %s: %s in %.1f ms", dc->agent_url, ps, ms);
        } else {
            status = 502;
            snprintf(text, sizeof(text), "agent %s answered an ExecutionResult we cannot read",
                     dc->agent_url);
            reply = server_exec_error_body(c, SERR_AGENT_FAILED, NULL, text);
            log_msg(LOG_WARN, c->req_id, "%s", text);
        }
        json_decref(res);
    } else if (dc->outcome == DCALL_OK) {
        enum server_err which = SERR_AGENT_FAILED;

        server_agent_error(dc, code, sizeof(code), msg, sizeof(msg), field, sizeof(field));
        if (dc->status == 400) {
            which = SERR_INVALID;
            strx_copy(text, sizeof(text), msg[0] ? msg : "the agent refused the request");
        } else if (dc->status == 413) {
            which = SERR_TOO_LARGE;
            strx_copy(text, sizeof(text), msg[0] ? msg : "request too large");
        } else if (dc->status == 503) {
            which = SERR_BUSY;
            snprintf(text, sizeof(text), "agent %s is busy: %s", dc->agent_url, msg);
        } else {
            snprintf(text, sizeof(text), "agent %s answered HTTP %ld: %s", dc->agent_url,
                     dc->status, msg);
            log_msg(LOG_WARN, c->req_id, "%s", text);
        }
        status = server_err_status[which];
        reply = server_exec_error_body(c, which, field[0] ? field : NULL, text);
    } else {
        enum server_err which = dc->outcome == DCALL_NO_AGENT        ? SERR_NO_AGENT
                                : dc->outcome == DCALL_AGENT_TIMEOUT ? SERR_AGENT_TIMEOUT
                                : dc->outcome == DCALL_SHUTDOWN      ? SERR_SHUTTING_DOWN
                                                                     : SERR_AGENT_FAILED;

        status = server_err_status[which];
        reply =
            server_exec_error_body(c, which, which == SERR_NO_AGENT ? "language" : NULL, dc->err);
        log_msg(LOG_WARN, c->req_id, "execute failed after %.1f ms (%s): %s", ms,
                dcall_outcome_name(dc->outcome), dc->err);
    }
    dcall_free(dc);
    server_complete(c, status, reply);
}

static enum MHD_Result server_execute(struct req_ctx *c)
{
    struct server *s = c->srv;
    struct toolcall_req req;
    enum codefmt_kind kind = CODEFMT_RAW;
    struct dcall *dc = NULL;
    char *code = NULL, msg[400];
    size_t code_len = 0;
    json_t *body = NULL;
    struct err e = {0};
    double wait_s;
    int r;

    if (c->too_large)
        return server_exec_error(c, SERR_TOO_LARGE, "body", "request body exceeds %u bytes",
                                 SERVER_MAX_BODY);
    r = toolcall_parse(c->body.data ? c->body.data : "", c->body.len, s->cfg->max_timeout, &req,
                       &e);
    if (r < 0) {
        if (r == -ENOMEM)
            return server_exec_error(c, SERR_BUSY, NULL, "out of memory, retry");
        return server_exec_error(c, SERR_INVALID, e.field, "%s", e.msg);
    }
    if (!server_lang_known(s, req.language, msg, sizeof(msg))) {
        toolcall_req_done(&req);
        return server_exec_error(c, SERR_INVALID, "language", "%s", msg);
    }
    r = codefmt_normalise(req.code, req.code_len, req.language, &code, &code_len, &kind);
    if (r == 0)
        body = toolcall_agent_body(&req, code, code_len);
    dc = body ? dcall_new() : NULL;
    if (dc)
        dc->body = json_dumps(body, JSON_COMPACT);
    if (!dc || !dc->body) {
        toolcall_req_done(&req);
        free(code);
        json_decref(body);
        dcall_free(dc);
        if (r == -E2BIG)
            return server_exec_error(c, SERR_TOO_LARGE, "generated_code", "code is too large");
        return server_exec_error(c, SERR_BUSY, NULL, "out of memory, retry");
    }
    dc->body_len = strlen(dc->body);
    strx_copy(dc->lang, sizeof(dc->lang), req.language);
    dc->method = "POST";
    snprintf(dc->path, sizeof(dc->path), "/execute");
    wait_s = s->cfg->request_timeout;
    if (req.timeout > 0 && req.timeout + SERVER_EXEC_MARGIN_S < wait_s)
        wait_s = req.timeout + SERVER_EXEC_MARGIN_S;
    dc->timeout_ms = (long)(wait_s * 1000);
    dc->retry = true;
    dc->may_wait = true;
    strx_copy(dc->req_id, sizeof(dc->req_id), c->req_id);
    dc->done = server_exec_done;
    dc->arg = c;
    c->max_chars = req.max_chars;
    c->warnings = json_incref(req.warnings);
    c->code_format = codefmt_kind_name(kind);
    atomic_fetch_add(&s->executions, 1);
    toolcall_req_done(&req);
    free(code);
    json_decref(body);
    if (dispatch_submit(s->d, dc) < 0) {
        dcall_free(dc);
        return server_exec_error(c, SERR_SHUTTING_DOWN, NULL, "the orchestrator is shutting down");
    }
    return server_wait(c);
}

static enum MHD_Result server_job_run(struct req_ctx *c)
{
    struct server *s = c->srv;
    struct job_req req;
    enum codefmt_kind kind = CODEFMT_RAW;
    char *code = NULL, id[REQID_LEN + 1], msg[400];
    size_t code_len = 0;
    struct err e = {0};
    int r;

    if (c->too_large)
        return server_error(c, SERR_TOO_LARGE, "body", "request body exceeds %u bytes",
                            SERVER_MAX_BODY);
    r = job_req_parse(c->body.data ? c->body.data : "", c->body.len, s->cfg->max_timeout, &req, &e);
    if (r < 0) {
        if (r == -ENOMEM)
            return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
        return server_error(c, SERR_INVALID, e.field, "%s", e.msg);
    }
    if (!server_lang_known(s, req.language, msg, sizeof(msg))) {
        job_req_done(&req);
        return server_error(c, SERR_INVALID, "language", "%s", msg);
    }
    r = codefmt_normalise(req.code, req.code_len, req.language, &code, &code_len, &kind);
    if (r < 0) {
        job_req_done(&req);
        if (r == -E2BIG)
            return server_error(c, SERR_TOO_LARGE, "code", "code is too large");
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    }
    r = jobs_submit_take(s->jobs, &req, code, code_len, codefmt_kind_name(kind), c->req_id, id, &e);
    if (r < 0)
        return server_error(c, SERR_BUSY, NULL, "%s", e.msg);
    log_msg(LOG_DEBUG, c->req_id, "job %s queued", id);
    return server_send(c, MHD_HTTP_ACCEPTED,
                       json_pack("{s:s, s:s}", "jobId", id, "status", "queued"));
}

static enum MHD_Result server_job_get(struct req_ctx *c, const char *id, enum jobs_view view)
{
    json_t *o = NULL;
    int r = jobs_get_json(c->srv->jobs, id, view, &o);

    if (r == -ENOENT)
        return server_error(c, SERR_NOT_FOUND, "jobId", "no job '%s'", id);
    if (r < 0)
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    return server_send(c, MHD_HTTP_OK, o);
}

static enum MHD_Result server_job_list(struct req_ctx *c)
{
    const char *st = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "status");
    const char *ls = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
    long limit = SERVER_LIST_DEFAULT;
    struct err e = {0};
    json_t *o = NULL;
    char *end;
    int r;

    if (ls) {
        limit = strtol(ls, &end, 10);
        if (*ls == '\0' || *end || limit < 1 || limit > SERVER_LIST_MAX)
            return server_error(c, SERR_INVALID, "limit",
                                "query 'limit' must be an integer in [1, %d]", SERVER_LIST_MAX);
    }
    r = jobs_list_json(c->srv->jobs, st, limit, &o, &e);
    if (r == -ERR_INVALID)
        return server_error(c, SERR_INVALID, e.field, "%s", e.msg);
    if (r < 0)
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    return server_send(c, MHD_HTTP_OK, o);
}

/* A cancel that waited for the agent is over (upstream loop thread, jobs lock held). */
static void server_cancel_done(void *arg, unsigned status, json_t *reply)
{
    server_complete(arg, status, reply);
}

static enum MHD_Result server_job_cancel(struct req_ctx *c, const char *id)
{
    json_t *reply = NULL;
    unsigned status = 200;
    int r;

    /* Set before jobs_cancel: its callback may run before we return. */
    c->waiting = true;
    r = jobs_cancel(c->srv->jobs, id, server_cancel_done, c, &status, &reply);
    if (r == 1)
        return server_wait(c);
    c->waiting = false;
    if (r == -ENOENT)
        return server_error(c, SERR_NOT_FOUND, "jobId", "no job '%s'", id);
    if (r < 0)
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    if (status == 409)
        atomic_fetch_add(&c->srv->err_counts[SERR_CONFLICT], 1);
    return server_send(c, status, reply);
}

static json_t *server_errors_json(struct server *s)
{
    json_t *o = json_object();

    for (int i = 0; o && i < SERR_COUNT; i++)
        json_object_set_new(o, server_err_codes[i],
                            json_integer((json_int_t)atomic_load(&s->err_counts[i])));
    return o;
}

static enum MHD_Result server_health(struct req_ctx *c)
{
    struct server *s = c->srv;
    int64_t now = clock_mono_ns();
    json_t *agents = registry_agents_json(s->reg, now), *langs = registry_languages_json(s->reg);
    json_t *jobs = jobs_stats_json(s->jobs), *errs = server_errors_json(s);
    int up = 0, total = 0;

    registry_counts(s->reg, &up, &total);
    return server_send(
        c, MHD_HTTP_OK,
        json_pack("{s:s, s:s, s:s, s:f, s:i, s:i, s:o, s:o, s:o, s:I, s:o}", "status",
                  up == total && total > 0 ? "ok"
                  : up > 0                 ? "degraded"
                                           : "down",
                  "service", "sandpit-orchestrator", "version", SERVER_VERSION, "uptime_s",
                  (double)(now - s->started_ns) / 1e9, "agents_up", up, "agents_total", total,
                  "agents", agents ? agents : json_array(), "languages",
                  langs ? langs : json_array(), "jobs", jobs ? jobs : json_object(), "requests",
                  (json_int_t)atomic_load(&s->requests), "errors", errs ? errs : json_object()));
}

static enum MHD_Result server_languages(struct req_ctx *c)
{
    json_t *langs = registry_languages_json(c->srv->reg);

    return server_send(c, MHD_HTTP_OK,
                       json_pack("{s:o}", "languages", langs ? langs : json_array()));
}

static enum MHD_Result server_root(struct req_ctx *c)
{
    return server_send(
        c, MHD_HTTP_OK,
        json_pack("{s:s, s:s, s:[s,s,s,s,s,s,s,s,s,s]}", "service", "sandpit-orchestrator",
                  "version", SERVER_VERSION, "endpoints",
                  "POST /execute {generated_code, timeout, language}", "GET /health",
                  "GET /languages", "GET /metrics", "POST /api/run {language, code, scenario}",
                  "GET /api/status/{jobId}", "GET /api/logs/{jobId}",
                  "GET /api/jobs?status=&limit=", "POST /api/cancel/{jobId}", "GET /"));
}

static enum MHD_Result server_metrics(struct req_ctx *c)
{
    struct server *s = c->srv;
    json_t *agents = registry_agents_json(s->reg, clock_mono_ns()),
           *jobs = jobs_stats_json(s->jobs);
    static const char *const ps[3] = {"completed", "error", "timeout"};
    struct MHD_Response *resp;
    enum MHD_Result r;
    const char *k;
    struct buf b;
    size_t i, len;
    json_t *v;
    char *data;

    buf_init(&b, 0);
    buf_printf(&b, "# TYPE sandpit_orch_requests_total counter\nsandpit_orch_requests_total %lu\n",
               atomic_load(&s->requests));
    for (int n = 0; n < 3; n++)
        buf_printf(&b, "sandpit_orch_executions_total{process_status=\"%s\"} %lu\n", ps[n],
                   atomic_load(&s->exec_status[n]));
    for (int n = 0; n < SERR_COUNT; n++)
        buf_printf(&b, "sandpit_orch_http_errors_total{code=\"%s\"} %lu\n", server_err_codes[n],
                   atomic_load(&s->err_counts[n]));
    json_array_foreach(agents, i, v)
    {
        const char *url = json_string_value(json_object_get(v, "url"));
        const char *st = json_string_value(json_object_get(v, "state"));

        buf_printf(&b, "sandpit_orch_agent_up{agent=\"%zu\",url=\"%s\"} %d\n", i, url ? url : "",
                   st && !strcmp(st, "up"));
        buf_printf(&b, "sandpit_orch_agent_in_flight{agent=\"%zu\"} %lld\n", i,
                   (long long)json_integer_value(json_object_get(v, "in_flight")));
        buf_printf(&b, "sandpit_orch_agent_failures_total{agent=\"%zu\"} %lld\n", i,
                   (long long)json_integer_value(json_object_get(v, "failures")));
    }
    json_object_foreach(jobs, k, v)
    {
        buf_printf(&b, "sandpit_orch_jobs{kind=\"%s\"} %lld\n", k,
                   (long long)json_integer_value(v));
    }
    json_decref(agents);
    json_decref(jobs);
    data = buf_steal(&b, &len);
    if (!data)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    MHD_add_response_header(resp, "X-Request-Id", c->req_id);
    r = MHD_queue_response(c->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result server_method_not_allowed(struct req_ctx *c, const char *method,
                                                 const char *url, const char *allow)
{
    char msg[256], *text;
    struct MHD_Response *resp;
    enum MHD_Result r;
    json_t *body;

    snprintf(msg, sizeof(msg), "method %.16s is not allowed on %.100s; allowed: %s", method, url,
             allow);
    body = server_error_body(c, SERR_METHOD, NULL, msg);
    text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    MHD_add_response_header(resp, "X-Request-Id", c->req_id);
    r = MHD_queue_response(c->conn, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result server_route(struct req_ctx *c, const char *method, const char *url)
{
    struct route_match m;
    int r = route_parse(method, url, strlen(url), &m);

    if (r == -ENOENT)
        return server_error(c, SERR_NOT_FOUND, NULL, "no such endpoint: %.16s %.200s", method, url);
    if (r == -EINVAL)
        return server_error(c, SERR_NOT_FOUND, "jobId", "no job '%s' (job ids are UUIDs)", m.arg);
    if (r == -EPERM)
        return server_method_not_allowed(c, method, url, m.allow);
    switch (m.id) {
    case ROUTE_EXECUTE:
        return server_execute(c);
    case ROUTE_HEALTH:
        return server_health(c);
    case ROUTE_LANGUAGES:
        return server_languages(c);
    case ROUTE_ROOT:
        return server_root(c);
    case ROUTE_METRICS:
        return server_metrics(c);
    case ROUTE_JOB_RUN:
        return server_job_run(c);
    case ROUTE_JOB_LIST:
        return server_job_list(c);
    case ROUTE_JOB_LOGS:
        return server_job_get(c, m.arg, JOBS_VIEW_LOGS);
    case ROUTE_JOB_STATUS:
        return server_job_get(c, m.arg, JOBS_VIEW_STATUS);
    case ROUTE_JOB_CANCEL:
        return server_job_cancel(c, m.arg);
    case ROUTE_NONE:
        break;
    }
    return server_error(c, SERR_NOT_FOUND, NULL, "no such endpoint: %.16s %.200s", method, url);
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
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");

        c = calloc(1, sizeof(*c));
        if (!c)
            return MHD_NO;
        c->srv = s;
        c->conn = conn;
        c->start_ns = clock_mono_ns();
        c->max_chars = -1;
        c->code_format = "raw";
        buf_init(&c->body, SERVER_MAX_BODY);
        pthread_mutex_init(&c->lock, NULL);
        /* A client's own UUID is kept so its logs and ours line up; anything else is
         * replaced rather than echoed. */
        if (rid && ids_is_uuid(rid, strlen(rid)))
            strx_copy(c->req_id, sizeof(c->req_id), rid);
        else
            reqid_new(c->req_id);
        *con_cls = c;
        atomic_fetch_add(&s->requests, 1);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!c->too_large && buf_append(&c->body, upload_data, *upload_data_size) < 0)
            c->too_large = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->waiting) {
        /* Resumed: the asynchronous answer is in. */
        json_t *reply;
        unsigned status;

        pthread_mutex_lock(&c->lock);
        reply = c->reply;
        status = c->reply_status;
        c->reply = NULL;
        pthread_mutex_unlock(&c->lock);
        return server_send(c, status, reply);
    }
    return server_route(c, method, url);
}

static void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                                enum MHD_RequestTerminationCode toe)
{
    struct req_ctx *c = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (!c)
        return;
    /* A completion callback may still be inside c->lock: wait for it before freeing. */
    pthread_mutex_lock(&c->lock);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_destroy(&c->lock);
    json_decref(c->reply);
    json_decref(c->warnings);
    buf_done(&c->body);
    free(c);
    *con_cls = NULL;
}

struct server *server_new(const struct orch_cfg *cfg, struct registry *reg, struct dispatch *d,
                          struct jobs *jobs, struct err *e)
{
    struct server *s = calloc(1, sizeof(*s));

    if (!s) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->reg = reg;
    s->d = d;
    s->jobs = jobs;
    s->started_ns = clock_mono_ns();
    s->daemon = http_reply_daemon_start(cfg->host, cfg->port, (unsigned)cfg->http_threads,
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
    if (s)
        http_reply_daemon_quiesce(s->daemon);
}

void server_free(struct server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    free(s);
}
