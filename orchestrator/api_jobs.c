/* api_jobs.c - the job API (HARDIK dialect): /api/run, /api/logs|status/{id}, /api/jobs,
 * /api/cancel/{id}; the jobs themselves live in jobs.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "api_sse.h"
#include "codefmt.h"
#include "job_req.h"
#include "log.h"

enum MHD_Result api_jobs_run(struct api *a, struct http_req *r)
{
    struct job_req req;
    enum codefmt_kind kind = CODEFMT_RAW;
    char *code = NULL, id[IDS_UUID_LEN + 1];
    size_t code_len = 0, len;
    enum MHD_Result res;
    struct err e = {0};
    const char *text;
    int rc;

    if (!(text = http_req_body(r, &len)))
        return http_req_too_large(r);
    rc = job_req_parse(text, len, a->cfg->max_timeout, &req, &e);
    if (rc == -ENOMEM)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    if (rc < 0)
        return http_req_error(r, ERR_INVALID, e.field, "%s", e.msg);
    if (!api_lang_known(a, r, req.language, "language", &res)) {
        job_req_done(&req);
        return res;
    }
    rc = codefmt_normalise(req.code, req.code_len, req.language, &code, &code_len, &kind);
    if (rc < 0) {
        job_req_done(&req);
        if (rc == -E2BIG)
            return http_req_error(r, ERR_TOO_LARGE, "code", "code is too large");
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    }
    api_job_owner(a, r, &req);
    rc = jobs_submit_take(a->jobs, &req, code, code_len, codefmt_kind_name(kind), http_req_id(r),
                          id, &e);
    if (rc < 0)
        return api_job_refused(a, r, req.owner, &e);
    log_msg(LOG_DEBUG, http_req_id(r), "job %s queued", id);
    return http_req_json_take(r, MHD_HTTP_ACCEPTED,
                              json_pack("{s:s, s:s}", "jobId", id, "status", "queued"));
}

/* ?follow=1 (or true): stream the logs. */
static bool api_jobs_follow(struct http_req *r)
{
    const char *f = http_req_query(r, "follow");

    return f && (!strcmp(f, "1") || !strcmp(f, "true"));
}

enum MHD_Result api_jobs_get(struct api *a, struct http_req *r, const char *id, enum jobs_view view)
{
    json_t *o = NULL;
    int rc = jobs_get_json(a->jobs, id, api_owner(a, r), view, &o);

    if (rc == -ENOENT)
        return http_req_error(r, ERR_NOT_FOUND, "jobId", "no job '%s'", id);
    if (rc < 0)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    if (view == JOBS_VIEW_LOGS && api_jobs_follow(r))
        return api_follow_take(a, r, id, o);
    return http_req_json_take(r, MHD_HTTP_OK, o);
}

enum MHD_Result api_jobs_list(struct api *a, struct http_req *r)
{
    struct err e = {0};
    json_t *o = NULL;
    long limit;
    int rc;

    if (http_req_query_long(r, "limit", 1, 1000, 100, &limit, &e) < 0)
        return http_req_err(r, &e);
    rc = jobs_list_json(a->jobs, http_req_query(r, "status"), api_owner(a, r), limit, &o, &e);
    if (rc == -ERR_INVALID)
        return http_req_err(r, &e);
    if (rc < 0)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    return http_req_json_take(r, MHD_HTTP_OK, o);
}

/* A cancel that waited for the agent is over (upstream loop thread, jobs lock held). */
static void api_jobs_cancel_done(void *arg, unsigned status, json_t *reply)
{
    http_req_complete_take(arg, status, reply);
}

/* jobs.c's 409 body (taken) as our error body, with its jobId and status kept: new or NULL. */
static json_t *api_jobs_conflict(struct http_req *r, json_t *reply)
{
    const char *msg =
        json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
    json_t *o = http_req_error_body(r, ERR_CONFLICT, "jobId", msg ? msg : "the job has finished");

    if (o && (json_object_set(o, "jobId", json_object_get(reply, "jobId")) < 0 ||
              json_object_set(o, "status", json_object_get(reply, "status")) < 0)) {
        json_decref(o);
        o = NULL;
    }
    json_decref(reply);
    return o;
}

enum MHD_Result api_jobs_cancel(struct api *a, struct http_req *r, const char *id)
{
    json_t *reply = NULL;
    unsigned status = 200;
    int rc = jobs_cancel(a->jobs, id, api_owner(a, r), api_jobs_cancel_done, r, &status, &reply);

    if (rc == 1)
        return http_req_suspend(r, NULL);
    if (rc == -ENOENT)
        return http_req_error(r, ERR_NOT_FOUND, "jobId", "no job '%s'", id);
    if (rc < 0)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    if (status == 409)
        reply = api_jobs_conflict(r, reply);
    return http_req_json_take(r, status, reply);
}
