/* exec_sse.c - an execution streamed as server-sent events: a pull producer for http_stream that
 * reads the execution's captured output through a cursor (exec_mgr_live_read) each time the I/O
 * thread's watcher wakes the stream. It keeps one read's bytes at a time, so a slow client costs
 * at most that read (the rest waits in the output the execution keeps anyway, capped by
 * --max-output) and never slows the program. */
#include "exec_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "http_stream.h"
#include "json_out.h"

/* One output stream's bytes read but not yet sent. */
struct exec_sse_pend {
    const char *name; /* "stdout", "stderr" */
    struct buf b;     /* bytes from off on are unsent */
    size_t off;
    bool cut;    /* --max-output cut the stream: later bytes were dropped */
    bool marked; /* its truncated event went out */
};

struct exec_sse {
    struct exec_mgr *m;
    struct exec *ex; /* a reference */
    struct http_stream *s;
    char session_id[64]; /* "" for /execute */
    struct exec_cursor cur;
    struct exec_sse_pend out, err;
    bool started; /* the start event went out */
    bool done;    /* a read saw the execution finished: the pending bytes are the last */
    bool failed;  /* out of memory: the stream ended early */
};

/* The watcher (manager lock held): only wakes the stream. */
static void exec_sse_on_output(void *arg)
{
    struct exec_sse *q = arg;

    http_stream_wake(q->s);
}

/* Moves n new bytes into p. 0 or -ENOMEM. */
static int exec_sse_pend_add(struct exec_sse_pend *p, const char *data, size_t n, bool cut)
{
    p->cut = p->cut || cut;
    if (p->off == p->b.len) {
        p->b.len = 0;
        p->off = 0;
    }
    return n ? buf_append(&p->b, data, n) : 0;
}

/* Sends one chunk of p, or its truncated marker once all is sent. True when something went. */
static bool exec_sse_pend_send(struct exec_sse *q, struct exec_sse_pend *p)
{
    size_t used = 0;
    char data[64];
    int n;

    if (p->off < p->b.len) {
        /* A character cut at the end waits for its next bytes, unless none can come. */
        if (http_stream_text(q->s, p->name, p->b.data + p->off, p->b.len - p->off,
                             q->done || p->cut, &used) < 0)
            q->failed = true;
        p->off += used;
        if (used > 0 || q->failed)
            return true;
    }
    if (p->cut && !p->marked && p->off == p->b.len) {
        p->marked = true;
        n = snprintf(data, sizeof(data), "{\"stream\":\"%s\",\"kept_bytes\":%zu}", p->name,
                     p == &q->out ? q->cur.out : q->cur.err);
        if (http_stream_event(q->s, "truncated", data, (size_t)n) < 0)
            q->failed = true;
        return true;
    }
    return false;
}

/* Takes what came since the last read. True when there was anything (or the end). */
static bool exec_sse_read(struct exec_sse *q)
{
    struct exec_live l;
    bool any;

    if (exec_mgr_live_read(q->m, q->ex, &q->cur, &l) < 0) {
        q->failed = true;
        return true;
    }
    if (exec_sse_pend_add(&q->out, l.out, l.out_len, l.out_cut) < 0 ||
        exec_sse_pend_add(&q->err, l.err, l.err_len, l.err_cut) < 0)
        q->failed = true;
    any = l.out_len || l.err_len || l.done || (l.out_cut && !q->out.marked) ||
          (l.err_cut && !q->err.marked);
    q->done = l.done;
    exec_live_done(&l);
    return any;
}

/* {"error": {code, message, execution_id, session_id?}} as an error event. */
static void exec_sse_error(struct exec_sse *q, int code, const char *msg)
{
    json_t *o = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", err_name(code), "message", msg,
                          "execution_id", exec_id(q->ex));
    size_t len = 0;
    char *text;

    if (o && q->session_id[0])
        json_object_set_new(json_object_get(o, "error"), "session_id", json_string(q->session_id));
    text = json_out_dumps(o, 0, &len);
    if (text)
        (void)http_stream_event(q->s, "error", text, len);
    free(text);
    json_decref(o);
}

/* The end: each display item, the result, the end event. */
static void exec_sse_finish(struct exec_sse *q)
{
    size_t len = 0, ilen = 0;
    char *text = NULL, *item, end[96];
    json_t *root = NULL, *v;
    size_t i;
    int n;

    if (exec_lost_zygote(q->ex)) {
        exec_sse_error(q, q->session_id[0] ? ERR_GONE : ERR_ZYGOTE_DIED,
                       "the Python zygote died during this execution");
        goto end;
    }
    text = exec_result_text(q->m, q->ex, true, &len);
    root = text ? json_loadb(text, len, JSON_ALLOW_NUL, NULL) : NULL; /* stdout may hold NUL */
    if (!root) {
        exec_sse_error(q, ERR_BUSY, "out of memory building the result, retry");
        goto end;
    }
    /* outputs come with the result frame: they are sent after the program's end. */
    json_array_foreach(json_object_get(root, "outputs"), i, v)
    {
        item = json_out_dumps(v, 0, &ilen);
        if (item)
            (void)http_stream_event(q->s, "display", item, ilen);
        free(item);
    }
    (void)http_stream_event(q->s, "result", text, len);
end:
    n = snprintf(end, sizeof(end), "{\"execution_id\":\"%s\"}", exec_id(q->ex));
    (void)http_stream_event(q->s, "end", end, (size_t)n);
    http_stream_end(q->s);
    json_decref(root);
    free(text);
}

/* http_stream's pull: one piece per call, so the queue holds one chunk at a time. */
static void exec_sse_pull(void *arg, struct http_stream *s)
{
    struct exec_sse *q = arg;
    char start[160];
    int n;

    (void)s;
    if (!q->started) {
        q->started = true;
        n = snprintf(start, sizeof(start), "{\"execution_id\":\"%s\"%s%s%s}", exec_id(q->ex),
                     q->session_id[0] ? ",\"session_id\":\"" : "", q->session_id,
                     q->session_id[0] ? "\"" : "");
        (void)http_stream_event(q->s, "start", start, (size_t)n);
        return;
    }
    /* Ends: each read brings bytes to send, the end, or nothing. */
    while (!q->failed) {
        if (exec_sse_pend_send(q, &q->out) || exec_sse_pend_send(q, &q->err))
            break;
        if (q->done) {
            exec_sse_finish(q);
            return;
        }
        if (!exec_sse_read(q))
            return; /* nothing new: the stream sleeps until the watcher wakes it */
    }
    if (q->failed) {
        exec_sse_error(q, ERR_BUSY, "out of memory streaming the output; the execution goes on");
        http_stream_end(q->s);
    }
}

/* The client is gone or the end was sent: no more wakes, then the reference goes. The
 * execution itself is untouched. */
static void exec_sse_close(void *arg)
{
    struct exec_sse *q = arg;

    exec_mgr_unwatch(q->m, q->ex, q);
    exec_unref(q->ex);
    buf_done(&q->out.b);
    buf_done(&q->err.b);
    free(q);
}

static const struct http_stream_ops exec_sse_ops = {.pull = exec_sse_pull, .close = exec_sse_close};

enum MHD_Result exec_sse_start(struct exec_mgr *m, struct http_req *r, struct exec *ex,
                               const char *session_id, long keepalive_ms)
{
    struct exec_sse *q = calloc(1, sizeof(*q));
    enum MHD_Result res;

    if (!q)
        return http_req_json_take(r, 0, NULL); /* 503 */
    q->m = m;
    q->ex = ex;
    exec_ref(ex);
    snprintf(q->session_id, sizeof(q->session_id), "%s", session_id ? session_id : "");
    q->out.name = "stdout";
    q->err.name = "stderr";
    buf_init(&q->out.b, 0);
    buf_init(&q->err.b, 0);
    res = http_stream_start(r, &exec_sse_ops, q, keepalive_ms, &q->s);
    /* On failure q is gone (closed by http_stream_start). The pull runs on this thread only
     * after we return, so the watcher can go in now; a finished ex needs none. */
    if (res == MHD_YES)
        (void)exec_mgr_watch(m, ex, exec_sse_on_output, q);
    return res;
}
