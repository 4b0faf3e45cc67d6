/* fuzz_exec_req.c - libFuzzer target for the /execute body parser and spec writer. */
#include <stdint.h>
#include <stdlib.h>

#include "../../agent/exec_req.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct exec_limits lim = {.default_timeout = 30,
                                           .max_timeout = 300,
                                           .max_output_bytes = 1 << 20,
                                           .policy = "standard",
                                           .allow_override = false};
    struct exec_req r;
    struct err e;

    if (exec_req_parse((const char *)data, size, &lim, &r, &e) == 0) {
        size_t len;
        char *spec = exec_req_spec(&r, "00000000-0000-4000-8000-000000000000", "/w", NULL, &len);

        free(spec);
        exec_req_done(&r);
    }
    return 0;
}
