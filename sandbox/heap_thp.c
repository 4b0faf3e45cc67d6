/* heap_thp.c - the zygote's heap in 2 MiB pages (see heap_thp.h). */
#include "heap_thp.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 /* Linux 6.1; older headers lack it */
#endif

/* Collapses the zygote's populated anonymous memory (the heap, the allocators' arenas) into
 * 2 MiB pages. Every execution forks this address space and tears its copy down at exit; both
 * cost per page-table entry, and a huge page is one entry instead of 512 (measured here: fork and
 * exit about a quarter to a third cheaper). Only MADV_COLLAPSE, no MADV_HUGEPAGE: children do
 * not inherit a flag that would hand them 2 MiB pages for new memory. A child writing to a
 * shared huge page gets a 4 KiB copy, as before. Returns the MiB collapsed; best effort. */
long heap_thp_collapse(void)
{
    FILE *f = fopen("/proc/self/maps", "re");
    const uintptr_t huge = 2u << 20;
    char line[512];
    long mib = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        char perms[8] = "", path[256] = "";
        uintptr_t s, e;

        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &a, &b, perms, path) < 3)
            continue;
        if (perms[1] != 'w' || perms[3] != 'p' || (path[0] && strcmp(path, "[heap]") != 0))
            continue;
        s = ((uintptr_t)a + huge - 1) & ~(huge - 1);
        e = (uintptr_t)b & ~(huge - 1);
        if (e > s && madvise((void *)s, e - s, MADV_COLLAPSE) == 0)
            mib += (long)((e - s) >> 20);
    }
    fclose(f);
    return mib;
}
