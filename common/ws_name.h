/* ws_name.h - the name of a workspace (the agent's named working directories, docs/agent.md
 * "Workspaces"), checked the same way by the agent and the orchestrator; pure. */
#ifndef SANDPIT_WS_NAME_H
#define SANDPIT_WS_NAME_H

#include <stdbool.h>

#define WS_NAME_MAX 64 /* bytes of a name, NUL included */

/* True when name matches [a-z0-9][a-z0-9_.-]{0,62}: never "." or "..", no '/', so it can name a
 * directory safely. */
bool ws_name_ok(const char *name);

#endif
