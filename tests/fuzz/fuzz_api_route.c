/* fuzz_api_route.c - libFuzzer target for the agent's router, api_route_parse (STYLE §10). The
 * first byte picks the method, the rest is the path. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/api_route.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "DELETE", "PUT", "OPTIONS"};
    const char *method = "GET";
    struct route_match m;
    char *copy;
    int rc;

    if (size > 0) {
        method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
        data++;
        size--;
    }
    /* An exact-size heap copy so ASan sees any read past the end. */
    copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    rc = api_route_parse(method, copy, size, &m);
    if (strnlen(m.arg, ROUTE_ARG_MAX) >= ROUTE_ARG_MAX ||
        strnlen(m.allow, ROUTE_ALLOW_MAX) >= ROUTE_ALLOW_MAX || !m.name)
        abort();
    if (rc == 0 && (m.id == API_NONE || !m.allow[0]))
        abort();
    if (rc == -ENOENT && (m.id != API_NONE || m.allow[0]))
        abort();
    if ((rc == -EPERM || rc == -EINVAL) && (m.id == API_NONE || !m.allow[0]))
        abort();
    if (rc != 0 && rc != -ENOENT && rc != -EPERM && rc != -EINVAL)
        abort();
    free(copy);
    return 0;
}
