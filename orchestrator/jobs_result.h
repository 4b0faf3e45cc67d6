/* jobs_result.h - the result object of a finished job (HARDIK dialect): output, stdout, stderr,
 * exitCode, error, durationMs, warnings, executionId, exitReason, agent, and the scenario
 * fields, from the agent's ExecutionResult. Pure: no lock, no job. */
#ifndef SANDPIT_JOBS_RESULT_H
#define SANDPIT_JOBS_RESULT_H

#include <jansson.h>

/* The job's result: new reference, NULL on OOM. res (borrowed) is the agent's ExecutionResult,
 * or NULL when the run ended before one existed; error (or NULL) is why the job did not
 * complete (any bytes, kept valid UTF-8); exec_id and agent_url are "" while unknown; run_ms is
 * the duration used when res has no execution_time. */
json_t *jobs_result_new(json_t *res, const char *error, const char *exec_id, const char *agent_url,
                        double run_ms);

#endif
