/* fuzz_agent_reply.c - libFuzzer target for the orchestrator's readers of agent replies (STYLE
 * §10, issue 13): the agent builds an ExecutionResult from arbitrary stdout, stderr and frame
 * bytes, writes it as on the wire (json_out), and the orchestrator reads it back
 * (agent_client_result) and maps it to every dialect's reply (toolcall_reply, nadoo_reply,
 * jobs_result_new). Every byte must survive (NUL as \u0000, invalid UTF-8 as U+FFFD, flagged)
 * and no reader may refuse what the agent wrote. With the top bit of the first byte set, the
 * rest is read as a raw agent reply instead. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "../../agent/exec_result.c"
#include "../../orchestrator/agent_client.c"
#include "../../orchestrator/jobs_result.c"
#include "../../orchestrator/reqfields.c"
#include "../../orchestrator/job_req.c"
#include "../../orchestrator/nadoo.c"
#include "../../orchestrator/toolcall.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* agent_client_execute is not exercised: the dispatcher (libcurl) is not linked here. */
struct dcall *dcall_new(void)
{
    return calloc(1, sizeof(struct dcall));
}

void dcall_free(struct dcall *c)
{
    free(c);
}

/* o serialises, and reads back equal. */
static void fuzz_round_trip(const json_t *o)
{
    size_t len = 0;
    char *text = json_out_dumps(o, 0, &len);
    json_t *back;

    if (!text)
        return; /* out of memory */
    back = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
    if (!back || !json_equal(back, o))
        abort();
    json_decref(back);
    free(text);
}

/* The stream key of reply equals the ExecutionResult's, byte for byte. */
static void fuzz_same_stream(json_t *reply, const char *rkey, json_t *res, const char *key)
{
    json_t *a = json_object_get(reply, rkey), *b = json_object_get(res, key);

    if (!json_is_string(a) || !json_is_string(b) ||
        json_string_length(a) != json_string_length(b) ||
        memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) != 0)
        abort();
}

/* Every dialect maps res; the streams pass through unchanged (check_streams) and each reply
 * serialises. */
static void fuzz_dialects(json_t *res, bool check_streams)
{
    json_t *t = toolcall_reply(res, -1), *n = nadoo_reply(res);
    json_t *j = jobs_result_new(res, NULL, "", "", 0);

    if (check_streams && t && n && j) {
        fuzz_same_stream(t, "stdout", res, "stdout");
        fuzz_same_stream(n, "stdout", res, "stdout");
        fuzz_same_stream(n, "stderr", res, "stderr");
        fuzz_same_stream(j, "stdout", res, "stdout");
        fuzz_same_stream(j, "stderr", res, "stderr");
        if (!json_equal(json_object_get(t, "stdout_replaced"),
                        json_object_get(res, "stdout_replaced")) ||
            !json_equal(json_object_get(n, "stderr_replaced"),
                        json_object_get(res, "stderr_replaced")) ||
            !json_equal(json_object_get(j, "stdout_replaced"),
                        json_object_get(res, "stdout_replaced")))
            abort();
    }
    if (t)
        fuzz_round_trip(t);
    if (n)
        fuzz_round_trip(n);
    if (j)
        fuzz_round_trip(j);
    json_decref(t);
    json_decref(n);
    json_decref(j);
}

/* Reads body as the agent's 200 answer; returns the result (new) or NULL. */
static json_t *fuzz_read(char *body, size_t len, bool must_read)
{
    struct dcall dc = {.outcome = DCALL_OK, .status = 200, .resp = body, .resp_len = len};
    json_t *res = NULL;
    struct err e = {0};

    if (agent_client_result(&dc, &res, &e) < 0) {
        if (must_read || !e.msg[0])
            abort();
        return NULL;
    }
    return res;
}

/* Whether p[0..n) is valid UTF-8. */
static bool fuzz_valid_utf8(const char *p, size_t n)
{
    for (size_t i = 0, l; i < n; i += l) {
        if (!(l = json_util_utf8_len((const unsigned char *)p + i, n - i)))
            return false;
    }
    return true;
}

static void fuzz_from_streams(const uint8_t *data, size_t size)
{
    size_t rem = size - 3, out_len = rem * data[1] / 256,
           frame_len = (rem - out_len) * data[2] / 256;
    const char *p = (const char *)data + 3;
    struct zyg_status st = {.wait_status = (data[0] & 3) << 8, /* exited 0..3 */
                            .cpu_us = 1234,
                            .wall_us = 333333};
    struct exec_result_in in = {
        .id = "0b7e4f7a-3c1e-4f0e-9a55-1f2e3d4c5b6a",
        .language = "python",
        .st = &st,
        .frame = frame_len ? p + out_len : NULL,
        .frame_len = frame_len,
        .out = {p, out_len, data[0] & 4},
        .err = {p + out_len + frame_len, rem - out_len - frame_len, data[0] & 8},
        .timeout_s = 1.0 / 3,
    };
    struct exec_result_outcome oc;
    json_t *res = exec_result_build(&in, &oc), *back;
    size_t len = 0;
    char *text = json_out_dumps(res, 0, &len);

    if (res && text) {
        bool valid = fuzz_valid_utf8(in.out.data, in.out.len);
        json_t *so = json_object_get(res, "stdout");

        /* Valid output comes back as written; invalid is replaced and flagged. */
        if (json_is_true(json_object_get(res, "stdout_replaced")) == valid && !in.out.cut)
            abort();
        if (valid && !in.out.cut &&
            (json_string_length(so) != in.out.len ||
             memcmp(json_string_value(so), in.out.data, in.out.len) != 0))
            abort();
        back = fuzz_read(text, len, true);
        if (!json_equal(back, res))
            abort();
        fuzz_dialects(back, true);
        json_decref(back);
    }
    free(text);
    json_decref(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy;
    json_t *res;

    if (size < 3)
        return 0;
    log_init("fuzz", LOG_ERROR); /* a refused reply is logged as a warning: expected here */
    if (!(data[0] & 0x80)) {
        fuzz_from_streams(data, size);
        return 0;
    }
    /* A raw reply: read or refused with a reason, never a crash. */
    if (!(copy = malloc(size)))
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    res = fuzz_read(copy, size - 1, false);
    if (res)
        fuzz_dialects(res, false);
    json_decref(res);
    free(copy);
    return 0;
}
