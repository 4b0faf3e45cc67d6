/* job_req.c - the job API's request body. */
#include "job_req.h"

#include <string.h>

#include "json_util.h"
#include "reqfields.h"

void job_req_done(struct job_req *req)
{
    json_decref(req->root);
    memset(req, 0, sizeof(*req));
}

int job_req_parse(const char *body, size_t len, double max_timeout, struct job_req *req,
                  struct err *e)
{
    int r;

    memset(req, 0, sizeof(*req));
    req->root = json_util_parse_object(body, len, e);
    if (!req->root)
        return -ERR_INVALID;
    r = json_util_get_str(req->root, "code", &req->code, &req->code_len, e);
    if (r == 1)
        r = json_util_get_str(req->root, "generated_code", &req->code, &req->code_len, e);
    if (r == 1)
        r = err_set(e, ERR_INVALID, "code", "missing field 'code' (the program to run)");
    if (r < 0)
        goto fail;
    if ((r = reqfields_parse(req->root, max_timeout, req->language, &req->timeout, &req->scenario,
                             &req->delay_s, e)) < 0)
        goto fail;
    return 0;
fail:
    job_req_done(req);
    return r;
}

json_t *job_req_agent_body(const struct job_req *req, const char *code, size_t code_len, bool async)
{
    json_t *o = json_object();

    if (!o || json_util_set_text(o, "code", code, code_len) < 0 ||
        json_object_set_new(o, "language", json_string(req->language)) < 0 ||
        json_object_set_new(o, "debug_mode", json_false()) < 0 ||
        (async && json_object_set_new(o, "async", json_true()) < 0) ||
        (req->timeout > 0 && json_object_set_new(o, "timeout", json_real(req->timeout)) < 0) ||
        (req->scenario && json_object_set(o, "scenario", req->scenario) < 0) ||
        (req->stdin_text && json_object_set(o, "stdin", req->stdin_text) < 0) ||
        (req->env && json_object_set(o, "env", req->env) < 0)) {
        json_decref(o);
        return NULL;
    }
    return o;
}
