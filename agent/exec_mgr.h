/* exec_mgr.h - executions on the server side: ids, the bounded queue, the I/O thread that
 * collects output and status for every running execution, results and the history.
 *
 * Threads: any HTTP thread may call the API; one internal thread owns all pipes. Executions are
 * reference-counted; a struct exec is immutable once exec_is_done() is true. */
#ifndef SANDPIT_EXEC_MGR_H
#define SANDPIT_EXEC_MGR_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "agent_cfg.h"
#include "buf.h"
#include "err.h"
#include "exec_req.h"
#include "exec_waiters.h"
#include "runtime.h"
#include "zyg_client.h"

struct exec_mgr;
struct exec;

/* New manager (free with exec_mgr_free); starts its I/O thread. NULL with e set on failure. */
struct exec_mgr *exec_mgr_new(const struct agent_cfg *cfg, struct zyg_client *zc,
                              struct runtimes *rts, struct err *e);
/* Cancels everything still running, waits for it (waking every waiter) and stops the thread.
 * The API stays usable for lookups afterwards; submissions are refused. */
void exec_mgr_stop(struct exec_mgr *m);
/* Refuses new submissions from now on (-ERR_SHUTTING_DOWN, 503) while what runs or waits goes
 * on; returns how many run or wait (call again to see the drain's progress). */
size_t exec_mgr_drain(struct exec_mgr *m);
/* Stops if needed and frees. No other thread may use m any more. */
void exec_mgr_free(struct exec_mgr *m);

/* Called when a session's cell has finished, before any waiter hears of it (so the session is
 * idle again when its client sees the result): session is req.session_id. */
typedef void (*exec_cell_end_fn)(void *arg, const char *session);
/* Sets the cell-end hook; call before any submission. */
void exec_mgr_on_cell_end(struct exec_mgr *m, exec_cell_end_fn fn, void *arg);

struct ws_mgr;
/* Sets the named workspaces (borrowed; they outlive m); call before any submission. Without,
 * a request naming one is refused. */
void exec_mgr_set_workspaces(struct exec_mgr *m, struct ws_mgr *ws);

struct sess_mgr;
/* Sets the sessions (borrowed; they outlive m), whose workspaces a cell's files go to and come
 * from; call before any submission. */
void exec_mgr_set_sessions(struct exec_mgr *m, struct sess_mgr *sm);

/* Takes req (even on failure), starts or queues it. A session's cell (req.session_no) starts at
 * once and holds no execution slot: it runs in its session's process. On success *out is a new
 * reference (exec_unref). An execution with a workspace starts only when no other one of that
 * workspace runs (it waits in the queue); one that is optional (req.workspace_optional) is
 * dropped where workspaces are off. Errors: -ERR_BUSY (queue full, --max-workspaces),
 * -ERR_INVALID (workspace refused), -ERR_UNAVAILABLE (zygote down), -ENOMEM.
 */
int exec_mgr_submit_take(struct exec_mgr *m, struct exec_req *req, struct exec **out,
                         struct err *e);
/* Adds a waiter: fn runs once, when ex finishes or (deadline_ns != 0) at that monotonic time,
 * whichever comes first. Returns true (fn not registered) if ex is already done. */
bool exec_mgr_set_waiter(struct exec_mgr *m, struct exec *ex, exec_done_fn fn, void *arg,
                         int64_t deadline_ns);
/* Removes the waiter registered with arg, if still there (the request went away). Other
 * waiters of the same execution are untouched. */
void exec_mgr_clear_waiter(struct exec_mgr *m, struct exec *ex, void *arg);
/* Looks an execution up by id: new reference or NULL. */
struct exec *exec_mgr_find(struct exec_mgr *m, const char *id);
/* Stops ex: a queued one never starts, a running one is killed. Returns 0, or 1 when it had
 * already finished. */
int exec_mgr_cancel(struct exec_mgr *m, struct exec *ex);
/* A page of the history newest first: at most limit executions after skipping offset into out
 * (room for limit; new references, exec_unref each); processor_id (or NULL) filters. Returns
 * how many were put there; *total gets how many match in all. */
size_t exec_mgr_page(struct exec_mgr *m, size_t limit, size_t offset, const char *processor_id,
                     struct exec **out, size_t *total);
/* True when id is one of the last results evicted from the history (--history,
 * --history-bytes), so a client can be told why it is gone. */
bool exec_mgr_evicted(struct exec_mgr *m, const char *id);
/* Counters for /health: new reference. */
json_t *exec_mgr_health(struct exec_mgr *m);
/* The executions' /metrics families in Prometheus text (exec_metrics.c). 0 or -ENOMEM. */
int exec_mgr_metrics(struct exec_mgr *m, struct buf *b);

/* Live output. A watcher's fn(arg) runs whenever ex has new stdout or stderr bytes, and a last
 * time when ex finishes (then it is removed). It runs with the manager's lock held (on the I/O
 * thread, or the thread that finished ex): it must not block nor call into exec_mgr; it only
 * wakes its reader. */
typedef void (*exec_watch_fn)(void *arg);
/* Registers a watcher keyed by arg. Returns false when ex had already finished (or memory ran
 * out): nothing registered, read what is there, then the result. */
bool exec_mgr_watch(struct exec_mgr *m, struct exec *ex, exec_watch_fn fn, void *arg);
/* Removes the watcher registered with arg, if still there. Call before freeing arg. */
void exec_mgr_unwatch(struct exec_mgr *m, struct exec *ex, void *arg);

/* What a reader has already taken of an execution's output (zero it to start). */
struct exec_cursor {
    size_t out, err; /* bytes of stdout, stderr taken */
};
/* New output since a cursor. stdout and stderr are each in order; between the two the order is
 * the agent's reading order at the granularity of one read (stdout's new bytes come first). */
struct exec_live {
    char *out, *err;         /* new bytes (owned), NULL when none */
    size_t out_len, err_len; /* their lengths */
    bool out_cut, err_cut;   /* the stream reached --max-output: later bytes are dropped */
    bool done;               /* ex had finished before the read: this is the last of it */
};
/* Copies what came since cur into out and advances cur. Any thread, during or after the run,
 * while the caller holds a reference. 0 or -ENOMEM (out empty, cur kept). */
int exec_mgr_live_read(struct exec_mgr *m, struct exec *ex, struct exec_cursor *cur,
                       struct exec_live *out);
/* Frees what exec_mgr_live_read copied. */
void exec_live_done(struct exec_live *l);

/* The execution's id (borrowed, valid while referenced). */
const char *exec_id(const struct exec *ex);
/* Its job number with the zygote (a session's interrupt names the cell by it). */
uint64_t exec_seq(const struct exec *ex);
/* True once finished; the result is then fixed. */
bool exec_is_done(struct exec_mgr *m, struct exec *ex);
/* True when the execution could not complete because the zygote died under it. */
bool exec_lost_zygote(const struct exec *ex);
/* The ExecutionResult (DESIGN "Agent API") while pending or running; once finished its
 * summary: every field but stdout, stderr, output, result, result_type and debug_info (the full
 * result is exec_result_text's). New reference, NULL on out of memory. */
json_t *exec_result(struct exec_mgr *m, struct exec *ex);
/* The ExecutionResult as JSON text for a reply (new, free(); its length in *len): a finished
 * one, full, is encoded straight from what is kept (exec_result_encode: no tree of its output,
 * nothing kept of the text), else as exec_result gives it. NULL on out of memory. */
char *exec_result_text(struct exec_mgr *m, struct exec *ex, bool full, size_t *len);
/* debug_info of a finished execution, or NULL: new reference. */
json_t *exec_debug_info(struct exec_mgr *m, struct exec *ex);
/* Opens the kept copy of a file a finished execution collected (docs/agent.md "Files in and
 * out"): 0 with *fd (close it) and *st, -ERR_CONFLICT (still running), -ERR_NOT_FOUND. */
int exec_mgr_file_open(struct exec_mgr *m, struct exec *ex, const char *path, int *fd,
                       struct stat *st, struct err *e);
void exec_ref(struct exec *ex);
void exec_unref(struct exec *ex);

#endif
