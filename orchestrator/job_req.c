/* job_req.c - the job API's request body. */
#include "job_req.h"

#include <errno.h>
#include <string.h>

#include "json_util.h"
#include "reqfields.h"

void job_req_done(struct job_req *req)
{
    json_decref(req->root);
    json_decref(req->warnings);
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
    if ((r = reqfields_parse(req->root, max_timeout, req->language, &req->timeout, &req->warnings,
                             e)) < 0)
        goto fail;
    if (!req->warnings) {
        /* No scenario: an empty list, so the result always carries "warnings". */
        req->warnings = json_array();
        if (!req->warnings) {
            r = -ENOMEM;
            goto fail;
        }
    }
    return 0;
fail:
    job_req_done(req);
    return r;
}
