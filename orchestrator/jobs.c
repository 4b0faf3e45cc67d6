/* jobs.c - job store and job runs (see jobs.h). */
#include "jobs_int.h"

#include "agent_client.h"
#include "files_map.h"
#include "jobs_db.h"
#include "jobs_result.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ids.h"
#include "json_out.h"
#include "json_util.h"
#include "log.h"
#include "store.h"
#include "strx.h"

#define JOBS_SUBMIT_MS      30000 /* async submit: the agent answers 202 at once */
#define JOBS_DELETE_MS      30000 /* DELETE waits for the process to be gone */
#define JOBS_POLL_MIN_MS    100   /* an agent that ignores ?wait= is polled this often */
#define JOBS_POLL_MARGIN_MS 15000 /* transfer timeout beyond the long-poll's wait */

const char *const job_status_names[5] = {"queued", "running", "completed", "failed", "cancelled"};

static void jobs_poll_locked(struct job *job, long delay_ms);
static void jobs_poll_now_locked(struct job *job, int wait_s);
static void jobs_finish_locked(struct job *job, enum job_status st, const char *error, json_t *res);

/* owner's job id, or NULL (another owner's job is not there for this caller). */
static struct job *jobs_find_locked(struct jobs *j, const char *id, int owner)
{
    struct store_node *n = store_find(&j->store, id);

    return n && JOB_OF(n)->owner == owner ? JOB_OF(n) : NULL;
}

static void jobs_iso(int64_t ns, char *out, size_t size)
{
    if (ns)
        clock_iso(ns, out, size);
    else
        out[0] = '\0';
}

void jobs_log(struct job *job, const char *fmt, ...)
{
    char line[640], ts[48];
    va_list ap;
    int n;

    if (json_array_size(job->logs) >= JOBS_MAX_LOGS)
        return;
    clock_iso(clock_real_ns(), ts, sizeof(ts));
    n = snprintf(line, sizeof(line), "[%s] ", ts);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* Messages may quote agent text cut mid-character: keep the JSON valid. */
    {
        json_t *tmp = json_object();

        if (tmp && json_util_set_text(tmp, "l", line, strlen(line)) >= 0)
            json_array_append(job->logs, json_object_get(tmp, "l"));
        json_decref(tmp);
    }
}

void jobs_free_job(struct job *job)
{
    free(job->body);
    json_decref(job->logs);
    json_decref(job->result);
    while (job->waiters) {
        struct job_waiter *w = job->waiters;
        job->waiters = w->next;
        free(w);
    }
    free(job);
}

/* The store's callbacks, with the lock held: a finished job goes once no dispatch call or
 * timer points at it any more. */
static bool jobs_may_evict(const struct store_node *n)
{
    return JOB_OF(n)->phase == JOB_PHASE_DONE && JOB_OF(n)->pending == 0;
}

/* Evicted from memory is deleted from the db too; at jobs_free, only from memory. */
static void jobs_release(struct store_node *n)
{
    struct job *job = JOB_OF(n);

    if (!job->j->closing)
        jobs_db_delete(job->j->db, job->id);
    jobs_free_job(job);
}

static const struct store_ops jobs_store_ops = {jobs_may_evict, jobs_release};

struct jobs *jobs_new(const struct orch_cfg *cfg, struct dispatch *d, struct upstream *up)
{
    struct jobs *j = calloc(1, sizeof(*j));

    if (!j)
        return NULL;
    j->cfg = cfg;
    j->d = d;
    j->up = up;
    pthread_mutex_init(&j->lock, NULL);
    store_init(&j->store, &jobs_store_ops);
    return j;
}

void jobs_set_files_map(struct jobs *j, struct files_map *fm)
{
    j->files = fm;
}

void jobs_free(struct jobs *j)
{
    if (!j)
        return;
    /* What the runs' ends queued is written before the writer stops. */
    j->closing = true;
    jobs_db_close(j->db);
    j->db = NULL;
    store_done(&j->store);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

int jobs_status_of(const char *name)
{
    for (size_t i = 0; i < sizeof(job_status_names) / sizeof(job_status_names[0]); i++) {
        if (!strcmp(name, job_status_names[i]))
            return (int)i;
    }
    return -1;
}

/* Drops the oldest finished jobs while more than --max-jobs are kept, and those too old. */
static void jobs_evict_locked(struct jobs *j)
{
    j->evicted += store_evict(&j->store, j->store.count, (size_t)j->cfg->max_jobs);
    jobs_persist_evict_old_locked(j);
}

static void jobs_on_submitted(struct dcall *c);

/* Starts the run of a job taken off the queue. */
static void jobs_start_locked(struct job *job)
{
    struct jobs *j = job->j;
    struct dcall *c = dcall_new();
    int r = -ENOMEM;

    job->phase = JOB_PHASE_SUBMIT;
    job->status = JOB_RUNNING;
    job->started_ns = clock_real_ns();
    job->run_mono_ns = clock_mono_ns();
    j->running++;
    jobs_log(job, "Job started");
    (void)jobs_persist_save_locked(job);
    if (!c)
        goto fail;
    /* The body goes with the call: a job is submitted once. */
    c->body = job->body;
    job->body = NULL;
    c->body_len = strlen(c->body);
    strx_copy(c->lang, sizeof(c->lang), job->language);
    c->method = "POST";
    snprintf(c->path, sizeof(c->path), "/execute");
    c->timeout_ms = JOBS_SUBMIT_MS;
    c->retry = true;
    c->may_wait = true;
    c->keep_slot = true;
    strx_copy(c->req_id, sizeof(c->req_id), job->req_id);
    c->done = jobs_on_submitted;
    c->arg = job;
    r = dispatch_submit(j->d, c);
    if (r < 0)
        goto fail;
    job->pending++;
    return;
fail:
    dcall_free(c);
    jobs_finish_locked(job, JOB_FAILED,
                       r == -ESHUTDOWN ? "the orchestrator is shutting down" : "out of memory",
                       NULL);
}

/* Starts queued jobs while workers are free. Re-entrant calls (a start that fails finishes
 * its job, which pumps again) return at once: the outer loop goes on. */
static void jobs_pump_locked(struct jobs *j)
{
    if (j->pumping)
        return;
    j->pumping = true;
    while (j->qhead && j->running < (size_t)j->cfg->job_workers) {
        struct job *job = j->qhead;

        j->qhead = job->qnext;
        if (!j->qhead)
            j->qtail = NULL;
        job->qnext = NULL;
        j->queued--;
        jobs_start_locked(job);
    }
    j->pumping = false;
}

/* owner's jobs queued or running. Lock held. */
static long jobs_active_locked(struct jobs *j, int owner)
{
    long n = 0;

    STORE_FOREACH(&j->store, node)
    {
        const struct job *job = JOB_OF(node);

        n += job->owner == owner && (job->status == JOB_QUEUED || job->status == JOB_RUNNING);
    }
    return n;
}

int jobs_submit_take(struct jobs *j, struct job_req *req, char *code, size_t code_len,
                     const char *fmt, const char *req_id, char id_out[IDS_UUID_LEN + 1],
                     struct err *e)
{
    struct job *job = NULL;
    json_t *body = job_req_agent_body(req, code, code_len, true);
    char *text = json_out_dumps(body, 0, NULL);
    bool has_scenario = req->scenario != NULL;

    json_decref(body);
    free(code);
    pthread_mutex_lock(&j->lock);
    if (text && j->queued >= (size_t)j->cfg->job_queue &&
        j->running >= (size_t)j->cfg->job_workers) {
        j->rejected++;
        pthread_mutex_unlock(&j->lock);
        free(text);
        job_req_done(req);
        return err_set(e, ERR_BUSY, "", "the job queue is full (%ld queued, %ld running); retry",
                       j->cfg->job_queue, j->cfg->job_workers);
    }
    if (text && req->max_active &&
        jobs_active_locked(j, req->owner) >= (req->max_active < 0 ? 0 : req->max_active)) {
        pthread_mutex_unlock(&j->lock);
        free(text);
        job_req_done(req);
        return err_set(e, ERR_RATE_LIMITED, "X-API-Key",
                       "this API key has as many executions running or queued as it may have at "
                       "once: wait for one to finish");
    }
    job = text ? calloc(1, sizeof(*job)) : NULL;
    /* An id from getrandom(2): failing it (no entropy yet) is as fatal as no memory. */
    if (!job || !(job->logs = json_array()) || ids_uuid4(job->id) < 0) {
        if (job)
            json_decref(job->logs);
        pthread_mutex_unlock(&j->lock);
        free(job);
        free(text);
        job_req_done(req);
        return err_set(e, ENOMEM, "", "out of memory");
    }
    job->j = j;
    job->owner = req->owner;
    strx_copy(job->req_id, sizeof(job->req_id), req_id ? req_id : "");
    job->status = JOB_QUEUED;
    job->phase = JOB_PHASE_QUEUED;
    strx_copy(job->language, sizeof(job->language), req->language);
    job->body = text;
    job->code_len = code_len;
    job->agent = -1;
    job->created_ns = clock_real_ns();
    job_req_done(req);
    jobs_log(job, "Job queued (language %s, code format %s, %zu bytes%s)", job->language, fmt,
             code_len, has_scenario ? ", with a scenario" : "");
    store_insert(&j->store, &job->node, job->id);
    (void)jobs_persist_save_locked(job);
    if (j->qtail)
        j->qtail->qnext = job;
    else
        j->qhead = job;
    j->qtail = job;
    j->queued++;
    strx_copy(id_out, IDS_UUID_LEN + 1, job->id);
    jobs_pump_locked(j);
    jobs_evict_locked(j);
    pthread_mutex_unlock(&j->lock);
    return 0;
}

/* Ends the run: fixes status and result, frees the worker, wakes cancels, starts the next. */
static void jobs_finish_locked(struct job *job, enum job_status st, const char *error, json_t *res)
{
    struct jobs *j = job->j;
    struct job_waiter *w;

    if (job->phase == JOB_PHASE_DONE)
        return;
    if (job->cancel_requested) {
        st = JOB_CANCELLED;
        error = "cancelled";
    }
    job->status = st;
    job->finished_ns = clock_real_ns();
    if (job->phase != JOB_PHASE_QUEUED)
        j->running--;
    job->phase = JOB_PHASE_DONE;
    json_decref(job->result);
    job->result =
        jobs_result_new(res, st == JOB_COMPLETED ? NULL : error, job->exec_id, job->agent_url,
                        job->run_mono_ns ? (double)(clock_mono_ns() - job->run_mono_ns) / 1e6 : 0);
    if (res && json_object_get(res, "files"))
        files_map_put(j->files, job->exec_id, job->agent, job->agent_gen, job->owner);
    if (job->slot) {
        dispatch_release(j->d, job->agent, job->agent_gen);
        job->slot = false;
    }
    if (st == JOB_COMPLETED) {
        j->completed++;
        jobs_log(job, "Job completed");
    } else if (st == JOB_CANCELLED) {
        j->cancelled++;
        jobs_log(job, "Job cancelled");
    } else {
        j->failed++;
        jobs_log(job, "Job failed: %s", error ? error : "unknown error");
    }
    job->saved_seq = jobs_persist_save_locked(job);
    log_msg(LOG_INFO, job->req_id[0] ? job->req_id : NULL, "job %s %s%s%s", job->id,
            job_status_names[st], error && st != JOB_COMPLETED ? ": " : "",
            error && st != JOB_COMPLETED ? error : "");
    while ((w = job->waiters)) {
        job->waiters = w->next;
        w->fn(w->arg, 200,
              json_pack("{s:s, s:s, s:s}", "jobId", job->id, "status", job_status_names[st],
                        "message", "Job cancelled"));
        free(w);
    }
    jobs_pump_locked(j);
    jobs_evict_locked(j);
}

/* Finishes from the agent's final ExecutionResult. */
static void jobs_finish_result_locked(struct job *job, json_t *res)
{
    const char *st = json_string_value(json_object_get(res, "status"));
    const char *error = json_string_value(json_object_get(res, "error"));
    json_t *t = json_object_get(res, "execution_time");
    double ms = json_is_number(t) ? json_number_value(t) * 1000 : 0;
    char why[400];
    size_t i;
    json_t *w;

    json_array_foreach(json_object_get(res, "warnings"), i, w)
    {
        if (json_is_string(w))
            jobs_log(job, "Warning: %.500s", json_string_value(w));
    }
    if (st && !strcmp(st, "completed")) {
        jobs_log(job, "Execution completed in %.3f ms", ms);
        jobs_finish_locked(job, JOB_COMPLETED, NULL, res);
    } else if (st && !strcmp(st, "timeout")) {
        snprintf(why, sizeof(why), "Timed out: %s", error ? error : "the time limit was reached");
        jobs_log(job, "Execution timed out after %.3f ms", ms);
        jobs_finish_locked(job, JOB_FAILED, why, res);
    } else if (st && !strcmp(st, "cancelled")) {
        jobs_log(job, "Execution cancelled on the agent");
        jobs_finish_locked(job, JOB_CANCELLED, "cancelled", res);
    } else {
        json_t *code = json_object_get(res, "exit_code");

        if (error)
            strx_copy(why, sizeof(why), error);
        else if (json_is_integer(code))
            snprintf(why, sizeof(why), "exit code %lld", (long long)json_integer_value(code));
        else
            snprintf(why, sizeof(why), "execution %s", st ? st : "failed");
        jobs_log(job, "Execution failed: %s", why);
        jobs_finish_locked(job, JOB_FAILED, why, res);
    }
}

static void jobs_on_deleted(struct dcall *c)
{
    struct job *job = c->arg;
    struct jobs *j = job->j;

    pthread_mutex_lock(&j->lock);
    job->pending--;
    if (c->outcome == DCALL_OK && c->status == 200) {
        jobs_log(job, "Execution stopped on agent %s", c->agent_url);
        /* The run is over: fetch its final result now rather than wait for the pending
         * long-poll, which an agent may only answer at its own deadline. */
        if (job->phase == JOB_PHASE_POLL)
            jobs_poll_now_locked(job, 0);
    } else {
        char why[400];

        if (c->outcome == DCALL_OK)
            strx_printf(why, sizeof(why), "stopping the execution: agent answered HTTP %ld",
                        c->status);
        else
            strx_printf(why, sizeof(why), "stopping the execution failed: %s", c->err);
        jobs_log(job, "%s", why);
        jobs_finish_locked(job, JOB_CANCELLED, why, NULL);
    }
    jobs_evict_locked(j);
    pthread_mutex_unlock(&j->lock);
    dcall_free(c);
}

/* Sends DELETE /execution/{id} to the agent running the job; when that cannot even start,
 * the job ends here (cancelled, saying so). */
static void jobs_send_delete_locked(struct job *job)
{
    struct dcall *c = dcall_new();

    job->delete_sent = true;
    if (!c) {
        jobs_finish_locked(job, JOB_CANCELLED, "stopping the execution failed: out of memory",
                           NULL);
        return;
    }
    c->agent = job->agent;
    c->agent_gen = job->agent_gen;
    c->method = "DELETE";
    snprintf(c->path, sizeof(c->path), "/execution/%s", job->exec_id);
    c->timeout_ms = JOBS_DELETE_MS;
    strx_copy(c->req_id, sizeof(c->req_id), job->req_id);
    c->done = jobs_on_deleted;
    c->arg = job;
    if (dispatch_submit(job->j->d, c) < 0) {
        dcall_free(c);
        jobs_finish_locked(job, JOB_CANCELLED,
                           "stopping the execution failed: the orchestrator is shutting down",
                           NULL);
        return;
    }
    job->pending++;
    jobs_log(job, "Stopping execution %s on agent %s", job->exec_id, job->agent_url);
}

/* The agent's error message from an error body, into out. */
static void jobs_agent_error(const struct dcall *c, char *out, size_t size)
{
    struct agent_client_error ae;

    agent_client_error_read(c->resp, c->resp_len, &ae);
    snprintf(out, size, "agent %s answered HTTP %ld%s%.200s", c->agent_url, c->status,
             ae.msg[0] ? ": " : "", ae.msg);
}

static void jobs_on_submitted(struct dcall *c)
{
    struct job *job = c->arg;
    struct jobs *j = job->j;
    char why[400];

    pthread_mutex_lock(&j->lock);
    job->pending--;
    if (c->outcome == DCALL_OK) {
        /* keep_slot: the slot is ours from here on, whatever the agent said. */
        job->agent = c->answered_by;
        job->agent_gen = c->answered_gen;
        job->slot = true;
        strx_copy(job->agent_url, sizeof(job->agent_url), c->agent_url);
    }
    if (c->outcome == DCALL_OK && c->status == 202) {
        json_t *o = json_loadb(c->resp ? c->resp : "", c->resp_len, JSON_ALLOW_NUL, NULL);
        const char *id = json_string_value(json_object_get(o, "execution_id"));

        if (id && strlen(id) < sizeof(job->exec_id)) {
            strx_copy(job->exec_id, sizeof(job->exec_id), id);
            job->phase = JOB_PHASE_POLL;
            jobs_log(job, "Running on agent %s as execution %s", job->agent_url, job->exec_id);
            jobs_poll_locked(job, 0);
        } else {
            jobs_finish_locked(job, JOB_FAILED, "the agent accepted the job without an id", NULL);
        }
        json_decref(o);
    } else if (c->outcome == DCALL_OK) {
        jobs_agent_error(c, why, sizeof(why));
        jobs_finish_locked(job, JOB_FAILED, why, NULL);
    } else {
        jobs_finish_locked(job, JOB_FAILED, c->err, NULL);
    }
    pthread_mutex_unlock(&j->lock);
    dcall_free(c);
}

static void jobs_on_polled(struct dcall *c)
{
    struct job *job = c->arg;
    struct jobs *j = job->j;
    char why[400];

    pthread_mutex_lock(&j->lock);
    job->pending--;
    if (job->phase == JOB_PHASE_DONE) {
        /* A poll still out when the job ended (shutdown, a failed cancel). */
        jobs_evict_locked(j);
    } else if (c->outcome == DCALL_OK && c->status == 200) {
        json_t *o = json_loadb(c->resp ? c->resp : "", c->resp_len, JSON_ALLOW_NUL, NULL);
        const char *st = json_string_value(json_object_get(o, "status"));

        if (!st) {
            jobs_finish_locked(job, JOB_FAILED, "the agent answered a poll without a status", NULL);
        } else if (!strcmp(st, "pending") || !strcmp(st, "running")) {
            int64_t took_ms = (clock_mono_ns() - job->poll_sent_ns) / 1000000;
            jobs_poll_locked(job, took_ms < JOBS_POLL_MIN_MS ? JOBS_POLL_MIN_MS : 0);
        } else {
            jobs_finish_result_locked(job, o);
        }
        json_decref(o);
    } else if (c->outcome == DCALL_OK && c->status == 404) {
        snprintf(why, sizeof(why), "agent %s no longer knows execution %s (restarted?)",
                 c->agent_url, job->exec_id);
        jobs_finish_locked(job, JOB_FAILED, why, NULL);
    } else if (c->outcome == DCALL_OK) {
        jobs_agent_error(c, why, sizeof(why));
        jobs_finish_locked(job, JOB_FAILED, why, NULL);
    } else {
        snprintf(why, sizeof(why), "lost the agent during the run: %s", c->err);
        jobs_finish_locked(job, JOB_FAILED, why, NULL);
    }
    pthread_mutex_unlock(&j->lock);
    dcall_free(c);
}

/* GET /execution/{id}?wait=wait_s on the job's agent. */
static void jobs_poll_now_locked(struct job *job, int wait_s)
{
    struct dcall *c = dcall_new();

    if (!c) {
        jobs_finish_locked(job, JOB_FAILED, "out of memory", NULL);
        return;
    }
    c->agent = job->agent;
    c->agent_gen = job->agent_gen;
    c->method = "GET";
    snprintf(c->path, sizeof(c->path), "/execution/%s?wait=%d", job->exec_id, wait_s);
    c->timeout_ms = wait_s * 1000L + JOBS_POLL_MARGIN_MS;
    strx_copy(c->req_id, sizeof(c->req_id), job->req_id);
    c->done = jobs_on_polled;
    c->arg = job;
    job->poll_sent_ns = clock_mono_ns();
    if (dispatch_submit(job->j->d, c) < 0) {
        dcall_free(c);
        jobs_finish_locked(job, JOB_FAILED, "the orchestrator is shutting down", NULL);
        return;
    }
    job->pending++;
}

static void jobs_poll_timer(void *arg)
{
    struct job *job = arg;
    struct jobs *j = job->j;

    pthread_mutex_lock(&j->lock);
    job->pending--;
    if (job->phase == JOB_PHASE_POLL)
        jobs_poll_locked(job, 0);
    jobs_evict_locked(j);
    pthread_mutex_unlock(&j->lock);
}

/* The next step of a running job, at once or after delay_ms: a long-poll, or the DELETE of a
 * cancel (then no new long-poll: the DELETE's answer fetches the final result). Loop thread. */
static void jobs_poll_locked(struct job *job, long delay_ms)
{
    if (job->cancel_requested) {
        if (!job->delete_sent)
            jobs_send_delete_locked(job);
        return;
    }
    if (delay_ms <= 0) {
        jobs_poll_now_locked(job, JOBS_POLL_WAIT_S);
        return;
    }
    if (upstream_after(job->j->up, delay_ms, jobs_poll_timer, job) < 0) {
        jobs_finish_locked(job, JOB_FAILED, "out of memory", NULL);
        return;
    }
    job->pending++;
}

/* What a client is shown, with *result (borrowed, NULL while unfinished): a job's end only
 * once it is written (jobs_persist_shown_done), so that an end seen is an end kept. */
static enum job_status jobs_shown(const struct job *job, json_t **result)
{
    if (jobs_persist_shown_done(job)) {
        *result = job->result;
        return job->status;
    }
    *result = NULL;
    if (job->cancel_requested)
        return JOB_CANCELLED;
    return job->started_ns ? JOB_RUNNING : JOB_QUEUED;
}

/* The agent's scenario warnings of a finished job's result, else []: new reference. */
static json_t *jobs_warnings(json_t *result)
{
    json_t *w = result ? json_object_get(result, "warnings") : NULL;

    return json_is_array(w) ? json_incref(w) : json_array();
}

/* The status view of a job; with_result adds the result (null until finished). */
static json_t *jobs_status_view(struct job *job, bool with_result)
{
    char created[48], started[48], finished[48];
    json_t *result;
    enum job_status st = jobs_shown(job, &result);
    json_t *err = result ? json_object_get(result, "error") : NULL;
    json_t *o;

    jobs_iso(job->created_ns, created, sizeof(created));
    jobs_iso(job->started_ns, started, sizeof(started));
    jobs_iso(result ? job->finished_ns : 0, finished, sizeof(finished));
    o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:O?}", "jobId", job->id, "status",
        job_status_names[st], "language", job->language, "createdAt", created, "startedAt",
        started[0] ? started : NULL, "finishedAt", finished[0] ? finished : NULL, "executionId",
        job->exec_id[0] ? job->exec_id : NULL, "agent", job->agent_url[0] ? job->agent_url : NULL,
        "error", err && json_is_string(err) ? err : NULL);
    if (o && result)
        json_object_set(o, "durationMs", json_object_get(result, "durationMs"));
    if (o && with_result &&
        (json_object_set_new(o, "warnings", jobs_warnings(result)) < 0 ||
         json_object_set(o, "result", result ? result : json_null()) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int jobs_get_json(struct jobs *j, const char *id, int owner, enum jobs_view view, json_t **out)
{
    struct job *job;
    json_t *o = NULL, *result;
    enum job_status st;

    pthread_mutex_lock(&j->lock);
    jobs_persist_evict_old_locked(j);
    job = jobs_find_locked(j, id, owner);
    if (!job) {
        pthread_mutex_unlock(&j->lock);
        return -ENOENT;
    }
    st = jobs_shown(job, &result);
    if (view == JOBS_VIEW_STATUS)
        o = jobs_status_view(job, true);
    else
        o = json_pack("{s:s, s:s, s:s, s:O, s:o, s:O}", "jobId", job->id, "status",
                      job_status_names[st], "language", job->language, "logs", job->logs,
                      "warnings", jobs_warnings(result), "result", result ? result : json_null());
    pthread_mutex_unlock(&j->lock);
    if (!o)
        return -ENOMEM;
    *out = o;
    return 0;
}

/* A listing: the wanted status (-1 = any), the caller's owner and the page. */
struct jobs_list {
    int want, owner;
    json_t *arr;
};

static bool jobs_list_match(const struct store_node *n, void *arg)
{
    const struct jobs_list *l = arg;
    json_t *result;

    return JOB_OF(n)->owner == l->owner &&
           (l->want < 0 || (int)jobs_shown(JOB_OF(n), &result) == l->want);
}

static void jobs_list_visit(struct store_node *n, void *arg)
{
    json_array_append_new(((struct jobs_list *)arg)->arr, jobs_status_view(JOB_OF(n), false));
}

int jobs_list_json(struct jobs *j, const char *status, int owner, long limit, json_t **out,
                   struct err *e)
{
    int want = -1;
    size_t total;
    json_t *arr;

    if (status && *status) {
        want = jobs_status_of(status);
        if (want < 0)
            return err_set(e, ERR_INVALID, "status",
                           "query 'status' must be queued, running, completed, failed or "
                           "cancelled");
    }
    arr = json_array();
    if (!arr)
        return -ENOMEM;
    pthread_mutex_lock(&j->lock);
    jobs_persist_evict_old_locked(j);
    total = store_page(&j->store, 0, limit > 0 ? (size_t)limit : 0, jobs_list_match,
                       jobs_list_visit, &(struct jobs_list){want, owner, arr});
    pthread_mutex_unlock(&j->lock);
    *out = json_pack("{s:o, s:I, s:I}", "jobs", arr, "total", (json_int_t)total, "count",
                     (json_int_t)json_array_size(arr));
    return *out ? 0 : -ENOMEM;
}

int jobs_cancel(struct jobs *j, const char *id, int owner, jobs_cancel_fn cb, void *arg,
                unsigned *status, json_t **reply)
{
    struct job *job;
    struct job_waiter *w;

    pthread_mutex_lock(&j->lock);
    job = jobs_find_locked(j, id, owner);
    if (!job) {
        pthread_mutex_unlock(&j->lock);
        return -ENOENT;
    }
    switch (job->phase) {
    case JOB_PHASE_DONE:
        if (job->status == JOB_CANCELLED) {
            *status = 200;
            *reply = json_pack("{s:s, s:s, s:s}", "jobId", job->id, "status", "cancelled",
                               "message", "Job already cancelled");
        } else {
            char msg[96];

            snprintf(msg, sizeof(msg), "job %s already %s", job->id, job_status_names[job->status]);
            *status = 409;
            *reply = json_pack("{s:{s:s, s:s}, s:s, s:s}", "error", "code", "conflict", "message",
                               msg, "jobId", job->id, "status", job_status_names[job->status]);
        }
        break;
    case JOB_PHASE_QUEUED: {
        struct job **pp;

        for (pp = &j->qhead; *pp && *pp != job; pp = &(*pp)->qnext)
            ;
        if (*pp) {
            *pp = job->qnext;
            if (j->qtail == job) {
                j->qtail = NULL;
                for (struct job *x = j->qhead; x; x = x->qnext)
                    j->qtail = x;
            }
            j->queued--;
        }
        job->cancel_requested = true;
        jobs_log(job, "Cancelled before it started");
        jobs_finish_locked(job, JOB_CANCELLED, "cancelled before it started", NULL);
        *status = 200;
        *reply = json_pack("{s:s, s:s, s:s}", "jobId", job->id, "status", "cancelled", "message",
                           "Job cancelled");
        break;
    }
    case JOB_PHASE_SUBMIT:
    case JOB_PHASE_POLL:
        w = malloc(sizeof(*w));
        if (!w) {
            pthread_mutex_unlock(&j->lock);
            return -ENOMEM;
        }
        w->fn = cb;
        w->arg = arg;
        w->next = job->waiters;
        job->waiters = w;
        if (!job->cancel_requested) {
            job->cancel_requested = true;
            job->status = JOB_CANCELLED;
            jobs_log(job, "Cancel requested");
            /* In SUBMIT the 202's handler sends it once the execution id is known. */
            if (job->phase == JOB_PHASE_POLL && !job->delete_sent)
                jobs_send_delete_locked(job);
        }
        pthread_mutex_unlock(&j->lock);
        return 1;
    }
    pthread_mutex_unlock(&j->lock);
    return *reply ? 0 : -ENOMEM;
}
