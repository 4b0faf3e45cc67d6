/* toolcall.c - POST /execute in the NVIDIA dialect. */
#include "toolcall.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_util.h"
#include "reqfields.h"
#include "ws_name.h"

void toolcall_req_done(struct toolcall_req *req)
{
    json_decref(req->root);
    json_decref(req->warnings);
    memset(req, 0, sizeof(*req));
}

/* What this dialect reads: every field the agent takes, and its own max_output_characters. */
#define TOOLCALL_FIELDS (REQFIELDS_STDIN | REQFIELDS_ENV | REQFIELDS_EXEC | REQFIELDS_MAX_CHARS)

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
    if ((r = reqfields_read(req->root, "generated_code", TOOLCALL_FIELDS, max_timeout, &f, e)) < 0)
        goto fail;
    /* Clients of this contract may send fields of their own: each is named in warnings. */
    if (!(req->warnings = json_array())) {
        r = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < f.n_unknown && i < REQFIELDS_MAX_UNKNOWN; i++) {
        char msg[160];

        if (!strcmp(f.unknown[i], "workspace"))
            continue; /* ours, read below */
        reqfields_unknown_msg(f.unknown[i], TOOLCALL_FIELDS, true, msg, sizeof(msg));
        if (json_array_append_new(req->warnings, json_string(msg)) < 0) {
            r = -ENOMEM;
            goto fail;
        }
    }
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
    if ((r = json_util_get_str(req->root, "workspace", &req->workspace, NULL, e)) < 0)
        goto fail;
    if (req->workspace && strcmp(req->workspace, "none") != 0 && !ws_name_ok(req->workspace)) {
        r = err_set(e, ERR_INVALID, "workspace",
                    "field 'workspace' must be \"none\" or match [a-z0-9][a-z0-9_.-]{0,62}");
        goto fail;
    }
    /* The reference server refuses a request without a timeout (the toolkit's tests pin it). */
    if (f.timeout <= 0) {
        r = err_set(e, ERR_INVALID, "timeout",
                    "missing field 'timeout' (seconds the program may run, > 0 and <= %g)",
                    max_timeout);
        goto fail;
    }
    return 0;
fail:
    toolcall_req_done(req);
    return r;
}

json_t *toolcall_agent_body(const struct toolcall_req *req, const char *code, size_t code_len)
{
    static const char *const pass[] = {"stdin", "env"};
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
    /* Validated by toolcall_parse; the agent applies it. An explicit max_output_bytes wins
     * over the one derived from max_output_characters. */
    if ((req->scenario && json_object_set(o, "scenario", req->scenario) < 0) ||
        reqfields_copy_exec(req->root, o) < 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

int toolcall_set_workspace(const struct toolcall_req *req, const char *default_ws, json_t *body,
                           const char **name)
{
    const char *ws = req->workspace ? req->workspace : default_ws;

    *name = NULL;
    if (!ws || !*ws || !strcmp(ws, "none"))
        return 0;
    if (json_object_set_new(body, "workspace", json_string(ws)) < 0 ||
        (!req->workspace && json_object_set_new(body, "workspace_optional", json_true()) < 0))
        return -ENOMEM;
    *name = ws;
    return 0;
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

/* Sets key to prefix, then s cut to max_chars characters (+ the cut mark), then suffix. *cut
 * is set when text was removed. */
static int toolcall_set_stream(json_t *o, const char *key, const char *prefix, const char *s,
                               size_t len, long long max_chars, const char *suffix, bool *cut)
{
    size_t keep = toolcall_char_prefix(s, len, max_chars);
    struct buf b;
    int r;

    buf_init(&b, 0);
    r = prefix ? buf_append(&b, prefix, strlen(prefix)) : 0;
    if (r == 0)
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

/* True when stderr (len bytes) has a line starting with error's "Type:" (error "Type: message",
 * whose message the agent may have worded differently, e.g. with "(line 1)" added). */
static bool toolcall_has_error_line(const char *errs, size_t len, const char *error)
{
    const char *colon = strchr(error, ':');
    char pat[80];
    size_t n;

    if (!colon || colon == error || (size_t)(colon - error) > sizeof(pat) - 3 ||
        memchr(error, ' ', (size_t)(colon - error)))
        return memmem(errs, len, error, strlen(error)) != NULL;
    n = (size_t)(colon - error) + 1;
    if (len >= n && !memcmp(errs, error, n))
        return true;
    pat[0] = '\n';
    memcpy(pat + 1, error, n);
    return memmem(errs, len, pat, n + 1) != NULL;
}

/* True when a Python failure's stderr holds its error line but not the traceback header. */
static bool toolcall_needs_traceback(json_t *res, const char *errs, size_t err_len)
{
    const char *lang = json_string_value(json_object_get(res, "language"));
    size_t n = strlen(TOOLCALL_TRACEBACK);

    if (!lang || strcmp(lang, "python") != 0)
        return false;
    return err_len < n || memcmp(errs, TOOLCALL_TRACEBACK, n) != 0;
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
    static const char *const copy[] = {"execution_id",
                                       "language",
                                       "exit_code",
                                       "signal",
                                       "exit_reason",
                                       "result",
                                       "execution_time",
                                       "scenario",
                                       "warnings",
                                       "network",
                                       "artificial_delay_s",
                                       "stdout_replaced",
                                       "stderr_replaced",
                                       "workspace",
                                       "outputs",
                                       "outputs_truncated",
                                       "outputs_dropped"};
    char line[512];
    const char *suffix = NULL, *prefix = NULL;
    bool cut = false;
    json_t *o = json_object();

    if (!o)
        return NULL;
    if (!strcmp(ps, "timeout")) {
        suffix = TOOLCALL_TIMED_OUT;
    } else if (!strcmp(ps, "error")) {
        /* A traceback already ends with the error line; anything else (a signal, sys.exit,
         * a cancel) gets one so stderr always says what happened. */
        if (error && *error && !toolcall_has_error_line(errs, err_len, error)) {
            snprintf(line, sizeof(line), "%s\n", error);
            suffix = line;
        } else if (error && *error && toolcall_needs_traceback(res, errs, err_len)) {
            /* The reference formats every exception with traceback.format_exc(); a compile
             * error reported as python3.11 -c does has no such line. */
            prefix = TOOLCALL_TRACEBACK;
        } else if (!error && status && !strcmp(status, "cancelled")) {
            suffix = "Cancelled\n";
        }
    }
    if (json_object_set_new(o, "process_status", json_string(ps)) < 0 ||
        toolcall_set_stream(o, "stdout", NULL, out, out_len, max_chars, NULL, &cut) < 0 ||
        toolcall_set_stream(o, "stderr", prefix, errs, err_len, max_chars, suffix, &cut) < 0)
        goto fail;
    /* Asked for with debug_mode or trace; null otherwise, and then left out. */
    if (json_is_object(json_object_get(res, "debug_info")) &&
        json_object_set(o, "debug_info", json_object_get(res, "debug_info")) < 0)
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
