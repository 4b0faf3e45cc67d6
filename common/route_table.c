/* route_table.c - a table walk over (method, path). */
#include "route_table.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"

static bool route_table_name_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '#' || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

bool route_table_under(const char *path, size_t len, const char *prefix)
{
    size_t plen = strlen(prefix);

    return len >= plen && !memcmp(path, prefix, plen) && (len == plen || path[plen] == '/');
}

/* Does r's path shape hold path? Sets *seg and *slen to the segment (when r has one). */
static bool route_table_shape(const struct route_row *r, const char *path, size_t len,
                              const char **seg, size_t *slen)
{
    size_t plen = strlen(r->prefix), xlen = strlen(r->suffix);

    if (r->arg == ROUTE_ARG_NONE)
        return len == plen && !memcmp(path, r->prefix, plen);
    if (len <= plen + xlen || memcmp(path, r->prefix, plen) != 0 ||
        memcmp(path + len - xlen, r->suffix, xlen) != 0)
        return false;
    *seg = path + plen;
    *slen = len - plen - xlen;
    return !memchr(*seg, '/', *slen);
}

static void route_table_allow(struct route_match *m, const char *method)
{
    size_t off = strlen(m->allow);

    if (strstr(m->allow, method))
        return;
    snprintf(m->allow + off, sizeof(m->allow) - off, "%s%s", off ? ", " : "", method);
}

int route_table_match(const struct route_row *rows, size_t n, const char *method, const char *path,
                      size_t len, struct route_match *m)
{
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    const struct route_row *hit = NULL, *first = NULL;
    const char *seg = NULL;
    size_t slen = 0;

    memset(m, 0, sizeof(*m));
    m->name = "unknown";
    if (len > 1 && path[len - 1] == '/')
        len--;
    /* Paths never hold NUL; one that does matches nothing. */
    if (memchr(path, '\0', len))
        return -ENOENT;
    for (size_t i = 0; i < n; i++) {
        const struct route_row *r = &rows[i];

        if (!route_table_shape(r, path, len, &seg, &slen))
            continue;
        if (!first)
            first = r;
        route_table_allow(m, r->method);
        if (!hit && (!strcmp(r->method, "GET") ? get : !strcmp(method, r->method)))
            hit = r;
    }
    if (!first)
        return -ENOENT;
    m->method_ok = hit != NULL;
    m->id = (hit ? hit : first)->id;
    m->name = (hit ? hit : first)->name;
    if (first->arg != ROUTE_ARG_NONE) {
        bool ok =
            slen < ROUTE_ARG_MAX && (first->arg == ROUTE_ARG_UUID ? ids_is_uuid(seg, slen)
                                                                  : route_table_name_ok(seg, slen));
        /* A bad segment keeps a printable prefix for the 404 message. */
        size_t keep = slen < ROUTE_ARG_MAX - 1 ? slen : ROUTE_ARG_MAX - 1;

        memcpy(m->arg, seg, keep);
        m->arg[keep] = '\0';
        if (!ok)
            return -EINVAL;
    }
    return hit ? 0 : -EPERM;
}

int route_table_endpoint(const struct route_row *rows, size_t n, size_t i, char *out, size_t size)
{
    const struct route_row *row;

    if (i >= n)
        return 0;
    row = &rows[i];
    snprintf(out, size, "%s %s%s%s", row->method, row->prefix,
             row->arg == ROUTE_ARG_NONE   ? ""
             : row->arg == ROUTE_ARG_UUID ? "{id}"
                                          : "{name}",
             row->suffix);
    return 1;
}
