/* fuzz_nadoo.c - libFuzzer target for the Nadoo dialect (STYLE §10): the input is parsed as an
 * execution request and as a batch, and, when it is a JSON object, read as an agent
 * ExecutionResult and as a job view and mapped to replies, checking the dialect's invariants;
 * it is also read as the API keys (orchestrator/keys.c): a key list and a keys file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../orchestrator/reqfields.c"
#include "../../orchestrator/job_req.c"
#include "../../orchestrator/keys.c"
#include "../../orchestrator/nadoo.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every reply has a known status and serialises (all strings valid UTF-8). */
static void fuzz_check_reply(json_t *o)
{
    static const char *const ok[] = {"queued", "running", "success",
                                     "error",  "timeout", "cancelled"};
    const char *st;
    size_t i;

    if (!o)
        return;
    st = json_string_value(json_object_get(o, "status"));
    for (i = 0; st && i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!strcmp(st, ok[i]))
            break;
    }
    if (!st || i == sizeof(ok) / sizeof(ok[0]) || !json_is_string(json_object_get(o, "stdout")) ||
        !json_is_string(json_object_get(o, "stderr")))
        abort();
    free(json_dumps(o, JSON_COMPACT));
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct job_req req, reqs[NADOO_BATCH_MAX];
    static struct keys keys;
    struct err e;
    size_t n = 0;
    char *copy = malloc(size + 1);
    json_t *res;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    if (nadoo_parse(copy, size, 300, &req, &e) == 0) {
        json_t *body = job_req_agent_body(&req, req.code, req.code_len, false);

        if (!body || !req.language[0] || req.timeout < 0 || req.timeout > 300 ||
            (req.stdin_text && !json_is_string(req.stdin_text)) ||
            (req.env && !json_is_object(req.env)))
            abort();
        json_decref(body);
        job_req_done(&req);
    } else if (!e.msg[0]) {
        abort();
    }
    if (nadoo_batch_parse(copy, size, 300, reqs, &n, &e) == 0) {
        if (n == 0 || n > NADOO_BATCH_MAX)
            abort();
        for (size_t i = 0; i < n; i++)
            job_req_done(&reqs[i]);
    } else if (n != 0 || !e.msg[0] || !e.field[0]) {
        abort();
    }
    res = json_loadb(copy, size, JSON_ALLOW_NUL, NULL);
    if (json_is_object(res)) {
        fuzz_check_reply(nadoo_reply(res));
        fuzz_check_reply(nadoo_job_view(res));
    }
    json_decref(res);
    /* The key list: parse it, then every key in it is found; a keys file: parsed or refused
     * naming its field, limits never negative, a bucket never smaller than one request. */
    if (size < 4096 && !memchr(copy, '\0', size)) {
        keys_init(&keys);
        if (keys_add_list(&keys, copy, &e) == 0 && keys.n > 0 && !strchr(copy, ',') &&
            !strpbrk(copy, " \t") && keys_which(&keys, copy) != 0)
            abort();
        keys_done(&keys);
        keys_init(&keys);
        if (keys_add_text(&keys, copy, &e) < 0 && strcmp(e.field, "api-keys-file") != 0)
            abort();
        for (int i = 0; i < keys.n; i++) {
            const struct keys_limits *l = &keys.e[i].lim;

            if (l->rps < 0 || l->concurrent < 0 || l->sessions < 0 || l->max_timeout < 0 ||
                (l->rps > 0 && l->burst < 1))
                abort();
        }
        keys_done(&keys);
    }
    free(copy);
    return 0;
}
