/* jobs_persist.c - the jobs' life in the database: records of jobs, their restore at start-up,
 * retention by age, and the store's counters (see jobs.h, jobs_db.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "jobs_db.h"
#include "jobs_int.h"
#include "jobs_result.h"
#include "keys.h"
#include "log.h"
#include "strx.h"

#define JOBS_OWNER_TEXT_MAX (7 + 64 + 1) /* "sha256:" + hex + NUL */

/* What the database keeps for owner: "" without keys, else "sha256:HEX" of the key (never its
 * index, which a reordered keys file would give to someone else). */
static void jobs_persist_owner_text(const struct keys *k, int owner, char out[JOBS_OWNER_TEXT_MAX])
{
    out[0] = '\0';
    if (!k || owner <= 0 || owner > k->n)
        return;
    memcpy(out, "sha256:", 7);
    for (int i = 0; i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", k->e[owner - 1].digest[i]);
}

/* The owner of a stored text: 0 for "", 1 + the index of the key with that digest, or -1 when
 * no key has it any more (the job stays, seen by nobody, until retention drops it). */
static int jobs_persist_owner_of(const struct keys *k, const char *text)
{
    char mine[JOBS_OWNER_TEXT_MAX];

    if (!*text)
        return 0;
    for (int i = 0; k && i < k->n; i++) {
        jobs_persist_owner_text(k, i + 1, mine);
        if (!strcmp(mine, text))
            return i + 1;
    }
    return -1;
}

uint64_t jobs_persist_save_locked(struct job *job)
{
    char owner[JOBS_OWNER_TEXT_MAX];
    json_t *err = job->result ? json_object_get(job->result, "error") : NULL;

    if (!job->j->db)
        return 0;
    jobs_persist_owner_text(job->j->keys, job->owner, owner);
    /* The logs grow while the job runs: the writer gets a copy. A result is never changed once
     * set, so it is shared. */
    return jobs_db_upsert_take(
        job->j->db,
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:O?, s:o, s:O?}", "id",
                  job->id, "owner", owner, "status", job_status_names[job->status], "language",
                  job->language, "req_id", job->req_id, "execution_id", job->exec_id, "agent",
                  job->agent_url, "created_ns", (json_int_t)job->created_ns, "started_ns",
                  (json_int_t)job->started_ns, "finished_ns", (json_int_t)job->finished_ns, "error",
                  json_is_string(err) ? err : NULL, "logs", json_deep_copy(job->logs), "result",
                  job->result));
}

bool jobs_persist_shown_done(const struct job *job)
{
    return !job->j->durable || job->phase != JOB_PHASE_DONE ||
           job->saved_seq <= jobs_db_done_seq(job->j->db);
}

/* store_evict_if's choice: history is in creation order and a job ends after it is created,
 * so the first job created after the cut-off ends the walk. */
static enum store_pick jobs_persist_pick_old(const struct store_node *n, void *arg)
{
    int64_t cutoff = *(const int64_t *)arg;
    const struct job *job = JOB_OF(n);

    if (job->created_ns >= cutoff)
        return STORE_STOP;
    return job->finished_ns < cutoff ? STORE_EVICT : STORE_KEEP;
}

void jobs_persist_evict_old_locked(struct jobs *j)
{
    int64_t cutoff;

    if (j->cfg->job_retention_s <= 0)
        return;
    cutoff = clock_real_ns() - (int64_t)j->cfg->job_retention_s * 1000000000;
    j->evicted += store_evict_if(&j->store, jobs_persist_pick_old, &cutoff);
}

/* jobs_db_load's callback: a stored job back in the store, finished. One that was queued or
 * running ended with this process: it fails now, and is not run again (a run may have had
 * effects; only the client knows whether repeating it is safe). */
static void jobs_persist_restore(void *arg, json_t *rec)
{
    struct jobs *j = arg;
    struct job *job = calloc(1, sizeof(*job));
    const char *id = json_string_value(json_object_get(rec, "id"));
    json_t *res = json_object_get(rec, "result");

    if (!job || !id || strlen(id) != IDS_UUID_LEN || store_find(&j->store, id)) {
        log_warn("jobs db: job '%.64s' not restored (%s)", id ? id : "",
                 job ? "not a job id" : "out of memory");
        free(job);
        json_decref(rec);
        return;
    }
    job->j = j;
    strx_copy(job->id, sizeof(job->id), id);
    strx_copy(job->req_id, sizeof(job->req_id), json_string_value(json_object_get(rec, "req_id")));
    job->status =
        (enum job_status)jobs_status_of(json_string_value(json_object_get(rec, "status")));
    job->phase = JOB_PHASE_DONE;
    strx_copy(job->language, sizeof(job->language),
              json_string_value(json_object_get(rec, "language")));
    job->logs = json_incref(json_object_get(rec, "logs"));
    job->result = json_is_object(res) ? json_incref(res) : NULL;
    job->created_ns = json_integer_value(json_object_get(rec, "created_ns"));
    job->started_ns = json_integer_value(json_object_get(rec, "started_ns"));
    job->finished_ns = json_integer_value(json_object_get(rec, "finished_ns"));
    strx_copy(job->exec_id, sizeof(job->exec_id),
              json_string_value(json_object_get(rec, "execution_id")));
    strx_copy(job->agent_url, sizeof(job->agent_url),
              json_string_value(json_object_get(rec, "agent")));
    job->owner = jobs_persist_owner_of(j->keys, json_string_value(json_object_get(rec, "owner")));
    job->agent = -1;
    json_decref(rec);
    store_insert(&j->store, &job->node, job->id);
    j->restored++;
    if (job->status == JOB_QUEUED || job->status == JOB_RUNNING || !job->result) {
        job->status = JOB_FAILED;
        job->finished_ns = clock_real_ns();
        json_decref(job->result);
        job->result = jobs_result_new(NULL, JOBS_DB_INTERRUPTED, job->exec_id, job->agent_url, 0);
        jobs_log(job, "Job failed: %s", JOBS_DB_INTERRUPTED);
        j->interrupted++;
        (void)jobs_persist_save_locked(job);
    }
}

int jobs_open_db(struct jobs *j, const char *path, const struct keys *keys, struct err *e)
{
    int n, r;

    j->db = jobs_db_open(path, e);
    if (!j->db)
        return -1;
    j->keys = keys;
    /* Nothing of ":memory:" outlives a crash: no end to hold back. */
    j->durable = !jobs_db_is_memory(j->db);
    pthread_mutex_lock(&j->lock);
    n = jobs_db_load(j->db, jobs_persist_restore, j);
    /* Retention applies to what was kept as to what is new: deletes go to the queue. */
    j->evicted += store_evict(&j->store, j->store.count, (size_t)j->cfg->max_jobs);
    jobs_persist_evict_old_locked(j);
    pthread_mutex_unlock(&j->lock);
    if (n < 0) {
        err_set(e, ERR_INTERNAL, "db", "cannot read the jobs in '%s'", path);
        return -1;
    }
    if ((r = jobs_db_start(j->db)) < 0) {
        err_set(e, ERR_INTERNAL, "db", "cannot start the writer thread: %s", strerror(-r));
        return -1;
    }
    log_info("jobs db '%s': %d job(s) restored, %lu interrupted by the restart, %zu kept", path, n,
             j->interrupted, j->store.count);
    return 0;
}

json_t *jobs_stats_json(struct jobs *j)
{
    json_t *o;

    pthread_mutex_lock(&j->lock);
    o = json_pack("{s:I, s:I, s:I, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
                  "queued", (json_int_t)j->queued, "running", (json_int_t)j->running, "kept",
                  (json_int_t)j->store.count, "workers", (int)j->cfg->job_workers, "max_queue",
                  (int)j->cfg->job_queue, "max_jobs", (int)j->cfg->max_jobs, "completed",
                  (json_int_t)j->completed, "failed", (json_int_t)j->failed, "cancelled",
                  (json_int_t)j->cancelled, "evicted", (json_int_t)j->evicted, "rejected",
                  (json_int_t)j->rejected, "restored", (json_int_t)j->restored, "interrupted",
                  (json_int_t)j->interrupted, "db", jobs_db_stats_json(j->db));
    pthread_mutex_unlock(&j->lock);
    return o;
}
