/* kernel_mgr.h - the agent's Jupyter Kernel Gateway subset (docs/kernels.md): /api/kernelspecs,
 * /api/kernels REST and the /api/kernels/{id}/channels WebSocket. A kernel is a session
 * (sess_mgr.h); its cells are the session's cells, run by the execution manager.
 *
 * Threads: every kernel's state lives on the WebSocket hub's one thread (ws_conn.h). An HTTP
 * request is handed to that thread (ws_hub_post) and suspends until it answers; the execution
 * and session managers' callbacks post there too. Nothing blocks an HTTP thread. */
#ifndef SANDPIT_KERNEL_MGR_H
#define SANDPIT_KERNEL_MGR_H

#include "agent_cfg.h"
#include "err.h"
#include "exec_mgr.h"
#include "exec_req.h"
#include "http_srv.h"
#include "sess_mgr.h"

#define KERNEL_MAX_MSG    (8u << 20)  /* bytes of a client's message (1009 beyond) */
#define KERNEL_MAX_QUEUED (64u << 20) /* bytes unsent to one client before it is dropped (1008) */

struct kernel_mgr;

/* New manager and its hub thread; everything borrowed outlives it. NULL with e set. */
struct kernel_mgr *kernel_mgr_new(const struct agent_cfg *cfg, struct exec_mgr *mgr,
                                  struct sess_mgr *sm, const struct exec_limits *lim,
                                  struct err *e);
/* Closes every channel, answers what waits, frees (after exec_mgr_stop and sess_mgr_stop, before
 * the HTTP server is freed). NULL ok. */
void kernel_mgr_free(struct kernel_mgr *km);
/* Answers a request under /api/kernels or /api/kernelspecs (kernel_route_is). MHD thread. */
enum MHD_Result kernel_mgr_route(struct kernel_mgr *km, struct http_req *r);
/* {"live", "connections"} for /health: new reference. Any thread. */
json_t *kernel_mgr_health(struct kernel_mgr *km);

#endif
