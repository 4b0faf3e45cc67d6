/* kernel_route.h - the Jupyter Kernel Gateway URL space (docs/kernels.md) both daemons serve:
 * its endpoint table over common/route_table; pure. */
#ifndef SANDPIT_KERNEL_ROUTE_H
#define SANDPIT_KERNEL_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "route_table.h"

#define KERNEL_ROUTE_PREFIX "/api/kernel" /* /api/kernels and /api/kernelspecs */

enum kernel_route_id {
    KR_NONE,
    KR_SPECS,     /* GET /api/kernelspecs */
    KR_SPEC,      /* GET /api/kernelspecs/{name} */
    KR_LIST,      /* GET /api/kernels */
    KR_CREATE,    /* POST /api/kernels */
    KR_GET,       /* GET /api/kernels/{id} */
    KR_DELETE,    /* DELETE /api/kernels/{id} */
    KR_INTERRUPT, /* POST /api/kernels/{id}/interrupt */
    KR_RESTART,   /* POST /api/kernels/{id}/restart */
    KR_CHANNELS,  /* GET /api/kernels/{id}/channels (WebSocket) */
};

/* True when path (len bytes) is /api/kernels or /api/kernelspecs or below them. */
bool kernel_route_is(const char *path, size_t len);
/* Matches as route_table_match (-EINVAL: the {id} is not a UUID: no such kernel). */
int kernel_route_parse(const char *method, const char *path, size_t len, struct route_match *m);
/* Endpoint i as "METHOD /path" into out: 1, or 0 past the last. */
int kernel_route_endpoint(size_t i, char *out, size_t size);

#endif
