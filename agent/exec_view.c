/* exec_view.c - executions as clients see them: the result while pending, running or
 * finished (as a tree or encoded straight from what is kept), debug_info, the history's pages.
 * Locking as exec_mgr.c's (exec_mgr_int.h). */
#include "exec_mgr.h"
#include "exec_mgr_int.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "exec_result.h"
#include "json_out.h"

/* A pending or running execution as clients see it now (running: with the output so far,
 * bounded by the same caps): new reference, NULL on out of memory. Caller holds the lock. */
static json_t *exec_view_unfinished(struct exec *ex)
{
    struct exec_io_snapshot snap;
    json_t *o;

    o = exec_result_pending(ex->id, ex->req.language, ex->req.processor_id,
                            ex->state == EXEC_RUNNING,
                            ex->start_real_ns ? ex->start_real_ns : ex->created_real_ns);
    if (!o || ex->state != EXEC_RUNNING)
        return o;
    if (exec_io_streams_snapshot(&ex->io, &snap) < 0 ||
        exec_result_set_streams(o, &(struct exec_result_text){snap.out, snap.out_len, snap.out_cut},
                                &(struct exec_result_text){snap.err, snap.err_len, snap.err_cut}) <
            0) {
        json_decref(o);
        o = NULL;
    }
    exec_io_snapshot_done(&snap);
    return o;
}

json_t *exec_result(struct exec_mgr *m, struct exec *ex)
{
    json_t *r;

    pthread_mutex_lock(&m->lock);
    r = ex->state == EXEC_DONE ? json_copy(ex->result) : exec_view_unfinished(ex);
    pthread_mutex_unlock(&m->lock);
    return r;
}

char *exec_result_text(struct exec_mgr *m, struct exec *ex, bool full, size_t *len)
{
    struct exec_result_text out, err;
    struct buf b;
    json_t *v;
    char *text;

    if (!full || !exec_is_done(m, ex)) {
        v = exec_result(m, ex);
        text = json_out_dumps(v, 0, len);
        json_decref(v);
        return text;
    }
    /* Finished: fixed from now on, and ours while referenced, so encoded without the lock. */
    out = (struct exec_result_text){ex->io.out.data, ex->io.out.len, ex->io.out_cut};
    err = (struct exec_result_text){ex->io.err.data, ex->io.err.len, ex->io.err_cut};
    buf_init(&b, 0);
    if (exec_result_encode(ex->result, ex->extras, ex->extras_len, &out, &err, &b) < 0) {
        buf_done(&b);
        return NULL;
    }
    return buf_steal(&b, len);
}

json_t *exec_debug_info(struct exec_mgr *m, struct exec *ex)
{
    if (!exec_is_done(m, ex))
        return NULL;
    return exec_result_debug_info(ex->result, ex->extras, ex->extras_len);
}

struct exec_page {
    struct exec **out;        /* the page, new references */
    size_t n;                 /* in out */
    const char *processor_id; /* or NULL */
};

static bool exec_page_match(const struct store_node *n, void *arg)
{
    const struct exec_page *p = arg;
    const char *pid = EXEC_OF(n)->req.processor_id;

    return !p->processor_id || (pid && !strcmp(pid, p->processor_id));
}

/* Caller holds the lock. */
static void exec_page_visit(struct store_node *n, void *arg)
{
    struct exec_page *p = arg;
    struct exec *ex = EXEC_OF(n);

    exec_ref(ex);
    p->out[p->n++] = ex;
}

size_t exec_mgr_page(struct exec_mgr *m, size_t limit, size_t offset, const char *processor_id,
                     struct exec **out, size_t *total)
{
    struct exec_page p = {out, 0, processor_id};
    size_t seen;

    pthread_mutex_lock(&m->lock);
    seen = store_page(&m->store, offset, limit, exec_page_match, exec_page_visit, &p);
    pthread_mutex_unlock(&m->lock);
    if (total)
        *total = seen;
    return p.n;
}
