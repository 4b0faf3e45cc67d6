/* fuzz_job_req.c - libFuzzer target for job_req_parse, scenario validation and the agent body
 * (STYLE §10). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../orchestrator/job_req.c"
#include "../../orchestrator/reqfields.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct job_req req;
    struct err e;
    char *copy = malloc(size ? size : 1);

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    if (job_req_parse(copy, size, 300, &req, &e) == 0) {
        json_t *body = job_req_agent_body(&req, req.code, req.code_len, true);

        if (!req.code || !req.language[0] || !body ||
            (req.scenario && !json_equal(json_object_get(body, "scenario"), req.scenario)))
            abort();
        free(json_dumps(body, JSON_COMPACT));
        json_decref(body);
        job_req_done(&req);
    } else if (!e.msg[0] || !e.field[0]) {
        abort();
    }
    free(copy);
    return 0;
}
