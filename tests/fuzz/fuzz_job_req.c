/* fuzz_job_req.c - libFuzzer target for job_req_parse and scenario validation (STYLE §10). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../orchestrator/job_req.c"
#include "../../orchestrator/lang.c"
#include "../../orchestrator/scenario.c"
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
        if (!req.code || !json_is_array(req.warnings) || !req.language[0])
            abort();
        free(json_dumps(req.warnings, JSON_COMPACT));
        job_req_done(&req);
    } else if (!e.msg[0] || !e.field[0]) {
        abort();
    }
    free(copy);
    return 0;
}
