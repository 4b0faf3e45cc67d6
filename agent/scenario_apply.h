/* scenario_apply.h - what a validated scenario becomes on this agent (issue 6): the zygote
 * job's fields, the proxy's configuration, and a warning for every part this host cannot apply
 * as asked (never dropped silently). Pure: no I/O. */
#ifndef SANDPIT_SCENARIO_APPLY_H
#define SANDPIT_SCENARIO_APPLY_H

#include <jansson.h>

#include "agent_cfg.h"
#include "isolate_state.h"
#include "proxy.h"
#include "scenario.h"
#include "zyg_proto.h"

/* Fills job's scenario fields from s. isolation: the layers the zygote reported (borrowed;
 * zyg_client_isolation, every layer off with its reason while unknown). Appends warnings
 * (strings) to warnings. Returns 0 or -ENOMEM. */
int scenario_apply_job(const struct scenario *s, const struct agent_cfg *cfg,
                       const struct isolate_state *isolation, struct zyg_job *job,
                       json_t *warnings);
/* The proxy's configuration for s (network keys only). */
void scenario_apply_proxy(const struct scenario *s, struct proxy_conf *pc);

#endif
