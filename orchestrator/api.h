/* api.h - the orchestrator's HTTP API (DESIGN "Orchestrator API") on common/http_srv: routing,
 * keys, health and metrics here; one file per dialect (api_toolcall.c, api_jobs.c,
 * api_nadoo.c); agent_client.c talks to the agents. */
#ifndef SANDPIT_API_H
#define SANDPIT_API_H

#include <stdint.h>

#include "dispatch.h"
#include "err.h"
#include "http_srv.h"
#include "jobs.h"
#include "keys.h"
#include "nadoo.h"
#include "orch_cfg.h"
#include "registry.h"

struct api;

/* Starts listening (MHD threads). All pointers are borrowed for the API's life. NULL with e
 * set when the address cannot be bound. */
struct api *api_new(const struct orch_cfg *cfg, struct registry *reg, struct dispatch *d,
                    struct jobs *jobs, struct keys *keys, struct err *e);
/* The HTTP server (borrowed, valid until api_free): its port, quiesce and drain. */
struct http_srv *api_http(const struct api *a);
/* Stops the threads and frees; every suspended request must have been woken. NULL ok. */
void api_free(struct api *a);

#endif
