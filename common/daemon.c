/* daemon.c - the start-up and stop steps the daemons share. */
#include "daemon.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "log.h"

int daemon_args(const char *prog, const struct cfg_opt *opts, size_t n_opts, void *cfg, int argc,
                char **argv, const char *usage, const char *const *log_level, enum log_level *lvl)
{
    struct err e = {0};
    int r = cfg_parse(opts, n_opts, cfg, argc, argv, usage, &e);

    if (r == 1)
        return 0; /* --help was printed */
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", prog, e.msg);
        return 2;
    }
    r = log_level_parse(*log_level);
    if (r < 0) {
        fprintf(stderr, "%s: --log-level must be debug, info, warn or error\n", prog);
        return 2;
    }
    *lvl = (enum log_level)r;
    return -1;
}

int daemon_signals(bool with_chld)
{
    sigset_t mask;
    int sfd;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    if (with_chld)
        sigaddset(&mask, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        return -errno;
    signal(SIGPIPE, SIG_IGN);
    sigdelset(&mask, SIGCHLD);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC);
    return sfd < 0 ? -errno : sfd;
}

int daemon_wait_signal(int sfd, bool ignore_hup)
{
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof(si));

        if (n == (ssize_t)sizeof(si) && !(ignore_hup && si.ssi_signo == SIGHUP))
            return (int)si.ssi_signo;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

size_t daemon_drain(int sfd, long grace_ms, size_t (*busy)(void *arg), void *arg)
{
    int64_t deadline = clock_mono_ns() + (int64_t)grace_ms * 1000000;
    size_t n;

    while ((n = busy(arg)) > 0 && clock_mono_ns() < deadline) {
        struct pollfd p = {.fd = sfd, .events = POLLIN};

        if (poll(&p, 1, 50) > 0) {
            log_info("second signal: the drain ends now");
            break;
        }
    }
    return n;
}

int daemon_write_port_file(const char *path, unsigned port)
{
    char tmp[4096];
    FILE *f;
    int r = 0;

    /* Through a temporary file and rename, so a reader never sees it half written. */
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    f = fopen(tmp, "we");
    if (!f)
        return -errno;
    if (fprintf(f, "%u\n", port) < 0)
        r = -EIO;
    if (fclose(f) != 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0)
        (void)unlink(tmp);
    return r;
}
