/* api_toolcall.c - POST /execute, the NVIDIA code-execution tool contract: every answer, errors
 * included, carries process_status, stdout and stderr (toolcall.c has the pure parts). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "codefmt.h"
#include "ids.h"
#include "json_util.h"
#include "toolcall.h"
#include "strx.h"

/* What the reply of one run needs (api_run_take's ctx). */
struct api_toolcall_ctx {
    long long max_chars;           /* max_output_characters, -1 = none */
    json_t *warnings;              /* owned: the request's own warnings (unknown fields) */
    const char *code_format;       /* static name of the recognised format */
    char req_id[IDS_UUID_LEN + 1]; /* echoed in the reply */
};

/* The dialect's error fields on every error body of the request: process_status "error",
 * stdout "" and stderr naming the problem. */
static int api_toolcall_decorate(json_t *body, const char *msg)
{
    if (json_object_set_new(body, "process_status", json_string("error")) < 0 ||
        json_object_set_new(body, "stdout", json_string("")) < 0 ||
        json_util_set_text(body, "stderr", msg, strlen(msg)) < 0)
        return -ENOMEM;
    return 0;
}

static void api_toolcall_ctx_free(void *arg)
{
    struct api_toolcall_ctx *ctx = arg;

    if (ctx)
        json_decref(ctx->warnings);
    free(ctx);
}

static json_t *api_toolcall_reply(const struct dcall *dc, json_t *res, void *arg)
{
    struct api_toolcall_ctx *ctx = arg;
    json_t *reply = toolcall_reply(res, ctx->max_chars);

    if (reply && json_array_size(ctx->warnings) > 0) {
        json_t *w = json_object_get(reply, "warnings");

        /* Ours first, then what the agent said of the scenario. */
        if (json_is_array(w))
            json_array_extend(ctx->warnings, w);
        json_object_set(reply, "warnings", ctx->warnings);
    }
    if (reply) {
        json_object_set_new(reply, "agent", json_string(dc->agent_url));
        json_object_set_new(reply, "code_format", json_string(ctx->code_format));
        json_object_set_new(reply, "request_id", json_string(ctx->req_id));
    }
    return reply;
}

enum MHD_Result api_toolcall_execute(struct api *a, struct http_req *r)
{
    struct toolcall_req req;
    struct api_toolcall_ctx *ctx = NULL;
    enum codefmt_kind kind = CODEFMT_RAW;
    enum MHD_Result res;
    char *code = NULL;
    size_t code_len = 0, len;
    json_t *body = NULL;
    struct err e = {0};
    const char *text, *ws = NULL;
    int rc;

    http_req_set_decorator(r, api_toolcall_decorate);
    if (!(text = http_req_body(r, &len)))
        return http_req_too_large(r);
    rc = toolcall_parse(text, len, a->cfg->max_timeout, &req, &e);
    if (rc == -ENOMEM)
        return http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
    if (rc < 0)
        return http_req_error(r, ERR_INVALID, e.field, "%s", e.msg);
    if (!api_lang_known(a, r, req.language, "language", &res))
        goto out;
    rc = codefmt_normalise(req.code, req.code_len, req.language, &code, &code_len, &kind);
    if (rc == 0)
        body = toolcall_agent_body(&req, code, code_len);
    if (body && toolcall_set_workspace(&req, a->cfg->toolcall_workspace, body, &ws) < 0) {
        json_decref(body);
        body = NULL;
    }
    ctx = body ? calloc(1, sizeof(*ctx)) : NULL;
    if (!ctx) {
        res = rc == -E2BIG ? http_req_error(r, ERR_TOO_LARGE, "generated_code", "code is too large")
                           : http_req_error(r, ERR_BUSY, NULL, "out of memory, retry");
        goto out;
    }
    ctx->max_chars = req.max_chars;
    ctx->warnings = json_incref(req.warnings);
    ctx->code_format = codefmt_kind_name(kind);
    strx_copy(ctx->req_id, sizeof(ctx->req_id), http_req_id(r));
    /* Calls of one workspace go to one agent: the workspace lives there. */
    res = api_run_take(a, r, req.language, body, req.timeout, req.delay_s, ws, api_toolcall_reply,
                       ctx, api_toolcall_ctx_free);
out:
    toolcall_req_done(&req);
    free(code);
    json_decref(body);
    return res;
}
