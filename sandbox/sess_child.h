/* sess_child.h - a session's process (docs/sessions.md): forked from the zygote and isolated
 * like an execution's child (child.c), it then runs cells in one interpreter until the zygote
 * closes its control socket, and forks itself on request.
 *
 * Control socket (fd 4, SOCK_SEQPACKET), zygote -> session: JOB with a cell's fds (as an
 * execution's, zyg_proto.h), SESS FORK with the copy's new control socket. Session -> zygote,
 * each with SCM_CREDENTIALS: "U" + bits (up; for a fork, the PYRT_RESEEDED_* bits) and "D" +
 * the cell's wait status (the cell is over). Runs in the forked child; never returns. */
#ifndef SANDPIT_SESS_CHILD_H
#define SANDPIT_SESS_CHILD_H

#include "child.h"

__attribute__((noreturn)) void sess_child_run(const struct child_ctx *c);

#endif
