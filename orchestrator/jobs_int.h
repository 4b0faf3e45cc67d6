/* jobs_int.h - what jobs.c and jobs_persist.c share: the job and the store's structs, and the
 * helpers the persistence calls. Not for other files: they use jobs.h. */
#ifndef SANDPIT_JOBS_INT_H
#define SANDPIT_JOBS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobs.h"
#include "registry.h"
#include "store.h"

enum job_status { JOB_QUEUED, JOB_RUNNING, JOB_COMPLETED, JOB_FAILED, JOB_CANCELLED };
/* Their wire names, indexed by enum job_status (jobs.c). */
extern const char *const job_status_names[5];

enum job_phase {
    JOB_PHASE_QUEUED, /* waiting for a worker */
    JOB_PHASE_SUBMIT, /* POST /execute (async) in flight */
    JOB_PHASE_POLL,   /* running on an agent, long-polled */
    JOB_PHASE_DONE,   /* finished: result fixed */
};

struct job_waiter {
    jobs_cancel_fn fn;
    void *arg;
    struct job_waiter *next;
};

struct job {
    struct jobs *j;                   /* the store (for callbacks) */
    char id[IDS_UUID_LEN + 1];        /* jobId */
    char req_id[IDS_UUID_LEN + 1];    /* the request that created it */
    enum job_status status;           /* what clients see */
    enum job_phase phase;             /* where the run is */
    char language[LANG_NAME_MAX];     /* canonical */
    char *body;                       /* owned: the agent's POST /execute body (async) */
    size_t code_len;                  /* bytes of the normalised code */
    json_t *logs;                     /* owned array of "[ISO] message" */
    json_t *result;                   /* owned, NULL until finished */
    int64_t created_ns, started_ns;   /* CLOCK_REALTIME */
    int64_t finished_ns;              /* CLOCK_REALTIME, 0 until finished */
    int64_t run_mono_ns;              /* CLOCK_MONOTONIC when the run started */
    int64_t poll_sent_ns;             /* CLOCK_MONOTONIC of the last long-poll */
    char exec_id[64];                 /* the agent's execution_id, "" until known */
    int owner;                        /* the creator's key (jobs.h "Owners") */
    int agent;                        /* registry index of the agent, -1 */
    unsigned agent_gen;               /* its generation */
    bool slot;                        /* holds an in-flight slot on that agent */
    char agent_url[REGISTRY_URL_MAX]; /* its URL */
    bool cancel_requested;            /* a client cancelled it while it ran */
    bool delete_sent;                 /* DELETE went to the agent */
    int pending;                      /* dispatch calls and timers pointing at this job */
    struct job_waiter *waiters;       /* cancels waiting for the end of the run */
    uint64_t saved_seq;               /* jobs_db write of its end: shown finished once done */
    struct store_node node;           /* in the store: id table and history */
    struct job *qnext;                /* the queue */
};

struct jobs {
    const struct orch_cfg *cfg;
    struct dispatch *d;
    struct upstream *up;
    pthread_mutex_t lock;      /* guards everything below and every job */
    struct store store;        /* every job kept, newest first */
    struct job *qhead, *qtail; /* queued jobs, oldest first */
    size_t queued, running;
    bool pumping;            /* jobs_pump_locked is on the stack */
    struct files_map *files; /* notes who holds a result's collected files (borrowed) */
    unsigned long completed, failed, cancelled, evicted, rejected;
    struct jobs_db *db;      /* owned, NULL = nothing persisted */
    const struct keys *keys; /* owners' digests (borrowed, set with db) */
    bool closing;            /* jobs_free: releases are not deletes */
    bool durable;            /* db is a file: an end is shown once written */
    unsigned long restored, interrupted;
};

#define JOB_OF(n) STORE_ENTRY(n, struct job, node)

/* Appends "[ISO time] message" to the job's log (bounded). Lock held. */
void jobs_log(struct job *job, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees a job that is in no store. */
void jobs_free_job(struct job *job);
/* enum job_status of name, or -1. */
int jobs_status_of(const char *name);

/* jobs_persist.c. Queues the write of job's state now (no-op without a db): returns the
 * write's sequence number, 0 when none. Lock held. */
uint64_t jobs_persist_save_locked(struct job *job);
/* True when job's end may be shown: it is written (or there is no db). Lock held. */
bool jobs_persist_shown_done(const struct job *job);
/* Evicts the finished jobs older than --job-retention-s. Lock held. */
void jobs_persist_evict_old_locked(struct jobs *j);

#endif
