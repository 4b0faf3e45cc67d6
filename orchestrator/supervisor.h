/* supervisor.h - local agents: spawns one sandpit-agent per spawned registry slot on a free
 * port, learns the port from its --port-file, restarts any that dies (with backoff), and stops
 * them all at shutdown (SIGTERM, up to 5 s, then SIGKILL).
 *
 * One thread does all of it, forking the agents itself: PR_SET_PDEATHSIG fires when the
 * thread that forked a child exits, so the forking thread must live as long as the agents.
 * SIGCHLD must be blocked in every thread before any starts (main does it); this thread reads
 * it from a signalfd. */
#ifndef SANDPIT_SUPERVISOR_H
#define SANDPIT_SUPERVISOR_H

#include "err.h"
#include "orch_cfg.h"
#include "registry.h"

#define SUPERVISOR_STOP_WAIT_MS 5000 /* SIGTERM to SIGKILL */

struct supervisor;

/* New supervisor for every spawned agent in reg (borrowed, as are cfg and agent_bin) with a
 * private directory for port files. NULL with e set. */
struct supervisor *supervisor_new(struct registry *reg, const struct orch_cfg *cfg,
                                  const char *agent_bin, struct err *e);
/* Starts the thread, which spawns the agents at once. 0 or -errno. */
int supervisor_start(struct supervisor *s);
/* Stops every agent (SIGTERM, up to SUPERVISOR_STOP_WAIT_MS, then SIGKILL), reaps them and
 * joins the thread. Safe to call twice. */
void supervisor_stop(struct supervisor *s);
/* Stops if needed, removes the port-file directory and frees; NULL is fine. */
void supervisor_free(struct supervisor *s);

#endif
