/* timeline.c - per-execution timestamps for `make bench` (see timeline.h). */
#include "timeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static const char *const timeline_names[TL_N] = {
    "fork_start", "init",   "forked", "child", "cgroup", "ns",   "mount",    "cred",   "seccomp",
    "prewarm",    "handed", "job",    "run",   "ran",    "exit", "answered", "reaped", "done"};

int timeline_init(struct timeline *tl, const char *path)
{
    memset(tl, 0, sizeof(*tl));
    tl->fd = -1;
    if (!path || !*path)
        return 0;
    tl->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (tl->fd < 0)
        return -errno;
    tl->recs = mmap(NULL, TIMELINE_RECS * sizeof(*tl->recs), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (tl->recs == MAP_FAILED) {
        int r = -errno;

        tl->recs = NULL;
        timeline_done(tl);
        return r;
    }
    return 0;
}

void timeline_done(struct timeline *tl)
{
    if (tl->recs)
        munmap(tl->recs, TIMELINE_RECS * sizeof(*tl->recs));
    if (tl->fd >= 0)
        close(tl->fd);
    tl->recs = NULL;
    tl->fd = -1;
}

struct timeline_rec *timeline_take(struct timeline *tl)
{
    struct timeline_rec *r;

    if (!tl->recs)
        return NULL;
    r = &tl->recs[tl->next++ % TIMELINE_RECS];
    memset(r, 0, sizeof(*r));
    return r;
}

void timeline_mark(struct timeline_rec *r, enum timeline_mark m)
{
    struct timespec w, c;
    struct rusage ru;

    if (!r)
        return;
    clock_gettime(CLOCK_MONOTONIC, &w);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    r->wall_ns[m] = (int64_t)w.tv_sec * 1000000000 + w.tv_nsec;
    r->cpu_ns[m] = (int64_t)c.tv_sec * 1000000000 + c.tv_nsec;
    /* Faults are the load-independent measure of a step's copy-on-write work. */
    r->minflt[m] = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : -1;
}

void timeline_write(const struct timeline *tl, const struct timeline_rec *r,
                    const struct rusage *child)
{
    char line[2048];
    size_t n = 0;
    int64_t cpu_us = 0, minflt = 0;

    if (!r || tl->fd < 0)
        return;
    if (child)
        cpu_us = (int64_t)(child->ru_utime.tv_sec + child->ru_stime.tv_sec) * 1000000 +
                 child->ru_utime.tv_usec + child->ru_stime.tv_usec;
    if (child)
        minflt = child->ru_minflt;
    n += (size_t)snprintf(line + n, sizeof(line) - n,
                          "{\"child_cpu_us\": %lld, \"child_minflt\": %lld", (long long)cpu_us,
                          (long long)minflt);
    for (int m = 0; m < TL_N && n < sizeof(line); m++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, ", \"%s\": [%lld, %lld, %lld]",
                              timeline_names[m], (long long)r->wall_ns[m], (long long)r->cpu_ns[m],
                              (long long)r->minflt[m]);
    if (n + 2 >= sizeof(line))
        return;
    line[n++] = '}';
    line[n++] = '\n';
    (void)!write(tl->fd, line, n);
}
