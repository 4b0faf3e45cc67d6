/* zygote_pidns.h - a PID namespace per execution: the zygote unshares CLONE_NEWPID, spawns
 * sandpit-init as the namespace's pid 1 (posix_spawn: vfork+exec, cheap), forks the user
 * process as pid 2, and returns to its own namespace. Killing init kills the whole namespace.
 * Zygote only, single-threaded. */
#ifndef SANDPIT_ZYGOTE_PIDNS_H
#define SANDPIT_ZYGOTE_PIDNS_H

#include <stdbool.h>
#include <sys/types.h>

struct zygote_pidns {
    int ns_fd;             /* our own PID namespace, to return to after each spawn */
    int init_pipe[2];      /* read end is every init's fd 0; write end never leaves us */
    int devnull;           /* init's stdout and stderr */
    const char *init_path; /* sandpit-init (borrowed) */
    bool on;               /* PID namespaces work here */
    char reason[160];      /* why not, when they don't */
};

/* Opens what every init needs and probes whether this host lets us create PID namespaces (off
 * with the reason when not). init_path is borrowed for p's lifetime. 0, or -errno when a
 * descriptor cannot be opened (p is then done already). */
int zygote_pidns_init(struct zygote_pidns *p, const char *init_path);
/* Before forking an execution: enters a new PID namespace for the next fork and spawns its
 * init into *init_pid (0 when PID namespaces are off). On failure we are back in our own
 * namespace and nothing is left running. 0 or -errno. */
int zygote_pidns_enter(struct zygote_pidns *p, pid_t *init_pid);
/* After the fork: back to our own namespace (no-op when off). */
void zygote_pidns_leave(struct zygote_pidns *p);
/* Closes p's descriptors. */
void zygote_pidns_done(struct zygote_pidns *p);

#endif
