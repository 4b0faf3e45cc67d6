/* heap_hot.c - copying the pages every child copies in one pass (see heap_hot.h). */
#include "heap_hot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdio.h"
#include "pyrt.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

#define HEAP_HOT_PAGE       4096u
#define HEAP_HOT_MAP_MAX    (4ULL << 30) /* bytes of a mapping scanned for copied pages */
#define HEAP_HOT_MAX_RANGES 65536        /* a report larger than this is cut (the rest faults) */
#define PM_PRESENT          (1ULL << 63)
#define PM_EXCLUSIVE        (1ULL << 56)

static int heap_hot_add(struct heap_hot *h, uintptr_t start, size_t len)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 256;
        struct heap_hot_range *r;

        if (cap > HEAP_HOT_MAX_RANGES)
            return -E2BIG;
        r = realloc(h->ranges, cap * sizeof(*r));
        if (!r)
            return -ENOMEM;
        h->ranges = r;
        h->cap = cap;
    }
    h->ranges[h->n].start = start;
    h->ranges[h->n].len = len;
    h->n++;
    h->pages += len / HEAP_HOT_PAGE;
    return 0;
}

int heap_hot_mappings(struct heap_hot *h)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[512];
    int r = 0;

    memset(h, 0, sizeof(*h));
    if (!f)
        return -errno;
    while (r == 0 && fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        char perms[8] = "";

        /* Past HEAP_HOT_MAP_MAX a mapping is a reservation (ASan's shadow is terabytes), not a
         * heap: reading its pagemap would take seconds to find next to nothing. */
        if (sscanf(line, "%lx-%lx %7s", &a, &b, perms) == 3 && perms[0] == 'r' && perms[1] == 'w' &&
            perms[3] == 'p' && b > a && b - a <= HEAP_HOT_MAP_MAX)
            r = heap_hot_add(h, a, b - a);
    }
    fclose(f);
    if (r < 0)
        heap_hot_done(h);
    return r;
}

/* Appends the run [start, end) to the report buffer, flushing it to fd when full. */
static int heap_hot_emit(int fd, struct heap_hot_range *buf, size_t *n, size_t cap, uintptr_t start,
                         uintptr_t end)
{
    if (start < end) {
        buf[*n].start = start;
        buf[(*n)++].len = end - start;
    }
    if (*n == cap || (start == end && *n)) {
        if (fdio_write_all(fd, buf, *n * sizeof(*buf)) < 0)
            return -EIO;
        *n = 0;
    }
    return 0;
}

int heap_hot_report(const struct heap_hot *cand, int fd)
{
    uint64_t ent[512];
    struct heap_hot_range buf[256];
    size_t nbuf = 0;
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC), r = 0;

    if (pm < 0)
        return -errno;
    for (size_t i = 0; r == 0 && i < cand->n; i++) {
        uintptr_t a = cand->ranges[i].start, end = a + cand->ranges[i].len, run = 0;

        while (r == 0 && a < end) {
            size_t want = (end - a) / HEAP_HOT_PAGE, got;
            ssize_t k;

            if (want > 512)
                want = 512;
            k = pread(pm, ent, want * sizeof(ent[0]), (off_t)(a / HEAP_HOT_PAGE * sizeof(ent[0])));
            if (k <= 0) {
                r = k < 0 ? -errno : -EIO;
                break;
            }
            got = (size_t)k / sizeof(ent[0]);
            for (size_t j = 0; j < got; j++, a += HEAP_HOT_PAGE) {
                int alone = (ent[j] & PM_PRESENT) && (ent[j] & PM_EXCLUSIVE);

                if (alone && !run)
                    run = a;
                else if (!alone && run) {
                    r = heap_hot_emit(fd, buf, &nbuf, 256, run, a);
                    run = 0;
                }
            }
        }
        if (r == 0 && run)
            r = heap_hot_emit(fd, buf, &nbuf, 256, run, a);
    }
    if (r == 0)
        r = heap_hot_emit(fd, buf, &nbuf, 256, 0, 0); /* flush */
    close(pm);
    return r;
}

/* Reads up to n bytes (fewer only at EOF); the count or -errno. */
static ssize_t heap_hot_read(int fd, void *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = read(fd, (char *)p + got, n - got);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Whether this kernel has MADV_POPULATE_WRITE, tried on a page of our own. */
static int heap_hot_supported(void)
{
    void *p = mmap(NULL, HEAP_HOT_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok;

    if (p == MAP_FAILED)
        return 0;
    ok = madvise(p, HEAP_HOT_PAGE, MADV_POPULATE_WRITE) == 0;
    munmap(p, HEAP_HOT_PAGE);
    return ok;
}

int heap_hot_collect(struct heap_hot *h, int fd)
{
    struct heap_hot_range rec;
    int r = 0;

    heap_hot_done(h);
    for (;;) {
        ssize_t k = heap_hot_read(fd, &rec, sizeof(rec));

        if (k == 0)
            break;
        if (k != (ssize_t)sizeof(rec)) {
            r = k < 0 ? (int)k : -EIO;
            break;
        }
        if (rec.len % HEAP_HOT_PAGE || rec.start % HEAP_HOT_PAGE || !rec.len)
            continue;
        if ((r = heap_hot_add(h, rec.start, rec.len)) < 0)
            break;
    }
    if (r == -E2BIG)
        r = 0; /* keep what fits */
    if (r == 0 && !heap_hot_supported()) {
        heap_hot_done(h);
        r = -EOPNOTSUPP;
    }
    return r;
}

/* The probe's work: what every warm child runs (the pre-warm), then what a job's run adds to it
 * (its spec's parse, its at-exit callbacks), on /dev/null. */
static void heap_hot_probe_runs(struct pyrt *rt)
{
    static const char spec[] = "{\"code\": \"print(1+1)\", \"base_env\": {\"PATH\": \"/bin\", "
                               "\"HOME\": \"/tmp\", \"LANG\": \"C.UTF-8\"}}";
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    pyrt_prewarm(rt);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
        return;
    (void)pyrt_run(rt, spec, sizeof(spec) - 1, null);
}

int heap_hot_learn(struct heap_hot *h, struct pyrt *rt, const char *dir)
{
    struct heap_hot cand;
    int fds[2], r, status;
    pid_t pid;

    memset(h, 0, sizeof(*h));
    if ((r = heap_hot_mappings(&cand)) < 0)
        return r;
    if (pipe2(fds, O_CLOEXEC) < 0) {
        r = -errno;
        goto cleanup;
    }
    pid = pyrt_fork(rt);
    if (pid == 0) {
        close(fds[0]);
        if (chdir(dir) == 0) /* as a warm child runs it */
            heap_hot_probe_runs(rt);
        _exit(heap_hot_report(&cand, fds[1]) == 0 ? 0 : 1);
    }
    r = pid < 0 ? -errno : 0;
    close(fds[1]);
    if (r == 0)
        r = heap_hot_collect(h, fds[0]);
    close(fds[0]);
    if (pid > 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            r = -EIO;
    }
    if (r < 0)
        heap_hot_done(h);
cleanup:
    heap_hot_done(&cand);
    return r;
}

void heap_hot_populate(const struct heap_hot *h)
{
    int saved = errno;

    /* A range unmapped since (ENOMEM) or unusable (EINVAL) is skipped: its pages fault. */
    for (size_t i = 0; h && i < h->n; i++)
        (void)madvise((void *)h->ranges[i].start, h->ranges[i].len, MADV_POPULATE_WRITE);
    errno = saved;
}

void heap_hot_done(struct heap_hot *h)
{
    free(h->ranges);
    memset(h, 0, sizeof(*h));
}
