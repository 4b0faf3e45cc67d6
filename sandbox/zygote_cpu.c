/* zygote_cpu.c - CPU per execution, zygote and children (see zygote_cpu.h). */
#include "zygote_cpu.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int64_t zygote_cpu_ru_us(const struct rusage *ru)
{
    return (int64_t)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 + ru->ru_utime.tv_usec +
           ru->ru_stime.tv_usec;
}

static int64_t zygote_cpu_us(int who)
{
    struct rusage ru;

    return getrusage(who, &ru) < 0 ? 0 : zygote_cpu_ru_us(&ru);
}

void zygote_cpu_start(struct zygote_cpu *c)
{
    c->self_us0 = zygote_cpu_us(RUSAGE_SELF);
    c->kids_us0 = zygote_cpu_us(RUSAGE_CHILDREN);
    c->executions = 0;
}

int zygote_cpu_append_json(const struct zygote_cpu *c, char *out, int len, size_t size)
{
    int64_t self = zygote_cpu_us(RUSAGE_SELF) - c->self_us0;
    int64_t kids = zygote_cpu_us(RUSAGE_CHILDREN) - c->kids_us0;
    double per = c->executions ? (double)(self + kids) / 1000.0 / (double)c->executions : 0.0;
    int n;

    if (len < 1 || (size_t)len >= size || out[len - 1] != '}')
        return -1;
    n = snprintf(out + len - 1, size - (size_t)len + 1,
                 ",\"cpu\":{\"zygote_s\":%.3f,\"children_s\":%.3f,\"executions\":%llu,"
                 "\"per_execution_ms\":%.2f}}",
                 (double)self / 1e6, (double)kids / 1e6, (unsigned long long)c->executions, per);
    return n < 0 || (size_t)n >= size - (size_t)len + 1 ? -1 : len - 1 + n;
}

/* Reads /proc/<pid>/<name> into buf (NUL-terminated). Bytes read, or -1. */
static ssize_t zygote_cpu_proc(pid_t pid, const char *name, char *buf, size_t size)
{
    char path[64];
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

int64_t zygote_cpu_clock_ns(pid_t pid)
{
    struct timespec ts;
    clockid_t cid;

    if (clock_getcpuclockid(pid, &cid) < 0 || clock_gettime(cid, &ts) < 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t zygote_cpu_of(pid_t pid)
{
    char buf[1024], *p;
    unsigned long long cut = 0, cst = 0;
    int64_t run = zygote_cpu_clock_ns(pid);

    /* After the ")" closing the command: state is field 3, cutime/cstime fields 16, 17. */
    if (zygote_cpu_proc(pid, "stat", buf, sizeof(buf)) > 0 && (p = strrchr(buf, ')')) &&
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %llu %llu", &cut,
               &cst) != 2)
        cut = cst = 0;
    return run + (int64_t)(cut + cst) * (1000000000LL / sysconf(_SC_CLK_TCK));
}

int64_t zygote_cpu_hwm_kb(pid_t pid)
{
    char buf[2048], *p;

    if (zygote_cpu_proc(pid, "status", buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "VmHWM:")))
        return 0;
    return strtoll(p + 6, NULL, 10);
}
