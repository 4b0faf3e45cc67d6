/* exec_sse.h - an execution's live output as server-sent events (docs/agent.md "Live output"):
 * start, stdout/stderr chunks as the I/O thread reads them, truncated where --max-output cut a
 * stream, then at the end each display item, the result (or an error) and end. */
#ifndef SANDPIT_EXEC_SSE_H
#define SANDPIT_EXEC_SSE_H

#include "exec_mgr.h"
#include "http_srv.h"

/* Streams ex (a reference is taken) as r's reply. session_id: the cell's session, or NULL for
 * /execute (it names the error when the zygote dies under the run). The execution runs on
 * whatever happens to the client: one that goes away finds it under GET /execution/{id}.
 * MHD thread, from the route function. */
enum MHD_Result exec_sse_start(struct exec_mgr *m, struct http_req *r, struct exec *ex,
                               const char *session_id, long keepalive_ms);

#endif
