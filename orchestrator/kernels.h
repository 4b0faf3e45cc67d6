/* kernels.h - the orchestrator's kernel table (docs/kernels.md "Through the orchestrator"): a
 * kernel keeps the id its agent gave it (a UUID, unique across agents) and the table says which
 * agent holds it (index and generation: registry.h) and under which API key it was made.
 *
 * Threads: one mutex inside; entries are handed out as copies. No I/O: unit-tested alone. */
#ifndef SANDPIT_KERNELS_H
#define SANDPIT_KERNELS_H

#include <stdbool.h>
#include <stddef.h>

#include "ids.h"

#define KERNELS_MAX 4096

struct kernels;

struct kernels_entry {
    char id[IDS_UUID_LEN + 1];
    int agent;    /* registry index */
    unsigned gen; /* that agent's generation when created */
    int owner;    /* api_owner of the creating request */
};

/* New empty table, or NULL on OOM. */
struct kernels *kernels_new(void);
void kernels_free(struct kernels *k);
/* Records e. 0, -EEXIST, or -ERR_BUSY when KERNELS_MAX are held. */
int kernels_add(struct kernels *k, const struct kernels_entry *e);
/* Copies id's entry when owner made it. 0 or -ENOENT (unknown, or another owner's). */
int kernels_get(struct kernels *k, const char *id, int owner, struct kernels_entry *out);
/* Forgets id (deleted, or its agent lost it). */
void kernels_remove(struct kernels *k, const char *id);
/* The entries of owner: new array (free()) of *n, NULL with *n 0 when none or on OOM. */
struct kernels_entry *kernels_list(struct kernels *k, int owner, size_t *n);
/* Entries held, all owners. */
size_t kernels_count(struct kernels *k);

#endif
