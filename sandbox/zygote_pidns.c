/* zygote_pidns.c - a fresh PID namespace with its own init for every execution. */
#include "zygote_pidns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"

/* Probes whether this host lets us create PID namespaces, and enters back. */
static void zygote_pidns_probe(struct zygote_pidns *p)
{
    p->ns_fd = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (p->ns_fd < 0) {
        snprintf(p->reason, sizeof(p->reason), "/proc/self/ns/pid: %s", strerror(errno));
        return;
    }
    if (access(p->init_path, X_OK) < 0) {
        snprintf(p->reason, sizeof(p->reason), "%s: %s", p->init_path, strerror(errno));
        return;
    }
    if (unshare(CLONE_NEWPID) < 0) {
        snprintf(p->reason, sizeof(p->reason), "unshare(CLONE_NEWPID): %s", strerror(errno));
        return;
    }
    if (setns(p->ns_fd, CLONE_NEWPID) < 0) {
        snprintf(p->reason, sizeof(p->reason), "setns back: %s", strerror(errno));
        return;
    }
    p->on = true;
}

int zygote_pidns_init(struct zygote_pidns *p, const char *init_path)
{
    int r;

    memset(p, 0, sizeof(*p));
    p->ns_fd = p->devnull = p->init_pipe[0] = p->init_pipe[1] = -1;
    p->init_path = init_path;
    p->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (p->devnull < 0 || pipe2(p->init_pipe, O_CLOEXEC) < 0) {
        r = -errno;
        zygote_pidns_done(p);
        return r;
    }
    zygote_pidns_probe(p);
    return 0;
}

/* Spawns the namespace's pid 1 with default signals and an empty mask. Caller has unshared
 * CLONE_NEWPID. */
static int zygote_pidns_spawn_init(struct zygote_pidns *p, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t all, none;
    char *argv[] = {(char *)"sandpit-init", NULL};
    char *envp[] = {NULL};
    int r;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    posix_spawn_file_actions_adddup2(&fa, p->init_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&fa, p->devnull, 1);
    posix_spawn_file_actions_adddup2(&fa, p->devnull, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    r = posix_spawn(pid, p->init_path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return -r;
}

int zygote_pidns_enter(struct zygote_pidns *p, pid_t *init_pid)
{
    int r;

    *init_pid = 0;
    if (!p->on)
        return 0;
    if (unshare(CLONE_NEWPID) < 0)
        return -errno;
    r = zygote_pidns_spawn_init(p, init_pid);
    if (r < 0) {
        *init_pid = 0;
        zygote_pidns_leave(p);
    }
    return r;
}

void zygote_pidns_leave(struct zygote_pidns *p)
{
    if (p->on)
        (void)setns(p->ns_fd, CLONE_NEWPID);
}

void zygote_pidns_done(struct zygote_pidns *p)
{
    fdio_close(&p->ns_fd);
    fdio_close(&p->init_pipe[0]);
    fdio_close(&p->init_pipe[1]);
    fdio_close(&p->devnull);
}
