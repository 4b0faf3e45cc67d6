/* jobs.h - the job API's jobs (HARDIK dialect): an in-memory store, a bounded FIFO queue,
 * at most --job-workers running at once, and each run driven on an agent as an async
 * execution that is long-polled (GET /execution/{id}?wait=) and cancelled with DELETE.
 *
 * Status: queued -> running -> completed | failed | cancelled. A job whose code fails or times
 * out is failed, with the reason. Finished jobs are kept until more than --max-jobs exist; then
 * the oldest finished ones are evicted (queued and running jobs never are), and once they
 * finished more than --job-retention-s ago. With a database (jobs_open_db) an end is shown
 * only once it is written, so an end a client saw survives a crash.
 *
 * Owners: each job records the API key it was created under (1 + its index in --api-keys; 0
 * when no keys are configured, never the key itself). Reads, cancels and listings pass the
 * caller's owner and see only that owner's jobs: another key's job is "not found" (-ENOENT),
 * so its existence is not revealed.
 *
 * Threads: the API may be called from any thread; one mutex guards the store; the runs advance
 * on the upstream loop thread (dispatch callbacks and timers). */
#ifndef SANDPIT_JOBS_H
#define SANDPIT_JOBS_H

#include <jansson.h>
#include <stddef.h>

#include "dispatch.h"
#include "err.h"
#include "job_req.h"
#include "orch_cfg.h"
#include "ids.h"
#include "upstream.h"

#define JOBS_POLL_WAIT_S 10  /* seconds one long-poll asks the agent to wait */
#define JOBS_MAX_LOGS    256 /* log lines kept per job */

struct jobs;

/* Called once, on the upstream loop thread with the store's lock held, when a cancel that had
 * to wait for the agent is over: reply (new reference, to be consumed) and its HTTP status.
 * Keep it short; never call back into jobs. */
typedef void (*jobs_cancel_fn)(void *arg, unsigned status, json_t *reply);

/* New store (free with jobs_free); all pointers borrowed for its life. NULL on OOM. */
struct jobs *jobs_new(const struct orch_cfg *cfg, struct dispatch *d, struct upstream *up);
/* Frees every job; the upstream loop must have stopped. NULL is fine. */
struct files_map;
/* Sets where a finished job notes the agent holding its collected files (files_map.h;
 * borrowed, outlives j). */
void jobs_set_files_map(struct jobs *j, struct files_map *fm);
void jobs_free(struct jobs *j);

/* Creates a job owned by req->owner from req (taken, even on failure) running code (taken:
 * malloc'd, code_len bytes) and queues or starts it; the agent gets req's scenario, stdin and env
 * unchanged. fmt is the recognised code format's name (static). On success id_out holds the new job
 * id. -ERR_BUSY when the queue is full, -ERR_RATE_LIMITED when req->owner has req->max_active
 * jobs queued or running (job_req.h), -ENOMEM. */
int jobs_submit_take(struct jobs *j, struct job_req *req, char *code, size_t code_len,
                     const char *fmt, const char *req_id, char id_out[IDS_UUID_LEN + 1],
                     struct err *e);

enum jobs_view {
    JOBS_VIEW_STATUS, /* {jobId, status, language, times, executionId, agent, error, warnings,
                         result} */
    JOBS_VIEW_LOGS,   /* {jobId, status, language, logs, warnings, result} */
};
/* owner's job as JSON: 0 with *out new, -ENOENT (none, or another owner's), or -ENOMEM. */
int jobs_get_json(struct jobs *j, const char *id, int owner, enum jobs_view view, json_t **out);
/* {jobs:[status views newest first], total, count} of owner's jobs: status (or NULL for all)
 * filters, at most limit entries. 0 with *out new, -ERR_INVALID (unknown status, e set),
 * -ENOMEM. */
int jobs_list_json(struct jobs *j, const char *status, int owner, long limit, json_t **out,
                   struct err *e);
/* Cancels a job. Returns 0 with *status and *reply (new) set when the answer is known now (a queued
 * job is cancelled at once; a finished one answers 409, or 200 when it was cancelled already),
 * 1 when cb(arg, ...) will answer once the agent has stopped the run, -ENOENT, -ENOMEM. */
int jobs_cancel(struct jobs *j, const char *id, int owner, jobs_cancel_fn cb, void *arg,
                unsigned *status, json_t **reply);
/* Counters for /health and /metrics (with the db's under "db"): new reference. */
json_t *jobs_stats_json(struct jobs *j);

struct keys;
/* Persistence (jobs_persist.c, docs/operations.md "Persistence"): opens the database at path
 * (":memory:" allowed), loads the jobs kept there (those that were queued or running become
 * failed, "interrupted by a restart": they are not run again), and from then on writes every
 * job's submit, start and end there off the calling thread, and deletes what is evicted. keys
 * (borrowed, outlives j) map owners to their key's digest, which is what is stored. Before the
 * HTTP threads start. 0, or -1 with e set. */
int jobs_open_db(struct jobs *j, const char *path, const struct keys *keys, struct err *e);

#endif
