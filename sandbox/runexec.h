/* runexec.h - the child's side of an exec runtime: source file, compile phase, program argv.
 * Runs in the execution's child after its fds are wired (0-2 the user's, 3 the result frame)
 * and its working directory is the cwd; user code has not run yet, so what it writes to the
 * result fd can be trusted (fd 3 is close-on-exec: the program never holds it). */
#ifndef SANDPIT_RUNEXEC_H
#define SANDPIT_RUNEXEC_H

#include <stdbool.h>
#include <stddef.h>

struct runexec {
    char **compile; /* argv or NULL; owned */
    char **run;     /* argv; owned */
    char **envp;    /* the program's environment; owned */
    bool big_vm;    /* skip RLIMIT_AS when a memory cgroup bounds it */
};

/* Parses the spec's runtime (see runtimes_spec) and environment and writes the source file
 * into the cwd. 0, or -errno with why filled. */
int runexec_prepare(const char *spec, size_t len, struct runexec *rx, char *why, size_t why_len);
/* Runs the compile phase (compiler's output on fd 2, stdin /dev/null). Returns 0 when it
 * succeeded or there is none; otherwise the exit code the execution should end with, after
 * writing the compile_error frame to result_fd. */
int runexec_compile(const struct runexec *rx, int result_fd);
/* Starts the program as a new process (stdio inherited); returns its pid or -errno. */
int runexec_spawn(const struct runexec *rx);
/* The program's arguments naming a file of build (the cwd now) made absolute, word by word
 * (sqlite's ".read main.sql"), before the program runs elsewhere (a workspace). */
void runexec_absolute(struct runexec *rx, const char *build);
/* Replaces this process with the program; returns only on failure (-errno). */
int runexec_exec(const struct runexec *rx);

#endif
