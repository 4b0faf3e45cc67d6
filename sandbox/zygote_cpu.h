/* zygote_cpu.h - what executions cost the machine (issue 18): the CPU of the zygote and of
 * every process it reaped (warm children with their pre-warm run, namespace inits, executions'
 * exits), since it became ready, per execution finished. Reported in STATS, shown by /health
 * (zygote.cpu) and /metrics. Zygote only. */
#ifndef SANDPIT_ZYGOTE_CPU_H
#define SANDPIT_ZYGOTE_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

struct zygote_cpu {
    int64_t self_us0, kids_us0; /* at zygote_cpu_start */
    uint64_t executions;        /* finished since */
};

/* Starts counting now (the interpreter's start-up and preloads are not an execution's). */
void zygote_cpu_start(struct zygote_cpu *c);
/* Appends ,"cpu":{...} before the closing brace of the JSON object in out (len bytes of size).
 * Returns the new length, or -1 when it does not fit. */
int zygote_cpu_append_json(const struct zygote_cpu *c, char *out, int len, size_t size);

/* user + system time of a rusage, us. */
int64_t zygote_cpu_ru_us(const struct rusage *ru);
/* CPU of process pid's threads so far (its process CPU clock), ns; 0 when unreadable. */
int64_t zygote_cpu_clock_ns(pid_t pid);
/* CPU of process pid so far, ns: every thread of it (its process CPU clock, exact) and the
 * children it reaped (clock ticks). 0 when unreadable. For an execution or a session's cell
 * answered before its process is reaped (no rusage yet). */
int64_t zygote_cpu_of(pid_t pid);
/* Peak resident set of process pid so far (VmHWM), KiB; 0 when unreadable. */
int64_t zygote_cpu_hwm_kb(pid_t pid);

#endif
