/* sess_mgr.h - the agent's sessions (docs/sessions.md): ids, state (starting, idle, busy,
 * dead), limits, idle reaping, and the commands and events exchanged with the zygote.
 *
 * Threads: any HTTP thread calls the API; the zygote monitor thread delivers events; one reaper
 * thread ends idle sessions. One lock guards the table. Lock order: the execution manager's
 * lock may be held when calling sess_mgr (a cell's end), never the reverse. */
#ifndef SANDPIT_SESS_MGR_H
#define SANDPIT_SESS_MGR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_cfg.h"
#include "err.h"
#include "exec_waiters.h"
#include "sess_opts.h"
#include "zyg_client.h"

#define SESS_ID_MAX 32 /* "s-" + 8 hex of the agent's boot + "-" + 12 hex, NUL included */

struct sess_mgr;

/* What a cell needs from its session (sess_mgr_begin_cell). */
struct sess_cell {
    uint64_t no;                 /* the zygote's number for the session */
    char workspace[SESS_ID_MAX]; /* its workspace directory's name under --work-dir */
    const char *policy;          /* static */
    json_t *env;                 /* new reference or NULL: the session's environment */
    long execution_count;        /* this cell's number, from 1 */
    long memory_mb;              /* the session's memory limit */
};

/* New manager; registers for the zygote's session events and starts the reaper. NULL on
 * out of memory. */
struct sess_mgr *sess_mgr_new(const struct agent_cfg *cfg, struct zyg_client *zc);
/* SIGTERM: no new sessions or forks from now on (-ERR_SHUTTING_DOWN); returns how many run a
 * cell (call again for the drain's progress). */
size_t sess_mgr_drain(struct sess_mgr *sm);
/* The agent is stopping: every session is marked gone and its waiters are woken (the zygote
 * kills the processes when the agent closes its socket). */
void sess_mgr_stop(struct sess_mgr *sm);
/* exec_mgr's cell-end hook (exec_mgr_on_cell_end): arg is the sess_mgr. */
void sess_mgr_cell_end(void *arg, const char *session);
/* Stops the reaper, frees (after sess_mgr_stop). */
void sess_mgr_free(struct sess_mgr *sm);

/* Starts a session: its id into id (SESS_ID_MAX). 0, -ERR_BUSY (--max-sessions live), or
 * -ERR_UNAVAILABLE / -errno. It is up when its waiter is called (sess_mgr_wait). */
int sess_mgr_create(struct sess_mgr *sm, const struct sess_opts *o, char *id, struct err *e);
/* Forks session parent (idle) into a new session, id into id. 0, -ERR_NOT_FOUND, -ERR_GONE,
 * -ERR_CONFLICT (busy), -ERR_BUSY. */
int sess_mgr_fork(struct sess_mgr *sm, const char *parent, char *id, struct err *e);
/* Calls fn(arg) once when session id is no longer starting (up or dead), or when it is dead
 * after a kill (until_dead). Returns true (fn not registered) when that is already so. */
bool sess_mgr_wait(struct sess_mgr *sm, const char *id, bool until_dead, exec_done_fn fn,
                   void *arg);
/* Removes the waiter registered with arg (the request went away). */
void sess_mgr_clear_waiter(struct sess_mgr *sm, const char *id, void *arg);
/* The session's object for GET /sessions/{id} (new reference), or NULL with e: 404, 410. */
json_t *sess_mgr_get(struct sess_mgr *sm, const char *id, struct err *e);
/* Why session id is gone (its reason, or the agent's restart for an unknown id) into out. */
void sess_mgr_reason(struct sess_mgr *sm, const char *id, char *out, size_t size);
/* {"sessions": [...], "total": n}: new reference. */
json_t *sess_mgr_list(struct sess_mgr *sm);
/* Kills the session. 0 (sess_mgr_wait(.., true, ..) then says when it is gone), 1 when it was
 * dead already, or -ERR_NOT_FOUND. */
int sess_mgr_kill(struct sess_mgr *sm, const char *id, struct err *e);
/* KeyboardInterrupt in the running cell: 1 when a cell was running, 0 when idle; -ERR_*. */
int sess_mgr_interrupt(struct sess_mgr *sm, const char *id, struct err *e);
/* Marks the session busy for one cell and fills c. 0, -ERR_NOT_FOUND, -ERR_GONE,
 * -ERR_CONFLICT (busy or starting). */
int sess_mgr_begin_cell(struct sess_mgr *sm, const char *id, struct sess_cell *c, struct err *e);
/* The cell was handed to the zygote as job number job: an interrupt names it from now on (one
 * asked for before is sent now). */
void sess_mgr_cell_started(struct sess_mgr *sm, const char *id, uint64_t job);
/* The cell is over (any thread, the execution manager's lock possibly held). */
void sess_mgr_end_cell(struct sess_mgr *sm, const char *id);
/* Where its files are: the process (our PID namespace), the workspace's name, its owner.
 * 0, or -ERR_NOT_FOUND / -ERR_GONE / -ERR_CONFLICT (still starting). */
int sess_mgr_workspace(struct sess_mgr *sm, const char *id, pid_t *pid, char *ws, uid_t *uid,
                       struct err *e);
/* {"live", "max", "busy", "created", "ended", "memory_bytes" (the live sessions' resident
 * sets, shared pages counted in each)} for /health and /metrics: new reference. */
json_t *sess_mgr_health(struct sess_mgr *sm);

#endif
