/* zygote.h - the process that holds the initialised interpreter and forks one child per
 * execution. Started by the agent before any thread exists, by re-executing its own binary. */
#ifndef SANDPIT_ZYGOTE_H
#define SANDPIT_ZYGOTE_H

#include "agent_cfg.h"

/* Runs the zygote on the SOCK_SEQPACKET socket sock_fd until the agent closes it. harness_root
 * is the directory holding harness/, init_path the sandpit-init binary. Returns the process
 * exit code. */
int zygote_main(const struct agent_cfg *cfg, int sock_fd, const char *harness_root,
                const char *init_path);

#endif
