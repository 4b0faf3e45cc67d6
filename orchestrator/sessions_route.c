/* sessions_route.c - /api/v1/sessions paths (see sessions_route.h). */
#include "sessions_route.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strx.h"

#define SR_PREFIX_LEN (sizeof(SESSIONS_ROUTE_PREFIX) - 1)

/* The sub-resources of one session: name after "{id}/", method, operation. */
static const struct {
    const char *sub;
    const char *method;
    enum sessions_op op;
} sessions_route_subs[] = {
    {"", "GET", SESSIONS_OP_GET},
    {"", "DELETE", SESSIONS_OP_DELETE},
    {"execute", "POST", SESSIONS_OP_EXECUTE},
    {"fork", "POST", SESSIONS_OP_FORK},
    {"interrupt", "POST", SESSIONS_OP_INTERRUPT},
    {"files", "GET", SESSIONS_OP_FILE_LIST},
};

static bool sessions_route_is(const char *method, const char *want)
{
    return !strcmp(method, want) || (!strcmp(want, "GET") && !strcmp(method, "HEAD"));
}

/* The route of a path below one session: rest (len bytes) after "{id}", "" or "/...". */
static int sessions_route_sub(const char *method, const char *rest, size_t len,
                              struct sessions_route *out)
{
    const char *sub = len ? rest + 1 : "";
    size_t slen = len ? len - 1 : 0;
    bool known = false;

    if (slen > 0 && sub[slen - 1] == '/')
        slen--; /* one trailing '/' is ignored, as everywhere */
    if (slen > 6 && !memcmp(sub, "files/", 6)) {
        out->file = sub + 6;
        out->file_len = len - 1 - 6; /* a trailing '/' of a file path is the agent's to judge */
        out->allow = "GET, PUT, DELETE";
        if (sessions_route_is(method, "GET"))
            out->op = SESSIONS_OP_FILE_GET;
        else if (!strcmp(method, "PUT"))
            out->op = SESSIONS_OP_FILE_PUT;
        else if (!strcmp(method, "DELETE"))
            out->op = SESSIONS_OP_FILE_DELETE;
        return out->op ? 0 : -EPERM;
    }
    for (size_t i = 0; i < sizeof(sessions_route_subs) / sizeof(sessions_route_subs[0]); i++) {
        if (strlen(sessions_route_subs[i].sub) != slen ||
            memcmp(sessions_route_subs[i].sub, sub, slen) != 0)
            continue;
        known = true;
        out->allow = slen == 0 ? "GET, DELETE" : sessions_route_subs[i].method;
        if (sessions_route_is(method, sessions_route_subs[i].method)) {
            out->op = sessions_route_subs[i].op;
            return 0;
        }
    }
    return known ? -EPERM : -ENOENT;
}

int sessions_route_parse(const char *method, const char *path, size_t len,
                         struct sessions_route *out)
{
    const char *id, *slash;
    size_t idlen;

    memset(out, 0, sizeof(*out));
    out->allow = "";
    if (len < SR_PREFIX_LEN || memcmp(path, SESSIONS_ROUTE_PREFIX, SR_PREFIX_LEN) != 0 ||
        (len > SR_PREFIX_LEN && path[SR_PREFIX_LEN] != '/'))
        return -ENOENT;
    if (len <= SR_PREFIX_LEN + 1) { /* "/api/v1/sessions" or ".../sessions/" */
        out->allow = "GET, POST";
        if (sessions_route_is(method, "GET"))
            out->op = SESSIONS_OP_LIST;
        else if (!strcmp(method, "POST"))
            out->op = SESSIONS_OP_CREATE;
        return out->op ? 0 : -EPERM;
    }
    id = path + SR_PREFIX_LEN + 1;
    slash = memchr(id, '/', len - SR_PREFIX_LEN - 1);
    idlen = slash ? (size_t)(slash - id) : len - SR_PREFIX_LEN - 1;
    for (size_t i = 0; i < idlen && i + 1 < sizeof(out->id); i++)
        out->id[i] = isprint((unsigned char)id[i]) ? id[i] : '?';
    if (!sessions_id_valid(id, idlen)) {
        /* Still say which endpoint it was, so a bad id is a 404 naming session_id. */
        struct sessions_route probe;

        return sessions_route_sub(method, id + idlen, len - SR_PREFIX_LEN - 1 - idlen, &probe) ==
                       -ENOENT
                   ? -ENOENT
                   : -EINVAL;
    }
    return sessions_route_sub(method, id + idlen, len - SR_PREFIX_LEN - 1 - idlen, out);
}

bool sessions_route_file_ok(const char *file, size_t len)
{
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && file[i] != '/')
            continue;
        if (i - start == 2 && file[start] == '.' && file[start + 1] == '.')
            return false;
        start = i + 1;
    }
    return true;
}

/* Appends s (len bytes) to out at *off, percent-encoding all but unreserved bytes and '/'. */
static int sessions_route_escape(const char *s, size_t len, char *out, size_t cap, size_t *off)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = isalnum(c) || c == '.' || c == '_' || c == '~' || c == '/' || c == '-';

        if (*off + (plain ? 1 : 3) >= cap)
            return -ENAMETOOLONG;
        if (plain) {
            out[(*off)++] = (char)c;
        } else {
            out[(*off)++] = '%';
            out[(*off)++] = hex[c >> 4];
            out[(*off)++] = hex[c & 15];
        }
    }
    out[*off] = '\0';
    return 0;
}

int sessions_route_agent_path(const struct sessions_route *rt, const char *sid, const char *dir,
                              char *out, size_t cap)
{
    static const char *const tails[] = {
        [SESSIONS_OP_GET] = "",
        [SESSIONS_OP_DELETE] = "",
        [SESSIONS_OP_EXECUTE] = "/execute",
        [SESSIONS_OP_FORK] = "/fork",
        [SESSIONS_OP_INTERRUPT] = "/interrupt",
        [SESSIONS_OP_FILE_PUT] = "/files/",
        [SESSIONS_OP_FILE_GET] = "/files/",
        [SESSIONS_OP_FILE_DELETE] = "/files/",
        [SESSIONS_OP_FILE_LIST] = "/files",
    };
    size_t off = 0;
    int n;

    if (rt->op == SESSIONS_OP_CREATE || rt->op == SESSIONS_OP_LIST) {
        n = snprintf(out, cap, "/sessions");
        return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
    }
    if (rt->op <= SESSIONS_OP_NONE || rt->op > SESSIONS_OP_FILE_LIST)
        return -EINVAL;
    n = snprintf(out, cap, "/sessions/");
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    off = (size_t)n;
    if (sessions_route_escape(sid, strlen(sid), out, cap, &off) < 0 ||
        sessions_route_escape(tails[rt->op], strlen(tails[rt->op]), out, cap, &off) < 0)
        return -ENAMETOOLONG;
    if (rt->file && sessions_route_escape(rt->file, rt->file_len, out, cap, &off) < 0)
        return -ENAMETOOLONG;
    if (rt->op == SESSIONS_OP_FILE_LIST && dir) {
        if (off + 6 >= cap)
            return -ENAMETOOLONG;
        memcpy(out + off, "?path=", 6);
        off += 6;
        out[off] = '\0';
        if (sessions_route_escape(dir, strlen(dir), out, cap, &off) < 0)
            return -ENAMETOOLONG;
    }
    return 0;
}
