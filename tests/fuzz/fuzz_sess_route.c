/* fuzz_sess_route.c - libFuzzer target for the sessions' router, sess_route_parse: the first
 * byte picks the method, the rest is the path; ids, file paths and allow lists stay bounded and
 * NUL-terminated, and a match names an id of the one shape sess_mgr makes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route_fuzz.h"

#include "../../agent/sess_route.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *method;
    struct sess_route r;
    char *copy = route_fuzz_split(data, size, &method, &size);
    int rc;

    if (!copy)
        return 0;
    rc = sess_route_parse(method, copy, size, &r);
    if (strnlen(r.id, sizeof(r.id)) >= sizeof(r.id) ||
        strnlen(r.allow, sizeof(r.allow)) >= sizeof(r.allow) ||
        strnlen(r.path, sizeof(r.path)) >= sizeof(r.path))
        abort();
    if (rc == 0 && (r.op == SESS_R_NONE || (r.op > SESS_R_CREATE && strlen(r.id) != 23)))
        abort();
    if (rc == -EPERM && !r.allow[0])
        abort();
    free(copy);
    return 0;
}
