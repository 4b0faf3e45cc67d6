/* route_table.h - matching (method, path) against a daemon's table of endpoints; pure, no MHD,
 * so each daemon's table fuzzes alone (orchestrator/route.c, agent/api_route.c). */
#ifndef SANDPIT_ROUTE_TABLE_H
#define SANDPIT_ROUTE_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_ARG_MAX   64 /* bytes of an {id} segment, NUL included */
#define ROUTE_ALLOW_MAX 48 /* bytes of an Allow list, NUL included */

enum route_arg {
    ROUTE_ARG_NONE, /* the whole path is prefix */
    ROUTE_ARG_UUID, /* prefix + a UUID segment + suffix */
    ROUTE_ARG_NAME, /* prefix + a name segment ([A-Za-z0-9+#._-]) + suffix */
};

/* One endpoint for one method. Rows of the same path for other methods follow each other. */
struct route_row {
    int id;             /* the daemon's endpoint id, > 0 */
    const char *method; /* "GET" (HEAD too), "POST", "DELETE", ... */
    const char *prefix; /* the whole path, or the part before the segment */
    enum route_arg arg; /* what follows prefix */
    const char *suffix; /* after the segment ("" when none) */
    const char *name;   /* short name for logs and metrics */
};

struct route_match {
    int id;                      /* the endpoint, 0 when the path is unknown */
    const char *name;            /* static: its name, or "unknown" */
    char allow[ROUTE_ALLOW_MAX]; /* the methods the path takes ("GET, DELETE"), "" when none */
    char arg[ROUTE_ARG_MAX];     /* the {id} segment, NUL-terminated; "" when none */
    bool method_ok;              /* the path takes this method (also with a bad {id}) */
};

/* Matches method and path (len bytes, query string already removed; one trailing '/' is
 * ignored) against rows[0..n). Always fills m. Returns 0 on a match, -ENOENT when no endpoint
 * has the path, -EINVAL when the {id} segment is not a UUID or a {name} segment not a
 * language-like name (m->id names the endpoint, m->arg holds a printable prefix), -EPERM when
 * the path exists but not for this method (m->allow lists the methods). HEAD counts as GET. */
int route_table_match(const struct route_row *rows, size_t n, const char *method, const char *path,
                      size_t len, struct route_match *m);
/* Writes row i of rows[0..n) as "METHOD /prefix{id}suffix" ({id} or {name} for its argument)
 * into out (size bytes): 1, or 0 past the last row. For the endpoint lists of GET /. */
int route_table_endpoint(const struct route_row *rows, size_t n, size_t i, char *out, size_t size);
/* True when path (len bytes) is prefix itself or below it ("/api/v1", "/api/v1/x"). */
bool route_table_under(const char *path, size_t len, const char *prefix);

#endif
