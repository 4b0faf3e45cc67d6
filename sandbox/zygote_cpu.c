/* zygote_cpu.c - CPU per execution, zygote and children (see zygote_cpu.h). */
#include "zygote_cpu.h"

#include <stdio.h>
#include <sys/resource.h>

static int64_t zygote_cpu_us(int who)
{
    struct rusage ru;

    if (getrusage(who, &ru) < 0)
        return 0;
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
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
