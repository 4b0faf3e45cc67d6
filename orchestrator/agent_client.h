/* agent_client.h - the orchestrator's side of the agent API: builds the dispatch call that runs
 * code on an agent and reads every agent reply, error bodies included, into the orchestrator's
 * vocabulary (err.h). The one place that knows the agent's reply shapes. */
#ifndef SANDPIT_AGENT_CLIENT_H
#define SANDPIT_AGENT_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "dispatch.h"
#include "err.h"
#include "orch_cfg.h"

/* What an agent's error body ({"error":{code,message,field}} or {"detail"}) says; "" when
 * absent. */
struct agent_client_error {
    char code[48];  /* the agent's stable code ("busy", "zygote_died", ...) */
    char msg[400];  /* its message (or Brain_Net's "detail") */
    char field[48]; /* the request field at fault */
};

/* Reads an agent's error body (len bytes, not necessarily JSON) into out. */
void agent_client_error_read(const char *body, size_t len, struct agent_client_error *out);

/* How long a synchronous run may keep the agent busy: the code's timeout plus the scenario's
 * delay plus a margin, at most --request-timeout (plus the delay). */
long agent_client_wait_ms(const struct orch_cfg *cfg, double timeout, double delay_s);

/* A dispatch call that POSTs body (borrowed; serialised here) to /execute on an agent serving
 * lang and waits for the result; done(arg) runs on the loop thread. New (dcall_free), or NULL
 * on OOM. */
struct dcall *agent_client_execute(const struct orch_cfg *cfg, const char *lang, json_t *body,
                                   double timeout, double delay_s, const char *req_id,
                                   dcall_done_fn done, void *arg);

/* Reads an answered /execute call. Returns 0 with *res the ExecutionResult (new reference);
 * or -code with e filled: the agent's 400 (field kept) and 413 pass through, its 503 is busy,
 * anything else, an unreadable result and every transport failure are named (agent_failed,
 * agent_timeout, no_healthy_agent on field "language", shutting_down). */
int agent_client_result(const struct dcall *dc, json_t **res, struct err *e);

#endif
