/* pyrt.h - the embedded CPython runtime: init once, preload, fork hooks, run one job.
 * Used only by the zygote process and its children (single-threaded, GIL held throughout). */
#ifndef SANDPIT_PYRT_H
#define SANDPIT_PYRT_H

#include <stddef.h>

#include "err.h"

struct pyrt;
struct heap_hot;

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
/* From now on, pyrt_fork's child copies hot's pages at once before anything runs in it
 * (heap_hot.h); hot is borrowed and must outlive rt's forks; NULL turns it off. */
void pyrt_set_prefault(struct pyrt *rt, const struct heap_hot *hot);
/* Like pyrt_fork, but the new process is a sibling: its parent is our parent (CLONE_PARENT), so
 * the zygote reaps it and it outlives us. Used to fork a session. */
int pyrt_fork_sibling(struct pyrt *rt);

/* Sessions (harness/session.py). In the session's process, once: gc on, harness.session.start().
 * 0, or -1 (printed on stderr). */
int pyrt_session_start(struct pyrt *rt);
/* In a new fork of a session: harness.session.after_fork() re-seeds the global random
 * generators; returns PYRT_RESEEDED_* bits of what it re-seeded. */
#define PYRT_RESEEDED_RANDOM 1u
#define PYRT_RESEEDED_NUMPY  2u
unsigned pyrt_session_after_fork(struct pyrt *rt);
/* One cell: harness.session.run_cell(spec, result_fd, ctl_fd) in the session's persistent
 * namespace (it says "S" on ctl_fd once its signal handlers are in place); the exit code (70
 * when the harness itself failed). */
int pyrt_run_cell(struct pyrt *rt, const char *spec, size_t len, int result_fd, int ctl_fd);

/* In a forked child: calls harness.runner.run(spec, result_fd) and returns the exit code the
 * process should _exit with. Never raises; internal failures give exit code 70. */
int pyrt_run(struct pyrt *rt, const char *spec, size_t len, int result_fd);
/* Runs code in __main__ (PyRun_SimpleString): the bench's floor (bench/floor.c). 0, or -1
 * with the traceback printed on stderr. */
int pyrt_exec_text(struct pyrt *rt, const char *code);
/* In a warm child, before its job: runs a throwaway execution (no output, its frame to
 * /dev/null) so the pages a run writes (reference counts of the harness, json, io, ...) are
 * copied now rather than on the request path (~2 ms of copy-on-write faults here). */
void pyrt_prewarm(struct pyrt *rt);
/* Releases the module references (the interpreter stays; the zygote exits right after). */
void pyrt_free(struct pyrt *rt);

#endif
