/* heap_hot.h - the zygote's pages every child copies, copied in one pass after each fork.
 *
 * CPython writes a reference count into every object it reads, so a child copies each page of
 * the zygote's memory that its start and pre-warm touch (~1000 pages, the same ones in every
 * child). Taking those copies one page fault at a time costs ~50 us each on a VM whose faults
 * trap to the hypervisor; MADV_POPULATE_WRITE over the same pages copies them inside one
 * syscall per range at about a third of that. The zygote learns the set once at start from a
 * probe child that runs the pre-warm (our own code, never a program's) and reports, from
 * /proc/self/pagemap, which pages it then held alone. A stale or wrong set costs only time:
 * a page missing from it is copied by its fault as before, one in it that a child would not
 * have written is a 4 KiB copy, and an unmapped one is skipped. */
#ifndef SANDPIT_HEAP_HOT_H
#define SANDPIT_HEAP_HOT_H

#include <stddef.h>
#include <stdint.h>

struct heap_hot_range {
    uintptr_t start;
    size_t len;
};

struct pyrt;

struct heap_hot {
    struct heap_hot_range *ranges; /* owned */
    size_t n, cap;
    size_t pages; /* pages over all ranges */
};

/* The zygote, at start (after the preloads, gc.freeze and the huge-page collapse): forks a probe
 * (pyrt_fork, so the interpreter's own fork hooks count) that runs the pre-warm from dir and
 * reports; fills h with its report. The probe runs only the harness's fixed pre-warm. 0 or
 * -errno (h empty: children fault as before). */
int heap_hot_learn(struct heap_hot *h, struct pyrt *rt, const char *dir);
/* Fills h with the process's private writable mappings (the candidates a probe reports on).
 * 0 or -errno. */
int heap_hot_mappings(struct heap_hot *h);
/* In the probe, after its run: writes to fd the runs of pages within cand that are present and
 * mapped by this process alone (copied since the fork, or new). 0 or -errno. */
int heap_hot_report(const struct heap_hot *cand, int fd);
/* Reads a probe's report from fd until EOF into h (replacing it). 0 or -errno. */
int heap_hot_collect(struct heap_hot *h, int fd);
/* In a child right after fork, before it runs anything: copies every page of h at once.
 * Best effort (nothing on a kernel without MADV_POPULATE_WRITE); async-signal-safe. */
void heap_hot_populate(const struct heap_hot *h);
void heap_hot_done(struct heap_hot *h);

#endif
