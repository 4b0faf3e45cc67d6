/* daemon.h - what every sandpit daemon's main does the same way: options and log level from
 * the command line, signals to a signalfd before any thread, the port file, the wait for a
 * stop signal. Used by main.c of the agent, the orchestrator and sandpit-proxy only. */
#ifndef SANDPIT_DAEMON_H
#define SANDPIT_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "log.h"

/* Parses argv into cfg (cfg_parse) and the level named by *log_level (a field of cfg, read after
 * parsing) into *lvl. Errors are printed as "<prog>: message" on stderr. Returns -1 to go on,
 * or the exit status main returns now: 0 after --help, 2 for a bad option. */
int daemon_args(const char *prog, const struct cfg_opt *opts, size_t n_opts, void *cfg, int argc,
                char **argv, const char *usage, const char *const *log_level, enum log_level *lvl);

/* Before any thread exists: blocks SIGTERM, SIGINT, SIGHUP (and SIGCHLD when with_chld, for a
 * signalfd of the caller's own), ignores SIGPIPE, and returns a signalfd (O_CLOEXEC) for the
 * first three, or -errno. */
int daemon_signals(bool with_chld);

/* Blocks until a signal arrives on sfd; returns its number, or -errno. ignore_hup: SIGHUP does
 * not count (a detached terminal is no reason to stop). */
int daemon_wait_signal(int sfd, bool ignore_hup);

/* The drain after SIGTERM: waits until busy(arg) is 0, grace_ms has passed, or another signal
 * arrives on sfd (an impatient operator), checking every 50 ms. Returns busy(arg) at the end. */
size_t daemon_drain(int sfd, long grace_ms, size_t (*busy)(void *arg), void *arg);

/* Writes the bound port and a newline to path (tests and supervisors read it), atomically
 * (a temporary file renamed). 0 or -errno. */
int daemon_write_port_file(const char *path, unsigned port);

#endif
