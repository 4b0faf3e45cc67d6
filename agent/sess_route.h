/* sess_route.h - the URL space of sessions (/sessions...); pure, fuzzed with the agent's
 * other routes. The route table (common/route_table) takes one segment per endpoint; a
 * session's file path takes the rest of the URL, so sessions parse their own. */
#ifndef SANDPIT_SESS_ROUTE_H
#define SANDPIT_SESS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "route_table.h"

#define SESS_ROUTE_PATH_MAX 4096

enum sess_route_op {
    SESS_R_NONE,
    SESS_R_LIST,        /* GET /sessions */
    SESS_R_CREATE,      /* POST /sessions */
    SESS_R_GET,         /* GET /sessions/{id} */
    SESS_R_DELETE,      /* DELETE /sessions/{id} */
    SESS_R_EXECUTE,     /* POST /sessions/{id}/execute */
    SESS_R_FORK,        /* POST /sessions/{id}/fork */
    SESS_R_INTERRUPT,   /* POST /sessions/{id}/interrupt */
    SESS_R_FILES,       /* GET /sessions/{id}/files?path= */
    SESS_R_FILE_GET,    /* GET /sessions/{id}/files/{path} */
    SESS_R_FILE_PUT,    /* PUT /sessions/{id}/files/{path} */
    SESS_R_FILE_DELETE, /* DELETE /sessions/{id}/files/{path} */
};

struct sess_route {
    enum sess_route_op op;
    char id[ROUTE_ARG_MAX];         /* the {id} segment, "" when none */
    char path[SESS_ROUTE_PATH_MAX]; /* the file path after files/, "" when none */
    char allow[ROUTE_ALLOW_MAX];    /* the methods the path takes (for 405) */
};

/* True when path (len bytes, no query) is /sessions or below. */
bool sess_route_is(const char *path, size_t len);
/* Matches method and path (len bytes, query removed). 0 with out filled; -ENOENT (no such
 * path), -EPERM (the path exists, not for this method: out->allow), -EINVAL (an id that is
 * not a session id), -ENAMETOOLONG (the file path exceeds SESS_ROUTE_PATH_MAX). */
int sess_route_parse(const char *method, const char *path, size_t len, struct sess_route *out);

/* Endpoint i as "METHOD /path" into out (GET / lists them): 1, or 0 past the last. Kept next
 * to sess_route_parse so the two cannot drift apart unnoticed (test_sess_route parses each). */
int sess_route_endpoint(size_t i, char *out, size_t size);

#endif
