/* api_nadoo.c - the Nadoo dialect (/api/v1): execute, async, status, batch, languages (nadoo.c
 * has the pure parts). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_client.h"
#include "api_int.h"
#include "codefmt.h"
#include "job_req.h"
#include "log.h"
#include "strx.h"

/* Checks every request's language and normalises its code; on failure answers (400, 413 or
 * 503; batch: field names start "executions[i].") and returns false. codes[i] (new) and kinds[i]
 * are set for i < n; every one is freed on failure. */
static bool api_nadoo_prepare(struct api *a, struct http_req *r, struct job_req *reqs, size_t n,
                              bool batch, char **codes, size_t *lens, enum codefmt_kind *kinds,
                              enum MHD_Result *res)
{
    char field[48];
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        codes[i] = NULL;
        if (batch)
            snprintf(field, sizeof(field), "executions[%zu].", i);
        else
            field[0] = '\0';
        strx_printf(field + strlen(field), sizeof(field) - strlen(field), "language");
        if (!api_lang_known(a, r, reqs[i].language, field, res))
            break;
        rc = codefmt_normalise(reqs[i].code, reqs[i].code_len, reqs[i].language, &codes[i],
                               &lens[i], &kinds[i]);
        if (rc < 0) {
            codes[i] = NULL;
            strcpy(field + strlen(field) - strlen("language"), "code");
            *res = rc == -E2BIG ? http_req_error(r, ERR_TOO_LARGE, field, "code is too large")
                                : http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
            break;
        }
    }
    if (i == n)
        return true;
    for (size_t k = 0; k < i; k++)
        free(codes[k]);
    return false;
}

/* Answers a request that failed validation and returns true when rc < 0. */
static bool api_nadoo_bad(struct http_req *r, int rc, const struct err *e, enum MHD_Result *res)
{
    if (rc >= 0)
        return false;
    if (rc == -ENOMEM)
        *res = http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    else
        *res = http_req_error(r, ERR_INVALID, e->field[0] ? e->field : "body", "%s", e->msg);
    return true;
}

/* The body of one Nadoo execution request, parsed and its code normalised. Returns true with
 * req, code (malloc) and kind filled; else false with the error reply in *res. */
static bool api_nadoo_read(struct api *a, struct http_req *r, struct job_req *req, char **code,
                           size_t *code_len, enum codefmt_kind *kind, enum MHD_Result *res)
{
    struct err e = {0};
    const char *text;
    size_t len;

    if (!(text = http_req_body(r, &len))) {
        *res = http_req_too_large(r);
        return false;
    }
    if (api_nadoo_bad(r, nadoo_parse(text, len, a->cfg->max_timeout, req, &e), &e, res))
        return false;
    if (!api_nadoo_prepare(a, r, req, 1, false, code, code_len, kind, res)) {
        job_req_done(req);
        return false;
    }
    return true;
}

static json_t *api_nadoo_reply(const struct dcall *dc, json_t *res, void *ctx)
{
    (void)dc;
    (void)ctx;
    return nadoo_reply(res);
}

/* POST /api/v1/execute: runs at once, answers when done. */
enum MHD_Result api_nadoo_execute(struct api *a, struct http_req *r)
{
    struct job_req req;
    enum codefmt_kind kind = CODEFMT_RAW;
    enum MHD_Result res;
    char *code = NULL;
    size_t code_len = 0;
    json_t *body;

    if (!api_nadoo_read(a, r, &req, &code, &code_len, &kind, &res))
        return res;
    body = job_req_agent_body(&req, code, code_len, false);
    if (body)
        res = api_run_take(a, r, req.language, body, req.timeout, req.delay_s, NULL,
                           api_nadoo_reply, NULL, NULL);
    else
        res = http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    json_decref(body);
    job_req_done(&req);
    free(code);
    return res;
}

/* POST /api/v1/execute/async: a job (jobs.c), polled with GET /api/v1/status/{id}. */
enum MHD_Result api_nadoo_async(struct api *a, struct http_req *r)
{
    struct job_req req;
    enum codefmt_kind kind = CODEFMT_RAW;
    enum MHD_Result res;
    char *code = NULL, id[IDS_UUID_LEN + 1];
    size_t code_len = 0;
    struct err e = {0};

    if (!api_nadoo_read(a, r, &req, &code, &code_len, &kind, &res))
        return res;
    api_job_owner(a, r, &req);
    if (jobs_submit_take(a->jobs, &req, code, code_len, codefmt_kind_name(kind), http_req_id(r), id,
                         &e) < 0)
        return api_job_refused(a, r, req.owner, &e);
    log_msg(LOG_DEBUG, http_req_id(r), "execution %s queued", id);
    return http_req_json_take(r, MHD_HTTP_ACCEPTED,
                              json_pack("{s:s, s:s}", "execution_id", id, "status", "queued"));
}

/* GET /api/v1/status/{id}. */
enum MHD_Result api_nadoo_status(struct api *a, struct http_req *r, const char *id)
{
    json_t *job = NULL, *o;
    int rc = jobs_get_json(a->jobs, id, api_owner(a, r), JOBS_VIEW_LOGS, &job);

    if (rc == -ENOENT)
        return http_req_error(r, ERR_NOT_FOUND, "execution_id",
                              "no execution '%s' (only asynchronous executions are kept)", id);
    if (rc < 0)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    o = nadoo_job_view(job);
    json_decref(job);
    if (!o)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    return http_req_json_take(r, MHD_HTTP_OK, o);
}

/* One POST /api/v1/batch in flight: every entry runs at once through the dispatcher; the last
 * to finish answers. */
struct api_nadoo_batch;

struct api_nadoo_item {
    struct api_nadoo_batch *b;
    size_t i;
};

struct api_nadoo_batch {
    struct api *a;
    struct http_req *r;
    pthread_mutex_t lock; /* guards results and left */
    json_t *results;      /* array of n replies (null until each is in) */
    size_t left;          /* entries still running */
    char langs[NADOO_BATCH_MAX][LANG_NAME_MAX];
    struct api_nadoo_item items[NADOO_BATCH_MAX];
};

static void api_nadoo_batch_free(struct api_nadoo_batch *b)
{
    json_decref(b->results);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* Stores entry i's reply (taken; NULL = OOM) and answers once all are in. Any thread. */
static void api_nadoo_batch_put(struct api_nadoo_batch *b, size_t i, json_t *reply)
{
    struct http_req *r = b->r;
    json_t *o;
    bool last;

    pthread_mutex_lock(&b->lock);
    json_array_set_new(b->results, i, reply ? reply : nadoo_failure(b->langs[i], "out of memory"));
    last = --b->left == 0;
    pthread_mutex_unlock(&b->lock);
    if (!last)
        return;
    o = json_pack("{s:O}", "results", b->results);
    api_nadoo_batch_free(b);
    http_req_complete_take(r, MHD_HTTP_OK, o);
}

/* One batch entry is over (upstream loop thread). */
static void api_nadoo_batch_done(struct dcall *dc)
{
    struct api_nadoo_item *it = dc->arg;
    struct api_nadoo_batch *b = it->b;
    struct err e = {0};
    json_t *res = NULL, *reply;

    if (agent_client_result(dc, &res, &e) == 0) {
        reply = nadoo_reply(res);
        api_files_note(b->a, dc, res, reply);
    } else
        reply = nadoo_failure(b->langs[it->i], e.msg);
    json_decref(res);
    dcall_free(dc);
    api_nadoo_batch_put(b, it->i, reply);
}

/* The batch's calls, one per entry (codes and requests borrowed). Returns b, or NULL on OOM
 * with every call freed. */
static struct api_nadoo_batch *api_nadoo_batch_new(struct api *a, struct http_req *r,
                                                   const struct job_req *reqs, char **codes,
                                                   const size_t *lens, size_t n,
                                                   struct dcall **calls)
{
    struct api_nadoo_batch *b = calloc(1, sizeof(*b));
    size_t i;

    if (!b || !(b->results = json_array()))
        goto fail;
    pthread_mutex_init(&b->lock, NULL);
    b->a = a;
    b->r = r;
    b->left = n;
    for (i = 0; i < n; i++) {
        json_t *body = job_req_agent_body(&reqs[i], codes[i], lens[i], false);

        b->items[i].b = b;
        b->items[i].i = i;
        strx_copy(b->langs[i], sizeof(b->langs[i]), reqs[i].language);
        calls[i] =
            agent_client_execute(a->cfg, reqs[i].language, body, reqs[i].timeout, reqs[i].delay_s,
                                 http_req_id(r), api_nadoo_batch_done, &b->items[i]);
        json_decref(body);
        if (!calls[i] || json_array_append_new(b->results, json_null()) < 0)
            goto fail_calls;
        calls[i]->owner = api_owner(a, r);
    }
    return b;
fail_calls:
    for (i = 0; i < n; i++)
        dcall_free(calls[i]);
    api_nadoo_batch_free(b);
    return NULL;
fail:
    free(b);
    return NULL;
}

/* POST /api/v1/batch. */
enum MHD_Result api_nadoo_batch(struct api *a, struct http_req *r)
{
    struct job_req reqs[NADOO_BATCH_MAX];
    char *codes[NADOO_BATCH_MAX];
    size_t lens[NADOO_BATCH_MAX];
    enum codefmt_kind kinds[NADOO_BATCH_MAX];
    struct dcall *calls[NADOO_BATCH_MAX] = {NULL};
    struct api_nadoo_batch *b;
    enum MHD_Result res;
    struct err e = {0};
    const char *text;
    size_t n = 0, i, len;

    if (!(text = http_req_body(r, &len)))
        return http_req_too_large(r);
    if (api_nadoo_bad(r, nadoo_batch_parse(text, len, a->cfg->max_timeout, reqs, &n, &e), &e, &res))
        return res;
    if (!api_nadoo_prepare(a, r, reqs, n, true, codes, lens, kinds, &res)) {
        for (i = 0; i < n; i++)
            job_req_done(&reqs[i]);
        return res;
    }
    b = api_nadoo_batch_new(a, r, reqs, codes, lens, n, calls);
    for (i = 0; i < n; i++) {
        job_req_done(&reqs[i]);
        free(codes[i]);
    }
    if (!b)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    atomic_fetch_add(&a->executions, n);
    for (i = 0; i < n; i++) {
        if (dispatch_submit(a->d, calls[i]) < 0) {
            dcall_free(calls[i]);
            api_nadoo_batch_put(b, i,
                                nadoo_failure(b->langs[i], "the orchestrator is shutting down"));
        }
    }
    return http_req_suspend(r, NULL);
}

/* GET /api/v1/languages. */
enum MHD_Result api_nadoo_languages(struct api *a, struct http_req *r)
{
    json_t *langs = registry_languages_detail_json(a->reg);

    if (!langs)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    return http_req_json_take(
        r, MHD_HTTP_OK,
        json_pack("{s:I, s:o}", "count", (json_int_t)json_array_size(langs), "languages", langs));
}

/* GET /api/v1/language/{name}/info. */
enum MHD_Result api_nadoo_language(struct api *a, struct http_req *r, const char *name)
{
    char canon[LANG_NAME_MAX];
    json_t *o = NULL;
    bool oom = false;

    if (lang_canon(name, strlen(name), canon, NULL) == 0)
        o = registry_language_json(a->reg, canon, &oom);
    if (oom)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    if (!o)
        return http_req_error(r, ERR_NOT_FOUND, "language",
                              "unknown language '%.40s': no agent serves it", name);
    return http_req_json_take(r, MHD_HTTP_OK, o);
}
