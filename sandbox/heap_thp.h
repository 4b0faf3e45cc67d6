/* heap_thp.h - collapsing a process's anonymous memory into huge pages (the zygote's, and the
 * bench's floor interpreter's, so both fork the same page tables). */
#ifndef SANDPIT_HEAP_THP_H
#define SANDPIT_HEAP_THP_H

/* Collapses the populated private writable anonymous mappings (and [heap]) into 2 MiB pages
 * with MADV_COLLAPSE. Returns the MiB collapsed; best effort (0 where the kernel lacks it). */
long heap_thp_collapse(void);

#endif
