/* exec_metrics.c - the executions' counters: /health's (exec_mgr_health) and the agent's
 * /metrics part (docs/operations.md "Metrics"): time and queue wait as histograms by language and
 * outcome, what runs and waits, the kept results and the outcome counters, in Prometheus text
 * through common/prom.c. */
#include <errno.h>
#include <string.h>

#include "exec_mgr_int.h"
#include "prom.h"

static const char *const exec_metrics_lo[] = {"language", "outcome"};
static const double exec_metrics_run_s[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                            1,     2.5,  5,     10,   30,  60,   300};
static const double exec_metrics_wait_s[] = {0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30};

void exec_metrics_init(struct exec_mgr *m)
{
    prom_hist_vec_init(&m->run_hist, 2, exec_metrics_lo,
                       sizeof(exec_metrics_run_s) / sizeof(double), exec_metrics_run_s);
    prom_hist_vec_init(&m->wait_hist, 1, exec_metrics_lo,
                       sizeof(exec_metrics_wait_s) / sizeof(double), exec_metrics_wait_s);
}

void exec_metrics_done(struct exec_mgr *m)
{
    prom_hist_vec_done(&m->run_hist);
    prom_hist_vec_done(&m->wait_hist);
}

void exec_metrics_observe(struct exec_mgr *m, const struct exec *ex, const char *outcome)
{
    const char *lo[2] = {ex->req.language ? ex->req.language : "", outcome};

    /* One that never started (cancelled in the queue) has no run time; its wait is counted. */
    if (ex->start_real_ns) {
        (void)prom_hist_vec_observe(&m->run_hist, lo,
                                    (double)(ex->end_real_ns - ex->start_real_ns) / 1e9);
        (void)prom_hist_vec_observe(&m->wait_hist, lo,
                                    (double)(ex->start_real_ns - ex->created_real_ns) / 1e9);
    } else {
        (void)prom_hist_vec_observe(&m->wait_hist, lo,
                                    (double)(ex->end_real_ns - ex->created_real_ns) / 1e9);
    }
}

json_t *exec_mgr_health(struct exec_mgr *m)
{
    json_t *o;

    pthread_mutex_lock(&m->lock);
    o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                  "running", (json_int_t)m->running, "queued", (json_int_t)m->queued,
                  "max_concurrent", (json_int_t)m->cfg->max_concurrent, "max_queue",
                  (json_int_t)m->cfg->max_queue, "kept", (json_int_t)m->store.count, "kept_bytes",
                  (json_int_t)m->done_bytes, "history_bytes", (json_int_t)m->cfg->history_bytes,
                  "evicted", (json_int_t)m->n_evicted, "completed", (json_int_t)m->n_completed,
                  "failed", (json_int_t)m->n_failed, "timeout", (json_int_t)m->n_timeout,
                  "cancelled", (json_int_t)m->n_cancelled, "rejected", (json_int_t)m->n_rejected,
                  "lost_to_zygote_death", (json_int_t)m->n_lost);
    pthread_mutex_unlock(&m->lock);
    return o;
}

/* The single-series families, each a field of exec_mgr_health. */
static const struct prom_field exec_metrics_fields[] = {
    {"running", "sandpit_executions_in_flight", "gauge",
     "Executions running now (each holds a slot)."},
    {"queued", "sandpit_executions_queued", "gauge", "Executions waiting for a slot."},
    {"max_concurrent", "sandpit_executions_max_concurrent", "gauge", "Slots (--max-concurrent)."},
    {"max_queue", "sandpit_executions_max_queued", "gauge",
     "Queue room (--max-queue); beyond it submissions get 503."},
    {"kept", "sandpit_results_kept", "gauge",
     "Executions listed in the history (finished or not)."},
    {"kept_bytes", "sandpit_results_kept_bytes", "gauge",
     "Bytes the finished results in the history hold."},
    {"history_bytes", "sandpit_results_max_bytes", "gauge",
     "The history's byte budget (--history-bytes)."},
    {"evicted", "sandpit_results_evicted_total", "counter",
     "Finished results dropped from the history for its caps."},
};

int exec_mgr_metrics(struct exec_mgr *m, struct buf *b)
{
    static const char *const outcomes[] = {"completed", "failed",   "timeout",
                                           "cancelled", "rejected", "lost_to_zygote_death"};
    json_t *h = exec_mgr_health(m);
    int r = h ? prom_fields(b, h, exec_metrics_fields,
                            sizeof(exec_metrics_fields) / sizeof(*exec_metrics_fields))
              : -ENOMEM;

    if (r == 0)
        r = prom_by_key(b, "sandpit_executions_total", "counter",
                        "Executions finished (or refused: rejected), by outcome.", "outcome", h,
                        outcomes, sizeof(outcomes) / sizeof(*outcomes));
    if (r == 0)
        r = prom_hist_vec_write(&m->run_hist, b, "sandpit_execution_duration_seconds",
                                "Wall time from the start of an execution to its result, by "
                                "language and outcome (session cells included).");
    if (r == 0)
        r = prom_hist_vec_write(&m->wait_hist, b, "sandpit_execution_queue_wait_seconds",
                                "Time an execution waited for a slot, by language.");
    json_decref(h);
    return r;
}
