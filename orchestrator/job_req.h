/* job_req.h - parsing of POST /api/run bodies (the job API, HARDIK dialect); pure. */
#ifndef SANDPIT_JOB_REQ_H
#define SANDPIT_JOB_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "lang.h"

struct job_req {
    json_t *root;     /* owned: the parsed body; code points into it */
    const char *code; /* the submitted text (before code-format normalisation) */
    size_t code_len;
    char language[LANG_NAME_MAX]; /* canonical; "python" when not given */
    double timeout;               /* seconds for the code; 0 = the agent's default */
    json_t *scenario;             /* the validated scenario object (in root), or NULL */
    json_t *stdin_text;           /* a string for the code's stdin (in root), or NULL */
    json_t *env;                  /* an object of strings for the environment (in root), or NULL */
    double delay_s;               /* seconds the scenario delays the run (artificialDelayMs) */
    int owner;                    /* set by the API: 1 + the index of the caller's API key, 0
                                   * when no keys are configured (jobs.h) */
    long max_active;              /* set by the API: how many jobs of the key may be queued or
                                   * running (its `concurrent` limit less its synchronous runs);
                                   * 0 = no limit, -1 = none may */
};

/* Parses {language?, code, scenario?, timeout?, stdin?, env?, and the agent's other execution
 * fields (REQFIELDS_EXEC)} (len bytes) with reqfields_read: `code` may also be sent as
 * `generated_code` (which wins when both are given); timeout must be > 0 and <= max_timeout;
 * scenario is validated with scenario_parse and left for the agent to apply; any other field
 * is a 400 naming it. Returns 0 (release with job_req_done), -ERR_INVALID with e naming the
 * field, or -ENOMEM. */
int job_req_parse(const char *body, size_t len, double max_timeout, struct job_req *req,
                  struct err *e);
/* job_req_parse over an already parsed object o (borrowed; on success req holds its own
 * reference), reading the optional fields opts names (enum reqfields_opt). 0 or -ERR_INVALID
 * with e naming the field; on failure req is zeroed. */
int job_req_read(json_t *o, unsigned opts, double max_timeout, struct job_req *req, struct err *e);
/* Releases what job_req_parse allocated; safe on a zeroed struct. */
void job_req_done(struct job_req *req);
/* The agent's POST /execute body for req running code (code_len bytes, borrowed): language,
 * timeout, debug_mode false (unless the request says), async when asked, and the scenario,
 * stdin, env and REQFIELDS_EXEC fields unchanged. New reference, or NULL on OOM. */
json_t *job_req_agent_body(const struct job_req *req, const char *code, size_t code_len,
                           bool async);

#endif
