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
#include <sys/socket.h>
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

/* Moves the job's fds onto 0, 1, 2 and 3 without clobbering one another; closes the rest. */
static int child_wire_fds(const int fds[CHILD_JOB_NFDS])
{
    const int want[4] = {fds[ZYG_FD_STDIN], fds[ZYG_FD_STDOUT], fds[ZYG_FD_STDERR],
                         fds[ZYG_FD_RESULT]};
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

/* Blocks until the zygote sends the job. Returns 0 with fds filled, or -1 (the zygote is gone
 * or spoke wrongly: the child just exits). */
static int child_wait_job(int ctl, struct zyg_job *job, int fds[CHILD_JOB_NFDS])
{
    uint8_t buf[256];
    char cbuf[CMSG_SPACE(sizeof(int) * CHILD_JOB_NFDS)];
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm;
    const uint8_t *body;
    size_t blen;
    ssize_t n;
    int got = 0;

    /* ECONNRESET: the zygote closed its end while our "ready" byte was unread; the kernel
     * reports that once, ahead of the job already queued for us, which the next call reads. */
    for (int tries = 0;; tries++) {
        n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
        if (n >= 0 || (errno != EINTR && (errno != ECONNRESET || tries >= 3)))
            break;
    }
    if (n <= 0)
        return -1;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            if (got == CHILD_JOB_NFDS)
                memcpy(fds, CMSG_DATA(cm), sizeof(int) * CHILD_JOB_NFDS);
        }
    }
    if (got != CHILD_JOB_NFDS ||
        zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen) != ZYG_MSG_JOB ||
        zyg_proto_decode_job(body, blen, job) < 0)
        return -1;
    return 0;
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

/* The limits known before the job: everything but CPU time. */
static int child_limits(const struct child_ctx *c)
{
    int r;

    if ((r = child_rlimit(RLIMIT_CORE, 0, 0)) < 0)
        return r;
    if ((r = child_rlimit(RLIMIT_NOFILE, (rlim_t)c->cfg->open_files, (rlim_t)c->cfg->open_files)) <
        0)
        return r;
    if ((r = child_rlimit(RLIMIT_FSIZE, (rlim_t)c->cfg->file_size_mb << 20,
                          (rlim_t)c->cfg->file_size_mb << 20)) < 0)
        return r;
    /* Bounded so runaway recursion in C ends in SIGSEGV, not in memory pressure; 64 MiB is 8
     * times the usual default (numpy and deep Python recursion fit). */
    if ((r = child_rlimit(RLIMIT_STACK, (rlim_t)64 << 20, (rlim_t)64 << 20)) < 0)
        return r;
#ifndef __SANITIZE_ADDRESS__
    /* ASan reserves terabytes of address space; the limit is skipped in sanitizer builds. */
    if ((r = child_rlimit(RLIMIT_AS, (rlim_t)c->cfg->memory_mb << 20,
                          (rlim_t)c->cfg->memory_mb << 20)) < 0)
        return r;
#endif
    return 0;
}

/* Warm phase: everything that does not depend on the job. Exits 71 on failure. */
static void child_prepare(const struct child_ctx *c)
{
    char why[200] = "";

    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Outside a PID namespace the parent is visible: if it died before PDEATHSIG was armed,
     * nobody would ever enforce the deadline, so stop now. */
    if (!c->in_pidns && getppid() != c->zygote_pid)
        _exit(71);
    /* Drop every inherited fd at once (the zygote's socket, other jobs' status pipes): a warm
     * child may wait a long time and must not keep them open. 0-2 stay until the job's. */
    if (dup2(c->ctl, 3) < 0 || close_range(4, ~0U, 0) < 0)
        _exit(71);
    (void)setpgid(0, 0);
    child_signals();
    if (isolate_enter(c->iso, c->slot, why, sizeof(why)) < 0) {
        /* No user fd exists yet: the zygote's stderr is the agent log. */
        dprintf(2, "{\"level\":\"error\",\"comp\":\"child\",\"msg\":\"isolation: %s\"}\n", why);
        _exit(71);
    }
    umask(022);
    if (child_limits(c) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        isolate_seccomp(c->iso) < 0)
        _exit(71);
    /* From inside the work root, so the throwaway run's cwd on sys.path is ours. */
    if (chdir(c->cfg->work_dir) == 0)
        pyrt_prewarm(c->rt);
}

void child_run(const struct child_ctx *c)
{
    int fds[CHILD_JOB_NFDS], r, code;
    char *spec = NULL, workdir[512];
    size_t spec_len = 0;
    struct zyg_job job;
    rlim_t cpu;

    child_prepare(c);
    /* Tell the zygote this child is ready, so jobs go to ready children first. It may have
     * handed us a job and closed its end already (an empty pool): then the send fails and the
     * job is waiting in the socket, so the result is deliberately ignored. */
    (void)send(3, "R", 1, MSG_NOSIGNAL);
    /* No job: the zygote went away (nobody waits for us) or handed one we could not read, which
     * must never look like a program that ran and succeeded. */
    if (child_wait_job(3, &job, fds) < 0)
        _exit(71);

    if (lseek(fds[ZYG_FD_SPEC], 0, SEEK_SET) < 0 ||
        fdio_read_all(fds[ZYG_FD_SPEC], CHILD_SPEC_MAX, &spec, &spec_len) < 0)
        child_die(fds[ZYG_FD_STDERR], "reading the job spec", errno ? errno : EIO);
    if ((r = child_wire_fds(fds)) < 0)
        child_die(fds[ZYG_FD_STDERR], "wiring stdio", -r);
    snprintf(workdir, sizeof(workdir), "%s/%s", c->cfg->work_dir, job.exec_id);
    /* Inside the private /tmp when mount namespaces work (the parent belongs to us); else the
     * zygote created it on the host before handing the job over. */
    if ((mkdir(workdir, 0700) < 0 && errno != EEXIST) || chdir(workdir) < 0)
        child_die(2, "entering the working directory", errno);
    /* A backstop only: the zygote kills at the wall-clock deadline long before this. */
    cpu = (rlim_t)(job.timeout_ms / 1000 + 2);
    if ((r = child_rlimit(RLIMIT_CPU, cpu, cpu + 1)) < 0)
        child_die(2, "setting the CPU limit", -r);

    code = pyrt_run(c->rt, spec, spec_len, CHILD_RESULT_FD);
    /* Close our ends so the server sees EOF before the (slow) address-space teardown. */
    close(CHILD_RESULT_FD);
    close(1);
    close(2);
    _exit(code);
}
