/* fuzz_toolcall.c - libFuzzer target for the NVIDIA /execute contract (STYLE §10): the input
 * is parsed as a request body and, when it is a JSON object, also read as an agent
 * ExecutionResult and mapped to a reply, checking the contract's invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../orchestrator/reqfields.c"
#include "../../orchestrator/toolcall.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check_reply(json_t *res, long long max_chars)
{
    json_t *o = toolcall_reply(res, max_chars);
    const char *ps, *err;

    if (!o)
        return;
    ps = json_string_value(json_object_get(o, "process_status"));
    err = json_string_value(json_object_get(o, "stderr"));
    if (!ps || !err || !json_is_string(json_object_get(o, "stdout")))
        abort();
    if (strcmp(ps, "completed") && strcmp(ps, "error") && strcmp(ps, "timeout"))
        abort();
    if (!strcmp(ps, "timeout")) {
        size_t n = strlen(err), k = strlen(TOOLCALL_TIMED_OUT);
        if (n < k || strcmp(err + n - k, TOOLCALL_TIMED_OUT) != 0)
            abort();
    }
    free(json_dumps(o, JSON_COMPACT)); /* must serialise: every string valid UTF-8 */
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct toolcall_req req;
    struct err e;
    char *copy = malloc(size ? size : 1);
    json_t *res;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (toolcall_parse(copy, size, 300, &req, &e) == 0) {
        json_t *body = toolcall_agent_body(&req, req.code, req.code_len);

        if (!body || !json_is_string(json_object_get(body, "code")))
            abort();
        if (req.max_chars < -1 || req.timeout < 0 || req.timeout > 300)
            abort();
        json_decref(body);
        toolcall_req_done(&req);
    } else if (!e.msg[0]) {
        abort();
    }
    res = json_loadb(copy, size, JSON_ALLOW_NUL, NULL);
    if (json_is_object(res)) {
        fuzz_check_reply(res, -1);
        fuzz_check_reply(res, (long long)(size % 7));
    }
    json_decref(res);
    free(copy);
    return 0;
}
