/* api_int.h - what the orchestrator's API files share (api.c and one file per dialect); not
 * for the rest of the tree. */
#ifndef SANDPIT_API_INT_H
#define SANDPIT_API_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "http_srv.h"
#include "job_req.h"
#include "keys.h"
#include "prom.h"
#include "kernels.h"
#include "sessions.h"
#include "ws_proxy.h"

#define API_MAX_BODY (10u << 20)
#define API_VERSION  "0.1.0"

struct api {
    const struct orch_cfg *cfg;
    struct registry *reg;
    struct dispatch *d;
    struct jobs *jobs;
    struct sessions *sessions; /* /api/v1/sessions: our ids -> agents (owned) */
    struct keys *keys;         /* API keys and their limits (n == 0: none), borrowed */
    struct kernels *kernels;   /* /api/kernels: kernel ids -> agents (owned) */
    struct ws_proxy *wsp;      /* the kernels' WebSockets to their agents (owned) */
    struct http_srv *http;
    atomic_ulong executions;
    struct prom_hist_vec run_hist; /* synchronous runs' time by language and process_status */
    struct files_map *files;       /* which agent holds an execution's collected files (owned) */
};

/* Builds a dialect's reply from an agent's ExecutionResult (borrowed): new reference, or NULL
 * when the result cannot be read. */
typedef json_t *(*api_run_reply_fn)(const struct dcall *dc, json_t *res, void *ctx);

/* Checks that some agent could serve lang; otherwise answers 400 naming the available ones on
 * field (e.g. "language", "executions[2].language") and returns false. */
bool api_lang_known(struct api *a, struct http_req *r, const char *lang, const char *field,
                    enum MHD_Result *res);
/* Runs body (borrowed) on an agent serving lang and answers r when done, with reply(dc, result,
 * ctx) or the agent's error in r's dialect. ctx (taken) is freed with ctx_free (NULL: free())
 * when r is over. sticky (or NULL): a workspace's name, so calls with the same one go to the
 * same agent (dcall.sticky). Suspends r; returns what the handler returns. */
enum MHD_Result api_run_take(struct api *a, struct http_req *r, const char *lang, json_t *body,
                             double timeout, double delay_s, const char *sticky,
                             api_run_reply_fn reply, void *ctx, void (*ctx_free)(void *ctx));
/* Counts one synchronous run for /metrics: its language, NVIDIA process_status and seconds. */
void api_count_run(struct api *a, const char *lang, const char *process_status, double seconds);

/* With a sessions limit on r's key (owner, api_owner): answers 429 and returns false when the
 * key has that many live sessions. */
bool api_key_session_ok(struct api *a, struct http_req *r, int owner, enum MHD_Result *res);
/* The timeout a run of key (api_owner - 1, or -1) gets: timeout itself, or the key's
 * max_timeout when the request left it to the server's default (also written into body, the
 * agent's request, when not NULL). */
double api_key_cap_timeout(struct api *a, int key, json_t *body, double timeout);
/* Sets req's owner (api_owner), its key's limit on jobs at once and its timeout's cap. */
void api_job_owner(struct api *a, struct http_req *r, struct job_req *req);
/* Answers a refused job submission (e from jobs_submit_take): 429 naming "concurrent", or 503. */
enum MHD_Result api_job_refused(struct api *a, struct http_req *r, int owner, const struct err *e);
/* The owner jobs made by r get and that r may see (jobs.h "Owners"): 0 when no API keys are
 * configured, else 1 + the index of r's X-API-Key (0 when r has none: matches no keyed job). */
int api_owner(struct api *a, struct http_req *r);

/* api_files.c: copies the files fields of an agent's result res into the dialect's reply (our
 * download URLs) and notes which agent (dc's) holds them. Either NULL: nothing. */
void api_files_note(struct api *a, const struct dcall *dc, json_t *res, json_t *reply);
/* Answers GET /api/v1/executions/{id}/files/{path} (true, *res set), false for other URLs. */
bool api_files_route(struct api *a, struct http_req *r, enum MHD_Result *res);

/* POST /execute (NVIDIA tool-call contract). */
enum MHD_Result api_toolcall_execute(struct api *a, struct http_req *r);

/* The job API (HARDIK dialect). */
enum MHD_Result api_jobs_run(struct api *a, struct http_req *r);
enum MHD_Result api_jobs_get(struct api *a, struct http_req *r, const char *id,
                             enum jobs_view view);
enum MHD_Result api_jobs_list(struct api *a, struct http_req *r);
enum MHD_Result api_jobs_cancel(struct api *a, struct http_req *r, const char *id);

/* The Nadoo dialect (/api/v1). */
enum MHD_Result api_nadoo_execute(struct api *a, struct http_req *r);
enum MHD_Result api_nadoo_async(struct api *a, struct http_req *r);
enum MHD_Result api_nadoo_status(struct api *a, struct http_req *r, const char *id);
enum MHD_Result api_nadoo_batch(struct api *a, struct http_req *r);
enum MHD_Result api_nadoo_languages(struct api *a, struct http_req *r);
enum MHD_Result api_nadoo_language(struct api *a, struct http_req *r, const char *name);
enum MHD_Result api_nadoo_health(struct api *a, struct http_req *r);

/* Everything under /api/kernels and /api/kernelspecs (api_kernels.c), the key checked. */
enum MHD_Result api_kernels(struct api *a, struct http_req *r);

/* Everything under /api/v1/sessions (api_sessions.c), the key already checked. */
enum MHD_Result api_sessions(struct api *a, struct http_req *r);

#endif
