/* toolcall.c - POST /execute in the NVIDIA dialect. */
#include "toolcall.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_util.h"
#include "reqfields.h"

void toolcall_req_done(struct toolcall_req *req)
{
    json_decref(req->root);
    memset(req, 0, sizeof(*req));
}

int toolcall_parse(const char *body, size_t len, double max_timeout, struct toolcall_req *req,
                   struct err *e)
{
    struct reqfields f;
    long long mc;
    int r;

    memset(req, 0, sizeof(*req));
    req->max_chars = -1;
    req->root = json_util_parse_object(body, len, e);
    if (!req->root)
        return -ERR_INVALID;
    if ((r = reqfields_read(req->root, "generated_code", REQFIELDS_STDIN | REQFIELDS_ENV,
                            max_timeout, &f, e)) < 0)
        goto fail;
    req->code = f.code;
    req->code_len = f.code_len;
    memcpy(req->language, f.language, sizeof(req->language));
    req->timeout = f.timeout;
    req->scenario = f.scenario;
    req->delay_s = f.delay_s;
    r = json_util_get_int(req->root, "max_output_characters", 0, TOOLCALL_MAX_CHARS, &mc, e);
    if (r < 0)
        goto fail;
    if (r == 0)
        req->max_chars = mc;
    return 0;
fail:
    toolcall_req_done(req);
    return r;
}

json_t *toolcall_agent_body(const struct toolcall_req *req, const char *code, size_t code_len)
{
    static const char *const pass[] = {"stdin", "env", "input_data"};
    json_t *o = json_object();

    if (!o)
        return NULL;
    if (json_util_set_text(o, "code", code, code_len) < 0 ||
        json_object_set_new(o, "language", json_string(req->language)) < 0 ||
        json_object_set_new(o, "debug_mode", json_false()) < 0)
        goto fail;
    if (req->timeout > 0 && json_object_set_new(o, "timeout", json_real(req->timeout)) < 0)
        goto fail;
    /* Every character is at most 4 bytes: asking the agent for 4 bytes per character (plus
     * room) keeps the transfer small and still leaves more than max_chars characters whenever
     * the agent had to cut. Only for small limits: an agent started with a --max-output-bytes
     * below the ask would refuse the request. */
    if (req->max_chars >= 0 && req->max_chars <= 16384 &&
        json_object_set_new(o, "max_output_bytes", json_integer(req->max_chars * 4 + 64)) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        json_t *v = json_object_get(req->root, pass[i]);

        if (v && json_object_set(o, pass[i], v) < 0)
            goto fail;
    }
    /* Validated by toolcall_parse; the agent applies it. */
    if (req->scenario && json_object_set(o, "scenario", req->scenario) < 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

size_t toolcall_char_prefix(const char *s, size_t len, long long max_chars)
{
    long long n = 0;

    if (max_chars < 0)
        return len;
    for (size_t i = 0; i < len; i++) {
        /* Continuation bytes (10xxxxxx) belong to the character before them. */
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (n == max_chars)
                return i;
            n++;
        }
    }
    return len;
}

const char *toolcall_process_status(const char *agent_status)
{
    if (agent_status && !strcmp(agent_status, "completed"))
        return "completed";
    if (agent_status && !strcmp(agent_status, "timeout"))
        return "timeout";
    return "error";
}

/* Sets key to s cut to max_chars characters (+ the cut mark) and then suffix. *cut is set when
 * text was removed. */
static int toolcall_set_stream(json_t *o, const char *key, const char *s, size_t len,
                               long long max_chars, const char *suffix, bool *cut)
{
    size_t keep = toolcall_char_prefix(s, len, max_chars);
    struct buf b;
    int r;

    buf_init(&b, 0);
    r = buf_append(&b, s, keep);
    if (r == 0 && keep < len) {
        *cut = true;
        r = buf_append(&b, TOOLCALL_CUT_MARK, strlen(TOOLCALL_CUT_MARK));
    }
    if (r == 0 && suffix && *suffix) {
        /* The suffix starts on its own line. */
        if (b.len > 0 && b.data[b.len - 1] != '\n')
            r = buf_append(&b, "\n", 1);
        if (r == 0)
            r = buf_append(&b, suffix, strlen(suffix));
    }
    if (r == 0)
        r = json_util_set_text(o, key, b.data ? b.data : "", b.len);
    buf_done(&b);
    return r;
}

json_t *toolcall_reply(json_t *res, long long max_chars)
{
    const char *status = json_string_value(json_object_get(res, "status"));
    const char *ps = toolcall_process_status(status);
    json_t *out_v = json_object_get(res, "stdout"), *err_v = json_object_get(res, "stderr");
    const char *out = json_is_string(out_v) ? json_string_value(out_v) : "";
    const char *errs = json_is_string(err_v) ? json_string_value(err_v) : "";
    size_t out_len = json_is_string(out_v) ? json_string_length(out_v) : 0;
    size_t err_len = json_is_string(err_v) ? json_string_length(err_v) : 0;
    const char *error = json_string_value(json_object_get(res, "error"));
    /* The scenario's outcome (scenario, warnings, network, artificial_delay_s) is the agent's
     * word: present only when the request had a scenario. */
    static const char *const copy[] = {"execution_id",   "language",           "exit_code",
                                       "signal",         "exit_reason",        "result",
                                       "execution_time", "scenario",           "warnings",
                                       "network",        "artificial_delay_s", "stdout_replaced",
                                       "stderr_replaced"};
    char line[512];
    const char *suffix = NULL;
    bool cut = false;
    json_t *o = json_object();

    if (!o)
        return NULL;
    if (!strcmp(ps, "timeout")) {
        suffix = TOOLCALL_TIMED_OUT;
    } else if (!strcmp(ps, "error")) {
        /* A traceback already ends with the error line; anything else (a signal, sys.exit,
         * a cancel) gets one so stderr always says what happened. */
        if (error && *error && !memmem(errs, err_len, error, strlen(error))) {
            snprintf(line, sizeof(line), "%s\n", error);
            suffix = line;
        } else if (!error && status && !strcmp(status, "cancelled")) {
            suffix = "Cancelled\n";
        }
    }
    if (json_object_set_new(o, "process_status", json_string(ps)) < 0 ||
        toolcall_set_stream(o, "stdout", out, out_len, max_chars, NULL, &cut) < 0 ||
        toolcall_set_stream(o, "stderr", errs, err_len, max_chars, suffix, &cut) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        json_t *v = json_object_get(res, copy[i]);

        if (v && json_object_set(o, copy[i], v) < 0)
            goto fail;
    }
    if (json_object_set_new(o, "truncated",
                            json_boolean(cut || json_is_true(json_object_get(res, "truncated")))) <
        0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}
