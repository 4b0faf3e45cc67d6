/* api_follow.c - GET /api/logs/{id}?follow=1: a job's log lines as server-sent events until it
 * ends. The job lives in the orchestrator (jobs.c), so a timer on the upstream loop looks at it
 * every API_FOLLOW_MS and sends what was added; the stream is a push producer of http_stream.
 * While the job runs, its output so far is read from the agent that runs it (GET
 * /execution/{id}, at most one read in flight per follower) and its new bytes are sent as
 * stdout and stderr events, the agent's shape; the full output comes again in the result. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api_sse.h"
#include "http_stream.h"
#include "ids.h"
#include "jobs.h"
#include "json_out.h"
#include "upstream.h"

struct api_follow {
    pthread_mutex_t lock;
    int refs;            /* guarded by lock: the stream's and the timer's */
    struct jobs *jobs;   /* borrowed */
    struct upstream *up; /* borrowed */
    char id[IDS_UUID_LEN + 1];
    int owner;
    struct http_stream *s;     /* guarded by lock: NULL once our client is gone */
    size_t sent;               /* log lines sent (timer only) */
    bool reading;              /* a read of the agent's output is in flight (loop thread) */
    bool ended;                /* guarded by lock: the end was sent, nothing more goes out */
    size_t out_sent, err_sent; /* bytes of stdout, stderr sent (loop thread) */
};

static void api_follow_unref(struct api_follow *f)
{
    int left;

    pthread_mutex_lock(&f->lock);
    left = --f->refs;
    pthread_mutex_unlock(&f->lock);
    if (left)
        return;
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* Sends v (borrowed) as an event. f->lock held, f->s set. */
static void api_follow_event(struct api_follow *f, const char *name, const json_t *v)
{
    size_t len = 0;
    char *text = json_out_dumps(v, 0, &len);

    if (text)
        (void)http_stream_event(f->s, name, text, len);
    free(text);
}

/* Sends view's new log lines, and at the job's end its result and the end. f->lock held.
 * Returns true when the stream is over. */
static bool api_follow_send(struct api_follow *f, json_t *view)
{
    json_t *logs = json_object_get(view, "logs");
    const char *st = json_string_value(json_object_get(view, "status"));
    bool over;

    for (; f->sent < json_array_size(logs); f->sent++) {
        json_t *ev = json_pack("{s:O, s:I}", "line", json_array_get(logs, f->sent), "index",
                               (json_int_t)f->sent);

        api_follow_event(f, "log", ev);
        json_decref(ev);
    }
    over = !view ||
           (st && (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled")));
    if (over && view)
        api_follow_event(f, "result", view);
    if (over) {
        char end[80];
        int n = snprintf(end, sizeof(end), "{\"jobId\":\"%s\"}", f->id);

        (void)http_stream_event(f->s, "end", end, (size_t)n);
        http_stream_end(f->s);
        f->ended = true;
    }
    return over;
}

/* Sends the bytes of stream `name` (a string of res) past *sent. f->lock held, f->s set. */
static void api_follow_output(struct api_follow *f, json_t *res, const char *name, size_t *sent)
{
    json_t *v = json_object_get(res, name);
    const char *p = json_string_value(v);
    size_t n = json_string_length(v), used = 0;

    while (p && *sent < n && http_stream_text(f->s, name, p + *sent, n - *sent, true, &used) == 0 &&
           used > 0)
        *sent += used;
}

/* The agent's answer to a read of the running job's output (loop thread). */
static void api_follow_read_done(void *arg, struct upstream_resp *r)
{
    struct api_follow *f = arg;
    json_t *res = r->status == 200 ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;

    pthread_mutex_lock(&f->lock);
    f->reading = false;
    if (f->s && !f->ended && res) {
        api_follow_output(f, res, "stdout", &f->out_sent);
        api_follow_output(f, res, "stderr", &f->err_sent);
    }
    pthread_mutex_unlock(&f->lock);
    json_decref(res);
    api_follow_unref(f);
}

/* Starts a read of the running job's output from its agent, unless one is in flight or the
 * job has not reached an agent yet. Loop thread. */
static void api_follow_read(struct api_follow *f)
{
    json_t *st = NULL;
    const char *exec_id, *agent;
    char url[1024];
    struct upstream_req req = {.method = "GET", .url = url, .timeout_ms = 5000};

    if (f->reading || jobs_get_json(f->jobs, f->id, f->owner, JOBS_VIEW_STATUS, &st) < 0)
        return;
    exec_id = json_string_value(json_object_get(st, "executionId"));
    agent = json_string_value(json_object_get(st, "agent"));
    if (exec_id && agent && *exec_id && *agent &&
        snprintf(url, sizeof(url), "%s/execution/%s", agent, exec_id) < (int)sizeof(url)) {
        pthread_mutex_lock(&f->lock);
        f->refs++; /* the read's */
        pthread_mutex_unlock(&f->lock);
        f->reading = true;
        if (upstream_fetch(f->up, &req, api_follow_read_done, f) < 0) {
            f->reading = false;
            api_follow_unref(f);
        }
    }
    json_decref(st);
}

/* The timer (upstream loop thread): looks at the job, sends, and comes back unless over. */
static void api_follow_tick(void *arg)
{
    struct api_follow *f = arg;
    json_t *view = NULL;
    bool over = true;

    if (jobs_get_json(f->jobs, f->id, f->owner, JOBS_VIEW_LOGS, &view) < 0)
        view = NULL; /* evicted meanwhile: the end */
    pthread_mutex_lock(&f->lock);
    if (f->s)
        over = api_follow_send(f, view) || upstream_stopping(f->up);
    if (over && f->s && upstream_stopping(f->up))
        http_stream_end(f->s);
    pthread_mutex_unlock(&f->lock);
    if (!over && json_is_string(json_object_get(view, "status")) &&
        !strcmp(json_string_value(json_object_get(view, "status")), "running"))
        api_follow_read(f);
    json_decref(view);
    if (over || upstream_after(f->up, API_FOLLOW_MS, api_follow_tick, f) < 0)
        api_follow_unref(f);
}

static void api_follow_close(void *arg)
{
    struct api_follow *f = arg;

    pthread_mutex_lock(&f->lock);
    f->s = NULL;
    pthread_mutex_unlock(&f->lock);
    api_follow_unref(f);
}

static const struct http_stream_ops api_follow_ops = {.close = api_follow_close};

enum MHD_Result api_follow_take(struct api *a, struct http_req *r, const char *id, json_t *first)
{
    struct api_follow *f = calloc(1, sizeof(*f));
    struct http_stream *s = NULL;
    enum MHD_Result res;
    long keepalive_ms;
    struct err e = {0};
    bool over;

    if (http_stream_wanted(r, &keepalive_ms, &e) < 0) {
        free(f);
        json_decref(first);
        return http_req_err(r, &e);
    }
    if (!f) {
        json_decref(first);
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    }
    pthread_mutex_init(&f->lock, NULL);
    f->refs = 1; /* the stream's */
    f->jobs = a->jobs;
    f->up = dispatch_upstream(a->d);
    f->owner = api_owner(a, r);
    snprintf(f->id, sizeof(f->id), "%s", id);
    res = http_stream_start(r, &api_follow_ops, f, keepalive_ms, &s);
    if (!s) {
        json_decref(first);
        return res; /* api_follow_close ran */
    }
    pthread_mutex_lock(&f->lock);
    f->s = s;
    over = api_follow_send(f, first);
    if (!over)
        f->refs++; /* the timer's */
    pthread_mutex_unlock(&f->lock);
    json_decref(first);
    /* The timer is armed on the loop thread (upstream_after is the loop's). */
    if (!over && upstream_post(f->up, api_follow_tick, f) < 0) {
        pthread_mutex_lock(&f->lock);
        if (f->s)
            http_stream_end(f->s);
        pthread_mutex_unlock(&f->lock);
        api_follow_unref(f);
    }
    return res;
}
