/* fuzz_orch_sess_route.c - libFuzzer target for the orchestrator's /api/v1/sessions router
 * (sessions_route_parse): the first byte picks the method, the rest is the path. Whatever it
 * answers, its output stays bounded and terminated. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../orchestrator/sessions.c"
#include "../../orchestrator/sessions_route.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "DELETE", "PUT", "PATCH"};
    const char *method = "GET";
    struct sessions_route r;
    char *copy;

    if (size > 0) {
        method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
        data++;
        size--;
    }
    copy = malloc(size ? size : 1); /* exact size: ASan sees a read past the end */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    int rc;
    char agent[16384];

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
