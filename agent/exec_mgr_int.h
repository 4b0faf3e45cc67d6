/* exec_mgr_int.h - what exec_mgr.c (the lifecycle), exec_view.c (results and listings as
 * clients see them) and exec_mgr_files.c (files in and out) share; nothing else includes it. */
#ifndef SANDPIT_EXEC_MGR_INT_H
#define SANDPIT_EXEC_MGR_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "exec_files.h"
#include "exec_gone.h"
#include "exec_io.h"
#include "exec_mgr.h"
#include "exec_waiters.h"
#include "ids.h"
#include "prom.h"
#include "store.h"
#include "ws_mgr.h"

/* The harness's frame: its report (result <= 64 KiB, debug_info: about 1 MiB at most) plus the
 * rich outputs (32 MiB, harness/display.py; runner.AGENT_FRAME_MAX is the same); a forged one
 * is cut here (and then ignored as invalid JSON), which bounds what one kept result can hold.
 * The buffer grows only as the frame is written. */
#define EXEC_RESULT_MAX (34u << 20)
/* What a kept result costs besides its bytes (the struct, the JSON tree of its fields). */
#define EXEC_KEPT_OVERHEAD 4096

enum exec_state { EXEC_PENDING, EXEC_RUNNING, EXEC_DONE };

struct exec {
    atomic_int refs;           /* references; the store holds one while listed */
    char id[IDS_UUID_LEN + 1]; /* public id */
    uint64_t seq;              /* zygote job id */
    struct exec_req req;       /* the parsed request (owned) */
    enum exec_state state;     /* under m->lock */
    bool cancel_requested;     /* under m->lock */
    bool lost_zygote;          /* finished because the zygote died */
    bool slot_held;            /* under m->lock: counted in m->running until the status */
    bool ws_used;              /* counted by ws_mgr_use until it finishes */
    bool ws_running;           /* under m->lock: holds its workspace's run mark (ws_mgr_try_run) */
    struct exec_io_streams io; /* the I/O thread's while running */
    unsigned compile_ms;       /* the runtime's compile-phase limit, 0 = none */
    long memory_mb;            /* the scenario's memory limit as applied, 0 = the agent's */
    int64_t created_real_ns, start_real_ns, end_real_ns;
    int64_t start_mono_ns;
    uint64_t proxy_sid;           /* the proxy session when the scenario has network, else 0 */
    json_t *warnings;             /* the scenario's parts not applied as asked, or NULL */
    json_t *network;              /* the proxy's counters once the session is closed */
    json_t *result;               /* DONE: the ExecutionResult's fields but the big ones */
    char *extras;                 /* DONE: the frame's result and debug_info, JSON text, or NULL */
    size_t extras_len;            /* bytes of extras */
    size_t kept_bytes;            /* DONE: what keeping it costs (--history-bytes counts it) */
    struct exec_waiter *waiters;  /* under m->lock: every client waiting for this exec */
    struct exec_waiter *watchers; /* under m->lock: live-output readers (exec_live.c) */
    struct store_node node;       /* in m->store: id table and history */
    struct exec *qnext;           /* queue */
    struct exec_files *files;     /* files out (exec_mgr_files.c), or NULL */
    int files_root;               /* running: the working directory's fd for collect, or -1 */
    int anon_uid;                 /* the anonymous workspace's uid index held, or -1 */
    struct err start_err;         /* why files in failed (code 0: they did not) */
};

struct exec_mgr {
    const struct agent_cfg *cfg;
    struct zyg_client *zc;
    struct runtimes *rts; /* borrowed */
    struct proxy *proxy;  /* owned: the network scenarios' shaping proxy */
    struct exec_io *io;   /* owned: the I/O thread */
    pthread_mutex_t lock;
    bool stopping; /* no new starts; the thread exits when idle */
    bool stopped;  /* the thread has been joined */
    bool draining; /* SIGTERM: no new submissions, what runs goes on (exec_mgr_drain) */
    uint64_t next_seq;
    struct store store;      /* every listed exec */
    size_t done_listed;      /* listed and DONE: what --history caps */
    size_t done_bytes;       /* their kept_bytes: what --history-bytes caps */
    const struct exec *keep; /* the result being published: never its own eviction's victim */
    struct exec_gone gone;   /* the last evicted ids */
    uint64_t n_evicted;
    struct exec *qhead, *qtail; /* waiting for a slot */
    size_t queued, running;
    uint64_t n_completed, n_failed, n_timeout, n_cancelled, n_rejected, n_lost;
    int64_t next_waiter_deadline_ns; /* earliest waiter deadline, 0 = none */
    struct ws_mgr *ws;               /* named workspaces (borrowed), or NULL */
    exec_cell_end_fn cell_end;       /* sessions: a cell has finished */
    struct prom_hist_vec run_hist;   /* run time by language and outcome (exec_metrics.c) */
    struct prom_hist_vec wait_hist;  /* queue wait by language */
    void *cell_end_arg;
    struct sess_mgr *sm;           /* sessions (borrowed): a cell's files, or NULL */
    struct exec_files_store files; /* collected files kept for download */
};

/* exec_mgr_files.c: files in before the start (job and child fds get the anonymous workspace
 * when ex needs one); -ERR_* with ex->start_err set. */
int exec_mgr_files_start(struct exec_mgr *m, struct exec *ex, struct zyg_job *job,
                         int child[ZYG_JOB_NFDS]);
/* The run is over (or never started): files out as the result's fields ({"files", ...} new
 * reference, or NULL when none were asked), and what the start held is given back. */
json_t *exec_mgr_files_end(struct exec_mgr *m, struct exec *ex);
/* Gives back what exec_mgr_files_start holds (the fd, the anonymous uid); idempotent. */
void exec_mgr_files_release(struct exec_mgr *m, struct exec *ex);

#define EXEC_OF(n) STORE_ENTRY(n, struct exec, node)

/* exec_metrics.c: the histograms' life, and one finished execution counted in them. */
void exec_metrics_init(struct exec_mgr *m);
void exec_metrics_done(struct exec_mgr *m);
void exec_metrics_observe(struct exec_mgr *m, const struct exec *ex, const char *outcome);

/* exec_live.c: the I/O thread read new stdout/stderr bytes of ex: tells its watchers. */
void exec_live_progress(struct exec_mgr *m, struct exec *ex);

#endif
