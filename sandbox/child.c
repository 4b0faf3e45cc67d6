/* child.c - the user process: fds, signals, rlimits, no_new_privs, then the harness.
 * Runs after fork in the zygote's child; only async-signal-safe habits until Python runs, and
 * never logs (its stderr is the user's). */
#include <Python.h>

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "fdio.h"
#include "fdpass.h"
#include "proxy.h"
#include "runexec.h"
#include "sess_child.h"

#define CHILD_SPEC_MAX  (64u << 20)
#define CHILD_RESULT_FD 3
#define CHILD_CTL_FD    4 /* to the zygote: "C" when the compile phase is over */
#define CHILD_NET_FD    5 /* to the proxy: the listeners, when the job has network */
#define CHILD_WS_FD     4 /* the workspace's mount while isolating (then CHILD_CTL_FD's place) */

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

/* Moves the job's fds onto 0, 1, 2 and 3, the control socket onto CHILD_CTL_FD and the proxy
 * channel onto CHILD_NET_FD (both close-on-exec), without clobbering one another; closes the
 * rest. */
static int child_wire_fds(const int fds[CHILD_JOB_NFDS], int ctl)
{
    const int want[6] = {
        fds[ZYG_FD_STDIN], fds[ZYG_FD_STDOUT], fds[ZYG_FD_STDERR], fds[ZYG_FD_RESULT], ctl,
        fds[ZYG_FD_NET]};
    int high[6];

    for (int i = 0; i < 6; i++) {
        high[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 64);
        if (high[i] < 0)
            return -errno;
    }
    for (int i = 0; i < 6; i++) {
        if (i < 3 ? dup2(high[i], i) < 0 : dup3(high[i], i, O_CLOEXEC) < 0)
            return -errno;
    }
    /* dup2 clears close-on-exec on 0-2, which subprocesses must inherit; the result fd, the
     * control socket and the proxy channel are ours alone, kept from exec'd programs. */
    return close_range(6, ~0U, 0) < 0 ? -errno : 0;
}

/* Blocks until the zygote sends the job. Returns 0 with fds filled, or -1 (the zygote is gone
 * or spoke wrongly: the child just exits). */
static int child_wait_job(int ctl, struct zyg_job *job, int fds[CHILD_JOB_NFDS])
{
    uint8_t buf[256];
    int got[CHILD_JOB_NFDS + 1], n_got = 0;
    const uint8_t *body;
    size_t blen;
    ssize_t n;

    /* ECONNRESET: the zygote closed its end while our "ready" byte was unread; the kernel
     * reports that once, ahead of the job already queued for us, which the next call reads. */
    for (int tries = 0;; tries++) {
        n = fdpass_recv(ctl, buf, sizeof(buf), got, CHILD_JOB_NFDS + 1, &n_got, 0);
        if (n != -ECONNRESET || tries >= 3)
            break;
    }
    /* Room for one more than a job brings: a message with any other count is refused. */
    if (n <= 0 || n_got != CHILD_JOB_NFDS ||
        zyg_proto_decode_hdr(buf, (size_t)n, &body, &blen) != ZYG_MSG_JOB ||
        zyg_proto_decode_job(body, blen, job) < 0)
        return -1;
    memcpy(fds, got, sizeof(got[0]) * CHILD_JOB_NFDS);
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

/* The limits known before the job: all but CPU time and address space. */
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
    return 0;
}

int child_isolate(const struct child_ctx *c, char *why, size_t why_len)
{
    char at[512];
    struct isolate_ws ws = {.fd = CHILD_WS_FD, .at = at, .uid_index = c->ws_uid};
    int r;

    if (c->has_ws && zyg_proto_workdir(c->cfg->work_dir, c->exec_id, at, sizeof(at)) < 0) {
        snprintf(why, why_len, "naming the working directory: %s", strerror(ENAMETOOLONG));
        return -ENAMETOOLONG;
    }
    r = isolate_enter(c->iso, c->slot, c->disk_mb, c->has_ws ? &ws : NULL, c->tl, why, why_len);
    /* Bound now (or failed): user code never gets the agent's mount itself. */
    if (c->has_ws)
        close(CHILD_WS_FD);
    if (r < 0)
        return r;
    umask(022);
    if ((r = child_limits(c)) < 0) {
        snprintf(why, why_len, "setting limits: %s", strerror(-r));
        return r;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || (r = isolate_seccomp(c->iso)) < 0) {
        r = r < 0 ? r : -errno;
        snprintf(why, why_len, "loading the seccomp filter: %s", strerror(-r));
        return r;
    }
    timeline_mark(c->tl, TL_SECCOMP);
    return 0;
}

int child_enter_workdir(const struct agent_cfg *cfg, const char *exec_id, char *why, size_t why_len)
{
    char workdir[512];
    int r;

    /* Inside the private /tmp when mount namespaces work (the parent belongs to us); else the
     * zygote created it on the host before handing the job over. */
    if ((r = zyg_proto_workdir(cfg->work_dir, exec_id, workdir, sizeof(workdir))) < 0) {
        snprintf(why, why_len, "naming the working directory: %s", strerror(-r));
        return r;
    }
    if ((mkdir(workdir, 0700) < 0 && errno != EEXIST) || chdir(workdir) < 0) {
        r = -errno;
        snprintf(why, why_len, "entering the working directory: %s", strerror(-r));
        return r;
    }
    return 0;
}

void child_prepare(const struct child_ctx *c)
{
    char why[200] = "";

    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Outside a PID namespace the parent is visible: if it died before PDEATHSIG was armed,
     * nobody would ever enforce the deadline, so stop now. */
    if (!c->in_pidns && getppid() != c->zygote_pid)
        _exit(71);
    /* Drop every inherited fd at once (the zygote's socket, other jobs' status pipes): a warm
     * child may wait a long time and must not keep them open. 0-2 stay until the job's. */
    if (c->has_ws) {
        int high = fcntl(c->ws_fd, F_DUPFD_CLOEXEC, 64);

        if (high < 0 || dup2(c->ctl, 3) < 0 || dup3(high, CHILD_WS_FD, O_CLOEXEC) < 0 ||
            close_range(CHILD_WS_FD + 1, ~0U, 0) < 0)
            _exit(71);
    } else if (dup2(c->ctl, 3) < 0 || close_range(4, ~0U, 0) < 0) {
        _exit(71);
    }
    (void)setpgid(0, 0);
    child_signals();
    if (child_isolate(c, why, sizeof(why)) < 0) {
        /* No user fd exists yet: the zygote's stderr is the agent log. */
        dprintf(2, "{\"level\":\"error\",\"comp\":\"child\",\"msg\":\"isolation: %s\"}\n", why);
        _exit(71);
    }
    /* From inside the work root, so the throwaway run's cwd on sys.path is ours. */
    if (c->cfg->prewarm && chdir(c->cfg->work_dir) == 0)
        pyrt_prewarm(c->rt);
    timeline_mark(c->tl, TL_PREWARM);
}

/* The job's limits: CPU time (a backstop: the zygote kills at the wall-clock deadline long
 * before) and address space, skipped for runtimes that reserve far more than they use when a
 * memory cgroup bounds the execution instead. */
static int child_job_limits(const struct child_ctx *c, const struct zyg_job *job, bool big_vm)
{
    rlim_t cpu = (rlim_t)((job->delay_ms + job->compile_ms + job->timeout_ms) / 1000 + 2);
    long mb = c->cfg->memory_mb;
    int r;

    if ((r = child_rlimit(RLIMIT_CPU, cpu, cpu + 1)) < 0)
        return r;
    /* memoryLimitMb is the memory cgroup's limit where there is one (the zygote set it); the
     * address-space limit stands in for it only without. */
    if (isolate_has_memory_cgroup(c->iso)) {
        if (big_vm)
            return 0;
    } else if (job->memory_mb && (long)job->memory_mb < mb) {
        mb = (long)job->memory_mb;
    }
#ifndef __SANITIZE_ADDRESS__
    /* ASan reserves terabytes of address space; the limit is skipped in sanitizer builds. */
    if ((r = child_rlimit(RLIMIT_AS, (rlim_t)mb << 20, (rlim_t)mb << 20)) < 0)
        return r;
#endif
    return 0;
}

int child_session_limits(const struct child_ctx *c)
{
    long mb = c->memory_mb && c->memory_mb < c->cfg->memory_mb ? c->memory_mb : c->cfg->memory_mb;

    if (isolate_has_memory_cgroup(c->iso))
        return 0;
#ifndef __SANITIZE_ADDRESS__
    return child_rlimit(RLIMIT_AS, (rlim_t)mb << 20, (rlim_t)mb << 20);
#else
    (void)mb;
    return 0;
#endif
}

/* simulateMemoryLeak: a watcher whose child touches leak_mb_s MiB a second in ten steps until
 * the memory limit stops it. The leak stands for the program's own, so when the leaker dies
 * (the memory cgroup's OOM kill, or its address-space limit without one) the watcher kills the
 * program as the OOM killer would have: the execution ends there (as oom when the cgroup
 * counted the kill), not when the program would have finished. Never returns. */
static __attribute__((noreturn)) void child_leak_watch(pid_t prog, uint32_t leak_mb_s)
{
    pid_t leaker = fork();
    int st;

    if (leaker == 0) {
        size_t step = ((size_t)(leak_mb_s ? leak_mb_s : 100) << 20) / 10;
        struct timespec tick = {0, 100000000};

        for (;;) {
            char *m = malloc(step);

            if (!m)
                _exit(1); /* the address-space limit: as far as this leak can go */
            memset(m, 0xa5, step);
            nanosleep(&tick, NULL);
        }
    }
    while (leaker > 0 && waitpid(leaker, &st, 0) < 0 && errno == EINTR)
        ;
    (void)kill(prog, SIGKILL);
    _exit(0);
}

/* The scenario's companions, started just before the code in the same PID namespace and
 * cgroups (so they share its CPU and memory budget) and killed with it. */
static void child_companions(const struct zyg_job *job)
{
    if (job->flags & ZYG_JOB_HIGH_CPU) {
        pid_t p = fork();

        if (p == 0) {
            close_range(0, ~0U, 0);
            for (volatile unsigned long i = 0;; i++)
                ;
        }
    }
    if (job->flags & ZYG_JOB_LEAK) {
        pid_t prog = getpid(), p = fork();

        if (p == 0) {
            close_range(0, ~0U, 0);
            child_leak_watch(prog, job->leak_mb_s);
        }
    }
}

/* Listens on the loopback ports of the execution's own network namespace and hands the
 * sockets to the proxy (it accepts from the host side). 0 or -errno. */
static int child_listeners(void)
{
    static const struct {
        char kind;
        uint16_t port;
    } l[] = {{'H', ZYG_PROXY_PORT}, {'U', ZYG_UPSTREAM_PORT}};

    for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(l[i].port)};
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, r;

        if (fd < 0)
            return -errno;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0) {
            r = -errno;
            close(fd);
            return r;
        }
        r = proxy_send_listener(CHILD_NET_FD, l[i].kind, fd);
        close(fd);
        if (r < 0)
            return r;
    }
    return 0;
}

/* simulateCrash without a time: the process ends with SIGSEGV once the code is done. */
static __attribute__((noreturn)) void child_crash(void)
{
    struct sigaction sa = {0};

    sa.sa_handler = SIG_DFL;
    (void)sigaction(SIGSEGV, &sa, NULL);
    (void)raise(SIGSEGV);
    _exit(139);
}

/* In a workspace the source and the build go to a directory of the private /tmp (the user's
 * main.sh is never overwritten, nothing of ours stays); the program then runs in the
 * workspace, its arguments naming a file of the build made absolute. */
static void child_exec_in_workspace(struct runexec *rx, const char *build, const char *ws)
{
    runexec_absolute(rx, build);
    if (chdir(ws) < 0)
        child_die(2, "entering the workspace", errno);
}

/* An exec runtime: source, compile phase, then the program replaces this process (or runs as
 * a child when the crash must follow it). Never returns. */
static __attribute__((noreturn)) void
child_exec(const struct child_ctx *c, const struct zyg_job *job, const char *spec, size_t spec_len)
{
    const char *build = "/tmp/.sandpit-build";
    char why[256], ws[512];
    struct runexec rx;
    int r, st;

    if (c->has_ws && (!getcwd(ws, sizeof(ws)) || mkdir(build, 0700) < 0 || chdir(build) < 0))
        child_die(2, "the build directory", errno);
    if ((r = runexec_prepare(spec, spec_len, &rx, why, sizeof(why))) < 0) {
        dprintf(2, "sandpit: execution set-up failed: %s\n", why);
        _exit(71);
    }
    if ((r = child_job_limits(c, job, rx.big_vm)) < 0)
        child_die(2, "setting limits", -r);
    if ((r = runexec_compile(&rx, CHILD_RESULT_FD)) != 0)
        _exit(r);
    if (c->has_ws)
        child_exec_in_workspace(&rx, build, ws);
    /* The zygote now starts the run's own clock (the compile phase had its limit). */
    if (rx.compile)
        (void)send(CHILD_CTL_FD, "C", 1, MSG_NOSIGNAL);
    close(CHILD_CTL_FD);
    close(CHILD_NET_FD);
    close(CHILD_RESULT_FD);
    child_companions(job);
    if ((job->flags & ZYG_JOB_CRASH) && !job->crash_after_ms) {
        pid_t pid = (pid_t)runexec_spawn(&rx);

        if (pid < 0)
            child_die(2, "starting the program", -pid);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        close(1);
        close(2);
        child_crash();
    }
    r = runexec_exec(&rx);
    dprintf(2, "sandpit: cannot run %s: %s\n", rx.run[0], strerror(-r));
    _exit(127);
}

/* Tells the zygote the run ended with code ("E" + code), so it can answer before this
 * process's teardown, and waits for it to kill us (or to close its end: it does not answer
 * early, as after a deadline). Without a listening zygote, or after a second, just exits. */
static __attribute__((noreturn)) void child_end(const struct child_ctx *c, int code)
{
    const char msg[2] = {'E', (char)code};
    struct pollfd pf = {.fd = CHILD_CTL_FD, .events = POLLIN};

    timeline_mark(c->tl, TL_EXIT);
    if (send(CHILD_CTL_FD, msg, sizeof(msg), MSG_NOSIGNAL) == (ssize_t)sizeof(msg))
        (void)poll(&pf, 1, 1000);
    _exit(code);
}

void child_run(const struct child_ctx *c)
{
    int fds[CHILD_JOB_NFDS], r, code;
    char *spec = NULL, why[256];
    size_t spec_len = 0;
    struct zyg_job job;

    if (c->session)
        sess_child_run(c);
    child_prepare(c);
    /* Tell the zygote this child is ready, so jobs go to ready children first. It may have
     * handed us a job and closed its end already (an empty pool): then the send fails and the
     * job is waiting in the socket, so the result is deliberately ignored. */
    (void)send(3, "R", 1, MSG_NOSIGNAL);
    /* No job: the zygote went away (nobody waits for us) or handed one we could not read, which
     * must never look like a program that ran and succeeded. */
    if (child_wait_job(3, &job, fds) < 0)
        _exit(71);
    timeline_mark(c->tl, TL_JOB);

    if (lseek(fds[ZYG_FD_SPEC], 0, SEEK_SET) < 0 ||
        fdio_read_all(fds[ZYG_FD_SPEC], CHILD_SPEC_MAX, &spec, &spec_len) < 0)
        child_die(fds[ZYG_FD_STDERR], "reading the job spec", errno ? errno : EIO);
    if ((r = child_wire_fds(fds, 3)) < 0)
        child_die(fds[ZYG_FD_STDERR], "wiring stdio", -r);
    if (child_enter_workdir(c->cfg, job.exec_id, why, sizeof(why)) < 0) {
        dprintf(2, "sandpit: execution set-up failed: %s\n", why);
        _exit(71);
    }
    if (job.delay_ms) {
        /* artificialDelayMs: the zygote's clock for the run starts after it. */
        struct timespec d = {job.delay_ms / 1000, (long)(job.delay_ms % 1000) * 1000000};

        while (nanosleep(&d, &d) < 0 && errno == EINTR)
            ;
    }
    if ((job.flags & ZYG_JOB_NETWORK) && (r = child_listeners()) < 0)
        child_die(2, "starting the network listeners", -r);
    if (job.flags & ZYG_JOB_EXEC)
        child_exec(c, &job, spec, spec_len);

    if ((r = child_job_limits(c, &job, false)) < 0)
        child_die(2, "setting limits", -r);
    /* The control socket stays open through the run for the end message (child_end); a
     * simulated crash ends by its signal instead. */
    if (job.flags & ZYG_JOB_CRASH)
        close(CHILD_CTL_FD);
    close(CHILD_NET_FD);
    child_companions(&job);
    timeline_mark(c->tl, TL_RUN);
    code = pyrt_run(c->rt, spec, spec_len, CHILD_RESULT_FD);
    timeline_mark(c->tl, TL_RAN);
    /* Close our ends so the server sees EOF before the (slow) address-space teardown. */
    close(CHILD_RESULT_FD);
    close(1);
    close(2);
    if ((job.flags & ZYG_JOB_CRASH) && !job.crash_after_ms)
        child_crash();
    child_end(c, code);
}
