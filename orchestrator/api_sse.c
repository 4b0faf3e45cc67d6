/* api_sse.c - a synchronous run streamed as server-sent events: the agent's own event stream
 * (POST /execute with Accept: text/event-stream) passed through byte for byte.
 *
 * Until the agent answers, the request waits suspended as any run does; an agent error (400,
 * 503 ...) is then the dialect's JSON error as without streaming. Once the agent's 200
 * text/event-stream arrives the request is woken, starts an http_stream, and the upstream loop
 * pushes the agent's bytes into it. The queue between the two is bounded
 * (HTTP_STREAM_QUEUE_MAX): when our client is slower than the agent, the transfer is paused
 * (CURL_WRITEFUNC_PAUSE) until the queue drains to half, so the agent's socket fills and its own
 * stream waits: nothing grows here. A client that goes away aborts the transfer; the agent keeps
 * the execution running (its policy). */
#include "api_sse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"
#include "http_stream.h"
#include "ids.h"
#include "json_out.h"
#include "log.h"
#include "upstream.h"

enum api_sse_state {
    API_SSE_WAITING,   /* no event yet: the request is suspended */
    API_SSE_WOKEN,     /* the first bytes came: the request was woken to start the stream */
    API_SSE_STREAMING, /* s is up */
    API_SSE_CLOSED,    /* the stream is over (client gone or end sent) */
};

struct api_sse {
    pthread_mutex_t lock;
    int refs;              /* guarded by lock: the request, the call, the stream, tasks */
    struct upstream *up;   /* borrowed */
    struct http_req *r;    /* the loop touches it only while WAITING */
    long keepalive_ms;     /* our stream's */
    enum api_sse_state st; /* guarded by lock */
    struct http_stream *s; /* guarded by lock: while STREAMING */
    bool ended;            /* guarded by lock: the agent's transfer is over */
    char err[320];         /* guarded by lock: why it ended early, "" when it did not */
    bool paused_once;      /* guarded by lock: the first pause was logged */
    char req_id[IDS_UUID_LEN + 1];
    struct keys *keys; /* borrowed: key's keys_begin is given back when the call ends */
    int key;
};

static void api_sse_unref(struct api_sse *q)
{
    int left;

    pthread_mutex_lock(&q->lock);
    left = --q->refs;
    pthread_mutex_unlock(&q->lock);
    if (left)
        return;
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static void api_sse_unpause_task(void *arg)
{
    struct api_sse *q = arg;

    upstream_unpause(q->up, q);
    api_sse_unref(q);
}

/* Lets the loop take bytes again (any thread). */
static void api_sse_unpause(struct api_sse *q)
{
    pthread_mutex_lock(&q->lock);
    q->refs++;
    pthread_mutex_unlock(&q->lock);
    if (upstream_post(q->up, api_sse_unpause_task, q) < 0)
        api_sse_unref(q);
}

/* Ends s with an error event when the agent's stream broke off. q->lock held. */
static void api_sse_end_locked(struct api_sse *q)
{
    if (q->err[0]) {
        json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", err_name(ERR_AGENT_FAILED),
                              "message", q->err);
        size_t len = 0;
        char *text = json_out_dumps(o, 0, &len);

        if (text)
            (void)http_stream_event(q->s, "error", text, len);
        free(text);
        json_decref(o);
    }
    http_stream_end(q->s);
}

/* The agent's body (loop thread). */
static enum upstream_data api_sse_on_data(void *arg, long status, const char *ctype, const char *p,
                                          size_t n)
{
    struct api_sse *q = arg;
    enum upstream_data d = UPSTREAM_DATA_PAUSE;

    if (status != 200 || !ctype || strncmp(ctype, "text/event-stream", 17) != 0)
        return UPSTREAM_DATA_KEEP; /* an error reply: answered as JSON at the end */
    pthread_mutex_lock(&q->lock);
    switch (q->st) {
    case API_SSE_WAITING:
        q->st = API_SSE_WOKEN;
        http_req_wake(q->r); /* held until the stream is up, which unpauses */
        break;
    case API_SSE_WOKEN:
        break;
    case API_SSE_STREAMING:
        d = http_stream_push_raw(q->s, p, n) ? UPSTREAM_DATA_TAKEN : UPSTREAM_DATA_PAUSE;
        if (d == UPSTREAM_DATA_PAUSE && !q->paused_once) {
            q->paused_once = true;
            log_msg(LOG_DEBUG, q->req_id,
                    "stream: our client is slower than the agent, pausing "
                    "the agent's transfer until it catches up");
        }
        break;
    case API_SSE_CLOSED:
        d = UPSTREAM_DATA_ABORT;
        break;
    }
    pthread_mutex_unlock(&q->lock);
    return d;
}

/* The queue drained after a refused push (MHD thread). */
static void api_sse_drained(void *arg)
{
    api_sse_unpause(arg);
}

/* Our client is gone or the end went out (MHD thread). */
static void api_sse_close(void *arg)
{
    struct api_sse *q = arg;

    pthread_mutex_lock(&q->lock);
    q->st = API_SSE_CLOSED;
    q->s = NULL;
    pthread_mutex_unlock(&q->lock);
    api_sse_unpause(q); /* a paused transfer then aborts at once */
    api_sse_unref(q);
}

static const struct http_stream_ops api_sse_ops = {.drained = api_sse_drained,
                                                   .close = api_sse_close};

/* Woken by the first bytes (MHD thread): the stream starts, then the loop may push. */
static enum MHD_Result api_sse_resume(struct http_req *r)
{
    struct api_sse *q = http_req_data(r);
    struct http_stream *s = NULL;
    enum MHD_Result res;

    pthread_mutex_lock(&q->lock);
    q->refs++; /* the stream's */
    pthread_mutex_unlock(&q->lock);
    res = http_stream_start(r, &api_sse_ops, q, q->keepalive_ms, &s);
    if (!s)
        return res; /* api_sse_close ran */
    pthread_mutex_lock(&q->lock);
    if (q->st == API_SSE_WOKEN) {
        q->st = API_SSE_STREAMING;
        q->s = s;
        if (q->ended)
            api_sse_end_locked(q);
    }
    pthread_mutex_unlock(&q->lock);
    api_sse_unpause(q);
    return res;
}

/* The agent's transfer is over (loop thread). */
static void api_sse_done(struct dcall *dc)
{
    struct api_sse *q = dc->arg;
    struct err e = {0};
    json_t *res = NULL;
    bool waiting;

    pthread_mutex_lock(&q->lock);
    waiting = q->st == API_SSE_WAITING;
    q->ended = true;
    if (!waiting && q->st != API_SSE_CLOSED && (dc->outcome != DCALL_OK || dc->curl_code != 0))
        snprintf(q->err, sizeof(q->err), "the agent's stream broke off: %.280s",
                 dc->err[0] ? dc->err : "transfer failed");
    if (q->st == API_SSE_STREAMING)
        api_sse_end_locked(q);
    pthread_mutex_unlock(&q->lock);
    if (waiting) {
        /* No stream came: the agent's answer (an error, or a plain result) as JSON. */
        if (agent_client_result(dc, &res, &e) == 0)
            http_req_complete_take(q->r, MHD_HTTP_OK, res);
        else
            http_req_complete_take(q->r, err_http_status(e.code),
                                   http_req_error_body(q->r, e.code, e.field, e.msg));
    }
    if (q->err[0])
        log_msg(LOG_WARN, dc->req_id, "%s", q->err);
    keys_end(q->keys, q->key);
    dcall_free(dc);
    api_sse_unref(q);
}

static void api_sse_req_free(struct http_req *r, void *data)
{
    (void)r;
    api_sse_unref(data);
}

enum MHD_Result api_sse_run_take(struct api *a, struct http_req *r, const char *lang, json_t *body,
                                 double timeout, double delay_s, const char *sticky,
                                 long keepalive_ms, int key)
{
    struct api_sse *q = calloc(1, sizeof(*q));
    struct dcall *dc = NULL;

    if (q) {
        q->keys = a->keys;
        q->key = key;
        pthread_mutex_init(&q->lock, NULL);
        q->refs = 2; /* the request's and the call's */
        q->up = dispatch_upstream(a->d);
        q->r = r;
        q->keepalive_ms = keepalive_ms;
        snprintf(q->req_id, sizeof(q->req_id), "%s", http_req_id(r));
        http_req_set_data(r, q, api_sse_req_free);
        dc = agent_client_execute(a->cfg, lang, body, timeout, delay_s, http_req_id(r),
                                  api_sse_done, q);
    }
    if (!dc) {
        keys_end(a->keys, key);
        if (q)
            api_sse_unref(q); /* the call's */
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    }
    /* Events already sent cannot be taken back: no second agent after a failure. */
    dc->retry = false;
    dc->on_data = api_sse_on_data;
    dc->data_arg = q;
    snprintf(dc->path, sizeof(dc->path), "/execute?keepalive=%ld", (keepalive_ms + 999) / 1000);
    if (sticky)
        snprintf(dc->sticky, sizeof(dc->sticky), "%s", sticky);
    atomic_fetch_add(&a->executions, 1);
    if (dispatch_submit(a->d, dc) < 0) {
        keys_end(a->keys, key);
        dcall_free(dc);
        api_sse_unref(q);
        return http_req_error(r, ERR_SHUTTING_DOWN, NULL, "the orchestrator is shutting down");
    }
    return http_req_suspend(r, api_sse_resume);
}
