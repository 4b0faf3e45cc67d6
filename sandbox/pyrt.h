/* pyrt.h - the embedded CPython runtime: init once, preload, fork hooks, run one job.
 * Used only by the zygote process and its children (single-threaded, GIL held throughout). */
#ifndef SANDPIT_PYRT_H
#define SANDPIT_PYRT_H

#include <stddef.h>

#include "err.h"

struct pyrt;

/* Initialises CPython in isolated mode (no environment, no signal handlers), puts harness_root
 * (the directory holding the harness/ package) first on sys.path and imports harness.runner.
 * Returns new state (free with pyrt_free; never Py_Finalize in a child), or NULL with e set. */
struct pyrt *pyrt_new(const char *harness_root, struct err *e);
/* Imports the comma-separated modules through harness.runner.preload, then gc.disable(),
 * gc.freeze(). Returns the preload report as JSON text (new, free with free()) or NULL. */
char *pyrt_preload(struct pyrt *rt, const char *modules);
/* Wraps fork(): flushes stdio and runs CPython's before/after-fork hooks on both sides.
 * Returns like fork(). */
int pyrt_fork(struct pyrt *rt);
/* In a forked child: calls harness.runner.run(spec, result_fd) and returns the exit code the
 * process should _exit with. Never raises; internal failures give exit code 70. */
int pyrt_run(struct pyrt *rt, const char *spec, size_t len, int result_fd);
/* In a warm child, before its job: runs a throwaway execution (no output, its frame to
 * /dev/null) so the pages a run writes (reference counts of the harness, json, io, ...) are
 * copied now rather than on the request path (~2 ms of copy-on-write faults here). */
void pyrt_prewarm(struct pyrt *rt);
/* Releases the module references (the interpreter stays; the zygote exits right after). */
void pyrt_free(struct pyrt *rt);

#endif
