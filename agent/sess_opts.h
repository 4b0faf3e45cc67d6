/* sess_opts.h - what POST /sessions may ask for (docs/sessions.md), validated; pure. */
#ifndef SANDPIT_SESS_OPTS_H
#define SANDPIT_SESS_OPTS_H

#include <jansson.h>
#include <stdbool.h>

#include "agent_cfg.h"
#include "err.h"

/* What POST /sessions asked for (validated by sess_opts_parse). */
struct sess_opts {
    long idle_timeout_s;
    long memory_mb, pids; /* 0 = the agent's */
    bool checkpoint;
    const char *policy; /* static: "standard" | "restricted" */
    json_t *env;        /* object of strings or NULL (owned by the caller) */
};

/* Validates a POST /sessions body into o (borrowing env from body) against the agent's limits.
 * 0 or -ERR_INVALID with e naming the field. */
int sess_opts_parse(const struct agent_cfg *cfg, json_t *body, struct sess_opts *o, struct err *e);

#endif
