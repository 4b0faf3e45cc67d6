/* isolate_selftest.h - the start-up self-test: one execution's whole set-up, run once before the
 * zygote reports READY, so that /health never shows every layer on while every execution fails
 * (issue 17, item 9). And the one adaptation it knows: a root that is not a mount point.
 *
 * Each layer is probed on its own in isolate_new; this runs them together, in a child of the
 * zygote forked as a warm child is, through the child's own set-up code (child_isolate: cgroup
 * slot, namespaces, mounts, credentials, rlimits, no_new_privs, seccomp), then as the sandbox
 * user: into the configured work root, creating and entering a working directory, a trivial
 * Python run through the harness, and an exec of /bin/sh. A failure switches the layer
 * "start_up_self_test" off with the step and its reason, logged at start, and every execution
 * is refused at its set-up with that reason (/health: status "degraded"). */
#ifndef SANDPIT_ISOLATE_SELFTEST_H
#define SANDPIT_ISOLATE_SELFTEST_H

#include <stdbool.h>
#include <stddef.h>

#include "isolate.h"
#include "pyrt.h"

/* In the zygote, before any probe: when / is not a mount point (a chroot) and its mount does not
 * propagate to the host, moves the zygote into its own mount namespace whose root is a bind of /
 * onto itself, so that executions can make their mounts private and / read-only. What it did or
 * why it could not is kept as a note for the self-test's reason and logged. */
void isolate_selftest_root(struct isolate *iso);

/* In the zygote, once Python is initialised and before READY: runs the self-test and records its
 * outcome in the layer state (isolate_layers). Blocks for at most ~30 s. */
void isolate_selftest_run(struct isolate *iso, struct pyrt *rt);

/* Pure: in the text of /proc/self/mountinfo, is there a mount at "/" (*found) and is it shared
 * with another namespace (*shared, "shared:N" among its optional fields)? Without one (a
 * chroot), *shared tells whether a mount whose parent is not listed (the mount holding the
 * chroot lies outside it) is shared: a new mount under a shared parent is made shared. */
void isolate_selftest_mountinfo(const char *text, bool *found, bool *shared);

#endif
