/* zygote_cpu.h - what executions cost the machine (issue 18): the CPU of the zygote and of
 * every process it reaped (warm children with their pre-warm run, namespace inits, executions'
 * exits), since it became ready, per execution finished. Reported in STATS, shown by /health
 * (zygote.cpu) and /metrics. Zygote only. */
#ifndef SANDPIT_ZYGOTE_CPU_H
#define SANDPIT_ZYGOTE_CPU_H

#include <stddef.h>
#include <stdint.h>

struct zygote_cpu {
    int64_t self_us0, kids_us0; /* at zygote_cpu_start */
    uint64_t executions;        /* finished since */
};

/* Starts counting now (the interpreter's start-up and preloads are not an execution's). */
void zygote_cpu_start(struct zygote_cpu *c);
/* Appends ,"cpu":{...} before the closing brace of the JSON object in out (len bytes of size).
 * Returns the new length, or -1 when it does not fit. */
int zygote_cpu_append_json(const struct zygote_cpu *c, char *out, int len, size_t size);

#endif
