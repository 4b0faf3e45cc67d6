/* exec_live.c - live output of a running execution (exec_mgr.h "Live output"): watchers woken by
 * the I/O thread as bytes arrive, and readers with cursors into the captured streams. A reader
 * costs no memory of its own: it copies from the output the execution keeps anyway (capped by
 * --max-output), so a slow or absent one never holds more than that, nor slows the program. */
#include <stdlib.h>
#include <string.h>

#include "exec_mgr_int.h"

bool exec_mgr_watch(struct exec_mgr *m, struct exec *ex, exec_watch_fn fn, void *arg)
{
    bool added;

    pthread_mutex_lock(&m->lock);
    added = ex->state != EXEC_DONE && exec_waiters_add(&ex->watchers, fn, arg, 0) == 0;
    pthread_mutex_unlock(&m->lock);
    return added;
}

void exec_mgr_unwatch(struct exec_mgr *m, struct exec *ex, void *arg)
{
    pthread_mutex_lock(&m->lock);
    exec_waiters_remove(&ex->watchers, arg);
    pthread_mutex_unlock(&m->lock);
}

void exec_live_progress(struct exec_mgr *m, struct exec *ex)
{
    pthread_mutex_lock(&m->lock);
    exec_waiters_notify(ex->watchers);
    pthread_mutex_unlock(&m->lock);
}

int exec_mgr_live_read(struct exec_mgr *m, struct exec *ex, struct exec_cursor *cur,
                       struct exec_live *out)
{
    struct exec_io_snapshot snap;
    int r;

    memset(out, 0, sizeof(*out));
    /* Done is read first: output read after it is complete, since the streams were at EOF
     * before the execution was published. */
    out->done = exec_is_done(m, ex);
    if ((r = exec_io_streams_since(&ex->io, &cur->out, &cur->err, &snap)) < 0)
        return r;
    out->out = snap.out;
    out->err = snap.err;
    out->out_len = snap.out_len;
    out->err_len = snap.err_len;
    out->out_cut = snap.out_cut;
    out->err_cut = snap.err_cut;
    return 0;
}

void exec_live_done(struct exec_live *l)
{
    free(l->out);
    free(l->err);
    memset(l, 0, sizeof(*l));
}
