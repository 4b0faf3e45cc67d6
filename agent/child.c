/* child.c - the user process: fds, signals, rlimits, no_new_privs, then the harness.
 * Runs after fork in the zygote's child; only async-signal-safe habits until Python runs, and
 * never logs (its stderr is the user's). */
#include <Python.h>

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"

#define CHILD_SPEC_MAX  (64u << 20)
#define CHILD_RESULT_FD 3

/* Reports a set-up failure on the execution's stderr (fd 2 once wired, else the job's). */
static __attribute__((noreturn)) void child_die(int fd, const char *what, int err)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "sandpit: execution set-up failed: %s: %s\n", what,
                     strerror(err));

    if (fd >= 0 && n > 0)
        (void)!write(fd, msg, (size_t)n);
    _exit(71);
}

static int child_rlimit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};

    return setrlimit(res, &rl) < 0 ? -errno : 0;
}

/* Moves the job's fds onto 0, 1, 2 and 3 without clobbering one another. */
static int child_wire_fds(const struct child_ctx *c)
{
    const int want[4] = {c->fds[ZYG_FD_STDIN], c->fds[ZYG_FD_STDOUT], c->fds[ZYG_FD_STDERR],
                         c->fds[ZYG_FD_RESULT]};
    int high[4];

    for (int i = 0; i < 4; i++) {
        high[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 64);
        if (high[i] < 0)
            return -errno;
    }
    for (int i = 0; i < 4; i++) {
        if (dup2(high[i], i) < 0)
            return -errno;
    }
    /* dup2 clears close-on-exec on 0-2, which subprocesses must inherit; the result fd is ours
     * alone, so keep it from exec'd programs. */
    if (fcntl(CHILD_RESULT_FD, F_SETFD, FD_CLOEXEC) < 0)
        return -errno;
    return close_range(4, ~0U, 0) < 0 ? -errno : 0;
}

static void child_signals(void)
{
    struct sigaction sa = {0};
    sigset_t none;

    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP)
            (void)sigaction(s, &sa, NULL);
    }
    /* As the python3 executable does: broken pipes and file-size overruns raise, not kill. */
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);
    (void)sigaction(SIGXFSZ, &sa, NULL);
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static int child_limits(const struct child_ctx *c)
{
    rlim_t cpu = (rlim_t)(c->timeout_ms / 1000 + 2);
    int r;

    if ((r = child_rlimit(RLIMIT_CORE, 0, 0)) < 0)
        return r;
    if ((r = child_rlimit(RLIMIT_NOFILE, (rlim_t)c->cfg->open_files, (rlim_t)c->cfg->open_files)) <
        0)
        return r;
    if ((r = child_rlimit(RLIMIT_FSIZE, (rlim_t)c->cfg->file_size_mb << 20,
                          (rlim_t)c->cfg->file_size_mb << 20)) < 0)
        return r;
    /* A backstop only: the zygote kills at the wall-clock deadline long before this. */
    if ((r = child_rlimit(RLIMIT_CPU, cpu, cpu + 1)) < 0)
        return r;
#ifndef __SANITIZE_ADDRESS__
    /* ASan reserves terabytes of address space; the limit is skipped in sanitizer builds. */
    if ((r = child_rlimit(RLIMIT_AS, (rlim_t)c->cfg->memory_mb << 20,
                          (rlim_t)c->cfg->memory_mb << 20)) < 0)
        return r;
#endif
    return 0;
}

void child_run(const struct child_ctx *c)
{
    char *spec = NULL;
    size_t spec_len = 0;
    int r, code;

    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Outside a PID namespace the parent is visible: if it died before PDEATHSIG was armed,
     * nobody would ever enforce the deadline, so stop now. */
    if (!c->in_pidns && getppid() != c->zygote_pid)
        _exit(71);
    (void)setpgid(0, 0);
    child_signals();

    if (lseek(c->fds[ZYG_FD_SPEC], 0, SEEK_SET) < 0 ||
        (r = fdio_read_all(c->fds[ZYG_FD_SPEC], CHILD_SPEC_MAX, &spec, &spec_len)) < 0)
        child_die(c->fds[ZYG_FD_STDERR], "reading the job spec", errno ? errno : EIO);
    if ((r = child_wire_fds(c)) < 0)
        child_die(c->fds[ZYG_FD_STDERR], "wiring stdio", -r);
    {
        char why[200] = "";

        if ((r = isolate_enter(c->iso, c->slot, c->workdir, why, sizeof(why))) < 0) {
            dprintf(2, "sandpit: execution set-up failed: %s\n", why);
            _exit(71);
        }
    }
    if (chdir(c->workdir) < 0)
        child_die(2, "entering the working directory", errno);
    umask(022);
    if ((r = child_limits(c)) < 0)
        child_die(2, "setting resource limits", -r);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        child_die(2, "PR_SET_NO_NEW_PRIVS", errno);
    if ((r = isolate_seccomp(c->iso)) < 0)
        child_die(2, "loading the seccomp filter", -r);

    code = pyrt_run(c->rt, spec, spec_len, CHILD_RESULT_FD);
    /* Close our ends so the server sees EOF before the (slow) address-space teardown. */
    close(CHILD_RESULT_FD);
    close(1);
    close(2);
    _exit(code);
}
