/* kernel_route.c - the Kernel Gateway endpoint table; matching is common/route_table.c. */
#include "kernel_route.h"

#include <stdio.h>

static const struct route_row kernel_route_rows[] = {
    {KR_SPECS, "GET", "/api/kernelspecs", ROUTE_ARG_NONE, "", "kernelspecs"},
    {KR_SPEC, "GET", "/api/kernelspecs/", ROUTE_ARG_NAME, "", "kernelspec"},
    {KR_LIST, "GET", "/api/kernels", ROUTE_ARG_NONE, "", "kernels"},
    {KR_CREATE, "POST", "/api/kernels", ROUTE_ARG_NONE, "", "kernel_create"},
    {KR_GET, "GET", "/api/kernels/", ROUTE_ARG_UUID, "", "kernel"},
    {KR_DELETE, "DELETE", "/api/kernels/", ROUTE_ARG_UUID, "", "kernel_delete"},
    {KR_INTERRUPT, "POST", "/api/kernels/", ROUTE_ARG_UUID, "/interrupt", "kernel_interrupt"},
    {KR_RESTART, "POST", "/api/kernels/", ROUTE_ARG_UUID, "/restart", "kernel_restart"},
    {KR_CHANNELS, "GET", "/api/kernels/", ROUTE_ARG_UUID, "/channels", "kernel_channels"},
};

#define KERNEL_ROUTE_N (sizeof(kernel_route_rows) / sizeof(kernel_route_rows[0]))

bool kernel_route_is(const char *path, size_t len)
{
    return route_table_under(path, len, "/api/kernels") ||
           route_table_under(path, len, "/api/kernelspecs");
}

int kernel_route_parse(const char *method, const char *path, size_t len, struct route_match *m)
{
    return route_table_match(kernel_route_rows, KERNEL_ROUTE_N, method, path, len, m);
}

int kernel_route_endpoint(size_t i, char *out, size_t size)
{
    return route_table_endpoint(kernel_route_rows, KERNEL_ROUTE_N, i, out, size);
}
