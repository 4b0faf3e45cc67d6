/* runtime.h - the languages an agent runs: one table (runtime.c), resolved against the tools
 * installed on this host at start, versions probed in the background (DESIGN "Agent process
 * model", issue 5). Python is embedded; every other runtime is a source file, an optional
 * compile command with its own time limit, and a run command the child execve()s. */
#ifndef SANDPIT_RUNTIME_H
#define SANDPIT_RUNTIME_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define RUNTIME_NAME_MAX 24

struct runtimes;
struct runtime_def;

/* Resolves the table against the host: a runtime is kept when every tool it names is found in
 * tools_dir (may be "") or /usr/local/bin:/usr/bin:/bin and, when only is not empty, its name
 * is in the comma-separated list only. Returns new state (runtimes_free) or NULL with e set
 * (ERR_INVALID naming "languages" for an unknown name in only; ENOMEM). */
struct runtimes *runtimes_new(const char *tools_dir, const char *only, struct err *e);
void runtimes_free(struct runtimes *rts);
/* Starts a thread that runs each runtime's version command (bounded in time). Call after the
 * zygote exists (no thread may exist before it). 0 or -errno. */
int runtimes_probe_versions(struct runtimes *rts);

/* The runtime answering to name (canonical or alias, case-insensitive), or NULL. */
const struct runtime_def *runtimes_find(const struct runtimes *rts, const char *name);
/* Canonical name of a runtime. */
const char *runtime_name(const struct runtime_def *rd);
/* True for the embedded Python (run by the harness, not by exec). */
bool runtime_is_embedded(const struct runtime_def *rd);
/* Compile-phase limit in milliseconds, 0 when the runtime does not compile. */
unsigned runtime_compile_ms(const struct runtime_def *rd);
/* Writes "a, b, c" (the available canonical names) into out. */
void runtimes_list(const struct runtimes *rts, char *out, size_t size);

/* The spec's "runtime" object for the child: {file, compile: [argv]|null, run: [argv],
 * env: {..}, big_vm}. code is the program text (the source file name may come from it, e.g.
 * Java's public class); workdir is the execution's working directory. New reference or NULL
 * on OOM. */
json_t *runtimes_spec(const struct runtimes *rts, const struct runtime_def *rd, const char *code,
                      size_t code_len, const char *workdir);
/* GET /languages: {"languages": [{name, aliases, version, compiled, file}]}; new reference. */
json_t *runtimes_describe(struct runtimes *rts);
/* /health: {name: version-or-null}; new reference. */
json_t *runtimes_versions(struct runtimes *rts);

/* Pure: the class a Java source declares public (else the first top-level class), into out;
 * "Main" when none is found. */
void runtime_java_class(const char *code, size_t len, char *out, size_t size);

#endif
