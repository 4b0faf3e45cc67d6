/* sess_route.c - the URL space of sessions (sess_route.h). */
#include "sess_route.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool sess_route_is(const char *path, size_t len)
{
    return route_table_under(path, len, "/sessions");
}

/* A session id: s-<8 hex>-<12 hex> (sess_mgr.c makes them). */
static bool sess_route_id_ok(const char *s, size_t n)
{
    if (n != 23 || s[0] != 's' || s[1] != '-' || s[10] != '-')
        return false;
    for (size_t i = 2; i < n; i++) {
        if (i != 10 && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* Picks the op for method among the ones the path takes (GET HEAD-alike). */
static int sess_route_pick(struct sess_route *out, const char *method, const char *allow,
                           const char *const methods[], const enum sess_route_op ops[], size_t n)
{
    if (!strcmp(method, "HEAD"))
        method = "GET";
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(method, methods[i])) {
            out->op = ops[i];
            return 0;
        }
    }
    snprintf(out->allow, sizeof(out->allow), "%s", allow);
    return -EPERM;
}

int sess_route_parse(const char *method, const char *path, size_t len, struct sess_route *out)
{
    static const char *const gp[] = {"GET", "POST"}, *const gd[] = {"GET", "DELETE"},
                             *const p[] = {"POST"}, *const g[] = {"GET"},
                             *const gpd[] = {"GET", "PUT", "DELETE"};
    static const enum sess_route_op root[] = {SESS_R_LIST, SESS_R_CREATE},
                                    one[] = {SESS_R_GET, SESS_R_DELETE}, files[] = {SESS_R_FILES},
                                    file[] = {SESS_R_FILE_GET, SESS_R_FILE_PUT, SESS_R_FILE_DELETE};
    static const struct {
        const char *name;
        enum sess_route_op op;
    } acts[] = {
        {"execute", SESS_R_EXECUTE}, {"fork", SESS_R_FORK}, {"interrupt", SESS_R_INTERRUPT}};
    const char *rest, *slash;
    size_t idlen;

    memset(out, 0, sizeof(*out));
    if (!sess_route_is(path, len))
        return -ENOENT;
    rest = path + 9; /* after "/sessions" */
    len -= 9;
    if (len == 0 || (len == 1 && rest[0] == '/'))
        return sess_route_pick(out, method, "GET, POST", gp, root, 2);
    rest++;
    len--;
    slash = memchr(rest, '/', len);
    idlen = slash ? (size_t)(slash - rest) : len;
    if (!sess_route_id_ok(rest, idlen)) {
        snprintf(out->id, sizeof(out->id), "%.*s", (int)(idlen < 40 ? idlen : 40), rest);
        return -EINVAL;
    }
    memcpy(out->id, rest, idlen);
    if (!slash || (size_t)(slash - rest) + 1 == len)
        return sess_route_pick(out, method, "GET, DELETE", gd, one, 2);
    rest = slash + 1;
    len -= idlen + 1;
    for (size_t i = 0; i < sizeof(acts) / sizeof(acts[0]); i++) {
        size_t an = strlen(acts[i].name);

        if ((len == an || (len == an + 1 && rest[an] == '/')) && !memcmp(rest, acts[i].name, an))
            return sess_route_pick(out, method, "POST", p, &acts[i].op, 1);
    }
    if ((len == 5 || (len == 6 && rest[5] == '/')) && !memcmp(rest, "files", 5))
        return sess_route_pick(out, method, "GET", g, files, 1);
    if (len > 6 && !memcmp(rest, "files/", 6)) {
        if (len - 6 >= sizeof(out->path))
            return -ENAMETOOLONG;
        memcpy(out->path, rest + 6, len - 6);
        return sess_route_pick(out, method, "GET, PUT, DELETE", gpd, file, 3);
    }
    return -ENOENT;
}

int sess_route_endpoint(size_t i, char *out, size_t size)
{
    static const char *const eps[] = {
        "GET /sessions",
        "POST /sessions",
        "GET /sessions/{id}",
        "DELETE /sessions/{id}",
        "POST /sessions/{id}/execute",
        "POST /sessions/{id}/fork",
        "POST /sessions/{id}/interrupt",
        "GET /sessions/{id}/files?path={dir}",
        "GET /sessions/{id}/files/{path}",
        "PUT /sessions/{id}/files/{path}",
        "DELETE /sessions/{id}/files/{path}",
    };

    if (i >= sizeof(eps) / sizeof(eps[0]))
        return 0;
    snprintf(out, size, "%s", eps[i]);
    return 1;
}
