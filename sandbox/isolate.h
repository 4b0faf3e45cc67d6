/* isolate.h - the OS layers around each execution (DESIGN "Agent process model").
 *
 * Zygote side: probe which layers this host allows (once, before Python starts, when a probe
 * fork is cheap), compile the seccomp filter to BPF once, own the per-slot cgroups.
 * Child side: enter the layers in order, as root, before the harness runs user code. */
#ifndef SANDPIT_ISOLATE_H
#define SANDPIT_ISOLATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "agent_cfg.h"
#include "isolate_state.h"
#include "timeline.h"

struct isolate;

/* Probes every layer, compiles the seccomp filter and prepares the cgroup root. Layers the host
 * forbids are switched off with a warning (never silently). hide: NULL-terminated directories of
 * ours (the harness, the binaries) covered by an empty tmpfs inside executions, each copied;
 * system directories are never covered. expose: our tools directory (e.g. TypeScript's), kept
 * visible when it lives under /tmp (covered by the private /tmp otherwise), or NULL. Returns new
 * state (isolate_free) or NULL on OOM. */
struct isolate *isolate_new(const struct agent_cfg *cfg, const char *const hide[],
                            const char *expose);
/* Frees; removes this instance's cgroups, so call it once every process of ours is gone. */
void isolate_free(struct isolate *iso);
/* The layers in force and why the others are off: borrowed, valid until isolate_free. */
const struct isolate_state *isolate_layers(const struct isolate *iso);

/* Takes a free cgroup slot (reused across executions: a fresh cgroup costs milliseconds).
 * Returns the slot, or -1 when cgroups are off or every slot is taken. */
int isolate_slot_take(struct isolate *iso);
/* Gives a slot back once every process of its execution is gone. */
void isolate_slot_give(struct isolate *iso, int slot);
/* Sets the slot's memory (MiB), pids and CPU (thousandths of a core) limits for the next
 * execution; 0 = the agent's default (CPU: unlimited). Writes only what changed. 0, or -errno
 * when a controller refused (the others are still set). */
int isolate_slot_limits(struct isolate *iso, int slot, long memory_mb, long pids, long cpu_millis);
/* True when executions are bounded by a memory cgroup. */
bool isolate_has_memory_cgroup(const struct isolate *iso);
/* Moves process pid (and its threads) into slot's cgroups (a session's fork into its own
 * slot). 0, or -errno when a controller refused (the others are still joined). */
int isolate_slot_move(const struct isolate *iso, int slot, pid_t pid);
/* Gives slot to the limits slot from has (a session's fork). */
void isolate_slot_copy_limits(struct isolate *iso, int from, int to);
/* Sends sig to every process in slot's cgroups but keep (a cell's leftovers at its end; a
 * session when keep is 0). Returns how many were signalled, or -ENOTSUP without cgroups. */
int isolate_slot_kill_others(const struct isolate *iso, int slot, pid_t keep, int sig);
/* The memory cgroup's OOM-kill count for the slot (0 when unavailable). */
uint64_t isolate_slot_oom_kills(const struct isolate *iso, int slot);

/* True when executions get a private mount namespace (their working dir lives in it). */
bool isolate_has_mount_ns(const struct isolate *iso);
/* Gives path to the sandbox user of slot (no-op when not dropping privileges). */
void isolate_chown_sandbox(const struct isolate *iso, int slot, const char *path);
/* The uid executions in slot run as (the same for every slot with --sandbox-uid-base 0). */
uid_t isolate_cred_uid(const struct isolate *iso, int slot);
/* {"first", "count", "per_slot"}: the uids executions run as, for /health; new reference, or
 * JSON null when executions keep the agent's uid. */
json_t *isolate_uids_json(const struct isolate *iso);
/* A named workspace (agent/ws_mgr.h) to bind onto an execution's working directory. */
struct isolate_ws {
    int fd;         /* its detached tmpfs mount (the agent's, passed with the job) */
    const char *at; /* the working directory it becomes, <work-dir>/<exec-id> */
    int uid_index;  /* the execution runs as the workspace's uid (isolate_cred_uid_ws) */
};

/* The uid every execution of workspace index k runs as, whatever its slot: the top of this
 * agent's range (slots count up from its bottom), so executions of one workspace share its
 * files as one user's processes do and run at once. The same as isolate_cred_uid without
 * per-slot uids. */
uid_t isolate_cred_uid_ws(const struct isolate *iso, int k);
/* The uid an execution in slot with workspace ws (NULL = none) runs as. */
uid_t isolate_cred_uid_of(const struct isolate *iso, int slot, const struct isolate_ws *ws);

/* In the user process, as root, before any user code: cgroups (slot >= 0), namespaces, mounts
 * (private /tmp holding the work root, disk_mb MiB or the agent's --disk-mb when 0, /dev/shm,
 * /proc, read-only root, a copy of workspace ws at ws->at given to the slot's user, ws NULL =
 * none), loopback, hostname, credentials; each step stamped on tl (NULL allowed). On failure
 * writes a reason into why and returns -errno. */
int isolate_enter(const struct isolate *iso, int slot, long disk_mb, const struct isolate_ws *ws,
                  struct timeline_rec *tl, char *why, size_t why_len);
/* The last step: loads the seccomp filter (no_new_privs must be set). 0 or -errno. */
int isolate_seccomp(const struct isolate *iso);

#endif
