/* server.h - the agent's HTTP API. */
#ifndef SANDPIT_SERVER_H
#define SANDPIT_SERVER_H

#include <stdint.h>

#include "agent_cfg.h"
#include "err.h"
#include "exec_mgr.h"
#include "outbox.h"
#include "runtime.h"
#include "zyg_client.h"

struct server;

/* Starts listening (MHD threads). All pointers are borrowed for the server's life. NULL with e
 * set when the address cannot be bound. */
struct server *server_new(const struct agent_cfg *cfg, struct exec_mgr *mgr, struct zyg_client *zc,
                          struct outbox *ob, struct runtimes *rts, struct err *e);
/* The bound port (useful with --port 0). */
uint16_t server_port(const struct server *s);
/* Stops accepting new connections; existing ones continue. */
void server_quiesce(struct server *s);
/* Waits (at most timeout_ms) until every request in progress has been answered, so clients
 * woken during shutdown get their reply before the connections close. */
void server_drain(struct server *s, int timeout_ms);
/* Stops the threads and frees; every suspended connection must have been resumed. */
void server_free(struct server *s);

#endif
