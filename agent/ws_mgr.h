/* ws_mgr.h - named workspaces of stateless executions (docs/agent.md "Workspaces"): a tmpfs of
 * --workspace-mb per name, created on first use, listed, deleted. Each is a detached mount
 * (fsopen/fsmount) the agent holds by an fd and never attaches anywhere: it has no path on the
 * host, an execution gets a copy bound onto its working directory inside its own mount
 * namespace (isolate_mount.c), and it ends with the agent's process, whatever way it ends.
 *
 * Threads: any thread; one lock guards the table. Lock order: the execution manager's lock may
 * be held when calling in (ws_mgr never calls out). */
#ifndef SANDPIT_WS_MGR_H
#define SANDPIT_WS_MGR_H

#include <jansson.h>
#include <stdbool.h>

#include "agent_cfg.h"
#include "err.h"

struct ws_mgr;

/* New manager; probes that this host lets us create a detached tmpfs (root, Linux 5.2). When
 * not, workspaces are off and ws_mgr_use says why. NULL on out of memory. */
struct ws_mgr *ws_mgr_new(const struct agent_cfg *cfg);
/* Closes every workspace (their files are gone), frees. NULL is fine. */
void ws_mgr_free(struct ws_mgr *w);

/* An execution will use workspace name (valid: ws_name_ok, common/ws_name.h): creates it when new
 * and counts the user (DELETE answers 409 while any). 0, -ERR_BUSY (--max-workspaces exist),
 * -ERR_INVALID (workspaces are off here, e says why) or -ERR_UNAVAILABLE (no tmpfs). */
int ws_mgr_use(struct ws_mgr *w, const char *name, struct err *e);
/* Marks an execution of workspace name running: true; false only when name is gone. Executions
 * of one workspace run at once (they share its uid). */
bool ws_mgr_try_run(struct ws_mgr *w, const char *name);
/* The uid index of workspace name (its executions run as isolate_cred_uid_ws of it), or
 * -ENOENT. */
int ws_mgr_uid_index(struct ws_mgr *w, const char *name);
/* A new fd (close-on-exec) of workspace name's mount, for the zygote, or -errno. */
int ws_mgr_fd(struct ws_mgr *w, const char *name);
/* The user counted by ws_mgr_use is over (ran: it had ws_mgr_try_run's mark). */
void ws_mgr_done(struct ws_mgr *w, const char *name, bool ran);
/* {"workspaces": [{"name", "size_bytes", "files", "created", "last_used", "in_use"}...],
 * "total", "max", "size_mb"}: new reference, NULL on out of memory. */
json_t *ws_mgr_list(struct ws_mgr *w);
/* Deletes workspace name with its files. 0, -ERR_NOT_FOUND, -ERR_CONFLICT (an execution uses
 * it or waits for it). */
int ws_mgr_delete(struct ws_mgr *w, const char *name, struct err *e);
/* An anonymous workspace for one stateless execution with files in or out (exec_mgr_files.c):
 * a new detached tmpfs of --workspace-mb into *fd (the caller closes it) and its uid index, one
 * of --max-concurrent kept apart from the named workspaces' (so executions running at once
 * never share a uid). The index, or -ERR_BUSY (all taken) / -ERR_UNAVAILABLE (no tmpfs here,
 * e says why). */
int ws_mgr_anon(struct ws_mgr *w, int *fd, struct err *e);
/* Gives back the uid index ws_mgr_anon returned. */
void ws_mgr_anon_done(struct ws_mgr *w, int uid_index);
/* {"enabled", "count", "max", "size_mb"} (and "reason" when off) for /health: new reference. */
json_t *ws_mgr_health(struct ws_mgr *w);

#endif
