/* agent_client.c - calls to agents and the reading of their replies. */
#include "agent_client.h"

#include <stdio.h>
#include <string.h>

#include "json_out.h"
#include "log.h"
#include "strx.h"

#define AGENT_CLIENT_MARGIN_S 30.0 /* agent answer time beyond the code's own timeout */

void agent_client_error_read(const char *body, size_t len, struct agent_client_error *out)
{
    json_t *o = body && len ? json_loadb(body, len, JSON_ALLOW_NUL, NULL) : NULL;
    json_t *e = json_object_get(o, "error");
    const char *m = json_string_value(json_object_get(e, "message"));

    if (!m)
        m = json_string_value(json_object_get(o, "detail"));
    strx_copy(out->code, sizeof(out->code), json_string_value(json_object_get(e, "code")) ?: "");
    strx_copy(out->field, sizeof(out->field), json_string_value(json_object_get(e, "field")) ?: "");
    strx_copy(out->msg, sizeof(out->msg), m ? m : "");
    json_decref(o);
}

long agent_client_wait_ms(const struct orch_cfg *cfg, double timeout, double delay_s)
{
    double wait_s = cfg->request_timeout;

    if (timeout > 0 && timeout + AGENT_CLIENT_MARGIN_S < wait_s)
        wait_s = timeout + AGENT_CLIENT_MARGIN_S;
    return (long)((wait_s + delay_s) * 1000);
}

struct dcall *agent_client_execute(const struct orch_cfg *cfg, const char *lang, json_t *body,
                                   double timeout, double delay_s, const char *req_id,
                                   dcall_done_fn done, void *arg)
{
    struct dcall *dc = body ? dcall_new() : NULL;

    if (!dc)
        return NULL;
    dc->body = json_out_dumps(body, 0, &dc->body_len);
    if (!dc->body) {
        dcall_free(dc);
        return NULL;
    }
    strx_copy(dc->lang, sizeof(dc->lang), lang);
    dc->method = "POST";
    snprintf(dc->path, sizeof(dc->path), "/execute");
    dc->timeout_ms = agent_client_wait_ms(cfg, timeout, delay_s);
    dc->retry = true;
    dc->may_wait = true;
    strx_copy(dc->req_id, sizeof(dc->req_id), req_id);
    dc->done = done;
    dc->arg = arg;
    return dc;
}

/* The agent answered, but not 200: its error in our vocabulary. */
static int agent_client_http_error(const struct dcall *dc, struct err *e)
{
    struct agent_client_error ae;

    agent_client_error_read(dc->resp, dc->resp_len, &ae);
    switch (dc->status) {
    case 400:
        return err_set(e, ERR_INVALID, ae.field, "%s",
                       ae.msg[0] ? ae.msg : "the agent refused the request");
    case 413:
        return err_set(e, ERR_TOO_LARGE, ae.field, "%s", ae.msg[0] ? ae.msg : "request too large");
    case 503:
        return err_set(e, ERR_BUSY, ae.field, "agent %s is busy: %s", dc->agent_url, ae.msg);
    default:
        log_msg(LOG_WARN, dc->req_id, "agent %s answered HTTP %ld: %s", dc->agent_url, dc->status,
                ae.msg);
        return err_set(e, ERR_AGENT_FAILED, ae.field, "agent %s answered HTTP %ld: %s",
                       dc->agent_url, dc->status, ae.msg);
    }
}

int agent_client_result(const struct dcall *dc, json_t **res, struct err *e)
{
    *res = NULL;
    switch (dc->outcome) {
    case DCALL_OK:
        break;
    case DCALL_NO_AGENT:
        return err_set(e, ERR_NO_AGENT, "language", "%s", dc->err);
    case DCALL_AGENT_TIMEOUT:
        return err_set(e, ERR_AGENT_TIMEOUT, "", "%s", dc->err);
    case DCALL_SHUTDOWN:
        return err_set(e, ERR_SHUTTING_DOWN, "", "%s", dc->err);
    case DCALL_AGENT_FAILED:
    case DCALL_AGENT_GONE:
        return err_set(e, ERR_AGENT_FAILED, "", "%s", dc->err);
    }
    if (dc->status != 200)
        return agent_client_http_error(dc, e);
    *res = json_loadb(dc->resp ? dc->resp : "", dc->resp_len, JSON_ALLOW_NUL, NULL);
    if (json_is_object(*res))
        return 0;
    json_decref(*res);
    *res = NULL;
    log_msg(LOG_WARN, dc->req_id, "agent %s answered an ExecutionResult we cannot read",
            dc->agent_url);
    return err_set(e, ERR_AGENT_FAILED, "", "agent %s answered an ExecutionResult we cannot read",
                   dc->agent_url);
}
