/* floor.c - bench-floor: the machine's floors for `make bench`, measured on the agent's own
 * interpreter (issue 18).
 *
 * Starts CPython exactly as the zygote does (pyrt_new, pyrt_preload with --preload: the harness
 * imported, the preloads, gc.disable + gc.freeze, the heap collapsed into huge pages), then
 * answers commands on stdin, one JSON line each on stdout, so bench.py can interleave floor
 * and figure measurements within one run:
 *
 *   fork N  F_fork: fork + _exit + waitpid, N times: {"wall_us": [...], "cpu_us": c}
 *   warm N  F_warm: a child forked ahead (off the clock) waits on a pipe; on a byte it runs
 *           `x = 1+1` and answers on another pipe, then exits. Timed from the byte sent to the
 *           answer read ("reply_us") and to the child reaped ("exit_us"); "cpu_us" per run.
 *
 * cpu_us is the CPU of this process and its reaped children (getrusage) per operation: what
 * one operation costs the machine, the figure throughput divides the cores by. No isolation,
 * no HTTP: these are what an execution cannot go below on this machine. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "heap_thp.h"
#include "pyrt.h"

#define FLOOR_MAX_N 100000

static int64_t floor_cpu_us(void)
{
    struct rusage self, kids;

    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return (int64_t)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                     kids.ru_stime.tv_sec) *
               1000000 +
           self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
           kids.ru_stime.tv_usec;
}

static void floor_print_list(const char *name, const int64_t *v, long n)
{
    printf("\"%s\": [", name);
    for (long i = 0; i < n; i++)
        printf("%s%lld", i ? ", " : "", (long long)v[i]);
    printf("]");
}

static int floor_reap(pid_t pid)
{
    int st;

    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* fork N: the cost of copying this address space and tearing the copy down. */
static int floor_fork(struct pyrt *rt, long n, int64_t *wall)
{
    int64_t cpu0 = floor_cpu_us();

    for (long i = 0; i < n; i++) {
        int64_t t = clock_mono_ns();
        pid_t pid = pyrt_fork(rt);

        if (pid == 0)
            _exit(0);
        if (pid < 0 || floor_reap(pid) < 0)
            return -1;
        wall[i] = (clock_mono_ns() - t) / 1000;
    }
    printf("{");
    floor_print_list("wall_us", wall, n);
    printf(", \"cpu_us\": %lld}\n", (long long)((floor_cpu_us() - cpu0) / n));
    return 0;
}

/* One warm run: the child is forked and waiting before the clock starts. */
static int floor_warm_one(struct pyrt *rt, int64_t *reply, int64_t *exited)
{
    int go[2] = {-1, -1}, back[2] = {-1, -1}, r = -1;
    char b = 0;
    int64_t t;
    pid_t pid;

    if (pipe2(go, O_CLOEXEC) < 0 || pipe2(back, O_CLOEXEC) < 0)
        goto out;
    pid = pyrt_fork(rt);
    if (pid == 0) {
        close(go[1]);
        close(back[0]);
        if (write(back[1], "R", 1) != 1 || read(go[0], &b, 1) != 1)
            _exit(1);
        (void)pyrt_exec_text(rt, "x = 1+1");
        _exit(write(back[1], "D", 1) == 1 ? 0 : 1);
    }
    if (pid < 0)
        goto out;
    if (read(back[0], &b, 1) != 1 || b != 'R')
        goto reap;
    t = clock_mono_ns();
    if (write(go[1], "G", 1) != 1 || read(back[0], &b, 1) != 1 || b != 'D')
        goto reap;
    *reply = (clock_mono_ns() - t) / 1000;
    if (floor_reap(pid) < 0)
        goto out;
    *exited = (clock_mono_ns() - t) / 1000;
    r = 0;
    goto out;
reap:
    (void)kill(pid, SIGKILL);
    (void)floor_reap(pid);
out:
    for (int i = 0; i < 2; i++) {
        if (go[i] >= 0)
            close(go[i]);
        if (back[i] >= 0)
            close(back[i]);
    }
    return r;
}

static int floor_warm(struct pyrt *rt, long n, int64_t *reply, int64_t *exited)
{
    int64_t cpu0 = floor_cpu_us();

    for (long i = 0; i < n; i++) {
        if (floor_warm_one(rt, &reply[i], &exited[i]) < 0)
            return -1;
    }
    printf("{");
    floor_print_list("reply_us", reply, n);
    printf(", ");
    floor_print_list("exit_us", exited, n);
    printf(", \"cpu_us\": %lld}\n", (long long)((floor_cpu_us() - cpu0) / n));
    return 0;
}

int main(int argc, char **argv)
{
    const char *harness = NULL, *preload = "";
    int64_t *a = NULL, *b = NULL;
    struct err e = {0};
    struct pyrt *rt;
    char *report, line[128];
    int rc = 1;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--harness"))
            harness = argv[i + 1];
        else if (!strcmp(argv[i], "--preload"))
            preload = strcmp(argv[i + 1], "none") ? argv[i + 1] : "";
    }
    if (!harness) {
        fprintf(stderr, "usage: bench-floor --harness DIR [--preload mod,mod|none]\n");
        return 2;
    }
    /* As the zygote's environment: no thread pools, no display. */
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    setenv("MPLBACKEND", "Agg", 1);
    if (!(rt = pyrt_new(harness, &e))) {
        fprintf(stderr, "bench-floor: %s\n", e.msg);
        return 1;
    }
    report = pyrt_preload(rt, preload);
    printf("{\"preload\": %s, \"huge_pages_mib\": %ld}\n", report ? report : "null",
           heap_thp_collapse());
    fflush(stdout);
    free(report);
    a = calloc(FLOOR_MAX_N, sizeof(*a));
    b = calloc(FLOOR_MAX_N, sizeof(*b));
    if (!a || !b)
        goto out;
    while (fgets(line, sizeof(line), stdin)) {
        char cmd[16];
        long n;

        if (sscanf(line, "%15s %ld", cmd, &n) != 2 || n < 1 || n > FLOOR_MAX_N)
            goto out;
        if (!strcmp(cmd, "fork")   ? floor_fork(rt, n, a) < 0
            : !strcmp(cmd, "warm") ? floor_warm(rt, n, a, b) < 0
                                   : 1)
            goto out;
        fflush(stdout);
    }
    rc = 0;
out:
    free(a);
    free(b);
    pyrt_free(rt);
    return rc;
}
