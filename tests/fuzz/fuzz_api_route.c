/* fuzz_api_route.c - libFuzzer target for the agent's router, api_route_parse (STYLE §10). */
#include "../../agent/api_route.c"
#include "route_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    route_fuzz_one(api_route_parse, data, size);
    return 0;
}
