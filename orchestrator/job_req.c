/* job_req.c - the job API's request body. */
#include "job_req.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "json_util.h"
#include "scenario.h"

void job_req_done(struct job_req *req)
{
    json_decref(req->root);
    json_decref(req->warnings);
    memset(req, 0, sizeof(*req));
}

int job_req_parse(const char *body, size_t len, double max_timeout, struct job_req *req,
                  struct err *e)
{
    const char *lang = "python";
    size_t lang_len = 6;
    json_t *scn = NULL;
    double t;
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
    if ((r = json_util_get_str(req->root, "language", &lang, &lang_len, e)) < 0 ||
        (r = lang_canon(lang, lang_len, req->language, e)) < 0)
        goto fail;
    r = json_util_get_number(req->root, "timeout", &t, e);
    if (r < 0)
        goto fail;
    if (r == 0) {
        if (!isfinite(t) || t <= 0 || t > max_timeout) {
            r = err_set(e, ERR_INVALID, "timeout",
                        "field 'timeout' must be a number of seconds > 0 and <= %g", max_timeout);
            goto fail;
        }
        req->timeout = t;
    }
    r = json_util_get_object(req->root, "scenario", &scn, e);
    if (r < 0)
        goto fail;
    if (r == 0) {
        if ((r = scenario_validate(scn, &req->warnings, e)) < 0)
            goto fail;
    } else {
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
