/* exec_mgr.c - execution lifecycle on the server side.
 *
 * Locking: m->lock guards the table, the history, the queue, the counters, every exec's state
 * and waiter. The I/O thread alone touches a running exec's fds and buffers, so reading output
 * needs no lock; the result is published under the lock when the exec becomes DONE. */
#include "exec_mgr.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "fdio.h"
#include "ids.h"
#include "json_util.h"
#include "log.h"
#include "proxy.h"
#include "runtime.h"
#include "scenario_apply.h"
#include "zyg_proto.h"

#define EXEC_HASH_BUCKETS 4096
/* The harness's frame: result (<= 64 KiB) and debug_info fit easily; a forged one is cut here
 * (and then ignored as invalid JSON), which bounds what one kept result can hold. */
#define EXEC_RESULT_MAX (2u << 20)
#define EXEC_READ_CHUNK 65536
#define EXEC_OUTPUT_CUT "\n<output cut>"
#define EXEC_ERROR_MAX  4096 /* bytes of a program's own error text kept in "error" */

enum exec_state { EXEC_PENDING, EXEC_RUNNING, EXEC_DONE };

enum exec_stream { EXEC_OUT, EXEC_ERR, EXEC_RES, EXEC_STATUS, EXEC_NSTREAMS };

struct exec_fd {
    struct exec *ex; /* back pointer for epoll events */
    int fd;          /* read end, -1 once at EOF */
    int which;       /* enum exec_stream */
};

/* One client waiting for an execution: a sync POST, a DELETE, a long-poll. */
struct exec_waiter {
    exec_done_fn fn;     /* called once, with the manager's lock held */
    void *arg;           /* identifies the waiter (the request) */
    int64_t deadline_ns; /* monotonic; 0 = until the execution finishes */
    struct exec_waiter *next;
};

struct exec {
    atomic_int refs;           /* references; the table holds one while listed */
    char id[IDS_UUID_LEN + 1]; /* public id */
    uint64_t seq;              /* zygote job id */
    struct exec_req req;       /* the parsed request (owned) */
    enum exec_state state;     /* under m->lock */
    bool cancel_requested;     /* under m->lock */
    bool lost_zygote;          /* finished because the zygote died */
    bool slot_held;            /* under m->lock: counted in m->running until the status */
    struct exec_fd fds[EXEC_NSTREAMS];
    unsigned compile_ms;      /* the runtime's compile-phase limit, 0 = none */
    long memory_mb;           /* the scenario's memory limit as applied, 0 = the agent's */
    int open_fds;             /* streams not yet at EOF */
    struct buf out, err, res; /* stdout, stderr, harness result frame */
    bool out_cut, err_cut;    /* output beyond max_output_bytes was dropped */
    uint8_t status_rec[ZYG_STATUS_SIZE];
    size_t status_len;
    int64_t created_real_ns, start_real_ns, end_real_ns;
    int64_t start_mono_ns;
    uint64_t proxy_sid;          /* the proxy session when the scenario has network, else 0 */
    json_t *warnings;            /* the scenario's parts not applied as asked, or NULL */
    json_t *network;             /* the proxy's counters once the session is closed */
    json_t *result;              /* DONE: the ExecutionResult */
    struct exec_waiter *waiters; /* under m->lock: every client waiting for this exec */
    struct exec *hnext;          /* hash chain */
    struct exec *newer, *older;  /* history, newest first */
    struct exec *qnext;          /* queue */
};

struct exec_mgr {
    const struct agent_cfg *cfg;
    struct zyg_client *zc;
    struct runtimes *rts; /* borrowed */
    struct proxy *proxy;  /* owned: the network scenarios' shaping proxy */
    pthread_mutex_t lock;
    pthread_t thread;
    int epfd;
    int evfd;      /* wakes the I/O thread */
    bool stopping; /* no new starts; the thread exits when idle */
    bool stopped;  /* the thread has been joined */
    uint64_t next_seq;
    struct exec *table[EXEC_HASH_BUCKETS];
    struct exec *newest, *oldest; /* every listed exec */
    size_t listed, done_listed;
    struct exec *qhead, *qtail; /* waiting for a slot */
    size_t queued, running;
    uint64_t n_completed, n_failed, n_timeout, n_cancelled, n_rejected, n_lost;
    int64_t next_waiter_deadline_ns; /* earliest waiter deadline, 0 = none */
};

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
    while (ex->waiters) {
        struct exec_waiter *w = ex->waiters;

        ex->waiters = w->next;
        free(w);
    }
    for (int i = 0; i < EXEC_NSTREAMS; i++)
        fdio_close(&ex->fds[i].fd);
    exec_req_done(&ex->req);
    buf_done(&ex->out);
    buf_done(&ex->err);
    buf_done(&ex->res);
    json_decref(ex->result);
    json_decref(ex->warnings);
    json_decref(ex->network);
    free(ex);
}

void exec_unref(struct exec *ex)
{
    if (ex && atomic_fetch_sub(&ex->refs, 1) == 1)
        exec_free(ex);
}

static unsigned exec_hash(const char *id)
{
    unsigned h = 2166136261u;

    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % EXEC_HASH_BUCKETS;
}

/* Lists ex in the table and the history (newest first). Caller holds the lock. */
static void exec_mgr_list_add(struct exec_mgr *m, struct exec *ex)
{
    unsigned h = exec_hash(ex->id);

    exec_ref(ex);
    ex->hnext = m->table[h];
    m->table[h] = ex;
    ex->older = m->newest;
    ex->newer = NULL;
    if (m->newest)
        m->newest->newer = ex;
    m->newest = ex;
    if (!m->oldest)
        m->oldest = ex;
    m->listed++;
}

static void exec_mgr_list_remove(struct exec_mgr *m, struct exec *ex)
{
    struct exec **pp = &m->table[exec_hash(ex->id)];

    while (*pp && *pp != ex)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = ex->hnext;
    if (ex->newer)
        ex->newer->older = ex->older;
    else
        m->newest = ex->older;
    if (ex->older)
        ex->older->newer = ex->newer;
    else
        m->oldest = ex->newer;
    m->listed--;
    exec_unref(ex);
}

/* Drops the oldest finished results beyond --history. Caller holds the lock. */
static void exec_mgr_evict(struct exec_mgr *m)
{
    struct exec *ex = m->oldest;

    while (ex && m->done_listed > (size_t)m->cfg->history) {
        struct exec *newer = ex->newer;

        if (ex->state == EXEC_DONE) {
            m->done_listed--;
            exec_mgr_list_remove(m, ex);
        }
        ex = newer;
    }
}

struct exec *exec_mgr_find(struct exec_mgr *m, const char *id)
{
    struct exec *ex;

    pthread_mutex_lock(&m->lock);
    for (ex = m->table[exec_hash(id)]; ex; ex = ex->hnext) {
        if (!strcmp(ex->id, id)) {
            exec_ref(ex);
            break;
        }
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

static const char *exec_signal_name(int sig)
{
    const char *s = sigabbrev_np(sig);

    return s ? s : "?";
}

/* Appends "<output cut>" to a truncated stream and stores it as valid UTF-8 text. */
static int exec_set_stream(json_t *o, const char *key, struct buf *b, bool cut)
{
    if (cut) {
        /* The cap bounds what we kept; the marker is extra and always appended. */
        b->max = 0;
        if (buf_append(b, EXEC_OUTPUT_CUT, strlen(EXEC_OUTPUT_CUT)) < 0)
            return -ENOMEM;
    }
    return json_util_set_text(o, key, b->data ? b->data : "", b->len);
}

/* Sets "error" to the program's own error text (from its result frame), cut to EXEC_ERROR_MAX
 * bytes on a character boundary: the text is the exception's message, which may be anything. */
static int exec_set_frame_error(json_t *o, const char *text, size_t len)
{
    static const char more[] = " ... (cut)";
    char *buf;
    size_t cut = EXEC_ERROR_MAX;
    int r;

    if (len <= EXEC_ERROR_MAX)
        return json_util_set_text(o, "error", text, len);
    while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
        cut--;
    if (!(buf = malloc(cut + sizeof(more))))
        return -ENOMEM;
    memcpy(buf, text, cut);
    memcpy(buf + cut, more, sizeof(more));
    r = json_util_set_text(o, "error", buf, cut + sizeof(more) - 1);
    free(buf);
    return r;
}

/* Sets "error_type" to the type label that starts "error" ("ValueError" of "ValueError: x",
 * "TimeoutError", "Signal", "CompileError"...), or null: a loop can branch on it without
 * parsing the text. A label is a dotted identifier followed by ':' or the end. */
static void exec_set_error_type(json_t *o)
{
    const char *err = json_string_value(json_object_get(o, "error"));
    size_t n = 0;

    while (err && n < 128 &&
           (isalpha((unsigned char)err[n]) || err[n] == '_' ||
            (n > 0 && (isdigit((unsigned char)err[n]) || err[n] == '.'))))
        n++;
    if (err && n > 0 && n < 128 && (err[n] == ':' || err[n] == '\0'))
        json_object_set_new(o, "error_type", json_stringn(err, n));
    else
        json_object_set_new(o, "error_type", json_null());
}

/* Builds the ExecutionResult of a finished exec from the status record and the harness frame.
 * Runs on the I/O thread without the lock (the exec is not DONE yet, nobody else reads it). */
static json_t *exec_build_result(struct exec_mgr *m, struct exec *ex, const struct zyg_status *stp,
                                 const char **status_out)
{
    struct zyg_status st = {0};
    bool have_status = stp != NULL;
    json_t *frame = NULL, *o, *v;
    const char *status = "failed", *reason = NULL;
    json_t *frame_error = NULL; /* the program's own error text, borrowed from frame */

    if (stp)
        st = *stp;
    char errbuf[256] = "", start[40], end[40];
    int exit_code = -1, sig = 0;

    if (ex->res.len)
        frame = json_loadb(ex->res.data, ex->res.len, 0, NULL);
    if (frame && !json_is_object(frame)) {
        json_decref(frame);
        frame = NULL;
    }
    if (ex->cancel_requested && !have_status) {
        status = "cancelled";
        reason = "cancelled";
    } else if (!have_status) {
        ex->lost_zygote = true;
        reason = "internal";
        snprintf(errbuf, sizeof(errbuf),
                 "AgentError: the execution was lost because the zygote died; retry");
    } else if (st.flags & ZYG_ST_SPAWN_FAILED) {
        reason = "internal";
        snprintf(errbuf, sizeof(errbuf), "AgentError: could not start the execution");
    } else if ((st.flags & ZYG_ST_SETUP_FAILED) &&
               !(st.flags & (ZYG_ST_CANCELLED | ZYG_ST_TIMED_OUT))) {
        reason = "internal";
        snprintf(errbuf, sizeof(errbuf),
                 "AgentError: the execution's isolation set-up failed on this host before any "
                 "code ran (the agent log says which layer)");
    } else if (st.flags & ZYG_ST_CANCELLED) {
        status = "cancelled";
        reason = "cancelled";
        snprintf(errbuf, sizeof(errbuf), "Cancelled: the execution was cancelled");
    } else if (st.flags & ZYG_ST_OOM) {
        reason = "oom";
        snprintf(errbuf, sizeof(errbuf),
                 "MemoryError: the execution ran out of memory (limit %ld MiB) and was killed",
                 ex->memory_mb ? ex->memory_mb : m->cfg->memory_mb);
        if (WIFSIGNALED(st.wait_status))
            sig = WTERMSIG(st.wait_status);
        else
            exit_code = WEXITSTATUS(st.wait_status);
    } else if (st.flags & ZYG_ST_TIMED_OUT) {
        status = "timeout";
        reason = "timeout";
        if (st.flags & ZYG_ST_COMPILING)
            snprintf(errbuf, sizeof(errbuf),
                     "TimeoutError: compilation exceeded its %u s limit (the run had not started)",
                     ex->compile_ms / 1000);
        else
            snprintf(errbuf, sizeof(errbuf), "TimeoutError: execution exceeded the %g s timeout",
                     ex->req.timeout_s);
    } else if (WIFSIGNALED(st.wait_status)) {
        sig = WTERMSIG(st.wait_status);
        reason = "signaled";
        if (sig == SIGXCPU)
            reason = "timeout";
        snprintf(errbuf, sizeof(errbuf), "Signal: killed by signal %d (SIG%s)", sig,
                 exec_signal_name(sig));
    } else {
        exit_code = WEXITSTATUS(st.wait_status);
        reason = "exited";
        if (exit_code == 0) {
            status = "completed";
        } else {
            json_t *fe = frame ? json_object_get(frame, "error") : NULL;
            json_t *fr = frame ? json_object_get(frame, "exit_reason") : NULL;

            if (json_is_string(fe) && json_string_length(fe) > 0)
                frame_error = fe;
            else
                snprintf(errbuf, sizeof(errbuf), "ProcessExit: exited with code %d", exit_code);
            /* The frame is written by the program's own process, so it is untrusted: the only
             * reasons it may add are the harness's refusal of the code and a failed compile
             * phase (written before any user code ran; either only labels a failure). */
            if (json_is_string(fr) && !strcmp(json_string_value(fr), "policy"))
                reason = "policy";
            if (json_is_string(fr) && !strcmp(json_string_value(fr), "compile_error"))
                reason = "compile_error";
        }
    }
    *status_out = status;
    clock_iso(ex->start_real_ns ? ex->start_real_ns : ex->created_real_ns, start, sizeof(start));
    clock_iso(ex->end_real_ns, end, sizeof(end));
    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:b, s:b, s:b}", "execution_id", ex->id, "status",
                  status, "language", ex->req.language, "start_time", start, "end_time", end,
                  "execution_time",
                  have_status ? (double)st.wall_us / 1e6
                              : (double)(ex->end_real_ns - ex->start_real_ns) / 1e9,
                  "truncated", ex->out_cut || ex->err_cut, "stdout_truncated", ex->out_cut,
                  "stderr_truncated", ex->err_cut);
    if (!o)
        goto out;
    if (exec_set_stream(o, "stdout", &ex->out, ex->out_cut) < 0 ||
        exec_set_stream(o, "stderr", &ex->err, ex->err_cut) < 0) {
        json_decref(o);
        o = NULL;
        goto out;
    }
    json_object_set(o, "output", json_object_get(o, "stdout"));
    if (frame_error) {
        if (exec_set_frame_error(o, json_string_value(frame_error),
                                 json_string_length(frame_error)) < 0) {
            json_decref(o);
            o = NULL;
            goto out;
        }
    } else {
        json_object_set_new(o, "error", errbuf[0] ? json_string(errbuf) : json_null());
    }
    exec_set_error_type(o);
    json_object_set_new(o, "exit_code", exit_code >= 0 ? json_integer(exit_code) : json_null());
    json_object_set_new(o, "signal", sig ? json_integer(sig) : json_null());
    json_object_set_new(o, "exit_reason", reason ? json_string(reason) : json_null());
    json_object_set_new(o, "processor_id",
                        ex->req.processor_id ? json_string(ex->req.processor_id) : json_null());
    v = frame ? json_object_get(frame, "result") : NULL;
    json_object_set(o, "result", v ? v : json_null());
    v = frame ? json_object_get(frame, "result_type") : NULL;
    if (v && !json_is_null(v))
        json_object_set(o, "result_type", v);
    v = frame ? json_object_get(frame, "debug_info") : NULL;
    json_object_set(o, "debug_info", v ? v : json_null());
    json_object_set_new(o, "resources",
                        json_pack("{s:f, s:I}", "cpu_time_s", (double)st.cpu_us / 1e6, "max_rss_kb",
                                  (json_int_t)st.max_rss_kb));
    if (ex->req.scenario_json) {
        /* The scenario as applied: echoed, with what this host could not do as asked. */
        json_object_set(o, "scenario", ex->req.scenario_json);
        json_object_set_new(o, "warnings", ex->warnings ? json_incref(ex->warnings) : json_array());
        json_object_set_new(o, "artificial_delay_s", json_real(ex->req.scenario.delay_ms / 1e3));
        if (have_status && ex->req.scenario.delay_ms > 0)
            json_object_set_new(
                o, "execution_time",
                json_real(fmax(0, (double)st.wall_us / 1e6 - ex->req.scenario.delay_ms / 1e3)));
    }
    if (ex->network)
        json_object_set(o, "network", ex->network);
out:
    json_decref(frame);
    return o;
}

/* Publishes the result, wakes the waiter, evicts old history, starts the next queued exec.
 * Called on the I/O thread (or a submitter for queue-side cancels) without the lock. */
static void exec_mgr_start_queued(struct exec_mgr *m);

/* Makes res the execution's answer and wakes every waiter. Caller holds the lock. */
static void exec_publish(struct exec_mgr *m, struct exec *ex, json_t *res)
{
    ex->result = res;
    ex->state = EXEC_DONE;
    m->done_listed++;
    while (ex->waiters) {
        struct exec_waiter *w = ex->waiters;

        ex->waiters = w->next;
        w->fn(w->arg);
        free(w);
    }
    exec_mgr_evict(m);
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

/* Every stream is closed: the outcome, from the zygote's status record (never from anything
 * the program could write: a forged result frame cannot change status, exit code, signal or
 * reason). Publishes it, counts it, frees the slot and starts the next queued execution.
 * Called on the I/O thread (or a submitter for queue-side cancels) without the lock. */
static void exec_finish(struct exec_mgr *m, struct exec *ex)
{
    struct zyg_status st;
    bool have = zyg_proto_decode_status(ex->status_rec, ex->status_len, &st) == 0;
    const char *status = "failed";
    bool released = false;
    json_t *res;

    ex->end_real_ns = clock_real_ns();
    exec_proxy_close(m, ex);
    res = exec_build_result(m, ex, have ? &st : NULL, &status);
    /* The result holds its own copies: the raw buffers (up to 2 x max_output_bytes and a 2 MiB
     * frame) must not stay alive for as long as the result is kept in the history. */
    buf_done(&ex->out);
    buf_done(&ex->err);
    buf_done(&ex->res);
    pthread_mutex_lock(&m->lock);
    exec_publish(m, ex, res);
    if (ex->slot_held) {
        ex->slot_held = false;
        m->running--;
        released = true;
    }
    if (!strcmp(status, "completed"))
        m->n_completed++;
    else if (!strcmp(status, "timeout"))
        m->n_timeout++;
    else if (!strcmp(status, "cancelled"))
        m->n_cancelled++;
    else
        m->n_failed++;
    if (ex->lost_zygote)
        m->n_lost++;
    pthread_mutex_unlock(&m->lock);
    if (released)
        exec_mgr_start_queued(m);
}

/* A memfd holding data (the spec, or stdin), rewound; -errno on failure. */
static int exec_memfd(const char *name, const char *data, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);

    if (fd < 0)
        return -errno;
    if (fdio_write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* Creates the execution's pipes, hands the child's ends to the zygote and watches ours.
 * Returns 0 or -errno / -ERR_UNAVAILABLE; on failure nothing stays registered. */
static int exec_start(struct exec_mgr *m, struct exec *ex)
{
    int child[ZYG_JOB_NFDS], p[2], r = 0;
    char workdir[512], *spec = NULL;
    size_t spec_len = 0;
    struct zyg_job job = {0};
    const struct runtime_def *rd;
    json_t *runtime = NULL;

    for (int i = 0; i < ZYG_JOB_NFDS; i++)
        child[i] = -1;
    (void)zyg_proto_workdir(m->cfg->work_dir, ex->id, workdir, sizeof(workdir));
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
    if ((child[ZYG_FD_SPEC] = exec_memfd("spec", spec, spec_len)) < 0) {
        r = child[ZYG_FD_SPEC];
        goto out;
    }
    if (ex->req.stdin_data)
        child[ZYG_FD_STDIN] = exec_memfd("stdin", ex->req.stdin_data, ex->req.stdin_len);
    else
        child[ZYG_FD_STDIN] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (child[ZYG_FD_STDIN] < 0) {
        r = child[ZYG_FD_STDIN] == -1 ? -errno : child[ZYG_FD_STDIN];
        goto out;
    }
    static const int map[EXEC_NSTREAMS] = {ZYG_FD_STDOUT, ZYG_FD_STDERR, ZYG_FD_RESULT,
                                           ZYG_FD_STATUS};
    for (int s = 0; s < EXEC_NSTREAMS; s++) {
        if (pipe2(p, O_CLOEXEC) < 0) {
            r = -errno;
            goto out;
        }
        (void)fdio_set_nonblock(p[0], 1);
        ex->fds[s].fd = p[0];
        child[map[s]] = p[1];
    }
    /* Bigger pipes mean fewer wake-ups for chatty programs (best effort). */
    (void)fcntl(ex->fds[EXEC_OUT].fd, F_SETPIPE_SZ, 1 << 20);
    job.job_id = ex->seq;
    job.timeout_ms = (uint32_t)ceil(ex->req.timeout_s * 1000.0);
    snprintf(job.exec_id, sizeof(job.exec_id), "%s", ex->id);
    ex->start_real_ns = clock_real_ns();
    ex->start_mono_ns = clock_mono_ns();
    r = zyg_client_send_job(m->zc, &job, child);
    if (r < 0)
        goto out;
    /* The I/O thread owns a reference while the fds are registered; take it first, the
     * execution may finish before this loop ends. */
    exec_ref(ex);
    ex->open_fds = EXEC_NSTREAMS;
    for (int s = 0; s < EXEC_NSTREAMS; s++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = &ex->fds[s]};

        if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, ex->fds[s].fd, &ev) < 0) {
            /* Cannot happen short of ENOMEM; the job is with the zygote, so kill it and let
             * the remaining streams finish the execution. */
            log_errno(errno, ex->id, "epoll_ctl, cancelling the execution");
            (void)zyg_client_cancel(m->zc, ex->seq);
            fdio_close(&ex->fds[s].fd);
            ex->open_fds--;
        }
    }
    r = 0;
out:
    for (int i = 0; i < ZYG_JOB_NFDS; i++)
        fdio_close(&child[i]);
    if (r < 0) {
        for (int s = 0; s < EXEC_NSTREAMS; s++)
            fdio_close(&ex->fds[s].fd);
        exec_proxy_close(m, ex);
    }
    json_decref(runtime);
    free(spec);
    return r;
}

/* Starts queued execs while there is capacity. */
static void exec_mgr_start_queued(struct exec_mgr *m)
{
    for (;;) {
        struct exec *ex;
        int r;

        pthread_mutex_lock(&m->lock);
        ex = m->qhead;
        if (!ex || m->running >= (size_t)m->cfg->max_concurrent || m->stopping) {
            pthread_mutex_unlock(&m->lock);
            return;
        }
        m->qhead = ex->qnext;
        if (!m->qhead)
            m->qtail = NULL;
        m->queued--;
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

int exec_mgr_submit_take(struct exec_mgr *m, struct exec_req *req, struct exec **out, struct err *e)
{
    struct exec *ex = calloc(1, sizeof(*ex));
    bool run_now = false;
    int r;

    if (!ex) {
        exec_req_done(req);
        return err_set(e, ENOMEM, "", "out of memory");
    }
    atomic_init(&ex->refs, 1);
    ex->req = *req;
    memset(req, 0, sizeof(*req));
    for (int s = 0; s < EXEC_NSTREAMS; s++) {
        ex->fds[s].ex = ex;
        ex->fds[s].fd = -1;
        ex->fds[s].which = s;
    }
    buf_init(&ex->out, (size_t)ex->req.max_output_bytes);
    buf_init(&ex->err, (size_t)ex->req.max_output_bytes);
    buf_init(&ex->res, EXEC_RESULT_MAX);
    ex->created_real_ns = clock_real_ns();
    if ((r = ids_uuid4(ex->id)) < 0) {
        exec_unref(ex);
        return err_set(e, -r, "", "cannot create an execution id");
    }

    pthread_mutex_lock(&m->lock);
    if (m->stopping) {
        pthread_mutex_unlock(&m->lock);
        exec_unref(ex);
        return err_set(e, ERR_UNAVAILABLE, "", "the agent is shutting down");
    }
    if (m->running < (size_t)m->cfg->max_concurrent && !m->qhead) {
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
        exec_unref(ex);
        return err_set(e, ERR_BUSY, "",
                       "all %ld execution slots and %ld queue places are taken; retry later",
                       m->cfg->max_concurrent, m->cfg->max_queue);
    }
    ex->seq = ++m->next_seq;
    exec_mgr_list_add(m, ex);
    pthread_mutex_unlock(&m->lock);

    if (run_now) {
        r = exec_start(m, ex);
        if (r < 0) {
            /* Not started: unlist it so a failed start leaves no phantom result behind. */
            pthread_mutex_lock(&m->lock);
            m->running--;
            ex->slot_held = false;
            m->n_rejected++;
            exec_mgr_list_remove(m, ex);
            pthread_mutex_unlock(&m->lock);
            exec_unref(ex);
            exec_mgr_start_queued(m);
            if (r == -ERR_UNAVAILABLE)
                return err_set(e, ERR_UNAVAILABLE, "",
                               "the Python zygote is restarting; retry in a moment");
            return err_set(e, ERR_UNAVAILABLE, "", "cannot start the execution: %s", strerror(-r));
        }
    }
    *out = ex;
    return 0;
}

bool exec_mgr_set_waiter(struct exec_mgr *m, struct exec *ex, exec_done_fn fn, void *arg,
                         int64_t deadline_ns)
{
    struct exec_waiter *w = malloc(sizeof(*w));
    uint64_t one = 1;
    bool done;

    pthread_mutex_lock(&m->lock);
    done = ex->state == EXEC_DONE;
    if (!done && !w) {
        /* Out of memory: answer now with the current state rather than never. */
        pthread_mutex_unlock(&m->lock);
        return true;
    }
    if (!done) {
        w->fn = fn;
        w->arg = arg;
        w->deadline_ns = deadline_ns;
        w->next = ex->waiters;
        ex->waiters = w;
        w = NULL;
        if (deadline_ns &&
            (!m->next_waiter_deadline_ns || deadline_ns < m->next_waiter_deadline_ns)) {
            m->next_waiter_deadline_ns = deadline_ns;
            /* Let the I/O thread shorten its sleep to this deadline. */
            (void)!write(m->evfd, &one, sizeof(one));
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(w);
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
        for (struct exec *ex = m->newest; ex; ex = ex->older) {
            struct exec_waiter **pp = &ex->waiters;

            while (*pp) {
                struct exec_waiter *w = *pp;

                if (w->deadline_ns && now >= w->deadline_ns) {
                    *pp = w->next;
                    w->fn(w->arg);
                    free(w);
                    continue;
                }
                if (w->deadline_ns && (!next || w->deadline_ns < next))
                    next = w->deadline_ns;
                pp = &w->next;
            }
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
    for (struct exec_waiter **pp = &ex->waiters; *pp; pp = &(*pp)->next) {
        if ((*pp)->arg == arg) {
            struct exec_waiter *w = *pp;

            *pp = w->next;
            free(w);
            break;
        }
    }
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

/* A placeholder result for a pending or running exec. Caller holds the lock. */
static json_t *exec_partial_result(struct exec *ex)
{
    char created[40];

    clock_iso(ex->start_real_ns ? ex->start_real_ns : ex->created_real_ns, created,
              sizeof(created));
    return json_pack("{s:s, s:s, s:s, s:s?, s:s, s:n, s:n, s:n, s:n}", "execution_id", ex->id,
                     "status", ex->state == EXEC_PENDING ? "pending" : "running", "language",
                     ex->req.language, "processor_id", ex->req.processor_id, "start_time", created,
                     "end_time", "error", "result", "exit_code");
}

json_t *exec_result(struct exec_mgr *m, struct exec *ex)
{
    json_t *r;

    pthread_mutex_lock(&m->lock);
    r = ex->state == EXEC_DONE ? json_incref(ex->result) : exec_partial_result(ex);
    pthread_mutex_unlock(&m->lock);
    return r;
}

json_t *exec_debug_info(struct exec_mgr *m, struct exec *ex)
{
    json_t *d = NULL;

    pthread_mutex_lock(&m->lock);
    if (ex->state == EXEC_DONE && ex->result)
        d = json_incref(json_object_get(ex->result, "debug_info"));
    pthread_mutex_unlock(&m->lock);
    return d;
}

json_t *exec_mgr_list(struct exec_mgr *m, size_t limit, size_t offset, const char *processor_id,
                      size_t *total)
{
    json_t *arr = json_array();
    size_t seen = 0;

    if (!arr)
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (struct exec *ex = m->newest; ex; ex = ex->older) {
        if (processor_id &&
            (!ex->req.processor_id || strcmp(ex->req.processor_id, processor_id) != 0))
            continue;
        if (seen >= offset && json_array_size(arr) < limit)
            json_array_append_new(arr, ex->state == EXEC_DONE ? json_incref(ex->result)
                                                              : exec_partial_result(ex));
        seen++;
    }
    pthread_mutex_unlock(&m->lock);
    if (total)
        *total = seen;
    return arr;
}

json_t *exec_mgr_health(struct exec_mgr *m)
{
    json_t *o;

    pthread_mutex_lock(&m->lock);
    o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "running",
                  (json_int_t)m->running, "queued", (json_int_t)m->queued, "max_concurrent",
                  (json_int_t)m->cfg->max_concurrent, "max_queue", (json_int_t)m->cfg->max_queue,
                  "kept", (json_int_t)m->listed, "completed", (json_int_t)m->n_completed, "failed",
                  (json_int_t)m->n_failed, "timeout", (json_int_t)m->n_timeout, "cancelled",
                  (json_int_t)m->n_cancelled, "rejected", (json_int_t)m->n_rejected,
                  "lost_to_zygote_death", (json_int_t)m->n_lost);
    pthread_mutex_unlock(&m->lock);
    return o;
}

/* Reads what is available on one stream; returns true at EOF. */
static bool exec_drain(struct exec_fd *f)
{
    struct exec *ex = f->ex;
    char chunk[EXEC_READ_CHUNK];

    for (;;) {
        ssize_t n = read(f->fd, chunk, sizeof(chunk));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno != EAGAIN;
        }
        if (n == 0)
            return true;
        switch (f->which) {
        case EXEC_OUT:
        case EXEC_ERR: {
            struct buf *b = f->which == EXEC_OUT ? &ex->out : &ex->err;
            long kept = buf_append_upto(b, chunk, (size_t)n);

            /* Beyond the cap we keep reading (the program must never block on a full pipe)
             * and drop the bytes. */
            if (kept < n) {
                if (f->which == EXEC_OUT)
                    ex->out_cut = true;
                else
                    ex->err_cut = true;
            }
            break;
        }
        case EXEC_RES:
            (void)buf_append_upto(&ex->res, chunk, (size_t)n);
            break;
        case EXEC_STATUS: {
            size_t room = sizeof(ex->status_rec) - ex->status_len;
            size_t take = (size_t)n < room ? (size_t)n : room;

            memcpy(ex->status_rec + ex->status_len, chunk, take);
            ex->status_len += take;
            break;
        }
        }
    }
}

static void exec_close_stream(struct exec_mgr *m, struct exec_fd *f)
{
    (void)epoll_ctl(m->epfd, EPOLL_CTL_DEL, f->fd, NULL);
    fdio_close(&f->fd);
    f->ex->open_fds--;
}

static void *exec_mgr_thread(void *arg)
{
    struct exec_mgr *m = arg;
    struct epoll_event evs[256];
    int64_t last_trim_ns = 0;
    unsigned long finished_since_trim = 0;

    for (;;) {
        int n = epoll_wait(m->epfd, evs, 256, exec_mgr_expire_waiters(m));
        int64_t now = clock_mono_ns();

        /* Results come and go (--history): give freed memory back to the kernel now and then, so
         * the agent's RSS reflects what it holds rather than its high-water mark. */
        if (finished_since_trim && now - last_trim_ns > 1000000000) {
            (void)malloc_trim(0);
            last_trim_ns = now;
            finished_since_trim = 0;
        }

        if (n < 0 && errno != EINTR) {
            log_errno(errno, NULL, "exec epoll_wait");
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            struct exec_fd *f = evs[i].data.ptr;
            struct exec *ex;

            if (!f) {
                uint64_t v;
                (void)!read(m->evfd, &v, sizeof(v));
                continue;
            }
            ex = f->ex;
            if (f->fd < 0)
                continue;
            if (exec_drain(f))
                exec_close_stream(m, f);
            if (ex->open_fds == 0) {
                finished_since_trim++;
                exec_finish(m, ex);
                exec_unref(ex); /* the I/O thread's reference */
            }
        }
        pthread_mutex_lock(&m->lock);
        if (m->stopping && m->running == 0) {
            pthread_mutex_unlock(&m->lock);
            return NULL;
        }
        pthread_mutex_unlock(&m->lock);
    }
}

struct exec_mgr *exec_mgr_new(const struct agent_cfg *cfg, struct zyg_client *zc,
                              struct runtimes *rts, struct err *e)
{
    struct exec_mgr *m = calloc(1, sizeof(*m));
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    int r;

    if (!m) {
        err_set(e, ENOMEM, "", "out of memory");
        return NULL;
    }
    m->cfg = cfg;
    m->zc = zc;
    m->rts = rts;
    m->epfd = m->evfd = -1;
    pthread_mutex_init(&m->lock, NULL);
    m->proxy = proxy_new(*cfg->egress_proxy ? cfg->egress_proxy : NULL, e);
    if (!m->proxy)
        goto fail;
    m->epfd = epoll_create1(EPOLL_CLOEXEC);
    m->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (m->epfd < 0 || m->evfd < 0 || epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->evfd, &ev) < 0) {
        err_set(e, errno, "", "epoll set-up: %s", strerror(errno));
        goto fail;
    }
    r = pthread_create(&m->thread, NULL, exec_mgr_thread, m);
    if (r) {
        err_set(e, r, "", "cannot start the I/O thread: %s", strerror(r));
        goto fail;
    }
    return m;
fail:
    if (m->epfd >= 0)
        close(m->epfd);
    if (m->evfd >= 0)
        close(m->evfd);
    proxy_free(m->proxy);
    free(m);
    return NULL;
}

void exec_mgr_stop(struct exec_mgr *m)
{
    uint64_t one = 1;

    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    if (m->stopped) {
        pthread_mutex_unlock(&m->lock);
        return;
    }
    m->stopping = true;
    for (struct exec *ex = m->newest; ex; ex = ex->older) {
        if (ex->slot_held)
            (void)zyg_client_cancel(m->zc, ex->seq);
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
    (void)!write(m->evfd, &one, sizeof(one));
    pthread_join(m->thread, NULL);
    m->stopped = true;
}

void exec_mgr_free(struct exec_mgr *m)
{
    if (!m)
        return;
    exec_mgr_stop(m);
    while (m->newest)
        exec_mgr_list_remove(m, m->newest);
    close(m->epfd);
    close(m->evfd);
    proxy_free(m->proxy);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
