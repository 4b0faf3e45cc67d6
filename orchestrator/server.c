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
#include "nadoo.h"
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
    SERR_UNAUTHORIZED,
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
    "invalid_request", "unauthorized",  "not_found",     "method_not_allowed",
    "conflict",        "too_large",     "busy",          "no_healthy_agent",
    "agent_failed",    "agent_timeout", "shutting_down", "internal"};
static const unsigned server_err_status[SERR_COUNT] = {400, 401, 404, 405, 409, 413,
                                                       503, 503, 502, 504, 503, 500};

/* Which dialect a synchronous run answers in. */
enum server_dialect {
    SERVER_NVIDIA, /* POST /execute */
    SERVER_NADOO,  /* POST /api/v1/execute */
};

struct server {
    const struct orch_cfg *cfg;
    struct registry *reg;
    struct dispatch *d;
    struct jobs *jobs;
    const struct nadoo_keys *keys; /* X-API-Key for /api/v1 (n == 0: none) */
    struct MHD_Daemon *daemon;
    int listen_fd; /* after server_quiesce: closed after MHD_stop_daemon; else -1 */
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
    struct buf body;             /* the upload, capped at SERVER_MAX_BODY */
    bool too_large;              /* the upload went past the cap (rest discarded) */
    char req_id[REQID_LEN + 1];  /* X-Request-Id */
    int64_t start_ns;            /* monotonic arrival time */
    long long max_chars;         /* /execute: max_output_characters, -1 = none */
    const char *code_format;     /* /execute: static name of the recognised format */
    enum server_dialect dialect; /* of a synchronous run's reply */
    pthread_mutex_t lock;        /* orders suspend against completion */
    bool waiting;                /* an asynchronous answer is pending */
    bool suspended;              /* guarded by lock */
    bool done;                   /* guarded by lock: reply is ready */
    unsigned reply_status;       /* guarded by lock */
    json_t *reply;               /* guarded by lock: owned reply body */
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

/* The error body of a synchronous run in its dialect. New reference or NULL. */
static json_t *server_run_error_body(struct req_ctx *c, enum server_err which, const char *field,
                                     const char *msg)
{
    if (c->dialect == SERVER_NADOO)
        return server_error_body(c, which, field, msg);
    return server_exec_error_body(c, which, field, msg);
}

/* POST /execute and POST /api/v1/execute completion, on the upstream loop thread. */
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

        if (!json_is_object(res))
            reply = NULL;
        else if (c->dialect == SERVER_NADOO)
            reply = nadoo_reply(res);
        else
            reply = toolcall_reply(res, c->max_chars);
        if (reply) {
            const char *ps =
                toolcall_process_status(json_string_value(json_object_get(res, "status")));

            if (c->dialect == SERVER_NVIDIA) {
                json_object_set_new(reply, "agent", json_string(dc->agent_url));
                json_object_set_new(reply, "code_format", json_string(c->code_format));
                json_object_set_new(reply, "request_id", json_string(c->req_id));
            }
            atomic_fetch_add(&s->exec_status[!strcmp(ps, "completed") ? 0
                                             : !strcmp(ps, "error")   ? 1
                                                                      : 2],
                             1);
            log_msg(LOG_DEBUG, c->req_id, "execute on %s: %s in %.1f ms", dc->agent_url, ps, ms);
        } else {
            status = 502;
            snprintf(text, sizeof(text), "agent %s answered an ExecutionResult we cannot read",
                     dc->agent_url);
            reply = server_run_error_body(c, SERR_AGENT_FAILED, NULL, text);
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
        reply = server_run_error_body(c, which, field[0] ? field : NULL, text);
    } else {
        enum server_err which = dc->outcome == DCALL_NO_AGENT        ? SERR_NO_AGENT
                                : dc->outcome == DCALL_AGENT_TIMEOUT ? SERR_AGENT_TIMEOUT
                                : dc->outcome == DCALL_SHUTDOWN      ? SERR_SHUTTING_DOWN
                                                                     : SERR_AGENT_FAILED;

        status = server_err_status[which];
        reply =
            server_run_error_body(c, which, which == SERR_NO_AGENT ? "language" : NULL, dc->err);
        log_msg(LOG_WARN, c->req_id, "execute failed after %.1f ms (%s): %s", ms,
                dcall_outcome_name(dc->outcome), dc->err);
    }
    dcall_free(dc);
    server_complete(c, status, reply);
}

/* How long a synchronous run may keep the agent busy: the code's timeout plus the scenario's
 * delay plus a margin, at most --request-timeout (plus the delay). */
static long server_exec_wait_ms(const struct server *s, double timeout, double delay_s)
{
    double wait_s = s->cfg->request_timeout;

    if (timeout > 0 && timeout + SERVER_EXEC_MARGIN_S < wait_s)
        wait_s = timeout + SERVER_EXEC_MARGIN_S;
    return (long)((wait_s + delay_s) * 1000);
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
    dc->timeout_ms = server_exec_wait_ms(s, req.timeout, req.delay_s);
    dc->retry = true;
    dc->may_wait = true;
    strx_copy(dc->req_id, sizeof(dc->req_id), c->req_id);
    dc->done = server_exec_done;
    dc->arg = c;
    c->max_chars = req.max_chars;
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

/* ---- the Nadoo dialect (/api/v1) ------------------------------------------------------------ */

/* Checks every request's language and normalises its code; on failure answers (400, 413 or
 * 503; batch: field names start "executions[i].") and returns false. codes[i] (new) and kinds[i]
 * are set for i < n; every one is freed on failure. */
static bool server_nadoo_prepare(struct req_ctx *c, struct job_req *reqs, size_t n, bool batch,
                                 char **codes, size_t *lens, enum codefmt_kind *kinds,
                                 enum MHD_Result *res)
{
    char msg[400], field[48];
    size_t i;
    int r = 0;

    for (i = 0; i < n; i++) {
        codes[i] = NULL;
        if (batch)
            snprintf(field, sizeof(field), "executions[%zu].", i);
        else
            field[0] = '\0';
        if (!server_lang_known(c->srv, reqs[i].language, msg, sizeof(msg))) {
            strx_printf(field + strlen(field), sizeof(field) - strlen(field), "language");
            *res = server_error(c, SERR_INVALID, field, "%s", msg);
            break;
        }
        r = codefmt_normalise(reqs[i].code, reqs[i].code_len, reqs[i].language, &codes[i], &lens[i],
                              &kinds[i]);
        if (r < 0) {
            codes[i] = NULL;
            strx_printf(field + strlen(field), sizeof(field) - strlen(field), "code");
            *res = r == -E2BIG ? server_error(c, SERR_TOO_LARGE, field, "code is too large")
                               : server_error(c, SERR_BUSY, NULL, "out of memory, retry");
            break;
        }
    }
    if (i == n)
        return true;
    for (size_t k = 0; k < i; k++)
        free(codes[k]);
    return false;
}

/* A dispatch call running req's code (borrowed) synchronously on an agent, or NULL on OOM. */
static struct dcall *server_nadoo_call(struct req_ctx *c, const struct job_req *req,
                                       const char *code, size_t code_len, dcall_done_fn done,
                                       void *arg)
{
    json_t *body = job_req_agent_body(req, code, code_len, false);
    struct dcall *dc = body ? dcall_new() : NULL;

    if (dc)
        dc->body = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!dc || !dc->body) {
        dcall_free(dc);
        return NULL;
    }
    dc->body_len = strlen(dc->body);
    strx_copy(dc->lang, sizeof(dc->lang), req->language);
    dc->method = "POST";
    snprintf(dc->path, sizeof(dc->path), "/execute");
    dc->timeout_ms = server_exec_wait_ms(c->srv, req->timeout, req->delay_s);
    dc->retry = true;
    dc->may_wait = true;
    strx_copy(dc->req_id, sizeof(dc->req_id), c->req_id);
    dc->done = done;
    dc->arg = arg;
    return dc;
}

/* The body of a request that failed validation; answers it and returns true when r < 0. */
static bool server_nadoo_bad(struct req_ctx *c, int r, const struct err *e, enum MHD_Result *res)
{
    if (r >= 0)
        return false;
    if (r == -ENOMEM)
        *res = server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    else
        *res = server_error(c, SERR_INVALID, e->field[0] ? e->field : "body", "%s", e->msg);
    return true;
}

/* The body of one Nadoo execution request, parsed and its code normalised. Returns true with
 * req, code (malloc) and kind filled; else false with the error reply in *res. */
static bool server_nadoo_read(struct req_ctx *c, struct job_req *req, char **code, size_t *code_len,
                              enum codefmt_kind *kind, enum MHD_Result *res)
{
    struct err e = {0};
    int r;

    if (c->too_large) {
        *res = server_error(c, SERR_TOO_LARGE, "body", "request body exceeds %u bytes",
                            SERVER_MAX_BODY);
        return false;
    }
    r = nadoo_parse(c->body.data ? c->body.data : "", c->body.len, c->srv->cfg->max_timeout, req,
                    &e);
    if (server_nadoo_bad(c, r, &e, res))
        return false;
    if (!server_nadoo_prepare(c, req, 1, false, code, code_len, kind, res)) {
        job_req_done(req);
        return false;
    }
    return true;
}

/* POST /api/v1/execute: runs at once, answers when done. */
static enum MHD_Result server_nadoo_execute(struct req_ctx *c)
{
    struct server *s = c->srv;
    struct job_req req;
    enum codefmt_kind kind = CODEFMT_RAW;
    enum MHD_Result res;
    struct dcall *dc;
    char *code = NULL;
    size_t code_len = 0;

    if (!server_nadoo_read(c, &req, &code, &code_len, &kind, &res))
        return res;
    c->dialect = SERVER_NADOO;
    c->code_format = codefmt_kind_name(kind);
    dc = server_nadoo_call(c, &req, code, code_len, server_exec_done, c);
    job_req_done(&req);
    free(code);
    if (!dc)
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    atomic_fetch_add(&s->executions, 1);
    if (dispatch_submit(s->d, dc) < 0) {
        dcall_free(dc);
        return server_error(c, SERR_SHUTTING_DOWN, NULL, "the orchestrator is shutting down");
    }
    return server_wait(c);
}

/* POST /api/v1/execute/async: a job (jobs.c), polled with GET /api/v1/status/{id}. */
static enum MHD_Result server_nadoo_async(struct req_ctx *c)
{
    struct server *s = c->srv;
    struct job_req req;
    enum codefmt_kind kind = CODEFMT_RAW;
    enum MHD_Result res;
    char *code = NULL, id[REQID_LEN + 1];
    size_t code_len = 0;
    struct err e = {0};
    int r;

    if (!server_nadoo_read(c, &req, &code, &code_len, &kind, &res))
        return res;
    r = jobs_submit_take(s->jobs, &req, code, code_len, codefmt_kind_name(kind), c->req_id, id, &e);
    if (r < 0)
        return server_error(c, SERR_BUSY, NULL, "%s", e.msg);
    log_msg(LOG_DEBUG, c->req_id, "execution %s queued", id);
    return server_send(c, MHD_HTTP_ACCEPTED,
                       json_pack("{s:s, s:s}", "execution_id", id, "status", "queued"));
}

/* GET /api/v1/status/{id}. */
static enum MHD_Result server_nadoo_status(struct req_ctx *c, const char *id)
{
    json_t *job = NULL, *o;
    int r = jobs_get_json(c->srv->jobs, id, JOBS_VIEW_LOGS, &job);

    if (r == -ENOENT)
        return server_error(c, SERR_NOT_FOUND, "execution_id",
                            "no execution '%s' (only asynchronous executions are kept)", id);
    if (r < 0)
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    o = nadoo_job_view(job);
    json_decref(job);
    if (!o)
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    return server_send(c, MHD_HTTP_OK, o);
}

/* One POST /api/v1/batch in flight: every entry runs at once through the dispatcher; the last
 * to finish answers. */
struct server_batch;

struct server_batch_item {
    struct server_batch *b;
    size_t i;
};

struct server_batch {
    struct req_ctx *c;
    pthread_mutex_t lock; /* guards results and left */
    json_t *results;      /* array of n replies (null until each is in) */
    size_t left;          /* entries still running */
    char langs[NADOO_BATCH_MAX][LANG_NAME_MAX];
    struct server_batch_item items[NADOO_BATCH_MAX];
};

/* Stores entry i's reply (taken; NULL = OOM) and answers once all are in. Any thread. */
static void server_batch_put(struct server_batch *b, size_t i, json_t *reply)
{
    bool last;

    pthread_mutex_lock(&b->lock);
    json_array_set_new(b->results, i, reply ? reply : nadoo_failure(b->langs[i], "out of memory"));
    last = --b->left == 0;
    pthread_mutex_unlock(&b->lock);
    if (!last)
        return;
    {
        json_t *o = json_pack("{s:O}", "results", b->results);
        struct req_ctx *c = b->c;

        json_decref(b->results);
        pthread_mutex_destroy(&b->lock);
        free(b);
        if (o)
            server_complete(c, MHD_HTTP_OK, o);
        else
            server_complete(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                            server_error_body(c, SERR_BUSY, NULL, "out of memory, retry"));
    }
}

/* One batch entry is over (upstream loop thread). */
static void server_batch_done(struct dcall *dc)
{
    struct server_batch_item *it = dc->arg;
    struct server_batch *b = it->b;
    char msg[480], code[48], amsg[400], field[48];
    json_t *reply = NULL;

    if (dc->outcome == DCALL_OK && dc->status == 200) {
        json_t *res = json_loadb(dc->resp ? dc->resp : "", dc->resp_len, 0, NULL);

        if (json_is_object(res))
            reply = nadoo_reply(res);
        else
            reply = nadoo_failure(b->langs[it->i], "the agent answered a result we cannot read");
        json_decref(res);
    } else if (dc->outcome == DCALL_OK) {
        server_agent_error(dc, code, sizeof(code), amsg, sizeof(amsg), field, sizeof(field));
        strx_printf(msg, sizeof(msg), "agent %s answered HTTP %ld%s%s", dc->agent_url, dc->status,
                    amsg[0] ? ": " : "", amsg);
        reply = nadoo_failure(b->langs[it->i], msg);
    } else {
        reply = nadoo_failure(b->langs[it->i], dc->err);
    }
    dcall_free(dc);
    server_batch_put(b, it->i, reply);
}

/* POST /api/v1/batch. */
static enum MHD_Result server_nadoo_batch(struct req_ctx *c)
{
    struct server *s = c->srv;
    struct job_req reqs[NADOO_BATCH_MAX];
    char *codes[NADOO_BATCH_MAX];
    size_t lens[NADOO_BATCH_MAX];
    enum codefmt_kind kinds[NADOO_BATCH_MAX];
    struct dcall *calls[NADOO_BATCH_MAX] = {NULL};
    struct server_batch *b = NULL;
    enum MHD_Result res;
    struct err e = {0};
    size_t n = 0, i;
    bool ok = true;
    int r;

    if (c->too_large)
        return server_error(c, SERR_TOO_LARGE, "body", "request body exceeds %u bytes",
                            SERVER_MAX_BODY);
    r = nadoo_batch_parse(c->body.data ? c->body.data : "", c->body.len, s->cfg->max_timeout, reqs,
                          &n, &e);
    if (server_nadoo_bad(c, r, &e, &res))
        return res;
    if (!server_nadoo_prepare(c, reqs, n, true, codes, lens, kinds, &res)) {
        for (i = 0; i < n; i++)
            job_req_done(&reqs[i]);
        return res;
    }
    b = calloc(1, sizeof(*b));
    if (b && !(b->results = json_array()))
        ok = false;
    for (i = 0; b && ok && i < n; i++) {
        b->items[i].b = b;
        b->items[i].i = i;
        strx_copy(b->langs[i], sizeof(b->langs[i]), reqs[i].language);
        calls[i] =
            server_nadoo_call(c, &reqs[i], codes[i], lens[i], server_batch_done, &b->items[i]);
        if (!calls[i] || json_array_append_new(b->results, json_null()) < 0)
            ok = false;
    }
    for (i = 0; i < n; i++) {
        job_req_done(&reqs[i]);
        free(codes[i]);
    }
    if (!b || !ok) {
        for (i = 0; i < n; i++)
            dcall_free(calls[i]);
        if (b)
            json_decref(b->results);
        free(b);
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    }
    b->c = c;
    b->left = n;
    pthread_mutex_init(&b->lock, NULL);
    atomic_fetch_add(&s->executions, n);
    /* Set before the first submit: the last callback may answer before server_wait runs. */
    c->waiting = true;
    for (i = 0; i < n; i++) {
        if (dispatch_submit(s->d, calls[i]) < 0) {
            dcall_free(calls[i]);
            server_batch_put(b, i, nadoo_failure(b->langs[i], "the orchestrator is shutting down"));
        }
    }
    return server_wait(c);
}

/* GET /api/v1/languages. */
static enum MHD_Result server_nadoo_languages(struct req_ctx *c)
{
    json_t *langs = registry_languages_detail_json(c->srv->reg);

    if (!langs)
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    return server_send(
        c, MHD_HTTP_OK,
        json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(langs), "languages", langs));
}

/* GET /api/v1/language/{name}/info. */
static enum MHD_Result server_nadoo_language(struct req_ctx *c, const char *name)
{
    char canon[LANG_NAME_MAX];
    json_t *o = NULL;
    bool oom = false;

    if (lang_canon(name, strlen(name), canon, NULL) == 0)
        o = registry_language_json(c->srv->reg, canon, &oom);
    if (oom)
        return server_error(c, SERR_BUSY, NULL, "out of memory, retry");
    if (!o)
        return server_error(c, SERR_NOT_FOUND, "language",
                            "unknown language '%.40s': no agent serves it", name);
    return server_send(c, MHD_HTTP_OK, o);
}

/* GET /api/v1/health. */
static enum MHD_Result server_nadoo_health(struct req_ctx *c)
{
    struct server *s = c->srv;
    json_t *langs = registry_languages_json(s->reg);
    int up = 0, total = 0;

    registry_counts(s->reg, &up, &total);
    return server_send(c, MHD_HTTP_OK,
                       json_pack("{s:s, s:s, s:s, s:f, s:i, s:i, s:o, s:b}", "status",
                                 up == total && total > 0 ? "healthy"
                                 : up > 0                 ? "degraded"
                                                          : "unhealthy",
                                 "service", "sandpit-orchestrator", "version", SERVER_VERSION,
                                 "uptime_s", (double)(clock_mono_ns() - s->started_ns) / 1e9,
                                 "agents_up", up, "agents_total", total, "languages",
                                 langs ? langs : json_array(), "auth_required", s->keys->n > 0));
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
        json_pack("{s:s, s:s, s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]}", "service",
                  "sandpit-orchestrator", "version", SERVER_VERSION, "endpoints",
                  "POST /execute {generated_code, timeout, language, scenario}", "GET /health",
                  "GET /languages", "GET /metrics", "POST /api/run {language, code, scenario}",
                  "GET /api/status/{jobId}", "GET /api/logs/{jobId}",
                  "GET /api/jobs?status=&limit=", "POST /api/cancel/{jobId}",
                  "POST /api/v1/execute {code, language, timeout, stdin, env, scenario}",
                  "POST /api/v1/execute/async", "GET /api/v1/status/{execution_id}",
                  "POST /api/v1/batch {executions: [...]}", "GET /api/v1/languages",
                  "GET /api/v1/language/{name}/info", "GET /api/v1/health", "GET /"));
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

    /* The /api/v1 family (but its health check, for load balancers) wants a key when keys
     * are configured; unknown /api/v1 paths too, so they reveal nothing. */
    if (route_is_v1(url, strlen(url)) && m.id != ROUTE_V1_HEALTH &&
        !nadoo_keys_check(c->srv->keys,
                          MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "X-API-Key"))) {
        bool given = MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, "X-API-Key") != NULL;

        log_msg(LOG_INFO, c->req_id, "%s X-API-Key on %.16s %.100s", given ? "wrong" : "no", method,
                url);
        return server_error(c, SERR_UNAUTHORIZED, "X-API-Key",
                            given ? "the X-API-Key header does not hold a valid key"
                                  : "missing X-API-Key header (this server requires an API key)");
    }
    if (r == -ENOENT)
        return server_error(c, SERR_NOT_FOUND, NULL, "no such endpoint: %.16s %.200s", method, url);
    if (r == -EINVAL && m.id == ROUTE_V1_STATUS)
        return server_error(c, SERR_NOT_FOUND, "execution_id",
                            "no execution '%s' (execution ids are UUIDs)", m.arg);
    if (r == -EINVAL && m.id == ROUTE_V1_LANG)
        return server_error(c, SERR_NOT_FOUND, "language", "unknown language '%s'", m.arg);
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
    case ROUTE_V1_EXECUTE:
        return server_nadoo_execute(c);
    case ROUTE_V1_ASYNC:
        return server_nadoo_async(c);
    case ROUTE_V1_STATUS:
        return server_nadoo_status(c, m.arg);
    case ROUTE_V1_BATCH:
        return server_nadoo_batch(c);
    case ROUTE_V1_LANGS:
        return server_nadoo_languages(c);
    case ROUTE_V1_LANG:
        return server_nadoo_language(c, m.arg);
    case ROUTE_V1_HEALTH:
        return server_nadoo_health(c);
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
    buf_done(&c->body);
    free(c);
    *con_cls = NULL;
}

struct server *server_new(const struct orch_cfg *cfg, struct registry *reg, struct dispatch *d,
                          struct jobs *jobs, const struct nadoo_keys *keys, struct err *e)
{
    struct server *s = calloc(1, sizeof(*s));

    if (!s) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    s->listen_fd = -1;
    s->cfg = cfg;
    s->reg = reg;
    s->d = d;
    s->jobs = jobs;
    s->keys = keys;
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
    if (s && s->listen_fd < 0)
        s->listen_fd = http_reply_daemon_quiesce(s->daemon);
}

void server_free(struct server *s)
{
    if (!s)
        return;
    http_reply_daemon_stop(s->daemon, s->listen_fd);
    free(s);
}
