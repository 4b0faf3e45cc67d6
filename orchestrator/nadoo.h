/* nadoo.h - the Nadoo dialect (/api/v1/...; DESIGN "Orchestrator API"): request parsing, the
 * replies built from an agent ExecutionResult or a job, and the X-API-Key check. Pure: no
 * I/O, no MHD, no libcurl. */
#ifndef SANDPIT_NADOO_H
#define SANDPIT_NADOO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "job_req.h"

#define NADOO_BATCH_MAX 32 /* executions in one POST /api/v1/batch */

/* Parses one execution request {code, language?, timeout?, stdin? (or input), scenario?,
 * env?} from body (len bytes) into req (release with job_req_done), every field as every
 * dialect reads it (reqfields_read): code a string (required; generated_code accepted too and
 * winning when both are given), stdin a string (input its alias, not both), env an object of
 * strings checked as the agent checks it, the agent's other execution fields (REQFIELDS_EXEC)
 * passed on; any other field is a 400 naming it. 0, -ERR_INVALID with e naming the field, or
 * -ENOMEM. */
int nadoo_parse(const char *body, size_t len, double max_timeout, struct job_req *req,
                struct err *e);
/* nadoo_parse over an already parsed object o (borrowed; req holds its own reference); field
 * names in e are prefixed with prefix (e.g. "executions[2]."). */
int nadoo_parse_value(json_t *o, const char *prefix, double max_timeout, struct job_req *req,
                      struct err *e);
/* Parses {executions: [request, ...]} (1 to NADOO_BATCH_MAX entries) into reqs[0..*n); on
 * failure nothing is left to release. 0, -ERR_INVALID with e naming the field
 * ("executions[i].code", ...), or -ENOMEM. */
int nadoo_batch_parse(const char *body, size_t len, double max_timeout,
                      struct job_req reqs[NADOO_BATCH_MAX], size_t *n, struct err *e);

/* Maps an agent status (pending|running|completed|failed|timeout|cancelled) to the dialect's
 * queued|running|success|error|timeout|cancelled; static. */
const char *nadoo_status(const char *agent_status);
/* The reply for an agent ExecutionResult (borrowed): {execution_id, status, language, stdout,
 * stderr, exit_code, execution_time, error, exit_reason} plus the agent's warnings, scenario,
 * network and artificial_delay_s when present. New reference, or NULL on OOM. */
json_t *nadoo_reply(json_t *res);
/* The reply for a run that never got a result (no agent, agent failed): status "error" with
 * msg as error. New reference, or NULL on OOM. */
json_t *nadoo_failure(const char *language, const char *msg);
/* The status reply for a job, from its JOBS_VIEW_LOGS object (borrowed): execution_id is the
 * jobId; a failed job is "timeout" when its exit reason was a timeout, else "error". New
 * reference, or NULL on OOM. */
json_t *nadoo_job_view(json_t *job);

#endif
