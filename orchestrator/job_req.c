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

int job_req_read(json_t *o, unsigned opts, double max_timeout, struct job_req *req, struct err *e)
{
    struct reqfields f;
    int r;

    memset(req, 0, sizeof(*req));
    if ((r = reqfields_read(o, "code", opts, max_timeout, &f, e)) < 0)
        return r;
    req->root = json_incref(o);
    req->code = f.code;
    req->code_len = f.code_len;
    memcpy(req->language, f.language, sizeof(req->language));
    req->timeout = f.timeout;
    req->scenario = f.scenario;
    req->stdin_text = f.stdin_text;
    req->env = f.env;
    req->delay_s = f.delay_s;
    return 0;
}

int job_req_parse(const char *body, size_t len, double max_timeout, struct job_req *req,
                  struct err *e)
{
    json_t *o = json_util_parse_object(body, len, e);
    int r;

    memset(req, 0, sizeof(*req));
    if (!o)
        return -ERR_INVALID;
    /* Every execution field the agent takes; anything else is a 400 naming it. */
    r = job_req_read(o, REQFIELDS_STDIN | REQFIELDS_ENV | REQFIELDS_EXEC | REQFIELDS_STRICT,
                     max_timeout, req, e);
    json_decref(o);
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
        (req->env && json_object_set(o, "env", req->env) < 0) ||
        reqfields_copy_exec(req->root, o) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
