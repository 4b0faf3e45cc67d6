/* api_sessions.h - the agent's /sessions endpoints (docs/sessions.md): sessions, their cells,
 * forks, interrupts and workspace files, on common/http_srv. */
#ifndef SANDPIT_API_SESSIONS_H
#define SANDPIT_API_SESSIONS_H

#include "agent_cfg.h"
#include "exec_mgr.h"
#include "exec_req.h"
#include "http_srv.h"
#include "sess_mgr.h"

/* What the endpoints use, all borrowed for the API's life. */
struct api_sess {
    const struct agent_cfg *cfg;
    struct exec_mgr *mgr;
    struct sess_mgr *sm;
    const struct exec_limits *lim; /* a cell's request is read as /execute's */
};

/* Answers a request whose path is under /sessions (sess_route_is). */
enum MHD_Result api_sess_route(struct api_sess *as, struct http_req *r);

#endif
