/* fuzz_orch_sess_route.c - libFuzzer target for the orchestrator's /api/v1/sessions router
 * (sessions_route_parse): the first byte picks the method, the rest is the path. Whatever it
 * answers, its output stays bounded and terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route_fuzz.h"

#include "../../orchestrator/sessions.c"
#include "../../orchestrator/sessions_route.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *method;
    struct sessions_route r;
    char *copy = route_fuzz_split(data, size, &method, &size), agent[16384];
    int rc;

    if (!copy)
        return 0;
    memset(&r, 0, sizeof(r));
    rc = sessions_route_parse(method, copy, size, &r);
    if (strnlen(r.id, sizeof(r.id)) >= sizeof(r.id))
        abort();
    if (rc == 0 && r.file && (r.file < copy || r.file + r.file_len > copy + size))
        abort(); /* the file path borrows the parsed path */
    if (rc == 0 && (!r.file || sessions_route_file_ok(r.file, r.file_len)) &&
        sessions_route_agent_path(&r, "s-0011aabb-0123456789ab", NULL, agent, sizeof(agent)) == 0 &&
        (strstr(agent, "/../") || strnlen(agent, sizeof(agent)) >= sizeof(agent)))
        abort(); /* an accepted path never names another agent route */
    if (rc == -EPERM && !r.allow)
        abort();
    free(copy);
    return 0;
}
