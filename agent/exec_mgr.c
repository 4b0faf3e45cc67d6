/* exec_mgr.c - execution lifecycle on the server side: submit, the queue, start, waiters,
 * cancel, listings and counters. The id table and history are a common/store, the result is
 * built by exec_result.c, the pipes are drained by exec_io.c's thread.
 *
 * Locking: m->lock guards the store, the queue, the counters, every exec's state and waiter.
 * The I/O thread alone touches a running exec's fds and buffers, so reading output needs no
 * lock; the result is published under the lock when the exec becomes DONE. */
#include "exec_mgr.h"
#include "exec_mgr_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "exec_gone.h"
#include "exec_io.h"
#include "exec_result.h"
#include "exec_waiters.h"
#include "fdio.h"
#include "ids.h"
#include "json_out.h"
#include "log.h"
#include "proxy.h"
#include "runtime.h"
#include "scenario_apply.h"
#include "store.h"
#include "zyg_proto.h"

uint64_t exec_seq(const struct exec *ex)
{
    return ex->seq;
}

const char *exec_id(const struct exec *ex)
{
    return ex->id;
}

bool exec_lost_zygote(const struct exec *ex)
{
    return ex->lost_zygote;
}

void exec_ref(struct exec *ex)
{
    atomic_fetch_add(&ex->refs, 1);
}

static void exec_free(struct exec *ex)
{
    exec_waiters_clear(&ex->waiters, false);
    exec_waiters_clear(&ex->watchers, false);
    exec_io_streams_done(&ex->io);
    exec_req_done(&ex->req);
    exec_files_free(ex->files);
    fdio_close(&ex->files_root);
    json_decref(ex->result);
    free(ex->extras);
    json_decref(ex->warnings);
    json_decref(ex->network);
    free(ex);
}

void exec_unref(struct exec *ex)
{
    if (ex && atomic_fetch_sub(&ex->refs, 1) == 1)
        exec_free(ex);
}

/* The store's callbacks; called with m->lock held. */
static bool exec_store_may_evict(const struct store_node *n)
{
    return EXEC_OF(n)->state == EXEC_DONE;
}

static void exec_store_release(struct store_node *n)
{
    exec_unref(EXEC_OF(n));
}

static const struct store_ops exec_store_ops = {exec_store_may_evict, exec_store_release};

struct exec *exec_mgr_find(struct exec_mgr *m, const char *id)
{
    struct store_node *n;
    struct exec *ex = NULL;

    pthread_mutex_lock(&m->lock);
    if ((n = store_find(&m->store, id))) {
        ex = EXEC_OF(n);
        exec_ref(ex);
    }
    pthread_mutex_unlock(&m->lock);
    return ex;
}

bool exec_is_done(struct exec_mgr *m, struct exec *ex)
{
    bool d;

    pthread_mutex_lock(&m->lock);
    d = ex->state == EXEC_DONE;
    pthread_mutex_unlock(&m->lock);
    return d;
}

static void exec_mgr_start_queued(struct exec_mgr *m);

/* store_evict_if's pick: the oldest finished results go while more than --history of them or
 * more than --history-bytes are kept; the one being published stays even when it alone is over
 * the budget (its client is being answered). Remembers each evicted id. Lock held. */
static enum store_pick exec_mgr_pick(const struct store_node *n, void *arg)
{
    struct exec_mgr *m = arg;
    const struct exec *ex = EXEC_OF(n);

    if (m->done_listed <= (size_t)m->cfg->history && m->done_bytes <= (size_t)m->cfg->history_bytes)
        return STORE_STOP;
    if (ex == m->keep)
        return STORE_KEEP;
    m->done_listed--;
    m->done_bytes -= ex->kept_bytes;
    m->n_evicted++;
    exec_gone_add(&m->gone, ex->id);
    return STORE_EVICT;
}

/* Makes res the execution's answer and wakes every waiter. Caller holds the lock. */
static void exec_publish(struct exec_mgr *m, struct exec *ex, json_t *res)
{
    ex->result = res;
    ex->state = EXEC_DONE;
    /* Only what the kept result and the listing's filter read stays of the request. */
    exec_req_shed(&ex->req);
    m->done_listed++;
    m->done_bytes += ex->kept_bytes;
    exec_waiters_clear(&ex->waiters, true);
    exec_waiters_clear(&ex->watchers, true);
    m->keep = ex;
    (void)store_evict_if(&m->store, exec_mgr_pick, m);
    m->keep = NULL;
}

/* What the finished result keeps: its fields as a small JSON tree, the frame's parts as text
 * and the streams' raw bytes as captured (encoded only in each reply). Sets ex->extras and
 * ex->kept_bytes; res loses the frame's parts. */
static void exec_keep(struct exec *ex, json_t *res)
{
    size_t fields = 0;
    char *text;

    if (res && exec_result_detach(res, &ex->extras, &ex->extras_len) < 0)
        log_msg(LOG_WARN, ex->id, "out of memory: the result keeps its frame's parts as JSON");
    /* The tree of the remaining fields costs about twice their text. */
    if (res && (text = json_out_dumps(res, 0, &fields)))
        free(text);
    ex->kept_bytes =
        exec_io_streams_keep_output(&ex->io) + ex->extras_len + 2 * fields + EXEC_KEPT_OVERHEAD;
}

/* Ends the execution's proxy session (every connection of it closes) and keeps its counters. */
static void exec_proxy_close(struct exec_mgr *m, struct exec *ex)
{
    struct proxy_counters pc = {0};

    if (!ex->proxy_sid)
        return;
    if (proxy_session_close(m->proxy, ex->proxy_sid, &pc) == 0)
        ex->network = json_pack("{s:I, s:I, s:I, s:I, s:I}", "bytes_up", (json_int_t)pc.bytes_up,
                                "bytes_down", (json_int_t)pc.bytes_down, "connections",
                                (json_int_t)pc.connections, "denied", (json_int_t)pc.denied,
                                "failed", (json_int_t)pc.failed);
    ex->proxy_sid = 0;
}

/* Every stream is closed: the outcome, from the zygote's status record (exec_result.h).
 * Publishes it, counts it, frees the slot and starts the next queued execution.
 * Called on the I/O thread (or a submitter for queue-side cancels) without the lock. */
static void exec_finish(struct exec_mgr *m, struct exec *ex)
{
    struct zyg_status st;
    bool have = zyg_proto_decode_status(ex->io.status_rec, ex->io.status_len, &st) == 0;
    struct exec_result_outcome oc = {0};
    struct exec_result_in in = {
        .id = ex->id,
        .language = ex->req.language,
        .processor_id = ex->req.processor_id,
        .st = have ? &st : NULL,
        .cancel_requested = ex->cancel_requested,
        .shutting_down = m->stopping,
        .frame = ex->io.res.data,
        .frame_len = ex->io.res.len,
        .out = {ex->io.out.data, ex->io.out.len, ex->io.out_cut},
        .err = {ex->io.err.data, ex->io.err.len, ex->io.err_cut},
        .timeout_s = ex->req.timeout_s,
        .compile_ms = ex->compile_ms,
        .memory_mb = ex->memory_mb ? ex->memory_mb : m->cfg->memory_mb,
        .created_real_ns = ex->created_real_ns,
        .start_real_ns = ex->start_real_ns,
        .scenario = ex->req.scenario_json,
        .delay_ms = ex->req.scenario.delay_ms,
        .streams_apart = true,
    };
    bool released = false;
    json_t *res, *files = exec_mgr_files_end(m, ex); /* before a cell's session is idle again */

    ex->end_real_ns = in.end_real_ns = clock_real_ns();
    exec_proxy_close(m, ex);
    in.warnings = ex->warnings;
    in.network = ex->network;
    res = exec_result_build(&in, &oc);
    if (res && files)
        json_object_update(res, files);
    json_decref(files);
    if (res && ex->req.session_no) {
        json_object_set_new(res, "session_id", json_string(ex->req.session_id));
        json_object_set_new(res, "execution_count", json_integer(ex->req.execution_count));
    }
    if (ex->req.session_no && m->cell_end)
        m->cell_end(m->cell_end_arg, ex->req.session_id);
    if (res && ex->req.workspace[0])
        json_object_set_new(res, "workspace", json_string(ex->req.workspace));
    ex->lost_zygote = oc.lost_zygote;
    exec_metrics_observe(m, ex, oc.status);
    exec_keep(ex, res);
    pthread_mutex_lock(&m->lock);
    /* Before the client hears of it: its next call may delete the workspace. */
    if (ex->ws_used) {
        ws_mgr_done(m->ws, ex->req.workspace, ex->ws_running);
        released = released || ex->ws_running;
        ex->ws_used = ex->ws_running = false;
    }
    exec_publish(m, ex, res);
    if (ex->slot_held) {
        ex->slot_held = false;
        m->running--;
        released = true;
    }
    if (!strcmp(oc.status, "completed"))
        m->n_completed++;
    else if (!strcmp(oc.status, "timeout"))
        m->n_timeout++;
    else if (!strcmp(oc.status, "cancelled"))
        m->n_cancelled++;
    else
        m->n_failed++;
    if (ex->lost_zygote)
        m->n_lost++;
    pthread_mutex_unlock(&m->lock);
    if (released)
        exec_mgr_start_queued(m);
}

/* Hands the job and the child's fds to the zygote and watches our ends. 0 or -errno /
 * -ERR_UNAVAILABLE. */
static int exec_send(struct exec_mgr *m, struct exec *ex, struct zyg_job *job,
                     int child[ZYG_JOB_NFDS])
{
    int r;

    job->job_id = ex->seq;
    job->timeout_ms = (uint32_t)ceil(ex->req.timeout_s * 1000.0);
    snprintf(job->exec_id, sizeof(job->exec_id), "%s", ex->id);
    ex->start_real_ns = clock_real_ns();
    ex->start_mono_ns = clock_mono_ns();
    r = zyg_client_send_job(m->zc, job, child);
    if (r < 0)
        return r;
    /* The I/O thread owns a reference while the fds are watched; take it first, the
     * execution may finish before exec_io_watch returns. */
    exec_ref(ex);
    if ((r = exec_io_watch(m->io, &ex->io)) < 0) {
        /* The job is with the zygote: kill it and let the watched streams finish it. */
        log_errno(-r, ex->id, "epoll_ctl, cancelling the execution");
        (void)zyg_client_cancel(m->zc, ex->seq);
    }
    return 0;
}

/* Builds the execution's spec and scenario, creates its fds and sends it to the zygote.
 * Returns 0 or -errno / -ERR_UNAVAILABLE; on failure nothing stays registered. */
static int exec_start(struct exec_mgr *m, struct exec *ex)
{
    int child[ZYG_JOB_NFDS], r = 0;
    char workdir[512], *spec = NULL;
    size_t spec_len = 0;
    struct zyg_job job = {0};
    const struct runtime_def *rd;
    json_t *runtime = NULL;

    for (int i = 0; i < ZYG_JOB_NFDS; i++)
        child[i] = -1;
    (void)zyg_proto_workdir(m->cfg->work_dir, ex->req.session_no ? ex->req.session_id : ex->id,
                            workdir, sizeof(workdir));
    job.session_no = ex->req.session_no;
    ex->memory_mb = ex->req.session_memory_mb;
    rd = runtimes_find(m->rts, ex->req.language);
    if (rd && !runtime_is_embedded(rd)) {
        runtime = runtimes_spec(m->rts, rd, ex->req.code, ex->req.code_len, workdir);
        if (!runtime) {
            r = -ENOMEM;
            goto out;
        }
        job.flags |= ZYG_JOB_EXEC;
        job.compile_ms = ex->compile_ms = runtime_compile_ms(rd);
    }
    spec = exec_req_spec(&ex->req, ex->id, workdir, runtime, &spec_len);
    if (!spec) {
        r = -ENOMEM;
        goto out;
    }
    if (ex->req.scenario_json) {
        struct isolate_state iso;

        (void)zyg_client_isolation(m->zc, &iso); /* unknown: every layer off, saying why */
        ex->warnings = json_array();
        if (!ex->warnings) {
            r = -ENOMEM;
            goto out;
        }
        scenario_apply_job(&ex->req.scenario, m->cfg, &iso, &job, ex->warnings);
        ex->memory_mb = (long)job.memory_mb;
    }
    if (job.flags & ZYG_JOB_NETWORK) {
        struct proxy_conf pc;

        scenario_apply_proxy(&ex->req.scenario, &pc);
        if ((r = proxy_session_open(m->proxy, &pc, &ex->proxy_sid, &child[ZYG_FD_NET])) < 0) {
            log_errno(-r, ex->id, "cannot open a proxy session");
            goto out;
        }
    } else if ((child[ZYG_FD_NET] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        r = -errno;
        goto out;
    }
    if (ex->req.workspace[0]) {
        job.flags |= ZYG_JOB_WORKSPACE;
        if ((r = ws_mgr_uid_index(m->ws, ex->req.workspace)) < 0 ||
            (r = child[ZYG_FD_WS] = ws_mgr_fd(m->ws, ex->req.workspace)) < 0)
            goto out;
        job.ws_uid = (uint32_t)ws_mgr_uid_index(m->ws, ex->req.workspace);
    } else if ((child[ZYG_FD_WS] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
        r = -errno;
        goto out;
    }
    if ((r = exec_mgr_files_start(m, ex, &job, child)) < 0)
        goto out;
    if ((r = exec_io_child_fds(&ex->io, spec, spec_len, ex->req.stdin_data, ex->req.stdin_len,
                               ex->req.kernel_sock, child)) < 0)
        goto out;
    r = exec_send(m, ex, &job, child);
out:
    for (int i = 0; i < ZYG_JOB_NFDS; i++)
        fdio_close(&child[i]);
    if (r < 0) {
        exec_io_streams_done(&ex->io); /* nothing was read: only our ends to close */
        exec_proxy_close(m, ex);
        exec_mgr_files_release(m, ex);
    }
    json_decref(runtime);
    free(spec);
    return r;
}

/* May ex run now as far as its workspace goes (taking the workspace's run mark)? Lock held. */
static bool exec_ws_may_run(struct exec_mgr *m, struct exec *ex)
{
    if (!ex->req.workspace[0] || ex->ws_running)
        return true;
    return (ex->ws_running = ws_mgr_try_run(m->ws, ex->req.workspace));
}

/* Takes the first queued exec that may start (its workspace free), or NULL. Lock held. */
static struct exec *exec_mgr_dequeue(struct exec_mgr *m)
{
    struct exec **pp, *prev = NULL;

    for (pp = &m->qhead; *pp; prev = *pp, pp = &(*pp)->qnext) {
        struct exec *ex = *pp;

        if (!exec_ws_may_run(m, ex))
            continue;
        *pp = ex->qnext;
        if (m->qtail == ex)
            m->qtail = prev;
        m->queued--;
        return ex;
    }
    return NULL;
}

/* Starts queued execs while there is capacity. */
static void exec_mgr_start_queued(struct exec_mgr *m)
{
    for (;;) {
        struct exec *ex = NULL;
        int r;

        pthread_mutex_lock(&m->lock);
        if (m->running < (size_t)m->cfg->max_concurrent && !m->stopping)
            ex = exec_mgr_dequeue(m);
        if (!ex) {
            pthread_mutex_unlock(&m->lock);
            return;
        }
        ex->state = EXEC_RUNNING;
        ex->slot_held = true;
        m->running++;
        pthread_mutex_unlock(&m->lock);
        r = exec_start(m, ex);
        if (r < 0) {
            log_errno(-r, ex->id, "cannot start a queued execution");
            exec_finish(m, ex);
        }
        exec_unref(ex); /* the queue's reference */
    }
}

/* Gives back what exec_mgr_ws_use counted for ex, which did not start (or never ran). */
static void exec_mgr_ws_unuse(struct exec_mgr *m, struct exec *ex)
{
    if (ex->ws_used)
        ws_mgr_done(m->ws, ex->req.workspace, ex->ws_running);
    ex->ws_used = ex->ws_running = false;
}

/* A workspace for req: refused for a session's cell and without a mount namespace (the
 * workspace is bound inside it), else counted as used. 0 or -ERR_* with e. */
static int exec_mgr_ws_use(struct exec_mgr *m, const struct exec_req *req, struct err *e)
{
    struct isolate_state iso;

    if (req->session_no)
        return err_set(e, ERR_INVALID, "workspace",
                       "a session's cell works in the session's own workspace");
    if (!m->ws)
        return err_set(e, ERR_INVALID, "workspace", "workspaces are off on this agent");
    if (zyg_client_isolation(m->zc, &iso) == 0 && !isolate_state_has(&iso, ISOLATE_MOUNT_NS))
        return err_set(e, ERR_INVALID, "workspace",
                       "workspaces need the mount namespace layer, off on this agent: %s",
                       iso.reason[ISOLATE_MOUNT_NS]);
    return ws_mgr_use(m->ws, req->workspace, e);
}

int exec_mgr_submit_take(struct exec_mgr *m, struct exec_req *req, struct exec **out, struct err *e)
{
    struct exec *ex = calloc(1, sizeof(*ex));
    bool run_now = false;
    int r, code;

    if (!ex) {
        exec_req_done(req);
        return err_set(e, ENOMEM, "", "out of memory");
    }
    atomic_init(&ex->refs, 1);
    ex->files_root = ex->anon_uid = -1;
    ex->req = *req;
    memset(req, 0, sizeof(*req));
    exec_io_streams_init(&ex->io, (size_t)ex->req.max_output_bytes, EXEC_RESULT_MAX);
    ex->created_real_ns = clock_real_ns();
    if ((r = ids_uuid4(ex->id)) < 0) {
        exec_unref(ex);
        return err_set(e, ERR_UNAVAILABLE, "", "cannot create an execution id: %s", strerror(-r));
    }

    if (ex->req.workspace[0]) {
        r = exec_mgr_ws_use(m, &ex->req, e);
        /* Workspaces are off here: an optional one (the orchestrator's default) is dropped. */
        if (r == -ERR_INVALID && ex->req.workspace_optional) {
            ex->req.workspace[0] = '\0';
        } else if (r < 0) {
            exec_unref(ex);
            return r;
        } else {
            ex->ws_used = true;
        }
    }

    pthread_mutex_lock(&m->lock);
    if (m->stopping || m->draining) {
        pthread_mutex_unlock(&m->lock);
        exec_mgr_ws_unuse(m, ex);
        exec_unref(ex);
        return err_set(e, ERR_SHUTTING_DOWN, "",
                       "the agent is shutting down: it takes no new executions (retry on "
                       "another agent)");
    }
    if (ex->req.session_no) {
        run_now = true;
        ex->state = EXEC_RUNNING;
    } else if (m->running < (size_t)m->cfg->max_concurrent && !m->qhead && exec_ws_may_run(m, ex)) {
        run_now = true;
        ex->state = EXEC_RUNNING;
        ex->slot_held = true;
        m->running++;
    } else if (m->queued < (size_t)m->cfg->max_queue) {
        ex->state = EXEC_PENDING;
        exec_ref(ex); /* the queue's */
        if (m->qtail)
            m->qtail->qnext = ex;
        else
            m->qhead = ex;
        m->qtail = ex;
        m->queued++;
    } else {
        m->n_rejected++;
        pthread_mutex_unlock(&m->lock);
        exec_mgr_ws_unuse(m, ex);
        exec_unref(ex);
        return err_set(e, ERR_BUSY, "",
                       "all %ld execution slots and %ld queue places are taken; retry later",
                       m->cfg->max_concurrent, m->cfg->max_queue);
    }
    ex->seq = ++m->next_seq;
    exec_ref(ex); /* the store's */
    store_insert(&m->store, &ex->node, ex->id);
    pthread_mutex_unlock(&m->lock);
    /* Queued behind one that waits for its workspace, it may still start now. */
    if (!run_now)
        exec_mgr_start_queued(m);

    if (run_now) {
        r = exec_start(m, ex);
        if (r < 0) {
            /* Not started: unlist it so a failed start leaves no phantom result behind. */
            pthread_mutex_lock(&m->lock);
            if (ex->slot_held)
                m->running--;
            ex->slot_held = false;
            m->n_rejected++;
            store_remove(&m->store, &ex->node);
            exec_unref(ex); /* the store's */
            pthread_mutex_unlock(&m->lock);
            exec_mgr_ws_unuse(m, ex);
            code = ex->start_err.code;
            if (code && e)
                *e = ex->start_err; /* files in refused: the client's error */
            exec_unref(ex);
            exec_mgr_start_queued(m);
            if (code)
                return -code;
            if (r == -ERR_UNAVAILABLE)
                return err_set(e, ERR_UNAVAILABLE, "",
                               "the Python zygote is restarting; retry in a moment");
            return err_set(e, ERR_UNAVAILABLE, "", "cannot start the execution: %s", strerror(-r));
        }
    }
    *out = ex;
    return 0;
}

void exec_mgr_set_workspaces(struct exec_mgr *m, struct ws_mgr *ws)
{
    m->ws = ws;
}

void exec_mgr_on_cell_end(struct exec_mgr *m, exec_cell_end_fn fn, void *arg)
{
    m->cell_end = fn;
    m->cell_end_arg = arg;
}

bool exec_mgr_set_waiter(struct exec_mgr *m, struct exec *ex, exec_done_fn fn, void *arg,
                         int64_t deadline_ns)
{
    bool done;

    pthread_mutex_lock(&m->lock);
    /* Out of memory: answered now with the current state rather than never. */
    done = ex->state == EXEC_DONE || exec_waiters_add(&ex->waiters, fn, arg, deadline_ns) < 0;
    if (!done && deadline_ns &&
        (!m->next_waiter_deadline_ns || deadline_ns < m->next_waiter_deadline_ns)) {
        m->next_waiter_deadline_ns = deadline_ns;
        /* Let the I/O thread shorten its sleep to this deadline. */
        exec_io_wake(m->io);
    }
    pthread_mutex_unlock(&m->lock);
    return done;
}

/* Wakes the waiters whose deadline passed (long-polls that gave up) and returns the epoll
 * timeout until the next one. Runs on the I/O thread. */
static int exec_mgr_expire_waiters(struct exec_mgr *m)
{
    int64_t now = clock_mono_ns(), next = 0;
    int timeout = 1000;

    pthread_mutex_lock(&m->lock);
    if (m->next_waiter_deadline_ns && now >= m->next_waiter_deadline_ns) {
        STORE_FOREACH(&m->store, n)
        {
            next = exec_waiters_expire(&EXEC_OF(n)->waiters, now, next);
        }
        m->next_waiter_deadline_ns = next;
    }
    if (m->next_waiter_deadline_ns) {
        int64_t ms = (m->next_waiter_deadline_ns - now + 999999) / 1000000;
        timeout = ms < 0 ? 0 : ms < timeout ? (int)ms : timeout;
    }
    pthread_mutex_unlock(&m->lock);
    return timeout;
}

void exec_mgr_clear_waiter(struct exec_mgr *m, struct exec *ex, void *arg)
{
    pthread_mutex_lock(&m->lock);
    exec_waiters_remove(&ex->waiters, arg);
    pthread_mutex_unlock(&m->lock);
}

int exec_mgr_cancel(struct exec_mgr *m, struct exec *ex)
{
    struct exec **pp;
    bool dequeued = false;

    pthread_mutex_lock(&m->lock);
    if (ex->state == EXEC_DONE) {
        pthread_mutex_unlock(&m->lock);
        return 1;
    }
    ex->cancel_requested = true;
    if (ex->state == EXEC_PENDING) {
        for (pp = &m->qhead; *pp; pp = &(*pp)->qnext) {
            if (*pp == ex) {
                *pp = ex->qnext;
                dequeued = true;
                break;
            }
        }
        m->qtail = NULL;
        for (struct exec *q = m->qhead; q; q = q->qnext)
            m->qtail = q;
        m->queued--;
    }
    pthread_mutex_unlock(&m->lock);
    if (dequeued) {
        exec_finish(m, ex);
        exec_unref(ex); /* the queue's reference */
        return 0;
    }
    (void)zyg_client_cancel(m->zc, ex->seq);
    return 0;
}

bool exec_mgr_evicted(struct exec_mgr *m, const char *id)
{
    bool gone;

    pthread_mutex_lock(&m->lock);
    gone = exec_gone_has(&m->gone, id);
    pthread_mutex_unlock(&m->lock);
    return gone;
}

/* The I/O thread's callbacks (exec_io.h). */
static int exec_mgr_io_tick(void *arg)
{
    return exec_mgr_expire_waiters(arg);
}

static void exec_mgr_io_progress(struct exec_io_streams *s, void *arg)
{
    exec_live_progress(arg, STORE_ENTRY(s, struct exec, io));
}

static void exec_mgr_io_done(struct exec_io_streams *s, void *arg)
{
    struct exec *ex = STORE_ENTRY(s, struct exec, io);

    exec_finish(arg, ex);
    exec_unref(ex); /* the I/O thread's reference */
}

static bool exec_mgr_io_should_exit(void *arg)
{
    struct exec_mgr *m = arg;
    bool idle;

    pthread_mutex_lock(&m->lock);
    idle = m->stopping && m->running == 0;
    pthread_mutex_unlock(&m->lock);
    return idle;
}

static const struct exec_io_ops exec_mgr_io_ops = {exec_mgr_io_tick, exec_mgr_io_progress,
                                                   exec_mgr_io_done, exec_mgr_io_should_exit};

struct exec_mgr *exec_mgr_new(const struct agent_cfg *cfg, struct zyg_client *zc,
                              struct runtimes *rts, struct err *e)
{
    struct exec_mgr *m = calloc(1, sizeof(*m));

    if (!m) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    m->cfg = cfg;
    m->zc = zc;
    m->rts = rts;
    pthread_mutex_init(&m->lock, NULL);
    if (exec_files_store_init(&m->files, cfg->state_dir, (long long)cfg->files_mb << 20) < 0) {
        log_warn("%s/files: cannot be made: collected files are only inlined", cfg->state_dir);
        m->files.cap = 0;
    }
    store_init(&m->store, &exec_store_ops);
    exec_metrics_init(m);
    /* Without it (out of memory) evicted ids are only "not found". */
    (void)exec_gone_init(&m->gone, EXEC_GONE_MAX);
    m->proxy = proxy_new(*cfg->egress_proxy ? cfg->egress_proxy : NULL, cfg->protect_hosts, e);
    if (!m->proxy)
        goto fail;
    /* Last: the thread runs the callbacks on m at once. */
    m->io = exec_io_new(&exec_mgr_io_ops, m, e);
    if (!m->io)
        goto fail;
    return m;
fail:
    proxy_free(m->proxy);
    pthread_mutex_destroy(&m->lock);
    exec_metrics_done(m);
    exec_gone_done(&m->gone);
    free(m);
    return NULL;
}

size_t exec_mgr_drain(struct exec_mgr *m)
{
    size_t n;

    pthread_mutex_lock(&m->lock);
    m->draining = true;
    n = m->running + m->queued;
    pthread_mutex_unlock(&m->lock);
    return n;
}

void exec_mgr_stop(struct exec_mgr *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    if (m->stopped) {
        pthread_mutex_unlock(&m->lock);
        return;
    }
    m->stopping = true;
    STORE_FOREACH(&m->store, n)
    {
        if (EXEC_OF(n)->slot_held)
            (void)zyg_client_cancel(m->zc, EXEC_OF(n)->seq);
    }
    pthread_mutex_unlock(&m->lock);
    /* Queued executions never start; finish them as cancelled. */
    for (;;) {
        struct exec *ex;

        pthread_mutex_lock(&m->lock);
        ex = m->qhead;
        pthread_mutex_unlock(&m->lock);
        if (!ex)
            break;
        exec_mgr_cancel(m, ex);
    }
    exec_io_join(m->io);
    m->stopped = true;
}

void exec_mgr_free(struct exec_mgr *m)
{
    if (!m)
        return;
    exec_mgr_stop(m);
    store_done(&m->store);
    exec_io_free(m->io);
    proxy_free(m->proxy);
    pthread_mutex_destroy(&m->lock);
    exec_metrics_done(m);
    exec_gone_done(&m->gone);
    free(m);
}
