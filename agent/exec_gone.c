/* exec_gone.c - the ring of evicted result ids (see exec_gone.h). */
#include "exec_gone.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int exec_gone_init(struct exec_gone *g, size_t cap)
{
    memset(g, 0, sizeof(*g));
    g->ids = calloc(cap ? cap : 1, sizeof(*g->ids));
    if (!g->ids)
        return -ENOMEM;
    g->cap = cap ? cap : 1;
    return 0;
}

void exec_gone_done(struct exec_gone *g)
{
    free(g->ids);
    memset(g, 0, sizeof(*g));
}

void exec_gone_add(struct exec_gone *g, const char *id)
{
    if (!g->ids)
        return;
    snprintf(g->ids[g->next], sizeof(g->ids[0]), "%s", id);
    g->next = (g->next + 1) % g->cap;
    if (g->count < g->cap)
        g->count++;
}

bool exec_gone_has(const struct exec_gone *g, const char *id)
{
    for (size_t i = 0; i < g->count; i++) {
        if (!strcmp(g->ids[i], id))
            return true;
    }
    return false;
}
