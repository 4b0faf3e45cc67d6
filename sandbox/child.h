/* child.h - the process that runs one execution's user code, from fork to the harness.
 *
 * Two phases. Warm: right after fork it isolates itself (cgroup slot, namespaces, mounts,
 * credentials, rlimits, no_new_privs, seccomp) and waits on its control socket. Start: the
 * zygote sends the job (ZYG_MSG_JOB with the spec, stdin, stdout, stderr and result fds); the
 * child wires them, creates its working directory, sets the CPU limit and runs the harness.
 * Runs in the forked child of the zygote; never returns. */
#ifndef SANDPIT_CHILD_H
#define SANDPIT_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_cfg.h"
#include "isolate.h"
#include "pyrt.h"
#include "timeline.h"
#include "zyg_proto.h"

/* The fds a job brings to the child over its control socket, in this order. */
#define CHILD_JOB_NFDS 6 /* ZYG_FD_SPEC .. ZYG_FD_NET */

struct child_ctx {
    const struct agent_cfg *cfg; /* borrowed */
    struct pyrt *rt;             /* borrowed; the zygote's interpreter, inherited by fork */
    const struct isolate *iso;   /* borrowed: the layers to enter */
    int slot;                    /* cgroup slot, -1 = none */
    int ctl;                     /* the child's end of its control socket */
    pid_t zygote_pid;            /* to detect a parent that died before PDEATHSIG was set */
    bool in_pidns;               /* true when pid 2 of its own PID namespace */
    long disk_mb;                /* size of the private /tmp; 0 = the agent's --disk-mb */
    const char *session;         /* a session's workspace name (sess_child.c), NULL = a job */
    long memory_mb;              /* a session's memory limit; 0 = the agent's --memory-mb */
    bool has_ws;                 /* a job with a named workspace (a child of its own): */
    int ws_fd;                   /* its detached mount (the zygote's fd, inherited) */
    int ws_uid;                  /* the workspace's uid index (isolate_cred_uid_ws) */
    const char *exec_id;         /* the job's id, naming the directory the workspace becomes */
    struct timeline_rec *tl;     /* its timestamps (--timeline), NULL when off */
};

/* The warm phase's isolation, as root, before any user code: isolate_enter (cgroup slot,
 * namespaces, mounts, credentials), rlimits, no_new_privs, seccomp. 0, or -errno with why filled.
 * Also run by the start-up self-test (isolate_selftest.c). */
int child_isolate(const struct child_ctx *c, char *why, size_t why_len);
/* Creates and enters the execution's working directory <work_dir>/<exec_id> (as the sandbox
 * user once isolated). 0, or -errno with why filled. */
int child_enter_workdir(const struct agent_cfg *cfg, const char *exec_id, char *why,
                        size_t why_len);

/* The warm phase: PDEATHSIG, fds (the control socket on 3), signals, child_isolate, the
 * pre-warm run. Exits 71 on failure. */
void child_prepare(const struct child_ctx *c);
/* A session's limits, set once: the address space where no memory cgroup bounds it (no CPU
 * time limit: it would add up over cells; the zygote's deadlines bound each cell). 0 or -errno. */
int child_session_limits(const struct child_ctx *c);

/* Isolates the process, waits for its job, runs it and _exits with the harness's code.
 * Set-up failures before the job exit with 71 (the zygote logs it); after, they are written to
 * the execution's stderr. */
__attribute__((noreturn)) void child_run(const struct child_ctx *c);

#endif
