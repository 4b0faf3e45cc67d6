/* fuzz_route.c - libFuzzer target for the orchestrator's router, route_parse (STYLE §10). */
#include "../../orchestrator/route.c"
#include "route_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    route_fuzz_one(route_parse, data, size);
    (void)route_name(ROUTE_V1_HEALTH);
    return 0;
}
