/* sessions_route.h - the URL space of /api/v1/sessions (a file path may hold '/', which the
 * common route table cannot express) and the agent paths it maps to; pure, no MHD. */
#ifndef SANDPIT_SESSIONS_ROUTE_H
#define SANDPIT_SESSIONS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "sessions.h"

#define SESSIONS_ROUTE_PREFIX "/api/v1/sessions"

enum sessions_op {
    SESSIONS_OP_NONE,
    SESSIONS_OP_CREATE,      /* POST /api/v1/sessions */
    SESSIONS_OP_LIST,        /* GET /api/v1/sessions */
    SESSIONS_OP_GET,         /* GET /api/v1/sessions/{id} */
    SESSIONS_OP_DELETE,      /* DELETE /api/v1/sessions/{id} */
    SESSIONS_OP_EXECUTE,     /* POST .../{id}/execute */
    SESSIONS_OP_FORK,        /* POST .../{id}/fork */
    SESSIONS_OP_INTERRUPT,   /* POST .../{id}/interrupt */
    SESSIONS_OP_FILE_PUT,    /* PUT .../{id}/files/{path} */
    SESSIONS_OP_FILE_GET,    /* GET .../{id}/files/{path} */
    SESSIONS_OP_FILE_DELETE, /* DELETE .../{id}/files/{path} */
    SESSIONS_OP_FILE_LIST,   /* GET .../{id}/files?path=dir */
};

struct sessions_route {
    enum sessions_op op;      /* SESSIONS_OP_NONE when the path is unknown */
    char id[SESSIONS_ID_MAX]; /* the {id}, "" for create and list (cut when too long) */
    const char *file;         /* the {path} of a file route, in the parsed path (borrowed) */
    size_t file_len;          /* bytes of file */
    const char *allow;        /* static: the methods the path takes, for a 405 */
};

/* Matches method and path (len bytes, query removed, percent-decoded) under
 * /api/v1/sessions. 0 on a match; -ENOENT for an unknown path; -EINVAL when the {id} segment
 * is not one of our ids (out->id holds its printable start); -EPERM when the path does not
 * take the method (out->allow says which do). HEAD counts as GET. */
int sessions_route_parse(const char *method, const char *path, size_t len,
                         struct sessions_route *out);
/* True when a file path (len bytes) has no ".." segment: the orchestrator refuses those itself
 * (the agent would too), so no path can name another agent route. */
bool sessions_route_file_ok(const char *file, size_t len);
/* The agent's path for a route (the agent's session id sid; for a listing, dir is the
 * decoded ?path= value or NULL) into out (cap bytes), bytes outside [A-Za-z0-9._~/-]
 * percent-encoded. 0, or -ENAMETOOLONG when it does not fit. */
int sessions_route_agent_path(const struct sessions_route *rt, const char *sid, const char *dir,
                              char *out, size_t cap);

#endif
