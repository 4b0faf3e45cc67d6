/* route_fuzz.h - what both routers' fuzz targets check (fuzz_route.c, fuzz_api_route.c): the
 * first byte picks the method, the rest is the path; the match must keep route_table's
 * contract. Included by the targets only. */
#ifndef SANDPIT_ROUTE_FUZZ_H
#define SANDPIT_ROUTE_FUZZ_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "route_table.h"

typedef int (*route_fuzz_parse_fn)(const char *method, const char *path, size_t len,
                                   struct route_match *m);

/* Splits one input: the first byte picks the method, the rest is the path, returned as an
 * exact-size heap copy (so ASan sees any read past its end; free() it) with its length in
 * *len. NULL on out of memory. */
static inline char *route_fuzz_split(const uint8_t *data, size_t size, const char **method,
                                     size_t *len)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "DELETE", "PUT", "OPTIONS"};
    char *copy;

    *method = "GET";
    if (size > 0) {
        *method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
        data++;
        size--;
    }
    copy = malloc(size ? size : 1);
    if (copy)
        memcpy(copy, data, size);
    *len = size;
    return copy;
}

/* Runs parse over one input and aborts on any broken promise. */
static inline void route_fuzz_one(route_fuzz_parse_fn parse, const uint8_t *data, size_t size)
{
    const char *method;
    struct route_match m;
    char *copy = route_fuzz_split(data, size, &method, &size);
    int rc;

    if (!copy)
        return;
    rc = parse(method, copy, size, &m);
    if (strnlen(m.arg, ROUTE_ARG_MAX) >= ROUTE_ARG_MAX ||
        strnlen(m.allow, ROUTE_ALLOW_MAX) >= ROUTE_ALLOW_MAX || !m.name)
        abort();
    if (rc == 0 && (m.id == 0 || !m.allow[0] || !m.method_ok))
        abort();
    if (rc == -ENOENT && (m.id != 0 || m.allow[0]))
        abort();
    if ((rc == -EPERM || rc == -EINVAL) && (m.id == 0 || !m.allow[0]))
        abort();
    if (rc == -EPERM && m.method_ok)
        abort();
    if (rc != 0 && rc != -ENOENT && rc != -EPERM && rc != -EINVAL)
        abort();
    free(copy);
}

#endif
