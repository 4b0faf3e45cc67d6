/* job_req.h - parsing of POST /api/run bodies (the job API, HARDIK dialect); pure. */
#ifndef SANDPIT_JOB_REQ_H
#define SANDPIT_JOB_REQ_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "lang.h"

struct job_req {
    json_t *root;     /* owned: the parsed body; code points into it */
    const char *code; /* the submitted text (before code-format normalisation) */
    size_t code_len;
    char language[LANG_NAME_MAX]; /* canonical; "python" when not given */
    double timeout;               /* seconds for the code; 0 = the agent's default */
    json_t *warnings;             /* owned array: one entry per scenario key given (maybe []) */
};

/* Parses {language?, code, scenario?, timeout?} (len bytes). `code` may also be sent as
 * `generated_code`; timeout must be > 0 and <= max_timeout. Returns 0 (release with
 * job_req_done), -ERR_INVALID with e naming the field, or -ENOMEM. */
int job_req_parse(const char *body, size_t len, double max_timeout, struct job_req *req,
                  struct err *e);
/* Releases what job_req_parse allocated; safe on a zeroed struct. */
void job_req_done(struct job_req *req);

#endif
