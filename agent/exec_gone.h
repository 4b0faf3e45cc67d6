/* exec_gone.h - the ids of the last results evicted from the agent's history (--history,
 * --history-bytes), so a client asking for one is told it was evicted rather than that it never
 * existed. A fixed ring of ids: the oldest is forgotten first. Pure; the caller locks. */
#ifndef SANDPIT_EXEC_GONE_H
#define SANDPIT_EXEC_GONE_H

#include <stdbool.h>
#include <stddef.h>

#include "ids.h"

#define EXEC_GONE_MAX 4096 /* ids remembered by the agent (37 bytes each) */

struct exec_gone {
    char (*ids)[IDS_UUID_LEN + 1]; /* owned ring, NULL when it could not be allocated */
    size_t cap;                    /* slots in ids */
    size_t next;                   /* the slot the next id goes to */
    size_t count;                  /* slots in use */
};

/* Room for cap ids. 0, or -ENOMEM: g then remembers nothing (every lookup is false). */
int exec_gone_init(struct exec_gone *g, size_t cap);
/* Frees the ring. */
void exec_gone_done(struct exec_gone *g);
/* Remembers id (a UUID, copied), forgetting the oldest when full. */
void exec_gone_add(struct exec_gone *g, const char *id);
/* True when id is remembered. Linear: only an unknown id's reply looks. */
bool exec_gone_has(const struct exec_gone *g, const char *id);

#endif
