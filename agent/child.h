/* child.h - set-up of the process that runs one execution's user code, between fork and the
 * harness. Runs in the forked child of the zygote; never returns. */
#ifndef SANDPIT_CHILD_H
#define SANDPIT_CHILD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent_cfg.h"
#include "isolate.h"
#include "pyrt.h"
#include "zyg_proto.h"

struct child_ctx {
    const struct agent_cfg *cfg; /* borrowed */
    struct pyrt *rt;             /* borrowed; the zygote's interpreter, inherited by fork */
    int fds[ZYG_JOB_NFDS];       /* the job's fds; STATUS is already closed (-1) */
    const char *workdir;         /* the execution's private working directory */
    uint32_t timeout_ms;         /* for the RLIMIT_CPU backstop */
    pid_t zygote_pid;            /* to detect a parent that died before PDEATHSIG was set */
    bool in_pidns;               /* true when pid 2 of its own PID namespace */
    const struct isolate *iso;   /* borrowed: the layers to enter */
    int slot;                    /* cgroup slot, -1 = none */
};

/* Isolates the process, wires fds 0-3, runs the harness and _exits with its code. On a set-up
 * failure it writes the reason to the execution's stderr and _exits with 71. */
__attribute__((noreturn)) void child_run(const struct child_ctx *c);

#endif
