/* server.h - the orchestrator's HTTP API on libmicrohttpd (DESIGN "Orchestrator API"). */
#ifndef SANDPIT_ORCH_SERVER_H
#define SANDPIT_ORCH_SERVER_H

#include <stdint.h>

#include "dispatch.h"
#include "err.h"
#include "jobs.h"
#include "nadoo.h"
#include "orch_cfg.h"
#include "registry.h"

struct server;

/* Starts listening (MHD threads). Every pointer is borrowed for the server's life; keys are
 * the X-API-Key values the /api/v1 family requires (none when keys->n == 0). NULL with e set
 * when the address cannot be bound. */
struct server *server_new(const struct orch_cfg *cfg, struct registry *reg, struct dispatch *d,
                          struct jobs *jobs, const struct nadoo_keys *keys, struct err *e);
/* The bound port (useful with --port 0). */
uint16_t server_port(const struct server *s);
/* Stops accepting new connections; existing ones continue. NULL is fine. */
void server_quiesce(struct server *s);
/* Stops the threads and frees; every suspended connection must have been resumed (stop the
 * upstream loop first: it completes every pending call). NULL is fine. */
void server_free(struct server *s);

#endif
