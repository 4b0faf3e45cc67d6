/* api.h - the agent's HTTP API (DESIGN "Agent API") on common/http_srv. */
#ifndef SANDPIT_API_H
#define SANDPIT_API_H

#include <stdint.h>

#include "agent_cfg.h"
#include "err.h"
#include "http_srv.h"
#include "exec_mgr.h"
#include "outbox.h"
#include "runtime.h"
#include "sess_mgr.h"
#include "ws_mgr.h"
#include "zyg_client.h"

struct api;

/* Starts listening (MHD threads). All pointers are borrowed for the API's life.
 * NULL with e set when the address cannot be bound. */
struct api *api_new(const struct agent_cfg *cfg, struct exec_mgr *mgr, struct sess_mgr *sm,
                    struct ws_mgr *ws, struct zyg_client *zc, struct outbox *ob,
                    struct runtimes *rts, struct err *e);
/* The HTTP server (borrowed, valid until api_free): its port, quiesce and drain. */
struct http_srv *api_http(const struct api *a);
/* Stops the threads and frees; every suspended request must have been woken.
 * NULL ok. */
void api_free(struct api *a);

#endif
